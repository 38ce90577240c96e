import Dispatch
import Foundation
public import WendaoCore

/// A vector index over chunk embeddings: ids are chunk ids, vectors are L2-normalised float32 and
/// the score is the dot product (cosine similarity).
///
/// Like ``BM25Index`` it is a memory-mapped file plus an in-memory delta and tombstones:
/// ``add(id:vector:)`` and ``remove(ids:)`` change the index without a rebuild, and
/// ``save(to:generation:)`` merges everything into a new file atomically. Every index is stamped
/// with the embedder id and dimension that made its vectors; opening or searching with another
/// embedder is an error, never silent garbage.
///
/// Search is exact (a multi-threaded SIMD scan of the float32 matrix, or of an int8 copy followed by
/// a float32 rescoring of the best candidates) or approximate through an HNSW graph, chosen by
/// ``Kind``.
///
/// ```swift
/// let index = try VectorIndex(path: "kb-1.vectors", embedder: "bge-small-zh-v1.5", dimension: 512)
/// try index.add(id: 42, vector: embedding)
/// let hits = try index.search(queryEmbedding, k: 10)
/// try index.save(to: "kb-1.vectors", generation: 7)
/// ```
public final class VectorIndex {
    /// How searches are answered.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Always scan every vector (int8 first when enabled, then float32 rescoring).
        case exact
        /// Always keep and search an HNSW graph.
        case hnsw
        /// Exact below ``autoThreshold`` live vectors, HNSW from there on (the graph is built by the
        /// first ``VectorIndex/save(to:generation:)`` past the threshold; rows added later join it in
        /// batches at the next graph search or save).
        case auto

        /// Live vectors from which `.auto` switches to HNSW. Measured with `VectorBench.run` on
        /// clustered 384-dimensional vectors against the exact path `.auto` uses below it (int8 scan +
        /// float32 rescoring, AVX2 kernels; 2 cores, release, 500 queries, on a shared machine, so
        /// single runs vary): at 10,000 vectors exact answers 938 queries/s and HNSW at the default
        /// efSearch 64 705/s at recall@10 0.971; at 20,000 HNSW is on par or ahead (573–1,072/s
        /// against 316–524/s in two runs) at recall 0.999; at 30,000 966 against 725/s, at 40,000
        /// 1,092 against 309/s, recall 1.0.
        public static let autoThreshold = 20_000
    }

    /// Which search path to use.
    public enum SearchMethod: String, Sendable, Codable, CaseIterable {
        /// The graph when there is one and the kind asks for it, else int8 + rescoring when the index
        /// keeps an int8 copy, else float32.
        case automatic
        /// Scan the float32 matrix.
        case exactFloat
        /// Scan the int8 copy, then rescore the best candidates in float32 (float32 when there is
        /// no int8 copy).
        case exactInt8
        /// Search the HNSW graph (exact search when there is no graph).
        case graph
    }

    /// Index settings.
    public struct Configuration: Sendable, Equatable {
        /// Exact, HNSW or automatic.
        public var kind: Kind
        /// Whether to keep an int8 copy of the vectors (a quarter of the float32 size) for fast scans.
        public var int8: Bool
        /// HNSW links per node and level (twice as many on level 0).
        public var m: Int
        /// HNSW candidate list size while inserting.
        public var efConstruction: Int
        /// HNSW candidate list size while searching (raised to k when smaller).
        public var efSearch: Int
        /// Whether the search list grows with the index: at least ``VectorIndex/largeIndexEfSearch``
        /// past ``VectorIndex/largeIndexRows`` vectors. Off once ``VectorIndex/efSearch`` is set.
        public var efSearchGrowsWithSize = true
        /// Seed of the HNSW level assignment (same seed and insertion order → same graph).
        public var seed: UInt64
        /// Fraction of tombstoned graph nodes past which ``VectorIndex/save(to:generation:)``
        /// rebuilds the graph without them.
        public var compactionRatio: Double

        /// Creates settings.
        public init(
            kind: Kind = .auto, int8: Bool = true, m: Int = 16, efConstruction: Int = 100, efSearch: Int = 64,
            seed: UInt64 = 0x5745_4E44_414F, compactionRatio: Double = 0.1
        ) {
            self.kind = kind
            self.int8 = int8
            self.m = m
            self.efConstruction = efConstruction
            self.efSearch = efSearch
            self.seed = seed
            self.compactionRatio = compactionRatio
        }
    }

    /// The embedder id the vectors were made with.
    public let embedder: String
    /// Vector dimension.
    public let dimension: Int
    /// Settings.
    public private(set) var configuration: Configuration

    /// HNSW candidate list size while searching (may be changed at any time; raised to k when smaller).
    /// Setting it fixes it: the list no longer grows with the index.
    public var efSearch: Int {
        get { configuration.efSearch }
        set {
            configuration.efSearch = max(1, newValue)
            configuration.efSearchGrowsWithSize = false
        }
    }

    /// Past this many vectors the default search list grows to ``largeIndexEfSearch``. Measured at
    /// 1,000,000 × 384 (`benchmarks/vectors-1m-2026-11-30.json`): efSearch 64 gave recall@10 0.84,
    /// 128 gave 0.938, 256 gave 0.967 at 91× the exact scan's queries/s; at 100,000, 64 already gave 1.0.
    public static let largeIndexRows = 200_000
    /// The search list size of a large index (see ``largeIndexRows``).
    public static let largeIndexEfSearch = 256

    /// The HNSW search list size a query for the `k` best uses.
    public func effectiveEfSearch(k: Int) -> Int {
        let floor =
            configuration.efSearchGrowsWithSize && count > Self.largeIndexRows
            ? Self.largeIndexEfSearch : 0
        return max(configuration.efSearch, k, floor)
    }
    /// The generation stored in the file the index was opened from (0 for a new index).
    public private(set) var generation: Int64 = 0

    private var file: VectorFile?
    /// Tombstones of the mapped rows (1 = deleted); a copy, since the mapping is read-only.
    private var baseDeleted: [UInt8] = []
    private let deltaIDs = GrowableBuffer<Int64>()
    private let deltaDeleted = GrowableBuffer<UInt8>()
    private let deltaF32 = GrowableBuffer<Float>()
    private let deltaI8 = GrowableBuffer<Int8>()
    private let deltaScales = GrowableBuffer<Float>()
    private var deletedRows = 0
    private var changed = false
    /// id → global row (mapped rows first, then delta rows); built on first use.
    private var locator: [Int64: Int]?
    private var graph: HNSWGraph?
    /// Whether the int8 copy exists for every row (mapped and delta).
    private var hasInt8: Bool {
        guard configuration.int8 else { return false }
        guard let file else { return true }
        return file.hasInt8 || file.count == 0
    }

    private var baseCount: Int { file?.count ?? 0 }
    private var rowCount: Int { baseCount + deltaIDs.count }

    /// Creates an empty index for vectors of `embedder` with `dimension` components.
    public init(embedder: String, dimension: Int, configuration: Configuration = Configuration()) throws(WendaoError) {
        try Self.validate(embedder: embedder, dimension: dimension, configuration: configuration)
        self.embedder = embedder
        self.dimension = dimension
        self.configuration = configuration
        if configuration.kind == .hnsw { graph = makeGraph() }
    }

    /// Opens the index saved at `path` (a missing file gives an empty index). The file must have
    /// been made by `embedder` with `dimension` components; otherwise the error says to reindex.
    public init(
        path: String, embedder: String, dimension: Int, configuration: Configuration = Configuration()
    ) throws(WendaoError) {
        try Self.validate(embedder: embedder, dimension: dimension, configuration: configuration)
        self.embedder = embedder
        self.dimension = dimension
        self.configuration = configuration
        guard FileManager.default.fileExists(atPath: path) else {
            if configuration.kind == .hnsw { graph = makeGraph() }
            return
        }
        let f = try Self.map(path)
        guard f.embedder == embedder, f.dimension == dimension else {
            throw Self.mismatch(f.embedder, f.dimension, embedder, dimension)
        }
        adopt(f)
        if f.hasGraph {
            do {
                graph = try f.loadGraph()
            } catch {
                throw WendaoError(.corrupt, "vector index \(path) is damaged (graph); run `wendao reindex`")
            }
        } else if configuration.kind == .hnsw {
            rebuildGraph()
        }
    }

    /// The embedder id and dimension recorded in the index file at `path`.
    public static func stamp(path: String) throws(WendaoError) -> (embedder: String, dimension: Int) {
        let f = try map(path)
        return (f.embedder, f.dimension)
    }

    private static func map(_ path: String) throws(WendaoError) -> VectorFile {
        do {
            return try VectorFile(path: path)
        } catch SegmentError.corrupt(_, let why) {
            throw WendaoError(.corrupt, "vector index \(path) is damaged (\(why)); run `wendao reindex`")
        } catch SegmentError.unreadable(_, let why) {
            throw WendaoError(.storage, "cannot read vector index \(path): \(why)")
        } catch {
            throw WendaoError(.storage, "cannot read vector index \(path)")
        }
    }

    private static func validate(embedder: String, dimension: Int, configuration: Configuration) throws(WendaoError) {
        guard !embedder.isEmpty, embedder.utf8.count <= VectorFile.maxEmbedderBytes else {
            throw WendaoError(.invalidArgument, "embedder id must be 1–\(VectorFile.maxEmbedderBytes) bytes")
        }
        guard dimension > 0, dimension <= 65_536 else {
            throw WendaoError(.invalidArgument, "vector dimension \(dimension) is out of range (1–65536)")
        }
        guard configuration.m >= 2, configuration.m <= 256, configuration.efConstruction >= 1,
            configuration.efSearch >= 1
        else {
            throw WendaoError(.invalidArgument, "HNSW settings out of range (M 2–256, ef ≥ 1)")
        }
    }

    private static func mismatch(_ madeBy: String, _ madeDim: Int, _ now: String, _ nowDim: Int) -> WendaoError {
        WendaoError(
            .invalidArgument,
            "vectors were made by \(madeBy) (dim \(madeDim)); this knowledge base now uses \(now) (dim \(nowDim)): "
                + "run `wendao reindex`")
    }

    private func makeGraph() -> HNSWGraph {
        HNSWGraph(m: configuration.m, efConstruction: configuration.efConstruction, seed: configuration.seed)
    }

    private func adopt(_ f: VectorFile) {
        file = f
        generation = f.generation
        baseDeleted = [UInt8](UnsafeBufferPointer(start: f.deleted, count: f.count))
        deletedRows = baseDeleted.reduce(0) { $0 + Int($1 != 0 ? 1 : 0) }
    }

    // MARK: - State

    /// Live vectors.
    public var count: Int { rowCount - deletedRows }

    /// Whether there are changes not yet saved.
    public var hasUnsavedChanges: Bool { changed }

    /// Bytes of the HNSW graph structure in memory (0 without a graph).
    @_spi(Bench) public var graphByteCount: Int { graph?.byteCount ?? 0 }

    /// Whether searches go through the HNSW graph.
    public var usesGraph: Bool { graph != nil && configuration.kind != .exact }

    private func buildLocator() -> [Int64: Int] {
        if let l = locator { return l }
        var l: [Int64: Int] = [:]
        l.reserveCapacity(count)
        if let f = file { for r in 0..<f.count where baseDeleted[r] == 0 { l[f.ids[r]] = r } }
        let b = baseCount
        for r in 0..<deltaIDs.count where deltaDeleted.pointer[r] == 0 { l[deltaIDs.pointer[r]] = b + r }
        locator = l
        return l
    }

    /// Whether a live vector has this id.
    public func contains(_ id: Int64) -> Bool { buildLocator()[id] != nil }

    /// All live ids, ascending.
    public func ids() -> [Int64] { buildLocator().keys.sorted() }

    private func isDeleted(_ row: Int) -> Bool {
        row < baseCount ? baseDeleted[row] != 0 : deltaDeleted.pointer[row - baseCount] != 0
    }

    private func id(ofRow row: Int) -> Int64 {
        if row < baseCount, let f = file { return f.ids[row] }
        return deltaIDs.pointer[row - baseCount]
    }

    private func vector(ofRow row: Int) -> UnsafePointer<Float> {
        if row < baseCount, let f = file { return f.f32 + row * dimension }
        return UnsafePointer(deltaF32.pointer + (row - baseCount) * dimension)
    }

    private func int8Row(_ row: Int) -> (UnsafePointer<Int8>, Float) {
        if row < baseCount, let f = file { return (f.i8 + row * dimension, f.scales[row]) }
        let r = row - baseCount
        return (UnsafePointer(deltaI8.pointer + r * dimension), deltaScales.pointer[r])
    }

    private var access: VectorAccess {
        VectorAccess(
            base: file?.f32, baseCount: baseCount, delta: UnsafePointer(deltaF32.pointer), dimension: dimension,
            remap: nil)
    }

    // MARK: - Updates

    /// Adds a vector; adding an id that is present replaces it. The vector must have ``dimension``
    /// finite components.
    public func add(id: Int64, vector: [Float]) throws(WendaoError) {
        try vector.withUnsafeBufferPointer { (v) throws(WendaoError) in try add(id: id, vector: v) }
    }

    /// Adds a vector from memory the caller owns (copied); same rules as ``add(id:vector:)-([Float])``.
    public func add(id: Int64, vector: UnsafeBufferPointer<Float>) throws(WendaoError) {
        guard vector.count == dimension, let p = vector.baseAddress else {
            throw WendaoError(
                .invalidArgument, "vector for chunk \(id) has \(vector.count) dimensions; the index uses \(dimension)")
        }
        guard VectorKernels.allFinite(vector) else {
            throw WendaoError(.invalidArgument, "vector for chunk \(id) contains NaN or infinity")
        }
        if contains(id) { remove(ids: [id]) }
        deltaF32.append(p, count: dimension)
        if configuration.int8 {
            deltaI8.append(repeating: 0, count: dimension)
            let scale = VectorKernels.quantize(p, dimension, into: deltaI8.pointer + deltaI8.count - dimension)
            deltaScales.append(scale)
        }
        deltaIDs.append(id)
        deltaDeleted.append(0)
        locator?[id] = rowCount - 1
        changed = true
        // The graph catches up in batches (on every core) at the next graph search or save.
    }

    /// Removes vectors by id (unknown ids are ignored).
    public func remove(ids: some Sequence<Int64>) {
        var l = buildLocator()
        for id in ids {
            guard let row = l.removeValue(forKey: id) else { continue }
            if row < baseCount {
                baseDeleted[row] = 1
            } else {
                deltaDeleted.pointer[row - baseCount] = 1
            }
            deletedRows += 1
            changed = true
        }
        locator = l
    }

    // MARK: - Search

    /// The `k` live vectors with the highest dot product with `query`, best first (ties by
    /// ascending id). `embedder`, when given, must be the index's embedder; the query must have
    /// ``dimension`` finite components.
    public func search(
        _ query: [Float], k: Int, method: SearchMethod = .automatic, embedder queryEmbedder: String? = nil
    ) throws(WendaoError) -> [ScoredID] {
        let asked = queryEmbedder ?? embedder
        guard asked == embedder, query.count == dimension else {
            throw Self.mismatch(embedder, dimension, asked, query.count)
        }
        let finite = query.withUnsafeBufferPointer { VectorKernels.allFinite($0) }
        guard finite else { throw WendaoError(.invalidArgument, "query vector contains NaN or infinity") }
        guard k > 0, count > 0 else { return [] }
        return query.withUnsafeBufferPointer { q -> [ScoredID] in
            guard let qp = q.baseAddress else { return [] }
            switch method {
            case .automatic:
                if usesGraph, let graph { return searchGraph(qp, k: k, graph) }
                return hasInt8 ? searchInt8(qp, k: k) : searchFloat(qp, k: k)
            case .exactFloat:
                return searchFloat(qp, k: k)
            case .exactInt8:
                return hasInt8 ? searchInt8(qp, k: k) : searchFloat(qp, k: k)
            case .graph:
                if let graph { return searchGraph(qp, k: k, graph) }
                return searchFloat(qp, k: k)
            }
        }
    }

    /// Rows are scanned in parallel when there are at least this many floats to read.
    static let parallelFloats = 1 << 21

    /// Splits the rows into one range per worker and merges the workers' heaps.
    private func parallelRows(floats: Int, k: Int, _ scan: (Range<Int>, inout TopK) -> Void) -> TopK {
        let n = rowCount
        let workers = floats >= Self.parallelFloats ? max(1, min(ProcessInfo.processInfo.activeProcessorCount, 16)) : 1
        if workers == 1 {
            var heap = TopK(k: k)
            scan(0..<n, &heap)
            return heap
        }
        var heaps = [TopK](repeating: TopK(k: k), count: workers)
        heaps.withUnsafeMutableBufferPointer { hp in
            let out = hp
            Concurrently.forEach(workers) { w in
                // Ranges are multiples of 4 rows, so the 4-row kernel stays aligned to the split.
                let per = ((n + workers - 1) / workers + 3) & ~3
                let lo = min(n, w * per)
                let hi = min(n, lo + per)
                var heap = TopK(k: k)
                if lo < hi { scan(lo..<hi, &heap) }
                out[w] = heap
            }
        }
        var merged = TopK(k: k)
        for h in heaps { for item in h.sorted() { merged.push(item.id, item.score) } }
        return merged
    }

    /// Scans global rows `range` in float32, pushing (id, score).
    private func scanFloat(_ q: UnsafePointer<Float>, _ range: Range<Int>, _ heap: inout TopK) {
        let d = dimension
        let b = baseCount
        // Mapped part, then delta part: each contiguous.
        for (lo, hi, rows, first) in [
            (range.lowerBound, min(range.upperBound, b), file?.f32, 0),
            (max(range.lowerBound, b), range.upperBound, UnsafePointer(deltaF32.pointer), b),
        ] {
            guard lo < hi, let rows else { continue }
            // Rows in order, one at a time inside the kernel: a single sequential stream is what the
            // hardware prefetcher follows best (interleaving four rows measured 3× slower on the
            // 2-core test machine). Scores come back in blocks so the kernel call is amortised.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.scanBlock) { buffer in
                guard let scores = buffer.baseAddress else { return }
                var r = lo
                while r < hi {
                    let c = min(Self.scanBlock, hi - r)
                    VectorKernels.dotRows(q, rows: rows + (r - first) * d, count: c, dimension: d, into: scores)
                    for j in 0..<c where scores[j] >= heap.threshold && !isDeleted(r + j) {
                        heap.push(id(ofRow: r + j), scores[j])
                    }
                    r += c
                }
            }
        }
    }

    /// Rows scored per kernel call in the exact scans.
    static let scanBlock = 64

    private func searchFloat(_ q: UnsafePointer<Float>, k: Int) -> [ScoredID] {
        parallelRows(floats: rowCount * dimension, k: k) { range, heap in scanFloat(q, range, &heap) }.sorted()
    }

    /// Int8 scan for `max(4k, 100)` candidates, then float32 rescoring of those.
    private func searchInt8(_ q: UnsafePointer<Float>, k: Int) -> [ScoredID] {
        let d = dimension
        let qi = UnsafeMutablePointer<Int8>.allocate(capacity: d)
        let qw = UnsafeMutablePointer<Int16>.allocate(capacity: d)
        defer {
            qi.deallocate()
            qw.deallocate()
        }
        _ = VectorKernels.quantize(q, d, into: qi)
        for i in 0..<d { qw[i] = Int16(qi[i]) }
        let qp = UnsafePointer(qw)
        let wanted = max(4 * k, 100)
        let b = baseCount
        let candidates = parallelRows(floats: rowCount * d / 4, k: wanted) { range, heap in
            for (lo, hi, rows, scales, first) in [
                (range.lowerBound, min(range.upperBound, b), file?.i8, file?.scales, 0),
                (
                    max(range.lowerBound, b), range.upperBound, UnsafePointer(deltaI8.pointer),
                    UnsafePointer(deltaScales.pointer), b
                ),
            ] {
                guard lo < hi, let rows, let scales else { continue }
                withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.scanBlock) { buffer in
                    guard let scores = buffer.baseAddress else { return }
                    var r = lo
                    while r < hi {
                        let c = min(Self.scanBlock, hi - r)
                        VectorKernels.dotRows(
                            qp, rows: rows + (r - first) * d, scales: scales + (r - first), count: c, dimension: d,
                            into: scores)
                        // Candidates carry their row number as the id until rescoring.
                        for j in 0..<c where scores[j] > heap.threshold && !isDeleted(r + j) {
                            heap.push(Int64(r + j), scores[j])
                        }
                        r += c
                    }
                }
            }
        }.sorted()
        var heap = TopK(k: k)
        for c in candidates {
            let r = Int(c.id)
            heap.push(id(ofRow: r), VectorKernels.dot(q, vector(ofRow: r), d))
        }
        return heap.sorted()
    }

    private func searchGraph(_ q: UnsafePointer<Float>, k: Int, _ graph: HNSWGraph) -> [ScoredID] {
        graph.extend(to: rowCount, access)
        let ef = effectiveEfSearch(k: k)
        var heap = TopK(k: k)
        for (s, node) in graph.search(q, ef: ef, access) where !isDeleted(Int(node)) {
            heap.push(id(ofRow: Int(node)), s)
        }
        return heap.sorted()
    }

    // MARK: - Graph upkeep

    /// Inserts the rows added since the last graph search or save into the graph now (a batched,
    /// multi-threaded build); without a graph, does nothing.
    @_spi(Bench) public func updateGraph() { graph?.extend(to: rowCount, access) }

    /// Rebuilds the graph over all rows (tombstoned ones included: they keep their node numbers).
    private func rebuildGraph() {
        let g = makeGraph()
        g.extend(to: rowCount, access)
        graph = g
    }

    /// Whether the graph should exist for the current size and kind.
    private var wantsGraph: Bool {
        switch configuration.kind {
        case .exact: return false
        case .hnsw: return true
        case .auto: return count >= Kind.autoThreshold
        }
    }

    // MARK: - Persistence

    /// Writes mapped rows + delta − tombstones to `path` atomically and maps the result. With a
    /// graph, tombstoned rows are kept (they route searches) until they pass
    /// ``Configuration/compactionRatio`` of the rows; then the graph is rebuilt without them.
    public func save(to path: String, generation: Int64) throws(WendaoError) {
        let n = rowCount
        var keep: [Int32]
        var newGraph: HNSWGraph? = nil
        let compact = graph == nil || Double(deletedRows) > configuration.compactionRatio * Double(max(n, 1))
        if compact {
            keep = []
            keep.reserveCapacity(count)
            for r in 0..<n where !isDeleted(r) { keep.append(Int32(r)) }
        } else {
            keep = (0..<n).map { Int32($0) }
            graph?.extend(to: n, access)
            newGraph = graph
        }
        if wantsGraph && (newGraph == nil || newGraph?.nodeCount != keep.count) {
            let g = makeGraph()
            keep.withUnsafeBufferPointer { kp in
                let a = VectorAccess(
                    base: file?.f32, baseCount: baseCount, delta: UnsafePointer(deltaF32.pointer),
                    dimension: dimension, remap: kp.baseAddress)
                g.extend(to: kp.count, a)
            }
            newGraph = g
        }
        if !wantsGraph { newGraph = nil }
        let writeInt8 = configuration.int8
        // Rows saved before int8 was switched on have no int8 copy: quantise them on the way out.
        let s = UnsafeMutablePointer<Int8>.allocate(capacity: dimension)
        defer { s.deallocate() }
        let kindCode: UInt32 = configuration.kind == .exact ? 0 : configuration.kind == .hnsw ? 1 : 2
        do {
            let keep = keep
            let contents = VectorFileWriter.Contents(
                kind: kindCode, generation: generation, dimension: dimension, embedder: embedder, int8: writeInt8,
                count: keep.count, id: { self.id(ofRow: Int(keep[$0])) },
                deleted: { self.isDeleted(Int(keep[$0])) }, f32: { self.vector(ofRow: Int(keep[$0])) },
                i8: { i in
                    let r = Int(keep[i])
                    if self.hasInt8 { return self.int8Row(r) }
                    let scale = VectorKernels.quantize(self.vector(ofRow: r), self.dimension, into: s)
                    return (UnsafePointer(s), scale)
                },
                graph: newGraph, efSearch: configuration.efSearch, m: configuration.m,
                efConstruction: configuration.efConstruction, seed: configuration.seed)
            try VectorFileWriter.write(path: path, contents)
            let fresh = try VectorFile(path: path)
            reset(to: fresh, graph: newGraph)
        } catch SegmentError.unreadable(_, let why) {
            throw WendaoError(.storage, "cannot write vector index \(path): \(why)")
        } catch SegmentError.corrupt(_, let why) {
            throw WendaoError(.corrupt, "vector index \(path): \(why)")
        } catch {
            throw WendaoError(.storage, "cannot write vector index \(path)")
        }
    }

    private func reset(to f: VectorFile, graph g: HNSWGraph?) {
        deltaIDs.removeAll()
        deltaDeleted.removeAll()
        deltaF32.removeAll()
        deltaI8.removeAll()
        deltaScales.removeAll()
        locator = nil
        changed = false
        file = f
        generation = f.generation
        baseDeleted = [UInt8](UnsafeBufferPointer(start: f.deleted, count: f.count))
        deletedRows = baseDeleted.reduce(0) { $0 + Int($1 != 0 ? 1 : 0) }
        graph = g
        if graph == nil && configuration.kind == .hnsw { rebuildGraph() }
    }
}
