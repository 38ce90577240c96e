import Foundation
public import WendaoCore
import WendaoText

/// A curated answer that matched a question.
public struct CuratedMatch: Sendable, Equatable {
    /// The entry.
    public var entry: CuratedAnswerRecord
    /// 1 for a normalised exact match, else the content overlap (0…1).
    public var similarity: Double
    /// Whether the question equals the entry's question once normalised.
    public var exact: Bool
}

/// Matches a question against curated questions: a normalised exact match, or a close paraphrase.
///
/// A paraphrase is judged on the questions' *content*: the question frame is removed first (Chinese
/// question words and particles such as 请问 怎么 如何 可以 吗 的; English frames such as "is it
/// possible to", "am I allowed to" besides the analyzer's stopwords), then each question becomes the
/// set of its Chinese characters and its English word stems. The overlap is the smaller of the two
/// shares: how much of the curated question the asked one contains, and how much of the asked one the
/// curated question contains. The best entry must reach ``minimumSimilarity`` and lead the runner-up
/// by ``minimumLead``.
///
/// A wrong curated answer is worse than none, so the threshold was set above every unrelated
/// question of the measurement set (same topic words, another intent: `运费怎么算` against
/// `保价费怎么算？`, `快递破损怎么理赔` against `快递丢了怎么理赔？`, "How much does it cost to ship a
/// power bank?" against "Can I ship a power bank?"); paraphrases that change the content words
/// (`客服热线` for `客服电话`, "package" for "parcel") are not caught — see `CuratedMatcherTests`
/// for the figures.
public struct CuratedMatcher: Sendable {
    /// Least content overlap for a paraphrase.
    public var minimumSimilarity = 0.8
    /// Least lead over the second-best entry (two near-equal entries: neither is sure).
    public var minimumLead = 0.05

    /// Creates a matcher with the measured thresholds.
    public init() {}

    /// The key two questions share when they are the same question: Unicode compatibility form
    /// (full-width letters and digits folded), lower case, letters and digits only (punctuation,
    /// spaces and symbols dropped), so `退货怎么办？` and `退货 怎么办` are one question.
    public static func normalized(_ question: String) -> String {
        let folded = question.precomposedStringWithCompatibilityMapping.lowercased()
        var out = String.UnicodeScalarView()
        for s in folded.unicodeScalars
        where s.properties.isAlphabetic || s.properties.generalCategory == .decimalNumber {
            out.append(s)
        }
        return String(out)
    }

    /// Chinese question words and particles, longest first: they frame a question, they are not
    /// what it is about.
    static let chineseFrame: [String] = [
        "想问一下", "我想知道", "可不可以", "什么时候", "请问", "请教", "想问", "问一下", "我想", "我要", "怎么样",
        "怎么办", "怎么", "怎样", "如何", "什么", "为什么", "是不是", "是否", "能不能", "可以", "能否", "能够", "可否",
        "有没有", "多少", "哪些", "哪个", "哪里", "哪儿", "一下", "你们", "我们", "吗", "呢", "吧", "啊", "呀", "了", "的",
        "是", "要", "能", "哪", "几", "我", "你", "您", "请", "不",
    ]

    /// English question frames the analyzer's stopwords do not cover.
    static let englishFrame: Set<String> = [
        "possible", "possibly", "allowed", "allow", "able", "please", "tell", "know", "want", "like", "need",
    ]

    /// The content of a question: its Chinese characters and English word stems, frame removed.
    public static func content(_ question: String) -> Set<String> {
        var text = question.precomposedStringWithCompatibilityMapping.lowercased()
        for w in chineseFrame { text = text.replacingOccurrences(of: w, with: " ") }
        let words = text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        text = words.filter { !englishFrame.contains($0) }.joined(separator: " ")
        var out = Set<String>()
        for token in contentAnalyzer.tokens(text) {
            let scalars = token.unicodeScalars
            // CJK pairs are left out: the characters carry the content, and a pair across a word
            // boundary (`费怎`) would make two questions of the same shape look alike.
            if scalars.count > 1, scalars.contains(where: { $0.value >= 0x2E80 }) { continue }
            out.insert(token)
        }
        return out
    }

    static let contentAnalyzer = Analyzer(cjkMode: .unigramsAndBigrams)

    /// The smaller of the two shares of content each question has of the other (0…1).
    public static func similarity(_ a: Set<String>, _ b: Set<String>) -> Double {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        let shared = Double(a.intersection(b).count)
        return min(shared / Double(a.count), shared / Double(b.count))
    }

    /// The entry that answers `question`, or nil; `entries` carry their normalised key and content.
    public func match(
        _ question: String, entries: [(entry: CuratedAnswerRecord, key: String, content: Set<String>)]
    ) -> CuratedMatch? {
        guard !entries.isEmpty else { return nil }
        let key = Self.normalized(question)
        guard !key.isEmpty else { return nil }
        if let hit = entries.first(where: { $0.key == key }) {
            return CuratedMatch(entry: hit.entry, similarity: 1, exact: true)
        }
        let q = Self.content(question)
        guard !q.isEmpty else { return nil }
        var best: (CuratedAnswerRecord, Double)?
        var second = 0.0
        for e in entries {
            let s = Self.similarity(q, e.content)
            if let b = best, s <= b.1 {
                second = max(second, s)
            } else {
                if let b = best { second = max(second, b.1) }
                best = (e.entry, s)
            }
        }
        guard let (entry, s) = best, s >= minimumSimilarity, s - second >= minimumLead else { return nil }
        return CuratedMatch(entry: entry, similarity: s, exact: false)
    }
}
