public import Foundation
public import WendaoCore

/// Turns the bytes of one file into a ``LoadedDocument``: recognises the type (magic bytes first,
/// then the extension), decodes the text and extracts the structure.
///
/// Supported: plain text (`.txt`, `.text`, `.log`), Markdown, HTML, CSV/TSV (FAQ tables become one
/// record per question), JSON and JSON Lines. PDF, Office, EPUB, archives and images are recognised
/// and rejected with a clear ``WendaoError`` (code `unsupported`).
///
/// ```swift
/// let doc = try DocumentLoader.load(data: data, identity: "kb/faq.csv", fileName: "faq.csv")
/// for block in doc.blocks { print(block.sectionPath, block.text) }
/// ```
public enum DocumentLoader {
    /// Loads one file already read into memory.
    ///
    /// - Parameters:
    ///   - data: The file's bytes.
    ///   - identity: The document identity stored as ``LoadedDocument/path``.
    ///   - fileName: The file name (its extension helps recognise the type; its base name is the
    ///     fallback title).
    ///   - limits: Size limits; files larger than ``LoaderLimits/maxStructuredBytes`` are refused.
    /// - Throws: ``WendaoError`` — `unreadable` (empty, binary, undecodable or malformed),
    ///   `unsupported` (a format not handled yet), `limitExceeded` (too large).
    public static func load(
        data: Data, identity: String, fileName: String, limits: LoaderLimits = LoaderLimits()
    ) throws -> LoadedDocument {
        if data.isEmpty { throw WendaoError(.unreadable, "empty file") }
        if data.count > limits.maxStructuredBytes {
            let size = megabytes(Int64(data.count))
            let limit = megabytes(Int64(limits.maxStructuredBytes))
            throw WendaoError(.limitExceeded, "file is \(size) MB, more than the \(limit) MB limit")
        }
        let ext = TextScan.fileExtension(fileName)
        let head = [UInt8](data.prefix(64))
        if let rejection = FileSniffer.rejectByMagic(head, ext: ext) { throw rejection }
        if let expected = FileSniffer.binaryFormatName(ext: ext) {
            throw FileSniffer.mismatch(data: data, ext: ext, expected: expected)
        }
        let format: DocumentFormat
        let decoded: DecodedText
        switch ext {
        case "txt", "text", "log":
            format = .text
        case "md", "markdown", "mdown", "mkd":
            format = .markdown
        case "html", "htm", "xhtml":
            format = .html
        case "csv", "tsv":
            format = .csv
        case "json":
            format = .json
        case "jsonl", "ndjson":
            format = .jsonl
        default:
            do {
                decoded = try TextDecoding.decode(data)
            } catch {
                throw WendaoError(
                    .unsupported,
                    ext.isEmpty ? "unsupported file type (no extension, not text)" : "unsupported file type .\(ext)")
            }
            let format: DocumentFormat = FileSniffer.looksLikeHTML(decoded.text) ? .html : .text
            return try parse(decoded, format: format, identity: identity, fileName: fileName, ext: ext)
        }
        decoded = try TextDecoding.decode(data)
        return try parse(decoded, format: format, identity: identity, fileName: fileName, ext: ext)
    }

    private static func parse(
        _ decoded: DecodedText, format: DocumentFormat, identity: String, fileName: String, ext: String
    ) throws -> LoadedDocument {
        var warnings = decoded.warnings
        var blocks: [Block] = []
        var title: String?
        switch format {
        case .text:
            blocks = TextFormat.blocks(decoded.text)
        case .markdown:
            let r = MarkdownFormat.parse(decoded.text)
            blocks = r.blocks
            title = r.title
        case .html:
            let r = HTMLFormat.parse(decoded.text)
            blocks = r.blocks
            title = r.title
        case .csv:
            let r = CSVFormat.parse(decoded.text, preferTab: ext == "tsv")
            blocks = r.blocks
            warnings += r.warnings
        case .json:
            blocks = try JSONFormat.parse(decoded.text)
        case .jsonl:
            let r = try JSONFormat.parseLines(decoded.text)
            blocks = r.blocks
            warnings += r.warnings
        case .pdf, .docx, .pptx, .xlsx, .epub, .image, .svg:
            throw WendaoError(.unsupported, "\(format.rawValue) is not a text format")
        }
        if blocks.isEmpty { warnings.append("no text found") }
        let fallback = TextScan.baseName(fileName)
        let finalTitle = title.map { TextScan.collapse($0) }.flatMap { $0.isEmpty ? nil : $0 } ?? fallback
        return LoadedDocument(path: identity, title: finalTitle, format: format, blocks: blocks, warnings: warnings)
    }

    static func megabytes(_ n: Int64) -> String {
        let mb = Double(n) / 1_048_576
        return mb >= 10 ? String(Int(mb.rounded())) : String(format: "%.1f", mb)
    }
}

/// Plain text: paragraphs at blank lines.
enum TextFormat {
    static func blocks(_ text: String) -> [Block] {
        var blocks: [Block] = []
        var splitter = ParagraphSplitter()
        var copy = text
        copy.withUTF8 { b in
            splitter.feed(b) { blocks.append(Block(kind: .paragraph, text: $0)) }
        }
        splitter.finish { blocks.append(Block(kind: .paragraph, text: $0)) }
        return blocks
    }
}

/// Recognises file types from magic bytes and extensions.
enum FileSniffer {
    static let imageExtensions: Set<String> = [
        "png", "jpg", "jpeg", "gif", "tif", "tiff", "webp", "bmp", "heic", "heif", "avif", "ico",
    ]

    /// A rejection for content whose magic bytes name a format that is not text.
    static func rejectByMagic(_ h: [UInt8], ext: String) -> WendaoError? {
        func starts(_ p: [UInt8]) -> Bool { h.count >= p.count && Array(h[0..<p.count]) == p }
        if starts([0x25, 0x50, 0x44, 0x46]) {  // %PDF
            return WendaoError(
                .unsupported, "PDF files are not supported yet (coming with the document-formats release)")
        }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) {
            switch ext {
            case "docx", "docm", "dotx": return WendaoError(.unsupported, "Word files are not supported yet")
            case "xlsx", "xlsm", "xltx": return WendaoError(.unsupported, "Excel files are not supported yet")
            case "pptx", "pptm", "potx": return WendaoError(.unsupported, "PowerPoint files are not supported yet")
            case "epub": return WendaoError(.unsupported, "EPUB files are not supported yet")
            default: return WendaoError(.unsupported, "ZIP archives are not supported")
            }
        }
        if starts(Array("{\\rtf".utf8)) {
            return WendaoError(.unsupported, "RTF files are not supported yet: save it as .docx, .txt or .md")
        }
        if starts([0xD0, 0xCF, 0x11, 0xE0]) {
            return WendaoError(.unsupported, "legacy Office file (.doc/.xls/.ppt): convert it to .docx/.xlsx/.pptx")
        }
        let imageError = WendaoError(.unsupported, "images need OCR, which is not supported yet")
        if starts([0x89, 0x50, 0x4E, 0x47]) || starts([0xFF, 0xD8, 0xFF]) || starts(Array("GIF87a".utf8))
            || starts(Array("GIF89a".utf8)) || starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A])
        {
            return imageError
        }
        if h.count >= 12, starts(Array("RIFF".utf8)), Array(h[8..<12]) == Array("WEBP".utf8) { return imageError }
        if h.count >= 12, Array(h[4..<8]) == Array("ftyp".utf8) {
            let brand = String(decoding: h[8..<12], as: UTF8.self)
            if ["heic", "heix", "hevc", "mif1", "msf1", "avif"].contains(brand) { return imageError }
        }
        if starts([0x1F, 0x8B]) || starts([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) || starts(Array("Rar!".utf8)) {
            return WendaoError(.unsupported, "compressed archives are not supported")
        }
        return nil
    }

    /// The format name for extensions of binary formats the loaders do not read.
    static func binaryFormatName(ext: String) -> String? {
        switch ext {
        case "pdf": return "PDF"
        case "docx", "doc", "docm": return "Word"
        case "xlsx", "xls", "xlsm": return "Excel"
        case "pptx", "ppt", "pptm": return "PowerPoint"
        case "epub": return "EPUB"
        case "zip": return "ZIP"
        default: return imageExtensions.contains(ext) ? "image" : nil
        }
    }

    /// The error for a file whose extension names a binary format its content does not have.
    static func mismatch(data: Data, ext: String, expected: String) -> WendaoError {
        guard let decoded = try? TextDecoding.decode(data.prefix(65536)) else {
            return WendaoError(.unreadable, "named .\(ext) but the content is not a valid \(expected) file")
        }
        let what: String
        let rename: String
        let trimmed = decoded.text.drop { $0.isWhitespace }
        if looksLikeHTML(decoded.text) {
            (what, rename) = ("HTML", "html")
        } else if trimmed.hasPrefix("{") || trimmed.hasPrefix("[") {
            (what, rename) = ("JSON", "json")
        } else {
            (what, rename) = ("plain text", "txt")
        }
        return WendaoError(.unsupported, "named .\(ext) but contains \(what); rename it to .\(rename) to load it")
    }

    /// True when the text starts like an HTML document.
    static func looksLikeHTML(_ text: String) -> Bool {
        let start = text.drop { $0.isWhitespace }.prefix(512).lowercased()
        if start.hasPrefix("<!doctype html") || start.hasPrefix("<html") { return true }
        if start.hasPrefix("<?xml"), start.contains("<html") { return true }
        if start.hasPrefix("<!--"), start.contains("<html") { return true }
        return false
    }
}
