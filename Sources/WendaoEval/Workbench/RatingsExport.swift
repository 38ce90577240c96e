import Foundation
public import WendaoCore
import WendaoRAG

/// A test set made from the answers people rated in the web UI (thumbs up or down, with a note): one
/// JSONL line per rated question, in the format ``TestSetReader`` reads.
///
/// - An answer rated up becomes the question's reference (its citation markers removed), and the documents
///   it cited its gold documents; an up-rated "not found" is an unanswerable question.
/// - An answer rated down is exported without a reference, flagged `"review": true` and tagged
///   `needs-review`, with the rejected answer and the note, for a person to write the reference (or mark it
///   unanswerable) before the test set is used.
///
/// A question rated several times is exported once: the newest up-rating wins over any down-rating.
public enum RatingsExport {
    /// One exported line.
    public struct Row: Sendable, Codable, Equatable {
        /// `rated-` + the turn's id.
        public var id: String
        /// The question asked.
        public var question: String
        /// The up-rated answer (nil for a down-rated one, or an up-rated "not found").
        public var reference: String?
        /// The documents the rated answer cited.
        public var documents: [String]
        /// Whether the documents answer it (an up-rated "not found" is not; a down-rated one is assumed to be).
        public var answerable: Bool
        /// `rated-up`, or `rated-down` and `needs-review`.
        public var tags: [String]
        /// Set for down-rated answers: a person must review the line.
        public var review: Bool?
        /// The answer that was rated down.
        public var rejectedAnswer: String?
        /// The rater's note.
        public var note: String?
        /// When the rating was given (ISO 8601).
        public var ratedAt: String?

        enum CodingKeys: String, CodingKey {
            case id, question, reference, documents, answerable, tags, review
            case rejectedAnswer = "rejected_answer", note, ratedAt = "rated_at"
        }
    }

    /// The rows of knowledge base `kb`'s rated turns (turns asked at or after `since`, when given), in the
    /// order the store visits them (newest conversation first).
    public static func rows(store: any ConversationStore, kb: Int64, since: Double?) throws -> [Row] {
        var query = ConversationQuery()
        query.knowledgeBaseIDs = [kb]
        query.from = since
        var byQuestion: [String: (row: Row, up: Bool, at: Double)] = [:]
        var order: [String] = []
        let formatter = ISO8601DateFormatter()
        try store.forEachTurn(query) { _, t in
            guard let rating = t.rating, t.turn.complete else { return }
            if let since, t.turn.createdAt < since { return }
            let question = t.turn.question.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !question.isEmpty, question.count <= TestSetReader.maxQuestionCharacters else { return }
            let at = t.feedbackAt ?? t.turn.createdAt
            let documents = citedDocuments(t.turn.citationsJSON)
            let up = rating > 0
            var row = Row(
                id: "rated-\(t.id)", question: question, reference: nil, documents: documents, answerable: true,
                tags: up ? ["rated-up"] : ["rated-down", "needs-review"], review: up ? nil : true,
                rejectedAnswer: up ? nil : t.turn.answer, note: t.note.flatMap { $0.isEmpty ? nil : $0 },
                ratedAt: formatter.string(from: Date(timeIntervalSince1970: at)))
            if up {
                if t.turn.found {
                    row.reference = stripMarkers(t.turn.answer)
                } else {
                    row.answerable = false
                }
            }
            if let kept = byQuestion[question] {
                // An up-rating beats a down-rating; among equals, the newer one.
                let better = (up && !kept.up) || (up == kept.up && at > kept.at)
                if better { byQuestion[question] = (row, up, at) }
            } else {
                byQuestion[question] = (row, up, at)
                order.append(question)
            }
        }
        return order.compactMap { byQuestion[$0]?.row }
    }

    /// A row as one JSON line.
    public static func jsonLine(_ row: Row) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(row)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The document paths of stored citations (curated answers have none), without repeats.
    static func citedDocuments(_ json: String) -> [String] {
        guard let citations = try? JSONDecoder().decode([Citation].self, from: Data(json.utf8)) else { return [] }
        var out: [String] = []
        for c in citations where !c.document.isEmpty && !out.contains(c.document) { out.append(c.document) }
        return out
    }

    /// `text` without citation markers (`[1]`, `[2][3]`, `[1, 2]`), spaces tidied.
    static func stripMarkers(_ text: String) -> String {
        let pattern = #"\s*\[\d+(?:\s*[,，]\s*\d+)*\]"#
        let stripped = text.replacingOccurrences(of: pattern, with: "", options: .regularExpression)
        return stripped.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
