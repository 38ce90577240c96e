import ArgumentParser
import Foundation
import WendaoCore
import WendaoEval
import WendaoLoaders
import WendaoRAG

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Measure retrieval and answer quality on standard data sets.",
        subcommands: [Squad.self, Beir.self, Answers.self])

    struct Tuning: ParsableArguments {
        @Option(help: "Chunk size in characters.") var chunkSize = KnowledgeBaseSettings.default.chunkSize
        @Option(help: "Chunk overlap in characters.") var chunkOverlap = KnowledgeBaseSettings.default.chunkOverlap
        @Option(help: "BM25 k1.") var k1 = KnowledgeBaseSettings.default.k1
        @Option(help: "BM25 b.") var b = KnowledgeBaseSettings.default.b
        @Option(help: "CJK terms: unigram+bigram, bigram or unigram.") var cjkMode = KnowledgeBaseSettings.default
            .cjkMode

        var settings: KnowledgeBaseSettings {
            KnowledgeBaseSettings(chunkSize: chunkSize, chunkOverlap: chunkOverlap, k1: k1, b: b, cjkMode: cjkMode)
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
        @OptionGroup var tuning: Tuning

        func run() throws {
            let dir = try scratch()
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try SQuADEvaluator.run(
                file: URL(fileURLWithPath: file), budgetChars: budgetChars, topK: topK,
                settings: try tuning.settings.validated(),
                workDirectory: dir)
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
            let r = try BEIREvaluator.run(
                directory: URL(fileURLWithPath: directory), settings: try tuning.settings.validated(),
                workDirectory: dir)
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

    struct Answers: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "answers",
            abstract: "Answer quality of a knowledge base on a question file (the sample eval.jsonl format).")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long) var kb: String
        @Argument(help: "Questions (JSONL: question, answers, documents, answerable).") var file: String

        func run() throws {
            let r = try AnswerEvaluator.run(kb: try global.library().open(kb), file: URL(fileURLWithPath: file))
            if global.json {
                Output.json(r)
            } else {
                Output.line(
                    String(
                        format:
                            "%d questions (%d answerable, %d not): answer_hit %.3f · citation_hit %.3f · cited_document %.3f · false not-found %.3f · not-found recall %.3f",
                        r.questions, r.answerable, r.unanswerable, r.answerHit, r.citationHit, r.citedDocumentHit,
                        r.falseNotFound, r.notFoundRecall))
                for m in r.misses { Output.line("  \(m.id) \(m.problem): \(m.question)") }
            }
        }
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Speed benchmarks (print JSON; compare with the peers in the same run).",
        subcommands: [BM25.self, Loaders.self])

    struct Loaders: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "loaders",
            abstract: "Time parsing one file (PDF, Office, EPUB, image, text): MB/s, pages, blocks.",
            discussion: "Parse only (no chunking or indexing); the best of --repeats runs is kept.")
        @Option(help: "The file to parse.") var file: String
        @Option(help: "Runs; the best is kept.") var repeats = 3
        @Option(name: .customLong("ocr-lang"), help: "Tesseract languages joined by '+'.") var ocrLanguages =
            "chi_sim+eng"
        @Option(help: "OCR processes at once (default: the number of cores).") var ocrParallelism: Int?

        func run() throws {
            let url = URL(fileURLWithPath: file)
            var limits = LoaderLimits()
            limits.ocrLanguages = ocrLanguages.split(separator: "+").map(String.init)
            if let ocrParallelism { limits.ocrParallelism = max(1, ocrParallelism) }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            var best = Double.infinity
            var doc: LoadedDocument?
            for _ in 0..<max(1, repeats) {
                let t0 = ContinuousClock.now
                doc = try DocumentLoader.load(fileURL: url, identity: url.lastPathComponent, limits: limits)
                best = min(best, (ContinuousClock.now - t0).seconds)
            }
            guard let doc else { return }
            struct Out: Encodable {
                var file: String
                var format: String
                var bytes: Int
                var seconds: Double
                var megabytes_per_second: Double
                var pages: Int
                var pages_per_minute: Double
                var blocks: Int
                var characters: Int
                var warnings: [String]
            }
            let pages = Set(doc.blocks.compactMap(\.page)).count
            Output.json(
                Out(
                    file: url.lastPathComponent, format: doc.format.rawValue, bytes: bytes, seconds: best,
                    megabytes_per_second: Double(bytes) / 1_048_576 / max(best, 1e-9), pages: pages,
                    pages_per_minute: Double(pages) / max(best, 1e-9) * 60, blocks: doc.blocks.count,
                    characters: doc.blocks.reduce(0) { $0 + $1.text.unicodeScalars.count }, warnings: Array(doc.warnings.prefix(5))))
        }
    }

    struct BM25: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bm25", abstract: "Index a corpus (one document a line) and time single queries.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Corpus file, one document a line.") var corpus: String
        @Option(help: "Query file, one query a line.") var queries: String
        @Option(help: "Results per query.") var topK = 10
        @Option(help: "Query passes; the best is kept.") var repeats = 3

        func run() throws {
            let dir = FileManager.default.temporaryDirectory
            let r = try BM25Bench.run(
                corpus: URL(fileURLWithPath: corpus), queries: URL(fileURLWithPath: queries), topK: topK,
                workDirectory: dir,
                repeats: repeats)
            Output.json(r)
        }
    }
}
