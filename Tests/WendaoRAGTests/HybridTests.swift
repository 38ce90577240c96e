import Foundation
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
import WendaoEmbed
import WendaoIndex
import WendaoRAG
import WendaoText

/// Confidence-weighted hybrid fusion, the BM25 score bound, the fusion setting and answers from
/// dense evidence.
@Suite struct HybridTests {
    private static func ids(_ pairs: [(Int64, Float)]) -> [ScoredID] { pairs.map { ScoredID(id: $0.0, score: $0.1) } }

    @Test("a confident lexical match keeps BM25's order; a weak one is ordered by meaning")
    func boundWeightedFusionFollowsLexicalConfidence() {
        let dense = Self.ids([(3, 0.92), (5, 0.90), (1, 0.80)])
        // BM25 matches almost the whole query (top score 9 of a possible 10): its order stands.
        let strong = Fusion.boundWeighted(
            dense: dense, sparse: Self.ids([(1, 9), (2, 6), (4, 5)]), sparseBound: 10, alpha: 0.1)
        #expect(strong.map(\.id).prefix(2) == [1, 2])
        // The same BM25 order but a tenth of the bound (a question in other words): dense decides.
        let weak = Fusion.boundWeighted(
            dense: dense, sparse: Self.ids([(1, 0.9), (2, 0.6), (4, 0.5)]), sparseBound: 10, alpha: 0.1)
        #expect(weak.map(\.id).prefix(2) == [3, 5])
    }

    @Test("weighted fusion edge cases: empty lists, bad bounds, non-finite scores, limit, ties by id")
    func boundWeightedEdgeCases() {
        #expect(Fusion.boundWeighted(dense: [], sparse: [], sparseBound: 1, alpha: 0.1).isEmpty)
        // Only dense.
        #expect(
            Fusion.boundWeighted(dense: Self.ids([(5, 0.7), (6, 0.9)]), sparse: [], sparseBound: 0, alpha: 0.1)
                .map(\.id) == [6, 5])
        // A bound that is missing, negative or smaller than the best score falls back to that score.
        for bound in [0.0, -1, .nan, .infinity, 2] {
            let fused = Fusion.boundWeighted(
                dense: [], sparse: Self.ids([(1, 4), (2, 2)]), sparseBound: bound, alpha: 0)
            #expect(fused.map(\.id) == [1, 2])
            #expect(fused.allSatisfy { $0.score.isFinite && $0.score <= 1 })
        }
        // NaN and infinite scores count as missing; ties go to the smaller id; limit cuts.
        let fused = Fusion.boundWeighted(
            dense: Self.ids([(9, .nan), (8, 0.5)]), sparse: Self.ids([(7, .infinity), (2, 1), (1, 1)]),
            sparseBound: 4, alpha: 0.5, limit: 2)
        #expect(fused.map(\.id) == [8, 1])
        #expect(fused.allSatisfy { $0.score.isFinite })
    }

    @Test("no document scores above the query's BM25 bound, and the bound sums idf·(k1+1)")
    func bm25ScoreBound() {
        let index = BM25Index()
        let analyzer = Analyzer()
        let texts = ["锂电池 充电宝 航空", "保价 费用 声明价值", "冷链 温度 冷藏 冷藏 冷藏", "lithium battery air"]
        for (i, t) in texts.enumerated() { index.add(id: Int64(i + 1), terms: analyzer.terms(t)) }
        for q in ["冷藏 冷藏 温度", "锂电池 航空", "battery", "未知词语 unknownword"] {
            let terms = analyzer.terms(q)
            let bound = index.scoreBound(terms)
            let expected = terms.reduce(Float(0)) { $0 + index.idf($1) * (index.parameters.k1 + 1) }
            #expect(abs(bound - expected) < 1e-4)
            for hit in index.search(terms, k: 10) { #expect(hit.score <= bound + 1e-4, "\(q)") }
        }
    }

    @Test("the fusion setting is validated and shown")
    func fusionSetting() throws {
        var s = KnowledgeBaseSettings.default
        s.fusion = .rrf
        #expect(throws: Never.self) { try s.validated() }
        #expect(throws: WendaoError.self) { try FusionMethod(parsing: "borda", field: "fusion") }
        let scratch = try ScratchDirectory("fusion-setting")
        defer { scratch.remove() }
        let library = try Library(directory: scratch.child("data"))
        var settings = KnowledgeBaseSettings.default
        settings.fusion = .rrf
        try library.create("kb", settings: settings)
        #expect(try library.summary("kb").fusion == "rrf")
        try library.create("kb2", settings: .default)
        #expect(try library.summary("kb2").fusion == "weighted")
    }
}

/// Answers from dense evidence when the question shares too few words with the passages.
@Suite struct SemanticAnswerTests {
    private static func hit(_ id: Int64, _ text: String, rank: Int) -> SearchHit {
        SearchHit(
            rank: rank, score: 1,
            chunk: ChunkRecord(
                id: id, documentID: id, documentPath: "doc\(id).md", documentTitle: "Doc", ordinal: 0, section: "Doc",
                page: nil, text: text, start: 0, end: text.unicodeScalars.count))
    }

    static let hits = [
        hit(1, "锂电池属于限运品。充电宝不能随航空件寄递，只能走陆运。", rank: 1),
        hit(2, "保价费按声明价值的百分之一收取。", rank: 2),
    ]

    /// Evidence whose similarity prefers sentences containing `preferred`.
    static func evidence(top: Double, margin: Double, preferred: String, calls: Counter? = nil) -> SemanticEvidence {
        SemanticEvidence(
            topCosine: top, margin: margin, chunkCosines: [1: top, 2: top - 0.1],
            similarity: { texts in
                calls?.add(texts.count)
                return texts.map { $0.contains(preferred) ? 0.9 : 0.82 }
            }, calibration: .e5Small)
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add(_ k: Int) { lock.withLock { n += k } }
        var value: Int { lock.withLock { n } }
    }

    @Test("a confident dense match answers with the closest sentence of the best chunk and cites it")
    func confidentDenseEvidenceAnswers() {
        var answerer = ExtractiveAnswerer()
        answerer.semantic = Self.evidence(top: 0.91, margin: 0.05, preferred: "充电宝")
        let a = answerer.answer(
            question: "Can I send a power bank by air?", hits: Self.hits, analyzer: Analyzer(), idf: { _ in 1 })
        #expect(a.found)
        #expect(a.answer.hasPrefix("充电宝不能随航空件寄递"), "\(a.answer)")
        #expect(a.citations.first?.chunkID == 1)
        // Only the chunk close to the best dense match was read (not chunk 2, 0.1 below it).
        #expect(!a.citations.contains { $0.chunkID == 2 })
    }

    @Test("without confidence (low cosine, small margin) or without a calibration it stays not found")
    func unconfidentDenseEvidenceSaysNotFound() {
        let q = "Can I send a power bank by air?"
        for (top, margin) in [(0.85, 0.05), (0.91, 0.01)] {
            var answerer = ExtractiveAnswerer()
            let calls = Counter()
            answerer.semantic = Self.evidence(top: top, margin: margin, preferred: "充电宝", calls: calls)
            let a = answerer.answer(question: q, hits: Self.hits, analyzer: Analyzer(), idf: { _ in 1 })
            #expect(!a.found)
            #expect(calls.value == 0, "no sentence is embedded when the gate is closed")
        }
        #expect(SemanticCalibration.forEmbedder("minilm-l6-v2") == nil)
        #expect(SemanticCalibration.forEmbedder("e5-small-q4") == .e5Small)
        // A similarity function that fails leaves the answer "not found", never a crash.
        var failing = ExtractiveAnswerer()
        failing.semantic = SemanticEvidence(
            topCosine: 0.95, margin: 0.1, chunkCosines: [1: 0.95],
            similarity: { _ in throw WendaoError(.corrupt, "x") },
            calibration: .e5Small)
        #expect(!failing.answer(question: q, hits: Self.hits, analyzer: Analyzer(), idf: { _ in 1 }).found)
    }

    @Test("a lexical match is answered as before: dense evidence is not consulted")
    func lexicalMatchUnchanged() {
        var answerer = ExtractiveAnswerer()
        let calls = Counter()
        answerer.semantic = Self.evidence(top: 0.91, margin: 0.05, preferred: "保价", calls: calls)
        let a = answerer.answer(question: "保价费怎么收取？", hits: Self.hits, analyzer: Analyzer(), idf: { _ in 1 })
        #expect(a.found && a.answer.contains("保价费按声明价值的百分之一收取"))
        #expect(calls.value == 0)
    }
}

/// The HNSW search list of a large index.
@Suite struct SearchListSizeTests {
    @Test("the default search list grows past the large-index size; an explicit one is kept")
    func efSearchGrowsWithTheIndex() async throws {
        // 200,000 adds: off the two-thread concurrency pool, so async tests running meanwhile are not starved.
        let ef = try await offConcurrencyPool { try Self.growth() }
        #expect(ef.small == [64, 100])
        #expect(ef.count > VectorIndex.largeIndexRows)
        #expect(ef.large == VectorIndex.largeIndexEfSearch)
        #expect(ef.explicit == [32, 50])
    }

    static func growth() throws -> (small: [Int], count: Int, large: Int, explicit: [Int]) {
        let index = try VectorIndex(embedder: "test", dimension: 2)
        let small = [index.effectiveEfSearch(k: 10), index.effectiveEfSearch(k: 100)]
        for i in 0...VectorIndex.largeIndexRows {
            let a = Float(i % 1000) / 1000
            try index.add(id: Int64(i), vector: [a, 1 - a])
        }
        let large = index.effectiveEfSearch(k: 10)
        index.efSearch = 32
        return (small, index.count, large, [index.effectiveEfSearch(k: 10), index.effectiveEfSearch(k: 50)])
    }
}
