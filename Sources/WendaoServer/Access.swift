import HTTPTypes
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import WendaoAuth
import WendaoCore
import WendaoModels
import WendaoRAG

/// Who is calling.
enum Principal: Sendable {
    /// The admin key, or an open local server with no keys at all.
    case admin
    /// An API key.
    case key(APIKeyRecord)
    /// A person signed in to the web UI (session cookie).
    case user(UserRecord, SessionRecord)

    /// A server administrator: the admin key, an open local server, or an administrator account.
    var isAdmin: Bool {
        switch self {
        case .admin: true
        case .key: false
        case .user(let u, _): u.isAdministrator
        }
    }

    /// Whether the caller may see knowledge base `id` (list it, read its documents, search it).
    func covers(_ id: Int64) -> Bool {
        switch self {
        case .admin: true
        case .key(let k): k.knowledgeBaseIDs.contains(id)
        case .user(let u, _): u.role(in: id) != nil
        }
    }

    /// Whether the caller may ask knowledge base `id` and give feedback (every key that covers it;
    /// agents and above).
    func canAsk(_ id: Int64) -> Bool {
        switch self {
        case .admin: true
        case .key(let k): k.knowledgeBaseIDs.contains(id)
        case .user(let u, _): u.role(in: id)?.allows(.ask) ?? false
        }
    }

    /// Whether the caller may change knowledge base `id`'s documents (write keys; editors and above).
    func canWrite(_ id: Int64) -> Bool {
        switch self {
        case .admin: true
        case .key(let k): k.scope == .write && k.knowledgeBaseIDs.contains(id)
        case .user(let u, _): u.role(in: id)?.allows(.editDocuments) ?? false
        }
    }

    /// Whether the caller may change knowledge base `id`'s settings (write keys; the knowledge
    /// base's administrators).
    func canConfigure(_ id: Int64) -> Bool {
        switch self {
        case .admin: true
        case .key(let k): k.scope == .write && k.knowledgeBaseIDs.contains(id)
        case .user(let u, _): u.role(in: id)?.allows(.administer) ?? false
        }
    }

    /// The signed-in session, when the caller is a person.
    var session: SessionRecord? {
        if case .user(_, let s) = self { return s }
        return nil
    }

    /// A stable label for rate limiting and logs (never the key).
    var label: String {
        switch self {
        case .admin: "admin"
        case .key(let k): "key-\(k.id)"
        case .user(let u, _): "user-\(u.id)"
        }
    }
}

/// The request context: Hummingbird's core storage plus the caller.
struct WendaoContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var principal: Principal = .admin
    /// The connection the request came on (its closing cancels work the client no longer waits for).
    let channel: (any Channel)?

    init(source: Source) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Uploads are streamed and capped by the upload route itself.
    var maxUploadSize: Int { 1 << 20 }
}

/// Resolves the caller from `Authorization: Bearer …` or `X-API-Key`.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = WendaoContext
    let service: KnowledgeService
    let keysPresent: KeysPresentCache
    /// Whether anonymous callers may be admitted while no key exists: decided once, at start, from
    /// the bound address (loopback only) and the absence of an admin key. Never true on an address
    /// other computers reach, whatever happens to the keys later (revoking the last key there
    /// locks the API, it never opens it).
    let openLocal: Bool

    func handle(_ request: Request, context: WendaoContext, next: (Request, WendaoContext) async throws -> Response)
        async throws -> Response
    {
        var context = context
        // Decided without the store when it can be (the admin key, an open local server whose "no
        // keys" answer is fresh, a malformed header); reading keys is store work: on the thread pool.
        if let principal = try authenticateWithoutStore(request) {
            context.principal = principal
        } else {
            context.principal = try await service.blocking { try self.authenticate(request) }
        }
        guard !context.principal.isAdmin else { return try await next(request, context) }
        do {
            return try await next(request, context)
        } catch {
            // A tenant learns what went wrong, not where the server keeps its files.
            throw APIError.redactingPaths(error)
        }
    }

    /// The caller when no store read is needed to know it: nil when it is (an API key to look up,
    /// or whether any key exists to re-check). Throws what ``authenticate(_:)`` would for a header it
    /// cannot accept.
    func authenticateWithoutStore(_ request: Request) throws -> Principal? {
        if openLocal {
            guard let present = keysPresent.cachedValue() else { return nil }
            if !present { return .admin }
        }
        guard let presented = try presentedKey(request) else {
            // A session cookie is looked up in the store.
            if SessionCookie.token(in: request) != nil { return nil }
            throw APIError.unauthorized("an API key is required (Authorization: Bearer <key>)")
        }
        if let admin = service.configuration.adminKey, constantTimeEqual(admin.exposedValue, presented) {
            return .admin
        }
        return nil
    }

    /// The key the request presents (`Authorization: Bearer …` or `X-API-Key`), nil when none.
    func presentedKey(_ request: Request) throws -> String? {
        var presented: String?
        if let h = request.headers[.authorization] {
            let parts = h.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw APIError.unauthorized("the Authorization header must be 'Bearer <key>'")
            }
            presented = String(parts[1]).trimmingCharacters(in: .whitespaces)
        } else if let k = request.headers[HTTPField.Name("X-API-Key")!] {
            presented = k.trimmingCharacters(in: .whitespaces)
        }
        guard let presented, !presented.isEmpty else { return nil }
        return presented
    }

    func authenticate(_ request: Request) throws -> Principal {
        // An open local server (loopback, no admin key, no API keys) accepts anyone, whatever key a
        // client sends (the openai client always sends one).
        if openLocal, try !keysPresent.value(service.library) {
            return .admin
        }
        guard let presented = try presentedKey(request) else {
            if let token = SessionCookie.token(in: request) { return try sessionPrincipal(token, request) }
            throw APIError.unauthorized("an API key is required (Authorization: Bearer <key>)")
        }
        if let admin = service.configuration.adminKey, constantTimeEqual(admin.exposedValue, presented) {
            return .admin
        }
        guard presented.count <= 256, let record = try service.library.authenticate(presented) else {
            throw APIError.unauthorized("the API key is not valid (unknown, revoked or malformed)")
        }
        return .key(record)
    }

    /// The person a session cookie belongs to. A request that changes data must also carry the
    /// session's CSRF token in `X-CSRF-Token` (a cookie is sent by the browser whoever made the
    /// page; the token only the server's own pages can read).
    func sessionPrincipal(_ token: String, _ request: Request) throws -> Principal {
        guard let (session, user) = try Accounts(store: service.library.store).session(token: token) else {
            throw APIError.unauthorized("the session has ended or is not valid; sign in again")
        }
        switch request.method {
        case .get, .head, .options: break
        default:
            let sent = request.headers[HTTPField.Name("X-CSRF-Token")!] ?? ""
            guard constantTimeEqual(sent, session.csrfToken) else {
                throw APIError(
                    status: .forbidden, code: "csrf_failed",
                    message: "a request that changes data must carry the session's X-CSRF-Token")
            }
        }
        return .user(user, session)
    }

    func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}

/// Whether any API key exists, re-read at most once a second (keys created with the CLI while the
/// server runs close an open server within a second).
final class KeysPresentCache: Sendable {
    private let state = Mutex<(value: Bool, checked: ContinuousClock.Instant?)>((false, nil))

    /// The last answer while it is fresh (read within the last second), else nil.
    func cachedValue() -> Bool? {
        let now = ContinuousClock.now
        return state.withLock { s -> Bool? in
            guard let t = s.checked, now - t < .seconds(1) else { return nil }
            return s.value
        }
    }

    /// Whether any unrevoked key or account exists (re-read at most once a second). A store that
    /// cannot be read (a shared database that is down) is an error, not an answer: the caller is
    /// refused either way, with the reason rather than "an API key is required".
    func value(_ library: Library) throws -> Bool {
        let now = ContinuousClock.now
        if let cached = state.withLock({ s -> Bool? in
            guard let t = s.checked, now - t < .seconds(1) else { return nil }
            return s.value
        }) {
            return cached
        }
        // An account closes the server as a key does.
        let present = try !library.apiKeys().filter { $0.revokedAt == nil }.isEmpty || !library.store.users().isEmpty
        state.withLock { $0 = (present, now) }
        return present
    }
}

/// The session cookie: `wendao_session`, HttpOnly, SameSite=Strict, path `/`; `Secure` when the
/// request came over HTTPS (a TLS proxy's `X-Forwarded-Proto: https`) or the configuration asks.
enum SessionCookie {
    static let name = "wendao_session"

    /// The session token a request's `Cookie` header carries, or nil.
    static func token(in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == name else { continue }
                let value = pair[1].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    /// Whether the cookie should be marked `Secure` for this request.
    static func secure(_ request: Request, configuration: ServerConfiguration) -> Bool {
        configuration.secureCookies
            || request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    /// The `Set-Cookie` value that stores `token` for `maxAge` seconds.
    static func setting(_ token: String, maxAge: Int, secure: Bool) -> String {
        "\(name)=\(token); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that removes the cookie.
    static func clearing(secure: Bool) -> String {
        "\(name)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }
}
