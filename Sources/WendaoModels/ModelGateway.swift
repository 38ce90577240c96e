import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization
public import WendaoCore

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

    // MARK: Chat

    /// The request body of a chat call.
    func chatBody(_ model: ResolvedModel, _ messages: [ChatMessage], _ options: ChatOptions, stream: Bool) throws -> Data {
        var o = options
        if let t = o.temperature ?? model.temperature {
            o.temperature = min(max(t, model.temperatureRange.lowerBound), model.temperatureRange.upperBound)
        }
        let req = ChatCompletionRequest(
            model: model.model, messages: messages, options: o, stream: stream, includeUsage: model.streamUsage,
            extra: model.extra)
        return try JSONEncoder().encode(req)
    }

    /// One unstreamed chat completion.
    public func chat(
        _ model: ResolvedModel, messages: [ChatMessage], options: ChatOptions = ChatOptions()
    ) async throws -> ChatCompletionResponse {
        try model.requireKey()
        let body = try chatBody(model, messages, options, stream: false)
        let data = try await send(model, path: "/chat/completions", body: body, contentType: "application/json")
        if let p = ProviderErrorPayload.parseStreamError(String(decoding: data.prefix(1 << 20), as: UTF8.self)) {
            // An error object with a 200 status (some gateways do this).
            throw publicError(midStreamError(p, model: model, midAnswer: false), model: model)
        }
        guard var r = try? JSONDecoder().decode(ChatCompletionResponse.self, from: data) else {
            throw ProviderErrors.badBody(data, model: model, expected: "a chat completion")
        }
        if r.usage == nil { r.usage = .estimate(prompt: messages, completion: (r.reasoning ?? "") + r.text) }
        return r
    }

    /// A streamed chat completion: text and reasoning pieces as they arrive, then usage and the
    /// finish reason. Retries (connection errors, 408, 429, 5xx) happen only before the first piece
    /// reaches the caller. Cancelling the consuming task cancels the request.
    public func streamChat(
        _ model: ResolvedModel, messages: [ChatMessage], options: ChatOptions = ChatOptions()
    ) -> AsyncThrowingStream<ChatEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try model.requireKey()
                    let body = try self.chatBody(model, messages, options, stream: true)
                    try await self.runStream(model, body: body, messages: messages, continuation: continuation)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: self.publicError(error, model: model))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Consumes one streamed call, with retries before the first delivered piece.
    func runStream(
        _ model: ResolvedModel, body: Data, messages: [ChatMessage],
        continuation: AsyncThrowingStream<ChatEvent, any Error>.Continuation
    ) async throws {
        let started = ContinuousClock.now
        let deadline = started + .seconds(timeouts.total)
        var attempt = 0
        while true {
            attempt += 1
            let delivered = Flag()
            do {
                try await withWatchdog(delivered: delivered, deadline: deadline, model: model) {
                    try await self.streamAttempt(
                        model, body: body, messages: messages, delivered: delivered, continuation: continuation)
                }
                return
            } catch {
                if Task.isCancelled { throw WendaoError(.cancelled, "the request to \(model.provider) was cancelled") }
                let failure = classify(error, model: model)
                guard !delivered.isSet, failure.retryable, attempt <= retry.maxRetries else { throw failure.error }
                try await pause(before: attempt, failure: failure, deadline: deadline, model: model)
            }
        }
    }

    /// One streamed attempt: sends, checks the head, parses server-sent events.
    func streamAttempt(
        _ model: ResolvedModel, body: Data, messages: [ChatMessage], delivered: Flag,
        continuation: AsyncThrowingStream<ChatEvent, any Error>.Continuation
    ) async throws {
        let request = makeRequest(model, path: "/chat/completions", body: body, contentType: "application/json", stream: true)
        logger.debug("model call", metadata: ["provider": "\(model.provider)", "model": "\(model.model)", "stream": "true"])
        let response = try await client.execute(request, deadline: .now() + .hours(24), logger: nil)
        guard (200..<300).contains(Int(response.status.code)) else {
            let errorBody = try await collect(response.body, limit: 1 << 20)
            throw StatusFailure(
                status: Int(response.status.code), body: errorBody,
                retryAfter: ProviderErrors.retryAfterSeconds(response.headers.first(name: "retry-after")))
        }
        let contentType = response.headers.first(name: "content-type")?.lowercased() ?? ""
        var body = response.body.makeAsyncIterator()
        var first = try await body.next()
        // Without a content type, sniff: a JSON object rather than events.
        let looksJSON =
            contentType.isEmpty
            && first.map { b in b.readableBytesView.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) } == 0x7B }
                == true
        if (!contentType.contains("event-stream") && !contentType.isEmpty) || looksJSON {
            // Some servers ignore `stream: true` and answer with one JSON completion: accept it.
            var data = Data(first.map { Array($0.readableBytesView) } ?? [])
            while let more = try await body.next() {
                if data.count + more.readableBytes > maxBodyBytes {
                    throw WendaoError(.limitExceeded, "the response is larger than \(maxBodyBytes >> 20) MiB")
                }
                data.append(contentsOf: more.readableBytesView)
            }
            if let p = ProviderErrorPayload.parseStreamError(String(decoding: data.prefix(1 << 20), as: UTF8.self)) {
                throw midStreamError(p, model: model, midAnswer: false)
            }
            guard let whole = try? JSONDecoder().decode(ChatCompletionResponse.self, from: data),
                !ProviderErrors.looksLikeHTML(data)
            else {
                if let p = ProviderErrorPayload.parse(data) {
                    throw midStreamError(p, model: model, midAnswer: false)
                }
                throw ProviderErrors.badBody(data, model: model, expected: "an event stream")
            }
            if let r = whole.reasoning, !r.isEmpty { continuation.yield(.reasoning(r)) }
            if !whole.text.isEmpty {
                delivered.set()
                continuation.yield(.text(whole.text))
            }
            if let f = whole.choices.first?.finishReason { continuation.yield(.finish(f)) }
            continuation.yield(
                .usage(whole.usage ?? .estimate(prompt: messages, completion: (whole.reasoning ?? "") + whole.text)))
            return
        }
        var parser = SSEParser()
        var sawDone = false
        var sawFinish = false
        var malformed = 0
        var lastUsage: TokenUsage?
        var streamed = ""
        func handle(_ events: [SSEEvent]) throws {
            for ev in events {
                let payload = ev.data.trimmingCharacters(in: .whitespaces)
                if ev.event?.lowercased() == "error" {
                    // `event: error` carries an error whatever its data looks like.
                    let p =
                        ProviderErrorPayload.parse(Data(payload.utf8))
                        ?? ProviderErrorPayload(
                            message: payload.isEmpty ? "(no details)" : String(payload.prefix(300)), type: nil,
                            code: nil, param: nil)
                    throw midStreamError(p, model: model, midAnswer: delivered.isSet)
                }
                if payload == "[DONE]" {
                    sawDone = true
                    return
                }
                if payload.isEmpty { continue }
                if let p = ProviderErrorPayload.parseStreamError(payload) {
                    throw midStreamError(p, model: model, midAnswer: delivered.isSet)
                }
                guard let chunk = try? JSONDecoder().decode(ChatCompletionChunk.self, from: Data(payload.utf8)) else {
                    malformed += 1
                    logger.debug("malformed stream event", metadata: ["provider": "\(model.provider)"])
                    if malformed >= 3 || !delivered.isSet {
                        throw WendaoError(
                            .badResponse, "\(model.provider) sent a stream event that is not a chat completion chunk")
                    }
                    continue
                }
                for e in chunk.events {
                    switch e {
                    case .text(let t), .reasoning(let t):
                        delivered.set()
                        streamed += t
                    case .finish: sawFinish = true
                    case .usage(let u):
                        // Some providers repeat running totals on several chunks: keep the last.
                        lastUsage = u
                        continue
                    }
                    continuation.yield(e)
                }
            }
        }
        do {
            if let buffer = first {
                first = nil
                try handle(try parser.feed(buffer.readableBytesView))
            }
            while !sawDone, let buffer = try await body.next() {
                try handle(try parser.feed(buffer.readableBytesView))
            }
            if !sawDone { try handle(try parser.finish()) }
        } catch let e as WendaoError {
            throw e
        } catch {
            if Task.isCancelled { throw error }
            throw StreamBroke(afterTokens: delivered.isSet, underlying: "\(error)")
        }
        if !sawDone && !sawFinish {
            throw StreamBroke(afterTokens: delivered.isSet, underlying: "the stream ended without [DONE]")
        }
        continuation.yield(.usage(lastUsage ?? .estimate(prompt: messages, completion: streamed)))
    }

    func midStreamError(_ p: ProviderErrorPayload, model: ResolvedModel, midAnswer: Bool) -> WendaoError {
        let lower = (p.message + " " + (p.code ?? "")).lowercased()
        let said = ProviderErrors.summary(p, model: model)
        if ProviderErrors.isContextTooLong(lower) {
            return WendaoError(.contextTooLong, "the prompt is too long for \(model.id): \(said)")
        }
        if lower.contains("rate") && lower.contains("limit") || lower.contains("throttl") {
            return WendaoError(.rateLimited, "\(model.provider) is rate limiting this key: \(said)")
        }
        if lower.contains("overload") || lower.contains("unavailable") || lower.contains("busy") {
            return WendaoError(
                .unavailable, "\(model.provider) is overloaded\(midAnswer ? " (the answer broke off)" : ""): \(said)")
        }
        return WendaoError(
            .badResponse,
            midAnswer
                ? "\(model.provider) reported an error in the middle of the answer: \(said)"
                : "\(model.provider) reported an error: \(said)")
    }

    // MARK: Embeddings, models, images

    /// Embeds `inputs` (one vector per input, in order).
    public func embeddings(_ model: ResolvedModel, inputs: [String], dimensions: Int? = nil) async throws
        -> EmbeddingsResponse
    {
        try model.requireKey()
        let body = try JSONEncoder().encode(
            EmbeddingsRequest(model: model.model, input: inputs, dimensions: dimensions))
        let data = try await send(model, path: "/embeddings", body: body, contentType: "application/json")
        guard let r = try? JSONDecoder().decode(EmbeddingsResponse.self, from: data) else {
            throw ProviderErrors.badBody(data, model: model, expected: "an embeddings response")
        }
        guard r.data.count == inputs.count else {
            throw WendaoError(
                .badResponse, "\(model.provider) returned \(r.data.count) embeddings for \(inputs.count) inputs")
        }
        return r
    }

    /// The models the provider lists (`GET /models`).
    public func listModels(_ model: ResolvedModel) async throws -> [String] {
        try model.requireKey()
        let data = try await send(model, path: "/models", body: nil, contentType: nil)
        guard let r = try? JSONDecoder().decode(ModelsListResponse.self, from: data) else {
            throw ProviderErrors.badBody(data, model: model, expected: "a model list")
        }
        return r.data.map(\.id)
    }

    /// Generates images from a prompt (`POST /images/generations`).
    public func generateImages(_ model: ResolvedModel, request: ImageGenerationRequest) async throws -> ImagesResponse {
        try model.requireKey()
        var r = request
        r.model = model.model
        let data = try await send(
            model, path: "/images/generations", body: try JSONEncoder().encode(r), contentType: "application/json")
        guard let out = try? JSONDecoder().decode(ImagesResponse.self, from: data) else {
            throw ProviderErrors.badBody(data, model: model, expected: "an images response")
        }
        return out
    }

    /// Edits an image (`POST /images/edits`, multipart).
    public func editImages(_ model: ResolvedModel, request: ImageEditRequest) async throws -> ImagesResponse {
        try model.requireKey()
        var r = request
        r.model = model.model
        let boundary = "wendao-" + UUID().uuidString
        let data = try await send(
            model, path: "/images/edits", body: r.multipartBody(boundary: boundary),
            contentType: "multipart/form-data; boundary=\(boundary)")
        guard let out = try? JSONDecoder().decode(ImagesResponse.self, from: data) else {
            throw ProviderErrors.badBody(data, model: model, expected: "an images response")
        }
        return out
    }

    // MARK: Transport

    func makeRequest(_ model: ResolvedModel, path: String, body: Data?, contentType: String?, stream: Bool)
        -> HTTPClientRequest
    {
        var r = HTTPClientRequest(url: model.baseURL + path)
        r.method = body == nil ? .GET : .POST
        r.headers.add(name: "User-Agent", value: "wendao/0.1")
        r.headers.add(name: "Accept", value: stream ? "text/event-stream" : "application/json")
        if let contentType { r.headers.add(name: "Content-Type", value: contentType) }
        if let key = model.apiKey { r.headers.add(name: "Authorization", value: "Bearer " + key.exposedValue) }
        for (name, value) in model.headers.sorted(by: { $0.key < $1.key }) { r.headers.add(name: name, value: value) }
        if let body { r.body = .bytes(ByteBuffer(data: body)) }
        return r
    }

    /// Sends an unstreamed request with time limits and retries; returns the 2xx body.
    func send(_ model: ResolvedModel, path: String, body: Data?, contentType: String?) async throws -> Data {
        let started = ContinuousClock.now
        let deadline = started + .seconds(timeouts.total)
        var attempt = 0
        do {
            while true {
                attempt += 1
                do {
                    let request = makeRequest(model, path: path, body: body, contentType: contentType, stream: false)
                    logger.debug(
                        "model call",
                        metadata: ["provider": "\(model.provider)", "path": "\(path)", "attempt": "\(attempt)"])
                    let first = min(deadline, ContinuousClock.now + .seconds(timeouts.firstToken))
                    let response = try await withTimeLimit(
                        until: first, WendaoError(.timeout, firstTokenMessage(model))
                    ) {
                        try await self.client.execute(request, deadline: .now() + .hours(24), logger: nil)
                    }
                    let status = Int(response.status.code)
                    let limit = (200..<300).contains(status) ? maxBodyBytes : 1 << 20
                    let data = try await withTimeLimit(until: deadline, WendaoError(.timeout, totalMessage(model))) {
                        try await self.collect(response.body, limit: limit)
                    }
                    guard (200..<300).contains(status) else {
                        throw StatusFailure(
                            status: status, body: data,
                            retryAfter: ProviderErrors.retryAfterSeconds(response.headers.first(name: "retry-after")))
                    }
                    return data
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    let failure = classify(error, model: model)
                    guard failure.retryable, attempt <= retry.maxRetries else { throw failure.error }
                    try await pause(before: attempt, failure: failure, deadline: deadline, model: model)
                }
            }
        } catch {
            throw publicError(error, model: model)
        }
    }

    func collect(_ body: HTTPClientResponse.Body, limit: Int) async throws -> Data {
        var out = Data()
        for try await var buffer in body {
            if out.count + buffer.readableBytes > limit {
                throw WendaoError(.limitExceeded, "the response is larger than \(limit >> 20) MiB")
            }
            out.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
        }
        return out
    }

    /// Waits before retry `attempt`, honouring `Retry-After` up to the policy's cap and the deadline.
    func pause(before attempt: Int, failure: Failure, deadline: ContinuousClock.Instant, model: ResolvedModel) async throws {
        if let ra = failure.retryAfter, ra > retry.maxRetryAfter { throw failure.error }
        let delay = retry.delay(attempt: attempt, retryAfter: failure.retryAfter)
        guard ContinuousClock.now + .seconds(delay) < deadline else { throw failure.error }
        logger.warning(
            "retrying model call",
            metadata: [
                "provider": "\(model.provider)", "attempt": "\(attempt + 1)", "delay_s": "\(String(format: "%.2f", delay))",
                "reason": "\(failure.error.message)",
            ])
        try await Task.sleep(for: .seconds(delay))
    }

    /// Runs `operation`, failing with `error` at `deadline`.
    func withTimeLimit<T: Sendable>(
        until deadline: ContinuousClock.Instant, _ error: WendaoError, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw error }
            return value
        }
    }

    /// Runs a streamed attempt under the first-token limit (until `delivered` is set) and the total
    /// deadline.
    func withWatchdog(
        delivered: Flag, deadline: ContinuousClock.Instant, model: ResolvedModel,
        _ operation: @escaping @Sendable () async throws -> Void
    ) async throws {
        let firstToken = timeouts.firstToken
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                let first = min(deadline, ContinuousClock.now + .seconds(firstToken))
                try await Task.sleep(until: first)
                if !delivered.isSet {
                    throw WendaoError(.timeout, self.firstTokenMessage(model))
                }
                try await Task.sleep(until: deadline)
                throw WendaoError(.timeout, self.totalMessage(model))
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    func firstTokenMessage(_ model: ResolvedModel) -> String {
        "\(model.provider) sent nothing within \(Self.seconds(timeouts.firstToken)) (first-token limit; timeouts.first_token in config.yaml)"
    }

    func totalMessage(_ model: ResolvedModel) -> String {
        "the call to \(model.provider) took longer than \(Self.seconds(timeouts.total)) (timeouts.total in config.yaml)"
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s)
    }

    // MARK: Failures

    /// An HTTP error status with its body.
    struct StatusFailure: Error {
        var status: Int
        var body: Data
        var retryAfter: Double?
    }

    /// A stream that ended before it was complete.
    struct StreamBroke: Error {
        var afterTokens: Bool
        var underlying: String
    }

    /// A classified failure: the public error, whether to retry, and how long the provider asked to
    /// wait.
    struct Failure {
        var error: WendaoError
        var retryable: Bool
        var retryAfter: Double?
    }

    func classify(_ error: any Error, model: ResolvedModel) -> Failure {
        switch error {
        case let s as StatusFailure:
            let e = ProviderErrors.forStatus(s.status, body: s.body, model: model, retryAfter: s.retryAfter)
            let retryable =
                [408, 429, 500, 502, 503, 504, 529].contains(s.status) && e.code != .contextTooLong
                && !(s.status == 429 && e.message.contains("quota"))
            return Failure(error: e, retryable: retryable, retryAfter: s.retryAfter)
        case let b as StreamBroke:
            return Failure(
                error: WendaoError(
                    .unavailable,
                    "the answer stream from \(model.provider) broke off\(b.afterTokens ? " part-way" : "") (\(Secret.redactKeyShapes(b.underlying)))"
                ),
                retryable: true, retryAfter: nil)
        case let w as WendaoError:
            // Timeouts are retried (a fresh connection often helps); protocol errors are not.
            return Failure(error: w, retryable: w.code == .timeout, retryAfter: nil)
        case is CancellationError:
            return Failure(error: WendaoError(.cancelled, "the request to \(model.provider) was cancelled"), retryable: false)
        case let h as HTTPClientError:
            if h == .cancelled {
                return Failure(
                    error: WendaoError(.cancelled, "the request to \(model.provider) was cancelled"), retryable: false)
            }
            if h == .connectTimeout {
                return Failure(
                    error: WendaoError(
                        .timeout,
                        "could not connect to \(model.provider) at \(model.displayURL) within \(Self.seconds(timeouts.connect))"),
                    retryable: true)
            }
            return Failure(error: connectionError(model, "\(h)"), retryable: true)
        default:
            return Failure(error: connectionError(model, "\(error)"), retryable: true)
        }
    }

    func connectionError(_ model: ResolvedModel, _ detail: String) -> WendaoError {
        let lower = detail.lowercased()
        var reason: String
        if lower.contains("connection refused") {
            reason = "connection refused: is it running?"
            if model.provider == "ollama" { reason += " Start it with `ollama serve`." }
        } else if lower.contains("no such host") || lower.contains("name or service not known")
            || lower.contains("nodename nor servname") || lower.contains("temporary failure in name resolution")
            || lower.contains("unknown host")
        {
            reason = "the host name does not resolve"
        } else if lower.contains("network is unreachable") || lower.contains("no route to host") {
            reason = "the network is unreachable"
        } else if lower.contains("tls") || lower.contains("ssl") || lower.contains("certificate") {
            reason = "TLS handshake failed: " + Self.shorten(detail)
        } else if lower.contains("remoteconnectionclosed") || lower.contains("connection reset") {
            reason = "the connection was closed by the server"
        } else {
            reason = Self.shorten(detail)
        }
        return WendaoError(.unavailable, "cannot reach \(model.provider) at \(model.displayURL) (\(Secret.redactKeyShapes(reason)))")
    }

    static func shorten(_ s: String) -> String {
        let d = s.replacingOccurrences(of: "\n", with: " ")
        return d.count > 200 ? String(d.prefix(200)) + "…" : d
    }

    /// Any error as the public ``WendaoError``, with the key redacted.
    func publicError(_ error: any Error, model: ResolvedModel) -> WendaoError {
        if Task.isCancelled { return WendaoError(.cancelled, "the request to \(model.provider) was cancelled") }
        var e = classify(error, model: model).error
        if let key = model.apiKey { e.message = key.redact(e.message) }
        return e
    }
}

/// A thread-safe one-way flag.
final class Flag: Sendable {
    private let state = Mutex(false)
    var isSet: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}

/// A provider model as a ``ChatModel`` for retrieval-augmented answering.
public struct GatewayChatModel: ChatModel {
    /// The gateway that makes the calls.
    public let gateway: ModelGateway
    /// The resolved model.
    public let model: ResolvedModel

    /// Wraps a resolved model.
    public init(gateway: ModelGateway, model: ResolvedModel) {
        self.gateway = gateway
        self.model = model
    }

    /// `provider:model`.
    public var id: String { model.id }
    /// The model's context window.
    public var contextWindow: Int { model.contextWindow }

    /// Streams through the gateway.
    public func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error> {
        gateway.streamChat(model, messages: messages, options: options)
    }
}
