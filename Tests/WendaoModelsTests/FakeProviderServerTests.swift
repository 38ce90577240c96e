import Foundation
import Testing
import WendaoTestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fake provider server over a real socket: a raw blocking HTTP/1.1 client (run on its own threads, never on the
/// Swift concurrency pool the server's tasks need) checks framing, chunk boundaries, timing and connection handling.
@Suite("FakeProviderServer")
struct FakeProviderServerTests {
    @Test("JSON responses use Content-Length; requests are recorded with method, path, headers and body")
    func jsonResponseAndRecordedRequest() async throws {
        let body = #"{"id":"chatcmpl-1","object":"chat.completion","choices":[]}"#
        try await withServer(script: [.json(body, status: 201, headers: [("X-Request-Id", "req-1")])]) { server in
            #expect(server.baseURL == "http://127.0.0.1:\(server.port)/v1")
            let requestBody = #"{"model":"qwen-plus","stream":false,"messages":[{"role":"user","content":"你好"}]}"#
            let before = ContinuousClock.now
            let response = try await exchange(port: server.port) { connection in
                try connection.send(request("POST", "/v1/chat/completions?trace=1", body: requestBody, headers: [
                    ("Authorization", "Bearer sk-canary"), ("Content-Type", "application/json"),
                ]))
                return try connection.readResponse()
            }
            #expect(response.status == 201)
            #expect(response.complete)
            #expect(!response.chunked)
            #expect(response.header("content-length") == String(Data(body.utf8).count))
            #expect(response.header("content-type") == "application/json")
            #expect(response.header("x-request-id") == "req-1")
            #expect(response.bodyString == body)

            let recorded = try #require(server.requests.first)
            #expect(server.requests.count == 1)
            #expect(recorded.method == "POST")
            #expect(recorded.path == "/v1/chat/completions?trace=1")
            #expect(recorded.header("AUTHORIZATION") == "Bearer sk-canary")
            #expect(recorded.header("x-missing") == nil)
            #expect(recorded.headers.contains { $0.0 == "Content-Type" && $0.1 == "application/json" })
            #expect(recorded.bodyString == requestBody)
            #expect(recorded.body == Data(requestBody.utf8))
            #expect(recorded.jsonObject()?["model"] as? String == "qwen-plus")
            #expect(recorded.jsonObject()?["stream"] as? Bool == false)
            #expect(recorded.receivedAt >= before && recorded.receivedAt <= .now)
        }
    }

    @Test("SSE events arrive as separate chunks and reads, with the scripted delay between them")
    func sseChunksArriveSeparately() async throws {
        let delay = Duration.milliseconds(80)
        try await withServer(script: [.sse(["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"], delay: delay)]) { server in
            let (response, reads) = try await exchange(port: server.port) { connection in
                try connection.send(request("POST", "/v1/chat/completions", body: "{}"))
                return (try connection.readResponse(), connection.reads)
            }
            #expect(response.status == 200)
            #expect(response.chunked && response.complete)
            #expect(response.header("content-type") == "text/event-stream")
            let events = ["data: {\"n\":1}\n\n", "data: {\"n\":2}\n\n", "data: {\"n\":3}\n\n", "data: [DONE]\n\n"]
            #expect(response.chunks.map { String(decoding: $0, as: UTF8.self) } == events)

            // The read that carried each event: strictly increasing; the last arrives at least the scripted
            // delays after the first (pairwise gaps can shrink when a loaded reader wakes late).
            let readIndices = events.map { event in
                reads.firstIndex { String(decoding: $0.bytes, as: UTF8.self).contains(event) } ?? -1
            }
            #expect(!readIndices.contains(-1))
            for (earlier, later) in zip(readIndices, readIndices.dropFirst()) where earlier >= 0 && later >= 0 {
                #expect(later > earlier)
            }
            if let first = readIndices.first, let last = readIndices.last, first >= 0, last >= 0 {
                #expect(reads[last].at - reads[first].at >= delay * (events.count - 2))
            }
        }
    }

    @Test("chunks(_:) sends the given text split exactly as provided")
    func rawChunksAreExact() async throws {
        let pieces = ["data: {\"choices\":[{\"delta\":", "{\"content\":\"问\"}}]}\n", "\n", ": keep-alive\n\n"]
        try await withServer(script: [.chunks(pieces, delay: .milliseconds(20))]) { server in
            let response = try await exchange(port: server.port) { connection in
                try connection.send(request("GET", "/v1/stream"))
                return try connection.readResponse()
            }
            #expect(response.complete)
            #expect(response.chunks.map { String(decoding: $0, as: UTF8.self) } == pieces)
        }
    }

    @Test(".close aborts the body without the terminating chunk; disconnect() closes before the status line")
    func closeTruncates() async throws {
        let partial = FakeResponse(
            headers: [("Content-Type", "text/event-stream")],
            parts: [.data(Data("data: {\"n\":1}\n\n".utf8)), .delay(.milliseconds(20)), .close]
        )
        try await withServer(script: [partial, .disconnect()]) { server in
            let (response, raw) = try await exchange(port: server.port) { connection in
                try connection.send(request("POST", "/v1/chat/completions", body: "{}"))
                let response = try connection.readResponse()
                return (response, connection.received)
            }
            #expect(response.status == 200)
            #expect(response.chunked)
            #expect(!response.complete)
            #expect(response.chunks.map { String(decoding: $0, as: UTF8.self) } == ["data: {\"n\":1}\n\n"])
            #expect(!String(decoding: raw, as: UTF8.self).hasSuffix("0\r\n\r\n"))

            let dropped = try await exchange(port: server.port) { connection in
                try connection.send(request("POST", "/v1/chat/completions", body: "{}"))
                return try connection.readResponse()
            }
            #expect(dropped.status == 0)
            #expect(dropped.rawCount == 0)
            #expect(server.requests.count == 2)
        }
    }

    @Test("delayBeforeHead holds back the status line")
    func delayBeforeHead() async throws {
        let delay = Duration.milliseconds(200)
        let slow = FakeResponse(parts: [.data(Data("ok".utf8))], delayBeforeHead: delay)
        try await withServer(script: [slow]) { server in
            let (sentAt, response, reads) = try await exchange(port: server.port) { connection in
                let sentAt = ContinuousClock.now
                try connection.send(request("GET", "/v1/models"))
                return (sentAt, try connection.readResponse(), connection.reads)
            }
            #expect(response.status == 200 && response.bodyString == "ok")
            let firstByte = try #require(reads.first).at
            #expect(firstByte - sentAt >= delay)
            // Generous: only "not forever" matters here; the suite runs beside heavy tests on 2 cores.
            #expect(firstByte - sentAt < .seconds(60))
        }
    }

    @Test("Keep-alive: several requests on one connection; the script repeats its last response; Connection: close")
    func keepAlive() async throws {
        try await withServer(script: [.json(#"{"n":0}"#), .json(#"{"n":1}"#)]) { server in
            let bodies = try await exchange(port: server.port) { connection in
                var bodies: [String] = []
                for index in 0..<3 {
                    try connection.send(request("POST", "/v1/embeddings", body: #"{"i":\#(index)}"#))
                    let response = try connection.readResponse()
                    bodies.append(response.complete ? response.bodyString : "incomplete")
                }
                return bodies
            }
            #expect(bodies == [#"{"n":0}"#, #"{"n":1}"#, #"{"n":1}"#])
            #expect(server.requests.map(\.bodyString) == [#"{"i":0}"#, #"{"i":1}"#, #"{"i":2}"#])

            let (closing, eof) = try await exchange(port: server.port) { connection in
                try connection.send(request("GET", "/v1/models", headers: [("Connection", "close")]))
                let response = try connection.readResponse()
                return (response, try connection.receiveOnce() == nil)
            }
            #expect(closing.status == 200)
            #expect(closing.header("connection") == "close")
            #expect(eof)
        }
    }

    @Test("The handler sees ordinals; a hung response neither blocks other connections nor delays shutdown")
    func hangAndShutdown() async throws {
        let server = try await FakeProviderServer.start { request, ordinal in
            if request.path.hasSuffix("/hang") {
                return FakeResponse(
                    headers: [("Content-Type", "text/event-stream")],
                    parts: [.data(Data("data: partial\n\n".utf8)), .hang]
                )
            }
            return .json(#"{"ordinal":\#(ordinal)}"#)
        }
        let hung = try await onThread { try RawConnection(port: server.port) }
        defer { hung.close() }
        let (partial, timedOut) = try await onThread {
            try hung.send(request("POST", "/v1/hang", body: "{}"))
            var head = Data()
            while !String(decoding: head, as: UTF8.self).contains("data: partial"),
                  let more = try hung.receiveOnce() {
                head.append(more)
            }
            var timedOut = false
            do { _ = try hung.receiveOnce(timeout: .milliseconds(150)) } catch RawError.timeout { timedOut = true }
            return (String(decoding: head, as: UTF8.self), timedOut)
        }
        #expect(partial.hasPrefix("HTTP/1.1 200"))
        #expect(partial.contains("data: partial"))
        #expect(timedOut)

        let other = try await exchange(port: server.port) { connection in
            try connection.send(request("GET", "/v1/models"))
            return try connection.readResponse()
        }
        #expect(other.status == 200 && other.bodyString == #"{"ordinal":1}"#)

        let start = ContinuousClock.now
        await server.shutdown()
        // A hung connection would hold shutdown for good; seconds of scheduling delay are fine.
        #expect(ContinuousClock.now - start < .seconds(10))
        await server.shutdown()  // idempotent
        let closed = try await onThread { try hung.receiveOnce(timeout: .seconds(1)) == nil }
        #expect(closed)
        #expect(server.requests.map(\.path) == ["/v1/hang", "/v1/models"])
    }

    @Test("A request declaring a body over 16 MB is refused with 413 before the handler runs")
    func oversizedBody() async throws {
        try await withServer(script: [.json("{}")]) { server in
            let response = try await exchange(port: server.port) { connection in
                try connection.send("POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 17000000\r\n\r\n")
                return try connection.readResponse()
            }
            #expect(response.status == 413)
            #expect(response.header("connection") == "close")
            #expect(server.requests.isEmpty)
        }
    }
}

// MARK: - Helpers

/// Runs `body` with a server playing `script`, shutting it down afterwards even when `body` throws.
private func withServer(
    script: [FakeResponse], _ body: (FakeProviderServer) async throws -> Void
) async throws {
    let server = try await FakeProviderServer.start(script: script)
    do {
        try await body(server)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

/// Opens a connection to `port`, runs `body` on it on a dedicated thread and closes it.
private func exchange<T: Sendable>(
    port: Int, _ body: @escaping @Sendable (RawConnection) throws -> T
) async throws -> T {
    try await onThread {
        let connection = try RawConnection(port: port)
        defer { connection.close() }
        return try body(connection)
    }
}

/// Runs blocking socket code on its own thread so it never occupies the concurrency pool.
private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// An HTTP/1.1 request as text.
private func request(
    _ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = []
) -> String {
    var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    if let body { text += "Content-Length: \(Data(body.utf8).count)\r\n" }
    return text + "\r\n" + (body ?? "")
}

private enum RawError: Error {
    case timeout
    case system(String, Int32)
}

/// A response as the raw client parsed it.
private struct RawResponse: Sendable {
    /// 0 when the connection closed before a status line.
    var status = 0
    var headers: [(String, String)] = []
    var chunks: [Data] = []
    var chunked = false
    /// Whether the body was complete by its framing (terminating chunk or Content-Length).
    var complete = false
    /// Bytes of the response received (head and body).
    var rawCount = 0

    var body: Data { chunks.reduce(into: Data()) { $0.append($1) } }
    var bodyString: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// A blocking TCP client speaking just enough HTTP/1.1 to check the server's framing. Used from one thread at a time.
private final class RawConnection: @unchecked Sendable {
    private let fd: Int32
    private var pending: [UInt8] = []
    /// Every successful `recv`, with the instant it returned.
    private(set) var reads: [(at: ContinuousClock.Instant, bytes: Data)] = []
    /// Everything received so far.
    var received: Data { reads.reduce(into: Data()) { $0.append($1.bytes) } }

    init(port: Int) throws {
        #if os(Linux)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        guard fd >= 0 else { throw RawError.system("socket", errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            closeSocket(fd)
            throw RawError.system("connect", code)
        }
    }

    func close() { closeSocket(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            #if os(Linux)
            let flags = Int32(MSG_NOSIGNAL)
            #else
            let flags: Int32 = 0
            #endif
            let sent = bytes[offset...].withUnsafeBytes { systemSend(fd, $0.baseAddress, $0.count, flags) }
            guard sent > 0 else { throw RawError.system("send", errno) }
            offset += sent
        }
    }

    /// One `recv`: the bytes read, or nil at end of stream; throws `RawError.timeout` when nothing arrives in time.
    func receiveOnce(timeout: Duration = .seconds(60)) throws -> Data? {
        let (seconds, attoseconds) = timeout.components
        var interval = timeval(tv_sec: Int(seconds), tv_usec: .init(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let count = recv(fd, &buffer, buffer.count, 0)
        if count > 0 {
            let data = Data(buffer[0..<count])
            reads.append((.now, data))
            return data
        }
        if count == 0 { return nil }
        if errno == EAGAIN || errno == EWOULDBLOCK { throw RawError.timeout }
        if errno == ECONNRESET { return nil }
        throw RawError.system("recv", errno)
    }

    /// Reads one response (leaving any bytes after it for the next call); an incomplete one when the stream ends first.
    func readResponse() throws -> RawResponse {
        var ended = false
        while true {
            if let (response, consumed) = Self.parse(pending, ended: ended) {
                pending.removeFirst(consumed)
                return response
            }
            if let data = try receiveOnce() { pending += data } else { ended = true }
        }
    }

    /// Parses a response from the front of `bytes`; nil when more bytes are needed and the stream has not ended.
    private static func parse(_ bytes: [UInt8], ended: Bool) -> (RawResponse, Int)? {
        var response = RawResponse()
        response.rawCount = bytes.count
        guard let headEnd = find([13, 10, 13, 10], in: bytes, from: 0) else {
            return ended ? (response, bytes.count) : nil
        }
        let lines = String(decoding: bytes[0..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        response.status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? -1
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            response.headers.append((String(line[..<colon]), value))
        }
        var offset = headEnd + 4
        if let length = response.header("content-length").flatMap({ Int($0) }) {
            let available = min(length, bytes.count - offset)
            if available < length && !ended { return nil }
            response.chunks = available > 0 ? [Data(bytes[offset..<offset + available])] : []
            response.complete = available == length
            response.rawCount = offset + available
            return (response, offset + available)
        }
        guard response.header("transfer-encoding") == "chunked" else {
            guard ended else { return nil }
            response.chunks = [Data(bytes[offset...])]
            response.complete = true
            return (response, bytes.count)
        }
        response.chunked = true
        while true {
            guard let lineEnd = find([13, 10], in: bytes, from: offset) else { break }
            let sizeText = String(decoding: bytes[offset..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { break }
            let dataStart = lineEnd + 2
            if size == 0 {
                guard bytes.count >= dataStart + 2 else { break }
                response.complete = true
                response.rawCount = dataStart + 2
                return (response, dataStart + 2)
            }
            guard bytes.count >= dataStart + size + 2 else { break }
            response.chunks.append(Data(bytes[dataStart..<dataStart + size]))
            offset = dataStart + size + 2
        }
        return ended ? (response, bytes.count) : nil
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        for index in start...(bytes.count - needle.count) where Array(bytes[index..<index + needle.count]) == needle {
            return index
        }
        return nil
    }
}

#if canImport(Glibc)
private func closeSocket(_ fd: Int32) { _ = Glibc.close(fd) }
private func systemSend(_ fd: Int32, _ pointer: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    Glibc.send(fd, pointer, count, flags)
}
#else
private func closeSocket(_ fd: Int32) { _ = Darwin.close(fd) }
private func systemSend(_ fd: Int32, _ pointer: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    Darwin.send(fd, pointer, count, flags)
}
#endif
