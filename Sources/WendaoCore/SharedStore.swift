import Foundation

/// Ingest jobs shared by several servers over one database: a server claims a job with a lease and
/// renews the lease while it works (a heartbeat); when a server dies, its lease runs out and
/// another server claims the job and finishes it.
///
/// Times are the database's clock, never a server's (servers' clocks may disagree). Re-running a
/// job is safe: ingest skips a document whose path and content hash are already stored, so a
/// document's effects are applied once.
///
/// ```swift
/// if let job = try store.claimNextJob(worker: "host-a:1234", leaseSeconds: 30) {
///     …  // every 10 s: guard try store.renewJobLease(job: job.id, worker: "host-a:1234", leaseSeconds: 30)
/// }
/// ```
public protocol JobLeaseStore: Sendable {
    /// Claims the oldest job that is `queued`, or `running` under a lease that has run out (its
    /// server died): marks it `running`, held by `worker` for `leaseSeconds`. Several servers claiming
    /// at once each get a different job. Nil when there is none.
    func claimNextJob(worker: String, leaseSeconds: Double) throws -> JobRecord?
    /// Extends the lease of `job` that `worker` holds; false when `worker` no longer holds it (the
    /// lease ran out and another server took the job, or the job finished or was deleted).
    func renewJobLease(job: Int64, worker: String, leaseSeconds: Double) throws -> Bool
    /// Stores a job's state and progress (as ``JobStore/updateJob(_:)``) only while `worker` holds
    /// its lease; a finished state releases the lease. False, and nothing stored, when `worker` does
    /// not hold it.
    func updateJob(_ job: JobRecord, worker: String) throws -> Bool
}

/// Dense vectors kept in the store beside their chunks, so that every server (and a new one with an
/// empty disk) loads them instead of embedding the chunks again. Each vector is stamped with the
/// embedder that made it and its dimension; a vector of another embedder is never returned.
public protocol VectorStore: Sendable {
    /// Stores the vectors of chunks made by `embedder` (replacing those of the same chunks), each
    /// filed under its chunk's knowledge base. Vectors of chunks that no longer exist are skipped.
    /// Throws ``WendaoError/Code/invalidArgument`` when a vector's length is not `dimension`.
    func storeVectors(embedder: String, dimension: Int, _ vectors: [(id: Int64, vector: [Float])]) throws
    /// The stored vectors of `embedder` for the chunks `ids` of `kb`, in ascending id order (chunks
    /// without one are left out).
    func storedVectors(kb: Int64, embedder: String, ids: [Int64]) throws -> [(id: Int64, vector: [Float])]
}

/// Dense search inside the shared database (pgvector's HNSW index on cosine distance) rather than
/// in a server's own vector index: what ``VectorSearchSettings/Mode/pgvector`` uses.
///
/// Every search names the knowledge base and the embedder (only vectors stamped with both, and with
/// the query's dimension, are candidates).
public protocol DatabaseVectorSearch: VectorStore {
    /// Makes the database ready for dense search (creates the extension when the server offers it);
    /// throws naming what is missing when it cannot.
    func prepareDatabaseVectorSearch() throws
    /// The `k` chunks of `kb` whose `embedder` vectors are nearest to `query` (cosine similarity,
    /// best first), searched with an approximate index keeping `efSearch` candidates.
    func nearestChunks(kb: Int64, embedder: String, query: [Float], k: Int, efSearch: Int) throws
        -> [(id: Int64, similarity: Float)]
}

/// Where dense retrieval (and hybrid's dense half) runs: each server's own vector index (the
/// default), or the shared PostgreSQL database with pgvector.
///
/// Written `local`, `pgvector` or `pgvector:EF` (EF: pgvector's `hnsw.ef_search`, 1…1000, set per
/// query; default ``defaultEfSearch``), in `--vector-search`, `WENDAO_VECTOR_SEARCH` or
/// `vector_search:` in `config.yaml`.
public struct VectorSearchSettings: Sendable, Equatable, CustomStringConvertible {
    /// Where searches run.
    public enum Mode: String, Sendable, CaseIterable {
        /// The server's own vector index (a file under the data directory, rebuilt from the store).
        case local
        /// pgvector's HNSW index inside the PostgreSQL database.
        case pgvector
    }

    /// Where searches run.
    public var mode: Mode
    /// pgvector's `hnsw.ef_search` for each query (``Mode/pgvector`` only).
    public var efSearch: Int

    /// `hnsw.ef_search` when none is written: recall@10 ≥ 0.99 on 100,000 × 384 clustered vectors
    /// (BENCHMARKS.md, "pgvector").
    public static let defaultEfSearch = 100

    /// The default: each server's own index.
    public static let local = VectorSearchSettings(mode: .local, efSearch: defaultEfSearch)

    /// Settings with `mode` and `efSearch`.
    public init(mode: Mode, efSearch: Int = VectorSearchSettings.defaultEfSearch) {
        self.mode = mode
        self.efSearch = efSearch
    }

    /// Reads `local`, `pgvector` or `pgvector:EF`; `source` names where the text came from in the
    /// error (``WendaoError/Code/invalidArgument``) that anything else gets.
    public init(parsing text: String, source: String) throws(WendaoError) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = t.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let mode = Mode(rawValue: parts[0]) else {
            throw WendaoError(
                .invalidArgument, "\(source): '\(text)' is not a vector search (local, pgvector or pgvector:EF)")
        }
        self.mode = mode
        efSearch = Self.defaultEfSearch
        if parts.count == 2 {
            guard mode == .pgvector, let ef = Int(parts[1]), (1...1000).contains(ef) else {
                throw WendaoError(
                    .invalidArgument,
                    "\(source): '\(text)': only pgvector takes an ef_search, a whole number 1…1000 (pgvector:200)")
            }
            efSearch = ef
        }
    }

    /// `local`, or `pgvector:EF`.
    public var description: String { mode == .local ? "local" : "pgvector:\(efSearch)" }
}

/// A per-knowledge-base change log: which chunks each committed change added and removed, so that a
/// server's local indexes catch up by reading only what changed since the generation they reflect.
public protocol ChunkChangeLog: Sendable {
    /// The chunk ids added and removed after generation `since` up to the current generation of
    /// `kb`, or nil when the log no longer reaches back that far (the caller compares all ids).
    /// A chunk added and removed in that span is in neither list.
    func chunkChanges(kb: Int64, since: Int64) throws -> (added: [Int64], removed: [Int64], generation: Int64)?
}

/// Uploaded originals kept in the store, by knowledge base and file name (the document's path), so
/// that any server can run the job that ingests them (and finish it when the server that took the
/// upload died) and re-ingest them later. A server's own copies are caches.
public protocol UploadStore: Sendable {
    /// Stores the bytes of file `name` uploaded to knowledge base `kb`, replacing an earlier upload of
    /// the same name. Throws ``WendaoError/Code/notFound`` when the knowledge base does not exist.
    func storeUpload(kb: Int64, name: String, bytes: [UInt8]) throws
    /// The bytes of the upload `name` of `kb`, or nil.
    func upload(kb: Int64, name: String) throws -> [UInt8]?
    /// Removes the upload `name` of `kb` (an unknown name is ignored).
    func deleteUpload(kb: Int64, name: String) throws
}
