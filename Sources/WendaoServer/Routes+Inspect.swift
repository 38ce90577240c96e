import Foundation
import Hummingbird
import WendaoApp
import WendaoCore
import WendaoLLM
import WendaoModels

/// `POST /api/v1/llm/inspect`'s body.
struct InspectBody: Decodable {
    /// `local:NAME` or `local:/path`; default: the server's default model when it is local.
    var model: String?
    var text: String
    /// Render the text as a user message with the model's chat template (default true).
    var chat: Bool?
    var steps: Int?
    var top: Int?
    var temperature: Double?
    var seed: UInt64?
}

/// `GET /api/v1/llm/models`: the local models this server can inspect.
struct LocalModelsView: Encodable {
    var models: [String]
    @ExplicitNull var default_model: String?
}

extension WendaoAPI {
    /// The web UI's model page: how a local model tokenizes a text, the prompt its chat template
    /// renders, and each generated token's candidates with their probabilities (what `wendao llm
    /// inspect` prints). For people signed in and the administrator, not for API keys: a key is for
    /// asking a knowledge base, and each inspection runs the model.
    func addInspectRoutes(_ api: RouterGroup<WendaoContext>) {
        let configuration = service.configuration
        @Sendable func requirePerson(_ context: WendaoContext) throws {
            if case .key = context.principal {
                throw APIError(status: .notFound, code: "not_found", message: "no such route for this key")
            }
        }
        @Sendable func defaultLocal() -> String? {
            let spec =
                configuration.environment["WENDAO_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
                ?? configuration.models.defaultModel
            return spec.flatMap { ChatModels.isLocal($0) ? $0 : nil }
        }
        api.get("llm/models") { _, context in
            try requirePerson(context)
            var models = ChatModels.pulledLocalModels(environment: configuration.environment)
            if let d = defaultLocal(), !models.contains(d) { models.insert(d, at: 0) }
            return try JSON.response(LocalModelsView(models: models, default_model: defaultLocal()))
        }
        api.post("llm/inspect") { request, context in
            try requirePerson(context)
            let body = try await JSON.decode(InspectBody.self, from: request, limit: 64 << 10)
            guard let spec = body.model.flatMap({ $0.isEmpty ? nil : $0 }) ?? defaultLocal() else {
                throw APIError.badRequest(
                    "name a local model ('model': 'local:NAME'); this server has no local default")
            }
            guard ChatModels.isLocal(spec) else {
                throw APIError.badRequest(
                    "'\(spec.prefix(80))' is a provider's model: only a local model (local:NAME) can be inspected")
            }
            let text = body.text
            guard !text.isEmpty, text.count <= 8_000 else {
                throw APIError.badRequest("'text' must hold 1 to 8,000 characters")
            }
            let steps = body.steps ?? 16
            let top = body.top ?? 5
            let temperature = body.temperature ?? 0
            guard (0...64).contains(steps), (1...20).contains(top), temperature >= 0, temperature <= 2 else {
                throw APIError.badRequest("'steps' must be 0…64, 'top' 1…20 and 'temperature' 0…2")
            }
            let model = try ChatModels.resolve(
                spec, configuration: configuration.models, environment: configuration.environment)
            _ = try await service.chatModel(for: model)  // load errors as the answers report them (503/500)
            let sampling = SamplingOptions(
                temperature: temperature, topK: 40, topP: 0.95, minP: 0.05, seed: body.seed ?? 1)
            let report = try await service.chatModels.inspect(
                model, text: text, chat: body.chat ?? true, steps: steps, top: top, sampling: sampling)
            return try JSON.response(report)
        }
    }
}
