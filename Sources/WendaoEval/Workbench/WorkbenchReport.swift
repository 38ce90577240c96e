public import Foundation
import WendaoCore

/// The report of an evaluation run: per variant, the figures over the test set; comparisons between
/// variants with bootstrap confidence intervals; every question with each variant's answer. This is
/// what `wendao eval run --json` prints, and what `--baseline` reads back.
///
/// ```json
/// {"suite": "logistics", "variants": [{"name": "extractive", "metrics": {"accuracy": 0.8, "f1": 0.41, …}}, …],
///  "comparisons": [{"a": "extractive", "b": "concise@openai:m", "metric": "accuracy", "difference": 0.05,
///                   "ci_low": -0.02, "ci_high": 0.12, "significant": false}], "questions": […]}
/// ```
public struct WorkbenchReport: Sendable, Codable {
    /// Report format version.
    public var version = 1
    /// The suite's name.
    public var suite: String
    /// The knowledge base.
    public var kb: String
    /// The test set file name.
    public var testSet: String
    /// When the report was made (ISO 8601).
    public var createdAt: String
    /// The judge's rubric, when a judge scored the answers.
    public var rubric: String?
    /// The judging model.
    public var judgeModel: String?
    /// The variants, in suite order.
    public var variants: [VariantSummary]
    /// Each variant against the first, on the headline metrics.
    public var comparisons: [Comparison]
    /// The judge's pairwise comparison, when the suite asks for one.
    public var pairwise: PairwiseResult?
    /// Why the run stopped early (the cost cap), if it did.
    public var stopped: String?
    /// What this run paid for model calls (nil: no price configured).
    public var spent: Double?
    /// Answers taken over from an earlier run (`--resume`).
    public var resumed: Int
    /// The results file (JSONL).
    public var resultsFile: String
    /// Every question with each variant's answer (the first ``WorkbenchOptions/detailLimit`` questions of a
    /// larger run; the metrics cover them all).
    public var questions: [QuestionResults]
    /// The questions of the run, when ``questions`` holds only the first of them (nil: all are there).
    public var questionsTotal: Int?

    /// One variant's settings and figures.
    public struct VariantSummary: Sendable, Codable {
        /// Its name.
        public var name: String
        /// Its model (`extractive` for the embedded answerer).
        public var model: String
        /// The prompt file and its version.
        public var prompt: PromptFile?
        /// Retrieval settings.
        public var retrieval: RetrievalSettings
        /// Temperature.
        public var temperature: Double
        /// Answer token limit.
        public var maxTokens: Int
        /// The settings' fingerprint.
        public var fingerprint: String
        /// Questions answered (without failures).
        public var answered: Int
        /// Failed answers.
        public var errors: Int
        /// Questions not answered (the run stopped).
        public var notRun: Int
        /// The figures (see ``WorkbenchReport/metricNames``).
        public var metrics: [String: Double]

        enum CodingKeys: String, CodingKey {
            case name, model, prompt, retrieval, temperature, maxTokens = "max_tokens", fingerprint, answered, errors
            case notRun = "not_run", metrics
        }
    }

    /// A difference between two variants on one metric, with its 95 % bootstrap interval.
    public struct Comparison: Sendable, Codable {
        /// The reference variant.
        public var a: String
        /// The variant compared with it.
        public var b: String
        /// The metric.
        public var metric: String
        /// Mean of b − a.
        public var difference: Double
        /// Interval's lower end.
        public var ciLow: Double
        /// Interval's upper end.
        public var ciHigh: Double
        /// Questions compared.
        public var questions: Int
        /// The interval excludes zero.
        public var significant: Bool

        enum CodingKeys: String, CodingKey {
            case a, b, metric, difference, ciLow = "ci_low", ciHigh = "ci_high", questions, significant
        }
    }

    /// A question and every variant's answer to it.
    public struct QuestionResults: Sendable, Codable {
        /// The question.
        public var testCase: EvalCase
        /// Answers by variant name.
        public var results: [String: CellResult]

        enum CodingKeys: String, CodingKey { case testCase = "case", results }
    }

    enum CodingKeys: String, CodingKey {
        case version, suite, kb, testSet = "test_set", createdAt = "created_at", rubric, judgeModel = "judge_model"
        case variants, comparisons, pairwise, stopped, spent, resumed, resultsFile = "results_file", questions
        case questionsTotal = "questions_total"
    }

    /// The metric names, in the order tables show them. Quality metrics are higher-is-better except
    /// `false_refusal`; `*_ms`, tokens and `cost` describe what the answers took.
    public static let metricNames = [
        "accuracy", "gold_contained", "f1", "exact_match", "hit@k", "mrr", "context_recall", "citation_precision",
        "citation_recall", "false_refusal", "correct_refusal", "judge_score", "judge_faithfulness", "judge_relevance",
        "judge_correctness", "judge_unscored", "ttft_p50_ms", "latency_p50_ms", "latency_p95_ms", "prompt_tokens",
        "completion_tokens", "cost", "errors",
    ]

    /// Metrics the regression gate checks: quality, higher is better (and `false_refusal`, lower is better).
    public static let gatedMetrics = [
        "accuracy", "gold_contained", "f1", "exact_match", "hit@k", "mrr", "context_recall", "citation_precision",
        "citation_recall", "correct_refusal", "false_refusal",
    ]

    /// Builds the report of `outcome`; the answers of the first `detailLimit` questions only (nil: all) are
    /// listed question by question.
    public static func make(
        suite: EvalSuite, cases: [EvalCase], outcome: WorkbenchOutcome, resultsFile: URL, detailLimit: Int? = nil
    ) -> WorkbenchReport {
        var byVariant: [String: [String: CellResult]] = [:]
        for r in outcome.results { byVariant[r.variant, default: [:]][r.question] = r }
        let summaries = suite.variants.map { v -> VariantSummary in
            let cells = byVariant[v.name] ?? [:]
            let ok = cases.compactMap { c in cells[c.id].flatMap { $0.error == nil ? $0 : nil } }
            let errors = cells.values.filter { $0.error != nil }.count
            return VariantSummary(
                name: v.name, model: v.model, prompt: v.prompt, retrieval: v.retrieval, temperature: v.temperature,
                maxTokens: v.maxTokens, fingerprint: v.fingerprint, answered: ok.count, errors: errors,
                notRun: cases.count - cells.count,
                metrics: aggregate(
                    ok, cases: Dictionary(uniqueKeysWithValues: cases.map { ($0.id, $0) }), errors: errors))
        }
        var comparisons: [Comparison] = []
        if let first = suite.variants.first {
            for v in suite.variants.dropFirst() {
                for metric in ["accuracy", "f1", "judge_score"] {
                    var a: [Double] = []
                    var b: [Double] = []
                    for c in cases {
                        guard let x = byVariant[first.name]?[c.id], let y = byVariant[v.name]?[c.id],
                            let vx = value(metric, x, c), let vy = value(metric, y, c)
                        else { continue }
                        a.append(vx)
                        b.append(vy)
                    }
                    guard !a.isEmpty else { continue }
                    let d = PairedBootstrap.compare(a: a, b: b, resamples: 1000, seed: suite.seed)
                    comparisons.append(
                        Comparison(
                            a: first.name, b: v.name, metric: metric, difference: d.difference, ciLow: d.low,
                            ciHigh: d.high, questions: d.questions, significant: d.significant))
                }
            }
        }
        let formatter = ISO8601DateFormatter()
        return WorkbenchReport(
            suite: suite.name, kb: suite.knowledgeBase, testSet: suite.testSet.lastPathComponent,
            createdAt: formatter.string(from: Date()), rubric: suite.judge == nil ? nil : AnswerJudge.rubricVersion,
            judgeModel: suite.judge?.model, variants: summaries, comparisons: comparisons, pairwise: outcome.pairwise,
            stopped: outcome.stopped, spent: outcome.spent, resumed: outcome.resumed, resultsFile: resultsFile.path,
            questions: cases.prefix(detailLimit ?? cases.count).map { c in
                QuestionResults(
                    testCase: c,
                    results: Dictionary(
                        uniqueKeysWithValues: suite.variants.compactMap { v in
                            byVariant[v.name]?[c.id].map { (v.name, $0) }
                        }))
            }, questionsTotal: cases.count > (detailLimit ?? cases.count) ? cases.count : nil)
    }

    /// One question's value of `metric` (nil: does not apply, or the answer failed).
    public static func value(_ metric: String, _ r: CellResult, _ c: EvalCase) -> Double? {
        guard r.error == nil, let m = r.metrics else { return nil }
        switch metric {
        case "accuracy": return m.correct
        case "gold_contained": return m.goldContained
        case "f1": return m.f1
        case "exact_match": return m.exactMatch
        case "hit@k": return m.hit
        case "mrr": return m.reciprocalRank
        case "context_recall": return m.contextRecall
        case "citation_precision": return m.citationPrecision
        case "citation_recall": return m.citationRecall
        case "false_refusal": return c.answerable ? (m.refused ? 1 : 0) : nil
        case "correct_refusal": return c.answerable ? nil : (m.refused ? 1 : 0)
        case "judge_score": return r.judge?.score
        case "judge_faithfulness": return r.judge?.faithfulness.map(Double.init)
        case "judge_relevance": return r.judge?.relevance.map(Double.init)
        case "judge_correctness": return r.judge?.correctness.map(Double.init)
        default: return nil
        }
    }

    static func aggregate(_ cells: [CellResult], cases: [String: EvalCase], errors: Int) -> [String: Double] {
        var out: [String: Double] = ["errors": Double(errors)]
        for metric in metricNames {
            let xs = cells.compactMap { r in cases[r.question].flatMap { value(metric, r, $0) } }
            if !xs.isEmpty { out[metric] = xs.reduce(0, +) / Double(xs.count) }
        }
        if cells.contains(where: { $0.judge != nil }) {
            out["judge_unscored"] = Double(cells.filter { $0.judge != nil && $0.judge?.scored == false }.count)
        }
        let metrics = cells.compactMap(\.metrics)
        guard !metrics.isEmpty else { return out }
        out["ttft_p50_ms"] = percentile(metrics.map(\.ttftMs), 0.5)
        out["latency_p50_ms"] = percentile(metrics.map(\.latencyMs), 0.5)
        out["latency_p95_ms"] = percentile(metrics.map(\.latencyMs), 0.95)
        out["prompt_tokens"] = Double(metrics.map(\.promptTokens).reduce(0, +))
        out["completion_tokens"] = Double(metrics.map(\.completionTokens).reduce(0, +))
        let costs = metrics.map(\.cost)
        if !costs.contains(where: { $0 == nil }) { out["cost"] = costs.compactMap { $0 }.reduce(0, +) }
        return out
    }

    /// The `p` quantile of `xs` (nearest rank).
    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return 0 }
        let rank = Int((p * Double(s.count)).rounded(.up))
        return s[min(max(rank - 1, 0), s.count - 1)]
    }

    /// Reads a report written by `wendao eval run --json`.
    public static func read(_ file: URL) throws -> WorkbenchReport {
        guard let data = try? Data(contentsOf: file) else {
            throw WendaoError(.unreadable, "cannot read the baseline \(file.path)")
        }
        do {
            return try JSONDecoder().decode(WorkbenchReport.self, from: data)
        } catch {
            throw WendaoError(
                .invalidArgument, "the baseline \(file.path) is not a report of `wendao eval run --json` (\(error))")
        }
    }

    // MARK: - Regression gate

    /// A metric of a variant that dropped by more than allowed.
    public struct Regression: Sendable, Codable, Equatable {
        /// The variant.
        public var variant: String
        /// The metric.
        public var metric: String
        /// Its value in the baseline.
        public var baseline: Double
        /// Its value now.
        public var current: Double
        /// Ids of the questions whose value got worse.
        public var worse: [String]
    }

    /// The gated metrics of each variant (matched by name) that dropped by more than `maxDrop` since
    /// `baseline` (for `false_refusal`: rose by more), with the questions that got worse.
    public func regressions(against baseline: WorkbenchReport, maxDrop: Double) -> [Regression] {
        var found: [Regression] = []
        let baseQuestions = Dictionary(baseline.questions.map { ($0.testCase.id, $0) }, uniquingKeysWith: { a, _ in a })
        for v in variants {
            guard let b = baseline.variants.first(where: { $0.name == v.name }) else { continue }
            for metric in Self.gatedMetrics {
                guard let now = v.metrics[metric], let before = b.metrics[metric] else { continue }
                let lowerIsBetter = metric == "false_refusal"
                let drop = lowerIsBetter ? now - before : before - now
                guard drop > maxDrop + 1e-12 else { continue }
                var worse: [String] = []
                for q in questions {
                    guard let r = q.results[v.name], let old = baseQuestions[q.testCase.id]?.results[v.name],
                        let x = Self.value(metric, r, q.testCase), let y = Self.value(metric, old, q.testCase)
                    else { continue }
                    if lowerIsBetter ? x > y + 1e-12 : x < y - 1e-12 { worse.append(q.testCase.id) }
                }
                found.append(Regression(variant: v.name, metric: metric, baseline: before, current: now, worse: worse))
            }
        }
        return found
    }
}
