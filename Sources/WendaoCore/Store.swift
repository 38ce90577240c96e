/// Persistence of knowledge bases, documents and chunks, API keys, ingest jobs, conversations,
/// curated answers, accounts, share links and provider keys: one protocol per aggregate
/// (``KnowledgeBaseStore``, ``DocumentStore``, ``APIKeyStore``, ``JobStore``, ``ConversationStore``,
/// ``CuratedAnswerStore``, ``UserStore``, ``ShareStore``, ``ProviderKeyStore``).
///
/// The pipeline talks only to these protocols, so that a PostgreSQL backend can replace the embedded
/// SQLite one without touching ingest or query code. Every method that changes data is atomic:
/// it either commits completely or leaves the store as it was.
public protocol KnowledgeStore: KnowledgeBaseStore, DocumentStore, APIKeyStore, JobStore, UserStore, ShareStore,
    ProviderKeyStore, ConversationStore, CuratedAnswerStore
{}

/// Knowledge bases: their names and settings.
public protocol KnowledgeBaseStore: Sendable {
    /// Creates a knowledge base; throws ``WendaoError/Code/alreadyExists`` when the name is taken.
    func createKnowledgeBase(name: String, settings: KnowledgeBaseSettings) throws -> KnowledgeBaseRecord
    /// All knowledge bases, by name.
    func knowledgeBases() throws -> [KnowledgeBaseRecord]
    /// The knowledge base with this name, or nil.
    func knowledgeBase(named name: String) throws -> KnowledgeBaseRecord?
    /// Deletes a knowledge base with all its documents and chunks.
    func deleteKnowledgeBase(id: Int64) throws
    /// Replaces the settings of a knowledge base.
    func updateSettings(kb: Int64, settings: KnowledgeBaseSettings) throws
}

/// Documents and their chunks.
public protocol DocumentStore: Sendable {
    /// The document with this path, or nil.
    func document(kb: Int64, path: String) throws -> DocumentRecord?
    /// All documents of a knowledge base, by path.
    func documents(kb: Int64) throws -> [DocumentRecord]
    /// Stores a document and its chunks, replacing any previous version with the same path, in
    /// one transaction. `chunks` is called inside the transaction with an `insert` function that
    /// stores one chunk and returns its id; if `chunks` throws, nothing changes.
    func replaceDocument(
        kb: Int64, _ document: NewDocument, chunks: (_ insert: (ChunkDraft) throws -> Int64) throws -> Void
    ) throws -> DocumentChange
    /// Stores several documents with their chunks in one transaction (bulk loading): all of them
    /// or none. Returns one change per document, in order.
    func replaceDocuments(kb: Int64, _ documents: [(document: NewDocument, chunks: [ChunkDraft])]) throws
        -> [DocumentChange]
    /// Deletes a document and its chunks; returns the removed chunk ids.
    func deleteDocument(kb: Int64, id: Int64) throws -> (removedChunkIDs: [Int64], generation: Int64)

    /// Chunks by id, in the order asked (missing ids are skipped; disabled chunks included).
    func chunks(ids: [Int64]) throws -> [ChunkRecord]
    /// Neighbouring enabled chunks of the same document (by ordinal), for context expansion.
    func chunks(document: Int64, ordinals: ClosedRange<Int>) throws -> [ChunkRecord]
    /// Visits every enabled chunk of a knowledge base as (id, section, text), in id order.
    func forEachChunk(kb: Int64, _ body: (Int64, String, String) throws -> Void) throws
    /// The ids of every enabled chunk of a knowledge base, ascending: what the indexes hold.
    func chunkIDs(kb: Int64) throws -> [Int64]

    /// The chunks of a document, disabled ones included, by ordinal: `limit` of them from `offset`.
    func chunks(document: Int64, offset: Int, limit: Int) throws -> [ChunkRecord]
    /// The extracted text stored for a document, or nil when none was kept (a document stored
    /// before texts were kept, or a streamed large file).
    func documentText(document: Int64) throws -> String?
    /// Replaces the text of chunk `id` of knowledge base `kb` in one transaction: the new text is
    /// stored under a new chunk id (same document, ordinal, section and page; marked edited) and the
    /// old chunk removed, so that indexes keyed by chunk id catch up by comparing ids. Throws
    /// ``WendaoError/Code/notFound`` when the chunk is not in `kb`.
    func editChunk(kb: Int64, id: Int64, text: String) throws -> ChunkChange
    /// Enables or disables chunk `id` of `kb` (its id stays). Throws `notFound` as above.
    func setChunkEnabled(kb: Int64, id: Int64, enabled: Bool) throws -> ChunkChange
    /// Deletes chunk `id` of `kb` (its document stays, with one chunk fewer). Throws `notFound`.
    func deleteChunk(kb: Int64, id: Int64) throws -> ChunkChange
    /// Problems found by a consistency check of the store itself (empty when healthy).
    func integrityProblems(kb: Int64) throws -> [String]
}

/// API keys (their hashes and prefixes, never the keys) and the knowledge bases they cover.
public protocol APIKeyStore: Sendable {
    /// Stores a new API key (its hash and prefix, never the key). A nil `name` becomes `key-N`, N
    /// being the new id. Throws ``WendaoError/Code/notFound`` when a knowledge-base id does not exist.
    func createAPIKey(
        name: String?, prefix: String, hash: String, scope: APIKeyScope, knowledgeBaseIDs: [Int64]
    ) throws -> APIKeyRecord
    /// All API keys, revoked ones included, by id.
    func apiKeys() throws -> [APIKeyRecord]
    /// The API key whose SHA-256 (lowercase hex) is `hash`, revoked or not, or nil.
    func apiKey(hash: String) throws -> APIKeyRecord?
    /// Marks a key revoked at `at`; throws ``WendaoError/Code/notFound`` for an unknown id and
    /// ``WendaoError/Code/invalidArgument`` when it was revoked already. Returns the revoked key.
    func revokeAPIKey(id: Int64, at: Double) throws -> APIKeyRecord
    /// Records that a key was used at `at` (unknown ids are ignored).
    func markAPIKeyUsed(id: Int64, at: Double) throws
}

/// Ingest jobs: their queue, state and progress.
public protocol JobStore: Sendable {
    /// Stores a new `queued` job; throws ``WendaoError/Code/notFound`` when the knowledge base
    /// does not exist.
    func createJob(kb: Int64, payload: String, filesTotal: Int) throws -> JobRecord
    /// Stores the state, times, progress, results and error of a job (its knowledge base, payload
    /// and creation time never change); throws ``WendaoError/Code/notFound`` for an unknown id.
    func updateJob(_ job: JobRecord) throws
    /// The job with this id, or nil.
    func job(id: Int64) throws -> JobRecord?
    /// The newest `limit` jobs of a knowledge base, newest first.
    func jobs(kb: Int64, limit: Int) throws -> [JobRecord]
    /// Puts every `running` job back to `queued` in one transaction and returns them (as updated),
    /// oldest first.
    func requeueRunningJobs() throws -> [JobRecord]
    /// The oldest `queued` job, or nil.
    func nextQueuedJob() throws -> JobRecord?
}

/// Curated answers of a knowledge base: questions with the answer an editor wrote.
///
/// Two entries of one knowledge base never share a question in its normalised form (the key the
/// caller computes, see `CuratedMatcher.normalized`): creating or renaming onto a taken key throws
/// ``WendaoError/Code/alreadyExists``.
public protocol CuratedAnswerStore: Sendable {
    /// Stores a new entry; `key` is the normalised question.
    func createCuratedAnswer(
        kb: Int64, question: String, key: String, answer: String, note: String?, sourceTurn: String?
    ) throws -> CuratedAnswerRecord
    /// All entries of a knowledge base, by id.
    func curatedAnswers(kb: Int64) throws -> [CuratedAnswerRecord]
    /// Changes an entry's question (with its key), answer or note (nil: unchanged; an empty note
    /// removes it). Throws `notFound` for an id not in `kb`.
    func updateCuratedAnswer(
        kb: Int64, id: Int64, question: String?, key: String?, answer: String?, note: String?
    ) throws -> CuratedAnswerRecord
    /// Deletes an entry; throws `notFound` for an id not in `kb`.
    func deleteCuratedAnswer(kb: Int64, id: Int64) throws
}
