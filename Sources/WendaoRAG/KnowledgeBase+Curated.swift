import Foundation
public import WendaoCore

/// Limits on curated answers.
public enum CuratedLimits {
    /// Longest question, in characters.
    public static let maxQuestionCharacters = 2000
    /// Longest answer, in characters.
    public static let maxAnswerCharacters = 20_000
    /// Longest note, in characters.
    public static let maxNoteCharacters = 2000
}

extension KnowledgeBase {
    /// The curated answers of this knowledge base, by id.
    public func curatedAnswers() throws -> [CuratedAnswerRecord] {
        try store.curatedAnswers(kb: record.id)
    }

    /// `text` trimmed, or an `invalidArgument` error when it is blank or longer than `limit` Unicode
    /// scalars as sent (as JSON Schema's `maxLength` counts).
    static func checkedText(_ text: String, _ what: String, limit: Int) throws -> String {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else { throw WendaoError(.invalidArgument, "the \(what) is empty") }
        guard text.unicodeScalars.count <= limit else {
            throw WendaoError(.invalidArgument, "the \(what) is longer than \(limit) characters")
        }
        return t
    }

    /// The normalised key of a curated question, or `invalidArgument` when it has no letters or digits.
    static func curatedKey(_ question: String) throws -> String {
        let key = CuratedMatcher.normalized(question)
        guard !key.isEmpty else {
            throw WendaoError(.invalidArgument, "the question has no letters or digits")
        }
        return key
    }

    /// Adds a curated answer. The question must be new to this knowledge base once normalised
    /// (else `alreadyExists`: change the existing entry instead).
    public func addCuratedAnswer(question: String, answer: String, note: String? = nil, sourceTurn: String? = nil)
        throws -> CuratedAnswerRecord
    {
        let q = try Self.checkedText(question, "question", limit: CuratedLimits.maxQuestionCharacters)
        let a = try Self.checkedText(answer, "answer", limit: CuratedLimits.maxAnswerCharacters)
        let n = try note.flatMap { n -> String? in
            n.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                ? nil : try Self.checkedText(n, "note", limit: CuratedLimits.maxNoteCharacters)
        }
        let turn = sourceTurn.map { String($0.prefix(200)) }
        return try store.createCuratedAnswer(
            kb: record.id, question: q, key: try Self.curatedKey(q), answer: a, note: n, sourceTurn: turn)
    }

    /// Changes a curated answer's question, answer or note (nil: unchanged; an empty note removes it).
    public func updateCuratedAnswer(id: Int64, question: String? = nil, answer: String? = nil, note: String? = nil)
        throws -> CuratedAnswerRecord
    {
        let q = try question.map { try Self.checkedText($0, "question", limit: CuratedLimits.maxQuestionCharacters) }
        let a = try answer.map { try Self.checkedText($0, "answer", limit: CuratedLimits.maxAnswerCharacters) }
        let n = try note.map { n -> String in
            n.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                ? "" : try Self.checkedText(n, "note", limit: CuratedLimits.maxNoteCharacters)
        }
        return try store.updateCuratedAnswer(
            kb: record.id, id: id, question: q, key: try q.map(Self.curatedKey), answer: a, note: n)
    }

    /// Deletes a curated answer.
    public func deleteCuratedAnswer(id: Int64) throws {
        try store.deleteCuratedAnswer(kb: record.id, id: id)
    }

    /// The curated answer that answers `question` (a normalised exact match or a close paraphrase,
    /// see ``CuratedMatcher``), or nil.
    public func curatedMatch(_ question: String, matcher: CuratedMatcher = CuratedMatcher()) throws -> CuratedMatch? {
        let entries = try curatedAnswers()
        guard !entries.isEmpty else { return nil }
        var analysed: [(entry: CuratedAnswerRecord, key: String, content: Set<String>)] = []
        analysed.reserveCapacity(entries.count)
        for e in entries {
            if let cached = curatedCache[e.id], cached.updatedAt == e.updatedAt {
                analysed.append((e, cached.key, cached.content))
            } else {
                let key = CuratedMatcher.normalized(e.question)
                let content = CuratedMatcher.content(e.question)
                curatedCache[e.id] = (e.updatedAt, key, content)
                analysed.append((e, key, content))
            }
        }
        if curatedCache.count > entries.count * 2 + 64 {
            let live = Set(entries.map(\.id))
            curatedCache = curatedCache.filter { live.contains($0.key) }
        }
        return matcher.match(String(question.prefix(QueryLimits.maxCharacters)), entries: analysed)
    }

    /// The answer a curated match gives: its text, found, one citation of kind `curated`, coverage 1
    /// and mode `curated`.
    public static func curatedAnswer(question: String, match: CuratedMatch) -> Answer {
        let e = match.entry
        return Answer(
            question: question, answer: e.answer, mode: "curated", found: true,
            citations: [
                Citation(
                    n: 1, document: "", section: e.question, page: nil, chunkID: 0, text: e.answer, kind: "curated",
                    curatedID: e.id)
            ], coverage: 1)
    }
}
