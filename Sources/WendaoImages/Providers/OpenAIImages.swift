import Foundation
import WendaoCore
import WendaoModels

/// OpenAI-compatible images through the model gateway: `POST /images/generations`, and
/// `POST /images/edits` when an initial image is given (OpenAI, SiliconFlow, Zhipu CogView, any
/// compatible server). Synchronous: the answer holds the pictures (URLs or base64).
struct OpenAIImages: ImageProvider {
    let model: ResolvedModel
    let gateway: ModelGateway
    var name: String { model.provider }
    var maxCount: Int { 10 }
    var maxPromptCharacters: Int { 32_000 }
    var needsInputURLs: Bool { false }

    func submit(_ job: ImageJob) async throws -> ImageSubmission {
        var extra = job.extra
        if let seed = job.seed { extra["seed"] = .number(Double(seed)) }
        if let n = job.negativePrompt, !n.isEmpty { extra["negative_prompt"] = .string(n) }
        let response: ImagesResponse
        if let initial = job.input("init"), let data = initial.data {
            let format = initial.info?.format ?? .png
            response = try await gateway.editImages(
                model,
                request: ImageEditRequest(
                    model: job.model, prompt: job.prompt,
                    image: .init(data: data, filename: "image.\(format.fileExtension)", mimeType: format.mimeType),
                    n: job.count, size: job.size?.openAI,
                    extra: extra.compactMapValues { $0.stringValue ?? $0.doubleValue.map { String($0) } }))
        } else {
            response = try await gateway.generateImages(
                model,
                request: ImageGenerationRequest(
                    model: job.model, prompt: job.prompt, n: job.count, size: job.size?.openAI, extra: extra))
        }
        var state = ImageTaskState(status: .succeeded)
        for image in response.data {
            if let b64 = image.b64JSON {
                guard let data = Data(base64Encoded: b64, options: .ignoreUnknownCharacters) else {
                    state.failedCount += 1
                    state.errorMessage = "\(name) returned an image that is not valid base64"
                    continue
                }
                state.outputs.append(.data(data))
            } else if let url = image.url, !url.isEmpty {
                state.outputs.append(.url(url))
            }
            if state.actualPrompt == nil { state.actualPrompt = image.revisedPrompt }
        }
        if state.outputs.isEmpty {
            state.status = .failed
            state.errorMessage = state.errorMessage ?? "\(name) returned no images"
        }
        return .finished(state)
    }

    func poll(taskID: String) async throws -> ImageTaskState {
        // Synchronous calls leave nothing to ask about: a task interrupted mid-call is lost.
        ImageTaskState(
            status: .unknown,
            errorMessage: "\(name) answers image calls synchronously; an interrupted call cannot be resumed")
    }

    func cancel(taskID: String) async throws {}
}
