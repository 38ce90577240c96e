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
    /// Bytes read.
    public var bytes: Int64 = 0
    /// Wall time.
    public var seconds = 0.0
    /// Per-file results (failures first).
    public var results: [FileResult] = []
}

extension KnowledgeBase {
    /// Ingests files and folders. Every file is its own transaction; a failing file is reported
    /// and the rest go on. The index is saved once at the end.
    public func ingest(
        _ paths: [String], options: IngestOptions = IngestOptions(), progress: (IngestEvent) -> Void = { _ in }
    ) throws -> IngestSummary {
        let l = try lock()
        defer { _ = l }
        try refreshRecord()
        let started = Date()
        var summary = IngestSummary(kb: name)
        let walker = SourceWalker(include: options.include, exclude: options.exclude)
        let (files, walkErrors) = walker.walk(paths)
        progress(.planned(files: files.count, bytes: files.reduce(0) { $0 + $1.size }))
        for e in walkErrors {
            summary.files += 1
            summary.failed += 1
            summary.results.append(.init(path: e.path, outcome: .failed, chunks: 0, reason: e.error.message))
            progress(.file(path: e.path, outcome: .failed, chunks: 0, bytes: 0, reason: e.error.message))
        }
        for file in files {
            summary.files += 1
            var outcome = IngestOutcome.failed
            var chunks = 0
            var reason: String?
            do {
                (outcome, chunks, reason) = try ingestFile(file, options: options)
            } catch let e as WendaoError {
                reason = e.message
            } catch {
                reason = "\(error)"
            }
            switch outcome {
            case .added: summary.added += 1
            case .updated: summary.updated += 1
            case .unchanged: summary.unchanged += 1
            case .failed: summary.failed += 1
            case .pruned: summary.pruned += 1
            }
            summary.chunks += chunks
            summary.bytes += file.size
            summary.results.append(.init(path: file.identity, outcome: outcome, chunks: chunks, reason: reason))
            if outcome == .failed {
                library.logger.warning("file rejected", metadata: ["file": "\(file.identity)", "reason": "\(reason ?? "")"])
            }
            progress(.file(path: file.identity, outcome: outcome, chunks: chunks, bytes: file.size, reason: reason))
        }
        if options.prune {
            let seen = Set(files.map(\.identity))
            let roots = paths.map { p -> String in
                let url = URL(fileURLWithPath: p)
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue {
                    return url.standardizedFileURL.lastPathComponent + "/"
                }
                return url.lastPathComponent
            }
            for doc in try documents() where !seen.contains(doc.path) {
                guard roots.contains(where: { $0.hasSuffix("/") ? doc.path.hasPrefix($0) : doc.path == $0 }) else { continue }
                // Only prune when the source is really gone (not merely excluded by a pattern or unreadable).
                if walkErrors.contains(where: { $0.path.hasSuffix(doc.path) }) { continue }
                let r = try store.deleteDocument(kb: record.id, id: doc.id)
                index.remove(ids: r.removedChunkIDs)
                record.generation = r.generation
                summary.pruned += 1
                summary.results.append(.init(path: doc.path, outcome: .pruned, chunks: 0, reason: nil))
                progress(.file(path: doc.path, outcome: .pruned, chunks: 0, bytes: 0, reason: nil))
            }
        }
        try index.save(to: indexPath, generation: record.generation)
        summary.seconds = Date().timeIntervalSince(started)
        summary.results.sort { ($0.outcome == .failed ? 0 : 1, $0.path) < ($1.outcome == .failed ? 0 : 1, $1.path) }
        return summary
    }

    /// Adds (or replaces) a document given as loaded structure, e.g. built by a program or an
    /// evaluation. Returns the number of chunks stored. Call ``saveIndex()`` after a batch.
    @discardableResult
    public func add(_ doc: LoadedDocument, contentHash: String, byteCount: Int64 = 0) throws -> Int {
        let settings = record.settings
        var chunker = Chunker(size: settings.chunkSize, overlap: settings.chunkOverlap)
        let header = NewDocument(
            path: doc.path, title: doc.title, format: doc.format.rawValue, contentHash: contentHash, byteCount: byteCount)
        var added: [Int64] = []
        let change: DocumentChange
        do {
            change = try store.replaceDocument(kb: record.id, header) { insert in
                func put(_ draft: ChunkDraft) throws {
                    let id = try insert(draft)
                    added.append(id)
                    index.add(
                        id: id, terms: analyzer.terms(Self.indexedText(title: doc.title, section: draft.section, text: draft.text)))
                }
                for block in doc.blocks { try chunker.add(block, emit: put) }
                try chunker.finish(emit: put)
            }
        } catch {
            index.remove(ids: added)
            throw error
        }
        index.remove(ids: change.removedChunkIDs)
        record.generation = change.generation
        return change.addedChunkIDs.count
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

    private func ingestFile(_ file: SourceFile, options: IngestOptions) throws -> (IngestOutcome, Int, String?) {
        let hash = try Self.hashFile(file.url)
        let existing = try store.document(kb: record.id, path: file.identity)
        if let existing, existing.contentHash == hash, !options.force {
            return (.unchanged, 0, nil)
        }
        let settings = record.settings
        var chunker = Chunker(size: settings.chunkSize, overlap: settings.chunkOverlap)
        let ext = file.url.pathExtension.lowercased()
        let streamed = ["txt", "text", "log"].contains(ext) && file.size > options.streamThreshold
        var title = file.url.deletingPathExtension().lastPathComponent
        var format = DocumentFormat.text
        var warnings: [String] = []
        var loaded: LoadedDocument?
        if !streamed {
            if file.size > Int64(options.limits.maxStructuredBytes) {
                throw WendaoError(
                    .limitExceeded,
                    "file is \(file.size >> 20) MB, over the \(options.limits.maxStructuredBytes >> 20) MB limit for this format")
            }
            let data: Data
            do {
                data = try Data(contentsOf: file.url)
            } catch {
                throw WendaoError(.unreadable, "cannot read file: \(error.localizedDescription)")
            }
            let doc = try DocumentLoader.load(
                data: data, identity: file.identity, fileName: file.url.lastPathComponent, limits: options.limits)
            title = doc.title
            format = doc.format
            warnings = doc.warnings
            loaded = doc
        } else if file.size > options.limits.maxTextBytes {
            throw WendaoError(.limitExceeded, "file is larger than the \(options.limits.maxTextBytes >> 30) GB limit")
        }
        let header = NewDocument(
            path: file.identity, title: title, format: format.rawValue, contentHash: hash, byteCount: file.size)
        var added: [Int64] = []
        var failedLoad: (any Error)?
        let change: DocumentChange
        do {
            change = try store.replaceDocument(kb: record.id, header) { insert in
                func put(_ draft: ChunkDraft) throws {
                    let id = try insert(draft)
                    added.append(id)
                    index.add(id: id, terms: analyzer.terms(Self.indexedText(title: title, section: draft.section, text: draft.text)))
                }
                if let doc = loaded {
                    for block in doc.blocks { try chunker.add(block, emit: put) }
                } else {
                    do {
                        let info = try PlainTextStream.forEachBlock(url: file.url, limits: options.limits) { block in
                            try chunker.add(block, emit: put)
                        }
                        warnings += info.warnings
                    } catch {
                        failedLoad = error
                        throw error
                    }
                }
                try chunker.finish(emit: put)
                if added.isEmpty {
                    throw WendaoError(.unreadable, "no text found in the file")
                }
            }
        } catch {
            // The transaction rolled back: take the chunks back out of the index.
            index.remove(ids: added)
            if let e = failedLoad as? WendaoError { throw e }
            throw error
        }
        index.remove(ids: change.removedChunkIDs)
        record.generation = change.generation
        let reason = warnings.isEmpty ? nil : warnings.prefix(3).joined(separator: "; ")
        return (existing == nil ? .added : .updated, change.addedChunkIDs.count, reason)
    }
}
