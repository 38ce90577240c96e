import Foundation
import GRDB
public import WendaoCore

/// Documents and their chunks: the `document` and `chunk` tables.
extension SQLiteStore: DocumentStore {
    private static func documentRecord(_ row: Row) -> DocumentRecord {
        DocumentRecord(
            id: row["id"], path: row["path"], title: row["title"], format: row["format"],
            contentHash: row["content_hash"], byteCount: row["byte_count"], chunkCount: row["chunk_count"],
            ingestedAt: row["ingested_at"], source: row["source"], etag: row["etag"], lastModified: row["last_modified"])
    }

    private static func chunkRecord(_ row: Row) -> ChunkRecord {
        ChunkRecord(
            id: row["id"], documentID: row["document_id"], documentPath: row["path"], documentTitle: row["title"],
            ordinal: row["ordinal"], section: row["section"], page: row["page"], text: row["text"],
            start: row["start"], end: row["end"], enabled: (row["enabled"] as Bool?) ?? true,
            edited: (row["edited"] as Bool?) ?? false)
    }

    /// The document with this path, or nil.
    public func document(kb: Int64, path: String) throws -> DocumentRecord? {
        try wrap("cannot read document") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM document WHERE kb_id = ? AND path = ?", arguments: [kb, path])
                    .map(Self.documentRecord)
            }
        }
    }

    /// All documents of a knowledge base, by path.
    public func documents(kb: Int64) throws -> [DocumentRecord] {
        try wrap("cannot list documents") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM document WHERE kb_id = ? ORDER BY path", arguments: [kb])
                    .map(Self.documentRecord)
            }
        }
    }

    /// Stores a document and its streamed chunks in one transaction, replacing the previous version.
    public func replaceDocument(
        kb: Int64, _ document: NewDocument, chunks: (_ insert: (ChunkDraft) throws -> Int64) throws -> Void
    ) throws -> DocumentChange {
        try wrap("cannot store document \(document.path)") {
            try pool.write { db in
                try Self.replace(
                    db, kb: kb, document, withSources: hasSourceColumns, withText: hasDocumentTexts, chunks: chunks)
            }
        }
    }

    /// Stores several documents in one transaction (all or none).
    public func replaceDocuments(kb: Int64, _ documents: [(document: NewDocument, chunks: [ChunkDraft])]) throws
        -> [DocumentChange]
    {
        try wrap("cannot store \(documents.count) documents") {
            try pool.write { db in
                try documents.map { item in
                    try Self.replace(
                        db, kb: kb, item.document, withSources: hasSourceColumns, withText: hasDocumentTexts
                    ) { insert in
                        for c in item.chunks { _ = try insert(c) }
                    }
                }
            }
        }
    }

    /// One document's replacement inside an open transaction.
    private static func replace(
        _ db: Database, kb: Int64, _ document: NewDocument, withSources: Bool = true, withText: Bool = true,
        chunks: (_ insert: (ChunkDraft) throws -> Int64) throws -> Void
    ) throws -> DocumentChange {
        var removed: [Int64] = []
        if let old = try Int64.fetchOne(
            db, sql: "SELECT id FROM document WHERE kb_id = ? AND path = ?", arguments: [kb, document.path])
        {
            removed = try Int64.fetchAll(
                db, sql: "SELECT id FROM chunk WHERE document_id = ? ORDER BY id", arguments: [old])
            try db.execute(sql: "DELETE FROM document WHERE id = ?", arguments: [old])
        }
        let now = Date().timeIntervalSince1970
        if withSources {
            try db.execute(
                sql: """
                    INSERT INTO document (kb_id, path, title, format, content_hash, byte_count, chunk_count, ingested_at,
                        source, etag, last_modified)
                    VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
                    """,
                arguments: [
                    kb, document.path, document.title, document.format, document.contentHash, document.byteCount, now,
                    document.source, document.etag, document.lastModified,
                ])
        } else {
            try db.execute(
                sql: """
                    INSERT INTO document (kb_id, path, title, format, content_hash, byte_count, chunk_count, ingested_at)
                    VALUES (?, ?, ?, ?, ?, ?, 0, ?)
                    """,
                arguments: [
                    kb, document.path, document.title, document.format, document.contentHash, document.byteCount, now,
                ])
        }
        let docID = db.lastInsertedRowID
        if withText, let text = document.text {
            try db.execute(
                sql: "INSERT INTO document_text (document_id, text) VALUES (?, ?)", arguments: [docID, text])
        }
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO chunk (document_id, kb_id, ordinal, section, page, text, start, "end")
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
        var added: [Int64] = []
        try chunks { draft in
            try statement.execute(arguments: [
                docID, kb, added.count, draft.section, draft.page, draft.text, draft.start, draft.end,
            ])
            let id = db.lastInsertedRowID
            added.append(id)
            return id
        }
        try db.execute(sql: "UPDATE document SET chunk_count = ? WHERE id = ?", arguments: [added.count, docID])
        try db.execute(sql: "UPDATE kb SET generation = generation + 1 WHERE id = ?", arguments: [kb])
        let generation = try Int64.fetchOne(db, sql: "SELECT generation FROM kb WHERE id = ?", arguments: [kb]) ?? 0
        let record = DocumentRecord(
            id: docID, path: document.path, title: document.title, format: document.format,
            contentHash: document.contentHash, byteCount: document.byteCount, chunkCount: added.count, ingestedAt: now,
            source: document.source, etag: document.etag, lastModified: document.lastModified)
        return DocumentChange(document: record, removedChunkIDs: removed, addedChunkIDs: added, generation: generation)
    }

    /// Deletes a document with its chunks and bumps the generation.
    public func deleteDocument(kb: Int64, id: Int64) throws -> (removedChunkIDs: [Int64], generation: Int64) {
        try wrap("cannot delete document") {
            try pool.write { db in
                let removed = try Int64.fetchAll(
                    db, sql: "SELECT id FROM chunk WHERE document_id = ? ORDER BY id", arguments: [id])
                try db.execute(sql: "DELETE FROM document WHERE id = ? AND kb_id = ?", arguments: [id, kb])
                guard db.changesCount > 0 else { throw WendaoError(.notFound, "no document with id \(id)") }
                try db.execute(sql: "UPDATE kb SET generation = generation + 1 WHERE id = ?", arguments: [kb])
                let generation =
                    try Int64.fetchOne(db, sql: "SELECT generation FROM kb WHERE id = ?", arguments: [kb]) ?? 0
                return (removed, generation)
            }
        }
    }

    // MARK: Chunks

    private static let chunkSelect = """
        SELECT chunk.*, document.path AS path, document.title AS title
        FROM chunk JOIN document ON document.id = chunk.document_id
        """

    /// Chunks by id, in the order asked; unknown ids are skipped.
    public func chunks(ids: [Int64]) throws -> [ChunkRecord] {
        guard !ids.isEmpty else { return [] }
        return try wrap("cannot read chunks") {
            try pool.read { db in
                var byID: [Int64: ChunkRecord] = [:]
                for batch in stride(from: 0, to: ids.count, by: 500) {
                    let part = Array(ids[batch..<min(batch + 500, ids.count)])
                    let marks = Array(repeating: "?", count: part.count).joined(separator: ",")
                    let rows = try Row.fetchAll(
                        db, sql: Self.chunkSelect + " WHERE chunk.id IN (\(marks))", arguments: StatementArguments(part)
                    )
                    for r in rows {
                        let c = Self.chunkRecord(r)
                        byID[c.id] = c
                    }
                }
                return ids.compactMap { byID[$0] }
            }
        }
    }

    /// Chunks of one document within an ordinal range, in order.
    public func chunks(document: Int64, ordinals: ClosedRange<Int>) throws -> [ChunkRecord] {
        try wrap("cannot read chunks") {
            try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: Self.chunkSelect
                        + " WHERE chunk.document_id = ? AND chunk.ordinal BETWEEN ? AND ?"
                        + (hasDocumentTexts ? " AND chunk.enabled = 1" : "") + " ORDER BY chunk.ordinal",
                    arguments: [document, ordinals.lowerBound, ordinals.upperBound]
                ).map(Self.chunkRecord)
            }
        }
    }

    /// Visits every chunk of a knowledge base as (id, section, text), in id order, with a cursor.
    public func forEachChunk(kb: Int64, _ body: (Int64, String, String) throws -> Void) throws {
        try wrap("cannot read chunks") {
            try pool.read { db in
                let cursor = try Row.fetchCursor(
                    db,
                    sql: "SELECT id, section, text FROM chunk WHERE kb_id = ?" + enabledOnly + " ORDER BY id",
                    arguments: [kb])
                while let row = try cursor.next() {
                    try body(row[0], row[1], row[2])
                }
            }
        }
    }

    /// All chunk ids of a knowledge base, ascending.
    public func chunkIDs(kb: Int64) throws -> [Int64] {
        try wrap("cannot read chunks") {
            try pool.read { db in
                try Int64.fetchAll(
                    db, sql: "SELECT id FROM chunk WHERE kb_id = ?" + enabledOnly + " ORDER BY id", arguments: [kb])
            }
        }
    }

    /// The condition that leaves disabled chunks out (none on a database older than chunk flags).
    private var enabledOnly: String { hasDocumentTexts ? " AND enabled = 1" : "" }

    /// A document's chunks by ordinal, disabled ones included.
    public func chunks(document: Int64, offset: Int, limit: Int) throws -> [ChunkRecord] {
        try wrap("cannot read chunks") {
            try pool.read { db in
                try Row.fetchAll(
                    db, sql: Self.chunkSelect + " WHERE chunk.document_id = ? ORDER BY chunk.ordinal LIMIT ? OFFSET ?",
                    arguments: [document, max(0, limit), max(0, offset)]
                ).map(Self.chunkRecord)
            }
        }
    }

    /// The stored extracted text of a document, or nil.
    public func documentText(document: Int64) throws -> String? {
        guard hasDocumentTexts else { return nil }
        return try wrap("cannot read the document text") {
            try pool.read { db in
                try String.fetchOne(
                    db, sql: "SELECT text FROM document_text WHERE document_id = ?", arguments: [document])
            }
        }
    }

    /// The chunk `id` of `kb` inside a transaction, or `notFound`.
    private static func chunk(_ db: Database, kb: Int64, id: Int64) throws -> ChunkRecord {
        guard
            let row = try Row.fetchOne(
                db, sql: chunkSelect + " WHERE chunk.id = ? AND chunk.kb_id = ?", arguments: [id, kb])
        else { throw WendaoError(.notFound, "no chunk \(id) in this knowledge base") }
        return chunkRecord(row)
    }

    private static func bumpGeneration(_ db: Database, kb: Int64) throws -> Int64 {
        try db.execute(sql: "UPDATE kb SET generation = generation + 1 WHERE id = ?", arguments: [kb])
        return try Int64.fetchOne(db, sql: "SELECT generation FROM kb WHERE id = ?", arguments: [kb]) ?? 0
    }

    /// Stores the new text under a new id in place of the old chunk, in one transaction.
    public func editChunk(kb: Int64, id: Int64, text: String) throws -> ChunkChange {
        try wrap("cannot edit chunk \(id)") {
            try pool.write { db in
                let old = try Self.chunk(db, kb: kb, id: id)
                try db.execute(sql: "DELETE FROM chunk WHERE id = ?", arguments: [id])
                try db.execute(
                    sql: """
                        INSERT INTO chunk (document_id, kb_id, ordinal, section, page, text, start, "end", enabled, edited)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                        """,
                    arguments: [
                        old.documentID, kb, old.ordinal, old.section, old.page, text, old.start, old.end, old.enabled,
                    ])
                let newID = db.lastInsertedRowID
                let generation = try Self.bumpGeneration(db, kb: kb)
                return ChunkChange(chunk: try Self.chunk(db, kb: kb, id: newID), previousID: id, generation: generation)
            }
        }
    }

    /// Sets a chunk's `enabled` flag (its id stays).
    public func setChunkEnabled(kb: Int64, id: Int64, enabled: Bool) throws -> ChunkChange {
        try wrap("cannot change chunk \(id)") {
            try pool.write { db in
                _ = try Self.chunk(db, kb: kb, id: id)
                try db.execute(sql: "UPDATE chunk SET enabled = ? WHERE id = ?", arguments: [enabled, id])
                let generation = try Self.bumpGeneration(db, kb: kb)
                return ChunkChange(chunk: try Self.chunk(db, kb: kb, id: id), previousID: id, generation: generation)
            }
        }
    }

    /// Deletes a chunk; its document's chunk count goes down by one.
    public func deleteChunk(kb: Int64, id: Int64) throws -> ChunkChange {
        try wrap("cannot delete chunk \(id)") {
            try pool.write { db in
                let old = try Self.chunk(db, kb: kb, id: id)
                try db.execute(sql: "DELETE FROM chunk WHERE id = ?", arguments: [id])
                try db.execute(
                    sql: "UPDATE document SET chunk_count = chunk_count - 1 WHERE id = ?", arguments: [old.documentID])
                let generation = try Self.bumpGeneration(db, kb: kb)
                return ChunkChange(chunk: nil, previousID: id, generation: generation)
            }
        }
    }

    /// `quick_check`, foreign keys, chunk counts and knowledge-base ownership; empty when healthy.
    public func integrityProblems(kb: Int64) throws -> [String] {
        try wrap("cannot check the database") {
            try pool.read { db in
                var problems: [String] = []
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                if check != ["ok"] { problems.append("SQLite quick_check: " + check.prefix(5).joined(separator: "; ")) }
                let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
                if !fk.isEmpty { problems.append("\(fk.count) rows violate foreign keys") }
                let badCounts =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT COUNT(*) FROM document d WHERE d.kb_id = ? AND d.chunk_count !=
                            (SELECT COUNT(*) FROM chunk c WHERE c.document_id = d.id)
                            """, arguments: [kb]) ?? 0
                if badCounts > 0 {
                    problems.append("\(badCounts) documents whose chunk count disagrees with their chunks")
                }
                let strays =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT COUNT(*) FROM chunk c JOIN document d ON d.id = c.document_id
                            WHERE c.kb_id = ? AND d.kb_id != c.kb_id
                            """, arguments: [kb]) ?? 0
                if strays > 0 { problems.append("\(strays) chunks filed under the wrong knowledge base") }
                return problems
            }
        }
    }
}
