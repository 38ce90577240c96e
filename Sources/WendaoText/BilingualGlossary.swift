public import Foundation

/// English words and phrases with their Chinese renderings, for questions asked in English about
/// Chinese documents when no model can translate them.
///
/// The table is derived from CC-CEDICT (CC BY-SA 4.0) by `scripts/make-glossary.py` at set-up and read
/// from the models folder (``file(environment:)``): every English
/// sense of at most three words lists the Simplified Chinese words that have it, most specific
/// first. ``renderings(of:)`` finds the longest phrases of a question in it (`cash on delivery`
/// before `cash`), trying the base form of inflected words (`charges` → `charge`, `kept` is not
/// reduced). Which rendering fits is left to the caller, who knows the documents: the knowledge base
/// keeps those its index contains.
///
/// ```swift
/// BilingualGlossary.renderings(of: "What temperature does the chilled service keep?")
/// // [("temperature", ["冷热度数", "温度", …]), ("chilled", […]), ("service", ["服务", …]), ("keep", […])]
/// ```
public enum BilingualGlossary {
    /// An English word or phrase of a text and its Chinese renderings.
    public struct Rendering: Sendable, Equatable {
        /// The phrase as matched (lowercased, base form).
        public var english: String
        /// Chinese words with that sense, most specific first.
        public var chinese: [String]
    }

    /// Where the glossary is read from: `$WENDAO_GLOSSARY`, else `glossary/en-zh.tsv` in the models
    /// folder (`$WENDAO_MODELS`, default `~/.cache/wendao/models`). `scripts/make-glossary.py` makes it
    /// there from CC-CEDICT (it is that dictionary's data, under its licence, and is not shipped).
    public static func file(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let f = environment["WENDAO_GLOSSARY"], !f.isEmpty { return URL(fileURLWithPath: f) }
        let models =
            environment["WENDAO_MODELS"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0, isDirectory: true) }
            ?? (environment["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser)
            .appendingPathComponent(".cache/wendao/models", isDirectory: true)
        return models.appendingPathComponent("glossary/en-zh.tsv")
    }

    /// Whether a glossary was found (without one, English questions get no Chinese renderings).
    public static var isAvailable: Bool { !table.isEmpty }

    /// The glossary, read on first use (about 70,000 phrases); empty when there is none.
    static let table: [String: [String]] = {
        guard let data = FileManager.default.contents(atPath: file().path) else { return [:] }
        var t: [String: [String]] = [:]
        t.reserveCapacity(72_000)
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let tab = line.firstIndex(of: "\t") else { continue }
            t[String(line[..<tab])] = line[line.index(after: tab)...].split(separator: " ").map(String.init)
        }
        return t
    }()

    /// Words that only shape an English question; never looked up alone.
    static let functionWords: Set<String> = [
        "a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "about", "as", "is",
        "are", "was", "were", "be", "been", "am", "do", "does", "did", "i", "you", "we", "they", "he", "she",
        "it", "my", "your", "our", "their", "me", "us", "them", "this", "that", "these", "those", "what",
        "which", "who", "whom", "how", "when", "where", "why", "can", "could", "will", "would", "should",
        "shall", "may", "might", "must", "have", "has", "had", "and", "or", "if", "then", "than", "there",
        "any", "some", "much", "many", "per", "each", "so", "still", "just", "also", "please", "tell", "get",
        "not", "no", "yes", "there's", "it's", "i'm", "what's", "how's", "don't", "doesn't", "can't", "i'd",
        "i've", "you're", "let", "know", "want", "need", "like", "one", "anything", "something", "way",
    ]

    /// The Chinese renderings of the English words and phrases of `text`, in text order; words the
    /// glossary does not know are skipped, and so are function words.
    public static func renderings(of text: String) -> [Rendering] {
        let words = englishWords(text)
        var out: [Rendering] = []
        var i = 0
        while i < words.count {
            var matched = false
            for n in stride(from: min(3, words.count - i), through: 2, by: -1) {
                let slice = Array(words[i..<(i + n)])
                // A phrase must not start or end with a function word ("cash on delivery" is fine).
                guard !functionWords.contains(slice[0]), !functionWords.contains(slice[n - 1]) else { continue }
                if let r = lookup(phrase: slice) {
                    out.append(r)
                    i += n
                    matched = true
                    break
                }
            }
            if matched { continue }
            let w = words[i]
            if !functionWords.contains(w), w.count > 1, let r = lookup(phrase: [w]) { out.append(r) }
            i += 1
        }
        return out
    }

    /// True when `text` is mainly English: more Latin letters than CJK characters, and at least
    /// two English words.
    public static func isMainlyEnglish(_ text: String) -> Bool {
        var latin = 0
        var cjk = 0
        for u in text.unicodeScalars {
            if (u.value >= 0x41 && u.value <= 0x5A) || (u.value >= 0x61 && u.value <= 0x7A) {
                latin += 1
            } else if u.value >= 0x3400 && u.value <= 0x9FFF {
                cjk += 1
            }
        }
        return latin >= 6 && cjk * 3 < latin
    }

    static func lookup(phrase: [String]) -> Rendering? {
        let head = phrase.dropLast().joined(separator: " ")
        for last in baseForms(phrase[phrase.count - 1]) {
            let key = head.isEmpty ? last : head + " " + last
            if let zh = table[key], !zh.isEmpty { return Rendering(english: key, chinese: zh) }
            // Hyphenated compounds are split into words; the dictionary keeps some whole
            // ("e-cigarette").
            if phrase.count == 2, let zh = table[phrase[0] + "-" + last], !zh.isEmpty {
                return Rendering(english: key, chinese: zh)
            }
        }
        return nil
    }

    /// The word and its likely base forms: plural, past and -ing endings removed.
    static func baseForms(_ w: String) -> [String] {
        var forms = [w]
        func add(_ s: String) { if s.count >= 2 && !forms.contains(s) { forms.append(s) } }
        if w.hasSuffix("'s") { add(String(w.dropLast(2))) }
        if w.hasSuffix("ies") { add(String(w.dropLast(3)) + "y") }
        if w.hasSuffix("es") { add(String(w.dropLast(2))) }
        if w.hasSuffix("s") && !w.hasSuffix("ss") { add(String(w.dropLast())) }
        if w.hasSuffix("ied") { add(String(w.dropLast(3)) + "y") }
        if w.hasSuffix("ed") {
            add(String(w.dropLast(2)))
            add(String(w.dropLast()))
        }
        if w.hasSuffix("ing") {
            add(String(w.dropLast(3)))
            add(String(w.dropLast(3)) + "e")
        }
        // Comparatives and superlatives: heavier → heavy, larger → large, cheapest → cheap.
        if w.count > 4 {
            if w.hasSuffix("ier") { add(String(w.dropLast(3)) + "y") }
            if w.hasSuffix("iest") { add(String(w.dropLast(4)) + "y") }
            if w.hasSuffix("er") {
                add(String(w.dropLast(2)))
                add(String(w.dropLast()))
            }
            if w.hasSuffix("est") {
                add(String(w.dropLast(3)))
                add(String(w.dropLast(2)))
            }
        }
        // British spellings: the dictionary's senses are written in American English
        // (jewellery → jewelry, neighbouring → neighbour → neighbor).
        for f in forms {
            for (british, american) in [("ellery", "elry"), ("our", "or"), ("ise", "ize"), ("tre", "ter")]
            where f.hasSuffix(british) && f.count > british.count + 1 {
                add(String(f.dropLast(british.count)) + american)
            }
        }
        return forms
    }

    /// Lowercased English words of `text` (letters, digits and inner apostrophes).
    static func englishWords(_ text: String) -> [String] {
        var words: [String] = []
        var cur = String.UnicodeScalarView()
        func flush() {
            if !cur.isEmpty {
                var w = String(cur).lowercased()
                while w.hasSuffix("'") { w.removeLast() }
                if !w.isEmpty { words.append(w) }
                cur = String.UnicodeScalarView()
            }
        }
        for u in text.unicodeScalars {
            let v = u.value
            let letter = (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
            let digit = v >= 0x30 && v <= 0x39
            // Hyphens separate words ("cold-chain" is looked up as "cold chain").
            if letter || digit || ((v == 0x27 || v == 0x2019) && !cur.isEmpty) {
                cur.append(v == 0x2019 ? "'" : u)
            } else {
                flush()
            }
        }
        flush()
        return words
    }
}
