import Foundation

/// Where the graph finds the float32 vector of a node: node numbers run over the mapped base rows,
/// then the in-memory delta rows, optionally through a renumbering (used while rebuilding).
struct VectorAccess {
    let base: UnsafePointer<Float>?
    let baseCount: Int
    let delta: UnsafePointer<Float>
    let dimension: Int
    /// New node number → row, when rebuilding over a subset of the rows.
    let remap: UnsafePointer<Int32>?

    @inline(__always)
    func vector(_ node: Int) -> UnsafePointer<Float> {
        let row = remap.map { Int($0[node]) } ?? node
        if row < baseCount, let base { return base + row * dimension }
        return delta + (row - baseCount) * dimension
    }

    @inline(__always)
    func similarity(_ q: UnsafePointer<Float>, _ node: Int) -> Float {
        VectorKernels.dot(q, vector(node), dimension)
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

/// A hierarchical navigable small-world graph (Malkov & Yashunin) over inner-product similarity.
///
/// Node levels come from a hash of (seed, node number), and nodes are inserted one at a time, so a
/// build is deterministic. Level 0 keeps up to `2·m` links per node in one flat array (`1 + 2m`
/// words per node: count, then links); higher levels keep up to `m` links per level in a small
/// per-node array. Deleted nodes stay in the graph (they still route searches) and are dropped
/// from results; the index rebuilds the graph when too many accumulate.
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

    private var visited: [UInt32] = []
    private var visitTag: UInt32 = 0
    private var candidates = SimilarityHeap()
    private var results = SimilarityHeap()

    var nodeCount: Int { levels.count }

    init(m: Int, efConstruction: Int, seed: UInt64) {
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

    // MARK: - Links

    @inline(__always)
    private func links(_ node: Int, _ level: Int) -> (base: Int, count: Int) {
        if level == 0 {
            let b = node * (m0 + 1)
            return (b, Int(level0[b]))
        }
        let b = (level - 1) * (m + 1)
        return (b, Int(upper[node][b]))
    }

    private func neighbors(_ node: Int, _ level: Int) -> ArraySlice<UInt32> {
        let (b, c) = links(node, level)
        return level == 0 ? level0[(b + 1)..<(b + 1 + c)] : upper[node][(b + 1)..<(b + 1 + c)]
    }

    private func setNeighbors(_ node: Int, _ level: Int, _ list: [UInt32]) {
        let (b, _) = links(node, level)
        if level == 0 {
            level0[b] = UInt32(list.count)
            for (i, n) in list.enumerated() { level0[b + 1 + i] = n }
        } else {
            upper[node][b] = UInt32(list.count)
            for (i, n) in list.enumerated() { upper[node][b + 1 + i] = n }
        }
    }

    // MARK: - Search

    private func nextTag() -> UInt32 {
        if visited.count < nodeCount { visited.append(contentsOf: repeatElement(0, count: nodeCount - visited.count)) }
        visitTag &+= 1
        if visitTag == 0 {
            for i in visited.indices { visited[i] = 0 }
            visitTag = 1
        }
        return visitTag
    }

    /// Greedy walk to the single best node on `level`.
    private func greedy(_ q: UnsafePointer<Float>, from start: Int, sim: Float, level: Int, _ access: VectorAccess)
        -> (Int, Float)
    {
        var best = start
        var bestSim = sim
        var changed = true
        while changed {
            changed = false
            for n in neighbors(best, level) {
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
    private func searchLayer(
        _ q: UnsafePointer<Float>, entries: [(Float, UInt32)], ef: Int, level: Int, _ access: VectorAccess
    ) -> [(Float, UInt32)] {
        let tag = nextTag()
        candidates.removeAll()
        results.removeAll()
        for (s, n) in entries {
            visited[Int(n)] = tag
            candidates.push(-s, n)
            results.push(s, n)
            if results.count > ef { results.pop() }
        }
        while !candidates.isEmpty {
            let (negSim, node) = candidates.pop()
            if -negSim < results.top.key && results.count >= ef { break }
            let (b, c) = links(Int(node), level)
            for i in 0..<c {
                let n = level == 0 ? level0[b + 1 + i] : upper[Int(node)][b + 1 + i]
                if visited[Int(n)] == tag { continue }
                visited[Int(n)] = tag
                let s = access.similarity(q, Int(n))
                if results.count < ef || s > results.top.key {
                    candidates.push(-s, n)
                    results.push(s, n)
                    if results.count > ef { results.pop() }
                }
            }
        }
        var out: [(Float, UInt32)] = []
        out.reserveCapacity(results.count)
        while !results.isEmpty {
            let (s, n) = results.pop()
            out.append((s, n))
        }
        out.reverse()
        return out
    }

    /// The best nodes for `q` (up to `ef`, deleted ones included), best first.
    func search(_ q: UnsafePointer<Float>, ef: Int, _ access: VectorAccess) -> [(Float, UInt32)] {
        guard entry >= 0 else { return [] }
        var ep = entry
        var epSim = access.similarity(q, ep)
        var level = maxLevel
        while level > 0 {
            (ep, epSim) = greedy(q, from: ep, sim: epSim, level: level, access)
            level -= 1
        }
        return searchLayer(q, entries: [(epSim, UInt32(ep))], ef: ef, level: 0, access)
    }

    // MARK: - Insertion

    /// The neighbour-selection heuristic: walk candidates best first and keep one only when it is
    /// closer to the base point than to every neighbour kept so far (keeps links pointing in
    /// different directions, which matters on clustered data).
    private func select(_ sorted: [(Float, UInt32)], limit: Int, _ access: VectorAccess) -> [UInt32] {
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

    /// Adds the link `from → to` on `level`, re-selecting `from`'s links when the list is full.
    private func connect(_ from: Int, _ to: UInt32, level: Int, _ access: VectorAccess) {
        let cap = level == 0 ? m0 : m
        let (b, c) = links(from, level)
        if c < cap {
            if level == 0 {
                level0[b + 1 + c] = to
                level0[b] = UInt32(c + 1)
            } else {
                upper[from][b + 1 + c] = to
                upper[from][b] = UInt32(c + 1)
            }
            return
        }
        let v = access.vector(from)
        var pool: [(Float, UInt32)] = neighbors(from, level).map { (access.similarity(v, Int($0)), $0) }
        pool.append((access.similarity(v, Int(to)), to))
        pool.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        setNeighbors(from, level, select(pool, limit: cap, access))
    }

    /// Inserts the next node (its number must be ``nodeCount``).
    func insert(_ access: VectorAccess) {
        let node = nodeCount
        let level = level(for: node)
        levels.append(UInt8(level))
        level0.append(contentsOf: repeatElement(0, count: m0 + 1))
        upper.append(level > 0 ? [UInt32](repeating: 0, count: level * (m + 1)) : [])
        guard entry >= 0 else {
            entry = node
            maxLevel = level
            return
        }
        let q = access.vector(node)
        var ep = entry
        var epSim = access.similarity(q, ep)
        var l = maxLevel
        while l > level {
            (ep, epSim) = greedy(q, from: ep, sim: epSim, level: l, access)
            l -= 1
        }
        var entries: [(Float, UInt32)] = [(epSim, UInt32(ep))]
        for lv in stride(from: min(level, maxLevel), through: 0, by: -1) {
            let found = searchLayer(q, entries: entries, ef: efConstruction, level: lv, access)
            let chosen = select(found, limit: m, access)
            setNeighbors(node, lv, chosen)
            for n in chosen { connect(Int(n), UInt32(node), level: lv, access) }
            entries = found
        }
        if level > maxLevel {
            entry = node
            maxLevel = level
        }
    }
}
