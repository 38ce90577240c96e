import Foundation
public import WendaoCore
import WendaoLoaders

/// A knowledge base as `kb show --json` and the HTTP API describe it.
public struct KnowledgeBaseSummary: Sendable, Encodable, Equatable {
    /// Unique name.
    public var name: String
    /// Stable numeric id.
    public var id: Int64
    /// Number of documents.
    public var documents: Int
    /// Number of chunks.
    public var chunks: Int
    /// Target chunk size in characters.
    public var chunk_size: Int
    /// Chunk overlap in characters.
    public var chunk_overlap: Int
    /// BM25 k1.
    public var k1: Double
    /// BM25 b.
    public var b: Double
    /// How CJK text is indexed.
    public var cjk_mode: String
    /// The model that writes answers (`provider:model`), or null.
    public var model: String?
    /// Tesseract languages for OCR of scanned pages and images.
    public var ocr_languages: [String]
    /// The embedding model for dense retrieval, or null.
    public var embedder: String?
    /// The retrieval mode queries use by default.
    public var retrieval: String
    /// How hybrid retrieval fuses its lists: `weighted` or `rrf`.
    public var fusion: String
    /// Creation time (ISO 8601).
    public var created_at: String

    /// The summary of `r` with its document and chunk counts.
    public init(_ r: KnowledgeBaseRecord, documents: Int, chunks: Int) {
        name = r.name
        id = r.id
        self.documents = documents
        self.chunks = chunks
        chunk_size = r.settings.chunkSize
        chunk_overlap = r.settings.chunkOverlap
        k1 = r.settings.k1
        b = r.settings.b
        cjk_mode = r.settings.cjkMode.rawValue
        model = r.settings.model
        ocr_languages = r.settings.ocrLanguages ?? LoaderDefaults.ocrLanguages
        embedder = r.settings.embedder
        retrieval = r.settings.effectiveRetrievalMode.rawValue
        fusion = r.settings.effectiveFusion.rawValue
        created_at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: r.createdAt))
    }

    /// Encodes every key, `model` as null when unset.
    public func encode(to encoder: any Encoder) throws {
        enum K: String, CodingKey {
            case name, id, documents, chunks, chunk_size, chunk_overlap, k1, b, cjk_mode, model, ocr_languages, embedder, retrieval, fusion, created_at
        }
        var c = encoder.container(keyedBy: K.self)
        try c.encode(name, forKey: .name)
        try c.encode(id, forKey: .id)
        try c.encode(documents, forKey: .documents)
        try c.encode(chunks, forKey: .chunks)
        try c.encode(chunk_size, forKey: .chunk_size)
        try c.encode(chunk_overlap, forKey: .chunk_overlap)
        try c.encode(k1, forKey: .k1)
        try c.encode(b, forKey: .b)
        try c.encode(cjk_mode, forKey: .cjk_mode)
        try c.encode(model, forKey: .model)
        try c.encode(ocr_languages, forKey: .ocr_languages)
        try c.encode(embedder, forKey: .embedder)
        try c.encode(retrieval, forKey: .retrieval)
        try c.encode(fusion, forKey: .fusion)
        try c.encode(created_at, forKey: .created_at)
    }
}

extension Library {
    /// The summary of knowledge base `name`, from the store alone (never opens or repairs an index).
    public func summary(_ name: String) throws -> KnowledgeBaseSummary {
        let r = try record(name)
        return try summary(r)
    }

    /// The summary of a stored record.
    public func summary(_ r: KnowledgeBaseRecord) throws -> KnowledgeBaseSummary {
        let docs = try store.documents(kb: r.id)
        return KnowledgeBaseSummary(r, documents: docs.count, chunks: docs.reduce(0) { $0 + $1.chunkCount })
    }
}

/// A document as `docs list --json` and the HTTP API describe it.
public struct DocumentSummary: Sendable, Encodable, Equatable {
    /// Stable numeric id.
    public var id: Int64
    /// Document identity (folder name plus relative path).
    public var path: String
    /// Title.
    public var title: String
    /// Detected format.
    public var format: String
    /// Number of chunks.
    public var chunks: Int
    /// Size in bytes.
    public var bytes: Int64
    /// SHA-256 of the bytes.
    public var sha256: String
    /// When it was ingested (ISO 8601).
    public var ingested_at: String

    /// The summary of a stored document.
    public init(_ d: DocumentRecord) {
        id = d.id
        path = d.path
        title = d.title
        format = d.format
        chunks = d.chunkCount
        bytes = d.byteCount
        sha256 = d.contentHash
        ingested_at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: d.ingestedAt))
    }
}
