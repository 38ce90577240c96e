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
import WendaoTune

/// A data directory with knowledge base "facts" and dataset "facts-v1" made from it (three examples over
/// two chunks, as `tune dataset create` leaves them after cleaning).
private struct TuneFixture {
    let scratch: ScratchDirectory
    let data: URL
    let store: DatasetStore

    init() throws {
        scratch = try ScratchDirectory("tune-routes")
        data = scratch.child("data")
        let lib = try Library(directory: data)
        _ = try lib.create("facts")
        _ = try lib.create("other")
        store = DatasetStore(dataDirectory: data)
        let chunks = [
            SourceChunk(id: 1, document: "pricing.md", section: "价格 › 首重", ordinal: 0, text: "标准快递首重收费12元，续重每公斤收费3元。"),
            SourceChunk(id: 2, document: "insurance.md", section: "保价", ordinal: 0, text: "保价费按声明价值的1%收取。"),
        ]
        func example(_ chunk: SourceChunk, _ style: QuestionStyle, _ q: String, _ a: String, split: String?)
            -> TuneExample
        {
            var e = TuneExample(
                id: "c\(chunk.id)-\(style.rawValue)", question: q, answer: a, reasoning: nil, style: style,
                language: "zh", chunks: [chunk.id], chunkHashes: [chunk.hash], documents: [chunk.document],
                section: chunk.section, teacher: "openai:gpt-4o-mini", promptVersion: "wendao-tune-v1+test",
                createdAt: "2026-12-07T00:00:00Z")
            e.status = split == nil ? "dropped" : "kept"
            e.dropReason = split == nil ? "duplicate" : nil
            e.split = split
            return e
        }
        try store.write(
            DatasetManifest(
                name: "facts-v1", kb: "facts", teacher: "openai:gpt-4o-mini", promptVersion: "wendao-tune-v1+test",
                styles: [.factual, .colloquial], perDocument: 8, limit: nil, seed: 17, selectedChunks: [1, 2],
                documentCount: 2, createdAt: "2026-12-07T00:00:00Z"))
        try store.writeChunks("facts-v1", chunks)
        try store.writeExamples(
            "facts-v1",
            [
                example(chunks[0], .factual, "首重收费多少钱？", "首重收费12元 [1]", split: "train"),
                example(chunks[0], .colloquial, "问下哈，首重咋收费？", "首重12元 [1]", split: nil),
                example(chunks[1], .factual, "保价费怎么收？", "按声明价值的1%收取 [1]", split: "test"),
            ])
        // A dataset of another knowledge base, for the access checks.
        try store.write(
            DatasetManifest(
                name: "other-v1", kb: "other", teacher: "openai:gpt-4o-mini", promptVersion: "v", styles: [.factual],
                perDocument: 8, limit: nil, seed: 17, selectedChunks: [], documentCount: 0, createdAt: "2026-12-07"))
        try store.writeExamples("other-v1", [])
    }

    func server(adminKey: String? = nil) throws -> WendaoServer {
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = adminKey.map(Secret.init)
        return try WendaoServer(configuration: c, logger: Logger(label: "test.tune"))
    }
}

private func json(_ r: TestResponse) throws -> [String: Any] {
    try #require(
        try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any],
        "not a JSON object: \(String(buffer: r.body))")
}

private func headers(_ key: String? = nil) -> HTTPFields {
    var h: HTTPFields = [.contentType: "application/json"]
    if let key { h[.authorization] = "Bearer \(key)" }
    return h
}

@Suite("Fine-tuning dataset review over REST")
struct TuneRouteTests {
    @Test("Datasets are listed with their counts; examples filter by split, style, status and review, paged")
    func browse() async throws {
        let f = try TuneFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.router) { client in
            let listed = try json(try await client.execute(uri: "/api/v1/tune/datasets", method: .get))
            let datasets = try #require(listed["datasets"] as? [[String: Any]])
            #expect(datasets.compactMap { $0["name"] as? String } == ["facts-v1", "other-v1"])
            let facts = try #require(datasets.first)
            #expect(facts["kb"] as? String == "facts")
            #expect(facts["examples"] as? Int == 3)
            #expect(facts["kept"] as? Int == 2)
            #expect(facts["dropped"] as? Int == 1)
            #expect(facts["splits"] as? [String: Int] == ["train": 1, "test": 1])

            func ids(_ query: String) async throws -> (total: Int, ids: [String]) {
                let r = try await client.execute(uri: "/api/v1/tune/datasets/facts-v1/examples\(query)", method: .get)
                #expect(r.status == .ok, "\(query): \(String(buffer: r.body))")
                let page = try json(r)
                let list = (page["examples"] as? [[String: Any]]) ?? []
                return ((page["total"] as? Int) ?? -1, list.compactMap { $0["id"] as? String })
            }
            #expect(try await ids("").ids == ["c1-factual", "c1-colloquial", "c2-factual"])
            #expect(try await ids("?split=test").ids == ["c2-factual"])
            #expect(try await ids("?split=none").ids == ["c1-colloquial"])
            #expect(try await ids("?style=colloquial").ids == ["c1-colloquial"])
            #expect(try await ids("?status=kept&style=factual").ids == ["c1-factual", "c2-factual"])
            #expect(try await ids("?q=%E4%BF%9D%E4%BB%B7").ids == ["c2-factual"])  // 保价
            let page2 = try await ids("?limit=2&offset=2")
            #expect(page2.total == 3)
            #expect(page2.ids == ["c2-factual"])
            #expect(try await ids("?review=none").ids.count == 3)

            let detail = try json(
                try await client.execute(uri: "/api/v1/tune/datasets/facts-v1/examples/c2-factual", method: .get))
            let chunks = try #require(detail["chunks"] as? [[String: Any]])
            #expect(chunks.first?["text"] as? String == "保价费按声明价值的1%收取。")
            #expect((detail["reviews"] as? [Any])?.isEmpty == true)

            for bad in [
                "?split=dev", "?style=poem", "?status=maybe", "?limit=0", "?offset=-1", "?review=x", "?status=",
                "?limit=",
            ] {
                let r = try await client.execute(uri: "/api/v1/tune/datasets/facts-v1/examples\(bad)", method: .get)
                #expect(r.status == .badRequest, "\(bad)")
            }
        }
        await server.shutdown()
    }

    @Test("Approve, reject and edit are versions in reviews.jsonl, the CLI's; edits lose control characters")
    func review() async throws {
        let f = try TuneFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.router) { client in
            func review(_ id: String, _ body: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/api/v1/tune/datasets/facts-v1/examples/\(id)/review", method: .post, headers: headers(),
                    body: ByteBuffer(string: body))
            }
            var r = try await review("c1-factual", #"{"decision": "approve"}"#)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            var reply = try json(r)
            #expect((reply["example"] as? [String: Any])?["review"] as? String == "approved")
            #expect((reply["review"] as? [String: Any])?["version"] as? Int == 1)

            // An edit with control characters (escaped and raw), a zero-width format character and CR LF.
            r = try await review(
                "c1-factual",
                #"{"decision": "edit", "question": "首重\u0007收费\u200B多少钱？\r\n", "answer": "首重12元\u001B[31m。", "note": "tidy"}"#
            )
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            reply = try json(r)
            let edited = try #require(reply["example"] as? [String: Any])
            #expect(edited["question"] as? String == "首重收费多少钱？")
            #expect(edited["answer"] as? String == "首重12元[31m。")
            #expect(edited["review"] as? String == "edited")
            #expect(edited["version"] as? Int == 2)

            // Bytes that are not UTF-8 inside a string are dropped, not the edit.
            var bytes = ByteBuffer(string: #"{"decision": "edit", "answer": "保价费1%"#)
            bytes.writeBytes([0xFF, 0xFE, 0xC3])
            bytes.writeString(#"按声明价值收取。"}"#)
            r = try await client.execute(
                uri: "/api/v1/tune/datasets/facts-v1/examples/c2-factual/review", method: .post, headers: headers(),
                body: bytes)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            #expect((try json(r)["example"] as? [String: Any])?["answer"] as? String == "保价费1%按声明价值收取。")

            r = try await review("c2-factual", #"{"decision": "reject", "note": "too vague"}"#)
            reply = try json(r)
            let rejected = try #require(reply["example"] as? [String: Any])
            #expect(rejected["status"] as? String == "dropped")
            #expect(rejected["drop_reason"] as? String == "rejected by review")
            #expect(rejected["version"] as? Int == 2)

            // A dropped example approved by a person comes back, in its document's split.
            r = try await review("c1-colloquial", #"{"decision": "approve"}"#)
            let restored = try #require(try json(r)["example"] as? [String: Any])
            #expect(restored["status"] as? String == "kept")
            #expect(restored["split"] as? String == "train")
            // Explicit nulls mean "not given"; an approval ignores edit fields.
            r = try await review(
                "c1-colloquial", #"{"decision": "approve", "note": null, "question": null, "answer": ""}"#)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            #expect((try json(r)["example"] as? [String: Any])?["question"] as? String == "问下哈，首重咋收费？")

            let detail = try json(
                try await client.execute(uri: "/api/v1/tune/datasets/facts-v1/examples/c1-factual", method: .get))
            let history = try #require(detail["reviews"] as? [[String: Any]])
            #expect(history.compactMap { $0["decision"] as? String } == ["approved", "edited"])
            #expect(history.compactMap { $0["version"] as? Int } == [1, 2])
            let filtered = try json(
                try await client.execute(uri: "/api/v1/tune/datasets/facts-v1/examples?review=rejected", method: .get))
            #expect((filtered["examples"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["c2-factual"])

            // Bad reviews: nothing is written.
            for (body, status) in [
                (#"{"decision": "maybe"}"#, HTTPResponse.Status.badRequest),
                (#"{"decision": "edit"}"#, .badRequest),
                (#"{"decision": "edit", "question": "\u0000\u0007 "}"#, .badRequest),
                (#"{"decision": "edit", "answer": "\#(String(repeating: "长", count: 20_001))"}"#, .contentTooLarge),
                (#"{"question": "x"}"#, .badRequest),
                ("not json", .badRequest),
            ] {
                r = try await review("c1-factual", body)
                #expect(r.status == status, "\(body.prefix(40)): \(String(buffer: r.body).prefix(200))")
            }
        }
        await server.shutdown()
        // The CLI's code path reads what the page wrote.
        let reviews = try DatasetReview.reviews(f.store, "facts-v1")
        #expect(reviews.count == 6)
        #expect(reviews.filter { $0.example == "c1-factual" }.map(\.version) == [1, 2])
        let examples = try f.store.examples("facts-v1")
        #expect(examples.first { $0.id == "c1-factual" }?.question == "首重收费多少钱？")
    }

    @Test("Unknown datasets and examples are 404 with a message; names with path characters are refused")
    func badNames() async throws {
        let f = try TuneFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.router) { client in
            var r = try await client.execute(uri: "/api/v1/tune/datasets/nope/examples", method: .get)
            #expect(r.status == .notFound)
            #expect(String(buffer: r.body).contains("dataset 'nope' does not exist"))
            r = try await client.execute(uri: "/api/v1/tune/datasets/facts-v1/examples/c9-factual", method: .get)
            #expect(r.status == .notFound)
            #expect(String(buffer: r.body).contains("no example 'c9-factual' in dataset 'facts-v1'"))
            r = try await client.execute(
                uri: "/api/v1/tune/datasets/facts-v1/examples/c9-factual/review", method: .post, headers: headers(),
                body: ByteBuffer(string: #"{"decision": "approve"}"#))
            #expect(r.status == .notFound)
            for name in ["..%2F..%2Fetc", "a%2Fb", ".hidden", "a%00b", "%FF"] {
                r = try await client.execute(uri: "/api/v1/tune/datasets/\(name)/examples", method: .get)
                #expect(r.status == .badRequest, "\(name): \(String(buffer: r.body))")
            }
            r = try await client.execute(uri: "/api/v1/tune/datasets/a%2Fb/examples", method: .get)
            #expect(String(buffer: r.body).contains("invalid dataset name"))
            // A damaged examples file: an error naming the file and line, not the server's paths.
            let damaged = try f.store.folder("other-v1").appendingPathComponent("examples.jsonl")
            try Data("not an example\n".utf8).write(to: damaged)
            r = try await client.execute(uri: "/api/v1/tune/datasets/other-v1/examples", method: .get)
            #expect(r.status == .internalServerError)
            #expect(String(buffer: r.body).contains("examples.jsonl line 1"), "\(String(buffer: r.body))")
            #expect(!String(buffer: r.body).contains(f.data.path), "\(String(buffer: r.body))")
        }
        await server.shutdown()
        #expect(try DatasetReview.reviews(f.store, "facts-v1").isEmpty)
    }

    @Test("Only those who may change a dataset's knowledge base see or review it")
    func access() async throws {
        let f = try TuneFixture()
        defer { f.scratch.remove() }
        let lib = try Library(directory: f.data)
        let reader = try lib.createAPIKey(name: "r", knowledgeBases: ["facts"], scope: .read).key
        let writer = try lib.createAPIKey(name: "w", knowledgeBases: ["facts"], scope: .write).key
        let server = try f.server(adminKey: "admin-key-0123456789abcdef")
        try await server.application().test(.router) { client in
            let none = try json(
                try await client.execute(uri: "/api/v1/tune/datasets", method: .get, headers: headers(reader)))
            #expect((none["datasets"] as? [Any])?.isEmpty == true)
            var r = try await client.execute(
                uri: "/api/v1/tune/datasets/facts-v1/examples/c1-factual/review", method: .post,
                headers: headers(reader), body: ByteBuffer(string: #"{"decision": "approve"}"#))
            #expect(r.status == .notFound)
            let some = try json(
                try await client.execute(uri: "/api/v1/tune/datasets", method: .get, headers: headers(writer)))
            #expect((some["datasets"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["facts-v1"])
            r = try await client.execute(
                uri: "/api/v1/tune/datasets/other-v1/examples", method: .get, headers: headers(writer))
            #expect(r.status == .notFound)
            r = try await client.execute(
                uri: "/api/v1/tune/datasets/facts-v1/examples/c1-factual/review", method: .post,
                headers: headers(writer), body: ByteBuffer(string: #"{"decision": "approve"}"#))
            #expect(r.status == .ok)
            r = try await client.execute(uri: "/api/v1/tune/datasets", method: .get)
            #expect(r.status == .unauthorized)
        }
        await server.shutdown()
    }
}
