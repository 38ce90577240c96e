public import Foundation
import WendaoCore
import WendaoIndex
import WendaoText

#if canImport(Glibc)
    import Glibc
#endif

/// Speed of the BM25 index on a corpus file (one document a line) and a query file (one a line).
public struct BM25BenchReport: Sendable, Codable {
    /// Documents indexed.
    public var documents: Int
    /// Seconds to analyse, index and write the segment file.
    public var indexSeconds: Double
    /// Documents per second.
    public var indexDocsPerSecond: Double
    /// Queries per second, one query at a time on one thread.
    public var queriesPerSecond: Double
    /// Median single-query latency (analysis + search).
    public var p50Ms: Double
    /// 99th percentile latency.
    public var p99Ms: Double
    /// Peak resident memory of the process.
    public var peakRssMb: Double
    /// Results per query.
    public var topK: Int

    enum CodingKeys: String, CodingKey {
        case documents, indexSeconds = "index_seconds", indexDocsPerSecond = "index_docs_per_second"
        case queriesPerSecond = "queries_per_second", p50Ms = "p50_ms", p99Ms = "p99_ms", peakRssMb = "peak_rss_mb"
        case topK = "top_k"
    }
}

/// The `wendao bench bm25` benchmark.
public enum BM25Bench {
    /// Indexes the corpus into a segment file under `workDirectory`, maps it, and runs every query
    /// (after a short warm-up) one at a time.
    public static func run(corpus: URL, queries: URL, topK: Int, workDirectory: URL, repeats: Int = 3) throws -> BM25BenchReport {
        guard let corpusData = try? Data(contentsOf: corpus) else { throw WendaoError(.unreadable, "cannot read \(corpus.path)") }
        guard let queryText = try? String(contentsOf: queries, encoding: .utf8) else {
            throw WendaoError(.unreadable, "cannot read \(queries.path)")
        }
        let analyzer = Analyzer()
        let path = workDirectory.appendingPathComponent("bench-\(getpid()).bm25").path
        defer { unlink(path) }
        let t0 = Date()
        var documents = 0
        do {
            let index = BM25Index()
            var terms: [UInt64] = []
            corpusData.withUnsafeBytes { raw in
                var start = 0
                let n = raw.count
                while start < n {
                    var end = start
                    while end < n && raw[end] != 0x0A { end += 1 }
                    let line = String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<end]), as: UTF8.self)
                    terms.removeAll(keepingCapacity: true)
                    analyzer.analyze(line, into: &terms)
                    index.add(id: Int64(documents), terms: terms)
                    documents += 1
                    start = end + 1
                }
            }
            try index.save(to: path, generation: 1)
        }
        let indexSeconds = Date().timeIntervalSince(t0)
        let index = try BM25Index(path: path)
        let qs = queryText.split(separator: "\n").map(String.init)
        for q in qs.prefix(50) { _ = index.search(analyzer.terms(q), k: topK) }
        var resultCount = 0
        var best: [Double] = []
        var bestTotal = Double.infinity
        for _ in 0..<max(1, repeats) {
            var lat: [Double] = []
            lat.reserveCapacity(qs.count)
            var total = 0.0
            var terms: [UInt64] = []
            for q in qs {
                let s = DispatchTime.now().uptimeNanoseconds
                terms.removeAll(keepingCapacity: true)
                analyzer.analyze(q, into: &terms)
                let r = index.search(terms, k: topK)
                let e = DispatchTime.now().uptimeNanoseconds
                resultCount &+= r.count
                let ms = Double(e - s) / 1e6
                lat.append(ms)
                total += ms
            }
            if total < bestTotal {
                bestTotal = total
                best = lat
            }
        }
        best.sort()
        _ = resultCount
        func pct(_ p: Double) -> Double { best.isEmpty ? 0 : best[min(best.count - 1, Int(Double(best.count) * p))] }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return BM25BenchReport(
            documents: documents, indexSeconds: indexSeconds, indexDocsPerSecond: Double(documents) / max(indexSeconds, 1e-9),
            queriesPerSecond: Double(qs.count) / max(bestTotal / 1000, 1e-9), p50Ms: pct(0.5), p99Ms: pct(0.99),
            peakRssMb: Double(usage.ru_maxrss) / 1024, topK: topK)
    }
}
