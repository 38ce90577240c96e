public import WendaoCore

/// A GGUF chat model run on this machine, behind the same ``ChatModel`` contract as the gateway's
/// providers (`local:NAME` or `local:/abs/path/model.gguf`).
///
/// One instance per model file and process: the weights are mapped once and shared, and requests
/// wait in a bounded queue (one generation at a time on the model's threads).
public final class LocalChatModel: ChatModel, Sendable {
    /// `local:NAME` (as the user wrote it).
    public let id: String
    /// Tokens the model accepts in prompt plus completion (the KV cache's length).
    public let contextWindow: Int
    /// The GGUF file.
    public let path: String

    /// Loads `path`; `contextLength` is capped at the model's own (default 4,096), `threads` defaults
    /// to the processor count, `queueLimit` is how many requests may wait before new ones are refused.
    public init(
        id: String, path: String, contextLength: Int? = nil, threads: Int? = nil, queueLimit: Int = 16
    ) throws(WendaoError) {
        self.id = id
        self.path = path
        self.contextWindow = contextLength ?? 4096
        throw WendaoError(.unsupported, "local models are not built yet")
    }

    /// Streams the reply to `messages`.
    public func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error>
    {
        AsyncThrowingStream { $0.finish(throwing: WendaoError(.unsupported, "local models are not built yet")) }
    }
}
