import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization
import WendaoCore

/// The model gateway: OpenAI-wire-format calls to any configured provider, with time limits,
/// retries and error messages that name the provider and never the key.
///
/// One gateway owns one HTTP client, made on its first call; call ``shutdown()`` when done.
///
/// ```swift
/// let gateway = ModelGateway(configuration: config, logger: logger)
/// let model = try ModelCatalog.resolve("deepseek:deepseek-chat", configuration: config, environment: env)
/// for try await event in gateway.streamChat(model, messages: [ChatMessage(.user, "你好")]) {
///     if case .text(let t) = event { print(t, terminator: "") }
/// }
/// try await gateway.shutdown()
/// ```
public final class ModelGateway: Sendable {
    /// Time limits and retry policy (from the configuration).
    public let timeouts: ModelTimeouts
    /// Retry policy.
    public let retry: RetryPolicy
    /// The HTTP client, made on first use (a gateway that never calls out needs no shutdown).
    private let clientBox = Mutex<HTTPClient?>(nil)
    private let clientConfiguration: HTTPClient.Configuration
    let logger: Logger
    /// Largest non-streamed response body accepted (64 MiB: base64 images are large).
    let maxBodyBytes = 64 << 20

    /// Creates a gateway with the configuration's time limits and retry policy.
    public init(configuration: ModelsConfiguration, logger: Logger) {
        self.timeouts = configuration.timeouts
        self.retry = configuration.retry
        self.logger = logger
        var c = HTTPClient.Configuration()
        c.timeout = HTTPClient.Configuration.Timeout(connect: .milliseconds(Int64(configuration.timeouts.connect * 1000)))
        // Never follow redirects: the Authorization header must not travel to another host.
        c.redirectConfiguration = .disallow
        // A refused connection fails at once (our retry policy backs off), instead of the pool
        // retrying until the connect timeout: "Ollama is not running" should not take 30 s.
        c.connectionPool.retryConnectionEstablishment = false
        clientConfiguration = c
    }

    var client: HTTPClient {
        clientBox.withLock { box in
            if let c = box { return c }
            let c = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)
            box = c
            return c
        }
    }

    /// Closes connections. Idempotent; a gateway that made no call has nothing to close.
    public func shutdown() async {
        let c = clientBox.withLock { box -> HTTPClient? in
            defer { box = nil }
            return box
        }
        try? await c?.shutdown()
    }
}
