public import Hummingbird
public import Logging
import Foundation
import NIOCore
public import WendaoApp
import WendaoCore
import WendaoRAG

/// Limits the routes apply.
struct APILimits: Sendable {
    var json: Int
    /// Admission control: the request rate and work in flight, per key and overall.
    var rate: Admission
}

/// The routes and what they share.
struct WendaoAPI: Sendable {
    let service: KnowledgeService
    let limits: APILimits
    let readiness: Readiness
    let runner: JobRunner
    let metrics: Metrics
    /// The evaluation runs (the workbench's REST API and web page).
    let evalRuns: EvalRuns

    func router() -> Router<WendaoContext> {
        let router = Router(context: WendaoContext.self)
        let routes = RouteTable()
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: MetricsMiddleware<WendaoContext>(metrics: metrics))
        router.add(middleware: ErrorMiddleware<WendaoContext>())
        router.add(middleware: RequestGuardMiddleware(configuration: service.configuration))
        addSystemRoutes(router)
        let keys = KeysPresentCache()
        let openLocal = service.configuration.opensLocally
        let metrics = self.metrics
        router.group("metrics").add(
            middleware: AuthMiddleware(service: service, keysPresent: keys, openLocal: openLocal)
        )
        .get { _, context in
            guard context.principal.isAdmin else { throw APIError.notFound("no such route for this key") }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        addSessionRoutes(
            router,
            throttle: WindowedCounter(
                limit: service.configuration.loginAttempts, window: service.configuration.loginWindow))
        // Share links: 20 questions a minute per link unless it says otherwise.
        addSharePublicRoutes(router, throttle: WindowedCounter(limit: 20, window: .seconds(60)))
        addSignedImageRoutes(router)
        addImageShareRoutes(router)
        let api = router.group("api/v1")
            .add(middleware: AuthMiddleware(service: service, keysPresent: keys, openLocal: openLocal))
            .add(middleware: RateLimitMiddleware(limits: limits.rate))
        addKnowledgeBaseRoutes(api)
        addDocumentRoutes(api, runner: runner)
        addAnswerRoutes(api)
        addEditingRoutes(api)
        addKeyRoutes(api)
        addUserRoutes(api)
        addShareAdminRoutes(api)
        addProviderRoutes(api)
        addConversationRoutes(api)
        addInspectRoutes(api)
        addEvalRoutes(api, runs: evalRuns)
        addTuneRoutes(api)
        let v1 = router.group("v1")
            .add(middleware: AuthMiddleware(service: service, keysPresent: keys, openLocal: openLocal))
            .add(middleware: RateLimitMiddleware(limits: limits.rate))
        addOpenAIRoutes(v1)
        addImageRoutes(api, v1: v1)
        // Last, so that it applies to the not-found responder only (which every router middleware
        // wraps): a path routed for other methods answers 405 with Allow.
        router.add(middleware: MethodNotAllowedMiddleware(routes: routes))
        routes.set(router.routes.map { ($0.path, $0.method) })
        return router
    }
}

/// `wendao serve`: the REST API, the OpenAI-compatible API and the web UI over one data directory.
///
/// The server receives its parts from the composition root (``AppEnvironment``: the library, the
/// model gateway, the embedder registry and the thread pool for blocking work) and runs them as
/// part of its service group: when it stops, the gateway's connections are closed and the thread
/// pool stopped.
///
/// ```swift
/// let app = AppEnvironment(dataDirectory: dir, environment: env, models: models, logger: logger)
/// let server = try WendaoServer(configuration: config, app: app, logger: logger)
/// try await server.run()        // until SIGINT/SIGTERM; in-flight requests finish
/// ```
public struct WendaoServer: Sendable {
    let api: WendaoAPI
    /// The configuration it was made with.
    public let configuration: ServerConfiguration
    /// The parts it runs on.
    public let app: AppEnvironment
    let logger: Logger

    /// A server over the data directory, models and environment of `configuration`: makes its own
    /// ``AppEnvironment``. Refuses a non-loopback address when no key is configured (the API would
    /// be open to the network).
    public init(configuration: ServerConfiguration, logger: Logger) throws {
        let app = AppEnvironment(
            dataDirectory: configuration.dataDirectory, environment: configuration.environment,
            models: configuration.models, logger: logger)
        try self.init(configuration: configuration, app: app, logger: logger)
    }

    /// A server over the parts of `app` (whose data directory, models configuration and environment
    /// should be those of `configuration`). Refuses a non-loopback address when no key is
    /// configured (the API would be open to the network).
    public init(configuration: ServerConfiguration, app: AppEnvironment, logger: Logger) throws {
        self.configuration = configuration
        self.app = app
        self.logger = logger
        // The embedded web UI, decoded once: a file that does not decode stops the start.
        _ = try UIAssets.load()
        let service = KnowledgeService(
            configuration: configuration, library: try app.library(), embedders: app.embedders,
            gateway: try app.gateway(), chatModels: app.chatModels, threadPool: app.startedThreadPool(), logger: logger)
        let metrics = Metrics()
        if !configuration.isLoopback && configuration.adminKey == nil {
            let keys = try service.library.apiKeys().filter { $0.revokedAt == nil }
            guard !keys.isEmpty else {
                throw WendaoError(
                    .invalidArgument,
                    "refusing to listen on \(configuration.host) without keys: set WENDAO_ADMIN_KEY or create one with "
                        + "`wendao keys create`, or bind 127.0.0.1")
            }
        }
        let library = service.library
        let admission = Admission(
            rate: configuration.requestsPerSecondPerKey, budgets: Admission.budgets(configuration),
            jobFinished: { id in
                // A job that cannot be read (deleted with its knowledge base) holds nothing.
                guard let job = try? library.job(id: id) else { return true }
                return job.state.isFinished
            },
            recordUse: { [service] key in try await service.blocking { try library.recordAPIKeyUse(key) } })
        api = WendaoAPI(
            service: service,
            limits: APILimits(json: configuration.maxJSONBytes, rate: admission),
            readiness: Readiness(), runner: JobRunner(service: service, logger: logger, metrics: metrics),
            metrics: metrics, evalRuns: EvalRuns(dataDirectory: configuration.dataDirectory))
    }

    /// The Hummingbird application (for `run` and for in-process tests). Its service group shuts the
    /// environment's gateway and thread pool down when it stops: run it once per server.
    public func application() -> some ApplicationProtocol { application(onListening: nil) }

    func application(onListening: (@Sendable (Int) -> Void)?) -> some ApplicationProtocol {
        let readiness = api.readiness
        let idle = configuration.idleTimeout.components
        let idleNanoseconds = max(1, idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000)
        return Application(
            router: api.router(),
            // An idle connection (no request being read or answered), or one whose request headers
            // never finish arriving, is closed after `idleTimeout`; a client that hangs up has its
            // connection closed at once (the work it asked for is cancelled).
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [ClientHangUpHandler()], idleTimeout: .nanoseconds(idleNanoseconds))),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "wendao"),
            // Shut down in reverse order: the HTTP server, then the job runner, then the gateway
            // and the thread pool.
            services: [
                AppResourcesService(app: app), api.runner,
                ConversationRetention(service: api.service, logger: logger),
            ],
            onServerRunning: { channel in
                readiness.set(true)
                onListening?(channel.localAddress?.port ?? 0)
            },
            logger: logger)
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests and closes the gateway
    /// and the thread pool.
    ///
    /// - Parameter onListening: called once the socket is bound, with the port it listens on (the
    ///   one chosen by the system when the configuration asks for port 0).
    /// - Throws: ``WendaoError`` `.invalidArgument` when the address is in use or cannot be bound,
    ///   naming it; other errors as they come.
    public func run(onListening: (@Sendable (Int) -> Void)? = nil) async throws {
        let app = application(onListening: onListening)
        do {
            try await app.runService()
        } catch {
            api.readiness.set(false)
            await self.app.shutdown()
            throw Self.bindFailure(error, configuration: configuration) ?? error
        }
        api.readiness.set(false)
        await self.app.shutdown()
    }

    /// Closes the model gateway and stops the thread pool (for tests that use ``application()``
    /// directly; its service group does the same when it stops).
    public func shutdown() async {
        await app.shutdown()
    }

    /// A clear error for a socket that could not be bound (the port taken by another program, an
    /// address this machine does not have, a privileged port), else nil.
    static func bindFailure(_ error: any Error, configuration: ServerConfiguration) -> WendaoError? {
        guard let io = error as? IOError else { return nil }
        let address =
            "\(configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host):\(configuration.port)"
        switch io.errnoCode {
        case EADDRINUSE:
            return WendaoError(
                .invalidArgument,
                "cannot serve on \(address): the port is already in use (another `wendao serve`?); "
                    + "stop it or choose another with --port")
        case EADDRNOTAVAIL:
            return WendaoError(.invalidArgument, "cannot serve on \(address): this machine has no such address")
        case EACCES:
            return WendaoError(
                .invalidArgument, "cannot serve on \(address): permission denied (ports below 1024 need privileges)")
        default:
            return nil
        }
    }
}
