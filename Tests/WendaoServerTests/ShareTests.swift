import Foundation
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
import WendaoTestSupport

// Share links through the HTTP stack: a link answers one knowledge base and reaches nothing else;
// revoked and guessed links are 404; the rate limit; the page's frame-ancestors.

private let adminKey = "admin-key-0123456789abcdef"
private let admin: HTTPFields = [.authorization: "Bearer \(adminKey)", .contentType: "application/json"]
private let json: HTTPFields = [.contentType: "application/json"]

private func object(_ r: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:]
}

@Suite("Share links")
struct ShareTests {
    @Test("A share link answers its knowledge base only; revoked or guessed links are 404; the rate is limited")
    func shareLinks() async throws {
        let scratch = try ScratchDirectory("shares")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        let docs = scratch.child("docs")
        try FileManager.default.createDirectory(at: docs, withIntermediateDirectories: true)
        try "# 清关\n\n国际快递的清关时间一般为三到五个工作日。\n".write(
            to: docs.appendingPathComponent("清关.md"), atomically: true, encoding: .utf8)
        _ = try lib.create("客服知识库")
        _ = try lib.open("客服知识库").ingest([docs.path])
        _ = try lib.create("internal")
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = Secret(adminKey)
        let srv = try WendaoServer(configuration: c, logger: Logger(label: "test.shares"))
        let kbPath = "/api/v1/kbs/%E5%AE%A2%E6%9C%8D%E7%9F%A5%E8%AF%86%E5%BA%93"
        try await srv.application().test(.router) { client in
            // Bad input first.
            for body in [
                #"{"allowed_origins":["javascript:alert(1)"]}"#, #"{"allowed_origins":["https://a.example/path"]}"#,
                #"{"per_minute":0}"#, #"{"per_minute":100000}"#, #"{"name":""}"#,
            ] {
                let r = try await client.execute(
                    uri: "\(kbPath)/shares", method: .post, headers: admin, body: ByteBuffer(string: body))
                #expect(r.status == .badRequest, "\(body): \(r.status)")
            }
            let created = try await client.execute(
                uri: "\(kbPath)/shares", method: .post, headers: admin,
                body: ByteBuffer(string: #"{"allowed_origins":["https://www.Example.com/"],"per_minute":3}"#))
            #expect(created.status == .created)
            let token = try #require(object(created)["token"] as? String)
            #expect(token.hasPrefix("wds_"))
            #expect(object(created)["url_path"] as? String == "/s/\(token)")
            let share = try #require(object(created)["share"] as? [String: Any])
            #expect(share["allowed_origins"] as? [String] == ["https://www.example.com"])
            // The page may be framed by the allowed origin only.
            let page = try await client.execute(uri: "/s/\(token)", method: .get)
            #expect(page.status == .ok)
            let csp = page.headers[.contentSecurityPolicy] ?? ""
            #expect(csp.contains("frame-ancestors https://www.example.com") && !csp.contains("frame-ancestors 'none'"))
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == nil)
            #expect(String(buffer: page.body).contains("/ui/share.js"))
            // It answers, with sources named by file name.
            let ask = try await client.execute(
                uri: "/api/v1/shared/\(token)/ask", method: .post, headers: json,
                body: ByteBuffer(string: #"{"question":"国际快递清关要多久？"}"#))
            #expect(ask.status == .ok)
            #expect((object(ask)["answer"] as? String)?.contains("三到五个工作日") == true)
            let cites = object(ask)["citations"] as? [[String: Any]] ?? []
            #expect(cites.first?["document"] as? String == "清关.md")
            #expect(!String(buffer: ask.body).contains(docs.path))
            // The token is not a key: no other route accepts it.
            let bearer: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
            for (uri, method) in [
                ("/api/v1/kbs", HTTPRequest.Method.get), ("\(kbPath)/documents", .get),
                ("/api/v1/kbs/internal/ask", .post),
                ("/v1/models", .get),
            ] {
                let r = try await client.execute(
                    uri: uri, method: method, headers: bearer, body: ByteBuffer(string: #"{"question":"x"}"#))
                #expect(r.status == .unauthorized, "\(uri): \(r.status)")
            }
            // A model cannot be chosen through a link.
            let model = try await client.execute(
                uri: "/api/v1/shared/\(token)/ask", method: .post, headers: json,
                body: ByteBuffer(string: #"{"question":"x","model":"openai:gpt-4o"}"#))
            #expect(model.status == .badRequest)
            // Three questions a minute (a refused one does not count): the fourth is 429 with Retry-After.
            for _ in 0..<2 {
                let next = try await client.execute(
                    uri: "/api/v1/shared/\(token)/ask", method: .post, headers: json,
                    body: ByteBuffer(string: #"{"question":"运费多少？"}"#))
                #expect(next.status == .ok)
            }
            let limited = try await client.execute(
                uri: "/api/v1/shared/\(token)/ask", method: .post, headers: json,
                body: ByteBuffer(string: #"{"question":"运费多少？"}"#))
            #expect(limited.status == .tooManyRequests && limited.headers[.retryAfter] != nil)
            // A guessed token and a key-shaped one are 404, like a revoked link.
            let guessed = "wds_" + String(repeating: "A", count: 43)
            for uri in ["/s/\(guessed)", "/api/v1/shared/\(guessed)", "/s/\(adminKey)", "/s/..%2F..%2Fetc"] {
                #expect(try await client.execute(uri: uri, method: .get).status == .notFound, "\(uri)")
            }
            // A link without origins may not be framed at all.
            let closed = try await client.execute(
                uri: "\(kbPath)/shares", method: .post, headers: admin, body: ByteBuffer(string: "{}"))
            let closedToken = try #require(object(closed)["token"] as? String)
            let closedPage = try await client.execute(uri: "/s/\(closedToken)", method: .get)
            #expect(closedPage.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            #expect(closedPage.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            // Revoked: 404 for the page and the questions (a replay after revocation).
            let list = try await client.execute(uri: "\(kbPath)/shares", method: .get, headers: admin)
            let id = try #require((object(list)["shares"] as? [[String: Any]])?.first?["id"] as? Int)
            #expect(!String(buffer: list.body).contains(token))
            let revoked = try await client.execute(uri: "\(kbPath)/shares/\(id)", method: .delete, headers: admin)
            #expect(revoked.status == .noContent)
            #expect(try await client.execute(uri: "/s/\(token)", method: .get).status == .notFound)
            let replay = try await client.execute(
                uri: "/api/v1/shared/\(token)/ask", method: .post, headers: json,
                body: ByteBuffer(string: #"{"question":"国际快递清关要多久？"}"#))
            #expect(replay.status == .notFound)
            // Another knowledge base's administrators cannot list or revoke this one's links.
            let other = try await client.execute(
                uri: "/api/v1/kbs/internal/shares/\(id)", method: .delete, headers: admin)
            #expect(other.status == .notFound)
        }
        await srv.shutdown()
    }
}
