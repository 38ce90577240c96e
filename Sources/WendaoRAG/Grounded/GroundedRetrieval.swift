/// What one search of a grounded answer found: the passages, best first, how relevant they are to
/// the query (the best coverage among the first six, as ``ExtractiveAnswerer`` measures it), and —
/// when the search ran against a knowledge base (``GroundedAnswerer/retrieve(_:topK:in:queryVector:)``)
/// — the extractive answer over the same passages, which the answer guard falls back to.
///
/// ```swift
/// let found = try GroundedAnswerer.retrieve("首重多少钱", topK: 8, in: kb)
/// if found.coverage < 0.3 { print("nothing relevant") }
/// print(found.extractive?.answer ?? "")
/// ```
public struct GroundedRetrieval: Sendable {
    /// The passages, best first.
    public var hits: [SearchHit]
    /// Relevance of the passages to the query, 0…1.
    public var coverage: Double
    /// The extractive answer to the query from these passages; nil when not computed (the answer
    /// guard then falls back to "not found").
    public var extractive: Answer?
    /// How much of the query's informative weight a text contains, 0…1 (the measure of
    /// ``coverage``); nil when unknown. The answer guard compares the model's answer with the
    /// extractive one by it.
    public var queryCoverage: (@Sendable (String) -> Double)?
    /// The query's terms (``WendaoText/Analyzer`` hashes: words, Chinese characters and character
    /// pairs) that no passage of the knowledge base contains: an answer sentence that uses one affirms
    /// something no document says.
    public var unknownQueryTerms: Set<UInt64>

    /// Creates a result.
    public init(
        hits: [SearchHit], coverage: Double, extractive: Answer? = nil,
        queryCoverage: (@Sendable (String) -> Double)? = nil, unknownQueryTerms: Set<UInt64> = []
    ) {
        self.hits = hits
        self.coverage = coverage
        self.extractive = extractive
        self.queryCoverage = queryCoverage
        self.unknownQueryTerms = unknownQueryTerms
    }
}
