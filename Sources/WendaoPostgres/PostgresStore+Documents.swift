import Foundation
import Logging
import PostgresNIO
public import WendaoCore

/// Documents and their chunks: the `document`, `document_text` and `chunk` tables, and the chunk
/// change log every change writes.
extension PostgresStore: DocumentStore {
    static func documentRecord(_ row: PostgresRandomAccessRow) throws -> DocumentRecord {
        DocumentRecord(
            id: try row.get("id"), path: try row.get("path"), title: try row.get("title"),
            format: try row.get("format"), contentHash: try row.get("content_hash"),
            byteCount: try row.get("byte_count"), chunkCount: Int(try row.get("chunk_count", as: Int32.self)),
            ingestedAt: try row.get("ingested_at"), source: try row.get("source"), etag: try row.get("etag"),
            lastModified: try row.get("last_modified"))
    }

    static func chunkRecord(_ row: PostgresRandomAccessRow) throws -> ChunkRecord {
        ChunkRecord(
            id: try row.get("id"), documentID: try row.get("document_id"), documentPath: try row.get("path"),
            documentTitle: try row.get("title"), ordinal: Int(try row.get("ordinal", as: Int32.self)),
            section: try row.get("section"), page: try row.get("page", as: Int32?.self).map(Int.init),
            text: try row.get("text"), start: Int(try row.get("start_offset", as: Int32.self)),
            end: Int(try row.get("end_offset", as: Int32.self)), enabled: try row.get("enabled"),
            edited: try row.get("edited"))
    }

    static let chunkSelect = """
        SELECT chunk.id, chunk.document_id, chunk.ordinal, chunk.section, chunk.page, chunk.text, chunk.start_offset,
            chunk.end_offset, chunk.enabled, chunk.edited, document.path AS path, document.title AS title
        FROM chunk JOIN document ON document.id = chunk.document_id
        """

    /// Bumps the generation of `kb` (taking its row lock: one writer per knowledge base at a time, on
    /// every server), records the chunks added and removed, and tells listening servers.
    static func bump(
        _ c: PostgresConnection, kb: Int64, added: [Int64], removed: [Int64], logger: Logger
    ) async throws -> Int64 {
        let rows = try await c.rows(
            "UPDATE kb SET generation = generation + 1 WHERE id = \(kb) RETURNING generation", logger: logger)
        guard let generation = try rows.first?.get("generation", as: Int64.self) else {
            throw WendaoError(.notFound, "no knowledge base with id \(kb)")
        }
        if !removed.isEmpty {
            try await c.exec(
                """
                INSERT INTO chunk_log (kb_id, generation, chunk_id, added)
                SELECT \(kb), \(generation), unnest(\(removed)::int8[]), FALSE
                """, logger: logger)
        }
        if !added.isEmpty {
            try await c.exec(
                """
                INSERT INTO chunk_log (kb_id, generation, chunk_id, added)
                SELECT \(kb), \(generation), unnest(\(added)::int8[]), TRUE
                """, logger: logger)
        }
        try await c.exec("SELECT pg_notify('wendao_kb', \(String(kb)))", logger: logger)
        return generation
    }

    /// Locks the row of `kb` for this transaction (writers of one knowledge base go one at a time).
    static func lockKnowledgeBase(_ c: PostgresConnection, kb: Int64, logger: Logger) async throws {
        let rows = try await c.rows("SELECT id FROM kb WHERE id = \(kb) FOR UPDATE", logger: logger)
        guard !rows.isEmpty else { throw WendaoError(.notFound, "no knowledge base with id \(kb)") }
    }

    /// The document with this path, or nil.
    public func document(kb: Int64, path: String) throws -> DocumentRecord? {
        let logger = self.logger
        return try run("cannot read document") { client in
            try await client.rows("SELECT * FROM document WHERE kb_id = \(kb) AND path = \(path)", logger: logger)
                .first.map(Self.documentRecord)
        }
    }

    /// All documents of a knowledge base, by path (byte order).
    public func documents(kb: Int64) throws -> [DocumentRecord] {
        let logger = self.logger
        return try run("cannot list documents") { client in
            try await client.rows("SELECT * FROM document WHERE kb_id = \(kb) ORDER BY path", logger: logger)
                .map(Self.documentRecord)
        }
    }

    /// `count` new chunk ids, ascending, from the chunk sequence (ids are never reused; ids of a
    /// rolled-back document are simply never used).
    func reserveChunkIDs(_ count: Int) throws -> [Int64] {
        let logger = self.logger
        return try run("cannot reserve chunk ids") { client in
            try await client.rows(
                "SELECT nextval('chunk_id_seq') AS id FROM generate_series(1, \(count))", logger: logger
            ).map { try $0.get("id", as: Int64.self) }.sorted()
        }
    }

    /// Collects the chunks `source` inserts, giving each a reserved id as it comes.
    private func collect(_ source: (_ insert: (ChunkDraft) throws -> Int64) throws -> Void) throws -> (
        drafts: [ChunkDraft], ids: [Int64]
    ) {
        var drafts: [ChunkDraft] = []
        var ids: [Int64] = []
        var reserved: [Int64] = []
        try source { draft in
            if reserved.isEmpty { reserved = try reserveChunkIDs(min(4096, max(64, drafts.count))).reversed() }
            let id = reserved.removeLast()
            drafts.append(draft)
            ids.append(id)
            return id
        }
        return (drafts, ids)
    }

    /// Stores a document and its chunks in one transaction, replacing the previous version. The
    /// chunks are collected first (each gets its id at once, as the contract asks) and written in
    /// batches when the source has finished; if the source throws, nothing is written.
    public func replaceDocument(
        kb: Int64, _ document: NewDocument, chunks: (_ insert: (ChunkDraft) throws -> Int64) throws -> Void
    ) throws -> DocumentChange {
        let collected = try collect(chunks)
        let logger = self.logger
        return try transaction("cannot store document \(document.path)") { c in
            try await Self.lockKnowledgeBase(c, kb: kb, logger: logger)
            return try await Self.replace(c, kb: kb, document, collected.drafts, ids: collected.ids, logger: logger)
        }
    }

    /// Stores several documents in one transaction (all or none).
    public func replaceDocuments(kb: Int64, _ documents: [(document: NewDocument, chunks: [ChunkDraft])]) throws
        -> [DocumentChange]
    {
        let total = documents.reduce(0) { $0 + $1.chunks.count }
        var ids = total == 0 ? [] : try reserveChunkIDs(total)
        var items: [(NewDocument, [ChunkDraft], [Int64])] = []
        for d in documents {
            items.append((d.document, d.chunks, Array(ids.prefix(d.chunks.count))))
            ids.removeFirst(d.chunks.count)
        }
        let batch = items
        let logger = self.logger
        return try transaction("cannot store \(documents.count) documents") { c in
            try await Self.lockKnowledgeBase(c, kb: kb, logger: logger)
            var changes: [DocumentChange] = []
            for (document, drafts, ids) in batch {
                changes.append(try await Self.replace(c, kb: kb, document, drafts, ids: ids, logger: logger))
            }
            return changes
        }
    }

    /// One document's replacement inside an open transaction (the knowledge base's row locked).
    private static func replace(
        _ c: PostgresConnection, kb: Int64, _ document: NewDocument, _ drafts: [ChunkDraft], ids: [Int64],
        logger: Logger
    ) async throws -> DocumentChange {
        var removed: [Int64] = []
        let old = try await c.rows(
            "SELECT id FROM document WHERE kb_id = \(kb) AND path = \(document.path)", logger: logger)
        if let oldID = try old.first?.get("id", as: Int64.self) {
            removed = try await c.rows("SELECT id FROM chunk WHERE document_id = \(oldID) ORDER BY id", logger: logger)
                .map { try $0.get("id", as: Int64.self) }
            try await c.exec("DELETE FROM document WHERE id = \(oldID)", logger: logger)
        }
        let now = Date().timeIntervalSince1970
        let inserted = try await c.rows(
            """
            INSERT INTO document (kb_id, path, title, format, content_hash, byte_count, chunk_count, ingested_at,
                source, etag, last_modified)
            VALUES (\(kb), \(document.path), \(document.title), \(document.format), \(document.contentHash),
                \(document.byteCount), \(Int32(clamping: drafts.count)), \(now), \(document.source), \(document.etag),
                \(document.lastModified))
            RETURNING id
            """, logger: logger)
        let docID = try inserted[0].get("id", as: Int64.self)
        if let text = document.text {
            try await c.exec("INSERT INTO document_text (document_id, text) VALUES (\(docID), \(text))", logger: logger)
        }
        for start in stride(from: 0, to: drafts.count, by: 2000) {
            let end = min(start + 2000, drafts.count)
            let part = drafts[start..<end]
            let partIDs = Array(ids[start..<end])
            let ordinals = (start..<end).map { Int32(clamping: $0) }
            let sections = part.map(\.section)
            let pages = part.map { Int32(clamping: $0.page ?? -1) }
            let texts = part.map(\.text)
            let starts = part.map { Int32(clamping: $0.start) }
            let ends = part.map { Int32(clamping: $0.end) }
            try await c.exec(
                """
                INSERT INTO chunk (id, document_id, kb_id, ordinal, section, page, text, start_offset, end_offset)
                SELECT u.id, \(docID), \(kb), u.ordinal, u.section, NULLIF(u.page, -1), u.text, u.s, u.e
                FROM unnest(\(partIDs)::int8[], \(ordinals)::int4[], \(sections)::text[], \(pages)::int4[],
                    \(texts)::text[], \(starts)::int4[], \(ends)::int4[]) AS u(id, ordinal, section, page, text, s, e)
                """, logger: logger)
        }
        let generation = try await bump(c, kb: kb, added: ids, removed: removed, logger: logger)
        let record = DocumentRecord(
            id: docID, path: document.path, title: document.title, format: document.format,
            contentHash: document.contentHash, byteCount: document.byteCount, chunkCount: drafts.count, ingestedAt: now,
            source: document.source, etag: document.etag, lastModified: document.lastModified)
        return DocumentChange(document: record, removedChunkIDs: removed, addedChunkIDs: ids, generation: generation)
    }

    /// Deletes a document with its chunks and bumps the generation.
    public func deleteDocument(kb: Int64, id: Int64) throws -> (removedChunkIDs: [Int64], generation: Int64) {
        let logger = self.logger
        return try transaction("cannot delete document") { c in
            try await Self.lockKnowledgeBase(c, kb: kb, logger: logger)
            let removed = try await c.rows(
                "SELECT id FROM chunk WHERE document_id = \(id) ORDER BY id", logger: logger
            ).map { try $0.get("id", as: Int64.self) }
            let gone = try await c.rows(
                "DELETE FROM document WHERE id = \(id) AND kb_id = \(kb) RETURNING id", logger: logger)
            guard !gone.isEmpty else { throw WendaoError(.notFound, "no document with id \(id)") }
            let generation = try await Self.bump(c, kb: kb, added: [], removed: removed, logger: logger)
            return (removed, generation)
        }
    }

    // MARK: Chunks

    /// Chunks by id, in the order asked; unknown ids are skipped.
    public func chunks(ids: [Int64]) throws -> [ChunkRecord] {
        guard !ids.isEmpty else { return [] }
        let logger = self.logger
        return try run("cannot read chunks") { client in
            var byID: [Int64: ChunkRecord] = [:]
            for start in stride(from: 0, to: ids.count, by: 5000) {
                let part = Array(ids[start..<min(start + 5000, ids.count)])
                let rows = try await client.rows(
                    "\(unescaped: Self.chunkSelect) WHERE chunk.id = ANY(\(part)::int8[])", logger: logger)
                for r in rows {
                    let chunk = try Self.chunkRecord(r)
                    byID[chunk.id] = chunk
                }
            }
            return ids.compactMap { byID[$0] }
        }
    }

    /// Enabled chunks of one document within an ordinal range, in order.
    public func chunks(document: Int64, ordinals: ClosedRange<Int>) throws -> [ChunkRecord] {
        let low = Int32(clamping: ordinals.lowerBound)
        let high = Int32(clamping: ordinals.upperBound)
        let logger = self.logger
        return try run("cannot read chunks") { client in
            try await client.rows(
                """
                \(unescaped: Self.chunkSelect) WHERE chunk.document_id = \(document)
                AND chunk.ordinal BETWEEN \(low) AND \(high) AND chunk.enabled ORDER BY chunk.ordinal
                """, logger: logger
            ).map(Self.chunkRecord)
        }
    }

    /// Visits every enabled chunk of a knowledge base as (id, section, text), in id order, reading
    /// pages of 5,000 (each page is one query; chunks committed meanwhile may or may not be seen).
    public func forEachChunk(kb: Int64, _ body: (Int64, String, String) throws -> Void) throws {
        var after: Int64 = -1
        let logger = self.logger
        while true {
            let from = after
            let page: [(Int64, String, String)] = try run("cannot read chunks") { client in
                try await client.rows(
                    """
                    SELECT id, section, text FROM chunk WHERE kb_id = \(kb) AND enabled AND id > \(from)
                    ORDER BY id LIMIT 5000
                    """, logger: logger
                ).map { (try $0.get("id"), try $0.get("section"), try $0.get("text")) }
            }
            for (id, section, text) in page { try body(id, section, text) }
            guard page.count == 5000, let last = page.last else { return }
            after = last.0
        }
    }

    /// All enabled chunk ids of a knowledge base, ascending.
    public func chunkIDs(kb: Int64) throws -> [Int64] {
        let logger = self.logger
        return try run("cannot read chunks") { client in
            try await client.rows("SELECT id FROM chunk WHERE kb_id = \(kb) AND enabled ORDER BY id", logger: logger)
                .map { try $0.get("id", as: Int64.self) }
        }
    }

    /// A document's chunks by ordinal, disabled ones included.
    public func chunks(document: Int64, offset: Int, limit: Int) throws -> [ChunkRecord] {
        let logger = self.logger
        return try run("cannot read chunks") { client in
            try await client.rows(
                """
                \(unescaped: Self.chunkSelect) WHERE chunk.document_id = \(document) ORDER BY chunk.ordinal
                LIMIT \(max(0, limit)) OFFSET \(max(0, offset))
                """, logger: logger
            ).map(Self.chunkRecord)
        }
    }

    /// The stored extracted text of a document, or nil.
    public func documentText(document: Int64) throws -> String? {
        let logger = self.logger
        return try run("cannot read the document text") { client in
            try await client.rows("SELECT text FROM document_text WHERE document_id = \(document)", logger: logger)
                .first.map { try $0.get("text", as: String.self) }
        }
    }

    private static func chunk(_ c: PostgresConnection, kb: Int64, id: Int64, logger: Logger) async throws
        -> ChunkRecord
    {
        let rows = try await c.rows(
            "\(unescaped: chunkSelect) WHERE chunk.id = \(id) AND chunk.kb_id = \(kb)", logger: logger)
        guard let row = rows.first else { throw WendaoError(.notFound, "no chunk \(id) in this knowledge base") }
        return try chunkRecord(row)
    }

    /// Stores the new text under a new id in place of the old chunk, in one transaction.
    public func editChunk(kb: Int64, id: Int64, text: String) throws -> ChunkChange {
        let newID = try reserveChunkIDs(1)[0]
        let logger = self.logger
        return try transaction("cannot edit chunk \(id)") { c in
            try await Self.lockKnowledgeBase(c, kb: kb, logger: logger)
            let old = try await Self.chunk(c, kb: kb, id: id, logger: logger)
            try await c.exec("DELETE FROM chunk WHERE id = \(id)", logger: logger)
            try await c.exec(
                """
                INSERT INTO chunk (id, document_id, kb_id, ordinal, section, page, text, start_offset, end_offset,
                    enabled, edited)
                VALUES (\(newID), \(old.documentID), \(kb), \(Int32(clamping: old.ordinal)), \(old.section),
                    \(old.page.map { Int32(clamping: $0) }), \(text), \(Int32(clamping: old.start)),
                    \(Int32(clamping: old.end)), \(old.enabled), TRUE)
                """, logger: logger)
            let generation = try await Self.bump(
                c, kb: kb, added: old.enabled ? [newID] : [], removed: old.enabled ? [id] : [], logger: logger)
            return ChunkChange(
                chunk: try await Self.chunk(c, kb: kb, id: newID, logger: logger), previousID: id,
                generation: generation)
        }
    }

    /// Sets a chunk's `enabled` flag (its id stays).
    public func setChunkEnabled(kb: Int64, id: Int64, enabled: Bool) throws -> ChunkChange {
        let logger = self.logger
        return try transaction("cannot change chunk \(id)") { c in
            try await Self.lockKnowledgeBase(c, kb: kb, logger: logger)
            let old = try await Self.chunk(c, kb: kb, id: id, logger: logger)
            try await c.exec("UPDATE chunk SET enabled = \(enabled) WHERE id = \(id)", logger: logger)
            let changed = old.enabled != enabled
            let generation = try await Self.bump(
                c, kb: kb, added: changed && enabled ? [id] : [], removed: changed && !enabled ? [id] : [],
                logger: logger)
            return ChunkChange(
                chunk: try await Self.chunk(c, kb: kb, id: id, logger: logger), previousID: id, generation: generation)
        }
    }

    /// Deletes a chunk; its document's chunk count goes down by one.
    public func deleteChunk(kb: Int64, id: Int64) throws -> ChunkChange {
        let logger = self.logger
        return try transaction("cannot delete chunk \(id)") { c in
            try await Self.lockKnowledgeBase(c, kb: kb, logger: logger)
            let old = try await Self.chunk(c, kb: kb, id: id, logger: logger)
            try await c.exec("DELETE FROM chunk WHERE id = \(id)", logger: logger)
            try await c.exec(
                "UPDATE document SET chunk_count = chunk_count - 1 WHERE id = \(old.documentID)", logger: logger)
            let generation = try await Self.bump(
                c, kb: kb, added: [], removed: old.enabled ? [id] : [], logger: logger)
            return ChunkChange(chunk: nil, previousID: id, generation: generation)
        }
    }

    /// Chunk counts, knowledge-base ownership and vector dimensions; empty when healthy (foreign keys
    /// are enforced by PostgreSQL itself).
    public func integrityProblems(kb: Int64) throws -> [String] {
        let logger = self.logger
        return try run("cannot check the database") { client in
            var problems: [String] = []
            let counts = try await client.rows(
                """
                SELECT COUNT(*) AS n FROM document d WHERE d.kb_id = \(kb) AND d.chunk_count !=
                (SELECT COUNT(*) FROM chunk c WHERE c.document_id = d.id)
                """, logger: logger)
            let badCounts = try counts.first?.get("n", as: Int64.self) ?? 0
            if badCounts > 0 { problems.append("\(badCounts) documents whose chunk count disagrees with their chunks") }
            let strays = try await client.rows(
                """
                SELECT COUNT(*) AS n FROM chunk c JOIN document d ON d.id = c.document_id
                WHERE c.kb_id = \(kb) AND d.kb_id != c.kb_id
                """, logger: logger)
            let strayCount = try strays.first?.get("n", as: Int64.self) ?? 0
            if strayCount > 0 { problems.append("\(strayCount) chunks filed under the wrong knowledge base") }
            let vectors = try await client.rows(
                """
                SELECT COUNT(*) AS n FROM chunk_vector WHERE kb_id = \(kb)
                AND COALESCE(array_length(vector, 1), 0) != dimension
                """, logger: logger)
            let badVectors = try vectors.first?.get("n", as: Int64.self) ?? 0
            if badVectors > 0 { problems.append("\(badVectors) stored vectors whose length is not their dimension") }
            return problems
        }
    }
}

/// The chunk change log.
extension PostgresStore: ChunkChangeLog {
    /// Net chunk changes of `kb` after generation `since` (nil when the log does not reach back
    /// that far, or the knowledge base is gone).
    public func chunkChanges(kb: Int64, since: Int64) throws -> (added: [Int64], removed: [Int64], generation: Int64)? {
        let logger = self.logger
        return try run("cannot read the change log") { client in
            try await client.withConnection { c in
                try await c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                let head = try await c.rows(
                    "SELECT generation, log_floor FROM kb WHERE id = \(kb)", logger: logger)
                guard let row = head.first else {
                    _ = try? await c.exec("COMMIT", logger: logger)
                    return nil
                }
                let generation = try row.get("generation", as: Int64.self)
                let floor = try row.get("log_floor", as: Int64.self)
                guard since >= floor, since <= generation else {
                    _ = try? await c.exec("COMMIT", logger: logger)
                    return nil
                }
                let entries = try await c.rows(
                    """
                    SELECT chunk_id, added FROM chunk_log WHERE kb_id = \(kb) AND generation > \(since)
                    ORDER BY generation, added
                    """, logger: logger)
                _ = try? await c.exec("COMMIT", logger: logger)
                // Per chunk: the first entry says whether it was in the index at `since`, the last
                // whether it is now.
                var first: [Int64: Bool] = [:]
                var last: [Int64: Bool] = [:]
                for e in entries {
                    let id = try e.get("chunk_id", as: Int64.self)
                    let added = try e.get("added", as: Bool.self)
                    if first[id] == nil { first[id] = added }
                    last[id] = added
                }
                var added: [Int64] = []
                var removed: [Int64] = []
                for (id, wasAdded) in first {
                    let isIn = last[id] ?? wasAdded
                    let wasIn = !wasAdded
                    if isIn && !wasIn { added.append(id) }
                    if !isIn && wasIn { removed.append(id) }
                }
                return (added.sorted(), removed.sorted(), generation)
            }
        }
    }
}
