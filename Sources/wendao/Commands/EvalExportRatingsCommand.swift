import ArgumentParser
import Foundation
import WendaoCore
import WendaoEval
import WendaoRAG

extension EvalCommand {
    /// `wendao eval export-ratings`: a test set from the answers rated in the web UI.
    struct ExportRatings: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-ratings",
            abstract: "Write the answers rated in the web UI as a test set (JSONL) for an evaluation suite.",
            discussion: """
                Each rated question becomes one line. An answer rated thumbs up is the reference (citation markers \
                removed) and the documents it cited the gold documents; an up-rated "not found" is an unanswerable \
                question. An answer rated thumbs down is written without a reference, with "review": true, the tag \
                needs-review, the rejected answer and the note: write the reference (or set answerable to false) \
                before using it. A question rated more than once is written once (an up-rating wins).
                """)
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("kb"), help: "The knowledge base whose rated answers are exported.") var kb: String
        @Option(help: "Only answers asked on or after this date (2026-12-06) or time (2026-12-06T08:00:00Z).")
        var since: String?
        @Option(help: "Write the JSONL here (default: stdout).") var out: String?

        func run() throws {
            let since = try since.map { text -> Double in
                guard let t = ConversationSummary.time(text, endOfDay: false) else {
                    throw WendaoError(
                        .invalidArgument, "--since must be a date (2026-12-06) or a time (2026-12-06T08:00:00Z)")
                }
                return t
            }
            let lib = try global.library()
            let record = try lib.record(kb)
            let rows = try RatingsExport.rows(store: lib.store, kb: record.id, since: since)
            let text = rows.map(RatingsExport.jsonLine).joined(separator: "\n") + (rows.isEmpty ? "" : "\n")
            if let out {
                do {
                    try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
                } catch {
                    throw WendaoError(.storage, "cannot write \(out): \(error.localizedDescription)")
                }
            } else {
                Output.stdout(Data(text.utf8))
            }
            let review = rows.filter { $0.review == true }.count
            Output.err(
                "\(rows.count) rated questions (\(rows.count - review) rated up, \(review) rated down: review them)"
                    + (out.map { " · \($0)" } ?? ""))
        }
    }
}
