public import Foundation
import NIOCore
import NIOHTTP1
import WendaoCore
import WendaoLoaders

/// Size, time and redirect caps for one fetch.
public struct WebFetchLimits: Sendable {
    /// Largest body accepted, in bytes (a larger `Content-Length` is refused before reading; a
    /// streamed body is counted and cut).
    public var maxBodyBytes: Int = 32 << 20
    /// Time allowed to open one TCP connection.
    public var connectTimeout: Duration = .seconds(10)
    /// Time allowed for the whole fetch: resolution, every redirect hop, headers and body.
    public var totalTimeout: Duration = .seconds(60)
    /// Most redirects followed.
    public var maxRedirects: Int = 5
    /// Creates limits with the defaults.
    public init() {}
}

/// Validators from an earlier fetch, sent as `If-None-Match` / `If-Modified-Since`.
public struct WebValidators: Sendable, Equatable {
    /// The earlier response's `ETag`.
    public var etag: String?
    /// The earlier response's `Last-Modified`.
    public var lastModified: String?
    /// Creates validators.
    public init(etag: String? = nil, lastModified: String? = nil) {
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// A fetched resource.
public struct WebResource: Sendable {
    /// The URL asked for.
    public var requestedURL: URL
    /// The final URL, after redirects.
    public var url: URL
    /// The HTTP status (2xx).
    public var status: Int
    /// The media type, lowercased, without parameters (`text/html`), when the server sent one.
    public var contentType: String?
    /// The `charset` parameter of `Content-Type`, lowercased, when present.
    public var charset: String?
    /// The body.
    public var body: Data
    /// The `ETag` header.
    public var etag: String?
    /// The `Last-Modified` header.
    public var lastModified: String?

    /// Creates a resource.
    public init(
        requestedURL: URL, url: URL, status: Int, contentType: String?, charset: String?, body: Data,
        etag: String? = nil, lastModified: String? = nil
    ) {
        self.requestedURL = requestedURL
        self.url = url
        self.status = status
        self.contentType = contentType
        self.charset = charset
        self.body = body
        self.etag = etag
        self.lastModified = lastModified
    }

    /// The validators to send next time.
    public var validators: WebValidators { WebValidators(etag: etag, lastModified: lastModified) }

    /// Whether the body is HTML (by media type, or by sniffing when none was sent).
    public var isHTML: Bool {
        if let t = contentType { return t == "text/html" || t == "application/xhtml+xml" }
        let head = String(decoding: body.prefix(512), as: UTF8.self).lowercased()
        return head.contains("<html") || head.contains("<!doctype html")
    }

    /// Whether the body is a PDF (by media type or the `%PDF-` magic).
    public var isPDF: Bool { contentType == "application/pdf" || body.starts(with: Array("%PDF-".utf8)) }

    /// The body decoded as text: UTF-8/UTF-16/GB18030 by ``TextDecoding``, Latin-1 and
    /// Windows-1252 by their charset label.
    ///
    /// - Throws: ``WendaoError`` `unreadable` when it is not text.
    public func text() throws -> String {
        switch charset {
        case "iso-8859-1", "latin1", "l1", "us-ascii", "ascii":
            if let s = String(data: body, encoding: .isoLatin1) { return s }
        case "windows-1252", "cp1252":
            if let s = String(data: body, encoding: .windowsCP1252) { return s }
        default:
            break
        }
        return try TextDecoding.decode(body).text
    }
}

/// What a fetch returns.
public enum WebFetchResult: Sendable {
    /// The resource (2xx).
    case fetched(WebResource)
    /// The server answered 304 to the validators: the earlier copy is current. Carries the final URL.
    case notModified(URL)
}

/// A guarded HTTP/1.1 client for ingesting web pages.
///
/// Every URL (and every redirect hop) is checked by the ``WebAddressPolicy``: scheme, user info,
/// host spelling and every address the host resolves to. The connection goes to an address that
/// was checked (never a second lookup) and the connected peer is checked again before the request
/// is sent. Bodies are capped, compressed encodings are refused (`Accept-Encoding: identity`), and
/// the whole fetch runs under one time limit.
///
/// ```swift
/// let fetcher = WebFetcher()
/// switch try await fetcher.fetch(URL(string: "https://example.org/guide")!) {
/// case .fetched(let page): print(page.contentType ?? "?", page.body.count)
/// case .notModified: break
/// }
/// ```
public struct WebFetcher: Sendable {
    /// The product token sent in `User-Agent` and matched in robots.txt groups.
    public static let productToken = "WendaoBot"
    /// The default `User-Agent`.
    public static let defaultUserAgent = "WendaoBot/1.0 (knowledge-base ingest)"

    /// Which URLs and addresses may be reached.
    public var policy: WebAddressPolicy
    /// Size, time and redirect caps.
    public var limits: WebFetchLimits
    /// The `User-Agent` header.
    public var userAgent: String
    /// The `Accept` header.
    public var accept = "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,*/*;q=0.5"
    let resolver: any HostResolver
    let connector: any WebConnector

    /// Creates a fetcher.
    ///
    /// - Parameters:
    ///   - policy: Reachable URLs and addresses (default: public addresses only).
    ///   - limits: Caps.
    ///   - resolver: Name resolution (default: `getaddrinfo` on a thread pool).
    ///   - connector: How a checked address is connected to (default: NIO + NIOSSL).
    ///   - userAgent: The `User-Agent` header.
    public init(
        policy: WebAddressPolicy = WebAddressPolicy(), limits: WebFetchLimits = WebFetchLimits(),
        resolver: any HostResolver = SystemHostResolver(), connector: any WebConnector = NIOWebConnector(),
        userAgent: String = WebFetcher.defaultUserAgent
    ) {
        self.policy = policy
        self.limits = limits
        self.resolver = resolver
        self.connector = connector
        self.userAgent = userAgent
    }

    /// Fetches `url`, following redirects (each hop re-checked).
    ///
    /// - Parameter validators: From an earlier fetch; a 304 answer gives ``WebFetchResult/notModified(_:)``.
    /// - Throws: ``WendaoError`` — `unsupported` (scheme, compressed body), `invalidArgument` (refused
    ///   URL or address), `limitExceeded` (body or redirect cap), `timeout`, `notFound` (404/410),
    ///   `unavailable` (other non-2xx statuses, connection failures), `cancelled`.
    public func fetch(_ url: URL, validators: WebValidators? = nil) async throws -> WebFetchResult {
        let response = try await exchange(url, validators: validators, anyStatus: false, redirectAllowed: nil)
        if response.status == 304 { return .notModified(response.url) }
        return .fetched(response.resource(requested: url))
    }

    // MARK: Internals

    /// A response of any status (used for robots.txt, where 4xx and 5xx mean different things).
    struct Response: Sendable {
        var url: URL
        var status: Int
        var headers: HTTPHeaders
        var body: Data

        func resource(requested: URL) -> WebResource {
            var type: String?
            var charset: String?
            if let raw = headers.first(name: "content-type") {
                let parts = raw.split(separator: ";")
                type = parts.first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                for p in parts.dropFirst() {
                    let kv = p.split(separator: "=", maxSplits: 1)
                    if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == "charset" {
                        charset = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: " \"'")).lowercased()
                    }
                }
            }
            return WebResource(
                requestedURL: requested, url: url, status: status, contentType: type, charset: charset, body: body,
                etag: headers.first(name: "etag"), lastModified: headers.first(name: "last-modified"))
        }
    }

    /// Fetches with redirects under the total time limit. With `anyStatus`, non-2xx statuses are
    /// returned (without body) instead of thrown. `redirectAllowed` may veto a hop (same-origin crawls).
    func exchange(
        _ url: URL, validators: WebValidators?, anyStatus: Bool,
        redirectAllowed: (@Sendable (WebTarget) -> Bool)?
    ) async throws -> Response {
        let limit = limits.totalTimeout
        let fetcher = self
        do {
            return try await withThrowingTaskGroup(of: Response?.self) { group in
                group.addTask {
                    try await fetcher.followRedirects(
                        url, validators: validators, anyStatus: anyStatus, redirectAllowed: redirectAllowed)
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    try Task.checkCancellation()
                    throw WendaoError(.timeout, "fetching \(Self.shown(url)) took longer than \(limit)")
                }
                return response
            }
        } catch let error as WendaoError {
            throw error
        } catch is CancellationError {
            throw WendaoError(.cancelled, "fetch of \(Self.shown(url)) cancelled")
        } catch {
            throw WendaoError(.unavailable, "fetching \(Self.shown(url)) failed: \(Self.describe(error))")
        }
    }

    private func followRedirects(
        _ url: URL, validators: WebValidators?, anyStatus: Bool, redirectAllowed: (@Sendable (WebTarget) -> Bool)?
    ) async throws -> Response {
        var current = url
        var seen: Set<String> = []
        var hops = 0
        while true {
            let target = try policy.checkURL(current)
            if hops > 0, let redirectAllowed, !redirectAllowed(target) {
                throw WendaoError(.invalidArgument, "redirect to \(Self.shown(target.url)) leaves the allowed scope")
            }
            if !seen.insert(target.url.absoluteString).inserted {
                throw WendaoError(.limitExceeded, "redirect loop at \(Self.shown(target.url))")
            }
            let response = try await once(target, validators: validators, anyStatus: anyStatus)
            guard [301, 302, 303, 307, 308].contains(response.status) else { return response }
            hops += 1
            guard hops <= limits.maxRedirects else {
                throw WendaoError(.limitExceeded, "more than \(limits.maxRedirects) redirects from \(Self.shown(url))")
            }
            guard let location = response.headers.first(name: "location"),
                let next = URL(string: location.trimmingCharacters(in: .whitespaces), relativeTo: target.url)
            else {
                throw WendaoError(.unavailable, "HTTP \(response.status) redirect without a usable Location")
            }
            current = next.absoluteURL
        }
    }

    /// One request to one checked target.
    private func once(_ target: WebTarget, validators: WebValidators?, anyStatus: Bool) async throws -> Response {
        let addresses: [WebIPAddress]
        if let literal = target.literal {
            addresses = [literal]
        } else {
            let resolver = self.resolver
            let host = target.host
            addresses = try await abandonOnCancel { try await resolver.resolve(host: host) }
            guard !addresses.isEmpty else { throw WendaoError(.unavailable, "'\(host)' has no addresses") }
        }
        // Every address must pass before any is used: a name that also points inward is refused.
        for a in addresses { try policy.check(a, host: target.literal == nil ? target.host : nil) }
        var lastError: any Error = WendaoError(.unavailable, "no address to connect to")
        for address in addresses {
            let socket: SocketAddress
            do {
                socket = try SocketAddress(ipAddress: address.description, port: target.port)
            } catch {
                lastError = WendaoError(.unavailable, "address \(address) cannot be connected to")
                continue
            }
            let connection: WebConnection
            do {
                connection = try await connector.connect(
                    to: socket, target: target, connectTimeout: limits.connectTimeout)
            } catch let error as WendaoError {
                lastError = error
                continue
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                try Task.checkCancellation()
                lastError = WendaoError(
                    .unavailable, "could not connect to \(target.hostHeader) (\(address)): \(Self.describe(error))")
                continue
            }
            return try await request(
                target, on: connection, expected: address, validators: validators,
                anyStatus: anyStatus)
        }
        throw lastError
    }

    private func request(
        _ target: WebTarget, on connection: WebConnection, expected: WebIPAddress, validators: WebValidators?,
        anyStatus: Bool
    ) async throws -> Response {
        // The peer must be the address that was checked, and still pass the policy.
        guard let remote = connection.channel.remoteAddress, let ip = remote.ipAddress.flatMap(WebIPAddress.init),
            ip.bytes == expected.bytes || WebPeer.sameMapped(ip, expected), remote.port == target.port
        else {
            connection.channel.close(promise: nil)
            throw WendaoError(.unavailable, "connected peer is not the checked address \(expected)")
        }
        do {
            try policy.check(ip, host: target.literal == nil ? target.host : nil)
        } catch {
            connection.channel.close(promise: nil)
            throw error
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.hostHeader)
        headers.add(name: "User-Agent", value: userAgent)
        headers.add(name: "Accept", value: accept)
        headers.add(name: "Accept-Encoding", value: "identity")
        headers.add(name: "Connection", value: "close")
        // Validators with control characters (header injection) are left out.
        func clean(_ value: String?) -> String? {
            guard let value, !value.isEmpty, value.utf8.count <= 1024,
                !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F })
            else { return nil }
            return value
        }
        if let etag = clean(validators?.etag) { headers.add(name: "If-None-Match", value: etag) }
        if let modified = clean(validators?.lastModified) { headers.add(name: "If-Modified-Since", value: modified) }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.requestTarget, headers: headers)
        let maxBody = limits.maxBodyBytes
        let channel = connection.channel
        return try await withTaskCancellationHandler {
            try await connection.executeThenClose { inbound, outbound in
                // Head and end in one write (one flush). A server may answer and close as soon as
                // it has the head (an HTTP/1.0 redirect); a failed write is then no failure while
                // its response can still be read.
                var writeError: (any Error)?
                do { try await outbound.write(contentsOf: [.head(head), .end(nil)]) } catch { writeError = error }
                var responseHead: HTTPResponseHead?
                var body = Data()
                var wantBody = false
                for try await part in inbound {
                    switch part {
                    case .head(let h):
                        if h.status.code >= 100, h.status.code < 200 { continue }
                        responseHead = h
                        let code = Int(h.status.code)
                        if (200..<300).contains(code) {
                            try Self.checkBodyHeaders(h.headers, maxBody: maxBody, url: target.url)
                            wantBody = true
                        } else if [301, 302, 303, 304, 307, 308].contains(code) || anyStatus {
                            return Response(url: target.url, status: code, headers: h.headers, body: Data())
                        } else {
                            throw Self.statusError(code, url: target.url)
                        }
                    case .body(let buffer):
                        guard wantBody else { continue }
                        if body.count + buffer.readableBytes > maxBody {
                            throw WendaoError(
                                .limitExceeded, "body of \(Self.shown(target.url)) exceeds \(maxBody) bytes")
                        }
                        body.append(contentsOf: buffer.readableBytesView)
                    case .end:
                        guard let responseHead else { continue }
                        return Response(
                            url: target.url, status: Int(responseHead.status.code), headers: responseHead.headers,
                            body: body)
                    }
                }
                if let writeError, responseHead == nil {
                    throw WendaoError(
                        .unavailable, "could not send the request to \(target.hostHeader): \(Self.describe(writeError))")
                }
                throw WendaoError(.unavailable, "connection to \(target.hostHeader) closed before the response ended")
            }
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    private static func checkBodyHeaders(_ headers: HTTPHeaders, maxBody: Int, url: URL) throws {
        if let length = headers.first(name: "content-length") {
            let trimmed = length.trimmingCharacters(in: .whitespaces)
            // Digits only; a number too large for Int is over the cap too.
            guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw WendaoError(.unavailable, "malformed Content-Length from \(shown(url))")
            }
            if trimmed.count > 18 || (Int(trimmed) ?? Int.max) > maxBody {
                throw WendaoError(
                    .limitExceeded, "\(shown(url)) declares \(trimmed) bytes, more than the \(maxBody)-byte cap")
            }
        }
        if let encoding = headers.first(name: "content-encoding")?.lowercased().trimmingCharacters(in: .whitespaces),
            !encoding.isEmpty, encoding != "identity"
        {
            throw WendaoError(.unsupported, "\(shown(url)) sent a compressed body (\(encoding.prefix(20)))")
        }
    }

    static func statusError(_ code: Int, url: URL) -> WendaoError {
        switch code {
        case 404, 410: WendaoError(.notFound, "HTTP \(code) from \(shown(url))")
        case 429: WendaoError(.rateLimited, "HTTP 429 (too many requests) from \(shown(url))")
        default: WendaoError(.unavailable, "HTTP \(code) from \(shown(url))")
        }
    }

    /// A URL for messages: without query (which may carry tokens), at most 200 characters.
    static func shown(_ url: URL) -> String {
        var c = URLComponents(url: url, resolvingAgainstBaseURL: true)
        c?.query = nil
        c?.fragment = nil
        c?.user = nil
        c?.password = nil
        return String((c?.string ?? "URL").prefix(200))
    }

    static func describe(_ error: any Error) -> String {
        String(String(describing: error).prefix(200))
    }
}

enum WebPeer {
    /// Whether an IPv4-mapped IPv6 peer is the same as a checked IPv4 address (dual-stack sockets).
    static func sameMapped(_ a: WebIPAddress, _ b: WebIPAddress) -> Bool {
        func v4(_ x: WebIPAddress) -> [UInt8]? {
            if x.isIPv4 { return x.bytes }
            if x.bytes[0..<10].allSatisfy({ $0 == 0 }), x.bytes[10] == 0xFF, x.bytes[11] == 0xFF {
                return Array(x.bytes[12..<16])
            }
            return nil
        }
        guard let x = v4(a), let y = v4(b) else { return false }
        return x == y
    }
}
