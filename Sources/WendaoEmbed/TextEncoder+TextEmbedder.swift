import Foundation
import Synchronization
public import WendaoCore

/// A local encoder is a ``TextEmbedder``: its id is the model's (`e5-small-q4`, `minilm-l6-v2`), its
/// dimension is known before any text is embedded, and queries and passages get the model's own
/// prefixes (e5: `query: ` / `passage: `).
extension TextEncoder: TextEmbedder {
    /// The model id stamped into vector files.
    public var id: String { model.id }

    /// ``dimension``: a local model's dimension is always known.
    public var knownDimension: Int? { dimension }

    /// Embeds on one of the encoder's reused threads (``EncoderThreads``: the forward pass is long
    /// CPU work that must not hold a thread of the concurrency pool; at most `WENDAO_EMBED_THREADS`
    /// or core-count calls run at once). Cancelling the calling task stops the work between texts,
    /// forward passes and layers, and throws `CancellationError`.
    public func embed(_ texts: [String], as kind: EmbeddingKind) async throws -> EmbeddingResult {
        let stop = StopFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<EmbeddingResult, any Error>) in
                callers.submit {
                    c.resume(
                        with: Result {
                            try self.embedBlocking(texts, as: kind, shouldStop: { stop.isSet })
                        })
                }
            }
        } onCancel: {
            stop.set()
        }
    }

    /// Embeds on the calling thread with the default batch size and length limit.
    public func embedBlocking(_ texts: [String], as kind: EmbeddingKind) throws -> EmbeddingResult {
        try embedBlocking(texts, as: kind, shouldStop: { false })
    }

    func embedBlocking(_ texts: [String], as kind: EmbeddingKind, shouldStop: () -> Bool) throws -> EmbeddingResult {
        let out = try embedDetailed(texts, kind: kind == .query ? .query : .passage, shouldStop: shouldStop)
        return EmbeddingResult(
            vectors: out.map(\.vector), tokenCount: out.reduce(0) { $0 + $1.tokenCount },
            truncated: out.map(\.truncated))
    }
}

/// A flag set from a cancellation handler and read by the thread doing the work.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    var isSet: Bool { flag.load(ordering: .relaxed) }

    func set() { flag.store(true, ordering: .relaxed) }
}
