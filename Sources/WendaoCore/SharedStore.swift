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
