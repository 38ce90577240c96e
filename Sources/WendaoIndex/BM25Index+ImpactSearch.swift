import Foundation

extension BM25Index {
    /// Scoring with precomputed impacts and MaxScore pruning: terms are taken by decreasing upper
    /// bound; once the k-th best partial score beats what the remaining terms could add, no new
    /// document can enter the top k, and the remaining (long) lists are only probed for the
    /// surviving candidates by galloping search. Results and scores are exact.
    func searchImpacts(
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
}
