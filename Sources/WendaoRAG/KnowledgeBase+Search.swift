public import WendaoCore
public import WendaoIndex
import WendaoText

/// One search result.
public struct SearchHit: Sendable, Codable, Equatable {
    /// 1-based rank.
    public var rank: Int
    /// BM25 score.
    public var score: Double
    /// Document identity.
    public var document: String
    /// Section path.
    public var section: String
    /// Page, when known.
    @ExplicitNull public var page: Int? = nil
    /// Chunk id.
    public var chunkID: Int64
    /// Chunk text.
    public var text: String
    /// Start offset in the document text (Unicode scalars).
    public var start: Int
    /// End offset.
    public var end: Int
    /// Owning document id.
    public var documentID: Int64
    /// Chunk position in its document.
    public var ordinal: Int

    enum CodingKeys: String, CodingKey {
        case rank, score, document, section, page, chunkID = "chunk_id", text, start, end
    }

    /// Creates a hit from a stored chunk.
    public init(rank: Int, score: Double, chunk: ChunkRecord) {
        self.rank = rank
        self.score = score
        self.document = chunk.documentPath
        self.section = chunk.section
        self.page = chunk.page
        self.chunkID = chunk.id
        self.text = chunk.text
        self.start = chunk.start
        self.end = chunk.end
        self.documentID = chunk.documentID
        self.ordinal = chunk.ordinal
    }

    /// Decodes a hit from the `search --json` shape (document ids and ordinals are not part of it).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rank = try c.decode(Int.self, forKey: .rank)
        score = try c.decode(Double.self, forKey: .score)
        document = try c.decode(String.self, forKey: .document)
        section = try c.decode(String.self, forKey: .section)
        page = try c.decodeIfPresent(Int.self, forKey: .page)
        chunkID = try c.decode(Int64.self, forKey: .chunkID)
        text = try c.decode(String.self, forKey: .text)
        start = try c.decode(Int.self, forKey: .start)
        end = try c.decode(Int.self, forKey: .end)
        documentID = 0
        ordinal = 0
    }
}

/// Limits on queries, so that a hostile query cannot take the service down.
public enum QueryLimits {
    /// Longer queries are cut to this many characters before analysis.
    public static let maxCharacters = 4096
    /// At most this many distinct terms are scored.
    public static let maxTerms = 256
}

extension KnowledgeBase {
    /// Analyses a query with the knowledge base's analyzer, bounded by ``QueryLimits``.
    public func queryTerms(_ query: String) throws(WendaoError) -> [UInt64] {
        let trimmed = query.trimmingCharactersInSet()
        guard !trimmed.isEmpty else { throw WendaoError(.invalidArgument, "the query is empty") }
        let bounded =
            trimmed.unicodeScalars.count > QueryLimits.maxCharacters
            ? String(String.UnicodeScalarView(trimmed.unicodeScalars.prefix(QueryLimits.maxCharacters))) : trimmed
        var terms = analyzer.terms(bounded)
        if terms.count > QueryLimits.maxTerms {
            // Keep distinct terms in first-seen order.
            var seen = Set<UInt64>()
            terms = terms.filter { seen.insert($0).inserted }.prefix(QueryLimits.maxTerms).map { $0 }
        }
        guard !terms.isEmpty else {
            throw WendaoError(.invalidArgument, "the query has no searchable words (only punctuation or stopwords)")
        }
        return terms
    }

    /// The `topK` best chunks for `query`, by `mode` (default: the knowledge base's mode — hybrid
    /// once an embedder is set, else BM25). Hybrid fuses BM25 and dense candidates (confidence-weighted
    /// scores by default, reciprocal rank with the `rrf` fusion setting); its scores are the fused
    /// scores. `queryVector` is the query's vector when the caller embedded it already (see
    /// ``denseQuery(_:mode:)``).
    public func search(_ query: String, topK: Int = 10, mode: RetrievalMode? = nil, queryVector: [Float]? = nil)
        throws -> [SearchHit]
    {
        try retrieve(query, topK: topK, mode: mode ?? defaultRetrievalMode, queryVector: queryVector).hits
    }

    /// Weight of the dense list in weighted hybrid fusion (``Fusion/boundWeighted(dense:sparse:sparseBound:alpha:limit:)``).
    static let hybridDenseWeight = 0.1

    /// Hits for `query`, and the candidate lists they came from when dense retrieval took part (the
    /// dense list holds at least 50 candidates then, for the answerer's confidence signal).
    /// A follow-up's carried topic (see ``FollowUp``) joins the lexical query at
    /// ``FollowUp/carriedWeight`` and the dense query as text.
    func retrieve(
        _ query: String, topK: Int, mode: RetrievalMode, queryVector: [Float]? = nil, followUp: FollowUp? = nil
    ) throws -> (hits: [SearchHit], lists: CandidateLists?) {
        let k = max(1, min(topK, 1000))
        switch mode {
        case .bm25:
            let phrases = crossLanguagePhrases(String(query.prefix(QueryLimits.maxCharacters)))
            let terms = try lexicalTerms(query, phrases: phrases, followUp: followUp)
            let lexical = lexicalSearch(terms, query: query, phrases: phrases, k: k)
            return (try hits(lexical.map { ($0.id, $0.score) }), nil)
        case .dense:
            guard !query.trimmingCharactersInSet().isEmpty else {
                throw WendaoError(.invalidArgument, "the query is empty")
            }
            let dense = try denseCandidates(
                String((followUp?.denseText(query) ?? query).prefix(QueryLimits.maxCharacters)), k: max(50, k),
                queryVector: queryVector)
            let lists = CandidateLists(lexical: [], dense: dense.hits, lexicalBound: 0, queryVector: dense.queryVector)
            return (try hits(dense.hits.prefix(k).map { ($0.id, $0.score) }), lists)
        case .hybrid:
            let lists = try candidateLists(query, pool: max(50, k * 3), queryVector: queryVector, followUp: followUp)
            guard !lists.lexical.isEmpty || !lists.dense.isEmpty else { _ = try queryTerms(query); return ([], lists) }
            let fused =
                record.settings.effectiveFusion == .rrf
                ? Fusion.reciprocalRank([lists.lexical, lists.dense], limit: k)
                : Fusion.boundWeighted(
                    dense: lists.dense, sparse: lists.lexical, sparseBound: Double(lists.lexicalBound),
                    alpha: Self.hybridDenseWeight, limit: k)
            return (try hits(fused.map { ($0.id, Float($0.score)) }), lists)
        }
    }

    /// The two candidate lists hybrid retrieval fuses, best first: BM25 (empty when the query has no
    /// searchable words) and dense (needs an embedder). For evaluation and diagnostics.
    public func candidateLists(_ query: String, pool: Int, queryVector: [Float]? = nil, followUp: FollowUp? = nil)
        throws -> CandidateLists
    {
        let phrases = crossLanguagePhrases(String(query.prefix(QueryLimits.maxCharacters)))
        let terms = try? lexicalTerms(query, phrases: phrases, followUp: followUp)
        let lexical = terms.map { lexicalSearch($0, query: query, phrases: phrases, k: pool) } ?? []
        let dense = try denseCandidates(
            String((followUp?.denseText(query) ?? query).prefix(QueryLimits.maxCharacters)), k: pool,
            queryVector: queryVector)
        return CandidateLists(
            lexical: lexical, dense: dense.hits, lexicalBound: terms.map { boundTerms($0, phrases: phrases) } ?? 0,
            queryVector: dense.queryVector)
    }

    /// The weighted BM25 terms of `query` with a follow-up's carried topic: a follow-up made only of
    /// question words ("and after that?") is searched by its carried topic alone.
    func lexicalTerms(_ query: String, phrases: [CrossLanguagePhrase], followUp: FollowUp?) throws
        -> [(term: UInt64, weight: Float)]
    {
        guard let followUp else { return try weightedQueryTerms(query, phrases: phrases) }
        let terms = carrying(followUp, (try? weightedQueryTerms(query, phrases: phrases)) ?? [])
        if terms.isEmpty { _ = try queryTerms(query) }
        return terms
    }

    /// `terms` with a follow-up's carried topic added at ``FollowUp/carriedWeight`` (its terms the
    /// query has already are not added again).
    func carrying(_ followUp: FollowUp?, _ terms: [(term: UInt64, weight: Float)]) -> [(term: UInt64, weight: Float)] {
        guard let followUp else { return terms }
        var out = terms
        var present = Set(terms.map(\.term))
        for t in analyzer.terms(followUp.topic) where present.insert(t).inserted {
            out.append((t, FollowUp.carriedWeight))
        }
        return out
    }

    /// Search hits for chunk ids in the order given, ranked from 1 (ids no longer stored are skipped).
    public func hits(_ scored: [(id: Int64, score: Float)]) throws -> [SearchHit] {
        let missing = scored.map(\.id).filter { chunkCache[$0] == nil }
        if !missing.isEmpty {
            if chunkCache.count + missing.count > chunkCacheLimit { chunkCache.removeAll(keepingCapacity: true) }
            for c in try store.chunks(ids: missing) { chunkCache[c.id] = c }
        }
        var hits: [SearchHit] = []
        for s in scored {
            guard let c = chunkCache[s.id] else { continue }
            hits.append(SearchHit(rank: hits.count + 1, score: Double(s.score), chunk: c))
        }
        return hits
    }

    /// Search results packed into at most `budget` characters of context: results in rank order,
    /// overlapping chunks of one document merged, a result that does not fit skipped for a smaller
    /// one further down.
    public func search(_ query: String, topK: Int, budgetChars: Int) throws -> [SearchHit] {
        ContextPacker.pack(try search(query, topK: topK), budget: budgetChars)
    }
}

/// BM25 and dense candidates for one query, before fusion.
public struct CandidateLists: Sendable {
    /// BM25 hits, best first.
    public var lexical: [ScoredID]
    /// Dense hits (cosine), best first.
    public var dense: [ScoredID]
    /// The highest BM25 score the query could reach (`BM25Index.scoreBound`); 0 without query terms.
    public var lexicalBound: Float
    /// The query's dense vector (nil when there was nothing to search), kept so the answerer can
    /// compare sentences with it without embedding the question again.
    public var queryVector: [Float]?
}

extension String {
    func trimmingCharactersInSet() -> String {
        var s = Substring(self)
        while let f = s.unicodeScalars.first, f.properties.isWhitespace { s = s.dropFirst() }
        while let l = s.unicodeScalars.last, l.properties.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

/// Packs ranked hits into a character budget.
public enum ContextPacker {
    /// Hits (in rank order) whose combined new text fits in `budget` characters. Hits that overlap
    /// an already chosen hit of the same document only cost their new characters.
    public static func pack(_ hits: [SearchHit], budget: Int) -> [SearchHit] {
        var used = 0
        var out: [SearchHit] = []
        for h in hits {
            let cost = newCharacters(h, against: out)
            if cost == 0 { continue }
            // A result that does not fit is skipped for a smaller one further down.
            if used + cost > budget { continue }
            used += cost
            out.append(h)
        }
        return out
    }

    /// Characters of `h` not already covered by chosen hits of the same document.
    static func newCharacters(_ h: SearchHit, against chosen: [SearchHit]) -> Int {
        var covered = 0
        for c in chosen where c.documentID == h.documentID && c.document == h.document {
            let a = max(c.start, h.start)
            let b = min(c.end, h.end)
            if b > a { covered += b - a }
        }
        return max(0, (h.end - h.start) - covered)
    }
}

extension ContextPacker {
    /// The text of packed hits as one context: hits of one document whose ranges overlap or touch
    /// are merged into one passage (overlaps not repeated); passages are separated by a newline.
    public static func contextText(_ hits: [SearchHit]) -> String {
        var passages: [(doc: Int64, path: String, start: Int, end: Int, text: [Unicode.Scalar])] = []
        for h in hits {
            let scalars = Array(h.text.unicodeScalars)
            if let i = passages.firstIndex(where: {
                $0.doc == h.documentID && $0.path == h.document && h.start <= $0.end && h.end >= $0.start
            }) {
                var p = passages[i]
                if h.start < p.start {
                    let keep = max(0, min(scalars.count, p.start - h.start))
                    p.text = Array(scalars[0..<keep]) + p.text
                    p.start = h.start
                }
                if h.end > p.end {
                    let from = max(0, min(scalars.count, p.end - h.start))
                    p.text += scalars[from...]
                    p.end = h.end
                }
                passages[i] = p
            } else {
                passages.append((h.documentID, h.document, h.start, h.end, scalars))
            }
        }
        return passages.map { String(String.UnicodeScalarView($0.text)) }.joined(separator: "\n")
    }
}
