import Foundation
import Logging
import Synchronization
import WendaoCore
import WendaoModels
import WendaoRAG

/// A `Library` shared by request tasks. Its store (a GRDB pool) is safe to use from several
/// threads; the library itself only adds immutable paths and a logger.
final class SharedLibrary: @unchecked Sendable {
    let library: Library
    init(_ library: Library) { self.library = library }
}

/// An open knowledge base lent to one task at a time.
final class LentKnowledgeBase: @unchecked Sendable {
    let kb: KnowledgeBase
    init(_ kb: KnowledgeBase) { self.kb = kb }
}

/// The server's view of the data: knowledge bases opened once and lent to requests from a pool (a
/// `KnowledgeBase` is not thread-safe; each request gets its own instance, reused afterwards), the
/// model gateway, and model resolution.
final class KnowledgeService: Sendable {
    let shared: SharedLibrary
    let configuration: ServerConfiguration
    let gateway: ModelGateway
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

    init(configuration: ServerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let gateway = ModelGateway(configuration: configuration.models, logger: logger)
        self.gateway = gateway
        // Remote embedders (`dashscope:text-embedding-v3`, …) call through the server's gateway.
        let embedders = EmbedderRegistry(
            configuration: configuration.models, environment: configuration.environment, gateway: gateway)
        shared = SharedLibrary(
            try Library(directory: configuration.dataDirectory, logger: logger, embedders: embedders))
    }

    var library: Library { shared.library }

    /// `name` as every cache here keys it: canonical (NFC), so that two spellings of one name can
    /// never be two entries, nor one entry shared by two knowledge bases (see ``KnowledgeBaseName``).
    static func key(_ name: String) throws -> String {
        do { return try KnowledgeBaseName.canonical(name) } catch {
            throw WendaoError(.notFound, "knowledge base '\(name.prefix(80))' does not exist")
        }
    }

    /// Runs `body` with an open, current instance of knowledge base `name`.
    func withKnowledgeBase<T>(_ name: String, _ body: (KnowledgeBase) throws -> T) throws -> T {
        let name = try Self.key(name)
        let lent = try checkOut(name)
        defer { checkIn(name, lent) }
        return try body(lent.kb)
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

    /// Forgets idle instances of `name` (after it was deleted or changed by this server).
    func invalidate(_ name: String) {
        guard let name = try? Self.key(name) else { return }
        _ = idle.withLock { $0.removeValue(forKey: name) }
        _ = records.withLock { $0.removeValue(forKey: name) }
    }

    /// The model for a knowledge base's answers: the request's, else the knowledge base's, else
    /// the configured default; nil for extractive answers.
    func model(requested: String?, kbModel: String?, requireKey: Bool = true) throws -> ResolvedModel? {
        let env = configuration.environment
        let spec =
            requested ?? kbModel ?? env["WENDAO_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? configuration.models.defaultModel
        guard let spec else { return nil }
        let m = try ModelCatalog.resolve(spec, configuration: configuration.models, environment: env)
        if requireKey { try m.requireKey() }
        return m
    }

    func shutdown() async {
        await gateway.shutdown()
    }
}
