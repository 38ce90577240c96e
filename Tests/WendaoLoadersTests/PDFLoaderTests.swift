import Foundation
import Synchronization
import Testing
import WendaoTestSupport
import WendaoCore
@testable import WendaoLoaders

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Tests/Fixtures/pdf, found through the real location of this file (it may be reached through a symlink).
private let pdfFixtures: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/pdf")

private func fixture(_ name: String) -> URL { pdfFixtures.appendingPathComponent(name) }

/// The WendaoError a body throws, or nil.
private func pdfError(_ body: () throws -> Void) -> WendaoError? {
    do {
        try body()
        return nil
    } catch let error as WendaoError {
        return error
    } catch {
        return WendaoError(.internal, "unexpected error \(error)")
    }
}

/// A private temporary folder, removed by `remove()`.
private struct Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("pdf-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func file(_ name: String, _ data: Data) throws -> URL {
        let u = url.appendingPathComponent(name)
        try data.write(to: u)
        return u
    }
    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// A tiny PDF writer: pages of ASCII lines in Helvetica, one line per `Tj`, 14 pt leading.
private enum MiniPDF {
    static func make(_ pages: [[String]]) -> Data {
        var out = Array("%PDF-1.4\n%\u{00E2}\u{00E3}\n".utf8)
        var offsets: [Int] = []
        func object(_ body: [UInt8]) {
            offsets.append(out.count)
            out += Array("\(offsets.count) 0 obj\n".utf8) + body + Array("\nendobj\n".utf8)
        }
        let kids = (0..<pages.count).map { "\(4 + 2 * $0) 0 R" }.joined(separator: " ")
        object(Array("<< /Type /Catalog /Pages 2 0 R >>".utf8))
        object(Array("<< /Type /Pages /Kids [\(kids)] /Count \(pages.count) >>".utf8))
        object(Array("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".utf8))
        for (i, lines) in pages.enumerated() {
            object(Array(("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R"
                + " >> >> /Contents \(5 + 2 * i) 0 R >>").utf8))
            var content = "BT /F1 11 Tf 14 TL 72 780 Td\n"
            for line in lines {
                let escaped = line.replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "(", with: "\\(").replacingOccurrences(of: ")", with: "\\)")
                // A blank line is a wide gap, so that pdftotext starts a new block.
                content += escaped.isEmpty ? "0 -30 Td\n" : "(\(escaped)) Tj T*\n"
            }
            content += "ET"
            object(Array("<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream".utf8))
        }
        let xref = out.count
        var tail = "xref\n0 \(offsets.count + 1)\n0000000000 65535 f \n"
        for o in offsets { tail += String(format: "%010d 00000 n \n", o) }
        tail += "trailer\n<< /Size \(offsets.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(out + Array(tail.utf8))
    }
}

/// Peak resident memory of this process and of its waited-for children, in MB.
private func peakRSS() -> (selfMB: Double, childrenMB: Double) {
    var me = rusage()
    var kids = rusage()
    #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &me)
        getrusage(RUSAGE_CHILDREN.rawValue, &kids)
    #else
        getrusage(RUSAGE_SELF, &me)
        getrusage(RUSAGE_CHILDREN, &kids)
    #endif
    return (Double(me.ru_maxrss) / 1024, Double(kids.ru_maxrss) / 1024)
}

private func ocrTemporaryFolders() -> Set<String> {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path))
    return Set((names ?? []).filter { $0.hasPrefix("wendao-ocr-") })
}

private func allText(_ doc: ParsedDocument) -> String { doc.blocks.map(\.text).joined(separator: "\n") }

@Suite(.serialized) struct PDFLoaderTests {
    let limits = LoaderLimits()

    // MARK: - Text PDFs

    @Test func chineseAndEnglishTextPerPage() throws {
        let doc = try PDFLoader.load(fileURL: fixture("text-zh-en.pdf"), limits: limits)
        #expect(doc.title == "问道用户手册 Wendao Manual")
        #expect(Set(doc.blocks.compactMap(\.page)) == [1, 2, 3, 4])
        #expect(doc.blocks.allSatisfy { $0.page != nil })
        let page1 = doc.blocks.filter { $0.page == 1 }.map(\.text)
        // Two Chinese lines of one paragraph join without a space.
        #expect(page1.contains("退货政策：签收后七天内可以申请退货，运费由买家承担。质量问题除外。"))
        #expect(page1.contains("发票在订单完成后开具，电子发票发送到邮箱。"))
        let page2 = doc.blocks.filter { $0.page == 2 }.map(\.text)
        #expect(page2.count == 1)
        #expect(page2.first?.hasPrefix("The warehouse in Hangzhou ships orders within two business days after") == true)
        #expect(doc.blocks.filter { $0.page == 3 }.map(\.text) == ["仓库地址：杭州市余杭区文一西路。营业时间为周一至周五。"])
        #expect(doc.blocks.filter { $0.page == 4 }.count == 1)
        // Running header (问道知识库 · 用户手册) and footer (第 N 页 共 4 页) are gone.
        let text = allText(doc)
        #expect(!text.contains("问道知识库"))
        #expect(!text.contains("用户手册"))
        #expect(!text.contains("共 4 页"))
        #expect(doc.warnings.isEmpty)
    }

    @Test func repeatedHeadersAndFootersAreDroppedButBodyKept() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let topics = ["refunds", "invoices", "shipping", "returns", "warranty", "payment"]
        let pages = (1...6).map { n in
            ["ACME Handbook, edition 2024", "", "Chapter about \(topics[n - 1]) starts here.",
             "Second line on \(topics[n - 1]).", "", "Every page repeats this body sentence.", "",
             "Closing words on \(topics[n - 1]).", "", "Confidential - internal use", "Page \(n) of 6"]
        }
        let url = try scratch.file("handbook.pdf", MiniPDF.make(pages))
        let doc = try PDFLoader.load(fileURL: url, limits: limits)
        let text = allText(doc)
        #expect(!text.contains("ACME Handbook"))
        #expect(!text.contains("Confidential"))
        #expect(!text.contains("of 6"))
        for n in 1...6 {
            let onPage = doc.blocks.filter { $0.page == n }.map(\.text)
            let topic = topics[n - 1]
            #expect(onPage.contains("Chapter about \(topic) starts here. Second line on \(topic)."))
            #expect(onPage.contains("Closing words on \(topic)."))
            // A repeated line in the middle of the page is body text, not a header.
            #expect(onPage.contains("Every page repeats this body sentence."))
        }
        #expect(doc.title == nil)
    }

    @Test func headerOnFewPagesIsKept() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // Two pages only: a repeated first line is not enough evidence of a running header.
        let url = try scratch.file("short.pdf", MiniPDF.make([["Project notes", "", "First body."],
                                                              ["Project notes", "", "Second body."]]))
        let doc = try PDFLoader.load(fileURL: url, limits: limits)
        #expect(doc.blocks.map(\.text) == ["Project notes", "First body.", "Project notes", "Second body."])
        #expect(doc.blocks.map(\.page) == [1, 1, 2, 2])
    }

    @Test func pageNumberLines() {
        for line in ["3", "- 3 -", "— 12 —", "第 3 页", "第3页 共10页", "Page 3 of 10", "page 7", "3/10", "3 / 10",
                     "[4]"] {
            #expect(PDFPageText.isPageNumberLine(line), "\(line)")
        }
        for line in ["3 apples", "Chapter 3", "第三章", "2024年3月", "Page three", "1.5", ""] {
            #expect(!PDFPageText.isPageNumberLine(line), "\(line)")
        }
        #expect(PDFPageText.normalizedKey("第 12 页  共 40 页") == "第 # 页 共 # 页")
    }

    @Test func twoColumnPageKeepsColumnOrder() throws {
        let doc = try PDFLoader.load(fileURL: fixture("two-column.pdf"), limits: limits)
        let text = allText(doc)
        let lastAlpha = try #require(text.range(of: "Alpha line 8", options: .backwards))
        let firstOmega = try #require(text.range(of: "Omega line 1"))
        #expect(lastAlpha.upperBound < firstOmega.lowerBound)
        #expect(!text.contains("column. Omega line 1 of the right column. Alpha"))
    }

    @Test func tableRowsComeOutAsLines() throws {
        let doc = try PDFLoader.load(fileURL: fixture("table.pdf"), limits: limits)
        let texts = doc.blocks.map(\.text)
        #expect(texts.contains("Price list"))
        #expect(texts.contains("SKU | Name | Price"))
        #expect(texts.contains("A100 | Widget | 12.50"))
        #expect(texts.contains("B200 | Gadget | 7.25"))
        #expect(texts.contains("C300 | Sprocket | 3.10"))
        #expect(doc.blocks.allSatisfy { $0.page == 1 })
    }

    @Test func hyphenatedLineEndsRejoinAndOCRSpacesGo() {
        #expect(PDFPageText.joinHyphenated(["The ware-", "house opens.", "Self-", "Service"]) ==
            ["The warehouse opens.", "Self-", "Service"])
        #expect(OCRSupport.removeCJKSpaces("退 货 政 策 ， 发 票 Invoice 2024 号") == "退货政策，发票 Invoice 2024 号")
        #expect(OCRSupport.removeCJKSpaces("第一行\n第二行") == "第一行\n第二行")
    }

    // MARK: - Broken, encrypted and odd files

    @Test func userPasswordIsReported() {
        let error = pdfError { _ = try PDFLoader.load(fileURL: fixture("encrypted-user.pdf"), limits: limits) }
        #expect(error == WendaoError(.unreadable, "password required (encrypted PDF)"))
    }

    @Test func ownerPasswordOnlyIsRead() throws {
        let doc = try PDFLoader.load(fileURL: fixture("encrypted-owner.pdf"), limits: limits)
        #expect(doc.blocks.map(\.text) == ["Owner password only: anyone may open this file."])
    }

    @Test func truncatedPDFIsDamaged() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let whole = try Data(contentsOf: fixture("text-zh-en.pdf"))
        let url = try scratch.file("cut.pdf", whole.prefix(whole.count / 2))
        let error = pdfError { _ = try PDFLoader.load(fileURL: url, limits: limits) }
        #expect(error?.code == .unreadable)
        #expect(error?.message.hasPrefix("damaged PDF: ") == true)
    }

    @Test func randomBytesAreNotAPDF() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var rng = SystemRandomNumberGenerator()
        let noise = Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let error = pdfError {
            _ = try PDFLoader.load(fileURL: try scratch.file("noise.pdf", Data([0x00]) + noise), limits: limits)
        }
        #expect(error == WendaoError(.unreadable, "not a PDF file (no %PDF- header)"))
        let withHeader = try scratch.file("fake.pdf", Data("%PDF-1.7\n".utf8) + noise)
        let damaged = pdfError { _ = try PDFLoader.load(fileURL: withHeader, limits: limits) }
        #expect(damaged?.code == .unreadable)
        #expect(damaged?.message.hasPrefix("damaged PDF") == true)
        let empty = try scratch.file("empty.pdf", Data())
        #expect(pdfError { _ = try PDFLoader.load(fileURL: empty, limits: limits) }?.message == "empty file")
    }

    @Test func tooLargeAndTooManyPages() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let words = ["apple", "pear", "plum", "fig", "kiwi"]
        let url = try scratch.file("five.pdf", MiniPDF.make(words.map { ["Body text about \($0)."] }))
        var small = limits
        small.maxPages = 3
        let doc = try PDFLoader.load(fileURL: url, limits: small)
        #expect(doc.blocks.map(\.text) == ["Body text about apple.", "Body text about pear.", "Body text about plum."])
        #expect(doc.warnings == ["PDF has 5 pages; only the first 3 were read"])
        small.maxBinaryBytes = 100
        #expect(pdfError { _ = try PDFLoader.load(fileURL: url, limits: small) }?.code == .limitExceeded)
    }

    @Test func pathWithSpacesChineseAndLeadingDash() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let folder = scratch.url.appendingPathComponent("-资料 2024")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent("-用户 手册 (final).pdf")
        try FileManager.default.copyItem(at: fixture("text-zh-en.pdf"), to: url)
        let doc = try PDFLoader.load(fileURL: url, limits: limits)
        #expect(doc.blocks.contains { $0.text.contains("营业时间为周一至周五") && $0.page == 3 })
    }

    @Test func twoThousandPages() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
        let pages = (1...2000).map { n in
            ["Manual header", "", "Page body \(n): rule \(words[n % 10]) applies to orders.", "", "\(n)"]
        }
        let url = try scratch.file("big.pdf", MiniPDF.make(pages))
        let start = Date()
        let doc = try PDFLoader.load(fileURL: url, limits: limits)
        let seconds = Date().timeIntervalSince(start)
        #expect(doc.blocks.count == 2000)
        #expect(doc.blocks.last?.page == 2000)
        #expect(doc.blocks.last?.text == "Page body 2000: rule alpha applies to orders.")
        #expect(doc.blocks.first?.text == "Page body 1: rule bravo applies to orders.")
        let rss = peakRSS()
        print(String(format: "[measure] 2,000-page PDF: %.2f s, peak RSS %.0f MB (tools %.0f MB)",
                     seconds, rss.selfMB, rss.childrenMB))
    }

    @Test func hundredPageTiming() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let pages = (1...100).map { n in
            ["Operations manual", ""] + (1...40).map { "Line \($0) of page \(n): orders ship within two days" }
                + ["", "- \(n) -"]
        }
        let url = try scratch.file("hundred.pdf", MiniPDF.make(pages))
        let start = Date()
        let doc = try PDFLoader.load(fileURL: url, limits: limits)
        let seconds = Date().timeIntervalSince(start)
        #expect(Set(doc.blocks.compactMap(\.page)).count == 100)
        #expect(!allText(doc).contains("Operations manual"))
        print(String(format: "[measure] 100-page text PDF (40 lines a page): %.3f s", seconds))
    }

    // MARK: - OCR

    @Test func scannedPageIsOCRd() throws {
        let before = ocrTemporaryFolders()
        let start = Date()
        let doc = try PDFLoader.load(fileURL: fixture("scanned-zh.pdf"), limits: limits)
        let seconds = Date().timeIntervalSince(start)
        let text = allText(doc)
        #expect(text.contains("发票"))
        #expect(text.contains("仓库"))
        #expect(text.contains("Invoice"))
        #expect(!text.contains("发 票"))
        #expect(doc.blocks.allSatisfy { $0.page == 1 })
        #expect(doc.warnings.contains("page 1 read by OCR"))
        #expect(ocrTemporaryFolders().subtracting(before).isEmpty)
        print(String(format: "[measure] OCR of one 300 dpi Chinese page: %.2f s", seconds))
    }

    @Test func scannedPageWithoutOCRNeedsOCR() {
        var off = limits
        off.ocrEnabled = false
        let error = pdfError { _ = try PDFLoader.load(fileURL: fixture("scanned-zh.pdf"), limits: off) }
        #expect(error?.code == .unsupported)
        #expect(error?.message.hasPrefix("needs OCR — install tesseract-ocr") == true)
    }

    @Test func someTextlessPagesAreReportedWhenOCRIsOff() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let url = try scratch.file("gaps.pdf", MiniPDF.make([["Intro text."], [], ["Middle text."], []]))
        var off = limits
        off.ocrEnabled = false
        let doc = try PDFLoader.load(fileURL: url, limits: off)
        #expect(doc.blocks.map(\.text) == ["Intro text.", "Middle text."])
        #expect(doc.blocks.map(\.page) == [1, 3])
        #expect(doc.warnings == ["pages 2, 4 need OCR — install tesseract-ocr (OCR is turned off)"])
        #expect(PDFPageText.pageList([1, 2, 3, 5, 8, 9]) == "1–3, 5, 8, 9")
    }

    @Test func ocrReportsEachPageOnce() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let url = try scratch.file("gaps.pdf", MiniPDF.make([["Intro text."], [], ["Middle text."], [], []]))
        let seen = Mutex([(Int, Int)]())
        var reporting = limits
        reporting.ocrProgress = { done, total in seen.withLock { $0.append((done, total)) } }
        _ = try PDFLoader.load(fileURL: url, limits: reporting)
        let calls = seen.withLock { $0 }
        // The three textless pages: announced, then each page once, in any order of completion.
        #expect(calls.first.map { $0 == (0, 3) } == true)
        #expect(calls.dropFirst().map(\.0).sorted() == [1, 2, 3])
        #expect(calls.allSatisfy { $0.1 == 3 })
    }

    @Test func fontWithoutUnicodeMapIsGarbledThenOCRd() throws {
        let raw = try PDFLoader.extractText(path: fixture("no-unicode-map.pdf").path, pageCount: 1, layout: false,
                                            limits: limits)
        #expect(PDFPageText.quality(raw[0]) == .garbled)
        let doc = try PDFLoader.load(fileURL: fixture("no-unicode-map.pdf"), limits: limits)
        let text = allText(doc).lowercased()
        #expect(text.contains("refund"))
        #expect(text.contains("invoices"))
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        #expect(doc.warnings.contains("page 1 read by OCR"))
        var off = limits
        off.ocrEnabled = false
        let error = pdfError { _ = try PDFLoader.load(fileURL: fixture("no-unicode-map.pdf"), limits: off) }
        #expect(error?.code == .unsupported)
    }

    @Test func garbledTextDetection() {
        #expect(PDFPageText.quality("退货政策 Refund policy 2024") == .text)
        #expect(PDFPageText.quality("  \n\n \u{0C}") == .empty)
        #expect(PDFPageText.quality("(cid:12)(cid:45)(cid:3) (cid:99)(cid:7)") == .garbled)
        #expect(PDFPageText.quality("\u{E001}\u{E002}\u{E003} ab") == .garbled)
        #expect(PDFPageText.quality("\u{01}\u{02}\u{03}\u{04} Wx") == .garbled)
        #expect(PDFPageText.quality("!!## %%&& ** ++ ,, ;; ==") == .garbled)
        #expect(PDFPageText.quality("12 345 6789") == .text)
    }

    @Test func imagesAreOCRd() throws {
        for name in ["scan.png", "scan.jpg"] {
            let doc = try ImageLoader.load(fileURL: fixture(name), limits: limits)
            let text = allText(doc)
            #expect(text.contains("发票"), "\(name)")
            #expect(text.contains("Invoice"), "\(name)")
            #expect(doc.blocks.allSatisfy { $0.page == nil })
            #expect(doc.title == nil)
        }
        let tiff = try ImageLoader.load(fileURL: fixture("two-pages.tiff"), limits: limits)
        #expect(tiff.blocks.filter { $0.page == 1 }.map(\.text).joined().contains("退货"))
        #expect(tiff.blocks.filter { $0.page == 2 }.map(\.text).joined().contains("发票"))
        #expect(Set(tiff.blocks.compactMap(\.page)) == [1, 2])
    }

    @Test func imageRules() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // A PNG with a misleading name is still read (tesseract would take *.txt for a list of images).
        let renamed = try scratch.file("scan.txt", try Data(contentsOf: fixture("scan.png")))
        #expect(allText(try ImageLoader.load(fileURL: renamed, limits: limits)).contains("发票"))
        var off = limits
        off.ocrEnabled = false
        let error = pdfError { _ = try ImageLoader.load(fileURL: fixture("scan.png"), limits: off) }
        #expect(error?.code == .unsupported)
        #expect(error?.message.hasPrefix("needs OCR — install tesseract-ocr") == true)
        let gif = try scratch.file("a.gif", Data("GIF89a\u{01}\u{00}\u{01}\u{00}".utf8))
        #expect(pdfError { _ = try ImageLoader.load(fileURL: gif, limits: limits) }?.code == .unsupported)
        var onlyFake = limits
        onlyFake.ocrLanguages = ["zz_fake"]
        onlyFake.ocrEngine = .tesseract
        let noLanguage = pdfError { _ = try ImageLoader.load(fileURL: fixture("scan.png"), limits: onlyFake) }
        #expect(noLanguage?.message == "needs OCR — no OCR language installed: install tesseract-ocr-zz-fake")
    }

    @Test func ocrStatusNamesMissingLanguagePackages() {
        let status = OCRSupport.status(languages: ["chi_sim", "eng", "zz_fake", "eng"])
        #expect(status.installed)
        #expect(status.available == ["chi_sim", "eng"])
        #expect(status.missing == ["zz_fake"])
        #expect(status.missingPackages == ["tesseract-ocr-zz-fake"])
        #expect(status.missingWarning == "OCR language zz_fake not installed — install tesseract-ocr-zz-fake")
        #expect(OCRSupport.debianPackage(forLanguage: "chi_tra") == "tesseract-ocr-chi-tra")
    }

    // MARK: - External tools

    @Test func hangingToolIsKilledAtTheTimeLimit() {
        var quick = limits
        quick.toolSeconds = 1
        let start = Date()
        let error = pdfError { _ = try ExternalTool.run("/bin/sleep", arguments: ["30"], limits: quick) }
        let seconds = Date().timeIntervalSince(start)
        #expect(error == WendaoError(.limitExceeded, "sleep was stopped after 1 s"))
        #expect(seconds < 5)
    }

    @Test func memoryLimitFailsCleanly() {
        // Tesseract's memory limit (PP-OCR runs in this process, outside the tools' limits).
        var tight = limits
        tight.ocrEngine = .tesseract
        tight.toolMemoryBytes = 100 << 20
        let before = ocrTemporaryFolders()
        let error = pdfError { _ = try PDFLoader.load(fileURL: fixture("scanned-zh.pdf"), limits: tight) }
        #expect(error?.code == .limitExceeded)
        #expect(error?.message.contains("memory") == true)
        #expect(ocrTemporaryFolders().subtracting(before).isEmpty)
    }

    @Test func outputCapAndMissingTool() {
        let capped = pdfError {
            _ = try ExternalTool.run("yes", arguments: ["wendao"], limits: limits, maxOutputBytes: 1 << 20)
        }
        #expect(capped?.code == .limitExceeded)
        let missing = pdfError {
            _ = try ExternalTool.run("wendao-no-such-tool", arguments: [], limits: limits)
        }
        #expect(missing?.code == .unsupported)
        #expect(missing?.message.hasPrefix("wendao-no-such-tool is not installed — install ") == true)
        #expect(ExternalTool.debianPackage(for: "pdftotext") == "poppler-utils")
        #expect(ExternalTool.debianPackage(for: "tesseract") == "tesseract-ocr")
    }

    @Test func toolsRunFromManyThreadsAtOnce() throws {
        let limits = self.limits
        let results = Concurrently.map(24, width: 8) { i -> String in
            let r = try? ExternalTool.run("printf", arguments: ["%s|%s", "job \(i)", "-x"], limits: limits)
            return r.map { String(decoding: $0.stdout, as: UTF8.self) } ?? "failed"
        }
        #expect(results == (0..<24).map { "job \($0)|-x" })
        let r = try ExternalTool.run("sh", arguments: ["-c", "echo oops >&2; read x; echo got:$x; exit 3"],
                                     limits: limits)
        #expect(r.status == 3)
        #expect(r.firstErrorLine == "oops")
        #expect(String(decoding: r.stdout, as: UTF8.self) == "got:\n")  // stdin is closed
    }
}
