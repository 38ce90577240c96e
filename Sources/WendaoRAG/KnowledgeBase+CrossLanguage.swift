import WendaoCore
import WendaoIndex
import WendaoText

extension KnowledgeBase {
    /// Weight of a cross-language rendering's terms in BM25, shared by the renderings of one English
    /// word: a Chinese passage that holds the rendering scores as if the question had said it, a
    /// little less than the word itself.
    static let renderingWeight: Float = 1.0

    /// The Chinese renderings (``BilingualGlossary``) of an English question's words that this
    /// knowledge base's index contains: at most three words of two or more characters per English
    /// word, or one character when no longer word is there. Empty for a question that is not mainly
    /// English.
    public func crossLanguagePhrases(_ question: String) -> [CrossLanguagePhrase] {
        guard BilingualGlossary.isMainlyEnglish(question) else { return [] }
        var out: [CrossLanguagePhrase] = []
        for r in BilingualGlossary.renderings(of: question) {
            var words: [(text: String, terms: [UInt64])] = []
            var single: (text: String, terms: [UInt64])?
            for zh in r.chinese {
                let tokens = analyzer.tokens(zh)
                let pairs = tokens.filter { $0.unicodeScalars.count == 2 }
                let key = zh.unicodeScalars.count == 1 ? tokens : pairs
                guard !key.isEmpty else { continue }
                let hashes = key.map { Analyzer.hash(term: $0) }
                guard hashes.allSatisfy({ index.documentFrequency($0) > 0 }) else { continue }
                if zh.unicodeScalars.count == 1 {
                    if single == nil { single = (zh, hashes) }
                } else if words.count < 3 {
                    words.append((zh, hashes))
                }
            }
            if words.isEmpty, let single { words = [single] }
            // No rendering occurs here: Chinese compounds put their head last (储物柜, 置物柜 →
            // 柜), so a head that most renderings share stands in when the documents hold it
            // (快递柜).
            if words.isEmpty {
                var heads: [String: Int] = [:]
                var order: [String] = []
                var compounds = 0
                for zh in r.chinese where zh.unicodeScalars.count >= 2 {
                    compounds += 1
                    guard let last = zh.unicodeScalars.last, last.value >= 0x3400 else { continue }
                    let h = String(last)
                    if heads[h] == nil { order.append(h) }
                    heads[h, default: 0] += 1
                }
                if let head = order.max(by: { heads[$0]! < heads[$1]! }), heads[head]! >= 2,
                    heads[head]! * 2 > compounds
                {
                    let hashes = analyzer.tokens(head).map { Analyzer.hash(term: $0) }
                    if !hashes.isEmpty, hashes.allSatisfy({ index.documentFrequency($0) > 0 }) {
                        words = [(head, hashes)]
                    }
                }
            }
            guard !words.isEmpty else { continue }
            out.append(CrossLanguagePhrase(english: analyzer.terms(r.english), chinese: words))
        }
        return out
    }

    /// The query's terms with weight 1, plus the terms of its cross-language renderings.
    func weightedQueryTerms(_ query: String, phrases: [CrossLanguagePhrase]) throws(WendaoError) -> [(
        term: UInt64, weight: Float
    )] {
        var weighted = try queryTerms(query).map { (term: $0, weight: Float(1)) }
        for p in phrases {
            let w = Self.renderingWeight / Float(p.chinese.count)
            for zh in p.chinese {
                for t in analyzer.terms(zh.text) { weighted.append((t, w)) }
            }
        }
        return weighted
    }

    /// The highest BM25 score a passage in the documents' language could reach: the English words
    /// that have renderings count through their renderings only (a Chinese passage cannot contain
    /// both), so a question asked in English is not measured against a bound no passage can reach.
    func boundTerms(_ terms: [(term: UInt64, weight: Float)], phrases: [CrossLanguagePhrase]) -> Float {
        let rendered = Set(phrases.flatMap(\.english))
        return index.scoreBound(weighted: terms.filter { !($0.weight == 1 && rendered.contains($0.term)) })
    }

    /// BM25 hits for weighted query `terms`, `k` best. For an English question with Chinese
    /// renderings (`phrases` not empty), a passage is in one language or the other, so the question is
    /// searched twice — once with its own words (and no renderings), once as a Chinese passage would
    /// hold it (renderings for the rendered words) — and each passage keeps the better of its two
    /// scores, each measured against the best score its own query could reach. A Chinese word's
    /// characters and pairs are all index terms, so one rendering adds several terms where an English
    /// word adds one; measured against its own bound, neither language outweighs the other for that
    /// reason alone. Scores are on the scale of ``boundTerms(_:phrases:)``.
    func lexicalSearch(
        _ terms: [(term: UInt64, weight: Float)], query: String, phrases: [CrossLanguagePhrase], k: Int
    ) -> [ScoredID] {
        guard !phrases.isEmpty else { return index.search(weighted: terms, k: k) }
        let rendered = Set(phrases.flatMap(\.english))
        // Terms the question holds itself stay in its own query even when a rendering shares them.
        let renderingTerms = Set(phrases.flatMap { p in p.chinese.flatMap { analyzer.terms($0.text) } })
            .subtracting(analyzer.terms(String(query.prefix(QueryLimits.maxCharacters))))
        let own = terms.filter { !renderingTerms.contains($0.term) }
        let chinese = terms.filter { !($0.weight == 1 && rendered.contains($0.term)) }
        let ownBound = index.scoreBound(weighted: own)
        let chineseBound = index.scoreBound(weighted: chinese)
        guard ownBound > 0, chineseBound > 0 else { return index.search(weighted: terms, k: k) }
        var best: [Int64: Float] = [:]
        for hit in index.search(weighted: chinese, k: k) { best[hit.id] = hit.score }
        let scale = chineseBound / ownBound
        for hit in index.search(weighted: own, k: k) {
            let s = hit.score * scale
            if s > best[hit.id] ?? 0 { best[hit.id] = s }
        }
        return best.map { ScoredID(id: $0.key, score: $0.value) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
            .prefix(k).map { $0 }
    }

    /// Passages for an English question found through its Chinese renderings alone (and its numbers,
    /// which both languages share): BM25 over the renderings' terms, `k` best. Empty when the question
    /// has no renderings. The answerer reads these beside the hits of ordinary retrieval, whose
    /// English passages otherwise win on the words they share with the question.
    public func crossLanguageHits(_ phrases: [CrossLanguagePhrase], question: String, k: Int = 4) -> [SearchHit] {
        guard !phrases.isEmpty else { return [] }
        var weighted: [(term: UInt64, weight: Float)] = []
        for p in phrases {
            let w = Self.renderingWeight / Float(p.chinese.count)
            for zh in p.chinese {
                for t in analyzer.terms(zh.text) { weighted.append((t, w)) }
            }
        }
        for t in analyzer.tokens(String(question.prefix(QueryLimits.maxCharacters)))
        where t.unicodeScalars.allSatisfy({ $0.properties.numericType != nil && $0.value < 0x80 }) {
            weighted.append((Analyzer.hash(term: t), 1))
        }
        guard !weighted.isEmpty else { return [] }
        return (try? hits(index.search(weighted: weighted, k: k).map { ($0.id, $0.score) })) ?? []
    }
}
