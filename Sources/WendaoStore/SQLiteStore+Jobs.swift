import Foundation
import GRDB
public import WendaoCore

/// Ingest jobs: the `jobs` table.
extension SQLiteStore: JobStore {
    private static func jobRecord(_ row: Row) -> JobRecord {
        let results =
            (try? JSONDecoder().decode([JobFileResult].self, from: Data((row["results"] as String? ?? "[]").utf8)))
            ?? []
        return JobRecord(
            id: row["id"], kbID: row["kb_id"],
            // A state written by a newer version reads as failed: never picked up, never resumed.
            state: JobState(rawValue: row["state"]) ?? .failed, createdAt: row["created_at"],
            startedAt: row["started_at"], finishedAt: row["finished_at"], filesTotal: row["files_total"],
            filesDone: row["files_done"], chunks: row["chunks"], results: results, error: row["error"],
            payload: row["payload"])
    }

    private static func json(_ results: [JobFileResult]) -> String {
        String(decoding: (try? JSONEncoder().encode(results)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// Stores a new queued job.
    public func createJob(kb: Int64, payload: String, filesTotal: Int) throws -> JobRecord {
        try wrap("cannot create job") {
            try pool.write { db in
                guard try Int64.fetchOne(db, sql: "SELECT id FROM kb WHERE id = ?", arguments: [kb]) != nil else {
                    throw WendaoError(.notFound, "no knowledge base with id \(kb)")
                }
                let now = Date().timeIntervalSince1970
                try db.execute(
                    sql: "INSERT INTO jobs (kb_id, state, payload, created_at, files_total) VALUES (?, ?, ?, ?, ?)",
                    arguments: [kb, JobState.queued.rawValue, payload, now, filesTotal])
                return JobRecord(
                    id: db.lastInsertedRowID, kbID: kb, state: .queued, createdAt: now, filesTotal: filesTotal,
                    payload: payload)
            }
        }
    }

    /// Stores a job's state, times, progress, results and error.
    public func updateJob(_ job: JobRecord) throws {
        let results = Self.json(job.results)
        try wrap("cannot update job \(job.id)") {
            try pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE jobs SET state = ?, started_at = ?, finished_at = ?, files_total = ?, files_done = ?,
                        chunks = ?, results = ?, error = ? WHERE id = ?
                        """,
                    arguments: [
                        job.state.rawValue, job.startedAt, job.finishedAt, job.filesTotal, job.filesDone, job.chunks,
                        results, job.error, job.id,
                    ])
                guard db.changesCount > 0 else { throw WendaoError(.notFound, "no job with id \(job.id)") }
            }
        }
    }

    /// The job with this id, or nil.
    public func job(id: Int64) throws -> JobRecord? {
        try wrap("cannot read job") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]).map(Self.jobRecord)
            }
        }
    }

    /// The newest jobs of a knowledge base, newest first.
    public func jobs(kb: Int64, limit: Int) throws -> [JobRecord] {
        try wrap("cannot list jobs") {
            try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM jobs WHERE kb_id = ? ORDER BY id DESC LIMIT ?",
                    arguments: [kb, max(0, limit)]
                ).map(Self.jobRecord)
            }
        }
    }

    /// Puts running jobs back to queued and returns them.
    public func requeueRunningJobs() throws -> [JobRecord] {
        try wrap("cannot recover jobs") {
            try pool.write { db in
                let running = try Row.fetchAll(
                    db, sql: "SELECT * FROM jobs WHERE state = ? ORDER BY id", arguments: [JobState.running.rawValue]
                ).map(Self.jobRecord)
                guard !running.isEmpty else { return [] }
                try db.execute(
                    sql: "UPDATE jobs SET state = ? WHERE state = ?",
                    arguments: [JobState.queued.rawValue, JobState.running.rawValue])
                return running.map { job in
                    var job = job
                    job.state = .queued
                    return job
                }
            }
        }
    }

    /// The oldest queued job, or nil.
    public func nextQueuedJob() throws -> JobRecord? {
        try wrap("cannot read jobs") {
            try pool.read { db in
                try Row.fetchOne(
                    db, sql: "SELECT * FROM jobs WHERE state = ? ORDER BY id LIMIT 1",
                    arguments: [JobState.queued.rawValue]
                ).map(Self.jobRecord)
            }
        }
    }
}
