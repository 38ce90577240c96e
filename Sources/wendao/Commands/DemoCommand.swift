import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Build the bundled logistics knowledge base and answer sample questions with citations.",
        discussion: """
            Without --model the answers are extractive (the most relevant sentences, cited). With a model they are \
            written by it from the retrieved passages: a provider's (--model deepseek:deepseek-chat) or one run on \
            this machine with no key (wendao models pull smollm2-135m; --model local:smollm2-135m).
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Folder of the sample documents.") var samples = "Samples/logistics"
    @Option(help: "Knowledge base name.") var kb = "logistics"
    @Option(name: .long, help: "Model that writes the answers: provider:model or local:NAME (default: extractive).")
    var model: String?

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

    func run() async throws {
        guard FileManager.default.fileExists(atPath: samples) else {
            throw WendaoError(
                .notFound, "sample folder \(samples) not found: run from the repository root or pass --samples DIR")
        }
        // The model is settled before the work (a bad name or a missing key fails at once).
        var resolved: ResolvedModel?
        let app: AppEnvironment
        if let model {
            let setup = try ModelSetup(global: global)
            resolved = try setup.resolve(model)
            app = setup.app()
        } else {
            app = global.app()
        }
        defer { app.close() }
        let lib = try app.library()
        if try lib.store.knowledgeBase(named: kb) == nil { try lib.create(kb) }
        let base = try lib.open(kb)
        var options = IngestOptions()
        options.exclude = ["eval*.jsonl", "eval*.yaml"]
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
        if let resolved {
            try await answerWithModel(resolved, base: base, app: app, dataDirectory: lib.directory)
            if !global.json {
                Output.line(
                    "Try your own: wendao ask --kb \(kb) --model \(resolved.id) \"你的问题\"   (data in \(lib.directory.path))"
                )
            }
            return
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

    /// The sample questions answered by `model` from `base`, streamed as they are written.
    func answerWithModel(_ model: ResolvedModel, base: KnowledgeBase, app: AppEnvironment, dataDirectory: URL)
        async throws
    {
        let answerer = GroundedAnswerer(
            model: try await app.chatModel(for: model),
            templates: try PromptTemplates.load(dataDirectory: dataDirectory, kb: base.name))
        let json = global.json
        let started = ContinuousClock.now
        var answers: [GroundedAnswer] = []
        var usage = TokenUsage.zero
        var calls = 0
        for q in Self.questions {
            if !json {
                Output.line("Q: \(q)")
                Output.write("A: ")
            }
            let a = try await AskCommand.answer(q, history: [], from: base, with: answerer) { event in
                if !json, case .text(let t) = event { Output.write(t) }
            }
            answers.append(a)
            usage = usage + a.usage
            calls += a.modelCalls
            if json { continue }
            if !a.answer.hasSuffix("\n") { Output.write("\n") }
            for c in a.citations { Output.line("   [\(c.n)] \(AskCommand.location(c))") }
            for w in a.warnings { Output.err("warning: \(w)") }
            Output.line("")
        }
        let report = UsageReport(
            model: model, usage: usage, calls: calls, seconds: (ContinuousClock.now - started).seconds)
        if json {
            struct Body: Encodable {
                var answers: [GroundedAnswer]
                var usage: UsageReport
            }
            Output.json(Body(answers: answers, usage: report))
        } else {
            Output.err(report.line)
        }
    }
}
