import Foundation
import HTTPTypes
import Logging
import NIOPosix
import Synchronization
import WendaoAuth
import WendaoCore
import WendaoApp
import WendaoModels
import WendaoRAG

/// An open knowledge base lent to one task at a time.
final class LentKnowledgeBase: @unchecked Sendable {
    let kb: KnowledgeBase
    init(_ kb: KnowledgeBase) { self.kb = kb }
}

/// The server's view of the data: knowledge bases opened once and lent to requests from a pool (a
/// `KnowledgeBase` is not thread-safe; each request gets its own instance, reused afterwards), the
/// model gateway, model resolution, and the one boundary for blocking work.
///
/// Blocking work (SQLite, BM25, local embedding, index files) never runs on Swift's concurrency
/// pool: route handlers hand it to ``blocking(_:)`` or ``withKnowledgeBase(_:_:)``, which run it on
/// the thread pool the composition root made. Remote embedding is awaited (``queryVector(_:query:mode:)``),
/// so a slow provider holds neither a pool thread nor a thread-pool thread.
final class KnowledgeService: Sendable {
    let library: Library
    /// The registry behind ``library``'s embedders (for checking `embedder` settings).
    let embedders: EmbedderRegistry
    let configuration: ServerConfiguration
    let gateway: ModelGateway
    /// The chat models answers are written with (providers' through ``gateway``, local ones loaded
    /// once and shared by every request).
    let chatModels: ChatModels
    /// Threads for blocking work.
    let threadPool: NIOThreadPool
    let logger: Logger
    /// Knowledge-base records read recently, by name (reads within ``recordTTL`` reuse them; this
    /// server's own writes invalidate them at once).
    private let records = Mutex<[String: (record: KnowledgeBaseRecord, at: ContinuousClock.Instant)]>([:])
    /// How long a record read may be reused: changes made by other processes (a CLI ingest) show up
    /// within this time.
    private let recordTTL: Duration = .milliseconds(250)
    /// Idle instances by knowledge-base name.
    private let idle = Mutex<[String: [LentKnowledgeBase]]>([:])
    /// Instances kept idle per knowledge base.
    private let maxIdle = 16
    /// Provider keys entered in the web UI, opened (nil until first read; reset when one changes).
    private let storedKeys = Mutex<[String: String]?>(nil)

    /// A service over parts the composition root made (``AppEnvironment``); `threadPool` must be
    /// started.
    init(
        configuration: ServerConfiguration, library: Library, embedders: EmbedderRegistry, gateway: ModelGateway,
        chatModels: ChatModels, threadPool: NIOThreadPool, logger: Logger
    ) {
        self.configuration = configuration
        self.library = library
        self.embedders = embedders
        self.gateway = gateway
        self.chatModels = chatModels
        self.threadPool = threadPool
        self.logger = logger
    }

    /// Runs blocking `body` on the thread pool and waits for it without holding a thread of the
    /// concurrency pool.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await threadPool.runIfActive(body)
    }

    /// `name` as every cache here keys it: canonical (NFC), so that two spellings of one name can
    /// never be two entries, nor one entry shared by two knowledge bases (see ``KnowledgeBaseName``).
    static func key(_ name: String) throws -> String {
        do { return try KnowledgeBaseName.canonical(name) } catch {
            throw WendaoError(.notFound, "knowledge base '\(name.prefix(80))' does not exist")
        }
    }

    /// Runs `body` with an open, current instance of knowledge base `name`, on the thread pool.
    func withKnowledgeBase<T: Sendable>(_ name: String, _ body: @escaping @Sendable (KnowledgeBase) throws -> T)
        async throws -> T
    {
        let name = try Self.key(name)
        return try await blocking {
            let lent = try self.checkOut(name)
            defer { self.checkIn(name, lent) }
            return try body(lent.kb)
        }
    }

    /// Like ``withKnowledgeBase(_:_:)``, with the vector of `query` that a search by `mode` needs
    /// made first: the embedder is awaited off the thread pool (a remote one is an HTTP call, a
    /// local one runs on the encoder's own threads). `body` gets nil when no vector is needed, and
    /// when the embedder refused the text as an invalid argument (the search then meets, and reports,
    /// that itself).
    func withKnowledgeBase<T: Sendable>(
        _ name: String, query: String, mode: RetrievalMode?,
        _ body: @escaping @Sendable (KnowledgeBase, [Float]?) throws -> T
    ) async throws -> T {
        let vector = try await queryVector(name, query: query, mode: mode)
        return try await withKnowledgeBase(name) { kb in try body(kb, vector) }
    }

    /// The vector of `query` for a search of `name` by `mode`, or nil when none is needed.
    func queryVector(_ name: String, query: String, mode: RetrievalMode?) async throws -> [Float]? {
        // BM25 needs no vector: known from the (cached) record, without a trip to the thread pool.
        if mode == .bm25 { return nil }
        if mode == nil, try await currentRecord(name).settings.effectiveRetrievalMode == .bm25 { return nil }
        let plan = try await withKnowledgeBase(name) { kb in kb.denseQuery(query, mode: mode).map(DenseQuery.init) }
        guard let plan else { return nil }
        do {
            return try await plan.embedder.embed([plan.text], as: .query).vectors.first
        } catch let e as WendaoError where e.code == .invalidArgument {
            return nil  // the search reports it (or finds the query has nothing to search)
        }
    }

    /// An instance reflecting the store's latest generation: an idle one if current, else a
    /// freshly opened one.
    /// The stored record of `name`, reused for ``recordTTL``.
    func record(_ name: String) throws -> KnowledgeBaseRecord {
        let name = try Self.key(name)
        let now = ContinuousClock.now
        if let cached = records.withLock({ $0[name] }), now - cached.at < recordTTL { return cached.record }
        let r = try library.record(name)
        records.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[name] = (r, now)
        }
        return r
    }

    /// ``record(_:)`` from async code: a recent record from the cache, else read on the thread pool.
    func currentRecord(_ name: String) async throws -> KnowledgeBaseRecord {
        let key = try Self.key(name)
        if let cached = records.withLock({ $0[key] }), ContinuousClock.now - cached.at < recordTTL {
            return cached.record
        }
        return try await blocking { try self.record(key) }
    }

    func checkOut(_ name: String) throws -> LentKnowledgeBase {
        let name = try Self.key(name)
        let record = try self.record(name)
        while let candidate = idle.withLock({ $0[name]?.popLast() }) {
            if candidate.kb.record.id == record.id && candidate.kb.record.generation == record.generation {
                return candidate
            }
        }
        let fresh = LentKnowledgeBase(try library.open(name))
        guard fresh.kb.record.id == record.id else {
            // Deleted and re-created under the same name since the record was read: the caller's
            // access check was for the old one.
            invalidate(name)
            throw WendaoError(.notFound, "knowledge base '\(name)' does not exist")
        }
        return fresh
    }

    func checkIn(_ name: String, _ lent: LentKnowledgeBase) {
        guard let name = try? Self.key(name), name == lent.kb.record.name else { return }
        idle.withLock { pool in
            var list = pool[name] ?? []
            if list.count < maxIdle { list.append(lent) }
            pool[name] = list
        }
    }

    /// The data directory's provider keys (sealed with its secret key: `WENDAO_SECRET_KEY`, else
    /// `secret.key`, created 0600 when missing).
    func providerKeys() throws -> ProviderKeys {
        ProviderKeys(
            store: library.store,
            box: try SecretBox.open(dataDirectory: configuration.dataDirectory, environment: configuration.environment))
    }

    /// The environment models are resolved in: the server's, plus the provider keys entered in the
    /// web UI for providers the environment gives no key (``StoredProviderKeys``).
    func modelEnvironment() throws -> [String: String] {
        let keys: [String: String]
        if let cached = storedKeys.withLock({ $0 }) {
            keys = cached
        } else {
            let opened = try ProviderKeys.opened(
                store: library.store, dataDirectory: configuration.dataDirectory,
                environment: configuration.environment)
            for p in opened.unreadable {
                logger.error(
                    "a stored provider key cannot be decrypted (secret key changed?)", metadata: ["provider": "\(p)"])
            }
            storedKeys.withLock { $0 = opened.keys }
            keys = opened.keys
        }
        return StoredProviderKeys.environment(
            configuration.environment, keys: keys, configuration: configuration.models)
    }

    /// Forgets the opened provider keys (after one was stored or removed).
    func invalidateProviderKeys() {
        storedKeys.withLock { $0 = nil }
    }

    /// Forgets idle instances of `name` (after it was deleted or changed by this server).
    func invalidate(_ name: String) {
        guard let name = try? Self.key(name) else { return }
        _ = idle.withLock { $0.removeValue(forKey: name) }
        _ = records.withLock { $0.removeValue(forKey: name) }
    }

    /// The model for a knowledge base's answers: the request's, else the knowledge base's, else
    /// the configured default; nil for extractive answers. A local model (`local:NAME`) must be pulled
    /// (or its file exist) and needs no key.
    func model(requested: String?, kbModel: String?, requireKey: Bool = true) throws -> ResolvedModel? {
        let serverEnvironment = configuration.environment
        let spec =
            requested ?? kbModel ?? serverEnvironment["WENDAO_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? configuration.models.defaultModel
        guard let spec else { return nil }
        if ChatModels.isLocal(spec) {
            return try ChatModels.resolve(spec, configuration: configuration.models, environment: serverEnvironment)
        }
        let m = try ModelCatalog.resolve(spec, configuration: configuration.models, environment: try modelEnvironment())
        if requireKey { try m.requireKey() }
        return m
    }

    /// The model to call for `model` (a local one is loaded on first use and shared). A local model
    /// that cannot load is the server's problem, not the request's: 503 when memory is short (it may
    /// fit later), else 500 (a damaged file, an unsupported architecture), with the reason.
    func chatModel(for model: ResolvedModel) async throws -> any ChatModel {
        do { return try await chatModels.chatModel(for: model) } catch let e as WendaoError
            where model.isLocal && e.code != .cancelled
        {
            let short = e.code == .limitExceeded
            throw APIError(
                status: short ? .serviceUnavailable : .internalServerError, code: short ? "unavailable" : "internal",
                message: "\(model.id) cannot be loaded: \(e.message)")
        }
    }

}

/// What a dense search must embed (see `KnowledgeBase.denseQuery(_:mode:)`).
struct DenseQuery: Sendable {
    var embedder: any TextEmbedder
    var text: String
    init(_ plan: (embedder: any TextEmbedder, text: String)) {
        embedder = plan.embedder
        text = plan.text
    }
}
