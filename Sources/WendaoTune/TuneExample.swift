import Foundation
public import WendaoCore

/// The kind of question a training example asks about its chunk.
///
/// ```swift
/// QuestionStyle(rawValue: "howto")   // .howTo
/// QuestionStyle.parseList("factual,unanswerable")
/// ```
public enum QuestionStyle: String, Sendable, Codable, CaseIterable, Comparable {
    /// A fact the chunk states (an amount, a time, a rule).
    case factual
    /// How to do something the chunk describes (steps, what to bring).
    case howTo = "howto"
    /// A comparison across two chunks.
    case comparison
    /// A customer's colloquial wording, as typed in a chat window.
    case colloquial
    /// The question in the other language (English for a Chinese chunk, Chinese for an English one).
    case crossLingual = "crosslingual"
    /// A nearby question the chunk does not answer; the target answer is a refusal.
    case unanswerable

    /// Parses a comma-separated list (`factual,howto`); `all` is every style.
    public static func parseList(_ text: String) throws(WendaoError) -> [QuestionStyle] {
        var out: [QuestionStyle] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            if part == "all" { return allCases }
            guard let s = QuestionStyle(rawValue: part) else {
                throw WendaoError(
                    .invalidArgument,
                    "unknown question style '\(part)'; styles: \(allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !out.contains(s) { out.append(s) }
        }
        guard !out.isEmpty else { throw WendaoError(.invalidArgument, "no question style given") }
        return out
    }

    /// Order of declaration.
    public static func < (a: QuestionStyle, b: QuestionStyle) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One training example: a question, the teacher's answer grounded in its chunk(s), and where it came
/// from. Cleaning adds ``status``, ``dropReason``, ``flags``, ``masked`` and ``split``.
public struct TuneExample: Sendable, Codable, Equatable {
    /// Stable id: `c<chunk id>-<style>` (`c42-factual`).
    public var id: String
    /// The question.
    public var question: String
    /// The target answer (the teacher's, citing `[1]`/`[2]`; a refusal for unanswerable questions).
    public var answer: String
    /// A reasoning model's reasoning, kept apart from the answer.
    public var reasoning: String?
    /// The question's style.
    public var style: QuestionStyle
    /// The question's language (`zh`, `en`).
    public var language: String
    /// The chunk ids the answer is grounded in (two for a comparison).
    public var chunks: [Int64]
    /// The chunks' SHA-256 (of the text the teacher saw), so an edited chunk can be noticed.
    public var chunkHashes: [String]
    /// The documents of those chunks.
    public var documents: [String]
    /// The first chunk's section path.
    public var section: String
    /// The teacher model (`provider:model`), or `wendao` for a refusal target written without a call.
    public var teacher: String
    /// The prompt version (`wendao-tune-v1+<hash of the prompts>`).
    public var promptVersion: String
    /// When it was generated (ISO 8601).
    public var createdAt: String
    /// `kept` or `dropped` (after cleaning; nil before).
    public var status: String?
    /// Why it was dropped.
    public var dropReason: String?
    /// Problems noted but not dropped for (`uncited`, `unsupported` with `--unsupported flag`).
    public var flags: [String]
    /// Kinds of personal data masked in it (`phone`, `id_number`, `bank_card`, `email`).
    public var masked: [String]
    /// `train`, `validation` or `test` (kept examples).
    public var split: String?
    /// A reviewer's decision: `approved`, `rejected` or `edited` (nil: not reviewed).
    public var review: String?
    /// The review version (0: as generated; each review adds one, kept in `reviews.jsonl`).
    public var version: Int = 0

    /// Creates an example as generated (not yet cleaned).
    public init(
        id: String, question: String, answer: String, reasoning: String?, style: QuestionStyle, language: String,
        chunks: [Int64], chunkHashes: [String], documents: [String], section: String, teacher: String,
        promptVersion: String, createdAt: String
    ) {
        self.id = id
        self.question = question
        self.answer = answer
        self.reasoning = reasoning
        self.style = style
        self.language = language
        self.chunks = chunks
        self.chunkHashes = chunkHashes
        self.documents = documents
        self.section = section
        self.teacher = teacher
        self.promptVersion = promptVersion
        self.createdAt = createdAt
        self.flags = []
        self.masked = []
    }

    enum CodingKeys: String, CodingKey {
        case id, question, answer, reasoning, style, language, chunks, chunkHashes = "chunk_hashes", documents
        case section, teacher, promptVersion = "prompt_version", createdAt = "created_at", status
        case dropReason = "drop_reason", flags, masked, split, review, version
    }

    /// Decodes the shape ``encode(to:)`` writes (missing lists are empty).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        question = try c.decode(String.self, forKey: .question)
        answer = try c.decode(String.self, forKey: .answer)
        reasoning = try c.decodeIfPresent(String.self, forKey: .reasoning)
        style = try c.decode(QuestionStyle.self, forKey: .style)
        language = try c.decode(String.self, forKey: .language)
        chunks = try c.decode([Int64].self, forKey: .chunks)
        chunkHashes = try c.decodeIfPresent([String].self, forKey: .chunkHashes) ?? []
        documents = try c.decode([String].self, forKey: .documents)
        section = try c.decodeIfPresent(String.self, forKey: .section) ?? ""
        teacher = try c.decode(String.self, forKey: .teacher)
        promptVersion = try c.decode(String.self, forKey: .promptVersion)
        createdAt = try c.decode(String.self, forKey: .createdAt)
        status = try c.decodeIfPresent(String.self, forKey: .status)
        dropReason = try c.decodeIfPresent(String.self, forKey: .dropReason)
        flags = try c.decodeIfPresent([String].self, forKey: .flags) ?? []
        masked = try c.decodeIfPresent([String].self, forKey: .masked) ?? []
        split = try c.decodeIfPresent(String.self, forKey: .split)
        review = try c.decodeIfPresent(String.self, forKey: .review)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 0
    }

    /// True for an example whose target is a refusal.
    public var isRefusalTarget: Bool { style == .unanswerable }

    /// The answer without its `[n]` citation markers (for closed-book training targets).
    public var answerWithoutCitations: String { Self.strippingCitations(answer) }

    /// `text` without `[n]` markers (and the space before them).
    public static func strippingCitations(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == "[" {
                var k = i + 1
                while k < s.count, k - i <= 4, ("0"..."9").contains(s[k]) || s[k] == "," { k += 1 }
                if k > i + 1, k < s.count, s[k] == "]" {
                    while let last = out.last, last == " " { out.removeLast() }
                    i = k + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return String(out).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A chunk's worth of generation, as appended to `raw.jsonl`: the checkpoint. A chunk whose line is in
/// the file is not generated again on resume.
public struct ChunkCheckpoint: Sendable, Codable, Equatable {
    /// The chunk id.
    public var chunk: Int64
    /// The examples written from it.
    public var examples: [TuneExample]
    /// What went wrong (malformed JSON, an empty answer, a failed call), one line each.
    public var failures: [String]
    /// Tokens of the calls made for it (cached calls included).
    public var usage: TokenUsage
    /// What this chunk's calls cost when made (nil: no price known).
    public var cost: Double?
    /// Calls made, and calls replayed from the response cache.
    public var calls: Int
    /// Of those, replayed.
    public var cachedCalls: Int

    enum CodingKeys: String, CodingKey {
        case chunk, examples, failures, usage, cost, calls, cachedCalls = "cached_calls"
    }
}

/// JSON helpers of the studio: sorted keys, slashes unescaped, one line.
enum TuneJSON {
    static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting =
            pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    static func line<T: Encodable>(_ value: T) -> Data {
        var d = (try? encoder().encode(value)) ?? Data("{}".utf8)
        d.append(0x0A)
        return d
    }

    /// A JSON object (from `[String: Any]`) as one line of text.
    static func objectLine(_ o: Any) throws -> String {
        var out = ""
        try write(o, into: &out)
        return out
    }

    /// Compact JSON for the values export builds (strings, numbers, booleans, null, arrays and
    /// dictionaries with string keys), keys sorted, `/` not escaped, other text as UTF-8: the same text
    /// `JSONSerialization` writes with `.sortedKeys` and `.withoutEscapingSlashes`, an order of
    /// magnitude faster on Linux (its sorted keys compare through CFString), which 100,000 examples
    /// notice. Anything else throws.
    static func write(_ value: Any, into out: inout String) throws {
        switch value {
        case let s as String: writeString(s, into: &out)
        case let b as Bool: out += b ? "true" : "false"
        case let i as Int: out += String(i)
        case let i as Int64: out += String(i)
        case let d as Double:
            guard d.isFinite else { throw WendaoError(.invalidArgument, "JSON has no \(d)") }
            out += d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case is NSNull: out += "null"
        // The shapes export builds most (messages, tags) first: casting them to `[String: Any]` or
        // `[Any]` would copy every element.
        case let o as [String: String]:
            out += "{"
            for (n, key) in o.keys.sorted().enumerated() {
                if n > 0 { out += "," }
                writeString(key, into: &out)
                out += ":"
                writeString(o[key]!, into: &out)
            }
            out += "}"
        case let a as [[String: String]]:
            out += "["
            for (n, v) in a.enumerated() {
                if n > 0 { out += "," }
                try write(v, into: &out)
            }
            out += "]"
        case let a as [String]:
            out += "["
            for (n, v) in a.enumerated() {
                if n > 0 { out += "," }
                writeString(v, into: &out)
            }
            out += "]"
        case let o as [String: Any]:
            out += "{"
            for (n, key) in o.keys.sorted().enumerated() {
                if n > 0 { out += "," }
                writeString(key, into: &out)
                out += ":"
                try write(o[key]!, into: &out)
            }
            out += "}"
        case let a as [Any]:
            out += "["
            for (n, v) in a.enumerated() {
                if n > 0 { out += "," }
                try write(v, into: &out)
            }
            out += "]"
        default:
            throw WendaoError(.invalidArgument, "cannot write \(type(of: value)) as JSON")
        }
    }

    /// A JSON string: quotes, backslashes and control characters escaped.
    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        var plain = true
        for u in s.utf8 where u < 0x20 || u == 0x22 || u == 0x5C {
            plain = false
            break
        }
        if plain {
            out += s
        } else {
            for c in s.unicodeScalars {
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case "\u{08}": out += "\\b"
                case "\u{0C}": out += "\\f"
                case _ where c.value < 0x20:
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
    }

    static func now() -> String { Date().formatted(.iso8601) }
}
