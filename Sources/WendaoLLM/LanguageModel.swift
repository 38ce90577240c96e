import Foundation
public import WendaoCore

/// A loaded GGUF chat model: the mapped weights, the tokenizer and chat template from its metadata,
/// the transformer with its key/value cache, and the generation loop.
///
/// One generation at a time (``LocalChatModel`` queues requests). The cache keeps the tokens of the
/// last call, so a prompt that starts the same way (the same system prompt, a follow-up question)
/// only computes what is new.
///
/// ```swift
/// let model = try LanguageModel(path: "SmolLM2-135M-Instruct.Q4_1.gguf")
/// let prompt = try model.promptTokens([ChatMessage(.user, "Hello")])
/// let result = try model.generate(prompt, limits: GenerationLimits(maxTokens: 32)) { step in
///     print(step.text, terminator: ""); return true
/// }
/// ```
public final class LanguageModel: @unchecked Sendable {
    /// The GGUF file.
    public let file: GGUFFile
    /// The model's shape.
    public let hyperparameters: ModelHyperparameters
    /// Its tokenizer.
    public let tokenizer: LLMTokenizer
    /// Its chat template (nil for a model without a supported one: it still completes raw text).
    public let template: ChatTemplate?
    /// Why ``template`` is nil.
    private let templateError: WendaoError?
    /// `general.name`, else the file name.
    public let name: String
    /// Positions the key/value cache holds.
    public var contextLength: Int { transformer.contextLength }
    /// Bytes of the key/value cache.
    public var cacheBytes: Int { transformer.cacheBytes }
    /// Threads the kernels run on.
    public var threads: Int { transformer.parallel.threads }
    let transformer: Transformer
    /// The tokens whose keys and values are in the cache, in order.
    private var cached: [Int32] = []

    /// Loads the model at `path` with a cache of `contextLength` positions (default
    /// ``LocalModelMemory/defaultContextLength``, at most the model's).
    ///
    /// - Throws: `unsupported` (architecture, tensor type, template), `corrupt` (a damaged file),
    ///   `limitExceeded` when the cache and scratch buffers would not fit the memory available.
    public init(path: String, contextLength: Int? = nil, threads: Int? = nil) throws(WendaoError) {
        let file = try GGUFFile(path: path)
        let h = try ModelHyperparameters(file)
        let context = min(max(16, contextLength ?? LocalModelMemory.defaultContextLength), h.contextLength)
        let cache = Int64(Transformer.cacheBytes(h, contextLength: context))
        try LocalModelMemory.check(
            LocalModelMemory.Estimate(
                fileBytes: Int64(file.fileSize), contextLength: context, keyValueCacheBytes: cache),
            model: path)
        self.file = file
        hyperparameters = h
        tokenizer = try LLMTokenizer(gguf: file)
        do {
            template = try ChatTemplate(gguf: file, tokenizer: tokenizer, file: path)
            templateError = nil
        } catch {
            template = nil
            templateError = error
        }
        name = file.metadata["general.name"]?.string ?? URL(fileURLWithPath: path).lastPathComponent
        let n = threads ?? ProcessInfo.processInfo.activeProcessorCount
        transformer = try Transformer(file: file, contextLength: context, threads: max(1, min(n, 64)))
    }

    /// The prompt tokens of a conversation, rendered with the model's chat template (the generation
    /// prompt added): the template's markers as control tokens, the messages' text as text.
    ///
    /// - Throws: `unsupported`, naming the model, when it has no chat template the runtime knows.
    public func promptTokens(_ messages: [ChatMessage]) throws(WendaoError) -> [Int32] {
        guard let template else {
            throw templateError ?? WendaoError(.unsupported, "\(name): no chat template")
        }
        return template.tokens(for: messages, addGenerationPrompt: true)
    }

    /// Forgets the cached tokens (the next call computes its whole prompt).
    public func resetCache() { cached = [] }

    /// Runs `tokens` through the model (reusing the cached prefix) and returns the next-token logits
    /// (`hyperparameters.vocabularySize` of them, valid until the next call).
    public func evaluate(_ tokens: [Int32]) throws(WendaoError) -> UnsafeMutablePointer<Float> {
        guard !tokens.isEmpty else { throw WendaoError(.invalidArgument, "an empty prompt") }
        var common = 0
        while common < min(cached.count, tokens.count - 1) && cached[common] == tokens[common] { common += 1 }
        cached.removeSubrange(common...)
        do {
            try transformer.forward(Array(tokens[common...]), position: common)
        } catch {
            cached = []
            throw error
        }
        cached = tokens
        return transformer.logits.p
    }

    /// Appends one token to what the cache holds and returns the logits after it.
    public func step(_ token: Int32) throws(WendaoError) -> UnsafeMutablePointer<Float> {
        do {
            try transformer.forward([token], position: cached.count)
        } catch {
            cached = []
            throw error
        }
        cached.append(token)
        return transformer.logits.p
    }

    /// Generates a continuation of `prompt`, calling `onStep` after each token (return false to stop).
    ///
    /// Stops at an end-of-generation token, a stop sequence (not included in the text), `maxTokens`,
    /// the end of the context, or when `onStep` returns false.
    ///
    /// - Throws: `contextTooLong` when the prompt leaves no room for one token; `cancelled` when
    ///   `limits.isCancelled` turns true.
    public func generate(
        _ prompt: [Int32], sampling: SamplingOptions = .greedy, limits: GenerationLimits = GenerationLimits(),
        candidates: Int = 0, onStep: (GenerationStep) -> Bool
    ) throws(WendaoError) -> GenerationResult {
        let sampling = try sampling.validated()
        let room = contextLength - prompt.count
        guard room >= 1 else {
            throw WendaoError(
                .contextTooLong,
                "the prompt is \(prompt.count) tokens; the model's context holds \(contextLength) — shorten it or load the model with a longer context"
            )
        }
        let clock = ContinuousClock()
        let started = clock.now
        var maxTokens = min(limits.maxTokens ?? room, room)
        maxTokens = max(0, maxTokens)
        var result = GenerationResult(promptTokens: prompt.count)
        guard maxTokens > 0 else {
            result.finishReason = "length"
            return result
        }
        var sampler = Sampler(sampling)
        var logits = try evaluate(prompt)
        result.promptMilliseconds = (clock.now - started).milliseconds
        var text = TokenTextStream(tokenizer)
        var pending = ""
        var matchedStop = false
        var history = prompt
        let vocab = hyperparameters.vocabularySize
        let decodeStart = clock.now
        // The forward pass that produced `logits` (0 for the first token: that is the prompt's time).
        var forwardMilliseconds = 0.0
        generation: while true {
            if limits.isCancelled() { throw WendaoError(.cancelled, "generation cancelled") }
            let stepStart = clock.now
            sampler.penalize(logits, count: vocab, recent: history[...])
            let top =
                candidates > 0
                ? Sampler.top(logits, count: vocab, n: candidates, temperature: sampling.temperature) : []
            let token = sampler.sample(logits, count: vocab)
            if template?.stopTokens.contains(token) == true || tokenizer.isEndOfGeneration(token) {
                result.finishReason = "stop"
                break
            }
            result.tokens.append(token)
            history.append(token)
            pending += text.append(token)
            // Emit what cannot be the start of a stop sequence; hold back the rest.
            var emit = pending
            if let (cut, complete) = StopSequences.scan(pending, limits.stop) {
                emit = String(pending[..<cut])
                matchedStop = complete
            }
            pending = matchedStop ? "" : String(pending.dropFirst(emit.count))
            result.text += emit
            let more = onStep(
                GenerationStep(
                    token: token, text: emit, candidates: top,
                    milliseconds: forwardMilliseconds + (clock.now - stepStart).milliseconds))
            switch true {
            case matchedStop, !more:
                result.finishReason = "stop"
                break generation
            case result.tokens.count >= maxTokens:
                result.finishReason = "length"
                break generation
            default:
                let forwardStart = clock.now
                logits = try step(token)
                forwardMilliseconds = (clock.now - forwardStart).milliseconds
            }
        }
        if !matchedStop {
            let rest = pending + text.finish()
            if !rest.isEmpty {
                result.text += rest
                _ = onStep(GenerationStep(token: nil, text: rest, candidates: [], milliseconds: 0))
            }
        }
        result.decodeMilliseconds = (clock.now - decodeStart).milliseconds
        return result
    }
}

/// Limits of one generation.
public struct GenerationLimits: Sendable {
    /// Most tokens generated (nil: until the context is full).
    public var maxTokens: Int?
    /// Text that ends the answer when generated (not included).
    public var stop: [String]
    /// Checked between tokens: true stops with `cancelled`.
    public var isCancelled: @Sendable () -> Bool

    /// Limits.
    public init(maxTokens: Int? = nil, stop: [String] = [], isCancelled: @escaping @Sendable () -> Bool = { false }) {
        self.maxTokens = maxTokens
        self.stop = stop.filter { !$0.isEmpty }
        self.isCancelled = isCancelled
    }
}

/// One generated token.
public struct GenerationStep: Sendable {
    /// The token (nil for the text flushed at the end).
    public var token: Int32?
    /// Text this step completes (empty while a character or a possible stop sequence is incomplete).
    public var text: String
    /// The most likely candidates before the draw, when asked for.
    public var candidates: [TokenCandidate]
    /// Time of the step: the forward pass that computed its candidates plus the sampling (for the
    /// first token only the sampling: the prompt's pass is ``GenerationResult/promptMilliseconds``).
    public var milliseconds: Double
}

/// What a generation produced.
public struct GenerationResult: Sendable {
    /// The answer.
    public var text = ""
    /// Generated token ids (without the end token).
    public var tokens: [Int32] = []
    /// Tokens of the prompt.
    public var promptTokens: Int
    /// `stop` or `length`.
    public var finishReason = "stop"
    /// Time to process the prompt (up to the first token's logits).
    public var promptMilliseconds: Double = 0
    /// Time spent generating.
    public var decodeMilliseconds: Double = 0

    init(promptTokens: Int) { self.promptTokens = promptTokens }
}

/// Finding stop sequences in streamed text.
enum StopSequences {
    /// Where to cut `text`: before the first complete stop sequence (`true`), or before a suffix
    /// that may become one (`false`); nil when all of `text` can be emitted.
    static func scan(_ text: String, _ stops: [String]) -> (String.Index, Bool)? {
        guard !stops.isEmpty else { return nil }
        var earliest: String.Index?
        for s in stops {
            if let r = text.range(of: s), earliest == nil || r.lowerBound < earliest! { earliest = r.lowerBound }
        }
        if let earliest { return (earliest, true) }
        // The longest suffix of `text` that is a prefix of a stop sequence.
        var cut: String.Index?
        for s in stops {
            var n = min(s.count, text.count)
            while n > 0 {
                let start = text.index(text.endIndex, offsetBy: -n)
                if s.hasPrefix(text[start...]) {
                    if cut == nil || start < cut! { cut = start }
                    break
                }
                n -= 1
            }
        }
        return cut.map { ($0, false) }
    }
}

extension Duration {
    /// Milliseconds as a double.
    var milliseconds: Double {
        let (s, a) = components
        return Double(s) * 1000 + Double(a) / 1e15
    }
}
