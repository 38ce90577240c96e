public import Foundation

/// A bounded set of reused threads that run blocking encoder calls for async callers: at most
/// `limit` forward passes run at once, each on a thread that is kept for the next call (no OS
/// thread is started per call, and no thread of the Swift concurrency pool is held).
///
/// Threads start on demand, up to `limit`; calls beyond that wait in order. ``shutdown()`` lets the
/// threads finish their queue and exit (the owning ``TextEncoder`` calls it when it is freed).
///
/// ```swift
/// let threads = EncoderThreads(limit: 4)
/// threads.submit { print("on an encoder thread") }
/// ```
public final class EncoderThreads: @unchecked Sendable {
    /// Most threads running calls at once.
    public let limit: Int
    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []  // guarded by `condition`
    private var started = 0  // guarded by `condition`
    private var idle = 0  // guarded by `condition`
    private var stopping = false  // guarded by `condition`

    /// A pool of at most `limit` threads (at least one).
    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// The thread count from `WENDAO_EMBED_THREADS`, else the number of cores.
    public static func defaultLimit(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        if let n = environment["WENDAO_EMBED_THREADS"].flatMap(Int.init), n > 0 { return min(n, 256) }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Runs `work` on one of the threads (after the calls queued before it). After
    /// ``shutdown()`` the work runs on the calling thread.
    public func submit(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        guard !stopping else {
            condition.unlock()
            work()
            return
        }
        queue.append(work)
        if idle == 0 && started < limit {
            started += 1
            let t = Thread { [self] in self.loop() }
            t.name = "wendao-embed-\(started)"
            t.start()
        } else {
            condition.signal()
        }
        condition.unlock()
    }

    /// Lets the threads finish queued work and exit.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            idle += 1
            while queue.isEmpty && !stopping { condition.wait() }
            idle -= 1
            if queue.isEmpty {
                started -= 1
                condition.unlock()
                return
            }
            let work = queue.removeFirst()
            condition.unlock()
            work()
        }
    }
}
