import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import WendaoCore
import WendaoRAG

/// What an ingest job does, stored with it.
struct JobPayload: Codable {
    /// Files to ingest (absolute paths under the uploads folder).
    var files: [String]
    /// Re-ingest even when the content is unchanged.
    var force = false
    /// Identities to keep, by file path (re-ingest of a document first stored from the CLI).
    var identities: [String: String]?
    /// The files this server created for the job (uploads), by exact path: the only files it may
    /// remove when they fail to ingest. A file read from where the CLI ingested it is the user's
    /// and is never removed.
    var owned: [String]?
    /// Rebuild the BM25 index and, with an embedder, every vector, from the stored chunks (after a
    /// settings change that needs it) instead of ingesting files.
    var reindex: Bool?
}

/// Runs queued ingest jobs one at a time, in the background, on a thread of its own (ingest is
/// CPU-bound and must not hold a request thread). Jobs a crash or kill left `running` are queued
/// again at start-up; ingest is idempotent by content hash, so re-running one is safe.
final class JobRunner: Service {
    let service: KnowledgeService
    let logger: Logger
    let metrics: Metrics
    /// Set when a job was queued by this process.
    private let pending = Mutex(false)

    init(service: KnowledgeService, logger: Logger, metrics: Metrics) {
        self.service = service
        self.logger = logger
        self.metrics = metrics
    }

    /// Asks the runner to look for work now.
    func notify() { pending.withLock { $0 = true } }

    /// How long an `.incoming-*` upload folder must have been left untouched to count as abandoned.
    static let abandonedUploadAge: TimeInterval = 15 * 60

    func run() async throws {
        let dataDirectory = service.configuration.dataDirectory
        Self.removeAbandonedUploads(dataDirectory: dataDirectory, idle: Self.abandonedUploadAge, logger: logger)
        do {
            let recovered = try service.library.recoverInterruptedJobs()
            if !recovered.isEmpty {
                logger.notice("resuming interrupted ingest jobs", metadata: ["jobs": "\(recovered.map(\.id))"])
            }
        } catch {
            logger.error("could not recover interrupted jobs", metadata: ["reason": "\(error)"])
        }
        await cancelWhenGracefulShutdown {
            var lastSweep = ContinuousClock.now
            while !Task.isCancelled {
                if ContinuousClock.now - lastSweep > .seconds(600) {
                    lastSweep = ContinuousClock.now
                    Self.removeAbandonedUploads(
                        dataDirectory: dataDirectory, idle: Self.abandonedUploadAge, logger: self.logger)
                }
                let library = self.service.library
                while !Task.isCancelled, let job = try? await self.service.blocking({ try library.nextQueuedJob() }) {
                    await self.process(job)
                }
                // Wait until notified, looking every 2 s in case another process queued work.
                for _ in 0..<40 {
                    if self.pending.withLock({ let p = $0; $0 = false; return p }) { break }
                    do { try await Task.sleep(for: .milliseconds(50)) } catch { return }
                }
            }
        }
    }

    /// Runs one job to completion on a dedicated thread.
    func process(_ job: JobRecord) async {
        let service = self.service
        let logger = self.logger
        let started = ContinuousClock.now
        let state = await withCheckedContinuation { (done: CheckedContinuation<JobState, Never>) in
            Thread.detachNewThread {
                // Ingest is batch work: it yields the CPU to requests (nice 10; per thread on Linux).
                #if os(Linux)
                    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)  // 0: the calling thread on Linux
                #endif
                done.resume(returning: JobRunner.execute(job, service: service, logger: logger))
            }
        }
        metrics.observe("ingest_job", seconds: (ContinuousClock.now - started).seconds)
        metrics.count("ingest_jobs_\(state.rawValue)")
    }

    /// Removes `path` if, with symbolic links resolved, it is a file inside the data directory's
    /// `uploads` folder (the only files the server creates for jobs); anything else is left alone.
    static func removeUpload(_ path: String, dataDirectory: URL, logger: Logger) {
        let uploads = dataDirectory.appendingPathComponent("uploads").standardizedFileURL.resolvingSymlinksInPath().path
        let target = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        guard target.hasPrefix(uploads + "/"), !target.dropFirst(uploads.count).contains("/..") else {
            logger.warning("not removing a file outside the uploads folder", metadata: ["file": "\(path)"])
            return
        }
        try? FileManager.default.removeItem(atPath: target)
    }

    /// Removes upload folders (`uploads/kb-N/.incoming-*`) that an upload killed mid-way left behind:
    /// those nothing has written to for `idle` (a live upload writes continuously).
    static func removeAbandonedUploads(dataDirectory: URL, idle: TimeInterval, logger: Logger) {
        let fm = FileManager.default
        let uploads = dataDirectory.appendingPathComponent("uploads")
        let now = Date()
        for kb in (try? fm.contentsOfDirectory(atPath: uploads.path)) ?? [] where kb.hasPrefix("kb-") {
            let folder = uploads.appendingPathComponent(kb)
            for entry in (try? fm.contentsOfDirectory(atPath: folder.path)) ?? [] where entry.hasPrefix(".incoming-") {
                let dir = folder.appendingPathComponent(entry)
                var newest = (try? fm.attributesOfItem(atPath: dir.path)[.modificationDate] as? Date) ?? .distantPast
                for f in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] {
                    if let m = try? fm.attributesOfItem(atPath: dir.appendingPathComponent(f).path)[.modificationDate]
                        as? Date, m > newest
                    {
                        newest = m
                    }
                }
                guard now.timeIntervalSince(newest) >= idle else { continue }
                do {
                    try fm.removeItem(at: dir)
                    logger.notice("removed an abandoned upload", metadata: ["folder": "\(dir.path)"])
                } catch {
                    logger.warning("could not remove an abandoned upload", metadata: ["folder": "\(dir.path)"])
                }
            }
        }
    }

    @discardableResult
    static func execute(_ job: JobRecord, service: KnowledgeService, logger: Logger) -> JobState {
        var job = job
        let library = service.library
        func save() {
            do { try library.updateJob(job) } catch {
                logger.error("could not save job", metadata: ["job": "\(job.id)", "reason": "\(error)"])
            }
        }
        job.state = .running
        job.startedAt = job.startedAt ?? Date().timeIntervalSince1970
        save()
        do {
            guard let record = try library.list().first(where: { $0.id == job.kbID }) else {
                throw WendaoError(.notFound, "the knowledge base of this job was deleted")
            }
            let payload = try JSONDecoder().decode(JobPayload.self, from: Data(job.payload.utf8))
            let done = Set(job.results.map(\.path))
            let kb = try library.open(record.name)
            if payload.reindex == true {
                let chunks = try kb.rebuildIndex()
                let vectors = kb.record.settings.embedder == nil ? 0 : try kb.rebuildVectors()
                service.invalidate(record.name)
                job.results = [
                    JobFileResult(
                        path: "(index)", outcome: "updated", chunks: chunks,
                        reason: vectors > 0 ? "\(vectors) vectors computed again" : nil)
                ]
                job.filesDone = 1
                job.chunks = chunks
                job.state = .succeeded
                job.finishedAt = Date().timeIntervalSince1970
                save()
                logger.info("reindex job finished", metadata: ["job": "\(job.id)"])
                return job.state
            }
            var options = IngestOptions()
            options.force = payload.force
            options.identities = payload.identities ?? [:]
            options.parallelism = 1
            let pending = payload.files.filter {
                !done.contains(payload.identities?[$0] ?? URL(fileURLWithPath: $0).lastPathComponent)
            }
            _ = try kb.ingest(pending, options: options) { event in
                if case .file(let path, let outcome, let chunks, _, let reason) = event {
                    job.results.append(JobFileResult(path: path, outcome: outcome.rawValue, chunks: chunks, reason: reason))
                    job.filesDone = job.results.count
                    job.chunks += chunks
                    save()
                }
            }
            service.invalidate(record.name)
            // A rejected upload is not kept (it is no document's source).
            for r in job.results where r.outcome == "failed" {
                for path in payload.owned ?? [] where URL(fileURLWithPath: path).lastPathComponent == r.path {
                    removeUpload(path, dataDirectory: service.configuration.dataDirectory, logger: logger)
                }
            }
            let failed = job.results.filter { $0.outcome == "failed" }.count
            job.state = failed == 0 ? .succeeded : failed == job.results.count ? .failed : .partial
        } catch {
            job.state = .failed
            job.error = (error as? WendaoError)?.message ?? "\(error)"
        }
        job.finishedAt = Date().timeIntervalSince1970
        save()
        logger.info("ingest job finished", metadata: ["job": "\(job.id)", "state": "\(job.state.rawValue)"])
        return job.state
    }
}
