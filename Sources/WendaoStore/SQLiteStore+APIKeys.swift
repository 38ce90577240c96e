import Foundation
import GRDB
public import WendaoCore

/// API keys: the `api_keys` and `api_key_kb` tables.
extension SQLiteStore: APIKeyStore {
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
}
