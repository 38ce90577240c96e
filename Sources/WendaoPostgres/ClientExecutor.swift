import Foundation

/// One dedicated thread that runs the connection pools' background work (`PostgresClient.run()`
/// and its child tasks), outside Swift's concurrency pool.
///
/// Store calls are synchronous: callers (request handlers on a thread pool, tests, CLI commands)
/// block while the work runs through ``BlockingBridge``. If the pool's own loop ran on the
/// concurrency pool, callers blocking every pool thread (two on a two-core server) would leave no
/// thread to hand out connections, and every call would wait forever.
@available(macOS 15.0, iOS 18.0, *)
final class ClientExecutor: TaskExecutor, @unchecked Sendable {
    /// The executor of this process, made on first use.
    static let shared = ClientExecutor()

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []  // guarded by `condition`

    private init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "wendao.postgres"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}
