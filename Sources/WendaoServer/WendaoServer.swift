public import Hummingbird
public import Logging
import NIOCore
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
        router.group("metrics").add(middleware: AuthMiddleware(service: service, keysPresent: keys, openLocal: openLocal))
            .get { _, context in
                guard context.principal.isAdmin else { throw APIError.notFound("no such route for this key") }
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
            }
        let api = router.group("api/v1")
            .add(middleware: AuthMiddleware(service: service, keysPresent: keys, openLocal: openLocal))
            .add(middleware: RateLimitMiddleware(limits: limits.rate))
        addKnowledgeBaseRoutes(api)
        addDocumentRoutes(api, runner: runner)
        addAnswerRoutes(api)
        addKeyRoutes(api)
        let v1 = router.group("v1")
            .add(middleware: AuthMiddleware(service: service, keysPresent: keys, openLocal: openLocal))
            .add(middleware: RateLimitMiddleware(limits: limits.rate))
        addOpenAIRoutes(v1)
        // Last, so that it applies to the not-found responder only (which every router middleware
        // wraps): a path routed for other methods answers 405 with Allow.
        router.add(middleware: MethodNotAllowedMiddleware(routes: routes))
        routes.set(router.routes.map { ($0.path, $0.method) })
        return router
    }
}

/// `wendao serve`: the REST API, the OpenAI-compatible API and the web UI over one data directory.
///
/// ```swift
/// let server = try WendaoServer(configuration: config, logger: logger)
/// try await server.run()        // until SIGINT/SIGTERM; in-flight requests finish
/// ```
public struct WendaoServer: Sendable {
    let api: WendaoAPI
    /// The configuration it was made with.
    public let configuration: ServerConfiguration
    let logger: Logger

    /// Opens the data directory. Refuses a non-loopback address when no key is configured (the
    /// API would be open to the network).
    public init(configuration: ServerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        // The embedded web UI, decoded once: a file that does not decode stops the start.
        _ = try UIAssets.load()
        let service = try KnowledgeService(configuration: configuration, logger: logger)
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
        let shared = service.shared
        let admission = Admission(
            rate: configuration.requestsPerSecondPerKey, budgets: Admission.budgets(configuration),
            jobFinished: { id in
                // A job that cannot be read (deleted with its knowledge base) holds nothing.
                guard let job = try? shared.library.job(id: id) else { return true }
                return job.state.isFinished
            },
            recordUse: { key in try shared.library.recordAPIKeyUse(key) })
        api = WendaoAPI(
            service: service,
            limits: APILimits(json: configuration.maxJSONBytes, rate: admission),
            readiness: Readiness(), runner: JobRunner(service: service, logger: logger, metrics: metrics),
            metrics: metrics)
    }

    /// The Hummingbird application (for `run` and for in-process tests).
    public func application() -> some ApplicationProtocol {
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
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "wendao"),
            services: [api.runner],
            onServerRunning: { _ in readiness.set(true) },
            logger: logger)
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests and closes the gateway.
    public func run() async throws {
        let app = application()
        do {
            try await app.runService()
        } catch {
            api.readiness.set(false)
            await api.service.shutdown()
            throw error
        }
        api.readiness.set(false)
        await api.service.shutdown()
    }

    /// Closes the model gateway (for tests that use ``application()`` directly).
    public func shutdown() async {
        await api.service.shutdown()
    }
}
