public import WendaoCore

/// A provider model as a ``ChatModel`` for retrieval-augmented answering.
public struct GatewayChatModel: ChatModel {
    /// The gateway that makes the calls.
    public let gateway: ModelGateway
    /// The resolved model.
    public let model: ResolvedModel

    /// Wraps a resolved model.
    public init(gateway: ModelGateway, model: ResolvedModel) {
        self.gateway = gateway
        self.model = model
    }

    /// `provider:model`.
    public var id: String { model.id }
    /// The model's context window.
    public var contextWindow: Int { model.contextWindow }

    /// Streams through the gateway.
    public func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error> {
        gateway.streamChat(model, messages: messages, options: options)
    }
}
