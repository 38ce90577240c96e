import Foundation
import Testing
import WendaoTestSupport
import WendaoCore
@testable import WendaoStore

@Suite struct ConversationStoreTests {
    private func makeStore() throws -> (ScratchDirectory, SQLiteStore) {
        let dir = try ScratchDirectory("conversations")
        return (dir, try SQLiteStore(path: dir.child("wendao.sqlite").path))
    }

    private func turn(_ c: Int64, _ q: String, found: Bool = true, at: Double) -> NewTurn {
        NewTurn(
            conversationID: c, question: q, answer: "answer to \(q)", found: found, mode: "extractive",
            citationsJSON: #"[{"n":1}]"#, warnings: ["w"], durationMilliseconds: 12, createdAt: at)
    }

    @Test func turnsFeedbackAndReopening() throws {
        let (scratch, store) = try makeStore()
        defer { scratch.remove() }
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let c = try store.createConversation(kb: kb.id, title: "首重怎么收费？", caller: .key(id: 7, name: "bot"), at: 100)
        let t1 = try store.appendTurn(turn(c.id, "首重怎么收费？", at: 101))
        let t2 = try store.appendTurn(turn(c.id, "那续重呢？", found: false, at: 105))
        _ = try store.setFeedback(turn: t2.id, rating: -1, note: "wrong", at: 106)
        // The same file opened again (a server restart) holds everything.
        let reopened = try SQLiteStore(path: store.path)
        let got = try #require(try reopened.conversation(id: c.id))
        #expect(got.caller == .key(id: 7, name: "bot"))
        #expect(got.turnCount == 2 && got.notFoundCount == 1 && got.thumbsDownCount == 1)
        #expect(got.updatedAt == 105)
        let turns = try reopened.turns(conversation: c.id)
        #expect(turns.map(\.id) == [t1.id, t2.id])
        #expect(turns[0].turn == turn(c.id, "首重怎么收费？", at: 101))
        #expect(turns[1].rating == -1 && turns[1].note == "wrong" && turns[1].feedbackAt == 106)
        // Feedback is replaced, never added to; a bad rating or an unknown turn is refused.
        let up = try reopened.setFeedback(turn: t2.id, rating: 1, note: nil, at: 107)
        #expect(up.rating == 1 && up.note == nil)
        #expect(
            thrownWendaoError { _ = try reopened.setFeedback(turn: t2.id, rating: 0, note: nil, at: 1) }?.code
                == .invalidArgument)
        #expect(
            thrownWendaoError { _ = try reopened.setFeedback(turn: 999, rating: 1, note: nil, at: 1) }?.code
                == .notFound)
        #expect(thrownWendaoError { _ = try reopened.appendTurn(turn(999, "q", at: 1)) }?.code == .notFound)
        #expect(
            thrownWendaoError { _ = try reopened.createConversation(kb: 999, title: "t", caller: .admin, at: 1) }?.code
                == .notFound)
    }

    @Test func deletingCascades() throws {
        let (scratch, store) = try makeStore()
        defer { scratch.remove() }
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let a = try store.createConversation(kb: kb.id, title: "a", caller: .admin, at: 1)
        let b = try store.createConversation(kb: kb.id, title: "b", caller: .local, at: 2)
        let ta = try store.appendTurn(turn(a.id, "q", at: 3))
        _ = try store.appendTurn(turn(b.id, "q", at: 50))
        try store.deleteConversation(id: a.id)
        #expect(try store.conversation(id: a.id) == nil)
        #expect(try store.turns(conversation: a.id).isEmpty)
        #expect(try store.turn(id: ta.id) == nil)
        #expect(thrownWendaoError { try store.deleteConversation(id: a.id) }?.code == .notFound)
        // Retention: conversations last updated before the time go, with their turns.
        let c = try store.createConversation(kb: kb.id, title: "c", caller: .admin, at: 10)
        #expect(try store.deleteConversations(updatedBefore: 20) == 1)
        #expect(try store.conversation(id: c.id) == nil)
        #expect(try store.conversation(id: b.id) != nil)
        // Deleting the knowledge base deletes its conversations.
        try store.deleteKnowledgeBase(id: kb.id)
        #expect(try store.conversation(id: b.id) == nil)
        #expect(try store.conversations(ConversationQuery()).isEmpty)
    }

    @Test func filtersAndPagingOverTenThousand() throws {
        let (scratch, store) = try makeStore()
        defer { scratch.remove() }
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let other = try store.createKnowledgeBase(name: "other", settings: .default)
        // 10,000 conversations of one key, several with the same update time (the cursor breaks ties by id).
        for i in 0..<10_000 {
            _ = try store.createConversation(
                kb: kb.id, title: "q\(i)", caller: .key(id: 3, name: "agent"), at: Double(i / 3))
        }
        let o = try store.createConversation(kb: other.id, title: "other", caller: .admin, at: 5)
        _ = try store.appendTurn(turn(o.id, "x", found: false, at: 5))
        var query = ConversationQuery()
        query.knowledgeBaseIDs = [kb.id]
        query.callerKeyID = 3
        query.limit = 200
        var seen: [Int64] = []
        while true {
            let page = try store.conversations(query)
            #expect(page.count <= 200)
            seen += page.map(\.id)
            guard page.count == query.limit, let last = page.last else { break }
            query.after = (last.updatedAt, last.id)
        }
        #expect(seen.count == 10_000)
        #expect(Set(seen).count == 10_000)
        #expect(!seen.contains(o.id))
        // Filters: not found, thumbs down, dates (all in one turn), and an empty KB list.
        var f = ConversationQuery()
        f.notFound = true
        #expect(try store.conversations(f).map(\.id) == [o.id])
        f.thumbsDown = true
        #expect(try store.conversations(f).isEmpty)
        var d = ConversationQuery()
        d.from = 5
        d.to = 6
        #expect(try store.conversations(d).map(\.id) == [o.id])
        d.from = 6
        #expect(try store.conversations(d).isEmpty)
        var none = ConversationQuery()
        none.knowledgeBaseIDs = []
        #expect(try store.conversations(none).isEmpty)
        var rows: [(Int64, String)] = []
        try store.forEachTurn(ConversationQuery()) { c, t in rows.append((c.id, t.turn.question)) }
        #expect(rows.count == 1 && rows[0].0 == o.id)
    }
}
