import Foundation
import Logging
public import WendaoCore
import WendaoIndex
public import WendaoLoaders
import WendaoText

/// Options of one ingest run.
public struct IngestOptions: Sendable {
    /// Glob patterns a file must match (empty: all).
    public var include: [String] = []
    /// Glob patterns that exclude files.
    public var exclude: [String] = []
    /// Remove documents under the given folders whose source no longer exists.
    public var prune = false
    /// Re-ingest files even when their content hash is unchanged.
    public var force = false
    /// Loader limits.
    public var limits = LoaderLimits()
    /// Text files above this size are streamed in pieces instead of read whole.
    public var streamThreshold: Int64 = 8 << 20
    /// Identities to use instead of the walker's, keyed by standardized absolute file path: a
    /// re-ingested document keeps the identity it was first stored under.
    public var identities: [String: String] = [:]
    /// Files loaded at once: 0 uses every core; 1 loads them one by one on the calling thread
    /// (the server's background jobs, which run at low priority and must not take request threads).
    public var parallelism = 0
    /// Called as the pages of a scanned file are OCR'd: the file's identity, pages done, pages to OCR.
    /// From loader threads (files are planned in parallel), so it must be safe to call from any thread.
    public var ocrProgress: (@Sendable (_ path: String, _ done: Int, _ total: Int) -> Void)?

    /// Creates default options.
    public init() {}
}

/// What happened to one file.
public enum IngestOutcome: String, Sendable, Codable {
    /// New document.
    case added
    /// Changed document, chunks replaced.
    case updated
    /// Same content hash as stored: nothing to do.
    case unchanged
    /// Rejected with a reason.
    case failed
    /// Removed because its source disappeared (`--prune`).
    case pruned
}

/// Progress and results reported while ingesting.
public enum IngestEvent: Sendable {
    /// Files found, total bytes.
    case planned(files: Int, bytes: Int64)
    /// One file finished.
    case file(path: String, outcome: IngestOutcome, chunks: Int, bytes: Int64, reason: String?)
    /// Chunks embedded so far for dense retrieval, of `total` (after the files are stored).
    case embedding(done: Int, total: Int)
}

/// The summary of an ingest run.
public struct IngestSummary: Sendable, Codable {
    /// One file's result.
    public struct FileResult: Sendable, Codable {
        /// Document identity.
        public var path: String
        /// Outcome.
        public var outcome: IngestOutcome
        /// Chunks stored.
        public var chunks: Int
        /// One-line reason (failures) or warnings.
        public var reason: String?
    }

    /// Knowledge base name.
    public var kb: String
    /// Files considered.
    public var files = 0
    /// New documents.
    public var added = 0
    /// Changed documents.
    public var updated = 0
    /// Unchanged documents.
    public var unchanged = 0
    /// Failed files.
    public var failed = 0
    /// Pruned documents.
    public var pruned = 0
    /// Chunks stored in this run.
    public var chunks = 0
    /// Total size of the files considered (unchanged and failed ones included).
    public var bytes: Int64 = 0
    /// Wall time.
    public var seconds = 0.0
    /// Per-file results (failures first).
    public var results: [FileResult] = []
}

extension IngestSummary {
    /// An empty summary for knowledge base `kb`.
    public init(kb: String) { self.kb = kb }

    /// Counts one file's (or page's) result: the file, its outcome, chunks and bytes.
    mutating func tally(path: String, outcome: IngestOutcome, chunks: Int, bytes: Int64, reason: String?) {
        files += 1
        switch outcome {
        case .added: added += 1
        case .updated: updated += 1
        case .unchanged: unchanged += 1
        case .failed: failed += 1
        case .pruned: pruned += 1
        }
        self.chunks += chunks
        self.bytes += bytes
        results.append(.init(path: path, outcome: outcome, chunks: chunks, reason: reason))
    }

    /// Adds another run's counts and results (files and web pages in one command).
    public mutating func merge(_ other: IngestSummary) {
        files += other.files
        added += other.added
        updated += other.updated
        unchanged += other.unchanged
        failed += other.failed
        pruned += other.pruned
        chunks += other.chunks
        bytes += other.bytes
        seconds += other.seconds
        results += other.results
        results.sort { ($0.outcome == .failed ? 0 : 1, $0.path) < ($1.outcome == .failed ? 0 : 1, $1.path) }
    }
}

extension KnowledgeBase {
    /// Ingests files and folders. Every file is its own transaction; a failing file is reported
    /// and the rest go on. The index is saved once at the end.
    public func ingest(
        _ paths: [String], options: IngestOptions = IngestOptions(), progress: (IngestEvent) -> Void = { _ in }
    ) throws -> IngestSummary {
        let l = try lock()
        defer { l.unlock() }
        let started = Date()
        var summary = IngestSummary(kb: name)
        // URLs go through ingestWeb (the guarded fetcher); here they are reported, never opened.
        let isURL = { (p: String) -> Bool in Self.isURL(p) }
        let walker = SourceWalker(include: options.include, exclude: options.exclude)
        var (files, walkErrors) = walker.walk(paths.filter { !isURL($0) })
        if !options.identities.isEmpty {
            for i in files.indices {
                if let identity = options.identities[files[i].url.standardizedFileURL.path] {
                    files[i].identity = identity
                }
            }
        }
        for url in paths where isURL(url) {
            walkErrors.append(
                (url, WendaoError(.unsupported, "URLs are fetched by web ingest (wendao ingest --kb K URL)")))
        }
        progress(.planned(files: files.count + walkErrors.count, bytes: files.reduce(0) { $0 + $1.size }))
        for e in walkErrors {
            summary.files += 1
            summary.failed += 1
            summary.results.append(.init(path: e.path, outcome: .failed, chunks: 0, reason: e.error.message))
            progress(.file(path: e.path, outcome: .failed, chunks: 0, bytes: 0, reason: e.error.message))
        }
        // Files are planned (hashed, loaded, chunked, analysed) in parallel batches, then stored
        // one by one in file order: one transaction per file, one writer.
        let settings = record.settings
        var kbOptions = options
        if let languages = settings.ocrLanguages, !languages.isEmpty { kbOptions.limits.ocrLanguages = languages }
        kbOptions.limits.ocrEngine = settings.effectiveOCREngine
        let options = kbOptions
        let analyzer = self.analyzer
        let store = self.store
        let kbID = record.id
        // Chunks are embedded on a thread of their own as files are stored (nil without an embedder).
        let embedding = startEmbeddingPipeline()
        defer { embedding?.cancel() }
        var lastEmbeddingReport = (done: -1, total: -1)
        func reportEmbedding() {
            guard let p = embedding?.progress, p.total > 0, p != lastEmbeddingReport else { return }
            lastEmbeddingReport = p
            progress(.embedding(done: p.done, total: p.total))
        }
        var batchStart = 0
        while batchStart < files.count {
            var batchEnd = batchStart
            var batchBytes: Int64 = 0
            while batchEnd < files.count && batchEnd - batchStart < 32
                && (batchBytes < 64 << 20 || batchEnd == batchStart)
            {
                batchBytes += files[batchEnd].size
                batchEnd += 1
            }
            let batch = Array(files[batchStart..<batchEnd])
            batchStart = batchEnd
            let plans = Concurrently.map(batch.count, width: options.parallelism == 1 ? 1 : 0) { i in
                Self.plan(batch[i], kb: kbID, store: store, settings: settings, analyzer: analyzer, options: options)
            }
            for (file, plan) in zip(batch, plans) {
                var outcome = IngestOutcome.failed
                var chunks = 0
                var reason: String?
                do {
                    switch plan {
                    case .unchanged:
                        outcome = .unchanged
                    case .failed(let why):
                        reason = why
                    case .prepared(let p, let isNew, let sameContent):
                        let added = try self.store(p).addedChunkIDs
                        chunks = added.count
                        embedding?.submit(added, generation: record.generation)
                        // The same bytes read again (--force, the server's re-ingest) are unchanged
                        // content, even though their chunks were made again.
                        outcome = isNew ? .added : sameContent ? .unchanged : .updated
                        reason = p.warnings.isEmpty ? nil : p.warnings.prefix(3).joined(separator: "; ")
                    case .streamed(let hash, let isNew, let sameContent):
                        (chunks, reason) = try ingestStreamed(file, hash: hash, options: options)
                        outcome = isNew ? .added : sameContent ? .unchanged : .updated
                    }
                } catch let e as WendaoError {
                    outcome = .failed
                    reason = e.message
                } catch {
                    outcome = .failed
                    reason = "\(error)"
                }
                summary.tally(path: file.identity, outcome: outcome, chunks: chunks, bytes: file.size, reason: reason)
                if outcome == .failed {
                    library.logger.warning(
                        "file rejected", metadata: ["file": "\(file.identity)", "reason": "\(reason ?? "")"])
                }
                progress(.file(path: file.identity, outcome: outcome, chunks: chunks, bytes: file.size, reason: reason))
                reportEmbedding()
            }
        }
        if options.prune {
            // A document is pruned only when its source file is gone from disk: not when a pattern
            // excludes it, nor when it could not be read this time.
            let fm = FileManager.default
            var roots: [(prefix: String, directory: URL)] = []
            for p in paths where !isURL(p) {
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue else { continue }
                roots.append((SourceWalker.rootName(ofDirectory: p) + "/", URL(fileURLWithPath: p)))
            }
            let seen = Set(files.map(\.identity))
            for doc in try documents() where !seen.contains(doc.path) {
                guard let root = roots.first(where: { doc.path.hasPrefix($0.prefix) }) else { continue }
                let source = root.directory.appendingPathComponent(String(doc.path.dropFirst(root.prefix.count)))
                if fm.fileExists(atPath: source.path) { continue }
                let r = try store.deleteDocument(kb: record.id, id: doc.id)
                index.remove(ids: r.removedChunkIDs)
                advanceGeneration(to: r.generation)
                summary.pruned += 1
                summary.results.append(.init(path: doc.path, outcome: .pruned, chunks: 0, reason: nil))
                progress(.file(path: doc.path, outcome: .pruned, chunks: 0, bytes: 0, reason: nil))
            }
        }
        // A run that changed nothing leaves the index file as it is.
        if index.hasUnsavedChanges || index.generation != record.generation {
            try index.save(to: indexPath, generation: record.generation)
        }
        // The chunks still queued are embedded while the BM25 index is saved; then the vector sync
        // embeds whatever the pipeline did not (streamed files, an interrupted earlier run, a failed
        // batch — whose error it reports) and saves.
        if let embedding {
            if let error = embedding.finish() {
                library.logger.warning("embedding during ingest stopped; retrying", metadata: ["reason": "\(error)"])
            }
            reportEmbedding()
        }
        try syncVectors { done, total in progress(.embedding(done: done, total: total)) }
        summary.seconds = Date().timeIntervalSince(started)
        summary.results.sort { ($0.outcome == .failed ? 0 : 1, $0.path) < ($1.outcome == .failed ? 0 : 1, $1.path) }
        return summary
    }

    /// Adds (or replaces) one document given as loaded structure. Returns the chunks stored.
    /// Call ``saveIndex()`` after a batch. Unlike ``ingest(_:options:progress:)`` this does not take
    /// the writer lock: use it from one process at a time (evaluations, programs that own the data
    /// directory).
    @discardableResult
    public func add(_ doc: LoadedDocument, contentHash: String, byteCount: Int64 = 0) throws -> Int {
        let header = NewDocument(
            path: doc.path, title: doc.title, format: doc.format.rawValue, contentHash: contentHash,
            byteCount: byteCount)
        let p = Self.prepare(doc, header: header, settings: record.settings, analyzer: analyzer)
        return try store(p).addedChunkIDs.count
    }

    /// Saves the index (after ``add(_:contentHash:byteCount:)`` calls).
    public func saveIndex() throws {
        try index.save(to: indexPath, generation: record.generation)
    }

    /// Hashes a file by streaming it.
    static func hashFile(_ url: URL) throws -> String {
        guard let h = FileHandle(forReadingAtPath: url.path) else {
            throw WendaoError(.unreadable, "cannot open file (permission denied or vanished)")
        }
        defer { try? h.close() }
        var sha = SHA256()
        while true {
            let piece: Data
            do {
                piece = try h.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw WendaoError(.unreadable, "read error: \(error.localizedDescription)")
            }
            if piece.isEmpty { break }
            sha.update(piece)
        }
        return sha.hexDigest()
    }

    /// Ingests a large plain-text file by streaming it: blocks are chunked, stored and indexed as
    /// they are read, inside one transaction, so memory stays bounded.
    private func ingestStreamed(_ file: SourceFile, hash: String, options: IngestOptions) throws -> (Int, String?) {
        let settings = record.settings
        var chunker = Chunker(size: settings.chunkSize, overlap: settings.chunkOverlap)
        let title = file.url.deletingPathExtension().lastPathComponent
        var warnings: [String] = []
        let header = NewDocument(
            path: file.identity, title: title, format: DocumentFormat.text.rawValue, contentHash: hash,
            byteCount: file.size, source: file.url.standardizedFileURL.path)
        var added: [Int64] = []
        let change: DocumentChange
        do {
            change = try store.replaceDocument(kb: record.id, header) { insert in
                func put(_ draft: ChunkDraft) throws {
                    let id = try insert(draft)
                    added.append(id)
                    index.add(
                        id: id,
                        terms: analyzer.terms(Self.indexedText(title: title, section: draft.section, text: draft.text)))
                }
                let info = try PlainTextStream.forEachBlock(url: file.url, limits: options.limits) { block in
                    try chunker.add(block, emit: put)
                }
                warnings += info.warnings
                try chunker.finish(emit: put)
                if added.isEmpty {
                    throw WendaoError(.unreadable, "no text found in the file")
                }
            }
        } catch {
            // The transaction rolled back: take the chunks back out of the index.
            index.remove(ids: added)
            throw error
        }
        index.remove(ids: change.removedChunkIDs)
        advanceGeneration(to: change.generation)
        return (change.addedChunkIDs.count, warnings.isEmpty ? nil : warnings.prefix(3).joined(separator: "; "))
    }
}
