import Foundation
import GRDB

extension SQLiteStore {
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
        m.registerMigration("v5-documents") { db in
            // Documents an editor can inspect and correct: the extracted text of each document,
            // chunks that can be disabled (kept, never retrieved) and marked as edited, and curated
            // answers (an editor's question and answer; `question_key` is the normalised question).
            try db.execute(
                sql: """
                    ALTER TABLE chunk ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
                    ALTER TABLE chunk ADD COLUMN edited INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE document_text (
                        document_id INTEGER PRIMARY KEY REFERENCES document(id) ON DELETE CASCADE,
                        text TEXT NOT NULL
                    );
                    CREATE TABLE curated_answer (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kb_id INTEGER NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                        question TEXT NOT NULL,
                        question_key TEXT NOT NULL,
                        answer TEXT NOT NULL,
                        note TEXT,
                        source_turn TEXT,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        UNIQUE (kb_id, question_key)
                    );
                    """)
        }
        return m
    }
}
