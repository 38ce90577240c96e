import Foundation
import GRDB
public import WendaoCore

/// Share links: the `shares` table.
extension SQLiteStore: ShareStore {
    private static func shareRecord(_ row: Row) -> ShareRecord {
        let origins =
            (try? JSONDecoder().decode([String].self, from: Data((row["allowed_origins"] as String).utf8))) ?? []
        return ShareRecord(
            id: row["id"], kbID: row["kb_id"], name: row["name"], tokenHash: row["token_hash"], prefix: row["prefix"],
            allowedOrigins: origins, perMinute: row["per_minute"], createdAt: row["created_at"],
            revokedAt: row["revoked_at"])
    }

    /// Stores a new share link.
    public func createShare(
        kb: Int64, name: String?, tokenHash: String, prefix: String, allowedOrigins: [String], perMinute: Int
    ) throws -> ShareRecord {
        try wrap("cannot create share link") {
            try pool.write { db in
                guard try Int64.fetchOne(db, sql: "SELECT id FROM kb WHERE id = ?", arguments: [kb]) != nil else {
                    throw WendaoError(.notFound, "no knowledge base with id \(kb)")
                }
                let now = Date().timeIntervalSince1970
                let origins = String(decoding: try JSONEncoder().encode(allowedOrigins), as: UTF8.self)
                try db.execute(
                    sql: """
                        INSERT INTO shares (kb_id, name, token_hash, prefix, allowed_origins, per_minute, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [kb, name ?? "", tokenHash, prefix, origins, perMinute, now])
                let id = db.lastInsertedRowID
                let label = name ?? "share-\(id)"
                if name == nil {
                    try db.execute(sql: "UPDATE shares SET name = ? WHERE id = ?", arguments: [label, id])
                }
                return ShareRecord(
                    id: id, kbID: kb, name: label, tokenHash: tokenHash, prefix: prefix, allowedOrigins: allowedOrigins,
                    perMinute: perMinute, createdAt: now)
            }
        }
    }

    /// The links of a knowledge base, by id.
    public func shares(kb: Int64) throws -> [ShareRecord] {
        try wrap("cannot list share links") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM shares WHERE kb_id = ? ORDER BY id", arguments: [kb])
                    .map(Self.shareRecord)
            }
        }
    }

    /// The link with this token hash, or nil.
    public func share(tokenHash: String) throws -> ShareRecord? {
        try wrap("cannot read share link") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM shares WHERE token_hash = ?", arguments: [tokenHash])
                    .map(Self.shareRecord)
            }
        }
    }

    /// Marks a link revoked (again is harmless).
    public func revokeShare(kb: Int64, id: Int64, at: Double) throws {
        try wrap("cannot revoke share link") {
            try pool.write { db in
                guard
                    try Int64.fetchOne(
                        db, sql: "SELECT id FROM shares WHERE id = ? AND kb_id = ?", arguments: [id, kb]) != nil
                else { throw WendaoError(.notFound, "no share link with id \(id) in this knowledge base") }
                try db.execute(
                    sql: "UPDATE shares SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", arguments: [at, id])
            }
        }
    }
}

/// Provider keys: the `provider_keys` table (sealed bytes only).
extension SQLiteStore: ProviderKeyStore {
    /// Stores or replaces a sealed key.
    public func setProviderKey(provider: String, sealed: [UInt8], at: Double) throws {
        try wrap("cannot store provider key") {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO provider_keys (provider, sealed, updated_at) VALUES (?, ?, ?)
                        ON CONFLICT(provider) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at
                        """,
                    arguments: [provider, Data(sealed), at])
            }
        }
    }

    /// Every sealed key.
    public func providerKeys() throws -> [String: (sealed: [UInt8], updatedAt: Double)] {
        try wrap("cannot read provider keys") {
            try pool.read { db in
                var out: [String: (sealed: [UInt8], updatedAt: Double)] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT * FROM provider_keys") {
                    out[row["provider"]] = (Array(row["sealed"] as Data), row["updated_at"])
                }
                return out
            }
        }
    }

    /// Removes a key.
    public func deleteProviderKey(provider: String) throws -> Bool {
        try wrap("cannot remove provider key") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM provider_keys WHERE provider = ?", arguments: [provider])
                return db.changesCount > 0
            }
        }
    }
}
