import Foundation

/// Exact match and F1 of an answer against reference answers, the way the standard reading-comprehension
/// evaluations score them:
///
/// - **Chinese** (the reference or the answer holds a CJK ideograph, U+4E00–U+9FA5): the CMRC 2018 evaluation's
///   `mixed_segmentation` — lowercased, its punctuation list removed, every Chinese character a segment and
///   the runs between them split into words — with F1 from the **longest common substring** of the
///   segments, and exact match after removing that punctuation list. The official script splits the
///   non-Chinese runs with NLTK's `word_tokenize`; here they are split at spaces with `, ; ! ? ( ) [ ] " '`
///   and a final `.` cut off as their own tokens, which agrees with it on ordinary text (numbers such as
///   `12.5` stay whole in both).
/// - **English** (otherwise): SQuAD v1.1's `normalize_answer` — lowercased, ASCII punctuation removed,
///   the articles a/an/the removed, whitespace collapsed — with F1 over the bag of tokens.
///
/// Both take the maximum over the references, as the official scripts do. Citation markers (`[1]`) are
/// removed from the prediction first.
///
/// ```swift
/// AnswerScoring.f1("运费是36元", references: ["36 元"])   // CMRC: segments 运 费 是 36 元 vs 36 元 → 0.571…
/// AnswerScoring.exactMatch("The Eiffel Tower", references: ["eiffel tower"])   // SQuAD: 1
/// ```
public enum AnswerScoring {
    /// The normalisation a reference calls for.
    public enum Style: String, Sendable, Codable {
        /// CMRC 2018 (character-level for Chinese).
        case cmrc
        /// SQuAD v1.1 (word-level).
        case squad
    }

    /// CMRC 2018 for a text with a Chinese character, SQuAD otherwise.
    public static func style(of text: String) -> Style {
        text.unicodeScalars.contains { isChineseIdeograph($0) } ? .cmrc : .squad
    }

    /// CMRC 2018 when the prediction or the reference is Chinese ("2-8℃" against a Chinese answer), else SQuAD.
    public static func style(of prediction: String, against reference: String) -> Style {
        style(of: reference) == .cmrc || style(of: prediction) == .cmrc ? .cmrc : .squad
    }

    /// The best F1 of `prediction` over `references` (0 when there are none).
    public static func f1(_ prediction: String, references: [String]) -> Double {
        let p = removingCitationMarkers(prediction)
        return references.map { r in style(of: p, against: r) == .cmrc ? cmrcF1(p, r) : squadF1(p, r) }.max() ?? 0
    }

    /// 1 when `prediction` equals one of `references` after normalisation, else 0.
    public static func exactMatch(_ prediction: String, references: [String]) -> Double {
        let p = removingCitationMarkers(prediction)
        let hit = references.contains { r in
            style(of: p, against: r) == .cmrc
                ? cmrcRemovePunctuation(p) == cmrcRemovePunctuation(r) : squadNormalize(p) == squadNormalize(r)
        }
        return hit ? 1 : 0
    }

    /// Whether `text` contains `gold`, ignoring case, spaces and citation markers ("36元" contains "36 元").
    public static func contains(_ text: String, gold: String) -> Bool {
        let g = squashed(gold)
        return !g.isEmpty && squashed(removingCitationMarkers(text)).contains(g)
    }

    // MARK: - CMRC 2018

    /// The punctuation list of the CMRC 2018 evaluation script (`……` is listed there as one string and
    /// never matches a single character; it is left out).
    static let cmrcPunctuation: Set<Character> = [
        "-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=", "，", "。", "：", "？", "！", "“", "”", "；", "’",
        "《", "》", "·", "、", "「", "」", "（", "）", "－", "～", "『", "』",
    ]

    static func isChineseIdeograph(_ u: Unicode.Scalar) -> Bool { u.value >= 0x4E00 && u.value <= 0x9FA5 }

    /// `mixed_segmentation(text, rm_punc=True)`.
    static func cmrcSegments(_ text: String) -> [String] {
        let lowered = text.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        var out: [String] = []
        var run = ""
        for ch in lowered {
            if cmrcPunctuation.contains(ch) { continue }
            if ch.unicodeScalars.count == 1, let u = ch.unicodeScalars.first, isChineseIdeograph(u) {
                if !run.isEmpty {
                    out += wordTokens(run)
                    run = ""
                }
                out.append(String(ch))
            } else {
                run.append(ch)
            }
        }
        if !run.isEmpty { out += wordTokens(run) }
        return out
    }

    /// Words of a non-Chinese run: split at whitespace, with the punctuation NLTK splits off as tokens of
    /// their own.
    static func wordTokens(_ run: String) -> [String] {
        let split: Set<Character> = [",", ";", "!", "?", "(", ")", "[", "]", "\"", "'"]
        var out: [String] = []
        for word in run.split(whereSeparator: { $0.isWhitespace }) {
            var current = ""
            for ch in word {
                if split.contains(ch) {
                    if !current.isEmpty { out.append(current) }
                    out.append(String(ch))
                    current = ""
                } else {
                    current.append(ch)
                }
            }
            if !current.isEmpty { out.append(current) }
        }
        // A final period is its own token.
        if let last = out.last, last.count > 1, last.hasSuffix("."), !last.dropLast().hasSuffix(".") {
            out[out.count - 1] = String(last.dropLast())
            out.append(".")
        }
        return out
    }

    /// `remove_punctuation(text)` of the CMRC script.
    static func cmrcRemovePunctuation(_ text: String) -> String {
        String(
            text.lowercased().trimmingCharacters(in: .whitespacesAndNewlines).filter { !cmrcPunctuation.contains($0) })
    }

    /// Length of the longest common contiguous run of `a` and `b`.
    static func longestCommonSubstring(_ a: [String], _ b: [String]) -> Int {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        var previous = [Int](repeating: 0, count: b.count + 1)
        var best = 0
        for i in 1...a.count {
            var row = [Int](repeating: 0, count: b.count + 1)
            for j in 1...b.count where a[i - 1] == b[j - 1] {
                row[j] = previous[j - 1] + 1
                best = max(best, row[j])
            }
            previous = row
        }
        return best
    }

    static func cmrcF1(_ prediction: String, _ reference: String) -> Double {
        let r = cmrcSegments(reference)
        let p = cmrcSegments(prediction)
        let common = longestCommonSubstring(r, p)
        guard common > 0 else { return 0 }
        let precision = Double(common) / Double(p.count)
        let recall = Double(common) / Double(r.count)
        return 2 * precision * recall / (precision + recall)
    }

    // MARK: - SQuAD v1.1

    /// `string.punctuation`.
    static let asciiPunctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

    /// `normalize_answer(text)` of the SQuAD v1.1 script, as tokens.
    static func squadTokens(_ text: String) -> [String] {
        let lowered = text.lowercased().filter { !asciiPunctuation.contains($0) }
        // Remove the articles: runs of word characters equal to a/an/the become a space.
        var spaced = ""
        var word = ""
        func flush() {
            if word == "a" || word == "an" || word == "the" { spaced += " " } else { spaced += word }
            word = ""
        }
        for ch in lowered {
            if ch == "_" || ch.isLetter || ch.isNumber {
                word.append(ch)
            } else {
                flush()
                spaced.append(ch)
            }
        }
        flush()
        return spaced.split(whereSeparator: { $0.isWhitespace }).map(String.init)
    }

    static func squadNormalize(_ text: String) -> String { squadTokens(text).joined(separator: " ") }

    static func squadF1(_ prediction: String, _ reference: String) -> Double {
        let p = squadTokens(prediction)
        let r = squadTokens(reference)
        var counts: [String: Int] = [:]
        for t in r { counts[t, default: 0] += 1 }
        var same = 0
        for t in p where (counts[t] ?? 0) > 0 {
            counts[t]! -= 1
            same += 1
        }
        guard same > 0 else { return 0 }
        let precision = Double(same) / Double(p.count)
        let recall = Double(same) / Double(r.count)
        return 2 * precision * recall / (precision + recall)
    }

    // MARK: - Helpers

    /// `text` without `[n]` citation markers.
    public static func removingCitationMarkers(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == "[" {
                var k = i + 1
                while k < s.count, k - i <= 4, s[k].value >= 0x30, s[k].value <= 0x39 { k += 1 }
                if k > i + 1, k < s.count, s[k] == "]" {
                    i = k + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return String(out)
    }

    /// Lowercased, without whitespace.
    static func squashed(_ text: String) -> String {
        String(text.lowercased().unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init))
    }

    /// Tokens for context recall: Chinese characters one by one, other words whole (lowercased,
    /// punctuation removed).
    static func recallTokens(_ text: String) -> [String] {
        var out: [String] = []
        var word = ""
        for ch in text.lowercased() {
            if ch.unicodeScalars.count == 1, let u = ch.unicodeScalars.first, isChineseIdeograph(u) {
                if !word.isEmpty { out.append(word) }
                word = ""
                out.append(String(ch))
            } else if ch.isLetter || ch.isNumber {
                word.append(ch)
            } else {
                if !word.isEmpty { out.append(word) }
                word = ""
            }
        }
        if !word.isEmpty { out.append(word) }
        return out
    }

    /// The share of `reference`'s tokens (Chinese characters, other words; with multiplicity) found in
    /// `context`: how much of the reference answer retrieval put in front of the model.
    public static func contextRecall(reference: String, context: String) -> Double {
        let r = recallTokens(reference)
        guard !r.isEmpty else { return 0 }
        var counts: [String: Int] = [:]
        for t in recallTokens(context) { counts[t, default: 0] += 1 }
        var found = 0
        for t in r where (counts[t] ?? 0) > 0 {
            counts[t]! -= 1
            found += 1
        }
        return Double(found) / Double(r.count)
    }
}
