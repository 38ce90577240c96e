/// The format a loader recognised a source as.
public enum DocumentFormat: String, Sendable, Codable, CaseIterable {
    case text, markdown, html, csv, json, jsonl
    /// PDF (text layer per page, OCR for pages without one).
    case pdf
    /// Word (OOXML `.docx`).
    case docx
    /// PowerPoint (OOXML `.pptx`).
    case pptx
    /// Excel (OOXML `.xlsx`).
    case xlsx
    /// EPUB e-book.
    case epub
    /// An image read by OCR (PNG, JPEG, TIFF).
    case image
    /// SVG drawing (its text elements).
    case svg
}

/// One structural unit of a loaded document: a heading, a paragraph, a list item, a table row or
/// a self-contained record such as one FAQ entry.
///
/// Loaders produce blocks; the chunker packs them into chunks. Blocks whose ``Kind/record`` kind is
/// set are never merged with their neighbours (one FAQ row stays one chunk).
public struct Block: Sendable, Equatable {
    /// What kind of block this is.
    public enum Kind: Sendable, Equatable {
        /// A heading of the given level (1 = top level).
        case heading(level: Int)
        /// A paragraph of running text.
        case paragraph
        /// An item of a bulleted or numbered list.
        case listItem
        /// A self-contained record (FAQ entry, table row with its header): always its own chunk.
        case record
    }

    /// The block kind.
    public var kind: Kind
    /// The block's text, already normalised for display (whitespace collapsed, entities decoded).
    public var text: String
    /// Headings above this block, outermost first.
    public var sectionPath: [String]
    /// 1-based page number, when the source has pages.
    public var page: Int?

    /// Creates a block.
    public init(kind: Kind, text: String, sectionPath: [String] = [], page: Int? = nil) {
        self.kind = kind
        self.text = text
        self.sectionPath = sectionPath
        self.page = page
    }
}

/// A document as a loader returns it: its identity, title and structure.
///
/// ```swift
/// let doc = LoadedDocument(path: "faq.md", title: "FAQ", format: .markdown,
///                          blocks: [Block(kind: .paragraph, text: "Hello.")])
/// ```
public struct LoadedDocument: Sendable {
    /// The identity of the document inside a knowledge base (a path relative to the ingest root,
    /// or an absolute path).
    public var path: String
    /// A human title (first heading, HTML `<title>`, or the file name).
    public var title: String
    /// The recognised format.
    public var format: DocumentFormat
    /// The structure, in reading order.
    public var blocks: [Block]
    /// Warnings met while loading (recoverable problems such as replaced invalid bytes).
    public var warnings: [String]

    /// Creates a loaded document.
    public init(
        path: String, title: String, format: DocumentFormat, blocks: [Block], warnings: [String] = []
    ) {
        self.path = path
        self.title = title
        self.format = format
        self.blocks = blocks
        self.warnings = warnings
    }
}

/// A chunk as the chunker produces it, before it is stored.
public struct ChunkDraft: Sendable, Equatable {
    /// Chunk text (a substring of the document text, `[start, end)` in Unicode scalars).
    public var text: String
    /// Section path of the chunk's first block.
    public var sectionPath: [String]
    /// Page of the chunk's first block, when known.
    public var page: Int?
    /// Start offset in Unicode scalars into the document text.
    public var start: Int
    /// End offset (exclusive) in Unicode scalars into the document text.
    public var end: Int

    /// Creates a chunk draft.
    public init(text: String, sectionPath: [String], page: Int?, start: Int, end: Int) {
        self.text = text
        self.sectionPath = sectionPath
        self.page = page
        self.start = start
        self.end = end
    }

    /// The section path joined for display, e.g. `退货 › 拒收`.
    public var section: String { sectionPath.joined(separator: " › ") }
}
