import Foundation
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
import WendaoRAG
@testable import WendaoStore

/// A data directory with a library on it.
private final class AccessFixture {
    let scratch: ScratchDirectory
    let library: Library

    init() throws {
        scratch = try ScratchDirectory("access")
        library = try Library(directory: scratch.child("data"))
    }

    /// Every byte SQLite has written for the data directory (database, WAL, shared memory).
    func databaseBytes() throws -> Data {
        var all = Data()
        for suffix in ["", "-wal", "-shm"] {
            let url = scratch.child("data/wendao.sqlite" + suffix)
            if FileManager.default.fileExists(atPath: url.path) { all.append(try Data(contentsOf: url)) }
        }
        return all
    }
}

@Suite struct AccessKeyTests {
    @Test func keysHaveTheDocumentedShapeAndEntropy() throws {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var seen = Set<String>()
        var used = Set<Character>()
        for _ in 0..<300 {
            let key = Library.generateAPIKey()
            #expect(key.hasPrefix("wdk_"))
            #expect(key.utf8.count == 36 && key.count == 36)
            #expect(key.dropFirst(4).allSatisfy { alphabet.contains($0) })
            #expect(Library.isWellFormedAPIKey(key))
            used.formUnion(key.dropFirst(4))
            seen.insert(key)
        }
        #expect(seen.count == 300)
        // 9,600 draws from 62 symbols: every symbol shows up unless the generator is broken.
        #expect(used == alphabet)
        #expect(Double(Library.apiKeyRandomLength) * log2(62.0) >= 190)
        // The stored hash is plain SHA-256, lowercase hex (FIPS 180-4 test vector).
        #expect(Library.apiKeyHash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func onlyTheHashIsStored() throws {
        let f = try AccessFixture()
        defer { f.scratch.remove() }
        try f.library.create("docs")
        let (key, record) = try f.library.createAPIKey(name: "bot", knowledgeBases: ["docs"], scope: .write)
        #expect(record.hash == Library.apiKeyHash(key))
        #expect(record.hash.count == 64 && record.hash.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(record.prefix == String(key.prefix(12)))
        #expect(record.name == "bot" && record.scope == .write && record.revokedAt == nil)
        let listed = try #require(try f.library.apiKeys().first)
        #expect(listed == record)

        let bytes = try f.databaseBytes()
        #expect(bytes.range(of: Data(record.hash.utf8)) != nil, "the hash should be in the files read")
        #expect(bytes.range(of: Data(key.utf8)) == nil, "the plaintext key is stored")
        // Not even the secret part after the displayed prefix.
        #expect(bytes.range(of: Data(key.dropFirst(12).utf8)) == nil)
    }

    @Test func authenticateAcceptsValidKeysOnly() throws {
        let f = try AccessFixture()
        defer { f.scratch.remove() }
        let kb = try f.library.create("docs")
        let (key, record) = try f.library.createAPIKey(knowledgeBases: ["docs"], scope: .read)
        let authenticated = try #require(try f.library.authenticate(key))
        #expect(authenticated.id == record.id)
        #expect(authenticated.covers(kb.id))
        #expect(authenticated.scope.allows(.read) && !authenticated.scope.allows(.write))

        let body = String(key.dropFirst(4))
        var flipped = Array(key)
        flipped[20] = flipped[20] == "a" ? "b" : "a"
        let malformed: [String] = [
            "", "wdk_", "wdk", key + " ", " " + key, key + "\n", String(key.dropLast()),  // wdk_ + 31
            key + "a",  // wdk_ + 33
            "WDK_" + body, "wdk-" + body, "wdk_" + String(body.dropLast(2)) + "é",  // 36 bytes, non-ASCII
            "wdk_" + String(body.dropLast()) + "é",  // 36 characters, 37 bytes
            "wdk_" + String(body.dropLast()) + "\u{0}", "wdk_" + String(body.dropLast()) + "٣",  // Arabic-Indic digit
            "wdk_" + String(body.dropLast()) + "Ａ",  // full-width letter
            "wdk_" + String(body.dropLast()) + "e\u{301}",  // a combining accent
            "wdk_" + String(repeating: "a", count: 10_000), String(repeating: "é", count: 10_000),
            String(repeating: "😀", count: 4_096), "Bearer " + key,
        ]
        for s in malformed {
            #expect(!Library.isWellFormedAPIKey(s), "\(s.prefix(40))")
            #expect(try f.library.authenticate(s) == nil, "\(s.prefix(40))")
        }
        // Well formed but unknown.
        #expect(try f.library.authenticate(String(flipped)) == nil)
        #expect(try f.library.authenticate(Library.generateAPIKey()) == nil)
        // Revoked.
        try f.library.revokeAPIKey(String(record.id))
        #expect(try f.library.authenticate(key) == nil)
        #expect(try f.library.apiKeys().first?.revokedAt != nil)
    }

    @Test func keysAreBoundToKnowledgeBasesByID() throws {
        let f = try AccessFixture()
        defer { f.scratch.remove() }
        let docs = try f.library.create("docs")
        let faq = try f.library.create("faq")
        let (key, record) = try f.library.createAPIKey(knowledgeBases: ["docs", "faq", "docs"])
        #expect(record.knowledgeBaseIDs == [docs.id, faq.id].sorted())
        #expect(record.name == "key-\(record.id)")

        try f.library.delete("docs")
        let afterDelete = try #require(try f.library.authenticate(key))
        #expect(afterDelete.knowledgeBaseIDs == [faq.id])
        try f.library.delete("faq")
        let coversNothing = try #require(try f.library.authenticate(key))
        #expect(coversNothing.knowledgeBaseIDs.isEmpty)

        // The same name again is a different knowledge base: not covered.
        let again = try f.library.create("docs")
        #expect(again.id != docs.id)
        let later = try #require(try f.library.authenticate(key))
        #expect(!later.covers(again.id) && !later.covers(docs.id))
        #expect(try f.library.apiKeys().map(\.knowledgeBaseIDs) == [[]])
        #expect(try f.library.store.integrityProblems(kb: again.id).isEmpty)
    }

    @Test func createRejectsBadArguments() throws {
        let f = try AccessFixture()
        defer { f.scratch.remove() }
        try f.library.create("docs")
        #expect(thrownWendaoError { _ = try f.library.createAPIKey(knowledgeBases: []) }?.code == .invalidArgument)
        #expect(
            thrownWendaoError { _ = try f.library.createAPIKey(knowledgeBases: ["docs", "nope"]) }?.code == .notFound)
        #expect(
            thrownWendaoError { _ = try f.library.createAPIKey(knowledgeBases: ["../x"]) }?.code == .invalidArgument)
        for name in ["", "   ", "a\nb", String(repeating: "x", count: 65)] {
            #expect(
                thrownWendaoError { _ = try f.library.createAPIKey(name: name, knowledgeBases: ["docs"]) }?.code
                    == .invalidArgument)
        }
        #expect(try f.library.apiKeys().isEmpty)
        let named = try f.library.createAPIKey(name: "客服机器人", knowledgeBases: ["docs"])
        #expect(named.record.name == "客服机器人")
    }

    @Test func revokeByIDPrefixOrKey() throws {
        let f = try AccessFixture()
        defer { f.scratch.remove() }
        try f.library.create("docs")
        let a = try f.library.createAPIKey(knowledgeBases: ["docs"])
        let b = try f.library.createAPIKey(knowledgeBases: ["docs"], scope: .write)
        let c = try f.library.createAPIKey(knowledgeBases: ["docs"])

        let revoked = try f.library.revokeAPIKey(a.record.prefix)
        #expect(revoked.id == a.record.id && revoked.revokedAt != nil)
        #expect(try f.library.authenticate(a.key) == nil)
        #expect(try f.library.authenticate(b.key)?.id == b.record.id)
        let again = thrownWendaoError { try f.library.revokeAPIKey(a.record.prefix) }
        #expect(again?.code == .invalidArgument)
        #expect(again?.message.contains("already revoked") == true)

        // By the whole key (never echoed) and by id.
        #expect(try f.library.revokeAPIKey(b.key).id == b.record.id)
        #expect(try f.library.revokeAPIKey(" \(c.record.id) ").id == c.record.id)
        #expect(try f.library.apiKeys().allSatisfy(\.isRevoked))

        #expect(thrownWendaoError { try f.library.revokeAPIKey("987654") }?.code == .notFound)
        #expect(thrownWendaoError { try f.library.revokeAPIKey("99999999999999999999999") }?.code == .notFound)
        #expect(thrownWendaoError { try f.library.revokeAPIKey(Library.generateAPIKey()) }?.code == .notFound)
        for bad in ["", "hello", "wdk_", "wdk_!!", "wdk_" + String(repeating: "a", count: 20)] {
            let e = thrownWendaoError { try f.library.revokeAPIKey(bad) }
            #expect(e?.code == .invalidArgument, "\(bad)")
        }
        let leaked = thrownWendaoError { try f.library.revokeAPIKey(String(a.key.dropLast())) }
        #expect(leaked?.message.contains(String(a.key.dropFirst(12).dropLast())) == false)
    }

    @Test func anAmbiguousPrefixRevokesNothing() throws {
        let f = try AccessFixture()
        defer { f.scratch.remove() }
        try f.library.create("docs")
        // 63 keys share their first random character with another one at the latest (pigeonhole).
        var byShortPrefix: [String: [APIKeyRecord]] = [:]
        var shared: String?
        while shared == nil {
            let r = try f.library.createAPIKey(knowledgeBases: ["docs"]).record
            let p = String(r.prefix.prefix(5))
            byShortPrefix[p, default: []].append(r)
            if byShortPrefix[p]!.count == 2 { shared = p }
        }
        let prefix = try #require(shared)
        let error = thrownWendaoError { try f.library.revokeAPIKey(prefix) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("\(byShortPrefix[prefix]![0].id)") == true)
        #expect(try f.library.apiKeys().allSatisfy { !$0.isRevoked })
        // The full displayed prefix still picks one.
        let one = byShortPrefix[prefix]![1]
        #expect(try f.library.revokeAPIKey(one.prefix).id == one.id)
    }

    @Test func lastUseIsRecordedAtMostOnceAMinute() throws {
        let f = try AccessFixture()
        defer { f.scratch.remove() }
        try f.library.create("docs")
        let (key, _) = try f.library.createAPIKey(knowledgeBases: ["docs"])
        let first = try #require(try f.library.authenticate(key))
        #expect(first.lastUsedAt == nil)
        try f.library.recordAPIKeyUse(first, at: 1_000)
        let used = try #require(try f.library.authenticate(key))
        #expect(used.lastUsedAt == 1_000)
        try f.library.recordAPIKeyUse(used, at: 1_030)
        #expect(try f.library.authenticate(key)?.lastUsedAt == 1_000)
        try f.library.recordAPIKeyUse(used, at: 1_061)
        #expect(try f.library.authenticate(key)?.lastUsedAt == 1_061)
    }
}

@Suite struct AccessJobTests {
    @Test func createUpdateAndList() throws {
        let f = try AccessFixture()
        defer { f.scratch.remove() }
        let kb = try f.library.create("docs")
        try f.library.create("other")
        let payload = #"{"files": [{"path": "/data/uploads/1/x.md", "name": "x.md"}]}"#
        var first = try f.library.createJob(kb: "docs", payload: payload, filesTotal: 1)
        #expect(first.state == .queued && first.kbID == kb.id && first.payload == payload)
        #expect(first.startedAt == nil && first.finishedAt == nil && first.results.isEmpty && first.error == nil)
        let second = try f.library.createJob(kb: "docs", payload: "{}", filesTotal: 3)
        let third = try f.library.createJob(kb: "docs", payload: "{}", filesTotal: 0)
        let elsewhere = try f.library.createJob(kb: "other", payload: "{}", filesTotal: 2)

        #expect(try f.library.jobs(kb: "docs").map(\.id) == [third.id, second.id, first.id])
        #expect(try f.library.jobs(kb: "docs", limit: 2).map(\.id) == [third.id, second.id])
        #expect(try f.library.jobs(kb: "other").map(\.id) == [elsewhere.id])
        #expect(try f.library.job(id: second.id) == second)
        #expect(try f.library.job(id: 424_242) == nil)
        #expect(try f.library.nextQueuedJob()?.id == first.id)

        first.state = .running
        first.startedAt = 10
        try f.library.updateJob(first)
        #expect(try f.library.nextQueuedJob()?.id == second.id)
        first.state = .partial
        first.finishedAt = 12.5
        first.filesDone = 1
        first.chunks = 7
        first.results = [
            JobFileResult(path: "x.md", outcome: "added", chunks: 7),
            JobFileResult(path: "坏.pdf", outcome: "failed", chunks: 0, reason: "not a PDF: \"quoted\"\n"),
        ]
        first.error = "1 file failed"
        try f.library.updateJob(first)
        let stored = try #require(try f.library.job(id: first.id))
        #expect(stored == first)
        #expect(stored.state.isFinished && !JobState.running.isFinished)

        // Knowledge base, payload and creation time never change.
        var tampered = stored
        tampered.kbID = elsewhere.kbID
        tampered.payload = "{\"evil\": true}"
        try f.library.updateJob(tampered)
        #expect(try f.library.job(id: first.id) == stored)

        var ghost = stored
        ghost.id = 999_999
        #expect(thrownWendaoError { try f.library.updateJob(ghost) }?.code == .notFound)
        #expect(
            thrownWendaoError { _ = try f.library.createJob(kb: "nope", payload: "{}", filesTotal: 0) }?.code
                == .notFound)
        #expect(
            thrownWendaoError { _ = try f.library.createJob(kb: "docs", payload: "{}", filesTotal: -1) }?.code
                == .invalidArgument)
        #expect(thrownWendaoError { _ = try f.library.jobs(kb: "docs", limit: 0) }?.code == .invalidArgument)
    }

    @Test func interruptedJobsAreRequeuedOnRestart() throws {
        let f = try AccessFixture()
        defer { f.scratch.remove() }
        try f.library.create("docs")
        var a = try f.library.createJob(kb: "docs", payload: "{}", filesTotal: 2)
        var b = try f.library.createJob(kb: "docs", payload: "{}", filesTotal: 2)
        var done = try f.library.createJob(kb: "docs", payload: "{}", filesTotal: 1)
        let waiting = try f.library.createJob(kb: "docs", payload: "{}", filesTotal: 1)
        for job in [a, b, done] {
            var j = job
            j.state = .running
            j.startedAt = 5
            try f.library.updateJob(j)
        }
        a = try #require(try f.library.job(id: a.id))
        a.filesDone = 1
        a.results = [JobFileResult(path: "one.md", outcome: "added", chunks: 2)]
        try f.library.updateJob(a)
        done = try #require(try f.library.job(id: done.id))
        done.state = .succeeded
        try f.library.updateJob(done)
        #expect(try f.library.nextQueuedJob()?.id == waiting.id)

        // A new process on the same data directory, as after a crash.
        let restarted = try Library(directory: f.scratch.child("data"))
        let recovered = try restarted.recoverInterruptedJobs()
        #expect(recovered.map(\.id) == [a.id, b.id])
        #expect(recovered.allSatisfy { $0.state == .queued })
        #expect(recovered.first?.results == a.results && recovered.first?.filesDone == 1)
        #expect(try restarted.job(id: a.id)?.state == .queued)
        #expect(try restarted.job(id: done.id)?.state == .succeeded)
        #expect(try restarted.nextQueuedJob()?.id == a.id)
        #expect(try restarted.recoverInterruptedJobs().isEmpty)
        b = try #require(try restarted.job(id: b.id))
        #expect(b.state == .queued && b.startedAt == 5)
    }

    @Test func deletingAKnowledgeBaseDeletesItsJobs() throws {
        let f = try AccessFixture()
        defer { f.scratch.remove() }
        try f.library.create("docs")
        try f.library.create("kept")
        let doomed = try f.library.createJob(kb: "docs", payload: "{}", filesTotal: 1)
        let kept = try f.library.createJob(kb: "kept", payload: "{}", filesTotal: 1)
        try f.library.delete("docs")
        #expect(try f.library.job(id: doomed.id) == nil)
        #expect(thrownWendaoError { try f.library.updateJob(doomed) }?.code == .notFound)
        #expect(try f.library.nextQueuedJob()?.id == kept.id)
        let recreated = try f.library.create("docs")
        #expect(try f.library.jobs(kb: "docs").isEmpty)
        #expect(try f.library.store.integrityProblems(kb: recreated.id).isEmpty)
    }

    @Test func ingestResultsConvert() throws {
        let r = try JSONDecoder().decode(
            IngestSummary.FileResult.self, from: Data(#"{"path": "a.md", "outcome": "unchanged", "chunks": 3}"#.utf8))
        #expect(JobFileResult(r) == JobFileResult(path: "a.md", outcome: "unchanged", chunks: 3))
    }
}

@Suite struct AccessMigrationTests {
    @Test func aVersion1DatabaseUpgrades() throws {
        let scratch = try ScratchDirectory("migrate")
        defer { scratch.remove() }
        let dataDir = scratch.child("data")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        let path = dataDir.appendingPathComponent("wendao.sqlite").path
        let docID: Int64
        do {
            let v1 = try SQLiteStore(path: path, migratingUpTo: "v1")
            let kb = try v1.createKnowledgeBase(name: "old", settings: .default)
            docID = try v1.replaceDocument(
                kb: kb.id, NewDocument(path: "a.md", title: "A", format: "markdown", contentHash: "h", byteCount: 3)
            ) { insert in
                _ = try insert(ChunkDraft(text: "旧数据。", sectionPath: ["S"], page: nil, start: 0, end: 4))
            }.document.id
            // Truly version 1: the new tables do not exist yet.
            #expect(thrownWendaoError { _ = try v1.apiKeys() }?.code == .storage)
            #expect(
                thrownWendaoError { _ = try v1.createJob(kb: kb.id, payload: "{}", filesTotal: 0) }?.code == .storage)
        }

        let library = try Library(directory: dataDir)
        let kb = try library.record("old")
        #expect(try library.store.documents(kb: kb.id).map(\.id) == [docID])
        let (key, _) = try library.createAPIKey(knowledgeBases: ["old"], scope: .write)
        #expect(try library.authenticate(key)?.covers(kb.id) == true)
        let job = try library.createJob(kb: "old", payload: "{}", filesTotal: 0)
        #expect(try library.store.integrityProblems(kb: kb.id).isEmpty)

        // Opening again (migrations already applied) changes nothing.
        let again = try Library(directory: dataDir)
        #expect(try again.authenticate(key)?.covers(kb.id) == true)
        #expect(try again.job(id: job.id) == job)
        #expect(try again.store.documents(kb: kb.id).count == 1)
        let direct = try SQLiteStore(path: path)
        #expect(try direct.apiKeys().count == 1)
    }
}

// MARK: - CLI

/// The CLI runner of CLITests (a private data directory; waits without blocking a thread).
private typealias KeysCLI = CLIFixture

@Suite struct AccessCLITests {
    private let recordKeys: Set<String> = [
        "id", "name", "prefix", "scope", "knowledge_bases", "created_at", "revoked_at", "last_used_at",
    ]

    @Test func keysCreateListRevokeJSON() async throws {
        let cli = try KeysCLI()
        defer { cli.scratch.remove() }
        #expect(try await cli.run("kb", "create", "docs").status == 0)
        #expect(try await cli.run("kb", "create", "faq").status == 0)

        let created = try await cli.run("keys", "create", "--kb", "docs", "--json")
        #expect(created.status == 0, "\(created.stderr)")
        let first = try created.json()
        #expect(Set(first.keys) == recordKeys.union(["key"]))
        let key = try #require(first["key"] as? String)
        #expect(Library.isWellFormedAPIKey(key))
        #expect(first["prefix"] as? String == String(key.prefix(12)))
        #expect(first["scope"] as? String == "read")
        #expect(first["knowledge_bases"] as? [String] == ["docs"])
        #expect(first["name"] as? String == "key-\(first["id"] as? Int ?? -1)")
        #expect(first["revoked_at"] is NSNull)
        #expect(created.stderr.contains("cannot be shown again"))

        let write = try await cli.run(
            "keys", "create", "--kb", "faq", "--kb", "docs", "--write", "--name", "bot", "--json")
        #expect(write.status == 0, "\(write.stderr)")
        let second = try write.json()
        let secondKey = try #require(second["key"] as? String)
        #expect(second["scope"] as? String == "write")
        #expect(second["name"] as? String == "bot")
        #expect(Set(second["knowledge_bases"] as? [String] ?? []) == ["docs", "faq"])

        let human = try await cli.run("keys", "create", "--kb", "faq")
        #expect(human.status == 0, "\(human.stderr)")
        let lines = human.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first.map(Library.isWellFormedAPIKey) == true)
        #expect(human.stdout.contains("cannot be shown again"))

        let list = try await cli.run("keys", "list", "--json")
        #expect(list.status == 0, "\(list.stderr)")
        let keys = try #require(try list.json()["keys"] as? [[String: Any]])
        #expect(keys.count == 3)
        for k in keys { #expect(Set(k.keys) == recordKeys) }
        for secret in [key, secondKey, lines[0]] {
            #expect(!list.stdout.contains(secret) && !list.stderr.contains(secret))
            #expect(!list.stdout.contains(Library.apiKeyHash(secret)))
        }
        let plain = try await cli.run("keys", "list")
        #expect(plain.status == 0)
        #expect(plain.stdout.contains("bot") && plain.stdout.contains(String(secondKey.prefix(12))))
        #expect(!plain.stdout.contains(secondKey))

        let prefix = try #require(first["prefix"] as? String)
        let revoked = try await cli.run("keys", "revoke", prefix, "--json")
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let revokedBody = try revoked.json()
        #expect(Set(revokedBody.keys) == recordKeys)
        #expect(revokedBody["id"] as? Int == first["id"] as? Int)
        #expect(revokedBody["revoked_at"] is String)
        let afterList = try #require(try await cli.run("keys", "list", "--json").json()["keys"] as? [[String: Any]])
        #expect(afterList.filter { $0["revoked_at"] is String }.map { $0["id"] as? Int } == [first["id"] as? Int])

        let again = try await cli.run("keys", "revoke", prefix, "--json")
        #expect(again.status == 2)
        let error = try #require(try again.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "invalid_argument")
        let byID = try await cli.run("keys", "revoke", "\(second["id"] as? Int ?? -1)")
        #expect(byID.status == 0 && byID.stdout.contains("revoked"))
        #expect(try await cli.run("keys", "revoke", "4242").status == 1)
    }

    @Test func keysCreateErrors() async throws {
        let cli = try KeysCLI()
        defer { cli.scratch.remove() }
        #expect(try await cli.run("kb", "create", "docs").status == 0)
        let noKB = try await cli.run("keys", "create", "--json")
        #expect(noKB.status == 2)
        #expect((try noKB.json()["error"] as? [String: Any])?["code"] as? String == "invalid_argument")
        let missing = try await cli.run("keys", "create", "--kb", "nope", "--json")
        #expect(missing.status == 1)
        #expect((try missing.json()["error"] as? [String: Any])?["code"] as? String == "not_found")
        #expect(try await cli.run("keys", "create", "--kb", "docs", "--read", "--write").status == 2)
        let empty = try await cli.run("keys", "list", "--json")
        #expect((try empty.json()["keys"] as? [Any])?.isEmpty == true)
        let none = try await cli.run("keys", "list")
        #expect(none.status == 0 && none.stdout.contains("no API keys"))
    }
}
