import Foundation
import Synchronization
import WendaoCore
import WendaoPostgres

/// A private PostgreSQL cluster for the tests: made with `initdb` in a temporary folder, started on
/// a loopback port with password authentication, stopped when the test process exits. Each test
/// gets a database of its own (``makeDatabase()``).
///
/// The binaries come from `WENDAO_PG_BIN` (scripts/test.sh points it at PostgreSQL 16 with pgvector
/// from the pinned pgserver wheel, scripts/pgvector-postgres.sh; Debian's when that fails), else
/// the newest `/usr/lib/postgresql/*/bin`, else `initdb` on the PATH. PostgreSQL refuses to run as
/// root: as root the cluster runs as `nobody` (through `runuser`). Outside CI, tests skip PostgreSQL
/// only when no `initdb` is found; under CI (`CI` set) they run and fail without one.
final class PostgresTestCluster: Sendable {
    let bin: String
    let dataDirectory: String
    let port: Int
    let user = "wendao"
    let password: String
    private let counter = Mutex(0)

    /// The cluster of this test process, started on first use; nil when PostgreSQL is not installed.
    static let shared: PostgresTestCluster? = {
        guard let bin = findBin() else { return nil }
        do {
            let cluster = try PostgresTestCluster(bin: bin)
            running.withLock { $0 = (bin, cluster.dataDirectory) }
            atexit { PostgresTestCluster.stopRunning() }
            return cluster
        } catch {
            FileHandle.standardError.write(Data("PostgreSQL test cluster could not start: \(error)\n".utf8))
            return nil
        }
    }()

    /// Whether PostgreSQL tests run here: always under CI (a missing PostgreSQL fails them there,
    /// never skips them), else when `initdb` is found.
    static var isAvailable: Bool {
        findBin() != nil || !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty
    }

    private static let running = Mutex<(bin: String, data: String)?>(nil)

    private static func stopRunning() {
        guard let r = running.withLock({ $0 }) else { return }
        _ = try? runAsOwner([r.bin + "/pg_ctl", "-D", r.data, "-m", "immediate", "-w", "stop"])
        // The server's log outlives the cluster, for a failure to be looked into.
        let log = NSTemporaryDirectory() + "wendao-pgtest-last-server.log"
        try? FileManager.default.removeItem(atPath: log)
        try? FileManager.default.copyItem(atPath: r.data + "/server.log", toPath: log)
        try? FileManager.default.removeItem(atPath: (r.data as NSString).deletingLastPathComponent)
    }

    static func findBin() -> String? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["WENDAO_PG_BIN"], !env.isEmpty,
            fm.isExecutableFile(atPath: env + "/initdb")
        {
            return env
        }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for v in versions where fm.isExecutableFile(atPath: "/usr/lib/postgresql/\(v)/bin/initdb") {
            return "/usr/lib/postgresql/\(v)/bin"
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where fm.isExecutableFile(atPath: "\(dir)/initdb") && fm.isExecutableFile(atPath: "\(dir)/pg_ctl") {
            return String(dir)
        }
        return nil
    }

    static var isRoot: Bool { getuid() == 0 }

    /// Runs a command (as `nobody` when we are root); returns its output, throws on failure.
    ///
    /// Spawned and waited for directly (`posix_spawn`, `waitpid`), its output going to a file: `pg_ctl
    /// start` leaves the server running with the command's descriptors inherited.
    @discardableResult
    static func runAsOwner(_ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let argv = isRoot ? ["/usr/sbin/runuser", "-u", "nobody", "--"] + arguments : arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let outputPath = NSTemporaryDirectory() + "wendao-pgtest-out-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard spawned == 0 else {
            throw WendaoError(.internal, "cannot start \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw WendaoError(.internal, "\(arguments[0]) failed (status \(status)): \(text.suffix(600))")
        }
        return text
    }

    private init(bin: String) throws {
        self.bin = bin
        password = "pw-\(UUID().uuidString.prefix(8))-'\"x"
        let root = "/tmp/wendao-pgtest-\(UUID().uuidString)"
        dataDirectory = root + "/data"
        let fm = FileManager.default
        try fm.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let pwfile = root + "/pw"
        try Data(password.utf8).write(to: URL(fileURLWithPath: pwfile))
        if Self.isRoot {
            try fm.setAttributes([.ownerAccountID: 65534], ofItemAtPath: root)
            try fm.setAttributes([.ownerAccountID: 65534], ofItemAtPath: dataDirectory)
            try fm.setAttributes([.ownerAccountID: 65534], ofItemAtPath: pwfile)
        }
        try Self.runAsOwner([
            bin + "/initdb", "-D", dataDirectory, "-U", user, "--pwfile=" + pwfile, "-A", "scram-sha-256", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        ])
        try? fm.removeItem(atPath: pwfile)
        var started: Int?
        var lastError: (any Error)?
        for attempt in 0..<8 {
            let port = 20_000 + Int((UInt32(getpid()) &* 7919 &+ UInt32(attempt) &* 104_729) % 30_000)
            do {
                try Self.runAsOwner([
                    bin + "/pg_ctl", "-D", dataDirectory, "-l", dataDirectory + "/server.log", "-w", "-t", "60", "-o",
                    "-p \(port) -k \(dataDirectory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                    "start",
                ])
                started = port
                break
            } catch {
                lastError = error
            }
        }
        guard let started else { throw lastError ?? WendaoError(.internal, "PostgreSQL did not start") }
        port = started
    }

    /// The URL of database `name` (the password percent-encoded).
    func url(database: String, password: String? = nil) -> String {
        let pw = (password ?? self.password).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return "postgres://\(user):\(pw)@127.0.0.1:\(port)/\(database)?sslmode=disable&pool_size=8"
    }

    /// Runs SQL as the cluster's superuser in database `database`.
    @discardableResult
    func psql(_ sql: String, database: String = "postgres") throws -> String {
        let psql = FileManager.default.isExecutableFile(atPath: bin + "/psql") ? bin + "/psql" : "/usr/bin/psql"
        return try Self.runAsOwner(
            [psql, "-X", "-q", "-t", "-A", "-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", database, "-c", sql],
            environment: ["PGPASSWORD": password])
    }

    /// A new, empty database; returns its name.
    func makeDatabase() throws -> String {
        let n = counter.withLock { n in
            n += 1
            return n
        }
        let name = "wendao_test_\(getpid())_\(n)"
        try psql("CREATE DATABASE \(name)")
        return name
    }

    /// Whether this cluster has the pgvector extension.
    var hasPgvector: Bool {
        ((try? psql("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }
}
