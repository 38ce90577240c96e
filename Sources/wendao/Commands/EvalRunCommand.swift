import ArgumentParser
import Foundation
import Synchronization
import WendaoApp
import WendaoCore
import WendaoEval
import WendaoModels
import WendaoRAG

extension EvalCommand {
    /// `wendao eval run SUITE`: the prompt and evaluation workbench.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract:
                "Compare prompts × models × retrieval settings on a test set (a suite file), with a regression gate.",
            discussion: """
                Every variant of the suite answers every question; calls in flight are limited per provider; answers \
                are appended to a results file as they come (Ctrl-C keeps them, --resume continues) and model \
                responses are cached by (prompt, model, parameters), so a re-run pays only for what changed. Unknown \
                models and missing keys are reported before any call, with a cost estimate. With --baseline (an \
                earlier run's --json output) the command exits 1 when a metric drops by more than --max-drop, naming \
                the metric and the questions that got worse.
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The suite file (YAML; see Samples/logistics/eval-suite.yaml).") var suite: String
        @Option(help: "Write the report as one self-contained HTML file.") var html: String?
        @Option(help: "An earlier run's report (--json output): exit 1 when a metric drops by more than --max-drop.")
        var baseline: String?
        @Option(help: "The largest drop of a metric (0–1) the gate accepts.") var maxDrop = 0.02
        @Flag(help: "Print the plan (answers, model calls, tokens, estimated cost) and stop before any call.")
        var dryRun = false
        @Option(help: "Stop starting answers once this much was spent (in the models' configured currency).")
        var maxCost: Double?
        @Flag(help: "Keep the answers already in the results file and answer only the rest.") var resume = false
        @Option(help: "Calls in flight per provider (default: the suite's concurrency, else 4).") var concurrency: Int?
        @Option(help: "The results file (JSONL; default: <data>/eval/<suite>/results.jsonl).") var results: String?
        @Option(help: "Only the first N questions of the test set.") var limit: Int?
        @Flag(help: "Neither read nor fill the response cache.") var noCache = false
        @Option(
            help:
                "Questions whose answers the report lists one by one (the first N; the figures cover every question, every answer is in the results file)."
        )
        var details = 2000

        func run() async throws {
            if let concurrency, concurrency < 1 {
                throw WendaoError(.invalidArgument, "--concurrency must be at least 1")
            }
            if let limit, limit < 1 { throw WendaoError(.invalidArgument, "--limit must be at least 1") }
            guard details >= 0 else { throw WendaoError(.invalidArgument, "--details must not be negative") }
            guard maxDrop >= 0 else { throw WendaoError(.invalidArgument, "--max-drop must not be negative") }
            if let maxCost, maxCost < 0 { throw WendaoError(.invalidArgument, "--max-cost must not be negative") }
            var suite = try EvalSuite.load(URL(fileURLWithPath: self.suite))
            if let limit { suite.limit = min(suite.limit ?? limit, limit) }
            let cases = try suite.cases()
            guard !cases.isEmpty else {
                throw WendaoError(
                    .invalidArgument, "\(suite.testSet.path): no questions (after the suite's tags and limit)")
            }
            let baselineReport = try baseline.map { try WorkbenchReport.read(URL(fileURLWithPath: $0)) }

            // Models: every name resolved (and its key found) before anything is called.
            var specs: [String] = []
            for v in suite.variants where !v.isExtractive && !specs.contains(v.model) { specs.append(v.model) }
            if let j = suite.judge?.model, !specs.contains(j) { specs.append(j) }
            var resolved: [String: ResolvedModel] = [:]
            let app: AppEnvironment
            if specs.isEmpty {
                app = global.app()
            } else {
                let setup = try ModelSetup(global: global)
                for spec in specs {
                    do {
                        resolved[spec] = try setup.resolve(spec)
                    } catch let e as WendaoError {
                        let users = suite.variants.filter { $0.model == spec }.map(\.name)
                        let who =
                            users.isEmpty ? "the judge" : "variant \(users.map { "'\($0)'" }.joined(separator: ", "))"
                        throw WendaoError(e.code, "\(suite.file.path): \(who): \(e.message)")
                    }
                }
                app = setup.app()
            }
            defer { app.close() }
            let base: KnowledgeBase
            do {
                base = try app.library().open(suite.knowledgeBase)
            } catch let e as WendaoError where e.code == .notFound {
                throw WendaoError(
                    .notFound,
                    "\(e.message); the suite \(suite.file.lastPathComponent) answers from it: create and ingest it first "
                        + "(wendao ingest --kb \(suite.knowledgeBase) --create FOLDER)")
            }
            let templates = try PromptTemplates.load(dataDirectory: app.dataDirectory, kb: base.name)
            let kb = KnowledgeAccess(base)

            let plan = try await estimate(suite: suite, cases: cases, kb: kb, resolved: resolved, templates: templates)
            if dryRun {
                if global.json { Output.json(plan) } else { Output.line(plan.line) }
                return
            }
            Output.err(plan.line)
            if let maxCost, plan.unknownPrice.isEmpty == false {
                Output.err(
                    "warning: --max-cost \(maxCost) cannot count the calls of \(plan.unknownPrice.joined(separator: ", ")) "
                        + "(no price in config.yaml)")
            }

            let cache = try ResponseCache(
                file: noCache ? nil : app.dataDirectory.appendingPathComponent("eval/cache/responses.jsonl"))
            var bindings: [String: ModelBinding] = [:]
            for (spec, model) in resolved {
                let chat = try await app.chatModel(for: model)
                bindings[spec] = ModelBinding(
                    model: CachingChatModel(base: chat, cache: cache), provider: model.provider, price: model.price)
            }
            let resultsFile = results.map { URL(fileURLWithPath: $0) } ?? defaultResults(app: app, suite: suite)
            var options = WorkbenchOptions(resultsFile: resultsFile)
            options.resume = resume
            options.maxCost = maxCost
            options.concurrency = concurrency
            options.detailLimit = details
            let bar = ProgressLine(interactive: Output.stderrIsTTY)
            options.progress = { bar.show($0) }
            let outcome: WorkbenchOutcome
            do {
                outcome = try await Workbench.run(
                    suite: suite, cases: cases, kb: kb, templates: templates, models: bindings,
                    judge: suite.judge.flatMap { bindings[$0.model] }, options: options)
            } catch {
                bar.finish()
                if Task.isCancelled || error is CancellationError {
                    Output.err("interrupted: the answers so far are in \(resultsFile.path); --resume continues")
                }
                throw error
            }
            bar.finish()
            let counts = cache.counts
            let report = WorkbenchReport.make(
                suite: suite, cases: cases, outcome: outcome, resultsFile: resultsFile, detailLimit: details)
            let regressions = baselineReport.map { report.regressions(against: $0, maxDrop: maxDrop) } ?? []
            if let html {
                let page = report.html(baseline: baselineReport, regressions: regressions)
                let url = URL(fileURLWithPath: html)
                do {
                    try Data(page.utf8).write(to: url, options: .atomic)
                } catch {
                    throw WendaoError(.storage, "cannot write \(url.path): \(error.localizedDescription)")
                }
            }
            if global.json {
                Output.json(report)
            } else {
                Output.stdout(Data(Terminal.text(report.table).utf8))
            }
            let failed = outcome.results.filter { $0.error != nil }
            if !failed.isEmpty {
                Output.err(
                    "\(failed.count) answers failed (recorded in \(resultsFile.path)); first: \(failed[0].variant) × \(failed[0].question): \(failed[0].error ?? "")"
                )
            }
            Output.err(
                "model calls: \(counts.misses) made, \(counts.hits) from the cache · results: \(resultsFile.path)"
                    + (html.map { " · report: \($0)" } ?? ""))
            if let stopped = outcome.stopped { Output.err("stopped: \(stopped)") }
            if !regressions.isEmpty {
                for r in regressions {
                    Output.err(
                        String(
                            format: "regression: %@: %@ %.3f → %.3f (more than --max-drop %.3f)", r.variant, r.metric,
                            r.baseline, r.current, maxDrop)
                            + (r.worse.isEmpty ? "" : "; worse: " + r.worse.prefix(30).joined(separator: ", ")))
                }
                throw ExitCode(1)
            }
        }

        /// `<data>/eval/<suite name>/results.jsonl`.
        func defaultResults(app: AppEnvironment, suite: EvalSuite) -> URL {
            let safe = String(
                suite.name.unicodeScalars.map {
                    $0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "-" || $0 == "_"
                        ? Character($0) : "_"
                })
            return app.dataDirectory.appendingPathComponent("eval").appendingPathComponent(
                safe.isEmpty ? "suite" : safe
            )
            .appendingPathComponent("results.jsonl")
        }

        /// What the run will call, and roughly what it costs.
        struct Plan: Encodable {
            var answers: Int
            var modelAnswers: Int
            var judgeCalls: Int
            var promptTokens: Int
            var completionTokens: Int
            var cost: Double?
            var currency: String?
            var unknownPrice: [String]

            enum CodingKeys: String, CodingKey {
                case answers, modelAnswers = "model_answers", judgeCalls = "judge_calls"
                case promptTokens = "estimated_prompt_tokens", completionTokens = "estimated_completion_tokens"
                case cost = "estimated_cost", currency, unknownPrice = "unknown_price"
            }

            var line: String {
                var s = "plan: \(answers) answers (\(modelAnswers) by models"
                if judgeCalls > 0 { s += ", \(judgeCalls) judge calls" }
                s += ")"
                if modelAnswers + judgeCalls > 0 {
                    s += ": about \(promptTokens) prompt + \(completionTokens) completion tokens at most"
                    if let cost { s += String(format: ", about %.4f %@ at most", cost, currency ?? "") }
                    if !unknownPrice.isEmpty { s += "; no price for \(unknownPrice.joined(separator: ", "))" }
                    s += " (cached responses cost nothing)"
                }
                return s
            }
        }

        /// Estimates the calls and tokens of the run from the first questions' retrieval.
        func estimate(
            suite: EvalSuite, cases: [EvalCase], kb: KnowledgeAccess, resolved: [String: ResolvedModel],
            templates: PromptTemplates
        ) async throws -> Plan {
            var plan = Plan(
                answers: cases.count * suite.variants.count, modelAnswers: 0, judgeCalls: 0, promptTokens: 0,
                completionTokens: 0, cost: 0, currency: nil, unknownPrice: [])
            let sample = Array(cases.prefix(20))
            var costKnown = true
            for v in suite.variants where !v.isExtractive {
                guard let model = resolved[v.model] else { continue }
                var sourceTokens = 0
                for c in sample {
                    let hits =
                        (try? await kb.retrieve(c.question, topK: v.retrieval.topK, mode: v.retrieval.mode))?.hits ?? []
                    sourceTokens += hits.reduce(0) { $0 + TokenEstimator.estimate($1.text) + 20 }
                }
                var perQuestion = sourceTokens / max(1, sample.count)
                if let cap = v.retrieval.maxContextTokens { perQuestion = min(perQuestion, cap) }
                perQuestion = min(perQuestion, max(0, model.contextWindow - v.maxTokens))
                let system = TokenEstimator.estimate(v.prompt?.text ?? templates.answerSystem)
                let questionTokens =
                    sample.reduce(0) { $0 + TokenEstimator.estimate($1.question) } / max(1, sample.count)
                let prompt = (perQuestion + system + questionTokens + 20) * cases.count
                let completion = min(v.maxTokens, 300) * cases.count
                plan.modelAnswers += cases.count
                plan.promptTokens += prompt
                plan.completionTokens += completion
                if let price = model.price {
                    plan.cost =
                        (plan.cost ?? 0)
                        + price.cost(of: TokenUsage(promptTokens: prompt, completionTokens: completion))
                    plan.currency = price.currency
                } else if !model.isLocal {
                    costKnown = false
                    if !plan.unknownPrice.contains(model.id) { plan.unknownPrice.append(model.id) }
                }
            }
            if let j = suite.judge, let model = resolved[j.model] {
                let calls = cases.count * suite.variants.count + (j.pairwise.count == 2 ? 2 * cases.count : 0)
                let prompt = calls * 900
                let completion = calls * 100
                plan.judgeCalls = calls
                plan.promptTokens += prompt
                plan.completionTokens += completion
                if let price = model.price {
                    plan.cost =
                        (plan.cost ?? 0)
                        + price.cost(of: TokenUsage(promptTokens: prompt, completionTokens: completion))
                    plan.currency = price.currency
                } else if !model.isLocal {
                    costKnown = false
                    if !plan.unknownPrice.contains(model.id) { plan.unknownPrice.append(model.id) }
                }
            }
            if !costKnown && plan.cost == 0 { plan.cost = nil }
            return plan
        }
    }
}

/// The progress of an evaluation run on stderr: a bar redrawn in place on a terminal, else a line at
/// every tenth of the run.
final class ProgressLine: Sendable {
    let interactive: Bool
    /// What is counted, in the plain lines (`answers`, `chunks`).
    let unit: String
    private let state = Mutex<(lastTenth: Int, drawn: Bool)>((-1, false))

    init(interactive: Bool, unit: String = "answers") {
        self.interactive = interactive
        self.unit = unit
    }

    func show(_ p: WorkbenchProgress) { show(done: p.done, total: p.total, failed: p.failed) }

    func show(done: Int, total: Int, failed: Int) {
        let fraction = Double(done) / Double(max(1, total))
        if interactive {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let text = "\r\(bar) \(done)/\(total)" + (failed > 0 ? " · \(failed) failed" : "") + "   "
            state.withLock { s in
                s.drawn = true
                FileHandle.standardError.write(Data(text.utf8))
            }
        } else {
            let tenth = Int(fraction * 10)
            let due = state.withLock { s -> Bool in
                guard tenth > s.lastTenth else { return false }
                s.lastTenth = tenth
                return true
            }
            if due {
                Output.err("\(done)/\(total) \(unit)" + (failed > 0 ? " (\(failed) failed)" : ""))
            }
        }
    }

    func finish() {
        state.withLock { s in
            if s.drawn { FileHandle.standardError.write(Data("\n".utf8)) }
            s.drawn = false
        }
    }
}

extension EvalCommand {
    /// `wendao eval generate`: a draft test set from a knowledge base's passages.
    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate",
            abstract: "Draft a test set from a knowledge base's passages with a model, for a person to review.",
            discussion: """
                For each passage (in a seeded random order) the model writes a question the passage answers and the \
                answer copied from it; the passage's document is the gold document, and the answer is a gold string \
                when it is the passage's own text. Near-duplicate questions are dropped. A share of the questions \
                (--unanswerable) are about nearby topics the passage does not cover, kept only when the extractive \
                answerer finds no answer in the knowledge base. Writes JSONL in the format of \
                Samples/logistics/eval*.jsonl (tags: generated).
                """)
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "The knowledge base whose passages the questions are written from.") var kb: String
        @Option(name: .long, help: "The model that writes them (provider:model or local:NAME).") var model: String
        @Option(help: "Questions wanted.") var count = 100
        @Option(help: "Share of questions the knowledge base does not answer (0–1).") var unanswerable = 0.1
        @Option(help: "Seed of the passage order.") var seed: UInt64 = 17
        @Option(help: "Calls in flight.") var concurrency = 4
        @Option(help: "Write the JSONL here (default: stdout).") var out: String?

        func run() async throws {
            guard count >= 1 else { throw WendaoError(.invalidArgument, "--count must be at least 1") }
            guard (0...1).contains(unanswerable) else {
                throw WendaoError(.invalidArgument, "--unanswerable must be between 0 and 1")
            }
            guard concurrency >= 1 else { throw WendaoError(.invalidArgument, "--concurrency must be at least 1") }
            let setup = try ModelSetup(global: global)
            let resolved = try setup.resolve(model)
            let app = setup.app()
            defer { app.close() }
            let base = try app.library().open(kb)
            let passages = try TestSetGenerator.passages(in: base, seed: seed)
            guard !passages.isEmpty else {
                throw WendaoError(.invalidArgument, "knowledge base '\(kb)' has no passages to write questions from")
            }
            let access = KnowledgeAccess(base)
            let chat = try await app.chatModel(for: resolved)
            var options = TestSetGenerator.Options()
            options.count = count
            options.unanswerableShare = unanswerable
            options.concurrency = concurrency
            let bar = ProgressLine(interactive: Output.stderrIsTTY)
            options.progress = { done, wanted in
                bar.show(done: done, total: wanted, failed: 0)
            }
            let draft = await TestSetGenerator.generate(passages: passages, model: chat, options: options) { q in
                try await access.retrieve(q, topK: 8, mode: nil).extractive?.found ?? false
            }
            bar.finish()
            try Task.checkCancellation()
            let text =
                draft.cases.map(TestSetGenerator.jsonLine).joined(separator: "\n") + (draft.cases.isEmpty ? "" : "\n")
            if let out {
                do {
                    try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
                } catch {
                    throw WendaoError(.storage, "cannot write \(out): \(error.localizedDescription)")
                }
            } else {
                Output.stdout(Data(text.utf8))
            }
            let unanswerableCount = draft.cases.filter { !$0.answerable }.count
            Output.err(
                "\(draft.cases.count) questions (\(unanswerableCount) unanswerable) from \(passages.count) passages; dropped: "
                    + "\(draft.duplicates) near-duplicates, \(draft.answerable) \"unanswerable\" ones the knowledge base answers, "
                    + "\(draft.unusable) unusable replies" + (out.map { " · \($0)" } ?? "")
                    + " · review them before use")
        }
    }
}
