import Foundation

/// Runs async work to completion from synchronous code without deadlocking the Swift concurrency
/// pool.
///
/// Blocking a pool thread while the awaited work itself needs a pool thread deadlocks once every
/// pool thread is blocked this way (the pool has as many threads as cores: two on a small server).
/// The bridge therefore runs the work in a task whose executor preference is one dedicated thread
/// (not part of the pool): the work and all its child tasks run there, whatever thread waits. The
/// caller sleeps on a condition that the work signals when it finishes (no polling).
///
/// Meant for blocking callers on threads of their own (ingest on the server's thread pool or a job
/// thread, synchronous CLI commands); code on the concurrency pool should `await` the async API
/// instead. A calling task that is already cancelled cancels the work before it starts.
///
/// The work must not itself block on a bridge (it would wait for its own thread).
///
/// ```swift
/// let reply = try BlockingBridge.run { try await gateway.embeddings(model, inputs: ["你好"]) }
/// ```
public enum BlockingBridge {
    /// Runs `operation` and waits for its result on the calling thread.
    ///
    /// - Throws: what `operation` throws; `WendaoError(.internal)` when called from the bridge's own
    ///   thread (which would deadlock).
    public static func run<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let task: Task<Void, Never>
        if #available(macOS 15.0, iOS 18.0, *) {
            let executor = ThreadExecutor.bridge
            guard !executor.isCurrent else {
                throw WendaoError(.internal, "a blocking call was made from the bridge's own thread")
            }
            task = Task(executorPreference: executor) { box.put(await outcome(of: operation)) }
        } else {
            task = Task.detached { box.put(await outcome(of: operation)) }
        }
        if withUnsafeCurrentTask(body: { $0?.isCancelled ?? false }) { task.cancel() }
        return try box.wait().get()
    }

    /// The result of an async throwing closure.
    private static func outcome<T>(of body: () async throws -> T) async -> Result<T, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }
}

/// One result handed from the bridge's thread to the waiting one.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Result<T, any Error>?  // guarded by `condition`

    func put(_ r: Result<T, any Error>) {
        condition.lock()
        value = r
        condition.broadcast()
        condition.unlock()
    }

    /// The result, waiting until ``put(_:)`` signals it.
    func wait() -> Result<T, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value { return value }
            condition.wait()
        }
    }
}

/// A task executor backed by one named, dedicated thread outside Swift's concurrency pool.
///
/// Work whose progress must not depend on a free pool thread runs here: the blocking bridge's
/// operations (``BlockingBridge``) and the PostgreSQL connection pool's background loop. Callers that
/// block pool threads (request handlers waiting on a store call) cannot then starve it. The thread
/// lives as long as the process: make one per purpose, kept in a `static let`.
///
/// ```swift
/// static let shared = ThreadExecutor(name: "wendao.postgres")
/// let runner = Task(executorPreference: shared) { await client.run() }
/// ```
@available(macOS 15.0, iOS 18.0, *)
public final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    /// The executor of ``BlockingBridge``.
    static let bridge = ThreadExecutor(name: "wendao.bridge")

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []  // guarded by `condition`
    private var thread: Thread?  // set once, before any job is enqueued

    /// Starts a thread named `name` that runs the jobs enqueued on this executor, in order.
    public init(name: String) {
        // The thread holds the executor for the life of the process (it never ends).
        let t = Thread { [self] in self.loop() }
        t.name = name
        thread = t
        t.start()
    }

    /// Whether the calling thread is the executor's.
    public var isCurrent: Bool { Thread.current === thread }

    /// Queues `job` to run on the executor's thread.
    public func enqueue(_ job: consuming ExecutorJob) {
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
