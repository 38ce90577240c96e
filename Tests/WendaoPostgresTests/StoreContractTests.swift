import Foundation
import Testing
import WendaoCore
import WendaoPostgres
import WendaoStore
import WendaoTestSupport

/// The store backends the contract runs against.
enum Backend: String, CustomStringConvertible, CaseIterable, Sendable {
    case sqlite
    case postgres

    var description: String { rawValue }

    /// The backends this machine can run: SQLite always, PostgreSQL when `initdb` is installed.
    static let available: [Backend] = PostgresTestCluster.isAvailable ? [.sqlite, .postgres] : [.sqlite]
}

/// A store of one backend for one test, with what must be cleaned up after it.
final class StoreUnderTest: @unchecked Sendable {
    let store: any KnowledgeStore
    private let scratch: ScratchDirectory?
    private let postgres: PostgresStore?

    init(_ backend: Backend) throws {
        switch backend {
        case .sqlite:
            let dir = try ScratchDirectory("contract")
            scratch = dir
            postgres = nil
            store = try SQLiteStore(path: dir.child("wendao.sqlite").path)
        case .postgres:
            let cluster = try #require(PostgresTestCluster.shared, "PostgreSQL is installed but did not start")
            let pg = try PostgresStore(url: cluster.url(database: try cluster.makeDatabase()))
            scratch = nil
            postgres = pg
            store = pg
        }
    }

    deinit {
        postgres?.close()
        scratch?.remove()
    }
}

private struct Boom: Error {}

private func draft(_ text: String, section: [String] = ["S"], start: Int = 0, page: Int? = nil) -> ChunkDraft {
    ChunkDraft(text: text, sectionPath: section, page: page, start: start, end: start + text.unicodeScalars.count)
}

private func newDocument(_ path: String, hash: String = "h", text: String? = nil) -> NewDocument {
    NewDocument(
        path: path, title: "Title of \(path)", format: "markdown", contentHash: hash, byteCount: 123,
        source: "/src/\(path)", etag: "\"e\"", lastModified: "Mon", text: text)
}

/// Hostile strings: quotes, comment markers, statement separators, backslashes, Chinese, emoji.
private let hostile = [
    "'; DROP TABLE kb; --", "Robert'); DELETE FROM chunk;--", "\\x00\\'\"", "$1 $2 ?", "客服/政策 ‘引号’ 😀", "%_%",
]

/// One behavioural contract, run against SQLite and PostgreSQL alike, so the two cannot drift.
@Suite struct StoreContractTests {
    @Test(arguments: Backend.available)
    func knowledgeBasesAndSettings(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        #expect(try store.knowledgeBases().isEmpty)
        let b = try store.createKnowledgeBase(name: "beta", settings: .default)
        var custom = KnowledgeBaseSettings.default
        custom.chunkSize = 300
        let a = try store.createKnowledgeBase(name: "alpha", settings: custom)
        let z = try store.createKnowledgeBase(name: "客服", settings: .default)
        #expect(Set([a.id, b.id, z.id]).count == 3)
        #expect(a.generation == 0)
        // Byte order, as SQLite sorts: Latin before CJK, upper before lower case.
        _ = try store.createKnowledgeBase(name: "Zeta", settings: .default)
        #expect(try store.knowledgeBases().map(\.name) == ["Zeta", "alpha", "beta", "客服"])
        #expect(try store.knowledgeBase(named: "alpha")?.settings.chunkSize == 300)
        #expect(try store.knowledgeBase(named: "gamma") == nil)
        #expect(
            thrownWendaoError { _ = try store.createKnowledgeBase(name: "alpha", settings: .default) }?.code
                == .alreadyExists)
        // A confusable name (full-width letters) is refused too.
        #expect(
            thrownWendaoError { _ = try store.createKnowledgeBase(name: "ＡＬＰＨＡ", settings: .default) }?.code
                == .alreadyExists)
        custom.k1 = 2
        try store.updateSettings(kb: a.id, settings: custom)
        #expect(try store.knowledgeBase(named: "alpha")?.settings == custom)
        // A name given in NFD finds the NFC name.
        _ = try store.createKnowledgeBase(name: "café", settings: .default)
        #expect(try store.knowledgeBase(named: "cafe\u{301}")?.name == "café")
    }

    @Test(arguments: Backend.available)
    func replaceDocumentStoresAndReplacesChunks(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let first = try store.replaceDocument(kb: kb.id, newDocument("a.md", hash: "1", text: "全文")) { insert in
            _ = try insert(draft("第一段。", page: 3))
            _ = try insert(draft("第二段。", start: 6))
            _ = try insert(draft("第三段。", section: ["S", "T"], start: 12))
        }
        #expect(first.removedChunkIDs.isEmpty)
        #expect(first.addedChunkIDs.count == 3)
        #expect(first.addedChunkIDs == first.addedChunkIDs.sorted())
        #expect(first.document.chunkCount == 3)
        #expect(first.generation == 1)
        let stored = try store.chunks(ids: first.addedChunkIDs)
        #expect(stored.map(\.text) == ["第一段。", "第二段。", "第三段。"])
        #expect(stored.map(\.ordinal) == [0, 1, 2])
        #expect(stored.map(\.page) == [3, nil, nil])
        #expect(stored[2].section == "S › T")
        #expect(stored.allSatisfy { $0.documentPath == "a.md" && $0.documentTitle == "Title of a.md" })
        #expect(stored.allSatisfy { $0.enabled && !$0.edited })
        #expect(stored[1].start == 6 && stored[1].end == 10)
        let doc = try #require(try store.document(kb: kb.id, path: "a.md"))
        #expect(doc.contentHash == "1" && doc.byteCount == 123 && doc.chunkCount == 3)
        #expect(doc.source == "/src/a.md" && doc.etag == "\"e\"" && doc.lastModified == "Mon")
        #expect(try store.documentText(document: doc.id) == "全文")
        #expect(try store.knowledgeBase(named: "kb")?.generation == 1)

        let other = try store.replaceDocument(kb: kb.id, newDocument("b.md")) { insert in _ = try insert(draft("别的。")) }
        #expect(other.generation == 2)
        #expect(try store.documentText(document: other.document.id) == nil)
        let second = try store.replaceDocument(kb: kb.id, newDocument("a.md", hash: "2")) { insert in
            _ = try insert(draft("新版本。"))
        }
        #expect(second.removedChunkIDs == first.addedChunkIDs)
        #expect(second.generation == 3)
        #expect(try store.chunks(ids: first.addedChunkIDs).isEmpty)
        #expect(try store.document(kb: kb.id, path: "a.md")?.contentHash == "2")
        #expect(try store.document(kb: kb.id, path: "a.md")?.chunkCount == 1)
        #expect(Set(try store.chunkIDs(kb: kb.id)) == Set(second.addedChunkIDs + other.addedChunkIDs))
        #expect(try store.documents(kb: kb.id).map(\.path) == ["a.md", "b.md"])
        // New ids are never reused.
        #expect(second.addedChunkIDs.allSatisfy { $0 > (first.addedChunkIDs + other.addedChunkIDs).max()! })
        #expect(try store.integrityProblems(kb: kb.id).isEmpty)
        // Bulk loading: several documents in one transaction.
        let bulk = try store.replaceDocuments(
            kb: kb.id, [(newDocument("c.md"), [draft("丙一。"), draft("丙二。")]), (newDocument("d.md"), [draft("丁。")])])
        #expect(bulk.map(\.document.path) == ["c.md", "d.md"])
        #expect(bulk.map(\.addedChunkIDs.count) == [2, 1])
        #expect(try store.chunks(ids: bulk[1].addedChunkIDs).map(\.text) == ["丁。"])
        #expect(try store.knowledgeBase(named: "kb")?.generation == bulk.last?.generation)
    }

    @Test(arguments: Backend.available)
    func chunksByIdKeepTheAskedOrderAndSkipMissing(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let change = try store.replaceDocument(kb: kb.id, newDocument("a.md")) { insert in
            for i in 0..<6200 { _ = try insert(draft("chunk \(i)", start: i * 20)) }
        }
        let ids = change.addedChunkIDs
        #expect(Set(ids).count == 6200)
        let asked = [ids[6100], -5, ids[3], ids[700], 987_654_321, ids[0]]
        #expect(try store.chunks(ids: asked).map(\.id) == [ids[6100], ids[3], ids[700], ids[0]])
        #expect(try store.chunks(ids: ids).count == 6200)  // more than one batch
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
        #expect(try store.chunks(document: change.document.id, offset: 10, limit: 3).map(\.ordinal) == [10, 11, 12])
    }

    @Test(arguments: Backend.available)
    func aThrowingChunkSourceLeavesNothing(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let original = try store.replaceDocument(kb: kb.id, newDocument("a.md", hash: "old")) { insert in
            _ = try insert(draft("原来的内容。"))
            _ = try insert(draft("第二块。"))
        }
        let idsBefore = try store.chunkIDs(kb: kb.id)
        let docsBefore = try store.documents(kb: kb.id)
        let generationBefore = try store.knowledgeBase(named: "kb")?.generation
        var inserted: [Int64] = []
        #expect(throws: Boom.self) {
            _ = try store.replaceDocument(kb: kb.id, newDocument("b.md")) { insert in
                inserted.append(try insert(draft("会被回滚一。")))
                inserted.append(try insert(draft("会被回滚二。")))
                throw Boom()
            }
        }
        #expect(inserted.count == 2)
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
        #expect(try store.chunks(ids: inserted).isEmpty)
        #expect(try store.chunks(ids: original.addedChunkIDs).map(\.text) == ["原来的内容。", "第二块。"])
        #expect(try store.knowledgeBase(named: "kb")?.generation == generationBefore)
        #expect(try store.integrityProblems(kb: kb.id).isEmpty)
    }

    @Test(arguments: Backend.available)
    func deletingDocumentsAndKnowledgeBases(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let a = try store.replaceDocument(kb: kb.id, newDocument("a.md")) { insert in
            _ = try insert(draft("一。"))
            _ = try insert(draft("二。"))
        }
        let r = try store.deleteDocument(kb: kb.id, id: a.document.id)
        #expect(r.removedChunkIDs == a.addedChunkIDs)
        #expect(r.generation == a.generation + 1)
        #expect(try store.documents(kb: kb.id).isEmpty)
        #expect(thrownWendaoError { _ = try store.deleteDocument(kb: kb.id, id: a.document.id) }?.code == .notFound)
        // A document of another knowledge base cannot be deleted through this one.
        let other = try store.createKnowledgeBase(name: "other", settings: .default)
        let b = try store.replaceDocument(kb: other.id, newDocument("b.md")) { insert in _ = try insert(draft("三。")) }
        #expect(thrownWendaoError { _ = try store.deleteDocument(kb: kb.id, id: b.document.id) }?.code == .notFound)
        #expect(try store.documents(kb: other.id).count == 1)
        #expect(try store.knowledgeBase(named: "kb")?.generation == r.generation)
        // Deleting a knowledge base takes everything hanging on it, and the name can be reused.
        _ = try store.createConversation(kb: other.id, title: "t", caller: .admin, at: 1)
        _ = try store.createJob(kb: other.id, payload: "{}", filesTotal: 0)
        let key = try store.createAPIKey(
            name: "k", prefix: "wd_x", hash: "h-cascade", scope: .read, knowledgeBaseIDs: [kb.id, other.id])
        try store.deleteKnowledgeBase(id: other.id)
        #expect(try store.knowledgeBase(named: "other") == nil)
        #expect(try store.chunks(ids: b.addedChunkIDs).isEmpty)
        #expect(try store.jobs(kb: other.id, limit: 10).isEmpty)
        #expect(try store.conversations(ConversationQuery()).isEmpty)
        #expect(try store.apiKey(hash: key.hash)?.knowledgeBaseIDs == [kb.id])
        #expect(try store.createKnowledgeBase(name: "other", settings: .default).generation == 0)
    }

    @Test(arguments: Backend.available)
    func editingChunks(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let other = try store.createKnowledgeBase(name: "other", settings: .default)
        let doc = try store.replaceDocument(kb: kb.id, newDocument("a.md")) { insert in
            for i in 0..<4 { _ = try insert(draft("块\(i)。", start: i * 3, page: 1)) }
        }
        let ids = doc.addedChunkIDs
        let edited = try store.editChunk(kb: kb.id, id: ids[1], text: "改过的块。")
        let newChunk = try #require(edited.chunk)
        #expect(newChunk.id > ids.max()! && edited.previousID == ids[1])
        #expect(newChunk.edited && newChunk.enabled && newChunk.ordinal == 1 && newChunk.page == 1)
        #expect(newChunk.text == "改过的块。" && newChunk.start == 3)
        #expect(edited.generation == doc.generation + 1)
        let disabled = try store.setChunkEnabled(kb: kb.id, id: ids[2], enabled: false)
        #expect(disabled.chunk?.enabled == false && disabled.chunk?.id == ids[2])
        // Disabled chunks are in no index and never neighbours, but the document page shows them.
        #expect(!(try store.chunkIDs(kb: kb.id)).contains(ids[2]))
        #expect(try store.chunks(document: doc.document.id, ordinals: 0...3).map(\.ordinal) == [0, 1, 3])
        #expect(try store.chunks(document: doc.document.id, offset: 0, limit: 10).count == 4)
        var visited: [Int64] = []
        try store.forEachChunk(kb: kb.id) { id, _, _ in visited.append(id) }
        #expect(visited == [ids[0], ids[3], newChunk.id])
        _ = try store.setChunkEnabled(kb: kb.id, id: ids[2], enabled: true)
        let deleted = try store.deleteChunk(kb: kb.id, id: ids[3])
        #expect(deleted.chunk == nil && deleted.previousID == ids[3])
        #expect(try store.document(kb: kb.id, path: "a.md")?.chunkCount == 3)
        #expect(try store.knowledgeBase(named: "kb")?.generation == deleted.generation)
        // A chunk of another knowledge base is not found through this one.
        #expect(thrownWendaoError { _ = try store.editChunk(kb: other.id, id: ids[0], text: "x") }?.code == .notFound)
        #expect(
            thrownWendaoError { _ = try store.setChunkEnabled(kb: other.id, id: ids[0], enabled: false) }?.code
                == .notFound)
        #expect(thrownWendaoError { _ = try store.deleteChunk(kb: other.id, id: 987_654) }?.code == .notFound)
        #expect(try store.integrityProblems(kb: kb.id).isEmpty)
    }

    @Test(arguments: Backend.available)
    func apiKeys(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let a = try store.createKnowledgeBase(name: "a", settings: .default)
        let b = try store.createKnowledgeBase(name: "b", settings: .default)
        let k1 = try store.createAPIKey(
            name: nil, prefix: "wd_1", hash: "hash-1", scope: .read, knowledgeBaseIDs: [b.id, a.id, b.id])
        #expect(k1.name == "key-\(k1.id)" && k1.knowledgeBaseIDs == [a.id, b.id].sorted())
        let k2 = try store.createAPIKey(
            name: hostile[0], prefix: "wd_2", hash: "hash-2", scope: .write, knowledgeBaseIDs: [a.id])
        #expect(try store.apiKeys().map(\.name) == [k1.name, hostile[0]])
        #expect(try store.apiKey(hash: "hash-2")?.scope == .write)
        #expect(try store.apiKey(hash: "hash-2")?.knowledgeBaseIDs == [a.id])
        #expect(try store.apiKey(hash: "nope") == nil)
        #expect(
            thrownWendaoError {
                _ = try store.createAPIKey(name: "x", prefix: "p", hash: "h3", scope: .read, knowledgeBaseIDs: [999])
            }?.code == .notFound)
        try store.markAPIKeyUsed(id: k2.id, at: 50)
        #expect(try store.apiKey(hash: "hash-2")?.lastUsedAt == 50)
        let revoked = try store.revokeAPIKey(id: k2.id, at: 60)
        #expect(revoked.revokedAt == 60 && revoked.isRevoked)
        #expect(thrownWendaoError { _ = try store.revokeAPIKey(id: k2.id, at: 61) }?.code == .invalidArgument)
        #expect(thrownWendaoError { _ = try store.revokeAPIKey(id: 999, at: 61) }?.code == .notFound)
    }

    @Test(arguments: Backend.available)
    func jobs(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        #expect(thrownWendaoError { _ = try store.createJob(kb: 999, payload: "{}", filesTotal: 1) }?.code == .notFound)
        let j1 = try store.createJob(kb: kb.id, payload: #"{"files":["a"]}"#, filesTotal: 1)
        let j2 = try store.createJob(kb: kb.id, payload: #"{"files":["b"]}"#, filesTotal: 2)
        #expect(j1.state == .queued && j1.filesTotal == 1)
        #expect(try store.nextQueuedJob()?.id == j1.id)
        var running = j1
        running.state = .running
        running.startedAt = 10
        running.filesDone = 1
        running.chunks = 7
        running.results = [JobFileResult(path: "a", outcome: "added", chunks: 7, reason: hostile[1])]
        try store.updateJob(running)
        #expect(try store.job(id: j1.id) == running)
        #expect(try store.nextQueuedJob()?.id == j2.id)
        #expect(try store.jobs(kb: kb.id, limit: 10).map(\.id) == [j2.id, j1.id])
        #expect(try store.jobs(kb: kb.id, limit: 1).map(\.id) == [j2.id])
        // A crash left j1 running: start-up puts it back, progress kept.
        let requeued = try store.requeueRunningJobs()
        #expect(requeued.map(\.id) == [j1.id])
        #expect(requeued.first?.state == .queued && requeued.first?.results == running.results)
        #expect(try store.job(id: j1.id)?.state == .queued)
        var ghost = j1
        ghost.id = 999_999
        #expect(thrownWendaoError { try store.updateJob(ghost) }?.code == .notFound)
        #expect(try store.job(id: 999_999) == nil)
    }

    @Test(arguments: Backend.available)
    func usersAndSessions(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb1 = try store.createKnowledgeBase(name: "客服", settings: .default)
        let kb2 = try store.createKnowledgeBase(name: "ops", settings: .default)
        let ana = try store.createUser(
            name: "Ana", passwordHash: "$argon2id$x", isAdministrator: false, roles: [kb1.id: .agent, kb2.id: .editor])
        #expect(try store.user(named: "ANA")?.id == ana.id)
        #expect(try store.user(id: ana.id)?.roles == [kb1.id: .agent, kb2.id: .editor])
        #expect(
            thrownWendaoError {
                _ = try store.createUser(name: "ana", passwordHash: "h", isAdministrator: false, roles: [:])
            }?
            .code == .alreadyExists)
        #expect(
            thrownWendaoError {
                _ = try store.createUser(name: "ghost", passwordHash: "h", isAdministrator: false, roles: [999: .agent])
            }?.code == .notFound)
        #expect(try store.user(named: "ghost") == nil)
        let boss = try store.createUser(
            name: hostile[4], passwordHash: "h", isAdministrator: true, roles: [kb1.id: .viewer])
        #expect(boss.roles.isEmpty && boss.role(in: kb2.id) == .administrator)
        try store.deleteKnowledgeBase(id: kb2.id)
        #expect(try store.user(id: ana.id)?.roles == [kb1.id: .agent])
        try store.setRoles(user: ana.id, isAdministrator: false, roles: [kb1.id: .administrator])
        #expect(try store.user(id: ana.id)?.roles == [kb1.id: .administrator])
        try store.markLogin(user: ana.id, at: 77)
        #expect(try store.user(id: ana.id)?.lastLoginAt == 77)
        let session = SessionRecord(tokenHash: "t1", userID: ana.id, csrfToken: "c", createdAt: 1000, expiresAt: 1100)
        try store.createSession(session)
        #expect(try store.session(tokenHash: "t1", now: 1050) == session)
        #expect(try store.session(tokenHash: "t1", now: 1101) == nil)
        #expect(try store.purgeExpiredSessions(now: 1101) == 1)
        try store.createSession(
            SessionRecord(tokenHash: "t2", userID: ana.id, csrfToken: "c", createdAt: 1, expiresAt: 9e9))
        try store.deleteSession(tokenHash: "t2")
        #expect(try store.session(tokenHash: "t2", now: 2) == nil)
        try store.createSession(
            SessionRecord(tokenHash: "t3", userID: ana.id, csrfToken: "c", createdAt: 1, expiresAt: 9e9))
        try store.setPassword(user: ana.id, passwordHash: "new")
        #expect(try store.session(tokenHash: "t3", now: 2) == nil)
        #expect(try store.user(id: ana.id)?.passwordHash == "new")
        try store.deleteUser(id: ana.id)
        #expect(thrownWendaoError { try store.deleteUser(id: ana.id) }?.code == .notFound)
        #expect(thrownWendaoError { try store.setPassword(user: ana.id, passwordHash: "x") }?.code == .notFound)
        #expect(try store.users().map(\.name) == [hostile[4]])
    }

    @Test(arguments: Backend.available)
    func sharesAndProviderKeys(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let other = try store.createKnowledgeBase(name: "other", settings: .default)
        let s1 = try store.createShare(
            kb: kb.id, name: nil, tokenHash: "th1", prefix: "p1", allowedOrigins: ["https://a.example"], perMinute: 5)
        #expect(s1.name == "share-\(s1.id)")
        let s2 = try store.createShare(
            kb: kb.id, name: hostile[2], tokenHash: "th2", prefix: "p2", allowedOrigins: [], perMinute: 9)
        #expect(try store.shares(kb: kb.id).map(\.name) == [s1.name, hostile[2]])
        #expect(try store.share(tokenHash: "th1")?.allowedOrigins == ["https://a.example"])
        #expect(
            thrownWendaoError {
                _ = try store.createShare(
                    kb: 999, name: nil, tokenHash: "x", prefix: "x", allowedOrigins: [], perMinute: 1)
            }?.code == .notFound)
        #expect(thrownWendaoError { try store.revokeShare(kb: other.id, id: s2.id, at: 5) }?.code == .notFound)
        try store.revokeShare(kb: kb.id, id: s2.id, at: 5)
        try store.revokeShare(kb: kb.id, id: s2.id, at: 6)
        #expect(try store.share(tokenHash: "th2")?.revokedAt == 5)

        let sealed: [UInt8] = [0, 1, 2, 255, 39, 92]
        try store.setProviderKey(provider: "deepseek", sealed: sealed, at: 10)
        try store.setProviderKey(provider: "deepseek", sealed: sealed + [7], at: 11)
        try store.setProviderKey(provider: hostile[0], sealed: [], at: 12)
        let keys = try store.providerKeys()
        #expect(keys.count == 2)
        #expect(keys["deepseek"]?.sealed == sealed + [7] && keys["deepseek"]?.updatedAt == 11)
        #expect(keys[hostile[0]]?.sealed == [])
        #expect(try store.deleteProviderKey(provider: "deepseek"))
        #expect(try !store.deleteProviderKey(provider: "deepseek"))
    }

    private func turn(_ c: Int64, _ q: String, found: Bool = true, at: Double) -> NewTurn {
        NewTurn(
            conversationID: c, question: q, answer: "answer to \(q)", found: found, mode: "extractive",
            model: "deepseek:chat", citationsJSON: #"[{"n":1}]"#, carried: "首重", warnings: ["w"],
            durationMilliseconds: 12, complete: false, createdAt: at)
    }

    @Test(arguments: Backend.available)
    func conversations(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let other = try store.createKnowledgeBase(name: "other", settings: .default)
        let c = try store.createConversation(kb: kb.id, title: hostile[1], caller: .key(id: 7, name: "bot"), at: 100)
        let t1 = try store.appendTurn(turn(c.id, "首重怎么收费？", at: 101))
        let t2 = try store.appendTurn(turn(c.id, hostile[3], found: false, at: 105))
        _ = try store.setFeedback(turn: t2.id, rating: -1, note: "wrong", at: 106)
        let got = try #require(try store.conversation(id: c.id))
        #expect(got.title == hostile[1] && got.caller == .key(id: 7, name: "bot"))
        #expect(got.turnCount == 2 && got.notFoundCount == 1 && got.thumbsDownCount == 1)
        #expect(got.updatedAt == 105)
        let turns = try store.turns(conversation: c.id)
        #expect(turns.map(\.id) == [t1.id, t2.id])
        #expect(turns[0].turn == turn(c.id, "首重怎么收费？", at: 101))
        #expect(turns[1].rating == -1 && turns[1].note == "wrong" && turns[1].feedbackAt == 106)
        #expect(try store.turn(id: t1.id)?.turn.question == "首重怎么收费？")
        let up = try store.setFeedback(turn: t2.id, rating: 1, note: nil, at: 107)
        #expect(up.rating == 1 && up.note == nil)
        #expect(
            thrownWendaoError { _ = try store.setFeedback(turn: t2.id, rating: 0, note: nil, at: 1) }?.code
                == .invalidArgument)
        #expect(
            thrownWendaoError { _ = try store.setFeedback(turn: 999_999, rating: 1, note: nil, at: 1) }?.code
                == .notFound)
        #expect(thrownWendaoError { _ = try store.appendTurn(turn(999_999, "q", at: 1)) }?.code == .notFound)
        #expect(
            thrownWendaoError { _ = try store.createConversation(kb: 999, title: "t", caller: .admin, at: 1) }?.code
                == .notFound)
        // Paging with ties on the update time, filters by key, user, knowledge base and turns.
        for i in 0..<450 {
            _ = try store.createConversation(
                kb: kb.id, title: "q\(i)", caller: .user(id: 3, name: "ana"), at: Double(i / 3))
        }
        let o = try store.createConversation(kb: other.id, title: "other", caller: .local, at: 5)
        _ = try store.appendTurn(turn(o.id, "x", found: false, at: 5))
        var query = ConversationQuery()
        query.knowledgeBaseIDs = [kb.id]
        query.callerUserID = 3
        query.limit = 40
        var seen: [Int64] = []
        while true {
            let page = try store.conversations(query)
            seen += page.map(\.id)
            guard page.count == query.limit, let last = page.last else { break }
            query.after = (last.updatedAt, last.id)
        }
        #expect(seen.count == 450 && Set(seen).count == 450 && !seen.contains(o.id))
        var byKey = ConversationQuery()
        byKey.callerKeyID = 7
        #expect(try store.conversations(byKey).map(\.id) == [c.id])
        var f = ConversationQuery()
        f.notFound = true
        #expect(Set(try store.conversations(f).map(\.id)) == [o.id, c.id])
        f.thumbsDown = true
        #expect(try store.conversations(f).isEmpty)
        var d = ConversationQuery()
        d.from = 5
        d.to = 6
        #expect(try store.conversations(d).map(\.id) == [o.id])
        var none = ConversationQuery()
        none.knowledgeBaseIDs = []
        #expect(try store.conversations(none).isEmpty)
        var rows: [(Int64, String)] = []
        var exported = ConversationQuery()
        exported.from = 101
        exported.to = 102
        try store.forEachTurn(exported) { conversation, t in rows.append((conversation.id, t.turn.question)) }
        #expect(rows.count == 1 && rows[0].0 == c.id && rows[0].1 == "首重怎么收费？")
        // Deleting, retention.
        try store.deleteConversation(id: c.id)
        #expect(try store.conversation(id: c.id) == nil && (try store.turn(id: t1.id)) == nil)
        #expect(thrownWendaoError { try store.deleteConversation(id: c.id) }?.code == .notFound)
        // Updated before 50: the first 150 (times 0…49) and `o` (time 5).
        #expect(try store.deleteConversations(updatedBefore: 50) == 151)
        var rest = ConversationQuery()
        rest.limit = 1000
        #expect(try store.conversations(rest).count == 300)
        #expect(try store.conversation(id: o.id) == nil)
    }

    @Test(arguments: Backend.available)
    func curatedAnswers(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let other = try store.createKnowledgeBase(name: "other", settings: .default)
        let a = try store.createCuratedAnswer(
            kb: kb.id, question: "首重多少钱？", key: "首重多少钱", answer: "12 元", note: nil, sourceTurn: "t-1")
        let b = try store.createCuratedAnswer(
            kb: kb.id, question: hostile[0], key: hostile[0], answer: "x", note: "n", sourceTurn: nil)
        #expect(
            thrownWendaoError {
                _ = try store.createCuratedAnswer(
                    kb: kb.id, question: "首重多少钱", key: "首重多少钱", answer: "y", note: nil, sourceTurn: nil)
            }?.code == .alreadyExists)
        // The same question in another knowledge base is another entry.
        _ = try store.createCuratedAnswer(
            kb: other.id, question: "首重多少钱？", key: "首重多少钱", answer: "z", note: nil, sourceTurn: nil)
        #expect(try store.curatedAnswers(kb: kb.id).map(\.id) == [a.id, b.id])
        let changed = try store.updateCuratedAnswer(
            kb: kb.id, id: b.id, question: "新问题", key: "新问题", answer: nil, note: "")
        #expect(changed.question == "新问题" && changed.answer == "x" && changed.note == nil)
        #expect(
            thrownWendaoError {
                _ = try store.updateCuratedAnswer(
                    kb: kb.id, id: b.id, question: nil, key: "首重多少钱", answer: nil, note: nil)
            }?.code == .alreadyExists)
        #expect(
            thrownWendaoError {
                _ = try store.updateCuratedAnswer(
                    kb: other.id, id: b.id, question: nil, key: nil, answer: "q", note: nil)
            }?.code == .notFound)
        try store.deleteCuratedAnswer(kb: kb.id, id: a.id)
        #expect(thrownWendaoError { try store.deleteCuratedAnswer(kb: kb.id, id: a.id) }?.code == .notFound)
        #expect(try store.curatedAnswers(kb: kb.id).map(\.question) == ["新问题"])
    }

    @Test(arguments: Backend.available)
    func hostilePathsAreStoredAsGiven(_ backend: Backend) throws {
        let s = try StoreUnderTest(backend)
        let store = s.store
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        for path in hostile {
            _ = try store.replaceDocument(kb: kb.id, newDocument(path)) { insert in _ = try insert(draft(path)) }
        }
        #expect(try store.documents(kb: kb.id).map(\.path).sorted() == hostile.sorted())
        for path in hostile { #expect(try store.document(kb: kb.id, path: path)?.path == path) }
        #expect(try store.knowledgeBases().map(\.name) == ["kb"])
        #expect(try store.integrityProblems(kb: kb.id).isEmpty)
    }
}
