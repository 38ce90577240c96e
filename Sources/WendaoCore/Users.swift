/// What a person may do in one knowledge base, from least to most.
///
/// ```swift
/// UserRole.agent.allows(.ask)          // true
/// UserRole.agent.allows(.editDocuments) // false
/// ```
public enum UserRole: String, Sendable, Codable, CaseIterable, Comparable {
    /// Sees the knowledge base, its documents and search results; does not ask.
    case viewer
    /// Asks questions and gives feedback on answers (a customer-service agent).
    case agent
    /// Also uploads, deletes, re-ingests and edits documents and chunks, and writes curated answers.
    case editor
    /// Also changes the knowledge base's settings and reads its conversation log.
    case administrator

    /// The operations a role may perform on a knowledge base.
    public enum Operation: Sendable {
        /// Listing and reading the knowledge base, its documents and chunks; searching.
        case read
        /// Asking (REST and OpenAI-compatible) and giving feedback.
        case ask
        /// Changing documents, chunks and curated answers.
        case editDocuments
        /// Changing settings; reading the conversation log.
        case administer
    }

    /// Whether this role may perform `operation`.
    public func allows(_ operation: Operation) -> Bool {
        switch operation {
        case .read: true
        case .ask: self >= .agent
        case .editDocuments: self >= .editor
        case .administer: self == .administrator
        }
    }

    private var rank: Int {
        switch self {
        case .viewer: 0
        case .agent: 1
        case .editor: 2
        case .administrator: 3
        }
    }

    /// Roles order from least to most: viewer < agent < editor < administrator.
    public static func < (a: UserRole, b: UserRole) -> Bool { a.rank < b.rank }
}

/// An account as stored: the password only as an Argon2id hash string.
public struct UserRecord: Sendable, Equatable {
    /// Stable numeric id.
    public var id: Int64
    /// The sign-in name as created (compared case-insensitively).
    public var name: String
    /// The Argon2id hash string (`$argon2id$v=19$…`), never the password.
    public var passwordHash: String
    /// A server administrator: every knowledge base, users, keys and settings.
    public var isAdministrator: Bool
    /// Roles per knowledge base id (none for an administrator, who has them all).
    public var roles: [Int64: UserRole]
    /// Creation time, seconds since 1970.
    public var createdAt: Double
    /// Last successful sign-in, or nil.
    public var lastLoginAt: Double?

    /// Creates a record.
    public init(
        id: Int64, name: String, passwordHash: String, isAdministrator: Bool, roles: [Int64: UserRole],
        createdAt: Double, lastLoginAt: Double? = nil
    ) {
        self.id = id
        self.name = name
        self.passwordHash = passwordHash
        self.isAdministrator = isAdministrator
        self.roles = roles
        self.createdAt = createdAt
        self.lastLoginAt = lastLoginAt
    }

    /// The user's role in knowledge base `kb` (administrators have every role everywhere).
    public func role(in kb: Int64) -> UserRole? {
        isAdministrator ? .administrator : roles[kb]
    }
}

/// A signed-in browser session: stored by the SHA-256 of its token, never the token.
public struct SessionRecord: Sendable, Equatable {
    /// SHA-256 of the session token (lowercase hex).
    public var tokenHash: String
    /// The user signed in.
    public var userID: Int64
    /// The token a page must echo in `X-CSRF-Token` on requests that change data.
    public var csrfToken: String
    /// Creation time, seconds since 1970.
    public var createdAt: Double
    /// When the session ends whatever happens, seconds since 1970.
    public var expiresAt: Double

    /// Creates a record.
    public init(tokenHash: String, userID: Int64, csrfToken: String, createdAt: Double, expiresAt: Double) {
        self.tokenHash = tokenHash
        self.userID = userID
        self.csrfToken = csrfToken
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// Accounts, their roles per knowledge base, and browser sessions.
public protocol UserStore: Sendable {
    /// Stores a new user; throws ``WendaoError/Code/alreadyExists`` when the name is taken (names
    /// compare case-insensitively) and ``WendaoError/Code/notFound`` for an unknown knowledge-base id.
    func createUser(
        name: String, passwordHash: String, isAdministrator: Bool, roles: [Int64: UserRole]
    ) throws -> UserRecord
    /// All users, by id.
    func users() throws -> [UserRecord]
    /// The user with this name (case-insensitive), or nil.
    func user(named name: String) throws -> UserRecord?
    /// The user with this id, or nil.
    func user(id: Int64) throws -> UserRecord?
    /// Replaces a user's password hash and ends all their sessions.
    func setPassword(user: Int64, passwordHash: String) throws
    /// Replaces a user's administrator flag and roles (sessions continue with the new rights).
    func setRoles(user: Int64, isAdministrator: Bool, roles: [Int64: UserRole]) throws
    /// Deletes a user with their sessions; throws ``WendaoError/Code/notFound`` for an unknown id.
    func deleteUser(id: Int64) throws
    /// Records a successful sign-in.
    func markLogin(user: Int64, at: Double) throws
    /// Stores a new session.
    func createSession(_ session: SessionRecord) throws
    /// The unexpired session with this token hash at time `now`, or nil.
    func session(tokenHash: String, now: Double) throws -> SessionRecord?
    /// Ends one session (unknown hashes are ignored).
    func deleteSession(tokenHash: String) throws
    /// Removes sessions that expired before `now`; returns how many.
    func purgeExpiredSessions(now: Double) throws -> Int
}
