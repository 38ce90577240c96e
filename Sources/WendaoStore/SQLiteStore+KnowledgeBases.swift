import Foundation
import GRDB
public import WendaoCore

/// Knowledge bases: the `kb` table.
extension SQLiteStore: KnowledgeBaseStore {
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
}
