public import Foundation
public import Logging
public import NIOPosix
import Synchronization
public import WendaoCore
public import WendaoModels
public import WendaoRAG
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
    private let models: ModelsAndGateway
    /// The thread pool's state: not started, running, stopped (it cannot be started again).
    private let poolState = Mutex(PoolState.idle)

    private enum PoolState { case idle, running, stopped }

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
        threadPool = NIOThreadPool(numberOfThreads: max(1, threadPoolSize ?? max(4, 2 * cores)))
        // The registry reaches for the configuration and the gateway only when a provider's
        // embedding model is opened.
        embedders = EmbedderRegistry(
            environment: environment, configuration: { try parts.configuration() }, gateway: { try parts.gateway() })
    }

    /// The library over the data directory's SQLite store (opened, and the directory created, on
    /// first call).
    public func library() throws -> Library {
        try madeLibrary.withLock { made in
            if let made { return made }
            let library = try Library(
                directory: dataDirectory, store: try Library.openSQLiteStore(directory: dataDirectory),
                embedders: embedders, logger: logger)
            made = library
            return library
        }
    }

    /// The models configuration (read once).
    public func modelsConfiguration() throws -> ModelsConfiguration { try models.configuration() }

    /// The model gateway, made with the configuration's time limits and retry policy on first use
    /// (a gateway that never calls out holds no connections).
    public func gateway() throws -> ModelGateway { try models.gateway() }

    /// ``threadPool``, started on first call (after ``shutdown()`` it stays stopped: work handed to
    /// it fails).
    public func startedThreadPool() -> NIOThreadPool {
        poolState.withLock { state in
            if state == .idle {
                threadPool.start()
                state = .running
            }
        }
        return threadPool
    }

    /// Closes the gateway's connections, stops the thread pool and forgets loaded encoders.
    /// Idempotent.
    public func shutdown() async {
        await models.made()?.shutdown()
        let wasRunning = poolState.withLock { state in
            defer { state = .stopped }
            return state == .running
        }
        if wasRunning { try? await threadPool.shutdownGracefully() }
        embedders.shutdown()
    }

    /// ``shutdown()`` for synchronous code (CLI commands): waits on the calling thread.
    public func close() {
        _ = try? BlockingBridge.run { await self.shutdown() }
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
