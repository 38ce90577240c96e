import Foundation
import Logging
public import WendaoCore
import WendaoIndex
public import WendaoText

/// One knowledge base: its documents in the store and its BM25 index, kept in agreement.
///
/// The store is the source of truth; the index file records the store generation it reflects. When
/// they differ (an ingest was killed before it saved the index), opening catches the index up by
/// comparing chunk ids, so a crash never leaves a knowledge base that answers from stale data.
public final class KnowledgeBase {
    /// The stored record (settings, generation).
    public internal(set) var record: KnowledgeBaseRecord
    let library: Library
    var index: BM25Index
    /// The analyzer used for chunks and queries (its CJK mode is fixed when the knowledge base is
    /// created; changing it needs a reindex).
    public let analyzer: Analyzer
    /// What opening had to repair, if anything (reported by `doctor`).
    public private(set) var recoveryNote: String?
    /// Chunks read for earlier searches, by id. Chunk ids are never reused and a stored chunk never
    /// changes (a re-ingest stores new ids), so an entry cannot go stale; the index only returns
    /// live ids. Bounded by ``chunkCacheLimit``; an instance is used by one thread at a time.
    var chunkCache: [Int64: ChunkRecord] = [:]
    /// The dense vector index, opened on first use when an embedder is set.
    var vectors: VectorIndex?
    /// The generation whose vectors the shared store (PostgreSQL) has given the vector index in
    /// full, and when it was last asked (see ``catchUpSharedVectors(_:embedder:)``).
    var sharedVectorsGeneration: Int64?
    var sharedVectorsAskedAt: Double = 0
    var sharedVectorsAskedGeneration: Int64?
    /// Most chunks kept in ``chunkCache``.
    let chunkCacheLimit = 20_000
    /// Analysed curated questions by entry id, with the entry's change time they were made at.
    var curatedCache: [Int64: (updatedAt: Double, key: String, content: Set<String>)] = [:]

    init(library: Library, record: KnowledgeBaseRecord) throws {
        self.library = library
        self.record = record
        self.analyzer = Analyzer(cjkMode: record.settings.cjkMode)
        let params = BM25Parameters(k1: Float(record.settings.k1), b: Float(record.settings.b))
        let path = library.indexURL(kb: record.id).path
        do {
            index = try BM25Index(path: path, parameters: params)
        } catch let e {
            library.logger.warning("index unreadable, rebuilding from the store", metadata: ["reason": "\(e.message)"])
            index = BM25Index(parameters: params)
            try rebuildIndex()
            recoveryNote = "index file was unreadable (\(e.message)); rebuilt from the store"
            return
        }
        if index.generation != record.generation {
            try catchUp()
        }
    }

    /// Name of the knowledge base.
    public var name: String { record.name }

    var store: any KnowledgeStore { library.store }

    var indexPath: String { library.indexURL(kb: record.id).path }

    /// Takes the writer lock of this knowledge base and makes sure the in-memory index reflects
    /// what other writers committed while we waited (their saved index file, caught up with the
    /// store if needed).
    func lock(reload: Bool = true) throws -> FileLock {
        guard let l = try FileLock(path: library.indexURL(kb: record.id, suffix: "lock").path, timeout: 300) else {
            throw WendaoError(.storage, "knowledge base '\(name)' is busy (another ingest is running)")
        }
        try refreshRecord()
        if reload && (index.generation != record.generation || index.hasUnsavedChanges) {
            index = try BM25Index(path: indexPath, parameters: index.parameters)
            if index.generation != record.generation { try catchUp(locked: true) }
        }
        return l
    }

    /// Text that is indexed for a chunk: its document title and section, then its text.
    static func indexedText(title: String, section: String, text: String) -> String {
        title + "\n" + section + "\n" + text
    }

    /// Brings the index in line with the store by chunk id.
    private func catchUp(locked: Bool = false) throws {
        let lock = locked ? nil : try FileLock(path: library.indexURL(kb: record.id, suffix: "lock").path, timeout: 0)
        defer { lock?.unlock() }
        // Under the lock, the record must be as current as the store the catch-up reads.
        if lock != nil { try refreshRecord() }
        // A store with a change log (PostgreSQL) says what changed since the index's generation: no
        // need to compare every id with the store's.
        if let log = store as? any ChunkChangeLog, index.generation <= record.generation,
            let changes = try log.chunkChanges(kb: record.id, since: index.generation),
            changes.generation == record.generation
        {
            let present = Set(index.ids())
            let stale = changes.removed.filter { present.contains($0) }
            let missing = changes.added.filter { !present.contains($0) }
            index.remove(ids: stale)
            try indexStoredChunks(missing, into: index)
            // Routine with several servers (another one wrote): not a repair, so no recovery note.
            library.logger.info(
                "index caught up from the change log",
                metadata: ["removed": "\(stale.count)", "added": "\(missing.count)"])
            if locked || lock != nil { saveCaughtUpIndex() }
            return
        }
        let storeIDs = try store.chunkIDs(kb: record.id)
        let indexIDs = index.ids()
        let storeSet = Set(storeIDs)
        let stale = indexIDs.filter { !storeSet.contains($0) }
        let indexSet = Set(indexIDs)
        let missing = storeIDs.filter { !indexSet.contains($0) }
        index.remove(ids: stale)
        try indexStoredChunks(missing, into: index)
        recoveryNote =
            "index was behind the store (interrupted ingest?): removed \(stale.count), added \(missing.count) chunks"
        library.logger.notice(
            "index caught up with the store", metadata: ["removed": "\(stale.count)", "added": "\(missing.count)"])
        if locked || lock != nil { saveCaughtUpIndex() }
    }

    /// Saves the caught-up index. A failed save (a full disk) must not make the knowledge base
    /// unusable: the caught-up index serves from memory and the next opening (or writer) with room
    /// saves it.
    private func saveCaughtUpIndex() {
        do {
            try index.save(to: indexPath, generation: record.generation)
        } catch {
            recoveryNote =
                (recoveryNote ?? "")
                + "; the index file could not be saved (\(error.message)), the index is in memory only"
            library.logger.warning(
                "could not save the caught-up index; serving it from memory",
                metadata: ["kb": "\(name)", "reason": "\(error.message)"])
        }
    }

    /// Reads stored chunks by id (in batches, titles included) and adds them to `target`.
    /// Returns how many were added.
    @discardableResult
    private func indexStoredChunks(_ ids: [Int64], into target: BM25Index) throws -> Int {
        var n = 0
        for batch in stride(from: 0, to: ids.count, by: 2000) {
            for c in try store.chunks(ids: Array(ids[batch..<min(batch + 2000, ids.count)])) {
                target.add(
                    id: c.id,
                    terms: analyzer.terms(Self.indexedText(title: c.documentTitle, section: c.section, text: c.text)))
                n += 1
            }
        }
        return n
    }

    /// Rebuilds the index from the store (`wendao reindex`). Returns the number of chunks indexed.
    @discardableResult
    public func rebuildIndex() throws -> Int {
        let l = try lock(reload: false)
        defer { l.unlock() }
        try refreshRecord()
        let fresh = BM25Index(parameters: index.parameters)
        let n = try indexStoredChunks(try store.chunkIDs(kb: record.id), into: fresh)
        try fresh.save(to: indexPath, generation: record.generation)
        index = try BM25Index(path: indexPath, parameters: index.parameters)
        recoveryNote = nil
        return n
    }

    /// Records that this instance's own change left the store at `generation`. When another writer
    /// changed the knowledge base in between (another server on a shared store: the generation moved
    /// by more than one), the index lacks that writer's chunks: the generation is left where the index
    /// is complete, so that the index file is saved as of then and the next opening catches up (and
    /// a server's pool sees this instance as stale).
    func advanceGeneration(to generation: Int64) {
        if generation == record.generation + 1 { record.generation = generation }
    }

    func refreshRecord() throws {
        if let r = try store.knowledgeBase(named: record.name) { record = r }
    }

    /// Number of chunks in the index.
    public var chunkCount: Int { index.count }

    /// Stored documents.
    public func documents() throws -> [DocumentRecord] { try store.documents(kb: record.id) }

    /// Deletes documents by id or path; returns what was deleted.
    public func deleteDocuments(_ keys: [String]) throws -> [DocumentRecord] {
        let l = try lock()
        defer { l.unlock() }
        let docs = try documents()
        var targets: [DocumentRecord] = []
        for key in keys {
            guard let d = docs.first(where: { String($0.id) == key || $0.path == key }) else {
                throw WendaoError(.notFound, "no document '\(key)' in knowledge base '\(name)'")
            }
            if !targets.contains(d) { targets.append(d) }
        }
        var deleted: [DocumentRecord] = []
        for d in targets {
            let r = try store.deleteDocument(kb: record.id, id: d.id)
            index.remove(ids: r.removedChunkIDs)
            advanceGeneration(to: r.generation)
            deleted.append(d)
        }
        try index.save(to: indexPath, generation: record.generation)
        // Vectors of the deleted chunks go too (nothing is embedded: only removals are pending; without
        // a vector file there is nothing to remove, and a remote embedder is not called).
        if record.settings.embedder != nil, vectors != nil || FileManager.default.fileExists(atPath: vectorPath) {
            try syncVectors()
        }
        return deleted
    }

    /// Changes chunking or BM25 settings. Chunking changes apply to documents ingested afterwards
    /// (re-ingest with `--force` to re-chunk); BM25 changes apply at once.
    public func updateSettings(_ settings: KnowledgeBaseSettings) throws {
        let s = try settings.validated()
        guard s.cjkMode == record.settings.cjkMode else {
            throw WendaoError(.invalidArgument, "the CJK mode is fixed when a knowledge base is created")
        }
        try store.updateSettings(kb: record.id, settings: s)
        record.settings = s
        index.parameters = BM25Parameters(k1: Float(s.k1), b: Float(s.b))
    }
}
