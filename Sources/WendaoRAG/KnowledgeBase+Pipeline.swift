import Foundation
public import WendaoCore
import WendaoIndex
import WendaoLoaders
import WendaoText

/// A document chunked and analysed, ready to be stored: the CPU-bound part of ingest, which runs
/// in parallel across documents, while storing stays sequential (one writer).
struct PreparedDocument: Sendable {
    var header: NewDocument
    var chunks: [ChunkDraft]
    var terms: [[UInt64]]
    var warnings: [String]
}

extension KnowledgeBase {
    /// Longest extracted text kept with a document (longer ones are shown from their chunks).
    static let maxStoredTextBytes = 16 << 20

    /// Chunks and analyses a loaded document (pure; safe to run concurrently).
    static func prepare(
        _ doc: LoadedDocument, header: NewDocument, settings: KnowledgeBaseSettings, analyzer: Analyzer
    ) -> PreparedDocument {
        var chunker = Chunker(size: settings.chunkSize, overlap: settings.chunkOverlap)
        var chunks: [ChunkDraft] = []
        for block in doc.blocks { chunker.add(block) { chunks.append($0) } }
        chunker.finish { chunks.append($0) }
        let terms = chunks.map {
            analyzer.terms(indexedText(title: header.title, section: $0.section, text: $0.text))
        }
        // The extracted text is kept for the document page (up to a size a page can show).
        var header = header
        let text = Chunker.documentText(doc.blocks)
        if header.text == nil, text.utf8.count <= maxStoredTextBytes { header.text = text }
        return PreparedDocument(header: header, chunks: chunks, terms: terms, warnings: doc.warnings)
    }

    /// Stores a prepared document in one transaction and updates the index.
    func store(_ p: PreparedDocument) throws -> DocumentChange {
        guard !p.chunks.isEmpty else { throw WendaoError(.unreadable, "no text found in the file") }
        var added: [Int64] = []
        let change: DocumentChange
        do {
            change = try store.replaceDocument(kb: record.id, p.header) { insert in
                for (i, draft) in p.chunks.enumerated() {
                    let id = try insert(draft)
                    added.append(id)
                    index.add(id: id, terms: p.terms[i])
                }
            }
        } catch {
            // The transaction rolled back: take the chunks back out of the index.
            index.remove(ids: added)
            throw error
        }
        index.remove(ids: change.removedChunkIDs)
        advanceGeneration(to: change.generation)
        return change
    }

    /// Adds (or replaces) documents given as loaded structure — built by a program or an
    /// evaluation — chunking and analysing them on all cores. Returns the chunks stored.
    /// Call ``saveIndex()`` after a batch. Does not take the writer lock (one process at a time).
    @discardableResult
    public func add(_ docs: [(document: LoadedDocument, contentHash: String)]) throws -> Int {
        let settings = record.settings
        let analyzer = self.analyzer
        var total = 0
        for batchStart in stride(from: 0, to: docs.count, by: 256) {
            let batch = Array(docs[batchStart..<min(batchStart + 256, docs.count)])
            let prepared = Concurrently.map(batch.count) { i in
                let (doc, hash) = batch[i]
                let header = NewDocument(
                    path: doc.path, title: doc.title, format: doc.format.rawValue, contentHash: hash, byteCount: 0)
                return Self.prepare(doc, header: header, settings: settings, analyzer: analyzer)
            }
            // One transaction for the batch: every document whole, or none of the batch.
            let items = prepared.filter { !$0.chunks.isEmpty }
            let changes = try store.replaceDocuments(kb: record.id, items.map { ($0.header, $0.chunks) })
            for (p, change) in zip(items, changes) {
                for (id, terms) in zip(change.addedChunkIDs, p.terms) { index.add(id: id, terms: terms) }
                index.remove(ids: change.removedChunkIDs)
                advanceGeneration(to: change.generation)
                total += change.addedChunkIDs.count
            }
        }
        return total
    }

    /// What the parallel stage of file ingest decided for one file.
    enum FilePlan: Sendable {
        case unchanged
        /// `sameContent`: forced although the stored hash is the same (re-chunked, reported unchanged).
        case prepared(PreparedDocument, isNew: Bool, sameContent: Bool)
        case streamed(hash: String, isNew: Bool, sameContent: Bool)
        case failed(String)
    }

    /// Hashes, compares and (unless the file is large plain text, which is streamed later) loads,
    /// chunks and analyses one file. Runs concurrently with other files.
    static func plan(
        _ file: SourceFile, kb: Int64, store: any KnowledgeStore, settings: KnowledgeBaseSettings, analyzer: Analyzer,
        options: IngestOptions
    ) -> FilePlan {
        do {
            let existing = try store.document(kb: kb, path: file.identity)
            let ext = file.url.pathExtension.lowercased()
            if ["txt", "text", "log"].contains(ext) && file.size > options.streamThreshold {
                // Large plain text: hashed by streaming; the content is streamed again when stored.
                let hash = try hashFile(file.url)
                if let existing, existing.contentHash == hash, !options.force { return .unchanged }
                if file.size > options.limits.maxTextBytes {
                    throw WendaoError(
                        .limitExceeded, "file is larger than the \(options.limits.maxTextBytes >> 30) GB limit")
                }
                return .streamed(hash: hash, isNew: existing == nil, sameContent: existing?.contentHash == hash)
            }
            // The type comes from the first bytes. PDFs and images are hashed by streaming and read
            // in place by the external tools; other formats are read once, and the stored hash is of
            // exactly the bytes that were loaded.
            let head = try DocumentLoader.head(of: file.url)
            let limit = DocumentLoader.sizeLimit(head: head, limits: options.limits)
            if file.size > limit {
                throw WendaoError(
                    .limitExceeded, "file is \(file.size >> 20) MB, over the \(limit >> 20) MB limit for this format")
            }
            let doc: LoadedDocument
            let hash: String
            if DocumentLoader.readsInPlace(head: head) {
                hash = try hashFile(file.url)
                if let existing, existing.contentHash == hash, !options.force { return .unchanged }
                var limits = options.limits
                if let report = options.ocrProgress {
                    let identity = file.identity
                    limits.ocrProgress = { done, total in report(identity, done, total) }
                }
                doc = try DocumentLoader.load(fileURL: file.url, identity: file.identity, limits: limits)
            } else {
                let data: Data
                do {
                    data = try Data(contentsOf: file.url)
                } catch {
                    throw WendaoError(.unreadable, "cannot read file: \(error.localizedDescription)")
                }
                var sha = SHA256()
                sha.update(data)
                hash = sha.hexDigest()
                if let existing, existing.contentHash == hash, !options.force { return .unchanged }
                doc = try DocumentLoader.load(
                    data: data, identity: file.identity, fileName: file.url.lastPathComponent, limits: options.limits,
                    sourceURL: file.url)
            }
            let header = NewDocument(
                path: file.identity, title: doc.title, format: doc.format.rawValue, contentHash: hash,
                byteCount: file.size, source: file.url.standardizedFileURL.path)
            let p = prepare(doc, header: header, settings: settings, analyzer: analyzer)
            if p.chunks.isEmpty { throw WendaoError(.unreadable, "no text found in the file") }
            return .prepared(p, isNew: existing == nil, sameContent: existing?.contentHash == hash)
        } catch let e as WendaoError {
            return .failed(e.message)
        } catch {
            return .failed("\(error)")
        }
    }
}
