import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoRAG

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor", abstract: "Check that the store and the index agree; say how to repair.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The knowledge base to check.") var kb: String

    func run() throws {
        let app = global.app()
        defer { app.close() }
        let report = try app.library().open(kb).doctor()
        if global.json {
            Output.json(report)
        } else {
            Output.line(
                "documents \(report.documents), chunks in store \(report.storeChunks), in index \(report.indexChunks)")
            if let r = report.repaired { Output.line("repaired on open: \(r)") }
            for p in report.problems { Output.line("✗ \(p)") }
            Output.line(
                report.ok
                    ? "ok" : "problems found — run `wendao reindex --kb \(kb)` to rebuild the index from the store")
        }
        if !report.ok { throw ExitCode(1) }
    }
}

struct ReindexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract: "Rebuild the BM25 index (and, with an embedder, every vector) of a knowledge base from the store.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The knowledge base to rebuild the indexes of.") var kb: String

    func run() throws {
        let started = Date()
        let app = global.app()
        defer { app.close() }
        let base = try app.library().open(kb)
        let n = try base.rebuildIndex()
        if base.record.settings.embedder != nil {
            let bar = ProgressBar(tty: Output.stderrIsTTY)
            try base.rebuildVectors { done, total in bar.embedding(done: done, total: total) }
        }
        let secs = Date().timeIntervalSince(started)
        if global.json {
            struct Body: Encodable {
                var kb: String
                var chunks: Int
                var seconds: Double
            }
            Output.json(Body(kb: kb, chunks: n, seconds: secs))
        } else {
            Output.line(String(format: "reindexed %d chunks in %.2fs", n, secs))
        }
    }
}
