/// What one search of a grounded answer found: the passages, best first, and how relevant they are
/// to the query (the best coverage among the first six, as ``ExtractiveAnswerer`` measures it).
///
/// ```swift
/// let found = try GroundedAnswerer.retrieve("首重多少钱", topK: 8, in: kb)
/// if found.coverage < 0.3 { print("nothing relevant") }
/// ```
public struct GroundedRetrieval: Sendable {
    /// The passages, best first.
    public var hits: [SearchHit]
    /// Relevance of the passages to the query, 0…1.
    public var coverage: Double

    /// Creates a result.
    public init(hits: [SearchHit], coverage: Double) {
        self.hits = hits
        self.coverage = coverage
    }
}
