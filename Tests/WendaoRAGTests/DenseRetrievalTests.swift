import Foundation
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
import WendaoEmbed
import WendaoIndex
import WendaoText
import WendaoRAG

/// Dense and hybrid retrieval through a knowledge base, with the real multilingual-e5-small model
/// (pulled by scripts/test.sh with `wendao models pull e5-small`).
@Suite struct DenseRetrievalTests {
    static func requireModel() throws {
        let known = try #require(EmbedderCatalog.known("e5-small"))
        try #require(
            EmbedderCatalog.installed(known) != nil,
            "e5-small is not pulled: run `wendao models pull e5-small` (scripts/test.sh does)")
    }

    @Test func paraphrasesAndOtherLanguagesAreFoundByMeaning() throws {
        try Self.requireModel()
        let scratch = try ScratchDirectory("dense")
        defer { scratch.remove() }
        try scratch.write("docs/battery.md", "# 锂电池寄递须知\n\n锂电池属于限运品，航空运输受严格限制，充电宝不能随航空件寄递，只能走陆运。\n")
        try scratch.write("docs/insurance.md", "# 保价服务\n\n保价费按声明价值的百分之一收取，最低一元。\n")
        try scratch.write("docs/cold.md", "# 冷链\n\n冷藏件全程保持二到八摄氏度。\n")
        try scratch.write("docs/hours.md", "# Opening hours\n\nThe depot opens at 8 am and closes at 10 pm every day.\n")
        let library = try Library(directory: scratch.child("data"))
        var settings = KnowledgeBaseSettings.default
        settings.embedder = "e5-small"
        try library.create("kb", settings: settings)
        let kb = try library.open("kb")
        var events: [(Int, Int)] = []
        let summary = try kb.ingest([scratch.child("docs").path]) { e in
            if case .embedding(let done, let total) = e { events.append((done, total)) }
        }
        #expect(summary.failed == 0)
        #expect(events.last.map { $0.0 == $0.1 && $0.1 == kb.chunkCount } == true, "\(events)")
        #expect(kb.defaultRetrievalMode == .hybrid)

        // English question, Chinese document, no shared words: dense and hybrid find it by meaning;
        // BM25 too since English words are also searched through their Chinese renderings
        // ("power bank" → 充电宝; it found nothing before).
        let question = "Can I send a power bank by air?"
        try #require(BilingualGlossary.isAvailable, "no glossary at \(BilingualGlossary.file().path): run scripts/make-glossary.py")
        #expect(try kb.search(question, topK: 1, mode: .dense).first?.document == "docs/battery.md")
        #expect(try kb.search(question, topK: 1, mode: .hybrid).first?.document == "docs/battery.md")
        #expect(try kb.search(question, topK: 1, mode: .bm25).first?.document == "docs/battery.md")
        // A paraphrase in the same language.
        #expect(try kb.search("冷冻食品运输时温度是多少", topK: 1, mode: .dense).first?.document == "docs/cold.md")

        // Deleting a document drops its vectors; a later ingest embeds only what is new.
        _ = try kb.deleteDocuments(["docs/cold.md"])
        #expect(try kb.search("冷藏温度", topK: 5, mode: .dense).allSatisfy { $0.document != "docs/cold.md" })
        try scratch.write("docs/cold.md", "# 冷链\n\n冷藏件全程保持二到八摄氏度。\n")
        events = []
        _ = try kb.ingest([scratch.child("docs").path]) { e in
            if case .embedding(let done, let total) = e { events.append((done, total)) }
        }
        #expect(events.last?.1 == 1, "only the re-added chunk is embedded: \(events)")
    }

    @Test(.tags(.slow), .timeLimit(.minutes(3))) func chunksAreEmbeddedWhileLaterFilesAreStillBeingRead() async throws {
        try Self.requireModel()
        // Seconds of embedding: off the two-thread concurrency pool, so async tests are not starved.
        let r = try await offConcurrencyPool { try Self.pipelineScenario() }
        #expect(r.failed == 0 && r.added == 24)
        // Embedding was under way (chunks handed over and reported) before the last file was read.
        let lastFile = try #require(r.order.lastIndex(of: "file"))
        #expect(r.order.prefix(lastFile).contains("embedding"), "\(r.order)")
        #expect(r.embeddingTotals.contains { $0 > 0 && $0 < r.chunks }, "\(r.embeddingTotals)")
        // Every chunk has its vector, saved: a fresh process finds nothing left to embed.
        #expect(r.leftToEmbed == 0)
        #expect(r.denseHits == 3)
    }

    struct PipelineRun: Sendable {
        var failed: Int
        var added: Int
        var order: [String]
        var embeddingTotals: [Int]
        var chunks: Int
        var leftToEmbed: Int
        var denseHits: Int
    }

    static func pipelineScenario() throws -> PipelineRun {
        let scratch = try ScratchDirectory("dense-pipeline")
        defer { scratch.remove() }
        // 24 files of 6 short sections each: well over one embedding batch (64 chunks).
        for f in 0..<24 {
            let sections = (0..<6).map { s in
                "## 第\(s + 1)节\n\n网点\(f)的第\(s + 1)条服务说明：工作日九点到十八点营业，周末另行通知，编号\(f * 10 + s)。"
            }
            try scratch.write("docs/f\(f).md", "# 网点\(f)\n\n" + sections.joined(separator: "\n\n") + "\n")
        }
        let library = try Library(directory: scratch.child("data"))
        var settings = KnowledgeBaseSettings.default
        settings.embedder = "e5-small"
        try library.create("kb", settings: settings)
        let kb = try library.open("kb")
        var order: [String] = []
        var embeddingTotals: [Int] = []
        let summary = try kb.ingest([scratch.child("docs").path]) { e in
            switch e {
            case .file: order.append("file")
            case .embedding(_, let total):
                order.append("embedding")
                embeddingTotals.append(total)
            case .planned: break
            }
        }
        let reopened = try Library(directory: scratch.child("data")).open("kb")
        let left = try reopened.syncVectors()
        let dense = try reopened.search("网点营业时间", topK: 3, mode: .dense).count
        return PipelineRun(
            failed: summary.failed, added: summary.added, order: order, embeddingTotals: embeddingTotals,
            chunks: kb.chunkCount, leftToEmbed: left, denseHits: dense)
    }

    @Test func aChangedEmbedderIsAClearErrorUntilReindex() throws {
        try Self.requireModel()
        let scratch = try ScratchDirectory("dense-switch")
        defer { scratch.remove() }
        try scratch.write("docs/a.md", "# 保价\n\n保价费按声明价值的百分之一收取。\n")
        let library = try Library(directory: scratch.child("data"))
        var settings = KnowledgeBaseSettings.default
        settings.embedder = "e5-small"
        try library.create("kb", settings: settings)
        _ = try library.open("kb").ingest([scratch.child("docs").path])

        // The vectors file is stamped with the model that made it; another model is refused, not mixed.
        let vec = scratch.child("data/indexes/kb-1.vec")
        #expect(FileManager.default.fileExists(atPath: vec.path))
        let stamp = try VectorIndex.stamp(path: vec.path)
        #expect(stamp.embedder == "e5-small-q4" && stamp.dimension == 384)

        let kb = try library.open("kb")
        var other = kb.record.settings
        other.embedder = "minilm"
        try #require(
            EmbedderCatalog.installed(try #require(EmbedderCatalog.known("minilm"))) != nil,
            "minilm is not pulled: run `wendao models pull minilm` (scripts/test.sh does)")
        try kb.updateSettings(other)
        let error = thrownWendaoError { _ = try kb.search("保价费", topK: 3, mode: .dense) }
        #expect(error?.message.contains("wendao reindex") == true, "\(String(describing: error))")
        try kb.rebuildVectors()
        #expect(try kb.search("保价费", topK: 1, mode: .dense).first?.document == "docs/a.md")
    }
}
