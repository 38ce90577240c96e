import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix

/// An in-process HTTP/1.1 server that answers like an OpenAI-compatible provider from a script, for tests of the model
/// gateway. It records every request it receives so tests can assert headers, bodies, retries and timing.
///
/// Each connection is served by its own task (keep-alive and pipelining are supported), so a hung response on one
/// connection does not hold up others. Request bodies are collected in full (at most 16 MB; larger requests get a
/// 413 and the connection is closed) before the handler runs.
///
/// ```swift
/// let server = try await FakeProviderServer.start(script: [
///     .json(#"{"error":{"message":"busy"}}"#, status: 503),
///     .sse([#"{"choices":[{"index":0,"delta":{"content":"你好"}}]}"#], delay: .milliseconds(20)),
/// ])
/// // Point the client at server.baseURL ("http://127.0.0.1:PORT/v1") and make the call, then:
/// #expect(server.requests.count == 2)
/// #expect(server.requests[1].path == "/v1/chat/completions")
/// await server.shutdown()
/// ```
///
/// A response still sleeping in a ``FakeResponse/Part/delay(_:)`` or ``FakeResponse/delayBeforeHead`` when its client
/// goes away keeps its task until the delay ends or the server shuts down; always call ``shutdown()``.
public final class FakeProviderServer: Sendable {
    /// The largest request body the server collects.
    public static let maxRequestBodyBytes = 16 * 1024 * 1024

    /// The TCP port the server listens on (on 127.0.0.1).
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let listener: any Channel
    private let serveTask: Task<Void, Never>
    private let state: ServerState

    private init(
        port: Int, group: MultiThreadedEventLoopGroup, listener: any Channel, serveTask: Task<Void, Never>,
        state: ServerState
    ) {
        self.port = port
        self.group = group
        self.listener = listener
        self.serveTask = serveTask
        self.state = state
    }

    /// Starts on 127.0.0.1 with an OS-chosen port. `handler` sees each request (and its 0-based ordinal among all
    /// requests the server received) and returns the scripted response.
    ///
    /// ```swift
    /// let server = try await FakeProviderServer.start { request, ordinal in
    ///     request.path.hasSuffix("/models") ? .json(#"{"object":"list","data":[]}"#) : .text("nope", status: 404)
    /// }
    /// ```
    public static func start(
        _ handler: @escaping @Sendable (RecordedRequest, Int) async -> FakeResponse
    ) async throws -> FakeProviderServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener: NIOAsyncChannel<Connection, Never>
        do {
            listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: "127.0.0.1", port: 0) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let state = ServerState()
        let task = Task { await serve(listener, handler: handler, state: state) }
        return FakeProviderServer(
            port: listener.channel.localAddress?.port ?? 0, group: group, listener: listener.channel, serveTask: task,
            state: state
        )
    }

    /// Starts with a fixed script: request `i` gets `script[i]`; requests past the end get the last one (an empty
    /// script answers every request with 500).
    public static func start(script: [FakeResponse]) async throws -> FakeProviderServer {
        try await start { _, ordinal in
            guard let last = script.last else {
                return .json(#"{"error":{"message":"FakeProviderServer: empty script"}}"#, status: 500)
            }
            return ordinal < script.count ? script[ordinal] : last
        }
    }

    /// The OpenAI-style base URL, `"http://127.0.0.1:PORT/v1"`.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// Every request received so far, in arrival order (the order of the handler's ordinals).
    public var requests: [RecordedRequest] { state.requests }

    /// Stops accepting, closes open connections (including hung ones) and releases the event loop group. Idempotent;
    /// concurrent calls all return once the server is down.
    public func shutdown() async {
        let task = state.shutdownTask { [listener, serveTask, group] in
            listener.close(promise: nil)
            serveTask.cancel()
            await serveTask.value
            try? await group.shutdownGracefully()
        }
        await task.value
    }

    // MARK: - Serving

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private static func serve(
        _ listener: NIOAsyncChannel<Connection, Never>,
        handler: @escaping @Sendable (RecordedRequest, Int) async -> FakeResponse,
        state: ServerState
    ) async {
        try? await listener.executeThenClose { inbound in
            await withDiscardingTaskGroup { group in
                do {
                    for try await connection in inbound {
                        group.addTask { await serveConnection(connection, handler: handler, state: state) }
                    }
                } catch {
                    // The listener was closed or the task cancelled: stop accepting.
                }
            }
        }
    }

    /// What to do with a connection after a response.
    private enum Outcome {
        case keepAlive, close, hang
    }

    private static func serveConnection(
        _ connection: Connection,
        handler: @escaping @Sendable (RecordedRequest, Int) async -> FakeResponse,
        state: ServerState
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            var parts = inbound.makeAsyncIterator()
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            while let part = try await parts.next() {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body.clear()
                    let declared = requestHead.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
                    if declared > maxRequestBodyBytes {
                        try await rejectTooLarge(requestHead, outbound: outbound)
                        return
                    }
                case .body(var chunk):
                    guard let requestHead = head else { continue }
                    if body.readableBytes + chunk.readableBytes > maxRequestBodyBytes {
                        try await rejectTooLarge(requestHead, outbound: outbound)
                        return
                    }
                    body.writeBuffer(&chunk)
                case .end:
                    guard let requestHead = head else { continue }
                    head = nil
                    let request = RecordedRequest(
                        method: requestHead.method.rawValue,
                        path: requestHead.uri,
                        headers: requestHead.headers.map { ($0.name, $0.value) },
                        body: Data(buffer: body),
                        receivedAt: .now
                    )
                    let ordinal = state.record(request)
                    let response = await handler(request, ordinal)
                    switch try await send(response, for: requestHead, outbound: outbound) {
                    case .keepAlive:
                        continue
                    case .close:
                        return
                    case .hang:
                        // Send nothing more; wait for the client to go away (end of input) or for shutdown
                        // (cancellation), then close.
                        while try await parts.next() != nil {}
                        return
                    }
                }
            }
        }
    }

    private static func send(
        _ response: FakeResponse, for request: HTTPRequestHead,
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws -> Outcome {
        if response.delayBeforeHead > .zero {
            try await Task.sleep(for: response.delayBeforeHead)
        }
        if response.closesBeforeHead { return .close }
        var headers = HTTPHeaders(response.headers)
        let clientKeepsAlive = request.isKeepAlive
        if !clientKeepsAlive && !headers.contains(name: "connection") {
            headers.add(name: "Connection", value: "close")
        }
        let closeAfter = !clientKeepsAlive || headers["connection"].contains { $0.lowercased() == "close" }
        let status = HTTPResponseStatus(statusCode: response.status)
        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
        for part in response.parts {
            switch part {
            case .data(let data):
                if !data.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(data: data)))) }
            case .delay(let duration):
                try await Task.sleep(for: duration)
            case .close:
                return .close
            case .hang:
                return .hang
            }
        }
        try await outbound.write(.end(nil))
        return closeAfter ? .close : .keepAlive
    }

    private static func rejectTooLarge(
        _ request: HTTPRequestHead, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var response = FakeResponse.json(
            #"{"error":{"message":"request body larger than 16 MB","type":"invalid_request_error"}}"#, status: 413
        )
        response.headers.append(("Connection", "close"))
        _ = try await send(response, for: request, outbound: outbound)
    }
}

/// The server's mutable state behind a lock: the recorded requests and the shutdown task.
private final class ServerState: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [RecordedRequest] = []
    private var shutdown: Task<Void, Never>?

    var requests: [RecordedRequest] { lock.withLock { recorded } }

    /// Appends `request` and returns its 0-based ordinal.
    func record(_ request: RecordedRequest) -> Int {
        lock.withLock {
            recorded.append(request)
            return recorded.count - 1
        }
    }

    /// The one shutdown task, started by the first caller.
    func shutdownTask(_ body: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        lock.withLock {
            if let shutdown { return shutdown }
            let task = Task { await body() }
            shutdown = task
            return task
        }
    }
}
