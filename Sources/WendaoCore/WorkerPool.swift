import Foundation
import Synchronization

// Fork/join for the kernels' parallel regions (the encoders', the language models'). A batch-1 forward pass of a 6-layer model has
// about 40 regions of 20–200 µs each; waking a sleeping thread per region (what
// `DispatchQueue.concurrentPerform` does) costs a good part of that. These workers keep polling
// for a while after each region, so the next one starts within a microsecond or two, and go to
// sleep once the encoder has been idle for a few milliseconds.

/// A fixed set of worker threads that run one job at a time together with the calling thread,
/// handing out chunks of an index range dynamically (a worker that starts late takes fewer chunks).
///
/// The range is cut into one contiguous part per thread, and each thread claims the chunks of its
/// own part first, front to back, then those left in the other parts. A thread reading weight rows
/// thus streams through one contiguous stretch of memory (what the processor's prefetchers follow
/// best: interleaved chunks restarted their streams every few kilobytes), and the claims of a
/// thread on its own part touch a counter that no other thread writes until it steals.
///
/// The caller never waits for a worker that has not started: once every chunk is claimed it
/// closes the job and waits only for workers still running a chunk. On a busy machine, where a
/// worker may not get a core for milliseconds, a job then costs what it costs on one thread.
@available(macOS 15, *)
final class WorkerPool: @unchecked Sendable {
    /// Threads taking part in a job: the caller plus `threads − 1` workers.
    let threads: Int

    /// A job: the body and the range it covers. Threads reach it through an unretained reference
    /// (the caller holds it until every worker has left), so no reference count is shared between
    /// the threads of one job — on two cores that cache line bouncing cost several percent of a
    /// language model's decoding.
    private final class Job: @unchecked Sendable {
        let body: @Sendable (Range<Int>, Int) -> Void
        let count: Int
        let grain: Int

        init(body: @escaping @Sendable (Range<Int>, Int) -> Void, count: Int, grain: Int) {
            self.body = body
            self.count = count
            self.grain = grain
        }
    }

    /// Bumped to publish a job; workers wait for it to change.
    private let generation = Atomic<Int>(0)
    /// The generation of the job workers may still join, or −1 once the caller closed it.
    private let open = Atomic<Int>(-1)
    /// Workers inside the current job.
    private let active = Atomic<Int>(0)
    /// Per part of the current job, its next unclaimed chunk (`threads` counters, each on its own
    /// 128-byte line so that the threads' claims on their own parts do not share a cache line).
    private let nextChunk: UnsafeMutableRawPointer
    /// Per part of the current job, the chunk after its last one.
    private let partEnd: UnsafeMutablePointer<Int>
    private static let counterSpacing = 128
    /// Workers blocked on `condition`.
    private let sleepers = Atomic<Int>(0)
    /// Whether a caller owns the pool (one job at a time; others fall back to Dispatch).
    private let busy = Atomic<Bool>(false)
    private let condition = NSCondition()
    /// Written by the owning caller before the job is opened, read by workers that joined while
    /// it was open, cleared after it is closed and no worker is inside: never accessed
    /// concurrently with a write.
    private var job: Unmanaged<Job>?

    /// How long a worker polls for the next job before it goes to sleep.
    private static let pollNanoseconds: UInt64 = 3_000_000

    private init(threads: Int) {
        self.threads = threads
        nextChunk = .allocate(byteCount: threads * Self.counterSpacing, alignment: Self.counterSpacing)
        for p in 0..<threads {
            (nextChunk + p * Self.counterSpacing).bindMemory(to: Atomic<Int>.self, capacity: 1)
                .initialize(to: Atomic(0))
        }
        partEnd = .allocate(capacity: threads)
        partEnd.initialize(repeating: 0, count: threads)
        for index in 1..<threads {
            let thread = Thread { [self] in self.workerLoop(index) }
            thread.name = "wendao-kernel-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    private static let pools = Mutex<[Int: WorkerPool]>([:])

    /// The process-wide pool for `threads` threads (created on first use; its workers live as long
    /// as the process). Nil for one thread.
    static func shared(threads: Int) -> WorkerPool? {
        guard threads > 1 else { return nil }
        return pools.withLock { pools in
            if let pool = pools[threads] { return pool }
            let pool = WorkerPool(threads: threads)
            pools[threads] = pool
            return pool
        }
    }

    /// Calls `body(range, participant)` on chunks of `0..<count` of at most `grain` indices,
    /// from the calling thread (participant 0) and whichever workers (1..<threads) join in time,
    /// and returns when all chunks are done. Returns false without doing anything when another
    /// caller is using the pool.
    func forEachChunk(
        _ count: Int, grain: Int, _ body: @escaping @Sendable (Range<Int>, Int) -> Void
    ) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            return false
        }
        let owned = Job(body: body, count: count, grain: max(1, grain))
        job = Unmanaged.passUnretained(owned)
        let chunks = (count + owned.grain - 1) / owned.grain
        for p in 0..<threads {
            counter(p).pointee.store(chunks * p / threads, ordering: .relaxed)
            partEnd[p] = chunks * (p + 1) / threads
        }
        let g = generation.load(ordering: .relaxed) &+ 1
        open.store(g, ordering: .sequentiallyConsistent)
        generation.store(g, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
        claimChunks(participant: 0)
        // Every chunk is claimed: close the job and wait for the workers still running one.
        open.store(-1, ordering: .sequentiallyConsistent)
        var spins = 0
        while active.load(ordering: .sequentiallyConsistent) > 0 {
            spins += 1
            if spins > 2_000 { sched_yield() }
        }
        job = nil
        withExtendedLifetime(owned) {}
        busy.store(false, ordering: .releasing)
        return true
    }

    /// The claim counter of part `p`.
    @inline(__always)
    private func counter(_ p: Int) -> UnsafePointer<Atomic<Int>> {
        UnsafePointer((nextChunk + p * Self.counterSpacing).assumingMemoryBound(to: Atomic<Int>.self))
    }

    /// Runs chunks of the current job until none are left: those of part `participant`, then
    /// those left in the following parts.
    private func claimChunks(participant: Int) {
        guard let job else { return }
        job._withUnsafeGuaranteedRef { job in
            var part = participant
            for _ in 0..<threads {
                let end = partEnd[part]
                let next = counter(part)
                while true {
                    let chunk = next.pointee.wrappingAdd(1, ordering: .relaxed).oldValue
                    if chunk >= end { break }
                    let start = chunk * job.grain
                    job.body(start..<min(job.count, start + job.grain), participant)
                }
                part = part + 1 == threads ? 0 : part + 1
            }
        }
    }

    private func workerLoop(_ index: Int) {
        var seen = 0
        while true {
            var g = generation.load(ordering: .acquiring)
            if g == seen {
                // Poll, checking the clock now and then; after a while yield the core between
                // polls; after `pollNanoseconds` sleep until the next job is published.
                let start = DispatchTime.now().uptimeNanoseconds
                var spins = 0
                while g == seen {
                    spins += 1
                    if spins & 4095 == 0 {
                        let waited = DispatchTime.now().uptimeNanoseconds &- start
                        if waited > Self.pollNanoseconds {
                            condition.lock()
                            sleepers.add(1, ordering: .sequentiallyConsistent)
                            while generation.load(ordering: .sequentiallyConsistent) == seen { condition.wait() }
                            sleepers.subtract(1, ordering: .sequentiallyConsistent)
                            condition.unlock()
                        } else if waited > 50_000 {
                            sched_yield()
                        }
                    }
                    g = generation.load(ordering: .acquiring)
                }
            }
            seen = g
            // Join only if the caller has not closed this job yet (it may have finished alone).
            active.add(1, ordering: .sequentiallyConsistent)
            if open.load(ordering: .sequentiallyConsistent) == g {
                claimChunks(participant: index)
            }
            active.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}

/// Runs work on a fixed number of threads: the encoders' and the language models' kernels.
public struct Parallel: Sendable {
    /// Number of threads (≥ 1).
    public let threads: Int
    /// The worker pool (nil for one thread, or before macOS 15).
    private let pool: (any Sendable)?

    /// Work on `threads` threads (≥ 1).
    public init(threads: Int) {
        self.threads = max(1, threads)
        if #available(macOS 15, *) {
            pool = WorkerPool.shared(threads: self.threads)
        } else {
            pool = nil
        }
    }

    /// Calls `body(range, participant)` on pieces of `0..<count` of about `grain` indices (at
    /// least one piece per thread when there is enough work), on up to `threads` threads at once;
    /// `participant` is in `0..<threads` and no two pieces run at the same time with the same
    /// participant, so it can pick a scratch buffer. Returns when all pieces are done.
    public func forEachChunk(_ count: Int, grain: Int = .max, _ body: @escaping @Sendable (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        let t = min(threads, count)
        if t <= 1 {
            body(0..<count, 0)
            return
        }
        let piece = max(1, min(grain, (count + t - 1) / t))
        if #available(macOS 15, *), let pool = pool as? WorkerPool,
            pool.forEachChunk(count, grain: piece, body)
        {
            return
        }
        // The pool is busy with another caller (or unavailable): fixed shares on Dispatch's threads.
        DispatchQueue.concurrentPerform(iterations: t) { i in
            body((count * i / t)..<(count * (i + 1) / t), i)
        }
    }
}
