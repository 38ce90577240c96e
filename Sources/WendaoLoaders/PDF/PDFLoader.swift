public import Foundation
import Synchronization
import WendaoCore

/// Reads PDF files with poppler (`pdfinfo`, `pdftotext`) and, for pages without a usable text layer,
/// tesseract OCR on pages rendered by `pdftoppm`.
///
/// Every page's paragraphs become blocks with ``Block/page`` set (1-based). Running headers, footers and
/// page numbers are dropped; pages whose text layer is empty or garbled are sent to OCR when it is
/// installed and enabled.
///
/// ```swift
/// let parsed = try PDFLoader.load(fileURL: URL(fileURLWithPath: "/kb/manual.pdf"), limits: LoaderLimits())
/// for block in parsed.blocks { print(block.page ?? 0, block.text) }
/// ```
public enum PDFLoader {
    /// Pages read by one pdftotext run.
    static let pagesPerRun = 200

    /// Loads one PDF file.
    ///
    /// - Parameters:
    ///   - fileURL: The PDF file.
    ///   - limits: Size, page, time and memory limits, and the OCR settings.
    /// - Returns: The title (from the metadata, when meaningful), the blocks and warnings (pages beyond
    ///   ``LoaderLimits/maxPages``, pages OCR'd or needing OCR, missing OCR languages).
    /// - Throws: ``WendaoError`` — `unreadable` (not a PDF, damaged, password required), `unsupported`
    ///   (poppler not installed, or the file needs OCR that cannot run), `limitExceeded` (too large, a tool
    ///   ran out of time or memory).
    public static func load(fileURL: URL, limits: LoaderLimits) throws -> ParsedDocument {
        let path = try BinaryInput.check(fileURL, limits: limits)
        try BinaryInput.requirePDFHeader(path)
        let info = try PDFInfo.read(path: path, limits: limits)
        var warnings: [String] = []
        guard info.pages > 0 else { throw WendaoError(.unreadable, "damaged PDF: no pages") }
        let pageCount = min(info.pages, max(1, limits.maxPages))
        if info.pages > pageCount {
            warnings.append("PDF has \(info.pages) pages; only the first \(pageCount) were read")
        }

        // 1. Text layer, page by page.
        var texts = try extractText(path: path, pageCount: pageCount, layout: false, limits: limits)
        var pages = texts.map { PDFPageText.lines($0) }
        var needOCR: [Int] = []
        var layoutPages = Set<Int>()
        for i in pages.indices {
            switch PDFPageText.quality(texts[i]) {
            case .text:
                if PDFPageText.looksLikeTable(pages[i]) { layoutPages.insert(i + 1) }
            case .empty, .garbled:
                needOCR.append(i + 1)
                pages[i] = []
            }
        }
        texts = []
        if !layoutPages.isEmpty {
            let layout = try extractLayout(path: path, pages: layoutPages.sorted(), limits: limits)
            for (page, text) in layout { pages[page - 1] = PDFPageText.lines(text) }
        }

        // 2. OCR for pages without a usable text layer.
        var ocrPages = Set<Int>()
        var layoutOCRPages = Set<Int>()
        if !needOCR.isEmpty {
            let hasText = needOCR.count < pageCount
            let list = PDFPageText.pageList(needOCR)
            let plan = OCRPlan(limits: limits)
            if plan.canRun {
                warnings += plan.notes
                let results = ocr(path: path, pages: needOCR, plan: plan, limits: limits)
                var failures: [String] = []
                var firstError: (any Error)?
                var readers: [PPOCRSupport.Reader: [Int]] = [:]
                for (page, result) in zip(needOCR, results) {
                    switch result {
                    case .success(let (text, reader)):
                        pages[page - 1] = PDFPageText.lines(text)
                        ocrPages.insert(page)
                        readers[reader, default: []].append(page)
                        // PP-OCR writes table rows with cells two spaces apart: read them as rows.
                        if reader == .ppocr, text.contains("  ") { layoutOCRPages.insert(page) }
                    case .failure(let error):
                        firstError = firstError ?? error
                        failures.append("page \(page): \(error)")
                    }
                }
                if ocrPages.isEmpty, !hasText, let firstError { throw firstError }
                if !ocrPages.isEmpty {
                    let s = ocrPages.count == 1 ? "" : "s"
                    warnings.append("page\(s) \(PDFPageText.pageList(ocrPages.sorted())) read by OCR")
                    for reader in [PPOCRSupport.Reader.ppocr, .tesseract] {
                        guard let list = readers[reader], !list.isEmpty else { continue }
                        let s = list.count == 1 ? "" : "s"
                        warnings.append("OCR engine \(reader.rawValue): page\(s) \(PDFPageText.pageList(list.sorted()))")
                    }
                }
                warnings += failures.prefix(10).map { "OCR failed on \($0)" }
            } else {
                let reason = plan.cannotRunReason
                if !hasText { throw WendaoError(.unsupported, "needs OCR — \(reason)") }
                let s = needOCR.count == 1 ? "" : "s"
                let verb = needOCR.count == 1 ? "needs" : "need"
                warnings.append("page\(s) \(list) \(verb) OCR — \(reason)")
            }
        }

        // 3. Running headers, footers, page numbers; then paragraphs.
        PDFPageText.removeRunningLines(&pages)
        var blocks: [Block] = []
        for (i, lines) in pages.enumerated() {
            let page = i + 1
            if layoutPages.contains(page) || layoutOCRPages.contains(page) {
                blocks += PDFPageText.layoutBlocks(lines, page: page)
            } else {
                blocks += PDFPageText.paragraphs(lines, page: page)
            }
        }
        if blocks.isEmpty { warnings.append("no text found") }
        return ParsedDocument(title: PDFPageText.meaningfulTitle(info.title), blocks: blocks, warnings: warnings)
    }

    /// Text of pages `1...pageCount`, one string per page, from as few pdftotext runs as possible.
    static func extractText(path: String, pageCount: Int, layout: Bool, limits: LoaderLimits) throws -> [String] {
        var texts: [String] = []
        texts.reserveCapacity(pageCount)
        var first = 1
        while first <= pageCount {
            let last = min(pageCount, first + pagesPerRun - 1)
            texts += try pdftotext(path: path, first: first, last: last, layout: layout, limits: limits)
            first = last + 1
        }
        return texts
    }

    /// Layout-mode text of the given pages (one run over the span of each group of nearby pages).
    private static func extractLayout(path: String, pages: [Int], limits: LoaderLimits) throws -> [(Int, String)] {
        var out: [(Int, String)] = []
        var i = 0
        while i < pages.count {
            var j = i
            while j + 1 < pages.count, pages[j + 1] - pages[i] < pagesPerRun { j += 1 }
            let texts = try pdftotext(path: path, first: pages[i], last: pages[j], layout: true, limits: limits)
            let wanted = Set(pages[i...j])
            for (k, text) in texts.enumerated() where wanted.contains(pages[i] + k) { out.append((pages[i] + k, text)) }
            i = j + 1
        }
        return out
    }

    /// One pdftotext run over `first...last`, split at form feeds. When the number of pages does not match
    /// (a form feed inside a page's text), falls back to one run per page.
    private static func pdftotext(
        path: String, first: Int, last: Int, layout: Bool, limits: LoaderLimits
    ) throws -> [String] {
        let expected = last - first + 1
        let pieces = try pdftotextRun(path: path, first: first, last: last, layout: layout, limits: limits)
        if pieces.count == expected { return pieces }
        if expected == 1 { return [pieces.joined(separator: " ")] }
        var texts: [String] = []
        for p in first...last {
            let one = try pdftotextRun(path: path, first: p, last: p, layout: layout, limits: limits)
            texts.append(one.joined(separator: " "))
        }
        return texts
    }

    private static func pdftotextRun(
        path: String, first: Int, last: Int, layout: Bool, limits: LoaderLimits
    ) throws -> [String] {
        var args = ["-enc", "UTF-8", "-f", String(first), "-l", String(last)]
        if layout { args.append("-layout") }
        args += [path, "-"]
        let r = try ExternalTool.run("pdftotext", arguments: args, limits: limits, maxOutputBytes: 128 << 20)
        guard r.succeeded else { throw PDFInfo.failure(r) }
        var pieces = r.stdout.split(separator: 0x0C, omittingEmptySubsequences: false)
        if let lastPiece = pieces.last, lastPiece.allSatisfy({ $0 == 0x0A || $0 == 0x20 }) { pieces.removeLast() }
        return pieces.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Renders and OCRs pages, at most ``LoaderLimits/ocrParallelism`` at once, in a private temporary
    /// folder removed afterwards.
    private static func ocr(
        path: String, pages: [Int], plan: OCRPlan, limits: LoaderLimits
    ) -> [Result<(String, PPOCRSupport.Reader), WendaoError>] {
        let dir: URL
        do {
            dir = try BinaryInput.makeTemporaryDirectory()
        } catch {
            let e = WendaoError(.internal, "cannot create a temporary folder for OCR")
            return pages.map { _ in .failure(e) }
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let width = max(1, min(limits.ocrParallelism, pages.count))
        let threads = PPOCRSupport.threads(parallelism: width)
        let done = Mutex(0)
        let report = limits.ocrProgress
        report?(0, pages.count)
        return Concurrently.map(pages.count, width: width) { k in
            defer {
                if let report {
                    let n = done.withLock { n in
                        n += 1
                        return n
                    }
                    report(n, pages.count)
                }
            }
            let page = pages[k]
            let prefix = dir.appendingPathComponent("page-\(page)").path
            // PP-OCR reads the raw grey map pdftoppm writes fastest; tesseract reads it too.
            let usePNM = plan.mayUsePPOCR
            let image = prefix + (usePNM ? ".pgm" : ".png")
            defer { unlink(image) }
            do {
                let r = try ExternalTool.run(
                    "pdftoppm",
                    arguments: ["-r", "300", "-gray", "-f", String(page), "-l", String(page)]
                        + (usePNM ? [] : ["-png"]) + ["-singlefile", path, prefix],
                    limits: limits, maxOutputBytes: 1 << 20)
                guard r.succeeded, FileManager.default.fileExists(atPath: image) else {
                    throw WendaoError(.unreadable, "pdftoppm failed: \(r.firstErrorLine)")
                }
                return .success(try PPOCRSupport.readPage(
                    imagePath: image, limits: limits, tesseract: plan.tesseract, threads: threads))
            } catch let error as WendaoError {
                return .failure(error)
            } catch {
                return .failure(WendaoError(.internal, "\(error)"))
            }
        }
    }
}

/// What `pdfinfo` says about a file.
struct PDFInfo {
    var pages: Int
    var title: String?
    var encrypted: Bool

    /// Runs pdfinfo and parses its output.
    static func read(path: String, limits: LoaderLimits) throws -> PDFInfo {
        let r = try ExternalTool.run("pdfinfo", arguments: ["-enc", "UTF-8", path], limits: limits,
                                     maxOutputBytes: 1 << 20)
        guard r.succeeded else { throw failure(r) }
        var info = PDFInfo(pages: 0, title: nil, encrypted: false)
        for line in String(decoding: r.stdout, as: UTF8.self).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "Pages": info.pages = Int(value) ?? 0
            case "Title": info.title = value.isEmpty ? nil : value
            case "Encrypted": info.encrypted = value.hasPrefix("yes")
            default: break
            }
        }
        return info
    }

    /// The error for a failed poppler run: a password prompt, or damage described by poppler's first line.
    static func failure(_ r: ExternalTool.Result) -> WendaoError {
        let text = r.stderr.lowercased()
        if text.contains("incorrect password") || text.contains("password required") {
            return WendaoError(.unreadable, "password required (encrypted PDF)")
        }
        let first = r.firstErrorLine
        return WendaoError(.unreadable, "damaged PDF: " + (first.isEmpty ? "poppler exit status \(r.status)" : first))
    }
}

/// Checks shared by the PDF and image loaders.
enum BinaryInput {
    /// The file's absolute path after checking it exists, is a regular file, is not empty and is within
    /// ``LoaderLimits/maxBinaryBytes``.
    static func check(_ url: URL, limits: LoaderLimits) throws -> String {
        let path = url.standardizedFileURL.path
        guard path.hasPrefix("/") else { throw WendaoError(.unreadable, "not a local file path") }
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw WendaoError(.unreadable, "cannot read the file")
        }
        if let type = attributes[.type] as? FileAttributeType, type != .typeRegular {
            throw WendaoError(.unreadable, "not a regular file")
        }
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        if size == 0 { throw WendaoError(.unreadable, "empty file") }
        if size > Int64(limits.maxBinaryBytes) {
            let mb = DocumentLoader.megabytes(size)
            let limit = DocumentLoader.megabytes(Int64(limits.maxBinaryBytes))
            throw WendaoError(.limitExceeded, "file is \(mb) MB, more than the \(limit) MB limit")
        }
        return path
    }

    /// The first bytes of a file.
    static func head(_ path: String, count: Int) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw WendaoError(.unreadable, "cannot read the file")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: count)) ?? Data()
        return [UInt8](data)
    }

    /// Throws unless `%PDF-` occurs in the first kilobyte (where readers look for it).
    static func requirePDFHeader(_ path: String) throws {
        let bytes = try head(path, count: 1024)
        let marker = Array("%PDF-".utf8)
        if bytes.count >= marker.count {
            for i in 0...(bytes.count - marker.count) where Array(bytes[i..<(i + marker.count)]) == marker { return }
        }
        throw WendaoError(.unreadable, "not a PDF file (no %PDF- header)")
    }

    /// A new folder only this user can read, under the system temporary folder.
    static func makeTemporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("wendao-ocr-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        return dir
    }
}
