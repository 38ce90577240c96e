import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import WendaoCore
import WendaoModels

/// The HTTP client image providers call their APIs with: no redirects (the key must not travel), a
/// time limit per call, a cap on the body, and messages that name the provider and never the key.
final class ProviderHTTP: Sendable {
    /// Largest body accepted (base64 images are large).
    let maxBodyBytes: Int
    /// Time limit of one call.
    let timeout: Duration

    init(maxBodyBytes: Int = 128 << 20, timeout: Duration = .seconds(120)) {
        self.maxBodyBytes = maxBodyBytes
        self.timeout = timeout
    }

    /// A client for one call, shut down after it: calls are seconds apart (polls), so keeping no
    /// connection costs little, and nothing outlives its owner (a server route, a CLI command).
    static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Nothing to close (each call closes its own client).
    func shutdown() async {}

    struct Reply: Sendable {
        var status: Int
        var body: Data
        var headers: HTTPHeaders
        var ok: Bool { (200..<300).contains(status) }
    }

    /// One call; connection failures and time-outs become ``WendaoError`` naming `provider` and the
    /// URL without its query, with `key` redacted.
    func call(
        _ method: HTTPMethod, _ url: String, provider: String, key: Secret? = nil, headers: [(String, String)] = [],
        body: Data? = nil, contentType: String? = "application/json", timeout: Duration? = nil
    ) async throws -> Reply {
        var r = HTTPClientRequest(url: url)
        r.method = method
        r.headers.add(name: "User-Agent", value: "wendao/0.1")
        r.headers.add(name: "Accept", value: "application/json")
        if let key { r.headers.add(name: "Authorization", value: "Bearer " + key.exposedValue) }
        if let body {
            if let contentType { r.headers.add(name: "Content-Type", value: contentType) }
            r.body = .bytes(ByteBuffer(data: body))
        }
        for (n, v) in headers { r.headers.add(name: n, value: v) }
        let limit = timeout ?? self.timeout
        let cap = maxBodyBytes
        let request = r
        let client = Self.makeClient()
        let shown = Self.shown(url)
        do {
            let reply = try await withThrowingTaskGroup(of: Reply?.self) { group in
                group.addTask {
                    let response = try await client.execute(
                        request, timeout: .seconds(Int64(limit.components.seconds) + 1))
                    var data = Data()
                    for try await buffer in response.body {
                        if data.count + buffer.readableBytes > cap {
                            throw WendaoError(
                                .limitExceeded, "the answer of \(provider) is larger than \(cap >> 20) MiB")
                        }
                        data.append(contentsOf: buffer.readableBytesView)
                    }
                    return Reply(status: Int(response.status.code), body: data, headers: response.headers)
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let reply = first else {
                    throw WendaoError(.timeout, "\(provider) did not answer within \(limit) (\(shown))")
                }
                return reply
            }
            try? await client.shutdown()
            return reply
        } catch let e as WendaoError {
            try? await client.shutdown()
            throw e
        } catch is CancellationError {
            try? await client.shutdown()
            throw WendaoError(.cancelled, "the request to \(provider) was cancelled")
        } catch {
            try? await client.shutdown()
            let detail = String(describing: error)
            let reason =
                detail.lowercased().contains("refused")
                ? "connection refused: is it running?" : String(detail.prefix(200))
            let message = "cannot reach \(provider) at \(shown) (\(reason))"
            throw WendaoError(.unavailable, key?.redact(message) ?? Secret.redactKeyShapes(message))
        }
    }

    /// A URL for messages: scheme, host, port and path only.
    static func shown(_ url: String) -> String {
        guard var c = URLComponents(string: url) else { return "the provider" }
        c.query = nil
        c.user = nil
        c.password = nil
        c.fragment = nil
        return String((c.string ?? url).prefix(200))
    }

    /// A non-2xx reply as an error: the provider's own code and message when the body has them.
    static func failure(_ reply: Reply, provider: String, key: Secret?, action: String) -> WendaoError {
        var message = "\(provider) refused to \(action): HTTP \(reply.status)"
        var providerCode: String?
        if let p = ProviderErrorPayload.parse(reply.body) {
            providerCode = p.code
            message += " — " + (p.code.map { "\($0): " } ?? "") + String(p.message.prefix(300))
        } else if let v = JSONValue.parse(reply.body), let e = v["error"]?.stringValue ?? v["detail"]?.stringValue {
            message += " — " + String(e.prefix(300))
        } else if !reply.body.isEmpty {
            let text = String(decoding: reply.body.prefix(200), as: UTF8.self)
            message += text.lowercased().contains("<html") ? " (an HTML page)" : " — " + text
        }
        let code: WendaoError.Code
        switch reply.status {
        case 401, 403: code = .unauthenticated
        case 404: code = .notFound
        case 429: code = .rateLimited
        case 400, 422: code = providerCode == "DataInspectionFailed" ? .invalidArgument : .invalidArgument
        default: code = .unavailable
        }
        let m = key?.redact(message) ?? Secret.redactKeyShapes(message)
        return WendaoError(code, m)
    }
}

extension JSONValue {
    /// Encodes to compact JSON.
    var encoded: Data { (try? JSONEncoder().encode(self)) ?? Data("null".utf8) }
}
