/// One message of a chat conversation, in the role vocabulary every provider shares.
///
/// ```swift
/// let turn = ChatMessage(.user, "首重多少钱？")
/// ```
public struct ChatMessage: Sendable, Codable, Equatable, Hashable {
    /// Who speaks.
    public enum Role: String, Sendable, Codable, Equatable, Hashable {
        /// Instructions from the application.
        case system
        /// The person asking.
        case user
        /// The model.
        case assistant
    }

    /// Who speaks.
    public var role: Role
    /// The text.
    public var content: String

    /// Creates a message.
    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// Tokens one model call (or several, summed) consumed.
public struct TokenUsage: Sendable, Codable, Equatable, Hashable {
    /// Tokens of the prompt.
    public var promptTokens: Int
    /// Tokens generated.
    public var completionTokens: Int
    /// Prompt tokens served from the provider's cache, when reported.
    public var cachedPromptTokens: Int?
    /// Completion tokens spent on hidden reasoning, when reported.
    public var reasoningTokens: Int?
    /// True when the provider reported no usage and the counts are ``TokenEstimator`` estimates.
    public var estimated = false

    /// Prompt plus completion tokens.
    public var totalTokens: Int {
        let (sum, overflow) = promptTokens.addingReportingOverflow(completionTokens)
        return overflow ? Int.max : sum
    }

    /// Creates a usage record.
    public init(
        promptTokens: Int, completionTokens: Int, cachedPromptTokens: Int? = nil, reasoningTokens: Int? = nil,
        estimated: Bool = false
    ) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
        self.reasoningTokens = reasoningTokens
        self.estimated = estimated
    }

    /// An estimate for a call whose provider reported no usage.
    public static func estimate(prompt: [ChatMessage], completion: String) -> TokenUsage {
        TokenUsage(
            promptTokens: TokenEstimator.estimate(prompt), completionTokens: TokenEstimator.estimate(completion),
            estimated: true)
    }

    /// No tokens.
    public static let zero = TokenUsage(promptTokens: 0, completionTokens: 0)

    /// The sum of two usages (optional parts add when either side has them).
    public static func + (a: TokenUsage, b: TokenUsage) -> TokenUsage {
        func sum(_ x: Int, _ y: Int) -> Int {
            let (s, overflow) = x.addingReportingOverflow(y)
            return overflow ? (x > 0 ? Int.max : Int.min) : s
        }
        func add(_ x: Int?, _ y: Int?) -> Int? { x == nil && y == nil ? nil : sum(x ?? 0, y ?? 0) }
        return TokenUsage(
            promptTokens: sum(a.promptTokens, b.promptTokens),
            completionTokens: sum(a.completionTokens, b.completionTokens),
            cachedPromptTokens: add(a.cachedPromptTokens, b.cachedPromptTokens),
            reasoningTokens: add(a.reasoningTokens, b.reasoningTokens), estimated: a.estimated || b.estimated)
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
        case cachedPromptTokens = "cached_prompt_tokens", reasoningTokens = "reasoning_tokens", estimated
    }

    /// Decodes the shape ``encode(to:)`` writes.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        promptTokens = try c.decode(Int.self, forKey: .promptTokens)
        completionTokens = try c.decode(Int.self, forKey: .completionTokens)
        cachedPromptTokens = try c.decodeIfPresent(Int.self, forKey: .cachedPromptTokens)
        reasoningTokens = try c.decodeIfPresent(Int.self, forKey: .reasoningTokens)
        estimated = try c.decodeIfPresent(Bool.self, forKey: .estimated) ?? false
    }

    /// Encodes `prompt_tokens`, `completion_tokens`, `total_tokens`, the optional parts, and
    /// `estimated: true` for estimates.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
        try c.encodeIfPresent(cachedPromptTokens, forKey: .cachedPromptTokens)
        try c.encodeIfPresent(reasoningTokens, forKey: .reasoningTokens)
        if estimated { try c.encode(true, forKey: .estimated) }
    }
}

/// Sampling and length options of one chat call; `nil` leaves the provider's default.
public struct ChatOptions: Sendable, Equatable, Hashable {
    /// Sampling temperature.
    public var temperature: Double?
    /// Nucleus sampling.
    public var topP: Double?
    /// Upper bound on generated tokens.
    public var maxTokens: Int?
    /// Stop sequences.
    public var stop: [String]?

    /// Creates options.
    public init(temperature: Double? = nil, topP: Double? = nil, maxTokens: Int? = nil, stop: [String]? = nil) {
        self.temperature = temperature
        self.topP = topP
        self.maxTokens = maxTokens
        self.stop = stop
    }
}

/// What a streamed chat call yields, in order: text (and reasoning) pieces, then usage and the
/// finish reason when the provider reports them.
public enum ChatEvent: Sendable, Equatable {
    /// A piece of the answer.
    case text(String)
    /// A piece of hidden reasoning (DeepSeek-R1 `reasoning_content` and the like); never part of the
    /// answer.
    case reasoning(String)
    /// Token usage of the call.
    case usage(TokenUsage)
    /// Why generation stopped (`stop`, `length`, `content_filter`, …).
    case finish(String)
}

/// A chat model: a provider's model behind the gateway, or a test double.
///
/// Library code (retrieval-augmented answering, evaluation) depends on this protocol only; the
/// composition root injects a concrete model.
public protocol ChatModel: Sendable {
    /// `provider:model`, e.g. `dashscope:qwen-plus`.
    var id: String { get }
    /// Tokens the model accepts in prompt plus completion.
    var contextWindow: Int { get }
    /// Streams the reply to `messages`. Cancelling the consuming task cancels the request.
    func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error>
}

extension ChatModel {
    /// The whole reply to `messages`: its text and usage (zero when the provider reported none).
    public func complete(_ messages: [ChatMessage], options: ChatOptions = ChatOptions()) async throws -> (
        text: String, usage: TokenUsage
    ) {
        var text = ""
        var usage = TokenUsage.zero
        for try await e in streamChat(messages, options: options) {
            switch e {
            case .text(let t): text += t
            case .usage(let u): usage = usage + u
            case .reasoning, .finish: break
            }
        }
        try Task.checkCancellation()
        return (text, usage)
    }
}
