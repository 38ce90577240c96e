import Foundation
#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
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

/// A data directory with two knowledge bases ("facts" in Chinese, "other" in English) for server
/// tests.
private struct ServerFixture {
    let scratch: ScratchDirectory
    let data: URL

    init() throws {
        scratch = try ScratchDirectory("server")
        data = scratch.child("data")
        let lib = try Library(directory: data)
        try scratch.write(
            "src/facts/pricing.md", "# 价格说明\n\n## 首重与续重\n\n标准快递首重收费12元，续重每公斤收费3元。\n\n## 保价\n\n保价费按声明价值的1%收取。\n")
        try scratch.write("src/other/hours.md", "# Opening hours\n\nThe depot opens at 8 am and closes at 10 pm.\n")
        _ = try lib.create("facts")
        _ = try lib.open("facts").ingest([scratch.child("src/facts").path])
        _ = try lib.create("other")
        _ = try lib.open("other").ingest([scratch.child("src/other").path])
    }

    func server(adminKey: String? = nil, models: ModelsConfiguration = ModelsConfiguration(), environment: [String: String] = [:])
        throws -> WendaoServer
    {
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = adminKey.map(Secret.init)
        c.models = models
        c.environment = environment
        return try WendaoServer(configuration: c, logger: Logger(label: "test.server"))
    }
}

private func body(_ json: String) -> ByteBuffer { ByteBuffer(string: json) }

private func object(_ r: TestResponse) throws -> [String: Any] {
    try #require(
        try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any],
        "not a JSON object: \(String(buffer: r.body))")
}

private func auth(_ key: String) -> HTTPFields { [.authorization: "Bearer \(key)", .contentType: "application/json"] }

@Suite("Server routes")
struct ServerRouteTests {
    @Test("Health, readiness, UI assets with a strict CSP, OpenAPI document")
    func system() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body) == #"{"status":"ok"}"#)
            }
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                #expect(r.headers[.contentType]?.hasPrefix("text/html") == true)
                let etag = try #require(r.headers[.eTag])
                try await client.execute(uri: "/", method: .get, headers: [.ifNoneMatch: etag]) { r2 in
                    #expect(r2.status == .notModified)
                }
            }
            try await client.execute(uri: "/openapi.yaml", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("openapi: 3.1"))
            }
            try await client.execute(uri: "/ui/missing.js", method: .get) { r in #expect(r.status == .notFound) }
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = String(buffer: r.body)
                #expect(r.status == .ok)
                #expect(text.contains("wendao_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"))
                #expect(text.contains("wendao_http_request_duration_seconds_bucket"))
            }
        }
        await server.shutdown()
    }

    @Test("Knowledge bases, documents, chunks, search and extractive ask on an open local server")
    func openServer() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.router) { client in
            let list = try await client.execute(uri: "/api/v1/kbs", method: .get)
            #expect(list.status == .ok)
            let kbs = try #require(try object(list)["knowledge_bases"] as? [[String: Any]])
            #expect(Set(kbs.compactMap { $0["name"] as? String }) == ["facts", "other"])
            let show = try await client.execute(uri: "/api/v1/kbs/facts", method: .get)
            #expect(try object(show)["documents"] as? Int == 1)
            let docs = try await client.execute(uri: "/api/v1/kbs/facts/documents", method: .get)
            let doc = try #require((try object(docs)["documents"] as? [[String: Any]])?.first)
            #expect(doc["path"] as? String == "facts/pricing.md")
            let search = try await client.execute(
                uri: "/api/v1/kbs/facts/search", method: .post, headers: [.contentType: "application/json"], body: body(#"{"query":"首重收费","top_k":3}"#))
            #expect(search.status == .ok)
            let hit = try #require((try object(search)["results"] as? [[String: Any]])?.first)
            #expect((hit["text"] as? String)?.contains("首重收费12元") == true)
            let chunkID = try #require(hit["chunk_id"] as? Int)
            let chunk = try await client.execute(uri: "/api/v1/kbs/facts/chunks/\(chunkID)", method: .get)
            #expect(try object(chunk)["section"] as? String == "价格说明 › 首重与续重")
            // The chunk of another knowledge base is not reachable through this one.
            let wrong = try await client.execute(uri: "/api/v1/kbs/other/chunks/\(chunkID)", method: .get)
            #expect(wrong.status == .notFound)
            let ask = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: [.contentType: "application/json"], body: body(#"{"question":"首重收费多少钱？"}"#))
            let a = try object(ask)
            #expect(a["mode"] as? String == "extractive")
            #expect(a["found"] as? Bool == true)
            #expect((a["citations"] as? [[String: Any]])?.first?["chunk_id"] as? Int == chunkID)
            let created = try await client.execute(uri: "/api/v1/kbs", method: .post, headers: [.contentType: "application/json"], body: body(#"{"name":"new-kb"}"#))
            #expect(created.status == .created)
            let dup = try await client.execute(uri: "/api/v1/kbs", method: .post, headers: [.contentType: "application/json"], body: body(#"{"name":"new-kb"}"#))
            #expect(dup.status == .conflict)
            let patched = try await client.execute(
                uri: "/api/v1/kbs/new-kb", method: .patch, headers: [.contentType: "application/json"], body: body(#"{"chunk_size":300}"#))
            #expect(try object(patched)["chunk_size"] as? Int == 300)
            let deleted = try await client.execute(uri: "/api/v1/kbs/new-kb", method: .delete)
            #expect(deleted.status == .noContent)
            let docID = try #require(doc["id"] as? Int)
            let del = try await client.execute(uri: "/api/v1/kbs/facts/documents/\(docID)", method: .delete)
            #expect(del.status == .noContent)
            let after = try await client.execute(
                uri: "/api/v1/kbs/facts/search", method: .post, headers: [.contentType: "application/json"], body: body(#"{"query":"首重收费"}"#))
            #expect((try object(after)["results"] as? [Any])?.isEmpty == true)
        }
        await server.shutdown()
    }

    @Test("Bad bodies: malformed, wrong types, huge, deeply nested, empty question, unknown KB")
    func badBodies() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.router) { client in
            let long = String(repeating: "运", count: 5000)
            let huge = String(repeating: "运", count: 600_000)
            let cases: [(String, HTTPResponse.Status, String)] = [
                ("{not json", .badRequest, "invalid_argument"),
                (#"{"query": 42}"#, .badRequest, "invalid_argument"),
                (#"{"top_k": 3}"#, .badRequest, "invalid_argument"),
                ("", .badRequest, "invalid_argument"),
                (String(repeating: "[", count: 100_000), .badRequest, "invalid_argument"),
                ("{\"query\":\"" + huge + "\"}", .contentTooLarge, "limit_exceeded"),
                ("{\"query\":\"" + long + "\"}", .contentTooLarge, "limit_exceeded"),
                (#"{"query":"   "}"#, .badRequest, "invalid_argument"),
            ]
            for (text, status, code) in cases {
                let r = try await client.execute(uri: "/api/v1/kbs/facts/search", method: .post, headers: [.contentType: "application/json"], body: body(text))
                #expect(r.status == status, "\(text.prefix(40)) → \(r.status)")
                let error = try object(r)["error"] as? [String: Any]
                #expect(error?["code"] as? String == code)
            }
            let missing = try await client.execute(
                uri: "/api/v1/kbs/nope/search", method: .post, headers: [.contentType: "application/json"], body: body(#"{"query":"x"}"#))
            #expect(missing.status == .notFound)
            let badName = try await client.execute(uri: "/api/v1/kbs/..%2F..%2Fetc/documents", method: .get)
            #expect(badName.status == .notFound)
        }
        await server.shutdown()
    }

    @Test("Streaming ask: token events, then citations and done")
    func streamingAsk() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.router) { client in
            let r = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: [.contentType: "application/json"], body: body(#"{"question":"首重收费多少钱？","stream":true}"#))
            #expect(r.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            var parser = SSEParser()
            let events = try parser.feed(r.body.readableBytesView) + parser.finish()
            #expect(events.map(\.event) == ["token", "citations", "done"])
            #expect(events[0].data.contains("首重收费12元"))
            #expect(events[1].data.contains("\"found\":true"))
        }
        await server.shutdown()
    }

    @Test("OpenAI chat completions for kb:NAME, plain and streamed, with citations; /v1/models")
    func openAI() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.router) { client in
            let models = try await client.execute(uri: "/v1/models", method: .get)
            let ids = (try object(models)["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            // Local models pulled on this machine are listed too (open local mode is an administrator).
            #expect(Set((ids ?? []).filter { !$0.hasPrefix("local:") }) == ["kb:facts", "kb:other"])
            let r = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"],
                body: body(
                    #"{"model":"kb:facts","messages":[{"role":"system","content":"ignored"},{"role":"user","content":"首重收费多少钱？"}],"wendao":{"citation_footer":true}}"#
                ))
            let o = try object(r)
            #expect(o["object"] as? String == "chat.completion")
            let message = try #require((o["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
            #expect((message["content"] as? String)?.contains("首重收费12元") == true)
            #expect((message["content"] as? String)?.contains("[1] facts/pricing.md") == true)
            #expect((message["citations"] as? [Any])?.isEmpty == false)
            let s = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"],
                body: body(
                    #"{"model":"kb:facts","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"首重收费多少钱？"}]}"#
                ))
            var parser = SSEParser()
            let events = try parser.feed(s.body.readableBytesView) + parser.finish()
            #expect(events.last?.data == "[DONE]")
            let chunks = events.dropLast().compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any]
            }
            let text = chunks.compactMap {
                ((($0["choices"] as? [[String: Any]])?.first)?["delta"] as? [String: Any])?["content"] as? String
            }.joined()
            #expect(text.contains("首重收费12元"))
            #expect(chunks.contains { ($0["usage"] as? [String: Any]) != nil })
            let unknown = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"],
                body: body(#"{"model":"kb:nope","messages":[{"role":"user","content":"x"}]}"#))
            #expect(unknown.status == .notFound)
        }
        await server.shutdown()
    }

    @Test("Grounded answers through a fake provider: SSE sources, tokens, citations, usage")
    func groundedStreaming() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        let provider = try await FakeProviderServer.start(script: [
            .sse([Shapes.chunk("首重收费12元[1]", finish: "stop"), #"{"choices":[],"usage":{"prompt_tokens":50,"completion_tokens":5,"total_tokens":55}}"#])
        ])
        let server = try f.server(environment: ["OPENAI_BASE_URL": provider.baseURL, "OPENAI_API_KEY": canaryKey])
        try await server.application().test(.router) { client in
            let r = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: [.contentType: "application/json"],
                body: body(#"{"question":"首重收费多少钱？","model":"openai:m","stream":true}"#))
            var parser = SSEParser()
            let events = try parser.feed(r.body.readableBytesView) + parser.finish()
            let kinds = events.compactMap(\.event)
            #expect(kinds.first == "sources")
            #expect(Array(kinds.suffix(3)) == ["citations", "usage", "done"])
            #expect(kinds.dropFirst().dropLast(3).allSatisfy { $0 == "token" })
            let text = events.filter { $0.event == "token" }.compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: String])?["text"]
            }.joined()
            #expect(text == "首重收费12元[1]")
            #expect(events.first { $0.event == "usage" }?.data.contains("\"total_tokens\":55") == true)
            #expect(!String(buffer: r.body).contains(canaryKey))
        }
        await server.shutdown()
        await provider.shutdown()
    }
}

@Suite("Server access control")
struct ServerAccessTests {
    @Test("Two keys: every route with the other tenant's knowledge base answers 404 and changes nothing")
    func tenantMatrix() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        let lib = try Library(directory: f.data)
        let factsKey = try lib.createAPIKey(name: "a", knowledgeBases: ["facts"], scope: .write).key
        let otherKey = try lib.createAPIKey(name: "b", knowledgeBases: ["other"], scope: .read).key
        let otherDoc = try #require(try lib.store.documents(kb: try lib.record("other").id).first)
        let otherChunk = try #require(try lib.store.chunkIDs(kb: try lib.record("other").id).first)
        let otherJob = try lib.createJob(kb: "other", payload: #"{"files":[]}"#, filesTotal: 0)
        let data = f.data
        let admin = "admin-key-0123456789abcdef"
        let server = try f.server(adminKey: admin)
        try await server.application().test(.router) { client in
            // No key, a malformed key, a revoked key: 401.
            #expect(try await client.execute(uri: "/api/v1/kbs", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/v1/kbs", method: .get, headers: auth("wdk_short")).status == .unauthorized)
            #expect(
                try await client.execute(uri: "/api/v1/kbs", method: .get, headers: [.authorization: "Basic abc"]).status
                    == .unauthorized)
            // The facts key sees only facts.
            let list = try await client.execute(uri: "/api/v1/kbs", method: .get, headers: auth(factsKey))
            let names = (try object(list)["knowledge_bases"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["facts"])
            let models = try await client.execute(uri: "/v1/models", method: .get, headers: auth(factsKey))
            #expect(!String(buffer: models.body).contains("other"))
            let routes: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/api/v1/kbs/other", nil),
                (.patch, "/api/v1/kbs/other", #"{"k1":2.0}"#),
                (.delete, "/api/v1/kbs/other", nil),
                (.get, "/api/v1/kbs/other/documents", nil),
                (.delete, "/api/v1/kbs/other/documents/\(otherDoc.id)", nil),
                (.delete, "/api/v1/kbs/facts/documents/\(otherDoc.id)", nil),
                (.get, "/api/v1/kbs/other/chunks/\(otherChunk)", nil),
                (.get, "/api/v1/kbs/facts/chunks/\(otherChunk)", nil),
                (.post, "/api/v1/kbs/other/search", #"{"query":"depot"}"#),
                (.post, "/api/v1/kbs/other/ask", #"{"question":"When does the depot open?"}"#),
                (.post, "/v1/chat/completions", #"{"model":"kb:other","messages":[{"role":"user","content":"depot"}]}"#),
                (.post, "/api/v1/kbs", #"{"name":"sneaky"}"#),
                (.post, "/api/v1/kbs/other/documents/\(otherDoc.id)/reingest", nil),
                (.post, "/api/v1/kbs/facts/documents/\(otherDoc.id)/reingest", nil),
                (.get, "/api/v1/kbs/other/jobs", nil),
                (.get, "/api/v1/jobs/\(otherJob.id)", nil),
                (.get, "/metrics", nil),
            ]
            for (method, uri, json) in routes {
                let r = try await client.execute(uri: uri, method: method, headers: auth(factsKey), body: json.map(body))
                #expect(r.status == .notFound, "\(method) \(uri) → \(r.status)")
                #expect(!String(buffer: r.body).contains("depot"), "\(uri) leaked content")
            }
            // An upload into another tenant's knowledge base is refused before anything is stored.
            let (upload, uploadHeaders) = multipart([("x.md", Data("# x\n\nsneaky text\n".utf8))])
            var h = uploadHeaders
            h[.authorization] = "Bearer \(factsKey)"
            let up = try await client.execute(uri: "/api/v1/kbs/other/documents", method: .post, headers: h, body: upload)
            #expect(up.status == .notFound)
            // The read-only key cannot change its own knowledge base either (404, not 403).
            let patch = try await client.execute(
                uri: "/api/v1/kbs/other", method: .patch, headers: auth(otherKey), body: body(#"{"k1":2.0}"#))
            #expect(patch.status == .notFound)
            let search = try await client.execute(
                uri: "/api/v1/kbs/other/search", method: .post, headers: auth(otherKey), body: body(#"{"query":"depot"}"#))
            #expect(search.status == .ok)
            // The admin key sees both; nothing was changed or deleted.
            let all = try await client.execute(uri: "/api/v1/kbs", method: .get, headers: auth(admin))
            let allNames = (try object(all)["knowledge_bases"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(Set(allNames ?? []) == ["facts", "other", ])
            let other = try await client.execute(uri: "/api/v1/kbs/other", method: .get, headers: auth(admin))
            #expect(try object(other)["documents"] as? Int == 1)
            #expect(try object(other)["k1"] as? Double == 1.2)
            // Revoked keys stop working.
            _ = try Library(directory: data).revokeAPIKey(String(otherKey.prefix(12)))
            let revoked = try await client.execute(uri: "/api/v1/kbs", method: .get, headers: auth(otherKey))
            #expect(revoked.status == .unauthorized)
        }
        await server.shutdown()
    }

    @Test("A non-loopback address without keys is refused at start-up")
    func refuseOpenNetwork() throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        var c = ServerConfiguration(dataDirectory: f.data)
        c.host = "0.0.0.0"
        #expect(throws: WendaoError.self) { try WendaoServer(configuration: c, logger: Logger(label: "t")) }
        c.adminKey = Secret("admin-key-0123456789abcdef")
        #expect(throws: Never.self) { try WendaoServer(configuration: c, logger: Logger(label: "t")) }
    }

    @Test("Per-key rate limit answers 429 with Retry-After (the admin is not throttled)")
    func rateLimit() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        let key = try Library(directory: f.data).createAPIKey(knowledgeBases: ["facts"]).key
        var c = ServerConfiguration(dataDirectory: f.data)
        c.requestsPerSecondPerKey = 2
        c.adminKey = Secret("admin-key-0123456789abcdef")
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        try await server.application().test(.router) { client in
            for _ in 0..<10 {
                let r = try await client.execute(uri: "/api/v1/kbs", method: .get, headers: auth("admin-key-0123456789abcdef"))
                #expect(r.status == .ok)
            }
            var statuses: [HTTPResponse.Status] = []
            var retryAfter: String?
            for _ in 0..<10 {
                let r = try await client.execute(uri: "/api/v1/kbs", method: .get, headers: auth(key))
                statuses.append(r.status)
                if r.status == .tooManyRequests { retryAfter = r.headers[.retryAfter] }
            }
            #expect(statuses.contains(.ok))
            #expect(statuses.contains(.tooManyRequests))
            #expect(retryAfter.flatMap(Int.init).map { $0 >= 1 } == true)
        }
        await server.shutdown()
    }
}

/// A multipart body with the given files.
private func multipart(_ files: [(String, Data)], boundary: String = "wendao-test-boundary") -> (ByteBuffer, HTTPFields) {
    var b = ByteBuffer()
    for (name, data) in files {
        b.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\n")
        b.writeString("Content-Type: application/octet-stream\r\n\r\n")
        b.writeBytes(data)
        b.writeString("\r\n")
    }
    b.writeString("--\(boundary)--\r\n")
    return (b, [.contentType: "multipart/form-data; boundary=\(boundary)"])
}

@Suite("Server uploads and ingest jobs")
struct ServerUploadTests {
    @Test("Multipart upload streams to disk, a background job ingests it with per-file results")
    func uploadAndJob() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.live) { client in
            let (body, headers) = multipart([
                ("cold.md", Data("# 冷藏\n\n冷藏件的温度保持在2到8摄氏度之间。\n".utf8)),
                ("empty.txt", Data()),
                ("fake.pdf", Data("<html><body>hello</body></html>".utf8)),
            ])
            let r = try await client.execute(uri: "/api/v1/kbs/facts/documents", method: .post, headers: headers, body: body)
            #expect(r.status == .accepted, "\(String(buffer: r.body))")
            let id = try #require(try object(r)["id"] as? Int)
            var job: [String: Any] = [:]
            for _ in 0..<200 {
                job = try object(try await client.execute(uri: "/api/v1/jobs/\(id)", method: .get))
                if let s = job["state"] as? String, !["queued", "running"].contains(s) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(job["state"] as? String == "partial")
            let results = try #require(job["results"] as? [[String: Any]])
            let outcomes = Dictionary(uniqueKeysWithValues: results.map { ($0["path"] as! String, $0["outcome"] as! String) })
            // The content decides the type: the ".pdf" holding HTML is read as HTML, with a warning.
            #expect(outcomes == ["cold.md": "added", "empty.txt": "failed", "fake.pdf": "added"])
            let fake = results.first { $0["path"] as? String == "fake.pdf" }
            #expect((fake?["reason"] as? String)?.contains("named .pdf but contains HTML") == true)
            #expect(results.allSatisfy { ($0["outcome"] as? String) != "failed" || !(($0["reason"] as? String) ?? "").isEmpty })
            let search = try await client.execute(
                uri: "/api/v1/kbs/facts/search", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"query":"冷藏件温度"}"#))
            #expect((try object(search)["results"] as? [[String: Any]])?.first?["document"] as? String == "cold.md")
            let jobs = try await client.execute(uri: "/api/v1/kbs/facts/jobs", method: .get)
            #expect((try object(jobs)["jobs"] as? [Any])?.count == 1)
            // Re-ingest of an uploaded document queues a job; so does one ingested from the CLI (read
            // again from its recorded source, under the same identity); a vanished source is a 409.
            let docs = try object(try await client.execute(uri: "/api/v1/kbs/facts/documents", method: .get))
            let list = try #require(docs["documents"] as? [[String: Any]])
            let cold = try #require(list.first { $0["path"] as? String == "cold.md" }?["id"] as? Int)
            let pricing = try #require(list.first { $0["path"] as? String == "facts/pricing.md" }?["id"] as? Int)
            let again = try await client.execute(uri: "/api/v1/kbs/facts/documents/\(cold)/reingest", method: .post)
            #expect(again.status == .accepted)
            let cli = try await client.execute(uri: "/api/v1/kbs/facts/documents/\(pricing)/reingest", method: .post)
            #expect(cli.status == .accepted, "\(String(buffer: cli.body))")
            let cliJob = try #require(try object(cli)["id"] as? Int)
            for _ in 0..<200 {
                job = try object(try await client.execute(uri: "/api/v1/jobs/\(cliJob)", method: .get))
                if let s = job["state"] as? String, !["queued", "running"].contains(s) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(job["state"] as? String == "succeeded", "\(job)")
            let redone = try #require((job["results"] as? [[String: Any]])?.first)
            #expect(redone["path"] as? String == "facts/pricing.md")
            // Read again from the CLI's file, same bytes: unchanged (its chunks made again).
            #expect(redone["outcome"] as? String == "unchanged")
            #expect((redone["chunks"] as? Int ?? 0) > 0)
            let after = try object(try await client.execute(uri: "/api/v1/kbs/facts/documents", method: .get))
            #expect((after["documents"] as? [Any])?.count == list.count)
            try FileManager.default.removeItem(at: f.scratch.child("src/facts/pricing.md"))
            let newID = try #require(
                (after["documents"] as? [[String: Any]])?.first { $0["path"] as? String == "facts/pricing.md" }?["id"] as? Int)
            let gone = try await client.execute(uri: "/api/v1/kbs/facts/documents/\(newID)/reingest", method: .post)
            #expect(gone.status == .conflict)
            #expect(String(buffer: gone.body).contains("no longer exists"))
        }
        await server.shutdown()
        // Nothing half-written is left: only the kept source file of the accepted upload.
        let kept = try FileManager.default.contentsOfDirectory(atPath: f.data.appendingPathComponent("uploads/kb-1").path)
        #expect(kept.sorted() == ["cold.md", "fake.pdf"])
    }

    @Test("Bad uploads: no file, path or NUL in the name, not multipart, too large, truncated — nothing left behind")
    func badUploads() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        var c = ServerConfiguration(dataDirectory: f.data)
        c.maxUploadBytes = 1000
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        try await server.application().test(.router) { client in
            let cases: [(ByteBuffer, HTTPFields, HTTPResponse.Status)] = [
                (multipart([]).0, multipart([]).1, .badRequest),
                (multipart([("../../etc/passwd", Data("x".utf8))]).0, multipart([]).1, .badRequest),
                (multipart([("a\u{0}b.txt", Data("x".utf8))]).0, multipart([]).1, .badRequest),
                (ByteBuffer(string: "{}"), [.contentType: "application/json"], .unsupportedMediaType),
                (multipart([("big.txt", Data(repeating: 0x41, count: 5000))]).0, multipart([]).1, .contentTooLarge),
                (ByteBuffer(string: "--wendao-test-boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc"),
                 multipart([]).1, .badRequest),
            ]
            for (body, headers, status) in cases {
                let r = try await client.execute(uri: "/api/v1/kbs/facts/documents", method: .post, headers: headers, body: body)
                #expect(r.status == status, "\(String(buffer: body).prefix(80)) → \(r.status) \(String(buffer: r.body))")
            }
        }
        await server.shutdown()
        let folder = f.data.appendingPathComponent("uploads/kb-1").path
        let left = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        #expect(left.isEmpty, "left behind: \(left)")
        #expect(try Library(directory: f.data).jobs(kb: "facts").isEmpty)
    }

    @Test("A job left running by a killed server is resumed at start-up")
    func resumeInterruptedJob() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        let lib = try Library(directory: f.data)
        let folder = f.data.appendingPathComponent("uploads/kb-1")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("late.md")
        try Data("# 夜间\n\n夜间派送服务在晚上十点结束。\n".utf8).write(to: file)
        var job = try lib.createJob(
            kb: "facts", payload: #"{"files":["\#(file.path)"],"force":false}"#, filesTotal: 1)
        job.state = .running
        try lib.updateJob(job)
        let id = job.id
        let data = f.data
        let server = try f.server()
        try await server.application().test(.live) { client in
            var state = "running"
            for _ in 0..<200 {
                state = try object(try await client.execute(uri: "/api/v1/jobs/\(id)", method: .get))["state"] as? String ?? ""
                if state == "succeeded" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(state == "succeeded")
        }
        await server.shutdown()
        #expect(try Library(directory: data).open("facts").documents().contains { $0.path == "late.md" })
    }
}

@Suite("Server overload")
struct ServerOverloadTests {
    @Test(
        "Answers beyond the concurrency cap get 503 with Retry-After while the first one streams",
        .tags(.slow), .timeLimit(.minutes(3)))
    func concurrencyCap() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        var slow = FakeResponse.sse([Shapes.chunk("首重收费12元[1]", finish: "stop")])
        slow.delayBeforeHead = .seconds(2)
        let provider = try await FakeProviderServer.start(script: [slow])
        var c = ServerConfiguration(dataDirectory: f.data)
        c.maxConcurrentAnswers = 1
        c.environment = ["OPENAI_BASE_URL": provider.baseURL, "OPENAI_API_KEY": canaryKey]
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        try await server.application().test(.live) { client in
            let ask = ByteBuffer(string: #"{"question":"首重收费多少钱？","model":"openai:m"}"#)
            let first = Task { try await client.execute(uri: "/api/v1/kbs/facts/ask", method: .post, headers: [.contentType: "application/json"], body: ask) }
            // Wait until the first answer reached the provider, then ask again.
            for _ in 0..<200 where provider.requests.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            // A second connection (the test client keeps one connection, which would queue the request).
            let port = try #require(client.port)
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/kbs/facts/ask")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(#"{"question":"首重收费多少钱？","model":"openai:m"}"#.utf8)
            let (_, secondResponse) = try await URLSession.shared.data(for: request)
            let second = try #require(secondResponse as? HTTPURLResponse)
            #expect(second.statusCode == 503)
            #expect(second.value(forHTTPHeaderField: "Retry-After") == "1")
            let done = try await first.value
            #expect(done.status == .ok)
            #expect(try object(done)["answer"] as? String == "首重收费12元[1]")
            // The slot is free again.
            let third = try await client.execute(uri: "/api/v1/kbs/facts/ask", method: .post, headers: [.contentType: "application/json"], body: ask)
            #expect(third.status == .ok)
        }
        await server.shutdown()
        await provider.shutdown()
    }
}

/// A raw HTTP/1.1 client on a POSIX socket, so that a test can hang up mid-response.
private final class RawClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw WendaoError(.internal, "connect failed") }
        var tv = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Reads until `needle` has arrived (or the peer closes / 20 s pass).
    func read(until needle: String) -> String {
        var got = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: got, as: UTF8.self).contains(needle) {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            got += buf[0..<n]
        }
        return String(decoding: got, as: UTF8.self)
    }

    func close() { _ = Glibc.close(fd) }
}

@Suite("Server streaming clients")
struct ServerDisconnectTests {
    @Test(
        "A client that hangs up mid-stream cancels the model call (its answer slot is freed) and keeps no turn",
        .tags(.slow), .timeLimit(.minutes(3)))
    func disconnectCancels() async throws {
        let f = try ServerFixture()
        defer { f.scratch.remove() }
        var hanging = FakeResponse.sse([Shapes.chunk("首重")], done: false)
        hanging.parts.append(.hang)
        let provider = try await FakeProviderServer.start(script: [
            hanging, .sse([Shapes.chunk("首重收费12元[1]", finish: "stop")]),
        ])
        var c = ServerConfiguration(dataDirectory: f.data)
        c.maxConcurrentAnswers = 1
        c.environment = ["OPENAI_BASE_URL": provider.baseURL, "OPENAI_API_KEY": canaryKey]
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        try await server.application().test(.live) { client in
            let port = try #require(client.port)
            let body = #"{"question":"首重收费多少钱？","model":"openai:m","stream":true}"#
            let raw = try RawClient(port: port)
            raw.send(
                "POST /api/v1/kbs/facts/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n" + body)
            let head = raw.read(until: "event: token")
            #expect(head.contains("event: token"), "\(head.prefix(300))")
            raw.close()
            // Once the hang-up is noticed, the model call ends and the single answer slot is free.
            var status = 0
            for _ in 0..<100 {
                let r = try await client.execute(
                    uri: "/api/v1/kbs/facts/ask", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"question":"首重收费多少钱？","model":"openai:m"}"#))
                status = Int(r.status.code)
                if status == 200 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == 200)
            // The stream left mid-answer stored nothing: the only conversation kept is the answer
            // that completed.
            let list = try await client.execute(uri: "/api/v1/conversations", method: .get)
            let rows = (try object(list)["conversations"] as? [[String: Any]]) ?? []
            #expect(rows.count == 1 && rows.first?["turns"] as? Int == 1, "\(rows)")
        }
        await server.shutdown()
        await provider.shutdown()
    }
}

@Suite("Fast JSON writer")
struct FastJSONTests {
    @Test("Search responses written by hand parse to the same JSON as JSONEncoder's")
    func sameAsJSONEncoder() throws {
        let texts = [
            "普通文本", "quote \" backslash \\ slash / tab \t newline \n cr \r", "\u{0}\u{1}\u{1F}\u{7F} bell \u{7}",
            "emoji 🚚📦 and 𠀀", "", "</script><img src=x onerror=alert(1)>",
        ]
        let hits = texts.enumerated().map { i, t in
            SearchHit(
                rank: i + 1, score: [56.469173431396484, 3.0, 1e-7, 0.1 + 0.2, 12345.678, 0][i],
                chunk: ChunkRecord(
                    id: Int64(i * 1000), documentID: 7, documentPath: "kb/文档 \(i).md", documentTitle: "t",
                    ordinal: i, section: "章节 › \(t)", page: i % 2 == 0 ? nil : i, text: t, start: i, end: i + t.count))
        }
        struct Out: Encodable {
            var query: String
            var results: [SearchHit]
        }
        let query = "寄\"快递\"\n多少钱\\?"
        let expected = try JSONSerialization.jsonObject(with: JSON.encoder.encode(Out(query: query, results: hits)))
        let fast = FastJSON.searchResponse(query: query, hits: hits)
        let actual = try JSONSerialization.jsonObject(with: Data(fast.readableBytesView))
        #expect((expected as? NSDictionary) == (actual as? NSDictionary))
        #expect(String(buffer: fast).hasPrefix("{\"query\":"))
    }
}
