import Foundation
public import WendaoCore

/// The body of `POST /chat/completions`, encoded with the OpenAI field names.
///
/// `nil` fields are omitted; `extra` members are merged into the top-level object (and win over a
/// standard field of the same name), for provider quirks such as DashScope's `enable_thinking`.
///
/// ```swift
/// let request = ChatCompletionRequest(
///     model: "qwen-plus", messages: [ChatMessage(.user, "你好")], options: ChatOptions(temperature: 0.2),
///     stream: true, includeUsage: true, extra: ["enable_thinking": false])
/// let body = try JSONEncoder().encode(request)
/// ```
public struct ChatCompletionRequest: Encodable, Sendable, Equatable {
    /// The provider's model name.
    public var model: String
    /// The conversation.
    public var messages: [ChatMessage]
    /// `true` for a server-sent-event stream; omitted (the provider's default, no stream) when `nil`.
    public var stream: Bool?
    /// Stream options; `stream_options: {"include_usage": true}` asks for a final usage chunk.
    public var streamOptions: StreamOptions?
    /// Sampling temperature.
    public var temperature: Double?
    /// Nucleus sampling (`top_p`).
    public var topP: Double?
    /// Upper bound on generated tokens (`max_tokens`).
    public var maxTokens: Int?
    /// Stop sequences.
    public var stop: [String]?
    /// Provider-specific members merged into the top-level object.
    public var extra: [String: JSONValue]

    /// Creates a request from a conversation and options.
    ///
    /// - Parameters:
    ///   - stream: ask for a stream; `false` omits the `stream` member.
    ///   - includeUsage: with `stream`, sends `stream_options: {"include_usage": true}`; ignored
    ///     without `stream`.
    public init(
        model: String, messages: [ChatMessage], options: ChatOptions, stream: Bool, includeUsage: Bool,
        extra: [String: JSONValue] = [:]
    ) {
        self.model = model
        self.messages = messages
        self.stream = stream ? true : nil
        self.streamOptions = stream && includeUsage ? StreamOptions(includeUsage: true) : nil
        self.temperature = options.temperature
        self.topP = options.topP
        self.maxTokens = options.maxTokens
        self.stop = options.stop
        self.extra = extra
    }

    /// Encodes the OpenAI shape: `model`, `messages`, `stream`, `stream_options`, `temperature`,
    /// `top_p`, `max_tokens`, `stop`, then the `extra` members.
    public func encode(to encoder: any Encoder) throws {
        var c = ExtraMergingWriter(encoder: encoder, extra: extra)
        try c.put(model, "model")
        try c.put(messages, "messages")
        try c.put(stream, "stream")
        try c.put(streamOptions, "stream_options")
        try c.put(temperature, "temperature")
        try c.put(topP, "top_p")
        try c.put(maxTokens, "max_tokens")
        try c.put(stop, "stop")
        try c.finish()
    }
}

/// The `stream_options` member of a chat request.
public struct StreamOptions: Codable, Sendable, Equatable {
    /// Ask for a final chunk with the usage of the whole call (`include_usage`).
    public var includeUsage: Bool

    /// Creates stream options.
    public init(includeUsage: Bool) {
        self.includeUsage = includeUsage
    }

    enum CodingKeys: String, CodingKey {
        case includeUsage = "include_usage"
    }
}

/// The body of `POST /embeddings`.
///
/// ```swift
/// let request = EmbeddingsRequest(model: "text-embedding-v3", input: ["运费怎么算"], dimensions: 1024)
/// ```
public struct EmbeddingsRequest: Encodable, Sendable, Equatable {
    /// The provider's embedding model name.
    public var model: String
    /// The texts to embed.
    public var input: [String]
    /// Output dimensions, for models that can shorten their vectors.
    public var dimensions: Int?
    /// `float` or `base64` (`encoding_format`).
    public var encodingFormat: String?
    /// Provider-specific members merged into the top-level object (DashScope `text_type`, …).
    public var extra: [String: JSONValue]

    /// Creates a request.
    public init(
        model: String, input: [String], dimensions: Int? = nil, encodingFormat: String? = nil,
        extra: [String: JSONValue] = [:]
    ) {
        self.model = model
        self.input = input
        self.dimensions = dimensions
        self.encodingFormat = encodingFormat
        self.extra = extra
    }

    /// Encodes `model`, `input`, `dimensions`, `encoding_format`, then the `extra` members.
    public func encode(to encoder: any Encoder) throws {
        var c = ExtraMergingWriter(encoder: encoder, extra: extra)
        try c.put(model, "model")
        try c.put(input, "input")
        try c.put(dimensions, "dimensions")
        try c.put(encodingFormat, "encoding_format")
        try c.finish()
    }
}

/// The body of `POST /images/generations`.
///
/// ```swift
/// let request = ImageGenerationRequest(model: "cogview-4", prompt: "一只在快递站打盹的橘猫", size: "1024x1024")
/// ```
public struct ImageGenerationRequest: Encodable, Sendable, Equatable {
    /// The provider's image model name.
    public var model: String
    /// What to draw.
    public var prompt: String
    /// How many images.
    public var n: Int?
    /// `WIDTHxHEIGHT`, e.g. `1024x1024`.
    public var size: String?
    /// `standard`, `hd`, `low`, `medium`, `high`, … as the model accepts.
    public var quality: String?
    /// `url` or `b64_json` (`response_format`).
    public var responseFormat: String?
    /// Provider-specific members merged into the top-level object.
    public var extra: [String: JSONValue]

    /// Creates a request.
    public init(
        model: String, prompt: String, n: Int? = nil, size: String? = nil, quality: String? = nil,
        responseFormat: String? = nil, extra: [String: JSONValue] = [:]
    ) {
        self.model = model
        self.prompt = prompt
        self.n = n
        self.size = size
        self.quality = quality
        self.responseFormat = responseFormat
        self.extra = extra
    }

    /// Encodes `model`, `prompt`, `n`, `size`, `quality`, `response_format`, then the `extra` members.
    public func encode(to encoder: any Encoder) throws {
        var c = ExtraMergingWriter(encoder: encoder, extra: extra)
        try c.put(model, "model")
        try c.put(prompt, "prompt")
        try c.put(n, "n")
        try c.put(size, "size")
        try c.put(quality, "quality")
        try c.put(responseFormat, "response_format")
        try c.finish()
    }
}

/// Writes a request's standard members, skipping those that `extra` overrides, then the `extra`
/// members: the shared encoding of every request type with provider extras.
struct ExtraMergingWriter {
    var container: KeyedEncodingContainer<AnyKey>
    let extra: [String: JSONValue]

    init(encoder: any Encoder, extra: [String: JSONValue]) {
        container = encoder.container(keyedBy: AnyKey.self)
        self.extra = extra
    }

    /// Writes `value` under `key` unless it is nil or `extra` has the key.
    mutating func put(_ value: (some Encodable)?, _ key: String) throws {
        guard let value, extra[key] == nil else { return }
        try container.encode(value, forKey: AnyKey(key))
    }

    /// Writes the `extra` members.
    mutating func finish() throws {
        for (key, value) in extra { try container.encode(value, forKey: AnyKey(key)) }
    }
}
