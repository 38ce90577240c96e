public import Foundation
public import Logging
public import WendaoCore
import WendaoIndex

/// A data directory: a store (documents, chunks, settings) plus one BM25 index file per knowledge
/// base.
///
/// ```
/// DATA/wendao.sqlite        documents, chunks, settings (WAL) — with the SQLite store
/// DATA/indexes/kb-7.bm25    BM25 segment of knowledge base 7
/// DATA/indexes/kb-7.lock    writer lock
/// ```
///
/// The library does not choose its store or its embedders: the composition root (`AppEnvironment`
/// in WendaoApp, which also offers `Library(directory:)` for the SQLite case) or a test hands them in.
///
/// ```swift
/// let library = try Library(directory: dir, store: store, embedders: registry)
/// let kb = try library.open("logistics")
/// ```
public final class Library: Sendable {
    /// The data directory.
    public let directory: URL
    /// The store.
    public let store: any KnowledgeStore
    /// The embedders knowledge bases may name (local models, and providers' models through the gateway).
    public let embedders: any EmbedderProvider
    let logger: Logger

    /// Where the index files (BM25, vectors, writer locks) are: `indexes` in the data directory, or
    /// `indexes/NAMESPACE` for a shared store (see ``init(directory:store:embedders:logger:cacheNamespace:)``).
    public let indexDirectory: URL

    /// Where dense retrieval runs: this server's own vector index (``VectorSearchSettings/local``)
    /// or the shared database (``VectorSearchSettings/Mode/pgvector``, a store that offers
    /// ``DatabaseVectorSearch``). The vector files are kept either way (they are how a server learns
    /// which chunks still need embedding).
    public let vectorSearch: VectorSearchSettings

    /// A library over `store`, keeping its indexes under `directory` (created if needed).
    ///
    /// - Parameters:
    ///   - embedders: resolves the `embedder` setting of knowledge bases.
    ///   - cacheNamespace: a folder of `indexes` for this store's caches alone. A shared store
    ///     (PostgreSQL) names one per database, so that its knowledge bases' index files never meet
    ///     those of the data directory's own SQLite store, or of another database, under the same id.
    ///   - vectorSearch: where dense retrieval runs. `pgvector` needs a store that searches vectors
    ///     itself (PostgreSQL with the pgvector extension): the extension is created here, and its
    ///     absence is an error (``WendaoError/Code/unsupported``) rather than a silent fallback.
    public init(
        directory: URL, store: any KnowledgeStore, embedders: any EmbedderProvider,
        logger: Logger = Logger(label: "wendao"), cacheNamespace: String? = nil,
        vectorSearch: VectorSearchSettings = .local
    ) throws {
        if vectorSearch.mode == .pgvector {
            guard let database = store as? any DatabaseVectorSearch else {
                throw WendaoError(
                    .invalidArgument,
                    "vector search pgvector needs the PostgreSQL store (--database postgres://… or "
                        + "WENDAO_DATABASE_URL); this library uses the data directory's SQLite store")
            }
            try database.prepareDatabaseVectorSearch()
        }
        self.vectorSearch = vectorSearch
        self.directory = directory
        self.logger = logger
        self.embedders = embedders
        self.store = store
        var indexes = directory.appendingPathComponent("indexes", isDirectory: true)
        if let cacheNamespace { indexes.appendPathComponent(cacheNamespace, isDirectory: true) }
        indexDirectory = indexes
        do {
            try FileManager.default.createDirectory(at: indexes, withIntermediateDirectories: true)
        } catch {
            throw WendaoError(.storage, "cannot create data directory \(directory.path): \(error.localizedDescription)")
        }
    }

    /// `--data` if given, else `WENDAO_DATA`, else `$XDG_DATA_HOME/wendao`, else `~/.local/share/wendao`.
    public static func defaultDirectory(explicit: String? = nil, environment: [String: String]) -> URL {
        if let explicit, !explicit.isEmpty { return URL(fileURLWithPath: explicit) }
        if let env = environment["WENDAO_DATA"], !env.isEmpty { return URL(fileURLWithPath: env) }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("wendao")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".local/share/wendao")
    }

    /// Checks a knowledge-base name (see ``KnowledgeBaseName/canonical(_:)``).
    public static func validateName(_ name: String) throws(WendaoError) {
        _ = try KnowledgeBaseName.canonical(name)
    }

    /// Creates a knowledge base.
    @discardableResult
    public func create(_ name: String, settings: KnowledgeBaseSettings = .default) throws -> KnowledgeBaseRecord {
        let name = try KnowledgeBaseName.canonical(name)
        return try store.createKnowledgeBase(name: name, settings: try settings.validated())
    }

    /// All knowledge bases.
    public func list() throws -> [KnowledgeBaseRecord] { try store.knowledgeBases() }

    /// The record of a knowledge base, or a `notFound` error.
    public func record(_ name: String) throws -> KnowledgeBaseRecord {
        let name = try KnowledgeBaseName.canonical(name)
        guard let r = try store.knowledgeBase(named: name) else {
            throw WendaoError(
                .notFound, "knowledge base '\(name)' does not exist (create it with `wendao kb create \(name)`)")
        }
        return r
    }

    /// Opens a knowledge base for reading and writing.
    public func open(_ name: String) throws -> KnowledgeBase {
        try KnowledgeBase(library: self, record: try record(name))
    }

    /// Deletes a knowledge base, its documents and its index.
    public func delete(_ name: String) throws {
        let r = try record(name)
        // Wait for a running writer; the lock file itself stays (ids are never reused), so that a
        // writer blocked on it cannot end up holding a lock nobody else sees.
        guard let lock = try FileLock(path: indexURL(kb: r.id, suffix: "lock").path, timeout: 300) else {
            throw WendaoError(.storage, "knowledge base '\(name)' is busy (an ingest is running)")
        }
        defer { lock.unlock() }
        try store.deleteKnowledgeBase(id: r.id)
        try? FileManager.default.removeItem(at: indexURL(kb: r.id, suffix: "bm25"))
    }

    func indexURL(kb: Int64, suffix: String = "bm25") -> URL {
        indexDirectory.appendingPathComponent("kb-\(kb).\(suffix)")
    }
}
