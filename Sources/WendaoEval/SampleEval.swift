public import Foundation
import WendaoCore
import WendaoRAG

/// Answer quality on a question file of the sample format (`eval.jsonl`: `question`, `answers`,
/// `documents`, `answerable`).
public struct AnswerReport: Sendable, Codable {
    /// Questions.
    public var questions: Int
    /// Answerable questions.
    public var answerable: Int
    /// Unanswerable questions.
    public var unanswerable: Int
    /// Answerable questions whose answer text contains a gold string.
    public var answerHit: Double
    /// Answerable questions where a cited passage contains a gold string.
    public var citationHit: Double
    /// Answerable questions where a cited passage comes from a gold document.
    public var citedDocumentHit: Double
    /// Answerable questions with a gold string in the top 8 retrieved chunks (what retrieval alone
    /// achieves, before the answerer picks sentences).
    public var retrievalHit: Double
    /// Retrieval mode used.
    public var mode: String
    /// Answerable questions wrongly answered "not found".
    public var falseNotFound: Double
    /// Unanswerable questions correctly answered "not found".
    public var notFoundRecall: Double
    /// Questions per second.
    public var queriesPerSecond: Double
    /// Per-question details of misses.
    public var misses: [Miss]

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
        case citedDocumentHit = "cited_document_hit", retrievalHit = "retrieval_hit", mode, falseNotFound =
            "false_not_found"
        case notFoundRecall = "not_found_recall", queriesPerSecond = "queries_per_second", misses
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
    }

    /// Evaluates `kb` on the questions in `file`, retrieving by `mode` (default: the knowledge
    /// base's mode).
    public static func run(kb: KnowledgeBase, file: URL, mode: RetrievalMode? = nil) throws -> AnswerReport {
        guard let data = try? Data(contentsOf: file) else { throw WendaoError(.unreadable, "cannot read \(file.path)") }
        var qs: [Question] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            do {
                qs.append(try JSONDecoder().decode(Question.self, from: Data(line)))
            } catch {
                throw WendaoError(.unreadable, "\(file.lastPathComponent) line \(i + 1): not a question object")
            }
        }
        var answerable = 0
        var unanswerable = 0
        var answerHit = 0
        var citationHit = 0
        var docHit = 0
        var retrieved = 0
        var falseNF = 0
        var nfOK = 0
        var misses: [AnswerReport.Miss] = []
        let t0 = Date()
        for (i, q) in qs.enumerated() {
            let id = q.id ?? "q\(i + 1)"
            let a = try kb.ask(q.question, mode: mode)
            let isAnswerable = q.answerable ?? !q.answers.isEmpty
            if isAnswerable {
                answerable += 1
                let hits = try kb.search(q.question, topK: 8, mode: mode)
                if q.answers.contains(where: { g in hits.contains { $0.text.contains(g) } }) { retrieved += 1 }
                if !a.found {
                    falseNF += 1
                    misses.append(.init(id: id, question: q.question, problem: "said not found", answer: ""))
                    continue
                }
                let inAnswer = q.answers.contains { a.answer.contains($0) }
                let inCitation = q.answers.contains { g in a.citations.contains { $0.text.contains(g) } }
                let docs = q.documents ?? []
                let fromDoc = a.citations.contains { c in docs.contains { c.document.hasSuffix($0) } }
                if inAnswer { answerHit += 1 }
                if inCitation { citationHit += 1 }
                if fromDoc { docHit += 1 }
                if !inAnswer {
                    misses.append(
                        .init(
                            id: id, question: q.question,
                            problem: inCitation ? "gold only in citation" : "gold missing", answer: a.answer))
                }
            } else {
                unanswerable += 1
                if !a.found {
                    nfOK += 1
                } else {
                    misses.append(
                        .init(
                            id: id, question: q.question, problem: "answered an unanswerable question", answer: a.answer
                        ))
                }
            }
        }
        let secs = Date().timeIntervalSince(t0)
        let na = Double(max(answerable, 1))
        return AnswerReport(
            questions: qs.count, answerable: answerable, unanswerable: unanswerable, answerHit: Double(answerHit) / na,
            citationHit: Double(citationHit) / na, citedDocumentHit: Double(docHit) / na,
            retrievalHit: Double(retrieved) / na, mode: (mode ?? kb.defaultRetrievalMode).rawValue,
            falseNotFound: Double(falseNF) / na,
            notFoundRecall: Double(nfOK) / Double(max(unanswerable, 1)),
            queriesPerSecond: Double(qs.count) / max(secs, 1e-9),
            misses: misses)
    }
}
