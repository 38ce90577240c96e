import Foundation

/// Two runs of a workbench suite compared variant by variant (matched by name): each shared metric's
/// difference (the second run minus the first) over the questions both answered, with a paired bootstrap
/// confidence interval, so that "better" is said only when the interval leaves out zero.
public struct RunComparison: Sendable, Codable, Equatable {
    /// One metric of one variant in both runs.
    public struct Row: Sendable, Codable, Equatable {
        /// The variant (present in both runs).
        public var variant: String
        /// The metric (see ``WorkbenchReport/value(_:_:_:)``).
        public var metric: String
        /// Its mean in the first run, over the shared questions.
        public var first: Double
        /// Its mean in the second run, over the shared questions.
        public var second: Double
        /// `second - first`.
        public var difference: Double
        /// The 95 % interval of the difference (paired bootstrap).
        public var ciLow: Double
        /// Upper end of the interval.
        public var ciHigh: Double
        /// Questions answered (without error) in both runs.
        public var questions: Int
        /// `better`, `worse` or `no_clear_difference` (for `false_refusal`, lower is better).
        public var verdict: String

        enum CodingKeys: String, CodingKey {
            case variant, metric, first, second, difference, ciLow = "ci_low", ciHigh = "ci_high", questions, verdict
        }
    }

    /// The rows, variant by variant in the second run's order, metrics in ``metrics`` order.
    public var rows: [Row]
    /// Variants of one run only.
    public var unmatched: [String]

    /// The metrics compared.
    public static let metrics = ["accuracy", "f1", "exact_match", "hit@k", "false_refusal", "judge_score"]

    /// Compares `second` with `first` (the baseline), resampling `resamples` times with `seed`.
    public static func make(
        first: WorkbenchReport, second: WorkbenchReport, resamples: Int = 1000, seed: UInt64 = 17
    ) -> RunComparison {
        let firstQuestions = Dictionary(
            first.questions.map { ($0.testCase.id, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [Row] = []
        let firstNames = Set(first.variants.map(\.name))
        let secondNames = Set(second.variants.map(\.name))
        for v in second.variants where firstNames.contains(v.name) {
            for metric in metrics {
                var a: [Double] = []
                var b: [Double] = []
                for q in second.questions {
                    guard let y = q.results[v.name], let old = firstQuestions[q.testCase.id],
                        let x = old.results[v.name], let vx = WorkbenchReport.value(metric, x, old.testCase),
                        let vy = WorkbenchReport.value(metric, y, q.testCase)
                    else { continue }
                    a.append(vx)
                    b.append(vy)
                }
                guard !a.isEmpty else { continue }
                let d = PairedBootstrap.compare(a: a, b: b, resamples: resamples, seed: seed)
                let lowerIsBetter = metric == "false_refusal"
                let verdict: String
                if !d.significant {
                    verdict = "no_clear_difference"
                } else {
                    verdict = (d.low > 0) != lowerIsBetter ? "better" : "worse"
                }
                rows.append(
                    Row(
                        variant: v.name, metric: metric, first: a.reduce(0, +) / Double(a.count),
                        second: b.reduce(0, +) / Double(b.count), difference: d.difference, ciLow: d.low,
                        ciHigh: d.high, questions: d.questions, verdict: verdict))
            }
        }
        let unmatched = firstNames.symmetricDifference(secondNames).sorted()
        return RunComparison(rows: rows, unmatched: unmatched)
    }
}
