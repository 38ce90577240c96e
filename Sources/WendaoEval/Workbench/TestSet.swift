public import Foundation
import WendaoCore
import WendaoLoaders

/// One question of an evaluation test set.
public struct EvalCase: Sendable, Codable, Equatable {
    /// A stable id (`id` in the file, else `q` + the row number).
    public var id: String
    /// The question.
    public var question: String
    /// The reference answer, when the test set has one (scored by F1 and exact match).
    public var reference: String?
    /// Gold strings: an answer is right when it contains one (all of them when ``all``).
    public var gold: [String]
    /// Gold documents: retrieval hits when it returns a chunk of one (a path or its tail).
    public var documents: [String]
    /// Whether the documents answer it (an unanswerable question should be answered "not found").
    public var answerable: Bool
    /// Every gold string is required, not one of them.
    public var all: Bool
    /// Tags (the `category` field counts as one).
    public var tags: [String]

    /// Creates a case.
    public init(
        id: String, question: String, reference: String? = nil, gold: [String] = [], documents: [String] = [],
        answerable: Bool = true, all: Bool = false, tags: [String] = []
    ) {
        self.id = id
        self.question = question
        self.reference = reference
        self.gold = gold
        self.documents = documents
        self.answerable = answerable
        self.all = all
        self.tags = tags
    }

    /// The reference answers F1 and exact match compare against: the reference, else the gold strings.
    public var references: [String] { reference.map { [$0] } ?? gold }
}

/// Reads test sets: JSONL (one object a line, as the sample's `eval*.jsonl`), CSV or XLSX (a header
/// row, then one question a row; an XLSX workbook's first worksheet).
///
/// Fields: `question` (required), `id`, `reference`, `answers` (or `gold`: gold strings), `documents`,
/// `answerable` (default: true when there is a reference or a gold string), `all`, `tags` (or
/// `category`). In CSV and XLSX, lists are separated by `|` and booleans are `true`/`false`, `yes`/`no`
/// or `1`/`0`.
///
/// JSONL is read in pieces, one line at a time, XLSX one row at a time (the sheet parsed as it
/// inflates); CSV is read whole. Errors name the file, the line or row and the reason.
public enum TestSetReader {
    /// The longest question accepted, in characters.
    public static let maxQuestionCharacters = 16_384

    /// The cases of `file` (`.csv` by extension, JSONL otherwise).
    public static func read(_ file: URL) throws -> [EvalCase] {
        guard FileManager.default.isReadableFile(atPath: file.path) else {
            throw WendaoError(.unreadable, "test set \(file.path) cannot be read (no such file?)")
        }
        var cases: [EvalCase] = []
        var seen = Set<String>()
        try forEach(file) { c in
            guard seen.insert(c.id).inserted else {
                throw WendaoError(
                    .invalidArgument, "test set \(file.lastPathComponent): the id '\(c.id)' is used twice")
            }
            cases.append(c)
        }
        return cases
    }

    /// Calls `body` with each case of `file` in order, reading it a piece at a time (`.csv` and `.xlsx` by
    /// extension, JSONL otherwise): memory stays bounded whatever the file's size (CSV is read whole).
    public static func forEach(_ file: URL, _ body: (EvalCase) throws -> Void) throws {
        guard FileManager.default.isReadableFile(atPath: file.path) else {
            throw WendaoError(.unreadable, "test set \(file.path) cannot be read (no such file?)")
        }
        switch file.pathExtension.lowercased() {
        case "csv": try readCSV(file, body)
        case "xlsx": try readXLSX(file, body)
        default: try readJSONL(file, body)
        }
    }

    /// Calls `body` with each line of `file` (without its newline) and its 1-based number.
    static func lines(_ file: URL, _ body: (Data, Int) throws -> Void) throws {
        guard let handle = try? FileHandle(forReadingFrom: file) else {
            throw WendaoError(.unreadable, "cannot open \(file.path)")
        }
        defer { try? handle.close() }
        var pending = Data()
        var number = 0
        while true {
            let chunk = (try? handle.read(upToCount: 1 << 16)) ?? nil
            guard let chunk, !chunk.isEmpty else { break }
            pending.append(chunk)
            while let nl = pending.firstIndex(of: 0x0A) {
                number += 1
                try body(pending[pending.startIndex..<nl], number)
                pending.removeSubrange(pending.startIndex...nl)
            }
        }
        if !pending.isEmpty {
            number += 1
            try body(pending, number)
        }
    }

    static func readJSONL(_ file: URL, _ emit: (EvalCase) throws -> Void) throws {
        let name = file.lastPathComponent
        try lines(file) { raw, number in
            var line = raw
            if line.last == 0x0D { line = line.dropLast() }
            guard line.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw WendaoError(.invalidArgument, "test set \(name) line \(number): not a JSON object")
            }
            try emit(try makeCase(object, row: number, where: "\(name) line \(number)"))
        }
    }

    static func readCSV(_ file: URL) throws -> [[String]] {
        guard let data = try? Data(contentsOf: file) else { throw WendaoError(.unreadable, "cannot read \(file.path)") }
        guard var text = String(data: data, encoding: .utf8) else {
            throw WendaoError(.unreadable, "test set \(file.lastPathComponent) is not UTF-8 text")
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        return CSVRecords.parse(text)
    }

    static func readCSV(_ file: URL, _ emit: (EvalCase) throws -> Void) throws {
        let name = file.lastPathComponent
        let records = try readCSV(file)
        guard let header = records.first else { return }
        let columns = try headerColumns(header, name: name)
        for (i, record) in records.dropFirst().enumerated() {
            if let c = try tableCase(columns, record, row: i + 1, where: "\(name) row \(i + 2)") { try emit(c) }
        }
    }

    /// The first worksheet of an `.xlsx` workbook: a header row, then one question a row (as in CSV).
    static func readXLSX(_ file: URL, _ emit: (EvalCase) throws -> Void) throws {
        let name = file.lastPathComponent
        var columns: [String]?
        var count = 0
        do {
            try XLSXTable.rows(of: file) { cells, number in
                guard let header = columns else {
                    columns = try headerColumns(cells, name: name)
                    return
                }
                count += 1
                if let c = try tableCase(header, cells, row: count, where: "\(name) row \(number)") { try emit(c) }
            }
        } catch let e as WendaoError where e.code == .unreadable || e.code == .limitExceeded {
            throw WendaoError(e.code, "test set \(name): \(e.message)")
        }
    }

    /// The lowercased column names of a header row, which must name a `question` column.
    static func headerColumns(_ header: [String], name: String) throws -> [String] {
        let columns = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard columns.contains("question") else {
            throw WendaoError(.invalidArgument, "test set \(name): the header row has no 'question' column")
        }
        return columns
    }

    /// The case of one table row (CSV or XLSX); nil for a blank row.
    static func tableCase(_ columns: [String], _ record: [String], row: Int, where place: String) throws -> EvalCase? {
        if record.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { return nil }
        var object: [String: Any] = [:]
        for (k, column) in columns.enumerated() where k < record.count {
            let value = record[k]
            switch column {
            case "answers", "gold", "documents", "tags":
                object[column] = value.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
            case "answerable", "all":
                switch value.trimmingCharacters(in: .whitespaces).lowercased() {
                case "true", "yes", "1": object[column] = true
                case "false", "no", "0": object[column] = false
                case "": break
                default:
                    throw WendaoError(
                        .invalidArgument, "test set \(place): \(column) must be true or false, not '\(value)'")
                }
            default:
                if !value.isEmpty { object[column] = value }
            }
        }
        return try makeCase(object, row: row, where: place)
    }

    static func makeCase(_ o: [String: Any], row: Int, where place: String) throws -> EvalCase {
        func strings(_ key: String) throws -> [String]? {
            guard let v = o[key], !(v is NSNull) else { return nil }
            if let s = v as? String { return [s] }
            guard let a = v as? [Any] else {
                throw WendaoError(.invalidArgument, "test set \(place): \(key) must be a list of strings")
            }
            return try a.map {
                if let s = $0 as? String { return s }
                if let n = $0 as? NSNumber { return n.stringValue }
                throw WendaoError(.invalidArgument, "test set \(place): \(key) must be a list of strings")
            }
        }
        guard let question = o["question"] as? String,
            !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        else {
            throw WendaoError(.invalidArgument, "test set \(place): no question")
        }
        guard question.count <= maxQuestionCharacters else {
            throw WendaoError(
                .limitExceeded,
                "test set \(place): the question has \(question.count) characters, "
                    + "more than the \(maxQuestionCharacters) accepted"
            )
        }
        let id: String
        if let s = o["id"] as? String, !s.isEmpty {
            id = s
        } else if let n = o["id"] as? NSNumber {
            id = n.stringValue
        } else {
            id = "q\(row)"
        }
        let reference = (o["reference"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        let gold = try strings("answers") ?? strings("gold") ?? []
        var tags = try strings("tags") ?? []
        if let c = o["category"] as? String, !c.isEmpty, !tags.contains(c) { tags.append(c) }
        func flag(_ key: String) throws -> Bool? {
            guard let v = o[key], !(v is NSNull) else { return nil }
            guard let b = v as? Bool else {
                throw WendaoError(.invalidArgument, "test set \(place): \(key) must be true or false")
            }
            return b
        }
        return EvalCase(
            id: id, question: question, reference: reference, gold: gold, documents: try strings("documents") ?? [],
            answerable: try flag("answerable") ?? (reference != nil || !gold.isEmpty), all: try flag("all") ?? false,
            tags: tags)
    }
}

/// RFC 4180 records: fields separated by commas, quoted with `"` (a doubled `""` inside quotes is one
/// quote), records ending at a newline outside quotes (CRLF or LF).
enum CSVRecords {
    static func parse(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var it = text.unicodeScalars.makeIterator()
        var lookahead: Unicode.Scalar? = nil
        func nextScalar() -> Unicode.Scalar? {
            if let l = lookahead {
                lookahead = nil
                return l
            }
            return it.next()
        }
        while let u = nextScalar() {
            if quoted {
                if u == "\"" {
                    let n = nextScalar()
                    if n == "\"" {
                        field.unicodeScalars.append("\"")
                    } else {
                        quoted = false
                        lookahead = n
                    }
                } else {
                    field.unicodeScalars.append(u)
                }
                continue
            }
            switch u {
            case "\"" where field.isEmpty: quoted = true
            case ",":
                record.append(field)
                field = ""
            case "\r": break
            case "\n":
                record.append(field)
                records.append(record)
                record = []
                field = ""
            default: field.unicodeScalars.append(u)
            }
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(field)
            records.append(record)
        }
        return records
    }
}
