import Foundation
import HTTPTypes
import Hummingbird
import WendaoCore

/// Keeps web pages the user happens to visit away from the server (cross-site request forgery
/// and DNS rebinding), before any route runs:
///
/// - **Host**: only the names this server is reached by — loopback literals, `localhost`, the
///   bound address and ``ServerConfiguration/allowedHosts`` (any name on a wildcard address with
///   no list). A rebinding domain that resolves to 127.0.0.1 is refused, so its pages read
///   nothing.
/// - **State-changing requests** (every method but GET, HEAD, OPTIONS) from a browser: the
///   `Origin` must be the server's own (or listed in ``ServerConfiguration/allowedOrigins``), and
///   `Sec-Fetch-Site` must not say `cross-site` or `same-site` for a foreign origin. Clients that
///   send neither header (curl, SDKs) are not browsers and pass.
/// - No CORS headers are ever sent, so browsers keep cross-origin pages from reading answers.
///
/// JSON routes additionally require `Content-Type: application/json` (``JSON/decode(_:from:limit:)``),
/// which a cross-site form or `text/plain` request cannot send without a CORS preflight.
struct RequestGuardMiddleware: RouterMiddleware {
    typealias Context = WendaoContext
    /// Accepted `Host` names (lowercased, no port, IPv6 without brackets); nil accepts any.
    let hosts: Set<String>?
    /// Accepted foreign origins (`scheme://host[:port]`, lowercased).
    let origins: Set<String>

    init(configuration: ServerConfiguration) {
        if configuration.isWildcard && configuration.allowedHosts.isEmpty {
            hosts = nil
        } else {
            var h: Set<String> = ["localhost"]
            h.insert(Self.hostName(configuration.host))
            for name in configuration.allowedHosts { h.insert(Self.hostName(name)) }
            hosts = h
        }
        origins = Set(configuration.allowedOrigins.map { Self.trimmedOrigin($0) })
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        // HTTP/1 requests carry the Host header here.
        let authority = request.head.authority ?? ""
        if let hosts {
            let name = Self.hostName(authority)
            guard hosts.contains(name) || ServerConfiguration.isLoopback(name) else {
                throw APIError(
                    status: .misdirectedRequest, code: "host_not_allowed",
                    message: "this server does not answer for the host name in the request; add it to "
                        + "server.allowed_hosts in config.yaml (or serve --allowed-host) if it is yours")
            }
        }
        switch request.method {
        case .get, .head, .options: break
        default: try checkOrigin(request, authority: authority)
        }
        return try await next(request, context)
    }

    /// Refuses a browser's state-changing request from another origin.
    func checkOrigin(_ request: Request, authority: String) throws {
        let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!]?.lowercased()
        let origin = request.headers[HTTPField.Name("Origin")!].map(Self.trimmedOrigin)
        let own = ["http://" + authority.lowercased(), "https://" + authority.lowercased()]
        if let origin {
            guard own.contains(origin) || origins.contains(origin) else { throw Self.crossSite }
        } else if let site, site == "cross-site" || site == "same-site" {
            // A browser that withheld the Origin of a foreign page.
            throw Self.crossSite
        }
    }

    static let crossSite = APIError(
        status: .forbidden, code: "cross_origin",
        message: "requests that change data must come from this server's own pages or an allowed origin "
            + "(server.allowed_origins in config.yaml)")

    /// The host name of a `Host` value or a bound address: lowercased, port and IPv6 brackets removed.
    static func hostName(_ authority: String) -> String {
        var a = authority.lowercased()
        if a.hasPrefix("[") {
            if let close = a.firstIndex(of: "]") { return String(a[a.index(after: a.startIndex)..<close]) }
            return a
        }
        // An IPv6 literal without brackets has several colons and no port.
        if a.filter({ $0 == ":" }).count == 1, let colon = a.lastIndex(of: ":") { a = String(a[..<colon]) }
        if a.hasSuffix("."), a.count > 1 { a.removeLast() }
        return a
    }

    static func trimmedOrigin(_ s: String) -> String {
        var o = s.trimmingCharacters(in: .whitespaces).lowercased()
        while o.hasSuffix("/") { o.removeLast() }
        return o
    }
}
