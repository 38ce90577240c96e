public import Foundation
public import WendaoCore
public import WendaoEval
public import WendaoModels
import WendaoRAG

/// Options of a generation run.
public struct GenerationOptions: Sendable {
    /// The question styles to write.
    public var styles: [QuestionStyle] = QuestionStyle.allCases
    /// Chunks worked on at once (each makes one call at a time): the calls in flight to the teacher's
    /// provider.
    public var concurrency = 4
    /// Stop starting chunks once this much was spent (in the price's currency).
    public var maxCost: Double?
    /// Sampling of the question calls.
    public var questionOptions = ChatOptions(temperature: 0.7, maxTokens: 800)
    /// Sampling of the answer calls.
    public var answerOptions = ChatOptions(temperature: 0.2, maxTokens: 800)
    /// Called after each chunk (from any task).
    public var progress: (@Sendable (GenerationProgress) -> Void)?

    /// The defaults.
    public init() {}
}

/// Progress after a chunk.
public struct GenerationProgress: Sendable {
    /// Chunks done (this run and earlier ones).
    public var done: Int
    /// Chunks selected.
    public var total: Int
    /// Examples written so far by this run.
    public var examples: Int
    /// Problems so far.
    public var failures: Int
}

/// What a generation run did.
public struct GenerationOutcome: Sendable, Codable {
    /// Chunks selected.
    public var chunks: Int
    /// Chunks already done by an earlier run (resume).
    public var resumed: Int
    /// Chunks done by this run.
    public var generated: Int
    /// Chunks left undone because a call failed (a resume retries them).
    public var failedChunks: Int
    /// Examples written by this run.
    public var examples: Int
    /// Problems by kind (malformed JSON, empty answer, echoed question, …).
    public var failures: [String: Int]
    /// Calls made, and replayed from the response cache.
    public var calls: Int
    /// Of those, replayed.
    public var cachedCalls: Int
    /// Tokens.
    public var usage: TokenUsage
    /// What this run paid (nil: no price known).
    public var spent: Double?
    /// Why it stopped early (the cost cap), if it did.
    public var stopped: String?

    enum CodingKeys: String, CodingKey {
        case chunks, resumed, generated, failedChunks = "failed_chunks", examples, failures, calls
        case cachedCalls = "cached_calls", usage, spent, stopped
    }
}

/// Writes questions and teacher answers for chunks: one call for the questions of a chunk (every style but
/// comparison), one for a comparison question over the chunk and its partner, one per answer; unanswerable
/// questions get the refusal sentence as their target (no call) when the knowledge base indeed does not
/// answer them. Each finished chunk is appended to `raw.jsonl` — the checkpoint: a resumed run skips
/// chunks in it, and the calls of a chunk interrupted midway are replayed from the response cache, so no
/// call is paid twice.
public enum DatasetGenerator {
    /// Generates `chunks` (skipping those in `done`), appending checkpoints to `rawFile`.
    ///
    /// - Parameters:
    ///   - teacher: the teacher (usually a ``CachingChatModel`` over the gateway's model).
    ///   - isAnswered: whether the knowledge base answers a question (an "unanswerable" one it answers is
    ///     dropped).
    public static func run(
        chunks: [SourceChunk], done: Set<Int64>, rawFile: URL, teacher: ModelBinding, options: GenerationOptions,
        isAnswered: @escaping @Sendable (String) async -> Bool
    ) async throws -> GenerationOutcome {
        let writer = try CheckpointWriter(file: rawFile)
        defer { writer.close() }
        let partners = ChunkSelection.comparisonPartners(chunks)
        let todo = interleaved(chunks.filter { !done.contains($0.id) })
        let resumed = chunks.count - todo.count
        let state = Locked(
            GenerationOutcome(
                chunks: chunks.count, resumed: resumed, generated: 0, failedChunks: 0, examples: 0, failures: [:],
                calls: 0, cachedCalls: 0, usage: .zero, spent: 0, stopped: nil))
        let queue = WorkQueue(todo)
        let maxCost = options.maxCost
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, options.concurrency) {
                group.addTask {
                    while let chunk = queue.next() {
                        if Task.isCancelled { return }
                        if let maxCost {
                            let over = state.withLock { s -> Bool in
                                guard (s.spent ?? 0) >= maxCost else { return false }
                                if s.stopped == nil {
                                    s.stopped = String(format: "the cost cap of %.4f was reached", maxCost)
                                }
                                return true
                            }
                            if over { return }
                        }
                        guard
                            let result = await generate(
                                chunk, partner: partners[chunk.id], teacher: teacher, options: options,
                                isAnswered: isAnswered)
                        else { return }
                        if result.complete { writer.append(result.checkpoint) }
                        let p = state.withLock { s -> GenerationProgress in
                            let c = result.checkpoint
                            if result.complete {
                                s.generated += 1
                                s.examples += c.examples.count
                            } else {
                                s.failedChunks += 1
                            }
                            for f in c.failures { s.failures[Self.kind(of: f), default: 0] += 1 }
                            s.calls += c.calls
                            s.cachedCalls += c.cachedCalls
                            s.usage = s.usage + c.usage
                            if let cost = c.cost, let spent = s.spent { s.spent = spent + cost } else { s.spent = nil }
                            return GenerationProgress(
                                done: s.resumed + s.generated + s.failedChunks, total: s.chunks, examples: s.examples,
                                failures: s.failures.values.reduce(0, +))
                        }
                        options.progress?(p)
                    }
                }
            }
            try await group.waitForAll()
        }
        try Task.checkCancellation()
        return state.withLock { $0 }
    }

    /// `chunks` taken round-robin over their documents (first chunk of each document, then the second, …),
    /// so that a run stopped early — the cost cap, Ctrl-C — has covered as many documents as it could.
    static func interleaved(_ chunks: [SourceChunk]) -> [SourceChunk] {
        var order: [String] = []
        var byDocument: [String: [SourceChunk]] = [:]
        for c in chunks {
            if byDocument[c.document] == nil { order.append(c.document) }
            byDocument[c.document, default: []].append(c)
        }
        var out: [SourceChunk] = []
        out.reserveCapacity(chunks.count)
        var round = 0
        while out.count < chunks.count {
            for d in order where round < byDocument[d]!.count { out.append(byDocument[d]![round]) }
            round += 1
        }
        return out
    }

    /// The kind of a failure line (its text up to the first colon).
    static func kind(of failure: String) -> String {
        String(failure.prefix { $0 != ":" })
    }

    /// One chunk's examples; nil when cancelled. `complete` is false when a call failed (the chunk is
    /// not checkpointed, so a resume tries it again; its finished calls are in the cache).
    static func generate(
        _ chunk: SourceChunk, partner: SourceChunk?, teacher: ModelBinding, options: GenerationOptions,
        isAnswered: @escaping @Sendable (String) async -> Bool
    ) async -> (checkpoint: ChunkCheckpoint, complete: Bool)? {
        let recorder = CallRecorder()
        var failures: [String] = []
        var examples: [TuneExample] = []
        var complete = true
        let now = TuneJSON.now()
        do {
            try await CallRecorder.$current.withValue(recorder) {
                var questions: [(QuestionStyle, String)] = []
                let single = options.styles.filter { $0 != .comparison }
                if !single.isEmpty {
                    let reply = try await teacher.model.complete(
                        TeacherPrompts.questions(chunk, styles: single), options: options.questionOptions)
                    if let parsed = TeacherPrompts.parseQuestions(reply.text, styles: single) {
                        for s in single {
                            if let q = parsed[s] {
                                questions.append((s, q))
                            } else if s != .howTo {
                                failures.append("no \(s.rawValue) question: the teacher's JSON had none")
                            }
                        }
                    } else {
                        failures.append("malformed JSON from the teacher: no question object in its reply")
                    }
                }
                if options.styles.contains(.comparison), let partner {
                    let reply = try await teacher.model.complete(
                        TeacherPrompts.comparison(chunk, partner), options: options.questionOptions)
                    if let q = (AnswerJudge.jsonObject(in: reply.text)?["question"] as? String)?
                        .trimmingCharacters(in: .whitespacesAndNewlines), !q.isEmpty, q.count <= 1000
                    {
                        questions.append((.comparison, q))
                    } else {
                        failures.append("malformed JSON from the teacher: no comparison question in its reply")
                    }
                }
                for (style, question) in questions {
                    try Task.checkCancellation()
                    let sources = style == .comparison ? [chunk] + (partner.map { [$0] } ?? []) : [chunk]
                    let lang = AnswerLanguage.detect(question)
                    var example = TuneExample(
                        id: "c\(chunk.id)-\(style.rawValue)", question: question, answer: "", reasoning: nil,
                        style: style, language: lang.rawValue, chunks: sources.map(\.id),
                        chunkHashes: sources.map(\.hash), documents: Self.unique(sources.map(\.document)),
                        section: chunk.section, teacher: teacher.model.id, promptVersion: TeacherPrompts.version,
                        createdAt: now)
                    if style == .unanswerable {
                        if await isAnswered(question) {
                            failures.append("unanswerable question answered by the knowledge base: dropped")
                            continue
                        }
                        example.answer = lang.notFoundSentence
                        examples.append(example)
                        continue
                    }
                    var text = ""
                    var reasoning = ""
                    for try await e in teacher.model.streamChat(
                        TeacherPrompts.answer(question, chunks: sources), options: options.answerOptions)
                    {
                        switch e {
                        case .text(let t): text += t
                        case .reasoning(let r): reasoning += r
                        case .usage, .finish: break
                        }
                    }
                    try Task.checkCancellation()
                    let (answer, thought) = TeacherPrompts.splitReasoning(text: text, reasoning: reasoning)
                    if answer.isEmpty {
                        failures.append("empty answer: the teacher wrote nothing for \(style.rawValue)")
                        continue
                    }
                    if TextSimilarity.jaccard(TuneExample.strippingCitations(answer), question) >= 0.9 {
                        failures.append("question echoed back: the teacher's answer repeats the question")
                        continue
                    }
                    example.answer = answer
                    example.reasoning = thought
                    examples.append(example)
                }
            }
        } catch {
            if Task.isCancelled || error is CancellationError || (error as? WendaoError)?.code == .cancelled {
                return nil
            }
            complete = false
            failures.append("call failed: \((error as? WendaoError)?.message ?? "\(error)")")
        }
        let calls = recorder.calls
        let usage = calls.map(\.usage).reduce(TokenUsage.zero, +)
        let paid = calls.filter { !$0.cached }.map(\.usage).reduce(TokenUsage.zero, +)
        let checkpoint = ChunkCheckpoint(
            chunk: chunk.id, examples: examples, failures: failures, usage: usage, cost: teacher.cost(paid),
            calls: calls.count, cachedCalls: calls.filter(\.cached).count)
        return (checkpoint, complete)
    }

    static func unique(_ xs: [String]) -> [String] {
        var seen = Set<String>()
        return xs.filter { seen.insert($0).inserted }
    }

    /// A cost estimate made before any call.
    public struct Estimate: Sendable, Codable {
        /// Chunks to generate (resumed ones left out).
        public var chunks: Int
        /// Calls, at most.
        public var calls: Int
        /// Prompt tokens, about.
        public var promptTokens: Int
        /// Completion tokens, at most about.
        public var completionTokens: Int
        /// The cost at the configured price (nil: no price).
        public var cost: Double?
        /// The price's currency.
        public var currency: String?

        enum CodingKeys: String, CodingKey {
            case chunks, calls, promptTokens = "estimated_prompt_tokens"
            case completionTokens = "estimated_completion_tokens", cost = "estimated_cost", currency
        }

        /// One line for the terminal.
        public var line: String {
            var s =
                "plan: \(chunks) chunks, at most \(calls) teacher calls, about \(promptTokens) prompt + \(completionTokens) completion tokens"
            if let cost {
                s += String(format: ", about %.4f %@ at most", cost, currency ?? "")
            } else {
                s += " (no price configured: cost unknown)"
            }
            return s + " (cached responses cost nothing)"
        }
    }

    /// Estimates the calls and tokens of generating `chunks` at `price`.
    public static func estimate(
        chunks: [SourceChunk], styles: [QuestionStyle], options: GenerationOptions, price: ModelPrice?,
        isLocal: Bool
    ) -> Estimate {
        let partners = ChunkSelection.comparisonPartners(chunks)
        let single = styles.filter { $0 != .comparison }
        let answered = single.filter { $0 != .unanswerable }.count
        let system = TokenEstimator.estimate(TeacherPrompts.answerSystem) + 20
        let qSystem = TokenEstimator.estimate(TeacherPrompts.questionSystem) + 20
        let questionCompletion = 60 * max(1, single.count)
        let answerCompletion = min(options.answerOptions.maxTokens ?? 300, 300)
        var calls = 0
        var prompt = 0
        var completion = 0
        for c in chunks {
            let t = TokenEstimator.estimate(String(c.text.prefix(TeacherPrompts.maxChunkCharacters))) + 30
            if !single.isEmpty {
                calls += 1
                prompt += qSystem + t
                completion += questionCompletion
            }
            calls += answered
            prompt += answered * (system + t + 40)
            completion += answered * answerCompletion
            if styles.contains(.comparison), let p = partners[c.id] {
                let pt = TokenEstimator.estimate(String(p.text.prefix(TeacherPrompts.maxChunkCharacters))) + 30
                calls += 2
                prompt += qSystem + t + pt + system + t + pt + 40
                completion += 80 + answerCompletion
            }
        }
        var cost: Double? = nil
        if let price {
            cost = price.cost(of: TokenUsage(promptTokens: prompt, completionTokens: completion))
        } else if isLocal {
            cost = 0
        }
        return Estimate(
            chunks: chunks.count, calls: calls, promptTokens: prompt, completionTokens: completion, cost: cost,
            currency: price?.currency)
    }
}
