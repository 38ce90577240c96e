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
    public static func run(corpus: URL, queries: URL, topK: Int, workDirectory: URL, repeats: Int = 3) throws
        -> BM25BenchReport
    {
        guard let corpusHandle = FileHandle(forReadingAtPath: corpus.path) else {
            throw WendaoError(.unreadable, "cannot read \(corpus.path)")
        }
        defer { try? corpusHandle.close() }
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
            // Stream the corpus in 8 MB pieces so its size does not count towards peak memory.
            var carry: [UInt8] = []
            func addLine(_ bytes: UnsafeRawBufferPointer) {
                let line = String(decoding: bytes, as: UTF8.self)
                terms.removeAll(keepingCapacity: true)
                analyzer.analyze(line, into: &terms)
                index.add(id: Int64(documents), terms: terms)
                documents += 1
            }
            while true {
                let piece = (try? corpusHandle.read(upToCount: 8 << 20)) ?? Data()
                if piece.isEmpty { break }
                carry.append(contentsOf: piece)
                var consumed = 0
                carry.withUnsafeBytes { raw in
                    var start = 0
                    let n = raw.count
                    while let nl = raw[start..<n].firstIndex(of: 0x0A) {
                        addLine(UnsafeRawBufferPointer(rebasing: raw[start..<nl]))
                        start = nl + 1
                    }
                    consumed = start
                }
                carry.removeFirst(consumed)
            }
            if !carry.isEmpty { carry.withUnsafeBytes { addLine($0) } }
            try index.save(to: path, generation: 1)
        }
        let indexSeconds = Date().timeIntervalSince(t0)
        let index = try BM25Index(path: path)
        let qs = queryText.split(separator: "\n").map(String.init)
        for q in qs.prefix(50) { _ = index.search(analyzer.terms(q), k: topK) }
        if ProcessInfo.processInfo.environment["WENDAO_BENCH_SPLIT"] != nil {
            let t = Date()
            var c = 0
            for q in qs { c &+= analyzer.terms(q).count }
            let analysis = Date().timeIntervalSince(t)
            let pre = qs.map { analyzer.terms($0) }
            let t2 = Date()
            for q in pre { c &+= index.search(q, k: topK).count }
            let search = Date().timeIntervalSince(t2)
            FileHandle.standardError.write(
                Data(
                    "analysis \(analysis * 1e6 / Double(qs.count)) µs/q, search \(search * 1e6 / Double(qs.count)) µs/q (\(c))\n"
                        .utf8))
        }
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
            documents: documents, indexSeconds: indexSeconds,
            indexDocsPerSecond: Double(documents) / max(indexSeconds, 1e-9),
            queriesPerSecond: Double(qs.count) / max(bestTotal / 1000, 1e-9), p50Ms: pct(0.5), p99Ms: pct(0.99),
            peakRssMb: Double(usage.ru_maxrss) / 1024, topK: topK)
    }
}
