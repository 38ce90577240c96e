import Logging
public import WendaoCore

/// Ingest jobs: what a server queues when files are uploaded, and the progress a worker reports.
///
/// ```swift
/// _ = try library.recoverInterruptedJobs()  // at start-up: resume what a crash interrupted
/// while var job = try library.nextQueuedJob() {
///     job.state = .running
///     try library.updateJob(job)
///     …  // ingest, updating filesDone / chunks / results as files finish
///     job.state = .succeeded
///     try library.updateJob(job)
/// }
/// ```
extension Library {
    /// The most jobs one listing returns.
    public static let maxJobsListed = 10_000

    /// Queues a job for a knowledge base. `payload` is JSON chosen by the caller (the server stores
    /// e.g. `{"files": [{"path": "/data/uploads/…", "name": "x.md"}]}`) and kept as given.
    public func createJob(kb: String, payload: String, filesTotal: Int) throws -> JobRecord {
        guard filesTotal >= 0 else { throw WendaoError(.invalidArgument, "a job cannot have \(filesTotal) files") }
        return try store.createJob(kb: try record(kb).id, payload: payload, filesTotal: filesTotal)
    }

    /// Stores a job's state, times, progress, results and error. Throws `notFound` when the job is
    /// gone (its knowledge base was deleted meanwhile).
    public func updateJob(_ job: JobRecord) throws {
        guard job.filesTotal >= 0, job.filesDone >= 0, job.chunks >= 0 else {
            throw WendaoError(.invalidArgument, "job \(job.id): file and chunk counts cannot be negative")
        }
        try store.updateJob(job)
    }

    /// The job with this id, or nil.
    public func job(id: Int64) throws -> JobRecord? { try store.job(id: id) }

    /// The newest `limit` jobs of a knowledge base (at most ``maxJobsListed``), newest first.
    public func jobs(kb: String, limit: Int = 50) throws -> [JobRecord] {
        guard limit >= 1 else { throw WendaoError(.invalidArgument, "the job limit must be at least 1 (got \(limit))") }
        return try store.jobs(kb: try record(kb).id, limit: min(limit, Self.maxJobsListed))
    }

    /// Puts jobs that a crash or kill left `running` back to `queued`, so that a worker picks them
    /// up again, and returns them. Their progress and results are kept (a worker may skip files
    /// already reported); re-ingesting a file is safe either way, because ingest skips content
    /// whose hash is already stored. Call it once at start-up, before any worker runs.
    public func recoverInterruptedJobs() throws -> [JobRecord] {
        let jobs = try store.requeueRunningJobs()
        if !jobs.isEmpty {
            logger.notice(
                "requeued interrupted ingest jobs",
                metadata: ["count": "\(jobs.count)", "ids": "\(jobs.map(\.id))"])
        }
        return jobs
    }

    /// The oldest `queued` job, or nil. It stays queued until the caller stores it as `running`.
    public func nextQueuedJob() throws -> JobRecord? { try store.nextQueuedJob() }
}

extension JobFileResult {
    /// The job result of one file of an ingest run.
    public init(_ result: IngestSummary.FileResult) {
        self.init(path: result.path, outcome: result.outcome.rawValue, chunks: result.chunks, reason: result.reason)
    }
}
