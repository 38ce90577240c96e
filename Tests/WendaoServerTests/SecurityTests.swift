import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG
@testable import WendaoServer
@testable import WendaoStore
import WendaoTestSupport

// Regression tests for the outside security review (names, open local mode, file deletion,
// cross-site requests, tenant settings, terminal output), and the tests that close their classes.

private let adminKey = "admin-key-0123456789abcdef"
private let jsonType: HTTPFields = [.contentType: "application/json"]

private func auth(_ key: String) -> HTTPFields { [.authorization: "Bearer \(key)", .contentType: "application/json"] }

private func object(_ r: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:]
}

private func server(_ data: URL, host: String = "127.0.0.1", admin: String? = nil) throws -> WendaoServer {
    var c = ServerConfiguration(dataDirectory: data)
    c.host = host
    c.port = 0
    c.adminKey = admin.map(Secret.init)
    return try WendaoServer(configuration: c, logger: Logger(label: "test.security"))
}

/// The final state of job `id` (polled for up to 30 s).
private func finalState(ofJob id: Int, _ client: some TestClientProtocol) async throws -> String {
    var state = ""
    for _ in 0..<600 where !["failed", "succeeded", "partial"].contains(state) {
        try await Task.sleep(for: .milliseconds(50))
        let job = try await client.execute(uri: "/api/v1/jobs/\(id)", method: .get, headers: auth(adminKey))
        state = object(job)["state"] as? String ?? ""
    }
    return state
}

/// `name` as a path segment, percent-encoded the way browsers' `encodeURIComponent` does.
private func segment(_ name: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-_.!~*'()")
    // `alphanumerics` holds non-ASCII letters too: encode everything outside ASCII as well.
    return name.unicodeScalars.map { u -> String in
        if u.isASCII, allowed.contains(u) { return String(u) }
        return String(u).utf8.map { String(format: "%%%02X", $0) }.joined()
    }.joined()
}

@Suite("Security: knowledge-base names")
struct NameIdentityTests {
    @Test("Kelvin sign and K, NFD and NFC are one name; case, width and mixed scripts cannot be created beside it")
    func equivalenceClass() throws {
        let scratch = try ScratchDirectory("names")
        defer { scratch.remove() }
        let lib = try Library(directory: scratch.child("data"))
        let kunden = try lib.create("Kunden")
        // Canonically equivalent spellings are the same knowledge base.
        for same in ["\u{212A}unden", "Kunden"] {
            #expect(try lib.record(same).id == kunden.id)
            #expect(try lib.store.knowledgeBase(named: same)?.id == kunden.id)
        }
        let cafe = try lib.create("Cafe\u{301}")  // NFD in, NFC stored
        #expect(Array(cafe.name.utf8) == Array("Caf\u{E9}".utf8))
        #expect(try lib.record("Caf\u{E9}").id == cafe.id)
        // Confusable names are refused at creation, whoever asks.
        for confusable in ["\u{212A}unden", "kunden", "KUNDEN", "\u{FF2B}\u{FF55}\u{FF4E}\u{FF44}\u{FF45}\u{FF4E}", "CAF\u{C9}"]
        {
            let e = thrownWendaoError { _ = try lib.create(confusable) }
            #expect(e?.code == .alreadyExists, "\(confusable.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        // A Cyrillic К among Latin letters reads as "Kunden" too.
        #expect(thrownWendaoError { _ = try lib.create("\u{41A}unden") }?.code == .invalidArgument)
        // They do not exist as names either: every lookup agrees.
        #expect(thrownWendaoError { _ = try lib.record("kunden") }?.code == .notFound)
        #expect(try lib.store.knowledgeBase(named: "kunden") == nil)
    }

    @Test("Property: any two names that one layer treats as equal, every layer treats as equal")
    func everyLayerAgrees() async throws {
        let scratch = try ScratchDirectory("names-property")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        // Letters with canonical, compatibility, case and width variants, and CJK/Hangul.
        let pieces: [[String]] = [
            ["K", "\u{212A}", "k", "\u{FF2B}"], ["\u{E9}", "e\u{301}", "\u{C9}", "E\u{301}"],
            ["\u{C5}", "\u{212B}", "A\u{30A}", "\u{E5}"], ["\u{D55C}", "\u{1112}\u{1161}\u{11AB}"], ["知", "识"],
            ["a", "A", "\u{FF41}"], ["1", "\u{FF11}"],
        ]
        var rng = SeededGenerator(seed: 12)
        var generated: [String] = []
        for _ in 0..<60 {
            let n = Int.random(in: 1...4, using: &rng)
            generated.append((0..<n).map { _ in pieces.randomElement(using: &rng)!.randomElement(using: &rng)! }.joined())
        }
        let names = generated
        // Create some of them: a creation succeeds, or is refused as existing/confusable.
        var made: [Int64: String] = [:]
        for n in names.prefix(30) {
            if let r = try? lib.create(n) { made[r.id] = n }
        }
        let created = made
        #expect(created.count >= 5)
        // Two names that canonicalise alike are equal to Swift, and resolve alike in the store,
        // the library and the server's cache, and over HTTP.
        let srv = try server(data)
        try await srv.application().test(.router) { client in
            let lib = try Library(directory: data)
            for n in names {
                guard let canonical = try? KnowledgeBaseName.canonical(n) else {
                    // Not a valid name (a full-width digit, say): no layer finds anything by it.
                    #expect(try lib.store.knowledgeBase(named: n) == nil)
                    #expect((try? lib.record(n)) == nil)
                    let http = try await client.execute(uri: "/api/v1/kbs/\(segment(n))", method: .get)
                    #expect(http.status == .notFound)
                    continue
                }
                let store = try lib.store.knowledgeBase(named: n)?.id
                let library = try? lib.record(n).id
                let http = try await client.execute(uri: "/api/v1/kbs/\(segment(n))", method: .get)
                let httpID = (object(http)["id"] as? Int).map(Int64.init)
                #expect(store == library)
                #expect(httpID == library, "\(n.unicodeScalars.map { String($0.value, radix: 16) })")
                if let id = library {
                    // Whatever spelling found it, the stored name is canonically equal to it and NFC.
                    let stored = created[id].flatMap { try? KnowledgeBaseName.canonical($0) }
                    #expect(stored == canonical)
                }
                for m in names {
                    guard let other = try? KnowledgeBaseName.canonical(m) else { continue }
                    let sameInSwift = n == m
                    let sameCanonical = Array(canonical.utf8) == Array(other.utf8)
                    #expect(sameInSwift == sameCanonical)
                    if sameCanonical { #expect((try? lib.record(m).id) == library) }
                    // Confusable names never both exist.
                    if KnowledgeBaseName.confusableKey(canonical) == KnowledgeBaseName.confusableKey(m),
                        let a = library, let b = try? lib.record(m).id
                    {
                        #expect(a == b)
                    }
                }
            }
        }
        await srv.shutdown()
    }

    @Test("Two byte-different rows from an older database: a tenant's key never reaches the other tenant's knowledge base")
    func legacyKelvinRows() async throws {
        let scratch = try ScratchDirectory("names-legacy")
        defer { scratch.remove() }
        let data = scratch.child("data")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("indexes"), withIntermediateDirectories: true)
        // A database as an earlier version could leave it: "Kunden" and "\u{212A}unden" as two rows.
        do {
            let old = try SQLiteStore(path: data.appendingPathComponent("wendao.sqlite").path, migratingUpTo: "v3")
            _ = old
            let queue = try DatabaseQueue(path: data.appendingPathComponent("wendao.sqlite").path)
            try await queue.write { db in
                for name in ["Kunden", "\u{212A}unden"] {
                    try db.execute(
                        sql: "INSERT INTO kb (name, settings, created_at) VALUES (?, '{}', 0)", arguments: [name])
                }
            }
        }
        let lib = try Library(directory: data)
        let rows = try lib.list()
        #expect(rows.count == 2)
        let first = try #require(rows.first { Array($0.name.utf8) == Array("Kunden".utf8) })
        let second = try #require(rows.first { $0.id != first.id })
        _ = try lib.open(first.name).ingest([try scratch.write("src/secret.md", "# Secret\n\nThe vault code is 4711.\n").path])
        let tenant = try lib.createAPIKey(knowledgeBases: [first.name], scope: .write).key
        // The tenant's key covers only the second row: give it that one by id.
        try await DatabaseQueue(path: data.appendingPathComponent("wendao.sqlite").path).write { db in
            try db.execute(sql: "UPDATE api_key_kb SET kb_id = ?", arguments: [second.id])
        }
        let srv = try server(data, admin: adminKey)
        try await srv.application().test(.router) { client in
            // Prime every cache with both spellings, then try each route with the tenant's key.
            for spelling in ["Kunden", "\u{212A}unden"] {
                _ = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: auth(adminKey),
                    body: ByteBuffer(string: #"{"model":"kb:\#(spelling)","messages":[{"role":"user","content":"vault"}]}"#))
                let e = segment(spelling)
                let jobs = try await client.execute(uri: "/api/v1/kbs/\(e)/jobs", method: .get, headers: auth(tenant))
                #expect(jobs.status == .notFound)
                let patch = try await client.execute(
                    uri: "/api/v1/kbs/\(e)", method: .patch, headers: auth(tenant), body: ByteBuffer(string: #"{"k1":1.3}"#))
                #expect(patch.status == .notFound)
                let search = try await client.execute(
                    uri: "/api/v1/kbs/\(e)/search", method: .post, headers: auth(tenant),
                    body: ByteBuffer(string: #"{"query":"vault code"}"#))
                #expect(search.status == .notFound)
                #expect(!String(buffer: search.body).contains("4711"))
                let chat = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: auth(tenant),
                    body: ByteBuffer(string: #"{"model":"kb:\#(spelling)","messages":[{"role":"user","content":"vault code"}]}"#))
                #expect(!String(buffer: chat.body).contains("4711"))
                var upload = auth(tenant)
                upload[.contentType] = "multipart/form-data; boundary=XYZ"
                let up = try await client.execute(
                    uri: "/api/v1/kbs/\(e)/documents", method: .post, headers: upload,
                    body: ByteBuffer(
                        string: "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.md\"\r\n\r\n# X\n\nplanted\n\r\n--XYZ--\r\n"))
                #expect(up.status == .notFound)
            }
        }
        await srv.shutdown()
        #expect(try lib.store.documents(kb: first.id).count == 1)
        #expect(try lib.jobs(kb: first.name).isEmpty)
    }
}

@Suite("Security: Chinese and other UTF-8 names over HTTP")
struct EncodedNameRouteTests {
    @Test("Every per-knowledge-base route works with a percent-encoded UTF-8 name, through the real HTTP stack")
    func everyRoute() async throws {
        let scratch = try ScratchDirectory("names-http")
        defer { scratch.remove() }
        let data = scratch.child("data")
        _ = try Library(directory: data)
        let srv = try server(data, admin: adminKey)
        let names = ["客服知识库", "Café.v2-知识_1", String(repeating: "知", count: 64), "한국어", "données"]
        try await srv.application().test(.live) { client in
            for name in names {
                let e = segment(name)
                let create = try await client.execute(
                    uri: "/api/v1/kbs", method: .post, headers: auth(adminKey),
                    body: ByteBuffer(string: #"{"name":"\#(name)"}"#))
                #expect(create.status == .created, "\(name): \(String(buffer: create.body))")
                let show = try await client.execute(uri: "/api/v1/kbs/\(e)", method: .get, headers: auth(adminKey))
                #expect(show.status == .ok)
                #expect(object(show)["name"] as? String == name)
                var upload = auth(adminKey)
                upload[.contentType] = "multipart/form-data; boundary=B0"
                let up = try await client.execute(
                    uri: "/api/v1/kbs/\(e)/documents", method: .post, headers: upload,
                    body: ByteBuffer(
                        string: "--B0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"运费.md\"\r\n\r\n"
                            + "# 运费\n\n首重收费12元。\n\r\n--B0--\r\n"))
                #expect(up.status == .accepted, "\(name): \(String(buffer: up.body))")
                let jobID = try #require(object(up)["id"] as? Int)
                #expect(try await finalState(ofJob: jobID, client) == "succeeded")
                let jobs = try await client.execute(uri: "/api/v1/kbs/\(e)/jobs", method: .get, headers: auth(adminKey))
                #expect(jobs.status == .ok)
                let docs = try await client.execute(uri: "/api/v1/kbs/\(e)/documents", method: .get, headers: auth(adminKey))
                let doc = try #require((object(docs)["documents"] as? [[String: Any]])?.first)
                let docID = try #require(doc["id"] as? Int)
                let search = try await client.execute(
                    uri: "/api/v1/kbs/\(e)/search", method: .post, headers: auth(adminKey),
                    body: ByteBuffer(string: #"{"query":"首重"}"#))
                #expect(search.status == .ok)
                let hit = try #require((object(search)["results"] as? [[String: Any]])?.first)
                let chunk = try await client.execute(
                    uri: "/api/v1/kbs/\(e)/chunks/\(hit["chunk_id"] as? Int ?? -1)", method: .get, headers: auth(adminKey))
                #expect(chunk.status == .ok)
                let ask = try await client.execute(
                    uri: "/api/v1/kbs/\(e)/ask", method: .post, headers: auth(adminKey),
                    body: ByteBuffer(string: #"{"question":"首重多少钱？"}"#))
                #expect(String(buffer: ask.body).contains("12"))
                let patch = try await client.execute(
                    uri: "/api/v1/kbs/\(e)", method: .patch, headers: auth(adminKey), body: ByteBuffer(string: #"{"k1":1.4}"#))
                #expect(patch.status == .ok)
                let reingest = try await client.execute(
                    uri: "/api/v1/kbs/\(e)/documents/\(docID)/reingest", method: .post, headers: auth(adminKey))
                #expect(reingest.status == .accepted)
                let reingestID = try #require(object(reingest)["id"] as? Int)
                #expect(try await finalState(ofJob: reingestID, client) == "succeeded")
                let docsAfter = try await client.execute(uri: "/api/v1/kbs/\(e)/documents", method: .get, headers: auth(adminKey))
                let currentID = try #require((object(docsAfter)["documents"] as? [[String: Any]])?.first?["id"] as? Int)
                let chat = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: auth(adminKey),
                    body: ByteBuffer(string: #"{"model":"kb:\#(name)","messages":[{"role":"user","content":"首重多少钱？"}]}"#))
                #expect(chat.status == .ok)
                let delDoc = try await client.execute(
                    uri: "/api/v1/kbs/\(e)/documents/\(currentID)", method: .delete, headers: auth(adminKey))
                #expect(delDoc.status == .noContent)
                let del = try await client.execute(uri: "/api/v1/kbs/\(e)", method: .delete, headers: auth(adminKey))
                #expect(del.status == .noContent)
            }
            // Segments that cannot name a knowledge base are 404, never a path outside it.
            for bad in ["..", "%2E%2E", "a%2Fb", "%00", "a%00b", "%E5%AE", "%", "a%2F..%2F..%2Fetc"] {
                let r = try await client.execute(uri: "/api/v1/kbs/\(bad)/documents", method: .get, headers: auth(adminKey))
                #expect(r.status == .notFound || r.status == .badRequest, "\(bad): \(r.status)")
            }
        }
        await srv.shutdown()
    }
}

@Suite("Security: open local mode fails closed")
struct FailClosedTests {
    @Test("Loopback is decided from the parsed address, in every spelling")
    func loopbackSpellings() {
        for host in [
            "127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "0:0:0:0:0:0:0:1", "[::1]", "0000::0001",
            "::ffff:127.0.0.1", "localhost", "LOCALHOST",
        ] {
            #expect(ServerConfiguration.isLoopback(host), "\(host)")
        }
        for host in [
            "127.evil.example", "127.0.0.1.nip.io", "0.0.0.0", "::", "10.0.0.1", "192.0.2.7", "::2", "::ffff:10.0.0.1",
            "localhost.evil.example", "", "fe80::1",
        ] {
            #expect(!ServerConfiguration.isLoopback(host), "\(host)")
        }
    }

    @Test(
        "Every way the keys can become empty, on every kind of bound address: anonymous callers only ever admitted on loopback",
        .tags(.slow), .timeLimit(.minutes(3)))
    func keysBecomeEmpty() async throws {
        let hosts: [(String, Bool)] = [
            ("127.0.0.1", true), ("0:0:0:0:0:0:0:1", true), ("::1", true), ("localhost", true),
            ("0.0.0.0", false), ("::", false), ("192.0.2.7", false), ("127.evil.example", false),
        ]
        enum Emptying: CaseIterable { case revoked, deletedFromStore }
        for (host, loopback) in hosts {
            for way in Emptying.allCases {
                let scratch = try ScratchDirectory("fail-closed")
                defer { scratch.remove() }
                let data = scratch.child("data")
                let lib = try Library(directory: data)
                _ = try lib.create("kb")
                let key = try lib.createAPIKey(knowledgeBases: ["kb"]).key
                // Starts: a network address needs a key to exist, and has one.
                let srv = try server(data, host: host)
                try await srv.application().test(.router) { client in
                    let lib = try Library(directory: data)
                    let anonymousBefore = try await client.execute(uri: "/api/v1/kbs", method: .get)
                    #expect(anonymousBefore.status == .unauthorized)
                    switch way {
                    case .revoked:
                        _ = try lib.revokeAPIKey(String(key.prefix(12)))
                    case .deletedFromStore:
                        // Another process's writer: it waits for the server's own writes (the job
                        // runner's start-up) as the store does, rather than failing at once.
                        var config = Configuration()
                        config.busyMode = .timeout(10)
                        let queue = try DatabaseQueue(
                            path: data.appendingPathComponent("wendao.sqlite").path, configuration: config)
                        try await queue.write { db in
                            try db.execute(sql: "DELETE FROM api_key_kb")
                            try db.execute(sql: "DELETE FROM api_keys")
                        }
                    }
                    try await Task.sleep(for: .milliseconds(1100))  // the key-presence cache's lifetime
                    let anonymous = try await client.execute(uri: "/api/v1/kbs", method: .get)
                    let admin = try await client.execute(
                        uri: "/api/v1/kbs", method: .post, headers: jsonType, body: ByteBuffer(string: #"{"name":"x"}"#))
                    if loopback {
                        #expect(anonymous.status == .ok, "\(host) \(way)")
                    } else {
                        #expect(anonymous.status == .unauthorized, "\(host) \(way)")
                        #expect(admin.status == .unauthorized, "\(host) \(way)")
                    }
                    // (On loopback with no key left, the server is open again, whatever key is sent.)
                    let revoked = try await client.execute(uri: "/api/v1/kbs", method: .get, headers: auth(key))
                    if !loopback { #expect(revoked.status == .unauthorized) }
                }
                await srv.shutdown()
                if !loopback { #expect(try lib.list().map(\.name) == ["kb"]) }
            }
        }
    }

    @Test("A network address with no key at all refuses to start, in every spelling")
    func refuseToStart() throws {
        let scratch = try ScratchDirectory("fail-closed-start")
        defer { scratch.remove() }
        let data = scratch.child("data")
        _ = try Library(directory: data)
        for host in ["0.0.0.0", "::", "127.evil.example", "192.0.2.7"] {
            #expect(throws: WendaoError.self) { _ = try server(data, host: host) }
        }
        for host in ["127.0.0.1", "0:0:0:0:0:0:0:1", "localhost"] {
            #expect(throws: Never.self) { _ = try server(data, host: host) }
        }
    }
}

@Suite("Security: cross-site requests and DNS rebinding")
struct CrossSiteTests {
    @Test("An open local server refuses foreign Origins, text/plain and form bodies, and rebinding Host names")
    func crossSite() async throws {
        let scratch = try ScratchDirectory("csrf")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        _ = try lib.create("kb")
        let srv = try server(data)
        try await srv.application().test(.router) { client in
            // text/plain and form bodies: what a page may send without asking.
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", nil] {
                var h: HTTPFields = [:]
                if let type { h[.contentType] = type }
                let r = try await client.execute(
                    uri: "/api/v1/kbs", method: .post, headers: h, body: ByteBuffer(string: #"{"name":"planted"}"#))
                #expect(r.status == .unsupportedMediaType || r.status == .forbidden, "\(type ?? "none")")
            }
            // A foreign Origin, or a browser saying cross-site, cannot change anything.
            for headers: HTTPFields in [
                [.contentType: "application/json", HTTPField.Name("Origin")!: "http://evil.example"],
                [.contentType: "application/json", HTTPField.Name("Origin")!: "null"],
                [.contentType: "application/json", HTTPField.Name("Origin")!: "http://localhost:9999"],
                [.contentType: "application/json", HTTPField.Name("Sec-Fetch-Site")!: "cross-site"],
                [.contentType: "application/json", HTTPField.Name("Sec-Fetch-Site")!: "same-site"],
            ] {
                let r = try await client.execute(
                    uri: "/api/v1/kbs", method: .post, headers: headers, body: ByteBuffer(string: #"{"name":"planted"}"#))
                #expect(r.status == .forbidden)
                let d = try await client.execute(uri: "/api/v1/kbs/kb", method: .delete, headers: headers)
                #expect(d.status == .forbidden)
                var upload = headers
                upload[.contentType] = "multipart/form-data; boundary=XYZ"
                let up = try await client.execute(
                    uri: "/api/v1/kbs/kb/documents", method: .post, headers: upload,
                    body: ByteBuffer(
                        string: "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.md\"\r\n\r\n# X\n\r\n--XYZ--\r\n"))
                #expect(up.status == .forbidden)
            }
            // The server's own page (same origin) works.
            let own = try await client.execute(
                uri: "/api/v1/kbs", method: .post,
                headers: [
                    .contentType: "application/json", HTTPField.Name("Origin")!: "http://localhost",
                    HTTPField.Name("Sec-Fetch-Site")!: "same-origin",
                ],
                body: ByteBuffer(string: #"{"name":"mine"}"#))
            #expect(own.status == .created)
            // No CORS headers, on any answer (a preflight included).
            for r in [
                try await client.execute(uri: "/api/v1/kbs", method: .get, headers: [HTTPField.Name("Origin")!: "http://evil.example"]),
                try await client.execute(
                    uri: "/api/v1/kbs", method: .options,
                    headers: [
                        HTTPField.Name("Origin")!: "http://evil.example",
                        HTTPField.Name("Access-Control-Request-Method")!: "POST",
                    ]),
            ] {
                #expect(!r.headers.contains { $0.name.rawName.lowercased().hasPrefix("access-control-") })
            }
        }
        #expect(try lib.list().map(\.name).sorted() == ["kb", "mine"])
        await srv.shutdown()
    }

    @Test("A rebinding host name is refused on every route; loopback literals and allowed names are served")
    func hostHeader() async throws {
        let scratch = try ScratchDirectory("rebind")
        defer { scratch.remove() }
        let data = scratch.child("data")
        _ = try Library(directory: data)
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.allowedHosts = ["kb.intranet.example"]
        let srv = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        try await srv.application().test(.live) { client in
            let port = try #require(client.port)
            try await TestClient.withClient(host: "127.0.0.1", port: port) { raw in
                for (host, ok) in [
                    ("rebind.evil.example", false), ("127.0.0.1.evil.example", false), ("localhost.evil.example", false),
                    ("127.0.0.1", true), ("localhost", true), ("[::1]", true), ("kb.intranet.example", true),
                    ("KB.intranet.example.", true),
                ] {
                    for uri in ["/api/v1/kbs", "/", "/openapi.yaml"] {
                        let r = try await raw.execute(.init(uri, method: .get, authority: "\(host):8080"))
                        #expect((r.status != .misdirectedRequest) == ok, "\(host) \(uri): \(r.status)")
                    }
                }
            }
        }
        await srv.shutdown()
    }
}

@Suite("Security: tenants and server settings")
struct TenantSettingsTests {
    @Test("A write key cannot choose the embedder or the answer model, and errors name no server paths")
    func adminDecisions() async throws {
        let scratch = try ScratchDirectory("tenant-settings")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        _ = try lib.create("kb")
        let writer = try lib.createAPIKey(knowledgeBases: ["kb"], scope: .write).key
        let srv = try server(data, admin: adminKey)
        try await srv.application().test(.router) { client in
            for body in [
                #"{"embedder":"path:/etc"}"#, #"{"embedder":"path:/etc/config.json"}"#, #"{"model":"openai:gpt-4o"}"#,
                #"{"model":"deepseek:deepseek-chat","k1":1.3}"#,
            ] {
                let r = try await client.execute(
                    uri: "/api/v1/kbs/kb", method: .patch, headers: auth(writer), body: ByteBuffer(string: body))
                #expect(r.status == .forbidden, "\(body)")
                #expect(!String(buffer: r.body).contains("/etc"))
            }
            let ask = try await client.execute(
                uri: "/api/v1/kbs/kb/ask", method: .post, headers: auth(writer),
                body: ByteBuffer(string: #"{"question":"hello?","model":"openai:gpt-4o"}"#))
            #expect(ask.status == .forbidden)
            // Ordinary settings still change, and the admin may set the model.
            let k1 = try await client.execute(
                uri: "/api/v1/kbs/kb", method: .patch, headers: auth(writer), body: ByteBuffer(string: #"{"k1":1.5}"#))
            #expect(k1.status == .ok)
            let model = try await client.execute(
                uri: "/api/v1/kbs/kb", method: .patch, headers: auth(adminKey),
                body: ByteBuffer(string: #"{"model":"openai:gpt-4o"}"#))
            #expect(model.status == .ok)
        }
        await srv.shutdown()
        #expect(try lib.record("kb").settings.k1 == 1.5)
        #expect(try lib.record("kb").settings.embedder == nil)
    }

    @Test("Paths in messages are shortened to file names for tenants")
    func redaction() {
        #expect(
            APIError.redactPaths("its source file /home/ann/docs/report.md no longer exists")
                == "its source file report.md no longer exists")
        #expect(APIError.redactPaths("'/etc/config.json': missing") == "'config.json': missing")
        #expect(APIError.redactPaths("use kb/name or 1/2") == "use kb/name or 1/2")
    }
}

@Suite("Security: files outside the data directory")
struct UserFilesTests {
    /// Every file below `root` (paths relative to it) with its size, modification time and SHA-256,
    /// except below the folders named in `skipping`.
    static func snapshot(_ root: URL, skipping: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        let base = root.standardizedFileURL.path
        guard let e = fm.enumerator(atPath: base) else { return out }
        while let rel = e.nextObject() as? String {
            if skipping.contains(where: { rel == $0 || rel.hasPrefix($0 + "/") }) { continue }
            let path = base + "/" + rel
            let attrs = try fm.attributesOfItem(atPath: path)
            guard attrs[.type] as? FileAttributeType == .typeRegular else {
                out[rel] = "\(attrs[.type] ?? "")"
                continue
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            var hash = SHA256()
            hash.update(data)
            out[rel] = "\(data.count) \((attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0) \(hash.hexDigest())"
        }
        return out
    }

    @Test("Re-ingest of a CLI document whose file was emptied fails without deleting the user's file; nothing outside the data directory changes")
    func reingestKeepsUserFile() async throws {
        let scratch = try ScratchDirectory("user-files")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        _ = try lib.create("kb")
        let report = try scratch.write("home/dir/report.md", "# Report\n\nQuarterly numbers grew by 12 percent.\n")
        try scratch.write("home/dir/notes.txt", "Notes that were never ingested.\n")
        _ = try lib.open("kb").ingest([report.path])
        let doc = try #require(try lib.store.documents(kb: try lib.record("kb").id).first)
        try Data().write(to: report)  // the user empties the file
        let before = try Self.snapshot(scratch.url, skipping: ["data"])
        let srv = try server(data, admin: adminKey)
        try await srv.application().test(.router) { client in
            let r = try await client.execute(
                uri: "/api/v1/kbs/kb/documents/\(doc.id)/reingest", method: .post, headers: auth(adminKey))
            #expect(r.status == .accepted)
            let id = try #require(object(r)["id"] as? Int)
            #expect(try await finalState(ofJob: id, client) == "failed")
            // Uploads that fail are the server's own files: those go, inside the data directory.
            var upload = auth(adminKey)
            upload[.contentType] = "multipart/form-data; boundary=XYZ"
            let up = try await client.execute(
                uri: "/api/v1/kbs/kb/documents", method: .post, headers: upload,
                body: ByteBuffer(
                    string: "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.md\"\r\n\r\n\r\n--XYZ--\r\n"))
            #expect(up.status == .accepted)
            let upID = try #require(object(up)["id"] as? Int)
            #expect(try await finalState(ofJob: upID, client) == "failed")
            let del = try await client.execute(uri: "/api/v1/kbs/kb", method: .delete, headers: auth(adminKey))
            #expect(del.status == .noContent)
        }
        await srv.shutdown()
        #expect(FileManager.default.fileExists(atPath: report.path))
        #expect(try Self.snapshot(scratch.url, skipping: ["data"]) == before)
        // The failed upload was removed from the uploads folder.
        let uploads = data.appendingPathComponent("uploads")
        let left = FileManager.default.enumerator(atPath: uploads.path)?.allObjects as? [String] ?? []
        #expect(!left.contains { $0.hasSuffix("report.md") })
    }

    @Test("No command writes or deletes anything outside the data directory (ingest, delete, prune, reindex, doctor, kb delete)")
    func commandsLeaveUserFilesAlone() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let src = try f.writeFacts()
        try f.scratch.write("src/kb/empty.md", "")
        try f.scratch.write("src/kb/broken.pdf", "%PDF-1.7 truncated")
        let snapshot = { try Self.snapshot(f.scratch.url, skipping: ["data"]).filter { !$0.key.hasPrefix("std") } }
        _ = try await f.run("kb", "create", "kb")
        let before = try snapshot()
        _ = try await f.run("ingest", "--kb", "kb", src)
        _ = try await f.run("docs", "delete", "--kb", "kb", "kb/contact.txt")
        try FileManager.default.removeItem(at: f.scratch.child("src/kb/pricing.md"))
        let afterRemoval = try snapshot()
        _ = try await f.run("ingest", "--kb", "kb", src, "--prune")
        _ = try await f.run("reindex", "--kb", "kb")
        _ = try await f.run("doctor", "--kb", "kb")
        _ = try await f.run("kb", "delete", "kb")
        #expect(before.count == afterRemoval.count + 1)
        #expect(try snapshot() == afterRemoval)
        #expect(FileManager.default.fileExists(atPath: f.scratch.child("src/kb/empty.md").path))
        #expect(FileManager.default.fileExists(atPath: f.scratch.child("src/kb/broken.pdf").path))
    }

    @Test("Only files inside the uploads folder are ever removed, whatever a job's payload says")
    func removeUploadGuard() throws {
        let scratch = try ScratchDirectory("remove-guard")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let outside = try scratch.write("outside.md", "user file")
        let inside = try scratch.write("data/uploads/kb-1/inside.md", "upload")
        let link = scratch.child("data/uploads/kb-1/link.md")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: outside)
        let logger = Logger(label: "t")
        for path in [
            outside.path, data.path + "/uploads/../../outside.md", link.path, data.path + "/uploads-evil/x",
        ] {
            JobRunner.removeUpload(path, dataDirectory: data, logger: logger)
        }
        #expect(FileManager.default.fileExists(atPath: outside.path))
        JobRunner.removeUpload(inside.path, dataDirectory: data, logger: logger)
        #expect(!FileManager.default.fileExists(atPath: inside.path))
    }

    @Test("Abandoned .incoming upload folders are removed at start; live ones are kept")
    func abandonedUploads() throws {
        let scratch = try ScratchDirectory("incoming")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let old = try scratch.write("data/uploads/kb-1/.incoming-OLD/big.pdf", "partial")
        let live = try scratch.write("data/uploads/kb-1/.incoming-LIVE/big.pdf", "partial")
        let kept = try scratch.write("data/uploads/kb-1/kept.md", "an upload")
        let long = Date(timeIntervalSinceNow: -3600)
        for p in [old.path, old.deletingLastPathComponent().path] {
            try FileManager.default.setAttributes([.modificationDate: long], ofItemAtPath: p)
        }
        JobRunner.removeAbandonedUploads(dataDirectory: data, idle: JobRunner.abandonedUploadAge, logger: Logger(label: "t"))
        #expect(!FileManager.default.fileExists(atPath: old.deletingLastPathComponent().path))
        #expect(FileManager.default.fileExists(atPath: live.path))
        #expect(FileManager.default.fileExists(atPath: kept.path))
    }
}

@Suite("Security: terminal output")
struct TerminalOutputTests {
    @Test("Escape sequences and newlines in file names never reach the terminal raw; --json stays exact")
    func escapes() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let hostile = "a\u{1B}]0;pwned\u{07}\u{1B}[2J\u{9B}31m\u{202E}.md"
        let newline = "b\nerror: forged line.md"
        try f.scratch.write("src/kb/\(hostile)", "# Title \u{1B}[31mred\u{1B}[0m\n\nThe parcel fee is 12 yuan.\n")
        try f.scratch.write("src/kb/\(newline)", "# Other\n\nThe depot opens at 8 am.\n")
        _ = try await f.run("kb", "create", "kb")
        let ingest = try await f.run("ingest", "--kb", "kb", f.scratch.child("src/kb").path)
        let list = try await f.run("docs", "list", "--kb", "kb")
        let search = try await f.run("search", "--kb", "kb", "parcel fee")
        let ask = try await f.run("ask", "--kb", "kb", "What is the parcel fee?")
        for (what, r) in [("ingest", ingest), ("docs list", list), ("search", search), ("ask", ask)] {
            for stream in [r.stdout, r.stderr] {
                #expect(!stream.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B || $0.value == 0x202E }, "\(what)")
                #expect(!stream.contains("\nerror: forged line"), "\(what)")
            }
        }
        #expect(list.stdout.contains("\\x1b]0;pwned"))
        // JSON keeps the exact names.
        let json = try await f.run("docs", "list", "--kb", "kb", "--json")
        #expect(json.stdout.contains("\\u001b]0;pwned"))
        let docs = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let paths = (docs?["documents"] as? [[String: Any]])?.compactMap { $0["path"] as? String } ?? []
        #expect(paths.contains("kb/\(hostile)"))
        #expect(paths.contains("kb/\(newline)"))
    }
}
