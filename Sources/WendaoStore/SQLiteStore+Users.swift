import Foundation
import GRDB
public import WendaoCore

/// Accounts and sessions: the `users`, `user_roles` and `sessions` tables.
extension SQLiteStore: UserStore {
    /// The key names are unique by: case-folded, in NFC.
    static func nameKey(_ name: String) -> String {
        name.precomposedStringWithCanonicalMapping.lowercased()
    }

    private static func userRecord(_ db: Database, _ row: Row) throws -> UserRecord {
        let id: Int64 = row["id"]
        var roles: [Int64: UserRole] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT kb_id, role FROM user_roles WHERE user_id = ?", arguments: [id]) {
            // A role written by a newer version is read as the least one.
            roles[r["kb_id"]] = UserRole(rawValue: r["role"]) ?? .viewer
        }
        return UserRecord(
            id: id, name: row["name"], passwordHash: row["password_hash"], isAdministrator: row["is_admin"],
            roles: roles, createdAt: row["created_at"], lastLoginAt: row["last_login_at"])
    }

    private static func writeRoles(_ db: Database, user: Int64, _ roles: [Int64: UserRole]) throws {
        try db.execute(sql: "DELETE FROM user_roles WHERE user_id = ?", arguments: [user])
        for (kb, role) in roles.sorted(by: { $0.key < $1.key }) {
            guard try Int64.fetchOne(db, sql: "SELECT id FROM kb WHERE id = ?", arguments: [kb]) != nil else {
                throw WendaoError(.notFound, "no knowledge base with id \(kb)")
            }
            try db.execute(
                sql: "INSERT INTO user_roles (user_id, kb_id, role) VALUES (?, ?, ?)",
                arguments: [user, kb, role.rawValue])
        }
    }

    /// Stores a new user with their roles, in one transaction.
    public func createUser(
        name: String, passwordHash: String, isAdministrator: Bool, roles: [Int64: UserRole]
    ) throws -> UserRecord {
        try wrap("cannot create user") {
            try pool.write { db in
                let key = Self.nameKey(name)
                guard try Int64.fetchOne(db, sql: "SELECT id FROM users WHERE name_key = ?", arguments: [key]) == nil
                else { throw WendaoError(.alreadyExists, "a user named '\(name)' already exists") }
                let now = Date().timeIntervalSince1970
                try db.execute(
                    sql: """
                        INSERT INTO users (name, name_key, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?, ?)
                        """,
                    arguments: [name, key, passwordHash, isAdministrator, now])
                let id = db.lastInsertedRowID
                try Self.writeRoles(db, user: id, isAdministrator ? [:] : roles)
                return UserRecord(
                    id: id, name: name, passwordHash: passwordHash, isAdministrator: isAdministrator,
                    roles: isAdministrator ? [:] : roles, createdAt: now)
            }
        }
    }

    /// All users, by id.
    public func users() throws -> [UserRecord] {
        try wrap("cannot list users") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM users ORDER BY id").map { try Self.userRecord(db, $0) }
            }
        }
    }

    /// The user with this name (case-insensitive, NFC), or nil.
    public func user(named name: String) throws -> UserRecord? {
        try wrap("cannot read user") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM users WHERE name_key = ?", arguments: [Self.nameKey(name)])
                    .map { try Self.userRecord(db, $0) }
            }
        }
    }

    /// The user with this id, or nil.
    public func user(id: Int64) throws -> UserRecord? {
        try wrap("cannot read user") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id])
                    .map { try Self.userRecord(db, $0) }
            }
        }
    }

    private static func requireUser(_ db: Database, _ id: Int64) throws {
        guard try Int64.fetchOne(db, sql: "SELECT id FROM users WHERE id = ?", arguments: [id]) != nil else {
            throw WendaoError(.notFound, "no user with id \(id)")
        }
    }

    /// Replaces the password hash and ends every session of the user.
    public func setPassword(user: Int64, passwordHash: String) throws {
        try wrap("cannot change password") {
            try pool.write { db in
                try Self.requireUser(db, user)
                try db.execute(sql: "UPDATE users SET password_hash = ? WHERE id = ?", arguments: [passwordHash, user])
                try db.execute(sql: "DELETE FROM sessions WHERE user_id = ?", arguments: [user])
            }
        }
    }

    /// Replaces the administrator flag and the roles.
    public func setRoles(user: Int64, isAdministrator: Bool, roles: [Int64: UserRole]) throws {
        try wrap("cannot change roles") {
            try pool.write { db in
                try Self.requireUser(db, user)
                try db.execute(sql: "UPDATE users SET is_admin = ? WHERE id = ?", arguments: [isAdministrator, user])
                try Self.writeRoles(db, user: user, isAdministrator ? [:] : roles)
            }
        }
    }

    /// Deletes a user; their roles and sessions go with them.
    public func deleteUser(id: Int64) throws {
        try wrap("cannot delete user") {
            try pool.write { db in
                try Self.requireUser(db, id)
                try db.execute(sql: "DELETE FROM users WHERE id = ?", arguments: [id])
            }
        }
    }

    /// Records a successful sign-in.
    public func markLogin(user: Int64, at: Double) throws {
        try wrap("cannot record sign-in") {
            try pool.write { db in
                try db.execute(sql: "UPDATE users SET last_login_at = ? WHERE id = ?", arguments: [at, user])
            }
        }
    }

    /// Stores a new session.
    public func createSession(_ s: SessionRecord) throws {
        try wrap("cannot create session") {
            try pool.write { db in
                try Self.requireUser(db, s.userID)
                try db.execute(
                    sql: """
                        INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
                        VALUES (?, ?, ?, ?, ?)
                        """,
                    arguments: [s.tokenHash, s.userID, s.csrfToken, s.createdAt, s.expiresAt])
            }
        }
    }

    /// The unexpired session with this token hash, or nil.
    public func session(tokenHash: String, now: Double) throws -> SessionRecord? {
        try wrap("cannot read session") {
            try pool.read { db in
                try Row.fetchOne(
                    db, sql: "SELECT * FROM sessions WHERE token_hash = ? AND expires_at > ?",
                    arguments: [tokenHash, now]
                ).map {
                    SessionRecord(
                        tokenHash: $0["token_hash"], userID: $0["user_id"], csrfToken: $0["csrf_token"],
                        createdAt: $0["created_at"], expiresAt: $0["expires_at"])
                }
            }
        }
    }

    /// Ends one session.
    public func deleteSession(tokenHash: String) throws {
        try wrap("cannot end session") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM sessions WHERE token_hash = ?", arguments: [tokenHash])
            }
        }
    }

    /// Removes expired sessions.
    public func purgeExpiredSessions(now: Double) throws -> Int {
        try wrap("cannot purge sessions") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM sessions WHERE expires_at <= ?", arguments: [now])
                return db.changesCount
            }
        }
    }
}
