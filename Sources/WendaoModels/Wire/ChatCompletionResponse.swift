import Foundation
public import WendaoCore

/// The reply to a non-streaming `POST /chat/completions`, decoded tolerantly: unknown members are
/// ignored (top-level ones kept in ``extra``), missing ones are `nil` or empty, token counts may be
/// strings, and content may be a string, `null` or an array of text parts.
///
/// ```swift
/// let reply = try JSONDecoder().decode(ChatCompletionResponse.self, from: body)
/// print(reply.text, reply.usage?.totalTokens ?? 0)
/// ```
public struct ChatCompletionResponse: Decodable, Sendable, Equatable {
    /// One generated alternative.
    public struct Choice: Decodable, Sendable, Equatable {
        /// Position among the alternatives.
        public var index: Int
        /// The generated message.
        public var message: Message
        /// Why generation stopped (`stop`, `length`, `content_filter`, …).
        public var finishReason: String?

        /// Creates a choice.
        public init(index: Int = 0, message: Message, finishReason: String? = nil) {
            self.index = index
            self.message = message
            self.finishReason = finishReason
        }

        /// Decodes `index`, `message` and `finish_reason`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            index = c.int("index") ?? 0
            message = (try? c.decode(Message.self, forKey: "message")) ?? Message()
            finishReason = c.string("finish_reason")
        }
    }

    /// A generated message.
    public struct Message: Decodable, Sendable, Equatable {
        /// `assistant`, normally.
        public var role: String?
        /// The answer text; `nil` when the provider sent `null` (e.g. cut off by `length`).
        public var content: String?
        /// Hidden reasoning (`reasoning_content`, or `reasoning`).
        public var reasoningContent: String?

        /// Creates a message.
        public init(role: String? = nil, content: String? = nil, reasoningContent: String? = nil) {
            self.role = role
            self.content = content
            self.reasoningContent = reasoningContent
        }

        /// Decodes `role`, `content` and `reasoning_content` / `reasoning`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            role = c.string("role")
            content = c.content("content")
            reasoningContent = c.content("reasoning_content") ?? c.content("reasoning")
        }
    }

    /// The provider's completion ID.
    public var id: String?
    /// The model that answered (may differ from the one asked for).
    public var model: String?
    /// The alternatives; normally one.
    public var choices: [Choice]
    /// Token usage, when reported.
    public var usage: TokenUsage?
    /// Top-level members not modelled above (`created`, `system_fingerprint`, provider extras such
    /// as search results), kept as JSON.
    public var extra: [String: JSONValue]

    /// The first choice's content, or `""`.
    public var text: String { choices.first?.message.content ?? "" }
    /// The first choice's reasoning, when the model reported any.
    public var reasoning: String? { choices.first?.message.reasoningContent }

    /// Creates a response.
    public init(
        id: String? = nil, model: String? = nil, choices: [Choice], usage: TokenUsage? = nil,
        extra: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.model = model
        self.choices = choices
        self.usage = usage
        self.extra = extra
    }

    /// Decodes the OpenAI shape tolerantly.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        id = c.text("id")
        model = c.string("model")
        choices = c.array("choices", of: Choice.self)
        usage = c.usage("usage")
        var extra: [String: JSONValue] = [:]
        for key in c.allKeys where !["id", "model", "choices", "usage"].contains(key.stringValue) {
            if let value = c.json(key.stringValue) { extra[key.stringValue] = value }
        }
        self.extra = extra
    }
}

/// One `data:` payload of a streamed `POST /chat/completions`, decoded tolerantly.
///
/// Usage arrives in different places: OpenAI and DashScope send a last chunk with `"choices": []`
/// and top-level `usage`; Moonshot puts `usage` inside the final choice; Zhipu and Spark put it on
/// the last chunk that also carries content. ``events`` maps all of them to ``ChatEvent``s.
///
/// ```swift
/// let chunk = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(event.data.utf8))
/// for e in chunk.events { continuation.yield(e) }
/// ```
public struct ChatCompletionChunk: Decodable, Sendable, Equatable {
    /// One alternative's piece.
    public struct ChunkChoice: Decodable, Sendable, Equatable {
        /// Position among the alternatives.
        public var index: Int
        /// The new piece of the message.
        public var delta: Delta
        /// Why generation stopped, on the last chunk of the alternative.
        public var finishReason: String?
        /// Usage inside the choice (Moonshot).
        public var usage: TokenUsage?

        /// Creates a chunk choice.
        public init(index: Int = 0, delta: Delta, finishReason: String? = nil, usage: TokenUsage? = nil) {
            self.index = index
            self.delta = delta
            self.finishReason = finishReason
            self.usage = usage
        }

        /// Decodes `index`, `delta` (or `message`, which some servers send), `finish_reason`, `usage`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            index = c.int("index") ?? 0
            delta =
                (try? c.decode(Delta.self, forKey: "delta")) ?? (try? c.decode(Delta.self, forKey: "message"))
                ?? Delta()
            finishReason = c.string("finish_reason")
            usage = c.usage("usage")
        }
    }

    /// A new piece of a message: the same fields as a whole message (`role` on the first chunk,
    /// then pieces of `content` and `reasoning_content`).
    public typealias Delta = ChatCompletionResponse.Message

    /// The provider's completion ID (the same on every chunk).
    public var id: String?
    /// The model that answers.
    public var model: String?
    /// The alternatives' pieces; empty on a usage-only final chunk.
    public var choices: [ChunkChoice]
    /// Top-level usage, when reported.
    public var usage: TokenUsage?

    /// Creates a chunk.
    public init(id: String? = nil, model: String? = nil, choices: [ChunkChoice], usage: TokenUsage? = nil) {
        self.id = id
        self.model = model
        self.choices = choices
        self.usage = usage
    }

    /// Decodes the OpenAI chunk shape tolerantly.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        id = c.text("id")
        model = c.string("model")
        choices = c.array("choices", of: ChunkChoice.self)
        usage = c.usage("usage")
    }

    /// The chunk as ``ChatEvent``s, in order: for each choice its reasoning, text and finish
    /// reason (empty strings skipped), then the usage (top-level, else from the choices).
    public var events: [ChatEvent] {
        var out: [ChatEvent] = []
        var choiceUsage: TokenUsage?
        for choice in choices {
            if let r = choice.delta.reasoningContent, !r.isEmpty { out.append(.reasoning(r)) }
            if let t = choice.delta.content, !t.isEmpty { out.append(.text(t)) }
            if let f = choice.finishReason, !f.isEmpty { out.append(.finish(f)) }
            if choiceUsage == nil { choiceUsage = choice.usage }
        }
        if let u = usage ?? choiceUsage { out.append(.usage(u)) }
        return out
    }
}
