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

    /// A deterministic embedder for the tests: each word (and each CJK character) hashed into one
    /// of 48 dimensions, counted, the vector then made unit length.
    struct HashingEmbedder: TextEmbedder {
        var id: String { "hash-48" }
        var knownDimension: Int? { 48 }

        static func vector(_ text: String) -> [Float] {
            var v = [Float](repeating: 0, count: 48)
            for word in text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }) {
                let units = word.unicodeScalars.contains { $0.value > 0x2E80 } ? word.map(String.init) : [String(word)]
                for u in units {
                    var h: UInt32 = 2_166_136_261
                    for b in u.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
                    v[Int(h % 48)] += 1
                }
            }
            // Unit length, as every embedder gives them (the local index scores by dot product).
            let norm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? v.map { $0 / norm } : v
        }

        func embed(_ texts: [String], as kind: EmbeddingKind) async throws -> EmbeddingResult {
            try embedBlocking(texts, as: kind)
        }

        func embedBlocking(_ texts: [String], as kind: EmbeddingKind) throws -> EmbeddingResult {
            EmbeddingResult(
                vectors: texts.map(Self.vector), tokenCount: texts.count,
                truncated: [Bool](repeating: false, count: texts.count))
        }
    }

    /// Knows `hash-48` only.
    struct HashingProvider: EmbedderProvider {
        func open(_ spec: String) throws -> any TextEmbedder {
            guard spec == "hash-48" else { throw WendaoError(.invalidArgument, "unknown embedder '\(spec)'") }
            return HashingEmbedder()
        }
    }

    @Test("Dense and hybrid search in pgvector return the same hits as each server's own vector index")
    func pgvectorMatchesLocal() throws {
        let cluster = try #require(PostgresTestCluster.shared)
        let database = try cluster.makeDatabase()
        let url = cluster.url(database: database)
        let scratch = try ScratchDirectory("pgvector-mode")
        defer { scratch.remove() }
        func library(_ name: String, _ search: VectorSearchSettings) throws -> Library {
            let directory = scratch.child(name)
            let store = try Library.openStore(
                directory: directory, environment: [Library.databaseURLVariable: url], logger: Logger(label: "test"))
            return try Library(
                directory: directory, store: store, embedders: HashingProvider(), vectorSearch: search)
        }
        let local = try library("local", .local)
        let pgvector: Library
        do {
            pgvector = try library("pgvector", VectorSearchSettings(mode: .pgvector, efSearch: 100))
        } catch let e as WendaoError where e.code == .unsupported {
            // No pgvector in this PostgreSQL: the error says so; with WENDAO_REQUIRE_PGVECTOR=1 it fails.
            #expect(e.message.contains("pgvector"), "\(e.message)")
            if ProcessInfo.processInfo.environment["WENDAO_REQUIRE_PGVECTOR"] == "1" {
                Issue.record("WENDAO_REQUIRE_PGVECTOR=1 but the database has no pgvector: \(e.message)")
            }
            return
        }
        var settings = KnowledgeBaseSettings.default
        settings.embedder = "hash-48"
        try local.create("物流", settings: settings)
        let topics = [
            "首重 收费 十二 元", "续重 每 公斤 三 元", "保价 费率 百分之一", "偏远 地区 另加 十 元",
            "lithium battery travels by road only", "chilled parcels stay cold in the fridge",
            "the depot opens at eight in the morning", "returns within seven days of delivery",
            "customer hotline answers from eight to ten", "oversized parcels need a forklift",
        ]
        for (i, t) in topics.enumerated() {
            try scratch.write("docs/d\(i).md", "# 第\(i)篇\n\n\(t)。\n\n## 附注 \(i)\n\n\(topics[(i * 3 + 1) % topics.count]) \(i) 号。\n")
        }
        _ = try local.open("物流").ingest([scratch.child("docs").path])
        let kbLocal = try local.open("物流")
        let kbPG = try pgvector.open("物流")
        // A server with an empty disk searching locally: the vectors the first server stored are
        // loaded into its own index (not embedded again), so it answers the same.
        let kbFresh = try library("fresh", .local).open("物流")
        // Hits as (id, score to 4 decimals), best first, equal scores by id: hashed word counts tie
        // often, and which of two equal hits comes first is not a difference.
        func ranked(_ hits: [SearchHit]) -> [String] {
            hits.map { (id: $0.chunkID, score: ($0.score * 10_000).rounded()) }
                .sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
                .map { "\($0.id):\(Int($0.score))" }
        }
        var compared = 0
        for q in ["首重 多少 钱", "battery by road", "cold fridge parcels", "hotline hours", "保价 费率", "forklift"] {
            for mode in [RetrievalMode.dense, .hybrid] {
                // Every chunk (the knowledge base has fewer than 50), so that no tie is cut in two.
                let a = try kbLocal.search(q, topK: 50, mode: mode)
                let b = try kbPG.search(q, topK: 50, mode: mode)
                #expect(a.count >= 10, "\(q) \(mode)")
                #expect(ranked(b) == ranked(a), "\(q) \(mode)")
                #expect(ranked(try kbFresh.search(q, topK: 50, mode: mode)) == ranked(a), "\(q) \(mode) (fresh)")
                // The best five by score are the same chunks.
                #expect(Set(ranked(a).prefix(5)) == Set(ranked(b).prefix(5)), "\(q) \(mode)")
                compared += a.count
            }
        }
        #expect(compared >= 120)
        // The search went through the database: the knowledge base's HNSW index now exists.
        let indexName = "chunk_vector_hnsw_kb\(kbPG.record.id)_d48"
        #expect(
            try cluster.psql(
                "SELECT count(*) FROM pg_indexes WHERE indexname = '\(indexName)'", database: database
            ).trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        // pgvector over the SQLite store is a clear error, not a silent fallback.
        let sqlite = thrownWendaoError {
            _ = try Library(
                directory: scratch.child("sqlite"), store: try Library.openSQLiteStore(directory: scratch.child("sqlite")),
                embedders: HashingProvider(), vectorSearch: VectorSearchSettings(mode: .pgvector))
        }
        #expect(sqlite?.code == .invalidArgument && sqlite?.message.contains("PostgreSQL") == true)
    }

    @Test("Vector search settings: local, pgvector, pgvector:EF; anything else a clear error")
    func vectorSearchSettings() throws {
        #expect(try VectorSearchSettings(parsing: "local", source: "t") == .local)
        #expect(try VectorSearchSettings(parsing: " PGVector ", source: "t") == VectorSearchSettings(mode: .pgvector))
        #expect(try VectorSearchSettings(parsing: "pgvector:200", source: "t").efSearch == 200)
        for bad in ["faiss", "pgvector:0", "pgvector:1001", "pgvector:x", "local:100", ""] {
            let e = thrownWendaoError { _ = try VectorSearchSettings(parsing: bad, source: "WENDAO_VECTOR_SEARCH") }
            #expect(e?.code == .invalidArgument && e?.message.contains("WENDAO_VECTOR_SEARCH") == true, "\(bad)")
        }
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
