import Foundation
import WendaoCore

/// The steps after generation, run by `tune dataset create` and again by `tune dataset clean` (no
/// teacher call): checks and cleaning, splits by document, statistics; writes `examples.jsonl`,
/// `report.json`, `stats.json` and `stats.html`.
public enum DatasetPipeline {
    /// Cleans, splits and describes the generated examples of dataset `name`.
    public static func finish(
        store: DatasetStore, name: String, cleaning: CleaningOptions, ratios: [Double],
        judge: DatasetCleaner.Judge? = nil, judgeName: String? = nil, concurrency: Int = 4
    ) async throws -> DatasetStats {
        let manifest = try store.manifest(name)
        let raw = try store.rawExamples(name)
        let chunks = try store.chunks(name)
        let cleaned = await DatasetCleaner.clean(
            raw, chunks: chunks, options: cleaning, judge: judge, judgeName: judgeName, concurrency: concurrency)
        var examples = cleaned.examples
        var report = cleaned.report
        try Task.checkCancellation()
        DatasetReview.applyAll(try DatasetReview.reviews(store, name), to: &examples)
        if !examples.isEmpty { report.kept = examples.filter { $0.status == "kept" }.count }
        DatasetSplitter.assign(&examples, ratios: ratios, seed: manifest.seed)
        try store.writeExamples(name, examples)
        let dir = try store.folder(name)
        try store.writeFile(
            dir.appendingPathComponent("report.json"), (try? TuneJSON.encoder(pretty: true).encode(report)) ?? Data())
        let stats = DatasetStats.make(manifest: manifest, examples: examples, report: report)
        try store.writeFile(
            dir.appendingPathComponent("stats.json"), (try? TuneJSON.encoder(pretty: true).encode(stats)) ?? Data())
        try store.writeFile(dir.appendingPathComponent("stats.html"), Data(stats.html.utf8))
        return stats
    }
}
