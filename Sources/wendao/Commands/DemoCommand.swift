import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoRAG

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Build the bundled logistics knowledge base and answer sample questions with citations.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Folder of the sample documents.") var samples = "Samples/logistics"
    @Option(help: "Knowledge base name.") var kb = "logistics"

    static let questions = [
        "寄一个 3 公斤的包裹到北京，运费怎么算？",
        "充电宝能寄吗？",
        "保价费怎么收？",
        "包裹丢了最多赔多少钱？",
        "仓储服务常温存储每立方米每天多少钱？",
        "合同铂金客户找客户经理，多久能得到响应？",
        "How do I track my parcel?",
        "明天上海会下雨吗？",
    ]

    func run() throws {
        guard FileManager.default.fileExists(atPath: samples) else {
            throw WendaoError(
                .notFound, "sample folder \(samples) not found: run from the repository root or pass --samples DIR")
        }
        let app = global.app()
        defer { app.close() }
        let lib = try app.library()
        if try lib.store.knowledgeBase(named: kb) == nil { try lib.create(kb) }
        let base = try lib.open(kb)
        var options = IngestOptions()
        options.exclude = ["eval*.jsonl"]
        options.prune = true
        let summary = try base.ingest([samples], options: options)
        if !global.json {
            Output.err(
                "knowledge base '\(kb)': \(summary.files) files (\(summary.added) added, \(summary.updated) updated, \(summary.unchanged) unchanged, \(summary.failed) failed), \(base.chunkCount) chunks"
            )
            // PDFs and scans need poppler / Tesseract (scripts/test.sh installs them): say so.
            for r in summary.results where r.outcome == .failed {
                Output.err("  skipped \(Terminal.field(r.path)): \(r.reason ?? "failed")")
            }
        }
        var answers: [Answer] = []
        for q in Self.questions {
            let a = try base.ask(q)
            answers.append(a)
            if global.json { continue }
            Output.line("Q: \(q)")
            Output.line("A: \(a.answer)")
            for c in a.citations { Output.line("   [\(c.n)] \(AskCommand.location(c))") }
            Output.line("")
        }
        if global.json { Output.json(["answers": answers]) }
        if !global.json {
            Output.line("Try your own: wendao ask --kb \(kb) \"你的问题\"   (data in \(lib.directory.path))")
        }
    }
}
