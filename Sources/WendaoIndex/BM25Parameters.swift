/// BM25 scoring parameters (Lucene's variant: idf = ln(1 + (N − df + 0.5) / (df + 0.5))).
public struct BM25Parameters: Sendable, Equatable {
    /// Term-frequency saturation.
    public var k1: Float
    /// Length normalisation.
    public var b: Float

    /// Creates parameters.
    public init(k1: Float = 1.2, b: Float = 0.75) {
        self.k1 = k1
        self.b = b
    }
}

/// One search hit: the external id given at ``BM25Index/add(id:terms:)`` and its score.
public struct ScoredID: Sendable, Equatable {
    /// External id (a chunk id).
    public var id: Int64
    /// BM25 score.
    public var score: Float

    /// Creates a hit.
    public init(id: Int64, score: Float) {
        self.id = id
        self.score = score
    }
}
