import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoRAG

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Show the best-matching passages with their scores.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The knowledge base to search (see `wendao kb list`).") var kb: String
    @Argument(help: "The query.") var query: String
    @Option(name: .long, help: "Number of results.") var topK = 10
    @Option(name: .long, help: "bm25, dense or hybrid (default: the knowledge base's mode).") var mode: RetrievalMode?
    @Option(name: .long, help: "Pack results into at most this many characters.") var budgetChars: Int?

    struct Body: Encodable {
        var query: String
        var results: [SearchHit]
    }

    func run() throws {
        guard topK > 0 else { throw WendaoError(.invalidArgument, "--top-k must be positive") }
        let app = global.app()
        defer { app.close() }
        let base = try app.library().open(kb)
        let hits: [SearchHit]
        if let budgetChars {
            guard budgetChars > 0 else { throw WendaoError(.invalidArgument, "--budget-chars must be positive") }
            hits = ContextPacker.pack(try base.search(query, topK: max(topK, 20), mode: mode), budget: budgetChars)
        } else {
            hits = try base.search(query, topK: topK, mode: mode)
        }
        if global.json {
            Output.json(Body(query: query, results: hits))
            return
        }
        if hits.isEmpty { Output.line("no matching passages") }
        for h in hits {
            let page = h.page.map { " p.\($0)" } ?? ""
            let section = h.section.isEmpty ? "" : " › \(Terminal.field(h.section))"
            Output.line(String(format: "%2d. %.3f  %@%@%@", h.rank, h.score, Terminal.field(h.document), section, page))
            Output.line("    " + Terminal.field(h.text.replacingOccurrences(of: "\n", with: " ")).prefix(240))
        }
    }
}
