import Foundation
import WendaoText

/// When a model's answer is checked against its sources before it is shown (see
/// ``GroundedAnswerer/Options/answerGuard``).
///
/// Small models — the ones a private install runs on its own hardware — write fluent sentences that
/// their sources do not say: a temperature of 380 ℃ from a passage about 380 trucks, "yes" to a
/// payment method no document mentions. With the guard on, every sentence is checked as it completes
/// (``SupportChecker``) and only supported ones are shown; when the model's answer is not supported,
/// the extractive answer over the same passages is given instead, and "not found" when neither holds.
///
/// ```swift
/// AnswerGuardMode.auto.isOn(forModel: "local:qwen2.5-0.5b")      // true
/// AnswerGuardMode.auto.isOn(forModel: "ollama:qwen2.5:1.5b")     // true (a size below 4B in its name)
/// AnswerGuardMode.auto.isOn(forModel: "deepseek:deepseek-chat")  // false
/// ```
public enum AnswerGuardMode: String, Sendable, Codable, CaseIterable, Equatable {
    /// On for small models: those run on this machine (`local:…`) and those whose name gives a size
    /// below 4 billion parameters (`…-0.5b`, `…:1.5b`, `…-135m`).
    case auto
    /// Always on.
    case on
    /// Always off: the model's answer is shown as it streams (citations still checked).
    case off

    /// Whether the guard applies to the model `id` (`provider:model`).
    public func isOn(forModel id: String) -> Bool {
        switch self {
        case .on: true
        case .off: false
        case .auto: Self.isSmallModel(id)
        }
    }

    /// Whether `id` names a small model: one run here (`local:`), or one whose name states a size below
    /// 4B parameters (a number followed by `b` or `m` between separators: `qwen2.5-0.5b-instruct`,
    /// `llama3.2:1b`, `smollm2-135m`). A name without a size is not small.
    public static func isSmallModel(_ id: String) -> Bool {
        let lower = id.lowercased()
        if lower.hasPrefix("local:") { return true }
        let name = lower.split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init) ?? lower
        let separators: Set<Character> = ["-", "_", ":", "/", ".", " "]
        // Tokens between separators, but a decimal point inside a number ("0.5b") stays.
        var tokens: [String] = []
        var current = ""
        let chars = Array(name)
        for (i, c) in chars.enumerated() {
            let decimalPoint =
                c == "." && i > 0 && chars[i - 1].isNumber && i + 1 < chars.count && chars[i + 1].isNumber
            if separators.contains(c) && !decimalPoint {
                if !current.isEmpty { tokens.append(current) }
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        for token in tokens {
            guard let last = token.last, last == "b" || last == "m" else { continue }
            let number = token.dropLast()
            guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number)
            else { continue }
            let billions = last == "b" ? value : value / 1000
            if billions > 0 && billions < 4 { return true }
        }
        return false
    }
}

/// What the guard did to a model's answer (``GroundedAnswer/answerGuard``).
///
/// ```json
/// {"checked_sentences": 3, "shown_sentences": 1, "dropped_sentences": 2, "cited_by_guard": 1,
///  "fallback_reason": null}
/// ```
public struct AnswerGuardReport: Sendable, Codable, Equatable {
    /// Sentences of the model's answer that were checked.
    public var checkedSentences = 0
    /// Sentences shown (each supported by the sources it cites).
    public var shownSentences = 0
    /// Sentences not shown: unsupported, repeated, without checkable content, or after the answer was
    /// stopped.
    public var droppedSentences = 0
    /// Shown sentences whose citation the guard added or corrected (the model cited no source, or one
    /// that does not hold the sentence's facts, while another source does).
    public var citedByGuard = 0
    /// Why the model's answer was replaced by the extractive answer (or by "not found"), when it was.
    public var fallbackReason: String?

    /// An empty report.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case checkedSentences = "checked_sentences", shownSentences = "shown_sentences"
        case droppedSentences = "dropped_sentences", citedByGuard = "cited_by_guard"
        case fallbackReason = "fallback_reason"
    }

    /// Encodes every key (an absent reason as null).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(checkedSentences, forKey: .checkedSentences)
        try c.encode(shownSentences, forKey: .shownSentences)
        try c.encode(droppedSentences, forKey: .droppedSentences)
        try c.encode(citedByGuard, forKey: .citedByGuard)
        try c.encode(fallbackReason, forKey: .fallbackReason)
    }
}

// MARK: - Facts

/// A kind of unit a number is stated in: a number in an answer is supported by the same number in a
/// source stated in the same kind of unit, or without a unit (a table whose header names it).
enum UnitClass: String, Sendable, Hashable {
    case money, percent, discount, multiple, temperature, weight, length, volume, energy, duration, date, clock
    case count
}

/// A fact of a sentence that its sources must state: a number (with the kind of unit it is given
/// in), a run of digits (a phone number, a tracking number), or a Latin name or code.
struct Fact: Hashable, Sendable {
    enum Key: Hashable, Sendable {
        /// A number in canonical form (`36`, `0.5`, `8:30`) and its unit's kind.
        case number(String, UnitClass?)
        /// Seven or more digits (separators removed): phone numbers, waybill numbers.
        case digits(String)
        /// A Latin name or code, as its analysed term.
        case name(UInt64)
    }

    var key: Key
    /// The fact as written (for explanations).
    var text: String
}

extension Fact.Key {
    /// The fact without its unit: numbers compare by value alone.
    var value: Fact.Key {
        if case .number(let v, _) = self { return .number(v, nil) }
        return self
    }
}

/// Finds the facts of a text: numbers with their units (in digits or Chinese numerals, full-width
/// or not, `2℃` = `2 °C` = `2度`, `36元` = `36 元`, `2,000` = `2000`), clock times, dates, phone
/// numbers, and Latin names and codes.
enum FactScanner {
    /// Units after a number, longest first within a script; Latin units must end at a word boundary.
    static let units: [(String, UnitClass)] = {
        let list: [(String, UnitClass)] = [
            ("个工作日", .duration), ("工作日", .duration), ("个小时", .duration), ("小时", .duration), ("分钟", .duration),
            ("个月", .duration), ("星期", .duration), ("周", .duration), ("天", .duration), ("秒", .duration),
            ("元", .money), ("块", .money), ("角", .money), ("%", .percent), ("个百分点", .percent), ("折", .discount),
            ("倍", .multiple), ("°c", .temperature), ("°", .temperature), ("度", .temperature), ("公斤", .weight),
            ("千克", .weight), ("斤", .weight), ("克", .weight), ("吨", .weight), ("厘米", .length), ("毫米", .length),
            ("公里", .length), ("千米", .length), ("米", .length), ("毫升", .volume), ("立方米", .volume), ("升", .volume),
            ("点", .clock), ("时", .clock), ("个", .count), ("件", .count), ("票", .count), ("次", .count), ("瓶", .count),
            ("张", .count), ("位", .count), ("台", .count), ("箱", .count), ("包", .count), ("单", .count), ("份", .count),
            ("人", .count), ("名", .count), ("家", .count), ("辆", .count), ("只", .count), ("条", .count), ("层", .count),
            ("working days", .duration), ("working day", .duration), ("business days", .duration),
            ("business day", .duration), ("days", .duration), ("day", .duration), ("hours", .duration),
            ("hour", .duration), ("hrs", .duration), ("hr", .duration), ("minutes", .duration),
            ("minute", .duration), ("mins", .duration), ("min", .duration), ("weeks", .duration), ("week", .duration),
            ("months", .duration), ("month", .duration), ("years", .duration), ("year", .duration),
            ("yuan", .money), ("rmb", .money), ("cny", .money), ("percent", .percent), ("degrees", .temperature),
            ("degree", .temperature), ("kg", .weight), ("kgs", .weight), ("g", .weight), ("grams", .weight),
            ("gram", .weight), ("lb", .weight), ("lbs", .weight), ("cm", .length), ("mm", .length), ("km", .length),
            ("m", .length), ("ml", .volume), ("liters", .volume), ("litres", .volume), ("liter", .volume),
            ("litre", .volume), ("m³", .volume), ("m3", .volume), ("cbm", .volume), ("wh", .energy), ("kwh", .energy),
            ("mah", .energy), ("am", .clock), ("pm", .clock), ("a.m.", .clock), ("p.m.", .clock),
            ("o'clock", .clock), ("pieces", .count), ("piece", .count), ("items", .count), ("item", .count),
            ("parcels", .count), ("parcel", .count), ("bottles", .count), ("bottle", .count), ("times", .multiple),
        ]
        return list.sorted { $0.0.unicodeScalars.count > $1.0.unicodeScalars.count }
            .map { (Array($0.0.unicodeScalars).map { String($0) }.joined(), $0.1) }
    }()

    /// Latin words that are units (never names to check).
    static let unitWords: Set<String> = Set(units.map(\.0).filter { $0.unicodeScalars.allSatisfy { $0.isASCII } })

    static let currencyPrefixes = ["us$", "hk$", "rmb", "cny", "¥", "$", "€", "£"]

    /// `text` in NFKC form (full-width digits and letters to ASCII, `℃` to `°C`), lowercased.
    static func normalise(_ text: String) -> [Unicode.Scalar] {
        Array(text.precomposedStringWithCompatibilityMapping.lowercased().unicodeScalars)
    }

    static func isDigit(_ u: Unicode.Scalar) -> Bool { u.value >= 0x30 && u.value <= 0x39 }
    static func isLatinLetter(_ u: Unicode.Scalar) -> Bool {
        (u.value >= 0x61 && u.value <= 0x7A) || (u.value >= 0x41 && u.value <= 0x5A)
    }

    static let chineseDigits: [Unicode.Scalar: Int] = [
        "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
    ]
    static let chineseMultipliers: [Unicode.Scalar: Int] = ["十": 10, "百": 100, "千": 1000, "万": 10000]

    /// The value of a run of Chinese numerals (`三`, `十二`, `两百五十`, `二零二六`), or nil.
    static func chineseValue(_ s: ArraySlice<Unicode.Scalar>) -> Int? {
        guard !s.isEmpty else { return nil }
        if s.count > 1 && s.allSatisfy({ chineseDigits[$0] != nil }) {
            // Digit by digit: 二零二六.
            return s.reduce(0) { $0 * 10 + (chineseDigits[$1] ?? 0) }
        }
        var total = 0
        var section = 0
        var number = 0
        for u in s {
            if let d = chineseDigits[u] {
                number = d
            } else if let m = chineseMultipliers[u] {
                if m == 10000 {
                    total += (section + number) * 10000
                    section = 0
                } else {
                    section += (number == 0 ? 1 : number) * m
                }
                number = 0
            } else {
                return nil
            }
        }
        return total + section + number
    }

    /// A number in canonical form: no leading zeros, no trailing decimal zeros (`08` → `8`, `1.50` → `1.5`,
    /// `4.00` → `4`).
    static func canonical(_ digits: String) -> String {
        var parts = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        var whole = parts[0]
        while whole.count > 1 && whole.hasPrefix("0") { whole.removeFirst() }
        if whole.isEmpty { whole = "0" }
        guard parts.count == 2 else { return whole }
        while parts[1].hasSuffix("0") { parts[1].removeLast() }
        return parts[1].isEmpty ? whole : whole + "." + parts[1]
    }

    /// The unit right after `i` in `s` (one space allowed before it) and where it ends, with the
    /// year/date rules: `年` after four digits is a date, after other numbers a duration; `月` and
    /// `日`/`号` are dates (`3 个月`, `7 日内` are durations).
    static func unit(after i: Int, in s: [Unicode.Scalar], digitCount: Int) -> (kind: UnitClass, end: Int)? {
        var k = i
        if k < s.count && (s[k] == " " || s[k] == "\u{A0}") { k += 1 }
        guard k < s.count else { return nil }
        let rest = s[k..<min(s.count, k + 16)]
        let restText = String(String.UnicodeScalarView(rest))
        if rest.first == "年" { return (digitCount == 4 ? .date : .duration, k + 1) }
        if rest.first == "月" { return (.date, k + 1) }
        if rest.first == "日" || rest.first == "号" {
            let within = restText.hasPrefix("日内") || restText.hasPrefix("日之内") || restText.hasPrefix("日以内")
            return (within ? .duration : .date, k + 1)
        }
        for (u, cls) in units where restText.hasPrefix(u) {
            let n = u.unicodeScalars.count
            if let last = u.unicodeScalars.last, last.isASCII, isLatinLetter(last) || last == "." {
                // A Latin unit ends at a word boundary ("m" is not "more").
                if n < rest.count, isLatinLetter(rest[rest.startIndex + n]) { continue }
            }
            return (cls, k + n)
        }
        return nil
    }

    /// Whether a currency sign or code comes right before `i` (one space allowed).
    static func hasCurrencyPrefix(before i: Int, in s: [Unicode.Scalar]) -> Bool {
        var b = i
        if b > 0 && s[b - 1] == " " { b -= 1 }
        let before = String(String.UnicodeScalarView(s[max(0, b - 4)..<b]))
        return currencyPrefixes.contains { before.hasSuffix($0) }
    }

    /// The numbers and digit runs of `text`.
    static func numbers(in text: String) -> [Fact] {
        let s = normalise(text)
        var out: [Fact] = []
        var i = 0
        while i < s.count {
            let u = s[i]
            if isDigit(u) {
                // A number must not continue a Latin code ("v1.2", "SA2026…", "CC-02").
                var p = i - 1
                if p >= 0 && (s[p] == "-" || s[p] == "_") { p -= 1 }
                let inCode = p >= 0 && isLatinLetter(s[p])
                // Tokens of digits with inner separators, joined by hyphens.
                var j = i
                var group: [String] = []
                var token = ""
                while j < s.count {
                    let c = s[j]
                    if isDigit(c) {
                        token.unicodeScalars.append(c)
                        j += 1
                    } else if (c == "," || c == "." || c == ":" || c == "/") && j + 1 < s.count && isDigit(s[j + 1])
                        && !token.isEmpty
                    {
                        token.unicodeScalars.append(c)
                        j += 1
                    } else if c == "-" && j + 1 < s.count && isDigit(s[j + 1]) && !token.isEmpty {
                        group.append(token)
                        token = ""
                        j += 1
                    } else if c == " " && j + 1 < s.count && isDigit(s[j + 1]) && !token.isEmpty
                        && token.allSatisfy(\.isNumber) && token.count >= 3 && phoneLike(s, from: j + 1)
                    {
                        // "400 820 5566": groups of a phone number separated by spaces.
                        group.append(token)
                        token = ""
                        j += 1
                    } else {
                        break
                    }
                }
                if !token.isEmpty { group.append(token) }
                defer { i = j }
                if inCode
                    || (j < s.count && (isLatinLetter(s[j]) || s[j] == "_")
                        && unit(after: j, in: s, digitCount: 0) == nil)
                {
                    continue
                }
                let after = unit(after: j, in: s, digitCount: group.last.map { $0.count } ?? 0)
                let written = String(String.UnicodeScalarView(s[i..<(after?.end ?? j)]))
                let allDigits = group.joined()
                let totalDigits = allDigits.unicodeScalars.filter(isDigit).count
                let plain = group.allSatisfy { $0.unicodeScalars.allSatisfy(isDigit) }
                // A date: 2026-04-12, 2026/4/12, 2026.4.12.
                if let date = dateParts(group) {
                    for d in date { out.append(Fact(key: .number(d, .date), text: written)) }
                    continue
                }
                // A phone or waybill number: digit groups, or seven digits or more without a unit.
                if plain && totalDigits >= 7 && (group.count > 1 || after == nil) {
                    out.append(Fact(key: .digits(allDigits), text: written))
                    continue
                }
                let money = hasCurrencyPrefix(before: i, in: s)
                for (k, t) in group.enumerated() {
                    let last = k == group.count - 1
                    for value in values(of: t) {
                        var cls: UnitClass? = last ? after?.kind : nil
                        if value.clock { cls = .clock }
                        if money && k == 0 && cls == nil { cls = .money }
                        out.append(Fact(key: .number(value.text, cls), text: written))
                    }
                }
                continue
            }
            if chineseDigits[u] != nil || chineseMultipliers[u] != nil {
                var j = i
                while j < s.count && (chineseDigits[s[j]] != nil || chineseMultipliers[s[j]] != nil) { j += 1 }
                defer { i = j }
                let percent = i >= 3 && String(String.UnicodeScalarView(s[(i - 3)..<i])) == "百分之"
                let after = unit(after: j, in: s, digitCount: j - i)?.kind
                // A Chinese numeral is a fact only with a unit ("两天", "三公斤"), not in words ("一般",
                // "统一", "万一").
                guard percent || after != nil, let value = chineseValue(s[i..<j]) else { continue }
                // A lone 一 before a measure word is mostly an article ("一个包裹", "一次性").
                if j - i == 1 && u == "一" && (after == .count || after == nil) && !percent { continue }
                let written = String(String.UnicodeScalarView(s[(percent ? i - 3 : i)..<j]))
                out.append(Fact(key: .number(String(value), percent ? .percent : after), text: written))
                continue
            }
            i += 1
        }
        return out
    }

    /// Whether digits from `k` on form a phone-number group (3–4 digits, then a space or a digit run).
    private static func phoneLike(_ s: [Unicode.Scalar], from k: Int) -> Bool {
        var j = k
        while j < s.count && isDigit(s[j]) { j += 1 }
        return (3...4).contains(j - k)
    }

    /// The canonical values of one token: one number, a clock time, or the parts of a list.
    private static func values(of token: String) -> [(text: String, clock: Bool)] {
        if token.contains(":") {
            let parts = token.split(separator: ":").map(String.init)
            guard parts.count >= 2 else { return [] }
            let hour = canonical(parts[0])
            return [(parts[1] == "00" ? hour : hour + ":" + parts[1], true)]
        }
        if token.contains("/") {
            return token.split(separator: "/").map { (canonical(String($0)), false) }
        }
        if token.contains(",") {
            let parts = token.split(separator: ",").map(String.init)
            // Thousands separators: 2,000 and 12,345.50 (groups of three after the first).
            let groups = parts.dropFirst().map { $0.split(separator: ".", maxSplits: 1)[0] }
            if parts.count > 1 && (1...3).contains(parts[0].count) && groups.allSatisfy({ $0.count == 3 }) {
                return [(canonical(parts.joined()), false)]
            }
            return parts.map { (canonical($0), false) }
        }
        if token.filter({ $0 == "." }).count > 1 {
            return token.split(separator: ".").map { (canonical(String($0)), false) }
        }
        return [(canonical(token), false)]
    }

    /// Year, month and day of a date written with `-`, `/` or `.` between its parts.
    private static func dateParts(_ group: [String]) -> [String]? {
        var parts = group
        if parts.count == 1 {
            for sep: Character in ["/", "."] where parts[0].contains(sep) {
                parts = parts[0].split(separator: sep).map(String.init)
                break
            }
        }
        guard parts.count == 3, parts[0].count == 4, parts.allSatisfy({ $0.allSatisfy(\.isNumber) }),
            let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month), (1...31).contains(day),
            parts[0].hasPrefix("19") || parts[0].hasPrefix("20")
        else { return nil }
        return [canonical(parts[0]), String(month), String(day)]
    }

    /// The Latin names and codes of `text` that a source must contain: codes with digits
    /// (`SVC-CC-02`); in a mainly Chinese text every Latin word (`PayPal`, `App`); in an English text
    /// words with a capital inside or after the first word (`WeChat`, `SMS`, `Alipay`). Units are not
    /// names.
    static func names(in text: String, mainlyLatin: Bool, analyzer: Analyzer) -> [Fact] {
        let s = Array(text.precomposedStringWithCompatibilityMapping.unicodeScalars)
        var out: [Fact] = []
        var i = 0
        var sentenceStart = true
        while i < s.count {
            guard isLatinLetter(s[i]) else {
                if s[i] == "." || s[i] == "!" || s[i] == "?" || s[i] == ":" || s[i] == "\n" { sentenceStart = true }
                i += 1
                continue
            }
            var j = i
            while j < s.count
                && (isLatinLetter(s[j]) || isDigit(s[j])
                    || ((s[j] == "-" || s[j] == "_" || s[j] == "." || s[j] == "'") && j + 1 < s.count
                        && (isLatinLetter(s[j + 1]) || isDigit(s[j + 1]))))
            {
                j += 1
            }
            let word = String(String.UnicodeScalarView(s[i..<j]))
            let startsSentence = sentenceStart
            sentenceStart = false
            i = j
            let lower = word.lowercased()
            if unitWords.contains(lower) || lower.count < 2 { continue }
            let isName: Bool
            if word.unicodeScalars.contains(where: isDigit) || !mainlyLatin {
                isName = true
            } else {
                // An acronym or an inner capital (SMS, WeChat), or a capitalised word inside a sentence.
                let isCapital = { (u: Unicode.Scalar) in u.value >= 0x41 && u.value <= 0x5A }
                let capitals = word.unicodeScalars.filter(isCapital).count
                let initial = word.unicodeScalars.first.map(isCapital) ?? false
                isName = capitals >= 2 || (capitals == 1 && (!initial || !startsSentence))
            }
            guard isName, let term = analyzer.tokens(word).first else { continue }
            out.append(Fact(key: .name(Analyzer.hash(term: term)), text: word))
        }
        return out
    }
}

// MARK: - Sources

/// What one source states, prepared for checking sentences against it.
struct SourceEvidence: Sendable {
    /// The source number.
    var n: Int
    /// Its numbers, each with the kinds of unit it is given in (nil: without a unit).
    var numbers: [String: Set<UnitClass?>] = [:]
    /// Its digits with the separators inside digit runs removed (`400-820-5566` → `4008205566`).
    var digitText = ""
    /// Its terms (section path and text).
    var terms: Set<UInt64> = []
    /// Its text, normalised (for negation cues).
    var text = ""
    /// Mostly Chinese (or Japanese/Korean) characters rather than Latin letters.
    var mainlyCJK = false

    init(n: Int, section: String, text: String, analyzer: Analyzer) {
        self.n = n
        let full = section + "\n" + text
        for f in FactScanner.numbers(in: full) {
            if case .number(let v, let cls) = f.key { numbers[v, default: []].insert(cls) }
        }
        digitText = Self.digits(of: full)
        terms = Set(analyzer.terms(full))
        self.text = String(String.UnicodeScalarView(FactScanner.normalise(full)))
        mainlyCJK = SupportChecker.isMainlyCJK(text)
    }

    /// The text's digit runs with spaces and hyphens inside them removed, runs separated by `|`.
    static func digits(of text: String) -> String {
        let s = FactScanner.normalise(text)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            let u = s[i]
            if FactScanner.isDigit(u) {
                out.append(u)
            } else if (u == "-" || u == " ") && i > 0 && FactScanner.isDigit(s[i - 1]) && i + 1 < s.count
                && FactScanner.isDigit(s[i + 1])
            {
                // A separator inside a digit run.
            } else if out.last != "|" {
                out.append("|")
            }
            i += 1
        }
        return String(out)
    }
}

// MARK: - The check

/// Checks each sentence of a model's answer against the sources it cites.
///
/// A sentence is **supported** by a set of sources when
///
/// 1. every fact it states (``FactScanner``: numbers in the same kind of unit, dates, times, phone
///    numbers, Latin names and codes) is stated by one of them — or by the question (the customer's
///    own "3 公斤");
/// 2. most of its own content terms (Chinese character pairs and English words that are not the
///    question's; ``minimumTermShare``) are in them; when sentence and sources are in different
///    scripts only facts can be compared, and the sentence must state one;
/// 3. one of them is about the question (it covers ``minimumSourceCoverage`` of the question's
///    informative weight, the relevance measure of ``ExtractiveAnswerer``), so a number found in an
///    unrelated passage does not pass;
/// 4. a negation it makes (`不能`, `无法`, `cannot`, …) is made there too;
/// 5. it does not affirm what no document says: two words of the question that the knowledge base does
///    not contain at all ("迅达快运是2026年成立的" when no document mentions 成立), or — for a claim
///    without a fact — words of the question most of which the sources lack: "可以用数字人民币支付运费"
///    is not supported, whatever the sources say about 运费.
///
/// A sentence that cites no source, or cites sources that do not support it, is given the one source
/// that does (a sentence is supported by several sources together only when it cites them). A
/// sentence without a fact and with fewer than two content terms of its own (`不能。`, `Yes.`, the
/// question restated), or a fact without a word (`[3]`, `1.`), cannot be checked and is never shown.
struct SupportChecker: Sendable {
    /// The verdict on one sentence.
    enum Verdict: Equatable {
        /// Supported by the sources numbered in `cited` (``SupportChecker`` added or corrected them
        /// when `changed`).
        case supported(cited: [Int], changed: Bool)
        /// Nothing that can be checked.
        case uncheckable
        /// The not-found sentence.
        case notFound
        /// Not supported, and why.
        case unsupported(String)
    }

    /// The least share of a sentence's own content terms its sources must contain.
    var minimumTermShare: Double
    /// The least share of the question's weight a supporting source must cover (when the question's
    /// coverage measure is known).
    var minimumSourceCoverage: Double
    let sources: [SourceEvidence]
    /// How much of the question each source covers (by number); empty when unknown.
    let sourceCoverage: [Int: Double]
    let questionNumbers: [String: Set<UnitClass?>]
    let questionDigits: String
    let questionTerms: Set<UInt64>
    /// Terms of the question that no passage of the knowledge base contains.
    let unknownTerms: Set<UInt64>
    let analyzer: Analyzer

    /// A checker for `sources` (numbered by their ``Citation/n``), answering `question`.
    /// `questionCoverage` measures how much of the question a text covers (nil: not checked);
    /// `unknownTerms` are the question's terms the knowledge base lacks.
    init(
        sources: [Citation], question: String, minimumTermShare: Double = 0.6, minimumSourceCoverage: Double = 0.3,
        questionCoverage: (@Sendable (String) -> Double)? = nil, unknownTerms: Set<UInt64> = [],
        analyzer: Analyzer = Analyzer()
    ) {
        self.minimumTermShare = minimumTermShare
        self.minimumSourceCoverage = minimumSourceCoverage
        self.analyzer = analyzer
        self.unknownTerms = unknownTerms
        self.sources = sources.map { SourceEvidence(n: $0.n, section: $0.section, text: $0.text, analyzer: analyzer) }
        var coverage: [Int: Double] = [:]
        if let questionCoverage {
            for c in sources { coverage[c.n] = questionCoverage(c.section + "\n" + c.text) }
        }
        sourceCoverage = coverage
        var numbers: [String: Set<UnitClass?>] = [:]
        for f in FactScanner.numbers(in: question) {
            if case .number(let v, let cls) = f.key { numbers[v, default: []].insert(cls) }
        }
        questionNumbers = numbers
        questionDigits = SourceEvidence.digits(of: question)
        questionTerms = Set(Self.contentTokens(question, analyzer: analyzer).map { Analyzer.hash(term: $0) })
    }

    /// Negation cues: a sentence that makes one is supported only by sources that make it too.
    static let negations = [
        "不能", "不可", "不得", "不会", "不用", "不需", "不支持", "不提供", "不收", "不接受", "不予", "无法", "禁止", "没有", "无需",
        "cannot", "can't", "not ", "n't", "never", "no longer",
    ]

    /// Openings that only say where the answer comes from ("根据提供的信息，", "According to the sources,").
    static func strippingPreamble(_ text: String) -> String {
        var t = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        for label in ["答：", "答:", "回答：", "回答:", "answer:", "Answer:"] where t.hasPrefix(label) {
            t = t.dropFirst(label.count).drop { $0 == " " }
        }
        let chineseWords = ["信息", "资料", "来源", "文档", "文章", "原文", "内容", "材料", "知识库", "以上", "上述", "提供"]
        if t.hasPrefix("根据") || t.hasPrefix("依据") || t.hasPrefix("按照"),
            let comma = t.prefix(16).firstIndex(where: { $0 == "，" || $0 == "," }),
            chineseWords.contains(where: { t[..<comma].contains($0) })
        {
            t = t[t.index(after: comma)...]
        }
        let lower = t.lowercased()
        let englishWords = ["source", "information", "document", "context", "text", "passage"]
        if lower.hasPrefix("according to") || lower.hasPrefix("based on"),
            let comma = t.prefix(60).firstIndex(of: ","),
            englishWords.contains(where: { t[..<comma].lowercased().contains($0) })
        {
            t = t[t.index(after: comma)...]
        }
        return t.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Content tokens: Chinese character pairs and English words (stemmed, no stopwords, no units),
    /// without numbers.
    static func contentTokens(_ text: String, analyzer: Analyzer) -> [String] {
        analyzer.tokens(text).filter { t in
            let s = Array(t.unicodeScalars)
            if s.count == 2 && s.allSatisfy({ $0.value >= 0x2E80 }) { return true }
            return s.count >= 2 && s.allSatisfy(FactScanner.isLatinLetter) && !FactScanner.unitWords.contains(t)
        }
    }

    /// Whether `text` has more Chinese (Japanese, Korean) characters than Latin words.
    static func isMainlyCJK(_ text: String) -> Bool {
        var cjk = 0
        var latin = 0
        for u in text.unicodeScalars {
            if u.value >= 0x2E80 && u.properties.isAlphabetic {
                cjk += 1
            } else if FactScanner.isLatinLetter(u) {
                latin += 1
            }
        }
        return cjk * 4 >= latin && cjk > 0
    }

    /// The verdict on `sentence` (its text without citation markers) that cites `cited`.
    func check(_ sentence: String, cited: [Int]) -> Verdict {
        let body = Self.strippingPreamble(sentence)
        if AnswerLanguage.isNotFoundSentence(body) { return .notFound }
        let mainlyCJK = Self.isMainlyCJK(body)
        let facts =
            FactScanner.numbers(in: body) + FactScanner.names(in: body, mainlyLatin: !mainlyCJK, analyzer: analyzer)
        let tokens = Self.contentTokens(body, analyzer: analyzer)
        var seen = Set<String>()
        let allTerms = tokens.filter { seen.insert($0).inserted }
        // The sentence's own words (those it does not take from the question) must come from its sources.
        let terms = allTerms.filter { !questionTerms.contains(Analyzer.hash(term: $0)) }
        // A fact needs words to say what it is ("1 [2]." says nothing); a claim without a fact needs two
        // words of its own.
        if facts.isEmpty ? terms.count < 2 : allTerms.isEmpty { return .uncheckable }
        // A lead-in to a list ("To track your parcel, follow these steps:") claims nothing itself; the
        // items that follow are checked one by one.
        if facts.isEmpty, let last = body.trimmingCharacters(in: .whitespacesAndNewlines).last,
            last == ":" || last == "："
        {
            return .uncheckable
        }
        // A sentence that uses two words of the question no document has ("迅达快运是2026年成立的" when no
        // document mentions 成立), or a claim without a fact that restates the question with words most of
        // which the sources lack ("可以用数字人民币支付运费"), affirms what the sources do not say. (The
        // wording of a number is the fact check's business: "保价五千块以上" may say "5,000 元及以上".)
        let unknown = allTerms.filter { t in
            !t.unicodeScalars.contains {
                FactScanner.chineseDigits[$0] != nil || FactScanner.chineseMultipliers[$0] != nil
            }
                && unknownTerms.contains(Analyzer.hash(term: t))
        }
        if unknown.count >= 2 {
            return .unsupported(
                "it speaks of \(unknown.prefix(3).joined(separator: ", ")), which no document mentions")
        }
        if facts.isEmpty {
            let echoed = allTerms.filter { questionTerms.contains(Analyzer.hash(term: $0)) }
            let absent = echoed.filter { t in
                let h = Analyzer.hash(term: t)
                return !sources.contains { $0.terms.contains(h) }
            }
            if echoed.count >= 2 && absent.count * 2 > echoed.count {
                return .unsupported(
                    "it speaks of \(absent.prefix(3).joined(separator: ", ")), which the sources do not mention")
            }
        }
        let valid = cited.filter { n in sources.contains { $0.n == n } }
        var firstProblem: String?
        if !valid.isEmpty {
            switch support(facts: facts, terms: terms, mainlyCJK: mainlyCJK, body: body, by: valid) {
            case nil: return .supported(cited: valid, changed: false)
            case let problem?: firstProblem = problem
            }
        }
        // Find the source that supports it.
        let hashes = terms.map { Analyzer.hash(term: $0) }
        let overlap: [(n: Int, shared: Int)] = sources.map { s in (s.n, hashes.filter { s.terms.contains($0) }.count) }
        let ranked = overlap.sorted { a, b in a.shared != b.shared ? a.shared > b.shared : a.n < b.n }.map(\.n)
        var bestProblem: String?
        for n in ranked {
            switch support(facts: facts, terms: terms, mainlyCJK: mainlyCJK, body: body, by: [n]) {
            case nil: return .supported(cited: [n], changed: true)
            case let problem?: if bestProblem == nil { bestProblem = problem }
            }
        }
        return .unsupported(firstProblem ?? bestProblem ?? "no source supports it")
    }

    /// Nil when the sources numbered `numbers` support the sentence; else what they lack.
    private func support(facts: [Fact], terms: [String], mainlyCJK: Bool, body: String, by numbers: [Int]) -> String? {
        let chosen = sources.filter { numbers.contains($0.n) }
        let label = numbers.count == 1 ? "source [\(numbers[0])]" : "sources " + numbers.map { "[\($0)]" }.joined()
        for f in facts where !isStated(f, in: chosen) {
            return "it states \(f.text), which \(label) does not"
        }
        let sameScript = chosen.contains { $0.mainlyCJK == mainlyCJK }
        if sameScript, !sourceCoverage.isEmpty,
            !chosen.contains(where: { (sourceCoverage[$0.n] ?? 0) >= minimumSourceCoverage })
        {
            return "\(label) is not about the question"
        }
        if sameScript {
            if !terms.isEmpty {
                let found = terms.filter { t in
                    let h = Analyzer.hash(term: t)
                    return chosen.contains { $0.terms.contains(h) }
                }.count
                if Double(found) < minimumTermShare * Double(terms.count) {
                    return "\(terms.count - found) of its \(terms.count) words are not in \(label)"
                }
            }
        } else if !facts.contains(where: { if case .name = $0.key { false } else { true } }) {
            // Across languages only numbers can be compared.
            return "it is in another language than \(label) and states no number to compare"
        }
        let lower = body.lowercased()
        for cue in Self.negations where lower.contains(cue) {
            if !chosen.contains(where: { $0.text.contains(cue) }) {
                return "it says \"\(cue.trimmingCharacters(in: .whitespaces))\", which \(label) does not"
            }
        }
        return nil
    }

    /// Whether `fact` is stated by one of `sources` (or by the question).
    private func isStated(_ fact: Fact, in sources: [SourceEvidence]) -> Bool {
        switch fact.key {
        case .number(let value, let cls):
            func matches(_ classes: Set<UnitClass?>?) -> Bool {
                guard let classes else { return false }
                guard let cls else { return true }
                return classes.contains(cls) || classes.contains(nil)
            }
            return sources.contains { matches($0.numbers[value]) } || matches(questionNumbers[value])
        case .digits(let d):
            return sources.contains { $0.digitText.contains(d) } || questionDigits.contains(d)
        case .name(let h):
            return sources.contains { $0.terms.contains(h) } || questionTerms.contains(h)
        }
    }
}
