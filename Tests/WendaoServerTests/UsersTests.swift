import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import WendaoApp
import WendaoAuth
import WendaoCore
import WendaoModels
import WendaoRAG
@testable import WendaoServer
import WendaoTestSupport

// Accounts, roles and sessions through the HTTP stack: the roles matrix, CSRF, session fixation,
// sign-in floods and user enumeration, sign-out, and an account closing an open local server.

private let adminKey = "admin-key-0123456789abcdef"
private let password = "a long pass phrase"

private func object(_ r: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:]
}

private func errorCode(_ r: TestResponse) -> String? {
    (object(r)["error"] as? [String: Any])?["code"] as? String
}

/// The session token a response's `Set-Cookie` stores, or nil.
private func cookieToken(_ r: TestResponse) -> String? {
    for value in r.headers[values: .setCookie] {
        let first = value.split(separator: ";")[0]
        let pair = first.split(separator: "=", maxSplits: 1)
        if pair.count == 2, pair[0] == "wendao_session" { return String(pair[1]) }
    }
    return nil
}

private struct SignedIn {
    var token: String
    var csrf: String

    /// Headers of a request from this browser: its cookie, and the CSRF token when `csrf` is true.
    func headers(csrf withToken: Bool = true, json: Bool = true) -> HTTPFields {
        var h: HTTPFields = [.cookie: "wendao_session=\(token)"]
        if withToken { h[HTTPField.Name("X-CSRF-Token")!] = csrf }
        if json { h[.contentType] = "application/json" }
        return h
    }
}

private func signIn(_ client: some TestClientProtocol, _ name: String, _ pass: String = password) async throws
    -> SignedIn
{
    let r = try await client.execute(
        uri: "/api/v1/session", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"name":"\#(name)","password":"\#(pass)"}"#))
    try #require(r.status == .ok, "sign-in of \(name): \(r.status) \(String(buffer: r.body))")
    let csrf = try #require(object(r)["csrf_token"] as? String)
    return SignedIn(token: try #require(cookieToken(r)), csrf: csrf)
}

private func server(_ data: URL, admin: String? = adminKey, attempts: Int = 10) throws -> WendaoServer {
    var c = ServerConfiguration(dataDirectory: data)
    c.port = 0
    c.adminKey = admin.map(Secret.init)
    c.loginAttempts = attempts
    return try WendaoServer(configuration: c, logger: Logger(label: "test.users"))
}

@Suite("Accounts: roles, sessions, CSRF")
struct UsersTests {
    @Test("Roles matrix: each role × each route is allowed or 404 as documented")
    func rolesMatrix() async throws {
        let scratch = try ScratchDirectory("roles")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        let a = try lib.create("客服知识库")
        let b = try lib.create("other-team")
        let accounts = Accounts(store: lib.store)
        _ = try accounts.create(name: "boss", password: password, isAdministrator: true)
        _ = try accounts.create(name: "kbadmin", password: password, roles: [a.id: .administrator])
        _ = try accounts.create(name: "editor", password: password, roles: [a.id: .editor])
        _ = try accounts.create(name: "agent", password: password, roles: [a.id: .agent])
        _ = try accounts.create(name: "viewer", password: password, roles: [a.id: .viewer])
        let kbA = "%E5%AE%A2%E6%9C%8D%E7%9F%A5%E8%AF%86%E5%BA%93"
        let srv = try server(data)
        try await srv.application().test(.router) { client in
            var sessions: [String: SignedIn] = [:]
            for name in ["boss", "kbadmin", "editor", "agent", "viewer"] {
                sessions[name] = try await signIn(client, name)
            }
            // (method, path, body, roles allowed). Everything else must answer 404.
            let upload =
                "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"faq-NAME.md\"\r\n\r\n# FAQ\n运费 12 元。\n\r\n--XYZ--\r\n"
            let cases: [(HTTPRequest.Method, String, String?, Set<String>)] = [
                (.get, "/api/v1/kbs/\(kbA)", nil, ["boss", "kbadmin", "editor", "agent", "viewer"]),
                (.get, "/api/v1/kbs/other-team", nil, ["boss"]),
                (.get, "/api/v1/kbs/\(kbA)/documents", nil, ["boss", "kbadmin", "editor", "agent", "viewer"]),
                (.get, "/api/v1/kbs/other-team/documents", nil, ["boss"]),
                (
                    .post, "/api/v1/kbs/\(kbA)/search", #"{"query":"运费"}"#,
                    ["boss", "kbadmin", "editor", "agent", "viewer"]
                ),
                (.post, "/api/v1/kbs/other-team/search", #"{"query":"运费"}"#, ["boss"]),
                (.post, "/api/v1/kbs/\(kbA)/ask", #"{"question":"运费多少？"}"#, ["boss", "kbadmin", "editor", "agent"]),
                (.post, "/api/v1/kbs/other-team/ask", #"{"question":"运费多少？"}"#, ["boss"]),
                (.post, "/api/v1/kbs/\(kbA)/documents", upload, ["boss", "kbadmin", "editor"]),
                (
                    .post, "/api/v1/kbs/\(kbA)/curated", #"{"question":"NAME 的问题","answer":"答案"}"#,
                    ["boss", "kbadmin", "editor"]
                ),
                (.patch, "/api/v1/kbs/\(kbA)", #"{"chunk_size":300}"#, ["boss", "kbadmin"]),
                (.patch, "/api/v1/kbs/other-team", #"{"chunk_size":300}"#, ["boss"]),
                (.post, "/api/v1/kbs", #"{"name":"new-kb-NAME"}"#, ["boss"]),
                (.get, "/api/v1/users", nil, ["boss"]),
                (.get, "/api/v1/keys", nil, ["boss"]),
                (.get, "/metrics", nil, ["boss"]),
            ]
            for (method, path, body, allowed) in cases {
                for (name, session) in sessions.sorted(by: { $0.key < $1.key }) {
                    var headers = session.headers()
                    if body?.hasPrefix("--XYZ") == true { headers[.contentType] = "multipart/form-data; boundary=XYZ" }
                    let uri = path.replacingOccurrences(of: "NAME", with: name)
                    let r = try await client.execute(
                        uri: uri, method: method, headers: headers,
                        body: body.map { ByteBuffer(string: $0.replacingOccurrences(of: "NAME", with: name)) })
                    if allowed.contains(name) {
                        #expect((200..<300).contains(r.status.code), "\(name) \(method) \(uri): \(r.status)")
                    } else {
                        #expect(r.status == .notFound, "\(name) \(method) \(uri): \(r.status)")
                    }
                }
            }
            // The list shows each account only its own knowledge bases.
            for (name, expected) in [("boss", ["other-team", "客服知识库"]), ("agent", ["客服知识库"])] {
                let r = try await client.execute(
                    uri: "/api/v1/kbs", method: .get, headers: try #require(sessions[name]).headers())
                let kbs = (object(r)["knowledge_bases"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(kbs.filter { !$0.hasPrefix("new-kb") }.sorted() == expected, "\(name)")
            }
        }
        _ = b
        await srv.shutdown()
    }

    @Test("Cookie-authenticated writes need the session's CSRF token; reads do not")
    func csrf() async throws {
        let scratch = try ScratchDirectory("csrf-session")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        let a = try lib.create("kb")
        _ = try Accounts(store: lib.store).create(name: "ed", password: password, roles: [a.id: .editor])
        let srv = try server(data)
        try await srv.application().test(.router) { client in
            let s = try await signIn(client, "ed")
            let body = ByteBuffer(string: #"{"question":"运费多少？"}"#)
            let missing = try await client.execute(
                uri: "/api/v1/kbs/kb/ask", method: .post, headers: s.headers(csrf: false), body: body)
            #expect(missing.status == .forbidden && errorCode(missing) == "csrf_failed")
            var wrong = s.headers()
            wrong[HTTPField.Name("X-CSRF-Token")!] = String(s.csrf.reversed())
            let bad = try await client.execute(uri: "/api/v1/kbs/kb/ask", method: .post, headers: wrong, body: body)
            #expect(bad.status == .forbidden && errorCode(bad) == "csrf_failed")
            let ok = try await client.execute(
                uri: "/api/v1/kbs/kb/ask", method: .post, headers: s.headers(), body: body)
            #expect(ok.status == .ok)
            let read = try await client.execute(uri: "/api/v1/kbs", method: .get, headers: s.headers(csrf: false))
            #expect(read.status == .ok)
            // The session route tells the page its CSRF token (it is not in any cookie).
            let me = try await client.execute(uri: "/api/v1/session", method: .get, headers: s.headers(csrf: false))
            #expect(object(me)["csrf_token"] as? String == s.csrf)
            #expect(me.headers[values: .setCookie].isEmpty)
        }
        await srv.shutdown()
    }

    @Test("Session fixation: a cookie set before sign-in is never promoted, and signing in again replaces the session")
    func fixation() async throws {
        let scratch = try ScratchDirectory("fixation")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        let a = try lib.create("kb")
        _ = try Accounts(store: lib.store).create(name: "ag", password: password, roles: [a.id: .agent])
        let srv = try server(data)
        try await srv.application().test(.router) { client in
            let planted = "attacker-chosen-session-value"
            let r = try await client.execute(
                uri: "/api/v1/session", method: .post,
                headers: [.contentType: "application/json", .cookie: "wendao_session=\(planted)"],
                body: ByteBuffer(string: #"{"name":"ag","password":"\#(password)"}"#))
            #expect(r.status == .ok)
            let issued = try #require(cookieToken(r))
            #expect(issued != planted && issued.count >= 40)
            let cookie = try #require(r.headers[values: .setCookie].first)
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"))
            let withPlanted = try await client.execute(
                uri: "/api/v1/kbs", method: .get, headers: [.cookie: "wendao_session=\(planted)"])
            #expect(withPlanted.status == .unauthorized)
            // Signing in again while signed in: a new session, and the old one ends.
            let again = try await client.execute(
                uri: "/api/v1/session", method: .post,
                headers: [.contentType: "application/json", .cookie: "wendao_session=\(issued)"],
                body: ByteBuffer(string: #"{"name":"ag","password":"\#(password)"}"#))
            let second = try #require(cookieToken(again))
            #expect(second != issued)
            let old = try await client.execute(
                uri: "/api/v1/kbs", method: .get, headers: [.cookie: "wendao_session=\(issued)"])
            #expect(old.status == .unauthorized)
            // Signing out ends the session and clears the cookie.
            let out = try await client.execute(
                uri: "/api/v1/session", method: .delete, headers: [.cookie: "wendao_session=\(second)"])
            #expect(out.status == .noContent)
            #expect(out.headers[values: .setCookie].first?.contains("Max-Age=0") == true)
            let after = try await client.execute(
                uri: "/api/v1/kbs", method: .get, headers: [.cookie: "wendao_session=\(second)"])
            #expect(after.status == .unauthorized)
        }
        await srv.shutdown()
    }

    @Test("Sign-in: one answer for an unknown name and a wrong password; a flood gets 429 for any name")
    func signInFlood() async throws {
        let scratch = try ScratchDirectory("flood")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        _ = try Accounts(store: lib.store).create(name: "ana", password: password, isAdministrator: true)
        let srv = try server(data, attempts: 3)
        try await srv.application().test(.router) { client in
            func attempt(_ name: String, _ pass: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/api/v1/session", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"name":"\#(name)","password":"\#(pass)"}"#))
            }
            let wrong = try await attempt("ana", "not the password")
            let unknown = try await attempt("nobody", "not the password")
            #expect(wrong.status == .unauthorized && unknown.status == .unauthorized)
            #expect(String(buffer: wrong.body) == String(buffer: unknown.body))
            #expect(wrong.headers[values: .setCookie].isEmpty)
            _ = try await attempt("ana", "still wrong")
            // The fourth attempt for the name is refused, even with the right password.
            let flooded = try await attempt("ana", password)
            #expect(flooded.status == .tooManyRequests)
            #expect(flooded.headers[.retryAfter] != nil)
            #expect(cookieToken(flooded) == nil)
            // An unknown name is limited the same way (the limit tells nothing about which exist).
            for _ in 0..<2 { _ = try await attempt("nobody", "x") }
            #expect(try await attempt("nobody", "x").status == .tooManyRequests)
            // Names differing only in case are one name.
            #expect(try await attempt("ANA", password).status == .tooManyRequests)
        }
        await srv.shutdown()
    }

    @Test("The first account closes an open local server; the admin API manages accounts without exposing hashes")
    func accountsCloseOpenServer() async throws {
        let scratch = try ScratchDirectory("open-users")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        _ = try lib.create("kb")
        let srv = try server(data, admin: nil)
        try await srv.application().test(.router) { client in
            #expect(try await client.execute(uri: "/api/v1/kbs", method: .get).status == .ok)
            let created = try await client.execute(
                uri: "/api/v1/users", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"name":"Lead","password":"\#(password)","roles":{"kb":"editor"}}"#))
            #expect(created.status == .created)
            let text = String(buffer: created.body)
            #expect(!text.contains("argon2") && !text.contains(password))
            #expect((object(created)["roles"] as? [[String: Any]])?.first?["role"] as? String == "editor")
            // Within a second the server is closed: no key, no session → 401.
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await client.execute(uri: "/api/v1/kbs", method: .get).status == .unauthorized)
            let s = try await signIn(client, "lead")
            #expect(try await client.execute(uri: "/api/v1/kbs", method: .get, headers: s.headers()).status == .ok)
            // Bad input: a short password, a bad name, an unknown role or knowledge base, a duplicate.
            for body in [
                #"{"name":"x","password":"short"}"#, #"{"name":"a b","password":"\#(password)"}"#,
                #"{"name":"y","password":"\#(password)","roles":{"kb":"owner"}}"#,
                #"{"name":"z","password":"\#(password)","roles":{"nope":"agent"}}"#,
            ] {
                let r = try await client.execute(
                    uri: "/api/v1/users", method: .post, headers: s.headers(), body: ByteBuffer(string: body))
                // An editor is not the server administrator: 404 before anything is read.
                #expect(r.status == .notFound, "\(body)")
            }
        }
        await srv.shutdown()
        // The administrator (admin key) gets the validation errors.
        let srv2 = try server(data)
        try await srv2.application().test(.router) { client in
            let h: HTTPFields = [.authorization: "Bearer \(adminKey)", .contentType: "application/json"]
            for (body, status) in [
                (#"{"name":"x","password":"short"}"#, HTTPResponse.Status.badRequest),
                (#"{"name":"a b","password":"\#(password)"}"#, .badRequest),
                (#"{"name":"y","password":"\#(password)","roles":{"kb":"owner"}}"#, .badRequest),
                (#"{"name":"z","password":"\#(password)","roles":{"nope":"agent"}}"#, .badRequest),
                (#"{"name":"LEAD","password":"\#(password)"}"#, .conflict),
            ] {
                let r = try await client.execute(
                    uri: "/api/v1/users", method: .post, headers: h, body: ByteBuffer(string: body))
                #expect(r.status == status, "\(body): \(r.status)")
            }
            let list = try await client.execute(uri: "/api/v1/users", method: .get, headers: h)
            #expect(!String(buffer: list.body).contains("argon2"))
            let id = try #require((object(list)["users"] as? [[String: Any]])?.first?["id"] as? Int)
            // A new password ends the account's sessions.
            let s = try await signIn(client, "lead")
            let patched = try await client.execute(
                uri: "/api/v1/users/\(id)", method: .patch, headers: h,
                body: ByteBuffer(string: #"{"password":"another long phrase"}"#))
            #expect(patched.status == .ok)
            #expect(
                try await client.execute(uri: "/api/v1/kbs", method: .get, headers: s.headers()).status == .unauthorized
            )
            _ = try await signIn(client, "lead", "another long phrase")
            let deleted = try await client.execute(uri: "/api/v1/users/\(id)", method: .delete, headers: h)
            #expect(deleted.status == .noContent)
            #expect(
                try await client.execute(uri: "/api/v1/users/\(id)", method: .delete, headers: h).status == .notFound)
        }
        await srv2.shutdown()
    }
}
