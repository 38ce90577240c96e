import ArgumentParser
import Foundation
import Glibc
import Logging
import Synchronization
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG
import WendaoText

/// The `wendao` command line.
@main
struct Wendao: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wendao",
        abstract: "Wendao (问道): knowledge-base question answering with citations.",
        discussion: """
            Data lives in --data DIR, else $WENDAO_DATA, else $XDG_DATA_HOME/wendao, else ~/.local/share/wendao.
            Every command takes --json for machine-readable output on stdout; progress and logs go to stderr.
            Exit codes: 0 success, 1 failure (including partial ingest failures), 2 usage error.
            """,
        version: "0.1.0",
        subcommands: [
            KBCommand.self, IngestCommand.self, DocsCommand.self, SearchCommand.self, AskCommand.self,
            DoctorCommand.self, ReindexCommand.self, EvalCommand.self, BenchCommand.self, DemoCommand.self,
            ModelsCommand.self, ChatCommand.self, PromptsCommand.self, ServeCommand.self, KeysCommand.self,
            UsersCommand.self, LLMCommand.self,
            ConversationsCommand.self,
            CuratedCommand.self,
            DatabaseCommand.self,
            TuneCommand.self,
            ImageCommand.self,
        ]
    )

    static func main() async {
        LoggingSystem.bootstrap { label in
            var h = TerminalSafeLogHandler(inner: StreamLogHandler.standardError(label: label))
            h.logLevel =
                ProcessInfo.processInfo.environment["WENDAO_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
                ?? .warning
            return h
        }
        // Build the Traditional→Simplified table while arguments are parsed and files are read.
        Thread.detachNewThread { ScriptFolding.prepare() }
        let args = Array(CommandLine.arguments.dropFirst())
        let json = args.contains("--json")
        do {
            var command = try parseAsRoot(args)
            if let asyncCommand = command as? any AsyncParsableCommand {
                try await runInterruptible(asyncCommand)
            } else {
                try command.run()
            }
        } catch let e as WendaoError {
            Output.fail(e, json: json)
        } catch let e as ExitCode {
            Foundation.exit(e.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help / --version
                print(Terminal.text(fullMessage(for: error)))
                Foundation.exit(0)
            }
            if code == .validationFailure, let hint = CommandSuggestion.message(for: args, root: Wendao.self) {
                // A mistyped command: name the nearest ones rather than "Unexpected argument".
                Output.fail(WendaoError(.invalidArgument, hint), json: json)
            }
            if json, code == .validationFailure {
                // A usage error (an unknown option, a value not among those accepted) in the same
                // JSON shape as every other error.
                Output.fail(WendaoError(.invalidArgument, message(for: error)), json: true)
            }
            FileHandle.standardError.write(Data((Terminal.text(fullMessage(for: error)) + "\n").utf8))
            if code == .validationFailure { Foundation.exit(2) }
            Foundation.exit(code.rawValue == 64 ? 2 : code.rawValue)
        }
    }
}

/// Runs an async command in a task that the first Ctrl-C cancels (model requests stop, the command
/// exits 130); a second Ctrl-C exits at once. Synchronous commands keep the default signal
/// behaviour (ingest is crash-safe).
func runInterruptible(_ command: any AsyncParsableCommand) async throws {
    nonisolated(unsafe) var command = command
    let task = Task { try await command.run() }
    signal(SIGINT, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    let interrupted = Mutex(false)
    source.setEventHandler {
        if interrupted.withLock({
            let was = $0; $0 = true; return was
        }) {
            exit(130)
        }
        task.cancel()
    }
    source.resume()
    defer {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
    do {
        try await task.value
    } catch {
        if interrupted.withLock({ $0 }) { throw WendaoError(.cancelled, "interrupted") }
        throw error
    }
}

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long, help: "Data directory (default: $WENDAO_DATA, $XDG_DATA_HOME/wendao or ~/.local/share/wendao).")
    var data: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "PostgreSQL database shared by several servers (postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=…).",
            discussion: "Default: $WENDAO_DATABASE_URL; without either, the data directory's SQLite store."))
    var database: String?

    @Option(
        name: .customLong("vector-search"),
        help: ArgumentHelp(
            "Where dense search runs with --database: local (each server's own index) or pgvector[:EF].",
            discussion:
                "pgvector searches the database's HNSW index (ef_search EF, default 100). "
                + "Default: $WENDAO_VECTOR_SEARCH, then vector_search in config.yaml, then local."))
    var vectorSearch: String?

    @Flag(name: .long, help: "Print machine-readable JSON on stdout.")
    var json = false

    /// The process environment, with `WENDAO_DATABASE_URL` set from `--database` when given.
    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if let database, !database.isEmpty { environment[Library.databaseURLVariable] = database }
        if let vectorSearch, !vectorSearch.isEmpty { environment[Library.vectorSearchVariable] = vectorSearch }
        return environment
    }

    /// The composition root of one command: the data directory, the environment, and
    /// `config.yaml` (read when first needed, so a broken file only fails what needs a provider).
    /// A command that may call a provider closes it when done (`defer { app.close() }`).
    func app() -> AppEnvironment {
        let environment = self.environment
        let dir = Library.defaultDirectory(explicit: data, environment: environment)
        return AppEnvironment(dataDirectory: dir, environment: environment, logger: Logger(label: "wendao")) {
            try ModelsConfiguration.load(
                from: ModelSetup.configurationFile(dataDirectory: dir, environment: environment))
        }
    }

    /// The library of a fresh ``app()``, for commands that call no provider (knowledge-base and key
    /// management).
    func library() throws -> Library { try app().library() }

    /// Local embedders, and providers' embedding models with `config.yaml` and the environment, for
    /// checking a name and its key (opening an embedder never calls the provider).
    func embedders() -> any EmbedderProvider { app().embedders }
}

/// Output helpers: JSON on stdout, human text on stdout, errors on stderr. Human text is made
/// terminal-safe here (``Terminal/text(_:)``); JSON is written exactly.
enum Output {
    static func json<T: Encodable>(_ value: T) {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let d = try? enc.encode(value) {
            Output.stdout(d)
            Output.stdout(Data("\n".utf8))
        }
    }

    /// Writes bytes to stdout. When the reader has gone (`wendao search … | head -1`), the command
    /// ends quietly as Unix tools do on a closed pipe, instead of crashing on the write error.
    static func stdout(_ data: Data) {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard var p = raw.baseAddress else { return }
            var left = raw.count
            while left > 0 {
                let n = Glibc.write(1, p, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    exit(errno == EPIPE ? 0 : 1)
                }
                p += n
                left -= n
            }
        }
    }

    /// True after ``write(_:)`` left stdout in the middle of a line.
    nonisolated(unsafe) static var midLine = false

    /// Writes `s` to stdout without a newline (streamed answers).
    static func write(_ s: String) {
        guard !s.isEmpty else { return }
        Output.stdout(Data(Terminal.text(s).utf8))
        midLine = !s.hasSuffix("\n")
    }

    static func line(_ s: String) {
        Output.stdout(Data((Terminal.text(s) + "\n").utf8))
        midLine = false
    }

    static func err(_ s: String) {
        FileHandle.standardError.write(Data((Terminal.text(s) + "\n").utf8))
    }

    struct ErrorBody: Encodable {
        struct Inner: Encodable {
            var code: String
            var message: String
        }
        var error: Inner
    }

    static func fail(_ e: WendaoError, json: Bool) -> Never {
        if midLine {
            // A streamed answer broke off: finish its line before the error.
            Output.stdout(Data("\n".utf8))
            midLine = false
        }
        if json { Self.json(ErrorBody(error: .init(code: e.code.rawValue, message: e.message))) }
        err("error: \(e.message)")
        exit(e.code == .invalidArgument ? 2 : e.code == .cancelled ? 130 : 1)
    }

    static var stderrIsTTY: Bool { isatty(2) == 1 }
}
