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
    /// Files kept in a shared store (``UploadStore``) by name: whichever server runs the job writes
    /// them into its own uploads folder first and ingests those copies (`files` then names the
    /// uploading server's copies, which another server does not have).
    var stored: [String]?
}

/// A job held under a lease of a shared store (several servers on one database): its heartbeat
/// renews the lease, and progress is stored only while the lease is held.
final class JobLease: Sendable {
    let store: any JobLeaseStore
    let worker: String
    /// Seconds a lease lasts (how long a dead server's job waits before another server takes it
    /// over); the heartbeat renews it three times as often. `WENDAO_JOB_LEASE_SECONDS` sets it
    /// (1–3600; default 30): tests shorten it so that a takeover takes seconds.
    static let seconds = leaseSeconds(ProcessInfo.processInfo.environment["WENDAO_JOB_LEASE_SECONDS"])

    /// The lease length `value` asks for, else the default (30 s).
    static func leaseSeconds(_ value: String?) -> Double {
        guard let value, let seconds = Double(value.trimmingCharacters(in: .whitespaces)), seconds.isFinite,
            (1...3600).contains(seconds)
        else { return 30 }
        return seconds
    }
    /// Set once the lease was lost (another server took the job over after it ran out).
    let lost = Mutex(false)

    init(store: any JobLeaseStore, worker: String) {
        self.store = store
        self.worker = worker
    }

    /// The name this process claims jobs under: host, process id and a random part.
    static let processWorker: String = {
        let host = ProcessInfo.processInfo.hostName
        return "\(host):\(getpid()):\(UUID().uuidString.prefix(8))"
    }()
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
        if let asked = ProcessInfo.processInfo.environment["WENDAO_JOB_LEASE_SECONDS"],
            Double(asked.trimmingCharacters(in: .whitespaces)) != JobLease.seconds
        {
            logger.warning(
                "WENDAO_JOB_LEASE_SECONDS is not a number of seconds from 1 to 3600; using the default",
                metadata: ["value": "\(asked.prefix(40))", "seconds": "\(JobLease.seconds)"])
        }
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
                // With a shared store a job is claimed under a lease (no other server runs it
                // meanwhile); with SQLite this process is the only runner.
                let leases = library.store as? any JobLeaseStore
                while !Task.isCancelled,
                    let job = try? await self.service.blocking({ () throws -> JobRecord? in
                        if let leases {
                            return try leases.claimNextJob(
                                worker: JobLease.processWorker, leaseSeconds: JobLease.seconds)
                        }
                        return try library.nextQueuedJob()
                    })
                {
                    await self.process(job, lease: leases.map { JobLease(store: $0, worker: JobLease.processWorker) })
                }
                // Wait until notified, looking every 2 s in case another process queued work.
                for _ in 0..<40 {
                    if self.pending.withLock({ let p = $0; $0 = false; return p }) { break }
                    do { try await Task.sleep(for: .milliseconds(50)) } catch { return }
                }
            }
        }
    }

    /// Runs one job to completion on a dedicated thread; a leased job's lease is renewed meanwhile.
    func process(_ job: JobRecord, lease: JobLease? = nil) async {
        let service = self.service
        let logger = self.logger
        let started = ContinuousClock.now
        let heartbeat = lease.map { lease in
            Task {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: .seconds(JobLease.seconds / 3)) } catch { return }
                    let held = try? await service.blocking {
                        try lease.store.renewJobLease(job: job.id, worker: lease.worker, leaseSeconds: JobLease.seconds)
                    }
                    if held == false {
                        lease.lost.withLock { $0 = true }
                        logger.warning(
                            "lost the lease of an ingest job (another server took it over)",
                            metadata: ["job": "\(job.id)"])
                        return
                    }
                }
            }
        }
        let state = await withCheckedContinuation { (done: CheckedContinuation<JobState, Never>) in
            Thread.detachNewThread {
                // Ingest is batch work: it yields the CPU to requests (nice 10; per thread on Linux).
                #if os(Linux)
                    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)  // 0: the calling thread on Linux
                #endif
                done.resume(returning: JobRunner.execute(job, service: service, logger: logger, lease: lease))
            }
        }
        heartbeat?.cancel()
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

    /// Writes the uploads a shared store keeps for `payload` into this server's uploads folder of
    /// knowledge base `kb`; returns their paths (nil when the job names none).
    static func materialise(_ payload: JobPayload, kb: Int64, service: KnowledgeService) throws -> [String]? {
        guard let names = payload.stored, !names.isEmpty else { return nil }
        guard let uploads = service.library.store as? any UploadStore else {
            throw WendaoError(.storage, "this job's files are kept in a shared store, which this server does not use")
        }
        let folder = service.configuration.dataDirectory.appendingPathComponent("uploads/kb-\(kb)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var paths: [String] = []
        for name in names {
            guard !name.contains("/"), !name.hasPrefix(".") else {
                throw WendaoError(.invalidArgument, "a stored upload has an unusable name")
            }
            guard let bytes = try uploads.upload(kb: kb, name: name) else {
                throw WendaoError(.notFound, "the upload '\(name)' is no longer in the store")
            }
            let target = folder.appendingPathComponent(name)
            try Data(bytes).write(to: target, options: .atomic)
            paths.append(target.path)
        }
        return paths
    }

    @discardableResult
    static func execute(_ job: JobRecord, service: KnowledgeService, logger: Logger, lease: JobLease? = nil)
        -> JobState
    {
        var job = job
        let library = service.library
        func save() {
            do {
                if let lease {
                    // Only the lease holder writes; once lost, the other server's progress stands.
                    guard !lease.lost.withLock({ $0 }) else { return }
                    if try !lease.store.updateJob(job, worker: lease.worker) {
                        lease.lost.withLock { $0 = true }
                        logger.warning(
                            "lost the lease of an ingest job (another server took it over)",
                            metadata: ["job": "\(job.id)"])
                    }
                } else {
                    try library.updateJob(job)
                }
            } catch {
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
            var payload = try JSONDecoder().decode(JobPayload.self, from: Data(job.payload.utf8))
            if let local = try materialise(payload, kb: record.id, service: service) {
                payload.files = local
                payload.owned = local
                payload.identities = nil
            }
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
                    if payload.stored?.contains(r.path) == true, let uploads = library.store as? any UploadStore {
                        try? uploads.deleteUpload(kb: record.id, name: r.path)
                    }
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
