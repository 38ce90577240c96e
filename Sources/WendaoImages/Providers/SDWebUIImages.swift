import Foundation
import NIOHTTP1
import WendaoCore
import WendaoModels

/// Stable Diffusion WebUI (AUTOMATIC1111 / Forge started with `--api`): `POST /sdapi/v1/txt2img`,
/// `POST /sdapi/v1/img2img` (an initial image), `GET /sdapi/v1/progress`, `GET /sdapi/v1/sd-models`.
/// Synchronous: the answer holds the pictures as base64, and `info` (a JSON string) the seeds used.
/// The model name is the checkpoint (`sd_model_checkpoint`); `sdwebui:default` keeps the loaded one.
struct SDWebUIImages: ImageProvider {
    let name = "sdwebui"
    let baseURL: String
    let key: Secret?
    let http: ProviderHTTP
    /// A generation may take minutes on a small GPU.
    let callTimeout: Duration
    var maxCount: Int { 16 }
    var maxPromptCharacters: Int { 20_000 }
    var needsInputURLs: Bool { false }

    func submit(_ job: ImageJob) async throws -> ImageSubmission {
        var body: [String: JSONValue] = [
            "prompt": .string(job.prompt), "negative_prompt": .string(job.negativePrompt ?? ""),
            "batch_size": .number(Double(job.count)), "n_iter": 1, "seed": .number(Double(job.seed ?? -1)),
            "send_images": true, "save_images": false,
        ]
        if let size = job.size {
            body["width"] = .number(Double(size.width))
            body["height"] = .number(Double(size.height))
        }
        if let steps = job.steps { body["steps"] = .number(Double(steps)) }
        if let cfg = job.cfgScale { body["cfg_scale"] = .number(cfg) }
        if job.model.lowercased() != "default" {
            body["override_settings"] = ["sd_model_checkpoint": .string(job.model)]
        }
        var path = "/sdapi/v1/txt2img"
        if let initial = job.input("init"), let data = initial.data {
            path = "/sdapi/v1/img2img"
            body["init_images"] = [.string(data.base64EncodedString())]
            if body["denoising_strength"] == nil { body["denoising_strength"] = 0.6 }
        }
        for (k, v) in job.extra { body[k] = v }
        let reply = try await http.call(
            .POST, baseURL + path, provider: name, key: key, body: JSONValue.object(body).encoded, timeout: callTimeout)
        guard reply.ok else {
            throw ProviderHTTP.failure(reply, provider: name, key: key, action: "generate")
        }
        return .finished(try Self.state(reply.body, requested: job.count))
    }

    /// Reads a txt2img/img2img answer: `images` (base64), `info` (JSON text with `seed`).
    static func state(_ body: Data, requested: Int) throws -> ImageTaskState {
        guard let v = JSONValue.parse(body), let images = v["images"]?.arrayValue else {
            throw WendaoError(.badResponse, "sdwebui answered without an images list (is it started with --api?)")
        }
        var state = ImageTaskState(status: .succeeded)
        // Scripts such as ControlNet append preview images; keep the first `requested`.
        for item in images.prefix(requested) {
            guard var s = item.stringValue else { continue }
            if s.hasPrefix("data:"), let comma = s.firstIndex(of: ",") { s = String(s[s.index(after: comma)...]) }
            guard let data = Data(base64Encoded: s, options: .ignoreUnknownCharacters), !data.isEmpty else {
                state.failedCount += 1
                state.errorCode = "corrupt_base64"
                state.errorMessage = "sdwebui returned an image that is not valid base64"
                continue
            }
            state.outputs.append(.data(data))
        }
        if let info = v["info"]?.stringValue, let parsed = JSONValue.parse(Data(info.utf8)) {
            state.seed = parsed["seed"]?.intValue
        }
        if state.outputs.isEmpty {
            state.status = .failed
            state.errorMessage = state.errorMessage ?? "sdwebui returned no images"
        }
        return state
    }

    func poll(taskID: String) async throws -> ImageTaskState {
        ImageTaskState(
            status: .unknown,
            errorMessage: "sdwebui answers synchronously; a call interrupted by a restart cannot be resumed")
    }

    /// The WebUI's progress (0…1) of the job it is running.
    func progress() async throws -> Double? {
        let reply = try await http.call(
            .GET, baseURL + "/sdapi/v1/progress?skip_current_image=true", provider: name, key: key)
        guard reply.ok, let v = JSONValue.parse(reply.body) else { return nil }
        return v["progress"]?.doubleValue
    }

    func cancel(taskID: String) async throws {
        _ = try await http.call(.POST, baseURL + "/sdapi/v1/interrupt", provider: name, key: key, body: Data())
    }
}
