/// An in-memory, append-only inverted index: the delta on top of a mapped segment, and the builder
/// that writes segment files.
final class PostingsBuilder {
    /// term hash → slot.
    private(set) var slots: [UInt64: Int32] = [:]
    private(set) var terms: [UInt64] = []
    private(set) var docs: [[UInt32]] = []
    private(set) var tfs: [[UInt16]] = []
    private(set) var ids: [Int64] = []
    private(set) var lengths: [UInt32] = []
    private(set) var totalLength: UInt64 = 0
    private var scratch: [UInt64] = []

    init() {}

    var documentCount: Int { ids.count }

    /// Adds a document and returns its local number.
    @discardableResult
    func add(id: Int64, terms input: [UInt64]) -> UInt32 {
        let doc = UInt32(ids.count)
        ids.append(id)
        lengths.append(UInt32(input.count))
        totalLength += UInt64(input.count)
        guard !input.isEmpty else { return doc }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: input)
        scratch.sort()
        var i = 0
        let n = scratch.count
        while i < n {
            let t = scratch[i]
            var j = i + 1
            while j < n && scratch[j] == t { j += 1 }
            let tf = UInt16(min(j - i, Int(UInt16.max)))
            if let s = slots[t] {
                docs[Int(s)].append(doc)
                tfs[Int(s)].append(tf)
            } else {
                slots[t] = Int32(terms.count)
                terms.append(t)
                docs.append([doc])
                tfs.append([tf])
            }
            i = j
        }
        return doc
    }

    /// Forgets everything.
    func reset() {
        slots = [:]
        terms = []
        docs = []
        tfs = []
        ids = []
        lengths = []
        totalLength = 0
    }

    /// The slot of a term, if present.
    @inline(__always)
    func slot(of term: UInt64) -> Int? {
        slots[term].map(Int.init)
    }
}
