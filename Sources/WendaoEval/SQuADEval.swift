public import Foundation
import WendaoCore
import WendaoRAG
import WendaoText

/// Retrieval metrics on a SQuAD v1.1-format file.
public struct SQuADReport: Sendable, Codable {
    /// Questions evaluated.
    public var questions: Int
    /// Articles (documents).
    public var documents: Int
    /// Chunks indexed.
    public var chunks: Int
    /// Context budget in characters.
    public var budgetChars: Int
    /// Share of questions whose gold answer occurs in the packed context.
    public var contextHit: Double
    /// Share whose top chunk contains a gold answer.
    public var hitAt1: Double
    /// Share with a gold answer in the top 5 chunks.
    public var hitAt5: Double
    /// Mean reciprocal rank of the first chunk with a gold answer (cut at 10).
    public var mrrAt10: Double
    /// Seconds to build the knowledge base (chunk, store, index).
    public var indexSeconds: Double
    /// Questions answered per second (retrieval and packing, one at a time).
    public var queriesPerSecond: Double
    /// Chunk size used.
    public var chunkSize: Int

    enum CodingKeys: String, CodingKey {
        case questions, documents, chunks, budgetChars = "budget_chars", contextHit = "context_hit", hitAt1 = "hit@1"
        case hitAt5 = "hit@5", mrrAt10 = "mrr@10", indexSeconds = "index_seconds"
        case queriesPerSecond = "queries_per_second", chunkSize = "chunk_size"
    }
}

/// Evaluates retrieval on SQuAD-format files.
public enum SQuADEvaluator {
    struct File: Decodable {
        struct Article: Decodable {
            var title: String?
            var paragraphs: [Paragraph]
        }
        struct Paragraph: Decodable {
            var context: String
            var qas: [QA]
        }
        struct QA: Decodable {
            var question: String
            var answers: [AnswerText]
        }
        struct AnswerText: Decodable {
            var text: String
        }
        var data: [Article]
    }

    /// Builds a temporary knowledge base (one document per article, paragraphs joined by blank
    /// lines, chunked by our chunker) and measures retrieval. `embedders` resolves
    /// `settings.embedder` (a local model or a provider's, e.g. `dashscope:text-embedding-v3`).
    public static func run(
        file: URL, budgetChars: Int, topK: Int, settings: KnowledgeBaseSettings, workDirectory: URL,
        embedders: EmbedderRegistry = EmbedderRegistry()
    ) throws -> SQuADReport {
        let parsed: File
        do {
            parsed = try JSONDecoder().decode(File.self, from: Data(contentsOf: file))
        } catch {
            throw WendaoError(.unreadable, "\(file.path): not a SQuAD v1.1 JSON file (\(error.localizedDescription))")
        }
        let library = try Library(directory: workDirectory, embedders: embedders)
        let kbName = "eval-squad"
        if (try? library.record(kbName)) != nil { try library.delete(kbName) }
        try library.create(kbName, settings: settings)
        let kb = try library.open(kbName)
        let t0 = Date()
        var questions: [(String, [String])] = []
        var chunks = 0
        var docs: [(document: LoadedDocument, contentHash: String)] = []
        for (i, article) in parsed.data.enumerated() {
            let blocks = article.paragraphs.map { Block(kind: .paragraph, text: $0.context) }
            let title = article.title ?? "article \(i + 1)"
            docs.append(
                (LoadedDocument(path: "article-\(i + 1)", title: title, format: .text, blocks: blocks), "squad-\(i)"))
            for p in article.paragraphs {
                for qa in p.qas { questions.append((qa.question, qa.answers.map(\.text).filter { !$0.isEmpty })) }
            }
        }
        chunks = try kb.add(docs)
        try kb.saveIndex()
        try kb.syncVectors()  // dense vectors when the settings name an embedder
        let indexSeconds = Date().timeIntervalSince(t0)
        var contextHits = 0
        var hit1 = 0
        var hit5 = 0
        var mrr = 0.0
        let k = max(topK, 10)
        let t1 = Date()
        for (q, answers) in questions {
            let hits = try searchOrNothing(kb, q, topK: k)
            if let r = hits.firstIndex(where: { h in answers.contains { h.text.contains($0) } }) {
                if r == 0 { hit1 += 1 }
                if r < 5 { hit5 += 1 }
                if r < 10 { mrr += 1.0 / Double(r + 1) }
            }
            let packed = ContextPacker.pack(Array(hits.prefix(topK)), budget: budgetChars)
            let context = ContextPacker.contextText(packed)
            if answers.contains(where: { context.contains($0) }) { contextHits += 1 }
        }
        let querySeconds = Date().timeIntervalSince(t1)
        let n = Double(max(questions.count, 1))
        try? library.delete(kbName)
        return SQuADReport(
            questions: questions.count, documents: parsed.data.count, chunks: chunks, budgetChars: budgetChars,
            contextHit: Double(contextHits) / n, hitAt1: Double(hit1) / n, hitAt5: Double(hit5) / n, mrrAt10: mrr / n,
            indexSeconds: indexSeconds, queriesPerSecond: Double(questions.count) / max(querySeconds, 1e-9),
            chunkSize: settings.chunkSize)
    }
}

/// The hits for `query`, or none when the query itself is unusable (no searchable words); any other
/// failure (a remote embedder down, a vector file from another model) stops the evaluation instead
/// of silently counting as misses.
func searchOrNothing(_ kb: KnowledgeBase, _ query: String, topK: Int) throws -> [SearchHit] {
    do {
        return try kb.search(query, topK: topK)
    } catch let e as WendaoError where e.code == .invalidArgument && !e.message.contains("reindex") {
        return []
    }
}
