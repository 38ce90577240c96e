import Foundation
import Testing
import WendaoTestSupport
import WendaoCore
@testable import WendaoStore

private struct Boom: Error {}

private func draft(_ text: String, section: [String] = ["S"], start: Int = 0) -> ChunkDraft {
    ChunkDraft(text: text, sectionPath: section, page: nil, start: start, end: start + text.unicodeScalars.count)
}

private func newDocument(_ path: String, hash: String = "h") -> NewDocument {
    NewDocument(path: path, title: "Title of \(path)", format: "markdown", contentHash: hash, byteCount: 123)
}

@Suite struct SQLiteStoreTests {
    private func makeStore() throws -> (ScratchDirectory, SQLiteStore) {
        let dir = try ScratchDirectory("store")
        return (dir, try SQLiteStore(path: dir.child("wendao.sqlite").path))
    }

    @Test func createListAndDuplicateNames() throws {
        let (scratch, store) = try makeStore()
        defer { scratch.remove() }
        #expect(try store.knowledgeBases().isEmpty)
        let b = try store.createKnowledgeBase(name: "beta", settings: .default)
        var custom = KnowledgeBaseSettings.default
        custom.chunkSize = 300
        let a = try store.createKnowledgeBase(name: "alpha", settings: custom)
        #expect(a.id != b.id)
        #expect(a.generation == 0)
        #expect(try store.knowledgeBases().map(\.name) == ["alpha", "beta"])
        #expect(try store.knowledgeBase(named: "alpha")?.settings.chunkSize == 300)
        #expect(try store.knowledgeBase(named: "gamma") == nil)
        let error = thrownWendaoError { _ = try store.createKnowledgeBase(name: "alpha", settings: .default) }
        #expect(error?.code == .alreadyExists)
        #expect(try store.knowledgeBases().count == 2)
        custom.k1 = 2
        try store.updateSettings(kb: a.id, settings: custom)
        #expect(try store.knowledgeBase(named: "alpha")?.settings == custom)
    }

    @Test func replaceDocumentStoresAndReplacesChunks() throws {
        let (scratch, store) = try makeStore()
        defer { scratch.remove() }
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let first = try store.replaceDocument(kb: kb.id, newDocument("a.md", hash: "1")) { insert in
            _ = try insert(draft("第一段。"))
            _ = try insert(draft("第二段。", start: 6))
            _ = try insert(draft("第三段。", section: ["S", "T"], start: 12))
        }
        #expect(first.removedChunkIDs.isEmpty)
        #expect(first.addedChunkIDs.count == 3)
        #expect(first.document.chunkCount == 3)
        #expect(first.generation == 1)
        let stored = try store.chunks(ids: first.addedChunkIDs)
        #expect(stored.map(\.text) == ["第一段。", "第二段。", "第三段。"])
        #expect(stored.map(\.ordinal) == [0, 1, 2])
        #expect(stored[2].section == "S › T")
        #expect(stored.allSatisfy { $0.documentPath == "a.md" && $0.documentTitle == "Title of a.md" })
        #expect(stored[1].start == 6 && stored[1].end == 10)
        #expect(try store.document(kb: kb.id, path: "a.md")?.contentHash == "1")
        #expect(try store.knowledgeBase(named: "kb")?.generation == 1)

        let other = try store.replaceDocument(kb: kb.id, newDocument("b.md")) { insert in _ = try insert(draft("别的。")) }
        #expect(other.generation == 2)

        let second = try store.replaceDocument(kb: kb.id, newDocument("a.md", hash: "2")) { insert in
            _ = try insert(draft("新版本。"))
        }
        #expect(second.removedChunkIDs == first.addedChunkIDs)
        #expect(second.generation == 3)
        #expect(try store.knowledgeBase(named: "kb")?.generation == 3)
        #expect(try store.chunks(ids: first.addedChunkIDs).isEmpty)
        #expect(try store.document(kb: kb.id, path: "a.md")?.contentHash == "2")
        #expect(try store.document(kb: kb.id, path: "a.md")?.chunkCount == 1)
        #expect(Set(try store.chunkIDs(kb: kb.id)) == Set(second.addedChunkIDs + other.addedChunkIDs))
        #expect(try store.documents(kb: kb.id).map(\.path) == ["a.md", "b.md"])
        // New ids are never reused.
        #expect(second.addedChunkIDs.allSatisfy { $0 > (first.addedChunkIDs + other.addedChunkIDs).max()! })
        #expect(try store.integrityProblems(kb: kb.id).isEmpty)
    }

    @Test func chunksByIdKeepTheAskedOrderAndSkipMissing() throws {
        let (scratch, store) = try makeStore()
        defer { scratch.remove() }
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let change = try store.replaceDocument(kb: kb.id, newDocument("a.md")) { insert in
            for i in 0..<1200 { _ = try insert(draft("chunk \(i)", start: i * 20)) }
        }
        let ids = change.addedChunkIDs
        let asked = [ids[1100], -5, ids[3], ids[700], 987_654_321, ids[0]]
        #expect(try store.chunks(ids: asked).map(\.id) == [ids[1100], ids[3], ids[700], ids[0]])
        #expect(try store.chunks(ids: ids).count == 1200)  // more than one batch
        #expect(try store.chunks(ids: []).isEmpty)
        let neighbours = try store.chunks(document: change.document.id, ordinals: 4...6)
        #expect(neighbours.map(\.text) == ["chunk 4", "chunk 5", "chunk 6"])
        var visited: [Int64] = []
        try store.forEachChunk(kb: kb.id) { id, section, text in
            visited.append(id)
            #expect(section == "S")
            #expect(text.hasPrefix("chunk "))
        }
        #expect(visited == ids)
        #expect(try store.chunkIDs(kb: kb.id) == ids)
    }

    @Test func aThrowingChunkSourceLeavesNothing() throws {
        let (scratch, store) = try makeStore()
        defer { scratch.remove() }
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let original = try store.replaceDocument(kb: kb.id, newDocument("a.md", hash: "old")) { insert in
            _ = try insert(draft("原来的内容。"))
            _ = try insert(draft("第二块。"))
        }
        let idsBefore = try store.chunkIDs(kb: kb.id)
        let docsBefore = try store.documents(kb: kb.id)
        let generationBefore = try store.knowledgeBase(named: "kb")?.generation

        // A new document whose chunk source fails midway.
        var inserted: [Int64] = []
        #expect(throws: Boom.self) {
            _ = try store.replaceDocument(kb: kb.id, newDocument("b.md")) { insert in
                inserted.append(try insert(draft("会被回滚一。")))
                inserted.append(try insert(draft("会被回滚二。")))
                throw Boom()
            }
        }
        #expect(inserted.count == 2)
        // A replacement of an existing document that fails midway (a Wendao error this time).
        let error = thrownWendaoError {
            _ = try store.replaceDocument(kb: kb.id, newDocument("a.md", hash: "new")) { insert in
                inserted.append(try insert(draft("新内容。")))
                throw WendaoError(.unreadable, "simulated failure")
            }
        }
        #expect(error?.code == .unreadable)

        #expect(try store.chunkIDs(kb: kb.id) == idsBefore)
        #expect(try store.documents(kb: kb.id) == docsBefore)
        #expect(try store.document(kb: kb.id, path: "b.md") == nil)
        #expect(try store.document(kb: kb.id, path: "a.md")?.contentHash == "old")
        #expect(try store.chunks(ids: inserted).isEmpty)
        #expect(try store.chunks(ids: original.addedChunkIDs).map(\.text) == ["原来的内容。", "第二块。"])
        #expect(try store.knowledgeBase(named: "kb")?.generation == generationBefore)
        #expect(try store.integrityProblems(kb: kb.id).isEmpty)
    }

    @Test func deleteDocument() throws {
        let (scratch, store) = try makeStore()
        defer { scratch.remove() }
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let a = try store.replaceDocument(kb: kb.id, newDocument("a.md")) { insert in
            _ = try insert(draft("一。"))
            _ = try insert(draft("二。"))
        }
        let r = try store.deleteDocument(kb: kb.id, id: a.document.id)
        #expect(r.removedChunkIDs == a.addedChunkIDs)
        #expect(r.generation == a.generation + 1)
        #expect(try store.documents(kb: kb.id).isEmpty)
        #expect(try store.chunkIDs(kb: kb.id).isEmpty)
        #expect(thrownWendaoError { _ = try store.deleteDocument(kb: kb.id, id: a.document.id) }?.code == .notFound)
        // A document of another knowledge base cannot be deleted through this one.
        let other = try store.createKnowledgeBase(name: "other", settings: .default)
        let b = try store.replaceDocument(kb: other.id, newDocument("b.md")) { insert in _ = try insert(draft("三。")) }
        #expect(thrownWendaoError { _ = try store.deleteDocument(kb: kb.id, id: b.document.id) }?.code == .notFound)
        #expect(try store.documents(kb: other.id).count == 1)
    }

    @Test func deleteKnowledgeBaseCascades() throws {
        let (scratch, store) = try makeStore()
        defer { scratch.remove() }
        let doomed = try store.createKnowledgeBase(name: "doomed", settings: .default)
        let kept = try store.createKnowledgeBase(name: "kept", settings: .default)
        var doomedChunks: [Int64] = []
        for p in ["a.md", "b.md", "c.md"] {
            doomedChunks += try store.replaceDocument(kb: doomed.id, newDocument(p)) { insert in
                _ = try insert(draft("内容 \(p)。"))
                _ = try insert(draft("更多 \(p)。"))
            }.addedChunkIDs
        }
        let keptChunks = try store.replaceDocument(kb: kept.id, newDocument("a.md")) { insert in
            _ = try insert(draft("保留。"))
        }.addedChunkIDs
        try store.deleteKnowledgeBase(id: doomed.id)
        #expect(try store.knowledgeBase(named: "doomed") == nil)
        #expect(try store.documents(kb: doomed.id).isEmpty)
        #expect(try store.chunkIDs(kb: doomed.id).isEmpty)
        #expect(try store.chunks(ids: doomedChunks).isEmpty)
        #expect(try store.chunks(ids: keptChunks).count == 1)
        #expect(try store.knowledgeBases().map(\.name) == ["kept"])
        #expect(try store.integrityProblems(kb: kept.id).isEmpty)
        // The name can be reused.
        #expect(try store.createKnowledgeBase(name: "doomed", settings: .default).generation == 0)
    }

    @Test func reopeningRunsMigrationsSafely() throws {
        let dir = try ScratchDirectory("store")
        defer { dir.remove() }
        let path = dir.child("wendao.sqlite").path
        let ids: [Int64]
        do {
            let store = try SQLiteStore(path: path)
            let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
            ids = try store.replaceDocument(kb: kb.id, newDocument("a.md")) { insert in
                _ = try insert(draft("持久。"))
            }.addedChunkIDs
        }
        // Two more connections on the same file, one while the other is open.
        let second = try SQLiteStore(path: path)
        let third = try SQLiteStore(path: path)
        let kb = try #require(try second.knowledgeBase(named: "kb"))
        #expect(try third.chunks(ids: ids).map(\.text) == ["持久。"])
        #expect(kb.generation == 1)
        _ = try third.replaceDocument(kb: kb.id, newDocument("b.md")) { insert in _ = try insert(draft("第二个。")) }
        #expect(try second.documents(kb: kb.id).count == 2)
        #expect(try second.integrityProblems(kb: kb.id).isEmpty)
    }

    @Test func unopenableDatabaseIsAStorageError() throws {
        let dir = try ScratchDirectory("store")
        defer { dir.remove() }
        let path = dir.child("not-a-db.sqlite").path
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path))
        let error = thrownWendaoError { _ = try SQLiteStore(path: path) }
        #expect(error?.code == .storage)
    }
}
