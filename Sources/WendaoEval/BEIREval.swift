public import Foundation
public import WendaoCore
public import WendaoApp
import WendaoRAG

/// Retrieval metrics on a BEIR-format directory.
public struct BEIRReport: Sendable, Codable {
    /// Queries with relevance judgements.
    public var queries: Int
    /// Corpus documents.
    public var documents: Int
    /// nDCG@10.
    public var ndcgAt10: Double
    /// Recall@10.
    public var recallAt10: Double
    /// Recall@100.
    public var recallAt100: Double
    /// MRR@10.
    public var mrrAt10: Double
    /// Seconds to build the knowledge base.
    public var indexSeconds: Double
    /// Queries per second.
    public var queriesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case queries, documents, ndcgAt10 = "ndcg@10", recallAt10 = "recall@10", recallAt100 = "recall@100"
        case mrrAt10 = "mrr@10", indexSeconds = "index_seconds", queriesPerSecond = "queries_per_second"
    }
}

/// Evaluates retrieval on a BEIR directory (`corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`).
public enum BEIREvaluator {
    static func jsonLines(_ url: URL) throws -> [[String: Any]] {
        guard let data = try? Data(contentsOf: url) else {
            throw WendaoError(.unreadable, "cannot read \(url.path)")
        }
        var out: [[String: Any]] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw WendaoError(.unreadable, "\(url.lastPathComponent) line \(i + 1): invalid JSON")
            }
            out.append(obj)
        }
        return out
    }

    static func idString(_ v: Any?) -> String? {
        if let s = v as? String { return s }
        if let n = v as? NSNumber { return n.stringValue }
        return nil
    }

    /// Runs the evaluation. Each corpus document becomes one knowledge-base document; its score
    /// for a query is that of its best chunk.
    ///
    /// `embedders` resolves `settings.embedder` (a local model or a provider's, e.g.
    /// `dashscope:text-embedding-v3`).
    public static func run(
        directory: URL, settings: KnowledgeBaseSettings, workDirectory: URL,
        embedders: any EmbedderProvider = EmbedderRegistry()
    ) throws -> BEIRReport {
        let corpus = try jsonLines(directory.appendingPathComponent("corpus.jsonl"))
        let queries = try jsonLines(directory.appendingPathComponent("queries.jsonl"))
        let qrelsURL = directory.appendingPathComponent("qrels/test.tsv")
        guard let qrelsText = try? String(contentsOf: qrelsURL, encoding: .utf8) else {
            throw WendaoError(.unreadable, "cannot read \(qrelsURL.path)")
        }
        var qrels: [String: [String: Int]] = [:]
        for (i, line) in qrelsText.split(separator: "\n").enumerated() {
            let f = line.split(separator: "\t").map(String.init)
            if f.count < 3 || (i == 0 && Int(f[2]) == nil) { continue }
            if let g = Int(f[2]), g > 0 { qrels[f[0], default: [:]][f[1]] = g }
        }
        let library = try Library(directory: workDirectory, embedders: embedders)
        let kbName = "eval-beir"
        if (try? library.record(kbName)) != nil { try library.delete(kbName) }
        try library.create(kbName, settings: settings)
        let kb = try library.open(kbName)
        let t0 = Date()
        var docs: [(document: LoadedDocument, contentHash: String)] = []
        for obj in corpus {
            guard let id = idString(obj["_id"]) else { continue }
            let title = obj["title"] as? String ?? ""
            let text = obj["text"] as? String ?? ""
            let paragraphs = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            let doc = LoadedDocument(
                path: id, title: title, format: .text, blocks: paragraphs.map { Block(kind: .paragraph, text: $0) })
            if !doc.blocks.isEmpty { docs.append((doc, id)) }
        }
        try kb.add(docs)
        try kb.saveIndex()
        try kb.syncVectors()  // dense vectors when the settings name an embedder
        let indexSeconds = Date().timeIntervalSince(t0)
        var ndcg = 0.0
        var r10 = 0.0
        var r100 = 0.0
        var mrr = 0.0
        var n = 0
        let t1 = Date()
        for q in queries {
            guard let qid = idString(q["_id"]), let rel = qrels[qid], let text = q["text"] as? String else { continue }
            n += 1
            let hits = try searchOrNothing(kb, text, topK: 150)
            var ranked: [String] = []
            var seen = Set<String>()
            for h in hits where seen.insert(h.document).inserted {
                ranked.append(h.document)
                if ranked.count == 100 { break }
            }
            var dcg = 0.0
            for (i, d) in ranked.prefix(10).enumerated() {
                if let g = rel[d] { dcg += (pow(2, Double(g)) - 1) / log2(Double(i) + 2) }
            }
            let ideal = rel.values.sorted(by: >).prefix(10).enumerated().reduce(0.0) {
                $0 + (pow(2, Double($1.element)) - 1) / log2(Double($1.offset) + 2)
            }
            ndcg += ideal > 0 ? dcg / ideal : 0
            r10 += Double(ranked.prefix(10).filter { rel[$0] != nil }.count) / Double(rel.count)
            r100 += Double(ranked.prefix(100).filter { rel[$0] != nil }.count) / Double(rel.count)
            if let r = ranked.prefix(10).firstIndex(where: { rel[$0] != nil }) { mrr += 1.0 / Double(r + 1) }
        }
        let qs = Date().timeIntervalSince(t1)
        try? library.delete(kbName)
        let d = Double(max(n, 1))
        return BEIRReport(
            queries: n, documents: corpus.count, ndcgAt10: ndcg / d, recallAt10: r10 / d, recallAt100: r100 / d,
            mrrAt10: mrr / d, indexSeconds: indexSeconds, queriesPerSecond: Double(n) / max(qs, 1e-9))
    }
}
