public import Foundation
import WendaoCore
public import WendaoLoaders

/// What ``LoaderBench/run(file:repeats:limits:)`` measured (the `wendao bench loaders` JSON, keys
/// as written).
public struct LoaderBenchReport: Encodable, Sendable {
    /// The file's name.
    public var file: String
    /// The detected format.
    public var format: String
    /// The file's size.
    public var bytes: Int
    /// Seconds of the best run.
    public var seconds: Double
    /// MiB parsed per second.
    public var megabytes_per_second: Double
    /// Pages found (blocks with a page number).
    public var pages: Int
    /// Pages per minute.
    public var pages_per_minute: Double
    /// Blocks of text.
    public var blocks: Int
    /// Unicode scalars of text.
    public var characters: Int
    /// The first five warnings.
    public var warnings: [String]
}

/// The loader benchmark behind `wendao bench loaders`: parsing only, no chunking or indexing.
public enum LoaderBench {
    /// Parses `file` `repeats` times (at least once) and keeps the best run; nil when nothing was
    /// parsed.
    /// - Throws: what the loader throws.
    public static func run(file url: URL, repeats: Int, limits: LoaderLimits) throws -> LoaderBenchReport? {
        let bytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        var best = Double.infinity
        var doc: LoadedDocument?
        for _ in 0..<max(1, repeats) {
            let t0 = ContinuousClock.now
            doc = try DocumentLoader.load(fileURL: url, identity: url.lastPathComponent, limits: limits)
            best = min(best, (ContinuousClock.now - t0).seconds)
        }
        guard let doc else { return nil }
        let pages = Set(doc.blocks.compactMap(\.page)).count
        return LoaderBenchReport(
            file: url.lastPathComponent, format: doc.format.rawValue, bytes: bytes, seconds: best,
            megabytes_per_second: Double(bytes) / 1_048_576 / max(best, 1e-9), pages: pages,
            pages_per_minute: Double(pages) / max(best, 1e-9) * 60, blocks: doc.blocks.count,
            characters: doc.blocks.reduce(0) { $0 + $1.text.unicodeScalars.count },
            warnings: Array(doc.warnings.prefix(5)))
    }
}
