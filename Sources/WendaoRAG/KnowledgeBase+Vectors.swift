import Foundation
import Logging
public import WendaoCore
import WendaoIndex

extension KnowledgeBase {
    /// The retrieval mode queries use when none is asked for.
    public var defaultRetrievalMode: RetrievalMode { record.settings.effectiveRetrievalMode }

    var vectorPath: String { library.indexURL(kb: record.id, suffix: "vec").path }

    /// The embedder of this knowledge base (local or remote, as the library's ``EmbedderProvider``
    /// resolves it), or an error saying none is set.
    func embedder() throws -> any TextEmbedder {
        guard let spec = record.settings.embedder else {
            throw WendaoError(
                .invalidArgument,
                "knowledge base '\(name)' has no embedder: set one with `wendao kb set \(name) --embedder e5-small`")
        }
        return try library.embedders.open(spec)
    }

    /// The dimension of `embedder`'s vectors without calling a provider when it can be helped: known
    /// already, or recorded in this knowledge base's vector file by the same embedder; else one short
    /// text is embedded to learn it (a remote embedder's first use).
    func vectorDimension(_ embedder: any TextEmbedder) throws -> Int {
        if let d = embedder.knownDimension { return d }
        if let v = vectors, v.embedder == embedder.id { return v.dimension }
        if FileManager.default.fileExists(atPath: vectorPath), let stamp = try? VectorIndex.stamp(path: vectorPath),
            stamp.embedder == embedder.id
        {
            return stamp.dimension
        }
        guard let probe = try embedder.embedBlocking(["dimension"], as: .passage).vectors.first, !probe.isEmpty else {
            throw WendaoError(.badResponse, "embedder \(embedder.id) returned no vector")
        }
        return probe.count
    }

    /// The vector index, opened (or created) for the current embedder. A file made by another
    /// embedder is an error naming `wendao reindex`, never mixed vectors.
    func vectorIndex(_ embedder: any TextEmbedder) throws -> VectorIndex {
        let dimension = try vectorDimension(embedder)
        if let v = vectors, v.embedder == embedder.id, v.dimension == dimension { return v }
        let v: VectorIndex
        if FileManager.default.fileExists(atPath: vectorPath) {
            let path = vectorPath
            let opened = Result { () throws(WendaoError) -> VectorIndex in
                try VectorIndex(path: path, embedder: embedder.id, dimension: dimension)
            }
            switch opened {
            case .success(let index): v = index
            case .failure(let e):
                guard e.code == .corrupt else { throw e }
                library.logger.warning("vector index unreadable, rebuilding", metadata: ["reason": "\(e.message)"])
                v = try VectorIndex(embedder: embedder.id, dimension: dimension)
            }
        } else {
            v = try VectorIndex(embedder: embedder.id, dimension: dimension)
        }
        vectors = v
        return v
    }

    /// Brings the vectors in line with the store: embeds chunks that have none (so an interrupted
    /// embedding pass resumes where it stopped), drops vectors of deleted chunks. Saved every
    /// `checkpoint` chunks. Does nothing without an embedder.
    @discardableResult
    public func syncVectors(checkpoint: Int = 1024, progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws
        -> Int
    {
        guard record.settings.embedder != nil else { return 0 }
        let embedder = try embedder()
        let index = try vectorIndex(embedder)
        let stored = try store.chunkIDs(kb: record.id)
        let live = Set(stored)
        let have = Set(index.ids())
        index.remove(ids: have.subtracting(live))
        var missing = stored.filter { !have.contains($0) }
        // A shared store keeps the vectors other servers made: load those rather than embed again.
        if let shared = store as? any VectorStore, !missing.isEmpty {
            var loaded = Set<Int64>()
            for start in stride(from: 0, to: missing.count, by: 5000) {
                let ids = Array(missing[start..<min(start + 5000, missing.count)])
                for v in try shared.storedVectors(kb: record.id, embedder: embedder.id, ids: ids)
                where v.vector.count == index.dimension {
                    try index.add(id: v.id, vector: v.vector)
                    loaded.insert(v.id)
                }
            }
            if !loaded.isEmpty {
                missing.removeAll { loaded.contains($0) }
                try index.save(to: vectorPath, generation: record.generation)
            }
        }
        var done = 0
        if !missing.isEmpty { progress(0, missing.count) }
        var sinceSave = 0
        for start in stride(from: 0, to: missing.count, by: 256) {
            try Task.checkCancellation()
            let ids = Array(missing[start..<min(start + 256, missing.count)])
            let embedded = try Self.embedChunks(ids, store: store, embedder: embedder, into: index)
            done += embedded
            sinceSave += embedded
            progress(done, missing.count)
            if sinceSave >= checkpoint {
                try index.save(to: vectorPath, generation: record.generation)
                sinceSave = 0
            }
        }
        if index.hasUnsavedChanges { try index.save(to: vectorPath, generation: record.generation) }
        return done
    }

    /// Embeds the stored chunks `ids` (each as its section path and text, as a passage) into
    /// `index`; returns how many were embedded (ids no longer stored are skipped).
    static func embedChunks(
        _ ids: [Int64], store: any KnowledgeStore, embedder: any TextEmbedder, into index: VectorIndex
    ) throws -> Int {
        let chunks = try store.chunks(ids: ids)
        let texts = chunks.map { $0.section.isEmpty ? $0.text : $0.section + "\n" + $0.text }
        let vectors = try embedder.embedBlocking(texts, as: .passage).vectors
        guard vectors.count == chunks.count else {
            throw WendaoError(
                .badResponse, "embedder \(embedder.id) returned \(vectors.count) vectors for \(chunks.count) chunks")
        }
        for (c, v) in zip(chunks, vectors) { try index.add(id: c.id, vector: v) }
        // A shared store keeps them for every other server (and a new one with an empty disk).
        if let shared = store as? any VectorStore, let d = vectors.first?.count {
            try shared.storeVectors(
                embedder: embedder.id, dimension: d, zip(chunks, vectors).map { (id: $0.0.id, vector: $0.1) })
        }
        return chunks.count
    }

    /// Drops the vectors and embeds every chunk again (after changing the embedder).
    @discardableResult
    public func rebuildVectors(progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> Int {
        vectors = nil
        try? FileManager.default.removeItem(atPath: vectorPath)
        return try syncVectors(progress: progress)
    }

    /// Dense candidates for `query`: (chunk id, cosine) best first, and the query's vector (nil when
    /// there was nothing to search). `queryVector`, when given, is the query's vector already made by
    /// the embedder (see ``denseQuery(_:mode:)``); else the query is embedded here, blocking.
    ///
    /// Searched where ``Library/vectorSearch`` says: in the database (pgvector), or in this server's
    /// own vector index, which first takes the vectors other servers stored since it last looked.
    func denseCandidates(_ query: String, k: Int, queryVector: [Float]? = nil) throws -> (
        hits: [ScoredID], queryVector: [Float]?
    ) {
        let embedder = try embedder()
        let settings = library.vectorSearch
        if settings.mode == .pgvector, let database = store as? any DatabaseVectorSearch {
            let q = try queryVector ?? embedder.embedBlocking([query], as: .query).vectors[0]
            let hits = try database.nearestChunks(
                kb: record.id, embedder: embedder.id, query: q, k: k, efSearch: settings.efSearch)
            // On the local index's scale (stored vectors unit length, the query as the embedder gave
            // it: cosine × the query's norm, which hybrid fusion weighs), ties by ascending id as there.
            let norm = q.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            let scored = hits.map { ScoredID(id: $0.id, score: $0.similarity * norm) }
                .sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
            return (scored, q)
        }
        let shared = store is any VectorStore
        // No vectors yet and nothing known about a remote embedder: nothing to search, no call made.
        if embedder.knownDimension == nil, vectors == nil, !shared, !FileManager.default.fileExists(atPath: vectorPath) {
            return ([], nil)
        }
        if embedder.knownDimension == nil, vectors == nil, shared, !FileManager.default.fileExists(atPath: vectorPath),
            try store.chunkIDs(kb: record.id).isEmpty
        {
            return ([], nil)
        }
        let index = try vectorIndex(embedder)
        try catchUpSharedVectors(index, embedder: embedder)
        guard index.count > 0 else { return ([], nil) }
        let q = try queryVector ?? embedder.embedBlocking([query], as: .query).vectors[0]
        return (try index.search(q, k: k, embedder: embedder.id), q)
    }

    /// With a shared store (PostgreSQL): adds to `index` the vectors other servers stored for chunks
    /// it lacks, and drops those of chunks gone, so that every server's dense search sees what any
    /// server embedded. Nothing is embedded here. Done once per generation of the knowledge base;
    /// while chunks of it still have no stored vector (their server is embedding them), asked again
    /// at most every 2 s.
    func catchUpSharedVectors(_ index: VectorIndex, embedder: any TextEmbedder) throws {
        guard let shared = store as? any VectorStore, sharedVectorsGeneration != record.generation else { return }
        let now = Date().timeIntervalSince1970
        // The same generation asked already and found incomplete: again only after 2 s.
        if sharedVectorsAskedGeneration == record.generation, now - sharedVectorsAskedAt < 2 { return }
        sharedVectorsAskedAt = now
        sharedVectorsAskedGeneration = record.generation
        let live = Set(self.index.ids())
        let have = Set(index.ids())
        index.remove(ids: have.subtracting(live))
        let missing = live.subtracting(have).sorted()
        var loaded = 0
        for start in stride(from: 0, to: missing.count, by: 5000) {
            let ids = Array(missing[start..<min(start + 5000, missing.count)])
            for v in try shared.storedVectors(kb: record.id, embedder: embedder.id, ids: ids)
            where v.vector.count == index.dimension {
                try index.add(id: v.id, vector: v.vector)
                loaded += 1
            }
        }
        if loaded == missing.count { sharedVectorsGeneration = record.generation }
        if loaded > 0 {
            library.logger.info(
                "vectors caught up from the shared store",
                metadata: ["kb": "\(name)", "added": "\(loaded)", "still_missing": "\(missing.count - loaded)"])
        }
    }

    /// What a search of `query` by `mode` (default: the knowledge base's) must embed before it runs:
    /// the embedder and the exact text, or nil when it embeds nothing (BM25, no embedder, no vectors
    /// yet). Async callers embed the text with `await embedder.embed([text], as: .query)` off this
    /// thread and pass the vector to ``search(_:topK:mode:queryVector:)``, so that a slow remote
    /// embedder never holds the thread the knowledge base runs on. Errors are left to the search
    /// itself (which reports them as it always did).
    public func denseQuery(_ query: String, mode: RetrievalMode? = nil) -> (embedder: any TextEmbedder, text: String)? {
        guard (mode ?? defaultRetrievalMode) != .bm25, record.settings.embedder != nil,
            let embedder = try? embedder()
        else { return nil }
        let text = String(query.prefix(QueryLimits.maxCharacters))
        // In the database (pgvector) or over a shared store's vectors: whether there are any is the
        // search's to find out; the query is embedded either way.
        if library.vectorSearch.mode == .pgvector || store is any VectorStore { return (embedder, text) }
        if embedder.knownDimension == nil, vectors == nil, !FileManager.default.fileExists(atPath: vectorPath) {
            return nil
        }
        guard let index = try? vectorIndex(embedder), index.count > 0 else { return nil }
        return (embedder, text)
    }
}
