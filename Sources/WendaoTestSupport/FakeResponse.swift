public import Foundation

/// A scripted response for ``FakeProviderServer``.
///
/// The server waits ``delayBeforeHead``, sends the status line and ``headers``, then plays ``parts`` in order and
/// finishes the body. Without a `Content-Length` header the body is sent with chunked transfer encoding and every
/// ``Part/data(_:)`` goes out as its own flushed chunk, so a client sees it as a separate read when a
/// ``Part/delay(_:)`` separates it from the next one.
///
/// ```swift
/// let stream = FakeResponse.sse([#"{"choices":[{"delta":{"content":"你好"}}]}"#], delay: .milliseconds(50))
/// let truncated = FakeResponse(headers: [("Content-Type", "text/event-stream")],
///                              parts: [.data(Data("data: {}\n\n".utf8)), .close])
/// ```
public struct FakeResponse: Sendable {
    /// One step of a response body.
    public enum Part: Sendable {
        /// Bytes written as one body chunk and flushed at once (an empty value writes nothing).
        case data(Data)
        /// A pause before the next part.
        case delay(Duration)
        /// Aborts the connection at this point: the socket is closed without the terminating chunk, so the client
        /// sees a truncated body.
        case close
        /// Stops sending and keeps the connection open until the client goes away or the server shuts down, so a
        /// client's read timeout can fire.
        case hang
    }

    /// The HTTP status code.
    public var status: Int
    /// Response headers in order (`Content-Type` etc.). A `Content-Length` header switches the body from chunked
    /// transfer encoding to length framing; `Connection: close` closes the connection after the response.
    public var headers: [(String, String)]
    /// The body, played in order after the head.
    public var parts: [Part]
    /// A slow first byte: how long to wait before sending the status line.
    public var delayBeforeHead: Duration
    /// When set, the connection is closed after ``delayBeforeHead`` without sending anything (see
    /// ``disconnect(after:)``).
    var closesBeforeHead = false

    /// A response with the given status, headers and body parts.
    public init(
        status: Int = 200, headers: [(String, String)] = [], parts: [Part] = [], delayBeforeHead: Duration = .zero
    ) {
        self.status = status
        self.headers = headers
        self.parts = parts
        self.delayBeforeHead = delayBeforeHead
    }

    /// A JSON body sent with `Content-Length` (`Content-Type: application/json` unless `headers` names one).
    ///
    /// ```swift
    /// let limited = FakeResponse.json(#"{"error":{"message":"rate limited"}}"#, status: 429,
    ///                                 headers: [("Retry-After", "1")])
    /// ```
    public static func json(_ body: String, status: Int = 200, headers: [(String, String)] = []) -> FakeResponse {
        fixedLength(Data(body.utf8), status: status, contentType: "application/json", headers: headers)
    }

    /// Server-sent events: each element is written as `data: <payload>\n\n` in its own chunk, with `delay` between
    /// chunks; `data: [DONE]\n\n` is appended (as one more chunk after one more `delay`) when `done`.
    public static func sse(_ payloads: [String], delay: Duration = .zero, done: Bool = true) -> FakeResponse {
        let events = (payloads + (done ? ["[DONE]"] : [])).map { "data: \($0)\n\n" }
        return chunks(events, contentType: "text/event-stream", delay: delay)
    }

    /// Raw SSE or body text split into the given chunks exactly as provided, with `delay` between chunks (to test
    /// events split across reads, comments, keep-alives).
    ///
    /// ```swift
    /// let split = FakeResponse.chunks(["data: {\"choices\":", "[]}\n\n", ": keep-alive\n\n"],
    ///                                 delay: .milliseconds(20))
    /// ```
    public static func chunks(
        _ chunks: [String], contentType: String = "text/event-stream", delay: Duration = .zero
    ) -> FakeResponse {
        var parts: [Part] = []
        for (index, chunk) in chunks.enumerated() {
            if index > 0, delay > .zero { parts.append(.delay(delay)) }
            parts.append(.data(Data(chunk.utf8)))
        }
        return FakeResponse(headers: [("Content-Type", contentType), ("Cache-Control", "no-cache")], parts: parts)
    }

    /// A text body (an HTML error page from a proxy, say) sent with `Content-Length`.
    public static func text(_ body: String, status: Int, contentType: String = "text/html") -> FakeResponse {
        fixedLength(Data(body.utf8), status: status, contentType: contentType, headers: [])
    }

    /// Closes the connection after `delay` without sending a status line (a provider or proxy dropping the request).
    public static func disconnect(after delay: Duration = .zero) -> FakeResponse {
        var response = FakeResponse(delayBeforeHead: delay)
        response.closesBeforeHead = true
        return response
    }

    private static func fixedLength(
        _ body: Data, status: Int, contentType: String, headers: [(String, String)]
    ) -> FakeResponse {
        var all = headers.filter { $0.0.lowercased() != "content-length" }
        if !all.contains(where: { $0.0.lowercased() == "content-type" }) {
            all.insert(("Content-Type", contentType), at: 0)
        }
        all.append(("Content-Length", String(body.count)))
        return FakeResponse(status: status, headers: all, parts: [.data(body)])
    }
}
