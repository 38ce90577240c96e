public import Foundation
import WendaoCore
import WendaoOCR

/// Reads PNG, JPEG and TIFF images by OCR: PP-OCR run natively (``OCREngineChoice``), or tesseract. The pages of a multi-page TIFF become pages
/// (``Block/page`` set); a single image has no page number.
///
/// ```swift
/// let parsed = try ImageLoader.load(fileURL: URL(fileURLWithPath: "/kb/receipt.png"), limits: LoaderLimits())
/// ```
public enum ImageLoader {
    /// Loads one image file.
    ///
    /// - Parameters:
    ///   - fileURL: The image file (PNG, JPEG or TIFF, recognised by its first bytes).
    ///   - limits: Size, time and memory limits, and the OCR settings.
    /// - Returns: The recognised paragraphs (no title) and warnings (missing OCR languages, no text found).
    /// - Throws: ``WendaoError`` — `unsupported` (another image type, or OCR cannot run: "needs OCR —
    ///   install tesseract-ocr"), `unreadable` (tesseract could not read it), `limitExceeded`.
    public static func load(fileURL: URL, limits: LoaderLimits) throws -> ParsedDocument {
        let path = try BinaryInput.check(fileURL, limits: limits)
        guard let kind = imageKind(try BinaryInput.head(path, count: 16)) else {
            throw WendaoError(.unsupported, "unsupported image type (PNG, JPEG and TIFF can be read by OCR)")
        }
        let plan = OCRPlan(limits: limits)
        guard plan.canRun else { throw WendaoError(.unsupported, "needs OCR — " + plan.cannotRunReason) }
        var warnings = plan.notes
        if plan.mayUsePPOCR {
            do {
                return try loadWithPPOCR(path: path, plan: plan, limits: limits, warnings: warnings)
            } catch let e as WendaoError where limits.ocrEngine == .auto && plan.tesseract?.usable == true
                && e.code != .limitExceeded
            {
                // An image the native decoders refuse (an unusual TIFF, say) may still be read by Tesseract.
                warnings.append("PP-OCR could not read the image (\(e.message)); read by Tesseract")
            }
        }
        guard let status = plan.tesseract, status.usable else {
            throw WendaoError(.unsupported, "needs OCR — " + plan.cannotRunReason)
        }
        if plan.mayUsePPOCR, let w = status.missingWarning { warnings.append(w) }

        // tesseract reads a file named *.txt as a list of images: give it a proper name when needed.
        var imagePath = path
        var temporary: URL?
        defer { if let temporary { try? FileManager.default.removeItem(at: temporary) } }
        let ext = TextScan.fileExtension(path)
        if !["png", "jpg", "jpeg", "tif", "tiff"].contains(ext) {
            let dir = try BinaryInput.makeTemporaryDirectory()
            temporary = dir
            imagePath = dir.appendingPathComponent("image.\(kind)").path
            do {
                try FileManager.default.copyItem(atPath: path, toPath: imagePath)
            } catch {
                throw WendaoError(.unreadable, "cannot copy the image for OCR")
            }
        }
        let pages = try OCRSupport.recognize(imagePath: imagePath, languages: status.available, limits: limits)
        var blocks: [Block] = []
        for (i, text) in pages.enumerated() {
            blocks += PDFPageText.paragraphs(PDFPageText.lines(text), page: pages.count > 1 ? i + 1 : nil)
        }
        if blocks.isEmpty { warnings.append("no text found") }
        return ParsedDocument(title: nil, blocks: blocks, warnings: warnings)
    }

    /// Reads every page of the image (a TIFF may have several) with PP-OCR, or with Tesseract where
    /// `auto` prefers it for a page of mostly Latin text.
    private static func loadWithPPOCR(
        path: String, plan: OCRPlan, limits: LoaderLimits, warnings: [String]
    ) throws -> ParsedDocument {
        var warnings = warnings
        let engine = try PPOCRSupport.engine(limits: limits)
        let threads = PPOCRSupport.threads(parallelism: 1)
        var blocks: [Block] = []
        var page = 0
        var pageCount = 1
        var tesseractPages: [Int] = []
        while page < pageCount, page < limits.maxPages {
            let decoded = try OCRImageDecoder.decodePage(fileAt: URL(fileURLWithPath: path), page: page)
            pageCount = decoded.pages
            if decoded.damaged { warnings.append("the image is damaged or truncated; the readable part was OCR'd") }
            let lines = try engine.recognize(decoded.image, threads: threads)
            var text = ReadingOrder.text(lines)
            let letters = text.unicodeScalars.filter { $0.properties.isAlphabetic }.count
            if limits.ocrEngine == .auto, pageCount == 1, letters >= 200, PPOCRSupport.cjkShare(text) < 0.2,
                let status = plan.tesseract, status.usable,
                let latin = try? OCRSupport.recognize(imagePath: path, languages: status.available, limits: limits),
                !latin.joined().allSatisfy(\.isWhitespace)
            {
                text = latin.joined(separator: "\n\n")
                tesseractPages.append(page + 1)
            }
            let number = pageCount > 1 ? page + 1 : nil
            let lineList = PDFPageText.lines(text)
            blocks += text.contains("  ") ? PDFPageText.layoutBlocks(lineList, page: number)
                : PDFPageText.paragraphs(lineList, page: number)
            page += 1
        }
        if pageCount > limits.maxPages {
            warnings.append("image has \(pageCount) pages; only the first \(limits.maxPages) were read")
        }
        warnings.append(tesseractPages.isEmpty ? "OCR engine PP-OCR" : "OCR engine Tesseract (mostly Latin text)")
        if blocks.isEmpty { warnings.append("no text found") }
        return ParsedDocument(title: nil, blocks: blocks, warnings: warnings)
    }

    /// `png`, `jpg` or `tif` from the first bytes, or nil.
    static func imageKind(_ h: [UInt8]) -> String? {
        if h.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "png" }
        if h.starts(with: [0xFF, 0xD8, 0xFF]) { return "jpg" }
        if h.starts(with: [0x49, 0x49, 0x2A, 0x00]) || h.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return "tif" }
        return nil
    }
}
