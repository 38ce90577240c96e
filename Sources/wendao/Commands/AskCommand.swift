import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG
import WendaoServer

struct AskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Answer a question from a knowledge base, with numbered citations.",
        discussion: """
            With a model (--model, the knowledge base's model from `kb set --model`, $WENDAO_MODEL or default_model \
            in config.yaml) the answer is written by the model from the retrieved passages and streams as it comes; \
            citations are checked afterwards. A small model's answer (local:…, or a size below 4B in the model's name) \
            is checked sentence by sentence against the sources it cites before it is shown, and the extractive answer \
            replaces it when it is not supported (--answer-guard). Without a model, the answer is extractive: the \
            most relevant sentences, each cited. When nothing relevant is found, the model is not called and the \
            answer says so.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The knowledge base to answer from (see `wendao kb list`).") var kb: String
    @Argument(help: "The question.") var question: String
    @Option(name: .long, help: "Passages to consider.") var topK = 8
    @Option(
        name: .long,
        help: "Model that writes the answer: provider:model (e.g. deepseek:deepseek-chat) or local:NAME (run here).")
    var model: String?
    @Flag(name: .long, help: "Answer extractively even when a model is configured.") var extractive = false
    @Option(
        name: .long,
        help:
            "Conversation file (JSONL of {\"role\",\"content\"} turns): earlier turns give the follow-up its context; this turn is appended."
    )
    var history: String?
    @Option(name: .long, help: "Cap on context tokens given to the model (default: what the model's window allows).")
    var maxContextTokens: Int?
    @Option(name: .long, help: "Upper bound on answer tokens.") var maxAnswerTokens = 1024
    @Option(
        name: .long,
        help: """
            Check the model's answer sentence by sentence against its sources, with the extractive answer as the \
            fallback: auto (small models: local:…, or a size below 4B in the name), on, off.
            """)
    var answerGuard = AnswerGuardMode.auto

    func run() async throws {
        guard (1...50).contains(topK) else { throw WendaoError(.invalidArgument, "--top-k must be between 1 and 50") }
        let setup = try ModelSetup(global: global)
        let app = setup.app()
        defer { app.close() }
        let base = try app.library().open(kb)
        // A curated answer answers first, with or without a model (which is then not called).
        if let match = try base.curatedMatch(question) {
            let a = KnowledgeBase.curatedAnswer(question: question, match: match)
            if let history {
                try ConversationFile.append(history, [ChatMessage(.user, question), ChatMessage(.assistant, a.answer)])
            }
            if global.json {
                Output.json(a)
            } else {
                Output.line(Terminal.text(a.answer))
                Self.printCitations(a.citations)
            }
            return
        }
        let chosen: (spec: String, from: String)? =
            extractive
            ? nil
            : model.map { ($0, "--model") } ?? base.record.settings.model.map {
                ($0, "knowledge base '\(kb)' (kb set --model)")
            }
                ?? setup.defaultModelWithSource
        guard let (spec, source) = chosen else {
            if history != nil {
                Output.err("warning: --history needs a model; answering the question on its own (extractive)")
            }
            try answerExtractively(base)
            return
        }
        let resolved: ResolvedModel
        do { resolved = try setup.resolve(spec) } catch let e as WendaoError where source != "--model" {
            throw WendaoError(e.code, "\(e.message) (model '\(spec)' from \(source))")
        }
        let turns = try history.map { try ConversationFile.read($0) } ?? []
        let templates = try PromptTemplates.load(dataDirectory: setup.dataDirectory, kb: base.name)
        var options = GroundedAnswerer.Options()
        options.topK = topK
        options.maxContextTokens = maxContextTokens
        guard maxAnswerTokens > 0 else { throw WendaoError(.invalidArgument, "--max-answer-tokens must be positive") }
        options.maxAnswerTokens = maxAnswerTokens
        options.answerGuard = answerGuard
        if let m = maxContextTokens, m <= 0 {
            throw WendaoError(.invalidArgument, "--max-context-tokens must be positive")
        }
        let json = global.json
        let started = ContinuousClock.now
        let answer: GroundedAnswer
        do {
            let answerer = GroundedAnswerer(
                model: try await app.chatModel(for: resolved), templates: templates, options: options)
            answer = try await Self.answer(question, history: turns, from: base, with: answerer) { event in
                guard !json else { return }
                switch event {
                case .rewritten(let q): Output.err("(searching for: \(q))")
                case .translated(let q): Output.err("(also searching for: \(q))")
                case .sources: break
                case .text(let t): Output.write(t)
                }
            }
        } catch {
            await app.shutdown()
            throw error
        }
        await app.shutdown()
        let report = UsageReport(
            model: resolved, usage: answer.usage, calls: answer.modelCalls,
            seconds: (ContinuousClock.now - started).seconds)
        // An empty answer is not a turn: appending it would leave two user turns in a row.
        if let history, !answer.answer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            try ConversationFile.append(
                history, [ChatMessage(.user, question), ChatMessage(.assistant, answer.answer)])
        }
        if json {
            Output.json(AnswerReport(answer: answer, usage: report))
            return
        }
        if !answer.answer.hasSuffix("\n") { Output.write("\n") }
        Self.printCitations(answer.citations)
        for w in answer.warnings { Output.err("warning: \(w)") }
        Output.err(report.line)
    }

    /// `question` answered by `answerer` from `base`. The query's vector is awaited (a remote embedder's
    /// call holds no thread); the search itself runs here.
    static func answer(
        _ question: String, history: [ChatMessage], from base: KnowledgeBase, with answerer: GroundedAnswerer,
        onEvent: (GroundedEvent) -> Void
    ) async throws -> GroundedAnswer {
        try await answerer.answer(
            question, history: history,
            retrieve: { query, k in
                var vector: [Float]?
                if let dense = base.denseQuery(query) {
                    vector = try? await dense.embedder.embed([dense.text], as: .query).vectors.first
                }
                return try GroundedAnswerer.retrieve(query, topK: k, in: base, queryVector: vector)
            }, onEvent: onEvent)
    }

    func answerExtractively(_ base: KnowledgeBase) throws {
        let a = try base.ask(question, topK: topK)
        if global.json {
            Output.json(a)
            return
        }
        Output.line(a.answer)
        Self.printCitations(a.citations)
    }

    /// `[n] document › section (p. N)` lines after a blank line.
    static func printCitations(_ citations: [Citation]) {
        if !citations.isEmpty { Output.line("") }
        for c in citations { Output.line("[\(c.n)] \(location(c))") }
    }

    /// `document › section (p. N)` on one terminal-safe line.
    static func location(_ c: Citation) -> String {
        if c.kind == "curated" { return "curated answer: " + Terminal.field(c.section) }
        var loc = Terminal.field(c.document)
        if !c.section.isEmpty { loc += " › " + Terminal.field(c.section) }
        if let p = c.page { loc += " (p. \(p))" }
        return loc
    }
}

/// A conversation kept as JSONL: one `{"role": "user"|"assistant", "content": "…"}` per line.
enum ConversationFile {
    static func read(_ path: String) throws -> [ChatMessage] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WendaoError(.unreadable, "\(path): cannot read the conversation file")
        }
        guard data.count <= 16 << 20 else {
            throw WendaoError(.limitExceeded, "\(path): conversation file over 16 MiB")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WendaoError(.unreadable, "\(path): the conversation file is not UTF-8 text")
        }
        var turns: [ChatMessage] = []
        // Lines end in \n or \r\n ("\r\n" is one Character, so split on any newline character).
        for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let l = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if l.isEmpty { continue }
            guard let m = try? JSONDecoder().decode(ChatMessage.self, from: Data(l.utf8)) else {
                throw WendaoError(
                    .invalidArgument,
                    "\(path):\(i + 1): expected {\"role\": \"user\" or \"assistant\", \"content\": \"…\"}")
            }
            guard m.role != .system else {
                throw WendaoError(
                    .invalidArgument,
                    "\(path):\(i + 1): system turns are not allowed in a conversation file (the instructions are the "
                        + "prompt templates: see `wendao prompts export`)")
            }
            turns.append(m)
        }
        return turns
    }

    static func append(_ path: String, _ turns: [ChatMessage]) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        var out = Data()
        for t in turns {
            out.append(try enc.encode(t))
            out.append(0x0A)
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: out) else {
                throw WendaoError(.unreadable, "\(path): cannot create the conversation file")
            }
            return
        }
        guard let h = FileHandle(forUpdatingAtPath: path) else {
            throw WendaoError(.unreadable, "\(path): cannot write the conversation file")
        }
        defer { try? h.close() }
        let end = try h.seekToEnd()
        if end > 0 {
            // Keep one turn per line even if the file lacks a final newline.
            try h.seek(toOffset: end - 1)
            if try h.read(upToCount: 1) != Data([0x0A]) { out.insert(0x0A, at: 0) }
            try h.seekToEnd()
        }
        try h.write(contentsOf: out)
    }
}
