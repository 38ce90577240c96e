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
}
