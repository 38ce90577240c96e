import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoEval
import WendaoModels
import WendaoRAG
import WendaoTune

/// `wendao tune`: the fine-tuning data studio.
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune", abstract: "Fine-tuning data studio: distil training sets from a knowledge base.",
        subcommands: [Dataset.self, Submit.self, Status.self, Events.self, Cancel.self, Compare.self, Jobs.self])

    struct Dataset: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dataset", abstract: "Create, clean, inspect and export training datasets.",
            discussion: """
                Datasets live in <data>/tune/datasets/NAME/: manifest.json, chunks.jsonl (the chunks' texts), \
                raw.jsonl (one checkpoint line per chunk), examples.jsonl (every example with kept/dropped, reason \
                and split), report.json, stats.json and stats.html. Teacher responses are cached in \
                <data>/tune/cache/responses.jsonl.
                """,
            subcommands: [Create.self, Clean.self, List.self, Show.self, Review.self, Export.self, Delete.self])
    }
}

/// The checks of a cleaning pass, shared by `create` and `clean`.
struct CleaningArguments: ParsableArguments {
    @Option(help: "A judge model for the support check (provider:model); default: the lexical check.")
    var judge: String?
    @Option(
        help:
            "An evaluation test set (JSONL or CSV): examples whose question is close to one of its questions are dropped."
    )
    var evalSet: String?
    @Option(help: "Contamination: character-pair Jaccard similarity at which a question is too close (0–1).")
    var contaminationThreshold = 0.6
    @Option(help: "Near-duplicate questions: MinHash estimated Jaccard over character 5-grams (0–1).")
    var dedupeThreshold = 0.8
    @Option(help: "Share of an answer's checkable claims its chunk must support (lexical check, 0–1).")
    var minSupport = 0.5
    @Option(help: "Unsupported answers: drop or flag.") var unsupported = "drop"
    @Option(help: "Longest answer in characters.") var maxAnswerChars = 4000
    @Flag(help: "Do not mask personal data (phones, ID numbers, bank cards, e-mails).") var noMaskPii = false
    @Option(help: "Shares of train, validation and test (split by document).") var split = "0.8,0.1,0.1"

    func options() throws -> (CleaningOptions, [Double]) {
        guard (0...1).contains(dedupeThreshold), dedupeThreshold > 0 else {
            throw WendaoError(.invalidArgument, "--dedupe-threshold must be in (0, 1]")
        }
        guard (0...1).contains(contaminationThreshold) else {
            throw WendaoError(.invalidArgument, "--contamination-threshold must be between 0 and 1")
        }
        guard (0...1).contains(minSupport) else {
            throw WendaoError(.invalidArgument, "--min-support must be between 0 and 1")
        }
        guard ["drop", "flag"].contains(unsupported) else {
            throw WendaoError(.invalidArgument, "--unsupported must be drop or flag")
        }
        guard maxAnswerChars >= 2 else { throw WendaoError(.invalidArgument, "--max-answer-chars must be at least 2") }
        guard let ratios = DatasetSplitter.parseRatios(split) else {
            throw WendaoError(
                .invalidArgument, "--split must be three non-negative shares, train first and above 0 (0.8,0.1,0.1)")
        }
        var o = CleaningOptions()
        o.dedupeThreshold = dedupeThreshold
        o.contaminationThreshold = contaminationThreshold
        o.minimumSupport = minSupport
        o.dropUnsupported = unsupported == "drop"
        o.answerLength = 2...maxAnswerChars
        o.maskPII = !noMaskPii
        if let evalSet { o.evalQuestions = try TestSetReader.read(URL(fileURLWithPath: evalSet)).map(\.question) }
        return (o, ratios)
    }

    /// The judge as the cleaner calls it (responses cached with the teacher's).
    static func judge(_ binding: ModelBinding) -> DatasetCleaner.Judge {
        { e, sources in
            let reply = try? await binding.model.complete(
                DatasetCleaner.judgePrompt(e, sources: sources), options: ChatOptions(temperature: 0, maxTokens: 200))
            return reply.flatMap { DatasetCleaner.parseJudge($0.text) }
        }
    }
}

extension TuneCommand.Dataset {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Distil a training set from a knowledge base with a teacher model.",
            discussion: """
                Chunks are chosen so that every document is covered (at most --per-document each, evenly spread; \
                --limit caps the total, round-robin over documents). For each chunk the teacher writes questions in \
                the chosen styles (factual, howto, comparison across two chunks, colloquial, crosslingual, \
                unanswerable) and answers each from the chunk, citing it; unanswerable questions get the refusal \
                sentence as their target when the knowledge base indeed does not answer them. A cost estimate comes \
                first (--dry-run stops there); --max-cost stops starting chunks once reached. Each chunk is \
                checkpointed when done: after Ctrl-C, --resume continues, and calls already made are replayed from \
                the response cache (no call is paid twice). Then the examples are checked and cleaned, split by \
                document, and described (see `tune dataset clean`).
                """)
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "The knowledge base whose chunks the examples come from.") var kb: String
        @Option(help: "The teacher model (provider:model or local:NAME).") var teacher: String
        @Option(help: "The dataset's name.") var name: String
        @Option(help: "Use at most N chunks in all.") var limit: Int?
        @Option(help: "At most N chunks per document.") var perDocument = 8
        @Option(
            help: "Question styles: all, or a list of factual,howto,comparison,colloquial,crosslingual,unanswerable.")
        var styles = "all"
        @Option(help: "Teacher calls in flight (per provider).") var concurrency = 4
        @Option(help: "Stop starting chunks once this much was spent (in the price's currency; see config.yaml).")
        var maxCost: Double?
        @Flag(help: "Print the plan (chunks, calls, tokens, estimated cost) and stop before any call.") var dryRun =
            false
        @Flag(help: "Continue a dataset whose generation was interrupted.") var resume = false
        @Option(help: "Seed of the chunk order and the splits.") var seed: UInt64 = 17
        @Flag(help: "Neither read nor fill the response cache.") var noCache = false
        @OptionGroup var cleaning: CleaningArguments

        func run() async throws {
            if let limit, limit < 1 { throw WendaoError(.invalidArgument, "--limit must be at least 1") }
            guard perDocument >= 1 else { throw WendaoError(.invalidArgument, "--per-document must be at least 1") }
            guard concurrency >= 1 else { throw WendaoError(.invalidArgument, "--concurrency must be at least 1") }
            if let maxCost, maxCost < 0 { throw WendaoError(.invalidArgument, "--max-cost must not be negative") }
            try DatasetStore.validate(name)
            let styleList = try QuestionStyle.parseList(styles)
            let (cleaningOptions, ratios) = try cleaning.options()
            // Models resolved (keys found) before anything else.
            let setup = try ModelSetup(global: global)
            let teacherModel = try setup.resolve(teacher)
            let judgeModel = try cleaning.judge.map { try setup.resolve($0) }
            let app = setup.app()
            defer { app.close() }
            let store = DatasetStore(dataDirectory: app.dataDirectory)
            let base: KnowledgeBase
            do {
                base = try app.library().open(kb)
            } catch let e as WendaoError where e.code == .notFound {
                throw WendaoError(
                    .notFound, "\(e.message); create and ingest it first (wendao ingest --kb \(kb) --create FOLDER)")
            }
            let lock = try store.lock(name)
            defer { lock.unlock() }
            let existing = try? store.manifest(name)
            let selected: [SourceChunk]
            let manifest: DatasetManifest
            if let existing {
                guard resume else {
                    throw WendaoError(
                        .alreadyExists,
                        "dataset '\(name)' exists: --resume continues it, `wendao tune dataset delete \(name)` starts over"
                    )
                }
                guard existing.kb == base.name, existing.teacher == teacherModel.id else {
                    throw WendaoError(
                        .invalidArgument,
                        "dataset '\(name)' was made from knowledge base '\(existing.kb)' with teacher \(existing.teacher); "
                            + "resume it with those, or give another --name")
                }
                let texts = try store.chunks(name)
                selected = existing.selectedChunks.compactMap { texts[$0] }
                manifest = existing
            } else {
                let documents = try ChunkSelection.chunks(of: base)
                guard !documents.isEmpty else {
                    throw WendaoError(
                        .invalidArgument,
                        "knowledge base '\(base.name)' has no chunks to write questions from (ingest documents first: "
                            + "wendao ingest --kb \(base.name) FOLDER)")
                }
                selected = ChunkSelection.select(documents, perDocument: perDocument, limit: limit, seed: seed)
                manifest = DatasetManifest(
                    name: name, kb: base.name, teacher: teacherModel.id, promptVersion: TeacherPrompts.version,
                    styles: styleList, perDocument: perDocument, limit: limit, seed: seed,
                    selectedChunks: selected.map(\.id), documentCount: try base.documents().count,
                    createdAt: Date().formatted(.iso8601))
            }
            let done = Set(try store.checkpoints(name).map(\.chunk))
            var genOptions = GenerationOptions()
            genOptions.styles = manifest.styles
            genOptions.concurrency = concurrency
            genOptions.maxCost = maxCost
            let plan = DatasetGenerator.estimate(
                chunks: selected.filter { !done.contains($0.id) }, styles: manifest.styles, options: genOptions,
                price: teacherModel.price, isLocal: teacherModel.isLocal)
            if dryRun {
                if global.json { Output.json(plan) } else { Output.line(plan.line) }
                return
            }
            Output.err(plan.line)
            if let maxCost, teacherModel.price == nil, !teacherModel.isLocal {
                Output.err(
                    "warning: --max-cost \(maxCost) cannot count \(teacherModel.id)'s calls: no price in config.yaml "
                        + "(models: {\"\(teacherModel.id)\": {price: {input: …, output: …}}})")
            }
            if existing == nil {
                try store.writeChunks(name, selected)
                try store.write(manifest)
            }
            let cache = try ResponseCache(file: noCache ? nil : store.responseCache)
            let chat = try await app.chatModel(for: teacherModel)
            let binding = ModelBinding(
                model: CachingChatModel(base: chat, cache: cache), provider: teacherModel.provider,
                price: teacherModel.price)
            let access = KnowledgeAccess(base)
            let bar = ProgressLine(interactive: Output.stderrIsTTY, unit: "chunks")
            genOptions.progress = { p in bar.show(done: p.done, total: p.total, failed: p.failures) }
            let rawFile = try store.folder(name).appendingPathComponent("raw.jsonl")
            let outcome: GenerationOutcome
            do {
                outcome = try await DatasetGenerator.run(
                    chunks: selected, done: done, rawFile: rawFile, teacher: binding, options: genOptions
                ) { q in
                    ((try? await access.retrieve(q, topK: 8, mode: nil))?.extractive?.found) ?? false
                }
            } catch {
                bar.finish()
                if Task.isCancelled || error is CancellationError {
                    let kept = (try? store.checkpoints(name).count) ?? 0
                    Output.err(
                        "interrupted: \(kept) of \(selected.count) chunks are checkpointed in \(rawFile.path); run the same "
                            + "command with --resume to continue (calls already made are replayed from the cache)")
                }
                throw error
            }
            bar.finish()
            var judge: DatasetCleaner.Judge?
            if let judgeModel {
                let judgeChat = try await app.chatModel(for: judgeModel)
                judge = CleaningArguments.judge(
                    ModelBinding(
                        model: CachingChatModel(base: judgeChat, cache: cache), provider: judgeModel.provider,
                        price: judgeModel.price))
            }
            let stats = try await DatasetPipeline.finish(
                store: store, name: name, cleaning: cleaningOptions, ratios: ratios, judge: judge,
                judgeName: judgeModel?.id, concurrency: concurrency)
            let folder = try store.folder(name)
            if global.json {
                struct Body: Encodable {
                    var dataset: String
                    var folder: String
                    var generation: GenerationOutcome
                    var stats: DatasetStats
                }
                Output.json(Body(dataset: name, folder: folder.path, generation: outcome, stats: stats))
            } else {
                Output.line(stats.summary)
            }
            let failures = outcome.failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            var line =
                "generation: \(outcome.generated) chunks this run, \(outcome.resumed) resumed, \(outcome.examples) examples; "
                + "teacher calls: \(outcome.calls - outcome.cachedCalls) made, \(outcome.cachedCalls) from the cache"
            if let spent = outcome.spent {
                line += String(format: "; spent %.4f %@", spent, teacherModel.price?.currency ?? "")
            }
            if !failures.isEmpty { line += "; problems: " + failures.joined(separator: ", ") }
            Output.err(line + " · \(folder.path)")
            if let stopped = outcome.stopped {
                Output.err("stopped: \(stopped); --resume continues with a higher --max-cost")
            }
            if outcome.failedChunks > 0 {
                Output.err(
                    "\(outcome.failedChunks) chunks failed (a call failed; see the problems above): --resume retries them"
                )
                throw ExitCode(1)
            }
        }
    }

    struct Clean: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check and clean a dataset again, split it and write its statistics (no teacher call).",
            discussion: """
                In order: empty fields, answers echoing the question, length bounds, language match, refusals of \
                answerable questions, support by the chunk (lexical, or --judge), personal data masked (Chinese mobile \
                numbers, resident ID numbers with a valid check digit, Luhn bank cards, e-mails; a number labelled as \
                an order or waybill number is kept), near-duplicate questions (MinHash over character 5-grams), \
                contamination against --eval-set. Then train/validation/test by document, stratified by style. Each \
                step is counted in report.json and stats.html.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The dataset.") var name: String
        @Option(help: "Judge calls in flight.") var concurrency = 4
        @OptionGroup var cleaning: CleaningArguments

        func run() async throws {
            let (options, ratios) = try cleaning.options()
            var judge: DatasetCleaner.Judge?
            var judgeName: String?
            let app: AppEnvironment
            if let spec = cleaning.judge {
                let setup = try ModelSetup(global: global)
                let model = try setup.resolve(spec)
                app = setup.app()
                let chat = try await app.chatModel(for: model)
                let cache = try ResponseCache(file: DatasetStore(dataDirectory: app.dataDirectory).responseCache)
                judge = CleaningArguments.judge(
                    ModelBinding(
                        model: CachingChatModel(base: chat, cache: cache), provider: model.provider, price: model.price)
                )
                judgeName = model.id
            } else {
                app = global.app()
            }
            defer { app.close() }
            let store = DatasetStore(dataDirectory: app.dataDirectory)
            _ = try store.manifest(name)
            let lock = try store.lock(name)
            defer { lock.unlock() }
            let stats = try await DatasetPipeline.finish(
                store: store, name: name, cleaning: options, ratios: ratios, judge: judge, judgeName: judgeName,
                concurrency: concurrency)
            if global.json { Output.json(stats) } else { Output.line(stats.summary) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the datasets.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let store = DatasetStore(dataDirectory: global.app().dataDirectory)
            struct Row: Encodable {
                var name: String
                var kb: String
                var teacher: String
                var chunks: Int
                var kept: Int?
                var createdAt: String
                enum CodingKeys: String, CodingKey { case name, kb, teacher, chunks, kept, createdAt = "created_at" }
            }
            var rows: [Row] = []
            for n in store.names() {
                guard let m = try? store.manifest(n) else { continue }
                let kept = try? store.examples(n).filter { $0.status == "kept" }.count
                rows.append(
                    Row(
                        name: n, kb: m.kb, teacher: m.teacher, chunks: m.selectedChunks.count, kept: kept,
                        createdAt: m.createdAt))
            }
            if global.json {
                Output.json(["datasets": rows])
            } else if rows.isEmpty {
                Output.line("no datasets (wendao tune dataset create --kb K --teacher MODEL --name NAME)")
            } else {
                for r in rows {
                    Output.line(
                        "\(r.name)\tkb \(r.kb)\tteacher \(r.teacher)\t\(r.chunks) chunks\t\(r.kept.map { "\($0) kept" } ?? "not cleaned")"
                    )
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a dataset's statistics (stats.json).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The dataset.") var name: String

        func run() throws {
            let store = DatasetStore(dataDirectory: global.app().dataDirectory)
            let m = try store.manifest(name)
            let file = try store.folder(name).appendingPathComponent("stats.json")
            guard let data = try? Data(contentsOf: file),
                let stats = try? JSONDecoder().decode(DatasetStats.self, from: data)
            else {
                throw WendaoError(
                    .notFound, "dataset '\(name)' has no statistics yet (wendao tune dataset clean \(name))")
            }
            if global.json {
                Output.json(stats)
                return
            }
            Output.line(stats.summary)
            Output.line(
                "kb \(m.kb) · teacher \(m.teacher) · prompts \(m.promptVersion) · \(m.selectedChunks.count) chunks")
            for (style, splits) in stats.stylesBySplit.sorted(by: { $0.key < $1.key }) {
                Output.line(
                    "  \(style): " + DatasetSplitter.names.map { "\($0) \(splits[$0] ?? 0)" }.joined(separator: ", "))
            }
            Output.line(
                "  answer tokens: median \(stats.answerTokens.p50), p95 \(stats.answerTokens.p95), max \(stats.answerTokens.max)"
            )
            Output.line("  \(try store.folder(name).appendingPathComponent("stats.html").path)")
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a dataset in a trainer's format, checked by reading it back.",
            discussion: """
                --out is a folder: one file per split (train, validation, test), dataset_info.json for LLaMA-Factory \
                (alpaca, sharegpt, llamafactory), and test-eval.jsonl, the held-out test split as a test set for \
                `wendao eval run`. Every file is read back and checked by its consumer's rules before the command \
                succeeds.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The dataset.") var name: String
        @Option(help: "openai, alpaca, sharegpt, llamafactory, swift, dashscope or csv.") var format: String
        @Option(help: "The folder to write.") var out: String
        @Flag(help: "Put the source chunk in the user turn and keep the [n] citations (RAG-style training).")
        var withContext = false
        @Flag(help: "Put the teacher's reasoning before the answer as <think>…</think>.") var withReasoning = false
        @Option(help: "A system message for every example.") var system: String?
        @Option(help: "Longest example in tokens (estimated); longer ones are left out.") var maxTokens = 65_536

        func run() throws {
            guard let f = ExportFormat(rawValue: format.lowercased()) else {
                throw WendaoError(
                    .invalidArgument,
                    "unknown format '\(format)'; formats: \(ExportFormat.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            guard maxTokens >= 16 else { throw WendaoError(.invalidArgument, "--max-tokens must be at least 16") }
            let store = DatasetStore(dataDirectory: global.app().dataDirectory)
            _ = try store.manifest(name)
            var options = ExportOptions(format: f, name: name)
            options.withContext = withContext
            options.withReasoning = withReasoning
            options.system = system
            options.maxTokens = maxTokens
            let result = try DatasetExporter.export(
                try store.examples(name), chunks: try store.chunks(name), options: options,
                out: URL(fileURLWithPath: out))
            if global.json {
                Output.json(result)
            } else {
                for (file, n) in result.files.sorted(by: { $0.key < $1.key }) { Output.line("\(out)/\(file)\t\(n)") }
                for v in result.validated { Output.err("checked: \(v)") }
                if result.tooLong > 0 {
                    Output.err("left out: \(result.tooLong) examples longer than \(maxTokens) tokens")
                }
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a dataset (its folder).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The dataset.") var name: String

        func run() throws {
            let store = DatasetStore(dataDirectory: global.app().dataDirectory)
            try store.delete(name)
            if global.json { Output.json(["deleted": name]) } else { Output.line("deleted dataset \(name)") }
        }
    }
}

extension TuneCommand {
    /// `tune submit`: export, upload and start a fine-tuning job through the provider's fine-tuning API.
    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Upload a dataset and start a fine-tuning job on a provider (OpenAI-compatible /files + /fine_tuning/jobs, or DashScope's /api/v1/fine-tunes).",
            discussion: """
                The dataset is exported (openai format; dashscope's for DashScope) into \
                <data>/tune/datasets/NAME/exports/, checked, uploaded (train and validation files), and the job is \
                created; `tune status JOB` follows it and, once it succeeded, records the tuned model, a model name \
                ask, chat and eval run take at once; `tune compare JOB` then runs the base and the tuned model on \
                the held-out test split. A file the provider rejects is reported with the provider's message. \
                SiliconFlow has no fine-tuning API (its console does it): the command says so.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The base model, provider:model (openai:gpt-4o-mini-2024-07-18, dashscope:qwen-turbo, …).")
        var base: String
        @Option(help: "The dataset.") var dataset: String
        @Option(help: "A suffix for the tuned model's name.") var suffix: String?
        @Option(help: "Training epochs (default: the provider's).") var epochs: Int?

        func run() async throws {
            if let epochs, epochs < 1 { throw WendaoError(.invalidArgument, "--epochs must be at least 1") }
            let setup = try ModelSetup(global: global)
            let model = try setup.resolve(base)
            let app = setup.app()
            defer { app.close() }
            let api = try FineTuneProviders.api(for: model, gateway: try app.gateway())
            let store = DatasetStore(dataDirectory: app.dataDirectory)
            _ = try store.manifest(dataset)
            let format = api.exportFormat
            let out = try store.folder(dataset).appendingPathComponent("exports/\(format.rawValue)")
            _ = try DatasetExporter.export(
                try store.examples(dataset), chunks: try store.chunks(dataset),
                options: ExportOptions(format: format, name: dataset), out: out)
            func upload(_ name: String) async throws -> String? {
                let file = out.appendingPathComponent(name)
                guard let data = try? Data(contentsOf: file) else { return nil }
                let id = try await api.upload(filename: "\(dataset)-\(name)", data: data)
                Output.err("uploaded \(name): \(id)")
                return id
            }
            guard let training = try await upload("train.jsonl") else {
                throw WendaoError(.invalidArgument, "dataset '\(dataset)' has no training split to upload")
            }
            let validation = try await upload("validation.jsonl")
            let state = try await api.create(
                FineTuneRequest(
                    base: model.model, trainingFile: training, validationFile: validation, suffix: suffix,
                    epochs: epochs))
            var job = FineTuneJob(
                id: state.id, provider: model.provider, base: model.id, dataset: dataset, trainingFile: training,
                validationFile: validation)
            job.update(from: state)
            try FineTuneJobStore(store).save(job)
            if global.json { Output.json(job) } else { Output.line("\(job.id)\t\(job.status)\t\(job.base)") }
        }
    }

    /// The job named on the command line, its provider's fine-tuning API and the job store.
    static func job(_ global: GlobalOptions, _ id: String) throws -> (
        ModelSetup, AppEnvironment, any FineTuneAPI, FineTuneJob, FineTuneJobStore
    ) {
        let setup = try ModelSetup(global: global)
        let jobs = FineTuneJobStore(DatasetStore(dataDirectory: setup.dataDirectory))
        let job = try jobs.job(id)
        let model = try setup.resolve(job.base)
        let app = setup.app()
        do {
            return (setup, app, try FineTuneProviders.api(for: model, gateway: try app.gateway()), job, jobs)
        } catch {
            app.close()
            throw error
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask the provider how a fine-tuning job is doing; a succeeded job's model is recorded.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The job id.") var id: String

        func run() async throws {
            let (_, app, api, found, jobs) = try TuneCommand.job(global, id)
            defer { app.close() }
            var job = found
            job.update(from: try await api.status(job.id))
            try jobs.save(job)
            if global.json {
                Output.json(job)
                return
            }
            var line = "\(job.id)\t\(job.status)\t\(job.base) · dataset \(job.dataset)"
            if let m = job.model {
                line += "\n  tuned model: \(m) (wendao ask --model \(m) …; wendao tune compare \(job.id))"
                if job.provider == "dashscope" {
                    line += "\n  DashScope serves a tuned model once it is deployed (console, or its deployments API)"
                }
            }
            if let e = job.error { line += "\n  failed: \(e)" }
            Output.line(line)
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a fine-tuning job's events (DashScope: its log lines).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The job id.") var id: String

        func run() async throws {
            let (_, app, api, job, _) = try TuneCommand.job(global, id)
            defer { app.close() }
            let list = try await api.events(job.id)
            if global.json {
                Output.json(["events": list])
            } else {
                for e in list {
                    let when =
                        e.createdAt > 0 ? Date(timeIntervalSince1970: Double(e.createdAt)).formatted(.iso8601) : "-"
                    Output.line("\(when)\t\(e.level)\t\(e.message)")
                }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a fine-tuning job.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The job id.") var id: String

        func run() async throws {
            let (_, app, api, found, jobs) = try TuneCommand.job(global, id)
            defer { app.close() }
            var job = found
            job.update(from: try await api.cancel(job.id))
            try jobs.save(job)
            if global.json { Output.json(job) } else { Output.line("\(job.id)\t\(job.status)") }
        }
    }

    /// `tune compare JOB`: the base and the tuned model answer the dataset's held-out test split, through
    /// `eval run` (the evaluation workbench: the same metrics, cache, report and HTML).
    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare a succeeded job's tuned model with its base model on the dataset's held-out test split.",
            discussion: """
                Exports the dataset's test split as a test set (test-eval.jsonl), writes an evaluation suite with \
                two variants — base and tuned, each answering from the knowledge base the dataset was made from \
                (or --kb) — into <data>/tune/datasets/NAME/compare/JOB/, and runs it with `wendao eval run`: the \
                report prints both models' accuracy, F1, citation, refusal, latency and cost figures with paired \
                bootstrap intervals. --closed-book asks both without retrieval context instead.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The job id (tune jobs lists them).") var id: String
        @Option(name: .long, help: "The knowledge base to answer from (default: the dataset's).") var kb: String?
        @Option(help: "Only the first N test questions.") var limit: Int?
        @Option(help: "Calls in flight per provider.") var concurrency: Int?
        @Option(help: "Also write the report as one self-contained HTML file.") var html: String?

        func run() async throws {
            if let limit, limit < 1 { throw WendaoError(.invalidArgument, "--limit must be at least 1") }
            let store = DatasetStore(dataDirectory: global.app().dataDirectory)
            let job = try FineTuneJobStore(store).job(id)
            guard job.status == "succeeded", let tuned = job.model else {
                throw WendaoError(
                    .invalidArgument,
                    "job \(job.id) has no tuned model yet (it is \(job.status)); wendao tune status \(job.id) asks again"
                )
            }
            let manifest = try store.manifest(job.dataset)
            let folder = try store.folder(job.dataset).appendingPathComponent("compare")
                .appendingPathComponent(TuneCommand.fileSafe(job.id))
            let export = try DatasetExporter.export(
                try store.examples(job.dataset), chunks: try store.chunks(job.dataset),
                options: ExportOptions(format: .openai, name: job.dataset), out: folder.appendingPathComponent("export")
            )
            guard (export.files["test-eval.jsonl"] ?? 0) > 0 else {
                throw WendaoError(
                    .invalidArgument,
                    "dataset '\(job.dataset)' has no test split to compare on (tune dataset clean with --split 0.8,0.1,0.1)"
                )
            }
            let suite = folder.appendingPathComponent("suite.yaml")
            let yaml = TuneCommand.compareSuite(
                name: "tune-compare-\(job.id)", kb: kb ?? manifest.kb, tests: "export/test-eval.jsonl", base: job.base,
                tuned: tuned)
            try store.writeFile(suite, Data(yaml.utf8))
            Output.err(
                "comparing \(job.base) (base) with \(tuned) (tuned) on \(export.files["test-eval.jsonl"] ?? 0) held-out "
                    + "questions · suite \(suite.path)")
            var args = [suite.path, "--results", folder.appendingPathComponent("results.jsonl").path]
            if let data = global.data { args += ["--data", data] }
            if let database = global.database { args += ["--database", database] }
            if let vectorSearch = global.vectorSearch { args += ["--vector-search", vectorSearch] }
            if global.json { args.append("--json") }
            if let limit { args += ["--limit", String(limit)] }
            if let concurrency { args += ["--concurrency", String(concurrency)] }
            if let html { args += ["--html", html] }
            let run = try EvalCommand.Run.parse(args)
            try await run.run()
        }
    }

    /// The evaluation suite of `tune compare`: the base model, then the tuned one (the reference of the
    /// comparisons is the first).
    static func compareSuite(name: String, kb: String, tests: String, base: String, tuned: String) -> String {
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return """
            name: \(quoted(name))
            kb: \(quoted(kb))
            tests: \(quoted(tests))
            variants:
              - { name: base, model: \(quoted(base)) }
              - { name: tuned, model: \(quoted(tuned)) }

            """
    }

    /// `id` as a file name (letters, digits, `-`, `_`, `.`; anything else `_`).
    static func fileSafe(_ id: String) -> String {
        let s = String(id.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }.prefix(80))
        return s.isEmpty || s.hasPrefix(".") ? "job" + s : s
    }

    struct Jobs: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the fine-tuning jobs submitted from here.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let jobs = FineTuneJobStore(DatasetStore(dataDirectory: global.app().dataDirectory)).all()
            if global.json {
                Output.json(["jobs": jobs])
            } else {
                for j in jobs {
                    Output.line("\(j.id)\t\(j.status)\t\(j.base)\t\(j.dataset)" + (j.model.map { "\t\($0)" } ?? ""))
                }
            }
        }
    }
}

extension TuneCommand.Dataset {
    struct Review: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve, reject or edit an example; every review is kept as a version (reviews.jsonl).",
            discussion: """
                A person's decision overrides the checks: a rejected example is never exported, an approved or \
                edited one is kept. Edits have control characters removed and personal data masked; the latest \
                review of each example is applied again after `tune dataset clean`. Without a decision, prints the \
                example with its source chunk and its review history.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The dataset.") var name: String
        @Argument(help: "The example's id (c42-factual).") var id: String
        @Flag(help: "Approve it.") var approve = false
        @Flag(help: "Reject it.") var reject = false
        @Option(help: "The edited question.") var question: String?
        @Option(help: "The edited answer.") var answer: String?
        @Option(help: "A note (why it was rejected or edited).") var note: String?

        func run() throws {
            let store = DatasetStore(dataDirectory: global.app().dataDirectory)
            _ = try store.manifest(name)
            let decisions = [approve, reject, question != nil || answer != nil].filter { $0 }.count
            guard decisions <= 1 else {
                throw WendaoError(.invalidArgument, "give one of --approve, --reject, or --question/--answer")
            }
            if decisions == 0 {
                guard let e = try store.examples(name).first(where: { $0.id == id }) else {
                    throw WendaoError(.notFound, "no example '\(id.prefix(80))' in dataset '\(name)'")
                }
                let history = try DatasetReview.reviews(store, name).filter { $0.example == id }
                if global.json {
                    struct Body: Encodable {
                        var example: TuneExample
                        var chunks: [SourceChunk]
                        var reviews: [ExampleReview]
                    }
                    let chunks = try store.chunks(name)
                    Output.json(Body(example: e, chunks: e.chunks.compactMap { chunks[$0] }, reviews: history))
                    return
                }
                Output.line(
                    "\(e.id) · \(e.style.rawValue) · \(e.status ?? "") \(e.dropReason ?? "") · \(e.split ?? "")")
                Output.line("Q: \(e.question)\nA: \(e.answer)")
                let chunks = try store.chunks(name)
                for c in e.chunks.compactMap({ chunks[$0] }) {
                    Output.line("source \(c.document) › \(c.section):\n\(c.text)")
                }
                for r in history {
                    Output.line("v\(r.version) \(r.decision) \(r.at)" + (r.note.map { ": \($0)" } ?? ""))
                }
                return
            }
            let lock = try store.lock(name)
            defer { lock.unlock() }
            let e = try DatasetReview.review(
                store, name, id: id, decision: approve ? "approve" : reject ? "reject" : "edit", question: question,
                answer: answer, note: note)
            if global.json { Output.json(e) } else { Output.line("\(e.id) v\(e.version) \(e.review ?? "")") }
        }
    }
}
