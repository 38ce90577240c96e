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
    /// The type comes from the content (magic bytes), not the name; a name that says otherwise is
    /// reported as a warning (`named .pdf but contains HTML; read as HTML`).
    ///
    /// - Parameters:
    ///   - data: The file's bytes.
    ///   - identity: The document identity stored as ``LoadedDocument/path``.
    ///   - fileName: The file name (its extension tells text formats apart; its base name is the
    ///     fallback title).
    ///   - limits: Size limits and OCR settings.
    ///   - sourceURL: The file on disk, when there is one (PDFs and images are read by external tools
    ///     from a file; without one the bytes are written to a private temporary file).
    /// - Throws: ``WendaoError`` — `unreadable` (empty, binary, undecodable or malformed),
    ///   `unsupported` (a format not handled), `limitExceeded` (too large).
    public static func load(
        data: Data, identity: String, fileName: String, limits: LoaderLimits = LoaderLimits(), sourceURL: URL? = nil
    ) throws -> LoadedDocument {
        if data.isEmpty { throw WendaoError(.unreadable, "empty file") }
        let ext = TextScan.fileExtension(fileName)
        let kind = FileSniffer.sniff([UInt8](data.prefix(64)))
        if kind.isBinary {
            if data.count > limits.maxBinaryBytes { throw tooLarge(Int64(data.count), limit: limits.maxBinaryBytes) }
            let format = try FileSniffer.binaryFormat(kind, ext: ext, data: data, limits: limits)
            var parsed: ParsedDocument
            switch format {
            case .pdf:
                parsed = try withFile(data, sourceURL, suffix: "pdf") { try PDFLoader.load(fileURL: $0, limits: limits) }
            case .image:
                parsed = try withFile(data, sourceURL, suffix: kind.fileSuffix) {
                    try ImageLoader.load(fileURL: $0, limits: limits)
                }
            case .docx: parsed = try OfficeLoader.docx(data, limits: limits)
            case .pptx: parsed = try OfficeLoader.pptx(data, limits: limits)
            case .xlsx: parsed = try OfficeLoader.xlsx(data, limits: limits)
            case .epub: parsed = try OfficeLoader.epub(data, limits: limits)
            default: throw WendaoError(.unsupported, "unsupported file type")
            }
            if let expected = FileSniffer.extensionMismatch(ext: ext, actual: format) { parsed.warnings.insert(expected, at: 0) }
            return finish(parsed, format: format, identity: identity, fileName: fileName)
        }
        if data.count > limits.maxStructuredBytes { throw tooLarge(Int64(data.count), limit: limits.maxStructuredBytes) }
        let format: DocumentFormat
        var mismatch: String?
        switch ext {
        case "txt", "text", "log": format = .text
        case "md", "markdown", "mdown", "mkd": format = .markdown
        case "html", "htm", "xhtml": format = .html
        case "csv", "tsv": format = .csv
        case "json": format = .json
        case "jsonl", "ndjson": format = .jsonl
        case "svg": format = .svg
        default:
            // Text under another name (or none): HTML, SVG and plain text are told apart by content;
            // a name that promised a binary format is reported.
            let decoded: DecodedText
            do {
                decoded = try TextDecoding.decode(data)
            } catch {
                if let expected = FileSniffer.binaryFormatName(ext: ext) {
                    throw WendaoError(.unreadable, "named .\(ext) but the content is not a valid \(expected) file")
                }
                throw WendaoError(
                    .unsupported,
                    ext.isEmpty ? "unsupported file type (no extension, not text)" : "unsupported file type .\(ext)")
            }
            let sniffed: DocumentFormat =
                FileSniffer.looksLikeSVG(decoded.text) ? .svg : FileSniffer.looksLikeHTML(decoded.text) ? .html : .text
            if let expected = FileSniffer.binaryFormatName(ext: ext) {
                mismatch = "named .\(ext) but contains \(sniffed.displayName), not \(expected); read as \(sniffed.displayName)"
            }
            if sniffed == .svg {
                var parsed = try OfficeLoader.svg(data, limits: limits)
                if let mismatch { parsed.warnings.insert(mismatch, at: 0) }
                return finish(parsed, format: .svg, identity: identity, fileName: fileName)
            }
            var doc = try parse(decoded, format: sniffed, identity: identity, fileName: fileName, ext: ext)
            if let mismatch { doc.warnings.insert(mismatch, at: 0) }
            return doc
        }
        if format == .svg {
            return finish(try OfficeLoader.svg(data, limits: limits), format: .svg, identity: identity, fileName: fileName)
        }
        let decoded = try TextDecoding.decode(data)
        return try parse(decoded, format: format, identity: identity, fileName: fileName, ext: ext)
    }

    /// Loads a file from disk. PDFs and images are read in place (hashing and parsing never hold
    /// the whole file in memory); other formats are read whole.
    public static func load(fileURL: URL, identity: String, limits: LoaderLimits = LoaderLimits()) throws
        -> LoadedDocument
    {
        let kind = FileSniffer.sniff(try head(of: fileURL))
        let fileName = fileURL.lastPathComponent
        if kind == .pdf || kind.isImage {
            let format: DocumentFormat = kind == .pdf ? .pdf : .image
            var parsed =
                kind == .pdf
                ? try PDFLoader.load(fileURL: fileURL, limits: limits) : try ImageLoader.load(fileURL: fileURL, limits: limits)
            if let w = FileSniffer.extensionMismatch(ext: TextScan.fileExtension(fileName), actual: format) {
                parsed.warnings.insert(w, at: 0)
            }
            return finish(parsed, format: format, identity: identity, fileName: fileName)
        }
        let data: Data
        do { data = try Data(contentsOf: fileURL) } catch {
            throw WendaoError(.unreadable, "cannot read file: \(error.localizedDescription)")
        }
        return try load(data: data, identity: identity, fileName: fileName, limits: limits, sourceURL: fileURL)
    }

    /// The first bytes of a file (for type detection).
    public static func head(of url: URL, count: Int = 64) throws -> [UInt8] {
        guard let h = FileHandle(forReadingAtPath: url.path) else {
            throw WendaoError(.unreadable, "cannot open file")
        }
        defer { try? h.close() }
        return [UInt8]((try? h.read(upToCount: count)) ?? Data())
    }

    /// Whether a file's content (not its name) is read in place from disk, hashed by streaming.
    public static func readsInPlace(head: [UInt8]) -> Bool {
        let k = FileSniffer.sniff(head)
        return k == .pdf || k.isImage
    }

    /// The size limit that applies to a file with these first bytes and this name.
    public static func sizeLimit(head: [UInt8], limits: LoaderLimits) -> Int64 {
        FileSniffer.sniff(head).isBinary ? Int64(limits.maxBinaryBytes) : Int64(limits.maxStructuredBytes)
    }

    private static func tooLarge(_ size: Int64, limit: Int) -> WendaoError {
        WendaoError(.limitExceeded, "file is \(megabytes(size)) MB, more than the \(megabytes(Int64(limit))) MB limit")
    }

    /// Runs `body` with a file holding `data`: `url` when given, else a private temporary copy.
    private static func withFile<T>(_ data: Data, _ url: URL?, suffix: String, _ body: (URL) throws -> T) throws -> T {
        if let url { return try body(url) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "wendao-load-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(
            at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("input.\(suffix)")
        try data.write(to: file)
        return try body(file)
    }

    private static func finish(_ p: ParsedDocument, format: DocumentFormat, identity: String, fileName: String)
        -> LoadedDocument
    {
        var warnings = p.warnings
        if p.blocks.isEmpty && !warnings.contains(where: { $0.contains("no text") }) { warnings.append("no text found") }
        let fallback = TextScan.baseName(fileName)
        let title = p.title.map { TextScan.collapse($0) }.flatMap { $0.isEmpty ? nil : $0 } ?? fallback
        return LoadedDocument(path: identity, title: title, format: format, blocks: p.blocks, warnings: warnings)
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
            throw WendaoError(.unsupported, "\(format.displayName) is not a text format")
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

/// What the first bytes of a file say it is.
enum SniffedKind: Equatable {
    case pdf, zip, ole, rtf, png, jpeg, tiff, gif, webp, heic, bmp, compressed, text

    /// Formats read as bytes (not decoded as text).
    var isBinary: Bool { self != .text }
    /// Images OCR can read.
    var isImage: Bool { self == .png || self == .jpeg || self == .tiff }
    /// A file-name suffix tools recognise.
    var fileSuffix: String {
        switch self {
        case .png: "png"
        case .jpeg: "jpg"
        case .tiff: "tif"
        default: "bin"
        }
    }
}

extension DocumentFormat {
    /// How messages name the format.
    var displayName: String {
        switch self {
        case .text: "plain text"
        case .markdown: "Markdown"
        case .html: "HTML"
        case .csv: "CSV"
        case .json, .jsonl: "JSON"
        case .pdf: "a PDF"
        case .docx: "a Word document"
        case .pptx: "a PowerPoint deck"
        case .xlsx: "an Excel workbook"
        case .epub: "an EPUB book"
        case .image: "an image"
        case .svg: "SVG"
        }
    }
}

/// Recognises file types from magic bytes (extensions only tell text formats apart).
enum FileSniffer {
    static let imageExtensions: Set<String> = [
        "png", "jpg", "jpeg", "gif", "tif", "tiff", "webp", "bmp", "heic", "heif", "avif", "ico",
    ]

    /// The kind of content the first bytes show.
    static func sniff(_ h: [UInt8]) -> SniffedKind {
        func starts(_ p: [UInt8], at offset: Int = 0) -> Bool {
            h.count >= offset + p.count && Array(h[offset..<offset + p.count]) == p
        }
        // A PDF header may follow a little junk (the PDF spec allows it within the first 1024 bytes).
        if let i = h.firstIndex(of: 0x25), i < 16, starts(Array("%PDF-".utf8), at: i) { return .pdf }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) || starts([0x50, 0x4B, 0x07, 0x08]) {
            return .zip
        }
        if starts([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) { return .ole }
        if starts(Array("{\\rtf".utf8)) { return .rtf }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("RIFF".utf8)), starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("ftyp".utf8), at: 4), h.count >= 12 {
            let brand = String(decoding: h[8..<12], as: UTF8.self)
            if ["heic", "heix", "hevc", "mif1", "msf1", "avif"].contains(brand) { return .heic }
        }
        if starts(Array("BM".utf8)), h.count >= 26, h[6] == 0, h[7] == 0, h[8] == 0, h[9] == 0 { return .bmp }
        if starts([0x1F, 0x8B]) || starts([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) || starts(Array("Rar!".utf8))
            || starts([0x42, 0x5A, 0x68]) || starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) || starts([0x28, 0xB5, 0x2F, 0xFD])
        {
            return .compressed
        }
        return .text
    }

    /// The document format for binary content, or a clear error for kinds that are not read.
    static func binaryFormat(_ kind: SniffedKind, ext: String, data: Data, limits: LoaderLimits) throws
        -> DocumentFormat
    {
        switch kind {
        case .pdf: return .pdf
        case .png, .jpeg, .tiff: return .image
        case .zip: return try OfficeLoader.classify(data, ext: ext, limits: limits)
        case .ole:
            throw WendaoError(
                .unsupported, "legacy Office file (.doc/.xls/.ppt): save it as .docx/.xlsx/.pptx to load it")
        case .rtf:
            throw WendaoError(.unsupported, "RTF files are not read: save it as .docx, .txt or .md")
        case .gif, .webp, .heic, .bmp:
            throw WendaoError(.unsupported, "this image type is not read by OCR: convert it to PNG, JPEG or TIFF")
        case .compressed:
            throw WendaoError(.unsupported, "compressed archives are not read: unpack them and ingest the folder")
        case .text:
            throw WendaoError(.unsupported, "not a binary format")
        }
    }

    /// The warning for a file whose extension names another format than its content.
    static func extensionMismatch(ext: String, actual: DocumentFormat) -> String? {
        let expected: Set<String>
        switch actual {
        case .pdf: expected = ["pdf"]
        case .image: expected = ["png", "jpg", "jpeg", "jpe", "tif", "tiff"]
        case .docx: expected = ["docx", "docm", "dotx"]
        case .pptx: expected = ["pptx", "pptm", "potx"]
        case .xlsx: expected = ["xlsx", "xlsm", "xltx"]
        case .epub: expected = ["epub"]
        default: return nil
        }
        if expected.contains(ext) { return nil }
        return ext.isEmpty
            ? nil : "named .\(ext) but contains \(actual.displayName); read as \(actual.displayName)"
    }

    /// The format name for extensions of binary formats.
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

    /// True when the text is an SVG drawing.
    static func looksLikeSVG(_ text: String) -> Bool {
        let start = text.drop { $0.isWhitespace }.prefix(1024).lowercased()
        if start.hasPrefix("<svg") { return true }
        return (start.hasPrefix("<?xml") || start.hasPrefix("<!--") || start.hasPrefix("<!doctype svg"))
            && start.contains("<svg") && !start.contains("<html")
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
