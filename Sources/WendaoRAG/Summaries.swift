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
    @ExplicitNull public var model: String? = nil
    /// Tesseract languages for OCR of scanned pages and images.
    public var ocr_languages: [String]
    /// The OCR engine: `auto`, `ppocr` or `tesseract`.
    public var ocr_engine: String
    /// The embedding model for dense retrieval, or null.
    @ExplicitNull public var embedder: String? = nil
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
        ocr_engine = r.settings.effectiveOCREngine.rawValue
        embedder = r.settings.embedder
        retrieval = r.settings.effectiveRetrievalMode.rawValue
        fusion = r.settings.effectiveFusion.rawValue
        created_at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: r.createdAt))
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

/// An API key as `wendao keys list --json` and `GET /api/v1/keys` show it: never the key itself nor
/// its hash. `knowledge_bases` are the names of the knowledge bases it covers, in the key's order.
public struct APIKeySummary: Encodable, Sendable {
    public var id: Int64
    public var name: String
    public var prefix: String
    public var scope: String
    public var knowledge_bases: [String]
    public var created_at: String
    @ExplicitNull public var revoked_at: String? = nil
    @ExplicitNull public var last_used_at: String? = nil

    /// The summary of `r`, naming its knowledge bases from `names` (by id; ids no longer present
    /// are left out).
    public init(_ r: APIKeyRecord, names: [Int64: String]) {
        func iso(_ t: Double) -> String { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: t)) }
        id = r.id
        name = r.name
        prefix = r.prefix
        scope = r.scope.rawValue
        knowledge_bases = r.knowledgeBaseIDs.compactMap { names[$0] }
        created_at = iso(r.createdAt)
        revoked_at = r.revokedAt.map(iso)
        last_used_at = r.lastUsedAt.map(iso)
    }
}

/// A chunk as the document page, `wendao docs show --json` and the chunk routes show it.
public struct ChunkSummary: Sendable, Encodable, Equatable {
    /// Chunk id (an edit stores the text under a new id).
    public var id: Int64
    /// Position in the document (0-based; gaps where chunks were deleted).
    public var ordinal: Int
    /// Section path joined with ` › `.
    public var section: String
    /// Page, when known (null otherwise).
    @ExplicitNull public var page: Int? = nil
    /// The text.
    public var text: String
    /// False when disabled (kept and shown, never retrieved).
    public var enabled: Bool
    /// True when an editor changed the text.
    public var edited: Bool
    /// Start offset in Unicode scalars into the extracted text (where the chunk came from).
    public var start: Int
    /// End offset (exclusive).
    public var end: Int

    /// The summary of a stored chunk.
    public init(_ c: ChunkRecord) {
        id = c.id
        ordinal = c.ordinal
        section = c.section
        page = c.page
        text = c.text
        enabled = c.enabled
        edited = c.edited
        start = c.start
        end = c.end
    }
}

/// A document with its text and chunks, as `GET /api/v1/kbs/{kb}/documents/{id}` and
/// `wendao docs show --json` show it.
public struct DocumentDetailSummary: Sendable, Encodable {
    /// The document.
    public var document: DocumentSummary
    /// The extracted text.
    public var text: String
    /// `stored` or `chunks` (see ``DocumentDetail/textSource``).
    public var text_source: String
    /// The chunks asked for (all of them unless paged).
    public var chunks: [ChunkSummary]
    /// How many chunks the document has.
    public var chunk_total: Int

    /// The summary of a document detail; `withChunks` false leaves `chunks` empty.
    public init(_ d: DocumentDetail, withChunks: Bool = true) {
        document = DocumentSummary(d.document)
        text = d.text
        text_source = d.textSource
        chunks = withChunks ? d.chunks.map(ChunkSummary.init) : []
        chunk_total = d.chunkTotal
    }
}

/// A curated answer as `wendao curated list --json` and `/api/v1/kbs/{kb}/curated` show it.
public struct CuratedAnswerSummary: Sendable, Encodable, Equatable {
    /// Stable numeric id.
    public var id: Int64
    /// The question.
    public var question: String
    /// The answer.
    public var answer: String
    /// The editor's note (null when none).
    @ExplicitNull public var note: String? = nil
    /// The conversation turn it was corrected from (null when written by hand).
    @ExplicitNull public var source_turn: String? = nil
    /// Creation time (ISO 8601).
    public var created_at: String
    /// Last change (ISO 8601).
    public var updated_at: String

    /// The summary of a stored entry.
    public init(_ e: CuratedAnswerRecord) {
        id = e.id
        question = e.question
        answer = e.answer
        note = e.note
        source_turn = e.sourceTurn
        let f = ISO8601DateFormatter()
        created_at = f.string(from: Date(timeIntervalSince1970: e.createdAt))
        updated_at = f.string(from: Date(timeIntervalSince1970: e.updatedAt))
    }
}
