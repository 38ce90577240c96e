public import Foundation

/// A request ``FakeProviderServer`` received, recorded once its body was complete.
///
/// ```swift
/// let request = server.requests[0]
/// #expect(request.header("authorization") == "Bearer sk-test")
/// #expect(request.jsonObject()?["stream"] as? Bool == true)
/// ```
public struct RecordedRequest: Sendable {
    /// The method, e.g. `"POST"`.
    public var method: String
    /// The request target including any query string, e.g. `"/v1/chat/completions"`.
    public var path: String
    /// The headers in the order received.
    public var headers: [(String, String)]
    /// The complete body (empty when there was none).
    public var body: Data
    /// When the last byte of the request arrived (just before the handler ran).
    public var receivedAt: ContinuousClock.Instant

    /// A recorded request with the given parts.
    public init(
        method: String, path: String, headers: [(String, String)], body: Data,
        receivedAt: ContinuousClock.Instant = .now
    ) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.receivedAt = receivedAt
    }

    /// The first value of the header `name`, compared case-insensitively; nil when absent.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0.lowercased() == wanted }?.1
    }

    /// The body decoded as UTF-8 (invalid bytes are replaced).
    public var bodyString: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object; nil when it is not valid JSON or not an object. Parsed on every call.
    public func jsonObject() -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
    }
}
