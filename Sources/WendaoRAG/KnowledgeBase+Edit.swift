import Foundation
public import WendaoCore
import WendaoIndex
import WendaoText

/// A document as its page shows it: the record, its extracted text and its chunks.
public struct DocumentDetail: Sendable {
    /// The document.
    public var document: DocumentRecord
    /// The extracted text: as stored at ingest, else put together from the chunks (see ``textSource``).
    public var text: String
    /// `stored` (the text as extracted at ingest) or `chunks` (a document stored before texts were
    /// kept, or a streamed large file: the chunks' texts by ordinal, overlaps included, headings
    /// missing).
    public var textSource: String
    /// Chunks by ordinal (disabled ones included), from the requested offset.
    public var chunks: [ChunkRecord]
    /// Every chunk of the document.
    public var chunkTotal: Int
}

/// Limits on chunk edits.
public enum ChunkLimits {
    /// Longest chunk text an editor may store, in Unicode scalars as sent.
    public static let maxCharacters = 20_000
}

extension KnowledgeBase {
    /// The document whose id (decimal) or path is `key`, or `notFound`.
    public func document(_ key: String) throws -> DocumentRecord {
        if let id = Int64(key), let d = try documents().first(where: { $0.id == id }) { return d }
        if let d = try store.document(kb: record.id, path: key) { return d }
        throw WendaoError(.notFound, "no document '\(key.prefix(200))' in knowledge base '\(name)'")
    }

    /// A document with its text and its chunks (`limit` chunks from `offset`, by ordinal).
    public func documentDetail(_ key: String, offset: Int = 0, limit: Int = 1000) throws -> DocumentDetail {
        let doc = try document(key)
        let chunks = limit > 0 ? try store.chunks(document: doc.id, offset: offset, limit: limit) : []
        let total = doc.chunkCount
        if let text = try store.documentText(document: doc.id) {
            return DocumentDetail(document: doc, text: text, textSource: "stored", chunks: chunks, chunkTotal: total)
        }
        // Put together from the chunks: read them all, in pieces, and cap the text.
        var text = ""
        var at = 0
        while text.utf8.count < 32 << 20 {
            let part = try store.chunks(document: doc.id, offset: at, limit: 2000)
            if part.isEmpty { break }
            for c in part { text += (text.isEmpty ? "" : "\n\n") + c.text }
            at += part.count
        }
        return DocumentDetail(document: doc, text: text, textSource: "chunks", chunks: chunks, chunkTotal: total)
    }

    /// A chunk of this knowledge base, or `notFound`.
    public func chunk(_ id: Int64) throws -> ChunkRecord {
        guard let c = try store.chunks(ids: [id]).first,
            try store.document(kb: record.id, path: c.documentPath)?.id == c.documentID
        else { throw WendaoError(.notFound, "no chunk \(id) in knowledge base '\(name)'") }
        return c
    }

    /// Replaces a chunk's text. The edit is stored under a new chunk id (returned), the BM25 index
    /// and the vectors follow at once: the new text is embedded first (a failing embedder changes
    /// nothing), then the store commits in one transaction, then the indexes are updated and saved.
    /// Should saving an index fail after the commit, the store is right and the index catches up
    /// with it by chunk id when next opened (``syncVectors(checkpoint:progress:)`` for vectors).
    public func editChunk(_ id: Int64, text: String) throws -> ChunkRecord {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else {
            throw WendaoError(
                .invalidArgument, "the chunk text is empty: to remove the chunk, disable or delete it instead")
        }
        guard text.unicodeScalars.count <= ChunkLimits.maxCharacters else {
            throw WendaoError(.limitExceeded, "the chunk text is longer than \(ChunkLimits.maxCharacters) characters")
        }
        let l = try lock()
        defer { l.unlock() }
        let old = try chunk(id)
        var vector: [Float]?
        if old.enabled, record.settings.embedder != nil {
            let embedder = try embedder()
            let passage = old.section.isEmpty ? t : old.section + "\n" + t
            vector = try embedder.embedBlocking([passage], as: .passage).vectors.first
        }
        let change = try store.editChunk(kb: record.id, id: id, text: t)
        guard let new = change.chunk else { throw WendaoError(.internal, "the edited chunk was not stored") }
        try follow(change, addTerms: new.enabled ? new : nil, vector: vector)
        return new
    }

    /// Enables or disables a chunk: a disabled chunk stays stored (and on the document page) but
    /// leaves both indexes, so it is never retrieved; enabling it indexes (and embeds) it again.
    public func setChunkEnabled(_ id: Int64, enabled: Bool) throws -> ChunkRecord {
        let l = try lock()
        defer { l.unlock() }
        let old = try chunk(id)
        guard old.enabled != enabled else { return old }
        var vector: [Float]?
        if enabled, record.settings.embedder != nil {
            let passage = old.section.isEmpty ? old.text : old.section + "\n" + old.text
            vector = try embedder().embedBlocking([passage], as: .passage).vectors.first
        }
        let change = try store.setChunkEnabled(kb: record.id, id: id, enabled: enabled)
        guard let now = change.chunk else { throw WendaoError(.internal, "the chunk was not stored") }
        try follow(change, addTerms: enabled ? now : nil, vector: vector)
        return now
    }

    /// Deletes a chunk (its document stays); both indexes follow.
    public func deleteChunk(_ id: Int64) throws {
        let l = try lock()
        defer { l.unlock() }
        _ = try chunk(id)
        let change = try store.deleteChunk(kb: record.id, id: id)
        try follow(change, addTerms: nil, vector: nil)
    }

    /// Updates the BM25 index and the vectors after a committed chunk change, and saves them.
    private func follow(_ change: ChunkChange, addTerms chunk: ChunkRecord?, vector: [Float]?) throws {
        advanceGeneration(to: change.generation)
        index.remove(ids: [change.previousID])
        if let chunk {
            index.add(
                id: chunk.id,
                terms: analyzer.terms(
                    Self.indexedText(title: chunk.documentTitle, section: chunk.section, text: chunk.text)))
        }
        chunkCache.removeValue(forKey: change.previousID)
        try index.save(to: indexPath, generation: record.generation)
        guard record.settings.embedder != nil else { return }
        let embedder = try embedder()
        // Without a vector file there is nothing to follow yet (the next sync embeds everything).
        guard vectors != nil || FileManager.default.fileExists(atPath: vectorPath) else { return }
        let v = try vectorIndex(embedder)
        v.remove(ids: [change.previousID])
        if let chunk, let vector { try v.add(id: chunk.id, vector: vector) }
        try v.save(to: vectorPath, generation: record.generation)
    }
}
