import Foundation
import GRDB
public import WendaoCore

/// The embedded store: one SQLite database (WAL, foreign keys on, one writer) holding every
/// knowledge base of a data directory.
///
/// ```swift
/// let store = try SQLiteStore(path: "/data/wendao.sqlite")
/// let kb = try store.createKnowledgeBase(name: "logistics", settings: .default)
/// ```
public final class SQLiteStore: KnowledgeStore {
    private let pool: DatabasePool
    /// False only for a test database built up to a migration before `v3` (no source columns).
    private let hasSourceColumns: Bool
    /// Where the database file is.
    public let path: String

    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    public convenience init(path: String) throws {
        try self.init(path: path, migratingUpTo: nil)
    }

    /// Opens the database at `path`, migrating up to the migration named `target` (all when nil);
    /// tests use it to build databases of an older schema version.
    init(path: String, migratingUpTo target: String?) throws {
        self.path = path
        hasSourceColumns = target == nil || !["v1", "v2"].contains(target!)
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            if let target {
                try Self.migrator.migrate(pool, upTo: target)
            } else {
                try Self.migrator.migrate(pool)
            }
        } catch let e as DatabaseError {
            throw WendaoError(.storage, "cannot open database \(path): \(e.message ?? "\(e.resultCode)")")
        }
    }

    /// Versioned, idempotent schema migrations.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE kb (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL UNIQUE,
                        settings TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        generation INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE TABLE document (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kb_id INTEGER NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                        path TEXT NOT NULL,
                        title TEXT NOT NULL,
                        format TEXT NOT NULL,
                        content_hash TEXT NOT NULL,
                        byte_count INTEGER NOT NULL,
                        chunk_count INTEGER NOT NULL,
                        ingested_at REAL NOT NULL,
                        UNIQUE (kb_id, path)
                    );
                    CREATE TABLE chunk (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        document_id INTEGER NOT NULL REFERENCES document(id) ON DELETE CASCADE,
                        kb_id INTEGER NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                        ordinal INTEGER NOT NULL,
                        section TEXT NOT NULL,
                        page INTEGER,
                        text TEXT NOT NULL,
                        start INTEGER NOT NULL,
                        "end" INTEGER NOT NULL
                    );
                    CREATE INDEX chunk_document ON chunk(document_id, ordinal);
                    CREATE INDEX chunk_kb ON chunk(kb_id);
                    """)
        }
        // API keys (hashed) with the knowledge bases they cover, and ingest jobs. Deleting a
        // knowledge base removes it from every key (the key stays) and deletes its jobs.
        m.registerMigration("v2") { db in
            try db.execute(
                sql: """
                    CREATE TABLE api_keys (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL,
                        prefix TEXT NOT NULL,
                        hash TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        revoked_at REAL,
                        last_used_at REAL
                    );
                    CREATE UNIQUE INDEX api_keys_hash ON api_keys(hash);
                    CREATE INDEX api_keys_prefix ON api_keys(prefix);
                    CREATE TABLE api_key_kb (
                        key_id INTEGER NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
                        kb_id INTEGER NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                        PRIMARY KEY (key_id, kb_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX api_key_kb_kb ON api_key_kb(kb_id);
                    CREATE TABLE jobs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kb_id INTEGER NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                        state TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        started_at REAL,
                        finished_at REAL,
                        files_total INTEGER NOT NULL DEFAULT 0,
                        files_done INTEGER NOT NULL DEFAULT 0,
                        chunks INTEGER NOT NULL DEFAULT 0,
                        results TEXT NOT NULL DEFAULT '[]',
                        error TEXT
                    );
                    CREATE INDEX jobs_kb ON jobs(kb_id, id);
                    CREATE INDEX jobs_state ON jobs(state, id);
                    """)
        }
        m.registerMigration("v3") { db in
            // Where each document came from, so it can be re-read (server re-ingest, web pages).
            try db.execute(sql: "ALTER TABLE document ADD COLUMN source TEXT")
            try db.execute(sql: "ALTER TABLE document ADD COLUMN etag TEXT")
            try db.execute(sql: "ALTER TABLE document ADD COLUMN last_modified TEXT")
        }
        m.registerMigration("v4") { db in
            // Names are compared in NFC everywhere: store older names in that form (a name whose NFC
            // form another knowledge base already holds keeps its bytes, and `doctor` names it).
            let rows = try Row.fetchAll(db, sql: "SELECT id, name FROM kb")
            // Compared as bytes: Swift's `String` equality would see an NFD name and its NFC form as one.
            var taken = Set(rows.map { Array(($0["name"] as String).utf8) })
            for row in rows {
                let name: String = row["name"]
                let nfc = name.precomposedStringWithCanonicalMapping
                guard !taken.contains(Array(nfc.utf8)) else { continue }
                try db.execute(sql: "UPDATE kb SET name = ? WHERE id = ?", arguments: [nfc, row["id"] as Int64])
                taken.insert(Array(nfc.utf8))
            }
        }
        return m
    }

    private func wrap<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as WendaoError {
            throw e
        } catch let e as DatabaseError {
            throw WendaoError(.storage, "\(what): \(e.message ?? "\(e.resultCode)")")
        }
    }

    /// Stored settings, or an error naming the knowledge base: settings that cannot be read are never
    /// silently replaced by the defaults (a knowledge base would quietly change its chunking, its
    /// embedder or its retrieval).
    private static func settings(from json: String, kb name: String) throws -> KnowledgeBaseSettings {
        do {
            return try JSONDecoder().decode(KnowledgeBaseSettings.self, from: Data(json.utf8))
        } catch {
            throw WendaoError(
                .storage,
                "the stored settings of knowledge base '\(name)' cannot be read (\(String(describing: error).prefix(200))); "
                    + "correct the settings JSON of this knowledge base in wendao.sqlite, or restore it from a backup")
        }
    }

    private static func kbRecord(_ row: Row) throws -> KnowledgeBaseRecord {
        let name: String = row["name"]
        return KnowledgeBaseRecord(
            id: row["id"], name: name, settings: try settings(from: row["settings"], kb: name),
            createdAt: row["created_at"], generation: row["generation"])
    }

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
            start: row["start"], end: row["end"])
    }

    // MARK: Knowledge bases

    /// Creates a knowledge base; throws `alreadyExists` when the name, or a name confusable with it
    /// (``KnowledgeBaseName/confusableKey(_:)``), is taken. The name is stored in NFC.
    public func createKnowledgeBase(name: String, settings: KnowledgeBaseSettings) throws -> KnowledgeBaseRecord {
        let name = try KnowledgeBaseName.canonical(name)
        let key = KnowledgeBaseName.confusableKey(name)
        let json = String(decoding: (try? JSONEncoder().encode(settings)) ?? Data("{}".utf8), as: UTF8.self)
        return try wrap("cannot create knowledge base") {
            try pool.write { db in
                // One write transaction: no other writer can create a confusable name in between.
                for existing in try String.fetchAll(db, sql: "SELECT name FROM kb") {
                    if existing == name {
                        throw WendaoError(.alreadyExists, "knowledge base '\(name)' already exists")
                    }
                    if KnowledgeBaseName.confusableKey(existing) == key {
                        throw WendaoError(
                            .alreadyExists,
                            "knowledge base '\(existing)' already exists, and '\(name)' reads the same; choose another name")
                    }
                }
                let now = Date().timeIntervalSince1970
                try db.execute(
                    sql: "INSERT INTO kb (name, settings, created_at) VALUES (?, ?, ?)", arguments: [name, json, now])
                return KnowledgeBaseRecord(
                    id: db.lastInsertedRowID, name: name, settings: settings, createdAt: now, generation: 0)
            }
        }
    }

    /// All knowledge bases, by name.
    public func knowledgeBases() throws -> [KnowledgeBaseRecord] {
        try wrap("cannot list knowledge bases") {
            try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM kb ORDER BY name").map(Self.kbRecord) }
        }
    }

    /// The knowledge base with this name, or nil.
    public func knowledgeBase(named name: String) throws -> KnowledgeBaseRecord? {
        // Names are stored in NFC: a name given in another canonically equivalent form is the same name.
        let name = name.precomposedStringWithCanonicalMapping
        return try wrap("cannot read knowledge base") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM kb WHERE name = ?", arguments: [name]).map(Self.kbRecord)
            }
        }
    }

    /// Deletes a knowledge base; documents and chunks go with it (foreign-key cascade).
    public func deleteKnowledgeBase(id: Int64) throws {
        try wrap("cannot delete knowledge base") {
            try pool.write { db in try db.execute(sql: "DELETE FROM kb WHERE id = ?", arguments: [id]) }
        }
    }

    /// Replaces the settings of a knowledge base.
    public func updateSettings(kb: Int64, settings: KnowledgeBaseSettings) throws {
        let json = String(decoding: (try? JSONEncoder().encode(settings)) ?? Data("{}".utf8), as: UTF8.self)
        try wrap("cannot update settings") {
            try pool.write { db in
                try db.execute(sql: "UPDATE kb SET settings = ? WHERE id = ?", arguments: [json, kb])
            }
        }
    }

    // MARK: Documents

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
            try pool.write { db in try Self.replace(db, kb: kb, document, withSources: hasSourceColumns, chunks: chunks) }
        }
    }

    /// Stores several documents in one transaction (all or none).
    public func replaceDocuments(kb: Int64, _ documents: [(document: NewDocument, chunks: [ChunkDraft])]) throws
        -> [DocumentChange]
    {
        try wrap("cannot store \(documents.count) documents") {
            try pool.write { db in
                try documents.map { item in
                    try Self.replace(db, kb: kb, item.document, withSources: hasSourceColumns) { insert in
                        for c in item.chunks { _ = try insert(c) }
                    }
                }
            }
        }
    }

    /// One document's replacement inside an open transaction.
    private static func replace(
        _ db: Database, kb: Int64, _ document: NewDocument, withSources: Bool = true,
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
                        + " WHERE chunk.document_id = ? AND chunk.ordinal BETWEEN ? AND ? ORDER BY chunk.ordinal",
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
                    db, sql: "SELECT id, section, text FROM chunk WHERE kb_id = ? ORDER BY id", arguments: [kb])
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
                try Int64.fetchAll(db, sql: "SELECT id FROM chunk WHERE kb_id = ? ORDER BY id", arguments: [kb])
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

    // MARK: API keys

    private static func apiKeyRecord(_ row: Row, knowledgeBaseIDs: [Int64]) -> APIKeyRecord {
        APIKeyRecord(
            id: row["id"], name: row["name"], prefix: row["prefix"], hash: row["hash"],
            // An unknown scope (written by a newer version) is read with the least privilege.
            scope: APIKeyScope(rawValue: row["scope"]) ?? .read, knowledgeBaseIDs: knowledgeBaseIDs,
            createdAt: row["created_at"], revokedAt: row["revoked_at"], lastUsedAt: row["last_used_at"])
    }

    private static func apiKey(_ db: Database, id: Int64) throws -> APIKeyRecord? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id]) else {
            return nil
        }
        let kbs = try Int64.fetchAll(
            db, sql: "SELECT kb_id FROM api_key_kb WHERE key_id = ? ORDER BY kb_id", arguments: [id])
        return apiKeyRecord(row, knowledgeBaseIDs: kbs)
    }

    /// Stores a new API key with the knowledge bases it covers, in one transaction.
    public func createAPIKey(
        name: String?, prefix: String, hash: String, scope: APIKeyScope, knowledgeBaseIDs: [Int64]
    ) throws -> APIKeyRecord {
        try wrap("cannot create API key") {
            try pool.write { db in
                let ids = Array(Set(knowledgeBaseIDs)).sorted()
                for kb in ids {
                    guard try Int64.fetchOne(db, sql: "SELECT id FROM kb WHERE id = ?", arguments: [kb]) != nil else {
                        throw WendaoError(.notFound, "no knowledge base with id \(kb)")
                    }
                }
                let now = Date().timeIntervalSince1970
                try db.execute(
                    sql: "INSERT INTO api_keys (name, prefix, hash, scope, created_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [name ?? "", prefix, hash, scope.rawValue, now])
                let id = db.lastInsertedRowID
                if name == nil {
                    try db.execute(sql: "UPDATE api_keys SET name = ? WHERE id = ?", arguments: ["key-\(id)", id])
                }
                for kb in ids {
                    try db.execute(sql: "INSERT INTO api_key_kb (key_id, kb_id) VALUES (?, ?)", arguments: [id, kb])
                }
                return APIKeyRecord(
                    id: id, name: name ?? "key-\(id)", prefix: prefix, hash: hash, scope: scope, knowledgeBaseIDs: ids,
                    createdAt: now)
            }
        }
    }

    /// All API keys, revoked ones included, by id.
    public func apiKeys() throws -> [APIKeyRecord] {
        try wrap("cannot list API keys") {
            try pool.read { db in
                var kbs: [Int64: [Int64]] = [:]
                let links = try Row.fetchCursor(db, sql: "SELECT key_id, kb_id FROM api_key_kb ORDER BY key_id, kb_id")
                while let link = try links.next() { kbs[link[0], default: []].append(link[1]) }
                return try Row.fetchAll(db, sql: "SELECT * FROM api_keys ORDER BY id").map { row in
                    Self.apiKeyRecord(row, knowledgeBaseIDs: kbs[row["id"]] ?? [])
                }
            }
        }
    }

    /// The API key with this hash (an indexed lookup), or nil.
    public func apiKey(hash: String) throws -> APIKeyRecord? {
        try wrap("cannot read API key") {
            try pool.read { db in
                guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM api_keys WHERE hash = ?", arguments: [hash])
                else { return nil }
                return try Self.apiKey(db, id: id)
            }
        }
    }

    /// Marks a key revoked; an unknown or already revoked key is an error.
    public func revokeAPIKey(id: Int64, at: Double) throws -> APIKeyRecord {
        try wrap("cannot revoke API key") {
            try pool.write { db in
                guard var key = try Self.apiKey(db, id: id) else {
                    throw WendaoError(.notFound, "no API key with id \(id)")
                }
                guard key.revokedAt == nil else {
                    throw WendaoError(.invalidArgument, "API key \(id) (\(key.prefix)…) is already revoked")
                }
                try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ?", arguments: [at, id])
                key.revokedAt = at
                return key
            }
        }
    }

    /// Records that a key was used.
    public func markAPIKeyUsed(id: Int64, at: Double) throws {
        try wrap("cannot update API key") {
            try pool.write { db in
                try db.execute(sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?", arguments: [at, id])
            }
        }
    }

    // MARK: Jobs

    private static func jobRecord(_ row: Row) -> JobRecord {
        let results =
            (try? JSONDecoder().decode([JobFileResult].self, from: Data((row["results"] as String? ?? "[]").utf8)))
            ?? []
        return JobRecord(
            id: row["id"], kbID: row["kb_id"],
            // A state written by a newer version reads as failed: never picked up, never resumed.
            state: JobState(rawValue: row["state"]) ?? .failed, createdAt: row["created_at"],
            startedAt: row["started_at"], finishedAt: row["finished_at"], filesTotal: row["files_total"],
            filesDone: row["files_done"], chunks: row["chunks"], results: results, error: row["error"],
            payload: row["payload"])
    }

    private static func json(_ results: [JobFileResult]) -> String {
        String(decoding: (try? JSONEncoder().encode(results)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// Stores a new queued job.
    public func createJob(kb: Int64, payload: String, filesTotal: Int) throws -> JobRecord {
        try wrap("cannot create job") {
            try pool.write { db in
                guard try Int64.fetchOne(db, sql: "SELECT id FROM kb WHERE id = ?", arguments: [kb]) != nil else {
                    throw WendaoError(.notFound, "no knowledge base with id \(kb)")
                }
                let now = Date().timeIntervalSince1970
                try db.execute(
                    sql: "INSERT INTO jobs (kb_id, state, payload, created_at, files_total) VALUES (?, ?, ?, ?, ?)",
                    arguments: [kb, JobState.queued.rawValue, payload, now, filesTotal])
                return JobRecord(
                    id: db.lastInsertedRowID, kbID: kb, state: .queued, createdAt: now, filesTotal: filesTotal,
                    payload: payload)
            }
        }
    }

    /// Stores a job's state, times, progress, results and error.
    public func updateJob(_ job: JobRecord) throws {
        let results = Self.json(job.results)
        try wrap("cannot update job \(job.id)") {
            try pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE jobs SET state = ?, started_at = ?, finished_at = ?, files_total = ?, files_done = ?,
                        chunks = ?, results = ?, error = ? WHERE id = ?
                        """,
                    arguments: [
                        job.state.rawValue, job.startedAt, job.finishedAt, job.filesTotal, job.filesDone, job.chunks,
                        results, job.error, job.id,
                    ])
                guard db.changesCount > 0 else { throw WendaoError(.notFound, "no job with id \(job.id)") }
            }
        }
    }

    /// The job with this id, or nil.
    public func job(id: Int64) throws -> JobRecord? {
        try wrap("cannot read job") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]).map(Self.jobRecord)
            }
        }
    }

    /// The newest jobs of a knowledge base, newest first.
    public func jobs(kb: Int64, limit: Int) throws -> [JobRecord] {
        try wrap("cannot list jobs") {
            try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM jobs WHERE kb_id = ? ORDER BY id DESC LIMIT ?",
                    arguments: [kb, max(0, limit)]
                ).map(Self.jobRecord)
            }
        }
    }

    /// Puts running jobs back to queued and returns them.
    public func requeueRunningJobs() throws -> [JobRecord] {
        try wrap("cannot recover jobs") {
            try pool.write { db in
                let running = try Row.fetchAll(
                    db, sql: "SELECT * FROM jobs WHERE state = ? ORDER BY id", arguments: [JobState.running.rawValue]
                ).map(Self.jobRecord)
                guard !running.isEmpty else { return [] }
                try db.execute(
                    sql: "UPDATE jobs SET state = ? WHERE state = ?",
                    arguments: [JobState.queued.rawValue, JobState.running.rawValue])
                return running.map { job in
                    var job = job
                    job.state = .queued
                    return job
                }
            }
        }
    }

    /// The oldest queued job, or nil.
    public func nextQueuedJob() throws -> JobRecord? {
        try wrap("cannot read jobs") {
            try pool.read { db in
                try Row.fetchOne(
                    db, sql: "SELECT * FROM jobs WHERE state = ? ORDER BY id LIMIT 1",
                    arguments: [JobState.queued.rawValue]
                ).map(Self.jobRecord)
            }
        }
    }
}
