/// The language an answer is written in, detected from the script of the question.
///
/// ```swift
/// AnswerLanguage.detect("首重多少钱？")             // .chinese
/// AnswerLanguage.detect("How much is the fee?")    // .english
/// AnswerLanguage.chinese.notFoundSentence          // "知识库中没有找到答案。"
/// ```
public enum AnswerLanguage: String, Sendable, Codable, Equatable, Hashable, CaseIterable {
    /// Simplified Chinese.
    case chinese = "zh"
    /// English.
    case english = "en"

    /// The language of `text`: Chinese when it has Han (or kana) characters and they are not
    /// outweighed by Latin letters (about four letters make a word, one character usually does),
    /// English otherwise.
    public static func detect(_ text: String) -> AnswerLanguage {
        var han = 0
        var latin = 0
        for u in text.unicodeScalars {
            let v = u.value
            if (0x3040...0x30FF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v)
                || (0xF900...0xFAFF).contains(v) || (0x20000...0x3134F).contains(v)
            {
                han += 1
            } else if (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) {
                latin += 1
            }
        }
        return han > 0 && han * 4 >= latin ? .chinese : .english
    }

    /// The name put into prompts (`{{language}}`): `Chinese (简体中文)` or `English`.
    public var displayName: String {
        switch self {
        case .chinese: "Chinese (简体中文)"
        case .english: "English"
        }
    }

    /// The exact sentence an answer consists of when the knowledge base does not contain it
    /// (`{{not_found}}`).
    public var notFoundSentence: String {
        switch self {
        case .chinese: "知识库中没有找到答案。"
        case .english: "Not found in this knowledge base."
        }
    }

    /// The other language (for cross-lingual retrieval).
    public var other: AnswerLanguage {
        switch self {
        case .chinese: .english
        case .english: .chinese
        }
    }

    /// Whether `text` is a not-found sentence of either language, tolerating surrounding
    /// whitespace, quotes, emphasis and trailing punctuation.
    public static func isNotFoundSentence(_ text: String) -> Bool {
        let key = notFoundKey(text)
        guard !key.isEmpty else { return false }
        return allCases.contains { notFoundKey($0.notFoundSentence) == key }
    }

    /// `text` lowercased, without surrounding whitespace, quotes, emphasis and punctuation.
    private static func notFoundKey(_ text: String) -> String {
        let strip: Set<Unicode.Scalar> = [
            " ", "\t", "\n", "\r", "\u{3000}", ".", "。", "!", "！", "?", "？", "\"", "'", "“", "”", "‘", "’", "「", "」",
            "『", "』", "*", "_", "`", "~", "…",
        ]
        var s = Substring(text.lowercased()).unicodeScalars
        while let f = s.first, strip.contains(f) { s.removeFirst() }
        while let l = s.last, strip.contains(l) { s.removeLast() }
        return String(Substring(s))
    }
}
