import Foundation
import Logging
import PostgresNIO
public import WendaoCore

/// API keys: the `api_keys` and `api_key_kb` tables.
extension PostgresStore: APIKeyStore {
    private static func apiKey(_ c: PostgresConnection, where condition: PostgresQuery, logger: Logger) async throws
        -> APIKeyRecord?
    {
        guard let row = try await c.rows(condition, logger: logger).first else { return nil }
        let id = try row.get("id", as: Int64.self)
        let kbs = try await c.rows("SELECT kb_id FROM api_key_kb WHERE key_id = \(id) ORDER BY kb_id", logger: logger)
            .map { try $0.get("kb_id", as: Int64.self) }
        return try apiKeyRecord(row, knowledgeBaseIDs: kbs)
    }

    private static func apiKeyRecord(_ row: PostgresRandomAccessRow, knowledgeBaseIDs: [Int64]) throws -> APIKeyRecord {
        APIKeyRecord(
            id: try row.get("id"), name: try row.get("name"), prefix: try row.get("prefix"), hash: try row.get("hash"),
            // An unknown scope (written by a newer version) is read with the least privilege.
            scope: APIKeyScope(rawValue: try row.get("scope")) ?? .read, knowledgeBaseIDs: knowledgeBaseIDs,
            createdAt: try row.get("created_at"), revokedAt: try row.get("revoked_at"),
            lastUsedAt: try row.get("last_used_at"))
    }

    /// Stores a new API key with the knowledge bases it covers, in one transaction.
    public func createAPIKey(
        name: String?, prefix: String, hash: String, scope: APIKeyScope, knowledgeBaseIDs: [Int64]
    ) throws -> APIKeyRecord {
        let ids = Array(Set(knowledgeBaseIDs)).sorted()
        let logger = self.logger
        let now = Date().timeIntervalSince1970
        return try transaction("cannot create API key") { c in
            let found = try await c.rows("SELECT id FROM kb WHERE id = ANY(\(ids)::int8[]) FOR SHARE", logger: logger)
                .map { try $0.get("id", as: Int64.self) }
            if let missing = ids.first(where: { !found.contains($0) }) {
                throw WendaoError(.notFound, "no knowledge base with id \(missing)")
            }
            let rows = try await c.rows(
                """
                INSERT INTO api_keys (name, prefix, hash, scope, created_at)
                VALUES (\(name ?? ""), \(prefix), \(hash), \(scope.rawValue), \(now)) RETURNING id
                """, logger: logger)
            let id = try rows[0].get("id", as: Int64.self)
            if name == nil {
                try await c.exec("UPDATE api_keys SET name = \("key-\(id)") WHERE id = \(id)", logger: logger)
            }
            if !ids.isEmpty {
                try await c.exec(
                    "INSERT INTO api_key_kb (key_id, kb_id) SELECT \(id), unnest(\(ids)::int8[])", logger: logger)
            }
            return APIKeyRecord(
                id: id, name: name ?? "key-\(id)", prefix: prefix, hash: hash, scope: scope, knowledgeBaseIDs: ids,
                createdAt: now)
        }
    }

    /// All API keys, revoked ones included, by id.
    public func apiKeys() throws -> [APIKeyRecord] {
        let logger = self.logger
        return try run("cannot list API keys") { client in
            var kbs: [Int64: [Int64]] = [:]
            for link in try await client.rows(
                "SELECT key_id, kb_id FROM api_key_kb ORDER BY key_id, kb_id", logger: logger)
            {
                kbs[try link.get("key_id", as: Int64.self), default: []].append(try link.get("kb_id", as: Int64.self))
            }
            return try await client.rows("SELECT * FROM api_keys ORDER BY id", logger: logger).map { row in
                try Self.apiKeyRecord(row, knowledgeBaseIDs: kbs[try row.get("id", as: Int64.self)] ?? [])
            }
        }
    }

    /// The API key with this hash, or nil.
    public func apiKey(hash: String) throws -> APIKeyRecord? {
        let logger = self.logger
        return try run("cannot read API key") { client in
            try await client.withConnection { c in
                try await Self.apiKey(c, where: "SELECT * FROM api_keys WHERE hash = \(hash)", logger: logger)
            }
        }
    }

    /// Marks a key revoked; an unknown or already revoked key is an error.
    public func revokeAPIKey(id: Int64, at: Double) throws -> APIKeyRecord {
        let logger = self.logger
        return try transaction("cannot revoke API key") { c in
            guard
                var key = try await Self.apiKey(
                    c, where: "SELECT * FROM api_keys WHERE id = \(id) FOR UPDATE", logger: logger)
            else { throw WendaoError(.notFound, "no API key with id \(id)") }
            guard key.revokedAt == nil else {
                throw WendaoError(.invalidArgument, "API key \(id) (\(key.prefix)…) is already revoked")
            }
            try await c.exec("UPDATE api_keys SET revoked_at = \(at) WHERE id = \(id)", logger: logger)
            key.revokedAt = at
            return key
        }
    }

    /// Records that a key was used.
    public func markAPIKeyUsed(id: Int64, at: Double) throws {
        let logger = self.logger
        try run("cannot update API key") { client in
            _ = try await client.query("UPDATE api_keys SET last_used_at = \(at) WHERE id = \(id)", logger: logger)
                .collect()
        }
    }
}

/// Accounts and sessions: the `users`, `user_roles` and `sessions` tables.
extension PostgresStore: UserStore {
    /// The key names are unique by: case-folded, in NFC (as the SQLite store).
    static func nameKey(_ name: String) -> String {
        name.precomposedStringWithCanonicalMapping.lowercased()
    }

    private static func userRecord(_ c: PostgresConnection, _ row: PostgresRandomAccessRow, logger: Logger) async throws
        -> UserRecord
    {
        let id = try row.get("id", as: Int64.self)
        var roles: [Int64: UserRole] = [:]
        for r in try await c.rows("SELECT kb_id, role FROM user_roles WHERE user_id = \(id)", logger: logger) {
            // A role written by a newer version is read as the least one.
            roles[try r.get("kb_id", as: Int64.self)] = UserRole(rawValue: try r.get("role")) ?? .viewer
        }
        return UserRecord(
            id: id, name: try row.get("name"), passwordHash: try row.get("password_hash"),
            isAdministrator: try row.get("is_admin"), roles: roles, createdAt: try row.get("created_at"),
            lastLoginAt: try row.get("last_login_at"))
    }

    private static func writeRoles(_ c: PostgresConnection, user: Int64, _ roles: [Int64: UserRole], logger: Logger)
        async throws
    {
        try await c.exec("DELETE FROM user_roles WHERE user_id = \(user)", logger: logger)
        for (kb, role) in roles.sorted(by: { $0.key < $1.key }) {
            guard !(try await c.rows("SELECT id FROM kb WHERE id = \(kb) FOR SHARE", logger: logger)).isEmpty else {
                throw WendaoError(.notFound, "no knowledge base with id \(kb)")
            }
            try await c.exec(
                "INSERT INTO user_roles (user_id, kb_id, role) VALUES (\(user), \(kb), \(role.rawValue))",
                logger: logger)
        }
    }

    private static func requireUser(_ c: PostgresConnection, _ id: Int64, logger: Logger) async throws {
        guard !(try await c.rows("SELECT id FROM users WHERE id = \(id) FOR UPDATE", logger: logger)).isEmpty else {
            throw WendaoError(.notFound, "no user with id \(id)")
        }
    }

    /// Stores a new user with their roles, in one transaction.
    public func createUser(
        name: String, passwordHash: String, isAdministrator: Bool, roles: [Int64: UserRole]
    ) throws -> UserRecord {
        let key = Self.nameKey(name)
        let logger = self.logger
        let now = Date().timeIntervalSince1970
        return try transaction("cannot create user") { c in
            let rows = try await c.rows(
                """
                INSERT INTO users (name, name_key, password_hash, is_admin, created_at)
                VALUES (\(name), \(key), \(passwordHash), \(isAdministrator), \(now))
                ON CONFLICT (name_key) DO NOTHING RETURNING id
                """, logger: logger)
            guard let id = try rows.first?.get("id", as: Int64.self) else {
                throw WendaoError(.alreadyExists, "a user named '\(name)' already exists")
            }
            try await Self.writeRoles(c, user: id, isAdministrator ? [:] : roles, logger: logger)
            return UserRecord(
                id: id, name: name, passwordHash: passwordHash, isAdministrator: isAdministrator,
                roles: isAdministrator ? [:] : roles, createdAt: now)
        }
    }

    /// All users, by id.
    public func users() throws -> [UserRecord] {
        let logger = self.logger
        return try run("cannot list users") { client in
            try await client.withConnection { c in
                var out: [UserRecord] = []
                for row in try await c.rows("SELECT * FROM users ORDER BY id", logger: logger) {
                    out.append(try await Self.userRecord(c, row, logger: logger))
                }
                return out
            }
        }
    }

    private func oneUser(_ what: String, _ query: PostgresQuery) throws -> UserRecord? {
        let logger = self.logger
        return try run(what) { client in
            try await client.withConnection { c in
                guard let row = try await c.rows(query, logger: logger).first else { return nil }
                return try await Self.userRecord(c, row, logger: logger)
            }
        }
    }

    /// The user with this name (case-insensitive, NFC), or nil.
    public func user(named name: String) throws -> UserRecord? {
        try oneUser("cannot read user", "SELECT * FROM users WHERE name_key = \(Self.nameKey(name))")
    }

    /// The user with this id, or nil.
    public func user(id: Int64) throws -> UserRecord? {
        try oneUser("cannot read user", "SELECT * FROM users WHERE id = \(id)")
    }

    /// Replaces the password hash and ends every session of the user.
    public func setPassword(user: Int64, passwordHash: String) throws {
        let logger = self.logger
        try transaction("cannot change password") { c in
            try await Self.requireUser(c, user, logger: logger)
            try await c.exec("UPDATE users SET password_hash = \(passwordHash) WHERE id = \(user)", logger: logger)
            try await c.exec("DELETE FROM sessions WHERE user_id = \(user)", logger: logger)
        }
    }

    /// Replaces the administrator flag and the roles.
    public func setRoles(user: Int64, isAdministrator: Bool, roles: [Int64: UserRole]) throws {
        let logger = self.logger
        try transaction("cannot change roles") { c in
            try await Self.requireUser(c, user, logger: logger)
            try await c.exec("UPDATE users SET is_admin = \(isAdministrator) WHERE id = \(user)", logger: logger)
            try await Self.writeRoles(c, user: user, isAdministrator ? [:] : roles, logger: logger)
        }
    }

    /// Deletes a user; their roles and sessions go with them.
    public func deleteUser(id: Int64) throws {
        let logger = self.logger
        try transaction("cannot delete user") { c in
            try await Self.requireUser(c, id, logger: logger)
            try await c.exec("DELETE FROM users WHERE id = \(id)", logger: logger)
        }
    }

    /// Records a successful sign-in.
    public func markLogin(user: Int64, at: Double) throws {
        let logger = self.logger
        try run("cannot record sign-in") { client in
            _ = try await client.query("UPDATE users SET last_login_at = \(at) WHERE id = \(user)", logger: logger)
                .collect()
        }
    }

    /// Stores a new session.
    public func createSession(_ s: SessionRecord) throws {
        let logger = self.logger
        try transaction("cannot create session") { c in
            try await Self.requireUser(c, s.userID, logger: logger)
            try await c.exec(
                """
                INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
                VALUES (\(s.tokenHash), \(s.userID), \(s.csrfToken), \(s.createdAt), \(s.expiresAt))
                """, logger: logger)
        }
    }

    /// The unexpired session with this token hash, or nil.
    public func session(tokenHash: String, now: Double) throws -> SessionRecord? {
        let logger = self.logger
        return try run("cannot read session") { client in
            try await client.rows(
                "SELECT * FROM sessions WHERE token_hash = \(tokenHash) AND expires_at > \(now)", logger: logger
            ).first.map {
                SessionRecord(
                    tokenHash: try $0.get("token_hash"), userID: try $0.get("user_id"),
                    csrfToken: try $0.get("csrf_token"), createdAt: try $0.get("created_at"),
                    expiresAt: try $0.get("expires_at"))
            }
        }
    }

    /// Ends one session.
    public func deleteSession(tokenHash: String) throws {
        let logger = self.logger
        try run("cannot end session") { client in
            _ = try await client.query("DELETE FROM sessions WHERE token_hash = \(tokenHash)", logger: logger).collect()
        }
    }

    /// Removes expired sessions.
    public func purgeExpiredSessions(now: Double) throws -> Int {
        let logger = self.logger
        return try run("cannot purge sessions") { client in
            try await client.rows("DELETE FROM sessions WHERE expires_at <= \(now) RETURNING 1 AS gone", logger: logger)
                .count
        }
    }
}

/// Share links: the `shares` table.
extension PostgresStore: ShareStore {
    private static func shareRecord(_ row: PostgresRandomAccessRow) throws -> ShareRecord {
        let originsJSON = try row.get("allowed_origins", as: String.self)
        let origins = (try? JSONDecoder().decode([String].self, from: Data(originsJSON.utf8))) ?? []
        return ShareRecord(
            id: try row.get("id"), kbID: try row.get("kb_id"), name: try row.get("name"),
            tokenHash: try row.get("token_hash"), prefix: try row.get("prefix"), allowedOrigins: origins,
            perMinute: Int(try row.get("per_minute", as: Int32.self)), createdAt: try row.get("created_at"),
            revokedAt: try row.get("revoked_at"))
    }

    /// Stores a new share link.
    public func createShare(
        kb: Int64, name: String?, tokenHash: String, prefix: String, allowedOrigins: [String], perMinute: Int
    ) throws -> ShareRecord {
        let origins = String(decoding: (try? JSONEncoder().encode(allowedOrigins)) ?? Data("[]".utf8), as: UTF8.self)
        let logger = self.logger
        let now = Date().timeIntervalSince1970
        return try transaction("cannot create share link") { c in
            guard !(try await c.rows("SELECT id FROM kb WHERE id = \(kb) FOR SHARE", logger: logger)).isEmpty else {
                throw WendaoError(.notFound, "no knowledge base with id \(kb)")
            }
            let rows = try await c.rows(
                """
                INSERT INTO shares (kb_id, name, token_hash, prefix, allowed_origins, per_minute, created_at)
                VALUES (\(kb), \(name ?? ""), \(tokenHash), \(prefix), \(origins), \(Int32(clamping: perMinute)), \(now))
                RETURNING id
                """, logger: logger)
            let id = try rows[0].get("id", as: Int64.self)
            let label = name ?? "share-\(id)"
            if name == nil { try await c.exec("UPDATE shares SET name = \(label) WHERE id = \(id)", logger: logger) }
            return ShareRecord(
                id: id, kbID: kb, name: label, tokenHash: tokenHash, prefix: prefix, allowedOrigins: allowedOrigins,
                perMinute: perMinute, createdAt: now)
        }
    }

    /// The links of a knowledge base, by id.
    public func shares(kb: Int64) throws -> [ShareRecord] {
        let logger = self.logger
        return try run("cannot list share links") { client in
            try await client.rows("SELECT * FROM shares WHERE kb_id = \(kb) ORDER BY id", logger: logger)
                .map(Self.shareRecord)
        }
    }

    /// The link with this token hash, or nil.
    public func share(tokenHash: String) throws -> ShareRecord? {
        let logger = self.logger
        return try run("cannot read share link") { client in
            try await client.rows("SELECT * FROM shares WHERE token_hash = \(tokenHash)", logger: logger)
                .first.map(Self.shareRecord)
        }
    }

    /// Marks a link revoked (again is harmless).
    public func revokeShare(kb: Int64, id: Int64, at: Double) throws {
        let logger = self.logger
        try run("cannot revoke share link") { client in
            let rows = try await client.rows(
                """
                UPDATE shares SET revoked_at = COALESCE(revoked_at, \(at)) WHERE id = \(id) AND kb_id = \(kb)
                RETURNING id
                """, logger: logger)
            guard !rows.isEmpty else {
                throw WendaoError(.notFound, "no share link with id \(id) in this knowledge base")
            }
        }
    }
}

/// Provider keys: the `provider_keys` table (sealed bytes only).
extension PostgresStore: ProviderKeyStore {
    /// Stores or replaces a sealed key.
    public func setProviderKey(provider: String, sealed: [UInt8], at: Double) throws {
        let bytes = Data(sealed)
        let logger = self.logger
        try run("cannot store provider key") { client in
            _ = try await client.query(
                """
                INSERT INTO provider_keys (provider, sealed, updated_at) VALUES (\(provider), \(bytes), \(at))
                ON CONFLICT (provider) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at
                """, logger: logger
            ).collect()
        }
    }

    /// Every sealed key.
    public func providerKeys() throws -> [String: (sealed: [UInt8], updatedAt: Double)] {
        let logger = self.logger
        let rows: [(String, Data, Double)] = try run("cannot read provider keys") { client in
            try await client.rows("SELECT provider, sealed, updated_at FROM provider_keys", logger: logger).map {
                (try $0.get("provider"), try $0.get("sealed"), try $0.get("updated_at"))
            }
        }
        var out: [String: (sealed: [UInt8], updatedAt: Double)] = [:]
        for (provider, sealed, at) in rows { out[provider] = (Array(sealed), at) }
        return out
    }

    /// Removes a key.
    public func deleteProviderKey(provider: String) throws -> Bool {
        let logger = self.logger
        return try run("cannot remove provider key") { client in
            !(try await client.rows(
                "DELETE FROM provider_keys WHERE provider = \(provider) RETURNING provider", logger: logger)).isEmpty
        }
    }
}
