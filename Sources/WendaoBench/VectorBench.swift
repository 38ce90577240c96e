import Dispatch
import Foundation
import WendaoCore
@_spi(Bench) import WendaoIndex

/// What ``VectorBench/run(count:dimension:int8:hnsw:queries:seed:)`` measured (JSON keys in
/// snake_case).
public struct VectorBenchResult: Codable, Sendable, Equatable {
    /// Queries per second of each search path (single queries; exact scans use every core, HNSW
    /// one core per query).
    public struct QueriesPerSecond: Codable, Sendable, Equatable {
        /// Exact float32 scan.
        public var exactF32: Double
        /// Int8 scan + float32 rescoring (nil when not measured).
        public var int8: Double?
        /// HNSW at the default efSearch (nil when not measured).
        public var hnsw: Double?

        enum CodingKeys: String, CodingKey {
            case exactF32 = "exact_f32"
            case int8, hnsw
        }
    }

    /// Recall@10 against the exact float32 top 10.
    public struct Recall: Codable, Sendable, Equatable {
        /// Int8 scan + rescoring.
        public var int8: Double?
        /// HNSW at the default efSearch.
        public var hnsw: Double?
    }

    /// Sizes in bytes.
    public struct Bytes: Codable, Sendable, Equatable {
        /// Float32 matrix.
        public var f32: Int
        /// Int8 matrix and scales (0 without int8).
        public var int8: Int
        /// HNSW links and levels (0 without HNSW).
        public var graph: Int
    }

    /// HNSW at one efSearch.
    public struct SweepPoint: Codable, Sendable, Equatable {
        /// Candidate list size.
        public var efSearch: Int
        /// Queries per second (one core).
        public var queriesPerSecond: Double
        /// Recall@10 against exact float32.
        public var recallAt10: Double

        enum CodingKeys: String, CodingKey {
            case efSearch = "ef_search"
            case queriesPerSecond = "queries_per_second"
            case recallAt10 = "recall_at_10"
        }
    }

    /// Vectors indexed.
    public var count: Int
    /// Dimension.
    public var dimension: Int
    /// Queries run per path.
    public var queries: Int
    /// Worker threads of the exact scans.
    public var threads: Int
    /// Seed of the synthetic data.
    public var seed: UInt64
    /// Seconds to add every vector to the exact index (copy, validation, int8 quantisation).
    public var buildSeconds: Double
    /// Seconds to add every vector to an HNSW index and build its graph (batched insertion on
    /// ``threads`` workers; nil without HNSW).
    public var hnswBuildSeconds: Double?
    /// Which dot-product kernels ran: `haswell` (AVX2 + FMA) or `baseline`.
    public var kernels: String
    /// Queries per second per path.
    public var queriesPerSecond: QueriesPerSecond
    /// Recall@10 per approximate path.
    public var recallAt10: Recall
    /// Sizes.
    public var bytes: Bytes
    /// Memory bandwidth measured in the same run: a multi-threaded SIMD sum over a float buffer the
    /// size of the float32 matrix (best of five passes), in GB/s (10⁹ bytes).
    public var streamingGBPerSecond: Double
    /// Float32 matrix bytes × exact queries per second, in GB/s.
    public var exactScanGBPerSecond: Double
    /// ``exactScanGBPerSecond`` / ``streamingGBPerSecond``.
    public var exactScanFractionOfStreaming: Double
    /// Int8 matrix bytes × int8 queries per second, in GB/s (nil without int8).
    public var int8ScanGBPerSecond: Double?
    /// HNSW speed and recall at several efSearch values (empty without HNSW).
    public var hnswSweep: [SweepPoint]

    enum CodingKeys: String, CodingKey {
        case count, dimension, queries, threads, seed, bytes, kernels
        case buildSeconds = "build_seconds"
        case hnswBuildSeconds = "hnsw_build_seconds"
        case queriesPerSecond = "queries_per_second"
        case recallAt10 = "recall_at_10"
        case streamingGBPerSecond = "streaming_gb_per_second"
        case exactScanGBPerSecond = "exact_scan_gb_per_second"
        case exactScanFractionOfStreaming = "exact_scan_fraction_of_streaming"
        case int8ScanGBPerSecond = "int8_scan_gb_per_second"
        case hnswSweep = "hnsw_sweep"
    }
}

/// The vector-index benchmark behind `wendao bench vectors`.
public enum VectorBench {
    /// Builds indexes over `count` synthetic clustered unit vectors and measures exact float32,
    /// int8 + rescoring and HNSW search, plus the machine's streaming bandwidth in the same run.
    ///
    /// The data mimics real embeddings rather than uniform noise: 1,000 Gaussian cluster centres,
    /// each with its own 16-dimensional subspace of variation, plus a little isotropic noise, all
    /// normalised; queries are fresh draws from the same distribution. Everything follows from
    /// `seed`.
    ///
    /// - Parameters:
    ///   - count: vectors to index (≥ 1).
    ///   - dimension: vector dimension (≥ 1).
    ///   - int8: also measure the int8 scan.
    ///   - hnsw: also build and measure HNSW (M 16, efConstruction 100).
    ///   - queries: queries per path (≥ 1).
    ///   - seed: seed of the synthetic data and of the graph.
    public static func run(
        count: Int, dimension: Int, int8: Bool, hnsw: Bool, queries: Int, seed: UInt64
    ) -> VectorBenchResult {
        let n = max(1, count)
        let d = max(1, dimension)
        let nq = max(1, queries)
        let threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 16))
        let data = SyntheticEmbeddings(dimension: d, seed: seed)
        let matrix = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
        defer { matrix.deallocate() }
        data.fill(matrix, rows: n, stream: 0)
        let queryMatrix = UnsafeMutablePointer<Float>.allocate(capacity: nq * d)
        defer { queryMatrix.deallocate() }
        data.fill(queryMatrix, rows: nq, stream: 1)
        let queryArrays = (0..<nq).map { Array(UnsafeBufferPointer(start: queryMatrix + $0 * d, count: d)) }

        let streaming = streamingBandwidth(matrix, floats: n * d, threads: threads)

        // Exact index (with the int8 copy when asked).
        var start = now()
        let exact = makeIndex(kind: .exact, int8: int8, matrix, rows: n, dimension: d, seed: seed)
        let buildSeconds = now() - start

        start = now()
        var truth: [[Int64]] = []
        for q in queryArrays { truth.append(search(exact, q, .exactFloat).map(\.id)) }
        let exactQPS = Double(nq) / (now() - start)
        let bytesF32 = n * d * 4

        var int8QPS: Double?
        var int8Recall: Double?
        if int8 {
            start = now()
            var found: [[Int64]] = []
            for q in queryArrays { found.append(search(exact, q, .exactInt8).map(\.id)) }
            int8QPS = Double(nq) / (now() - start)
            int8Recall = recall(found, truth)
        }

        var hnswBuild: Double?
        var hnswQPS: Double?
        var hnswRecall: Double?
        var sweep: [VectorBenchResult.SweepPoint] = []
        var graphBytes = 0
        if hnsw {
            start = now()
            let graphIndex = makeIndex(kind: .hnsw, int8: false, matrix, rows: n, dimension: d, seed: seed)
            graphIndex.updateGraph()
            hnswBuild = now() - start
            graphBytes = graphIndex.graphByteCount
            let defaultEF = graphIndex.effectiveEfSearch(k: 10)
            for ef in [16, 32, 64, 128, 256] {
                graphIndex.efSearch = ef
                start = now()
                var found: [[Int64]] = []
                for q in queryArrays { found.append(search(graphIndex, q, .graph).map(\.id)) }
                let qps = Double(nq) / (now() - start)
                let r = recall(found, truth)
                sweep.append(.init(efSearch: ef, queriesPerSecond: qps, recallAt10: r))
                if ef == defaultEF {
                    hnswQPS = qps
                    hnswRecall = r
                }
            }
        }
        let exactGBs = Double(bytesF32) * exactQPS / 1e9
        let int8Bytes = int8 ? n * d + n * 4 : 0
        return VectorBenchResult(
            count: n, dimension: d, queries: nq, threads: threads, seed: seed, buildSeconds: buildSeconds,
            hnswBuildSeconds: hnswBuild, kernels: VectorKernels.name,
            queriesPerSecond: .init(exactF32: exactQPS, int8: int8QPS, hnsw: hnswQPS),
            recallAt10: .init(int8: int8Recall, hnsw: hnswRecall),
            bytes: .init(f32: bytesF32, int8: int8Bytes, graph: graphBytes),
            streamingGBPerSecond: streaming, exactScanGBPerSecond: exactGBs,
            exactScanFractionOfStreaming: streaming > 0 ? exactGBs / streaming : 0,
            int8ScanGBPerSecond: int8QPS.map { Double(int8Bytes) * $0 / 1e9 }, hnswSweep: sweep)
    }

    /// `count` synthetic clustered unit vectors of `dimension`, row after row, exactly as ``run(count:dimension:int8:hnsw:queries:seed:)``
    /// makes them: `stream` 0 gives the indexed vectors, 1 the queries. For benchmarks that compare
    /// another index (pgvector) on the same vectors.
    public static func syntheticVectors(count: Int, dimension: Int, seed: UInt64, stream: UInt64) -> [Float] {
        let n = max(0, count)
        let d = max(1, dimension)
        var out = [Float](repeating: 0, count: n * d)
        guard n > 0 else { return out }
        out.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            SyntheticEmbeddings(dimension: d, seed: seed).fill(base, rows: n, stream: stream)
        }
        return out
    }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    private static func makeIndex(
        kind: VectorIndex.Kind, int8: Bool, _ matrix: UnsafePointer<Float>, rows: Int, dimension d: Int, seed: UInt64
    ) -> VectorIndex {
        let config = VectorIndex.Configuration(kind: kind, int8: int8, seed: seed)
        guard let index = try? VectorIndex(embedder: "synthetic", dimension: d, configuration: config) else {
            preconditionFailure("benchmark settings are valid by construction")
        }
        for r in 0..<rows {
            // The synthetic vectors are finite and of the right dimension: add cannot fail.
            try? index.add(id: Int64(r), vector: UnsafeBufferPointer(start: matrix + r * d, count: d))
        }
        return index
    }

    private static func search(_ index: VectorIndex, _ q: [Float], _ method: VectorIndex.SearchMethod) -> [ScoredID] {
        (try? index.search(q, k: 10, method: method)) ?? []
    }

    /// Mean fraction of the true top 10 found.
    public static func recall(_ found: [[Int64]], _ truth: [[Int64]]) -> Double {
        var total = 0.0
        for (f, t) in zip(found, truth) where !t.isEmpty {
            let want = Set(t)
            total += Double(f.filter { want.contains($0) }.count) / Double(t.count)
        }
        return truth.isEmpty ? 0 : total / Double(truth.count)
    }

    /// GB/s of a multi-threaded SIMD sum over `floats` floats (best of five passes).
    static func streamingBandwidth(_ p: UnsafePointer<Float>, floats: Int, threads: Int) -> Double {
        var best = Double.infinity
        var sink: Float = 0
        for _ in 0..<5 {
            let start = now()
            sink += parallelSum(p, floats: floats, threads: threads)
            best = min(best, now() - start)
        }
        // Keep the sums alive (and the compiler honest).
        if sink.isNaN { best += 0 }
        return Double(floats * 4) / best / 1e9
    }

    private static func parallelSum(_ p: UnsafePointer<Float>, floats: Int, threads: Int) -> Float {
        let parts = UnsafeMutablePointer<Float>.allocate(capacity: threads)
        parts.initialize(repeating: 0, count: threads)
        defer { parts.deallocate() }
        let per = ((floats + threads - 1) / threads + 63) & ~63
        Concurrently.forEach(threads) { t in
            let lo = min(floats, t * per)
            let hi = min(floats, lo + per)
            let raw = UnsafeRawPointer(p)
            var a0 = SIMD16<Float>()
            var a1 = SIMD16<Float>()
            var i = lo
            while i + 32 <= hi {
                a0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                a1 += raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
                i += 32
            }
            var s = (a0 + a1).sum()
            while i < hi {
                s += p[i]
                i += 1
            }
            parts[t] = s
        }
        var total: Float = 0
        for t in 0..<threads { total += parts[t] }
        return total
    }
}

/// Clustered synthetic unit vectors: cluster centre + a combination of the cluster's own 16
/// directions + small isotropic noise, normalised.
struct SyntheticEmbeddings {
    static let clusters = 1_000
    static let rank = 16

    let dimension: Int
    let seed: UInt64
    /// clusters × dimension, unit rows.
    private let centres: [Float]
    /// clusters × rank × dimension.
    private let bases: [Float]

    init(dimension: Int, seed: UInt64) {
        self.dimension = dimension
        self.seed = seed
        var rng = SplitMix64(seed: seed ^ 0xC1A5_7E45)
        let d = dimension
        var c = [Float](repeating: 0, count: Self.clusters * d)
        for k in 0..<Self.clusters {
            var norm: Float = 0
            for j in 0..<d {
                let g = rng.gaussian()
                c[k * d + j] = g
                norm += g * g
            }
            let inv = 1 / max(norm.squareRoot(), 1e-12)
            for j in 0..<d { c[k * d + j] *= inv }
        }
        let scale = 0.25 / Float(d).squareRoot()
        var b = [Float](repeating: 0, count: Self.clusters * Self.rank * d)
        for i in b.indices { b[i] = rng.gaussian() * scale }
        centres = c
        bases = b
    }

    /// Fills `rows` vectors; `stream` separates data (0) from queries (1). Deterministic whatever
    /// the thread count: each block of 4,096 rows has its own generator.
    func fill(_ out: UnsafeMutablePointer<Float>, rows: Int, stream: UInt64) {
        let block = 4_096
        let blocks = (rows + block - 1) / block
        let d = dimension
        let noise = 0.3 / Float(d).squareRoot()
        centres.withUnsafeBufferPointer { cp in
            bases.withUnsafeBufferPointer { bp in
                guard let c = cp.baseAddress, let b = bp.baseAddress else { return }
                Concurrently.forEach(blocks) { blockIndex in
                    var rng = SplitMix64(seed: SplitMix64.mix(seed ^ (stream << 40) ^ UInt64(blockIndex)))
                    let lo = blockIndex * block
                    let hi = min(rows, lo + block)
                    for r in lo..<hi {
                        let v = out + r * d
                        let k = Int(rng.next() % UInt64(Self.clusters))
                        for j in 0..<d { v[j] = c[k * d + j] + noise * rng.gaussian() }
                        for t in 0..<Self.rank {
                            let w = rng.gaussian()
                            let dir = b + (k * Self.rank + t) * d
                            for j in 0..<d { v[j] += w * dir[j] }
                        }
                        var norm: Float = 0
                        for j in 0..<d { norm += v[j] * v[j] }
                        let inv = 1 / max(norm.squareRoot(), 1e-12)
                        for j in 0..<d { v[j] *= inv }
                    }
                }
            }
        }
    }
}
