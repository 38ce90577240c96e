import Foundation

/// A follow-up question understood without a model: when a question continues a conversation and
/// is short or elliptical ("那北京呢？", "what about Shanghai?", "多少钱？"), the previous question's
/// topic — its content words, never the answer's — is carried into retrieval at a lower weight than
/// the question's own words, so that "北京" in the follow-up outranks the "上海" it replaces while
/// "运费" still comes from the question before.
///
/// ```swift
/// if let f = FollowUp.detect("那北京呢？", previousQuestion: "上海的运费是多少？", previousTopic: nil) {
///     let answer = try kb.ask("那北京呢？", followUp: f)   // retrieves with "北京" + ½·"上海 运费"
/// }
/// ```
public struct FollowUp: Sendable, Equatable {
    /// The words carried from the earlier question(s), space-separated.
    public var topic: String
    /// The previous question as asked (what it asked for — an amount, a time — carries over too
    /// when the follow-up does not say).
    public var previousQuestion: String

    /// Weight of a carried word in lexical retrieval and in the answer's coverage, relative to a
    /// word of the question itself.
    public static let carriedWeight: Float = 0.5
    /// A question with at most this many content words (English) is elliptical.
    static let maxEnglishContentWords = 2
    /// A question with at most this many content characters (Chinese, Japanese) is elliptical.
    static let maxCJKContentCharacters = 3
    /// The longest topic carried, in characters.
    static let maxTopicCharacters = 200

    /// Creates a follow-up.
    public init(topic: String, previousQuestion: String) {
        self.topic = topic
        self.previousQuestion = previousQuestion
    }

    /// Words that open a question continuing the one before.
    static let openers = [
        "那么", "那", "还有", "另外", "那个", "这个", "它", "它们", "其", "再", "同样", "如果是", "要是",
        "what about", "how about", "and ", "also", "what if", "same for", "then",
    ]
    /// English words that point back at the earlier question's topic.
    static let pointers: Set<String> = [
        "it", "its", "they", "them", "their", "that", "those", "this", "these", "there",
    ]

    /// The follow-up context of `question` after `previousQuestion` (whose own carried topic, if it
    /// was a follow-up itself, is `previousTopic`), or nil when the question stands on its own: it
    /// neither opens like a continuation ("那…", "what about…", "…呢") nor points back ("it",
    /// "that") nor is short enough (≤ 2 English content words, ≤ 3 Chinese characters) to lack a
    /// topic; or when nothing is left to carry.
    public static func detect(_ question: String, previousQuestion: String, previousTopic: String? = nil)
        -> FollowUp?
    {
        let own = contentWords(question)
        let trimmed = question.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters))
            .lowercased()
        let opens = openers.contains { trimmed.hasPrefix($0) } || trimmed.hasSuffix("呢")
        let latin = trimmed.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        let points = latin.contains { pointers.contains($0) }
        let cjk = own.reduce(0) { $0 + $1.unicodeScalars.filter(isCJK).count }
        let words = own.filter { !$0.unicodeScalars.contains(where: isCJK) }.count
        let short = cjk <= maxCJKContentCharacters && words <= maxEnglishContentWords && (cjk == 0 || words == 0)
        guard opens || points || short else { return nil }
        // The earlier topic: the previous question's content words, then what it carried itself.
        let ownText = own.joined(separator: " ").lowercased()
        var carried: [String] = []
        for w in contentWords(previousQuestion) + (previousTopic ?? "").split(separator: " ").map(String.init)
        where !w.isEmpty && !carried.contains(w) && !ownText.contains(w.lowercased()) {
            carried.append(w)
        }
        var topic = ""
        for w in carried {
            guard topic.count + w.count + 1 <= maxTopicCharacters else { break }
            topic += topic.isEmpty ? w : " " + w
        }
        guard !topic.isEmpty else { return nil }
        return FollowUp(topic: topic, previousQuestion: previousQuestion)
    }

    /// The text a dense retriever embeds for a follow-up: the question, then the carried topic.
    public func denseText(_ question: String) -> String { question + " " + topic }

    /// The content words of a question: runs of letters and digits with the question and function
    /// words (什么, 多少, how, the, …) taken out; a Chinese run is cut where a question word was.
    static func contentWords(_ text: String) -> [String] {
        var out: [String] = []
        var run = ""
        func flush() {
            if !run.isEmpty { out += splitRun(run) }
            run = ""
        }
        for ch in text {
            if ch.isLetter || ch.isNumber {
                // A change between CJK and other scripts ends a run.
                if let last = run.last, isCJKCharacter(last) != isCJKCharacter(ch) { flush() }
                run.append(ch)
            } else {
                flush()
            }
        }
        flush()
        return out
    }

    /// One run split at its question and function words.
    private static func splitRun(_ run: String) -> [String] {
        guard let first = run.first, isCJKCharacter(first) else {
            let w = run.lowercased()
            guard !ExtractiveAnswerer.questionWords.contains(w), !englishFunctionWords.contains(w),
                !pointers.contains(w)
            else { return [] }
            return [run]
        }
        // Longest question word first, so that "多少" is taken out whole and not as "多" + "少".
        var pieces = [run]
        for q in chineseQuestionWords {
            pieces = pieces.flatMap { $0.components(separatedBy: q) }
        }
        return pieces.filter { !$0.isEmpty }
    }

    /// Chinese question and function words, longest first (plus the continuation openers).
    private static let chineseQuestionWords: [String] = {
        let words = ExtractiveAnswerer.questionWords.union(openers.filter { $0.unicodeScalars.allSatisfy(isCJK) })
            .filter { $0.unicodeScalars.allSatisfy(isCJK) }
        return words.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
    }()

    /// English words that carry no topic.
    static let englishFunctionWords: Set<String> = [
        "a", "an", "the", "is", "are", "was", "were", "be", "to", "of", "in", "on", "for", "at", "by", "with", "and",
        "or", "about", "from", "if", "i", "we", "you", "my", "our", "your", "me", "us", "than", "as", "so", "also",
        "does",
        "then", "same", "any", "there", "much", "will", "would", "should", "could",
    ]

    private static func isCJK(_ u: Unicode.Scalar) -> Bool {
        (0x2E80...0x9FFF).contains(u.value) || (0xF900...0xFAFF).contains(u.value)
            || (0x20000...0x2FA1F).contains(u.value)
    }

    private static func isCJKCharacter(_ c: Character) -> Bool { c.unicodeScalars.first.map(isCJK) ?? false }
}
