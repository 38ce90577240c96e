import Foundation
public import NIOCore
public import NIOHTTP1
public import NIOPosix
import NIOSSL
import WendaoCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open HTTP/1.1 client connection: responses in, request parts out.
public typealias WebConnection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

/// Turns a host name into addresses. The fetcher checks every address it returns before
/// connecting to any of them; tests inject a map so that no real lookup happens.
public protocol HostResolver: Sendable {
    /// All addresses of `host` (IPv4 and IPv6).
    ///
    /// - Throws: ``WendaoError`` `unavailable` when the name does not resolve.
    func resolve(host: String) async throws -> [WebIPAddress]
}

/// Opens a connection to an address that the policy has already checked. Implementations must
/// connect to exactly that address (never resolve the host again).
public protocol WebConnector: Sendable {
    /// Connects to `address`; for https, performs TLS with SNI and hostname verification for
    /// `target.host`. The returned channel speaks HTTP/1.1 client parts.
    func connect(to address: SocketAddress, target: WebTarget, connectTimeout: Duration) async throws
        -> WebConnection
}

/// The system resolver: `getaddrinfo` run on NIO's blocking thread pool, never on an event loop.
public struct SystemHostResolver: HostResolver {
    /// Creates the resolver.
    public init() {}

    /// Resolves with `getaddrinfo` (TCP, any family); duplicates removed, order kept.
    public func resolve(host: String) async throws -> [WebIPAddress] {
        let addresses = try await NIOThreadPool.singleton.runIfActive { try Self.lookup(host) }
        guard !addresses.isEmpty else { throw WendaoError(.unavailable, "'\(host)' has no addresses") }
        return addresses
    }

    private static func lookup(_ host: String) throws -> [WebIPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
            hints.ai_socktype = SOCK_STREAM
        #else
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        guard rc == 0, let first = result else {
            throw WendaoError(.unavailable, "could not resolve '\(host.prefix(80))'")
        }
        defer { freeaddrinfo(first) }
        var out: [WebIPAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node, out.count < 64 {
            if let sa = n.pointee.ai_addr {
                var address: WebIPAddress?
                if n.pointee.ai_family == AF_INET {
                    address = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                        var a = p.pointee.sin_addr
                        return withUnsafeBytes(of: &a) { WebIPAddress(bytes: Array($0)) }
                    }
                } else if n.pointee.ai_family == AF_INET6 {
                    address = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                        var a = p.pointee.sin6_addr
                        let zone = p.pointee.sin6_scope_id == 0 ? nil : String(p.pointee.sin6_scope_id)
                        return withUnsafeBytes(of: &a) { WebIPAddress(bytes: Array($0), zone: zone) }
                    }
                }
                if let address, !out.contains(address) { out.append(address) }
            }
            node = n.pointee.ai_next
        }
        return out
    }
}

/// The default connector: a NIO `ClientBootstrap` to the checked address, TLS through NIOSSL
/// (`TLSConfiguration.makeClientConfiguration()`: system trust roots, full verification, SNI with
/// the URL's host), then NIOHTTP1 client handlers.
public final class NIOWebConnector: WebConnector {
    private let group: any EventLoopGroup
    private let tls: Result<NIOSSLContext, WendaoError>

    /// Creates a connector on `group` (default: NIO's shared event loop group).
    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.group = group
        do {
            tls = .success(try NIOSSLContext(configuration: .makeClientConfiguration()))
        } catch {
            tls = .failure(WendaoError(.unavailable, "TLS could not be set up: \(error)"))
        }
    }

    /// Connects to `address` (and only there), adding TLS for https and the HTTP/1.1 client codec.
    public func connect(to address: SocketAddress, target: WebTarget, connectTimeout: Duration) async throws
        -> WebConnection
    {
        let context: NIOSSLContext? = target.isTLS ? try tls.get() : nil
        // SNI and hostname verification use the URL's host; an IP literal gets neither SNI nor a
        // name (NIOSSL then verifies the certificate against the connected address).
        let serverName: String? = target.literal == nil ? target.host : nil
        let nanos = max(
            1,
            connectTimeout.components.seconds * 1_000_000_000
                + connectTimeout.components.attoseconds / 1_000_000_000)
        return try await ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(nanos))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        let handler = try NIOSSLClientHandler(context: context, serverHostname: serverName)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try WebConnection(wrappingChannelSynchronously: channel)
                }
            }
    }
}

/// Runs `work` on its own task and returns its result, or throws when the calling task is
/// cancelled — without waiting for work that cannot be interrupted (a `getaddrinfo` call).
func abandonOnCancel<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
    let box = ResumeOnce<T>()
    let task = Task { box.resume(with: await Result(catching: { try await work() })) }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            box.set(continuation)
        }
    } onCancel: {
        task.cancel()
        box.resume(with: .failure(CancellationError()))
    }
}

/// Resumes a continuation exactly once, whichever of the result or cancellation comes first.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var pending: Result<T, any Error>?
    private var done = false

    func set(_ c: CheckedContinuation<T, any Error>) {
        lock.lock()
        if let pending {
            done = true
            lock.unlock()
            c.resume(with: pending)
            return
        }
        continuation = c
        lock.unlock()
    }

    func resume(with result: Result<T, any Error>) {
        lock.lock()
        guard !done else {
            lock.unlock()
            return
        }
        if let c = continuation {
            done = true
            continuation = nil
            lock.unlock()
            c.resume(with: result)
        } else {
            if pending == nil { pending = result }
            lock.unlock()
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
