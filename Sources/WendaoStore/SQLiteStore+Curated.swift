import Foundation
import GRDB
public import WendaoCore

/// Curated answers: the `curated_answer` table.
extension SQLiteStore: CuratedAnswerStore {
    private static func curatedRecord(_ row: Row) -> CuratedAnswerRecord {
        CuratedAnswerRecord(
            id: row["id"], question: row["question"], answer: row["answer"], note: row["note"],
            sourceTurn: row["source_turn"], createdAt: row["created_at"], updatedAt: row["updated_at"])
    }

    private static func taken(_ db: Database, kb: Int64, key: String, except id: Int64?) throws -> Int64? {
        try Int64.fetchOne(
            db, sql: "SELECT id FROM curated_answer WHERE kb_id = ? AND question_key = ? AND id != ?",
            arguments: [kb, key, id ?? -1])
    }

    /// Stores a new entry; `alreadyExists` when the normalised question is taken.
    public func createCuratedAnswer(
        kb: Int64, question: String, key: String, answer: String, note: String?, sourceTurn: String?
    ) throws -> CuratedAnswerRecord {
        try wrap("cannot store the curated answer") {
            try pool.write { db in
                if let other = try Self.taken(db, kb: kb, key: key, except: nil) {
                    throw WendaoError(.alreadyExists, "curated answer \(other) already answers this question")
                }
                let now = Date().timeIntervalSince1970
                try db.execute(
                    sql: """
                        INSERT INTO curated_answer (kb_id, question, question_key, answer, note, source_turn, created_at,
                            updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [kb, question, key, answer, note, sourceTurn, now, now])
                return CuratedAnswerRecord(
                    id: db.lastInsertedRowID, question: question, answer: answer, note: note, sourceTurn: sourceTurn,
                    createdAt: now, updatedAt: now)
            }
        }
    }

    /// All entries of a knowledge base, by id.
    public func curatedAnswers(kb: Int64) throws -> [CuratedAnswerRecord] {
        guard hasDocumentTexts else { return [] }
        return try wrap("cannot read curated answers") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM curated_answer WHERE kb_id = ? ORDER BY id", arguments: [kb])
                    .map(Self.curatedRecord)
            }
        }
    }

    /// Changes an entry in one transaction.
    public func updateCuratedAnswer(
        kb: Int64, id: Int64, question: String?, key: String?, answer: String?, note: String?
    ) throws -> CuratedAnswerRecord {
        try wrap("cannot change the curated answer") {
            try pool.write { db in
                guard
                    let row = try Row.fetchOne(
                        db, sql: "SELECT * FROM curated_answer WHERE id = ? AND kb_id = ?", arguments: [id, kb])
                else { throw WendaoError(.notFound, "no curated answer \(id) in this knowledge base") }
                var record = Self.curatedRecord(row)
                if let key, let other = try Self.taken(db, kb: kb, key: key, except: id) {
                    throw WendaoError(.alreadyExists, "curated answer \(other) already answers this question")
                }
                if let question { record.question = question }
                if let answer { record.answer = answer }
                if let note { record.note = note.isEmpty ? nil : note }
                record.updatedAt = Date().timeIntervalSince1970
                try db.execute(
                    sql: """
                        UPDATE curated_answer SET question = ?, question_key = COALESCE(?, question_key), answer = ?,
                            note = ?, updated_at = ?
                        WHERE id = ?
                        """, arguments: [record.question, key, record.answer, record.note, record.updatedAt, id])
                return record
            }
        }
    }

    /// Deletes an entry.
    public func deleteCuratedAnswer(kb: Int64, id: Int64) throws {
        try wrap("cannot delete the curated answer") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM curated_answer WHERE id = ? AND kb_id = ?", arguments: [id, kb])
                guard db.changesCount > 0 else {
                    throw WendaoError(.notFound, "no curated answer \(id) in this knowledge base")
                }
            }
        }
    }
}
