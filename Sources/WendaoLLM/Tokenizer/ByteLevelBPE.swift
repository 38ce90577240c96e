/// GPT-2's reversible map between bytes and printable Unicode scalars: the printable Latin-1
/// bytes (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves, the other 68 bytes for U+0100 onwards
/// in byte order. Byte-level BPE vocabularies spell every token in these scalars (`Ġ` is a space).
enum ByteLevelAlphabet {
    /// The scalar value standing for each byte.
    static let scalarOfByte: [UInt32] = {
        var map = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                map[b] = UInt32(b)
            } else {
                map[b] = next
                next += 1
            }
        }
        return map
    }()

    /// The byte each scalar value below 324 stands for, or -1.
    static let byteOfScalar: [Int16] = {
        var map = [Int16](repeating: -1, count: 324)
        for (b, s) in scalarOfByte.enumerated() { map[Int(s)] = Int16(b) }
        return map
    }()

    /// The token text spelling `bytes`.
    static func spell<C: Collection<UInt8>>(_ bytes: C) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(scalarOfByte[Int(b)])!) }
        return String(s)
    }

    /// The bytes a token text stands for; scalars outside the alphabet (never in a well-made
    /// vocabulary) are kept as their UTF-8.
    static func bytes(of text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            let v = Int(s.value)
            if v < byteOfScalar.count, byteOfScalar[v] >= 0 {
                out.append(UInt8(byteOfScalar[v]))
            } else {
                out.append(contentsOf: String(s).utf8)
            }
        }
        return out
    }
}

/// The merge rules of a byte-level BPE vocabulary over token ids: which adjacent pair merges, how
/// early (its rank: its line in `tokenizer.ggml.merges`), and into which token.
struct BPEMerges: Sendable {
    /// `left << 32 | right` → `rank << 32 | merged`.
    private let table: [UInt64: UInt64]
    /// The token of each single byte (its alphabet scalar), or -1 when the vocabulary lacks it.
    let byteTokens: [Int32]

    init(table: [UInt64: UInt64], byteTokens: [Int32]) {
        self.table = table
        self.byteTokens = byteTokens
    }

    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// The rank and the merged token of the pair, when it merges.
    @inline(__always) func merge(_ left: Int32, _ right: Int32) -> (rank: UInt32, token: Int32)? {
        guard left >= 0, right >= 0, let v = table[Self.key(left, right)] else { return nil }
        return (UInt32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v & 0xFFFF_FFFF))
    }
}

/// Reusable buffers for merging one word after another.
struct BPEScratch {
    var ids: [Int32] = []
    var next: [Int32] = []
    var prev: [Int32] = []
    /// A binary min-heap of `rank << 32 | left`: the lowest rank first, then the leftmost pair.
    var heap: [UInt64] = []

    mutating func push(_ v: UInt64) {
        heap.append(v)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[parent] > heap[i] else { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            let n = heap.count
            while true {
                let l = 2 * i + 1
                guard l < n else { break }
                let r = l + 1
                let m = r < n && heap[r] < heap[l] ? r : l
                guard heap[m] < heap[i] else { break }
                heap.swapAt(m, i)
                i = m
            }
        }
        return top
    }
}

extension BPEMerges {
    /// Appends the tokens of one pre-tokenized word (its UTF-8 bytes) to `out`: every byte starts
    /// as its own symbol, and the adjacent pair of lowest rank (leftmost among equals) merges until
    /// no pair does — llama.cpp's order, so ties break the same way.
    func encode(word: UnsafeBufferPointer<UInt8>, scratch: inout BPEScratch, into out: inout [Int32]) {
        let n = word.count
        if n == 1 {
            let id = byteTokens[Int(word[0])]
            if id >= 0 { out.append(id) }
            return
        }
        scratch.ids.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.prev.removeAll(keepingCapacity: true)
        scratch.heap.removeAll(keepingCapacity: true)
        for (i, b) in word.enumerated() {
            scratch.ids.append(byteTokens[Int(b)])
            scratch.next.append(i + 1 < n ? Int32(i + 1) : -1)
            scratch.prev.append(Int32(i - 1))
        }
        for i in 0..<(n - 1) {
            if let m = merge(scratch.ids[i], scratch.ids[i + 1]) { scratch.push(UInt64(m.rank) << 32 | UInt64(i)) }
        }
        while let top = scratch.pop() {
            let left = Int(top & 0xFFFF_FFFF)
            let rank = UInt32(top >> 32)
            let leftID = scratch.ids[left]
            let right = Int(scratch.next[left])
            // Stale entries (a side merged since) no longer name a pair of this rank.
            guard leftID >= 0, right >= 0, let m = merge(leftID, scratch.ids[right]), m.rank == rank else { continue }
            scratch.ids[left] = m.token
            scratch.ids[right] = -2
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.prev[Int(after)] = Int32(left) }
            let before = Int(scratch.prev[left])
            if before >= 0, let p = merge(scratch.ids[before], m.token) {
                scratch.push(UInt64(p.rank) << 32 | UInt64(before))
            }
            if after >= 0, let p = merge(m.token, scratch.ids[Int(after)]) {
                scratch.push(UInt64(p.rank) << 32 | UInt64(left))
            }
        }
        var i = 0
        while i >= 0 {
            let id = scratch.ids[i]
            // A byte the vocabulary lacks yields nothing, as in llama.cpp.
            if id >= 0 { out.append(id) }
            i = Int(scratch.next[i])
        }
    }
}
