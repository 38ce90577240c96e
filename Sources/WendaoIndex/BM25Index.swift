import Foundation
public import WendaoCore

/// A BM25 inverted index over chunks: a memory-mapped segment file plus an in-memory delta and
/// tombstones, so that ingest and delete update it without a rebuild.
///
/// Opening maps the file (no parsing, no hash-map construction), so a search on a large knowledge
/// base starts in milliseconds. ``save(to:generation:)`` merges segment, delta and tombstones into
/// a new file atomically.
///
/// ```swift
/// let index = try BM25Index(path: "kb-1.bm25")
/// index.add(id: 42, terms: Analyzer().terms("首重12元"))
/// let hits = index.search(Analyzer().terms("首重多少钱"), k: 10)
/// try index.save(to: "kb-1.bm25", generation: 7)
/// ```
public final class BM25Index {
    /// Scoring parameters.
    public var parameters: BM25Parameters {
        didSet { normsAverage = -1 }
    }

    private var segment: Segment?
    private let delta = PostingsBuilder()
    /// Tombstones of segment documents.
    private var deletedInSegment: [Bool] = []
    private var deletedSegmentCount = 0
    private var deletedSegmentLength: UInt64 = 0
    /// Tombstones of delta documents.
    private var deletedInDelta: [Bool] = []
    private var deletedDeltaCount = 0
    private var deletedDeltaLength: UInt64 = 0
    /// external id → (in segment?, local number); built on first use.
    private var locator: [Int64: (segment: Bool, doc: UInt32)]?

    // Scoring scratch, reused across queries.
    private var accumulator: [Float] = []
    private var deltaAccumulator: [Float] = []
    private var norms: [Float] = []
    private var normsAverage: Float = -1
    private var touched: [UInt32] = []
    private var scratchAcc: UnsafeMutablePointer<Float>?
    private var scratchTouched: UnsafeMutablePointer<UInt32>?
    private var scratchCapacity = 0
    private var bitmap: [UInt64] = []

    deinit {
        scratchAcc?.deallocate()
        scratchTouched?.deallocate()
    }

    /// The generation stored in the file the index was opened from (0 for a new index).
    public private(set) var generation: Int64 = 0

    /// Creates an empty index.
    public init(parameters: BM25Parameters = BM25Parameters()) {
        self.parameters = parameters
    }

    /// Opens the index saved at `path`; a missing file gives an empty index.
    public init(path: String, parameters: BM25Parameters = BM25Parameters()) throws(WendaoError) {
        self.parameters = parameters
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            let s = try Segment(path: path)
            segment = s
            generation = s.generation
            deletedInSegment = [Bool](repeating: false, count: s.documentCount)
        } catch SegmentError.corrupt(_, let why) {
            throw WendaoError(.corrupt, "index file \(path) is damaged (\(why)); run `wendao reindex`")
        } catch SegmentError.unreadable(_, let why) {
            throw WendaoError(.storage, "cannot read index file \(path): \(why)")
        } catch {
            throw WendaoError(.storage, "cannot read index file \(path)")
        }
    }

    /// Live documents.
    public var count: Int {
        (segment?.documentCount ?? 0) - deletedSegmentCount + delta.documentCount - deletedDeltaCount
    }

    private var liveLength: UInt64 {
        (segment?.totalLength ?? 0) - deletedSegmentLength + delta.totalLength - deletedDeltaLength
    }

    /// Adds a document (a chunk) with its analysed terms. Adding an id that is present replaces it.
    public func add(id: Int64, terms: [UInt64]) {
        if contains(id) { remove(ids: [id]) }
        let doc = delta.add(id: id, terms: terms)
        deletedInDelta.append(false)
        locator?[id] = (false, doc)
        normsAverage = -1
    }

    private func buildLocator() -> [Int64: (segment: Bool, doc: UInt32)] {
        if let l = locator { return l }
        var l: [Int64: (segment: Bool, doc: UInt32)] = [:]
        l.reserveCapacity(count)
        if let s = segment {
            for d in 0..<s.documentCount where !deletedInSegment[d] { l[s.ids[d]] = (true, UInt32(d)) }
        }
        for (d, id) in delta.ids.enumerated() where !deletedInDelta[d] { l[id] = (false, UInt32(d)) }
        locator = l
        return l
    }

    /// Whether a live document has this id.
    public func contains(_ id: Int64) -> Bool { buildLocator()[id] != nil }

    /// Removes documents by id (unknown ids are ignored).
    public func remove(ids: some Sequence<Int64>) {
        var l = buildLocator()
        for id in ids {
            guard let loc = l.removeValue(forKey: id) else { continue }
            let d = Int(loc.doc)
            if loc.segment, let s = segment {
                deletedInSegment[d] = true
                deletedSegmentCount += 1
                deletedSegmentLength += UInt64(s.lengths[d])
            } else {
                deletedInDelta[d] = true
                deletedDeltaCount += 1
                deletedDeltaLength += UInt64(delta.lengths[d])
            }
        }
        locator = l
        normsAverage = -1
    }

    /// All live ids, ascending.
    public func ids() -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity(count)
        if let s = segment { for d in 0..<s.documentCount where !deletedInSegment[d] { out.append(s.ids[d]) } }
        for (d, id) in delta.ids.enumerated() where !deletedInDelta[d] { out.append(id) }
        out.sort()
        return out
    }

    /// Whether there are changes not yet saved.
    public var hasUnsavedChanges: Bool { delta.documentCount > 0 || deletedSegmentCount > 0 }

    /// Internal consistency problems of the mapped file (empty when healthy).
    public func verify() -> [String] { segment?.verify() ?? [] }

    // MARK: - Search

    /// Documents containing `term` (tombstoned segment documents still count until the next save).
    public func documentFrequency(_ term: UInt64) -> Int {
        (segment?.postings(of: term)?.count ?? 0) + (delta.slot(of: term).map { delta.count(of: $0) } ?? 0)
    }

    /// BM25 inverse document frequency of `term` (the maximum for an unknown term).
    public func idf(_ term: UInt64) -> Float {
        let n = Float(max(count, 1))
        let df = Float(min(documentFrequency(term), max(count, 1)))
        return log(1 + (n - df + 0.5) / (df + 0.5))
    }

    /// The highest score any document could reach for the analysed query: Σ idf · (k1 + 1) over
    /// the query terms (repetitions counted), the limit of BM25 as a term's frequency grows. A top
    /// score near it means the best document matches nearly every informative query term; terms
    /// absent from the corpus keep their (maximal) idf, so a query in other words scores low against it.
    public func scoreBound(_ queryTerms: [UInt64]) -> Float {
        let k1 = parameters.k1
        return queryTerms.reduce(Float(0)) { $0 + idf($1) * (k1 + 1) }
    }

    /// ``scoreBound(_:)`` for weighted query terms (``search(weighted:k:)``).
    public func scoreBound(weighted queryTerms: [(term: UInt64, weight: Float)]) -> Float {
        let k1 = parameters.k1
        return queryTerms.reduce(Float(0)) { $0 + idf($1.term) * (k1 + 1) * max(0, $1.weight) }
    }

    private func prepareNorms(average: Float) {
        if normsAverage == average { return }
        let k1 = parameters.k1
        let b = parameters.b
        let avg = max(average, 1e-6)
        if let s = segment {
            let n = s.documentCount
            if norms.count != n { norms = [Float](repeating: 0, count: n) }
            norms.withUnsafeMutableBufferPointer { out in
                for d in 0..<n { out[d] = k1 * (1 - b + b * Float(s.lengths[d]) / avg) }
            }
            if accumulator.count != n { accumulator = [Float](repeating: 0, count: n) }
        }
        normsAverage = average
    }

    /// The `k` best live documents for the analysed query, best first. Repeated query terms count
    /// once per repetition.
    public func search(_ queryTerms: [UInt64], k: Int) -> [ScoredID] {
        search(weighted: queryTerms.map { ($0, 1) }, k: k)
    }

    /// The `k` best documents for query terms of unequal weight (a repeated term's weights add
    /// up): each term's BM25 contribution is multiplied by its weight. ``search(_:k:)`` is this
    /// with every weight 1; cross-language expansions use smaller weights.
    public func search(weighted queryTerms: [(term: UInt64, weight: Float)], k: Int) -> [ScoredID] {
        guard k > 0, count > 0, !queryTerms.isEmpty else { return [] }
        let n = Float(count)
        let avg = Float(Double(liveLength) / Double(max(count, 1)))
        let k1 = parameters.k1
        let b = parameters.b
        // Unique terms with their query frequency (summed weights).
        var unique: [(term: UInt64, qtf: Float)] = []
        for t in queryTerms.sorted(by: { $0.term < $1.term }) where t.weight > 0 {
            if let last = unique.last, last.term == t.term {
                unique[unique.count - 1].qtf += t.weight
            } else {
                unique.append((t.term, t.weight))
            }
        }
        guard !unique.isEmpty else { return [] }
        var heap = TopK(k: k)
        // Segment part.
        if let s = segment {
            let pristine = delta.documentCount == 0 && deletedSegmentCount == 0 && s.impactK1 == k1 && s.impactB == b
            if pristine {
                searchImpacts(s, unique: unique, n: n, k: k, heap: &heap)
            } else {
                prepareNorms(average: avg)
                searchSegmentExact(s, unique: unique, n: n, avg: avg, heap: &heap)
            }
        }
        // Delta part.
        if delta.documentCount > 0 {
            if deltaAccumulator.count < delta.documentCount {
                deltaAccumulator = [Float](repeating: 0, count: delta.documentCount)
            }
            var any = false
            for (t, qtf) in unique {
                guard let slot = delta.slot(of: t) else { continue }
                let segCount = segment?.postings(of: t)?.count ?? 0
                let (docs, tfs) = delta.postings(of: slot)
                let df = min(Float(segCount + docs.count), n)
                let idf = log(1 + (n - df + 0.5) / (df + 0.5))
                let w = idf * (k1 + 1) * qtf
                for i in 0..<docs.count {
                    let d = Int(docs[i])
                    let tf = Float(tfs[i])
                    let norm = k1 * (1 - b + b * Float(delta.lengths[d]) / max(avg, 1e-6))
                    deltaAccumulator[d] += w * tf / (tf + norm)
                }
                any = true
            }
            if any {
                for d in 0..<delta.documentCount {
                    let sc = deltaAccumulator[d]
                    if sc != 0 {
                        deltaAccumulator[d] = 0
                        if sc > heap.threshold && !deletedInDelta[d] { heap.push(delta.ids[d], sc) }
                    }
                }
            }
        }
        return heap.sorted()
    }

    /// Exact scoring from term frequencies (used while there are unsaved changes).
    private func searchSegmentExact(
        _ s: Segment, unique: [(term: UInt64, qtf: Float)], n: Float, avg: Float, heap: inout TopK
    ) {
        let k1 = parameters.k1
        var lists: [(start: Int, count: Int, weight: Float)] = []
        var total = 0
        for (t, qtf) in unique {
            let seg = s.postings(of: t)
            let dcount = delta.slot(of: t).map { delta.count(of: $0) } ?? 0
            // Tombstoned documents still sit in the postings until the next save: never let df
            // exceed the live count, or idf would turn negative.
            let df = min(Float((seg?.count ?? 0) + dcount), n)
            if df == 0 { continue }
            let idf = log(1 + (n - df + 0.5) / (df + 0.5))
            if let seg {
                lists.append((seg.start, seg.count, idf * (k1 + 1) * qtf))
                total += seg.count
            }
        }
        if lists.isEmpty { return }
        var touched = self.touched
        touched.removeAll(keepingCapacity: true)
        let deleted = deletedInSegment
        accumulator.withUnsafeMutableBufferPointer { acc in
            norms.withUnsafeBufferPointer { norm in
                for l in lists {
                    let docs = s.postingDocs + l.start
                    let tfs = s.postingTFs + l.start
                    let w = l.weight
                    for i in 0..<l.count {
                        let d = Int(docs[i])
                        if d >= acc.count { continue }
                        let tf = Float(tfs[i])
                        if acc[d] == 0 { touched.append(UInt32(d)) }
                        acc[d] += w * tf / (tf + norm[d])
                    }
                }
            }
            for d32 in touched {
                let d = Int(d32)
                let sc = acc[d]
                acc[d] = 0
                if sc > heap.threshold && !deleted[d] { heap.push(s.ids[d], sc) }
            }
        }
        self.touched = touched
    }

    /// Scoring with precomputed impacts and MaxScore pruning: terms are taken by decreasing upper
    /// bound; once the k-th best partial score beats what the remaining terms could add, no new
    /// document can enter the top k, and the remaining (long) lists are only probed for the
    /// surviving candidates by galloping search. Results and scores are exact.
    private func searchImpacts(
        _ s: Segment, unique: [(term: UInt64, qtf: Float)], n: Float, k: Int, heap: inout TopK
    ) {
        var lists: [(start: Int, count: Int, weight: Float, bound: Float)] = []
        for (t, qtf) in unique {
            guard let seg = s.postings(of: t) else { continue }
            let df = Float(seg.count)
            let w = log(1 + (n - df + 0.5) / (df + 0.5)) * qtf
            lists.append((seg.start, seg.count, w, w * seg.maxImpact))
        }
        if lists.isEmpty { return }
        lists.sort { $0.bound > $1.bound }
        let m = lists.count
        var suffix = [Float](repeating: 0, count: m + 1)
        for i in stride(from: m - 1, through: 0, by: -1) { suffix[i] = suffix[i + 1] + lists[i].bound }
        let docCount = s.documentCount
        if scratchCapacity < docCount {
            scratchAcc?.deallocate()
            scratchTouched?.deallocate()
            scratchAcc = .allocate(capacity: docCount)
            scratchAcc?.initialize(repeating: 0, count: docCount)
            // One spare slot: the branch-free bookkeeping always writes one past the last new document.
            scratchTouched = .allocate(capacity: docCount + 1)
            scratchCapacity = docCount
        }
        guard let acc = scratchAcc, let touched = scratchTouched else { return }
        var nt = 0
        var split = m
        var theta = -Float.infinity
        var prefix: Float = 0
        for i in 0..<m {
            if i > 0 && nt >= k && suffix[i] < prefix {
                var kth = TopK(k: k)
                var floor = -Float.infinity
                for t in 0..<nt {
                    let sc = acc[Int(touched[t])]
                    if sc > floor {
                        kth.pushScore(sc)
                        floor = kth.threshold
                    }
                }
                theta = floor
                if theta >= suffix[i] {
                    split = i
                    break
                }
            }
            let l = lists[i]
            let docs = s.postingDocs + l.start
            let impacts = s.postingImpacts + l.start
            let w = l.weight
            for p in 0..<l.count {
                let d32 = docs[p]
                let d = Int(d32)
                // A damaged file must not make us write outside the accumulator.
                if d >= docCount { continue }
                let old = acc[d]
                // Branch-free "first touch" bookkeeping: always write, advance only when new.
                touched[nt] = d32
                nt &+= old == 0 ? 1 : 0
                acc[d] = old + w * impacts[p]
            }
            prefix += l.bound
        }
        if split < m {
            let rest = suffix[split]
            // Surviving candidates in doc order, via a bitmap (cheaper than sorting).
            let words = (docCount + 63) >> 6
            if bitmap.count < words { bitmap = [UInt64](repeating: 0, count: words) }
            var candidates: [UInt32] = []
            bitmap.withUnsafeMutableBufferPointer { bits in
                var lowWord = words
                var highWord = 0
                for t in 0..<nt {
                    let d = Int(touched[t])
                    if acc[d] + rest > theta {
                        bits[d >> 6] |= 1 << UInt64(d & 63)
                        lowWord = min(lowWord, d >> 6)
                        highWord = max(highWord, d >> 6)
                    }
                }
                if lowWord <= highWord {
                    for wi in lowWord...highWord {
                        var word = bits[wi]
                        while word != 0 {
                            let bit = word.trailingZeroBitCount
                            candidates.append(UInt32(wi << 6 | bit))
                            word &= word - 1
                        }
                        bits[wi] = 0
                    }
                }
            }
            for j in split..<m {
                if j > split && candidates.count > k {
                    // Tighten: the k-th best so far only grows, what is left to add only shrinks.
                    var kth = TopK(k: k)
                    var floor = -Float.infinity
                    for d32 in candidates {
                        let sc = acc[Int(d32)]
                        if sc > floor {
                            kth.pushScore(sc)
                            floor = kth.threshold
                        }
                    }
                    theta = max(theta, floor)
                    let left = suffix[j]
                    candidates.removeAll { acc[Int($0)] + left <= theta }
                }
                let l = lists[j]
                let docs = s.postingDocs + l.start
                let impacts = s.postingImpacts + l.start
                let w = l.weight
                var pos = 0
                let count = l.count
                if candidates.count * 8 > count {
                    // Dense: a linear merge beats searching.
                    // Branch-free: both cursors advance by comparison results, and the candidate's
                    // accumulator always receives either the impact or zero.
                    candidates.withUnsafeBufferPointer { cand in
                        var c = 0
                        let nc = cand.count
                        while pos < count && c < nc {
                            let d = docs[pos]
                            let cd = cand[c]
                            let hit: Float = d == cd ? 1 : 0
                            acc[Int(cd)] += hit * w * impacts[pos]
                            pos &+= d <= cd ? 1 : 0
                            c &+= d >= cd ? 1 : 0
                        }
                    }
                    continue
                }
                for d32 in candidates {
                    if docs[pos] < d32 {
                        // Gallop, then binary search.
                        var step = 1
                        var lo = pos
                        var hi = pos + 1
                        while hi < count && docs[hi] < d32 {
                            lo = hi
                            step <<= 1
                            hi = pos + step
                        }
                        if hi > count { hi = count }
                        while lo < hi {
                            let mid = (lo + hi) >> 1
                            if docs[mid] < d32 { lo = mid + 1 } else { hi = mid }
                        }
                        pos = lo
                        if pos >= count { break }
                    }
                    if docs[pos] == d32 {
                        acc[Int(d32)] += w * impacts[pos]
                        pos += 1
                        if pos >= count { break }
                    }
                }
            }
            for d32 in candidates {
                let sc = acc[Int(d32)]
                if sc > heap.threshold { heap.push(s.ids[Int(d32)], sc) }
            }
        } else {
            for t in 0..<nt {
                let d = Int(touched[t])
                let sc = acc[d]
                if sc > heap.threshold { heap.push(s.ids[d], sc) }
            }
        }
        for t in 0..<nt { acc[Int(touched[t])] = 0 }
    }

    // MARK: - Persistence

    /// Writes segment + delta − tombstones to `path` atomically and maps the result.
    public func save(to path: String, generation: Int64) throws(WendaoError) {
        // New doc numbering: live segment docs, then live delta docs.
        var ids: [Int64] = []
        var lengths: [UInt32] = []
        ids.reserveCapacity(count)
        lengths.reserveCapacity(count)
        var segMap: [UInt32] = []
        if let s = segment {
            segMap = [UInt32](repeating: UInt32.max, count: s.documentCount)
            for d in 0..<s.documentCount where !deletedInSegment[d] {
                segMap[d] = UInt32(ids.count)
                ids.append(s.ids[d])
                lengths.append(s.lengths[d])
            }
        }
        var deltaMap = [UInt32](repeating: UInt32.max, count: delta.documentCount)
        for d in 0..<delta.documentCount where !deletedInDelta[d] {
            deltaMap[d] = UInt32(ids.count)
            ids.append(delta.ids[d])
            lengths.append(delta.lengths[d])
        }
        // Count terms and postings of the merged result.
        var termCount = 0
        var postingCount = 0
        let seg = segment
        let noDeletes = deletedSegmentCount == 0 && deletedDeltaCount == 0
        func mergedCount(segStart: Int, segCount: Int, slot: Int?) -> Int {
            var c = 0
            if noDeletes {
                c = segCount + (slot.map { delta.count(of: $0) } ?? 0)
            } else {
                if let s = seg {
                    for k in segStart..<(segStart + segCount) {
                        let raw = Int(s.postingDocs[k])
                        if raw < deletedInSegment.count && !deletedInSegment[raw] { c += 1 }
                    }
                }
                if let slot { for d in delta.postings(of: slot).docs where !deletedInDelta[Int(d)] { c += 1 } }
            }
            return c
        }
        seg?.forEachTerm { term, start, cnt in
            let c = mergedCount(segStart: start, segCount: cnt, slot: delta.slot(of: term))
            if c > 0 {
                termCount += 1
                postingCount += c
            }
        }
        for (slot, term) in delta.terms.enumerated() where seg?.postings(of: term) == nil {
            let c = mergedCount(segStart: 0, segCount: 0, slot: slot)
            if c > 0 {
                termCount += 1
                postingCount += c
            }
        }
        var docsBuf: [UInt32] = []
        var tfsBuf: [UInt16] = []
        do {
            try SegmentWriter.write(
                path: path, generation: generation, ids: ids, lengths: lengths, k1: parameters.k1, b: parameters.b,
                termCount: termCount,
                postingCount: postingCount
            ) { put in
                func emit(_ term: UInt64, segStart: Int, segCount: Int, slot: Int?) {
                    docsBuf.removeAll(keepingCapacity: true)
                    tfsBuf.removeAll(keepingCapacity: true)
                    if let s = seg {
                        for k in segStart..<(segStart + segCount) {
                            let raw = Int(s.postingDocs[k])
                            if raw >= segMap.count { continue }
                            let m = segMap[raw]
                            if m != UInt32.max {
                                docsBuf.append(m)
                                tfsBuf.append(s.postingTFs[k])
                            }
                        }
                    }
                    if let slot {
                        let (dd, tt) = delta.postings(of: slot)
                        for i in 0..<dd.count {
                            let m = deltaMap[Int(dd[i])]
                            if m != UInt32.max {
                                docsBuf.append(m)
                                tfsBuf.append(tt[i])
                            }
                        }
                    }
                    if docsBuf.isEmpty { return }
                    docsBuf.withUnsafeBufferPointer { d in tfsBuf.withUnsafeBufferPointer { t in put(term, d, t) } }
                }
                seg?.forEachTerm { term, start, cnt in
                    emit(term, segStart: start, segCount: cnt, slot: delta.slot(of: term))
                }
                for (slot, term) in delta.terms.enumerated() where seg?.postings(of: term) == nil {
                    emit(term, segStart: 0, segCount: 0, slot: slot)
                }
            }
            let fresh = try Segment(path: path)
            reset(to: fresh)
        } catch SegmentError.unreadable(_, let why) {
            throw WendaoError(.storage, "cannot write index file \(path): \(why)")
        } catch SegmentError.corrupt(_, let why) {
            throw WendaoError(.corrupt, "index file \(path): \(why)")
        } catch {
            throw WendaoError(.storage, "cannot write index file \(path)")
        }
    }

    private func reset(to s: Segment) {
        segment = s
        generation = s.generation
        deletedInSegment = [Bool](repeating: false, count: s.documentCount)
        deletedSegmentCount = 0
        deletedSegmentLength = 0
        delta.reset()
        deletedInDelta = []
        deletedDeltaCount = 0
        deletedDeltaLength = 0
        locator = nil
        normsAverage = -1
        accumulator = []
        norms = []
    }
}

/// A bounded min-heap keeping the k best (id, score) pairs.
struct TopK {
    let k: Int
    private var items: [ScoredID] = []

    init(k: Int) {
        self.k = k
        items.reserveCapacity(k)
    }

    /// Pushes a bare score (for computing a threshold).
    mutating func pushScore(_ score: Float) { push(0, score) }

    /// Scores at or below this cannot enter.
    var threshold: Float { items.count < k ? -Float.infinity : items[0].score }

    @inline(__always)
    private static func less(_ a: ScoredID, _ b: ScoredID) -> Bool {
        a.score < b.score || (a.score == b.score && a.id > b.id)
    }

    mutating func push(_ id: Int64, _ score: Float) {
        let item = ScoredID(id: id, score: score)
        if items.count < k {
            items.append(item)
            var i = items.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                if Self.less(items[i], items[p]) {
                    items.swapAt(i, p)
                    i = p
                } else {
                    break
                }
            }
        } else if Self.less(items[0], item) {
            items[0] = item
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < items.count && Self.less(items[l], items[m]) { m = l }
                if r < items.count && Self.less(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
    }

    func sorted() -> [ScoredID] { items.sorted { Self.less($1, $0) } }
}
