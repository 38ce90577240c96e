import Foundation
import WendaoCore
public import WendaoRAG

/// A chunk questions are written from.
public struct SourceChunk: Sendable, Equatable, Codable {
    /// Its id.
    public var id: Int64
    /// Its document path.
    public var document: String
    /// Its section path.
    public var section: String
    /// Its position in the document.
    public var ordinal: Int
    /// Its text.
    public var text: String

    /// Creates a chunk.
    public init(id: Int64, document: String, section: String, ordinal: Int, text: String) {
        self.id = id
        self.document = document
        self.section = section
        self.ordinal = ordinal
        self.text = text
    }

    /// SHA-256 of the text (provenance: an edited chunk has another).
    public var hash: String {
        var h = SHA256()
        h.update(Array(text.utf8))
        return h.hexDigest()
    }
}

/// Chooses the chunks a dataset is written from: every document covered, a cap per document (chunks
/// evenly spaced over the document, so its end is covered as well as its start), and an overall cap that
/// takes chunks round-robin across documents (so a small cap still covers as many documents as it can).
///
/// ```swift
/// let chosen = ChunkSelection.select(byDocument, perDocument: 8, limit: 200, seed: 17)
/// ```
public enum ChunkSelection {
    /// Shortest chunk text used (shorter ones — a heading, a page number — make poor questions).
    public static let minimumCharacters = 20

    /// The enabled chunks of `kb` worth asking about, grouped by document (documents by path).
    public static func chunks(of kb: KnowledgeBase) throws -> [[SourceChunk]] {
        var out: [[SourceChunk]] = []
        for d in try kb.documents().sorted(by: { $0.path < $1.path }) {
            var chunks: [SourceChunk] = []
            var offset = 0
            while true {
                let detail = try kb.documentDetail(d.path, offset: offset, limit: 1000)
                for c in detail.chunks
                where c.enabled && c.text.trimmingCharacters(in: .whitespacesAndNewlines).count >= minimumCharacters {
                    chunks.append(
                        SourceChunk(
                            id: c.id, document: c.documentPath, section: c.section, ordinal: c.ordinal, text: c.text))
                }
                offset += detail.chunks.count
                if detail.chunks.isEmpty || offset >= detail.chunkTotal { break }
            }
            if !chunks.isEmpty { out.append(chunks) }
        }
        return out
    }

    /// Up to `perDocument` chunks of each document, evenly spaced, in document order; then at most `limit`
    /// in all, taken round-robin over the documents in a seeded order. The result is grouped by document
    /// (chunks of one document next to each other, by ordinal).
    public static func select(_ documents: [[SourceChunk]], perDocument: Int, limit: Int?, seed: UInt64)
        -> [SourceChunk]
    {
        let cap = max(1, perDocument)
        let spaced: [[SourceChunk]] = documents.map { chunks in
            guard chunks.count > cap else { return chunks }
            // Evenly spaced: the i-th of `cap` picks is at i * count / cap.
            return (0..<cap).map { chunks[$0 * chunks.count / cap] }
        }
        guard let limit, limit < spaced.reduce(0, { $0 + $1.count }) else { return spaced.flatMap { $0 } }
        var order = Array(spaced.indices)
        var rng = SeededRandom(seed: seed)
        order.shuffle(using: &rng)
        var taken = Array(repeating: 0, count: spaced.count)
        var total = 0
        var round = 0
        while total < limit {
            var progressed = false
            for d in order where total < limit && round < spaced[d].count {
                taken[d] += 1
                total += 1
                progressed = true
            }
            if !progressed { break }
            round += 1
        }
        // Within a document, the taken chunks are again spread over it.
        var out: [SourceChunk] = []
        for (d, chunks) in spaced.enumerated() where taken[d] > 0 {
            let n = taken[d]
            out.append(contentsOf: (0..<n).map { chunks[$0 * chunks.count / n] })
        }
        return out
    }

    /// Pairs for comparison questions: within each document, the 1st selected chunk with the 2nd, the 3rd
    /// with the 4th, …; returns the partner of each chunk that leads a pair.
    public static func comparisonPartners(_ selected: [SourceChunk]) -> [Int64: SourceChunk] {
        var out: [Int64: SourceChunk] = [:]
        var i = 0
        while i + 1 < selected.count {
            if selected[i].document == selected[i + 1].document {
                out[selected[i].id] = selected[i + 1]
                i += 2
            } else {
                i += 1
            }
        }
        return out
    }
}

/// SplitMix64, a small seeded generator (the same seed, the same order).
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator seeded with `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
