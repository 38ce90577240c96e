import Foundation
import Logging
import PostgresNIO
public import WendaoCore

/// Knowledge bases: the `kb` table.
extension PostgresStore: KnowledgeBaseStore {
    static func settings(from json: String, kb name: String) throws -> KnowledgeBaseSettings {
        do {
            return try JSONDecoder().decode(KnowledgeBaseSettings.self, from: Data(json.utf8))
        } catch {
            throw WendaoError(
                .storage,
                "the stored settings of knowledge base '\(name)' cannot be read (\(String(describing: error).prefix(200))); "
                    + "correct the settings JSON of this knowledge base in the kb table, or restore it from a backup")
        }
    }

    static func settingsJSON(_ settings: KnowledgeBaseSettings) -> String {
        String(decoding: (try? JSONEncoder().encode(settings)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func kbRecord(_ row: PostgresRandomAccessRow) throws -> KnowledgeBaseRecord {
        let name = try row.get("name", as: String.self)
        return KnowledgeBaseRecord(
            id: try row.get("id"), name: name, settings: try settings(from: try row.get("settings"), kb: name),
            createdAt: try row.get("created_at"), generation: try row.get("generation"))
    }

    /// Creates a knowledge base; `alreadyExists` when the name, or one confusable with it, is taken.
    /// The table is locked against other creators for the check, on every server.
    public func createKnowledgeBase(name: String, settings: KnowledgeBaseSettings) throws -> KnowledgeBaseRecord {
        let name = try KnowledgeBaseName.canonical(name)
        let key = KnowledgeBaseName.confusableKey(name)
        let json = Self.settingsJSON(settings)
        let logger = self.logger
        return try transaction("cannot create knowledge base") { c in
            // Readers go on; a second creator waits here until this one commits.
            try await c.exec("LOCK TABLE kb IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            for row in try await c.rows("SELECT name FROM kb", logger: logger) {
                let existing = try row.get("name", as: String.self)
                if existing == name {
                    throw WendaoError(.alreadyExists, "knowledge base '\(name)' already exists")
                }
                if KnowledgeBaseName.confusableKey(existing) == key {
                    throw WendaoError(
                        .alreadyExists,
                        "knowledge base '\(existing)' already exists, and '\(name)' reads the same; choose another name"
                    )
                }
            }
            let now = Date().timeIntervalSince1970
            let rows = try await c.rows(
                "INSERT INTO kb (name, settings, created_at) VALUES (\(name), \(json), \(now)) RETURNING id",
                logger: logger)
            return KnowledgeBaseRecord(
                id: try rows[0].get("id"), name: name, settings: settings, createdAt: now, generation: 0)
        }
    }

    /// All knowledge bases, by name (byte order, as SQLite sorts).
    public func knowledgeBases() throws -> [KnowledgeBaseRecord] {
        let logger = self.logger
        return try run("cannot list knowledge bases") { client in
            try await client.rows("SELECT * FROM kb ORDER BY name", logger: logger).map(Self.kbRecord)
        }
    }

    /// The knowledge base with this name, or nil.
    public func knowledgeBase(named name: String) throws -> KnowledgeBaseRecord? {
        let name = name.precomposedStringWithCanonicalMapping
        let logger = self.logger
        return try run("cannot read knowledge base") { client in
            try await client.rows("SELECT * FROM kb WHERE name = \(name)", logger: logger).first.map(Self.kbRecord)
        }
    }

    /// Deletes a knowledge base with everything that hangs on it.
    public func deleteKnowledgeBase(id: Int64) throws {
        let logger = self.logger
        try transaction("cannot delete knowledge base") { c in
            try await c.exec("DELETE FROM kb WHERE id = \(id)", logger: logger)
            try await self.dropVectorIndexes(kb: id, connection: c)
            try await c.exec("SELECT pg_notify('wendao_kb', \(String(id)))", logger: logger)
        }
    }

    /// Replaces the settings of a knowledge base.
    public func updateSettings(kb: Int64, settings: KnowledgeBaseSettings) throws {
        let json = Self.settingsJSON(settings)
        let logger = self.logger
        try run("cannot update settings") { client in
            _ = try await client.query("UPDATE kb SET settings = \(json) WHERE id = \(kb)", logger: logger).collect()
        }
    }
}
