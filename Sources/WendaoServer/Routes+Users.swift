import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import WendaoAuth
import WendaoCore
import WendaoRAG

/// A user as the API shows them: never the password hash.
struct UserView: Encodable, Sendable {
    var id: Int64
    var name: String
    var administrator: Bool
    /// Role per knowledge base name, sorted by name.
    var roles: [RoleView]
    var created_at: Double
    @ExplicitNull var last_login_at: Double?

    struct RoleView: Encodable, Sendable {
        var kb: String
        var role: String
    }

    init(_ u: UserRecord, names: [Int64: String]) {
        id = u.id
        name = u.name
        administrator = u.isAdministrator
        roles = u.roles.compactMap { kb, role in names[kb].map { RoleView(kb: $0, role: role.rawValue) } }
            .sorted { $0.kb < $1.kb }
        created_at = u.createdAt
        last_login_at = u.lastLoginAt
    }
}

/// The signed-in session as the page sees it: who, with which rights, and the CSRF token it must
/// echo in `X-CSRF-Token`.
struct SessionView: Encodable, Sendable {
    var user: UserView
    var csrf_token: String
    var expires_at: Double
}

struct SignInBody: Decodable {
    var name: String
    var password: String
}

struct UserBody: Decodable {
    var name: String?
    var password: String?
    var administrator: Bool?
    /// Role per knowledge base name.
    var roles: [String: String]?
}

extension WendaoAPI {
    /// Signing in and out (`/api/v1/session`): reachable without a key; the request guard still
    /// refuses other origins, so a foreign page cannot sign a browser in or out.
    func addSessionRoutes(_ router: Router<WendaoContext>, throttle: WindowedCounter) {
        let group = router.group("api/v1/session")
        let library = service.library
        let configuration = service.configuration
        group.post { request, context in
            let body = try await JSON.decode(SignInBody.self, from: request, limit: 16 << 10)
            let address = context.channel?.remoteAddress?.ipAddress ?? "unknown"
            let nameKey = "name:" + body.name.precomposedStringWithCanonicalMapping.lowercased().prefix(128)
            if let wait = throttle.admit([nameKey, "addr:" + address]) {
                throw APIError(
                    status: .tooManyRequests, code: "rate_limited",
                    message: "too many sign-in attempts; try again in \(wait) s",
                    headers: [.retryAfter: "\(wait)"])
            }
            let accounts = Accounts(store: library.store)
            // Argon2id takes tens of milliseconds and 64 MiB: on the thread pool.
            let signedIn = try await service.blocking {
                try accounts.signIn(name: body.name, password: body.password)
            }
            guard let signedIn else {
                // One message for an unknown name and a wrong password.
                throw APIError.unauthorized("the user name or password is not right")
            }
            throttle.reset(nameKey)
            let names = try await service.blocking { try library.list() }
            let view = SessionView(
                user: UserView(signedIn.user, names: Self.kbNames(names)), csrf_token: signedIn.session.csrfToken,
                expires_at: signedIn.session.expiresAt)
            var response = try JSON.response(view)
            // A new session on every sign-in: a cookie planted before sign-in is never promoted.
            if let old = SessionCookie.token(in: request) {
                try? await service.blocking { try accounts.signOut(token: old) }
            }
            response.headers[values: .setCookie] = [
                SessionCookie.setting(
                    signedIn.token, maxAge: Int(accounts.sessionLifetime),
                    secure: SessionCookie.secure(request, configuration: configuration))
            ]
            response.headers[.cacheControl] = "no-store"
            return response
        }
        // Who is signed in: 204 when nobody is (a page asks this on every load; not an error).
        group.get { request, _ in
            guard let token = SessionCookie.token(in: request) else { return Response(status: .noContent) }
            let accounts = Accounts(store: library.store)
            guard let (session, user) = try await service.blocking({ try accounts.session(token: token) }) else {
                var ended = Response(status: .noContent)
                ended.headers[values: .setCookie] = [
                    SessionCookie.clearing(secure: SessionCookie.secure(request, configuration: configuration))
                ]
                return ended
            }
            let names = try await service.blocking { try library.list() }
            var response = try JSON.response(
                SessionView(
                    user: UserView(user, names: Self.kbNames(names)), csrf_token: session.csrfToken,
                    expires_at: session.expiresAt))
            response.headers[.cacheControl] = "no-store"
            return response
        }
        group.delete { request, _ in
            if let token = SessionCookie.token(in: request) {
                let accounts = Accounts(store: library.store)
                try await service.blocking { try accounts.signOut(token: token) }
            }
            var response = Response(status: .noContent)
            response.headers[values: .setCookie] = [
                SessionCookie.clearing(secure: SessionCookie.secure(request, configuration: configuration))
            ]
            return response
        }
    }

    static func kbNames(_ records: [KnowledgeBaseRecord]) -> [Int64: String] {
        Dictionary(records.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    /// Roles by knowledge-base name turned into ids; an unknown name or role is a 400.
    static func roleIDs(_ roles: [String: String], records: [KnowledgeBaseRecord]) throws -> [Int64: UserRole] {
        var out: [Int64: UserRole] = [:]
        for (name, roleName) in roles {
            let canonical = name.precomposedStringWithCanonicalMapping
            guard let record = records.first(where: { $0.name == canonical }) else {
                throw APIError.badRequest("knowledge base '\(name.prefix(80))' does not exist")
            }
            guard let role = UserRole(rawValue: roleName) else {
                throw APIError.badRequest(
                    "'\(roleName.prefix(40))' is not a role: use "
                        + UserRole.allCases.map(\.rawValue).joined(separator: ", "))
            }
            out[record.id] = role
        }
        return out
    }

    /// Accounts (`/api/v1/users`): the server administrator's.
    func addUserRoutes(_ api: RouterGroup<WendaoContext>) {
        let library = service.library
        api.get("users") { _, context in
            try requireAdmin(context)
            let (kbs, users) = try await service.blocking { (try library.list(), try library.store.users()) }
            let names = Self.kbNames(kbs)
            return try JSON.response(["users": users.map { UserView($0, names: names) }])
        }
        api.post("users") { request, context in
            try requireAdmin(context)
            let body = try await JSON.decode(UserBody.self, from: request, limit: limits.json)
            guard let name = body.name, let password = body.password else {
                throw APIError.badRequest("a new user needs 'name' and 'password'")
            }
            let view = try await service.blocking { () throws -> UserView in
                let kbs = try library.list()
                let roles = try Self.roleIDs(body.roles ?? [:], records: kbs)
                let user = try Accounts(store: library.store).create(
                    name: name, password: password, isAdministrator: body.administrator ?? false, roles: roles)
                return UserView(user, names: Self.kbNames(kbs))
            }
            return try JSON.response(view, status: .created)
        }
        api.patch("users/:id") { request, context in
            try requireAdmin(context)
            let id = try context.parameters.require("id", as: Int64.self)
            let body = try await JSON.decode(UserBody.self, from: request, limit: limits.json)
            guard body.name == nil else { throw APIError.badRequest("users cannot be renamed") }
            let view = try await service.blocking { () throws -> UserView in
                guard let user = try library.store.user(id: id) else {
                    throw APIError.notFound("no user with id \(id)")
                }
                let kbs = try library.list()
                if body.administrator != nil || body.roles != nil {
                    let roles = try body.roles.map { try Self.roleIDs($0, records: kbs) } ?? user.roles
                    try library.store.setRoles(
                        user: id, isAdministrator: body.administrator ?? user.isAdministrator, roles: roles)
                }
                if let password = body.password {
                    try Accounts(store: library.store).setPassword(user: id, password: password)
                }
                guard let updated = try library.store.user(id: id) else {
                    throw APIError.notFound("no user with id \(id)")
                }
                return UserView(updated, names: Self.kbNames(kbs))
            }
            return try JSON.response(view)
        }
        api.delete("users/:id") { _, context in
            try requireAdmin(context)
            let id = try context.parameters.require("id", as: Int64.self)
            try await service.blocking { try library.store.deleteUser(id: id) }
            return Response(status: .noContent)
        }
    }
}
