/// One fused result: an id and its fused score (higher is better).
public struct FusedHit: Sendable, Equatable {
    /// External id (a chunk id).
    public var id: Int64
    /// Fused score.
    public var score: Double

    /// Creates a hit.
    public init(id: Int64, score: Double) {
        self.id = id
        self.score = score
    }
}

/// Fusion of ranked lists from several retrievers (BM25 and dense vectors): pure functions,
/// deterministic — equal scores are ordered by ascending id.
public enum Fusion {
    /// Reciprocal-rank fusion: each id scores Σ 1 / (k + rank) over the lists it appears in (rank
    /// from 1; a repeated id within one list counts at its first rank only).
    ///
    /// ```swift
    /// Fusion.reciprocalRank([[3, 1, 2], [1, 4]])  // 1 first: 1/62 + 1/61
    /// ```
    /// - Parameters:
    ///   - lists: ranked ids, best first, one list per retriever.
    ///   - k: the damping constant (60 in the original paper); must be ≥ 0.
    ///   - limit: keep at most this many results (all when nil).
    public static func reciprocalRank(_ lists: [[Int64]], k: Double = 60, limit: Int? = nil) -> [FusedHit] {
        let damping = max(0, k.isFinite ? k : 60)
        var scores: [Int64: Double] = [:]
        for list in lists {
            var seen = Set<Int64>()
            for (i, id) in list.enumerated() where seen.insert(id).inserted {
                scores[id, default: 0] += 1 / (damping + Double(i + 1))
            }
        }
        return ranked(scores, limit: limit)
    }

    /// Reciprocal-rank fusion of scored lists (only the order of each list matters).
    public static func reciprocalRank(_ lists: [[ScoredID]], k: Double = 60, limit: Int? = nil) -> [FusedHit] {
        reciprocalRank(lists.map { $0.map(\.id) }, k: k, limit: limit)
    }

    /// Weighted fusion of min-max-normalised scores: `alpha · dense + (1 − alpha) · sparse`, where
    /// each list's scores are mapped to 0…1 (a list whose scores are all equal maps them to 1) and an
    /// id missing from a list gets 0 there. Non-finite scores count as missing.
    ///
    /// - Parameters:
    ///   - dense: vector-search hits.
    ///   - sparse: BM25 hits.
    ///   - alpha: weight of the dense list, clamped to 0…1.
    ///   - limit: keep at most this many results (all when nil).
    public static func weighted(
        dense: [ScoredID], sparse: [ScoredID], alpha: Double = 0.5, limit: Int? = nil
    ) -> [FusedHit] {
        let a = alpha.isFinite ? min(1, max(0, alpha)) : 0.5
        var scores: [Int64: Double] = [:]
        for (list, weight) in [(dense, a), (sparse, 1 - a)] {
            for (id, normalised) in normalise(list) { scores[id, default: 0] += weight * normalised }
        }
        return ranked(scores, limit: limit)
    }

    /// Confidence-weighted fusion (the default of hybrid retrieval): a convex combination in which
    /// BM25 scores are divided by the query's score bound (``BM25Index/scoreBound(_:)``, the score a
    /// document matching every query term without limit would get) and dense scores are min-max
    /// normalised over their list:
    /// `(1 − alpha) · bm25 / bound + alpha · (cos − min) / (max − min)`.
    ///
    /// Unlike rank fusion, this keeps how strong the lexical match is: a query whose words the
    /// documents share keeps BM25's order (its normalised scores are high and spread out), while a
    /// question in other words or another language — its best BM25 score a small share of the bound
    /// — is ordered by meaning. An id missing from a list gets 0 there; non-finite scores count as
    /// missing.
    ///
    /// - Parameters:
    ///   - dense: vector-search hits (cosine).
    ///   - sparse: BM25 hits.
    ///   - sparseBound: the BM25 score bound of the query; ≤ 0 or non-finite falls back to the best
    ///     BM25 score.
    ///   - alpha: weight of the dense list, clamped to 0…1.
    ///   - limit: keep at most this many results (all when nil).
    public static func boundWeighted(
        dense: [ScoredID], sparse: [ScoredID], sparseBound: Double, alpha: Double, limit: Int? = nil
    ) -> [FusedHit] {
        let a = alpha.isFinite ? min(1, max(0, alpha)) : 0.1
        var scores: [Int64: Double] = [:]
        let best = sparse.lazy.map { Double($0.score) }.filter(\.isFinite).max() ?? 0
        let bound = sparseBound.isFinite && sparseBound > 0 ? max(sparseBound, best) : best
        if bound > 0 {
            var seen = Set<Int64>()
            for hit in sparse where hit.score.isFinite && seen.insert(hit.id).inserted {
                scores[hit.id] = (1 - a) * max(0, Double(hit.score)) / bound
            }
        }
        for (id, normalised) in normalise(dense) { scores[id, default: 0] += a * normalised }
        return ranked(scores, limit: limit)
    }

    /// Min-max normalisation of a list (first occurrence of each id, finite scores only).
    static func normalise(_ list: [ScoredID]) -> [(Int64, Double)] {
        var seen = Set<Int64>()
        var kept: [(Int64, Double)] = []
        for hit in list where hit.score.isFinite && seen.insert(hit.id).inserted {
            kept.append((hit.id, Double(hit.score)))
        }
        guard let low = kept.map(\.1).min(), let high = kept.map(\.1).max() else { return [] }
        let span = high - low
        return kept.map { ($0.0, span > 0 ? ($0.1 - low) / span : 1) }
    }

    private static func ranked(_ scores: [Int64: Double], limit: Int?) -> [FusedHit] {
        var out = scores.map { FusedHit(id: $0.key, score: $0.value) }
        out.sort { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
        if let limit, limit >= 0, out.count > limit { out.removeSubrange(limit...) }
        return out
    }
}
