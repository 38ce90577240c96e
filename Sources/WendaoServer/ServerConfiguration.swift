public import Foundation
public import WendaoModels

#if canImport(Glibc)
    import Glibc
#endif

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
    /// Conversations not continued for this many days are deleted (checked at start and hourly);
    /// nil or 0 keeps them until they are deleted (`conversations.retention_days`,
    /// `serve --conversation-retention-days`).
    public var conversationRetentionDays: Int?
    /// Models configuration (providers, keys, prices).
    public var models = ModelsConfiguration()
    /// The environment used to resolve model keys.
    public var environment: [String: String] = [:]
    /// Opens an uploaded file for writing (tests put a failing device here).
    var openUploadFile: @Sendable (URL) throws -> FileHandle = { try FileHandle(forWritingTo: $0) }

    /// Host names a request's `Host` header may carry besides the loopback names and the bound
    /// address (`config.yaml` `server.allowed_hosts`, `serve --allowed-host`): the names clients
    /// use to reach this server. Requests naming any other host are refused (DNS rebinding).
    /// Empty on a wildcard address (`0.0.0.0`, `::`): any host name is accepted there.
    public var allowedHosts: [String] = []
    /// Origins (`https://intranet.example`) whose pages may send state-changing requests besides
    /// the server's own origin (`server.allowed_origins`).
    public var allowedOrigins: [String] = []
    /// Mark the session cookie `Secure` on every response (set when the server is reached over
    /// HTTPS through a proxy that does not send `X-Forwarded-Proto`); `server.secure_cookies`.
    public var secureCookies = false
    /// Sign-in attempts allowed per user name and per client address in ``loginWindow`` before
    /// further attempts get 429.
    public var loginAttempts = 10
    /// The window of ``loginAttempts``.
    public var loginWindow: Duration = .seconds(900)

    /// Defaults for a data directory.
    public init(dataDirectory: URL) {
        self.dataDirectory = dataDirectory
    }

    /// Whether ``host`` is a loopback address: IPv4 127.0.0.0/8 or IPv6 `::1` in any spelling
    /// (`0:0:0:0:0:0:0:1`, `[::1]`, `::ffff:127.0.0.1`), or the name `localhost` (reserved for
    /// loopback, RFC 6761). Decided from the parsed address, never from how the text begins:
    /// `127.evil.example` is a name like any other, and not loopback.
    public var isLoopback: Bool { Self.isLoopback(host) }

    /// Whether `host` names a loopback address (see ``isLoopback``).
    public static func isLoopback(_ host: String) -> Bool {
        var h = host.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h == "localhost" || h == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, h, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        guard !h.contains("%"), inet_pton(AF_INET6, h, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }  // ::1
        // ::ffff:127.x.y.z (IPv4-mapped)
        return bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
    }

    /// Whether the server admits callers without a key while none exists ("open local mode"): only
    /// on a loopback address and without an admin key. Everywhere else every request needs a key.
    public var opensLocally: Bool { isLoopback && adminKey == nil }

    /// Whether ``host`` is a wildcard address (every interface).
    public var isWildcard: Bool {
        var h = host.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, h, &v4) == 1 { return v4.s_addr == 0 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, h, &v6) == 1 else { return false }
        return withUnsafeBytes(of: v6) { $0.allSatisfy { $0 == 0 } }
    }
}
