import Foundation
import Logging
import PostgresNIO
import WendaoCore

/// Versioned schema migrations. Each runs in its own transaction and is recorded in
/// `wendao_schema`; all of them run under a session advisory lock, so that several servers starting
/// at the same moment apply each migration exactly once (the others wait, then find nothing to do).
extension PostgresStore {
    /// One migration: its version (ascending, never reused), a name, and its SQL.
    struct Migration: Sendable {
        var version: Int
        var name: String
        var sql: [String]
    }

    /// The key of the advisory lock migrations run under ('wendao' in ASCII).
    static let migrationLockKey: Int64 = 0x7765_6E64_616F

    /// The schema versions this build knows, in order.
    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "initial",
            sql: [
                """
                CREATE TABLE kb (
                    id BIGSERIAL PRIMARY KEY,
                    name TEXT COLLATE "C" NOT NULL UNIQUE,
                    settings TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    generation BIGINT NOT NULL DEFAULT 0,
                    log_floor BIGINT NOT NULL DEFAULT 0
                )
                """,
                """
                CREATE TABLE document (
                    id BIGSERIAL PRIMARY KEY,
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    path TEXT COLLATE "C" NOT NULL,
                    title TEXT NOT NULL,
                    format TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    byte_count BIGINT NOT NULL,
                    chunk_count INTEGER NOT NULL,
                    ingested_at DOUBLE PRECISION NOT NULL,
                    source TEXT,
                    etag TEXT,
                    last_modified TEXT,
                    UNIQUE (kb_id, path)
                )
                """,
                """
                CREATE TABLE document_text (
                    document_id BIGINT PRIMARY KEY REFERENCES document(id) ON DELETE CASCADE,
                    text TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE chunk (
                    id BIGSERIAL PRIMARY KEY,
                    document_id BIGINT NOT NULL REFERENCES document(id) ON DELETE CASCADE,
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    ordinal INTEGER NOT NULL,
                    section TEXT NOT NULL,
                    page INTEGER,
                    text TEXT NOT NULL,
                    start_offset INTEGER NOT NULL,
                    end_offset INTEGER NOT NULL,
                    enabled BOOLEAN NOT NULL DEFAULT TRUE,
                    edited BOOLEAN NOT NULL DEFAULT FALSE
                )
                """,
                "CREATE INDEX chunk_document ON chunk(document_id, ordinal)",
                "CREATE INDEX chunk_kb ON chunk(kb_id, id)",
                // What each generation of a knowledge base added to and removed from its indexes.
                """
                CREATE TABLE chunk_log (
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    generation BIGINT NOT NULL,
                    chunk_id BIGINT NOT NULL,
                    added BOOLEAN NOT NULL
                )
                """,
                "CREATE INDEX chunk_log_kb ON chunk_log(kb_id, generation)",
                // Vectors as real[] (any PostgreSQL); stamped with their embedder and dimension.
                """
                CREATE TABLE chunk_vector (
                    chunk_id BIGINT PRIMARY KEY REFERENCES chunk(id) ON DELETE CASCADE,
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    embedder TEXT NOT NULL,
                    dimension INTEGER NOT NULL,
                    vector REAL[] NOT NULL
                )
                """,
                "CREATE INDEX chunk_vector_kb ON chunk_vector(kb_id, embedder, chunk_id)",
                """
                CREATE TABLE api_keys (
                    id BIGSERIAL PRIMARY KEY,
                    name TEXT NOT NULL,
                    prefix TEXT NOT NULL,
                    hash TEXT NOT NULL UNIQUE,
                    scope TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    revoked_at DOUBLE PRECISION,
                    last_used_at DOUBLE PRECISION
                )
                """,
                "CREATE INDEX api_keys_prefix ON api_keys(prefix)",
                """
                CREATE TABLE api_key_kb (
                    key_id BIGINT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    PRIMARY KEY (key_id, kb_id)
                )
                """,
                "CREATE INDEX api_key_kb_kb ON api_key_kb(kb_id)",
                """
                CREATE TABLE jobs (
                    id BIGSERIAL PRIMARY KEY,
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    state TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    started_at DOUBLE PRECISION,
                    finished_at DOUBLE PRECISION,
                    files_total INTEGER NOT NULL DEFAULT 0,
                    files_done INTEGER NOT NULL DEFAULT 0,
                    chunks INTEGER NOT NULL DEFAULT 0,
                    results TEXT NOT NULL DEFAULT '[]',
                    error TEXT,
                    lease_owner TEXT,
                    lease_until TIMESTAMPTZ
                )
                """,
                "CREATE INDEX jobs_kb ON jobs(kb_id, id)",
                "CREATE INDEX jobs_state ON jobs(state, id)",
                """
                CREATE TABLE users (
                    id BIGSERIAL PRIMARY KEY,
                    name TEXT NOT NULL,
                    name_key TEXT COLLATE "C" NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
                    created_at DOUBLE PRECISION NOT NULL,
                    last_login_at DOUBLE PRECISION
                )
                """,
                """
                CREATE TABLE user_roles (
                    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    role TEXT NOT NULL,
                    PRIMARY KEY (user_id, kb_id)
                )
                """,
                "CREATE INDEX user_roles_kb ON user_roles(kb_id)",
                """
                CREATE TABLE sessions (
                    token_hash TEXT PRIMARY KEY,
                    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    csrf_token TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    expires_at DOUBLE PRECISION NOT NULL
                )
                """,
                "CREATE INDEX sessions_user ON sessions(user_id)",
                """
                CREATE TABLE shares (
                    id BIGSERIAL PRIMARY KEY,
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    prefix TEXT NOT NULL,
                    allowed_origins TEXT NOT NULL,
                    per_minute INTEGER NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    revoked_at DOUBLE PRECISION
                )
                """,
                "CREATE INDEX shares_kb ON shares(kb_id, id)",
                """
                CREATE TABLE provider_keys (
                    provider TEXT PRIMARY KEY,
                    sealed BYTEA NOT NULL,
                    updated_at DOUBLE PRECISION NOT NULL
                )
                """,
                """
                CREATE TABLE conversations (
                    id BIGSERIAL PRIMARY KEY,
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    title TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    updated_at DOUBLE PRECISION NOT NULL,
                    caller_kind TEXT NOT NULL,
                    caller_key_id BIGINT,
                    caller_name TEXT NOT NULL,
                    turn_count INTEGER NOT NULL DEFAULT 0
                )
                """,
                "CREATE INDEX conversations_updated ON conversations(updated_at DESC, id DESC)",
                "CREATE INDEX conversations_kb ON conversations(kb_id, updated_at DESC, id DESC)",
                """
                CREATE TABLE conversation_turns (
                    id BIGSERIAL PRIMARY KEY,
                    conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                    question TEXT NOT NULL,
                    answer TEXT NOT NULL,
                    found BOOLEAN NOT NULL,
                    mode TEXT NOT NULL,
                    model TEXT,
                    citations TEXT NOT NULL DEFAULT '[]',
                    carried TEXT,
                    warnings TEXT NOT NULL DEFAULT '[]',
                    duration_ms BIGINT NOT NULL DEFAULT 0,
                    complete BOOLEAN NOT NULL DEFAULT TRUE,
                    created_at DOUBLE PRECISION NOT NULL,
                    rating INTEGER,
                    note TEXT,
                    feedback_at DOUBLE PRECISION
                )
                """,
                "CREATE INDEX conversation_turns_conversation ON conversation_turns(conversation_id, id)",
                """
                CREATE TABLE curated_answer (
                    id BIGSERIAL PRIMARY KEY,
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    question TEXT NOT NULL,
                    question_key TEXT COLLATE "C" NOT NULL,
                    answer TEXT NOT NULL,
                    note TEXT,
                    source_turn TEXT,
                    created_at DOUBLE PRECISION NOT NULL,
                    updated_at DOUBLE PRECISION NOT NULL,
                    UNIQUE (kb_id, question_key)
                )
                """,
                // Uploaded originals, the source of any server's ingest and re-ingest (see README).
                """
                CREATE TABLE upload (
                    kb_id BIGINT NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
                    name TEXT COLLATE "C" NOT NULL,
                    bytes BYTEA NOT NULL,
                    updated_at DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (kb_id, name)
                )
                """,
            ])
    ]

    /// The newest schema version this build knows.
    public static var schemaVersion: Int { migrations.last?.version ?? 0 }

    /// Applies pending migrations under the advisory lock; each in its own transaction.
    /// Throws `.storage` when the database holds a schema newer than this build knows.
    public func migrate() throws {
        let logger = self.logger
        let redacted = url.redacted
        let applied: [Int] = try run("cannot migrate the database") { client in
            try await client.withConnection { connection in
                try await connection.exec("SELECT pg_advisory_lock(\(Self.migrationLockKey))", logger: logger)
                do {
                    let done = try await Self.migrateLocked(connection, database: redacted, logger: logger)
                    try await connection.exec("SELECT pg_advisory_unlock(\(Self.migrationLockKey))", logger: logger)
                    return done
                } catch {
                    // Closing the session would release the lock too; unlock explicitly all the same.
                    try? await connection.exec(
                        "SELECT pg_advisory_unlock(\(Self.migrationLockKey))", logger: logger)
                    throw error
                }
            }
        }
        if !applied.isEmpty {
            logger.notice(
                "database migrated",
                metadata: [
                    "database": "\(url.redacted)", "versions": "\(applied.map(String.init).joined(separator: ","))",
                ])
        }
    }

    private static func migrateLocked(
        _ connection: PostgresConnection, database: String, logger: Logger
    ) async throws -> [Int] {
        try await connection.exec(
            """
            CREATE TABLE IF NOT EXISTS wendao_schema (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """, logger: logger)
        let current = try await currentVersion(connection, logger: logger)
        guard current <= schemaVersion else { throw newerSchema(current, database: database) }
        var applied: [Int] = []
        for m in migrations where m.version > current {
            try await connection.exec("BEGIN", logger: logger)
            do {
                for statement in m.sql {
                    try await connection.exec(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.exec(
                    "INSERT INTO wendao_schema (version, name) VALUES (\(m.version), \(m.name))", logger: logger)
                try await connection.exec("COMMIT", logger: logger)
            } catch {
                try? await connection.exec("ROLLBACK", logger: logger)
                throw error
            }
            applied.append(m.version)
        }
        return applied
    }

    private static func currentVersion(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.rows("SELECT COALESCE(MAX(version), 0) AS v FROM wendao_schema", logger: logger)
        return Int(try rows.first?.get("v", as: Int32.self) ?? 0)
    }

    private static func newerSchema(_ version: Int, database: String) -> WendaoError {
        WendaoError(
            .storage,
            "the database \(database) holds schema version \(version), newer than this Wendao knows (\(schemaVersion)); "
                + "upgrade Wendao on this server")
    }

    /// Fails unless the schema is exactly the version this build knows (``init(url:logger:migrate:)``
    /// with `migrate: false`).
    func checkSchemaVersion() throws {
        let logger = self.logger
        let version: Int = try run("cannot read the schema version") { client in
            let rows = try await client.rows(
                "SELECT to_regclass('wendao_schema') IS NOT NULL AS present", logger: logger)
            guard try rows.first?.get("present", as: Bool.self) == true else { return 0 }
            let v = try await client.rows("SELECT COALESCE(MAX(version), 0) AS v FROM wendao_schema", logger: logger)
            return Int(try v.first?.get("v", as: Int32.self) ?? 0)
        }
        if version > Self.schemaVersion { throw Self.newerSchema(version, database: url.redacted) }
        if version < Self.schemaVersion {
            throw WendaoError(
                .storage,
                "the database \(url.redacted) is at schema version \(version), this Wendao needs \(Self.schemaVersion): "
                    + "run `wendao db migrate`")
        }
    }

    /// The schema version the database holds (0 for an empty database).
    public func storedSchemaVersion() throws -> Int {
        let logger = self.logger
        return try run("cannot read the schema version") { client in
            let rows = try await client.rows(
                "SELECT to_regclass('wendao_schema') IS NOT NULL AS present", logger: logger)
            guard try rows.first?.get("present", as: Bool.self) == true else { return 0 }
            let v = try await client.rows("SELECT COALESCE(MAX(version), 0) AS v FROM wendao_schema", logger: logger)
            return Int(try v.first?.get("v", as: Int32.self) ?? 0)
        }
    }
}
