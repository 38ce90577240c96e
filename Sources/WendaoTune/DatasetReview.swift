import Foundation
public import WendaoCore

/// One review of an example, appended to `reviews.jsonl`: every version is kept, the latest applies.
public struct ExampleReview: Sendable, Codable, Equatable {
    /// The example's id.
    public var example: String
    /// The version this review makes (1, 2, …).
    public var version: Int
    /// `approved`, `rejected` or `edited`.
    public var decision: String
    /// The question after the review.
    public var question: String
    /// The answer after the review.
    public var answer: String
    /// Why (a rejection's reason, an edit's note).
    public var note: String?
    /// When (ISO 8601).
    public var at: String
}

/// Reviews of a dataset's examples: approve, reject or edit one, each kept as a version in
/// `reviews.jsonl`; the latest review of each example is applied to `examples.jsonl` at once and again
/// after every `tune dataset clean` (an edit is checked for masking, never dropped by the checks; a
/// rejected example is not exported).
public enum DatasetReview {
    /// Longest edited text, in characters.
    public static let maxCharacters = 20_000

    /// `text` with control characters removed (line breaks and tabs kept), CR LF as LF, trimmed.
    public static func sanitized(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for u in text.replacingOccurrences(of: "\r\n", with: "\n").unicodeScalars {
            if u == "\n" || u == "\t" {
                out.append(u)
            } else if u.properties.generalCategory == .control || u.properties.generalCategory == .format
                || u == "\u{FFFD}"
            {
                continue
            } else {
                out.append(u)
            }
        }
        return String(out).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every review of dataset `name`, in order.
    public static func reviews(_ store: DatasetStore, _ name: String) throws(WendaoError) -> [ExampleReview] {
        let file = try store.folder(name).appendingPathComponent("reviews.jsonl")
        guard let data = try? Data(contentsOf: file) else { return [] }
        return data.split(separator: 0x0A).compactMap { try? JSONDecoder().decode(ExampleReview.self, from: Data($0)) }
    }

    /// Reviews example `id`: `decision` is `approve`, `reject` or `edit` (with a new question and/or
    /// answer). Returns the example as it now is.
    public static func review(
        _ store: DatasetStore, _ name: String, id: String, decision: String, question: String?, answer: String?,
        note: String?
    ) throws(WendaoError) -> TuneExample {
        var examples = try store.examples(name)
        guard let i = examples.firstIndex(where: { $0.id == id }) else {
            throw WendaoError(.notFound, "no example '\(id.prefix(80))' in dataset '\(name)'")
        }
        var e = examples[i]
        let q = question.map(sanitized) ?? e.question
        let a = answer.map(sanitized) ?? e.answer
        switch decision {
        case "approve", "reject": break
        case "edit":
            guard question != nil || answer != nil else {
                throw WendaoError(.invalidArgument, "an edit needs --question or --answer")
            }
            guard !q.isEmpty, !a.isEmpty else {
                throw WendaoError(.invalidArgument, "the edited question and answer must not be empty")
            }
            guard q.count <= maxCharacters, a.count <= maxCharacters else {
                throw WendaoError(.limitExceeded, "an edited text is longer than \(maxCharacters) characters")
            }
        default:
            throw WendaoError(.invalidArgument, "unknown decision '\(decision)': approve, reject or edit")
        }
        let previous = try reviews(store, name).filter { $0.example == id }.map(\.version).max() ?? 0
        let r = ExampleReview(
            example: id, version: previous + 1,
            decision: decision == "approve" ? "approved" : decision == "reject" ? "rejected" : "edited", question: q,
            answer: a, note: note.map(sanitized), at: TuneJSON.now())
        let file = try store.folder(name).appendingPathComponent("reviews.jsonl")
        var data = (try? Data(contentsOf: file)) ?? Data()
        data.append(TuneJSON.line(r))
        try store.writeFile(file, data)
        apply(r, to: &e)
        if e.status == "kept" && e.split == nil {
            // Restored by a person: into the split its document is in (never two splits for one document).
            e.split =
                examples.first {
                    $0.status == "kept" && $0.split != nil && !Set($0.documents).isDisjoint(with: e.documents)
                }?
                .split ?? "train"
        } else if e.status == "dropped" {
            e.split = nil
        }
        examples[i] = e
        try store.writeExamples(name, examples)
        return e
    }

    /// Applies `r` to `e`: a person's decision overrides the checks — a rejected example is dropped
    /// (`rejected by review`), an approved or edited one is kept even if a check dropped it.
    public static func apply(_ r: ExampleReview, to e: inout TuneExample) {
        e.review = r.decision
        e.version = r.version
        if r.decision == "rejected" {
            e.status = "dropped"
            e.dropReason = "rejected by review"
        } else {
            e.status = "kept"
            e.dropReason = nil
        }
        if r.decision != "rejected" {
            // The text the reviewer saw or wrote.
            let masked = (PIIMasker.mask(r.question), PIIMasker.mask(r.answer))
            e.question = masked.0.text
            e.answer = masked.1.text
        }
    }

    /// Applies the latest review of each example (after cleaning).
    public static func applyAll(_ reviews: [ExampleReview], to examples: inout [TuneExample]) {
        var latest: [String: ExampleReview] = [:]
        for r in reviews where (latest[r.example]?.version ?? 0) < r.version { latest[r.example] = r }
        for i in examples.indices {
            if let r = latest[examples[i].id] { apply(r, to: &examples[i]) }
        }
    }
}
