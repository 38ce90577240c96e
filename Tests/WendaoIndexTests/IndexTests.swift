import Foundation
import Testing
import WendaoTestSupport
import WendaoCore
@testable import WendaoIndex
import WendaoText

/// A brute-force BM25 (Lucene idf), computed in Double from the raw documents.
private struct ReferenceBM25 {
    var docs: [Int64: [UInt64]]
    var k1 = 1.2
    var b = 0.75

    func scores(_ query: [UInt64]) -> [Int64: Double] {
        let n = Double(docs.count)
        guard n > 0 else { return [:] }
        let avg = Double(docs.values.reduce(0) { $0 + $1.count }) / n
        var df: [UInt64: Int] = [:]
        let queryTerms = Set(query)
        var tfs: [Int64: [UInt64: Int]] = [:]
        for (id, terms) in docs {
            var tf: [UInt64: Int] = [:]
            for t in terms where queryTerms.contains(t) { tf[t, default: 0] += 1 }
            for t in tf.keys { df[t, default: 0] += 1 }
            tfs[id] = tf
        }
        var out: [Int64: Double] = [:]
        for (id, terms) in docs {
            let dl = Double(terms.count)
            var s = 0.0
            for t in query {
                guard let f = tfs[id]?[t], f > 0, let d = df[t] else { continue }
                let idf = log(1 + (n - Double(d) + 0.5) / (Double(d) + 0.5))
                let tf = Double(f)
                let norm: Double = k1 * (1 - b + b * dl / max(avg, 1e-6))
                let saturation: Double = tf * (k1 + 1) / (tf + norm)
                s += idf * saturation
            }
            if s > 0 { out[id] = s }
        }
        return out
    }

    /// The best `k` as (id, score), best first, ties by ascending id.
    func top(_ query: [UInt64], k: Int) -> [(id: Int64, score: Double)] {
        var all: [(id: Int64, score: Double)] = []
        for (id, score) in scores(query) { all.append((id: id, score: score)) }
        all.sort { (x: (id: Int64, score: Double), y: (id: Int64, score: Double)) -> Bool in
            if x.score != y.score { return x.score > y.score }
            return x.id < y.id
        }
        return Array(all.prefix(k))
    }
}

private func relativelyClose(_ a: Double, _ b: Double, _ tolerance: Double = 1e-3) -> Bool {
    abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-9)
}

/// Problems of `hits` against the reference (empty when they agree): same length, scores at every
/// rank within tolerance, every returned id really has that score, ids differ from the reference
/// only among tied scores, sorted, no duplicates.
private func referenceMismatches(_ hits: [ScoredID], _ reference: ReferenceBM25, _ query: [UInt64], k: Int) -> [String]
{
    let all = reference.scores(query)
    let expected = reference.top(query, k: k)
    guard hits.count == expected.count else { return ["\(hits.count) hits, reference has \(expected.count)"] }
    let cutoff = expected.last?.score ?? 0
    var problems: [String] = []
    var seen = Set<Int64>()
    for (i, h) in hits.enumerated() {
        if !seen.insert(h.id).inserted { problems.append("duplicate id \(h.id)") }
        if !relativelyClose(Double(h.score), expected[i].score) {
            problems.append("rank \(i): score \(h.score), reference \(expected[i].score)")
        }
        guard let own = all[h.id] else {
            problems.append("id \(h.id) does not match the query at all")
            continue
        }
        if !relativelyClose(Double(h.score), own) { problems.append("id \(h.id): score \(h.score), reference \(own)") }
        // An id outside the reference top k is allowed only when tied with its last score.
        if !expected.contains(where: { $0.id == h.id }) && !relativelyClose(own, cutoff) {
            problems.append("id \(h.id) is not in the reference top \(k)")
        }
        if i > 0 && h.score > hits[i - 1].score { problems.append("not sorted at rank \(i)") }
    }
    return problems
}

/// Records one issue per query whose hits disagree with the reference.
private func expectMatchesReference(
    _ hits: [ScoredID], _ reference: ReferenceBM25, _ query: [UInt64], k: Int,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let problems = referenceMismatches(hits, reference, query, k: k)
    #expect(problems.isEmpty, "k=\(k): \(problems.prefix(3).joined(separator: "; "))", sourceLocation: sourceLocation)
}

/// Two result lists are equal up to reordering among (nearly) tied scores.
private func expectSameResults(
    _ a: [ScoredID], _ b: [ScoredID], sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(a.count == b.count, "\(a.count) vs \(b.count) hits", sourceLocation: sourceLocation)
    guard a.count == b.count else { return }
    for (x, y) in zip(a, b) {
        #expect(relativelyClose(Double(x.score), Double(y.score), 1e-5), "\(x) vs \(y)", sourceLocation: sourceLocation)
        if x.id != y.id {
            // Different ids at one rank are fine only for tied scores.
            let tieX = b.first { $0.id == x.id }
            #expect(
                tieX.map { relativelyClose(Double($0.score), Double(x.score), 1e-5) } ?? false,
                "\(x.id) vs \(y.id) at the same rank", sourceLocation: sourceLocation)
        }
    }
}

/// A random corpus: Zipf-like term choice over a vocabulary, some empty documents, and a group of
/// terms that collide in the low bits (to exercise open-addressing probes).
private struct RandomCorpus {
    /// An in-memory index holding every document of the corpus.
    func makeIndex() -> BM25Index {
        let index = BM25Index()
        for d in docs { index.add(id: d.id, terms: d.terms) }
        return index
    }

    var vocabulary: [UInt64]
    var docs: [(id: Int64, terms: [UInt64])]
    var queries: [[UInt64]]

    init(seed: UInt64, documents: Int, queries queryCount: Int) {
        var rng = SeededGenerator(seed: seed)
        var vocab: [UInt64] = (0..<1500).map { _ in rng.next() }
        for i in 0..<60 { vocab.append((UInt64(i + 1) << 40) | 0x2A) }  // same low bits
        vocabulary = vocab
        func pick(_ rng: inout SeededGenerator) -> UInt64 {
            // Squaring a uniform number favours low ranks (frequent terms).
            let u = Double.random(in: 0..<1, using: &rng)
            return vocab[min(vocab.count - 1, Int(u * u * u * Double(vocab.count)))]
        }
        docs = []
        var nextID: Int64 = 1000
        for d in 0..<documents {
            nextID += Int64.random(in: 1...5, using: &rng)  // sparse, ascending ids
            if d % 97 == 0 {
                docs.append((nextID, []))
                continue
            }
            let len = Int.random(in: 3...120, using: &rng)
            docs.append((nextID, (0..<len).map { _ in pick(&rng) }))
        }
        queries = (0..<queryCount).map { q in
            var t = (0..<Int.random(in: 1...6, using: &rng)).map { _ in pick(&rng) }
            if q % 5 == 0 { t.append(t[0]) }  // repeated term
            if q % 7 == 0 { t.append(rng.next()) }  // unknown term
            if q % 11 == 0 { t.append(vocab[1500 + Int.random(in: 0..<60, using: &rng)]) }
            return t
        }
    }
}

@Suite struct BM25IndexTests {
    let analyzer = Analyzer()

    @Test func rankingOnATinyCorpus() {
        let index = BM25Index()
        let texts: [Int64: String] = [
            1: "首重12元，续重每公斤3元，运费按重量计算。",
            2: "快递单号可以在小程序查询。",
            3: "运费说明：快递首重和续重的价格表。",
            4: "天气晴朗。",
        ]
        for (id, t) in texts.sorted(by: { $0.key < $1.key }) { index.add(id: id, terms: analyzer.terms(t)) }
        #expect(index.count == 4)
        let hits = index.search(analyzer.terms("快递运费首重"), k: 10)
        #expect(hits.first?.id == 3)  // matches the most query terms
        #expect(!hits.contains { $0.id == 4 })
        #expect(Set(hits.map(\.id)) == [1, 2, 3])
        #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        #expect(index.search(analyzer.terms("天气"), k: 10).map(\.id) == [4])
        #expect(index.search(analyzer.terms("火星"), k: 10).isEmpty)
        #expect(index.search(analyzer.terms("快递"), k: 0).isEmpty)
        #expect(index.search([], k: 10).isEmpty)
        #expect(index.search(analyzer.terms("快递运费首重"), k: 1).map(\.id) == [3])
    }

    @Test func emptyIndex() throws {
        let scratch = try ScratchDirectory("index")
        defer { scratch.remove() }
        let empty = BM25Index()
        #expect(empty.count == 0)
        #expect(empty.search([1, 2, 3], k: 10).isEmpty)
        let missing = try BM25Index(path: scratch.child("missing.bm25").path)
        #expect(missing.count == 0)
        #expect(missing.generation == 0)
        #expect(missing.search([1], k: 5).isEmpty)
        let path = scratch.child("empty.bm25").path
        try empty.save(to: path, generation: 3)
        let reopened = try BM25Index(path: path)
        #expect(reopened.count == 0)
        #expect(reopened.generation == 3)
        #expect(reopened.search([1, 2], k: 10).isEmpty)
        #expect(reopened.verify().isEmpty)
    }

    @Test(.tags(.slow), .timeLimit(.minutes(3))) func matchesBruteForceReference() throws {
        let corpus = RandomCorpus(seed: 20_260_101, documents: 2000, queries: 50)
        let index = corpus.makeIndex()
        let reference = ReferenceBM25(docs: Dictionary(uniqueKeysWithValues: corpus.docs.map { ($0.id, $0.terms) }))
        #expect(index.count == corpus.docs.count)
        for (qi, q) in corpus.queries.enumerated() {
            let k = [10, 10, 1, 3, 50][qi % 5]
            expectMatchesReference(index.search(q, k: k), reference, q, k: k)
        }
        // The same from the saved, memory-mapped segment.
        let scratch = try ScratchDirectory("index")
        defer { scratch.remove() }
        let path = scratch.child("ref.bm25").path
        try index.save(to: path, generation: 1)
        let mapped = try BM25Index(path: path)
        #expect(mapped.verify().isEmpty)
        for (qi, q) in corpus.queries.enumerated() {
            let k = [10, 1, 3, 50, 2][qi % 5]
            expectMatchesReference(mapped.search(q, k: k), reference, q, k: k)
        }
    }

    @Test func saveAndReopenGiveIdenticalResults() throws {
        let scratch = try ScratchDirectory("index")
        defer { scratch.remove() }
        let corpus = RandomCorpus(seed: 77, documents: 2000, queries: 50)
        let index = corpus.makeIndex()
        let before = corpus.queries.map { index.search($0, k: 10) }
        let path = scratch.child("kb.bm25").path
        try index.save(to: path, generation: 42)
        #expect(!index.hasUnsavedChanges)
        let after = corpus.queries.map { index.search($0, k: 10) }
        let reopened = try BM25Index(path: path)
        #expect(reopened.generation == 42)
        #expect(reopened.count == corpus.docs.count)
        #expect(reopened.ids() == corpus.docs.map(\.id).sorted())
        #expect(reopened.verify().isEmpty)
        for (i, q) in corpus.queries.enumerated() {
            expectSameResults(before[i], after[i])
            expectSameResults(before[i], reopened.search(q, k: 10))
        }
    }

    @Test func updatesAfterReopenEqualAFreshIndex() throws {
        let scratch = try ScratchDirectory("index")
        defer { scratch.remove() }
        let corpus = RandomCorpus(seed: 4242, documents: 2000, queries: 50)
        let path = scratch.child("kb.bm25").path
        var rng = SeededGenerator(seed: 9)
        // First half saved as a segment.
        let firstHalf = Array(corpus.docs.prefix(1200))
        let secondHalf = Array(corpus.docs.dropFirst(1200))
        do {
            let index = BM25Index()
            for d in firstHalf { index.add(id: d.id, terms: d.terms) }
            try index.save(to: path, generation: 1)
        }
        let reopened = try BM25Index(path: path)
        for d in secondHalf { reopened.add(id: d.id, terms: d.terms) }
        // Remove ids from both the segment and the delta, plus unknown ids.
        var removed = Set<Int64>()
        for d in corpus.docs where Int.random(in: 0..<4, using: &rng) == 0 { removed.insert(d.id) }
        reopened.remove(ids: Array(removed) + [-1, 999_999_999])
        let survivors = corpus.docs.filter { !removed.contains($0.id) }
        #expect(reopened.count == survivors.count)
        #expect(reopened.ids() == survivors.map(\.id).sorted())
        for id in removed.prefix(50) { #expect(!reopened.contains(id)) }
        #expect(reopened.hasUnsavedChanges)
        // Removed ids are never returned, even before the save.
        for q in corpus.queries {
            #expect(!reopened.search(q, k: 100).contains { removed.contains($0.id) })
        }
        try reopened.save(to: path, generation: 2)
        let final = try BM25Index(path: path)
        #expect(final.generation == 2)
        #expect(final.count == survivors.count)
        #expect(final.ids() == survivors.map(\.id).sorted())
        #expect(final.verify().isEmpty)
        let fresh = BM25Index()
        for d in survivors { fresh.add(id: d.id, terms: d.terms) }
        let reference = ReferenceBM25(docs: Dictionary(uniqueKeysWithValues: survivors.map { ($0.id, $0.terms) }))
        for q in corpus.queries {
            let got = final.search(q, k: 10)
            #expect(!got.contains { removed.contains($0.id) })
            expectSameResults(got, fresh.search(q, k: 10))
            expectMatchesReference(got, reference, q, k: 10)
        }
    }

    /// `parameters` is public and settable (KnowledgeBase.updateSettings says BM25 changes apply at
    /// once): after a change, scores must follow the new k1 and b, also when the index has already
    /// answered queries with the old ones.
    @Test func changedParametersApplyAtOnce() throws {
        let scratch = try ScratchDirectory("index")
        defer { scratch.remove() }
        let corpus = RandomCorpus(seed: 31, documents: 1500, queries: 20)
        let index = corpus.makeIndex()
        let path = scratch.child("p.bm25").path
        try index.save(to: path, generation: 1)
        var reference = ReferenceBM25(docs: Dictionary(uniqueKeysWithValues: corpus.docs.map { ($0.id, $0.terms) }))
        // A fresh mapped index with other parameters from the start.
        let fresh = try BM25Index(path: path, parameters: BM25Parameters(k1: 2.0, b: 0.3))
        reference.k1 = 2.0
        reference.b = 0.3
        for q in corpus.queries { expectMatchesReference(fresh.search(q, k: 10), reference, q, k: 10) }
        // The same index, first used with the defaults, then switched.
        let mapped = try BM25Index(path: path)
        for q in corpus.queries { _ = mapped.search(q, k: 10) }
        mapped.parameters = BM25Parameters(k1: 2.0, b: 0.3)
        for q in corpus.queries { expectMatchesReference(mapped.search(q, k: 10), reference, q, k: 10) }
    }

    @Test func segmentSavedWithOtherParameters() throws {
        let scratch = try ScratchDirectory("index")
        defer { scratch.remove() }
        let corpus = RandomCorpus(seed: 32, documents: 1500, queries: 20)
        let params = BM25Parameters(k1: 0.9, b: 0.4)
        let tuned = BM25Index(parameters: params)
        for d in corpus.docs { tuned.add(id: d.id, terms: d.terms) }
        var reference = ReferenceBM25(docs: Dictionary(uniqueKeysWithValues: corpus.docs.map { ($0.id, $0.terms) }))
        reference.k1 = 0.9
        reference.b = 0.4
        for q in corpus.queries { expectMatchesReference(tuned.search(q, k: 10), reference, q, k: 10) }
        let path = scratch.child("tuned.bm25").path
        try tuned.save(to: path, generation: 1)
        let mapped = try BM25Index(path: path, parameters: params)
        for (qi, q) in corpus.queries.enumerated() {
            let k = [10, 1, 3][qi % 3]
            expectMatchesReference(mapped.search(q, k: k), reference, q, k: k)
        }
    }

    /// Small mapped segments where every query term occurs in every document: scoring touches each
    /// document once per term (the case where scratch buffers sized by the document count are
    /// fullest). Run under `-sanitize=address` to catch out-of-bounds scratch writes.
    @Test func smallSegmentsWhereEveryDocumentMatchesEveryTerm() throws {
        let scratch = try ScratchDirectory("index")
        defer { scratch.remove() }
        for n in 1...24 {
            let index = BM25Index()
            var docs: [Int64: [UInt64]] = [:]
            for d in 0..<n {
                let terms: [UInt64] = [11, 22, 33] + Array(repeating: 44, count: d % 3) + [UInt64(1000 + d)]
                docs[Int64(d + 1)] = terms
                index.add(id: Int64(d + 1), terms: terms)
            }
            let path = scratch.child("small-\(n).bm25").path
            try index.save(to: path, generation: Int64(n))
            let mapped = try BM25Index(path: path)
            let reference = ReferenceBM25(docs: docs)
            for q: [UInt64] in [[11, 22, 33], [11, 22, 33, 44], [44, 11, 11], [1000, 11, 22]] {
                for k in [1, 2, 10] {
                    expectMatchesReference(mapped.search(q, k: k), reference, q, k: k)
                }
            }
        }
    }

    @Test func removeThenReAddAnId() throws {
        let index = BM25Index()
        index.add(id: 1, terms: analyzer.terms("旧内容 alpha"))
        index.add(id: 2, terms: analyzer.terms("其他 beta"))
        index.remove(ids: [1])
        #expect(index.search(analyzer.terms("alpha"), k: 10).isEmpty)
        index.add(id: 1, terms: analyzer.terms("新内容 gamma"))
        #expect(index.count == 2)
        #expect(index.search(analyzer.terms("gamma"), k: 10).map(\.id) == [1])
        #expect(index.search(analyzer.terms("alpha"), k: 10).isEmpty)
    }

    /// `add(id:terms:)` is documented as "adding an id that is present replaces it".
    @Test func addingAPresentIdReplacesIt() throws {
        let scratch = try ScratchDirectory("index")
        defer { scratch.remove() }
        let index = BM25Index()
        index.add(id: 7, terms: analyzer.terms("first version alpha"))
        index.add(id: 7, terms: analyzer.terms("second version omega"))
        #expect(index.count == 1)
        #expect(index.ids() == [7])
        #expect(index.search(analyzer.terms("alpha"), k: 10).isEmpty)
        #expect(index.search(analyzer.terms("omega"), k: 10).map(\.id) == [7])
        // Same after a reopen (segment id re-added in the delta).
        let path = scratch.child("dup.bm25").path
        try index.save(to: path, generation: 1)
        let reopened = try BM25Index(path: path)
        reopened.add(id: 7, terms: analyzer.terms("third version zeta"))
        #expect(reopened.count == 1)
        #expect(reopened.search(analyzer.terms("omega"), k: 10).isEmpty)
        #expect(reopened.search(analyzer.terms("zeta"), k: 10).map(\.id) == [7])
    }

    @Test func damagedFilesAreReportedAsCorrupt() throws {
        let scratch = try ScratchDirectory("index")
        defer { scratch.remove() }
        let corpus = RandomCorpus(seed: 5, documents: 300, queries: 1)
        let index = corpus.makeIndex()
        let good = scratch.child("good.bm25").path
        try index.save(to: good, generation: 1)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        #expect(bytes.count > 200)

        var variants: [(String, Data)] = [
            ("empty", Data()),
            ("short header", bytes.prefix(40)),
            ("truncated by one byte", bytes.prefix(bytes.count - 1)),
            ("truncated to half", bytes.prefix(bytes.count / 2)),
            ("extra bytes", bytes + Data(repeating: 0, count: 8)),
            (
                "text",
                Data(
                    "this is not an index at all, just some text padding padding padding padding padding padding padding"
                        .utf8)
            ),
        ]
        var badMagic = bytes
        badMagic[0] ^= 0xFF
        variants.append(("bad magic", badMagic))
        var badVersion = bytes
        badVersion[8] = 99
        variants.append(("bad version", badVersion))
        var badCount = bytes
        badCount[24] &+= 1  // document count no longer matches the size
        variants.append(("bad document count", badCount))
        for (name, data) in variants {
            let path = scratch.child("\(name).bm25").path
            try data.write(to: URL(fileURLWithPath: path))
            let error = thrownWendaoError { _ = try BM25Index(path: path) }
            #expect(error?.code == .corrupt, "\(name): \(String(describing: error))")
            #expect(error.map { !$0.message.contains("\n") } ?? false)
        }
        // The good file still opens.
        #expect(try BM25Index(path: good).count == corpus.docs.count)
    }

    @Test func documentFrequencyAndIdf() {
        let index = BM25Index()
        let t: UInt64 = 12345
        for id in 1...10 { index.add(id: Int64(id), terms: id <= 3 ? [t, 1] : [1]) }
        #expect(index.documentFrequency(t) == 3)
        #expect(index.documentFrequency(999) == 0)
        #expect(relativelyClose(Double(index.idf(t)), log(1 + (10 - 3 + 0.5) / 3.5), 1e-5))
        #expect(index.idf(999) > index.idf(t))
        #expect(index.idf(t) > index.idf(1))
    }

    @Test func topKKeepsTheBest() {
        var rng = SeededGenerator(seed: 12)
        var heap = TopK(k: 5)
        var all: [ScoredID] = []
        for i in 0..<500 {
            let s = Float(Int.random(in: 0..<40, using: &rng))  // many ties
            all.append(ScoredID(id: Int64(i), score: s))
            if s > heap.threshold { heap.push(Int64(i), s) }
        }
        let expected = all.sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }.prefix(5)
        #expect(heap.sorted() == Array(expected))
    }
}
