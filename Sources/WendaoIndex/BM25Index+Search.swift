import Foundation

extension BM25Index {
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
}
