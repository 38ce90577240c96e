public import Foundation
public import WendaoCore
public import WendaoApp
import WendaoIndex
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
    ///
    /// With `details`, one JSON line per question is written there: the question, its gold answers and,
    /// for every retrieval mode the knowledge base can use, the rank of the first chunk holding an
    /// answer (null past 10) and whether the packed context holds one — for error analysis.
    public static func run(
        file: URL, budgetChars: Int, topK: Int, settings: KnowledgeBaseSettings, workDirectory: URL,
        embedders: any EmbedderProvider = EmbedderRegistry(), details: URL? = nil
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
        var detailLines: [Data] = []
        for (q, answers) in questions {
            if details != nil { detailLines.append(detailLine(kb, q, answers, k: k, topK: topK, budget: budgetChars)) }
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
        if let details {
            var out = Data()
            for line in detailLines { out.append(line); out.append(0x0A) }
            try out.write(to: details, options: .atomic)
        }
        let n = Double(max(questions.count, 1))
        try? library.delete(kbName)
        return SQuADReport(
            questions: questions.count, documents: parsed.data.count, chunks: chunks, budgetChars: budgetChars,
            contextHit: Double(contextHits) / n, hitAt1: Double(hit1) / n, hitAt5: Double(hit5) / n, mrrAt10: mrr / n,
            indexSeconds: indexSeconds, queriesPerSecond: Double(questions.count) / max(querySeconds, 1e-9),
            chunkSize: settings.chunkSize)
    }

    struct Detail: Encodable {
        struct ModeResult: Encodable {
            var rank: Int?
            var contextHit: Bool
            var top: [Int64]
            enum CodingKeys: String, CodingKey { case rank, contextHit = "context_hit", top }
        }
        var question: String
        var answers: [String]
        var modes: [String: ModeResult]
        /// BM25 and dense candidates as [id, score], best first (with an embedder).
        var lexical: [[Double]]?
        var dense: [[Double]]?
        /// Per candidate id: [document id, start, end, holds an answer (1/0)].
        var candidates: [String: [Int64]]?
        /// The query's BM25 score bound.
        var lexicalBound: Double?
    }

    static func detailLine(_ kb: KnowledgeBase, _ q: String, _ answers: [String], k: Int, topK: Int, budget: Int)
        -> Data
    {
        var modes: [String: Detail.ModeResult] = [:]
        let available: [RetrievalMode] = kb.defaultRetrievalMode == .bm25 ? [.bm25] : RetrievalMode.allCases
        for mode in available {
            let hits = (try? kb.search(q, topK: k, mode: mode)) ?? []
            let rank = hits.prefix(10).firstIndex { h in answers.contains { h.text.contains($0) } }.map { $0 + 1 }
            let context = ContextPacker.contextText(ContextPacker.pack(Array(hits.prefix(topK)), budget: budget))
            modes[mode.rawValue] = Detail.ModeResult(
                rank: rank, contextHit: answers.contains { context.contains($0) }, top: hits.prefix(5).map(\.chunkID))
        }
        var detail = Detail(question: q, answers: answers, modes: modes)
        if available.count > 1, let lists = try? kb.candidateLists(q, pool: 100) {
            detail.lexical = lists.lexical.map { [Double($0.id), Double($0.score)] }
            detail.dense = lists.dense.map { [Double($0.id), Double($0.score)] }
            detail.lexicalBound = Double(lists.lexicalBound)
            var seen = Set<Int64>()
            let ids = (lists.lexical + lists.dense).map(\.id).filter { seen.insert($0).inserted }
            let hits = (try? kb.hits(ids.map { ($0, 0) })) ?? []
            detail.candidates = Dictionary(
                uniqueKeysWithValues: hits.map { h in
                    (
                        String(h.chunkID),
                        [h.documentID, Int64(h.start), Int64(h.end), answers.contains { h.text.contains($0) } ? 1 : 0]
                    )
                })
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(detail)) ?? Data()
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
