import Foundation
import Testing
import WendaoTestSupport
import WendaoVectorKernels
@testable import WendaoBench
@_spi(Bench) @testable import WendaoIndex

/// Random int8 lanes in −127…127 (the quantiser's range).
private func int8Lanes(_ count: Int, _ rng: inout SplitMix64) -> [Int8] {
    (0..<count).map { _ in Int8(Int(rng.next() % 255) - 127) }
}

/// Random float components in about −1…1.
private func floats(_ count: Int, _ rng: inout SplitMix64) -> [Float] {
    (0..<count).map { _ in rng.gaussian() * 0.5 }
}

/// Dimensions around every unrolling boundary of the kernels (8, 16, 32 lanes) plus real ones.
private let dimensions = [1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 384, 385, 768, 1_031]

@Suite("Vector kernels")
struct VectorKernelTests {
    @Test("the CPU check asks for every feature of -target-cpu haswell")
    func cpuFlags() {
        let haswell: Set<String> = ["sse2", "avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "popcnt", "abm"]
        #expect(VectorKernels.hasHaswellFeatures(haswell))
        for missing in ["avx2", "fma", "bmi2", "movbe", "abm"] {
            #expect(!VectorKernels.hasHaswellFeatures(haswell.subtracting([missing])), "\(missing)")
        }
        #expect(!VectorKernels.hasHaswellFeatures(["sse2", "sse4_2", "avx"]))
        #expect(VectorKernels.name == (VectorKernels.fast ? "haswell" : "baseline"))
    }

    @Test("Haswell int8 dot products equal the baseline ones exactly", .enabled(if: VectorKernels.fast))
    func int8Exact() {
        var rng = SplitMix64(seed: 17)
        for d in dimensions {
            let query = int8Lanes(d, &rng).map { Int16($0) }
            let rows = 9
            let matrix = int8Lanes(d * rows, &rng)
            let scales = (0..<rows).map { _ in Float(rng.unit()) * 0.01 }
            query.withUnsafeBufferPointer { q in
                matrix.withUnsafeBufferPointer { m in
                    scales.withUnsafeBufferPointer { s in
                        guard let q = q.baseAddress, let m = m.baseAddress, let s = s.baseAddress else { return }
                        var fast = [Float](repeating: 0, count: rows)
                        HaswellKernels.dotRows(q, rows: m, scales: s, count: rows, dimension: d, into: &fast)
                        for r in 0..<rows {
                            let base = VectorKernels.baselineDot(q, m + r * d, d)
                            #expect(HaswellKernels.dot(q, m + r * d, d) == base, "d \(d) row \(r)")
                            #expect(fast[r] == Float(base) * s[r], "d \(d) row \(r)")
                        }
                    }
                }
            }
        }
        // The extremes: every lane ±127 (the largest sums the quantiser can produce).
        let d = 4_096
        let q = [Int16](repeating: -127, count: d)
        let row = [Int8](repeating: -127, count: d)
        #expect(HaswellKernels.dot(q, row, d) == Int32(127 * 127 * d))
        #expect(VectorKernels.baselineDot(q, row, d) == Int32(127 * 127 * d))
    }

    @Test("Haswell float dot products agree with the baseline ones", .enabled(if: VectorKernels.fast))
    func floatAgree() {
        var rng = SplitMix64(seed: 23)
        for d in dimensions {
            let rows = 11
            let query = floats(d, &rng)
            let matrix = floats(d * rows, &rng)
            query.withUnsafeBufferPointer { q in
                matrix.withUnsafeBufferPointer { m in
                    guard let q = q.baseAddress, let m = m.baseAddress else { return }
                    var viaRows = [Float](repeating: 0, count: rows)
                    HaswellKernels.dotRows(q, rows: m, count: rows, dimension: d, into: &viaRows)
                    let pointers = (0..<rows).map { UnsafePointer(m + $0 * d) }
                    var viaMany = [Float](repeating: 0, count: rows)
                    HaswellKernels.dotMany(q, pointers, count: rows, dimension: d, into: &viaMany)
                    for r in 0..<rows {
                        let v = m + r * d
                        var exact = 0.0
                        var magnitude = 0.0
                        for i in 0..<d {
                            exact += Double(q[i]) * Double(v[i])
                            magnitude += abs(Double(q[i]) * Double(v[i]))
                        }
                        let tolerance = 1e-5 * max(magnitude, 1e-30)
                        let fast = HaswellKernels.dot(q, v, d)
                        #expect(abs(Double(fast) - exact) <= tolerance, "d \(d): \(fast) vs \(exact)")
                        #expect(abs(Double(VectorKernels.baselineDot(q, v, d)) - exact) <= tolerance, "d \(d)")
                        // One vector, a block of rows or four at once: bit-identical.
                        #expect(viaRows[r] == fast, "d \(d) row \(r)")
                        #expect(viaMany[r] == fast, "d \(d) row \(r)")
                    }
                }
            }
        }
    }

    @Test("the blocked exact scan equals a Double reference on grid vectors (active kernels)")
    func scansMatchReference() throws {
        // Grid vectors (multiples of 1/8): every float dot product is exact whatever the summation
        // order, so either kernel set must match the reference bit for bit.
        var rng = SplitMix64(seed: 31)
        let d = 77
        let index = try VectorIndex(embedder: "e", dimension: d, configuration: .init(kind: .exact, int8: true))
        var vectors: [[Float]] = []
        for i in 0..<700 {
            let v = (0..<d).map { _ in Float(Int(rng.next() % 9) - 4) / 8 }
            vectors.append(v)
            try index.add(id: Int64(i), vector: v)
        }
        let q = (0..<d).map { _ in Float(Int(rng.next() % 9) - 4) / 8 }
        var reference: [(Int64, Double)] = vectors.enumerated().map { i, v in
            (Int64(i), zip(q, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) })
        }
        reference.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        let hits = try index.search(q, k: 10, method: .exactFloat)
        #expect(hits.map(\.id) == reference.prefix(10).map(\.0))
        #expect(hits.map { Double($0.score) } == reference.prefix(10).map(\.1))
    }

    @Test("the batched multi-threaded HNSW build gives a valid graph, the same for any thread count")
    func parallelGraph() throws {
        let d = 32
        let n = 6_000
        let gen = SyntheticEmbeddings(dimension: d, seed: 3)
        let data = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
        defer { data.deallocate() }
        gen.fill(data, rows: n, stream: 0)
        let access = VectorAccess(base: data, baseCount: n, delta: data, dimension: d, remap: nil)

        // The same insertions on one worker and on four give the same graph; stops in the middle
        // of batches (an index catching up between searches) included.
        let stops = [1, 2, 50, 1_000, 4_321, n]
        let one = HNSWGraph(m: 8, efConstruction: 60, seed: 9)
        for stop in stops { one.extend(to: stop, access, threads: 1) }
        let four = HNSWGraph(m: 8, efConstruction: 60, seed: 9)
        for stop in stops { four.extend(to: stop, access, threads: 4) }
        #expect(one.nodeCount == n && four.nodeCount == n)
        #expect(one.level0 == four.level0)
        #expect(one.upper == four.upper)
        #expect(one.entry == four.entry && one.maxLevel == four.maxLevel)
        // Classic one-at-a-time insertion, for the recall comparison below.
        let sequential = HNSWGraph(m: 8, efConstruction: 60, seed: 9, batchLimit: 1)
        sequential.extend(to: n, access)

        // Structure: counts within capacity, links in range, no self-links or duplicates, upper
        // links only to nodes that exist on that level, the entry point on the top level.
        let g = four
        var linked = [Bool](repeating: false, count: n)
        for node in 0..<n {
            let b = node * (g.m0 + 1)
            let c = Int(g.level0[b])
            #expect(c >= 1 && c <= g.m0, "node \(node) has \(c) links")
            let list = g.level0[(b + 1)..<(b + 1 + c)]
            #expect(Set(list).count == c && !list.contains(UInt32(node)))
            for l in list {
                #expect(Int(l) < n)
                linked[Int(l)] = true
            }
            let level = Int(g.levels[node])
            #expect(g.upper[node].count == level * (g.m + 1))
            for lv in 1..<(level + 1) {
                let ub = (lv - 1) * (g.m + 1)
                let uc = Int(g.upper[node][ub])
                #expect(uc <= g.m)
                for u in g.upper[node][(ub + 1)..<(ub + 1 + uc)] {
                    #expect(Int(u) < n && Int(g.levels[Int(u)]) >= lv && Int(u) != node)
                }
            }
        }
        #expect(linked.filter { !$0 }.count < n / 100, "nodes nobody links to")
        #expect(Int(g.levels[g.entry]) == g.maxLevel)
        #expect(g.levels.allSatisfy { Int($0) <= g.maxLevel })

        // Recall@10 against brute force: the batched build is as good as one-at-a-time insertion.
        let nq = 100
        let queries = UnsafeMutablePointer<Float>.allocate(capacity: nq * d)
        defer { queries.deallocate() }
        gen.fill(queries, rows: nq, stream: 1)
        var batched = 0.0
        var classic = 0.0
        for qi in 0..<nq {
            let q = UnsafePointer(queries + qi * d)
            var scored = (0..<n).map { (access.similarity(q, $0), $0) }
            scored.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            let truth = Set(scored.prefix(10).map { UInt32($0.1) })
            func hits(_ graph: HNSWGraph) -> Double {
                Double(graph.search(q, ef: 64, access).prefix(10).filter { truth.contains($0.1) }.count) / 10
            }
            batched += hits(g)
            classic += hits(sequential)
        }
        batched /= Double(nq)
        classic /= Double(nq)
        #expect(batched >= 0.9, "recall \(batched)")
        #expect(batched >= classic - 0.02, "batched \(batched), one at a time \(classic)")
    }
}
