public import Foundation
import WendaoCore

/// One line of text found on an image.
public struct OCRTextLine: Sendable, Equatable {
    /// The box's corners in image pixels: top-left, top-right, bottom-right, bottom-left.
    public var box: [Point]
    /// The recognised text.
    public var text: String
    /// The recogniser's mean confidence over the kept characters (0…1).
    public var score: Float

    /// Creates a line.
    public init(box: [Point], text: String, score: Float) {
        self.box = box
        self.text = text
        self.score = score
    }

    /// Smallest and largest x and y of the box.
    public var bounds: (minX: Double, minY: Double, maxX: Double, maxY: Double) {
        (box.map(\.x).min() ?? 0, box.map(\.y).min() ?? 0, box.map(\.x).max() ?? 0, box.map(\.y).max() ?? 0)
    }
}

/// The PP-OCR pipeline run natively: DB text detection, the 0°/180° direction classifier and the
/// SVTR/CRNN recogniser with CTC decoding, for the PP-OCRv4 mobile models shipped in
/// `rapidocr_onnxruntime==1.4.4` (Apache-2.0). Pre- and post-processing follow RapidOCR 1.4.4 step for
/// step (the same sizes, thresholds, unclip ratio, batching), so results can be compared with it.
///
/// ```swift
/// let engine = try PPOCREngine(directory: PPOCRModels.installed()!)
/// let lines = try engine.recognize(image, threads: 2)
/// ```
public final class PPOCREngine: Sendable {
    /// File names of the three models and what they are.
    public static let detectorFile = "ch_PP-OCRv4_det_infer.onnx"
    /// The direction classifier's file.
    public static let classifierFile = "ch_ppocr_mobile_v2.0_cls_infer.onnx"
    /// The recogniser's file (its metadata holds the dictionary).
    public static let recogniserFile = "ch_PP-OCRv4_rec_infer.onnx"

    let detector: ONNXGraph
    let classifier: ONNXGraph
    let recogniser: ONNXGraph
    /// `blank`, the dictionary, then a space — the recogniser's output classes.
    let characters: [String]

    /// Loads the three models from `directory`.
    ///
    /// - Throws: ``WendaoError`` `notFound` (a file is missing: pull the models), `corrupt` (a file is
    ///   damaged, or not the PP-OCR model this version reads).
    public init(directory: URL) throws {
        func load(_ name: String) throws -> ONNXModel {
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw WendaoError(
                    .notFound, "PP-OCR model \(name) missing in \(directory.path) — run wendao models pull ppocr")
            }
            return try ONNXModel(contentsOf: url)
        }
        let det = try load(Self.detectorFile)
        let cls = try load(Self.classifierFile)
        let rec = try load(Self.recogniserFile)
        guard let dict = rec.metadata["character"] else {
            throw WendaoError(.corrupt, "\(Self.recogniserFile) has no character dictionary")
        }
        detector = try ONNXGraph(det)
        classifier = try ONNXGraph(cls)
        recogniser = try ONNXGraph(rec)
        characters = ["blank"] + Self.pythonSplitLines(dict) + [" "]
    }

    /// Python's `str.splitlines()`, which RapidOCR uses to read the dictionary.
    static func pythonSplitLines(_ s: String) -> [String] {
        let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
        var out: [String] = []
        var cur = String.UnicodeScalarView()
        var it = Array(s.unicodeScalars)[...]
        while let c = it.popFirst() {
            if breaks.contains(c.value) {
                out.append(String(cur))
                cur = String.UnicodeScalarView()
                if c.value == 0x0D, it.first?.value == 0x0A { it.removeFirst() }
            } else {
                cur.append(c)
            }
        }
        if !cur.isEmpty { out.append(String(cur)) }
        return out
    }

    // MARK: - Settings (RapidOCR 1.4.4 defaults)

    static let maxSideLength = 2000
    static let minSideLength = 30
    static let minHeight = 30
    static let widthHeightRatio = 8.0
    static let detLimitSide = 736
    static let textScore: Float = 0.5
    static let thresh: Float = 0.3
    static let boxThresh: Float = 0.5
    static let maxCandidates = 1000
    static let unclipRatio = 1.6
    static let clsThresh: Float = 0.9
    static let batch = 6

    /// Finds and reads the text lines of `image`, in RapidOCR's order (top to bottom, then left to right).
    ///
    /// A page scanned or photographed on its side or upside down is read the right way up: each line
    /// is turned upright for the recogniser (tall boxes a quarter turn, then 180° where the direction
    /// classifier says so), and when most lines agree on how the page is turned, the boxes are given in
    /// the coordinates of the upright page (``OCRTextLine/box``) so that reading order follows the text.
    public func recognize(_ image: OCRImage, threads: Int) throws -> [OCRTextLine] {
        let (boxes, work) = try detect(image, threads: threads)
        if boxes.isEmpty { return [] }
        let tall = boxes.map { Self.isTall($0) }
        let upright = boxes.map { cropLine(work.image, $0) }
        let (crops, classified) = try classify(upright, threads: threads)
        var flipped = classified
        var texts = try recognizeLines(crops, threads: threads)
        // The direction classifier is unsure of some lines (one starting with "，" reads as upside down
        // after a one-pixel change of its box): a turned line the recogniser cannot read is read again
        // unturned, and the better reading is kept.
        let doubtful = crops.indices.filter { flipped[$0] && texts[$0].1 < Self.textScore }
        if !doubtful.isEmpty {
            let again = try recognizeLines(doubtful.map { upright[$0] }, threads: threads)
            for (k, i) in doubtful.enumerated() where again[k].1 > texts[i].1 {
                texts[i] = again[k]
                flipped[i] = false
            }
        }
        let turn = Self.pageTurn(tall: tall, flipped: flipped)
        var lines: [OCRTextLine] = []
        for (box, (text, score)) in zip(boxes, texts) where score >= Self.textScore {
            let original = work.toOriginal(box, rawWidth: image.width, rawHeight: image.height)
            // Turned back, the corners start a quarter turn further on for each quarter the page was
            // turned: rotate the list so that it starts at the upright page's top-left again.
            let turned = original.map { Self.upright($0, turn: turn, width: image.width, height: image.height) }
            let shift = turn / 90
            lines.append(OCRTextLine(box: Array(turned[shift...] + turned[..<shift]), text: text, score: score))
        }
        if turn != 0 {
            // Sorted as the detector's boxes are; a fifth point carries each line's index along.
            let order = DBPostProcess.sortedBoxes(lines.indices.map { i in lines[i].box + [Point(Double(i), 0)] })
            lines = order.map { lines[Int($0[4].x)] }
        }
        return lines
    }

    /// Whether ``cropLine(_:_:)`` turns the box's crop a quarter turn (a box much taller than wide).
    static func isTall(_ box: [Point]) -> Bool {
        func dist(_ a: Point, _ b: Point) -> Double {
            ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot()
        }
        let w = max(1, Int(Float(max(dist(box[0], box[1]), dist(box[2], box[3])))))
        let h = max(1, Int(Float(max(dist(box[0], box[3]), dist(box[1], box[2])))))
        return Double(h) / Double(w) >= 1.5
    }

    /// How far the page is turned clockwise from upright (0, 90, 180 or 270 degrees), from its lines:
    /// most boxes tall means a page on its side (its lines read downwards when the quarter turn made
    /// them upright, upwards when the classifier had to turn them over as well); most flat lines
    /// turned over means a page upside down. Fewer than three lines, or no clear majority (two
    /// thirds), is read as upright: a page of mixed text is not turned.
    ///
    /// Vertical writing (columns of upright characters, read top to bottom and right to left) has
    /// the tall boxes of a page turned a quarter clockwise, and is read as one: the recogniser reads a
    /// column turned a quarter, and in the turned-back frame the rightmost column is the first line,
    /// a horizontal title above the columns the first of all.
    static func pageTurn(tall: [Bool], flipped: [Bool]) -> Int {
        let n = tall.count
        guard n >= 3, flipped.count == n else { return 0 }
        let tallCount = tall.filter { $0 }.count
        if 3 * tallCount >= 2 * n {
            let over = zip(tall, flipped).filter { $0.0 && $0.1 }.count
            if 3 * over >= 2 * tallCount { return 270 }
            if 3 * over <= tallCount { return 90 }
            return 0
        }
        let flat = n - tallCount
        let over = zip(tall, flipped).filter { !$0.0 && $0.1 }.count
        return flat >= 3 && 3 * over >= 2 * flat ? 180 : 0
    }

    /// `p` (in an image of `width` × `height` turned `turn` degrees clockwise from upright) in the
    /// coordinates of the upright image.
    static func upright(_ p: Point, turn: Int, width: Int, height: Int) -> Point {
        let (w, h) = (Double(width), Double(height))
        switch turn {
        case 90: return Point(p.y, w - p.x)  // turned back a quarter counter-clockwise
        case 180: return Point(w - p.x, h - p.y)
        case 270: return Point(h - p.y, p.x)  // turned back a quarter clockwise
        default: return p
        }
    }

    /// The scaled, padded image the detector saw, and how to map its points back.
    struct WorkImage {
        var image: OCRImage
        var ratioW: Double
        var ratioH: Double
        var top: Int

        func toOriginal(_ box: [Point], rawWidth: Int, rawHeight: Int) -> [Point] {
            box.map { p in
                let x = min(max(0, p.x * ratioW), Double(rawWidth))
                let y = min(max(0, (p.y - Double(top)) * ratioH), Double(rawHeight))
                return Point(x, y)
            }
        }
    }

    static func round32(_ v: Int) -> Int { Int((Double(v) / 32).rounded(.toNearestOrEven)) * 32 }

    /// Detection boxes (in the work image) sorted as RapidOCR sorts them.
    func detect(_ raw: OCRImage, threads: Int) throws -> ([[Point]], WorkImage) {
        try OCRImage.checkSize(width: raw.width, height: raw.height)
        var img = raw
        var ratioW = 1.0, ratioH = 1.0
        if max(img.width, img.height) > Self.maxSideLength {
            let r = Double(Self.maxSideLength) / Double(max(img.width, img.height))
            let w = Self.round32(Int(Double(img.width) * r)), h = Self.round32(Int(Double(img.height) * r))
            // A sliver (3000×2) shrinks to nothing: it holds no readable text.
            guard w > 0, h > 0 else { return ([], WorkImage(image: img, ratioW: 1, ratioH: 1, top: 0)) }
            ratioW = Double(img.width) / Double(w)
            ratioH = Double(img.height) / Double(h)
            img = img.resized(width: w, height: h)
        }
        if min(img.width, img.height) < Self.minSideLength {
            let r = Double(Self.minSideLength) / Double(min(img.width, img.height))
            let w = Self.round32(Int(Double(img.width) * r)), h = Self.round32(Int(Double(img.height) * r))
            guard w > 0, h > 0, w * h <= OCRImage.maxPixels else {
                throw WendaoError(.unreadable, "image is too thin to read (\(raw.width)×\(raw.height))")
            }
            ratioW = Double(img.width) / Double(w)
            ratioH = Double(img.height) / Double(h)
            img = img.resized(width: w, height: h)
        }
        var top = 0
        if img.height <= Self.minHeight || Double(img.width) / Double(img.height) > Self.widthHeightRatio {
            let newH = max(Int(Double(img.width) / Self.widthHeightRatio), Self.minHeight) * 2
            top = abs(newH - img.height) / 2
            img = img.padded(top: top, bottom: top)
        }
        let work = WorkImage(image: img, ratioW: ratioW, ratioH: ratioH, top: top)

        // Detector input: smaller side at least 736, both sides multiples of 32.
        let (h, w) = (img.height, img.width)
        var ratio = 1.0
        if min(h, w) < Self.detLimitSide { ratio = Double(Self.detLimitSide) / Double(min(h, w)) }
        let dh = Self.round32(Int(Double(h) * ratio)), dw = Self.round32(Int(Double(w) * ratio))
        guard dh > 0, dw > 0, dh * dw <= 40_000_000 else {
            throw WendaoError(.limitExceeded, "image is too large or too thin to read (\(raw.width)×\(raw.height))")
        }
        let resized = img.resized(width: dw, height: dh)
        var input = Tensor(zeros: [1, 3, dh, dw])
        input.data.withUnsafeMutableBufferPointer {
            resized.writeNormalisedBGR(
                into: $0.baseAddress!, planeWidth: dw, planeHeight: dh, levels: OCRImage.Levels.detector)
        }
        let prob = try detector.run(input, threads: threads)
        guard prob.shape.count == 4, prob.shape[2] == dh, prob.shape[3] == dw else {
            throw WendaoError(.corrupt, "the detector returned \(prob.shape), expected [1, 1, \(dh), \(dw)]")
        }
        var boxes = DBPostProcess.boxes(
            prob: prob.data, width: dw, height: dh, destWidth: w, destHeight: h, thresh: Self.thresh,
            boxThresh: Self.boxThresh, unclipRatio: Self.unclipRatio, maxCandidates: Self.maxCandidates)
        boxes = boxes.compactMap { DBPostProcess.orderAndClip($0, width: w, height: h) }
        return (DBPostProcess.sortedBoxes(boxes), work)
    }

    /// RapidOCR's `get_rotate_crop_image`: the box straightened; tall crops turned to lie flat.
    func cropLine(_ img: OCRImage, _ box: [Point]) -> OCRImage {
        func dist(_ a: Point, _ b: Point) -> Double {
            ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot()
        }
        let w = max(1, Int(Float(max(dist(box[0], box[1]), dist(box[2], box[3])))))
        let h = max(1, Int(Float(max(dist(box[0], box[3]), dist(box[1], box[2])))))
        let crop = img.warp(quad: box, width: w, height: h)
        if Double(h) / Double(w) >= 1.5 { return crop.rotatedCounterClockwise() }
        return crop
    }

    /// Batches of up to six crops in order of their width-to-height ratio, as RapidOCR forms them.
    static func batches(_ crops: [OCRImage]) -> [[Int]] {
        let ratios = crops.map { Double($0.width) / Double($0.height) }
        let order = crops.indices.sorted { ratios[$0] != ratios[$1] ? ratios[$0] < ratios[$1] : $0 < $1 }
        return stride(from: 0, to: order.count, by: batch).map { Array(order[$0..<min(order.count, $0 + batch)]) }
    }

    /// Resizes `img` to height `h` keeping its ratio (at most `maxW` wide) and writes it, normalised,
    /// into a zero-padded `3 × h × planeW` slot.
    static func writeLine(
        _ img: OCRImage, height h: Int, maxWidth maxW: Int, planeWidth: Int, into dst: UnsafeMutablePointer<Float>
    ) {
        let ratio = Double(img.width) / Double(img.height)
        let rw = min(maxW, Int((Double(h) * ratio).rounded(.up)))
        let r = img.resized(width: max(1, rw), height: h)
        r.writeNormalisedBGR(into: dst, planeWidth: planeWidth, planeHeight: h, levels: OCRImage.Levels.line)
    }

    /// Turns crops the classifier reads as upside down (score above 0.9) by 180°; `flipped` says which.
    func classify(_ crops: [OCRImage], threads: Int) throws -> (crops: [OCRImage], flipped: [Bool]) {
        var out = crops
        var flipped = [Bool](repeating: false, count: crops.count)
        for group in Self.batches(crops) {
            var input = Tensor(zeros: [group.count, 3, 48, 192])
            input.data.withUnsafeMutableBufferPointer { p in
                for (k, i) in group.enumerated() {
                    Self.writeLine(
                        crops[i], height: 48, maxWidth: 192, planeWidth: 192, into: p.baseAddress! + k * 3 * 48 * 192)
                }
            }
            let probs = try classifier.run(input, threads: threads)
            guard probs.count == group.count * 2 else {
                throw WendaoError(.corrupt, "the classifier returned \(probs.shape)")
            }
            for (k, i) in group.enumerated() {
                let p0 = probs.data[2 * k], p180 = probs.data[2 * k + 1]
                if p180 > p0, p180 > Self.clsThresh {
                    out[i] = crops[i].rotated180()
                    flipped[i] = true
                }
            }
        }
        return (out, flipped)
    }

    /// Text and confidence of each crop.
    func recognizeLines(_ crops: [OCRImage], threads: Int) throws -> [(String, Float)] {
        let groups = Self.batches(crops)
        // Batches run side by side, one thread each: a line batch is narrow work (many small operators
        // that would leave the other thread waiting), so whole batches keep every thread busy.
        let lanes = max(1, min(threads, groups.count))
        let perBatch = max(1, threads / lanes)
        let results = UnsafeMutableBufferPointer<Result<[(String, Float)], any Error>>.allocate(capacity: groups.count)
        results.initialize(repeating: .success([]))
        defer {
            results.deinitialize()
            results.deallocate()
        }
        let slots = UnsafeSendableBox(results)
        OCRKernels.parallel(groups.count, threads: lanes) { g in
            slots.value[g] = Result { try recognizeBatch(groups[g].map { crops[$0] }, threads: perBatch) }
        }
        var out = [(String, Float)](repeating: ("", 0), count: crops.count)
        for (g, group) in groups.enumerated() {
            for (k, text) in try results[g].get().enumerated() { out[group[k]] = text }
        }
        return out
    }

    /// Text and confidence of each crop of one batch (RapidOCR's padding to the widest line).
    private func recognizeBatch(_ lines: [OCRImage], threads: Int) throws -> [(String, Float)] {
        var maxRatio = 320.0 / 48.0
        for line in lines { maxRatio = max(maxRatio, Double(line.width) / Double(line.height)) }
        let width = Int(48 * maxRatio)
        guard width <= 48 * 400 else { throw WendaoError(.limitExceeded, "a text line is too long to read") }
        var input = Tensor(zeros: [lines.count, 3, 48, width])
        input.data.withUnsafeMutableBufferPointer { p in
            for (k, line) in lines.enumerated() {
                Self.writeLine(
                    line, height: 48, maxWidth: width, planeWidth: width, into: p.baseAddress! + k * 3 * 48 * width)
            }
        }
        let probs = try recogniser.run(input, threads: threads)
        guard probs.shape.count == 3, probs.shape[0] == lines.count, probs.shape[2] == characters.count else {
            throw WendaoError(
                .corrupt, "the recogniser returned \(probs.shape) for a dictionary of \(characters.count)")
        }
        let (steps, classes) = (probs.shape[1], probs.shape[2])
        return lines.indices.map { k in
            Self.ctcDecode(
                probs.data, offset: k * steps * classes, steps: steps, classes: classes, characters: characters)
        }
    }

    /// Greedy CTC: the best class per step, repeats merged, blanks dropped; the score is the mean of the
    /// kept steps' probabilities.
    static func ctcDecode(_ p: [Float], offset: Int, steps: Int, classes: Int, characters: [String]) -> (String, Float)
    {
        var text = ""
        var sum: Float = 0
        var kept = 0
        var previous = -1
        for t in 0..<steps {
            let base = offset + t * classes
            var best = 0
            var bestP = p[base]
            for c in 1..<classes where p[base + c] > bestP {
                best = c
                bestP = p[base + c]
            }
            if best != 0, best != previous {
                text += characters[best]
                sum += bestP
                kept += 1
            }
            previous = best
        }
        return (text, kept == 0 ? 0 : sum / Float(kept))
    }
}
