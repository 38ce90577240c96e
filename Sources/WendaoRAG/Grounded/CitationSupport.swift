/// How well an answer's citations hold up, by the answer guard's own sentence check (``SupportChecker``:
/// the numbers, dates, names and most words of a sentence must be in the sources it cites).
///
/// - **Precision**: of the sentences that cite sources, the share whose cited sources support them.
/// - **Recall**: of the sentences that make a checkable claim, the share that cite sources supporting
///   them.
///
/// Sentences with nothing to check (`不能。`, a bare `[3]`) and the not-found sentence are left out of
/// both. Used by the evaluation workbench; nothing here calls a model.
///
/// ```swift
/// let s = CitationSupport.assess(answer: "首重12元[1]。", sources: sources, question: "首重多少钱？")
/// print(s.precision ?? 0, s.recall ?? 0)
/// ```
public enum CitationSupport {
    /// The counts behind precision and recall.
    public struct Assessment: Sendable, Codable, Equatable {
        /// Sentences that cite at least one source.
        public var citedSentences = 0
        /// Of those, sentences their cited sources support.
        public var supportedCitedSentences = 0
        /// Sentences with a checkable claim.
        public var claims = 0
        /// Of those, claims cited with supporting sources.
        public var supportedClaims = 0

        /// Supported cited sentences / cited sentences (nil when none cites).
        public var precision: Double? {
            citedSentences == 0 ? nil : Double(supportedCitedSentences) / Double(citedSentences)
        }
        /// Supported cited claims / claims (nil when there is no claim).
        public var recall: Double? { claims == 0 ? nil : Double(supportedClaims) / Double(claims) }

        /// No sentences.
        public init() {}
    }

    /// Checks every sentence of `answer` (with `[n]` markers numbering `sources`) against the sources it
    /// cites.
    public static func assess(answer: String, sources: [Citation], question: String) -> Assessment {
        var assembler = SentenceAssembler()
        var sentences = assembler.feed(answer)
        if let rest = assembler.finish() { sentences.append(rest) }
        let checker = SupportChecker(sources: sources, question: question)
        var a = Assessment()
        for sentence in sentences {
            let (body, cited) = markers(in: sentence)
            switch checker.check(body, cited: cited) {
            case .uncheckable, .notFound: continue
            case .supported(_, let changed):
                a.claims += 1
                if !cited.isEmpty {
                    a.citedSentences += 1
                    if !changed {
                        a.supportedCitedSentences += 1
                        a.supportedClaims += 1
                    }
                }
            case .unsupported:
                a.claims += 1
                if !cited.isEmpty { a.citedSentences += 1 }
            }
        }
        return a
    }

    /// The claims of `answer` and how many of them `sources` support, whatever the answer cites: every
    /// sentence is checked against all the sources (the fine-tuning studio's support check, where a
    /// teacher's answer must be grounded in its chunk whether or not it cites it).
    ///
    /// ```swift
    /// let s = CitationSupport.support(of: "首重12元。", sources: [chunk], question: "首重多少钱？")
    /// // s.claims == 1, s.supported == 1
    /// ```
    public static func support(of answer: String, sources: [Citation], question: String) -> (
        claims: Int, supported: Int
    ) {
        var assembler = SentenceAssembler()
        var sentences = assembler.feed(answer)
        if let rest = assembler.finish() { sentences.append(rest) }
        let checker = SupportChecker(sources: sources, question: question)
        let all = sources.map(\.n)
        var claims = 0
        var supported = 0
        for sentence in sentences {
            let (body, _) = markers(in: sentence)
            switch checker.check(body, cited: all) {
            case .uncheckable, .notFound: continue
            case .supported:
                claims += 1
                supported += 1
            case .unsupported: claims += 1
            }
        }
        return (claims, supported)
    }

    /// `sentence` without its `[n]` markers, and the numbers they cite.
    static func markers(in sentence: String) -> (String, [Int]) {
        let s = Array(sentence.unicodeScalars)
        var out = String.UnicodeScalarView()
        var cited: [Int] = []
        var i = 0
        while i < s.count {
            if s[i] == "[" {
                var k = i + 1
                var value = 0
                while k < s.count && FactScanner.isDigit(s[k]) && k - i <= 3 {
                    value = value * 10 + Int(s[k].value - 0x30)
                    k += 1
                }
                if k > i + 1 && k < s.count && s[k] == "]" {
                    if !cited.contains(value) { cited.append(value) }
                    i = k + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return (String(out), cited)
    }
}
