import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoEmbed
import WendaoEval
import WendaoIndex
import WendaoLoaders
import WendaoModels
import WendaoRAG

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Measure retrieval and answer quality on standard data sets.",
        subcommands: [Squad.self, Beir.self, Answers.self, Run.self, Generate.self, ExportRatings.self])

    struct Tuning: ParsableArguments {
        @Option(help: "Chunk size in units: a Chinese character or a digit counts 1, any other character 0.4.")
        var chunkSize = KnowledgeBaseSettings.default.chunkSize
        @Option(help: "Chunk overlap in the same units.") var chunkOverlap = KnowledgeBaseSettings.default.chunkOverlap
        @Option(help: "BM25 k1.") var k1 = KnowledgeBaseSettings.default.k1
        @Option(help: "BM25 b.") var b = KnowledgeBaseSettings.default.b
        @Option(help: "CJK terms: unigram+bigram, bigram or unigram.") var cjkMode = KnowledgeBaseSettings.default
            .cjkMode
        @Option(help: "Retrieval mode: bm25, dense or hybrid (dense and hybrid need --embedder).")
        var mode = RetrievalMode.bm25
        @Option(
            help:
                "Embedding model for dense/hybrid: e5-small, minilm, path:/model or provider:model (dashscope:text-embedding-v3)."
        )
        var embedder: String?
        @Option(help: "Hybrid fusion: weighted (default) or rrf.") var fusion: FusionMethod?

        var settings: KnowledgeBaseSettings {
            get throws {
                let m = mode
                if m != .bm25, embedder == nil {
                    throw WendaoError(.invalidArgument, "--mode \(mode.rawValue) needs --embedder (e.g. e5-small)")
                }
                var s = KnowledgeBaseSettings(
                    chunkSize: chunkSize, chunkOverlap: chunkOverlap, k1: k1, b: b, cjkMode: cjkMode)
                s.embedder = embedder
                s.retrievalMode = m
                s.fusion = fusion
                return s
            }
        }
    }

    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wendao-eval-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        return dir
    }

    struct Squad: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retrieval on a SQuAD v1.1-format file (one document per article).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "SQuAD JSON file.") var file: String
        @Option(help: "Context budget in characters.") var budgetChars = 600
        @Option(help: "Results retrieved before packing.") var topK = 20
        @Option(help: "Write one JSON line per question (rank and context hit in every mode) to this file.")
        var details: String?
        @OptionGroup var tuning: Tuning

        func run() throws {
            let dir = try scratch()
            defer { try? FileManager.default.removeItem(at: dir) }
            let app = global.app()
            defer { app.close() }
            let r = try SQuADEvaluator.run(
                file: URL(fileURLWithPath: file), budgetChars: budgetChars, topK: topK,
                settings: try tuning.settings.validated(),
                workDirectory: dir, embedders: app.embedders, details: details.map { URL(fileURLWithPath: $0) })
            if global.json {
                Output.json(r)
            } else {
                Output.line(
                    String(
                        format:
                            "%d questions, %d chunks: context_hit %.4f @%d chars · hit@1 %.4f · hit@5 %.4f · mrr@10 %.4f · index %.2fs · %.0f q/s",
                        r.questions, r.chunks, r.contextHit, r.budgetChars, r.hitAt1, r.hitAt5, r.mrrAt10,
                        r.indexSeconds,
                        r.queriesPerSecond))
            }
        }
    }

    struct Beir: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retrieval on a BEIR directory (corpus.jsonl, queries.jsonl, qrels/test.tsv).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "BEIR directory.") var directory: String
        @OptionGroup var tuning: Tuning

        func run() throws {
            let dir = try scratch()
            defer { try? FileManager.default.removeItem(at: dir) }
            let app = global.app()
            defer { app.close() }
            let r = try BEIREvaluator.run(
                directory: URL(fileURLWithPath: directory), settings: try tuning.settings.validated(),
                workDirectory: dir, embedders: app.embedders)
            if global.json {
                Output.json(r)
            } else {
                Output.line(
                    String(
                        format:
                            "%d queries: ndcg@10 %.4f · recall@10 %.4f · recall@100 %.4f · mrr@10 %.4f · index %.2fs · %.0f q/s",
                        r.queries, r.ndcgAt10, r.recallAt10, r.recallAt100, r.mrrAt10, r.indexSeconds,
                        r.queriesPerSecond))
            }
        }
    }

    struct Answers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "answers",
            abstract: "Answer quality of a knowledge base on a question file (the sample eval.jsonl format).")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "The knowledge base to answer from (ingest the sample into it first).") var kb:
            String
        @Argument(help: "Questions (JSONL: question, answers, documents, answerable).") var file: String
        @Option(help: "Retrieval: bm25, dense or hybrid (default: the knowledge base's mode).") var mode: RetrievalMode?
        @Option(
            help:
                "Write one JSON line per question to this file: the answer, its sources, the top retrieved chunks and which gold strings were found where."
        )
        var details: String?
        @Option(
            name: .long,
            help:
                "Model that writes the answers (provider:model or local:NAME), through the grounded-answer pipeline; default: extractive."
        )
        var model: String?
        @Option(
            name: .long,
            help: "With --model: check its answers against their sources (auto: small models; on; off), as ask does.")
        var answerGuard = AnswerGuardMode.auto

        func run() async throws {
            let retrieval = mode
            var resolved: ResolvedModel?
            let app: AppEnvironment
            if let model {
                guard retrieval == nil else {
                    throw WendaoError(
                        .invalidArgument,
                        "--mode applies to extractive answers; with --model the knowledge base's mode is used")
                }
                let setup = try ModelSetup(global: global)
                resolved = try setup.resolve(model)
                app = setup.app()
            } else {
                app = global.app()
            }
            defer { app.close() }
            let base = try app.library().open(kb)
            let detailsURL = details.map { URL(fileURLWithPath: $0) }
            let r: AnswerReport
            var guardOptions = GroundedAnswerer.Options()
            guardOptions.answerGuard = answerGuard
            if let resolved {
                r = try await AnswerEvaluator.run(
                    kb: base, file: URL(fileURLWithPath: file), details: detailsURL,
                    model: try await app.chatModel(for: resolved),
                    templates: try PromptTemplates.load(dataDirectory: app.dataDirectory, kb: base.name),
                    options: guardOptions)
            } else {
                r = try AnswerEvaluator.run(
                    kb: base, file: URL(fileURLWithPath: file), mode: retrieval, details: detailsURL)
            }
            if global.json {
                Output.json(r)
            } else {
                Output.line(
                    String(
                        format:
                            "%d questions (%d answerable, %d not): answer_hit %.3f · citation_hit %.3f · cited_document %.3f · retrieval_hit@8 %.3f · false not-found %.3f · not-found recall %.3f",
                        r.questions, r.answerable, r.unanswerable, r.answerHit, r.citationHit, r.citedDocumentHit,
                        r.retrievalHit,
                        r.falseNotFound, r.notFoundRecall) + " (\(r.mode)\(r.model.map { ", \($0)" } ?? ""))")
                Output.line(
                    String(
                        format: "latency p50: ask %.2f ms · answer step %.3f ms", r.askP50Milliseconds,
                        r.answerP50Milliseconds))
                if let usage = r.usage {
                    Output.line(
                        "model tokens: \(usage.promptTokens) prompt + \(usage.completionTokens) completion"
                            + (usage.estimated ? " (estimated)" : ""))
                }
                if r.categories.count > 1 {
                    for (name, c) in r.categories.sorted(by: { $0.key < $1.key }) {
                        var line = "  \(name): \(c.questions) questions"
                        if c.answerable > 0 {
                            line +=
                                ", answered \(c.answerHits)/\(c.answerable) (retrieved \(c.retrievalHits)), not found \(c.falseNotFound)"
                        }
                        if c.unanswerable > 0 {
                            line += ", unanswerable said not found \(c.notFound)/\(c.unanswerable)"
                        }
                        Output.line(line)
                    }
                }
                for m in r.misses { Output.line("  \(m.id) \(m.problem): \(m.question)") }
            }
        }
    }
}
