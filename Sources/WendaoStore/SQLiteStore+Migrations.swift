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
        // Accounts (Argon2id hashes), their roles per knowledge base, and browser sessions (by the
        // SHA-256 of their token). Deleting a user or a knowledge base removes what hangs on it.
        m.registerMigration("users-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE users (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL,
                        name_key TEXT NOT NULL UNIQUE,
                        password_hash TEXT NOT NULL,
                        is_admin INTEGER NOT NULL DEFAULT 0,
                        created_at REAL NOT NULL,
                        last_login_at REAL
                    );
                    CREATE TABLE user_roles (
                        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        kb_id INTEGER NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                        role TEXT NOT NULL,
                        PRIMARY KEY (user_id, kb_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX user_roles_kb ON user_roles(kb_id);
                    CREATE TABLE sessions (
                        token_hash TEXT PRIMARY KEY,
                        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        csrf_token TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        expires_at REAL NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX sessions_user ON sessions(user_id);
                    """)
        }
        // Public share links of a knowledge base's chat (by the SHA-256 of their token).
        m.registerMigration("shares-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE shares (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kb_id INTEGER NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        token_hash TEXT NOT NULL UNIQUE,
                        prefix TEXT NOT NULL,
                        allowed_origins TEXT NOT NULL,
                        per_minute INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        revoked_at REAL
                    );
                    CREATE INDEX shares_kb ON shares(kb_id, id);
                    """)
        }
        // Provider keys entered in the web UI, sealed with the data directory's secret key.
        m.registerMigration("provider-keys-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE provider_keys (
                        provider TEXT PRIMARY KEY,
                        sealed BLOB NOT NULL,
                        updated_at REAL NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        // Conversations kept (issue 15): a conversation asks one knowledge base; its turns hold the
        // question, the answer, its sources and the asker's feedback. Deleting a knowledge base or a
        // conversation deletes the turns with it. Named apart from the `vN` series so that a
        // migration added on another branch cannot take the same name.
        m.registerMigration("v5-conversations") { db in
            try db.execute(
                sql: """
                    CREATE TABLE conversations (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kb_id INTEGER NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                        title TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        caller_kind TEXT NOT NULL,
                        caller_key_id INTEGER,
                        caller_name TEXT NOT NULL,
                        turn_count INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX conversations_updated ON conversations(updated_at DESC, id DESC);
                    CREATE INDEX conversations_kb ON conversations(kb_id, updated_at DESC, id DESC);
                    CREATE TABLE conversation_turns (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                        question TEXT NOT NULL,
                        answer TEXT NOT NULL,
                        found INTEGER NOT NULL,
                        mode TEXT NOT NULL,
                        model TEXT,
                        citations TEXT NOT NULL DEFAULT '[]',
                        carried TEXT,
                        warnings TEXT NOT NULL DEFAULT '[]',
                        duration_ms INTEGER NOT NULL DEFAULT 0,
                        complete INTEGER NOT NULL DEFAULT 1,
                        created_at REAL NOT NULL,
                        rating INTEGER,
                        note TEXT,
                        feedback_at REAL
                    );
                    CREATE INDEX conversation_turns_conversation ON conversation_turns(conversation_id, id);
                    """)
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
