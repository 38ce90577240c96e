import Foundation
import WendaoCore
public import WendaoEmbed

/// What ``EmbedBench/run(encoder:lines:batch:maxLength:windows:repeats:)`` measured (the
/// `wendao bench embed` JSON, keys as written).
public struct EmbedBenchReport: Encodable, Sendable {
    /// The model's id.
    public var embedder: String
    /// Texts per second at ``batch``, the best pass.
    public var sentences_per_second: Double
    /// Median batch-1 latency in milliseconds, the best pass.
    public var batch1_p50_ms: Double
    /// 90th percentile batch-1 latency in milliseconds, the best pass.
    public var batch1_p90_ms: Double
    /// Kernel threads.
    public var threads: Int
    /// Texts per forward pass.
    public var batch: Int
    /// Token limit per window.
    public var max_len: Int
    /// Windows a longer text may be embedded as.
    public var windows: Int
    /// Texts embedded per pass.
    public var texts: Int
}

/// The embedding benchmark behind `wendao bench embed`.
public enum EmbedBench {
    /// Embeds `lines` (sorted and batched by the encoder) after one warm-up pass and keeps the best
    /// of `repeats` passes: the highest texts/s and, for batch 1 (every text on its own, in order),
    /// the lowest p50 and p90.
    /// - Throws: what the encoder throws.
    public static func run(
        encoder: TextEncoder, lines: [String], batch: Int, maxLength: Int, windows: Int, repeats: Int
    ) throws -> EmbedBenchReport {
        func embed(_ texts: [String], batch: Int) throws {
            _ = try encoder.embed(texts, kind: .passage, batchSize: batch, maxLength: maxLength, maxWindows: windows)
        }
        try embed(Array(lines.prefix(2 * batch)), batch: batch)  // warm-up
        for text in lines.prefix(8) { try embed([text], batch: 1) }
        var best = Double.infinity
        var p50 = Double.infinity, p90 = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = ContinuousClock.now
            try embed(lines, batch: batch)
            best = min(best, (ContinuousClock.now - t0).seconds)
            var single: [Double] = []
            for text in lines {
                let t0 = ContinuousClock.now
                try embed([text], batch: 1)
                single.append((ContinuousClock.now - t0).seconds * 1000)
            }
            single.sort()
            p50 = min(p50, single[single.count / 2])
            p90 = min(p90, single[min(single.count - 1, single.count * 9 / 10)])
        }
        return EmbedBenchReport(
            embedder: encoder.model.id, sentences_per_second: Double(lines.count) / best,
            batch1_p50_ms: p50, batch1_p90_ms: p90, threads: encoder.threads, batch: batch, max_len: maxLength,
            windows: windows, texts: lines.count)
    }
}
