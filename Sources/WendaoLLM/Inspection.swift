public import WendaoCore

/// What `wendao llm inspect` and the web UI's model page show: how a model tokenizes a text, the
/// prompt its chat template renders, and each generated step's candidates.
public struct LLMInspectionReport: Codable, Sendable {
    /// A token and the text it stands for.
    public struct Token: Codable, Sendable, Equatable {
        /// The id.
        public var id: Int32
        /// Its text (bytes that are not whole UTF-8 shown as `<0xNN>`).
        public var piece: String
    }
    /// A candidate of one step.
    public struct Candidate: Codable, Sendable {
        /// The id.
        public var id: Int32
        /// Its text.
        public var piece: String
        /// Its probability.
        public var probability: Double
        /// Its logit.
        public var logit: Float
    }
    /// One generated step.
    public struct Step: Codable, Sendable {
        /// What the sampler chose.
        public var chosen: Token
        /// The most likely candidates before the draw.
        public var candidates: [Candidate]
        /// Time of the step.
        public var ms: Double
    }
    /// The model's name.
    public var model: String
    /// Its architecture.
    public var architecture: String
    /// A short description of its size (`30 layers · 576 wide · 49152 tokens`).
    public var parameters: String
    /// The text's tokens (no special tokens added).
    public var text_tokens: [Token]
    /// The rendered prompt.
    public var prompt: String
    /// Its length in tokens.
    public var prompt_tokens: Int
    /// How the sampler was set.
    public var sampler: String
    /// The steps.
    public var steps: [Step]
    /// The generated text.
    public var answer: String
    /// Size of the key/value cache.
    public var kv_cache_mb: Double
    /// Positions of the cache.
    public var context: Int
    /// Prompt processing time.
    public var prompt_ms: Double
    /// Average time per generated token.
    public var ms_per_token: Double
}

/// Builds ``LLMInspectionReport``s.
public enum LLMInspection {
    /// Tokenizes `text`, renders it as a user message (when `chat`), generates `steps` tokens and
    /// records the `top` candidates of each step.
    public static func run(
        _ model: LanguageModel, text: String, chat: Bool, steps: Int, top: Int, sampling: SamplingOptions
    ) throws(WendaoError) -> LLMInspectionReport {
        let tk = model.tokenizer
        /// The text a token stands for (`" the"`, not the vocabulary's `Ġthe`); a piece of a character
        /// (one byte of a multi-byte UTF-8 sequence) as `<0xNN>`; control tokens by name.
        func display(_ id: Int32) -> String {
            let bytes = tk.piece(id, special: true)
            if let s = String(validating: bytes, as: UTF8.self) { return s }
            return bytes.map { "<0x" + String($0, radix: 16, uppercase: true).leftPadded(2) + ">" }.joined()
        }
        func token(_ id: Int32) -> LLMInspectionReport.Token { .init(id: id, piece: display(id)) }
        let textTokens = tk.encode(text, addBOS: false, parseSpecial: false).map(token)
        let prompt: String
        let ids: [Int32]
        if chat {
            ids = try model.promptTokens([ChatMessage(.user, text)])
            prompt = model.template?.render([ChatMessage(.user, text)], addGenerationPrompt: true) ?? text
        } else {
            prompt = text
            ids = tk.encode(prompt, addBOS: nil)
        }
        var recorded: [LLMInspectionReport.Step] = []
        let result = try model.generate(
            ids, sampling: sampling, limits: GenerationLimits(maxTokens: steps), candidates: top
        ) { step in
            if let id = step.token {
                recorded.append(
                    .init(
                        chosen: token(id),
                        candidates: step.candidates.map {
                            .init(id: $0.id, piece: display($0.id), probability: $0.probability, logit: $0.logit)
                        }, ms: step.milliseconds))
            }
            return true
        }
        let h = model.hyperparameters
        let s =
            sampling.temperature == 0
            ? "greedy"
            : "temperature \(sampling.temperature), top-k \(sampling.topK), top-p \(sampling.topP), min-p \(sampling.minP), seed \(sampling.seed.map(String.init) ?? "random")"
        return LLMInspectionReport(
            model: model.name, architecture: h.architecture.rawValue,
            parameters:
                "\(h.layers) layers · \(h.embedding) wide · \(h.heads)/\(h.kvHeads) heads · \(h.vocabularySize) tokens",
            text_tokens: textTokens, prompt: prompt, prompt_tokens: ids.count, sampler: s, steps: recorded,
            answer: result.text, kv_cache_mb: Double(model.cacheBytes) / 1_048_576, context: model.contextLength,
            prompt_ms: result.promptMilliseconds,
            ms_per_token: result.tokens.isEmpty ? 0 : result.decodeMilliseconds / Double(result.tokens.count))
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
