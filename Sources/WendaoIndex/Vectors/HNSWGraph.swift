import Foundation
import WendaoCore
internal import WendaoVectorKernels

/// Where the graph finds the float32 vector of a node: node numbers run over the mapped base rows,
/// then the in-memory delta rows, optionally through a renumbering (used while rebuilding).
struct VectorAccess {
    let base: UnsafePointer<Float>?
    let baseCount: Int
    let delta: UnsafePointer<Float>
    let dimension: Int
    /// New node number → row, when rebuilding over a subset of the rows.
    let remap: UnsafePointer<Int32>?
    /// ``VectorKernels/fast``, read once (the graph computes millions of similarities).
    let fast: Bool

    init(
        base: UnsafePointer<Float>?, baseCount: Int, delta: UnsafePointer<Float>, dimension: Int,
        remap: UnsafePointer<Int32>?
    ) {
        self.base = base
        self.baseCount = baseCount
        self.delta = delta
        self.dimension = dimension
        self.remap = remap
        fast = VectorKernels.fast
    }

    @inline(__always)
    func vector(_ node: Int) -> UnsafePointer<Float> {
        let row = remap.map { Int($0[node]) } ?? node
        if row < baseCount, let base { return base + row * dimension }
        return delta + (row - baseCount) * dimension
    }

    @inline(__always)
    func similarity(_ q: UnsafePointer<Float>, _ node: Int) -> Float {
        fast ? HaswellKernels.dot(q, vector(node), dimension) : VectorKernels.baselineDot(q, vector(node), dimension)
    }

    /// Similarities of `q` with `count` nodes, into `scores`; `pointers` is room for `count`
    /// vector addresses. Bit-identical to ``similarity(_:_:)`` node by node.
    @inline(__always)
    func similarities(
        _ q: UnsafePointer<Float>, _ nodes: UnsafePointer<UInt32>, _ count: Int,
        _ pointers: UnsafeMutablePointer<UnsafePointer<Float>>, into scores: UnsafeMutablePointer<Float>
    ) {
        if fast {
            for i in 0..<count { pointers[i] = vector(Int(nodes[i])) }
            HaswellKernels.dotMany(q, pointers, count: count, dimension: dimension, into: scores)
        } else {
            for i in 0..<count { scores[i] = VectorKernels.baselineDot(q, vector(Int(nodes[i])), dimension) }
        }
    }
}

/// A binary min-heap of (similarity, node) pairs; a max-heap is the same heap over negated keys.
struct SimilarityHeap {
    private(set) var keys: [Float] = []
    private(set) var nodes: [UInt32] = []

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }
    var top: (key: Float, node: UInt32) { (keys[0], nodes[0]) }

    mutating func removeAll() {
        keys.removeAll(keepingCapacity: true)
        nodes.removeAll(keepingCapacity: true)
    }

    mutating func push(_ key: Float, _ node: UInt32) {
        keys.append(key)
        nodes.append(node)
        var i = keys.count - 1
        while i > 0 {
            let p = (i - 1) >> 1
            if keys[p] <= key { break }
            keys[i] = keys[p]
            nodes[i] = nodes[p]
            i = p
        }
        keys[i] = key
        nodes[i] = node
    }

    @discardableResult
    mutating func pop() -> (key: Float, node: UInt32) {
        let result = (keys[0], nodes[0])
        let lastKey = keys.removeLast()
        let lastNode = nodes.removeLast()
        let n = keys.count
        if n > 0 {
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                let r = l + 1
                let c = r < n && keys[r] < keys[l] ? r : l
                if keys[c] >= lastKey { break }
                keys[i] = keys[c]
                nodes[i] = nodes[c]
                i = c
            }
            keys[i] = lastKey
            nodes[i] = lastNode
        }
        return result
    }
}

/// Per-worker search state: visit marks (a tag per node, so nothing is cleared between searches)
/// and the two heaps of a layer search.
struct SearchScratch {
    var visited: [UInt32] = []
    var tag: UInt32 = 0
    var candidates = SimilarityHeap()
    var results = SimilarityHeap()

    /// A fresh visit tag for a graph of `nodes` nodes.
    mutating func nextTag(nodes: Int) -> UInt32 {
        if visited.count < nodes { visited.append(contentsOf: repeatElement(0, count: nodes - visited.count)) }
        tag &+= 1
        if tag == 0 {
            for i in visited.indices { visited[i] = 0 }
            tag = 1
        }
        return tag
    }
}

/// Read-only pointers to the links of a graph (valid while the arrays are not changed).
struct GraphLinks {
    let level0: UnsafePointer<UInt32>
    let upper: UnsafePointer<[UInt32]>
    let levels: UnsafePointer<UInt8>
    let nodes: Int
    let m: Int
    let m0: Int

    /// Calls `body` with each neighbour of `node` on `level`.
    @inline(__always)
    func forEachNeighbor(_ node: Int, _ level: Int, _ body: (UInt32) -> Void) {
        if level == 0 {
            let p = level0 + node * (m0 + 1)
            for i in 0..<Int(p[0]) { body(p[1 + i]) }
        } else {
            let list = upper[node]
            let b = (level - 1) * (m + 1)
            for i in 0..<Int(list[b]) { body(list[b + 1 + i]) }
        }
    }
}

/// A hierarchical navigable small-world graph (Malkov & Yashunin) over inner-product similarity.
///
/// Level 0 keeps up to `2·m` links per node in one flat array (`1 + 2m` words per node: count,
/// then links); higher levels keep up to `m` links per level in a small per-node array. Deleted
/// nodes stay in the graph (they still route searches) and are dropped from results; the index
/// rebuilds the graph when too many accumulate.
///
/// Nodes are inserted in batches (``extend(to:_:)``), which is what lets the build use every core:
/// first each new node of the batch searches the graph as it was before the batch, on concurrent
/// workers, and also compares itself with the earlier nodes of its own batch (which the graph
/// cannot show it yet); then every node's links are written, and the reverse links are added
/// grouped by target node, again concurrently, since each group writes only its target's list.
/// Node levels come from a hash of (seed, node number) and the batches lie on a fixed grid of node
/// numbers (``batchEnd(after:)``), so a build is deterministic whatever the thread count; an
/// index that searches or saves in the middle of a batch cuts that batch short, so the graph
/// depends on the same sequence of adds and searches, as before.
final class HNSWGraph {
    let m: Int
    let m0: Int
    let efConstruction: Int
    let seed: UInt64
    private let levelFactor: Double

    private(set) var levels: [UInt8] = []
    /// Level 0: per node `1 + m0` words — count, then links.
    private(set) var level0: [UInt32] = []
    /// Levels ≥ 1: per node `level · (1 + m)` words.
    private(set) var upper: [[UInt32]] = []
    private(set) var entry: Int = -1
    private(set) var maxLevel: Int = -1

    /// One search state per worker; the first one serves queries.
    private var scratch: [SearchScratch] = [SearchScratch()]

    /// Nodes inserted per batch at most (smaller batches while the graph is small); 1 is the
    /// classic one-at-a-time insertion.
    let batchLimit: Int

    var nodeCount: Int { levels.count }

    init(m: Int, efConstruction: Int, seed: UInt64, batchLimit: Int = 256) {
        self.batchLimit = max(1, batchLimit)
        self.m = max(2, m)
        self.m0 = 2 * self.m
        self.efConstruction = max(efConstruction, self.m)
        self.seed = seed
        levelFactor = 1 / log(Double(self.m))
    }

    /// Restores a graph read from a file; the caller has validated sizes and link ranges.
    init(
        m: Int, efConstruction: Int, seed: UInt64, levels: [UInt8], level0: [UInt32], upper: [[UInt32]], entry: Int,
        maxLevel: Int
    ) {
        batchLimit = 256
        self.m = m
        self.m0 = 2 * m
        self.efConstruction = efConstruction
        self.seed = seed
        levelFactor = 1 / log(Double(m))
        self.levels = levels
        self.level0 = level0
        self.upper = upper
        self.entry = entry
        self.maxLevel = maxLevel
    }

    /// Bytes of graph structure (level-0 and upper links).
    var byteCount: Int { level0.count * 4 + upper.reduce(0) { $0 + $1.count * 4 } + levels.count }

    /// The level of a node: geometric with ratio 1/m, from a hash of (seed, node).
    func level(for node: Int) -> Int {
        let h = SplitMix64.mix(seed ^ SplitMix64.mix(UInt64(node) &+ 0x5157_4E44_414F))
        let u = Double((h >> 11) + 1) * 0x1p-53
        return min(Int(-log(u) * levelFactor), 30)
    }

    /// Calls `body` with read-only pointers to the links.
    private func withLinks<R>(_ body: (GraphLinks) -> R) -> R {
        levels.withUnsafeBufferPointer { lv in
            level0.withUnsafeBufferPointer { l0 in
                upper.withUnsafeBufferPointer { up in
                    // Empty arrays may have no base address; nothing is read then.
                    let dummyLinks: UInt32 = 0
                    let dummyLevel: UInt8 = 0
                    return withUnsafePointer(to: dummyLinks) { d0 in
                        withUnsafePointer(to: dummyLevel) { d1 in
                            withUnsafePointer(to: [UInt32]()) { d2 in
                                body(
                                    GraphLinks(
                                        level0: l0.baseAddress ?? d0, upper: up.baseAddress ?? d2,
                                        levels: lv.baseAddress ?? d1, nodes: lv.count, m: m, m0: m0))
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Search

    /// Greedy walk to the single best node on `level`.
    private static func greedy(
        _ q: UnsafePointer<Float>, from start: Int, sim: Float, level: Int, _ links: GraphLinks,
        _ access: VectorAccess
    ) -> (Int, Float) {
        var best = start
        var bestSim = sim
        var changed = true
        while changed {
            changed = false
            links.forEachNeighbor(best, level) { n in
                let s = access.similarity(q, Int(n))
                if s > bestSim {
                    bestSim = s
                    best = Int(n)
                    changed = true
                }
            }
        }
        return (best, bestSim)
    }

    /// The `ef` best nodes on `level` reachable from `entries`, best first.
    private static func searchLayer(
        _ q: UnsafePointer<Float>, entries: [(Float, UInt32)], ef: Int, level: Int, _ links: GraphLinks,
        _ access: VectorAccess, _ scratch: inout SearchScratch
    ) -> [(Float, UInt32)] {
        let tag = scratch.nextTag(nodes: links.nodes)
        scratch.candidates.removeAll()
        scratch.results.removeAll()
        for (s, n) in entries {
            scratch.visited[Int(n)] = tag
            scratch.candidates.push(-s, n)
            scratch.results.push(s, n)
            if scratch.results.count > ef { scratch.results.pop() }
        }
        // The unvisited neighbours of a node are scored together (several vectors in flight), then
        // offered to the heaps in link order, exactly as one at a time would.
        let room = max(links.m0, links.m)
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: room) { pendingBuffer in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: room) { scoreBuffer in
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: room) { pointerBuffer in
                    guard let pending = pendingBuffer.baseAddress, let scores = scoreBuffer.baseAddress,
                        let pointers = pointerBuffer.baseAddress
                    else { return }
                    while !scratch.candidates.isEmpty {
                        let (negSim, node) = scratch.candidates.pop()
                        if -negSim < scratch.results.top.key && scratch.results.count >= ef { break }
                        var count = 0
                        links.forEachNeighbor(Int(node), level) { n in
                            if scratch.visited[Int(n)] == tag { return }
                            scratch.visited[Int(n)] = tag
                            pending[count] = n
                            count += 1
                        }
                        access.similarities(q, pending, count, pointers, into: scores)
                        for i in 0..<count {
                            let s = scores[i]
                            if scratch.results.count < ef || s > scratch.results.top.key {
                                scratch.candidates.push(-s, pending[i])
                                scratch.results.push(s, pending[i])
                                if scratch.results.count > ef { scratch.results.pop() }
                            }
                        }
                    }
                }
            }
        }
        var out: [(Float, UInt32)] = []
        out.reserveCapacity(scratch.results.count)
        while !scratch.results.isEmpty { out.append(scratch.results.pop()) }
        out.reverse()
        return out
    }

    /// The best nodes for `q` (up to `ef`, deleted ones included), best first.
    func search(_ q: UnsafePointer<Float>, ef: Int, _ access: VectorAccess) -> [(Float, UInt32)] {
        guard entry >= 0 else { return [] }
        let (entry, maxLevel) = (self.entry, self.maxLevel)
        var s = scratch[0]
        scratch[0] = SearchScratch()
        defer { scratch[0] = s }
        return withLinks { links in
            var ep = entry
            var epSim = access.similarity(q, ep)
            var level = maxLevel
            while level > 0 {
                (ep, epSim) = Self.greedy(q, from: ep, sim: epSim, level: level, links, access)
                level -= 1
            }
            return Self.searchLayer(q, entries: [(epSim, UInt32(ep))], ef: ef, level: 0, links, access, &s)
        }
    }

    // MARK: - Insertion

    /// Best first; equal similarities by ascending node (deterministic).
    @inline(__always)
    private static func better(_ a: (Float, UInt32), _ b: (Float, UInt32)) -> Bool {
        a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
    }

    /// The neighbour-selection heuristic: walk candidates best first and keep one only when it is
    /// closer to the base point than to every neighbour kept so far (keeps links pointing in
    /// different directions, which matters on clustered data).
    private static func select(_ sorted: [(Float, UInt32)], limit: Int, _ access: VectorAccess) -> [UInt32] {
        if sorted.count <= limit { return sorted.map { $0.1 } }
        var kept: [UInt32] = []
        kept.reserveCapacity(limit)
        for (s, n) in sorted {
            let v = access.vector(Int(n))
            var good = true
            for k in kept where access.similarity(v, Int(k)) > s {
                good = false
                break
            }
            if good {
                kept.append(n)
                if kept.count == limit { break }
            }
        }
        return kept
    }

    /// Chooses the links of a new node on each of its levels: a search of the graph as it was
    /// before the batch (`entry`, `top`), merged with the earlier nodes of the same batch
    /// (`first..<node`). Reads only.
    private func plan(
        _ node: Int, batchStart first: Int, entry: Int, top: Int, _ links: GraphLinks, _ access: VectorAccess,
        _ scratch: inout SearchScratch
    ) -> [[UInt32]] {
        let level = Int(links.levels[node])
        let q = access.vector(node)
        var mates: [(Float, UInt32)] = []
        if node > first {
            let ids = (first..<node).map { UInt32($0) }
            let scores = Self.similarities(q, ids, access)
            mates = zip(scores, ids).map { ($0, $1) }
            mates.sort(by: Self.better)
        }
        var chosen = [[UInt32]](repeating: [], count: level + 1)
        var entries: [(Float, UInt32)] = []
        if entry >= 0 {
            var ep = entry
            var epSim = access.similarity(q, ep)
            var l = top
            while l > level {
                (ep, epSim) = Self.greedy(q, from: ep, sim: epSim, level: l, links, access)
                l -= 1
            }
            entries = [(epSim, UInt32(ep))]
        }
        for lv in stride(from: level, through: 0, by: -1) {
            var found: [(Float, UInt32)] = []
            if entry >= 0 && lv <= top {
                found = Self.searchLayer(q, entries: entries, ef: efConstruction, level: lv, links, access, &scratch)
                entries = found
            }
            let extra = mates.filter { Int(links.levels[Int($0.1)]) >= lv }
            if !extra.isEmpty {
                found.append(contentsOf: extra)
                found.sort(by: Self.better)
                if found.count > efConstruction { found.removeLast(found.count - efConstruction) }
            }
            chosen[lv] = Self.select(found, limit: m, access)
        }
        return chosen
    }

    /// Similarities of `q` with `nodes`, several vectors at a time.
    private static func similarities(_ q: UnsafePointer<Float>, _ nodes: [UInt32], _ access: VectorAccess) -> [Float] {
        [Float](unsafeUninitializedCapacity: nodes.count) { scores, initialised in
            nodes.withUnsafeBufferPointer { np in
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: nodes.count) { pointers in
                    guard let n = np.baseAddress, let p = pointers.baseAddress, let out = scores.baseAddress else {
                        return
                    }
                    access.similarities(q, n, nodes.count, p, into: out)
                }
            }
            initialised = nodes.count
        }
    }

    /// Merges new incoming links `sources` into `current` (the links `target` has on a level with
    /// room for `cap`), re-selecting with the heuristic when they do not all fit.
    private static func merged(
        _ current: [UInt32], adding sources: ArraySlice<UInt32>, target: Int, cap: Int, _ access: VectorAccess
    ) -> [UInt32] {
        var list = current
        for s in sources where Int(s) != target && !list.contains(s) { list.append(s) }
        if list.count <= cap { return list }
        var pool = zip(similarities(access.vector(target), list, access), list).map { ($0, $1) }
        pool.sort(by: better)
        return select(pool, limit: cap, access)
    }

    /// Inserts nodes until there are `count` (node numbers are rows of `access`), on up to
    /// `threads` workers (default: one per core, at most 16). The result does not depend on
    /// `threads`.
    func extend(to count: Int, _ access: VectorAccess, threads: Int? = nil) {
        let threads = max(1, threads ?? min(ProcessInfo.processInfo.activeProcessorCount, 16))
        while nodeCount < count {
            let start = nodeCount
            insertBatch(start..<min(count, batchEnd(after: start)), access, threads: threads)
        }
    }

    /// Where the batch holding node `start` ends. Batches tile the node numbers on a fixed grid:
    /// within each power-of-two range [2ᵏ, 2ᵏ⁺¹) they are 2ᵏ⁻³ nodes long (an eighth of the graph
    /// already built, so early nodes still see most of their neighbours through the graph), at
    /// most ``batchLimit``, and the first 16 nodes go one at a time.
    func batchEnd(after start: Int) -> Int {
        guard start >= 16 else { return start + 1 }
        let octave = 1 << (Int.bitWidth - 1 - start.leadingZeroBitCount)
        var size = octave >> 3
        while size > batchLimit { size >>= 1 }
        return (start / size + 1) * size
    }

    private func insertBatch(_ batch: Range<Int>, _ access: VectorAccess, threads: Int) {
        let first = batch.lowerBound
        for node in batch {
            let l = level(for: node)
            levels.append(UInt8(l))
            upper.append(l > 0 ? [UInt32](repeating: 0, count: l * (m + 1)) : [])
        }
        level0.append(contentsOf: repeatElement(0, count: batch.count * (m0 + 1)))
        let workers = batch.count >= 16 ? max(1, min(threads, batch.count / 8)) : 1
        while scratch.count < workers { scratch.append(SearchScratch()) }

        // 1. Plan every new node's links against the graph before the batch (reads only).
        var plans = [[[UInt32]]](repeating: [], count: batch.count)
        let (entry, top) = (self.entry, self.maxLevel)
        var scratches = scratch
        scratch = []
        withLinks { links in
            plans.withUnsafeMutableBufferPointer { pp in
                scratches.withUnsafeMutableBufferPointer { sp in
                    let (plansOut, scratchOut) = (pp, sp)
                    Concurrently.forEach(workers) { w in
                        var i = w
                        while i < batch.count {
                            plansOut[i] = plan(
                                first + i, batchStart: first, entry: entry, top: top, links, access, &scratchOut[w])
                            i += workers
                        }
                    }
                }
            }
        }
        scratch = scratches

        // 2. The new nodes' own links.
        for (i, chosen) in plans.enumerated() {
            for (lv, list) in chosen.enumerated() { setNeighbors(first + i, lv, list) }
        }

        // 3. Reverse links, grouped by target; level 0 concurrently (each group writes one row).
        let topLevel = plans.reduce(0) { max($0, $1.count - 1) }
        for lv in 0...topLevel {
            var pairs: [(target: UInt32, source: UInt32)] = []
            for (i, chosen) in plans.enumerated() where chosen.count > lv {
                for n in chosen[lv] { pairs.append((n, UInt32(first + i))) }
            }
            pairs.sort { $0.target < $1.target || ($0.target == $1.target && $0.source < $1.source) }
            var groups: [Range<Int>] = []
            var g = 0
            while g < pairs.count {
                var e = g + 1
                while e < pairs.count && pairs[e].target == pairs[g].target { e += 1 }
                groups.append(g..<e)
                g = e
            }
            let sources = pairs.map(\.source)
            if lv == 0 {
                let (m0, stride) = (self.m0, self.m0 + 1)
                let (pairs, groups) = (pairs, groups)
                let step = groups.count >= 64 ? workers : 1
                level0.withUnsafeMutableBufferPointer { l0 in
                    guard let rows = l0.baseAddress else { return }
                    Concurrently.forEach(step) { w in
                        var gi = w
                        while gi < groups.count {
                            let range = groups[gi]
                            let target = Int(pairs[range.lowerBound].target)
                            let row = rows + target * stride
                            let current = [UInt32](UnsafeBufferPointer(start: row + 1, count: Int(row[0])))
                            let list = Self.merged(
                                current, adding: sources[range], target: target, cap: m0, access)
                            row[0] = UInt32(list.count)
                            for (k, n) in list.enumerated() { row[1 + k] = n }
                            gi += step
                        }
                    }
                }
            } else {
                for range in groups {
                    let target = Int(pairs[range.lowerBound].target)
                    let list = Self.merged(
                        Array(neighbors(target, lv)), adding: sources[range], target: target, cap: m, access)
                    setNeighbors(target, lv, list)
                }
            }
        }

        // 4. The entry point is the first node of the highest level.
        for node in batch where Int(levels[node]) > maxLevel {
            self.entry = node
            maxLevel = Int(levels[node])
        }
    }

    private func neighbors(_ node: Int, _ level: Int) -> ArraySlice<UInt32> {
        if level == 0 {
            let b = node * (m0 + 1)
            return level0[(b + 1)..<(b + 1 + Int(level0[b]))]
        }
        let b = (level - 1) * (m + 1)
        return upper[node][(b + 1)..<(b + 1 + Int(upper[node][b]))]
    }

    private func setNeighbors(_ node: Int, _ level: Int, _ list: [UInt32]) {
        if level == 0 {
            let b = node * (m0 + 1)
            level0[b] = UInt32(list.count)
            for (i, n) in list.enumerated() { level0[b + 1 + i] = n }
        } else {
            let b = (level - 1) * (m + 1)
            upper[node][b] = UInt32(list.count)
            for (i, n) in list.enumerated() { upper[node][b + 1 + i] = n }
        }
    }
}
