public import Foundation
import WendaoCore

// API CONTRACT (used by WendaoRAG). Implementation may be reorganised into several files, but keep
// these names and signatures.

/// Limits applied while loading, so that no file can exhaust memory or time.
public struct LoaderLimits: Sendable {
    /// Largest file read whole into memory (structured formats: Markdown, HTML, CSV, JSON).
    public var maxStructuredBytes: Int = 64 << 20
    /// Largest plain-text file (streamed in pieces, memory stays bounded).
    public var maxTextBytes: Int64 = 4 << 30
    /// Creates limits with the defaults.
    public init() {}
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
