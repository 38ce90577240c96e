import Foundation
import WendaoCore

/// The statistics of a dataset (`stats.json`; `stats.html` shows the same): counts per split, style and
/// language, token lengths, coverage per document, and the cleaning report.
public struct DatasetStats: Sendable, Codable {
    /// Token lengths (``TokenEstimator`` estimates).
    public struct Lengths: Sendable, Codable, Equatable {
        /// Shortest.
        public var min: Int
        /// Median.
        public var p50: Int
        /// 95th percentile.
        public var p95: Int
        /// Longest.
        public var max: Int
        /// Mean.
        public var mean: Double

        init(_ values: [Int]) {
            let v = values.sorted()
            min = v.first ?? 0
            max = v.last ?? 0
            p50 = v.isEmpty ? 0 : v[(v.count - 1) / 2]
            p95 = v.isEmpty ? 0 : v[Swift.min(v.count - 1, Int((Double(v.count) * 0.95).rounded(.up)) - 1)]
            mean = v.isEmpty ? 0 : Double(v.reduce(0, +)) / Double(v.count)
        }
    }

    /// One document's coverage.
    public struct Coverage: Sendable, Codable, Equatable {
        /// The document.
        public var document: String
        /// Kept examples grounded in it.
        public var examples: Int
        /// Its split.
        public var split: String?
    }

    /// The dataset.
    public var name: String
    /// The knowledge base.
    public var kb: String
    /// The teacher.
    public var teacher: String
    /// Examples generated.
    public var generated: Int
    /// Examples kept.
    public var kept: Int
    /// Kept examples per split.
    public var splits: [String: Int]
    /// Kept examples per style.
    public var styles: [String: Int]
    /// Kept examples per style and split.
    public var stylesBySplit: [String: [String: Int]]
    /// Kept examples per question language.
    public var languages: [String: Int]
    /// Question lengths in tokens.
    public var questionTokens: Lengths
    /// Answer lengths in tokens.
    public var answerTokens: Lengths
    /// Examples with a teacher's reasoning.
    public var withReasoning: Int
    /// Documents in the knowledge base when the chunks were chosen.
    public var documents: Int
    /// Documents with at least one kept example.
    public var documentsCovered: Int
    /// Per document.
    public var coverage: [Coverage]
    /// Documents found in two splits (always 0).
    public var documentsInTwoSplits: Int
    /// The cleaning report.
    public var cleaning: CleaningReport

    enum CodingKeys: String, CodingKey {
        case name, kb, teacher, generated, kept, splits, styles, stylesBySplit = "styles_by_split", languages
        case questionTokens = "question_tokens", answerTokens = "answer_tokens", withReasoning = "with_reasoning"
        case documents, documentsCovered = "documents_covered", coverage
        case documentsInTwoSplits = "documents_in_two_splits", cleaning
    }

    /// The statistics of `examples` (cleaned and split).
    public static func make(manifest: DatasetManifest, examples: [TuneExample], report: CleaningReport) -> DatasetStats
    {
        let kept = examples.filter { $0.status == "kept" }
        var splits: [String: Int] = [:]
        var styles: [String: Int] = [:]
        var bySplit: [String: [String: Int]] = [:]
        var languages: [String: Int] = [:]
        var perDoc: [String: (Int, Set<String>)] = [:]
        for e in kept {
            let s = e.split ?? "none"
            splits[s, default: 0] += 1
            styles[e.style.rawValue, default: 0] += 1
            bySplit[e.style.rawValue, default: [:]][s, default: 0] += 1
            languages[e.language, default: 0] += 1
            for d in e.documents {
                perDoc[d, default: (0, [])].0 += 1
                perDoc[d, default: (0, [])].1.insert(s)
            }
        }
        let coverage = perDoc.keys.sorted().map { d in
            Coverage(document: d, examples: perDoc[d]!.0, split: perDoc[d]!.1.sorted().joined(separator: "+"))
        }
        return DatasetStats(
            name: manifest.name, kb: manifest.kb, teacher: manifest.teacher, generated: examples.count,
            kept: kept.count, splits: splits, styles: styles, stylesBySplit: bySplit, languages: languages,
            questionTokens: Lengths(kept.map { TokenEstimator.estimate($0.question) }),
            answerTokens: Lengths(kept.map { TokenEstimator.estimate($0.answer) }),
            withReasoning: kept.filter { $0.reasoning != nil }.count, documents: manifest.documentCount,
            documentsCovered: perDoc.count, coverage: coverage,
            documentsInTwoSplits: perDoc.values.filter { $0.1.count > 1 }.count, cleaning: report)
    }

    /// One line for the terminal.
    public var summary: String {
        let s = DatasetSplitter.names.map { "\($0) \(splits[$0] ?? 0)" }.joined(separator: " · ")
        let dropped = cleaning.dropped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
            separator: ", ")
        let masked = cleaning.masked.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(name): \(kept) of \(generated) examples kept (\(s)); dropped: \(dropped.isEmpty ? "none" : dropped); "
            + "masked: \(masked.isEmpty ? "none" : masked); documents covered \(documentsCovered)/\(documents)"
    }

    /// A self-contained HTML page of the statistics (no script, no network).
    public var html: String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func table(_ title: String, _ rows: [(String, String)]) -> String {
            "<h2>\(esc(title))</h2><table>"
                + rows.map { "<tr><th>\(esc($0.0))</th><td>\(esc($0.1))</td></tr>" }.joined() + "</table>"
        }
        func bars(_ title: String, _ values: [String: Int]) -> String {
            let top = max(1, values.values.max() ?? 1)
            return "<h2>\(esc(title))</h2><table>"
                + values.sorted { $0.key < $1.key }.map { k, v in
                    "<tr><th>\(esc(k))</th><td>\(v)</td><td><div class=bar style=\"width:\(v * 300 / top)px\"></div></td></tr>"
                }.joined() + "</table>"
        }
        let lengths: (String, Lengths) -> (String, String) = { n, l in
            (n, String(format: "min %d · median %d · p95 %d · max %d · mean %.1f", l.min, l.p50, l.p95, l.max, l.mean))
        }
        var page = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dataset \(esc(name))</title>
            <style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin-bottom:1em}
            th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}.bar{background:#4a7;height:10px}</style></head><body>
            <h1>Dataset \(esc(name))</h1>
            """
        page += table(
            "Overview",
            [
                ("knowledge base", kb), ("teacher", teacher), ("generated", "\(generated)"), ("kept", "\(kept)"),
                ("documents covered", "\(documentsCovered) of \(documents)"),
                ("documents in two splits", "\(documentsInTwoSplits)"), ("with reasoning", "\(withReasoning)"),
                lengths("question tokens", questionTokens), lengths("answer tokens", answerTokens),
                ("support check", cleaning.supportCheck),
            ])
        page += bars("Splits", splits)
        page += bars("Styles", styles)
        page += bars("Languages", languages)
        page += bars("Dropped", cleaning.dropped)
        page += bars("Flagged", cleaning.flagged)
        page += bars("Masked", cleaning.masked)
        page += "<h2>Coverage per document</h2><table><tr><th>document</th><th>examples</th><th>split</th></tr>"
        page += coverage.map {
            "<tr><td>\(esc($0.document))</td><td>\($0.examples)</td><td>\(esc($0.split ?? ""))</td></tr>"
        }
        .joined()
        page += "</table></body></html>\n"
        return page
    }
}
