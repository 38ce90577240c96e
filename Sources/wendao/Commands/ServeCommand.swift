import ArgumentParser
import Foundation
import Logging
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG
import WendaoServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the web UI, the REST API and the OpenAI-compatible API.",
        discussion: """
            Open http://127.0.0.1:8080/ in a browser. Keys: WENDAO_ADMIN_KEY (everything) and keys made with \
            `wendao keys create` (per knowledge base). Without any key the server only accepts a loopback address. \
            The API is described in docs/http-api.md and served at /openapi.yaml.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Address to bind.") var host = "127.0.0.1"
    @Option(name: .long, help: "Port (0: any free port).") var port = 8080
    @Option(name: .long, help: "Requests per second allowed per API key (burst: twice as many).")
    var rateLimit = 50.0
    @Option(name: .long, help: "Answers in flight at once; more get 503 with Retry-After.") var maxAnswers = 64
    @Option(
        name: .customLong("allowed-host"),
        help:
            "A host name clients reach the server by (repeatable; adds to server.allowed_hosts). Requests for other names are refused."
    )
    var allowedHosts: [String] = []
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Delete conversations not continued for this many days (0: keep them).",
            discussion: "Default: conversations.retention_days in config.yaml, else keep them."))
    var conversationRetentionDays: Int?

    func run() async throws {
        guard (0...65535).contains(port) else { throw WendaoError(.invalidArgument, "--port must be 0…65535") }
        let setup = try ModelSetup(global: global)
        var config = ServerConfiguration(dataDirectory: setup.dataDirectory)
        config.host = host
        config.port = port
        config.models = setup.configuration
        config.environment = setup.environment
        guard rateLimit > 0, maxAnswers > 0 else {
            throw WendaoError(.invalidArgument, "--rate-limit and --max-answers must be positive")
        }
        config.requestsPerSecondPerKey = rateLimit
        config.maxConcurrentAnswers = maxAnswers
        config.allowedHosts = setup.configuration.serverAllowedHosts + allowedHosts
        config.allowedOrigins = setup.configuration.serverAllowedOrigins
        config.secureCookies = setup.configuration.serverSecureCookies
        if let days = conversationRetentionDays, !(0...36_500).contains(days) {
            throw WendaoError(.invalidArgument, "--conversation-retention-days must be 0…36500")
        }
        config.conversationRetentionDays = conversationRetentionDays ?? setup.configuration.conversationRetentionDays
        let adminVariable = setup.configuration.serverAdminKeyEnv ?? "WENDAO_ADMIN_KEY"
        if let k = setup.environment[adminVariable], !k.isEmpty {
            guard k.count >= 16 else {
                throw WendaoError(.invalidArgument, "\(adminVariable) must be at least 16 characters")
            }
            config.adminKey = Secret(k)
        }
        var logger = Logger(label: "wendao.server")
        logger.logLevel =
            setup.environment["WENDAO_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        // The composition root: store, gateway, embedders and thread pool, handed to the server
        // (which shuts them down when it stops).
        let app = AppEnvironment(
            dataDirectory: setup.dataDirectory, environment: setup.environment, models: setup.configuration,
            logger: logger)
        // What the server will ask of callers: accounts and keys close an open local server.
        let library = try app.library()
        let closed =
            try !library.apiKeys().filter { $0.revokedAt == nil }.isEmpty || !library.store.users().isEmpty
        if !config.opensLocally {
            Output.err("wendao: every request needs a key (the admin key or one made with `wendao keys create`)")
        } else if closed {
            Output.err("wendao: every request needs a key or a signed-in account (keys or accounts exist)")
        } else {
            Output.err(
                "wendao: open local mode: loopback only; callers need no key until a key or an account is created")
        }
        let server = try WendaoServer(configuration: config, app: app, logger: logger)
        let shown = host.contains(":") ? "[\(host)]" : host
        let dense = library.vectorSearch.mode == .pgvector ? "; dense search: \(library.vectorSearch) in the database" : ""
        let folder =
            app.databaseDescription.map { "\($0) (caches in \(setup.dataDirectory.path)\(dense))" }
            ?? setup.dataDirectory.path
        // Said once the socket is bound, so a busy port is reported as such rather than after a
        // claim to serve.
        try await server.run { bound in Output.err("wendao: serving \(folder) on http://\(shown):\(bound)/") }
    }
}
