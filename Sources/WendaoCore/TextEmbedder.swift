/// What a text is to an embedder: some models embed queries and passages differently (e5's
/// `query: ` / `passage: ` prefixes); others ignore the difference.
public enum EmbeddingKind: String, Sendable, Equatable, Codable {
    /// A search query.
    case query
    /// A passage to be indexed.
    case passage
}

/// Vectors of one ``TextEmbedder`` call, in input order.
public struct EmbeddingResult: Sendable, Equatable {
    /// One vector per input, every one with the embedder's dimension.
    public var vectors: [[Float]]
    /// Tokens the model read (reported by the provider, counted by a local tokenizer, or estimated).
    public var tokenCount: Int
    /// Per input: whether it was cut to the embedder's length limit before embedding.
    public var truncated: [Bool]

    /// Creates a result.
    public init(vectors: [[Float]], tokenCount: Int, truncated: [Bool]) {
        self.vectors = vectors
        self.tokenCount = tokenCount
        self.truncated = truncated
    }
}

/// A text-embedding model: a local encoder (`e5-small`, `minilm`, `path:/dir`) or a provider's model
/// behind the gateway (`dashscope:text-embedding-v3`, `ollama:bge-m3`, any `/v1/embeddings`).
///
/// Library code (vector sync, dense search, evaluation, the embeddings route) depends on this
/// protocol only; the composition root decides which embedders exist.
///
/// ```swift
/// let embedder: any TextEmbedder = try registry.open("dashscope:text-embedding-v3")
/// let vectors = try await embedder.embed(["Where is my parcel?"], as: .query).vectors
/// ```
public protocol TextEmbedder: Sendable {
    /// The id stamped into vector files (`e5-small-q4`, `dashscope:text-embedding-v3`): vectors made
    /// by another id are never mixed with this embedder's.
    var id: String { get }
    /// The vector dimension when known: always for a local model; for a remote one after its first
    /// response (it is then enforced on every later response).
    var knownDimension: Int? { get }
    /// Embeds `texts` (one vector per text, in order). Never blocks a thread of the Swift
    /// concurrency pool for long: local models compute on a thread of their own.
    func embed(_ texts: [String], as kind: EmbeddingKind) async throws -> EmbeddingResult
    /// Embeds `texts`, blocking the calling thread until done. For synchronous code running on a
    /// thread of its own (vector sync during ingest, `KnowledgeBase.search` on the server's thread
    /// pool or in the CLI); async callers use ``embed(_:as:)`` instead. Remote calls run on a
    /// dedicated thread and the caller waits without polling (see ``BlockingBridge``).
    func embedBlocking(_ texts: [String], as kind: EmbeddingKind) throws -> EmbeddingResult
}

/// Opens embedders by name: what a ``TextEmbedder`` setting (`e5-small`, `path:/dir`,
/// `dashscope:text-embedding-v3`) means in this process.
///
/// Library code (knowledge bases, the embeddings route) depends on this protocol only; the
/// composition root (`AppEnvironment` in WendaoApp) supplies the registry that knows local models and
/// providers' models, and tests may supply a fake.
///
/// ```swift
/// let embedder = try provider.open("e5-small")
/// ```
public protocol EmbedderProvider: Sendable {
    /// The embedder called `spec`, made on first use and kept by the provider.
    ///
    /// - Throws: an unknown name, a model that is not installed, or a provider whose key is missing.
    func open(_ spec: String) throws -> any TextEmbedder
}
