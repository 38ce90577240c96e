import ArgumentParser
import Foundation
import WendaoCore
import WendaoEmbed
import WendaoEval
import WendaoIndex
import WendaoLoaders
import WendaoRAG

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Speed benchmarks (print JSON; compare with the peers in the same run).",
        subcommands: [BM25.self, Loaders.self, Embed.self, Vectors.self])

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
            let encoder = try Embedders.open(embedder, environment: env)
            let lines = try String(contentsOfFile: texts, encoding: .utf8).split(separator: "\n").map(String.init)
                .filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw WendaoError(.invalidArgument, "\(texts) has no lines") }
            func embed(_ texts: [String], batch: Int) throws {
                _ = try encoder.embed(texts, kind: .passage, batchSize: batch, maxLength: maxLen, maxWindows: windows)
            }
            try embed(Array(lines.prefix(2 * batch)), batch: batch)  // warm-up
            for text in lines.prefix(8) { try embed([text], batch: 1) }
            var best = Double.infinity
            var p50 = Double.infinity, p90 = Double.infinity
            for _ in 0..<max(1, repeats) {
                let t0 = ContinuousClock.now
                try embed(lines, batch: batch)
                best = min(best, (ContinuousClock.now - t0).seconds)
                var single: [Double] = []
                for text in lines {
                    let t0 = ContinuousClock.now
                    try embed([text], batch: 1)
                    single.append((ContinuousClock.now - t0).seconds * 1000)
                }
                single.sort()
                p50 = min(p50, single[single.count / 2])
                p90 = min(p90, single[min(single.count - 1, single.count * 9 / 10)])
            }
            struct Out: Encodable {
                var embedder: String
                var sentences_per_second: Double
                var batch1_p50_ms: Double
                var batch1_p90_ms: Double
                var threads: Int
                var batch: Int
                var max_len: Int
                var windows: Int
                var texts: Int
            }
            Output.json(
                Out(
                    embedder: encoder.model.id, sentences_per_second: Double(lines.count) / best,
                    batch1_p50_ms: p50, batch1_p90_ms: p90, threads: encoder.threads, batch: batch, max_len: maxLen,
                    windows: windows, texts: lines.count))
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
                    characters: doc.blocks.reduce(0) { $0 + $1.text.unicodeScalars.count },
                    warnings: Array(doc.warnings.prefix(5))))
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
