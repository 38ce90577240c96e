public import Foundation
import WendaoCore
import WendaoLoaders
import WendaoOCR

/// One image's figures in the OCR benchmark.
public struct OCRBenchImage: Encodable, Sendable {
    /// The image file.
    public var image: String
    /// The set it belongs to.
    public var set: String
    /// Character-bigram recall against the known text.
    public var recall: Double
    /// Character-bigram precision.
    public var precision: Double
    /// Share of consecutive known lines whose order the output keeps.
    public var order: Double
    /// Seconds of recognition (decoding excluded).
    public var seconds: Double
}

/// Figures of one set.
public struct OCRBenchSet: Encodable, Sendable {
    /// The set's name.
    public var set: String
    /// Images in it.
    public var images: Int
    /// Mean recall.
    public var recall: Double
    /// Mean precision.
    public var precision: Double
    /// Mean reading-order agreement.
    public var order: Double
}

/// The `wendao bench ocr` JSON.
public struct OCRBenchReport: Encodable, Sendable {
    /// `ppocr-swift` or `tesseract`.
    public var engine: String
    /// Threads the network ran on.
    public var threads: Int
    /// Per set.
    public var sets: [OCRBenchSet]
    /// Per image.
    public var images: [OCRBenchImage]
    /// Images (pages) recognised per minute, over all images.
    public var pages_per_minute: Double
    /// Peak resident memory of the process, MiB.
    public var peak_rss_mib: Double
}

/// Reads a dev set (`manifest.jsonl`: `{"image": …, "text": …, "set": …}` relative to it) with the
/// native PP-OCR engine or Tesseract, and scores the text with ``OCRMetrics``.
public enum OCRBench {
    struct Entry: Decodable {
        var image: String
        var text: String
        var set: String
    }

    /// Runs the benchmark.
    public static func run(manifest: URL, engine: String, models: URL, threads: Int, languages: [String]) throws
        -> OCRBenchReport
    {
        let dir = manifest.deletingLastPathComponent()
        let entries = try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n")
            .filter { !$0.allSatisfy(\.isWhitespace) }
            .map { try JSONDecoder().decode(Entry.self, from: Data($0.utf8)) }
        let ppocr = engine == "tesseract" ? nil : try PPOCREngine(directory: models)
        var images: [OCRBenchImage] = []
        var total = 0.0
        for e in entries {
            let url = dir.appendingPathComponent(e.image)
            let truth = try String(contentsOf: dir.appendingPathComponent(e.text), encoding: .utf8)
            let text: String
            let t0 = ContinuousClock.now
            if let ppocr {
                let image = try OCRImageDecoder.decode(fileAt: url)
                let start = ContinuousClock.now
                text = ReadingOrder.text(try ppocr.recognize(image, threads: threads))
                total += (ContinuousClock.now - start).seconds
            } else {
                var limits = LoaderLimits()
                limits.ocrEngine = .tesseract
                limits.ocrLanguages = languages
                text = try ImageLoader.load(fileURL: url, limits: limits).blocks.map(\.text).joined(separator: "\n")
                total += (ContinuousClock.now - t0).seconds
            }
            let m = OCRMetrics.score(output: text, truth: truth)
            images.append(
                OCRBenchImage(
                    image: e.image, set: e.set, recall: m.recall, precision: m.precision,
                    order: m.order, seconds: (ContinuousClock.now - t0).seconds))
        }
        var sets: [OCRBenchSet] = []
        for name in Array(Set(images.map(\.set))).sorted() {
            let s = images.filter { $0.set == name }
            let n = Double(s.count)
            sets.append(
                OCRBenchSet(
                    set: name, images: s.count, recall: s.map(\.recall).reduce(0, +) / n,
                    precision: s.map(\.precision).reduce(0, +) / n, order: s.map(\.order).reduce(0, +) / n))
        }
        return OCRBenchReport(
            engine: ppocr == nil ? "tesseract" : "ppocr-swift", threads: threads, sets: sets, images: images,
            pages_per_minute: Double(images.count) / max(total, 1e-9) * 60, peak_rss_mib: peakRSS())
    }

    /// VmHWM of this process, MiB.
    static func peakRSS() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
            return kb / 1024
        }
        return 0
    }
}

/// Text-quality measures of OCR output against known text.
public enum OCRMetrics {
    /// Characters compared: whitespace dropped, full-width ASCII folded to ASCII, Latin lower-cased.
    public static func normalise(_ s: String) -> [Character] {
        var out: [Character] = []
        for u in s.unicodeScalars {
            if u.properties.isWhitespace { continue }
            var v = u.value
            if (0xFF01...0xFF5E).contains(v) { v -= 0xFEE0 }
            guard let scalar = Unicode.Scalar(v) else { continue }
            out.append(Character(String(scalar).lowercased()))
        }
        return out
    }

    /// Bigram recall and precision (multisets), and reading-order agreement: of consecutive non-empty
    /// known lines whose first eight characters occur in the output, the share found in the same order.
    public static func score(output: String, truth: String) -> (recall: Double, precision: Double, order: Double) {
        func bigrams(_ c: [Character]) -> [String: Int] {
            var d: [String: Int] = [:]
            if c.count >= 2 { for i in 0..<(c.count - 1) { d[String(c[i]) + String(c[i + 1]), default: 0] += 1 } }
            return d
        }
        let o = bigrams(normalise(output)), t = bigrams(normalise(truth))
        var hit = 0
        for (k, n) in t { hit += min(n, o[k] ?? 0) }
        let recall = Double(hit) / Double(max(1, t.values.reduce(0, +)))
        let precision = Double(hit) / Double(max(1, o.values.reduce(0, +)))
        let flat = String(normalise(output))
        var positions: [Int] = []
        for line in truth.split(separator: "\n") {
            let key = String(normalise(String(line)).prefix(8))
            guard key.count >= 4, let r = flat.range(of: key) else { continue }
            positions.append(flat.distance(from: flat.startIndex, to: r.lowerBound))
        }
        var inOrder = 0
        for i in 0..<max(0, positions.count - 1) where positions[i] < positions[i + 1] { inOrder += 1 }
        let order = positions.count < 2 ? 1 : Double(inOrder) / Double(positions.count - 1)
        return (recall, precision, order)
    }
}
