import Foundation
import Testing
import WendaoTestSupport
import WendaoCore
@testable import WendaoBench
@_spi(Bench) @testable import WendaoIndex

/// Vectors with small integer components divided by 8: every dot product is exact in float32 whatever
/// the summation order, so the index must match the naive reference exactly, ties included.
private func gridVectors(count: Int, dimension: Int, seed: UInt64) -> [[Float]] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in (0..<dimension).map { _ in Float(Int(rng.next() % 7) - 3) / 8 } }
}

/// Clustered unit vectors like the benchmark's.
private func clustered(count: Int, dimension: Int, seed: UInt64, stream: UInt64 = 0) -> [[Float]] {
    let gen = SyntheticEmbeddings(dimension: dimension, seed: seed)
    let p = UnsafeMutablePointer<Float>.allocate(capacity: count * dimension)
    defer { p.deallocate() }
    gen.fill(p, rows: count, stream: stream)
    return (0..<count).map { Array(UnsafeBufferPointer(start: p + $0 * dimension, count: dimension)) }
}

/// The naive top k: every live vector scored in Double, best first, ties by ascending id.
private func naiveTop(_ vectors: [Int64: [Float]], _ q: [Float], k: Int) -> [ScoredID] {
    var all: [(id: Int64, score: Double)] = []
    for (id, v) in vectors {
        var s = 0.0
        for i in 0..<q.count { s += Double(q[i]) * Double(v[i]) }
        all.append((id, s))
    }
    all.sort { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
    return all.prefix(k).map { ScoredID(id: $0.id, score: Float($0.score)) }
}

private func recallAt10(
    _ index: VectorIndex, _ queries: [[Float]], _ method: VectorIndex.SearchMethod
) throws -> Double {
    var total = 0.0
    for q in queries {
        let truth = Set(try index.search(q, k: 10, method: .exactFloat).map(\.id))
        let found = try index.search(q, k: 10, method: method).map(\.id)
        total += Double(found.filter { truth.contains($0) }.count) / Double(truth.count)
    }
    return total / Double(queries.count)
}

private func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wendao-vec-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

private func expectError(_ code: WendaoError.Code, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(code) error, got none")
    } catch let error as WendaoError {
        #expect(error.code == code, "\(error.message)")
    } catch {
        Issue.record("unexpected error \(error)")
    }
}

@Suite("Vector index")
struct VectorIndexTests {
    @Test("exact top k equals the naive reference (odd dimensions, ties, deletions, mapped + delta rows)")
    func exactMatchesNaive() throws {
        for (dimension, count) in [(1, 9), (7, 203), (37, 1_001), (131, 77), (384, 5_500)] {
            let vectors = gridVectors(count: count, dimension: dimension, seed: UInt64(dimension))
            let config = VectorIndex.Configuration(kind: .exact, int8: false)
            let index = try VectorIndex(embedder: "grid", dimension: dimension, configuration: config)
            var live: [Int64: [Float]] = [:]
            // Duplicates under other ids make exact ties.
            for (i, v) in vectors.enumerated() {
                let id = Int64(count - i) * 3
                try index.add(id: id, vector: v)
                live[id] = v
                if i % 5 == 0 {
                    try index.add(id: id + 1, vector: v)
                    live[id + 1] = v
                }
            }
            let path = temporaryPath("grid.vectors")
            try index.save(to: path, generation: 1)
            // Some rows mapped, some in the delta, some of each removed.
            for (i, v) in gridVectors(count: 40, dimension: dimension, seed: 99).enumerated() {
                try index.add(id: Int64(1_000_000 + i), vector: v)
                live[Int64(1_000_000 + i)] = v
            }
            let removed = live.keys.sorted().enumerated().filter { $0.offset % 7 == 3 }.map(\.element)
            index.remove(ids: removed)
            for id in removed { live[id] = nil }
            #expect(index.count == live.count)
            for (qi, q) in gridVectors(count: 6, dimension: dimension, seed: 7).enumerated() {
                for k in [1, 3, 10, 64] {
                    let got = try index.search(q, k: k, method: .exactFloat)
                    let want = naiveTop(live, q, k: k)
                    #expect(got == want, "dim \(dimension) query \(qi) k \(k)")
                }
            }
        }
    }

    @Test("int8 scan with float32 rescoring keeps recall@10 ≥ 0.99")
    func int8Recall() throws {
        let dimension = 384
        let index = try VectorIndex(
            embedder: "synthetic", dimension: dimension, configuration: .init(kind: .exact, int8: true))
        for (i, v) in clustered(count: 4_000, dimension: dimension, seed: 5).enumerated() {
            try index.add(id: Int64(i), vector: v)
        }
        let queries = clustered(count: 60, dimension: dimension, seed: 5, stream: 1)
        let recall = try recallAt10(index, queries, .exactInt8)
        #expect(recall >= 0.99, "recall \(recall)")
        // Rescored scores are the exact float32 scores.
        let q = queries[0]
        let a = try index.search(q, k: 10, method: .exactInt8)
        let b = try index.search(q, k: 10, method: .exactFloat)
        for hit in a { if let same = b.first(where: { $0.id == hit.id }) { #expect(same.score == hit.score) } }
    }

    @Test("HNSW recall@10 ≥ 0.95 on 20,000 clustered vectors; the build is deterministic")
    func hnswRecall() throws {
        // A small dimension keeps the debug-build graph construction short; the release benchmark
        // measures 384 dimensions.
        let dimension = 24
        let vectors = clustered(count: 20_000, dimension: dimension, seed: 11)
        let config = VectorIndex.Configuration(kind: .hnsw, int8: false, m: 8, efConstruction: 40, efSearch: 128)
        let index = try VectorIndex(embedder: "synthetic", dimension: dimension, configuration: config)
        for (i, v) in vectors.enumerated() { try index.add(id: Int64(i), vector: v) }
        #expect(index.usesGraph)
        let queries = clustered(count: 100, dimension: dimension, seed: 11, stream: 1)
        let recall = try recallAt10(index, queries, .graph)
        #expect(recall >= 0.95, "recall \(recall)")

        let small = Array(vectors.prefix(1_000))
        let one = try VectorIndex(embedder: "synthetic", dimension: dimension, configuration: config)
        let two = try VectorIndex(embedder: "synthetic", dimension: dimension, configuration: config)
        for (i, v) in small.enumerated() {
            try one.add(id: Int64(i), vector: v)
            try two.add(id: Int64(i), vector: v)
        }
        for q in queries.prefix(10) { #expect(try one.search(q, k: 10) == two.search(q, k: 10)) }
    }

    @Test("add, remove, save, reopen: removed ids never come back (exact and HNSW)")
    func roundTrip() throws {
        let dimension = 48
        let vectors = clustered(count: 900, dimension: dimension, seed: 3)
        for kind in [VectorIndex.Kind.exact, .hnsw] {
            let config = VectorIndex.Configuration(kind: kind, int8: true, m: 8, efConstruction: 40, efSearch: 200)
            let path = temporaryPath("kb.vectors")
            let index = try VectorIndex(path: path, embedder: "e", dimension: dimension, configuration: config)
            #expect(index.count == 0)
            for i in 0..<600 { try index.add(id: Int64(i), vector: vectors[i]) }
            let firstRemoved = Set((0..<600).filter { $0 % 10 == 0 }.map(Int64.init))
            index.remove(ids: firstRemoved)
            #expect(index.hasUnsavedChanges)
            try index.save(to: path, generation: 3)
            #expect(!index.hasUnsavedChanges)

            let reopened = try VectorIndex(path: path, embedder: "e", dimension: dimension, configuration: config)
            #expect(reopened.generation == 3)
            #expect(reopened.count == 540)
            #expect(reopened.usesGraph == (kind == .hnsw))
            // Updates after reopening: new rows, a replaced row, removals of mapped rows (past the
            // compaction ratio, so the graph is rebuilt).
            for i in 600..<900 { try reopened.add(id: Int64(i), vector: vectors[i]) }
            try reopened.add(id: 5, vector: vectors[899])
            let secondRemoved = Set((0..<900).filter { $0 % 3 == 1 }.map(Int64.init))
            reopened.remove(ids: secondRemoved)
            let removed = firstRemoved.union(secondRemoved)
            let expectedIDs = (0..<900).map(Int64.init).filter { !removed.contains($0) }
            #expect(reopened.ids() == expectedIDs)
            try reopened.save(to: path, generation: 4)

            let last = try VectorIndex(path: path, embedder: "e", dimension: dimension, configuration: config)
            #expect(last.ids() == expectedIDs)
            for method in VectorIndex.SearchMethod.allCases {
                for i in stride(from: 0, to: 900, by: 37) {
                    let hits = try last.search(vectors[i], k: 20, method: method)
                    #expect(hits.allSatisfy { !removed.contains($0.id) })
                    if !removed.contains(Int64(i)) && i != 899 { #expect(hits.first?.id == Int64(i), "\(method) \(i)") }
                }
            }
            // The replaced id carries its new vector.
            #expect(try last.search(vectors[899], k: 2, method: .exactFloat).map(\.id).sorted() == [5, 899])
        }
    }

    @Test("an index made by another embedder or dimension is refused with the reindex message")
    func stampMismatch() throws {
        let path = temporaryPath("stamp.vectors")
        let index = try VectorIndex(embedder: "bge-small-zh", dimension: 8)
        try index.add(id: 1, vector: [Float](repeating: 0.25, count: 8))
        try index.save(to: path, generation: 1)
        #expect(try VectorIndex.stamp(path: path) == ("bge-small-zh", 8))
        do {
            _ = try VectorIndex(path: path, embedder: "e5-large", dimension: 1024)
            Issue.record("opened with another embedder")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(
                error.message
                    == "vectors were made by bge-small-zh (dim 8); this knowledge base now uses e5-large (dim 1024): "
                    + "run `wendao reindex`")
        }
        expectError(.invalidArgument) { _ = try VectorIndex(path: path, embedder: "bge-small-zh", dimension: 16) }
        expectError(.invalidArgument) { _ = try VectorIndex(path: path, embedder: "other", dimension: 8) }
        let reopened = try VectorIndex(path: path, embedder: "bge-small-zh", dimension: 8)
        expectError(.invalidArgument) {
            _ = try reopened.search([Float](repeating: 0.1, count: 8), k: 3, embedder: "other")
        }
        expectError(.invalidArgument) { _ = try reopened.search([Float](repeating: 0.1, count: 9), k: 3) }
        #expect(try reopened.search([Float](repeating: 0.1, count: 8), k: 3, embedder: "bge-small-zh").count == 1)
    }

    @Test("wrong dimension, NaN and infinity are refused")
    func invalidVectors() throws {
        let index = try VectorIndex(embedder: "e", dimension: 4)
        expectError(.invalidArgument) { try index.add(id: 1, vector: [1, 0, 0]) }
        expectError(.invalidArgument) { try index.add(id: 1, vector: [1, 0, 0, 0, 0]) }
        expectError(.invalidArgument) { try index.add(id: 1, vector: [1, .nan, 0, 0]) }
        expectError(.invalidArgument) { try index.add(id: 1, vector: [1, 0, .infinity, 0]) }
        expectError(.invalidArgument) { _ = try index.search([.nan, 0, 0, 0], k: 1) }
        expectError(.invalidArgument) { _ = try VectorIndex(embedder: "e", dimension: 0) }
        expectError(.invalidArgument) { _ = try VectorIndex(embedder: "", dimension: 4) }
        #expect(index.count == 0)
        try index.add(id: 1, vector: [1, 0, 0, 0])
        #expect(try index.search([1, 0, 0, 0], k: 5) == [ScoredID(id: 1, score: 1)])
    }

    @Test("truncated and corrupted files give an error, never a crash")
    func damagedFiles() throws {
        let dimension = 16
        let path = temporaryPath("damaged.vectors")
        let config = VectorIndex.Configuration(kind: .hnsw, int8: true, m: 4, efConstruction: 16)
        let index = try VectorIndex(embedder: "e", dimension: dimension, configuration: config)
        for (i, v) in clustered(count: 300, dimension: dimension, seed: 9).enumerated() {
            try index.add(id: Int64(i), vector: v)
        }
        try index.save(to: path, generation: 1)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        let file = try VectorFile(path: path)
        let layout = VectorFile.Layout(
            embedderBytes: 1, count: file.count, dimension: dimension, int8: true, graph: true, m: file.m,
            upperWords: file.upperWords)
        let damaged = temporaryPath("copy.vectors")
        func open(_ bytes: Data) throws {
            try bytes.write(to: URL(fileURLWithPath: damaged))
            _ = try VectorIndex(path: damaged, embedder: "e", dimension: dimension, configuration: config)
        }
        for length in [0, 10, 127, 128, good.count / 2, good.count - 1] {
            expectError(.corrupt) { try open(good.prefix(length)) }
        }
        expectError(.corrupt) { try open(good + Data(repeating: 0, count: 8)) }
        // Header fields, ids, tombstones, scales and graph links are all covered by the checksum.
        for offset in [0, 8, 24, 32, 44, 60, layout.ids + 5, layout.deleted + 1, layout.scales + 2, layout.level0 + 9,
            good.count - 3]
        {
            var bytes = good
            bytes[offset] ^= 0x5A
            expectError(.corrupt) { try open(bytes) }
        }
        // A link out of range behind a valid checksum is still caught.
        var bytes = good
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(1), toByteOffset: layout.level0, as: UInt32.self)
            raw.storeBytes(of: UInt32(1_000_000), toByteOffset: layout.level0 + 4, as: UInt32.self)
            raw.storeBytes(of: UInt64(0), toByteOffset: 88, as: UInt64.self)
            var sum = VectorKernels.hashWords(raw.baseAddress!, bytes: VectorFile.headerSize, seed: 0)
            for r in layout.hashedRanges {
                sum = VectorKernels.hashWords(raw.baseAddress! + r.lowerBound, bytes: r.count, seed: sum)
            }
            raw.storeBytes(of: sum, toByteOffset: 88, as: UInt64.self)
        }
        expectError(.corrupt) { try open(bytes) }
        // Damaged float32 vectors are not checksummed (that would read the whole matrix on every
        // open): they give other scores, but searching stays safe.
        var vectors = good
        for i in 0..<64 { vectors[layout.f32 + i * 7] = 0xFF }
        try vectors.write(to: URL(fileURLWithPath: damaged))
        let odd = try VectorIndex(path: damaged, embedder: "e", dimension: dimension, configuration: config)
        for method in VectorIndex.SearchMethod.allCases {
            #expect(try odd.search([Float](repeating: 0.25, count: dimension), k: 5, method: method).count <= 5)
        }
    }

    @Test("`.auto` switches to HNSW at the documented threshold on save")
    func autoKind() throws {
        #expect(VectorIndex.Kind.autoThreshold > 1_000)
        let index = try VectorIndex(embedder: "e", dimension: 8, configuration: .init(kind: .auto))
        try index.add(id: 1, vector: [1, 0, 0, 0, 0, 0, 0, 0])
        try index.save(to: temporaryPath("auto.vectors"), generation: 1)
        #expect(!index.usesGraph)
    }

    @Test("reciprocal-rank fusion orders by Σ 1/(k + rank), ties by id")
    func reciprocalRankFusion() {
        let fused = Fusion.reciprocalRank([[1, 2, 3], [3, 1, 4]])
        #expect(fused.map(\.id) == [1, 3, 2, 4])
        #expect(fused[0].score == 1.0 / 61 + 1.0 / 62)
        #expect(fused[3].score == 1.0 / 63)
        #expect(Fusion.reciprocalRank([[2, 1], [1, 2]]).map(\.id) == [1, 2])
        #expect(Fusion.reciprocalRank([[5, 5, 6]], k: 0).map(\.score) == [1, 1.0 / 3])
        #expect(Fusion.reciprocalRank([[1, 2, 3], [3, 1, 4]], limit: 2).map(\.id) == [1, 3])
        #expect(Fusion.reciprocalRank([[Int64]]()).isEmpty)
    }

    @Test("weighted fusion of min-max-normalised scores")
    func weightedFusion() {
        let dense = [ScoredID(id: 10, score: 0.75), ScoredID(id: 11, score: 0.5), ScoredID(id: 12, score: 0.25)]
        let sparse = [ScoredID(id: 12, score: 20), ScoredID(id: 13, score: 10), ScoredID(id: 10, score: 0)]
        let even = Fusion.weighted(dense: dense, sparse: sparse, alpha: 0.5)
        #expect(even.map(\.id) == [10, 12, 11, 13])
        #expect(even.map(\.score) == [0.5, 0.5, 0.25, 0.25])
        #expect(Fusion.weighted(dense: dense, sparse: sparse, alpha: 0.7).map(\.id) == [10, 11, 12, 13])
        #expect(Fusion.weighted(dense: dense, sparse: sparse, alpha: 0).map(\.id) == [12, 13, 10, 11])
        // A list of equal scores normalises to 1.
        let flat = [ScoredID(id: 2, score: 3), ScoredID(id: 1, score: 3)]
        #expect(Fusion.weighted(dense: flat, sparse: [], alpha: 1).map(\.id) == [1, 2])
        #expect(Fusion.weighted(dense: flat, sparse: [], alpha: 1).map(\.score) == [1, 1])
    }
}
