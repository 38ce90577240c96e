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

/// A data directory with the Chinese "facts" knowledge base and a suite in `eval/suites`.
private struct EvalFixture {
    let scratch: ScratchDirectory
    let data: URL

    init() throws {
        scratch = try ScratchDirectory("eval-routes")
        data = scratch.child("data")
        let lib = try Library(directory: data)
        _ = try scratch.write(
            "src/facts/pricing.md", "# 价格说明\n\n## 首重与续重\n\n标准快递首重收费12元，续重每公斤收费3元。\n\n## 保价\n\n保价费按声明价值的1%收取。\n")
        _ = try lib.create("facts")
        _ = try lib.open("facts").ingest([scratch.child("src/facts").path])
        _ = try scratch.write(
            "data/eval/suites/s.yaml",
            """
            name: facts-suite
            kb: facts
            tests: set.jsonl
            variants:
              - { name: extractive, model: extractive }
              - { name: strict, model: "openai:m", prompt: p.txt }
            """)
        _ = try scratch.write(
            "data/eval/suites/set.jsonl",
            #"""
            {"id": "a", "question": "首重收费多少钱？", "answers": ["12元"]}
            {"id": "b", "question": "保价费怎么收？", "answers": ["1%"]}
            """#)
        _ = try scratch.write("data/eval/suites/p.txt", "只根据来源回答并标注 [n]。没有答案时回答：{{not_found}}")
    }

    func server(adminKey: String? = nil, provider: FakeProviderServer) throws -> WendaoServer {
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = adminKey.map(Secret.init)
        c.environment = ["OPENAI_BASE_URL": provider.baseURL, "OPENAI_API_KEY": "sk-eval-route-test-canary"]
        return try WendaoServer(configuration: c, logger: Logger(label: "test.eval"))
    }

    /// Run directories on disk.
    var runDirectories: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent("eval/runs").path)) ?? [])
            .sorted()
    }
}

/// A provider answering every chat call with a cited sentence, streamed.
private func citingProvider() async throws -> FakeProviderServer {
    try await FakeProviderServer.start { _, _ in
        .sse([
            Shapes.chunk("首重收费12元[1]", finish: "stop"),
            #"{"choices":[],"usage":{"prompt_tokens":50,"completion_tokens":5,"total_tokens":55}}"#,
        ])
    }
}

private func json(_ r: TestResponse) throws -> [String: Any] {
    try #require(
        try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any],
        "not a JSON object: \(String(buffer: r.body))")
}

/// Run ids collected inside a test client's closure.
private final class IDs: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ id: String) { lock.withLock { list.append(id) } }
    var all: [String] { lock.withLock { list } }
}

private let jsonHeaders: HTTPFields = [.contentType: "application/json"]

private func headers(_ key: String?) -> HTTPFields {
    var h = jsonHeaders
    if let key { h[.authorization] = "Bearer \(key)" }
    return h
}

/// Starts a run and waits until it is no longer running (at most a minute); returns its record.
private func runToEnd(
    _ client: some TestClientProtocol, _ body: String, key: String? = nil
) async throws -> [String: Any] {
    let started = try await client.execute(
        uri: "/api/v1/eval/runs", method: .post, headers: headers(key), body: ByteBuffer(string: body))
    #expect(started.status == .accepted, "\(String(buffer: started.body))")
    let id = try #require(try json(started)["id"] as? String)
    for _ in 0..<1200 {
        let r = try await client.execute(uri: "/api/v1/eval/runs/\(id)", method: .get, headers: headers(key))
        let record = try json(r)
        if record["state"] as? String != "running" { return record }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("run \(id) did not finish")
    return [:]
}

@Suite("Evaluation workbench over REST")
struct EvalRouteTests {
    @Test("A suite of the data directory runs in the background; report, HTML, comparison; runs outlive the server")
    func runs() async throws {
        let f = try EvalFixture()
        defer { f.scratch.remove() }
        let provider = try await citingProvider()
        let server = try f.server(provider: provider)
        let ids = IDs()
        try await server.application().test(.router) { client in
            let suites = try json(try await client.execute(uri: "/api/v1/eval/suites", method: .get))
            let list = try #require(suites["suites"] as? [[String: Any]])
            #expect(list.count == 1)
            #expect(list.first?["file"] as? String == "s.yaml")
            #expect(list.first?["variants"] as? [String] == ["extractive", "strict"])

            let first = try await runToEnd(client, #"{"suite": "s.yaml"}"#)
            #expect(first["state"] as? String == "done", "\(first)")
            #expect(first["done"] as? Int == 4)
            #expect(first["total"] as? Int == 4)
            #expect(first["failed"] as? Int == 0)
            let summary = try #require(first["summary"] as? [[String: Any]])
            #expect(summary.compactMap { $0["name"] as? String } == ["extractive", "strict"])
            let id = try #require(first["id"] as? String)
            ids.append(id)

            let report = try await client.execute(uri: "/api/v1/eval/runs/\(id)/report", method: .get)
            #expect(report.status == .ok)
            let r = try json(report)
            #expect((r["variants"] as? [[String: Any]])?.count == 2)
            #expect(r["results_file"] as? String == "results.jsonl", "no server path in the report")
            let strict =
                try #require(
                    (r["questions"] as? [[String: Any]])?.first?["results"] as? [String: Any])["strict"]
                as? [String: Any]
            #expect((strict?["answer"] as? String)?.contains("12元") == true)

            let html = try await client.execute(uri: "/api/v1/eval/runs/\(id)/report.html", method: .get)
            #expect(html.status == .ok)
            #expect(html.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(html.headers[.contentSecurityPolicy]?.contains("sandbox") == true)
            #expect(String(buffer: html.body).contains("<details"))

            // A second run (the model's answers from the cache) compared with the first.
            let second = try await runToEnd(client, #"{"suite": "s.yaml", "baseline_run": "\#(id)"}"#)
            #expect(second["state"] as? String == "done")
            #expect((second["regressions"] as? [Any])?.isEmpty == true)
            let id2 = try #require(second["id"] as? String)
            ids.append(id2)
            let compared = try json(
                try await client.execute(uri: "/api/v1/eval/compare?a=\(id)&b=\(id2)", method: .get))
            let rows = try #require(compared["rows"] as? [[String: Any]])
            #expect(rows.contains { $0["variant"] as? String == "strict" && $0["metric"] as? String == "accuracy" })
            #expect(
                rows.allSatisfy {
                    $0["verdict"] as? String == "no_clear_difference" && $0["difference"] as? Double == 0
                })

            let listed = try json(try await client.execute(uri: "/api/v1/eval/runs", method: .get))
            #expect((listed["runs"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id2, id])
        }
        await server.shutdown()
        // A new server over the same data directory lists the runs and serves their reports.
        let again = try f.server(provider: provider)
        try await again.application().test(.router) { client in
            let listed = try json(try await client.execute(uri: "/api/v1/eval/runs", method: .get))
            #expect(Set((listed["runs"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []) == Set(ids.all))
            let report = try await client.execute(uri: "/api/v1/eval/runs/\(ids.all[0])/report", method: .get)
            #expect(report.status == .ok)
        }
        await again.shutdown()
        await provider.shutdown()
    }

    @Test("Bad suites are refused before anything runs, naming the problem; an uploaded suite reads only its own files")
    func badInput() async throws {
        let f = try EvalFixture()
        defer { f.scratch.remove() }
        let provider = try await citingProvider()
        let server = try f.server(provider: provider)
        try await server.application().test(.router) { client in
            func post(_ body: String) async throws -> (HTTPResponse.Status, String) {
                let r = try await client.execute(
                    uri: "/api/v1/eval/runs", method: .post, headers: jsonHeaders, body: ByteBuffer(string: body))
                return (r.status, String(buffer: r.body))
            }
            var (status, text) = try await post(#"{"suite": "../s.yaml"}"#)
            #expect(status == .badRequest)
            (status, text) = try await post(#"{"suite": "missing.yaml"}"#)
            #expect(status == .notFound)
            (status, text) = try await post(#"{"suite_yaml": "kb: facts\ntests: [unclosed\n"}"#)
            #expect(status == .badRequest)
            #expect(text.contains("line"), "\(text)")
            (status, text) = try await post(
                #"{"suite_yaml": "kb: facts\ntests: /etc/hostname\nvariants: [{name: x, model: extractive}]\n"}"#)
            #expect(status == .badRequest)
            #expect(text.contains("only the files uploaded"), "\(text)")
            (status, text) = try await post(
                #"{"suite_yaml": "kb: facts\ntests: t.jsonl\nvariants: [{name: v, model: extractive}]\n", "files": {"../t.jsonl": "{}"}}"#
            )
            #expect(status == .badRequest)
            (status, text) = try await post(
                #"{"suite_yaml": "kb: facts\ntests: t.jsonl\nvariants: [{name: far, model: 'nosuch:m'}]\n", "files": {"t.jsonl": "{\"question\": \"q\"}\n"}}"#
            )
            #expect(status == .badRequest)
            #expect(text.contains("far"), "the variant is named: \(text)")
            (status, text) = try await post(
                #"{"suite_yaml": "kb: nosuchkb\ntests: t.jsonl\nvariants: [{name: v, model: extractive}]\n", "files": {"t.jsonl": "{\"question\": \"q\"}\n"}}"#
            )
            #expect(status == .notFound)
            (status, text) = try await post(#"{"suite": "s.yaml", "concurrency": 0}"#)
            #expect(status == .badRequest)
            #expect(f.runDirectories.isEmpty, "refused runs leave nothing behind: \(f.runDirectories)")

            // An uploaded suite with its test set runs.
            let uploaded = try await runToEnd(
                client,
                #"{"suite_yaml": "name: up\nkb: facts\ntests: mine/t.jsonl\nvariants: [{name: v, model: extractive}]\n", "files": {"mine/t.jsonl": "{\"question\": \"首重收费多少钱？\", \"answers\": [\"12元\"]}\n"}}"#
            )
            #expect(uploaded["state"] as? String == "done", "\(uploaded)")
            #expect(uploaded["source"] as? String == "upload")
            #expect(uploaded["total"] as? Int == 1)
            let missing = try await client.execute(uri: "/api/v1/eval/runs/0123456789ab", method: .get)
            #expect(missing.status == .notFound)
            let bad = try await client.execute(uri: "/api/v1/eval/runs/..%2Fx/report", method: .get)
            #expect(bad.status == .notFound)
        }
        await server.shutdown()
        await provider.shutdown()
    }

    @Test("Only callers who may change the knowledge base see and start its runs")
    func access() async throws {
        let f = try EvalFixture()
        defer { f.scratch.remove() }
        let lib = try Library(directory: f.data)
        let reader = try lib.createAPIKey(name: "r", knowledgeBases: ["facts"], scope: .read).key
        let writer = try lib.createAPIKey(name: "w", knowledgeBases: ["facts"], scope: .write).key
        let provider = try await citingProvider()
        let admin = "admin-key-0123456789abcdef"
        let server = try f.server(adminKey: admin, provider: provider)
        try await server.application().test(.router) { client in
            let refused = try await client.execute(
                uri: "/api/v1/eval/runs", method: .post, headers: headers(reader),
                body: ByteBuffer(string: #"{"suite": "s.yaml"}"#))
            #expect(refused.status == .notFound)
            let suites = try json(
                try await client.execute(uri: "/api/v1/eval/suites", method: .get, headers: headers(reader)))
            #expect((suites["suites"] as? [Any])?.isEmpty == true)
            let run = try await runToEnd(client, #"{"suite": "s.yaml"}"#, key: writer)
            let id = try #require(run["id"] as? String)
            #expect(run["created_by"] as? String != nil)
            #expect(!"\(run)".contains(writer))
            let hidden = try await client.execute(
                uri: "/api/v1/eval/runs/\(id)", method: .get, headers: headers(reader))
            #expect(hidden.status == .notFound)
            let listed = try json(
                try await client.execute(uri: "/api/v1/eval/runs", method: .get, headers: headers(reader)))
            #expect((listed["runs"] as? [Any])?.isEmpty == true)
            let play = try await client.execute(
                uri: "/api/v1/kbs/facts/playground", method: .post, headers: headers(reader),
                body: ByteBuffer(string: #"{"question": "首重收费多少钱？", "variants": [{"model": "extractive"}]}"#))
            #expect(play.status == .notFound)
        }
        await server.shutdown()
        await provider.shutdown()
    }

    @Test("Rated answers download as a test set for those who may change the knowledge base")
    func ratings() async throws {
        let f = try EvalFixture()
        defer { f.scratch.remove() }
        let lib = try Library(directory: f.data)
        let kb = try lib.record("facts")
        let c = try lib.store.createConversation(kb: kb.id, title: "t", caller: .admin, at: 100)
        let t = try lib.store.appendTurn(
            NewTurn(
                conversationID: c.id, question: "首重收费多少钱？", answer: "首重收费12元[1]。", found: true, mode: "grounded",
                citationsJSON: #"[{"n":1,"document":"pricing.md","section":"s","page":null,"chunk_id":1,"text":"x"}]"#,
                createdAt: 101))
        _ = try lib.store.setFeedback(turn: t.id, rating: 1, note: nil, at: 102)
        let reader = try lib.createAPIKey(name: "r", knowledgeBases: ["facts"], scope: .read).key
        let provider = try await citingProvider()
        let server = try f.server(adminKey: "admin-key-0123456789abcdef", provider: provider)
        try await server.application().test(.router) { client in
            let admin = headers("admin-key-0123456789abcdef")
            let r = try await client.execute(uri: "/api/v1/eval/ratings?kb=facts", method: .get, headers: admin)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("application/x-ndjson") == true)
            let lines = String(buffer: r.body).split(separator: "\n")
            #expect(lines.count == 1)
            let row = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(row["reference"] as? String == "首重收费12元。" && row["documents"] as? [String] == ["pricing.md"])
            let later = try await client.execute(
                uri: "/api/v1/eval/ratings?kb=facts&since=2099-01-01", method: .get, headers: admin)
            #expect(String(buffer: later.body).isEmpty)
            let bad = try await client.execute(
                uri: "/api/v1/eval/ratings?kb=facts&since=yesterday", method: .get, headers: admin)
            #expect(bad.status == .badRequest)
            let hidden = try await client.execute(
                uri: "/api/v1/eval/ratings?kb=facts", method: .get, headers: headers(reader))
            #expect(hidden.status == .notFound)
        }
        await server.shutdown()
        await provider.shutdown()
    }

    @Test("The playground streams each variant's sources and answer, named by index; bad prompts are refused first")
    func playground() async throws {
        let f = try EvalFixture()
        defer { f.scratch.remove() }
        let provider = try await citingProvider()
        let server = try f.server(provider: provider)
        try await server.application().test(.router) { client in
            let r = try await client.execute(
                uri: "/api/v1/kbs/facts/playground", method: .post, headers: jsonHeaders,
                body: ByteBuffer(
                    string: #"""
                        {"question": "首重收费多少钱？", "variants": [
                          {"name": "ex", "model": "extractive"},
                          {"name": "m", "model": "openai:m", "prompt": "Cite [n]. Otherwise: {{not_found}}", "top_k": 3}]}
                        """#))
            #expect(r.status == .ok)
            var parser = SSEParser()
            let events = try parser.feed(r.body.readableBytesView) + parser.finish()
            #expect(events.last?.event == "end")
            func of(_ kind: String, _ variant: Int) -> [[String: Any]] {
                events.filter { $0.event == kind }.compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any]
                }.filter { $0["variant"] as? Int == variant }
            }
            for v in 0..<2 {
                #expect(of("sources", v).count == 1, "variant \(v) got its sources")
                let sources = of("sources", v).first?["sources"] as? [Any] ?? []
                #expect(!sources.isEmpty)
                let done = try #require(of("done", v).first)
                #expect((done["answer"] as? String)?.contains("12元") == true, "\(done)")
            }
            #expect(of("done", 1).first?["model"] as? String == "openai:m")
            // The custom prompt reached the model.
            #expect(
                provider.requests.contains { String(decoding: $0.body, as: UTF8.self).contains("Cite [n]. Otherwise:") }
            )

            let bad = try await client.execute(
                uri: "/api/v1/kbs/facts/playground", method: .post, headers: jsonHeaders,
                body: ByteBuffer(
                    string: #"{"question": "q", "variants": [{"model": "openai:m", "prompt": "no placeholder"}]}"#))
            #expect(bad.status == .badRequest)
            let none = try await client.execute(
                uri: "/api/v1/kbs/facts/playground", method: .post, headers: jsonHeaders,
                body: ByteBuffer(string: #"{"question": "q", "variants": []}"#))
            #expect(none.status == .badRequest)
        }
        await server.shutdown()
        await provider.shutdown()
    }
}
