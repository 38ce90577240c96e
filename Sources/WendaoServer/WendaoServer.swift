public import Hummingbird
public import Logging
import NIOCore
import WendaoCore
import WendaoRAG

/// Limits the routes apply.
struct APILimits: Sendable {
    var json: Int
    var rate: Limits
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
        router.add(middleware: LogRequestsMiddleware(.info))
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
        let v1 = router.group("v1")
            .add(middleware: AuthMiddleware(service: service, keysPresent: keys, openLocal: openLocal))
            .add(middleware: RateLimitMiddleware(limits: limits.rate))
        addOpenAIRoutes(v1)
        return router
    }
}

/// Applies the per-key request rate.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = WendaoContext
    let limits: Limits

    func handle(_ request: Request, context: WendaoContext, next: (Request, WendaoContext) async throws -> Response)
        async throws -> Response
    {
        // Limits apply to API keys; the admin (and an open local server's single user) is not
        // throttled.
        if case .key = context.principal { try limits.admit(context.principal.label) }
        return try await next(request, context)
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
        api = WendaoAPI(
            service: service,
            limits: APILimits(
                json: configuration.maxJSONBytes,
                rate: Limits(
                    rate: configuration.requestsPerSecondPerKey, maxAnswers: configuration.maxConcurrentAnswers)),
            readiness: Readiness(), runner: JobRunner(service: service, logger: logger, metrics: metrics),
            metrics: metrics)
    }

    /// The Hummingbird application (for `run` and for in-process tests).
    public func application() -> some ApplicationProtocol {
        let readiness = api.readiness
        return Application(
            router: api.router(),
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
