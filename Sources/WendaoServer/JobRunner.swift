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

    func run() async throws {
        do {
            let recovered = try service.library.recoverInterruptedJobs()
            if !recovered.isEmpty {
                logger.notice("resuming interrupted ingest jobs", metadata: ["jobs": "\(recovered.map(\.id))"])
            }
        } catch {
            logger.error("could not recover interrupted jobs", metadata: ["reason": "\(error)"])
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                while !Task.isCancelled, let job = try? self.service.library.nextQueuedJob() {
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
                if let path = payload.files.first(where: { URL(fileURLWithPath: $0).lastPathComponent == r.path }) {
                    try? FileManager.default.removeItem(atPath: path)
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
