import Foundation
import Logging
import Testing
import WendaoApp
import WendaoCore
import WendaoPostgres
import WendaoRAG
import WendaoTestSupport

/// Two "servers" (two libraries, each with its own data directory for index caches) over one
/// PostgreSQL database: what one writes, the other searches once caught up; a new server with an
/// empty disk catches up on its own; both give identical results.
@Suite(.enabled(if: PostgresTestCluster.isAvailable, "PostgreSQL (initdb) is not installed"))
struct SharedLibraryTests {
    /// A library over the database at `url` with a data directory of its own.
    private func server(_ url: String, _ scratch: ScratchDirectory, _ name: String) throws -> Library {
        let environment = [Library.databaseURLVariable: url]
        let directory = scratch.child(name)
        return try Library(
            directory: directory,
            store: try Library.openStore(directory: directory, environment: environment, logger: Logger(label: "test")),
            embedders: EmbedderRegistry())
    }

    @Test("A write through one server is searchable through another; deletes follow; a new server catches up")
    func writeHereSearchThere() throws {
        let cluster = try #require(PostgresTestCluster.shared)
        let url = cluster.url(database: try cluster.makeDatabase())
        let scratch = try ScratchDirectory("shared")
        defer { scratch.remove() }
        let a = try server(url, scratch, "a")
        let b = try server(url, scratch, "b")
        try a.create("客服")
        let docs = try scratch.makeFolder("docs")
        try scratch.write("docs/运费.md", "# 运费\n\n首重 12 元，续重每公斤 5 元。\n")
        try scratch.write("docs/保价.md", "# 保价\n\n保价费率为声明价值的 0.5%，最低 1 元。\n")
        let kbA = try a.open("客服")
        _ = try kbA.ingest([docs.path])
        // A folder's documents are named by their path under its parent (docs/…), a file by its name.
        // B opens the knowledge base for the first time: its disk has no index; it builds one.
        let kbB = try b.open("客服")
        #expect(try kbB.search("保价费率").first?.document == "docs/保价.md")
        #expect(try kbA.search("首重").map(\.chunkID) == kbB.search("首重").map(\.chunkID))
        // A new document through A: B's next opening (as the server does when the generation moves)
        // catches up from the change log.
        try scratch.write("docs/时效.md", "# 时效\n\n同城次日达，省内两天。\n")
        _ = try kbA.ingest([docs.appendingPathComponent("时效.md").path])
        let reopened = try b.open("客服")
        #expect(try reopened.search("同城次日达").first?.document == "时效.md")
        // A delete through B is gone from A's next opening.
        _ = try reopened.deleteDocuments(["docs/运费.md"])
        let again = try a.open("客服")
        #expect(try again.search("首重").allSatisfy { $0.document != "docs/运费.md" })
        // A third server with an empty disk gives the same results.
        let c = try server(url, scratch, "c")
        let kbC = try c.open("客服")
        for q in ["保价费率", "同城次日达", "首重"] {
            #expect(try kbC.search(q).map(\.chunkID) == again.search(q).map(\.chunkID), "\(q)")
        }
        #expect(try kbC.doctor().problems.isEmpty)
    }

    @Test("Another server writing in the middle of an ingest: both writes end up in every index")
    func interleavedWriters() throws {
        let cluster = try #require(PostgresTestCluster.shared)
        let url = cluster.url(database: try cluster.makeDatabase())
        let scratch = try ScratchDirectory("interleaved")
        defer { scratch.remove() }
        let a = try server(url, scratch, "a")
        let b = try server(url, scratch, "b")
        try a.create("kb")
        try scratch.write("a/一.md", "# 一\n\n苹果的价格是五元。\n")
        try scratch.write("a/二.md", "# 二\n\n香蕉的价格是三元。\n")
        try scratch.write("b/三.md", "# 三\n\n橙子的价格是四元。\n")
        let kbA = try a.open("kb")
        let kbB = try b.open("kb")
        var wroteB = false
        _ = try kbA.ingest([scratch.child("a").path]) { event in
            // After A's first file, server B commits a document of its own.
            if case .file = event, !wroteB {
                wroteB = true
                _ = try? kbB.ingest([scratch.child("b").path])
            }
        }
        #expect(wroteB)
        for library in [a, b] {
            let kb = try library.open("kb")
            for (q, doc) in [("苹果", "a/一.md"), ("香蕉", "a/二.md"), ("橙子", "b/三.md")] {
                #expect(try kb.search(q).first?.document == doc, "\(q)")
            }
        }
    }

    @Test("A SQLite data directory copied into PostgreSQL answers the same")
    func copyFromSQLite() throws {
        let cluster = try #require(PostgresTestCluster.shared)
        let url = cluster.url(database: try cluster.makeDatabase())
        let scratch = try ScratchDirectory("copy")
        defer { scratch.remove() }
        let local = try Library(directory: scratch.child("sqlite"))
        try local.create("客服")
        try scratch.write("docs/运费.md", "# 运费\n\n首重 12 元，续重每公斤 5 元。\n\n## 偏远\n\n新疆西藏另加 10 元。\n")
        let kb = try local.open("客服")
        _ = try kb.ingest([scratch.child("docs").path])
        let first = try #require(try kb.search("新疆").first)
        _ = try local.store.setChunkEnabled(kb: kb.record.id, id: first.chunkID, enabled: false)
        _ = try local.store.createAPIKey(
            name: "bot", prefix: "wd_abc", hash: "hash-bot", scope: .read, knowledgeBaseIDs: [kb.record.id])
        let c = try local.store.createConversation(kb: kb.record.id, title: "首重", caller: .admin, at: 10)
        _ = try local.store.appendTurn(
            NewTurn(
                conversationID: c.id, question: "首重", answer: "12 元", found: true, mode: "extractive", createdAt: 11))
        let shared = try PostgresStore(url: url)
        defer { shared.close() }
        let summary = try StoreCopy.copy(from: local.store, to: shared)
        #expect(summary.knowledgeBases == ["客服"] && summary.documents == 1 && summary.apiKeys == 1)
        #expect(summary.conversations == 1)
        // Copying again is refused before anything is written.
        #expect(thrownWendaoError { _ = try StoreCopy.copy(from: local.store, to: shared) }?.code == .alreadyExists)
        let server = try self.server(url, scratch, "server")
        let copied = try server.open("客服")
        let original = try local.open("客服")
        #expect(try copied.search("首重").map(\.text) == original.search("首重").map(\.text))
        #expect(try copied.search("新疆").map(\.text) == original.search("新疆").map(\.text))
        let doc = try #require(try shared.documents(kb: copied.record.id).first)
        #expect(try shared.chunks(document: doc.id, offset: 0, limit: 100).filter { !$0.enabled }.count == 1)
        let key = try #require(try shared.apiKey(hash: "hash-bot"))
        #expect(key.knowledgeBaseIDs == [copied.record.id])
        #expect(try shared.conversations(ConversationQuery()).first?.turnCount == 1)
        #expect(try copied.doctor().problems.isEmpty)
    }
}
