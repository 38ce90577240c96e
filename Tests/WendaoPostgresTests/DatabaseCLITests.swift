import Foundation
import Testing
import WendaoTestSupport

/// The command line on PostgreSQL: `--database` on every command, `wendao db migrate` and `db copy`,
/// and the errors a wrong database gives (naming the host, never the password).
@Suite(.enabled(if: PostgresTestCluster.isAvailable, "PostgreSQL (initdb) is not installed"))
struct DatabaseCLITests {
    @Test("db migrate, kb create and list through --database; db copy from a SQLite data directory")
    func commandsOnPostgres() async throws {
        let cluster = try #require(PostgresTestCluster.shared)
        let url = cluster.url(database: try cluster.makeDatabase())
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let migrated = try await f.run("db", "migrate", "--database", url, "--json").json()
        #expect(migrated["schema_version"] as? Int == 1)
        #expect((migrated["database"] as? String)?.contains(cluster.password) == false)
        #expect(try await f.run("kb", "create", "团队", "--database", url).status == 0)
        // The SQLite data directory has none: the knowledge base lives in the database.
        let local = try await f.run("kb", "list", "--json")
        #expect(local.stdout.contains("团队") == false)
        let shared = try await f.run("kb", "list", "--json", "--database", url)
        #expect(shared.stdout.contains("团队"), "\(shared.stderr)")
        // A SQLite install copied in.
        try f.scratch.write("docs/运费.md", "# 运费\n\n首重 12 元。\n")
        #expect(try await f.run("kb", "create", "本地").status == 0)
        #expect(try await f.run("ingest", "--kb", "本地", f.scratch.child("docs").path).status == 0)
        let copy = try await f.run("db", "copy", "--from", f.data, "--database", url, "--json")
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect((try copy.json()["documents"] as? Int) == 1)
        let search = try await f.run("search", "--kb", "本地", "首重", "--json", "--database", url)
        #expect(search.stdout.contains("运费.md"), "\(search.stderr)")
    }

    @Test("search --vector-search pgvector finds what local finds (e5-small); bad values are clear errors")
    func vectorSearchOption() async throws {
        let cluster = try #require(PostgresTestCluster.shared)
        let database = try cluster.makeDatabase()
        let url = cluster.url(database: database)
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let src = try f.writeFacts()
        try f.scratch.write("src/kb/退货.md", "# 退货\n\n签收后七天内可以无理由退货，运费由买家承担。\n")
        let created = try await f.run("kb", "create", "客服", "--embedder", "e5-small", "--database", url)
        #expect(created.status == 0, "\(created.stderr)")
        let ingested = try await f.run("ingest", "--kb", "客服", src, "--database", url)
        #expect(ingested.status == 0, "\(ingested.stderr)")
        guard cluster.hasPgvector else {
            // Without pgvector (Debian's PostgreSQL) the mode is refused, saying why; under
            // WENDAO_REQUIRE_PGVECTOR=1 (scripts/test.sh with the pgserver build) that is a failure.
            let refused = try await f.run("search", "--kb", "客服", "首重", "--database", url, "--vector-search", "pgvector")
            #expect(refused.status != 0 && refused.stderr.contains("no pgvector extension"), "\(refused.stderr)")
            if ProcessInfo.processInfo.environment["WENDAO_REQUIRE_PGVECTOR"] == "1" {
                Issue.record("WENDAO_REQUIRE_PGVECTOR=1 but this PostgreSQL (\(cluster.bin)) has no pgvector")
            }
            return
        }
        func ids(_ r: RunResult) throws -> [Int64] {
            try #require((try r.json()["results"] as? [[String: Any]])).compactMap { ($0["chunk_id"] as? NSNumber)?.int64Value }
        }
        for q in ["首重多少钱", "客服电话几点有人接", "可以退货吗"] {
            for mode in ["dense", "hybrid"] {
                let args = ["search", "--kb", "客服", q, "--mode", mode, "--json", "--database", url]
                let local = try await f.run(args + ["--vector-search", "local"])
                let pg = try await f.run(args + ["--vector-search", "pgvector:64"])
                #expect(local.status == 0 && pg.status == 0, "\(local.stderr) \(pg.stderr)")
                #expect(try !ids(local).isEmpty)
                #expect(try ids(local) == ids(pg), "\(q) \(mode)")
                let env = try await f.runAsync(args, environment: ["WENDAO_VECTOR_SEARCH": "pgvector"])
                #expect(try ids(env) == ids(local), "\(q) \(mode) (WENDAO_VECTOR_SEARCH)")
            }
        }
        // The pgvector searches went through the database: the knowledge base's HNSW index exists.
        let indexes = try cluster.psql(
            "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'chunk_vector_hnsw_kb%_d384'", database: database)
        #expect(indexes.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let bogus = try await f.run("search", "--kb", "客服", "首重", "--database", url, "--vector-search", "faiss")
        #expect(bogus.status == 2 && bogus.stderr.contains("faiss") && bogus.stderr.contains("pgvector"), "\(bogus.stderr)")
        // pgvector needs the database: over the SQLite data directory it is refused, naming why.
        let noDatabase = try await f.run("kb", "list", "--vector-search", "pgvector")
        #expect(noDatabase.status == 2 && noDatabase.stderr.contains("PostgreSQL"), "\(noDatabase.stderr)")
        #expect(!bogus.stderr.contains(cluster.password) && !noDatabase.stderr.contains(cluster.password))
    }

    @Test("A database that cannot be used is a clear error naming the host, never the password")
    func clearErrors() async throws {
        let cluster = try #require(PostgresTestCluster.shared)
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let secret = "Very-Secret-pw-9"
        let down = try await f.run(
            "kb", "list", "--database", "postgres://wendao:\(secret)@127.0.0.1:1/x?sslmode=disable&connect_timeout=3")
        #expect(down.status == 1)
        #expect(down.stderr.contains("127.0.0.1:1"), "\(down.stderr)")
        #expect(!down.stderr.contains(secret) && !down.stdout.contains(secret))
        let denied = try await f.run("kb", "list", "--database", cluster.url(database: "postgres", password: secret))
        #expect(denied.status == 1)
        #expect(denied.stderr.contains("password"), "\(denied.stderr)")
        #expect(!denied.stderr.contains(secret))
        let malformed = try await f.run("kb", "list", "--database", "postgres://nohost")
        #expect(malformed.status == 2, "\(malformed.stderr)")
    }

    @Test("kb export and kb import: SQLite → PostgreSQL → SQLite keeps documents, chunks, edits and answers")
    func exportImportRoundTrip() async throws {
        let cluster = try #require(PostgresTestCluster.shared)
        let url = cluster.url(database: try cluster.makeDatabase())
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let src = try f.writeFacts()
        try f.scratch.write("src/kb/退货.md", "# 退货\n\n签收后七天内可以无理由退货，运费由买家承担。\n")
        #expect(try await f.run("kb", "create", "客服").status == 0)
        #expect(try await f.run("ingest", "--kb", "客服", src).status == 0)
        let before = try await f.run("search", "--kb", "客服", "保价", "--json").json()
        let archive = f.scratch.child("kb.tar").path
        let exported = try await f.run("kb", "export", "客服", "--output", archive, "--json")
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(try exported.json()["documents"] as? Int == 3)
        // A real tar: the system's tar lists both members.
        let listing = Process()
        listing.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        listing.arguments = ["tar", "-tf", archive]
        let pipe = Pipe()
        listing.standardOutput = pipe
        try listing.run()
        listing.waitUntilExit()
        let names = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(names.contains("wendao-kb/manifest.json") && names.contains("wendao-kb/wendao.sqlite"), "\(names)")

        // Into PostgreSQL, from the same data directory: the database's knowledge base gets the same id
        // as the SQLite one, and its index files must not be the SQLite one's (they are kept apart).
        let imported = try await f.run("kb", "import", archive, "--database", url, "--json")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try imported.json()["chunks"] as? Int == (try exported.json()["chunks"] as? Int))
        let onPostgres = try await f.run("search", "--kb", "客服", "保价", "--json", "--database", url).json()
        let texts = { (j: [String: Any]) in ((j["results"] as? [[String: Any]]) ?? []).map { $0["text"] as? String } }
        #expect(texts(onPostgres) == texts(before) && !texts(before).isEmpty)
        // Importing again is refused, nothing written.
        let again = try await f.run("kb", "import", archive, "--database", url)
        #expect(again.status != 0 && again.stderr.contains("客服"), "\(again.stderr)")
        #expect(!again.stderr.contains(cluster.password))

        // Back out of PostgreSQL into another SQLite data directory.
        let archive2 = f.scratch.child("kb2.tar").path
        #expect(try await f.run("kb", "export", "客服", "--output", archive2, "--database", url).status == 0)
        let other = f.scratch.child("other").path
        let back = try await WendaoCLI.runAsync(
            ["kb", "import", archive2, "--data", other, "--json"], scratch: f.scratch, environment: [:])
        #expect(back.status == 0, "\(back.stderr)")
        let docs = try await WendaoCLI.runAsync(
            ["docs", "list", "--kb", "客服", "--data", other, "--json"], scratch: f.scratch, environment: [:])
        #expect(docs.stdout.contains("退货.md") && docs.stdout.contains("pricing.md"), "\(docs.stdout)")
        let doctor = try await WendaoCLI.runAsync(
            ["doctor", "--kb", "客服", "--data", other], scratch: f.scratch, environment: [:])
        #expect(doctor.status == 0, "\(doctor.stdout) \(doctor.stderr)")

        // Not an archive: a clear error naming the file.
        try f.scratch.write("bad.tar", String(repeating: "x", count: 2000))
        let bad = try await f.run("kb", "import", f.scratch.child("bad.tar").path)
        #expect(bad.status != 0 && bad.stderr.contains("bad.tar") && bad.stderr.contains("tar"), "\(bad.stderr)")
        let missing = try await f.run("kb", "export", "没有", "--output", f.scratch.child("none.tar").path)
        #expect(missing.status != 0)
        #expect(!FileManager.default.fileExists(atPath: f.scratch.child("none.tar").path))
    }
}
