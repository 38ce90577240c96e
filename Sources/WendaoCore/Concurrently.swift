import Dispatch
import Foundation

/// Loops run on all cores with `DispatchQueue.concurrentPerform`: the one parallel-for of the code
/// base (ingest preparation, OCR pages, vector scans and HNSW builds). The encoders' and language
/// models' kernels use a pool of spinning workers instead (`Parallel`, `WorkerPool`), which a kernel call of
/// a few microseconds needs.
public enum Concurrently {
    /// Runs `body` for every index in `0..<iterations` on concurrent workers. The caller guarantees
    /// that the workers only read shared state and write disjoint memory.
    public static func forEach(_ iterations: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendableBox(value: escapable)
            DispatchQueue.concurrentPerform(iterations: iterations) { i in box.value(i) }
        }
    }

    /// Runs `body` for every index in `0..<count` and returns the results in order.
    ///
    /// `width` 1 runs every index on the calling thread; 0 or less runs one iteration per index on
    /// all cores; any other width runs at most `width` workers that take the next index as they
    /// come free.
    public static func map<T: Sendable>(_ count: Int, width: Int = 0, _ body: @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let workers = width <= 0 ? count : min(width, count)
        if workers == 1 { return (0..<count).map(body) }
        let slots = ResultSlots<T>(count: count)
        if workers == count {
            DispatchQueue.concurrentPerform(iterations: count) { i in slots.store(body(i), at: i) }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while let i = slots.next() { slots.store(body(i), at: i) }
            }
        }
        return slots.results()
    }
}

/// A value handed to concurrent workers that only read it or write disjoint parts of it.
private struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
}

/// Work queue and result slots shared by the workers of ``Concurrently/map(_:width:_:)``.
private final class ResultSlots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private let count: Int
    private var slots: [T?]

    init(count: Int) {
        self.count = count
        slots = Array(repeating: nil, count: count)
    }

    /// The next index no worker has taken, or nil when all are taken.
    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard nextIndex < count else { return nil }
        nextIndex += 1
        return nextIndex - 1
    }

    /// Stores the result of index `i`.
    func store(_ value: T, at i: Int) {
        lock.lock()
        slots[i] = value
        lock.unlock()
    }

    /// The results, in index order.
    func results() -> [T] {
        lock.lock()
        defer { lock.unlock() }
        return slots.compactMap { $0 }
    }
}
