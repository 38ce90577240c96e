import Foundation
import Logging
import PostgresNIO
public import WendaoCore

/// Ingest jobs: the `jobs` table, shared by every server. A server claims a job with
/// `FOR UPDATE SKIP LOCKED` (two servers never claim the same one) and holds it under a lease on the
/// database's clock, renewed by its heartbeat.
extension PostgresStore: JobStore {
    static func jobRecord(_ row: PostgresRandomAccessRow) throws -> JobRecord {
        let resultsJSON = try row.get("results", as: String.self)
        let results = (try? JSONDecoder().decode([JobFileResult].self, from: Data(resultsJSON.utf8))) ?? []
        return JobRecord(
            id: try row.get("id"), kbID: try row.get("kb_id"),
            // A state written by a newer version reads as failed: never picked up, never resumed.
            state: JobState(rawValue: try row.get("state")) ?? .failed, createdAt: try row.get("created_at"),
            startedAt: try row.get("started_at"), finishedAt: try row.get("finished_at"),
            filesTotal: Int(try row.get("files_total", as: Int32.self)),
            filesDone: Int(try row.get("files_done", as: Int32.self)),
            chunks: Int(try row.get("chunks", as: Int32.self)),
            results: results, error: try row.get("error"), payload: try row.get("payload"))
    }

    static func json(_ results: [JobFileResult]) -> String {
        String(decoding: (try? JSONEncoder().encode(results)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static let jobColumns = """
        id, kb_id, state, payload, created_at, started_at, finished_at, files_total, files_done, chunks, results, error
        """

    /// Stores a new queued job.
    public func createJob(kb: Int64, payload: String, filesTotal: Int) throws -> JobRecord {
        let logger = self.logger
        let now = Date().timeIntervalSince1970
        return try transaction("cannot create job") { c in
            guard !(try await c.rows("SELECT id FROM kb WHERE id = \(kb) FOR SHARE", logger: logger)).isEmpty else {
                throw WendaoError(.notFound, "no knowledge base with id \(kb)")
            }
            let rows = try await c.rows(
                """
                INSERT INTO jobs (kb_id, state, payload, created_at, files_total)
                VALUES (\(kb), \(JobState.queued.rawValue), \(payload), \(now), \(Int32(clamping: filesTotal)))
                RETURNING id
                """, logger: logger)
            try await c.exec("SELECT pg_notify('wendao_jobs', '')", logger: logger)
            return JobRecord(
                id: try rows[0].get("id"), kbID: kb, state: .queued, createdAt: now, filesTotal: filesTotal,
                payload: payload)
        }
    }

    /// Stores a job's state, times, progress, results and error (its lease is left as it is).
    public func updateJob(_ job: JobRecord) throws {
        let results = Self.json(job.results)
        let logger = self.logger
        try run("cannot update job \(job.id)") { client in
            let rows = try await client.rows(
                """
                UPDATE jobs SET state = \(job.state.rawValue), started_at = \(job.startedAt),
                    finished_at = \(job.finishedAt), files_total = \(Int32(clamping: job.filesTotal)),
                    files_done = \(Int32(clamping: job.filesDone)), chunks = \(Int32(clamping: job.chunks)),
                    results = \(results), error = \(job.error)
                WHERE id = \(job.id) RETURNING id
                """, logger: logger)
            guard !rows.isEmpty else { throw WendaoError(.notFound, "no job with id \(job.id)") }
        }
    }

    /// The job with this id, or nil.
    public func job(id: Int64) throws -> JobRecord? {
        let logger = self.logger
        return try run("cannot read job") { client in
            try await client.rows("SELECT \(unescaped: Self.jobColumns) FROM jobs WHERE id = \(id)", logger: logger)
                .first.map(Self.jobRecord)
        }
    }

    /// The newest jobs of a knowledge base, newest first.
    public func jobs(kb: Int64, limit: Int) throws -> [JobRecord] {
        let logger = self.logger
        return try run("cannot list jobs") { client in
            try await client.rows(
                """
                SELECT \(unescaped: Self.jobColumns) FROM jobs WHERE kb_id = \(kb) ORDER BY id DESC
                LIMIT \(max(0, limit))
                """, logger: logger
            ).map(Self.jobRecord)
        }
    }

    /// Puts back to `queued` the `running` jobs that no live server holds: those whose lease ran out
    /// or that never had one. A job another server is working on (its lease current) is left alone,
    /// so a server starting never takes work from a running one.
    public func requeueRunningJobs() throws -> [JobRecord] {
        let logger = self.logger
        return try run("cannot recover jobs") { client in
            try await client.rows(
                """
                UPDATE jobs SET state = \(JobState.queued.rawValue), lease_owner = NULL, lease_until = NULL
                WHERE state = \(JobState.running.rawValue)
                    AND (lease_until IS NULL OR lease_until < clock_timestamp())
                RETURNING \(unescaped: Self.jobColumns)
                """, logger: logger
            ).map(Self.jobRecord).sorted { $0.id < $1.id }
        }
    }

    /// The oldest queued job, or nil (not claimed: see ``claimNextJob(worker:leaseSeconds:)``).
    public func nextQueuedJob() throws -> JobRecord? {
        let logger = self.logger
        return try run("cannot read jobs") { client in
            try await client.rows(
                """
                SELECT \(unescaped: Self.jobColumns) FROM jobs WHERE state = \(JobState.queued.rawValue)
                ORDER BY id LIMIT 1
                """, logger: logger
            ).first.map(Self.jobRecord)
        }
    }
}

extension PostgresStore: JobLeaseStore {
    /// Claims the oldest queued job, or a running one whose lease ran out, for `worker`.
    public func claimNextJob(worker: String, leaseSeconds: Double) throws -> JobRecord? {
        let logger = self.logger
        let now = Date().timeIntervalSince1970
        return try run("cannot claim a job") { client in
            try await client.rows(
                """
                UPDATE jobs SET state = \(JobState.running.rawValue), lease_owner = \(worker),
                    lease_until = clock_timestamp() + make_interval(secs => \(leaseSeconds)),
                    started_at = COALESCE(started_at, \(now))
                WHERE id = (
                    SELECT id FROM jobs
                    WHERE state = \(JobState.queued.rawValue)
                        OR (state = \(JobState.running.rawValue)
                            AND (lease_until IS NULL OR lease_until < clock_timestamp()))
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING \(unescaped: Self.jobColumns)
                """, logger: logger
            ).first.map(Self.jobRecord)
        }
    }

    /// Extends `worker`'s lease on `job`; false when it no longer holds it.
    public func renewJobLease(job: Int64, worker: String, leaseSeconds: Double) throws -> Bool {
        let logger = self.logger
        return try run("cannot renew the lease of job \(job)") { client in
            !(try await client.rows(
                """
                UPDATE jobs SET lease_until = clock_timestamp() + make_interval(secs => \(leaseSeconds))
                WHERE id = \(job) AND lease_owner = \(worker) AND state = \(JobState.running.rawValue)
                RETURNING id
                """, logger: logger)).isEmpty
        }
    }

    /// Stores a job's progress while `worker` holds it; a finished state releases the lease.
    public func updateJob(_ job: JobRecord, worker: String) throws -> Bool {
        let results = Self.json(job.results)
        let release = job.state.isFinished
        let logger = self.logger
        return try run("cannot update job \(job.id)") { client in
            !(try await client.rows(
                """
                UPDATE jobs SET state = \(job.state.rawValue), started_at = \(job.startedAt),
                    finished_at = \(job.finishedAt), files_total = \(Int32(clamping: job.filesTotal)),
                    files_done = \(Int32(clamping: job.filesDone)), chunks = \(Int32(clamping: job.chunks)),
                    results = \(results), error = \(job.error),
                    lease_owner = CASE WHEN \(release) THEN NULL ELSE lease_owner END,
                    lease_until = CASE WHEN \(release) THEN NULL ELSE lease_until END
                WHERE id = \(job.id) AND lease_owner = \(worker) AND state = \(JobState.running.rawValue)
                RETURNING id
                """, logger: logger)).isEmpty
        }
    }
}
