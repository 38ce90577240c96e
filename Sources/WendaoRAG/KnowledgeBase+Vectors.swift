import Foundation
import Synchronization
import Logging
import WendaoCore
import WendaoEmbed
import WendaoIndex

/// Opens local text-embedding models by name and keeps them for the life of the process.
///
/// Names: a pulled model (`e5-small`, `minilm`; see `wendao models pull`), `path:/dir` (a Hugging
/// Face BERT-family directory) or `path:/file.bin` (an E5S1 file). Knowledge bases open their
/// embedder through ``EmbedderRegistry``, which also knows providers' models (`provider:model`).
public enum Embedders {
    private static let cache = Mutex<[String: TextEncoder]>([:])

    /// The encoder for `spec`, loaded once per process.
    public static func open(_ spec: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> TextEncoder
    {
        if let hit = cache.withLock({ $0[spec] }) { return hit }
        try CPUFeatures.requireEncoderSupport()
        let model: EmbeddingModelFiles
        if spec.hasPrefix("path:") {
            let path = String(spec.dropFirst(5))
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                throw WendaoError(.notFound, "embedder \(spec): no such file or directory")
            }
            model =
                isDir.boolValue
                ? try BertModelLoader.load(directory: path) : try E5S1Loader.load(path: path)
        } else if let known = EmbedderCatalog.known(spec) {
            guard let dir = EmbedderCatalog.installed(known, environment: environment) else {
                throw WendaoError(
                    .notFound, "embedder \(known.name) is not pulled yet: run `wendao models pull \(known.name)`")
            }
            switch known.name {
            case "e5-small": model = try E5S1Loader.load(path: dir.appendingPathComponent("e5-small-q4.bin").path)
            default: model = try BertModelLoader.load(directory: dir.path, id: "minilm-l6-v2")
            }
        } else {
            let names = EmbedderCatalog.known.map(\.name).joined(separator: ", ")
            throw WendaoError(
                .invalidArgument,
                "unknown embedder '\(spec)': use \(names), path:/model or provider:model "
                    + "(e.g. dashscope:text-embedding-v3)")
        }
        let threads = environment["WENDAO_EMBED_THREADS"].flatMap(Int.init)
        let encoder = try TextEncoder(model: model, threads: threads)
        return cache.withLock { c in
            if let other = c[spec] { return other }
            c[spec] = encoder
            return encoder
        }
    }
}

extension KnowledgeBase {
    /// The retrieval mode queries use when none is asked for.
    public var defaultRetrievalMode: RetrievalMode { record.settings.effectiveRetrievalMode }

    var vectorPath: String { library.indexURL(kb: record.id, suffix: "vec").path }

    /// The embedder of this knowledge base (local or remote, see ``EmbedderRegistry``), or an error
    /// saying none is set.
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
        let missing = stored.filter { !have.contains($0) }
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
    /// there was nothing to search).
    func denseCandidates(_ query: String, k: Int) throws -> (hits: [ScoredID], queryVector: [Float]?) {
        let embedder = try embedder()
        // No vectors yet and nothing known about a remote embedder: nothing to search, no call made.
        if embedder.knownDimension == nil, vectors == nil, !FileManager.default.fileExists(atPath: vectorPath) {
            return ([], nil)
        }
        let index = try vectorIndex(embedder)
        guard index.count > 0 else { return ([], nil) }
        let q = try embedder.embedBlocking([query], as: .query).vectors[0]
        return (try index.search(q, k: k, embedder: embedder.id), q)
    }
}

/// What the processor supports, read before any encoder kernel runs (they are built for AVX2 + FMA
/// on x86-64).
public enum CPUFeatures {
    /// Throws a clear error on an x86-64 processor without AVX2 and FMA.
    public static func requireEncoderSupport() throws {
        #if arch(x86_64) && os(Linux)
            guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
            else { return }
            let set = Set(flags.split(separator: " ").map(String.init))
            guard ["avx2", "fma", "bmi2", "f16c", "movbe"].allSatisfy(set.contains) else {
                throw WendaoError(
                    .unsupported,
                    "local embedding models need a processor with AVX2 and FMA (Intel Haswell, AMD Zen or newer); BM25 still works"
                )
            }
        #endif
    }
}
