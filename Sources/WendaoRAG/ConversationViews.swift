import Foundation
public import WendaoCore

/// A conversation as `wendao conversations list --json` and the HTTP API list it.
public struct ConversationSummary: Sendable, Encodable, Equatable {
    /// Who started it.
    public struct Caller: Sendable, Encodable, Equatable {
        /// `admin`, `local` or `key`.
        public var kind: String
        /// The key's id (keys only).
        @ExplicitNull public var key_id: Int64? = nil
        /// `admin`, `local` or the key's name (never the key).
        public var name: String
    }
    /// Stable numeric id.
    public var id: Int64
    /// The knowledge base asked.
    public var kb: String
    /// The first question, shortened.
    public var title: String
    /// Creation time (ISO 8601).
    public var created_at: String
    /// Time of the last turn (ISO 8601).
    public var updated_at: String
    /// Who started it.
    public var caller: Caller
    /// Number of turns.
    public var turns: Int
    /// Turns answered "not found".
    public var not_found: Int
    /// Turns rated thumbs down.
    public var thumbs_down: Int

    /// The summary of `c`, whose knowledge base is named `kb`.
    public init(_ c: ConversationRecord, kb: String) {
        id = c.id
        self.kb = kb
        title = c.title
        created_at = ConversationSummary.iso(c.createdAt)
        updated_at = ConversationSummary.iso(c.updatedAt)
        let kind =
            switch c.caller {
            case .admin: "admin"
            case .local: "local"
            case .key: "key"
            case .user: "user"
            }
        caller = Caller(kind: kind, key_id: c.caller.keyID, name: c.caller.name)
        turns = c.turnCount
        not_found = c.notFoundCount
        thumbs_down = c.thumbsDownCount
    }

    /// A filter time: a date (`2026-12-06`, UTC: its start, or with `endOfDay` the start of the next
    /// day) or an RFC 3339 date-time (`2026-12-06T08:00:00Z`, `…T08:00:00.5+08:00`), as seconds since
    /// 1970; nil when `text` is neither. Exactly what ``timePattern`` admits is read (a day past the
    /// end of its month rolls over into the next).
    public static func time(_ text: String, endOfDay: Bool) -> Double? {
        guard text.utf8.count <= 40, let regex = try? Regex(timePattern), text.wholeMatch(of: regex) != nil else {
            return nil
        }
        let u = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int { range.reduce(0) { $0 * 10 + Int(u[$1] - 48) } }
        let days = daysFromCivil(year: number(0..<4), month: number(5..<7), day: number(8..<10))
        var t = Double(days) * 86_400
        guard u.count > 10 else { return t + (endOfDay ? 86_400 : 0) }
        t += Double(number(11..<13) * 3600 + number(14..<16) * 60 + number(17..<19))
        var i = 19
        if u[i] == UInt8(ascii: ".") {
            var scale = 0.1
            i += 1
            while i < u.count, (48...57).contains(u[i]) {
                t += Double(u[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        if u[i] == UInt8(ascii: "Z") || u[i] == UInt8(ascii: "z") { return t }
        let offset = Double(number(i + 1..<i + 3) * 3600 + number(i + 4..<i + 6) * 60)
        return u[i] == UInt8(ascii: "+") ? t - offset : t + offset
    }

    /// The pattern of a filter time (the OpenAPI document states the same).
    public static let timePattern =
        #"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"#
        + #"([Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"#

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The paging cursor after conversation `c` (opaque to clients).
    public static func cursor(after c: ConversationRecord) -> String { "\(c.updatedAt)_\(c.id)" }

    /// The position a ``cursor(after:)`` names, or nil when `text` is not one.
    public static func position(_ text: String) -> (updatedAt: Double, id: Int64)? {
        let parts = text.split(separator: "_")
        guard parts.count == 2, let t = Double(parts[0]), t.isFinite, let id = Int64(parts[1]) else { return nil }
        return (t, id)
    }

    /// A time as ISO 8601 with milliseconds (UTC).
    public static func iso(_ t: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: t))
    }
}

/// A stored turn (a question and its answer, with feedback) as the CLI and the HTTP API show it.
public struct TurnView: Sendable, Encodable, Equatable {
    /// Feedback on a turn.
    public struct Feedback: Sendable, Encodable, Equatable {
        /// `up` or `down`.
        public var rating: String
        /// The asker's note, or null.
        @ExplicitNull public var note: String? = nil
        /// When it was given (ISO 8601).
        public var at: String
    }
    /// Stable numeric id.
    public var id: Int64
    /// Its conversation.
    public var conversation_id: Int64
    /// The question as asked.
    public var question: String
    /// The answer.
    public var answer: String
    /// Whether an answer was found.
    public var found: Bool
    /// `extractive` or `grounded`.
    public var mode: String
    /// The answering model, or null.
    @ExplicitNull public var model: String? = nil
    /// The passages cited.
    public var citations: [Citation]
    /// Words carried from the previous question into retrieval (a follow-up), or null.
    @ExplicitNull public var carried: String? = nil
    /// Warnings of the answer.
    public var warnings: [String]
    /// Time to answer, in milliseconds.
    public var duration_ms: Int
    /// False when the answer was cut short.
    public var complete: Bool
    /// When it was asked (ISO 8601).
    public var created_at: String
    /// The feedback, or null.
    @ExplicitNull public var feedback: Feedback? = nil

    /// The view of `t`.
    public init(_ t: TurnRecord) {
        id = t.id
        conversation_id = t.turn.conversationID
        question = t.turn.question
        answer = t.turn.answer
        found = t.turn.found
        mode = t.turn.mode
        model = t.turn.model
        citations = (try? JSONDecoder().decode([Citation].self, from: Data(t.turn.citationsJSON.utf8))) ?? []
        carried = t.turn.carried
        warnings = t.turn.warnings
        duration_ms = t.turn.durationMilliseconds
        complete = t.turn.complete
        created_at = ConversationSummary.iso(t.turn.createdAt)
        if let r = t.rating {
            feedback = Feedback(
                rating: r > 0 ? "up" : "down", note: t.note, at: ConversationSummary.iso(t.feedbackAt ?? 0))
        }
    }
}

/// The CSV export of conversations (`wendao conversations export`, `GET /api/v1/conversations.csv`):
/// one row per turn, every field quoted, and a field a spreadsheet would read as a formula (starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return) prefixed with `'`.
public enum ConversationCSV {
    /// The column names.
    public static let columns = [
        "conversation_id", "turn_id", "knowledge_base", "caller", "asked_at", "question", "answer", "found", "mode",
        "model", "sources", "duration_ms", "rating", "note", "complete",
    ]
    /// The header line (quoted like every other field).
    public static let header = columns.map(field).joined(separator: ",") + "\r\n"

    /// One field, quoted and neutralised.
    public static func field(_ text: String) -> String {
        var t = text
        if let first = t.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { t = "'" + t }
        return "\"" + t.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The row of turn `t` of conversation `c` (of knowledge base `kb`), ending in CRLF.
    public static func row(_ c: ConversationRecord, _ t: TurnRecord, kb: String) -> String {
        let citations = (try? JSONDecoder().decode([Citation].self, from: Data(t.turn.citationsJSON.utf8))) ?? []
        var sources: [String] = []
        for c in citations where !sources.contains(c.document) { sources.append(c.document) }
        let rating = t.rating.map { $0 > 0 ? "up" : "down" } ?? ""
        let cells = [
            String(c.id), String(t.id), kb, c.caller.name, ConversationSummary.iso(t.turn.createdAt),
            t.turn.question, t.turn.answer, t.turn.found ? "true" : "false", t.turn.mode, t.turn.model ?? "",
            sources.joined(separator: "; "), String(t.turn.durationMilliseconds), rating, t.note ?? "",
            t.turn.complete ? "true" : "false",
        ]
        return cells.map(field).joined(separator: ",") + "\r\n"
    }
}
