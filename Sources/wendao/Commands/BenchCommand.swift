import ArgumentParser
import Foundation
import WendaoBench
import WendaoApp
import WendaoCore
import WendaoEmbed
import WendaoIndex
import WendaoLLM
import WendaoLoaders
import WendaoOCR
import WendaoRAG

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Speed benchmarks (print JSON; compare with the peers in the same run).",
        subcommands: [
            BM25.self, Loaders.self, Embed.self, Vectors.self, Pgvector.self, LLM.self, OCR.self, Tune.self,
        ])

    struct Embed: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "embed",
            abstract: "Sentences/s of a local embedding model at a batch size, and batch-1 latency.",
            discussion: """
                Texts are sorted by length and batched (as sentence-transformers does); tokenisation is \
                included. After one warm-up pass, the best of --repeats passes is kept: the highest \
                sentences/s and, for batch 1 (every text on its own, in file order), the lowest p50 and \
                p90 — the method of ../shared/bench/peer_encoder_ort.py. Texts longer than --max-len are \
                truncated (one window), as the peers do, unless --windows allows more.
                """)
        @Option(help: "e5-small, minilm or path:/model.") var embedder: String
        @Option(help: "Text file, one text a line.") var texts: String
        @Option(help: "Texts per forward pass.") var batch = 32
        @Option(help: "Token limit per text (per window).") var maxLen = 128
        @Option(help: "Windows a longer text may be embedded as (1 = truncate).") var windows = 1
        @Option(help: "Kernel threads (default: all cores).") var threads: Int?
        @Option(help: "Passes; the best is kept.") var repeats = 3
        @OptionGroup var global: GlobalOptions

        func run() throws {
            var env = ProcessInfo.processInfo.environment
            if let threads { env["WENDAO_EMBED_THREADS"] = String(threads) }
            let encoder = try LocalEmbedders.load(embedder, environment: env)
            let lines = try String(contentsOfFile: texts, encoding: .utf8).split(separator: "\n").map(String.init)
                .filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw WendaoError(.invalidArgument, "\(texts) has no lines") }
            Output.json(
                try EmbedBench.run(
                    encoder: encoder, lines: lines, batch: batch, maxLength: maxLen, windows: windows,
                    repeats: repeats))
        }
    }

    struct LLM: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "llm",
            abstract: "Prompt and generation tokens/s of a local language model (as llama-bench's pp and tg).",
            discussion: """
                Processes --prompt-tokens tokens in one pass over an empty cache, then generates --gen-tokens \
                tokens one at a time; one warm-up run, then the best of --repeats. Compare with \
                `llama-bench -m FILE -t THREADS -p 64 -n 32 -o json` in the same minutes.
                """)
        @Option(help: "local:NAME, a pulled model's name, or a .gguf file.") var model: String
        @Option(help: "Prompt tokens (pp).") var promptTokens = 64
        @Option(help: "Generated tokens (tg).") var genTokens = 32
        @Option(help: "Kernel threads (default: all cores).") var threads: Int?
        @Option(help: "Context the cache is allocated for.") var context = 512
        @Option(help: "Runs; the best is kept.") var repeats = 3
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let path = try LocalModelLocator.path(model)
            let m = try LanguageModel(path: path, contextLength: context, threads: threads)
            Output.json(try LLMBench.run(model: m, promptTokens: promptTokens, generatedTokens: genTokens, repeats: repeats))
        }
    }

    struct Vectors: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vectors",
            abstract: "Vector index speed on synthetic clustered vectors: build, queries/s, recall@10 against exact.")
        @Option(help: "Vectors.") var count = 100_000
        @Option(help: "Dimension.") var dim = 384
        @Flag(help: "Also measure the int8 scan with float rescoring.") var int8 = false
        @Flag(help: "Also build and measure HNSW.") var hnsw = false
        @Option(help: "Queries.") var queries = 200
        @Option(help: "Random seed.") var seed: UInt64 = 42
        @OptionGroup var global: GlobalOptions

        func run() throws {
            guard count > 0, dim > 0, queries > 0 else {
                throw WendaoError(.invalidArgument, "--count, --dim and --queries must be positive")
            }
            Output.json(
                VectorBench.run(count: count, dimension: dim, int8: int8, hnsw: hnsw, queries: queries, seed: seed))
        }
    }

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
        @Option(help: "OCR engine: auto, ppocr or tesseract.") var ocrEngine: OCREngineChoice = .auto

        func run() throws {
            let url = URL(fileURLWithPath: file)
            var limits = LoaderLimits()
            limits.ocrEngine = ocrEngine
            limits.ocrLanguages = ocrLanguages.split(separator: "+").map(String.init)
            if let ocrParallelism { limits.ocrParallelism = max(1, ocrParallelism) }
            guard let report = try LoaderBench.run(file: url, repeats: repeats, limits: limits) else { return }
            Output.json(report)
        }
    }

    struct OCR: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ocr",
            abstract: "Read an OCR dev set with the native PP-OCR engine or Tesseract: bigram recall/precision, order, pages/min.",
            discussion: """
                The dev set is a folder with manifest.jsonl lines {"image": …, "text": …, "set": …}; \
                scripts/ocr-devset.py makes one, scripts/ocr-peer-bench.py scores RapidOCR on it the same way.
                """)
        @Option(help: "The dev set's manifest.jsonl.") var manifest: String
        @Option(help: "ppocr (native) or tesseract.") var engine = "ppocr"
        @Option(help: "Threads for the networks.") var threads = ProcessInfo.processInfo.activeProcessorCount
        @Option(name: .customLong("ocr-lang"), help: "Tesseract languages joined by '+'.") var ocrLanguages =
            "chi_sim+eng"

        func run() throws {
            let r = try OCRBench.run(
                manifest: URL(fileURLWithPath: manifest), engine: engine, models: PPOCRModels.directory(),
                threads: max(1, threads), languages: ocrLanguages.split(separator: "+").map(String.init))
            Output.json(r)
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
