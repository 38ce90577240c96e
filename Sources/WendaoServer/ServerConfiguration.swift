public import Foundation
public import WendaoModels

/// Everything `wendao serve` can be told: where to listen, who may call, and how much.
///
/// ```swift
/// var config = ServerConfiguration(dataDirectory: dir)
/// config.port = 8080
/// config.adminKey = Secret("…")
/// ```
public struct ServerConfiguration: Sendable {
    /// Host to bind.
    public var host = "127.0.0.1"
    /// Port to bind (0: any free port).
    public var port = 8080
    /// The data directory (knowledge bases, config.yaml, uploads).
    public var dataDirectory: URL
    /// The admin key (everything), when configured.
    public var adminKey: Secret?
    /// Largest JSON request body, in bytes.
    public var maxJSONBytes = 1 << 20
    /// Largest upload, in bytes.
    public var maxUploadBytes = 256 << 20
    /// Longest question or query, in characters.
    public var maxQueryCharacters = 4096
    /// Requests one key may make per second (a token bucket with a burst of twice this).
    public var requestsPerSecondPerKey = 50.0
    /// Answers (model calls or streams) in flight at once, over all clients; more get 503.
    public var maxConcurrentAnswers = 64
    /// Answers in flight for one API key; more get 429 (the admin is held to the global cap only).
    public var maxConcurrentAnswersPerKey = 8
    /// `/v1/embeddings` requests in flight at once, over all clients (a local model is CPU work);
    /// more get 503.
    public var maxConcurrentEmbeddings = 4
    /// `/v1/embeddings` requests in flight for one API key; more get 429.
    public var maxConcurrentEmbeddingsPerKey = 2
    /// Uploads being received plus the ingest jobs they queued and that have not finished, over all
    /// clients; more get 503.
    public var maxConcurrentIngests = 16
    /// Uploads and unfinished ingest jobs of one API key; more get 429.
    public var maxConcurrentIngestsPerKey = 4
    /// Most texts in one `/v1/embeddings` request; more is a 400.
    public var maxEmbeddingInputs = 64
    /// Longest text in one `/v1/embeddings` request, in characters; longer is a 400.
    public var maxEmbeddingInputCharacters = 8192
    /// Most characters over all texts of one `/v1/embeddings` request; more is a 400.
    public var maxEmbeddingRequestCharacters = 32_768
    /// How long a connection may be idle (no request being read or answered), or take to send a
    /// request's headers, before the server closes it.
    public var idleTimeout: Duration = .seconds(60)
    /// Models configuration (providers, keys, prices).
    public var models = ModelsConfiguration()
    /// The environment used to resolve model keys.
    public var environment: [String: String] = [:]
    /// Opens an uploaded file for writing (tests put a failing device here).
    var openUploadFile: @Sendable (URL) throws -> FileHandle = { try FileHandle(forWritingTo: $0) }

    /// Defaults for a data directory.
    public init(dataDirectory: URL) {
        self.dataDirectory = dataDirectory
    }

    /// Whether ``host`` is a loopback address.
    public var isLoopback: Bool {
        let h = host.lowercased()
        return h == "localhost" || h == "::1" || h == "[::1]" || h.hasPrefix("127.")
    }
}
