import Foundation
public import WendaoCore
public import WendaoLLM

/// What ``LLMBench/run(model:promptTokens:generatedTokens:repeats:)`` measured (the `wendao bench llm`
/// JSON, keys as written; llama-bench's pp/tg tests measured the same way).
public struct LLMBenchReport: Encodable, Sendable {
    /// The model file.
    public var model: String
    /// The architecture.
    public var architecture: String
    /// Kernel threads.
    public var threads: Int
    /// Whether the AVX2/FMA kernels ran.
    public var kernels: String
    /// Prompt tokens per run.
    public var prompt_tokens: Int
    /// Generated tokens per run.
    public var gen_tokens: Int
    /// Prompt tokens per second (one batch pass over a fresh cache), best run.
    public var prefill_tokens_per_second: Double
    /// Generated tokens per second (one token at a time after the prompt), best run.
    public var decode_tokens_per_second: Double
    /// Prompt processing plus the first token's logits, best run.
    public var time_to_first_token_ms: Double
    /// Peak resident memory of the process.
    public var peak_rss_mb: Double
    /// The model file's size.
    public var file_mb: Double
    /// The key/value cache's size.
    public var kv_cache_mb: Double
    /// The context the cache was allocated for.
    public var context: Int
    /// Runs; the best is kept.
    public var repeats: Int
}

/// The language-model benchmark behind `wendao bench llm`.
public enum LLMBench {
    /// Processes `promptTokens` tokens in one pass over an empty cache (pp), then generates
    /// `generatedTokens` tokens one at a time (tg, greedy, end tokens not stopping it), after one
    /// warm-up run; keeps the best of `repeats` runs of each.
    ///
    /// - Throws: `invalidArgument` when the tokens do not fit the context.
    public static func run(model: LanguageModel, promptTokens: Int, generatedTokens: Int, repeats: Int) throws(
        WendaoError
    ) -> LLMBenchReport {
        guard promptTokens > 0, generatedTokens >= 0, promptTokens + generatedTokens <= model.contextLength else {
            throw WendaoError(
                .invalidArgument,
                "--prompt-tokens (≥ 1) and --gen-tokens must fit the context of \(model.contextLength)")
        }
        let vocab = model.hyperparameters.vocabularySize
        // A fixed, varied prompt of ordinary tokens (llama-bench uses random tokens too).
        var rng = SplitMix64(seed: 7)
        let prompt = (0..<promptTokens).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(min(vocab, 32_000))) }
        let clock = ContinuousClock()
        func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
        var bestPrefill = Double.infinity
        var bestDecode = Double.infinity
        for run in 0...max(1, repeats) {
            model.resetCache()
            let t0 = clock.now
            var logits = try model.evaluate(prompt)
            let prefill = ms(clock.now - t0)
            let t1 = clock.now
            for _ in 0..<generatedTokens {
                var best = 0
                for i in 1..<vocab where logits[i] > logits[best] { best = i }
                logits = try model.step(Int32(best))
            }
            let decode = ms(clock.now - t1)
            if run > 0 {
                bestPrefill = min(bestPrefill, prefill)
                bestDecode = min(bestDecode, decode)
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return LLMBenchReport(
            model: model.file.path, architecture: model.hyperparameters.architecture.rawValue, threads: model.threads,
            kernels: LLMKernels.fast ? "avx2" : "baseline", prompt_tokens: promptTokens, gen_tokens: generatedTokens,
            prefill_tokens_per_second: Double(promptTokens) / bestPrefill * 1000,
            decode_tokens_per_second: generatedTokens == 0 ? 0 : Double(generatedTokens) / bestDecode * 1000,
            time_to_first_token_ms: bestPrefill, peak_rss_mb: Double(usage.ru_maxrss) / 1024,
            file_mb: Double(model.file.fileSize) / 1_048_576, kv_cache_mb: Double(model.cacheBytes) / 1_048_576,
            context: model.contextLength, repeats: repeats)
    }
}
