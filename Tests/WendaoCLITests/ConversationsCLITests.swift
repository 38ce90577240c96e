import Foundation
import Testing
import WendaoCore
import WendaoStore
import WendaoTestSupport

/// `wendao conversations list|show|delete|export` over conversations the server would have kept.
@Suite struct ConversationsCLITests {
    @Test func listShowExportDelete() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        #expect(try await f.run("kb", "create", "客服").status == 0)
        #expect(try await f.run("kb", "create", "other").status == 0)
        let store = try SQLiteStore(path: f.data + "/wendao.sqlite")
        let kb = try #require(try store.knowledgeBase(named: "客服"))
        let other = try #require(try store.knowledgeBase(named: "other"))
        let c = try store.createConversation(
            kb: kb.id, title: "首重怎么收费？", caller: .key(id: 4, name: "agent\u{1B}[31m"), at: 100)
        let t = try store.appendTurn(
            NewTurn(
                conversationID: c.id, question: "=1+1 首重怎么收费？", answer: "首重收费12元。[1]", found: true, mode: "extractive",
                citationsJSON:
                    #"[{"n":1,"document":"pricing.md","section":"价格","page":null,"chunk_id":1,"text":"首重收费12元。"}]"#,
                durationMilliseconds: 5, createdAt: 101))
        _ = try store.setFeedback(turn: t.id, rating: -1, note: "过时", at: 102)
        let o = try store.createConversation(kb: other.id, title: "hours", caller: .admin, at: 200)
        _ = try store.appendTurn(
            NewTurn(
                conversationID: o.id, question: "hours?", answer: "Not found", found: false, mode: "extractive",
                createdAt: 201))

        let list = try await f.run("conversations", "list", "--json")
        #expect(list.status == 0, "\(list.stderr)")
        let rows = try #require(try list.json()["conversations"] as? [[String: Any]])
        #expect(rows.compactMap { $0["id"] as? Int } == [Int(o.id), Int(c.id)])
        #expect(try list.json()["next_cursor"] is NSNull)
        let filtered = try await f.run("conversations", "list", "--kb", "客服", "--thumbs-down", "--json")
        #expect((try filtered.json()["conversations"] as? [[String: Any]])?.count == 1)
        let paged = try await f.run("conversations", "list", "--limit", "1", "--json")
        let cursor = try #require(try paged.json()["next_cursor"] as? String)
        let next = try await f.run("conversations", "list", "--limit", "1", "--cursor", cursor, "--json")
        #expect((try next.json()["conversations"] as? [[String: Any]])?.first?["id"] as? Int == Int(c.id))
        // Text output escapes control characters a name could carry.
        let text = try await f.run("conversations", "list")
        #expect(text.status == 0 && text.stdout.contains("首重怎么收费？") && !text.stdout.contains("\u{1B}"))

        let show = try await f.run("conversations", "show", String(c.id), "--json")
        let turns = try #require(try show.json()["turns"] as? [[String: Any]])
        #expect((turns.first?["feedback"] as? [String: Any])?["rating"] as? String == "down")
        #expect((turns.first?["citations"] as? [[String: Any]])?.first?["document"] as? String == "pricing.md")

        let csv = try await f.run("conversations", "export", "--not-found")
        #expect(csv.status == 0)
        let lines = csv.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count == 2 && lines[1].contains("\"hours?\""))
        let all = try await f.run("conversations", "export")
        #expect(all.stdout.contains("\"'=1+1 首重怎么收费？\""))

        #expect(try await f.run("conversations", "delete", String(c.id)).status == 0)
        #expect(try store.turns(conversation: c.id).isEmpty)
        let again = try await f.run("conversations", "delete", String(c.id), "--json")
        #expect(again.status == 1)
        #expect((try again.json()["error"] as? [String: Any])?["code"] as? String == "not_found")
        #expect(try await f.run("conversations", "list", "--limit", "0").status == 2)
        #expect(try await f.run("conversations", "list", "--from", "yesterday").status == 2)
    }
}
