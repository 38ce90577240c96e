/// A knowledge base as stored.
public struct KnowledgeBaseRecord: Sendable, Equatable {
    /// Stable numeric id (names index files).
    public var id: Int64
    /// Unique name.
    public var name: String
    /// Settings.
    public var settings: KnowledgeBaseSettings
    /// Creation time, seconds since 1970.
    public var createdAt: Double
    /// Change counter, bumped by every committed document change.
    public var generation: Int64

    /// Creates a record.
    public init(id: Int64, name: String, settings: KnowledgeBaseSettings, createdAt: Double, generation: Int64) {
        self.id = id
        self.name = name
        self.settings = settings
        self.createdAt = createdAt
        self.generation = generation
    }
}

/// A stored document.
public struct DocumentRecord: Sendable, Equatable {
    /// Stable numeric id.
    public var id: Int64
    /// Identity inside the knowledge base.
    public var path: String
    /// Human title.
    public var title: String
    /// Format.
    public var format: String
    /// SHA-256 of the source bytes, lowercase hex.
    public var contentHash: String
    /// Size of the source in bytes.
    public var byteCount: Int64
    /// Number of chunks.
    public var chunkCount: Int
    /// Ingest time, seconds since 1970.
    public var ingestedAt: Double
    /// Where the document was read from: an absolute file path or a URL (nil for documents
    /// stored before sources were recorded).
    public var source: String?
    /// The web server's ETag for a fetched page (for conditional re-fetch).
    public var etag: String?
    /// The web server's Last-Modified for a fetched page.
    public var lastModified: String?

    /// Creates a record.
    public init(
        id: Int64, path: String, title: String, format: String, contentHash: String, byteCount: Int64,
        chunkCount: Int, ingestedAt: Double, source: String? = nil, etag: String? = nil, lastModified: String? = nil
    ) {
        self.id = id
        self.path = path
        self.title = title
        self.format = format
        self.contentHash = contentHash
        self.byteCount = byteCount
        self.chunkCount = chunkCount
        self.ingestedAt = ingestedAt
        self.source = source
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// A stored chunk with what a citation needs.
public struct ChunkRecord: Sendable, Equatable {
    /// Stable numeric id (the BM25 index refers to chunks by it).
    public var id: Int64
    /// Owning document id.
    public var documentID: Int64
    /// Owning document path.
    public var documentPath: String
    /// Owning document title.
    public var documentTitle: String
    /// Position of the chunk inside its document (0-based).
    public var ordinal: Int
    /// Section path joined with ` › `.
    public var section: String
    /// Page, when known.
    public var page: Int?
    /// The chunk text.
    public var text: String
    /// Start offset in Unicode scalars into the document text.
    public var start: Int
    /// End offset (exclusive).
    public var end: Int
    /// False when an editor disabled the chunk: it stays stored and shown on the document page, but
    /// is in neither index and never retrieved.
    public var enabled: Bool
    /// True when an editor changed the text (the offsets still say where it came from).
    public var edited: Bool

    /// Creates a record.
    public init(
        id: Int64, documentID: Int64, documentPath: String, documentTitle: String, ordinal: Int, section: String,
        page: Int?, text: String, start: Int, end: Int, enabled: Bool = true, edited: Bool = false
    ) {
        self.id = id
        self.documentID = documentID
        self.documentPath = documentPath
        self.documentTitle = documentTitle
        self.ordinal = ordinal
        self.section = section
        self.page = page
        self.text = text
        self.start = start
        self.end = end
        self.enabled = enabled
        self.edited = edited
    }
}

/// A new version of a document to store; its chunks are streamed in by the caller (see
/// ``KnowledgeStore/replaceDocument(kb:_:chunks:)``).
public struct NewDocument: Sendable {
    /// Identity inside the knowledge base.
    public var path: String
    /// Human title.
    public var title: String
    /// Format name.
    public var format: String
    /// SHA-256 of the source bytes.
    public var contentHash: String
    /// Size of the source in bytes.
    public var byteCount: Int64
    /// Where it was read from (absolute file path or URL), for re-ingest.
    public var source: String?
    /// The web server's ETag, for fetched pages.
    public var etag: String?
    /// The web server's Last-Modified, for fetched pages.
    public var lastModified: String?
    /// The extracted text (every block's text, separated by a blank line: what chunk offsets refer
    /// to), stored for the document page; nil when it is not kept (streamed large files).
    public var text: String?

    /// Creates a new document.
    public init(
        path: String, title: String, format: String, contentHash: String, byteCount: Int64, source: String? = nil,
        etag: String? = nil, lastModified: String? = nil, text: String? = nil
    ) {
        self.path = path
        self.title = title
        self.format = format
        self.contentHash = contentHash
        self.byteCount = byteCount
        self.source = source
        self.etag = etag
        self.lastModified = lastModified
        self.text = text
    }
}

/// What replacing a document changed, so that the index can follow.
public struct DocumentChange: Sendable {
    /// The stored document.
    public var document: DocumentRecord
    /// Chunk ids that were removed (the previous version's chunks).
    public var removedChunkIDs: [Int64]
    /// The new chunk ids, in the order they were inserted.
    public var addedChunkIDs: [Int64]
    /// The knowledge base generation after the change.
    public var generation: Int64

    /// Creates a change.
    public init(document: DocumentRecord, removedChunkIDs: [Int64], addedChunkIDs: [Int64], generation: Int64) {
        self.document = document
        self.removedChunkIDs = removedChunkIDs
        self.addedChunkIDs = addedChunkIDs
        self.generation = generation
    }
}

/// What an editor's change to one chunk did, so that the indexes can follow.
public struct ChunkChange: Sendable {
    /// The chunk as stored now (an edited text is stored under a new id), nil when it was deleted.
    public var chunk: ChunkRecord?
    /// The id the chunk had before the change.
    public var previousID: Int64
    /// The knowledge-base generation after the change.
    public var generation: Int64

    /// Creates a change.
    public init(chunk: ChunkRecord?, previousID: Int64, generation: Int64) {
        self.chunk = chunk
        self.previousID = previousID
        self.generation = generation
    }
}

/// A curated answer: a question and the answer an editor wrote for it, which answers that question
/// (and close paraphrases) from then on.
public struct CuratedAnswerRecord: Sendable, Equatable {
    /// Stable numeric id.
    public var id: Int64
    /// The question as the editor wrote it.
    public var question: String
    /// The answer.
    public var answer: String
    /// An editor's note (why, from which conversation), or nil.
    public var note: String?
    /// The conversation turn the correction was made from, when it came from one.
    public var sourceTurn: String?
    /// Creation time, seconds since 1970.
    public var createdAt: Double
    /// Last change, seconds since 1970.
    public var updatedAt: Double

    /// Creates a record.
    public init(
        id: Int64, question: String, answer: String, note: String? = nil, sourceTurn: String? = nil,
        createdAt: Double, updatedAt: Double
    ) {
        self.id = id
        self.question = question
        self.answer = answer
        self.note = note
        self.sourceTurn = sourceTurn
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
