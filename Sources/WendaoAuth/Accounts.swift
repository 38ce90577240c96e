import Foundation
public import WendaoCore

/// People who sign in to the web UI: accounts with Argon2id passwords, roles per knowledge base,
/// and sessions. The CLI manages accounts; the server signs people in and out.
///
/// ```swift
/// let accounts = Accounts(store: store)
/// let ana = try accounts.create(name: "ana", password: "a long password", roles: [kb.id: .agent])
/// if let signedIn = try accounts.signIn(name: "ana", password: "a long password") {
///     // signedIn.token goes into the session cookie; signedIn.session.csrfToken to the page
/// }
/// ```
public struct Accounts: Sendable {
    /// Where accounts and sessions are kept.
    public let store: any UserStore
    /// How long a session lasts from sign-in.
    public let sessionLifetime: Double

    /// Accounts over `store`; sessions last `sessionLifetime` seconds (default 12 hours).
    public init(store: any UserStore, sessionLifetime: Double = 12 * 3600) {
        self.store = store
        self.sessionLifetime = sessionLifetime
    }

    /// The longest user name, in characters.
    public static let maximumNameLength = 64

    /// Checks a user name: 1–64 letters (any script), digits, `.`, `-`, `_` or `@`.
    public static func validateName(_ name: String) throws {
        guard !name.isEmpty, name.count <= maximumNameLength,
            name.unicodeScalars.allSatisfy({
                CharacterSet.letters.contains($0) || CharacterSet.decimalDigits.contains($0)
                    || ".-_@".unicodeScalars.contains($0)
            })
        else {
            throw WendaoError(
                .invalidArgument,
                "a user name has 1 to \(maximumNameLength) letters, digits, '.', '-', '_' or '@'")
        }
    }

    /// Creates an account. Throws `invalidArgument` for a bad name or password and `alreadyExists`
    /// for a name taken (case-insensitively).
    public func create(
        name: String, password: String, isAdministrator: Bool = false, roles: [Int64: UserRole] = [:]
    ) throws -> UserRecord {
        let name = name.precomposedStringWithCanonicalMapping
        try Self.validateName(name)
        try Passwords.validate(password)
        return try store.createUser(
            name: name, passwordHash: try Passwords.hash(password), isAdministrator: isAdministrator, roles: roles)
    }

    /// Replaces a password (every session of the user ends).
    public func setPassword(user: Int64, password: String) throws {
        try Passwords.validate(password)
        try store.setPassword(user: user, passwordHash: try Passwords.hash(password))
    }

    /// A successful sign-in: the user, the session token for the cookie (returned once, stored
    /// only hashed) and the session.
    public struct SignedIn: Sendable {
        /// Who signed in.
        public var user: UserRecord
        /// The session token (the cookie's value).
        public var token: String
        /// The stored session (its CSRF token goes to the page).
        public var session: SessionRecord
    }

    /// Signs `name` in when `password` is theirs, with a new session; nil otherwise. The work is the
    /// same whether the name exists or not (a decoy hash is verified for unknown names).
    public func signIn(name: String, password: String, now: Double? = nil) throws -> SignedIn? {
        let now = now ?? Date().timeIntervalSince1970
        let user = name.count <= Self.maximumNameLength ? try store.user(named: name) : nil
        let matches = Passwords.verify(password, against: user?.passwordHash ?? Passwords.decoy)
        guard let user, matches else { return nil }
        let token = Passwords.randomToken()
        let session = SessionRecord(
            tokenHash: Passwords.tokenHash(token), userID: user.id, csrfToken: Passwords.randomToken(),
            createdAt: now, expiresAt: now + sessionLifetime)
        try store.createSession(session)
        try store.markLogin(user: user.id, at: now)
        return SignedIn(user: user, token: token, session: session)
    }

    /// The session of `token` and its user, when both exist and the session has not expired.
    public func session(token: String, now: Double? = nil) throws -> (
        session: SessionRecord, user: UserRecord
    )? {
        guard !token.isEmpty, token.count <= 128 else { return nil }
        let now = now ?? Date().timeIntervalSince1970
        guard let session = try store.session(tokenHash: Passwords.tokenHash(token), now: now),
            let user = try store.user(id: session.userID)
        else { return nil }
        return (session, user)
    }

    /// Ends the session of `token` (an unknown token is ignored).
    public func signOut(token: String) throws {
        guard !token.isEmpty, token.count <= 128 else { return }
        try store.deleteSession(tokenHash: Passwords.tokenHash(token))
    }
}
