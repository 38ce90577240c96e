public import Foundation
import WendaoCore

/// Reads PNG, JPEG and TIFF images by OCR with tesseract. The pages of a multi-page TIFF become pages
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
        let status = limits.ocrEnabled ? OCRSupport.status(languages: limits.ocrLanguages, limits: limits) : nil
        guard let status, status.usable else {
            throw WendaoError(.unsupported,
                              "needs OCR — " + OCRSupport.cannotRunReason(status: status, enabled: limits.ocrEnabled))
        }
        var warnings: [String] = []
        if let w = status.missingWarning { warnings.append(w) }

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

    /// `png`, `jpg` or `tif` from the first bytes, or nil.
    static func imageKind(_ h: [UInt8]) -> String? {
        if h.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "png" }
        if h.starts(with: [0xFF, 0xD8, 0xFF]) { return "jpg" }
        if h.starts(with: [0x49, 0x49, 0x2A, 0x00]) || h.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return "tif" }
        return nil
    }
}
