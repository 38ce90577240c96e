import Foundation
import Synchronization
import Testing
import WendaoCore
import WendaoPostgres
import WendaoTestSupport

/// What only the PostgreSQL store does: migrations under an advisory lock, clear connection errors,
/// job leases shared by servers, the chunk change log, stored vectors and uploads.
@Suite(.enabled(if: PostgresTestCluster.isAvailable, "PostgreSQL (initdb) is not installed"))
struct PostgresStoreTests {
    private func cluster() throws -> PostgresTestCluster {
        try #require(PostgresTestCluster.shared, "PostgreSQL is installed but did not start")
    }

    @Test("Several servers starting at once migrate the database exactly once")
    func concurrentMigrations() throws {
        let cluster = try cluster()
        let url = cluster.url(database: try cluster.makeDatabase())
        let failures = Locked<[String]>([])
        let group = DispatchGroup()
        for _ in 0..<6 {
            group.enter()
            // Each store on a thread of its own, as separate processes would be.
            Thread.detachNewThread {
                do {
                    let store = try PostgresStore(url: url)
                    store.close()
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
                group.leave()
            }
        }
        group.wait()
        #expect(failures.withLock { $0 } == [])
        let versions = try cluster.psql(
            "SELECT version FROM wendao_schema ORDER BY version", database: url.databaseName)
        #expect(versions.split(separator: "\n").map(String.init) == (1...PostgresStore.schemaVersion).map(String.init))
        let store = try PostgresStore(url: url)
        defer { store.close() }
        #expect(try store.storedSchemaVersion() == PostgresStore.schemaVersion)
    }

    @Test("A database from a newer Wendao is refused with a clear error")
    func newerSchemaIsRefused() throws {
        let cluster = try cluster()
        let database = try cluster.makeDatabase()
        let url = cluster.url(database: database)
        try PostgresStore(url: url).close()
        try cluster.psql("INSERT INTO wendao_schema (version, name) VALUES (999, 'future')", database: database)
        for migrate in [true, false] {
            let error = thrownWendaoError { _ = try PostgresStore(url: url, migrate: migrate) }
            #expect(error?.code == .storage)
            #expect(error?.message.contains("schema version 999") == true)
            #expect(error?.message.contains("newer") == true)
            #expect(error?.message.contains("127.0.0.1:\(cluster.port)") == true)
            #expect(error?.message.contains(cluster.password) == false)
        }
    }

    @Test("Bad URLs, a wrong password, a missing database and a server that is down: clear errors, no password")
    func connectionErrors() throws {
        let cluster = try cluster()
        let secret = "Sup3r-s3cret-pw"
        for (url, expected) in [
            ("mysql://u:\(secret)@h/db", "postgres://"),
            ("postgres://u:\(secret)@127.0.0.1:99999/db", "port"),
            ("postgres://u:\(secret)@127.0.0.1/db?sslmode=sometimes", "sslmode"),
            ("postgres://u:\(secret)@127.0.0.1/db?colour=blue", "unknown parameter"),
            ("postgres://:\(secret)@127.0.0.1/db", "no user"),
        ] {
            let error = thrownWendaoError { _ = try PostgresStore(url: url) }
            #expect(error?.code == .invalidArgument, "\(url)")
            #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
            #expect(error?.message.contains(secret) == false)
        }
        let wrongPassword = cluster.url(database: "postgres", password: secret)
        let denied = thrownWendaoError { _ = try PostgresStore(url: wrongPassword) }
        #expect(denied?.code == .storage)
        #expect(denied?.message.contains("password") == true, "\(denied?.message ?? "")")
        #expect(denied?.message.contains("127.0.0.1:\(cluster.port)") == true)
        #expect(denied?.message.contains(secret) == false)
        #expect(denied?.message.contains(cluster.password) == false)

        let missing = thrownWendaoError { _ = try PostgresStore(url: cluster.url(database: "no_such_db")) }
        #expect(missing?.message.contains("does not exist") == true, "\(missing?.message ?? "")")
        #expect(missing?.message.contains(cluster.password) == false)

        // Nothing listens on port 1: the error names the host and port, never the password.
        let down = thrownWendaoError {
            _ = try PostgresStore(
                url: "postgres://wendao:\(secret)@127.0.0.1:1/wendao?sslmode=disable&connect_timeout=3")
        }
        #expect(down?.code == .storageUnavailable)
        #expect(down?.message.contains("127.0.0.1:1") == true, "\(down?.message ?? "")")
        #expect(down?.message.contains("cannot be reached") == true, "\(down?.message ?? "")")
        #expect(down?.message.contains(secret) == false)
        #expect(
            try DatabaseURL("postgres://a:\(secret)@db.example:6000/x").redacted == "postgres://a@db.example:6000/x")
    }

    @Test(
        "PostgreSQL refusing connections under a running store: a clear error within connect_timeout; recovery by itself"
    )
    func outageAndRecovery() throws {
        let cluster = try cluster()
        let database = try cluster.makeDatabase()
        let store = try PostgresStore(url: cluster.url(database: database) + "&connect_timeout=2")
        defer { store.close() }
        _ = try store.createKnowledgeBase(name: "kb", settings: .default)
        // The database stops taking connections and the pool's are ended (as a restart would).
        try cluster.psql("ALTER DATABASE \(database) ALLOW_CONNECTIONS false")
        try cluster.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)'")
        for _ in 0..<2 {
            let start = ContinuousClock.now
            let error = thrownWendaoError { _ = try store.knowledgeBases() }
            #expect(ContinuousClock.now - start < .seconds(30))
            #expect(error?.code == .storageUnavailable, "\(error?.message ?? "")")
            #expect(error?.message.contains("127.0.0.1:\(cluster.port)") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains(cluster.password) == false)
        }
        try cluster.psql("ALTER DATABASE \(database) ALLOW_CONNECTIONS true")
        var recovered = false
        let deadline = ContinuousClock.now + .seconds(60)
        while !recovered && ContinuousClock.now < deadline {
            recovered = (try? store.knowledgeBases())?.map(\.name) == ["kb"]
            if !recovered { Thread.sleep(forTimeInterval: 0.2) }
        }
        #expect(recovered)
    }

    @Test("Jobs: claimed once each by concurrent servers; a dead server's job is taken over after its lease")
    func jobLeases() throws {
        let cluster = try cluster()
        let url = cluster.url(database: try cluster.makeDatabase())
        let a = try PostgresStore(url: url)
        let b = try PostgresStore(url: url)
        defer {
            a.close()
            b.close()
        }
        let kb = try a.createKnowledgeBase(name: "kb", settings: .default)
        var ids: [Int64] = []
        for i in 0..<24 { ids.append(try a.createJob(kb: kb.id, payload: "{\"n\":\(i)}", filesTotal: 1).id) }
        // Four workers on two "servers" claim concurrently: every job exactly once.
        let claimed = Locked<[Int64]>([])
        let group = DispatchGroup()
        for w in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                let store = w % 2 == 0 ? a : b
                while let job = try? store.claimNextJob(worker: "w\(w)", leaseSeconds: 60) {
                    claimed.withLock { $0.append(job.id) }
                }
                group.leave()
            }
        }
        group.wait()
        #expect(claimed.withLock { $0 }.sorted() == ids)
        #expect(try a.claimNextJob(worker: "w0", leaseSeconds: 60) == nil)
        // Live leases are never requeued by a server starting up.
        #expect(try b.requeueRunningJobs().isEmpty)

        let k = try a.createJob(kb: kb.id, payload: "{}", filesTotal: 1)
        // Server A claims k and dies: its lease is already over (a negative lease stands for the time passing).
        let taken = try #require(try a.claimNextJob(worker: "server-a", leaseSeconds: -1))
        #expect(taken.id == k.id && taken.state == .running && taken.startedAt != nil)
        var progress = taken
        progress.filesDone = 0
        #expect(try a.updateJob(progress, worker: "server-a"))
        let takeover = try #require(try b.claimNextJob(worker: "server-b", leaseSeconds: 60))
        #expect(takeover.id == k.id && takeover.startedAt == taken.startedAt)
        // A's heartbeat and writes now fail: it no longer holds the job.
        #expect(try !a.renewJobLease(job: k.id, worker: "server-a", leaseSeconds: 60))
        #expect(try !a.updateJob(progress, worker: "server-a"))
        #expect(try b.renewJobLease(job: k.id, worker: "server-b", leaseSeconds: 60))
        var done = takeover
        done.state = .succeeded
        done.filesDone = 1
        done.finishedAt = 5
        #expect(try b.updateJob(done, worker: "server-b"))
        #expect(try a.job(id: k.id)?.state == .succeeded)
        #expect(try !b.renewJobLease(job: k.id, worker: "server-b", leaseSeconds: 60))
        // A running job without a live lease is requeued at start-up.
        let orphan = try a.createJob(kb: kb.id, payload: "{}", filesTotal: 1)
        _ = try a.claimNextJob(worker: "gone", leaseSeconds: -1)
        #expect(try b.requeueRunningJobs().map(\.id) == [orphan.id])
        #expect(try b.nextQueuedJob()?.id == orphan.id)
    }

    @Test("The change log gives each generation's net chunk changes")
    func changeLog() throws {
        let cluster = try cluster()
        let store = try PostgresStore(url: cluster.url(database: try cluster.makeDatabase()))
        defer { store.close() }
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        func draft(_ t: String) -> ChunkDraft { ChunkDraft(text: t, sectionPath: [], page: nil, start: 0, end: 1) }
        func doc(_ p: String) -> NewDocument {
            NewDocument(path: p, title: p, format: "text", contentHash: p, byteCount: 1)
        }
        let a = try store.replaceDocument(kb: kb.id, doc("a")) { insert in
            _ = try insert(draft("1"))
            _ = try insert(draft("2"))
        }
        let g1 = a.generation
        let b = try store.replaceDocument(kb: kb.id, doc("b")) { insert in _ = try insert(draft("3")) }
        let edit = try store.editChunk(kb: kb.id, id: a.addedChunkIDs[0], text: "1'")
        _ = try store.setChunkEnabled(kb: kb.id, id: a.addedChunkIDs[1], enabled: false)
        _ = try store.setChunkEnabled(kb: kb.id, id: b.addedChunkIDs[0], enabled: false)
        let last = try store.setChunkEnabled(kb: kb.id, id: b.addedChunkIDs[0], enabled: true)
        let since1 = try #require(try store.chunkChanges(kb: kb.id, since: g1))
        #expect(since1.generation == last.generation)
        #expect(since1.added == [b.addedChunkIDs[0], edit.chunk!.id].sorted())
        #expect(since1.removed == a.addedChunkIDs)
        let all = try #require(try store.chunkChanges(kb: kb.id, since: 0))
        let live = try store.chunkIDs(kb: kb.id)
        #expect(all.added == live)
        #expect(all.removed.isEmpty)
        #expect(try store.chunkChanges(kb: kb.id, since: last.generation)?.added == [])
        #expect(try store.chunkChanges(kb: kb.id, since: last.generation + 5) == nil)
        #expect(try store.chunkChanges(kb: 999, since: 0) == nil)
    }

    @Test("Vectors are stored with their embedder and dimension, and go with their chunks")
    func vectors() throws {
        let cluster = try cluster()
        let store = try PostgresStore(url: cluster.url(database: try cluster.makeDatabase()))
        defer { store.close() }
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let doc = try store.replaceDocument(
            kb: kb.id, NewDocument(path: "a", title: "a", format: "text", contentHash: "h", byteCount: 1)
        ) { insert in
            for i in 0..<1500 {
                _ = try insert(ChunkDraft(text: "c\(i)", sectionPath: [], page: nil, start: 0, end: 2))
            }
        }
        let ids = doc.addedChunkIDs
        let vectors = ids.enumerated().map { (i, id) in (id: id, vector: [Float(i), -0.5, 1e-3, .pi]) }
        try store.storeVectors(embedder: "e5-small", dimension: 4, vectors + [(id: 987_654_321, vector: [1, 2, 3, 4])])
        let back = try store.storedVectors(kb: kb.id, embedder: "e5-small", ids: ids.reversed() + [987_654_321])
        #expect(back.map(\.id) == ids)
        #expect(back.map(\.vector) == vectors.map(\.vector))
        #expect(try store.storedVectors(kb: kb.id, embedder: "minilm", ids: ids).isEmpty)
        #expect(
            thrownWendaoError {
                try store.storeVectors(embedder: "e5-small", dimension: 4, [(id: ids[0], vector: [1])])
            }?
            .code == .invalidArgument)
        // Another embedder's vector replaces the old one; deleting the chunk deletes its vector.
        try store.storeVectors(embedder: "minilm", dimension: 2, [(id: ids[0], vector: [9, 9])])
        #expect(try store.storedVectors(kb: kb.id, embedder: "minilm", ids: [ids[0]]).map(\.vector) == [[9, 9]])
        _ = try store.deleteChunk(kb: kb.id, id: ids[0])
        #expect(try store.storedVectors(kb: kb.id, embedder: "minilm", ids: [ids[0]]).isEmpty)
        #expect(try store.integrityProblems(kb: kb.id).isEmpty)
    }

    /// Stores `n` one-chunk-each chunks in `kb`; returns their ids.
    private func chunks(_ store: PostgresStore, _ kb: Int64, _ n: Int) throws -> [Int64] {
        try store.replaceDocument(
            kb: kb, NewDocument(path: "d", title: "d", format: "text", contentHash: "h", byteCount: 1)
        ) { insert in
            for i in 0..<n {
                _ = try insert(ChunkDraft(text: "c\(i)", sectionPath: [], page: nil, start: 0, end: 2))
            }
        }.addedChunkIDs
    }

    @Test("pgvector: an HNSW index on cosine distance finds the nearest stored vectors")
    func pgvectorSearch() throws {
        let cluster = try cluster()
        let database = try cluster.makeDatabase()
        let store = try PostgresStore(url: cluster.url(database: database))
        defer { store.close() }
        guard try requirePgvector(store) else { return }
        #expect(try store.hasPgvector())
        let kb = try store.createKnowledgeBase(name: "kb", settings: .default)
        let other = try store.createKnowledgeBase(name: "other", settings: .default)
        let ids = try chunks(store, kb.id, 300)
        let otherIDs = try chunks(store, other.id, 50)
        // Deterministic vectors on a circle's worth of directions in 8 dimensions.
        func vector(_ i: Int) -> [Float] { (0..<8).map { Float(sin(Double(i * (3 + $0)) * 0.37 + Double($0))) } }
        try store.storeVectors(
            embedder: "e", dimension: 8, ids.enumerated().map { (id: $0.element, vector: vector($0.offset)) })
        try store.storeVectors(embedder: "e", dimension: 8, otherIDs.map { (id: $0, vector: vector(17)) })
        try store.ensureVectorIndex(kb: kb.id, dimension: 8)
        try store.ensureVectorIndex(kb: kb.id, dimension: 8)
        let hits = try store.nearestVectors(kb: kb.id, embedder: "e", query: vector(17), k: 5, efSearch: 200)
        #expect(hits.first?.id == ids[17])
        #expect(abs(hits.first?.distance ?? 1) < 1e-5)
        #expect(hits.count == 5 && hits.allSatisfy { ids.contains($0.id) })
        #expect(hits.map(\.distance) == hits.map(\.distance).sorted())
        // The exact nearest five, by brute force here, are what the index found (300 vectors, ef 200).
        func cosine(_ a: [Float], _ b: [Float]) -> Double {
            let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return dot / (na * nb)
        }
        let exact = ids.indices.sorted { cosine(vector($0), vector(17)) > cosine(vector($1), vector(17)) }
            .prefix(5).map { ids[$0] }
        #expect(hits.map(\.id) == exact)
        #expect(try store.nearestVectors(kb: kb.id, embedder: "other-embedder", query: vector(1), k: 5).isEmpty)
        // Another dimension has no vectors here: nothing, not an error.
        #expect(try store.nearestVectors(kb: kb.id, embedder: "e", query: [1, 0, 0], k: 5).isEmpty)
        // One index per knowledge base and dimension, dropped with the knowledge base.
        let indexes = {
            try cluster.psql(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'chunk_vector' AND indexname LIKE 'chunk_vector_hnsw%' ORDER BY 1",
                database: database
            ).split(separator: "\n").map(String.init)
        }
        #expect(try indexes() == ["chunk_vector_hnsw_kb\(kb.id)_d3", "chunk_vector_hnsw_kb\(kb.id)_d8"])
        try store.deleteKnowledgeBase(id: kb.id)
        #expect(try indexes() == [])
        #expect(thrownWendaoError { _ = try store.nearestVectors(kb: other.id, embedder: "e", query: [], k: 5) }?.code
            == .invalidArgument)
    }

    @Test("pgvector: a small knowledge base beside a large one gets its own nearest vectors, all k of them")
    func pgvectorTenantRecall() throws {
        let cluster = try cluster()
        let store = try PostgresStore(url: cluster.url(database: try cluster.makeDatabase()))
        defer { store.close() }
        guard try requirePgvector(store) else { return }
        // A large tenant whose vectors all sit right next to the query, and a small one whose vectors
        // are farther: a single index filtered afterwards would hand the small one its ef_search
        // candidates from the large one's and return (almost) nothing.
        let large = try store.createKnowledgeBase(name: "large", settings: .default)
        let small = try store.createKnowledgeBase(name: "small", settings: .default)
        let largeIDs = try chunks(store, large.id, 3000)
        let smallIDs = try chunks(store, small.id, 30)
        func near(_ i: Int) -> [Float] { [1, Float(i % 97) * 1e-4, Float(i / 97) * 1e-4, 0] }
        func far(_ i: Int) -> [Float] { [0.5, 0.5, Float(i) * 0.01, 0.5] }
        try store.storeVectors(
            embedder: "e", dimension: 4, largeIDs.enumerated().map { (id: $0.element, vector: near($0.offset)) })
        try store.storeVectors(
            embedder: "e", dimension: 4, smallIDs.enumerated().map { (id: $0.element, vector: far($0.offset)) })
        let hits = try store.nearestVectors(kb: small.id, embedder: "e", query: [1, 0, 0, 0], k: 10, efSearch: 40)
        #expect(hits.count == 10)
        #expect(hits.allSatisfy { smallIDs.contains($0.id) })
        let largeHits = try store.nearestVectors(kb: large.id, embedder: "e", query: [1, 0, 0, 0], k: 10, efSearch: 40)
        #expect(largeHits.count == 10 && largeHits.allSatisfy { largeIDs.contains($0.id) })
        // Hostile names stay data: an embedder made of SQL finds nothing and breaks nothing.
        #expect(
            try store.nearestVectors(kb: small.id, embedder: "e' OR '1'='1", query: [1, 0, 0, 0], k: 10).isEmpty)
    }

    /// Whether pgvector is here (creating the extension). Without it the test has nothing to search
    /// with and ends, unless `WENDAO_REQUIRE_PGVECTOR=1` (scripts/test.sh sets it when it installed
    /// PostgreSQL with pgvector): then its absence is a failure.
    private func requirePgvector(_ store: PostgresStore) throws -> Bool {
        if try store.enablePgvector() { return true }
        #expect(try !store.hasPgvector())
        if ProcessInfo.processInfo.environment["WENDAO_REQUIRE_PGVECTOR"] == "1" {
            Issue.record("WENDAO_REQUIRE_PGVECTOR=1 but this PostgreSQL (\(PostgresTestCluster.shared?.bin ?? "?")) has no pgvector")
        }
        return false
    }

    @Test("Uploads are kept in the database for any server's job")
    func uploads() throws {
        let cluster = try cluster()
        let url = cluster.url(database: try cluster.makeDatabase())
        let a = try PostgresStore(url: url)
        let b = try PostgresStore(url: url)
        defer {
            a.close()
            b.close()
        }
        let kb = try a.createKnowledgeBase(name: "kb", settings: .default)
        let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try a.storeUpload(kb: kb.id, name: "价目表.pdf", bytes: bytes)
        #expect(try b.upload(kb: kb.id, name: "价目表.pdf") == bytes)
        try b.storeUpload(kb: kb.id, name: "价目表.pdf", bytes: [1, 2, 3])
        #expect(try a.upload(kb: kb.id, name: "价目表.pdf") == [1, 2, 3])
        #expect(try a.upload(kb: kb.id, name: "other.pdf") == nil)
        try b.deleteUpload(kb: kb.id, name: "价目表.pdf")
        #expect(try a.upload(kb: kb.id, name: "价目表.pdf") == nil)
        #expect(thrownWendaoError { try a.storeUpload(kb: 999, name: "x", bytes: []) }?.code == .notFound)
    }

    @Test("What one server writes, another reads at once")
    func twoServersShareOneDatabase() throws {
        let cluster = try cluster()
        let url = cluster.url(database: try cluster.makeDatabase())
        let a = try PostgresStore(url: url)
        let b = try PostgresStore(url: url)
        defer {
            a.close()
            b.close()
        }
        let kb = try a.createKnowledgeBase(name: "shared", settings: .default)
        #expect(
            thrownWendaoError { _ = try b.createKnowledgeBase(name: "shared", settings: .default) }?.code
                == .alreadyExists)
        let change = try a.replaceDocument(
            kb: kb.id, NewDocument(path: "p.md", title: "p", format: "markdown", contentHash: "1", byteCount: 1)
        ) { insert in _ = try insert(ChunkDraft(text: "保价费率 0.5%", sectionPath: [], page: nil, start: 0, end: 9)) }
        #expect(try b.knowledgeBase(named: "shared")?.generation == change.generation)
        #expect(try b.chunks(ids: change.addedChunkIDs).map(\.text) == ["保价费率 0.5%"])
        _ = try b.deleteDocument(kb: kb.id, id: change.document.id)
        #expect(try a.documents(kb: kb.id).isEmpty)
    }
}

extension String {
    /// The database name of a test URL.
    fileprivate var databaseName: String {
        let afterHost = self.split(separator: "/").last.map(String.init) ?? ""
        return String(afterHost.split(separator: "?").first ?? "")
    }
}

/// A value shared by threads, behind a lock.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
