import Foundation
public import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization
public import WendaoCore

/// The shared store: one PostgreSQL database that several Wendao servers use at once.
///
/// It keeps what ``SQLiteStore`` keeps, under the same contract (``KnowledgeStore``), and what
/// servers must share besides: job leases (``JobLeaseStore``), dense vectors (``VectorStore``) and a
/// per-knowledge-base change log of chunks (``ChunkChangeLog``). A server's own disk holds only
/// caches it rebuilds from here (the BM25 and vector index files).
///
/// The contract is synchronous (the pipeline calls it from threads of its own); each call runs on
/// postgres-nio's connection pool through ``BlockingBridge`` and waits at most the operation time
/// limit. Every value is a bound parameter. Errors name the server (``DatabaseURL/redacted``),
/// never the password.
///
/// ```swift
/// let store = try PostgresStore(url: "postgres://wendao:pw@127.0.0.1:5432/wendao")
/// defer { store.close() }
/// let kb = try store.createKnowledgeBase(name: "客服", settings: .default)
/// ```
public final class PostgresStore: KnowledgeStore, Sendable {
    /// Where the database is (its ``DatabaseURL/redacted`` form is what messages show).
    public let url: DatabaseURL
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>
    /// The longest one store call may take (connection wait included).
    let operationTimeout: Duration
    /// How a direct connection (the probe) is set up: at start, and when a call waits long enough to
    /// suspect the server is gone (see ``run(_:_:)``).
    private let probeTLS: PostgresConnection.Configuration.TLS
    /// The pgvector indexes this process has made or found (see ``ensureVectorIndex(kb:dimension:)``).
    let vectorIndexesMade = Mutex<Set<String>>([])

    /// Connects to `url`, checks that the server answers and the credentials work, and runs pending
    /// migrations (once, under an advisory lock, whatever other servers do at the same moment).
    ///
    /// - Throws: ``WendaoError/Code/invalidArgument`` for a malformed URL; `.storage` naming the host
    ///   when the server cannot be reached, refuses the credentials or holds a schema newer than this
    ///   version knows.
    public convenience init(url: String, logger: Logger = Logger(label: "wendao.postgres"), migrate: Bool = true)
        throws
    {
        try self.init(url: try DatabaseURL(url), logger: logger, migrate: migrate)
    }

    /// Connects to `url` (see ``init(url:logger:migrate:)-…``).
    public init(
        url: DatabaseURL, logger: Logger = Logger(label: "wendao.postgres"), migrate: Bool = true,
        operationTimeout: Duration = .seconds(120)
    ) throws {
        self.url = url
        self.logger = logger
        self.operationTimeout = operationTimeout
        let tls = try Self.tlsSettings(url)
        probeTLS = tls.connection
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
            tls: tls.client)
        configuration.options.maximumConnections = url.poolSize
        configuration.options.connectTimeout = .seconds(Int64(url.connectTimeout))
        configuration.options.additionalStartupParameters = [("application_name", "wendao")]
        // The client's own logger sees connection details; it never gets the password.
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        // The pool's loop runs on a thread of its own (see ClientExecutor).
        if #available(macOS 15.0, iOS 18.0, *) {
            runner = Task(executorPreference: ClientExecutor.shared) { await client.run() }
        } else {
            runner = Task.detached { await client.run() }
        }
        do {
            try Self.probe(url, tls: tls.connection, logger: logger)
            if migrate { try self.migrate() } else { try self.checkSchemaVersion() }
        } catch {
            runner.cancel()
            throw error
        }
    }

    deinit { runner.cancel() }

    /// Closes the connection pool; calls made afterwards fail.
    public func close() { runner.cancel() }

    // MARK: Connecting

    private static func tlsSettings(_ url: DatabaseURL) throws -> (
        client: PostgresClient.Configuration.TLS, connection: PostgresConnection.Configuration.TLS
    ) {
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none
        // A private CA (`sslrootcert`): its file must be there and readable, said by name.
        var roots: NIOSSLTrustRoots?
        if let path = url.rootCertificatePath, url.tls != .disable {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw WendaoError(.invalidArgument, "sslrootcert \(path): no such file, or it cannot be read")
            }
            roots = .file(path)
        }
        do {
            switch url.tls {
            case .disable: return (.disable, .disable)
            case .prefer: return (.prefer(unverified), .prefer(try NIOSSLContext(configuration: unverified)))
            case .require:
                guard let roots else {
                    return (.require(unverified), .require(try NIOSSLContext(configuration: unverified)))
                }
                // As libpq: with a root certificate, require checks the chain (not the host name).
                var chain = TLSConfiguration.makeClientConfiguration()
                chain.trustRoots = roots
                chain.certificateVerification = .noHostnameVerification
                return (.require(chain), .require(try NIOSSLContext(configuration: chain)))
            case .verifyFull:
                var verified = TLSConfiguration.makeClientConfiguration()
                if let roots { verified.trustRoots = roots }
                return (.require(verified), .require(try NIOSSLContext(configuration: verified)))
            }
        } catch {
            throw WendaoError(.storage, "cannot set up TLS for \(url.redacted): \(error)")
        }
    }

    /// One direct connection, so that a wrong host, port, password or database fails at once with a
    /// clear reason (the pool would keep retrying in the background).
    private static func probe(_ url: DatabaseURL, tls: PostgresConnection.Configuration.TLS, logger: Logger) throws {
        do {
            try BlockingBridge.run { try await probeConnection(url, tls: tls, logger: logger) }
        } catch {
            throw Self.describe(error, doing: "cannot connect to the database \(url.redacted)")
        }
    }

    /// Connects directly (not through the pool), runs `SELECT 1` and closes.
    private static func probeConnection(
        _ url: DatabaseURL, tls: PostgresConnection.Configuration.TLS, logger: Logger
    ) async throws {
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
            tls: tls)
        configuration.options.connectTimeout = .seconds(Int64(url.connectTimeout))
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: 0, logger: logger)
        do {
            _ = try await connection.query("SELECT 1", logger: logger).collect()
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    // MARK: Running calls

    /// Runs `body` against the pool and waits for it (at most ``operationTimeout``); a failure becomes a
    /// ``WendaoError`` `.storage` starting with `what` (Wendao errors pass through).
    ///
    /// While the server is down the pool keeps retrying in the background and a call would wait for
    /// the whole time limit: a call still waiting after the URL's `connect_timeout` probes the server
    /// with a connection of its own, and fails at once with the probe's reason (unreachable, refusing
    /// the password, starting up) when that fails too. The pool reconnects by itself when the server
    /// is back.
    func run<T: Sendable>(
        _ what: String, timeout: Duration? = nil, _ body: @escaping @Sendable (PostgresClient) async throws -> T
    ) throws -> T {
        let client = self.client
        let timeout = timeout ?? operationTimeout
        let url = self.url
        let tls = probeTLS
        let logger = self.logger
        do {
            return try BlockingBridge.run {
                try await withThrowingTaskGroup(of: T?.self) { group in
                    group.addTask { try await body(client) }
                    group.addTask {
                        try await Task.sleep(for: timeout)
                        return nil
                    }
                    group.addTask {
                        let patience = Duration.seconds(max(1, url.connectTimeout))
                        guard patience < timeout else { try await Task.sleep(for: timeout); return nil }
                        try await Task.sleep(for: patience)
                        // Throws the reason the server cannot be used; when it can, the call is only slow.
                        try await Self.probeConnection(url, tls: tls, logger: logger)
                        try await Task.sleep(for: timeout - patience)
                        return nil
                    }
                    defer { group.cancelAll() }
                    guard let first = try await group.next(), let value = first else {
                        throw WendaoError(.storage, "the database did not answer within \(timeout)")
                    }
                    return value
                }
            }
        } catch {
            throw Self.describe(error, doing: "\(what) (\(url.redacted))")
        }
    }

    /// Runs `body` in one transaction (committed when it returns, rolled back when it throws).
    func transaction<T: Sendable>(
        _ what: String, timeout: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) throws -> T {
        let logger = self.logger
        return try run(what, timeout: timeout) { client in
            try await client.withConnection { connection in
                _ = try await connection.query("BEGIN", logger: logger).collect()
                do {
                    let value = try await body(connection)
                    _ = try await connection.query("COMMIT", logger: logger).collect()
                    return value
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger).collect()
                    throw error
                }
            }
        }
    }

    /// A ``WendaoError`` for `error`: Wendao errors as they are; a server error with its SQLSTATE and
    /// message; a connection failure with its reason. Never the password (postgres-nio's errors hold
    /// none, and the URL is shown redacted).
    ///
    /// The database being away (unreachable, closing connections, shutting down or starting, not
    /// accepting connections, too many of them, not answering in time) is
    /// ``WendaoError/Code/storageUnavailable`` (servers answer 503: retry later); anything else
    /// (a refused password, a missing database, a failed statement) is `.storage`.
    static func describe(_ error: any Error, doing what: String) -> WendaoError {
        if let e = error as? WendaoError {
            if e.code == .storage && e.message.hasPrefix("the database did not answer") {
                return WendaoError(.storageUnavailable, "\(what): \(e.message)")
            }
            return e
        }
        if error is CancellationError { return WendaoError(.cancelled, "\(what): cancelled") }
        if let e = error as? PSQLError {
            if let info = e.serverInfo {
                let state = info[.sqlState] ?? "?"
                let message = info[.message] ?? "error"
                let reason: String
                var code = WendaoError.Code.storage
                switch state {
                case "28P01", "28000": reason = "the server refused the user name or password (\(message))"
                case "3D000": reason = "the database does not exist (\(message))"
                case "57P01", "57P02", "57P03":
                    reason = "the server is shutting down or starting (\(message))"
                    code = .storageUnavailable
                case "55000" where message.contains("accepting connections"):
                    reason = "the database is not accepting connections (\(message))"
                    code = .storageUnavailable
                case _ where state.hasPrefix("08") || state.hasPrefix("53"):
                    // Connection exceptions; insufficient resources (too many connections, disk full).
                    reason = "\(message) [SQLSTATE \(state)]"
                    code = .storageUnavailable
                default: reason = "\(message) [SQLSTATE \(state)]"
                }
                return WendaoError(code, "\(what): \(reason)")
            }
            let underlying = e.underlying.map { ": \(String(describing: $0).prefix(300))" } ?? ""
            switch e.code {
            case .connectionError:
                // A certificate that is not trusted, or not for this host: not an outage, and it will
                // not pass by itself.
                if underlying.contains("CERTIFICATE_VERIFY_FAILED") || underlying.contains("failedToValidateHostname") {
                    return WendaoError(
                        .storage,
                        "\(what): the server's TLS certificate was not accepted (not signed by a trusted CA "
                            + "— sslrootcert names a private one — or not for this host name)\(underlying)")
                }
                return WendaoError(.storageUnavailable, "\(what): the server cannot be reached\(underlying)")
            case .serverClosedConnection, .uncleanShutdown:
                return WendaoError(.storageUnavailable, "\(what): the server closed the connection\(underlying)")
            case .sslUnsupported:
                return WendaoError(.storage, "\(what): the server does not offer TLS (sslmode asks for it)")
            case .clientClosedConnection:
                // The pool closed a connection under the call (it found it broken: the server went away).
                return WendaoError(.storageUnavailable, "\(what): the connection was closed\(underlying)")
            case .poolClosed:
                return WendaoError(.storage, "\(what): the store is closed")
            default:
                return WendaoError(.storage, "\(what): \(e.code)\(underlying)")
            }
        }
        let text = String(describing: error)
        if text.contains("circuitBreaker") || text.contains("CircuitBreaker") {
            return WendaoError(
                .storageUnavailable, "\(what): the server cannot be reached (new connections keep failing)")
        }
        if let e = error as? DecodingError {
            return WendaoError(
                .storage, "\(what): a stored value cannot be read (\(String(describing: e).prefix(200)))")
        }
        return WendaoError(.storage, "\(what): \(text.prefix(300))")
    }
}

extension PostgresRowSequence {
    /// Every row, random-access.
    func rows() async throws -> [PostgresRandomAccessRow] {
        try await collect().map { $0.makeRandomAccess() }
    }
}

extension PostgresRandomAccessRow {
    /// The value of `column`.
    func get<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }
}

extension PostgresConnection {
    /// Runs `query` and returns its rows.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        try await self.query(query, logger: logger).rows()
    }

    /// Runs `query`, discarding any rows.
    func exec(_ query: PostgresQuery, logger: Logger) async throws {
        _ = try await self.query(query, logger: logger).collect()
    }
}

extension PostgresClient {
    /// Runs `query` and returns its rows.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        try await self.query(query, logger: logger).rows()
    }
}
