import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import WendaoCore
import Synchronization

// Transport: requests, sending with retries and back-off, time limits.
extension ModelGateway {
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
}

/// A thread-safe one-way flag.
final class Flag: Sendable {
    private let state = Mutex(false)
    var isSet: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}
