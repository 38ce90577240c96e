public import Foundation
public import WendaoCore
public import WendaoRAG

/// Answer quality on a question file of the sample format (`eval.jsonl`: `question`, `answers`,
/// `documents`, `answerable`, and optionally `all` and `category`).
public struct AnswerReport: Sendable, Codable {
    /// Questions.
    public var questions: Int
    /// Answerable questions.
    public var answerable: Int
    /// Unanswerable questions.
    public var unanswerable: Int
    /// Answerable questions whose answer text contains a gold string (every gold string for a
    /// question marked `"all": true`).
    public var answerHit: Double
    /// Answerable questions where the cited passages contain a gold string (all of them for `all`).
    public var citationHit: Double
    /// Answerable questions where a cited passage comes from a gold document.
    public var citedDocumentHit: Double
    /// Answerable questions with a gold string in the top 8 retrieved chunks (what retrieval alone
    /// achieves, before the answerer picks sentences).
    public var retrievalHit: Double
    /// Retrieval mode used.
    public var mode: String
    /// The model that wrote the answers (`provider:model`, `local:NAME`); nil for extractive answers.
    public var model: String?
    /// Tokens of the model's calls (nil for extractive answers).
    public var usage: TokenUsage?
    /// With a model: how many answers the model wrote (`model`), how many the answer guard replaced
    /// by the extractive answer (`extractive`), how many were "not found" (`not_found`).
    public var answeredBy: [String: Int]?
    /// Answerable questions wrongly answered "not found".
    public var falseNotFound: Double
    /// Unanswerable questions correctly answered "not found".
    public var notFoundRecall: Double
    /// Questions per second (retrieval and answer).
    public var queriesPerSecond: Double
    /// Median time of the whole `ask` (retrieval, query embedding and answer), milliseconds.
    public var askP50Milliseconds: Double
    /// Median time of the answer step alone (sentence choice and the not-found decision, without
    /// retrieval), milliseconds.
    public var answerP50Milliseconds: Double
    /// The same figures per question category (the `category` field; `-` when absent).
    public var categories: [String: CategoryReport]
    /// Per-question details of misses.
    public var misses: [Miss]

    /// Figures of one category of questions.
    public struct CategoryReport: Sendable, Codable {
        /// Questions.
        public var questions: Int
        /// Answerable questions.
        public var answerable: Int
        /// Unanswerable questions.
        public var unanswerable: Int
        /// Answerable questions answered with the gold fact(s).
        public var answerHits: Int
        /// Answerable questions whose top 8 retrieved chunks hold the gold fact(s).
        public var retrievalHits: Int
        /// Answerable questions answered "not found".
        public var falseNotFound: Int
        /// Unanswerable questions answered "not found".
        public var notFound: Int

        enum CodingKeys: String, CodingKey {
            case questions, answerable, unanswerable, answerHits = "answer_hits", retrievalHits = "retrieval_hits"
            case falseNotFound = "false_not_found", notFound = "not_found"
        }
    }

    /// A missed question.
    public struct Miss: Sendable, Codable {
        /// Question id.
        public var id: String
        /// The question.
        public var question: String
        /// What went wrong.
        public var problem: String
        /// The answer given.
        public var answer: String
    }

    enum CodingKeys: String, CodingKey {
        case questions, answerable, unanswerable, answerHit = "answer_hit", citationHit = "citation_hit"
        case citedDocumentHit = "cited_document_hit", retrievalHit = "retrieval_hit", mode, model, usage
        case answeredBy = "answered_by"
        case falseNotFound = "false_not_found"
        case notFoundRecall = "not_found_recall", queriesPerSecond = "queries_per_second"
        case askP50Milliseconds = "ask_p50_ms", answerP50Milliseconds = "answer_p50_ms", categories, misses
    }
}

/// One question's outcome, as `eval answers --details FILE` writes it (one JSON line each).
public struct AnswerDetail: Sendable, Codable {
    /// Question id.
    public var id: String
    /// Category (`-` when the question has none).
    public var category: String
    /// The question.
    public var question: String
    /// Whether the documents answer it.
    public var answerable: Bool
    /// The gold strings.
    public var gold: [String]
    /// Whether every gold string is required.
    public var all: Bool
    /// True when the answer was judged right: the gold fact(s) in the answer text, or "not found"
    /// for an unanswerable question.
    public var correct: Bool
    /// Whether the answer said it found something.
    public var found: Bool
    /// The answer text.
    public var answer: String
    /// The answerer's coverage signal.
    public var coverage: Double
    /// Gold strings found in the answer text.
    public var goldInAnswer: [String]
    /// Gold strings found in the cited passages.
    public var goldInCitations: [String]
    /// Gold strings found in the top 8 retrieved chunks.
    public var goldInRetrieved: [String]
    /// The cited sources: `[n] document › section`.
    public var sources: [String]
    /// The top retrieved chunks: `rank. document › section`.
    public var retrieved: [String]
    /// With a model: who wrote the answer (`model`, `extractive` — the answer guard's fallback —, or
    /// `not_found`); absent for extractive runs.
    public var answeredBy: String?

    enum CodingKeys: String, CodingKey {
        case id, category, question, answerable, gold, all, correct, found, answer, coverage
        case goldInAnswer = "gold_in_answer", goldInCitations = "gold_in_citations"
        case goldInRetrieved = "gold_in_retrieved", sources, retrieved, answeredBy = "answered_by"
    }
}

/// Runs `ask` over a question file and scores the answers.
public enum AnswerEvaluator {
    struct Question: Decodable {
        var id: String?
        var question: String
        var answers: [String]
        var documents: [String]?
        var answerable: Bool?
        var all: Bool?
        var category: String?
    }

    /// One question's answer, as scored.
    struct Given {
        var found: Bool
        var answer: String
        var citations: [Citation]
        var coverage: Double
        var totalSeconds: Double
        var answerSeconds: Double
        var answeredBy: String? = nil
    }

    /// The questions of `file` (JSONL).
    static func questions(in file: URL) throws -> [Question] {
        guard let data = try? Data(contentsOf: file) else { throw WendaoError(.unreadable, "cannot read \(file.path)") }
        var qs: [Question] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            do {
                qs.append(try JSONDecoder().decode(Question.self, from: Data(line)))
            } catch {
                throw WendaoError(.unreadable, "\(file.lastPathComponent) line \(i + 1): not a question object")
            }
        }
        return qs
    }

    /// Evaluates `kb` on the questions in `file`, retrieving by `mode` (default: the knowledge
    /// base's mode); with `details`, writes one ``AnswerDetail`` JSON line per question there.
    public static func run(kb: KnowledgeBase, file: URL, mode: RetrievalMode? = nil, details: URL? = nil) throws
        -> AnswerReport
    {
        let qs = try questions(in: file)
        let t0 = Date()
        let given = try qs.map { q in
            let timed = try kb.askTimed(q.question, mode: mode)
            let a = timed.answer
            return Given(
                found: a.found, answer: a.answer, citations: a.citations, coverage: a.coverage,
                totalSeconds: timed.totalSeconds, answerSeconds: timed.answerSeconds)
        }
        return try score(kb: kb, questions: qs, given: given, mode: mode, details: details, started: t0)
    }

    /// Evaluates `kb` on the questions in `file` with answers written by `model` through the
    /// grounded-answer pipeline (citation filter, not-found gate, `templates`), retrieving as the
    /// knowledge base does; the same figures as extractive answers, plus the model and its token usage.
    /// `answerSeconds` is the whole answer (retrieval and the model's calls).
    nonisolated(nonsending)
        public static func run(
            kb: KnowledgeBase, file: URL, details: URL? = nil, model: any ChatModel,
            templates: PromptTemplates = .builtIn, options: GroundedAnswerer.Options = .init()
        ) async throws -> AnswerReport
    {
        let qs = try questions(in: file)
        let answerer = GroundedAnswerer(model: model, templates: templates, options: options)
        let t0 = Date()
        var given: [Given] = []
        var usage = TokenUsage.zero
        for q in qs {
            let started = ContinuousClock.now
            let g = try await answerer.answer(
                q.question,
                retrieve: { query, k in
                    var vector: [Float]?
                    if let dense = kb.denseQuery(query) {
                        vector = try? await dense.embedder.embed([dense.text], as: .query).vectors.first
                    }
                    return try GroundedAnswerer.retrieve(query, topK: k, in: kb, queryVector: vector)
                }, onEvent: { _ in })
            let seconds = (ContinuousClock.now - started).seconds
            usage = usage + g.usage
            given.append(
                Given(
                    found: g.found, answer: g.answer, citations: g.citations, coverage: g.coverage,
                    totalSeconds: seconds, answerSeconds: seconds, answeredBy: g.answeredBy.rawValue))
        }
        var report = try score(kb: kb, questions: qs, given: given, mode: nil, details: details, started: t0)
        report.model = model.id
        report.usage = usage
        report.answeredBy = Dictionary(given.compactMap(\.answeredBy).map { ($0, 1) }, uniquingKeysWith: +)
        return report
    }

    /// Scores `given` (one answer per question, in order).
    static func score(
        kb: KnowledgeBase, questions qs: [Question], given: [Given], mode: RetrievalMode?, details: URL?,
        started t0: Date
    ) throws -> AnswerReport {
        var answerable = 0
        var unanswerable = 0
        var answerHit = 0
        var citationHit = 0
        var docHit = 0
        var retrieved = 0
        var falseNF = 0
        var nfOK = 0
        var misses: [AnswerReport.Miss] = []
        var categories: [String: AnswerReport.CategoryReport] = [:]
        var lines: [AnswerDetail] = []
        var askTimes: [Double] = []
        var answerTimes: [Double] = []
        let t0 = Date()
        for (i, q) in qs.enumerated() {
            let id = q.id ?? "q\(i + 1)"
            let category = q.category ?? "-"
            let a = given[i]
            askTimes.append(a.totalSeconds * 1000)
            answerTimes.append(a.answerSeconds * 1000)
            let isAnswerable = q.answerable ?? !q.answers.isEmpty
            let requireAll = q.all ?? false
            var c =
                categories[category]
                ?? .init(
                    questions: 0, answerable: 0, unanswerable: 0, answerHits: 0, retrievalHits: 0, falseNotFound: 0,
                    notFound: 0)
            c.questions += 1
            let hits = try kb.search(q.question, topK: 8, mode: mode)
            let inAnswer = a.found ? q.answers.filter { a.answer.contains($0) } : []
            let inCitations = q.answers.filter { g in a.citations.contains { $0.text.contains(g) } }
            let inRetrieved = q.answers.filter { g in hits.contains { $0.text.contains(g) } }
            func satisfied(_ found: [String]) -> Bool {
                q.answers.isEmpty ? false : requireAll ? found.count == q.answers.count : !found.isEmpty
            }
            var correct = false
            if isAnswerable {
                answerable += 1
                c.answerable += 1
                if satisfied(inRetrieved) {
                    retrieved += 1
                    c.retrievalHits += 1
                }
                if !a.found {
                    falseNF += 1
                    c.falseNotFound += 1
                    misses.append(.init(id: id, question: q.question, problem: "said not found", answer: ""))
                } else {
                    let docs = q.documents ?? []
                    let fromDoc = a.citations.contains { c in docs.contains { c.document.hasSuffix($0) } }
                    correct = satisfied(inAnswer)
                    if correct {
                        answerHit += 1
                        c.answerHits += 1
                    }
                    if satisfied(inCitations) { citationHit += 1 }
                    if fromDoc { docHit += 1 }
                    if !correct {
                        misses.append(
                            .init(
                                id: id, question: q.question,
                                problem: satisfied(inCitations) ? "gold only in citation" : "gold missing",
                                answer: a.answer))
                    }
                }
            } else {
                unanswerable += 1
                c.unanswerable += 1
                if !a.found {
                    nfOK += 1
                    c.notFound += 1
                    correct = true
                } else {
                    misses.append(
                        .init(
                            id: id, question: q.question, problem: "answered an unanswerable question", answer: a.answer
                        ))
                }
            }
            categories[category] = c
            if details != nil {
                lines.append(
                    AnswerDetail(
                        id: id, category: category, question: q.question, answerable: isAnswerable, gold: q.answers,
                        all: requireAll, correct: correct, found: a.found, answer: a.answer, coverage: a.coverage,
                        goldInAnswer: inAnswer, goldInCitations: inCitations, goldInRetrieved: inRetrieved,
                        sources: a.citations.map { "[\($0.n)] \($0.document) › \($0.section)" },
                        retrieved: hits.map { "\($0.rank). \($0.document) › \($0.section)" }, answeredBy: a.answeredBy))
            }
        }
        let secs = Date().timeIntervalSince(t0)
        if let details {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var out = Data()
            for l in lines {
                out.append(try encoder.encode(l))
                out.append(0x0A)
            }
            do { try out.write(to: details) } catch {
                throw WendaoError(.unreadable, "cannot write \(details.path): \(error.localizedDescription)")
            }
        }
        let na = Double(max(answerable, 1))
        return AnswerReport(
            questions: qs.count, answerable: answerable, unanswerable: unanswerable, answerHit: Double(answerHit) / na,
            citationHit: Double(citationHit) / na, citedDocumentHit: Double(docHit) / na,
            retrievalHit: Double(retrieved) / na, mode: (mode ?? kb.defaultRetrievalMode).rawValue, model: nil,
            usage: nil, falseNotFound: Double(falseNF) / na,
            notFoundRecall: Double(nfOK) / Double(max(unanswerable, 1)),
            queriesPerSecond: Double(qs.count) / max(secs, 1e-9),
            askP50Milliseconds: median(askTimes), answerP50Milliseconds: median(answerTimes),
            categories: categories, misses: misses)
    }

    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
