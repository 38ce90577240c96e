import Foundation
import Testing
import WendaoCore
import WendaoLoaders
@testable import WendaoOCR

// MARK: - Fixtures and models

/// Tests/Fixtures/ocr (made once by scripts/make-ocr-fixtures.py with RapidOCR 1.4.4).
private let fixtures: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/ocr")

private func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

/// The pulled models (`wendao models pull ppocr`, which scripts/test.sh runs).
private let sharedEngine: Result<PPOCREngine, any Error> = Result {
    guard let dir = PPOCRModels.installed() else {
        throw WendaoError(
            .notFound, "PP-OCR models not found in \(PPOCRModels.directory().path): run wendao models pull ppocr")
    }
    return try PPOCREngine(directory: dir)
}

private func engine() throws -> PPOCREngine { try sharedEngine.get() }

private struct ParityPage: Decodable {
    struct Line: Decodable {
        var box: [[Double]]
        var text: String
    }
    var lines: [Line]
}

private struct ParityLines: Decodable {
    struct Line: Decodable {
        var image: String
        var text: String
    }
    var lines: [Line]
}

private func random(_ n: Int, seed: inout UInt64) -> [Float] {
    (0..<n).map { _ in
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(seed >> 33) % 2001 - 1000) / 1000
    }
}

private func close(_ a: [Float], _ b: [Float], tolerance: Float = 1e-3) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
}

// MARK: - Kernels against scalar references

@Suite struct OCRKernelTests {
    @Test(arguments: [(1, 1, 1), (5, 37, 19), (8, 16, 64), (13, 100, 3), (4, 15, 1)])
    func gemmMatchesScalar(m: Int, n: Int, k: Int) {
        var seed: UInt64 = UInt64(m * 1000 + n * 10 + k)
        let a = random(m * k, seed: &seed), b = random(k * n, seed: &seed), bias = random(m, seed: &seed)
        var c = [Float](repeating: .nan, count: m * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                bias.withUnsafeBufferPointer { pbias in
                    c.withUnsafeMutableBufferPointer { pc in
                        OCRKernels.gemm(
                            m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                            c: pc.baseAddress!, ldc: n, bias: pbias.baseAddress!, threads: 2)
                    }
                }
            }
        }
        var ref = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n { ref[i * n + j] = bias[i] + (0..<k).reduce(0) { $0 + a[i * k + $1] * b[$1 * n + j] } }
        }
        #expect(close(c, ref))
    }

    /// Direct convolution, the reference for every path (im2col + GEMM, 1×1, grouped, depthwise).
    private func referenceConv(
        _ x: [Float], cin: Int, h: Int, w: Int, _ wt: [Float], _ bias: [Float], cout: Int, group: Int,
        _ g: OCRKernels.Window
    ) -> [Float] {
        let (oh, ow) = g.outSize(h, w)
        let cinG = cin / group, coutG = cout / group
        var y = [Float](repeating: 0, count: cout * oh * ow)
        for co in 0..<cout {
            let gi = co / coutG
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var s = bias[co]
                    for ci in 0..<cinG {
                        for ky in 0..<g.kh {
                            for kx in 0..<g.kw {
                                let iy = oy * g.sh - g.padTop + ky * g.dh, ix = ox * g.sw - g.padLeft + kx * g.dw
                                if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                                s +=
                                    x[((gi * cinG + ci) * h + iy) * w + ix]
                                    * wt[((co * cinG + ci) * g.kh + ky) * g.kw + kx]
                            }
                        }
                    }
                    y[(co * oh + oy) * ow + ox] = s
                }
            }
        }
        return y
    }

    @Test(arguments: [
        // cin, cout, group, k, stride (h, w), pad
        (3, 8, 1, 3, 2, 2, 1), (8, 16, 1, 1, 1, 1, 0), (16, 16, 16, 5, 2, 1, 2), (12, 12, 12, 3, 1, 1, 1),
        (4, 6, 2, 3, 1, 2, 1), (24, 24, 24, 3, 1, 2, 1),
    ])
    func convolutionMatchesScalar(cin: Int, cout: Int, group: Int, k: Int, sh: Int, sw: Int, pad: Int) {
        var seed: UInt64 = UInt64(cin * 31 + cout * 7 + k)
        let (h, w) = (11, 23)
        let x = random(cin * h * w, seed: &seed)
        let wt = random(cout * (cin / group) * k * k, seed: &seed), bias = random(cout, seed: &seed)
        let g = OCRKernels.Window(
            kh: k, kw: k, sh: sh, sw: sw, padTop: pad, padLeft: pad, padBottom: pad, padRight: pad)
        let (oh, ow) = g.outSize(h, w)
        var y = [Float](repeating: .nan, count: cout * oh * ow)
        x.withUnsafeBufferPointer { px in
            wt.withUnsafeBufferPointer { pw in
                bias.withUnsafeBufferPointer { pb in
                    y.withUnsafeMutableBufferPointer { py in
                        OCRKernels.conv2d(
                            x: px.baseAddress!, cin: cin, h: h, w: w, weight: pw.baseAddress!,
                            bias: pb.baseAddress!, cout: cout, group: group, window: g,
                            y: py.baseAddress!, threads: 2)
                    }
                }
            }
        }
        #expect(close(y, referenceConv(x, cin: cin, h: h, w: w, wt, bias, cout: cout, group: group, g)))
    }

    @Test func transposedConvolutionMatchesScalar() {
        var seed: UInt64 = 99
        let (cin, cout, h, w, k, s) = (6, 4, 5, 7, 2, 2)
        let x = random(cin * h * w, seed: &seed), wt = random(cin * cout * k * k, seed: &seed),
            bias = random(cout, seed: &seed)
        var wT = [Float](repeating: 0, count: wt.count)
        for a in 0..<cin { for b in 0..<(cout * k * k) { wT[b * cin + a] = wt[a * cout * k * k + b] } }
        let (oh, ow) = ((h - 1) * s + k, (w - 1) * s + k)
        var y = [Float](repeating: .nan, count: cout * oh * ow)
        x.withUnsafeBufferPointer { px in
            wT.withUnsafeBufferPointer { pw in
                bias.withUnsafeBufferPointer { pb in
                    y.withUnsafeMutableBufferPointer { py in
                        OCRKernels.convTranspose2d(
                            x: px.baseAddress!, cin: cin, h: h, w: w, weightT: pw.baseAddress!,
                            bias: pb.baseAddress!, cout: cout, kh: k, kw: k, sh: s, sw: s,
                            padTop: 0, padLeft: 0, oh: oh, ow: ow, y: py.baseAddress!, threads: 2)
                    }
                }
            }
        }
        var ref = [Float](repeating: 0, count: y.count)
        for co in 0..<cout { for i in 0..<(oh * ow) { ref[co * oh * ow + i] = bias[co] } }
        for ci in 0..<cin {
            for co in 0..<cout {
                for iy in 0..<h {
                    for ix in 0..<w {
                        for ky in 0..<k {
                            for kx in 0..<k {
                                ref[(co * oh + iy * s + ky) * ow + ix * s + kx] +=
                                    x[(ci * h + iy) * w + ix] * wt[((ci * cout + co) * k + ky) * k + kx]
                            }
                        }
                    }
                }
            }
        }
        #expect(close(y, ref))
    }

    @Test func broadcastingMatchesNumpyRules() throws {
        let a = Tensor(shape: [1, 2, 2, 3], data: (0..<12).map(Float.init))
        let b = Tensor(shape: [1, 2, 1, 1], data: [10, 20])
        let c = try ONNXGraph.binary(a, b) { $0 + $1 }
        #expect(c.shape == [1, 2, 2, 3])
        #expect(c.data == [10, 11, 12, 13, 14, 15, 26, 27, 28, 29, 30, 31])
        let row = Tensor(shape: [3], data: [1, 2, 3])
        #expect(try ONNXGraph.binary(a, row) { $0 * $1 }.data.prefix(6) == [0, 2, 6, 3, 8, 15])
        #expect(throws: WendaoError.self) { try ONNXGraph.binary(a, Tensor(shape: [2], data: [1, 2])) { $0 + $1 } }
    }
}

// MARK: - Preprocessing, bit for bit with OpenCV and pyclipper

private struct PreprocessingFixture: Decodable {
    struct Resize: Decodable {
        var width: Int
        var height: Int
        var sha256: String
    }
    struct Unclip: Decodable {
        var box: [[Double]]
        var expanded: [[Int64]]
        var miniBox: [[Double]]
        enum CodingKeys: String, CodingKey {
            case box, expanded
            case miniBox = "mini_box"
        }
    }
    var resize: [Resize]
    var unclip: [Unclip]
}

@Suite struct OCRPreprocessingTests {
    fileprivate let expected: PreprocessingFixture = {
        // A missing or damaged fixture leaves the lists empty, which the tests' first expectation catches.
        (try? JSONDecoder().decode(PreprocessingFixture.self, from: Data(contentsOf: fixture("preprocessing.json"))))
            ?? PreprocessingFixture(resize: [], unclip: [])
    }()

    @Test func resizeIsOpenCVsBitForBit() throws {
        #expect(expected.resize.count >= 5)
        let page = try OCRImageDecoder.decode(fileAt: fixture("page-zh.png"))
        for r in expected.resize {
            var hash = SHA256()
            hash.update(page.resized(width: r.width, height: r.height).pixels)
            #expect(hash.hexDigest() == r.sha256, "\(page.width)×\(page.height) → \(r.width)×\(r.height)")
        }
    }

    @Test func unclipIsPyclippersRoundOffset() {
        #expect(expected.unclip.count >= 4)
        for u in expected.unclip {
            let box = u.box.map { Point($0[0], $0[1]) }
            let got = DBPostProcess.unclip(box, ratio: 1.6)
            // Clipper's union may start the polygon elsewhere and drop collinear points: compare the hulls.
            let want = u.expanded.map { Point(Double($0[0]), Double($0[1])) }
            #expect(
                Set(Geometry.convexHull(got).map { "\($0.x),\($0.y)" })
                    == Set(Geometry.convexHull(want).map { "\($0.x),\($0.y)" }), "\(u.box)")
            let (mini, _) = DBPostProcess.miniBox(got)
            for (p, q) in zip(mini, u.miniBox) {
                #expect(abs(p.x - q[0]) < 1e-3 && abs(p.y - q[1]) < 1e-3, "\(u.box): \(p) vs \(q)")
            }
        }
    }
}

// MARK: - Models, parity with RapidOCR

@Suite(.serialized) struct PPOCRParityTests {
    @Test func pageMatchesRapidOCR() throws {
        let expected = try JSONDecoder().decode(ParityPage.self, from: Data(contentsOf: fixture("page-zh.json")))
        let image = try OCRImageDecoder.decode(fileAt: fixture("page-zh.png"))
        let lines = try engine().recognize(image, threads: 2)
        #expect(lines.map(\.text) == expected.lines.map(\.text))
        for (got, want) in zip(lines, expected.lines) {
            for (p, q) in zip(got.box, want.box) {
                #expect(abs(p.x - q[0]) <= 1 && abs(p.y - q[1]) <= 1, "\(got.text): \(p) vs \(q)")
            }
        }
    }

    @Test func cleanCropsReadIdentically() throws {
        let expected = try JSONDecoder().decode(ParityLines.self, from: Data(contentsOf: fixture("lines.json")))
        let e = try engine()
        let crops = try expected.lines.map { try OCRImageDecoder.decode(fileAt: fixture($0.image)) }
        let got = try e.recognizeLines(crops, threads: 2)
        #expect(got.map(\.0) == expected.lines.map(\.text))
    }

    @Test(arguments: ["page-cmyk.jpg", "page-16bit.tiff", "page-exif6.jpg"])
    func otherEncodingsReadTheSame(name: String) throws {
        let image = try OCRImageDecoder.decode(fileAt: fixture(name))
        #expect(image.width == 640 && image.height == 288, "EXIF orientation and decoding give the upright page")
        let text = try engine().recognize(image, threads: 2).map(\.text)
        #expect(text.contains("退货与退款说明"))
        #expect(text.contains("客服热线400-820-5566") || text.contains("客服热线 400-820-5566"))
    }

    /// Columns of upright characters read right to left, each top to bottom, under a horizontal title
    /// (the fixture's text is in scripts/make-ocr-fixtures.py).
    @Test func verticalWritingIsReadColumnByColumnFromTheRight() throws {
        let image = try OCRImageDecoder.decode(fileAt: fixture("page-vertical.png"))
        let lines = try engine().recognize(image, threads: 2)
        let want = [
            "迅达快运生鲜寄递须知", "冷链包裹请在寄件时注明", "生鲜类物品需使用保温箱", "签收时请当面检查外包装", "破损请拍照并联系客服",
            "理赔须在七日内提出申请",
        ]
        #expect(Set(lines.map(\.text)) == Set(want))
        #expect(ReadingOrder.blocks(lines).flatMap { $0 } == want)
        for l in lines {
            let topLeft = l.box.min { $0.x + $0.y < $1.x + $1.y }
            #expect(l.box[0] == topLeft, "\(l.text): the box starts at its top-left corner")
        }
    }

    @Test func upsideDownLinesAreTurned() throws {
        let image = try OCRImageDecoder.decode(fileAt: fixture("page-zh.png")).rotated180()
        let text = try engine().recognize(image, threads: 2).map(\.text).joined(separator: "\n")
        #expect(text.contains("退货与退款说明"))
    }

    /// A page on its side or upside down is read in the upright page's order, every line kept.
    @Test(arguments: [90, 180, 270])
    func turnedPagesReadInOrder(turn: Int) throws {
        let expected = try JSONDecoder().decode(ParityPage.self, from: Data(contentsOf: fixture("page-zh.json")))
        let upright = try OCRImageDecoder.decode(fileAt: fixture("page-zh.png"))
        // `turn` degrees clockwise: a quarter clockwise is three counter-clockwise.
        let image =
            turn == 180
            ? upright.rotated180()
            : turn == 90 ? upright.rotatedCounterClockwise().rotated180() : upright.rotatedCounterClockwise()
        let lines = try engine().recognize(image, threads: 2)
        let text = ReadingOrder.text(lines)
        var last = text.startIndex
        // (A line's final full stop may be lost on a sideways page: the crop is resampled differently.)
        for want in expected.lines.map({ $0.text.trimmingCharacters(in: .punctuationCharacters) }) {
            let range = try #require(
                text.range(of: want, range: last..<text.endIndex), "\(want) after the previous line")
            last = range.upperBound
        }
        // Boxes are in the upright page's coordinates.
        let title = try #require(lines.first { $0.text == "退货与退款说明" })
        #expect(title.bounds.maxX <= Double(upright.width) + 1 && title.bounds.maxY <= Double(upright.height) + 1)
        #expect(title.bounds.maxX - title.bounds.minX > title.bounds.maxY - title.bounds.minY)
    }

    @Test func lineEvidenceGivesThePageTurn() {
        let t = true, f = false
        #expect(PPOCREngine.pageTurn(tall: [f, f, f, f], flipped: [f, f, f, f]) == 0)
        #expect(PPOCREngine.pageTurn(tall: [f, f, f, f], flipped: [t, t, t, f]) == 180)
        #expect(PPOCREngine.pageTurn(tall: [t, t, t, f], flipped: [f, f, f, f]) == 90)
        #expect(PPOCREngine.pageTurn(tall: [t, t, t, t], flipped: [t, t, t, f]) == 270)
        // Too few lines, or no clear majority: left as it is.
        #expect(PPOCREngine.pageTurn(tall: [t, t], flipped: [t, t]) == 0)
        #expect(PPOCREngine.pageTurn(tall: [t, t, f, f], flipped: [f, f, f, f]) == 0)
        #expect(PPOCREngine.pageTurn(tall: [t, t, t, t, t, t], flipped: [t, t, t, f, f, f]) == 0)
    }

    @Test func noTextAndTinyImagesGiveNoLines() throws {
        #expect(try engine().recognize(try OCRImageDecoder.decode(fileAt: fixture("blank.png")), threads: 2).isEmpty)
        let one = OCRImage(width: 1, height: 1, pixels: [255, 255, 255])
        #expect(try engine().recognize(one, threads: 1).isEmpty)
        let line = OCRImage(width: 3000, height: 2, pixels: [UInt8](repeating: 0, count: 3000 * 2 * 3))
        #expect(try engine().recognize(line, threads: 1).isEmpty)
    }

    @Test func samplesScannedNoticeIsReadByPPOCRByDefault() throws {
        let notice = fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Samples/logistics/notices/扫描件-春节网点营业安排.pdf")
        let doc = try PDFLoader.load(fileURL: notice, limits: LoaderLimits())
        let text = doc.blocks.map(\.text).joined(separator: "\n")
        #expect(doc.warnings.contains("OCR engine PP-OCR: page 1"))
        #expect(doc.blocks.allSatisfy { $0.page == 1 })
        #expect(text.contains("2月16日（除夕）至2月18日（正月初二）"))
        #expect(text.contains("400-820-5566"))
        var tesseract = LoaderLimits()
        tesseract.ocrEngine = .tesseract
        let byTesseract = try PDFLoader.load(fileURL: notice, limits: tesseract)
        #expect(byTesseract.warnings.contains("OCR engine Tesseract: page 1"))
    }
}

// MARK: - Bad input

@Suite struct OCRBadInputTests {
    /// A PNG whose header claims 30000×30000 pixels in a file of a few dozen bytes.
    @Test func hugeHeaderIsRefusedBeforeAllocating() throws {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var ihdr: [UInt8] = Array("IHDR".utf8)
        for v in [UInt32(30000), 30000] {
            ihdr += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        }
        ihdr += [8, 2, 0, 0, 0]
        png += [0, 0, 0, 13] + ihdr
        var crc: UInt32 = 0xFFFF_FFFF
        for b in ihdr {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        png += [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        let error = #expect(throws: WendaoError.self) { try OCRImageDecoder.decode(Data(png)) }
        #expect(error?.code == .limitExceeded)
        #expect(error?.message.contains("30000×30000") == true)
        #expect(throws: WendaoError.self) { try OCRImage.checkSize(width: 30000, height: 30000) }
    }

    @Test func truncatedAndDamagedImagesAreErrorsOrFlagged() throws {
        let jpeg = try Data(contentsOf: fixture("page-cmyk.jpg"))
        // Cut in the middle of the scan data: decoded with grey filled in, and flagged.
        let cut = try OCRImageDecoder.decodePageData(jpeg.prefix(jpeg.count / 2))
        #expect(cut.damaged)
        // Cut inside the header: an error naming the damage.
        let header = #expect(throws: WendaoError.self) { try OCRImageDecoder.decode(jpeg.prefix(40)) }
        #expect(header?.code == .unreadable)
        let png = try Data(contentsOf: fixture("page-zh.png"))
        #expect(throws: WendaoError.self) { try OCRImageDecoder.decode(png.prefix(png.count / 2)) }
        #expect(throws: WendaoError.self) { try OCRImageDecoder.decode(Data("GIF89a".utf8)) }
    }

    @Test func damagedOrWrongModelsAreRefused() throws {
        let wrong = #expect(throws: WendaoError.self) {
            _ = try ONNXGraph(try ONNXModel(contentsOf: fixture("wrong-op.onnx")))
        }
        #expect(wrong?.message.contains("unsupported operator Einsum") == true)
        #expect(throws: WendaoError.self) { _ = try ONNXModel(bytes: Array("not a model at all".utf8)) }
        #expect(throws: WendaoError.self) { _ = try ONNXModel(bytes: []) }
        // A real model cut short, and one with a flipped length byte.
        guard let dir = PPOCRModels.installed() else { throw WendaoError(.notFound, "run wendao models pull ppocr") }
        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(PPOCREngine.classifierFile)))
        #expect(throws: WendaoError.self) { _ = try ONNXModel(bytes: Array(bytes.prefix(bytes.count / 3))) }
        #expect(throws: WendaoError.self) { _ = try ONNXModel(bytes: Array(bytes.dropFirst(7))) }
        // A folder whose recogniser is damaged: the engine refuses to load, naming the file.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ppocr-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        for f in PPOCRModels.files {
            try FileManager.default.copyItem(
                at: dir.appendingPathComponent(f.name), to: scratch.appendingPathComponent(f.name))
        }
        let rec = scratch.appendingPathComponent(PPOCREngine.recogniserFile)
        try Data(try Data(contentsOf: rec).prefix(5000)).write(to: rec)
        let e = #expect(throws: WendaoError.self) { _ = try PPOCREngine(directory: scratch) }
        #expect(e?.message.contains(PPOCREngine.recogniserFile) == true)
    }
}

// MARK: - Reading order

@Suite struct ReadingOrderTests {
    private func line(_ x: Double, _ y: Double, _ w: Double, _ text: String, h: Double = 20) -> OCRTextLine {
        OCRTextLine(box: [Point(x, y), Point(x + w, y), Point(x + w, y + h), Point(x, y + h)], text: text, score: 1)
    }

    @Test func twoColumnsAreReadColumnByColumn() {
        var lines = [line(0, 0, 600, "标题横跨两栏")]
        for i in 0..<4 {
            lines.append(line(0, 60 + Double(i) * 30, 260, "左\(i)"))
            lines.append(line(340, 60 + Double(i) * 30, 260, "右\(i)"))
        }
        let text = ReadingOrder.text(lines.shuffled())
        let order = ["标题横跨两栏", "左0", "左1", "左2", "左3", "右0", "右1", "右2", "右3"]
        let positions = order.map { text.range(of: $0)!.lowerBound }
        #expect(positions == positions.sorted(), "\(text)")
    }

    @Test func aLineStandingAcrossTheOthersIsReadOnItsOwn() {
        // A tall strip (a title over vertical writing, the page turned back) a little left of five
        // rows: read before them, never joined to the row it crosses.
        var lines = [line(0, 0, 30, "竖排标题", h: 150)]
        for i in 0..<5 { lines.append(line(60, Double(i) * 30, 380, "第\(i)行")) }
        #expect(ReadingOrder.blocks(lines.shuffled()) == [["竖排标题"], (0..<5).map { "第\($0)行" }])
    }

    @Test func indentedLinesStartParagraphs() {
        let lines = [
            line(40, 0, 500, "一、第一段的第一行"), line(0, 30, 540, "第一段的第二行"),
            line(40, 60, 500, "二、第二段"), line(0, 90, 300, "第二段续"),
        ]
        #expect(ReadingOrder.blocks(lines) == [["一、第一段的第一行", "第一段的第二行"], ["二、第二段", "第二段续"]])
    }

    @Test func tablesAreReadRowByRow() {
        var lines: [OCRTextLine] = []
        for r in 0..<3 {
            lines.append(line(0, Double(r) * 30, 60, "品名\(r)"))
            lines.append(line(300, Double(r) * 30, 40, "\(r)元"))
        }
        let rows = ReadingOrder.blocks(lines.shuffled()).flatMap { $0 }
        #expect(rows == ["品名0  0元", "品名1  1元", "品名2  2元"])
    }
}
