import NIOCore
import HTTPTypes
import Foundation
import Hummingbird
import Logging
import WendaoApp
import WendaoCore
import WendaoEmbed
import WendaoModels
import WendaoRAG

/// An OpenAI chat message as clients send it: content as a string, an array of parts (their
/// texts joined), null or absent; any role (roles other than system, developer, user and
/// assistant are ignored). Content of another type is refused.
struct OpenAIMessage: Decodable {
    var role: String
    var content: String

    enum CodingKeys: String, CodingKey { case role, content }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        if try !c.contains(.content) || c.decodeNil(forKey: .content) {
            content = ""
        } else if let s = try? c.decode(String.self, forKey: .content) {
            content = s
        } else {
            content = try c.decode([Part].self, forKey: .content).compactMap(\.text).joined()
        }
    }

    struct Part: Decodable {
        var type: String?
        var text: String?
    }
}

struct OpenAIChatRequest: Decodable {
    var model: String
    var messages: [OpenAIMessage]
    var stream: Bool?
    var temperature: Double?
    var max_tokens: Int?
    var stream_options: StreamOptionsBody?
    var wendao: WendaoExtras?

    struct StreamOptionsBody: Decodable { var include_usage: Bool? }
    struct WendaoExtras: Decodable { var citation_footer: Bool? }
}

/// `usage` in the OpenAI shape.
struct OpenAIUsage: Encodable {
    var prompt_tokens: Int
    var completion_tokens: Int
    var total_tokens: Int

    init(_ u: TokenUsage?) {
        prompt_tokens = u?.promptTokens ?? 0
        completion_tokens = u?.completionTokens ?? 0
        total_tokens = u?.totalTokens ?? 0
    }
}

extension WendaoAPI {
    func addOpenAIRoutes(_ v1: RouterGroup<WendaoContext>) {
        v1.get("models") { _, context in
            struct Model: Encodable {
                var id: String
                var object = "model"
                var created: Int
                var owned_by = "wendao"
            }
            var models: [Model] = []
            let library = service.library
            for r in try await service.blocking({ try library.list() }) where context.principal.canAsk(r.id) {
                models.append(Model(id: "kb:\(r.name)", created: Int(r.createdAt)))
            }
            if context.principal.isAdmin {
                if let m = service.configuration.models.defaultModel {
                    models.append(Model(id: m, created: 0, owned_by: "provider"))
                }
                // Local models pulled on this machine (passed through like a provider's, admins only).
                for m in ChatModels.pulledLocalModels(environment: service.configuration.environment)
                where m != service.configuration.models.defaultModel {
                    models.append(Model(id: m, created: 0, owned_by: "local"))
                }
            }
            struct List: Encodable {
                var object = "list"
                var data: [Model]
            }
            return try JSON.response(List(data: models))
        }
        v1.post("embeddings") { request, context -> Response in
            struct Body: Decodable {
                var model: String
                var input: [String]
                var encoding_format: String?

                enum CodingKeys: String, CodingKey { case model, input, encoding_format }

                init(from decoder: any Decoder) throws {
                    let c = try decoder.container(keyedBy: CodingKeys.self)
                    model = try c.decode(String.self, forKey: .model)
                    encoding_format = try c.decodeIfPresent(String.self, forKey: .encoding_format)
                    if let one = try? c.decode(String.self, forKey: .input) { input = [one] } else {
                        input = try c.decode([String].self, forKey: .input)
                    }
                }
            }
            let body = try await JSON.decode(Body.self, from: request, limit: limits.json)
            let base64 = body.encoding_format == "base64"
            guard body.encoding_format == nil || body.encoding_format == "float" || base64 else {
                throw APIError.badRequest("encoding_format must be \"float\" or \"base64\"")
            }
            try checkEmbeddingInput(body.input)
            // `kb:NAME` embeds with that knowledge base's embedder (local or a provider's); otherwise a
            // local model by name (provider models are not proxied: they would spend the server's keys).
            var spec = body.model
            if body.model.hasPrefix("kb:") {
                let record = try await visibleRecord(String(body.model.dropFirst(3)), context)
                guard let e = record.settings.embedder else {
                    throw APIError.notFound("knowledge base '\(record.name)' has no embedder")
                }
                spec = e
            } else {
                guard EmbedderCatalog.known(spec) != nil else {
                    throw APIError.notFound("model '\(body.model)' is not a local embedder (e5-small, minilm, kb:NAME)")
                }
            }
            let embedder: any TextEmbedder
            // Opening a local model reads its files: on the thread pool.
            let embedders = service.library.embedders
            let chosen = spec
            do { embedder = try await service.blocking { try embedders.open(chosen) } } catch let e as WendaoError {
                throw APIError.notFound(e.message)
            }
            // Passages: what the knowledge base stores (local models add their passage prefix). The
            // work holds an embedding slot, and stops when the client hangs up or the server shuts
            // down (a local model checks between inputs).
            let slot = try limits.rate.enter(.embedding, for: context.principal)
            defer { slot.release() }
            let input = body.input
            let result = try await whileConnected(context, shutdown: true) {
                try await embedder.embed(input, as: .passage)
            }
            /// The vector as a float array, or (the official client's default) base64 of little-endian float32s;
            /// `truncated: true` (a Wendao addition, absent otherwise) when part of the text was left out
            /// because it was longer than the model takes.
            struct Item: Encodable {
                var object = "embedding"
                var index: Int
                var embedding: [Float]
                var base64: Bool
                var truncated: Bool

                enum CodingKeys: String, CodingKey { case object, index, embedding, truncated }

                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(object, forKey: .object)
                    try c.encode(index, forKey: .index)
                    if base64 {
                        var bytes = Data(capacity: embedding.count * 4)
                        for f in embedding { withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                        try c.encode(bytes.base64EncodedString(), forKey: .embedding)
                    } else {
                        try c.encode(embedding, forKey: .embedding)
                    }
                    if truncated { try c.encode(true, forKey: .truncated) }
                }
            }
            struct Usage: Encodable {
                var prompt_tokens: Int
                var total_tokens: Int
            }
            struct Out: Encodable {
                var object = "list"
                var data: [Item]
                var model: String
                var usage: Usage
            }
            let tokens = result.tokenCount
            return try JSON.response(
                Out(
                    data: result.vectors.enumerated().map {
                        Item(
                            index: $0.offset, embedding: $0.element, base64: base64,
                            truncated: $0.offset < result.truncated.count && result.truncated[$0.offset])
                    },
                    model: body.model, usage: Usage(prompt_tokens: tokens, total_tokens: tokens)))
        }
        v1.post("chat/completions") { request, context in
            let body = try await JSON.decode(OpenAIChatRequest.self, from: request, limit: limits.json)
            guard let last = body.messages.last(where: { $0.role == "user" }) else {
                throw APIError.badRequest("messages must contain a user message")
            }
            try checkQuery(last.content, "question")
            if let t = body.temperature, !(0...2).contains(t) {
                throw APIError.badRequest("temperature must be between 0 and 2")
            }
            if let m = body.max_tokens, m < 1 { throw APIError.badRequest("max_tokens must be at least 1") }
            let id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let created = Int(Date().timeIntervalSince1970)
            let footer = body.wendao?.citation_footer == true
            if body.model.hasPrefix("kb:") {
                let name = String(body.model.dropFirst(3))
                let record = try await askableRecord(name, context)
                let plan = try await planAnswer(record, model: nil)
                // The last user message is the question; earlier user/assistant turns are history.
                // System messages from the client are not passed on: the knowledge base's own prompt
                // governs answers.
                let lastIndex = body.messages.lastIndex(where: { $0.role == "user" })!
                let history = body.messages[..<lastIndex].compactMap { m -> ChatMessage? in
                    switch m.role {
                    case "user": ChatMessage(.user, m.content)
                    case "assistant": ChatMessage(.assistant, m.content)
                    default: nil
                    }
                }
                let question = last.content
                // Kept like an ask: each completion is a conversation of one turn (the client holds
                // the history); without a model a follow-up carries the previous question's topic.
                let followUp: FollowUp? =
                    plan.model == nil
                    ? history.last(where: { $0.role == .user }).flatMap {
                        FollowUp.detect(question, previousQuestion: $0.content)
                    } : nil
                let caller = conversationCaller(context.principal)
                let started = ContinuousClock.now
                let none = ConversationContinuation(conversation: nil, previous: nil, history: [])
                let slot = try limits.rate.enter(.answer, for: context.principal)
                if body.stream != true {
                    defer { slot.release() }
                    let outcome = try await whileConnected(context) {
                        let outcome = try await answer(
                            question, plan: plan, history: history, topK: 8, followUp: followUp, onEvent: { _ in })
                        _ = try await storeTurn(
                            question: question, outcome: outcome, followUp: followUp, started: started,
                            continuing: none, record: record, caller: caller)
                        return outcome
                    }
                    return try JSON.response(
                        completion(id: id, created: created, model: body.model, outcome: outcome, footer: footer))
                }
                let includeUsage = body.stream_options?.include_usage == true
                return openAIStream(context.logger) { send in
                    defer { slot.release() }
                    send(chunk(id: id, created: created, model: body.model, delta: ["role": "assistant", "content": ""]))
                    let outcome = try await answer(
                        question, plan: plan, history: history, topK: 8, followUp: followUp
                    ) { e in
                        if case .text(let t) = e {
                            send(chunk(id: id, created: created, model: body.model, delta: ["content": t]))
                        }
                    }
                    _ = try await storeTurn(
                        question: question, outcome: outcome, followUp: followUp, started: started, continuing: none,
                        record: record, caller: caller)
                    if footer, !outcome.citations.isEmpty {
                        send(
                            chunk(
                                id: id, created: created, model: body.model,
                                delta: ["content": Self.footer(outcome.citations)]))
                    }
                    send(finalChunk(id: id, created: created, model: body.model, citations: outcome.citations))
                    if includeUsage {
                        send(usageChunk(id: id, created: created, model: body.model, usage: outcome.usage))
                    }
                }
            }
            // A provider model, passed through (admin only: it spends the server's provider keys), or a
            // local model (admin only too: it takes this machine's processors).
            guard context.principal.isAdmin else {
                throw APIError.notFound("model '\(body.model)' does not exist (use kb:NAME)")
            }
            guard let model = try resolveModel(requested: body.model, kbModel: nil) else {
                throw APIError.notFound("model '\(body.model)' does not exist")
            }
            let messages = body.messages.compactMap { m -> ChatMessage? in
                switch m.role {
                case "system", "developer": ChatMessage(.system, m.content)
                case "user": ChatMessage(.user, m.content)
                case "assistant": ChatMessage(.assistant, m.content)
                default: nil
                }
            }
            let options = ChatOptions(temperature: body.temperature, maxTokens: body.max_tokens)
            let slot = try limits.rate.enter(.answer, for: context.principal)
            let gateway = service.gateway
            if body.stream != true {
                defer { slot.release() }
                let r: (text: String, usage: TokenUsage?)
                if model.isLocal {
                    let chat = try await service.chatModel(for: model)
                    let reply = try await whileConnected(context) {
                        try await chat.complete(messages, options: options)
                    }
                    r = (reply.text, reply.usage)
                } else {
                    let reply = try await whileConnected(context) {
                        try await gateway.chat(model, messages: messages, options: options)
                    }
                    r = (reply.text, reply.usage)
                }
                let outcome = AnswerOutcome.plain(r.text, r.usage)
                return try JSON.response(
                    completion(id: id, created: created, model: body.model, outcome: outcome, footer: false))
            }
            let includeUsage = body.stream_options?.include_usage == true
            // Settled before the stream starts: a local model that cannot load is an error status, not
            // an error event after a 200.
            let chat: any ChatModel
            do { chat = try await service.chatModel(for: model) } catch {
                slot.release()
                throw error
            }
            return openAIStream(context.logger) { send in
                defer { slot.release() }
                send(chunk(id: id, created: created, model: body.model, delta: ["role": "assistant", "content": ""]))
                var usage: TokenUsage?
                for try await e in chat.streamChat(messages, options: options) {
                    switch e {
                    case .text(let t): send(chunk(id: id, created: created, model: body.model, delta: ["content": t]))
                    case .usage(let u): usage = u
                    case .reasoning, .finish: break
                    }
                }
                try Task.checkCancellation()
                send(finalChunk(id: id, created: created, model: body.model, citations: []))
                if includeUsage { send(usageChunk(id: id, created: created, model: body.model, usage: usage)) }
            }
        }
    }

    /// Checks the texts of an embeddings request against the configured bounds (count, length of
    /// each, total length): 400 naming the limit that was passed.
    func checkEmbeddingInput(_ input: [String]) throws {
        let c = service.configuration
        guard !input.isEmpty else { throw APIError.badRequest("input must hold at least one text") }
        guard input.count <= c.maxEmbeddingInputs else {
            throw APIError.badRequest(
                "input holds \(input.count) texts; the limit is \(c.maxEmbeddingInputs) texts per request: "
                    + "send them in several requests")
        }
        var total = 0
        for (i, text) in input.enumerated() {
            let n = text.count
            guard n <= c.maxEmbeddingInputCharacters else {
                throw APIError.badRequest(
                    "input[\(i)] is \(n) characters long; the limit is \(c.maxEmbeddingInputCharacters) characters "
                        + "per text")
            }
            total += n
        }
        guard total <= c.maxEmbeddingRequestCharacters else {
            throw APIError.badRequest(
                "input holds \(total) characters in all; the limit is \(c.maxEmbeddingRequestCharacters) characters "
                    + "per request: send fewer texts per request")
        }
    }

    static func footer(_ citations: [Citation]) -> String {
        "\n\n"
            + citations.map { c in
                var loc = c.document
                if !c.section.isEmpty { loc += " › " + c.section }
                if let p = c.page { loc += " (p. \(p))" }
                return "[\(c.n)] \(loc)"
            }.joined(separator: "\n")
    }

    func completion(id: String, created: Int, model: String, outcome: AnswerOutcome, footer: Bool) -> Completion {
        var text = outcome.text
        if footer, !outcome.citations.isEmpty { text += Self.footer(outcome.citations) }
        return Completion(
            id: id, created: created, model: model,
            choices: [
                .init(message: .init(content: text, citations: outcome.citations), finish_reason: "stop")
            ], usage: OpenAIUsage(outcome.usage))
    }

    struct Completion: Encodable {
        var id: String
        var object = "chat.completion"
        var created: Int
        var model: String
        var choices: [Choice]
        var usage: OpenAIUsage

        struct Choice: Encodable {
            var index = 0
            var message: Message
            var finish_reason: String
        }

        struct Message: Encodable {
            var role = "assistant"
            var content: String
            /// Wendao's extra: the sources the answer cites.
            var citations: [Citation]
        }
    }

    func chunk(id: String, created: Int, model: String, delta: [String: String]) -> ByteBuffer {
        struct Chunk: Encodable {
            var id: String
            var object = "chat.completion.chunk"
            var created: Int
            var model: String
            var choices: [C]
            struct C: Encodable {
                var index = 0
                var delta: [String: String]
                @ExplicitNull var finish_reason: String? = nil
            }
        }
        return Self.data(Chunk(id: id, created: created, model: model, choices: [.init(delta: delta)]))
    }

    func finalChunk(id: String, created: Int, model: String, citations: [Citation]) -> ByteBuffer {
        struct Delta: Encodable { var citations: [Citation] }
        struct C: Encodable {
            var index = 0
            var delta: Delta
            var finish_reason = "stop"
        }
        struct Chunk: Encodable {
            var id: String
            var object = "chat.completion.chunk"
            var created: Int
            var model: String
            var choices: [C]
        }
        return Self.data(Chunk(id: id, created: created, model: model, choices: [C(delta: Delta(citations: citations))]))
    }

    func usageChunk(id: String, created: Int, model: String, usage: TokenUsage?) -> ByteBuffer {
        struct Chunk: Encodable {
            var id: String
            var object = "chat.completion.chunk"
            var created: Int
            var model: String
            var choices: [Int] = []
            var usage: OpenAIUsage
        }
        return Self.data(Chunk(id: id, created: created, model: model, usage: OpenAIUsage(usage)))
    }

    static func data(_ value: some Encodable) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeString("data: ")
        b.writeBytes((try? JSON.encoder.encode(value)) ?? Data("{}".utf8))
        b.writeString("\n\n")
        return b
    }

    /// An OpenAI-style stream: `data:` chunks, then `data: [DONE]`; a failure becomes an
    /// `{"error": …}` data event (as OpenAI does) before the stream ends.
    func openAIStream(
        _ logger: Logger,
        _ produce: @escaping @Sendable (_ send: @escaping @Sendable (ByteBuffer) -> Void) async throws -> Void
    ) -> Response {
        eventStream(
            logger, last: ByteBuffer(string: "data: [DONE]\n\n"), failure: { Self.data(ErrorEvent($0)) }, produce)
    }
}
