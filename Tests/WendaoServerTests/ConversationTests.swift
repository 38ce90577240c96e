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

/// A data directory with "facts" (Chinese pricing) and "other" (English hours), for conversation tests.
private struct ConversationFixture {
    let scratch: ScratchDirectory
    let data: URL
    static let admin = "admin-key-0123456789abcdef"

    init() throws {
        scratch = try ScratchDirectory("conversations")
        data = scratch.child("data")
        let lib = try Library(directory: data)
        try scratch.write(
            "src/facts/pricing.md",
            "# 价格说明\n\n## 首重与续重\n\n标准快递首重收费12元，续重每公斤收费3元。\n\n## 保价\n\n保价费按声明价值的1%收取。\n")
        try scratch.write("src/other/hours.md", "# Opening hours\n\nThe depot opens at 8 am and closes at 10 pm.\n")
        _ = try lib.create("facts")
        _ = try lib.open("facts").ingest([scratch.child("src/facts").path])
        _ = try lib.create("other")
        _ = try lib.open("other").ingest([scratch.child("src/other").path])
    }

    func server(adminKey: String? = ConversationFixture.admin, retentionDays: Int? = nil) throws -> WendaoServer {
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = adminKey.map(Secret.init)
        c.conversationRetentionDays = retentionDays
        return try WendaoServer(configuration: c, logger: Logger(label: "test.conversations"))
    }
}

private func json(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

private func auth(_ key: String) -> HTTPFields { [.authorization: "Bearer \(key)", .contentType: "application/json"] }

private func object(_ r: TestResponse) throws -> [String: Any] {
    try #require(
        try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any],
        "not a JSON object: \(String(buffer: r.body))")
}

/// RFC 4180 fields of a CSV text (quoted fields, doubled quotes, CRLF rows).
private func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var quoted = false
    var chars = Array(text)[...]
    while let c = chars.popFirst() {
        if quoted {
            if c == "\"" {
                if chars.first == "\"" {
                    field.append("\"")
                    chars.removeFirst()
                } else {
                    quoted = false
                }
            } else {
                field.append(c)
            }
        } else if c == "\"" {
            quoted = true
        } else if c == "," {
            row.append(field)
            field = ""
        } else if c == "\r\n" || c == "\n" {
            row.append(field)
            rows.append(row)
            row = []
            field = ""
        } else {
            field.append(c)
        }
    }
    if !field.isEmpty || !row.isEmpty {
        row.append(field)
        rows.append(row)
    }
    return rows
}

@Suite("Conversations kept", .serialized)
struct ConversationTests {
    @Test("Asks are kept as turns of a conversation, continued by id and streamed; history survives a restart")
    func historySurvivesRestart() async throws {
        let f = try ConversationFixture()
        defer { f.scratch.remove() }
        let admin = auth(ConversationFixture.admin)
        let first = try f.server()
        let conversationID = try await first.application().test(.live) { client -> Int in
            let a = try object(
                try await client.execute(
                    uri: "/api/v1/kbs/facts/ask", method: .post, headers: admin, body: json(#"{"question":"首重收费多少钱？"}"#)
                ))
            #expect(a["found"] as? Bool == true)
            let conversationID = try #require(a["conversation_id"] as? Int)
            let firstTurn = try #require(a["turn_id"] as? Int)
            // A follow-up in the same conversation carries the first question's topic into retrieval.
            let b = try object(
                try await client.execute(
                    uri: "/api/v1/kbs/facts/ask", method: .post, headers: admin,
                    body: json(#"{"question":"那续重呢？","conversation_id":\#(conversationID)}"#)))
            #expect(b["conversation_id"] as? Int == conversationID)
            #expect((b["turn_id"] as? Int ?? 0) > firstTurn)
            #expect((b["answer"] as? String)?.contains("续重每公斤收费3元") == true)
            // Streamed: the done event names the conversation and the turn.
            let s = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: admin,
                body: json(#"{"question":"保价费怎么算？","stream":true,"conversation_id":\#(conversationID)}"#))
            var parser = SSEParser()
            let events = try parser.feed(s.body.readableBytesView) + parser.finish()
            let done = try #require(events.last)
            #expect(done.event == "done")
            let doneObject = try #require(
                try JSONSerialization.jsonObject(with: Data(done.data.utf8)) as? [String: Any])
            #expect(doneObject["conversation_id"] as? Int == conversationID)
            #expect(doneObject["turn_id"] != nil)
            // Unknown conversation ids are 404, before any answer is made.
            let unknown = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: admin,
                body: json(#"{"question":"首重？","conversation_id":999999}"#))
            #expect(unknown.status == .notFound)
            // A conversation of another knowledge base cannot be continued here.
            let wrongKB = try await client.execute(
                uri: "/api/v1/kbs/other/ask", method: .post, headers: admin,
                body: json(#"{"question":"When does the depot open?","conversation_id":\#(conversationID)}"#))
            #expect(wrongKB.status == .notFound)
            return conversationID
        }
        await first.shutdown()
        // A new server over the same data directory: the conversation is still there.
        let second = try f.server()
        try await second.application().test(.live) { client in
            let list = try object(try await client.execute(uri: "/api/v1/conversations", method: .get, headers: admin))
            let rows = try #require(list["conversations"] as? [[String: Any]])
            #expect(rows.count == 1)
            #expect(rows.first?["id"] as? Int == conversationID)
            #expect(rows.first?["title"] as? String == "首重收费多少钱？")
            #expect(rows.first?["turns"] as? Int == 3)
            #expect((rows.first?["caller"] as? [String: Any])?["kind"] as? String == "admin")
            let full = try object(
                try await client.execute(uri: "/api/v1/conversations/\(conversationID)", method: .get, headers: admin))
            let turns = try #require(full["turns"] as? [[String: Any]])
            #expect(turns.map { $0["question"] as? String ?? "" } == ["首重收费多少钱？", "那续重呢？", "保价费怎么算？"])
            #expect(turns[0]["carried"] is NSNull)
            #expect((turns[1]["carried"] as? String)?.contains("首重") == true)
            #expect((turns[1]["citations"] as? [[String: Any]])?.first?["document"] as? String == "facts/pricing.md")
            #expect(turns[2]["carried"] is NSNull)
            #expect(turns.allSatisfy { $0["mode"] as? String == "extractive" && $0["complete"] as? Bool == true })
        }
        await second.shutdown()
    }

    @Test("Feedback: thumbs up or down with a note; bad ratings, long notes and foreign turns refused; filters")
    func feedback() async throws {
        let f = try ConversationFixture()
        defer { f.scratch.remove() }
        let admin = auth(ConversationFixture.admin)
        let server = try f.server()
        try await server.application().test(.live) { client in
            let a = try object(
                try await client.execute(
                    uri: "/api/v1/kbs/facts/ask", method: .post, headers: admin, body: json(#"{"question":"首重收费多少钱？"}"#)
                ))
            let c = try #require(a["conversation_id"] as? Int)
            let t = try #require(a["turn_id"] as? Int)
            let missing = try object(
                try await client.execute(
                    uri: "/api/v1/kbs/facts/ask", method: .post, headers: admin,
                    body: json(#"{"question":"How do I book a flight to Mars?"}"#)))
            #expect(missing["found"] as? Bool == false)
            let c2 = try #require(missing["conversation_id"] as? Int)
            let t2 = try #require(missing["turn_id"] as? Int)
            let uri = "/api/v1/conversations/\(c)/turns/\(t)/feedback"
            let down = try await client.execute(
                uri: uri, method: .post, headers: admin, body: json(#"{"rating":"down","note":"价格已过时"}"#))
            #expect(down.status == .ok)
            let fb = try #require(try object(down)["feedback"] as? [String: Any])
            #expect(fb["rating"] as? String == "down" && fb["note"] as? String == "价格已过时")
            for bad in [#"{"rating":"meh"}"#, #"{"rating":1}"#, #"{"note":"x"}"#] {
                let r = try await client.execute(uri: uri, method: .post, headers: admin, body: json(bad))
                #expect(r.status == .badRequest, "\(bad)")
                #expect(String(buffer: r.body).contains("invalid_argument"))
            }
            let long = String(repeating: "长", count: 2001)
            let tooLong = try await client.execute(
                uri: uri, method: .post, headers: admin, body: json(#"{"rating":"up","note":"\#(long)"}"#))
            #expect(tooLong.status == .badRequest)
            // A turn of another conversation, an unknown turn, an unknown conversation: 404.
            for wrong in [
                "/api/v1/conversations/\(c)/turns/\(t2)/feedback", "/api/v1/conversations/\(c)/turns/999999/feedback",
                "/api/v1/conversations/999999/turns/\(t)/feedback", "/api/v1/conversations/abc/turns/\(t)/feedback",
            ] {
                let r = try await client.execute(
                    uri: wrong, method: .post, headers: admin, body: json(#"{"rating":"up"}"#))
                #expect(r.status == .notFound, "\(wrong)")
            }
            // The stored feedback, and the list filters.
            let full = try object(
                try await client.execute(uri: "/api/v1/conversations/\(c)", method: .get, headers: admin))
            let turn = try #require((full["turns"] as? [[String: Any]])?.first)
            #expect((turn["feedback"] as? [String: Any])?["note"] as? String == "价格已过时")
            func ids(_ query: String) async throws -> [Int] {
                let r = try await client.execute(uri: "/api/v1/conversations\(query)", method: .get, headers: admin)
                #expect(r.status == .ok, "\(query): \(String(buffer: r.body))")
                return (try object(r)["conversations"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
            }
            #expect(try await ids("?thumbs_down=true") == [c])
            #expect(try await ids("?not_found=true") == [c2])
            #expect(try await ids("?not_found=true&thumbs_down=true") == [])
            #expect(try await ids("?kb=facts") == [c2, c])
            #expect(try await ids("?kb=other") == [])
            let today = String(ConversationSummary.iso(Date().timeIntervalSince1970).prefix(10))
            #expect(try await ids("?from=\(today)&to=\(today)").count == 2)
            #expect(try await ids("?to=2000-01-01") == [])
            for bad in ["?from=yesterday", "?not_found=yes", "?limit=0", "?limit=201", "?cursor=zz"] {
                let r = try await client.execute(uri: "/api/v1/conversations\(bad)", method: .get, headers: admin)
                #expect(r.status == .badRequest, "\(bad)")
            }
            #expect(
                try await client.execute(uri: "/api/v1/conversations?kb=nope", method: .get, headers: admin).status
                    == .notFound)
            // Thumbs up replaces the thumbs down.
            let up = try await client.execute(uri: uri, method: .post, headers: admin, body: json(#"{"rating":"up"}"#))
            #expect((try object(up)["feedback"] as? [String: Any])?["rating"] as? String == "up")
            #expect(try await ids("?thumbs_down=true") == [])
        }
        await server.shutdown()
    }

    @Test("Deleting a conversation deletes its turns")
    func delete() async throws {
        let f = try ConversationFixture()
        defer { f.scratch.remove() }
        let admin = auth(ConversationFixture.admin)
        let server = try f.server()
        try await server.application().test(.live) { client in
            let a = try object(
                try await client.execute(
                    uri: "/api/v1/kbs/facts/ask", method: .post, headers: admin, body: json(#"{"question":"首重收费多少钱？"}"#)
                ))
            let c = try #require(a["conversation_id"] as? Int)
            let t = try #require(a["turn_id"] as? Int)
            let deleted = try await client.execute(uri: "/api/v1/conversations/\(c)", method: .delete, headers: admin)
            #expect(deleted.status == .noContent)
            #expect(
                try await client.execute(uri: "/api/v1/conversations/\(c)", method: .get, headers: admin).status
                    == .notFound)
            #expect(
                try await client.execute(uri: "/api/v1/conversations/\(c)", method: .delete, headers: admin).status
                    == .notFound)
            let store = try Library(directory: f.data).store
            #expect(try store.turn(id: Int64(t)) == nil)
            #expect(try store.turns(conversation: Int64(c)).isEmpty)
            // Continuing a deleted conversation is a 404 too.
            let again = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: admin,
                body: json(#"{"question":"首重？","conversation_id":\#(c)}"#))
            #expect(again.status == .notFound)
        }
        await server.shutdown()
    }

    @Test("A tenant key sees only its own conversations in the knowledge bases it covers (404 otherwise)")
    func tenants() async throws {
        let f = try ConversationFixture()
        defer { f.scratch.remove() }
        let lib = try Library(directory: f.data)
        let factsKey = try lib.createAPIKey(name: "agent-a", knowledgeBases: ["facts"], scope: .read).key
        let colleague = try lib.createAPIKey(name: "agent-b", knowledgeBases: ["facts"], scope: .read).key
        let otherKey = try lib.createAPIKey(name: "other-team", knowledgeBases: ["other"], scope: .read).key
        let server = try f.server()
        try await server.application().test(.live) { client in
            let a = try object(
                try await client.execute(
                    uri: "/api/v1/kbs/facts/ask", method: .post, headers: auth(factsKey),
                    body: json(#"{"question":"首重收费多少钱？"}"#)))
            let c = try #require(a["conversation_id"] as? Int)
            let t = try #require(a["turn_id"] as? Int)
            let o = try object(
                try await client.execute(
                    uri: "/api/v1/kbs/other/ask", method: .post, headers: auth(otherKey),
                    body: json(#"{"question":"When does the depot open?"}"#)))
            let oc = try #require(o["conversation_id"] as? Int)
            for key in [otherKey, colleague] {
                let routes: [(HTTPRequest.Method, String, String?)] = [
                    (.get, "/api/v1/conversations/\(c)", nil),
                    (.delete, "/api/v1/conversations/\(c)", nil),
                    (.post, "/api/v1/conversations/\(c)/turns/\(t)/feedback", #"{"rating":"down"}"#),
                    (.post, "/api/v1/kbs/facts/ask", #"{"question":"续重？","conversation_id":\#(c)}"#),
                    (.get, "/api/v1/conversations.csv", nil),
                ]
                for (method, uri, b) in routes {
                    let r = try await client.execute(uri: uri, method: method, headers: auth(key), body: b.map(json))
                    #expect(r.status == .notFound, "\(method) \(uri) → \(r.status)")
                    #expect(!String(buffer: r.body).contains("首重"), "\(uri) leaked content")
                }
            }
            // The other team's key cannot name facts in a filter either, nor continue into its own KB.
            #expect(
                try await client.execute(uri: "/api/v1/conversations?kb=facts", method: .get, headers: auth(otherKey))
                    .status == .notFound)
            let cross = try await client.execute(
                uri: "/api/v1/kbs/other/ask", method: .post, headers: auth(otherKey),
                body: json(#"{"question":"depot?","conversation_id":\#(c)}"#))
            #expect(cross.status == .notFound)
            func listed(_ key: String) async throws -> [Int] {
                let r = try await client.execute(uri: "/api/v1/conversations", method: .get, headers: auth(key))
                return (try object(r)["conversations"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
            }
            #expect(try await listed(factsKey) == [c])
            #expect(try await listed(otherKey) == [oc])
            #expect(try await listed(colleague) == [])
            #expect(Set(try await listed(ConversationFixture.admin)) == [c, oc])
            // The owner sees it, with the key's name (never the key) as the caller, and may rate it.
            let mine = try await client.execute(
                uri: "/api/v1/conversations/\(c)", method: .get, headers: auth(factsKey))
            #expect(mine.status == .ok)
            let text = String(buffer: mine.body)
            #expect(text.contains("agent-a") && !text.contains(factsKey) && !text.contains(String(factsKey.prefix(12))))
            let rated = try await client.execute(
                uri: "/api/v1/conversations/\(c)/turns/\(t)/feedback", method: .post, headers: auth(factsKey),
                body: json(#"{"rating":"up"}"#))
            #expect(rated.status == .ok)
        }
        await server.shutdown()
    }

    @Test("CSV export: admin only, every field quoted, formula cells neutralised, one row per turn")
    func csvExport() async throws {
        let f = try ConversationFixture()
        defer { f.scratch.remove() }
        let admin = auth(ConversationFixture.admin)
        let server = try f.server()
        try await server.application().test(.live) { client in
            let hostile = #"=HYPERLINK(\"http://evil.example\",\"首重\"), 收费 \"多少\"?"#
            let a = try object(
                try await client.execute(
                    uri: "/api/v1/kbs/facts/ask", method: .post, headers: admin,
                    body: json(#"{"question":"\#(hostile)"}"#)))
            let c = try #require(a["conversation_id"] as? Int)
            let t = try #require(a["turn_id"] as? Int)
            _ = try await client.execute(
                uri: "/api/v1/conversations/\(c)/turns/\(t)/feedback", method: .post, headers: admin,
                body: json(#"{"rating":"down","note":"@SUM(A1:A2)\nsecond line"}"#))
            _ = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: admin,
                body: json(#"{"question":"-1+1 续重呢？","conversation_id":\#(c)}"#))
            let r = try await client.execute(uri: "/api/v1/conversations.csv", method: .get, headers: admin)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("text/csv") == true)
            #expect(r.headers[.contentDisposition]?.contains("attachment") == true)
            let text = String(buffer: r.body)
            let rows = parseCSV(text)
            #expect(rows.count == 3)
            #expect(rows.allSatisfy { $0.count == 15 })
            #expect(rows[0].first == "conversation_id" && rows[0].last == "complete")
            // Every field quoted: each line's cells start with a quote.
            #expect(text.split(separator: "\r\n").allSatisfy { $0.hasPrefix("\"") }, "\(text.debugDescription)")
            #expect(rows[1][5] == "'" + hostile.replacingOccurrences(of: "\\\"", with: "\""))
            #expect(rows[1][12] == "down")
            #expect(rows[1][13] == "'@SUM(A1:A2)\nsecond line")
            #expect(rows[2][5] == "'-1+1 续重呢？")
            #expect(rows[1][3] == "admin")
            // Filters apply to rows: only the thumbs-down turn.
            let filtered = try await client.execute(
                uri: "/api/v1/conversations.csv?thumbs_down=true", method: .get, headers: admin)
            #expect(parseCSV(String(buffer: filtered.body)).count == 2)
        }
        await server.shutdown()
    }

    @Test("OpenAI chat completions on kb:NAME are kept too, one conversation per completion, follow-ups carried")
    func openAICompletionsKept() async throws {
        let f = try ConversationFixture()
        defer { f.scratch.remove() }
        let admin = auth(ConversationFixture.admin)
        let server = try f.server()
        try await server.application().test(.live) { client in
            let r = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: admin,
                body: json(
                    #"{"model":"kb:facts","messages":[{"role":"user","content":"首重收费多少钱？"},"#
                        + #"{"role":"assistant","content":"标准快递首重收费12元。"},{"role":"user","content":"那续重呢？"}]}"#))
            #expect(r.status == .ok)
            let list = try object(try await client.execute(uri: "/api/v1/conversations", method: .get, headers: admin))
            let rows = try #require(list["conversations"] as? [[String: Any]])
            #expect(rows.count == 1 && rows.first?["title"] as? String == "那续重呢？")
            let id = try #require(rows.first?["id"] as? Int)
            let full = try object(try await client.execute(uri: "/api/v1/conversations/\(id)", method: .get, headers: admin))
            let turn = try #require((full["turns"] as? [[String: Any]])?.first)
            #expect((turn["carried"] as? String)?.contains("首重") == true)
            #expect((turn["answer"] as? String)?.contains("续重每公斤收费3元") == true)
        }
        await server.shutdown()
    }

    @Test("Retention: conversations not continued within the configured days are deleted by the server")
    func retention() async throws {
        let f = try ConversationFixture()
        defer { f.scratch.remove() }
        let lib = try Library(directory: f.data)
        let kb = try lib.record("facts").id
        let now = Date().timeIntervalSince1970
        let old = try lib.store.createConversation(kb: kb, title: "old", caller: .admin, at: now - 3 * 86_400)
        _ = try lib.store.appendTurn(
            NewTurn(
                conversationID: old.id, question: "old", answer: "a", found: true, mode: "extractive",
                createdAt: now - 3 * 86_400))
        let fresh = try lib.store.createConversation(kb: kb, title: "fresh", caller: .admin, at: now - 3600)
        // Kept without a retention setting.
        let keeping = try f.server()
        try await keeping.application().test(.live) { client in
            let r = try await client.execute(
                uri: "/api/v1/conversations/\(old.id)", method: .get, headers: auth(ConversationFixture.admin))
            #expect(r.status == .ok)
        }
        await keeping.shutdown()
        let purging = try f.server(retentionDays: 2)
        try await purging.application().test(.live) { client in
            var status = HTTPResponse.Status.ok
            for _ in 0..<100 where status == .ok {
                status = try await client.execute(
                    uri: "/api/v1/conversations/\(old.id)", method: .get, headers: auth(ConversationFixture.admin)
                ).status
                if status == .ok { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(status == .notFound)
            let kept = try await client.execute(
                uri: "/api/v1/conversations/\(fresh.id)", method: .get, headers: auth(ConversationFixture.admin))
            #expect(kept.status == .ok)
        }
        await purging.shutdown()
        #expect(try lib.store.turns(conversation: old.id).isEmpty)
    }

    @Test("10,000 conversations of one key: every one reached by cursor paging, pages bounded")
    func tenThousand() async throws {
        let f = try ConversationFixture()
        defer { f.scratch.remove() }
        let lib = try Library(directory: f.data)
        let (key, record) = try lib.createAPIKey(name: "busy", knowledgeBases: ["facts"], scope: .read)
        let kb = try lib.record("facts").id
        let store = lib.store
        for i in 0..<10_000 {
            _ = try store.createConversation(
                kb: kb, title: "q\(i)", caller: .key(id: record.id, name: "busy"), at: 1_700_000_000 + Double(i / 7))
        }
        let server = try f.server()
        try await server.application().test(.live) { client in
            var seen = Set<Int>()
            var cursor: String?
            var pages = 0
            repeat {
                let uri = "/api/v1/conversations?limit=200" + (cursor.map { "&cursor=\($0)" } ?? "")
                let r = try await client.execute(uri: uri, method: .get, headers: auth(key))
                #expect(r.status == .ok)
                let page = try object(r)
                let rows = page["conversations"] as? [[String: Any]] ?? []
                #expect(rows.count <= 200)
                for row in rows { seen.insert(row["id"] as? Int ?? 0) }
                cursor = page["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 60
            #expect(seen.count == 10_000)
            #expect(pages == 50)
            let tooBig = try await client.execute(
                uri: "/api/v1/conversations?limit=201", method: .get, headers: auth(key))
            #expect(tooBig.status == .badRequest)
            let defaultPage = try object(
                try await client.execute(uri: "/api/v1/conversations", method: .get, headers: auth(key)))
            #expect((defaultPage["conversations"] as? [[String: Any]])?.count == 50)
        }
        await server.shutdown()
    }
}
