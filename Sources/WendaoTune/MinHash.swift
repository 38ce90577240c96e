import Foundation

/// Near-duplicate detection with MinHash over character n-grams (5-grams by default) and locality-
/// sensitive hashing: texts are normalised (NFKC-like lowercasing, letters and digits only), cut into
/// overlapping n-grams, and summarised by `permutations` minimum hashes; texts sharing a band of rows are
/// candidates, and a candidate whose estimated Jaccard similarity reaches the threshold is a duplicate of
/// the earlier text. Deterministic: the same seed gives the same hashes.
///
/// ```swift
/// var d = MinHashDeduplicator(threshold: 0.8)
/// d.isDuplicate("首重多少钱？")          // nil: first of its kind
/// d.isDuplicate("首重多少钱呢？")         // the index of the first: a near-duplicate
/// ```
public struct MinHashDeduplicator: Sendable {
    /// Texts at least this similar (estimated Jaccard of their n-gram sets) are duplicates.
    public let threshold: Double
    /// Characters per n-gram.
    public let n: Int
    /// Hash functions.
    public let permutations: Int
    /// Rows per LSH band.
    public let rows: Int
    private let seeds: [UInt64]
    private var buckets: [[UInt64: [Int32]]]
    private var signatures: [[UInt32]] = []

    /// A deduplicator; `rows` per band is chosen so that pairs at the threshold are almost always
    /// candidates (the LSH curve's midpoint well below the threshold).
    public init(threshold: Double = 0.8, n: Int = 5, permutations: Int = 128, seed: UInt64 = 0x5EED) {
        self.threshold = min(max(threshold, 0.01), 1)
        self.n = max(1, n)
        self.permutations = max(8, permutations)
        var rng = SeededRandom(seed: seed)
        seeds = (0..<self.permutations).map { _ in rng.next() }
        // The midpoint (1/b)^(1/r) at about threshold − 0.15 (rows from 1 to 16, dividing the count).
        var best = 1
        var bestGap = Double.infinity
        for r in 1...16 where self.permutations % r == 0 {
            let b = Double(self.permutations / r)
            let mid = Foundation.pow(1 / b, 1 / Double(r))
            let gap = abs(mid - (self.threshold - 0.15))
            if gap < bestGap {
                bestGap = gap
                best = r
            }
        }
        rows = best
        buckets = Array(repeating: [:], count: self.permutations / best)
    }

    /// The normalised characters of `text`: lowercased, full-width ASCII folded, letters and digits only.
    public static func normalised(_ text: String) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        for ch in text.lowercased().unicodeScalars {
            var u = ch
            if (0xFF01...0xFF5E).contains(u.value), let f = Unicode.Scalar(u.value - 0xFEE0) { u = f }
            if u.properties.isAlphabetic || u.properties.numericType != nil {
                out.append(contentsOf: String(u).lowercased().unicodeScalars)
            }
        }
        return out
    }

    /// The hashes of the n-grams of `text` (a text shorter than n is one n-gram).
    public func shingles(_ text: String) -> Set<UInt64> {
        let s = Self.normalised(text)
        var out = Set<UInt64>()
        if s.isEmpty { return out }
        let width = min(n, s.count)
        for i in 0...(s.count - width) {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for u in s[i..<(i + width)] {
                h ^= UInt64(u.value)
                h = h &* 0x0000_0100_0000_01B3
            }
            out.insert(h)
        }
        return out
    }

    /// The MinHash signature of `text`.
    public func signature(_ text: String) -> [UInt32] {
        let sh = shingles(text)
        var sig = [UInt32](repeating: .max, count: permutations)
        for x in sh {
            for i in 0..<permutations {
                let v = UInt32(truncatingIfNeeded: Self.mix(x ^ seeds[i]) >> 32)
                if v < sig[i] { sig[i] = v }
            }
        }
        return sig
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The estimated Jaccard similarity of two signatures.
    public static func similarity(_ a: [UInt32], _ b: [UInt32]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return 0 }
        var same = 0
        for i in a.indices where a[i] == b[i] { same += 1 }
        return Double(same) / Double(a.count)
    }

    /// The exact Jaccard similarity of the n-gram sets of two texts.
    public func jaccard(_ a: String, _ b: String) -> Double {
        let x = shingles(a)
        let y = shingles(b)
        guard !x.isEmpty || !y.isEmpty else { return 1 }
        return Double(x.intersection(y).count) / Double(x.union(y).count)
    }

    /// Adds `text`; returns the position (among the texts kept so far) of an earlier text it nearly
    /// duplicates — then it is not kept — or nil, and it is kept. Memory: one signature of `permutations` × 4 bytes per
    /// kept text plus the band buckets.
    public mutating func isDuplicate(_ text: String) -> Int? {
        let sig = signature(text)
        let bands = permutations / rows
        var keys: [UInt64] = []
        keys.reserveCapacity(bands)
        var checked = Set<Int32>()
        for b in 0..<bands {
            var h: UInt64 = UInt64(b) &* 0x9E37_79B9_7F4A_7C15
            for r in 0..<rows { h = Self.mix(h ^ UInt64(sig[b * rows + r])) }
            keys.append(h)
            for candidate in buckets[b][h] ?? [] where checked.insert(candidate).inserted {
                if Self.similarity(sig, signatures[Int(candidate)]) >= threshold { return Int(candidate) }
            }
        }
        let index = Int32(signatures.count)
        signatures.append(sig)
        for b in 0..<bands { buckets[b][keys[b], default: []].append(index) }
        return nil
    }
}
