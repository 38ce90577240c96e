import Foundation
import NIOCore
import NIOPosix
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
import WendaoLoaders
import WendaoRAG
import WendaoWeb

// Every test here either refuses before any socket is opened or talks to a listener the test started
// on 127.0.0.1. Name resolution is a map; the connector records each connect and refuses (and fails
// the test) for anything but 127.0.0.1.

// MARK: - Test doubles

private final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    var get: Value { lock.withLock { value } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&value) } }
}

private struct MapResolver: HostResolver {
    let map: [String: [String]]
    let lookups = Locked<[String]>([])

    func resolve(host: String) async throws -> [WebIPAddress] {
        lookups.mutate { $0.append(host) }
        guard let list = map[host] else { throw WendaoError(.unavailable, "no such test host \(host)") }
        return list.compactMap(WebIPAddress.init)
    }
}

private final class RecordingConnector: WebConnector {
    let inner = NIOWebConnector()
    let connects = Locked<[String]>([])

    func connect(to address: SocketAddress, target: WebTarget, connectTimeout: Duration) async throws -> WebConnection {
        connects.mutate { $0.append(address.ipAddress ?? "?") }
        guard address.ipAddress == "127.0.0.1" else {
            Issue.record("connect attempted to \(address)")
            throw WendaoError(.internal, "test connector refuses \(address)")
        }
        return try await inner.connect(to: address, target: target, connectTimeout: connectTimeout)
    }
}

// MARK: - A scripted HTTP server on 127.0.0.1

private struct TestRequest: Sendable {
    var path: String
    var headers: [String: String]
}

private enum Reply: Sendable {
    /// A complete response with Content-Length.
    case page(status: Int, type: String = "text/html; charset=utf-8", headers: [String: String] = [:], body: String)
    /// Raw bytes; then the connection is held open for a while (or closed).
    case raw(String, hold: Bool)
    /// A 200 whose body never ends: `chunk` bytes every `interval`.
    case forever(chunk: Int, interval: Duration)
}

private final class TestServer: Sendable {
    let port: Int
    let requests = Locked<[TestRequest]>([])
    private let listener: any Channel
    private let task: Locked<Task<Void, Never>?> = Locked(nil)

    private init(port: Int, listener: any Channel) {
        self.port = port
        self.listener = listener
    }

    static func start(_ handler: @escaping @Sendable (TestRequest) -> Reply) async throws -> TestServer {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let server = TestServer(port: listener.channel.localAddress?.port ?? 0, listener: listener.channel)
        let task = Task<Void, Never> {
            _ = try? await listener.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { tasks in
                    for try await connection in inbound {
                        tasks.addTask { await server.serve(connection, handler) }
                    }
                }
            }
        }
        server.task.mutate { $0 = task }
        return server
    }

    /// Stops accepting and cancels every connection task (their channels close as they end). The
    /// shared event loop group stays up, so nothing is scheduled on a loop that has shut down.
    func stop() {
        task.get?.cancel()
        listener.close(promise: nil)
    }

    private func serve(
        _ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, _ handler: @Sendable (TestRequest) -> Reply
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            var bytes: [UInt8] = []
            for try await buffer in inbound {
                bytes += buffer.readableBytesView
                if let end = String(decoding: bytes, as: UTF8.self).range(of: "\r\n\r\n") {
                    let head = String(decoding: bytes, as: UTF8.self)[..<end.lowerBound]
                    let lines = head.components(separatedBy: "\r\n")
                    let path = lines[0].split(separator: " ").dropFirst().first.map(String.init) ?? "/"
                    var headers: [String: String] = [:]
                    for line in lines.dropFirst() {
                        guard let colon = line.firstIndex(of: ":") else { continue }
                        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                            .trimmingCharacters(in: .whitespaces)
                    }
                    let request = TestRequest(path: path, headers: headers)
                    requests.mutate { $0.append(request) }
                    try await respond(handler(request), outbound)
                    return
                }
            }
        }
    }

    private func respond(_ reply: Reply, _ out: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        switch reply {
        case .page(let status, let type, let headers, let body):
            var head = "HTTP/1.1 \(status) X\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n"
            for (k, v) in headers { head += "\(k): \(v)\r\n" }
            head += "Connection: close\r\n\r\n"
            try await out.write(ByteBuffer(string: head + body))
        case .raw(let text, let hold):
            try await out.write(ByteBuffer(string: text))
            if hold { try await Task.sleep(for: .seconds(10)) }
        case .forever(let chunk, let interval):
            try await out.write(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"))
            let piece = ByteBuffer(repeating: UInt8(ascii: "a"), count: chunk)
            while !Task.isCancelled {
                try await out.write(piece)
                try await Task.sleep(for: interval)
            }
        }
    }
}

// MARK: - Helpers

private let loopbackOnly = ["127.0.0.1/32"]

private func makeFetcher(
    allow: [String] = loopbackOnly, hosts: [String: [String]] = [:], limits: WebFetchLimits = WebFetchLimits()
) throws -> (WebFetcher, MapResolver, RecordingConnector) {
    let resolver = MapResolver(map: hosts)
    let connector = RecordingConnector()
    var l = limits
    if l.totalTimeout > .seconds(60) { l.totalTimeout = .seconds(60) }
    let fetcher = WebFetcher(
        policy: try WebAddressPolicy(allowList: allow), limits: l, resolver: resolver, connector: connector)
    return (fetcher, resolver, connector)
}

private func url(_ s: String) throws -> URL { try #require(URL(string: s)) }

/// The WendaoError a fetch throws (Issue recorded when it does not throw one).
private func fetchError(_ fetcher: WebFetcher, _ s: String) async throws -> WendaoError? {
    do {
        _ = try await fetcher.fetch(try url(s))
        Issue.record("fetch of \(s) succeeded")
        return nil
    } catch let error as WendaoError {
        return error
    }
}

private func body(_ result: WebFetchResult) -> String? {
    if case .fetched(let r) = result { return String(decoding: r.body, as: UTF8.self) }
    return nil
}

// MARK: - Address policy

@Suite struct WebAddressPolicyTests {
    @Test func ipv4SpellingsParseLikeInetAton() {
        let loopback: [UInt8] = [127, 0, 0, 1]
        for s in [
            "127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7f.0.0.1", "0x7F.00.0.01", "017700000001",
        ] {
            #expect(WebIPAddress(s)?.bytes == loopback, "\(s)")
        }
        #expect(WebIPAddress("10.1")?.bytes == [10, 0, 0, 1])
        #expect(WebIPAddress("10.1.258")?.bytes == [10, 1, 1, 2])
        #expect(WebIPAddress("0xa9fea9fe")?.bytes == [169, 254, 169, 254])
        for bad in ["256.1.1.1", "1.2.3.4.5", "08.1.1.1", "1..1", "", "4294967296", "1.2.3.0x100", "abc"] {
            #expect(WebIPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func ipv6ParsesCompressedEmbeddedAndZoned() throws {
        #expect(WebIPAddress("::ffff:7f00:1")?.description == "::ffff:7f00:1")
        #expect(WebIPAddress("::ffff:127.0.0.1")?.bytes == WebIPAddress("::ffff:7f00:1")?.bytes)
        #expect(WebIPAddress("[::1]")?.bytes == Array(repeating: 0, count: 15) + [1])
        let zoned = try #require(WebIPAddress("fe80::1%eth0"))
        #expect(zoned.zone == "eth0")
        #expect(WebIPAddress("2001:db8::1:0:0:1")?.description == "2001:db8::1:0:0:1")
        for bad in ["1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "::ffff:1.2.3", "::g"] {
            #expect(WebIPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func refusesEveryNonPublicRange() throws {
        let refused = [
            "127.0.0.1", "10.2.3.4", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "169.254.1.1",
            "100.64.0.1", "100.127.255.254", "224.0.0.1", "255.255.255.255", "0.0.0.0", "0.1.2.3", "192.0.0.8",
            "198.18.0.1", "198.19.255.1", "240.0.0.1", "::", "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1",
            "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1",
            "64:ff9b::10.0.0.1", "2002:a00:1::", "2002:7f00:1::1", "::ffff:0:192.168.0.1", "fec0::1",
        ]
        for s in refused {
            let a = try #require(WebIPAddress(s), "\(s)")
            #expect(WebAddressPolicy.refusalReason(a) != nil, "\(s) should be refused")
        }
        for s in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "64:ff9b::8.8.8.8"] {
            let a = try #require(WebIPAddress(s), "\(s)")
            #expect(WebAddressPolicy.refusalReason(a) == nil, "\(s) should be public")
        }
        #expect(WebAddressPolicy.refusalReason(try #require(WebIPAddress("169.254.169.254"))) == "cloud metadata")
    }

    @Test func allowListAdmitsIntranetButNotMetadataByName() throws {
        let policy = try WebAddressPolicy(allowList: ["10.0.0.0/8", "Wiki.Corp."])
        try policy.check(try #require(WebIPAddress("10.9.8.7")), host: "x.test")
        try policy.check(try #require(WebIPAddress("192.168.1.5")), host: "wiki.corp")
        #expect(throws: WendaoError.self) {
            try policy.check(try #require(WebIPAddress("192.168.1.5")), host: "x.test")
        }
        #expect(throws: WendaoError.self) {
            try policy.check(try #require(WebIPAddress("169.254.169.254")), host: "wiki.corp")
        }
        #expect(throws: WendaoError.self) { try WebAddressPolicy(allowList: ["10.0.0.0/33"]) }
        #expect(throws: WendaoError.self) { try WebAddressPolicy(allowList: ["not a host"]) }
        let off = WebAddressPolicy()
        #expect(throws: WendaoError.self) { try off.check(try #require(WebIPAddress("10.9.8.7")), host: "x.test") }
    }

    @Test func networkContainment() throws {
        let n = try WebNetwork("172.16.0.0/12")
        #expect(n.contains(try #require(WebIPAddress("172.31.1.1"))))
        #expect(!n.contains(try #require(WebIPAddress("172.32.0.0"))))
        #expect(try WebNetwork("10.1.2.3/8").description == "10.0.0.0/8")
        #expect(try WebNetwork("fd00::/8").contains(try #require(WebIPAddress("fd12::1"))))
    }
}

// MARK: - Guarded fetcher: refusals without any socket

@Suite struct WebFetcherRefusalTests {
    @Test func literalInternalAddressesRefusedWithoutConnecting() async throws {
        let (fetcher, resolver, connector) = try makeFetcher(allow: [])
        let urls = [
            "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1/", "http://[::1]/", "http://0x7f.1/",
            "http://2130706433/", "http://0177.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/", "http://10.1/", "http://[fd00:ec2::254]/", "http://[64:ff9b::a9fe:a9fe]/",
            "http://0xa9fea9fe/", "http://127.0.0.1.:8080/", "http://%31%32%37.0.0.1/", "https://[fe80::1%25eth0]/",
            "http://0/", "http://1.2.3.4.5/", "http://[2002:a9fe:a9fe::]/",
        ]
        for s in urls {
            let error = try await fetchError(fetcher, s)
            #expect(error?.code == .invalidArgument, "\(s): \(String(describing: error))")
            let reason = error?.message ?? ""
            #expect(reason.contains("addresses are not fetched") || reason.contains("malformed"), "\(s): \(reason)")
        }
        #expect(connector.connects.get.isEmpty)
        #expect(resolver.lookups.get.isEmpty)
    }

    @Test func namesResolvingInwardRefusedWithoutConnecting() async throws {
        let hosts = [
            "evil.test": ["10.0.0.1"], "meta.test": ["169.254.169.254"], "mixed.test": ["93.184.216.34", "10.0.0.1"],
            "meta6.test": ["::ffff:169.254.169.254"], "ula.test": ["fd00:ec2::254"],
        ]
        let (fetcher, resolver, connector) = try makeFetcher(allow: [], hosts: hosts)
        for host in hosts.keys.sorted() {
            let error = try await fetchError(fetcher, "http://\(host)/page")
            #expect(error?.code == .invalidArgument, "\(host): \(String(describing: error))")
            #expect(error?.message.contains(host) == true)
        }
        #expect(Set(resolver.lookups.get) == Set(hosts.keys))
        #expect(connector.connects.get.isEmpty)
    }

    @Test func schemesAndUserInfoRefused() async throws {
        let (fetcher, _, connector) = try makeFetcher(allow: [], hosts: ["site.test": ["93.184.216.34"]])
        for s in ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://site.test/a", "data:text/plain,hi"] {
            #expect(try await fetchError(fetcher, s)?.code == .unsupported, "\(s)")
        }
        for s in ["http://user:pw@site.test/", "http://user@93.184.216.34/", "https://@site.test/"] {
            let error = try await fetchError(fetcher, s)
            #expect(error?.code == .invalidArgument, "\(s)")
        }
        #expect(connector.connects.get.isEmpty)
    }
}

// MARK: - Guarded fetcher against a local listener

@Suite struct WebFetcherServerTests {
    @Test func fetchesWithHeadersAndContentType() async throws {
        let server = try await TestServer.start { _ in
            .page(status: 200, type: "text/html; charset=ISO-8859-1", headers: ["ETag": "\"v1\""], body: "<p>hi</p>")
        }
        defer { server.stop() }
        let (fetcher, resolver, connector) = try makeFetcher(hosts: ["site.test": ["127.0.0.1"]])
        let result = try await fetcher.fetch(try url("http://site.test:\(server.port)/a?b=1"))
        guard case .fetched(let page) = result else {
            Issue.record("expected a page")
            return
        }
        #expect(page.status == 200)
        #expect(page.contentType == "text/html")
        #expect(page.charset == "iso-8859-1")
        #expect(page.etag == "\"v1\"")
        #expect(page.isHTML)
        #expect(try page.text() == "<p>hi</p>")
        let request = try #require(server.requests.get.first)
        #expect(request.path == "/a?b=1")
        #expect(request.headers["host"] == "site.test:\(server.port)")
        #expect(request.headers["accept-encoding"] == "identity")
        #expect(request.headers["user-agent"]?.hasPrefix(WebFetcher.productToken) == true)
        #expect(resolver.lookups.get == ["site.test"])
        #expect(connector.connects.get == ["127.0.0.1"])
    }

    @Test func redirectsToInternalTargetsRefusedWithoutConnecting() async throws {
        let server = try await TestServer.start { request in
            switch request.path {
            case "/to-evil": .page(status: 302, headers: ["Location": "http://evil.test/"], body: "")
            case "/to-ten": .page(status: 301, headers: ["Location": "http://10.0.0.1/"], body: "")
            case "/to-meta": .page(status: 307, headers: ["Location": "http://0xa9fea9fe/latest"], body: "")
            default: .page(status: 200, body: "ok")
            }
        }
        defer { server.stop() }
        let (fetcher, _, connector) = try makeFetcher(hosts: ["evil.test": ["10.0.0.1"]])
        for path in ["/to-evil", "/to-ten", "/to-meta"] {
            let error = try await fetchError(fetcher, "http://127.0.0.1:\(server.port)\(path)")
            #expect(error?.code == .invalidArgument, "\(path): \(String(describing: error))")
        }
        #expect(connector.connects.get == ["127.0.0.1", "127.0.0.1", "127.0.0.1"])
    }

    @Test func redirectsFollowedAndLoopsStopped() async throws {
        let server = try await TestServer.start { request in
            switch request.path {
            case "/old": .page(status: 301, headers: ["Location": "/new"], body: "")
            case "/new": .page(status: 200, body: "new page")
            case "/loop1": .page(status: 302, headers: ["Location": "/loop2"], body: "")
            case "/loop2": .page(status: 302, headers: ["Location": "/loop1"], body: "")
            default: .page(status: 302, headers: ["Location": "/chain\(Int.random(in: 0..<1_000_000))"], body: "")
            }
        }
        defer { server.stop() }
        let (fetcher, _, _) = try makeFetcher()
        let result = try await fetcher.fetch(try url("http://127.0.0.1:\(server.port)/old"))
        guard case .fetched(let page) = result else {
            Issue.record("expected a page")
            return
        }
        #expect(page.url.path == "/new")
        #expect(String(decoding: page.body, as: UTF8.self) == "new page")
        let loop = try await fetchError(fetcher, "http://127.0.0.1:\(server.port)/loop1")
        #expect(loop?.code == .limitExceeded)
        #expect(server.requests.get.filter { $0.path.hasPrefix("/loop") }.count == 2)
        let chain = try await fetchError(fetcher, "http://127.0.0.1:\(server.port)/chain")
        #expect(chain?.code == .limitExceeded)
        #expect(chain?.message.contains("redirects") == true)
    }

    @Test(.tags(.slow), .timeLimit(.minutes(3))) func redirectFromAnHTTP10ServerThatClosesAtOnce() async throws {
        // An HTTP/1.0 server answers a redirect as soon as it has the request head and closes the
        // connection. The fetcher wrote the request's end in a second write; when the close was
        // seen before that write (a busy machine: 5 times in 12 for the reviewer) the fetch failed
        // with "I/O on closed channel" although the answer had arrived. Threads spinning on every
        // core keep the machine busy for the length of the test, so that the close comes first
        // now and then (2 to 7 fetches in 300 here before the fix).
        let server = try await TestServer.start { request in
            switch request.path {
            case "/old": .raw("HTTP/1.0 302 Found\r\nLocation: /new\r\n\r\n", hold: false)
            default: .raw("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\nnew page", hold: false)
            }
        }
        defer { server.stop() }
        let busy = Locked(true)
        for _ in 0..<(ProcessInfo.processInfo.activeProcessorCount + 1) {
            Thread.detachNewThread {
                var x = 0
                while busy.get { for i in 0..<10_000 { x &+= i } }
                _ = x
            }
        }
        defer { busy.mutate { $0 = false } }
        let (fetcher, _, _) = try makeFetcher()
        let target = try url("http://127.0.0.1:\(server.port)/old")
        var failures: [String] = []
        for _ in 0..<600 {
            do {
                let result = try await fetcher.fetch(target)
                if body(result) != "new page" { failures.append("body: \(body(result) ?? "none")") }
            } catch {
                failures.append("\(error)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of 600 fetches failed: \(Set(failures).sorted().prefix(3))")
    }

    // The server never ends either body: without the cap and the time limit both fetches would hang
    // until the test's own time limit. The bound is generous because the whole suite runs in
    // parallel on two cores (45 s was seen there; 0.9 s alone).
    @Test(.timeLimit(.minutes(3))) func endlessBodyEndsAtCapOrTimeLimit() async throws {
        let server = try await TestServer.start { request in
            request.path == "/fast"
                ? .forever(chunk: 16_384, interval: .milliseconds(1)) : .forever(chunk: 10, interval: .milliseconds(50))
        }
        defer { server.stop() }
        var limits = WebFetchLimits()
        limits.maxBodyBytes = 256 * 1024
        limits.totalTimeout = .milliseconds(800)
        let (fetcher, _, _) = try makeFetcher(limits: limits)
        let clock = ContinuousClock()
        let started = clock.now
        let fast = try await fetchError(fetcher, "http://127.0.0.1:\(server.port)/fast")
        #expect(fast?.code == .limitExceeded || fast?.code == .timeout)
        let slow = try await fetchError(fetcher, "http://127.0.0.1:\(server.port)/slow")
        #expect(slow?.code == .timeout)
        #expect(clock.now - started < .seconds(120), "the 0.8 s limit was not applied")
    }

    @Test func hugeContentLengthRefusedBeforeReading() async throws {
        let server = try await TestServer.start { _ in
            .raw("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10737418240\r\n\r\n<p>", hold: true)
        }
        defer { server.stop() }
        // The server never sends the body: only a refusal on the header can end this before the
        // time limit (a generous one, so that a loaded machine does not turn it into a timeout).
        var limits = WebFetchLimits()
        limits.totalTimeout = .seconds(60)
        let (fetcher, _, _) = try makeFetcher(limits: limits)
        let error = try await fetchError(fetcher, "http://127.0.0.1:\(server.port)/big")
        #expect(error?.code == .limitExceeded)
    }

    @Test func chunkedBodyOverCapCut() async throws {
        let chunk = String(repeating: "x", count: 4096)
        var raw = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in 0..<40 { raw += "1000\r\n\(chunk)\r\n" }
        raw += "0\r\n\r\n"
        let response = raw
        let server = try await TestServer.start { request in
            request.path == "/small"
                ? .raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", hold: false)
                : .raw(response, hold: false)
        }
        defer { server.stop() }
        var limits = WebFetchLimits()
        limits.maxBodyBytes = 64 * 1024
        let (fetcher, _, _) = try makeFetcher(limits: limits)
        let error = try await fetchError(fetcher, "http://127.0.0.1:\(server.port)/big")
        #expect(error?.code == .limitExceeded)
        let small = try await fetcher.fetch(try url("http://127.0.0.1:\(server.port)/small"))
        #expect(body(small) == "hello")
    }

    @Test func etagRevalidationGivesNotModified() async throws {
        let server = try await TestServer.start { request in
            request.headers["if-none-match"] == "\"v7\""
                ? .page(status: 304, body: "")
                : .page(
                    status: 200, headers: ["ETag": "\"v7\"", "Last-Modified": "Tue, 01 Jul 2025 10:00:00 GMT"],
                    body: "<p>v7</p>")
        }
        defer { server.stop() }
        let (fetcher, _, _) = try makeFetcher()
        let u = try url("http://127.0.0.1:\(server.port)/doc")
        guard case .fetched(let first) = try await fetcher.fetch(u) else {
            Issue.record("expected a page")
            return
        }
        #expect(first.lastModified == "Tue, 01 Jul 2025 10:00:00 GMT")
        let second = try await fetcher.fetch(u, validators: first.validators)
        guard case .notModified(let final) = second else {
            Issue.record("expected notModified")
            return
        }
        #expect(final.path == "/doc")
        // A validator carrying CR/LF is not sent (no header injection).
        let injected = WebValidators(etag: "\"v7\"\r\nX-Evil: 1")
        #expect(body(try await fetcher.fetch(u, validators: injected)) == "<p>v7</p>")
        let sent = server.requests.get
        #expect(sent.count == 3)
        #expect(sent[1].headers["if-modified-since"] == "Tue, 01 Jul 2025 10:00:00 GMT")
        #expect(sent[2].headers["if-none-match"] == nil)
        #expect(sent[2].headers["x-evil"] == nil)
    }

    @Test func errorStatusesNamed() async throws {
        let server = try await TestServer.start { request in
            request.path == "/gone" ? .page(status: 404, body: "no") : .page(status: 503, body: "busy")
        }
        defer { server.stop() }
        let (fetcher, _, _) = try makeFetcher()
        let missing = try await fetchError(fetcher, "http://127.0.0.1:\(server.port)/gone")
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("404") == true)
        let busy = try await fetchError(fetcher, "http://127.0.0.1:\(server.port)/busy")
        #expect(busy?.code == .unavailable)
        #expect(busy?.message.contains("503") == true)
    }
}

// MARK: - Crawler

private func site(robots: Reply) -> @Sendable (TestRequest) -> Reply {
    { request in
        switch request.path {
        case "/robots.txt":
            return robots
        case "/sitemap.xml":
            return .page(
                status: 200, type: "application/xml",
                body: """
                    <?xml version="1.0" encoding="UTF-8"?>
                    <sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
                      <sitemap><loc>http://site.test:PORT/sitemap.xml</loc></sitemap>
                      <sitemap><loc>/sitemap2.xml</loc></sitemap>
                      <sitemap><loc>http://site.test:PORT/sitemap2.xml</loc></sitemap>
                    </sitemapindex>
                    """)
        case "/sitemap2.xml":
            return .page(
                status: 200, type: "application/xml",
                body: """
                    <sitemapindex><sitemap><loc>http://site.test:PORT/sitemap.xml</loc></sitemap>
                    <sitemap><loc>http://site.test:PORT/urls.xml</loc></sitemap></sitemapindex>
                    """)
        case "/urls.xml":
            return .page(
                status: 200, type: "text/xml",
                body: "<urlset><url><loc>http://site.test:PORT/from-sitemap?a=1&amp;b=2</loc></url></urlset>")
        case "/":
            return .page(
                status: 200,
                body: """
                    <html><head><title>Home</title></head><body>
                    <a href="/a">A</a> <a href="a#top">A again</a> <a href="./a">A</a> <a href="b">B</a>
                    <a href="http://other.test/x">elsewhere</a> <a href="mailto:x@y">mail</a>
                    <a href="/private/secret">secret</a> <a href="/file.bin">bin</a>
                    </body></html>
                    """)
        case "/a":
            return .page(status: 200, body: "<p>A</p><a href=\"/a/deeper\">deeper</a><a href=\"/\">home</a>")
        case "/a/deeper":
            return .page(status: 200, body: "<p>deeper</p>")
        case "/b":
            return .page(status: 200, type: "application/pdf", body: "%PDF-1.4 fake")
        case "/file.bin":
            return .page(status: 200, type: "application/octet-stream", body: "bytes")
        case "/from-sitemap?a=1&b=2":
            return .page(status: 200, body: "<p>listed</p>")
        default:
            return .page(status: 404, body: "none")
        }
    }
}

/// Replaces PORT in sitemap bodies with the server's port.
private func withPort(_ handler: @escaping @Sendable (TestRequest) -> Reply, _ port: Locked<Int>)
    -> @Sendable (
        TestRequest
    ) -> Reply
{
    { request in
        switch handler(request) {
        case .page(let status, let type, let headers, let body):
            .page(
                status: status, type: type, headers: headers,
                body: body.replacingOccurrences(of: "PORT", with: "\(port.get)"))
        case let other: other
        }
    }
}

private func runCrawl(
    robots: Reply = .page(status: 200, type: "text/plain", body: "User-agent: *\nDisallow: /private/\n"),
    configure: (inout WebCrawlOptions) -> Void
) async throws -> (events: [WebCrawlEvent], requests: [String], lookups: [String]) {
    let port = Locked(0)
    let server = try await TestServer.start(withPort(site(robots: robots), port))
    port.mutate { $0 = server.port }
    defer { server.stop() }
    let (fetcher, resolver, connector) = try makeFetcher(hosts: ["site.test": ["127.0.0.1"]])
    var options = WebCrawlOptions()
    configure(&options)
    let crawler = WebCrawler(fetcher: fetcher, options: options)
    let events = Locked<[WebCrawlEvent]>([])
    try await crawler.crawl(from: try url("http://site.test:\(server.port)/")) { event in
        events.mutate { $0.append(event) }
    }
    #expect(connector.connects.get.allSatisfy { $0 == "127.0.0.1" })
    return (events.get, server.requests.get.map(\.path), resolver.lookups.get)
}

private func pagePaths(_ events: [WebCrawlEvent]) -> [String] {
    events.compactMap { event in
        guard case .page(let page) = event else { return nil }
        let q = page.resource.url.query.map { "?" + $0 } ?? ""
        return page.resource.url.path + q
    }
}

@Suite struct WebCrawlerTests {
    @Test func crawlHonoursRobotsSitemapsOriginAndDedupe() async throws {
        let (events, requests, lookups) = try await runCrawl { $0.maxDepth = 1 }
        let pages = pagePaths(events)
        #expect(Set(pages) == ["/", "/a", "/b", "/from-sitemap?a=1&b=2"])
        #expect(pages.first == "/")
        // Robots: the disallowed page is never requested, and reported.
        #expect(!requests.contains("/private/secret"))
        #expect(
            events.contains {
                if case .skipped(let u, let r) = $0 {
                    u.path == "/private/secret" && r.contains("robots")
                } else {
                    false
                }
            })
        // Same origin only: the other host is never even resolved.
        #expect(!lookups.contains("other.test"))
        // Deduped: /a linked three ways, fetched once; the cyclic sitemap index read once.
        #expect(requests.filter { $0 == "/a" }.count == 1)
        #expect(requests.filter { $0 == "/sitemap.xml" }.count == 1)
        #expect(requests.filter { $0 == "/sitemap2.xml" }.count == 1)
        #expect(requests.filter { $0 == "/robots.txt" }.count == 1)
        // Depth 1: /a/deeper is two hops away.
        #expect(!requests.contains("/a/deeper"))
        // Non-HTML/PDF resources are reported, not emitted.
        #expect(events.contains { if case .skipped(let u, _) = $0 { u.path == "/file.bin" } else { false } })
    }

    @Test func depthTwoReachesDeeperAndPageLimitStops() async throws {
        let deep = try await runCrawl { $0.maxDepth = 2 }
        #expect(pagePaths(deep.events).contains("/a/deeper"))
        let limited = try await runCrawl {
            $0.maxDepth = 5
            $0.maxPages = 2
        }
        #expect(pagePaths(limited.events).count == 2)
        let pageRequests = limited.requests.filter { !$0.hasSuffix(".txt") && !$0.hasSuffix(".xml") }
        #expect(pageRequests.count == 2)
        let startOnly = try await runCrawl { $0.maxDepth = 0 }
        #expect(pagePaths(startOnly.events) == ["/"])
        #expect(!startOnly.requests.contains("/sitemap.xml"))
    }

    @Test func unreachableRobotsRefusesAllMissingRobotsAllowsAll() async throws {
        let refused = try await runCrawl(robots: .page(status: 503, body: "down")) { $0.maxDepth = 1 }
        #expect(pagePaths(refused.events).isEmpty)
        #expect(refused.requests == ["/robots.txt"])
        let missing = try await runCrawl(robots: .page(status: 404, body: "none")) { $0.maxDepth = 1 }
        #expect(pagePaths(missing.events).contains("/a"))
        #expect(missing.requests.contains("/private/secret"))
    }

    @Test func robotsRulesLongestMatchWildcardsAndGroups() {
        let text = """
            # comment
            User-agent: otherbot
            Disallow: /

            User-agent: *
            Disallow: /

            User-agent: WendaoBot
            User-agent: friend
            Disallow: /docs/
            Allow: /docs/public/
            Disallow: /*.pdf$
            Disallow: /tmp*/cache
            Allow: /same
            Disallow: /same
            Sitemap: https://site.test/sm.xml
            """
        let rules = RobotsRules.parse(text, productToken: "wendaobot")
        #expect(rules.allows("/"))
        #expect(!rules.allows("/docs/a.html"))
        #expect(rules.allows("/docs/public/a.html"))
        #expect(!rules.allows("/x/report.pdf"))
        #expect(rules.allows("/x/report.pdf?download=1"))
        #expect(!rules.allows("/tmp123/cache/x"))
        #expect(rules.allows("/same"))
        #expect(rules.sitemaps == ["https://site.test/sm.xml"])
        let star = RobotsRules.parse(text, productToken: "nobody")
        #expect(!star.allows("/anything"))
        #expect(star.allows("/robots.txt"))
        #expect(RobotsRules.parse("", productToken: "x").allows("/a"))
        #expect(!RobotsRules.refuseAll.allows("/"))
    }

    @Test func sitemapParsingRefusesEntities() throws {
        let bomb = """
            <?xml version="1.0"?>
            <!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
            <urlset><url><loc>&lol2;</loc></url></urlset>
            """
        #expect(throws: WendaoError.self) { try Sitemap.parse(bomb) }
        let ok = try Sitemap.parse(
            "<urlset><url><loc> https://a.test/x?a=1&amp;b=2 </loc></url><url><loc><![CDATA[https://a.test/y]]></loc>"
                + "</url></urlset>")
        #expect(ok.kind == .urlSet)
        #expect(ok.locations == ["https://a.test/x?a=1&b=2", "https://a.test/y"])
        #expect(throws: WendaoError.self) { try Sitemap.parse("<html><body>no</body></html>") }
    }

    @Test func linksResolvedNormalisedAndDeduped() throws {
        let html = """
            <head><base href="https://site.test/docs/"></head>
            <a href="guide.html#intro">g</a><a href="guide.html">g</a><a href="/top">t</a>
            <a href="javascript:alert(1)">j</a><a href="mailto:a@b">m</a><a href="#local">l</a>
            <a href="https://other.test/p?q=1&amp;r=2">o</a><area href="../map">
            """
        let links = WebCrawler.links(in: html, base: try url("https://site.test/index.html")).map(\.absoluteString)
        #expect(
            links == [
                "https://site.test/docs/guide.html", "https://site.test/top", "https://other.test/p?q=1&r=2",
                "https://site.test/map",
            ])
    }
}

// MARK: - Main content

@Suite struct MainContentTests {
    @Test func dropsBoilerplateKeepsArticle() throws {
        let html = """
            <html><head><title>Returns policy &amp; FAQ</title><style>p{}</style></head><body>
            <header><a href="/">Logo</a><nav><a href="/1">One</a><a href="/2">Two</a></nav></header>
            <div class="cookie-banner">We use cookies. Accept?</div>
            <div class="layout">
              <div id="sidebar"><p>Sidebar text</p></div>
              <article>
                <header><h1>Returns</h1></header>
                <p>Items can be returned within 30 days of delivery.</p>
                <h2>Refused deliveries</h2>
                <p>A refused parcel is refunded once it is back in the warehouse.</p>
                <ul class="links"><li><a href="/x">Related one</a></li><li><a href="/y">Related two</a></li>
                <li><a href="/z">Related three</a></li></ul>
                <script>var tracking = 1;</script>
              </article>
            </div>
            <footer><p>Copyright 2025 Example Shop</p></footer>
            <div class="ad">Buy now</div>
            </body></html>
            """
        let doc = MainContent.extract(html: html, url: try url("https://shop.test/help/returns"))
        #expect(doc.title == "Returns policy & FAQ")
        let texts = doc.blocks.map(\.text)
        #expect(texts.contains("Items can be returned within 30 days of delivery."))
        #expect(texts.contains("Returns"))
        let refused = try #require(doc.blocks.first { $0.text.hasPrefix("A refused parcel") })
        #expect(refused.sectionPath == ["Returns", "Refused deliveries"])
        let all = texts.joined(separator: "\n")
        for gone in ["Logo", "One", "cookies", "Sidebar", "Copyright", "Buy now", "Related", "tracking"] {
            #expect(!all.contains(gone), "\(gone) should be dropped")
        }
    }

    @Test func prefersMainAndFallsBackToBody() throws {
        let withMain = MainContent.extract(
            html: "<body><div>Outside text</div><main><h2>Guide</h2><p>Inside text</p></main></body>", url: nil)
        #expect(withMain.blocks.map(\.text) == ["Guide", "Inside text"])
        #expect(withMain.title == "Guide")
        let plain = MainContent.extract(
            html: "<body><div class=\"menu\"><a href=/a>a</a></div><p>Only body text</p></body>",
            url: try url("https://x.test/page.html"))
        #expect(plain.blocks.map(\.text) == ["Only body text"])
        #expect(plain.title == "page.html")
        // Deep nesting costs no call stack.
        let deep = String(repeating: "<div>", count: 50_000) + "<p>bottom</p>"
        #expect(MainContent.extract(html: deep, url: nil).blocks.map(\.text) == ["bottom"])
    }
}

// MARK: - Web ingest into a knowledge base

@Suite struct WebIngestTests {
    @Test func pagesAreIngestedWithMainContentAndRevalidatedByETag() async throws {
        let server = try await TestServer.start { request in
            switch request.path {
            case "/robots.txt":
                return .page(status: 200, type: "text/plain", body: "User-agent: *\nDisallow: /private\n")
            case "/guide":
                if request.headers["if-none-match"] == "\"g1\"" { return .page(status: 304, body: "") }
                return .page(
                    status: 200, headers: ["ETag": "\"g1\""],
                    body: """
                        <html><head><title>寄件指南</title></head><body><nav>首页 关于 联系</nav>
                        <main><h1>寄件指南</h1><p>锂电池须单独包装，每件不超过两块。</p>
                        <a href="/faq">常见问题</a> <a href="/private/x">内部</a> <a href="https://other.example/">外站</a></main>
                        <footer>版权所有 © 迅达</footer></body></html>
                        """)
            case "/faq":
                return .page(status: 200, body: "<html><body><article><h2>签收</h2><p>本人签收或指定代收点签收均可。</p></article></body></html>")
            default:
                return .page(status: 404, body: "not found")
            }
        }
        defer { server.stop() }
        let scratch = try ScratchDirectory("webkb")
        defer { scratch.remove() }
        let library = try Library(directory: scratch.child("data"))
        try library.create("web")
        let kb = try library.open("web")
        let (fetcher, _, connector) = try makeFetcher()
        var web = WebIngestOptions()
        web.fetcher = fetcher
        let start = "http://127.0.0.1:\(server.port)/guide"

        let first = try await kb.ingestWeb([start], web: web)
        #expect(first.added == 1 && first.failed == 0, "\(first.results)")
        let hit = try #require(try kb.search("锂电池 包装").first)
        #expect(hit.document == start)
        #expect(!hit.text.contains("首页") && !hit.text.contains("版权所有"))
        let doc = try #require(try kb.documents().first)
        #expect(doc.title == "寄件指南" && doc.etag == "\"g1\"" && doc.source == start)

        // Again: the stored ETag is sent, the server answers 304, nothing changes.
        let again = try await kb.ingestWeb([start], web: web)
        #expect(again.unchanged == 1 && again.added == 0)

        // A crawl from the same page: same origin only, robots.txt honoured.
        web.crawl = true
        web.crawlOptions.maxDepth = 2
        let crawled = try await kb.ingestWeb([start], web: web)
        let paths = Set(crawled.results.map(\.path))
        #expect(paths.contains("http://127.0.0.1:\(server.port)/faq"), "\(crawled.results)")
        #expect(!paths.contains { $0.contains("/private") || $0.contains("other.example") })
        #expect(try kb.search("代收点 签收").first?.document == "http://127.0.0.1:\(server.port)/faq")
        #expect(!connector.connects.get.isEmpty && connector.connects.get.allSatisfy { $0 == "127.0.0.1" })

        // A refused address is one failed result, not an exception.
        let refused = try await kb.ingestWeb(["http://169.254.169.254/latest/meta-data"], web: web)
        #expect(refused.failed == 1)
        #expect(refused.results.first?.reason?.contains("metadata") == true)
    }
}


