import ArgumentParser
import Foundation
import WendaoApp
import WendaoBench
import WendaoCore
@_spi(Bench) import WendaoIndex
import WendaoPostgres

extension BenchCommand {
    /// pgvector's HNSW index inside PostgreSQL against Wendao's own vector index, on the same
    /// synthetic clustered vectors (``VectorBench/syntheticVectors(count:dimension:seed:stream:)``),
    /// with the exact top 10 (a brute-force float32 scan) as the truth.
    struct Pgvector: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pgvector",
            abstract: "pgvector HNSW (in --database) against Wendao's vector index: recall@10 and queries/s.",
            discussion: """
                Writes COUNT synthetic clustered vectors (the same as `wendao bench vectors`) into a \
                knowledge base of the database as Wendao stores them (chunk_vector), builds the index \
                `--vector-search pgvector` uses, and searches it through the same code, one query at a \
                time, for each ef_search; Wendao's HNSW index is built over the same vectors and swept \
                over the same values. The knowledge base is deleted afterwards (unless --keep).
                """)
        @Option(help: "Vectors.") var count = 100_000
        @Option(help: "Dimension.") var dim = 384
        @Option(help: "Queries.") var queries = 200
        @Option(help: "ef_search values to sweep, comma-separated.") var ef = "40,100,200"
        @Option(help: "Random seed.") var seed: UInt64 = 42
        @Flag(help: "Keep the benchmark's knowledge base (to measure its size); by default it is deleted.") var keep =
            false
        @OptionGroup var global: GlobalOptions

        struct SweepPoint: Encodable {
            var efSearch: Int
            var queriesPerSecond: Double
            var recallAt10: Double
            enum CodingKeys: String, CodingKey {
                case efSearch = "ef_search", queriesPerSecond = "queries_per_second", recallAt10 = "recall_at_10"
            }
        }

        struct Result: Encodable {
            var count: Int
            var dimension: Int
            var queries: Int
            var seed: UInt64
            var data: String
            var truth: String
            var wendao: Wendao
            var pgvector: PG

            struct Wendao: Encodable {
                var index: String
                var exactQueriesPerSecond: Double
                var hnswBuildSeconds: Double
                var sweep: [SweepPoint]
                enum CodingKeys: String, CodingKey {
                    case index, sweep
                    case exactQueriesPerSecond = "exact_queries_per_second"
                    case hnswBuildSeconds = "hnsw_build_seconds"
                }
            }

            struct PG: Encodable {
                var index: String
                var database: String
                var chunksWriteSeconds: Double
                var vectorsWriteSeconds: Double
                var indexBuildSeconds: Double
                var sweep: [SweepPoint]
                enum CodingKeys: String, CodingKey {
                    case index, database, sweep
                    case chunksWriteSeconds = "chunks_write_seconds"
                    case vectorsWriteSeconds = "vectors_write_seconds"
                    case indexBuildSeconds = "index_build_seconds"
                }
            }
        }

        func run() throws {
            guard count > 0, dim > 0, queries > 0 else {
                throw WendaoError(.invalidArgument, "--count, --dim and --queries must be positive")
            }
            let efs = try ef.split(separator: ",").map { part -> Int in
                guard let v = Int(part.trimmingCharacters(in: .whitespaces)), (1...1000).contains(v) else {
                    throw WendaoError(.invalidArgument, "--ef: '\(part)' is not a whole number 1…1000")
                }
                return v
            }
            guard !efs.isEmpty else { throw WendaoError(.invalidArgument, "--ef names no value") }
            let app = global.app()
            defer { app.close() }
            guard let url = app.databaseURL else {
                throw WendaoError(.invalidArgument, "bench pgvector needs a database: --database postgres://…")
            }
            let n = count
            let d = dim
            let data = VectorBench.syntheticVectors(count: n, dimension: d, seed: seed, stream: 0)
            let queryData = VectorBench.syntheticVectors(count: queries, dimension: d, seed: seed, stream: 1)
            let queryVectors = (0..<queries).map { Array(queryData[$0 * d..<($0 + 1) * d]) }
            func clock() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

            // Wendao: the exact scan (the truth) and the HNSW graph over the same rows.
            let exact = try VectorIndex(
                embedder: "bench", dimension: d, configuration: .init(kind: .exact, int8: false, seed: seed))
            let graph = try VectorIndex(
                embedder: "bench", dimension: d, configuration: .init(kind: .hnsw, int8: false, seed: seed))
            for r in 0..<n {
                try exact.add(id: Int64(r), vector: Array(data[r * d..<(r + 1) * d]))
            }
            var start = clock()
            var truth: [[Int64]] = []
            for q in queryVectors { truth.append(try exact.search(q, k: 10, method: .exactFloat).map(\.id)) }
            let exactQPS = Double(queries) / (clock() - start)
            start = clock()
            for r in 0..<n { try graph.add(id: Int64(r), vector: Array(data[r * d..<(r + 1) * d])) }
            graph.updateGraph()
            let graphBuild = clock() - start
            var wendaoSweep: [SweepPoint] = []
            for e in efs {
                graph.efSearch = e
                start = clock()
                var found: [[Int64]] = []
                for q in queryVectors { found.append(try graph.search(q, k: 10, method: .graph).map(\.id)) }
                let qps = Double(queries) / (clock() - start)
                wendaoSweep.append(
                    .init(efSearch: e, queriesPerSecond: qps, recallAt10: VectorBench.recall(found, truth)))
            }

            // pgvector: the same rows as chunks of a knowledge base, the index --vector-search pgvector uses.
            let store = try PostgresStore(url: url)
            defer { store.close() }
            try store.prepareDatabaseVectorSearch()
            let name = "bench-pgvector-\(n)-\(d)-\(seed)"
            if let old = try store.knowledgeBase(named: name) { try store.deleteKnowledgeBase(id: old.id) }
            let kb = try store.createKnowledgeBase(name: name, settings: .default)
            defer { if !keep { try? store.deleteKnowledgeBase(id: kb.id) } }
            start = clock()
            var chunkIDs: [Int64] = []
            chunkIDs.reserveCapacity(n)
            let perDocument = 1000
            for first in stride(from: 0, to: n, by: perDocument) {
                let rows = first..<min(n, first + perDocument)
                chunkIDs += try store.replaceDocument(
                    kb: kb.id,
                    NewDocument(
                        path: "bench/\(first).txt", title: "bench \(first)", format: "text", contentHash: "h\(first)",
                        byteCount: Int64(rows.count))
                ) { insert in
                    for r in rows {
                        _ = try insert(ChunkDraft(text: "row \(r)", sectionPath: [], page: nil, start: 0, end: 1))
                    }
                }.addedChunkIDs
            }
            let chunksSeconds = clock() - start
            guard chunkIDs.count == n else {
                throw WendaoError(.internal, "stored \(chunkIDs.count) chunks, not \(n)")
            }
            var row = [Int64: Int64]()
            for (r, id) in chunkIDs.enumerated() { row[id] = Int64(r) }
            start = clock()
            for first in stride(from: 0, to: n, by: 5000) {
                let rows = first..<min(n, first + 5000)
                try store.storeVectors(
                    embedder: "bench", dimension: d,
                    rows.map { (id: chunkIDs[$0], vector: Array(data[$0 * d..<($0 + 1) * d])) })
            }
            let vectorsSeconds = clock() - start
            start = clock()
            try store.ensureVectorIndex(kb: kb.id, dimension: d)
            let indexSeconds = clock() - start
            var pgSweep: [SweepPoint] = []
            for e in efs {
                _ = try store.nearestVectors(kb: kb.id, embedder: "bench", query: queryVectors[0], k: 10, efSearch: e)
                start = clock()
                var found: [[Int64]] = []
                for q in queryVectors {
                    found.append(
                        try store.nearestVectors(kb: kb.id, embedder: "bench", query: q, k: 10, efSearch: e)
                            .compactMap { row[$0.id] })
                }
                let qps = Double(queries) / (clock() - start)
                pgSweep.append(.init(efSearch: e, queriesPerSecond: qps, recallAt10: VectorBench.recall(found, truth)))
            }
            Output.json(
                Result(
                    count: n, dimension: d, queries: queries, seed: seed,
                    data: "synthetic clustered unit vectors (as `wendao bench vectors`), queries a fresh draw",
                    truth: "exact top 10 by a float32 brute-force scan (Wendao's exact path)",
                    wendao: .init(
                        index: "Wendao HNSW (M 16, efConstruction 100), in process, one query at a time",
                        exactQueriesPerSecond: exactQPS, hnswBuildSeconds: graphBuild, sweep: wendaoSweep),
                    pgvector: .init(
                        index:
                            "pgvector HNSW (m 16, ef_construction 64) per knowledge base over real[]::vector(d), "
                            + "cosine; through PostgresStore.nearestVectors, one query at a time on one connection",
                        database: store.url.redacted, chunksWriteSeconds: chunksSeconds,
                        vectorsWriteSeconds: vectorsSeconds, indexBuildSeconds: indexSeconds, sweep: pgSweep)))
        }
    }
}
