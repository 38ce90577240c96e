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

private let admin = "admin-key-0123456789abcdef"

private func auth(_ key: String) -> HTTPFields { [.authorization: "Bearer \(key)", .contentType: "application/json"] }

private func object(_ r: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:]
}

/// A data directory with knowledge base "kb" (one Chinese document of three sections, each with
/// words of its own) and "other"; a read key for "kb" and one for "other".
private struct EditFixture {
    let scratch: ScratchDirectory
    let data: URL
    let tenantKey: String
    let otherKey: String

    init() throws {
        scratch = try ScratchDirectory("chunk-edit")
        data = scratch.child("data")
        let lib = try Library(directory: data)
        try scratch.write(
            "src/kb/guide.md",
            """
            # 服务指南

            ## 蓝鲸专线

            蓝鲸专线每周二发车，运往西北各站。

            ## 冷链

            冷藏件全程保持二到八摄氏度。

            ## 保价

            保价费按声明价值的百分之一收取。

            """)
        try scratch.write("src/other/hours.md", "# Opening hours\n\nThe depot opens at 8 am and closes at 10 pm.\n")
        _ = try lib.create("kb")
        _ = try lib.open("kb").ingest([scratch.child("src/kb").path])
        _ = try lib.create("other")
        _ = try lib.open("other").ingest([scratch.child("src/other").path])
        tenantKey = try lib.createAPIKey(knowledgeBases: ["kb"], scope: .read).0
        otherKey = try lib.createAPIKey(knowledgeBases: ["other"], scope: .write).0
    }

    func server() throws -> WendaoServer {
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = Secret(admin)
        return try WendaoServer(configuration: c, logger: Logger(label: "test.edit"))
    }
}

/// The documents of the search results for `query` in "kb".
private func searchTexts(_ query: String, _ client: some TestClientProtocol) async throws -> [String] {
    let r = try await client.execute(
        uri: "/api/v1/kbs/kb/search", method: .post, headers: auth(admin),
        body: ByteBuffer(string: #"{"query":"\#(query)","top_k":10}"#))
    #expect(r.status == .ok)
    return (object(r)["results"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
}

private func ask(_ question: String, kb: String = "kb", _ client: some TestClientProtocol) async throws -> [String: Any]
{
    let body = try JSONSerialization.data(withJSONObject: ["question": question])
    let r = try await client.execute(
        uri: "/api/v1/kbs/\(kb)/ask", method: .post, headers: auth(admin), body: ByteBuffer(bytes: body))
    #expect(r.status == .ok, "\(String(buffer: r.body))")
    return object(r)
}

@Suite("Document pages, chunk edits and curated answers through the real HTTP stack")
struct ChunkEditTests {
    @Test("A document shows its text and chunks; editing, disabling and deleting a chunk change search at once")
    func editChangesSearch() async throws {
        let f = try EditFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.live) { client in
            // By path (percent-encoded, '/' as %2F) and by id: the same page.
            let page = try await client.execute(
                uri: "/api/v1/kbs/kb/documents/kb%2Fguide.md", method: .get, headers: auth(admin))
            #expect(page.status == .ok, "\(String(buffer: page.body))")
            let detail = object(page)
            #expect(detail["text_source"] as? String == "stored")
            #expect((detail["text"] as? String)?.contains("## 蓝鲸专线") == false)
            #expect((detail["text"] as? String)?.contains("蓝鲸专线每周二发车") == true)
            #expect((detail["text"] as? String)?.contains("保价") == true)
            let chunks = try #require(detail["chunks"] as? [[String: Any]])
            #expect(chunks.count == 3)
            #expect(chunks.allSatisfy { $0["enabled"] as? Bool == true && $0["edited"] as? Bool == false })
            let whale = try #require(chunks.first { ($0["text"] as? String)?.contains("蓝鲸") == true })
            #expect(whale["section"] as? String == "服务指南 › 蓝鲸专线")
            let whaleID = try #require(whale["id"] as? Int)
            let docID = try #require((detail["document"] as? [String: Any])?["id"] as? Int)
            let byID = try await client.execute(
                uri: "/api/v1/kbs/kb/documents/\(docID)", method: .get, headers: auth(admin))
            #expect((object(byID)["chunks"] as? [[String: Any]])?.count == 3)

            #expect(try await searchTexts("每周二发车", client).contains { $0.contains("每周二发车") })
            #expect(try await searchTexts("火烈鸟", client).isEmpty)

            // Edit: the new word is found, the old one no longer.
            let edit = try await client.execute(
                uri: "/api/v1/kbs/kb/chunks/\(whaleID)", method: .patch, headers: auth(admin),
                body: ByteBuffer(string: #"{"text":"火烈鸟专线每周五发车，运往东南各站。"}"#))
            #expect(edit.status == .ok, "\(String(buffer: edit.body))")
            let edited = object(edit)
            #expect(edited["edited"] as? Bool == true)
            let newID = try #require(edited["id"] as? Int)
            #expect(newID != whaleID)
            #expect(try await searchTexts("火烈鸟", client).contains { $0.contains("火烈鸟专线每周五发车") })
            #expect(try await searchTexts("每周二发车", client).allSatisfy { !$0.contains("每周二发车") })
            let old = try await client.execute(
                uri: "/api/v1/kbs/kb/chunks/\(whaleID)", method: .get, headers: auth(admin))
            #expect(old.status == .notFound)
            let shown = try await client.execute(
                uri: "/api/v1/kbs/kb/documents/\(docID)", method: .get, headers: auth(admin))
            let after = try #require(object(shown)["chunks"] as? [[String: Any]])
            #expect(after.map { $0["ordinal"] as? Int } == [0, 1, 2])
            #expect(after[0]["text"] as? String == "火烈鸟专线每周五发车，运往东南各站。")

            // Disable: not retrieved, still shown (disabled); enable: found again.
            let cold = try #require(after.first { ($0["text"] as? String)?.contains("冷藏件") == true }?["id"] as? Int)
            #expect(try await searchTexts("冷藏件", client).contains { $0.contains("冷藏件") })
            let off = try await client.execute(
                uri: "/api/v1/kbs/kb/chunks/\(cold)", method: .patch, headers: auth(admin),
                body: ByteBuffer(string: #"{"enabled":false}"#))
            #expect(off.status == .ok)
            #expect(object(off)["enabled"] as? Bool == false)
            #expect(object(off)["id"] as? Int == cold)
            #expect(try await searchTexts("冷藏件", client).allSatisfy { !$0.contains("冷藏件") })
            let askCold = try await ask("冷藏件保持多少度？", client)
            #expect(
                ((askCold["citations"] as? [[String: Any]]) ?? []).allSatisfy {
                    ($0["text"] as? String)?.contains("冷藏件") != true
                })
            let greyed = try await client.execute(
                uri: "/api/v1/kbs/kb/documents/\(docID)", method: .get, headers: auth(admin))
            #expect(
                (object(greyed)["chunks"] as? [[String: Any]])?.first { $0["id"] as? Int == cold }?["enabled"] as? Bool
                    == false)
            let on = try await client.execute(
                uri: "/api/v1/kbs/kb/chunks/\(cold)", method: .patch, headers: auth(admin),
                body: ByteBuffer(string: #"{"enabled":true}"#))
            #expect(on.status == .ok)
            #expect(try await searchTexts("冷藏件", client).contains { $0.contains("冷藏件") })

            // Delete: gone from search and from the page; the document has one chunk fewer.
            let insured = try #require(after.first { ($0["text"] as? String)?.contains("保价费") == true }?["id"] as? Int)
            let del = try await client.execute(
                uri: "/api/v1/kbs/kb/chunks/\(insured)", method: .delete, headers: auth(admin))
            #expect(del.status == .noContent)
            #expect(try await searchTexts("保价费", client).allSatisfy { !$0.contains("保价费") })
            let again = try await client.execute(
                uri: "/api/v1/kbs/kb/chunks/\(insured)", method: .delete, headers: auth(admin))
            #expect(again.status == .notFound)
            let docs = try await client.execute(uri: "/api/v1/kbs/kb/documents", method: .get, headers: auth(admin))
            #expect((object(docs)["documents"] as? [[String: Any]])?.first?["chunks"] as? Int == 2)
        }
        await server.shutdown()

        // The saved indexes agree with the store after a restart.
        let lib = try Library(directory: f.data)
        let kb = try lib.open("kb")
        #expect(kb.recoveryNote == nil)
        #expect(try kb.search("火烈鸟", topK: 3).first?.text.contains("火烈鸟") == true)
        #expect(try kb.search("保价费", topK: 3).allSatisfy { !$0.text.contains("保价费") })
        #expect(try lib.store.integrityProblems(kb: kb.record.id).isEmpty)
    }

    @Test("Bad chunk edits and document keys are refused with stable codes and change nothing")
    func badInput() async throws {
        let f = try EditFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.live) { client in
            let page = try await client.execute(
                uri: "/api/v1/kbs/kb/documents/kb%2Fguide.md", method: .get, headers: auth(admin))
            let chunk = try #require((object(page)["chunks"] as? [[String: Any]])?.first?["id"] as? Int)
            func patch(_ id: Int, _ body: String, key: String = admin, kb: String = "kb") async throws -> TestResponse {
                try await client.execute(
                    uri: "/api/v1/kbs/\(kb)/chunks/\(id)", method: .patch, headers: auth(key),
                    body: ByteBuffer(string: body))
            }
            func code(_ r: TestResponse) -> String? { (object(r)["error"] as? [String: Any])?["code"] as? String }

            let empty = try await patch(chunk, #"{"text":"  \n "}"#)
            #expect(empty.status == .badRequest)
            #expect(code(empty) == "invalid_argument")
            #expect(String(buffer: empty.body).contains("disable or delete"))
            let long = try await patch(chunk, #"{"text":"\#(String(repeating: "长", count: 20_001))"}"#)
            #expect(long.status == .contentTooLarge)
            #expect(code(long) == "limit_exceeded")
            let huge = try await patch(chunk, #"{"text":"\#(String(repeating: "x", count: 1 << 20))"}"#)
            #expect(huge.status == .contentTooLarge)
            #expect(try await patch(chunk, #"{}"#).status == .badRequest)
            #expect(try await patch(chunk, #"{"enabled":"no"}"#).status == .badRequest)
            // Another knowledge base's chunk, an unknown id, a non-number.
            let otherPage = try await client.execute(
                uri: "/api/v1/kbs/other/documents/other%2Fhours.md", method: .get, headers: auth(admin))
            let otherChunk = try #require((object(otherPage)["chunks"] as? [[String: Any]])?.first?["id"] as? Int)
            #expect(try await patch(otherChunk, #"{"text":"hijacked"}"#).status == .notFound)
            #expect(
                try await client.execute(
                    uri: "/api/v1/kbs/kb/chunks/\(otherChunk)", method: .delete, headers: auth(admin)
                ).status == .notFound)
            #expect(try await patch(999_999, #"{"text":"x"}"#).status == .notFound)
            let word = try await client.execute(
                uri: "/api/v1/kbs/kb/chunks/abc", method: .patch, headers: auth(admin),
                body: ByteBuffer(string: #"{"text":"x"}"#))
            #expect(word.status == .notFound)
            // Document keys that name nothing: traversal, an encoded slash to nowhere, NUL.
            for key in ["..", "..%2F..%2Fetc%2Fpasswd", "%00", "kb%2Fguide.md%00", "%2F", "%E0%A4%A", "999999"] {
                let r = try await client.execute(
                    uri: "/api/v1/kbs/kb/documents/\(key)", method: .get, headers: auth(admin))
                #expect(r.status == .notFound, "\(key): \(r.status)")
            }
            #expect(
                try await client.execute(
                    uri: "/api/v1/kbs/kb/documents/kb%2Fguide.md?limit=-1", method: .get, headers: auth(admin)
                ).status == .badRequest)
            // Keys: the knowledge base's own read key reads the page but cannot edit (write keys and
            // editors may); another's sees nothing.
            #expect(
                try await client.execute(
                    uri: "/api/v1/kbs/kb/documents/kb%2Fguide.md", method: .get, headers: auth(f.tenantKey)
                ).status == .ok)
            #expect(
                try await client.execute(
                    uri: "/api/v1/kbs/kb/documents/kb%2Fguide.md", method: .get, headers: auth(f.otherKey)
                ).status == .notFound)
            #expect(try await patch(chunk, #"{"text":"tenant edit"}"#, key: f.tenantKey).status == .notFound)
            #expect(
                try await client.execute(
                    uri: "/api/v1/kbs/kb/chunks/\(chunk)", method: .delete, headers: auth(f.tenantKey)
                ).status == .notFound)
            #expect(try await patch(chunk, #"{"enabled":false}"#, key: f.otherKey).status == .notFound)
            // Nothing changed.
            let after = try await client.execute(
                uri: "/api/v1/kbs/kb/documents/kb%2Fguide.md", method: .get, headers: auth(admin))
            #expect(String(buffer: after.body) == String(buffer: page.body))
        }
        await server.shutdown()
    }

    @Test("A correction answers the next asker, exact and paraphrased; unrelated questions are unaffected")
    func curatedAnswers() async throws {
        let f = try EditFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.live) { client in
            func post(_ json: [String: Any], key: String = admin) async throws -> TestResponse {
                try await client.execute(
                    uri: "/api/v1/kbs/kb/curated", method: .post, headers: auth(key),
                    body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
            }
            let before = try await ask("蓝鲸专线哪天发车？", client)
            #expect((before["citations"] as? [[String: Any]])?.first?["kind"] == nil)

            let created = try await post([
                "question": "蓝鲸专线哪天发车？", "answer": "自下月起，蓝鲸专线改为每周三发车。", "note": "线路调整",
                "source_turn": "turn-7",
            ])
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let id = try #require(object(created)["id"] as? Int)
            #expect(object(created)["source_turn"] as? String == "turn-7")

            for question in ["蓝鲸专线哪天发车？", "蓝鲸专线 哪天发车", "请问蓝鲸专线是哪天发车"] {
                let a = try await ask(question, client)
                #expect(a["answer"] as? String == "自下月起，蓝鲸专线改为每周三发车。", "\(question)")
                #expect(a["found"] as? Bool == true)
                #expect(a["mode"] as? String == "curated")
                let c = try #require((a["citations"] as? [[String: Any]])?.first)
                #expect(c["kind"] as? String == "curated")
                #expect(c["curated_id"] as? Int == id)
            }
            // Unrelated questions (same knowledge base, other topics) answer from the documents.
            for question in ["冷藏件保持多少度？", "保价费怎么收？"] {
                let a = try await ask(question, client)
                #expect(a["mode"] as? String == "extractive", "\(question)")
                #expect(((a["citations"] as? [[String: Any]]) ?? []).allSatisfy { $0["kind"] == nil })
            }
            // Another knowledge base is unaffected.
            #expect(try await ask("蓝鲸专线哪天发车？", kb: "other", client)["mode"] as? String == "extractive")

            // Bad input.
            #expect(try await post(["question": " ", "answer": "a"]).status == .badRequest)
            #expect(
                try await post(["question": String(repeating: "问", count: 2001), "answer": "a"]).status == .badRequest)
            #expect(try await post(["question": "q?", "answer": ""]).status == .badRequest)
            #expect(try await post(["question": "？？？", "answer": "a"]).status == .badRequest)
            let dup = try await post(["question": "蓝鲸专线，哪天发车", "answer": "again"])
            #expect(dup.status == .conflict)
            #expect(try await post(["question": "新问题", "answer": "a"], key: f.tenantKey).status == .notFound)

            // List (the knowledge base's key may read it; another's may not), update, delete.
            let list = try await client.execute(uri: "/api/v1/kbs/kb/curated", method: .get, headers: auth(f.tenantKey))
            #expect((object(list)["curated"] as? [[String: Any]])?.map { $0["id"] as? Int } == [id])
            #expect(
                try await client.execute(uri: "/api/v1/kbs/kb/curated", method: .get, headers: auth(f.otherKey)).status
                    == .notFound)
            let upd = try await client.execute(
                uri: "/api/v1/kbs/kb/curated/\(id)", method: .patch, headers: auth(admin),
                body: ByteBuffer(string: #"{"answer":"蓝鲸专线每周四发车。"}"#))
            #expect(upd.status == .ok)
            #expect(try await ask("蓝鲸专线哪天发车", client)["answer"] as? String == "蓝鲸专线每周四发车。")
            #expect(
                try await client.execute(
                    uri: "/api/v1/kbs/other/curated/\(id)", method: .delete, headers: auth(admin)
                ).status == .notFound)
            let del = try await client.execute(
                uri: "/api/v1/kbs/kb/curated/\(id)", method: .delete, headers: auth(admin))
            #expect(del.status == .noContent)
            #expect(try await ask("蓝鲸专线哪天发车？", client)["mode"] as? String == "extractive")
        }
        await server.shutdown()
    }

    @Test("A knowledge base with a Chinese name: document page, chunk edit and curated answer by its encoded name")
    func chineseName() async throws {
        let f = try EditFixture()
        defer { f.scratch.remove() }
        let name = "客服知识库"
        let lib = try Library(directory: f.data)
        _ = try lib.create(name)
        _ = try lib.open(name).ingest([f.scratch.child("src/kb").path])
        let e = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.subtracting(.nonBaseCharacters))!
        #expect(e.hasPrefix("%E5%AE%A2"))
        let server = try f.server()
        try await server.application().test(.live) { client in
            let page = try await client.execute(
                uri: "/api/v1/kbs/\(e)/documents/kb%2Fguide.md", method: .get, headers: auth(admin))
            #expect(page.status == .ok, "\(String(buffer: page.body))")
            let chunk = try #require((object(page)["chunks"] as? [[String: Any]])?.first?["id"] as? Int)
            let edit = try await client.execute(
                uri: "/api/v1/kbs/\(e)/chunks/\(chunk)", method: .patch, headers: auth(admin),
                body: ByteBuffer(string: #"{"text":"火烈鸟专线每周五发车。"}"#))
            #expect(edit.status == .ok, "\(String(buffer: edit.body))")
            let search = try await client.execute(
                uri: "/api/v1/kbs/\(e)/search", method: .post, headers: auth(admin),
                body: ByteBuffer(string: #"{"query":"火烈鸟"}"#))
            #expect(String(buffer: search.body).contains("火烈鸟专线每周五发车"))
            let created = try await client.execute(
                uri: "/api/v1/kbs/\(e)/curated", method: .post, headers: auth(admin),
                body: ByteBuffer(string: #"{"question":"火烈鸟专线哪天发车？","answer":"每周五。"}"#))
            #expect(created.status == .created)
            let id = try #require(object(created)["id"] as? Int)
            let a = try await ask("火烈鸟专线哪天发车", kb: e, client)
            #expect(a["mode"] as? String == "curated")
            let list = try await client.execute(uri: "/api/v1/kbs/\(e)/curated", method: .get, headers: auth(admin))
            #expect((object(list)["curated"] as? [[String: Any]])?.count == 1)
            let del = try await client.execute(
                uri: "/api/v1/kbs/\(e)/curated/\(id)", method: .delete, headers: auth(admin))
            #expect(del.status == .noContent)
            let delChunk = try await client.execute(
                uri: "/api/v1/kbs/\(e)/chunks/\(object(edit)["id"] as? Int ?? -1)", method: .delete,
                headers: auth(admin))
            #expect(delChunk.status == .noContent)
            // The other knowledge base ("kb") still has its own chunks.
            let other = try await client.execute(
                uri: "/api/v1/kbs/kb/documents/kb%2Fguide.md", method: .get, headers: auth(admin))
            #expect((object(other)["chunks"] as? [[String: Any]])?.count == 3)
        }
        await server.shutdown()
    }

    @Test("Uploading or re-ingesting an unchanged file reports unchanged, a changed one updated")
    func unchangedReimport() async throws {
        let f = try EditFixture()
        defer { f.scratch.remove() }
        let server = try f.server()
        try await server.application().test(.live) { client in
            func upload(_ text: String) async throws -> [String: Any] {
                var h = auth(admin)
                h[.contentType] = "multipart/form-data; boundary=B0"
                let r = try await client.execute(
                    uri: "/api/v1/kbs/kb/documents", method: .post, headers: h,
                    body: ByteBuffer(
                        string: "--B0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fees.md\"\r\n\r\n"
                            + text + "\r\n--B0--\r\n"))
                #expect(r.status == .accepted)
                return try await finished(object(r)["id"] as? Int ?? -1)
            }
            func finished(_ id: Int) async throws -> [String: Any] {
                var job: [String: Any] = [:]
                for _ in 0..<600 where !["failed", "succeeded", "partial"].contains(job["state"] as? String ?? "") {
                    try await Task.sleep(for: .milliseconds(50))
                    job = object(
                        try await client.execute(uri: "/api/v1/jobs/\(id)", method: .get, headers: auth(admin)))
                }
                return job
            }
            func outcome(_ job: [String: Any]) -> String? {
                (job["results"] as? [[String: Any]])?.first?["outcome"] as? String
            }
            #expect(outcome(try await upload("# 运费\n\n首重收费12元。\n")) == "added")
            #expect(outcome(try await upload("# 运费\n\n首重收费12元。\n")) == "unchanged")
            let docs = object(
                try await client.execute(uri: "/api/v1/kbs/kb/documents", method: .get, headers: auth(admin)))
            let doc = try #require(
                (docs["documents"] as? [[String: Any]])?.first { $0["path"] as? String == "fees.md" })
            let docID = try #require(doc["id"] as? Int)
            let reingest = try await client.execute(
                uri: "/api/v1/kbs/kb/documents/\(docID)/reingest", method: .post, headers: auth(admin))
            #expect(outcome(try await finished(object(reingest)["id"] as? Int ?? -1)) == "unchanged")
            #expect(outcome(try await upload("# 运费\n\n首重收费15元。\n")) == "updated")
        }
        await server.shutdown()
    }
}
