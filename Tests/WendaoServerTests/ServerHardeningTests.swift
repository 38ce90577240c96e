import Foundation
#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG
@testable import WendaoServer
import WendaoTestSupport

// Issue 12 (security review): admission control, bounded and cancellable embeddings, 5xx logging,
// idle timeouts, request-log redaction, key last use, unrouted requests.

/// A data directory with knowledge bases "facts" (Chinese) and "other" (English, with the remote
/// embedder `lab:embed-1`), and keys for them.
private struct HardeningFixture {
    let scratch: ScratchDirectory
    let data: URL
    static let admin = "admin-key-0123456789abcdef"

    init() throws {
        scratch = try ScratchDirectory("hardening")
        data = scratch.child("data")
        let lib = try Library(directory: data)
        try scratch.write("src/facts/pricing.md", "# 价格说明\n\n标准快递首重收费12元，续重每公斤收费3元。\n")
        try scratch.write("src/other/hours.md", "# Opening hours\n\nThe depot opens at 8 am and closes at 10 pm.\n")
        _ = try lib.create("facts")
        _ = try lib.open("facts").ingest([scratch.child("src/facts").path])
        var settings = KnowledgeBaseSettings.default
        settings.embedder = "lab:embed-1"
        _ = try lib.create("other", settings: settings)
    }

    func key(_ kbs: [String], scope: APIKeyScope = .read, name: String? = nil) throws -> String {
        try Library(directory: data).createAPIKey(name: name, knowledgeBases: kbs, scope: scope).key
    }

    func configuration(provider: FakeProviderServer? = nil, logger: Logger? = nil) throws -> ServerConfiguration {
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = Secret(Self.admin)
        if let provider {
            var m = try ModelsConfiguration.parse(
                """
                providers:
                  lab:
                    base_url: \(provider.baseURL)
                    api_key_env: LAB_KEY
                """, source: "test.yaml")
            m.timeouts.connect = 2
            // The provider's own time limits must not end a hung call in these tests.
            m.timeouts.firstToken = 600
            m.timeouts.total = 600
            m.retry.maxRetries = 0
            c.models = m
            c.environment = ["LAB_KEY": canaryKey, "OPENAI_BASE_URL": provider.baseURL, "OPENAI_API_KEY": canaryKey]
        }
        return c
    }
}

/// A key, and the JSON content type request bodies must declare.
private func auth(_ key: String) -> HTTPFields {
    [.authorization: "Bearer \(key)", .contentType: "application/json"]
}

private func json(_ r: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:]
}

private func errorCode(_ r: TestResponse) -> String? {
    (json(r)["error"] as? [String: Any])?["code"] as? String
}

/// A door that requests of a fake provider wait at until the test opens it.
private final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { c in
            let resume = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if resume { c.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
}

/// An OpenAI embeddings reply with one 4-dimension vector per input.
private func embeddingsReply(_ request: RecordedRequest) -> FakeResponse {
    let n = (request.jsonObject()?["input"] as? [Any])?.count ?? 1
    let items = (0..<n).map { #"{"object":"embedding","index":\#($0),"embedding":[1,0,0,0]}"# }
    return .json(
        #"{"object":"list","data":[\#(items.joined(separator: ","))],"model":"embed-1","usage":{"prompt_tokens":1,"total_tokens":1}}"#
    )
}

/// A chat completion reply citing source 1.
private let chatReply = FakeResponse.json(
    #"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"首重收费12元[1]"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}}"#
)

/// One HTTP request on its own connection (the test client keeps one connection, which would
/// queue requests behind one that is in flight).
private func send(
    port: Int, _ method: String, _ path: String, key: String? = nil, body: String? = nil
) async throws -> (status: Int, body: String, headers: [String: String]) {
    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
    request.httpMethod = method
    if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    request.timeoutInterval = 120
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = try #require(response as? HTTPURLResponse)
    var headers: [String: String] = [:]
    for (k, v) in http.allHeaderFields { headers["\(k)".lowercased()] = "\(v)" }
    return (http.statusCode, String(decoding: data, as: UTF8.self), headers)
}

/// Polls `condition` every 50 ms, at most `tries` times.
private func eventually(tries: Int = 400, _ condition: () async throws -> Bool) async throws -> Bool {
    for _ in 0..<tries {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// A raw client socket: can half-close, and tells an orderly close by the server (EOF) from a
/// receive timeout.
private final class Socket: @unchecked Sendable {
    let fd: Int32

    init(port: Int, receiveTimeout: Int = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw WendaoError(.internal, "connect failed") }
        var tv = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Stops sending (the server sees the end of its input).
    func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }

    /// Everything until the server closes: the bytes, and whether it was an orderly close (false:
    /// the receive timeout passed first).
    func readToEnd() -> (text: String, closed: Bool) {
        var got = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n == 0 { return (String(decoding: got, as: UTF8.self), true) }
            if n < 0 { return (String(decoding: got, as: UTF8.self), errno == ECONNRESET) }
            got += buf[0..<n]
        }
    }

    func close() { _ = Glibc.close(fd) }
}

@Suite("Admission control")
struct AdmissionTests {
    private func key(_ id: Int64) -> Principal {
        .key(
            APIKeyRecord(
                id: id, name: "k\(id)", prefix: "wdk_x", hash: "h", scope: .read, knowledgeBaseIDs: [1], createdAt: 0))
    }

    @Test("A key at its budget gets 429 while another key is served; the global cap gives 503; slots come back")
    func budgets() throws {
        let admission = Admission(
            rate: 100, budgets: [.answer: .init(total: 3, perKey: 1), .embedding: .init(total: 1, perKey: 1)])
        let a1 = try admission.enter(.answer, for: key(1))
        let refused = #expect(throws: APIError.self) { try admission.enter(.answer, for: key(1)) }
        #expect(refused?.status == .tooManyRequests)
        #expect(refused?.code == "rate_limited")
        #expect(refused?.headers[.retryAfter] == "1")
        let b1 = try admission.enter(.answer, for: key(2))
        // Another class of work has its own budget.
        let e1 = try admission.enter(.embedding, for: key(1))
        let admin = try admission.enter(.answer, for: .admin)
        // Three answers in flight: the global cap, for keys and the admin alike.
        let full = #expect(throws: APIError.self) { try admission.enter(.answer, for: key(3)) }
        #expect(full?.status == .serviceUnavailable)
        #expect(full?.code == "overloaded")
        #expect(full?.headers[.retryAfter] == "1")
        #expect(throws: APIError.self) { try admission.enter(.answer, for: .admin) }
        #expect(admission.inFlight(.answer) == 3)
        a1.release()
        a1.release()  // a second release gives nothing back twice
        #expect(admission.inFlight(.answer) == 2)
        let a2 = try admission.enter(.answer, for: key(1))
        for s in [a2, b1, e1, admin] { s.release() }
        #expect(admission.inFlight(.answer) == 0)
        #expect(admission.inFlight(.embedding) == 0)
    }

    @Test("An ingest slot handed to a job is held until the job has finished")
    func ingestSlotsFollowJobs() throws {
        let finished = Mutex<Set<Int64>>([])
        let admission = Admission(
            rate: 100, budgets: [.ingest: .init(total: 10, perKey: 1)],
            jobFinished: { id in finished.withLock { $0.contains(id) } })
        let slot = try admission.enter(.ingest, for: key(1))
        slot.hand(to: 42)
        slot.release()  // no effect once handed over
        #expect(admission.inFlight(.ingest) == 1)
        #expect(throws: APIError.self) { try admission.enter(.ingest, for: key(1)) }
        finished.withLock { _ = $0.insert(42) }
        let next = try admission.enter(.ingest, for: key(1))
        #expect(admission.inFlight(.ingest) == 1)
        next.release()
        #expect(admission.inFlight(.ingest) == 0)
    }
}

@Suite("Server budgets per key")
struct ServerBudgetTests {
    @Test("Answers: a key with one answer in flight is refused (429) while another key is answered")
    func answersPerKey() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let keyA = try f.key(["facts"])
        let keyB = try f.key(["facts"])
        let gate = Gate()
        let provider = try await FakeProviderServer.start { _, ordinal in
            if ordinal == 0 { await gate.wait() }
            return chatReply
        }
        var c = try f.configuration(provider: provider)
        c.maxConcurrentAnswersPerKey = 1
        // Tenant keys answer with the knowledge base's own model (they may not pick one).
        let kb = try Library(directory: f.data).open("facts")
        var settings = kb.record.settings
        settings.model = "openai:m"
        try kb.updateSettings(settings)
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        try await server.application().test(.live) { client in
            let port = try #require(client.port)
            let ask = #"{"question":"首重收费多少钱？"}"#
            let first = Task { try await send(port: port, "POST", "/api/v1/kbs/facts/ask", key: keyA, body: ask) }
            #expect(try await eventually { !provider.requests.isEmpty })
            let second = try await send(port: port, "POST", "/api/v1/kbs/facts/ask", key: keyA, body: ask)
            #expect(second.status == 429, "\(second.body)")
            #expect(second.headers["retry-after"] == "1")
            #expect(second.body.contains("rate_limited"))
            // The OpenAI route counts in the same budget.
            let chat = try await send(
                port: port, "POST", "/v1/chat/completions", key: keyA,
                body: #"{"model":"kb:facts","messages":[{"role":"user","content":"首重收费多少钱？"}]}"#)
            #expect(chat.status == 429, "\(chat.body)")
            let other = try await send(port: port, "POST", "/api/v1/kbs/facts/ask", key: keyB, body: ask)
            #expect(other.status == 200, "\(other.body)")
            gate.open()
            let done = try await first.value
            #expect(done.status == 200, "\(done.body)")
            // The slot is free again.
            let again = try await send(port: port, "POST", "/api/v1/kbs/facts/ask", key: keyA, body: ask)
            #expect(again.status == 200, "\(again.body)")
        }
        gate.open()
        await server.shutdown()
        await provider.shutdown()
    }

    @Test("Embeddings: a key at its budget is refused (429) while another key is served")
    func embeddingsPerKey() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let keyA = try f.key(["other"])
        let keyB = try f.key(["other"])
        let gate = Gate()
        let provider = try await FakeProviderServer.start { request, ordinal in
            if ordinal == 0 { await gate.wait() }
            return embeddingsReply(request)
        }
        var c = try f.configuration(provider: provider)
        c.maxConcurrentEmbeddingsPerKey = 1
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        try await server.application().test(.live) { client in
            let port = try #require(client.port)
            let body = #"{"model":"kb:other","input":["cold parcels"]}"#
            let first = Task { try await send(port: port, "POST", "/v1/embeddings", key: keyA, body: body) }
            #expect(try await eventually { !provider.requests.isEmpty })
            let second = try await send(port: port, "POST", "/v1/embeddings", key: keyA, body: body)
            #expect(second.status == 429, "\(second.body)")
            #expect(second.headers["retry-after"] == "1")
            let other = try await send(port: port, "POST", "/v1/embeddings", key: keyB, body: body)
            #expect(other.status == 200, "\(other.body)")
            gate.open()
            #expect(try await first.value.status == 200)
        }
        gate.open()
        await server.shutdown()
        await provider.shutdown()
    }

    @Test("Uploads: a key whose ingest job is still queued is refused (429) while another key uploads")
    func uploadsPerKey() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let keyA = try f.key(["facts"], scope: .write)
        let keyB = try f.key(["other"], scope: .write)
        var c = try f.configuration()
        c.maxConcurrentIngestsPerKey = 1
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        // The router without the job runner: queued jobs stay queued (and hold their slot).
        let app = Application(router: server.api.router())
        try await app.test(.router) { client in
            let boundary = "b-0123"
            func upload(_ kb: String, _ key: String, _ name: String) async throws -> TestResponse {
                let body =
                    "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\n\r\n"
                    + "# \(name)\n\nsome text\r\n--\(boundary)--\r\n"
                var headers = auth(key)
                headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
                return try await client.execute(
                    uri: "/api/v1/kbs/\(kb)/documents", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            #expect(try await upload("facts", keyA, "a.md").status == .accepted)
            let refused = try await upload("facts", keyA, "b.md")
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] == "1")
            #expect(try await upload("other", keyB, "c.md").status == .accepted)
            // Once the job has finished, the key may upload again.
            let lib = try Library(directory: f.data)
            for var job in try lib.jobs(kb: "facts") {
                job.state = .succeeded
                try lib.updateJob(job)
            }
            #expect(try await upload("facts", keyA, "d.md").status == .accepted)
        }
        await server.shutdown()
    }
}

@Suite("Embeddings bounded and cancellable")
struct EmbeddingBoundsTests {
    @Test("Too many texts, a text too long, too many characters in all: 400 naming the limit")
    func bounds() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let provider = try await FakeProviderServer.start { request, _ in embeddingsReply(request) }
        var c = try f.configuration(provider: provider)
        c.maxEmbeddingInputs = 4
        c.maxEmbeddingInputCharacters = 100
        c.maxEmbeddingRequestCharacters = 250
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        try await server.application().test(.router) { client in
            func embed(_ input: [String]) async throws -> TestResponse {
                let body = try JSONSerialization.data(withJSONObject: ["model": "kb:other", "input": input])
                return try await client.execute(
                    uri: "/v1/embeddings", method: .post, headers: auth(HardeningFixture.admin),
                    body: ByteBuffer(bytes: body))
            }
            let many = try await embed(Array(repeating: "x", count: 5))
            #expect(many.status == .badRequest)
            #expect(String(buffer: many.body).contains("the limit is 4 texts per request"))
            let long = try await embed(["short", String(repeating: "运", count: 101)])
            #expect(long.status == .badRequest)
            #expect(String(buffer: long.body).contains("input[1] is 101 characters long; the limit is 100"))
            let total = try await embed(Array(repeating: String(repeating: "a", count: 90), count: 3))
            #expect(total.status == .badRequest)
            #expect(String(buffer: total.body).contains("the limit is 250 characters per request"))
            #expect(provider.requests.isEmpty, "nothing was embedded")
            let fine = try await embed(Array(repeating: "a", count: 4))
            #expect(fine.status == .ok, "\(String(buffer: fine.body))")
        }
        await server.shutdown()
        await provider.shutdown()
    }

    @Test("A client that hangs up stops the embedding work and frees its slot")
    func hangUpCancels() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let gate = Gate()
        let provider = try await FakeProviderServer.start { request, _ in
            await gate.wait()
            return embeddingsReply(request)
        }
        let c = try f.configuration(provider: provider)
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        let admission = server.api.limits.rate
        try await server.application().test(.live) { client in
            let port = try #require(client.port)
            let body = #"{"model":"kb:other","input":["cold parcels"]}"#
            let socket = try Socket(port: port)
            socket.send(
                "POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(HardeningFixture.admin)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
            #expect(try await eventually { !provider.requests.isEmpty && admission.inFlight(.embedding) == 1 })
            socket.close()
            // The provider never answers: only the hang-up can end the work.
            #expect(try await eventually { admission.inFlight(.embedding) == 0 })
        }
        gate.open()
        await server.shutdown()
        await provider.shutdown()
    }

    @Test("A graceful shutdown (SIGTERM) interrupts embedding work instead of waiting for it")
    func shutdownInterrupts() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let gate = Gate()
        let provider = try await FakeProviderServer.start { request, _ in
            await gate.wait()
            return embeddingsReply(request)
        }
        var c = try f.configuration(provider: provider)
        c.port = try freePort()
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        let group = ServiceGroup(
            configuration: .init(
                services: [server.application()], gracefulShutdownSignals: [], logger: Logger(label: "t")))
        let finished = ShutdownFlag()
        let running = Task {
            defer { finished.set() }
            try await group.run()
        }
        let port = c.port
        #expect(try await eventually { (try? await send(port: port, "GET", "/readyz").status) == 200 })
        let request = Task {
            try? await send(
                port: port, "POST", "/v1/embeddings", key: HardeningFixture.admin,
                body: #"{"model":"kb:other","input":["cold parcels"]}"#)
        }
        #expect(try await eventually { !provider.requests.isEmpty })
        await group.triggerGracefulShutdown()
        // Without the interruption the server would wait for the provider, which never answers
        // until the gate opens: give it 20 s, then open the gate so that the test ends anyway.
        let stopped = try await eventually { finished.isSet }
        #expect(stopped, "the server kept waiting for the embedding work")
        gate.open()
        _ = try? await running.value
        let answer = await request.value
        #expect(answer == nil || answer?.status == 499, "\(String(describing: answer))")
        await server.shutdown()
        await provider.shutdown()
    }
}

/// A flag one task sets and another reads.
private final class ShutdownFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// A TCP port that was free a moment ago on 127.0.0.1.
private func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
        }
    }
    guard ok else { throw WendaoError(.internal, "no free port") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

@Suite("Server errors, logs and connections")
struct ServerErrorLogTests {
    @Test("Every 5xx is logged with the request id, also an error that is not an APIError")
    func fiveHundredsLogged() async throws {
        struct Boom: Error {}
        let logs = LogCapture()
        let router = Router(context: WendaoContext.self)
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ErrorMiddleware<WendaoContext>())
        router.get("boom") { _, _ -> Response in throw Boom() }
        router.get("gone") { _, _ -> Response in
            throw APIError(status: .badGateway, code: "unavailable", message: "the provider is down")
        }
        let app = Application(router: router, logger: logs.logger())
        try await app.test(.router) { client in
            let boom = try await client.execute(uri: "/boom", method: .get)
            #expect(boom.status == .internalServerError)
            #expect(errorCode(boom) == "internal")
            let id = try #require(boom.headers[HTTPField.Name("X-Request-Id")!])
            let line = logs.text.split(separator: "\n").first { $0.contains("request failed") && $0.contains("Boom") }
            #expect(line?.contains(id) == true, "\(logs.text)")
            let gone = try await client.execute(uri: "/gone", method: .get)
            #expect(gone.status == .badGateway)
            #expect(logs.text.contains("the provider is down"))
        }
    }

    @Test("A stream that fails after its 200 went out is logged like a 5xx")
    func streamFailureLogged() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let logs = LogCapture()
        let provider = try await FakeProviderServer.start(script: [.json(#"{"error":{"message":"down"}}"#, status: 500)]
        )
        let server = try WendaoServer(configuration: try f.configuration(provider: provider), logger: logs.logger())
        try await server.application().test(.router) { client in
            let r = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: auth(HardeningFixture.admin),
                body: ByteBuffer(string: #"{"question":"首重收费多少钱？","model":"openai:m","stream":true}"#))
            #expect(r.status == .ok)
            #expect(String(buffer: r.body).contains("event: error"))
            let id = try #require(r.headers[HTTPField.Name("X-Request-Id")!])
            #expect(
                logs.text.split(separator: "\n").contains { $0.contains("stream failed") && $0.contains(id) },
                "\(logs.text)")
        }
        await server.shutdown()
        await provider.shutdown()
    }

    @Test("A body shorter than its Content-Length is a 400, logged with the request id")
    func truncatedBody() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let logs = LogCapture()
        let server = try WendaoServer(configuration: try f.configuration(), logger: logs.logger())
        try await server.application().test(.live) { client in
            let socket = try Socket(port: try #require(client.port))
            defer { socket.close() }
            socket.send(
                "POST /api/v1/kbs/facts/search HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(HardeningFixture.admin)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":")
            socket.shutdownWrite()
            let (answer, closed) = try await offConcurrencyPool { socket.readToEnd() }
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer.prefix(200))")
            #expect(closed)
        }
        await server.shutdown()
        let line = logs.text.split(separator: "\n").first { $0.contains("request malformed or cut short") }
        #expect(line?.contains("hb.request.id") == true, "\(logs.text.suffix(2000))")
        #expect(!logs.text.contains("status: 500"))
    }

    @Test("A full disk during an upload is a 507 'storage' error, logged; nothing is left behind")
    func uploadOnFullDisk() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let logs = LogCapture()
        var c = try f.configuration()
        c.openUploadFile = { _ in
            guard let h = FileHandle(forWritingAtPath: "/dev/full") else {
                throw WendaoError(.internal, "no /dev/full")
            }
            return h
        }
        let server = try WendaoServer(configuration: c, logger: logs.logger())
        try await server.application().test(.router) { client in
            let boundary = "b-0123"
            let body =
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.md\"\r\n\r\n"
                + String(repeating: "text ", count: 2000) + "\r\n--\(boundary)--\r\n"
            var headers = auth(HardeningFixture.admin)
            headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
            let r = try await client.execute(
                uri: "/api/v1/kbs/facts/documents", method: .post, headers: headers, body: ByteBuffer(string: body))
            #expect(r.status.code == 507, "\(String(buffer: r.body))")
            #expect(errorCode(r) == "storage")
            #expect(String(buffer: r.body).contains("No space left on device"))
            let id = try #require(r.headers[HTTPField.Name("X-Request-Id")!])
            #expect(logs.text.split(separator: "\n").contains { $0.contains("request failed") && $0.contains(id) })
        }
        await server.shutdown()
        #expect(try Library(directory: f.data).jobs(kb: "facts").isEmpty)
    }

    @Test("Idle connections, and connections whose headers never end, are closed")
    func idleTimeout() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        var c = try f.configuration()
        c.idleTimeout = .milliseconds(300)
        let server = try WendaoServer(configuration: c, logger: Logger(label: "t"))
        try await server.application().test(.live) { client in
            let port = try #require(client.port)
            // Nothing sent at all.
            let silent = try Socket(port: port)
            #expect(try await offConcurrencyPool { silent.readToEnd().closed }, "an idle connection stayed open")
            silent.close()
            // Headers that never end.
            let slow = try Socket(port: port)
            slow.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            #expect(
                try await offConcurrencyPool { slow.readToEnd().closed },
                "a connection with unfinished headers stayed open")
            slow.close()
            // Kept alive after a response, then idle.
            let kept = try Socket(port: port)
            kept.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let (text, closed) = try await offConcurrencyPool { kept.readToEnd() }
            #expect(text.hasPrefix("HTTP/1.1 200") && text.contains(#"{"status":"ok"}"#))
            #expect(closed, "a kept-alive connection stayed open")
            kept.close()
        }
        await server.shutdown()
    }

    @Test("The request log has method, path without query values, status, duration and request id")
    func requestLogRedactsQueries() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let logs = LogCapture()
        let server = try WendaoServer(configuration: try f.configuration(), logger: logs.logger())
        let secret = "wdk_SECRETsecretSECRETsecret0123456"
        try await server.application().test(.router) { client in
            let r = try await client.execute(
                uri: "/api/v1/kbs?api_key=\(secret)&\(secret)&x%0Ay=\(secret)", method: .get,
                headers: auth(HardeningFixture.admin))
            #expect(r.status == .ok)
            let id = try #require(r.headers[HTTPField.Name("X-Request-Id")!])
            let line = try #require(
                logs.text.split(separator: "\n").first { $0.contains(" request ") && $0.contains(id) })
            #expect(line.contains("/api/v1/kbs?api_key=REDACTED&REDACTED&REDACTED=REDACTED"), "\(line)")
            #expect(line.contains(#""method": GET"#) && line.contains(#""status": 200"#), "\(line)")
            #expect(line.contains(#""ms": "#) && line.contains("hb.request.id"), "\(line)")
        }
        await server.shutdown()
        #expect(!logs.text.contains("SECRET"), "\(logs.text)")
        #expect(!logs.text.contains(HardeningFixture.admin))
    }

    @Test("Using an API key records when it was last used (shown by the keys API)")
    func lastUsed() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let used = try f.key(["facts"], name: "used")
        _ = try f.key(["facts"], name: "idle")
        let server = try WendaoServer(configuration: try f.configuration(), logger: Logger(label: "t"))
        try await server.application().test(.router) { client in
            #expect(try await client.execute(uri: "/api/v1/kbs", method: .get, headers: auth(used)).status == .ok)
            let list = try await client.execute(
                uri: "/api/v1/keys", method: .get, headers: auth(HardeningFixture.admin))
            let keys = try #require(json(list)["keys"] as? [[String: Any]])
            let byName = Dictionary(uniqueKeysWithValues: keys.map { ($0["name"] as? String ?? "", $0) })
            #expect(byName["used"]?["last_used_at"] is String, "\(keys)")
            #expect(byName["idle"]?["last_used_at"] is NSNull)
            #expect(!String(buffer: list.body).contains(used))
            // Keys other than the admin's do not see the list.
            #expect(
                try await client.execute(uri: "/api/v1/keys", method: .get, headers: auth(used)).status == .notFound)
        }
        await server.shutdown()
        let record = try #require(try Library(directory: f.data).apiKeys().first { $0.name == "used" })
        #expect(record.lastUsedAt != nil)
        // `wendao keys list` shows it too.
        let list = try await WendaoCLI.runAsync(
            ["keys", "list", "--data", f.data.path], scratch: f.scratch, environment: [:])
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.first?.contains("LAST USED") == true, "\(list.stdout)")
        #expect(lines.first { $0.contains("\tused\t") }?.contains("never") == false, "\(list.stdout)")
        #expect(lines.first { $0.contains("\tidle\t") }?.contains("never") == true, "\(list.stdout)")
    }

    @Test("No route: 404 not_found; another method: 405 with Allow (TRACE too)")
    func unrouted() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let server = try WendaoServer(configuration: try f.configuration(), logger: Logger(label: "t"))
        try await server.application().test(.router) { client in
            let missing = try await client.execute(uri: "/api/v1/nothing-here", method: .get)
            #expect(missing.status == .notFound)
            #expect(errorCode(missing) == "not_found")
            let wrong = try await client.execute(uri: "/api/v1/kbs/facts/search", method: .get)
            #expect(wrong.status == .methodNotAllowed)
            #expect(errorCode(wrong) == "method_not_allowed")
            #expect(wrong.headers[.allow] == "POST")
            let kb = try await client.execute(uri: "/api/v1/kbs/facts", method: .put)
            #expect(kb.status == .methodNotAllowed)
            #expect(kb.headers[.allow] == "DELETE, GET, PATCH")
            let trace = try await client.execute(uri: "/healthz", method: .trace)
            #expect(trace.status == .methodNotAllowed)
            #expect(trace.headers[.allow] == "GET")
        }
        await server.shutdown()
    }

    @Test("A streamed ask or chat with a bad model is a plain 4xx, not a 200 stream with an error event")
    func validatedBeforeStreaming() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let server = try WendaoServer(configuration: try f.configuration(), logger: Logger(label: "t"))
        // The knowledge base's own model is one the server cannot call.
        let lib = try Library(directory: f.data)
        var settings = try lib.record("facts").settings
        settings.model = "nosuchprovider:x"
        try lib.open("facts").updateSettings(settings)
        try await server.application().test(.router) { client in
            let ask = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: auth(HardeningFixture.admin),
                body: ByteBuffer(string: #"{"question":"首重收费多少钱？","stream":true}"#))
            #expect((400..<500).contains(Int(ask.status.code)), "\(ask.status) \(String(buffer: ask.body))")
            #expect(ask.headers[.contentType]?.hasPrefix("application/json") == true)
            let chat = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: auth(HardeningFixture.admin),
                body: ByteBuffer(
                    string: #"{"model":"kb:facts","stream":true,"messages":[{"role":"user","content":"首重？"}]}"#))
            #expect((400..<500).contains(Int(chat.status.code)), "\(chat.status) \(String(buffer: chat.body))")
            #expect(chat.headers[.contentType]?.hasPrefix("application/json") == true)
        }
        await server.shutdown()
    }
}

@Suite("Server agrees with openapi.yaml")
struct ServerContractTests {
    @Test("ids beyond Int64 are 400; null optional fields mean absent; unsearchable queries find nothing")
    func contract() async throws {
        let f = try HardeningFixture()
        defer { f.scratch.remove() }
        let server = try WendaoServer(configuration: try f.configuration(), logger: Logger(label: "t"))
        let h = auth(HardeningFixture.admin)
        try await server.application().test(.router) { client in
            for uri in ["/api/v1/jobs/9223372036854775808", "/api/v1/kbs/facts/chunks/99999999999999999999"] {
                let r = try await client.execute(uri: uri, method: .get, headers: h)
                #expect(r.status == .badRequest, "\(uri)")
                #expect(errorCode(r) == "invalid_argument")
            }
            let nulls = try await client.execute(
                uri: "/api/v1/kbs/facts/search", method: .post, headers: h,
                body: ByteBuffer(string: #"{"query":"首重","top_k":null,"budget_chars":null,"mode":null}"#))
            #expect(nulls.status == .ok, "\(String(buffer: nulls.body))")
            #expect((json(nulls)["results"] as? [Any])?.isEmpty == false)
            // Only punctuation or stopwords: a valid query that finds nothing (was a 400).
            for q in ["!!!", "the"] {
                let none = try await client.execute(
                    uri: "/api/v1/kbs/facts/search", method: .post, headers: h,
                    body: ByteBuffer(string: #"{"query":"\#(q)"}"#))
                #expect(none.status == .ok, "\(q): \(String(buffer: none.body))")
                #expect((json(none)["results"] as? [Any])?.isEmpty == true)
                let ask = try await client.execute(
                    uri: "/api/v1/kbs/facts/ask", method: .post, headers: h,
                    body: ByteBuffer(string: #"{"question":"\#(q)"}"#))
                #expect(ask.status == .ok, "\(q): \(String(buffer: ask.body))")
                #expect(json(ask)["found"] as? Bool == false)
            }
            // Blank as JSON Schema's \s sees it (a byte-order mark, an ideographic space).
            let blank = try await client.execute(
                uri: "/api/v1/kbs/facts/search", method: .post, headers: h,
                body: ByteBuffer(string: "{\"query\":\"\u{FEFF}\u{3000}\"}"))
            #expect(blank.status == .badRequest)
            // 4096 Unicode scalars is the limit, however they combine into characters.
            let combining = String(repeating: "e\u{301}", count: 2049)
            let long = try await client.execute(
                uri: "/api/v1/kbs/facts/search", method: .post, headers: h,
                body: ByteBuffer(string: "{\"query\":\"\(combining)\"}"))
            #expect(long.status == .contentTooLarge)
            // Dense search needs an embedder: a conflict with the knowledge base's state.
            let dense = try await client.execute(
                uri: "/api/v1/kbs/facts/search", method: .post, headers: h,
                body: ByteBuffer(string: #"{"query":"首重","mode":"dense"}"#))
            #expect(dense.status == .conflict)
            // A well-formed model this server cannot use is not found; a malformed one is a 400.
            let unknown = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: h,
                body: ByteBuffer(string: #"{"question":"首重？","model":"nosuch:model"}"#))
            #expect(unknown.status == .notFound)
            let noKey = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: h,
                body: ByteBuffer(string: #"{"question":"首重？","model":"deepseek:deepseek-chat"}"#))
            #expect(noKey.status == .notFound, "\(String(buffer: noKey.body))")
            let malformed = try await client.execute(
                uri: "/api/v1/kbs/facts/ask", method: .post, headers: h,
                body: ByteBuffer(string: #"{"question":"首重？","model":"nocolon"}"#))
            #expect(malformed.status == .badRequest)
            // Chat: content of another type, temperature out of range.
            for body in [
                #"{"model":"kb:facts","messages":[{"role":"user","content":5}]}"#,
                #"{"model":"kb:facts","messages":[{"role":"user","content":[{"text":5}]}]}"#,
                #"{"model":"kb:facts","temperature":3,"messages":[{"role":"user","content":"首重？"}]}"#,
                #"{"model":"kb:facts","max_tokens":0,"messages":[{"role":"user","content":"首重？"}]}"#,
            ] {
                let r = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: h, body: ByteBuffer(string: body))
                #expect(r.status == .badRequest, "\(body) → \(r.status)")
            }
            let parts = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: h,
                body: ByteBuffer(
                    string:
                        #"{"model":"kb:facts","messages":[{"role":"system","content":null},{"role":"user","content":[{"type":"text","text":"首重收费"},{"type":"text","text":"多少钱？"}]}]}"#
                ))
            #expect(parts.status == .ok, "\(String(buffer: parts.body))")
        }
        await server.shutdown()
    }
}
