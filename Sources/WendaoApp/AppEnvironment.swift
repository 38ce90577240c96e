public import Foundation
public import Logging
public import NIOPosix
import Synchronization
public import WendaoCore
public import WendaoModels
public import WendaoRAG
import WendaoPostgres
import WendaoStore

/// The composition root: the one place that builds the application's parts from a data directory,
/// the environment and the models configuration, and shuts them down.
///
/// ```
///                AppEnvironment (data dir · environment · config.yaml)
///       ┌────────────────┬──────────────┴──┬──────────────────┐
///       ▼                ▼                 ▼                  ▼
///  SQLiteStore      ModelGateway ──► EmbedderRegistry     NIOThreadPool
///  (KnowledgeStore)                  (EmbedderProvider)   (blocking work)
///       └──────────────► Library ◄─────────┘                  │
///                           │                                 │
///               CLI commands, WendaoServer ◄──────────────────┘
/// ```
///
/// Beside them, ``chatModels`` turns a model name into the model to call: a provider's through the
/// gateway, or a local GGUF model (`local:NAME`) loaded once (on the thread pool) and shared.
///
/// The CLI makes one per command, the server one per process (`WendaoServer` also accepts one
/// made by its caller); tests make their own. Nothing here is process-wide: the gateway, the loaded
/// encoders and the thread pool live as long as the environment, and ``shutdown()`` (or ``close()``
/// from synchronous code) releases them.
///
/// ```swift
/// let app = AppEnvironment(dataDirectory: dir, environment: env, models: config, logger: logger)
/// defer { app.close() }
/// let hits = try app.library().open("logistics").search("首重多少钱")
/// ```
public final class AppEnvironment: Sendable {
    /// The data directory.
    public let dataDirectory: URL
    /// Variables that hold keys, base URLs and `WENDAO_*` settings.
    public let environment: [String: String]
    /// The logger parts are made with.
    public let logger: Logger
    /// The embedders knowledge bases may name.
    public let embedders: EmbedderRegistry
    /// The library, made on first use (commands that only talk to a model never open the store).
    private let madeLibrary = Mutex<Library?>(nil)
    /// Threads for blocking work (SQLite, BM25, local embedding) of async callers; started by
    /// ``startedThreadPool()``.
    public let threadPool: NIOThreadPool
    /// The chat models answers are written with (providers' through the gateway, local ones loaded
    /// once and shared).
    public let chatModels: ChatModels
    private let models: ModelsAndGateway
    private let pool: StartablePool
    /// The shared store, when the library was opened over PostgreSQL (closed by ``shutdown()``).
    private let madeStore = Mutex<PostgresStore?>(nil)

    /// Builds the parts for `dataDirectory` with a models configuration already read.
    ///
    /// - Parameter threadPoolSize: threads for blocking work (nil: twice the cores, at least 4).
    public convenience init(
        dataDirectory: URL, environment: [String: String], models: ModelsConfiguration,
        logger: Logger = Logger(label: "wendao"), threadPoolSize: Int? = nil
    ) {
        self.init(
            dataDirectory: dataDirectory, environment: environment, logger: logger, threadPoolSize: threadPoolSize,
            models: { models })
    }

    /// Builds the parts for `dataDirectory`; the models configuration is read by `models` when
    /// first needed (so a broken `config.yaml` only fails what needs a provider).
    public init(
        dataDirectory: URL, environment: [String: String], logger: Logger = Logger(label: "wendao"),
        threadPoolSize: Int? = nil, models: @escaping @Sendable () throws -> ModelsConfiguration
    ) {
        self.dataDirectory = dataDirectory
        self.environment = environment
        self.logger = logger
        let parts = ModelsAndGateway(load: models, logger: logger)
        self.models = parts
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let pool = StartablePool(NIOThreadPool(numberOfThreads: max(1, threadPoolSize ?? max(4, 2 * cores))))
        self.pool = pool
        threadPool = pool.pool
        // The registry reaches for the configuration and the gateway only when a provider's
        // embedding model is opened.
        embedders = EmbedderRegistry(
            environment: environment, configuration: { try parts.configuration() }, gateway: { try parts.gateway() })
        chatModels = ChatModels(
            environment: environment, gateway: { try parts.gateway() }, threadPool: { pool.started() })
    }

    /// The library over the store (opened, and the directory created, on first call): the data
    /// directory's SQLite store, or the PostgreSQL database of `WENDAO_DATABASE_URL` when set (the
    /// data directory then holds only caches: index files, models).
    public func library() throws -> Library {
        try madeLibrary.withLock { made in
            if let made { return made }
            var environment = self.environment
            if let url = databaseURL { environment[Library.databaseURLVariable] = url }
            let store = try Library.openStore(directory: dataDirectory, environment: environment, logger: logger)
            if let shared = store as? PostgresStore { madeStore.withLock { $0 = shared } }
            let library = try Library(
                directory: dataDirectory, store: store, embedders: embedders, logger: logger,
                cacheNamespace: (store as? PostgresStore)?.url.cacheNamespace, vectorSearch: try vectorSearch())
            made = library
            return library
        }
    }

    /// The PostgreSQL URL this environment uses (`WENDAO_DATABASE_URL`), shown without its password,
    /// or nil for the embedded SQLite store.
    public var databaseDescription: String? {
        guard let url = databaseURL else { return nil }
        return (try? DatabaseURL(url))?.redacted ?? "(an unreadable database URL)"
    }

    /// The PostgreSQL URL to use: `WENDAO_DATABASE_URL` (which `--database` sets), else
    /// `database_url` in `config.yaml`, else nil (SQLite).
    public var databaseURL: String? {
        if let url = environment[Library.databaseURLVariable], !url.isEmpty { return url }
        if let url = try? models.configuration().databaseURL, !url.isEmpty { return url }
        return nil
    }

    /// Where dense retrieval runs: `WENDAO_VECTOR_SEARCH` (which `--vector-search` sets), else
    /// `vector_search` in `config.yaml`, else each server's own index. A value that is not `local`,
    /// `pgvector` or `pgvector:EF` is an error naming where it came from.
    public func vectorSearch() throws -> VectorSearchSettings {
        if let text = environment[Library.vectorSearchVariable], !text.isEmpty {
            return try VectorSearchSettings(parsing: text, source: "--vector-search / \(Library.vectorSearchVariable)")
        }
        if let configuration = try? models.configuration(), let text = configuration.vectorSearch, !text.isEmpty {
            return try VectorSearchSettings(
                parsing: text, source: "vector_search in \(configuration.source ?? "config.yaml")")
        }
        return .local
    }

    /// The models configuration (read once).
    public func modelsConfiguration() throws -> ModelsConfiguration { try models.configuration() }

    /// The model gateway, made with the configuration's time limits and retry policy on first use
    /// (a gateway that never calls out holds no connections).
    public func gateway() throws -> ModelGateway { try models.gateway() }

    /// ``threadPool``, started on first call (after ``shutdown()`` it stays stopped: work handed to
    /// it fails).
    public func startedThreadPool() -> NIOThreadPool { pool.started() }

    /// The model to call for `model` (see ``ChatModels/chatModel(for:)``).
    public func chatModel(for model: ResolvedModel) async throws -> any ChatModel {
        try await chatModels.chatModel(for: model)
    }

    /// Closes the gateway's connections, stops the thread pool and forgets loaded encoders and local
    /// chat models. Idempotent.
    public func shutdown() async {
        await models.made()?.shutdown()
        if pool.stop() { try? await threadPool.shutdownGracefully() }
        embedders.shutdown()
        chatModels.shutdown()
        madeStore.withLock { $0 }?.close()
    }

    /// ``shutdown()`` for synchronous code (CLI commands): waits on the calling thread.
    public func close() {
        _ = try? BlockingBridge.run { await self.shutdown() }
    }
}

/// A thread pool started on first use; once stopped it stays stopped (work handed to it fails).
private final class StartablePool: Sendable {
    let pool: NIOThreadPool
    /// Not started, running, stopped.
    private let state = Mutex(State.idle)

    private enum State { case idle, running, stopped }

    init(_ pool: NIOThreadPool) { self.pool = pool }

    func started() -> NIOThreadPool {
        state.withLock { state in
            if state == .idle {
                pool.start()
                state = .running
            }
        }
        return pool
    }

    /// Marks the pool stopped; true when it was running (the caller shuts it down).
    func stop() -> Bool {
        state.withLock { state in
            defer { state = .stopped }
            return state == .running
        }
    }
}

/// The models configuration (read once, on demand) and the gateway made from it: shared by the
/// environment and its embedder registry (which may outlive it in a command that only keeps the
/// library).
private final class ModelsAndGateway: Sendable {
    private let load: @Sendable () throws -> ModelsConfiguration
    private let logger: Logger
    private let loaded = Mutex<ModelsConfiguration?>(nil)
    private let gatewayBox = Mutex<ModelGateway?>(nil)

    init(load: @escaping @Sendable () throws -> ModelsConfiguration, logger: Logger) {
        self.load = load
        self.logger = logger
    }

    func configuration() throws -> ModelsConfiguration {
        if let c = loaded.withLock({ $0 }) { return c }
        let c = try load()
        loaded.withLock { $0 = c }
        return c
    }

    func gateway() throws -> ModelGateway {
        if let g = gatewayBox.withLock({ $0 }) { return g }
        let configuration = try configuration()
        return gatewayBox.withLock { box in
            if let g = box { return g }
            let g = ModelGateway(configuration: configuration, logger: logger)
            box = g
            return g
        }
    }

    /// The gateway if one was made.
    func made() -> ModelGateway? { gatewayBox.withLock { $0 } }
}

extension Library {
    /// The variable naming a PostgreSQL database to use instead of the data directory's SQLite
    /// store (`wendao --database URL` sets it for one command).
    public static let databaseURLVariable = "WENDAO_DATABASE_URL"

    /// The variable choosing where dense retrieval runs (`local`, `pgvector`, `pgvector:EF`; see
    /// ``VectorSearchSettings``); `wendao --vector-search` sets it for one command.
    public static let vectorSearchVariable = "WENDAO_VECTOR_SEARCH"

    /// The store `environment` asks for: PostgreSQL at `WENDAO_DATABASE_URL` (migrated on open,
    /// under an advisory lock), else the SQLite store of `directory`.
    public static func openStore(directory: URL, environment: [String: String], logger: Logger) throws
        -> any KnowledgeStore
    {
        guard let url = environment[databaseURLVariable], !url.isEmpty else {
            return try openSQLiteStore(directory: directory)
        }
        var pgLogger = logger
        pgLogger[metadataKey: "store"] = "postgres"
        return try PostgresStore(url: url, logger: pgLogger)
    }

    /// Opens (creating if needed) the SQLite store of `directory`: `wendao.sqlite`, beside the
    /// `indexes` folder.
    public static func openSQLiteStore(directory: URL) throws -> any KnowledgeStore {
        do {
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent("indexes"), withIntermediateDirectories: true)
        } catch {
            throw WendaoError(.storage, "cannot create data directory \(directory.path): \(error.localizedDescription)")
        }
        return try SQLiteStore(path: directory.appendingPathComponent("wendao.sqlite").path)
    }

    /// Opens (creating if needed) a data directory with its SQLite store: the common case, for
    /// tools and tests that need no gateway.
    ///
    /// - Parameter embedders: resolves the `embedder` setting of knowledge bases; the default knows
    ///   the local models only (providers' models need a gateway: see ``AppEnvironment``).
    public convenience init(
        directory: URL, logger: Logger = Logger(label: "wendao"),
        embedders: any EmbedderProvider = EmbedderRegistry()
    ) throws {
        try self.init(
            directory: directory, store: try Library.openSQLiteStore(directory: directory), embedders: embedders,
            logger: logger)
    }
}
