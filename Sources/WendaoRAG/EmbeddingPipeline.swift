import Foundation
import WendaoCore
import WendaoIndex

/// Embeds chunks on a thread of its own while ingest goes on reading, chunking and storing the next
/// files, so parsing (often waiting on poppler or tesseract) and the encoder overlap.
///
/// Ingest hands over the ids of each stored file's chunks with ``submit(_:generation:)``; the worker
/// reads their text from the store, embeds them in batches and adds the vectors to the index,
/// saving it every `checkpoint` chunks (an interrupted run keeps what was saved, and the closing
/// ``KnowledgeBase/syncVectors(checkpoint:progress:)`` embeds whatever is still missing). Until
/// ``finish()`` returns, only the worker touches the vector index.
///
/// A failure (a provider down, a vector of the wrong size) stops the worker quietly: ingest goes on,
/// and the closing vector sync repeats the work and reports the error.
final class EmbeddingPipeline: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [Int64] = []
    private var closed = false
    private var failure: (any Error)?
    private var embedded = 0
    private var submitted = 0
    private var generation: Int64 = 0
    private var finished = false

    private let embedder: any TextEmbedder
    private let index: VectorIndex
    private let store: any KnowledgeStore
    private let path: String
    private let checkpoint: Int
    private let batch: Int

    /// Starts the worker.
    init(
        embedder: any TextEmbedder, index: VectorIndex, store: any KnowledgeStore, path: String,
        checkpoint: Int = 1024, batch: Int = 64
    ) {
        self.embedder = embedder
        self.index = index
        self.store = store
        self.path = path
        self.checkpoint = max(1, checkpoint)
        self.batch = max(1, batch)
        let t = Thread { [self] in run() }
        t.name = "wendao-embed"
        t.stackSize = 4 << 20
        t.start()
    }

    /// Queues the chunks of one stored file; `generation` is the store's generation after it.
    func submit(_ ids: [Int64], generation: Int64) {
        guard !ids.isEmpty else { return }
        condition.lock()
        pending.append(contentsOf: ids)
        submitted += ids.count
        self.generation = max(self.generation, generation)
        condition.signal()
        condition.unlock()
    }

    /// Chunks embedded so far and chunks handed over.
    var progress: (done: Int, total: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (embedded, submitted)
    }

    /// Embeds what is still queued, stops the worker and waits for it. Returns the error that
    /// stopped it early, if any (the caller's vector sync redoes that work).
    @discardableResult
    func finish() -> (any Error)? {
        condition.lock()
        closed = true
        condition.broadcast()
        while !finished { condition.wait() }
        let error = failure
        condition.unlock()
        return error
    }

    /// Drops what is queued, stops the worker and waits for it (ingest failed or was cancelled).
    /// Does nothing once ``finish()`` has returned.
    func cancel() {
        condition.lock()
        pending.removeAll()
        closed = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func run() {
        var sinceSave = 0
        while true {
            condition.lock()
            // Wait for a full batch, or whatever is left once ingest is done.
            while !closed && pending.count < batch { condition.wait() }
            if pending.isEmpty || failure != nil {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let ids = Array(pending.prefix(batch))
            pending.removeFirst(ids.count)
            let generation = self.generation
            condition.unlock()
            do {
                sinceSave += try KnowledgeBase.embedChunks(ids, store: store, embedder: embedder, into: index)
                if sinceSave >= checkpoint {
                    try index.save(to: path, generation: generation)
                    sinceSave = 0
                }
                condition.lock()
                embedded += ids.count
                condition.unlock()
            } catch {
                condition.lock()
                failure = error
                condition.unlock()
            }
        }
    }
}

extension KnowledgeBase {
    /// A pipeline embedding chunks as ingest stores them, or nil without an embedder (or when the
    /// embedder or its vector file cannot be opened now: the closing vector sync reports why).
    func startEmbeddingPipeline() -> EmbeddingPipeline? {
        guard record.settings.embedder != nil, let embedder = try? embedder(), embedder.knownDimension != nil,
            let index = try? vectorIndex(embedder)
        else { return nil }
        return EmbeddingPipeline(embedder: embedder, index: index, store: store, path: vectorPath)
    }
}
