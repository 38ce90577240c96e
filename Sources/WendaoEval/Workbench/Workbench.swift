public import Foundation
import Synchronization
public import WendaoCore
public import WendaoModels
public import WendaoRAG

#if canImport(Glibc)
    import Glibc
#endif

/// A knowledge base shared by concurrent answers: searches run one at a time under a lock (they take
/// milliseconds); a query's vector, when the retrieval mode needs one, is awaited outside it. Variants
/// with the same retrieval settings search once per question: results are kept (a few thousand at most)
/// with the time the search took.
public final class KnowledgeAccess: Sendable {
    private let kb: Mutex<KnowledgeBase>
    private let found = Mutex<[String: (GroundedRetrieval, Double)]>([:])
    /// Searches kept at most.
    static let keptSearches = 4096

    /// Runs a search (blocking work) somewhere; nil: on the calling task.
    private let offload: (@Sendable (@escaping @Sendable () -> Void) async -> Void)?

    /// Takes `kb` over (it is used only through this object from now on). With `offload`, the searches
    /// (blocking work) are handed to it, e.g. a server's thread pool, instead of running on the concurrency
    /// pool.
    public init(
        _ kb: sending KnowledgeBase, offload: (@Sendable (@escaping @Sendable () -> Void) async -> Void)? = nil
    ) {
        self.kb = Mutex(kb)
        self.offload = offload
    }

    /// The `topK` best passages for `query` by `mode` (nil: the knowledge base's mode), their relevance
    /// and the extractive answer over them (``GroundedAnswerer/retrieve(_:topK:in:queryVector:mode:)``).
    public func retrieve(_ query: String, topK: Int, mode: RetrievalMode?) async throws -> GroundedRetrieval {
        try await retrieveTimed(query, topK: topK, mode: mode).retrieval
    }

    /// ``retrieve(_:topK:mode:)`` and the seconds the search took (when it was made for an earlier
    /// variant, the time it took then).
    public func retrieveTimed(_ query: String, topK: Int, mode: RetrievalMode?) async throws -> (
        retrieval: GroundedRetrieval, seconds: Double
    ) {
        let key = "\(mode?.rawValue ?? "-")\u{1F}\(topK)\u{1F}\(query)"
        if let kept = found.withLock({ $0[key] }) { return kept }
        let started = ContinuousClock.now
        let plan: (embedder: any TextEmbedder, text: String)? = kb.withLock { kb in kb.denseQuery(query, mode: mode) }
        var vector: [Float]?
        if let plan { vector = try? await plan.embedder.embed([plan.text], as: .query).vectors.first }
        let v = vector
        let search: @Sendable () -> Result<GroundedRetrieval, any Error> = { [self] in
            Result {
                try self.kb.withLock { kb in
                    try GroundedAnswerer.retrieve(query, topK: topK, in: kb, queryVector: v, mode: mode)
                }
            }
        }
        let r: GroundedRetrieval
        if let offload {
            let box = Locked<Result<GroundedRetrieval, any Error>?>(nil)
            await offload { box.withLock { $0 = search() } }
            guard let outcome = box.withLock({ $0 }) else { throw CancellationError() }
            r = try outcome.get()
        } else {
            r = try search().get()
        }
        let seconds = (ContinuousClock.now - started).seconds
        found.withLock { kept in
            if kept.count >= Self.keptSearches { kept.removeAll() }
            kept[key] = (r, seconds)
        }
        return (r, seconds)
    }
}

/// A model the workbench calls, with what it needs to know about it.
public struct ModelBinding: Sendable {
    /// The model (usually a ``CachingChatModel``).
    public var model: any ChatModel
    /// The provider (calls in flight are limited per provider).
    public var provider: String
    /// The configured price, when there is one.
    public var price: ModelPrice?

    /// Creates a binding.
    public init(model: any ChatModel, provider: String, price: ModelPrice?) {
        self.model = model
        self.provider = provider
        self.price = price
    }

    /// The cost of `usage` (0 for a local model without a price; nil when unknown).
    public func cost(_ usage: TokenUsage) -> Double? {
        if let price { return price.cost(of: usage) }
        return provider == ResolvedModel.localProvider ? 0 : nil
    }
}

/// A passage as reports show it.
public struct SourceRef: Sendable, Codable, Equatable {
    /// Its number among the sources (citations) or its rank (retrieval).
    public var n: Int
    /// Document path.
    public var document: String
    /// Section path.
    public var section: String
    /// The text (at most 600 characters).
    public var text: String

    init(n: Int, document: String, section: String, text: String) {
        self.n = n
        self.document = document
        self.section = section
        self.text = text.count > 600 ? String(text.prefix(600)) + "…" : text
    }
}

/// The figures of one answer (nil: does not apply to this question).
public struct CellMetrics: Sendable, Codable, Equatable {
    /// A relevant passage (one holding a gold string, or from a gold document) among those retrieved.
    public var hit: Double?
    /// 1 / the rank of the first relevant passage (0 when none).
    public var reciprocalRank: Double?
    /// Share of the reference's tokens (or of the gold strings) in the retrieved passages.
    public var contextRecall: Double?
    /// The answer holds a gold string (every one for `all`).
    public var goldContained: Double?
    /// F1 against the reference (CMRC 2018 for Chinese, SQuAD v1.1 for English).
    public var f1: Double?
    /// Exact match against the reference.
    public var exactMatch: Double?
    /// Cited sentences supported by their sources.
    public var citationPrecision: Double?
    /// Claims cited with supporting sources.
    public var citationRecall: Double?
    /// The answer said "not found".
    public var refused: Bool
    /// Right: an answerable question answered with its gold fact (or, without gold strings, answered),
    /// an unanswerable one refused.
    public var correct: Double
    /// Milliseconds to the first answer text (retrieval included).
    public var ttftMs: Double
    /// Milliseconds of the whole answer.
    public var latencyMs: Double
    /// Prompt tokens of the answer's calls.
    public var promptTokens: Int
    /// Completion tokens.
    public var completionTokens: Int
    /// Model calls (rewrite, translation, answer).
    public var calls: Int
    /// Of those, served from the cache.
    public var cachedCalls: Int
    /// What the answer's calls cost at the configured price (nil: no price).
    public var cost: Double?
    /// What this run paid (cached calls are free).
    public var spent: Double?

    enum CodingKeys: String, CodingKey {
        case hit, reciprocalRank = "reciprocal_rank", contextRecall = "context_recall"
        case goldContained = "gold_contained", f1, exactMatch = "exact_match"
        case citationPrecision = "citation_precision", citationRecall = "citation_recall", refused, correct
        case ttftMs = "ttft_ms", latencyMs = "latency_ms", promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens", calls, cachedCalls = "cached_calls", cost, spent
    }
}

/// One variant's answer to one question, as written to the results file (one JSON line each).
public struct CellResult: Sendable, Codable, Equatable {
    /// The variant's name.
    public var variant: String
    /// The variant's ``EvalVariant/fingerprint``.
    public var fingerprint: String
    /// The question's id.
    public var question: String
    /// The answer text.
    public var answer: String
    /// False when the answer was "not found".
    public var found: Bool
    /// `model`, `extractive` or `not_found` (model variants).
    public var answeredBy: String?
    /// The sources the answer could cite, numbered.
    public var sources: [SourceRef]
    /// The numbers it cited.
    public var cited: [Int]
    /// The passages retrieved for the question, best first (document and section; no text).
    public var retrieved: [SourceRef]
    /// The figures.
    public var metrics: CellMetrics?
    /// The judge's verdict, when a judge is configured.
    public var judge: AnswerJudge.Verdict?
    /// Why the cell failed (it is counted, and the run goes on).
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case variant, fingerprint, question, answer, found, answeredBy = "answered_by", sources, cited, retrieved
        case metrics, judge, error
    }
}

extension CellResult {
    /// The result without its texts (answer, sources, retrieved passages, the judge's reason): what a large
    /// run keeps in memory for the figures.
    public var slim: CellResult {
        var r = self
        r.answer = ""
        r.sources = []
        r.retrieved = []
        r.cited = []
        r.judge?.reason = ""
        return r
    }
}

/// Progress of a run, reported after each answer.
public struct WorkbenchProgress: Sendable {
    /// Answers done (this run and resumed).
    public var done: Int
    /// Answers in the run.
    public var total: Int
    /// Failed answers so far.
    public var failed: Int
    /// The variant and question just done.
    public var variant: String
    /// The question's id.
    public var question: String
}

/// The options of a run.
public struct WorkbenchOptions: Sendable {
    /// The results file (JSONL, one ``CellResult`` a line).
    public var resultsFile: URL
    /// Keep the results already in the file and answer only the rest.
    public var resume = false
    /// Stop starting answers once this much was spent.
    public var maxCost: Double?
    /// Calls in flight per provider (nil: the suite's).
    public var concurrency: Int?
    /// Called after each answer (from any task).
    public var progress: (@Sendable (WorkbenchProgress) -> Void)?
    /// Answers of the questions from this one on are kept in memory by their figures only (no answer text,
    /// no sources: those are in the results file), so that a run of 100,000 questions stays small (nil: every
    /// answer is kept whole).
    public var detailLimit: Int?

    /// Options writing to `resultsFile`.
    public init(resultsFile: URL) { self.resultsFile = resultsFile }
}

/// What a run produced.
public struct WorkbenchOutcome: Sendable {
    /// Every variant's answer to every question that was answered, in suite order (question, then variant).
    public var results: [CellResult]
    /// Answers taken from the results file (`--resume`).
    public var resumed: Int
    /// Why the run stopped before the end (the cost cap), if it did.
    public var stopped: String?
    /// What this run paid (nil: no price known).
    public var spent: Double?
    /// The pairwise comparison, when the suite asks for one.
    public var pairwise: PairwiseResult?
}

/// A head-to-head comparison of two variants by the judge, positions swapped.
public struct PairwiseResult: Sendable, Codable, Equatable {
    /// The first variant.
    public var a: String
    /// The second variant.
    public var b: String
    /// Questions where both orders preferred `a`.
    public var aWins: Int
    /// Questions where both orders preferred `b`.
    public var bWins: Int
    /// Questions where the orders disagreed or both said tie.
    public var ties: Int
    /// Judge replies that named no winner.
    public var unreadable: Int
    /// `b`'s win rate: (wins + ties / 2) / questions judged.
    public var bWinRate: Double

    enum CodingKeys: String, CodingKey {
        case a, b, aWins = "a_wins", bWins = "b_wins", ties, unreadable, bWinRate = "b_win_rate"
    }
}

/// Runs an ``EvalSuite``: every variant on every question, calls in flight limited per provider,
/// results appended to a JSONL file as they come.
public enum Workbench {
    /// One answer to make.
    struct Cell: Sendable {
        var caseIndex: Int
        var variantIndex: Int
    }

    /// Runs `suite` over `cases`.
    ///
    /// - Parameters:
    ///   - models: the bound model of each model variant, by its `model` name.
    ///   - judge: the judge, when the suite has one.
    ///   - templates: the prompts of the knowledge base (variants replace the system prompt).
    public static func run(
        suite: EvalSuite, cases: [EvalCase], kb: KnowledgeAccess, templates: PromptTemplates,
        models: [String: ModelBinding], judge: ModelBinding?, options: WorkbenchOptions
    ) async throws -> WorkbenchOutcome {
        let detailLimit = options.detailLimit ?? Int.max
        var caseIndex: [String: Int] = [:]
        if detailLimit < cases.count {
            for (i, c) in cases.enumerated() { caseIndex[c.id] = i }
        }
        var done: [String: CellResult] = [:]
        let writer = try ResultsWriter(file: options.resultsFile, resume: options.resume) { r in
            guard r.error == nil else { return }
            let keep = (caseIndex[r.question] ?? 0) < detailLimit
            done[cellKey(r.variant, r.fingerprint, r.question)] = keep ? r : r.slim
        }
        defer { writer.close() }
        var resumed = 0
        var cells: [Cell] = []
        for ci in cases.indices {
            for (vi, v) in suite.variants.enumerated() {
                if done[cellKey(v.name, v.fingerprint, cases[ci].id)] != nil {
                    resumed += 1
                } else {
                    cells.append(Cell(caseIndex: ci, variantIndex: vi))
                }
            }
        }
        let total = cases.count * suite.variants.count
        let state = RunState(done: resumed)
        // Queues by provider.
        var queues: [String: [Cell]] = [:]
        var order: [String] = []
        for c in cells {
            let v = suite.variants[c.variantIndex]
            let provider = v.isExtractive ? EvalSuite.extractiveModel : (models[v.model]?.provider ?? v.model)
            if queues[provider] == nil { order.append(provider) }
            queues[provider, default: []].append(c)
        }
        let limit = max(1, options.concurrency ?? suite.concurrency)
        let variants = suite.variants
        let maxCost = options.maxCost
        let progress = options.progress
        try await withThrowingTaskGroup(of: Void.self) { group in
            for provider in order {
                let queue = WorkQueue(queues[provider] ?? [])
                let workers = provider == EvalSuite.extractiveModel ? 1 : limit
                for _ in 0..<workers {
                    group.addTask {
                        while let cell = queue.next() {
                            if Task.isCancelled { return }
                            if let maxCost, state.spent >= maxCost {
                                state.stop("the cost cap of \(Self.formatCost(maxCost)) was reached")
                                return
                            }
                            let c = cases[cell.caseIndex]
                            let v = variants[cell.variantIndex]
                            let result = await Self.answer(
                                c, variant: v, kb: kb, templates: templates, binding: models[v.model], judge: judge,
                                state: state)
                            guard let result, !Task.isCancelled else { return }
                            writer.append(result)
                            let snapshot = state.finished(cell.caseIndex < detailLimit ? result : result.slim)
                            progress?(
                                WorkbenchProgress(
                                    done: snapshot.done, total: total, failed: snapshot.failed, variant: v.name,
                                    question: c.id))
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        try Task.checkCancellation()
        for r in state.takeResults() { done[cellKey(r.variant, r.fingerprint, r.question)] = r }
        var ordered: [CellResult] = []
        ordered.reserveCapacity(done.count)
        for c in cases {
            for v in suite.variants {
                if let r = done.removeValue(forKey: cellKey(v.name, v.fingerprint, c.id)) { ordered.append(r) }
            }
        }
        done = [:]
        var stopped = state.stopReason
        if let s = stopped {
            stopped = "\(s) after \(ordered.count) of \(total) answers"
        }
        var outcome = WorkbenchOutcome(
            results: ordered, resumed: resumed, stopped: stopped, spent: state.spentKnown ? state.spent : nil,
            pairwise: nil)
        if let judge, let pair = suite.judge?.pairwise, pair.count == 2, stopped == nil {
            outcome.pairwise = try await pairwise(
                pair[0], pair[1], cases: cases, results: ordered, judge: judge, limit: limit)
        }
        return outcome
    }

    static func cellKey(_ variant: String, _ fingerprint: String, _ question: String) -> String {
        variant + "\u{1F}" + fingerprint + "\u{1F}" + question
    }

    static func formatCost(_ c: Double) -> String { String(format: "%.4f", c) }

    /// Answers `c` with `variant`; nil when cancelled.
    static func answer(
        _ c: EvalCase, variant v: EvalVariant, kb: KnowledgeAccess, templates: PromptTemplates,
        binding: ModelBinding?, judge: ModelBinding?, state: RunState
    ) async -> CellResult? {
        var result = CellResult(
            variant: v.name, fingerprint: v.fingerprint, question: c.id, answer: "", found: false, answeredBy: nil,
            sources: [], cited: [], retrieved: [], metrics: nil, judge: nil, error: nil)
        let trace = Trace()
        let recorder = CallRecorder()
        var sources: [Citation] = []
        do {
            if v.isExtractive {
                let (r, seconds) = try await kb.retrieveTimed(
                    c.question, topK: v.retrieval.topK, mode: v.retrieval.mode)
                trace.hits = r.hits
                trace.retrievalSeconds = seconds
                let a = r.extractive
                result.answer = a?.answer ?? AnswerLanguage.detect(c.question).notFoundSentence
                result.found = a?.found ?? false
                sources = a?.citations ?? []
                result.cited = sources.map(\.n)
            } else {
                guard let binding else { throw WendaoError(.invalidArgument, "no model bound for '\(v.model)'") }
                var t = templates
                if let p = v.prompt {
                    t.answerSystem = p.text
                    t.answerSystemSmall = p.text
                }
                var o = GroundedAnswerer.Options()
                o.topK = v.retrieval.topK
                o.maxAnswerTokens = v.maxTokens
                o.maxContextTokens = v.retrieval.maxContextTokens
                o.temperature = v.temperature
                o.answerGuard = v.answerGuard
                let answerer = GroundedAnswerer(model: binding.model, templates: t, options: o)
                let mode = v.retrieval.mode
                let g = try await CallRecorder.$current.withValue(recorder) {
                    try await answerer.answer(
                        c.question,
                        retrieve: { query, k in
                            let (r, seconds) = try await kb.retrieveTimed(query, topK: k, mode: mode)
                            trace.retrievalSeconds += seconds
                            if trace.hits == nil { trace.hits = r.hits }
                            return r
                        }, onEvent: { _ in })
                }
                result.answer = g.answer
                result.found = g.found
                result.answeredBy = g.answeredBy.rawValue
                sources = g.sources
                result.cited = g.citations.map(\.n)
            }
            result.sources = sources.map {
                SourceRef(n: $0.n, document: $0.document, section: $0.section, text: $0.text)
            }
            let hits = trace.hits ?? []
            // The retrieved passages by name only (their texts would make a large run's results heavy).
            result.retrieved = hits.map { SourceRef(n: $0.rank, document: $0.document, section: $0.section, text: "") }
            var m = score(c, answer: result.answer, found: result.found, sources: sources, hits: hits)
            let calls = recorder.calls
            let modelSeconds = calls.map(\.seconds).reduce(0, +)
            let firstText = calls.isEmpty ? 0 : calls.dropLast().map(\.seconds).reduce(0, +) + (calls.last?.ttft ?? 0)
            m.latencyMs = ((v.isExtractive ? trace.retrievalSeconds : trace.retrievalSeconds + modelSeconds) * 1000)
            m.ttftMs = (trace.retrievalSeconds + firstText) * 1000
            let usage = calls.map(\.usage).reduce(TokenUsage.zero, +)
            m.promptTokens = usage.promptTokens
            m.completionTokens = usage.completionTokens
            m.calls = calls.count
            m.cachedCalls = calls.filter(\.cached).count
            if let binding {
                m.cost = binding.cost(usage)
                m.spent = binding.cost(calls.filter { !$0.cached }.map(\.usage).reduce(TokenUsage.zero, +))
                state.spend(m.spent)
            } else {
                m.cost = 0
                m.spent = 0
            }
            result.metrics = m
        } catch {
            if Task.isCancelled || (error as? WendaoError)?.code == .cancelled || error is CancellationError {
                return nil
            }
            result.error = (error as? WendaoError)?.message ?? "\(error)"
            return result
        }
        if let judge {
            let judgeRecorder = CallRecorder()
            do {
                let messages = AnswerJudge.prompt(
                    question: c.question, reference: c.reference ?? c.gold.first, sources: sources,
                    answer: result.answer)
                let reply = try await CallRecorder.$current.withValue(judgeRecorder) {
                    try await judge.model.complete(messages, options: ChatOptions(temperature: 0, maxTokens: 300))
                }
                result.judge = AnswerJudge.parse(reply.text)
            } catch {
                if Task.isCancelled { return nil }
                result.judge = AnswerJudge.Verdict(
                    faithfulness: nil, relevance: nil, correctness: nil,
                    reason: "the judge failed: \((error as? WendaoError)?.message ?? "\(error)")")
            }
            state.spend(judge.cost(judgeRecorder.calls.filter { !$0.cached }.map(\.usage).reduce(TokenUsage.zero, +)))
        }
        return result
    }

    /// The figures of one answer, before latency, tokens and cost.
    static func score(_ c: EvalCase, answer: String, found: Bool, sources: [Citation], hits: [SearchHit]) -> CellMetrics
    {
        var m = CellMetrics(
            hit: nil, reciprocalRank: nil, contextRecall: nil, goldContained: nil, f1: nil, exactMatch: nil,
            citationPrecision: nil, citationRecall: nil, refused: !found, correct: 0, ttftMs: 0, latencyMs: 0,
            promptTokens: 0, completionTokens: 0, calls: 0, cachedCalls: 0, cost: nil, spent: nil)
        if c.answerable {
            // Retrieval.
            if !c.gold.isEmpty || !c.documents.isEmpty {
                let rank = hits.firstIndex { h in
                    c.gold.contains { AnswerScoring.contains(h.text, gold: $0) }
                        || c.documents.contains { d in h.document == d || h.document.hasSuffix("/" + d) }
                }
                m.hit = rank == nil ? 0 : 1
                m.reciprocalRank = rank.map { 1 / Double($0 + 1) } ?? 0
            }
            let context = hits.map(\.text).joined(separator: "\n")
            if let reference = c.reference {
                m.contextRecall = AnswerScoring.contextRecall(reference: reference, context: context)
            } else if !c.gold.isEmpty {
                m.contextRecall =
                    Double(c.gold.filter { AnswerScoring.contains(context, gold: $0) }.count) / Double(c.gold.count)
            }
            // Answer.
            if !c.gold.isEmpty {
                let inAnswer = c.gold.filter { AnswerScoring.contains(answer, gold: $0) }
                let ok = found && (c.all ? inAnswer.count == c.gold.count : !inAnswer.isEmpty)
                m.goldContained = ok ? 1 : 0
                m.correct = ok ? 1 : 0
            } else {
                m.correct = found ? 1 : 0
            }
            if !c.references.isEmpty {
                m.f1 = found ? AnswerScoring.f1(answer, references: c.references) : 0
                m.exactMatch = found ? AnswerScoring.exactMatch(answer, references: c.references) : 0
            }
        } else {
            m.correct = found ? 0 : 1
        }
        if found {
            let s = CitationSupport.assess(answer: answer, sources: sources, question: c.question)
            m.citationPrecision = s.precision
            m.citationRecall = s.recall
        }
        return m
    }

    /// The judge's head-to-head comparison of variants `a` and `b`, asked in both orders.
    static func pairwise(
        _ a: String, _ b: String, cases: [EvalCase], results: [CellResult], judge: ModelBinding, limit: Int
    ) async throws -> PairwiseResult {
        var byKey: [String: CellResult] = [:]
        for r in results where r.error == nil { byKey[r.variant + "\u{1F}" + r.question] = r }
        let pairs: [(EvalCase, String, String)] = cases.compactMap { c in
            guard let x = byKey[a + "\u{1F}" + c.id], let y = byKey[b + "\u{1F}" + c.id] else { return nil }
            return (c, x.answer, y.answer)
        }
        let queue = WorkQueue(Array(pairs.indices))
        let outcomes = Locked<[Int: (String?, String?)]>([:])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, limit) {
                group.addTask {
                    while let i = queue.next() {
                        let (c, x, y) = pairs[i]
                        let options = ChatOptions(temperature: 0, maxTokens: 200)
                        let reference = c.reference ?? c.gold.first
                        let first = try? await judge.model.complete(
                            AnswerJudge.pairwisePrompt(question: c.question, reference: reference, first: x, second: y),
                            options: options)
                        let second = try? await judge.model.complete(
                            AnswerJudge.pairwisePrompt(question: c.question, reference: reference, first: y, second: x),
                            options: options)
                        // In the second order, "A" is variant b.
                        let w1 = first.flatMap { AnswerJudge.parseWinner($0.text) }
                        let w2 = second.flatMap { AnswerJudge.parseWinner($0.text) }.map {
                            $0 == "A" ? "B" : $0 == "B" ? "A" : $0
                        }
                        outcomes.withLock { $0[i] = (w1, w2) }
                    }
                }
            }
            try await group.waitForAll()
        }
        var r = PairwiseResult(a: a, b: b, aWins: 0, bWins: 0, ties: 0, unreadable: 0, bWinRate: 0)
        for (_, pair) in outcomes.withLock({ $0 }) {
            guard let w1 = pair.0, let w2 = pair.1 else {
                r.unreadable += 1
                continue
            }
            if w1 == "A" && w2 == "A" {
                r.aWins += 1
            } else if w1 == "B" && w2 == "B" {
                r.bWins += 1
            } else {
                r.ties += 1
            }
        }
        let judged = r.aWins + r.bWins + r.ties
        r.bWinRate = judged == 0 ? 0 : (Double(r.bWins) + Double(r.ties) / 2) / Double(judged)
        return r
    }
}

/// What one answer's retrieval found (filled by the retrieve closure).
private final class Trace: @unchecked Sendable {
    var hits: [SearchHit]?
    var retrievalSeconds = 0.0
}

/// A value behind a lock, in a class, so that escaping closures can share it.
public final class Locked<T: Sendable>: Sendable {
    private let m: Mutex<T>

    /// Holds `value`.
    public init(_ value: T) { m = Mutex(value) }

    /// Runs `body` with the value, under the lock.
    public func withLock<R: Sendable>(_ body: (inout T) -> R) -> R { m.withLock { body(&$0) } }
}

/// Items handed out one at a time to workers.
public final class WorkQueue<T: Sendable>: Sendable {
    private let items: Mutex<(list: [T], next: Int)>

    /// A queue of `items`, in order.
    public init(_ items: [T]) { self.items = Mutex((items, 0)) }

    /// The next item, or nil when none is left.
    public func next() -> T? {
        items.withLock { s in
            guard s.next < s.list.count else { return nil }
            defer { s.next += 1 }
            return s.list[s.next]
        }
    }
}

/// Shared counters of a run.
final class RunState: Sendable {
    private struct S {
        var done: Int
        var failed = 0
        var spent = 0.0
        var spentKnown = true
        var stop: String?
        var results: [CellResult] = []
    }
    private let s: Mutex<S>

    init(done: Int) { s = Mutex(S(done: done)) }

    var spent: Double { s.withLock { $0.spent } }
    var spentKnown: Bool { s.withLock { $0.spentKnown } }
    var stopReason: String? { s.withLock { $0.stop } }
    /// The results so far, handed over (the state keeps none after this).
    func takeResults() -> [CellResult] {
        s.withLock { s in
            defer { s.results = [] }
            return s.results
        }
    }

    func spend(_ cost: Double?) {
        s.withLock { s in
            if let cost { s.spent += cost } else { s.spentKnown = false }
        }
    }

    func stop(_ reason: String) { s.withLock { if $0.stop == nil { $0.stop = reason } } }

    /// Counts `r`; returns the counts after it.
    func finished(_ r: CellResult) -> (done: Int, failed: Int) {
        s.withLock { s in
            s.done += 1
            if r.error != nil { s.failed += 1 }
            s.results.append(r)
            return (s.done, s.failed)
        }
    }
}

/// The results file: locked against a second run writing it, read back for `--resume`, appended to one
/// line per answer.
final class ResultsWriter: Sendable {
    private let handle: Mutex<FileHandle?>
    private let lockDescriptor: Int32

    /// Opens (locks) `file`; with `resume`, hands each result already in it to `previous`, reading the file a
    /// piece at a time.
    init(file: URL, resume: Bool, previous: (CellResult) -> Void) throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw WendaoError(.storage, "cannot create \(file.deletingLastPathComponent().path)")
        }
        let lockPath = file.path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw WendaoError(.storage, "cannot open \(lockPath)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(fd)
            throw WendaoError(
                .alreadyExists,
                "another run is writing \(file.path) (wait for it, or give this run --results OTHER.jsonl)")
        }
        lockDescriptor = fd
        var brokenLine = false
        if resume, fm.fileExists(atPath: file.path) {
            let decoder = JSONDecoder()
            try? TestSetReader.lines(file) { line, _ in
                if !line.isEmpty, let r = try? decoder.decode(CellResult.self, from: Data(line)) { previous(r) }
            }
            // A run killed in the middle of a line: the next line starts on its own.
            if let handle = try? FileHandle(forReadingFrom: file) {
                if let end = try? handle.seekToEnd(), end > 0 {
                    try? handle.seek(toOffset: end - 1)
                    brokenLine = (try? handle.read(upToCount: 1))?.first != 0x0A
                }
                try? handle.close()
            }
        }
        if !resume || !fm.fileExists(atPath: file.path) {
            guard fm.createFile(atPath: file.path, contents: nil) else {
                flock(fd, LOCK_UN)
                Glibc.close(fd)
                throw WendaoError(.storage, "cannot write \(file.path)")
            }
        }
        guard let h = try? FileHandle(forWritingTo: file) else {
            flock(fd, LOCK_UN)
            Glibc.close(fd)
            throw WendaoError(.storage, "cannot write \(file.path)")
        }
        _ = try? h.seekToEnd()
        if brokenLine { _ = try? h.write(contentsOf: Data([0x0A])) }
        handle = Mutex(h)
    }

    func append(_ r: CellResult) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(r) else { return }
        line.append(0x0A)
        handle.withLock { h in _ = try? h?.write(contentsOf: line) }
    }

    func close() {
        handle.withLock { h in
            _ = try? h?.close()
            h = nil
        }
        flock(lockDescriptor, LOCK_UN)
        Glibc.close(lockDescriptor)
    }
}
