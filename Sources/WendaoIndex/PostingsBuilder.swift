/// An in-memory, append-only inverted index: the delta on top of a mapped segment, and the builder
/// that writes segment files.
///
/// Postings live in one arena of linked blocks whose size doubles per term (2, 4, … 1024), so a
/// rare term costs a few bytes and no term owns a separately allocated array. The term table is
/// open addressing on the 64-bit term hash.
final class PostingsBuilder {
    private var state = State()

    struct State {
        // Term table: open addressing, keys are term hashes, values slot + 1 (0 = empty).
        var keys: [UInt64] = [UInt64](repeating: 0, count: 1024)
        var values: [Int32] = [Int32](repeating: 0, count: 1024)
        var terms: [UInt64] = []
        // Per slot: first block, current block, used in current block, current block capacity, count.
        var head: [Int32] = []
        var tail: [Int32] = []
        var fill: [UInt16] = []
        var capacity: [UInt16] = []
        var counts: [UInt32] = []
        var lastDoc: [UInt32] = []
        // Arena: a block of capacity c holds c postings then one link (next block start, or -1).
        var docs: [UInt32] = []
        var tfs: [UInt16] = []
        var ids: [Int64] = []
        var lengths: [UInt32] = []
        var totalLength: UInt64 = 0

        @inline(__always)
        func find(_ t: UInt64) -> Int? {
            let mask = keys.count - 1
            var i = Int(truncatingIfNeeded: t) & mask
            while true {
                let v = values[i]
                if v == 0 { return nil }
                if keys[i] == t { return Int(v - 1) }
                i = (i + 1) & mask
            }
        }

        mutating func grow() {
            let old = keys
            let oldValues = values
            let n = keys.count * 2
            keys = [UInt64](repeating: 0, count: n)
            values = [Int32](repeating: 0, count: n)
            let mask = n - 1
            for j in 0..<old.count where oldValues[j] != 0 {
                var i = Int(truncatingIfNeeded: old[j]) & mask
                while values[i] != 0 { i = (i + 1) & mask }
                keys[i] = old[j]
                values[i] = oldValues[j]
            }
        }

        mutating func newBlock(_ size: Int) -> Int32 {
            let start = docs.count
            docs.append(contentsOf: repeatElement(0, count: size + 1))
            tfs.append(contentsOf: repeatElement(0, count: size + 1))
            docs[start + size] = UInt32.max
            return Int32(start)
        }

        @inline(__always)
        mutating func append(term t: UInt64, doc: UInt32, tf: UInt16) {
            let mask = keys.count - 1
            var i = Int(truncatingIfNeeded: t) & mask
            var slot = -1
            while true {
                let v = values[i]
                if v == 0 { break }
                if keys[i] == t {
                    slot = Int(v - 1)
                    break
                }
                i = (i + 1) & mask
            }
            if slot < 0 {
                slot = terms.count
                keys[i] = t
                values[i] = Int32(slot + 1)
                terms.append(t)
                let b = newBlock(2)
                head.append(b)
                tail.append(b)
                fill.append(0)
                capacity.append(2)
                counts.append(0)
                lastDoc.append(UInt32.max)
                if terms.count * 2 > keys.count { grow() }
            }
            var f = Int(fill[slot])
            var cap = Int(capacity[slot])
            if f == cap {
                let nextCap = min(cap * 2, 1024)
                let b = newBlock(nextCap)
                docs[Int(tail[slot]) + cap] = UInt32(bitPattern: b)
                tail[slot] = b
                capacity[slot] = UInt16(nextCap)
                cap = nextCap
                f = 0
            }
            let at = Int(tail[slot]) + f
            docs[at] = doc
            tfs[at] = tf
            fill[slot] = UInt16(f + 1)
            counts[slot] &+= 1
            lastDoc[slot] = doc
        }

        mutating func add(id: Int64, terms input: [UInt64]) -> UInt32 {
            let doc = UInt32(ids.count)
            ids.append(id)
            lengths.append(UInt32(input.count))
            totalLength += UInt64(input.count)
            for t in input { occurrence(term: t, doc: doc) }
            return doc
        }

        /// Records one occurrence: a new posting, or one more for the document's last posting.
        @inline(__always)
        mutating func occurrence(term t: UInt64, doc: UInt32) {
            let mask = keys.count - 1
            var i = Int(truncatingIfNeeded: t) & mask
            while true {
                let v = values[i]
                if v == 0 { break }
                if keys[i] == t {
                    let slot = Int(v - 1)
                    if lastDoc[slot] == doc {
                        let at = Int(tail[slot]) + Int(fill[slot]) - 1
                        if tfs[at] < UInt16.max { tfs[at] += 1 }
                        return
                    }
                    break
                }
                i = (i + 1) & mask
            }
            append(term: t, doc: doc, tf: 1)
        }
    }

    init() {}

    var documentCount: Int { state.ids.count }
    var ids: [Int64] { state.ids }
    var lengths: [UInt32] { state.lengths }
    var totalLength: UInt64 { state.totalLength }
    /// Term hashes by slot.
    var terms: [UInt64] { state.terms }

    /// Adds a document and returns its local number.
    @discardableResult
    func add(id: Int64, terms input: [UInt64]) -> UInt32 {
        state.add(id: id, terms: input)
    }

    /// Forgets everything.
    func reset() { state = State() }

    /// The slot of a term, if present.
    @inline(__always)
    func slot(of term: UInt64) -> Int? { state.find(term) }

    /// Number of postings of a slot.
    func count(of slot: Int) -> Int { Int(state.counts[slot]) }

    /// The postings of a slot, in document order.
    func postings(of slot: Int) -> (docs: [UInt32], tfs: [UInt16]) {
        let n = Int(state.counts[slot])
        var block = Int(state.head[slot])
        return state.docs.withUnsafeBufferPointer { arenaDocs in
            state.tfs.withUnsafeBufferPointer { arenaTFs in
                var d: [UInt32] = []
                var t: [UInt16] = []
                d.reserveCapacity(n)
                t.reserveCapacity(n)
                var cap = 2
                while d.count < n {
                    let take = min(cap, n - d.count)
                    d.append(contentsOf: arenaDocs[block..<(block + take)])
                    t.append(contentsOf: arenaTFs[block..<(block + take)])
                    if d.count < n {
                        block = Int(Int32(bitPattern: arenaDocs[block + cap]))
                        cap = min(cap * 2, 1024)
                    }
                }
                return (d, t)
            }
        }
    }
}
