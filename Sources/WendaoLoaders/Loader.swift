public import Foundation
public import WendaoCore

// API CONTRACT (used by WendaoRAG). Implementation may be reorganised into several files, but keep
// these names and signatures.

/// Limits applied while loading, so that no file can exhaust memory or time.
public struct LoaderLimits: Sendable {
    /// Largest file read whole into memory (structured formats: Markdown, HTML, CSV, JSON).
    public var maxStructuredBytes: Int = 64 << 20
    /// Largest plain-text file (streamed in pieces, memory stays bounded).
    public var maxTextBytes: Int64 = 4 << 30
    /// Largest PDF, image or Office/EPUB file accepted.
    public var maxBinaryBytes: Int = 512 << 20
    /// Most bytes an Office/EPUB archive may inflate to in total (zip-bomb guard; counted while
    /// inflating, never trusted from the archive's headers).
    public var maxInflatedBytes: Int = 256 << 20
    /// Most entries an Office/EPUB archive may list.
    public var maxArchiveEntries: Int = 10_000
    /// Most rows read from one spreadsheet (further rows are reported and skipped).
    public var maxSheetRows: Int = 200_000
    /// Most pages read from one PDF.
    public var maxPages: Int = 5_000
    /// Tesseract language codes for OCR, in priority order (`chi_sim`, `chi_tra`, `eng`, …).
    public var ocrLanguages: [String] = LoaderDefaults.ocrLanguages
    /// Which OCR engine reads scanned pages and images (see ``OCREngineChoice``).
    public var ocrEngine: OCREngineChoice = .auto
    /// Folder of the PP-OCR models; nil: `$WENDAO_MODELS/ppocr` (default `~/.cache/wendao/models/ppocr`).
    public var ppocrModels: URL?
    /// Whether pages and images without text may be sent to OCR.
    public var ocrEnabled: Bool = true
    /// OCR processes run at once (default: the number of cores).
    public var ocrParallelism: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Called as each page of a file is OCR'd, with the pages done and the pages to OCR; from the
    /// loader's worker threads, so it must be safe to call from any thread.
    public var ocrProgress: (@Sendable (_ done: Int, _ total: Int) -> Void)?
    /// Wall-clock limit for one external tool run (pdftotext, pdftoppm, tesseract), in seconds.
    public var toolSeconds: Double = 120
    /// Address-space limit for one external tool run, in bytes.
    public var toolMemoryBytes: Int = 1 << 30
    /// Creates limits with the defaults.
    public init() {}
}

/// What a format parser returns: the structure of one file, before it gets an identity.
public struct ParsedDocument: Sendable {
    /// The document's own title (first heading, metadata title), when it has one.
    public var title: String?
    /// The structure, in reading order (``Block/page`` set where the format has pages or slides).
    public var blocks: [Block]
    /// Recoverable problems met while parsing.
    public var warnings: [String]
    /// Creates a parsed document.
    public init(title: String? = nil, blocks: [Block] = [], warnings: [String] = []) {
        self.title = title
        self.blocks = blocks
        self.warnings = warnings
    }
}

/// A file found by ``SourceWalker``.
public struct SourceFile: Sendable, Equatable {
    /// Where the file is.
    public var url: URL
    /// Its identity in the knowledge base: the root folder's name plus the path below it
    /// (`logistics/faq/发票.csv`), or the file name for a file given directly.
    public var identity: String
    /// Size in bytes.
    public var size: Int64
    /// Creates a source file.
    public init(url: URL, identity: String, size: Int64) {
        self.url = url
        self.identity = identity
        self.size = size
    }
}

/// Defaults shared by loaders and settings.
public enum LoaderDefaults {
    /// OCR languages when a knowledge base sets none: Simplified Chinese and English.
    public static let ocrLanguages = ["chi_sim", "eng"]

    /// True for a plausible tesseract language code (`chi_sim`, `eng`, `script_Latin`…).
    public static func isValidOCRLanguage(_ code: String) -> Bool {
        KnowledgeBaseSettings.isValidOCRLanguage(code)
    }
}
