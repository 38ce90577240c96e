import NIOFoundationCompat
import NIOCore
import NIOHTTP1
import Synchronization
import Logging
import HTTPTypes
import Foundation
import Hummingbird
import WendaoCore

/// An error answered with a status and `{"error": {"code", "message"}}`.
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var headers: HTTPFields = [:]

    static func notFound(_ what: String) -> APIError {
        APIError(status: .notFound, code: "not_found", message: what)
    }

    static func unauthorized(_ message: String) -> APIError {
        APIError(
            status: .unauthorized, code: "unauthenticated", message: message,
            headers: [.wwwAuthenticate: "Bearer realm=\"wendao\""])
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "invalid_argument", message: message)
    }

    static func forbiddenAsNotFound(_ kind: String, _ name: String) -> APIError {
        // Never 403: a key must not learn that something it does not cover exists.
        .notFound("\(kind) '\(name)' does not exist")
    }

    /// `error` as an API error whose message names files by their last path component only
    /// (`/srv/wendao/uploads/kb-3/a.pdf` → `a.pdf`): what a tenant key is shown.
    static func redactingPaths(_ error: any Error) -> any Error {
        var e: APIError
        switch error {
        case let a as APIError: e = a
        case let w as WendaoError: e = APIError(wendao: w)
        default: return error
        }
        e.message = redactPaths(e.message)
        return e
    }

    /// `text` with every absolute path (`/a/b…`) shortened to its last component.
    static func redactPaths(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let slash = rest.firstIndex(of: "/") {
            let before = rest[..<slash]
            // A path starts a word: after a space, a quote, a parenthesis or the start.
            let starts = before.last.map { " '\"(=:".contains($0) } ?? true
            let end = rest[slash...].firstIndex(where: { " '\"),;\n".contains($0) }) ?? rest.endIndex
            let token = rest[slash..<end]
            out += before
            if starts, token.dropFirst().contains("/") {
                out += token.split(separator: "/").last.map(String.init) ?? ""
            } else {
                out += token
            }
            rest = rest[end...]
        }
        return out + rest
    }

    /// The response for any error a handler throws.
    static func response(for error: any Error) -> Response {
        let e: APIError
        switch error {
        case let a as APIError: e = a
        case let w as WendaoError: e = APIError(wendao: w)
        case let h as HTTPError:
            e = APIError(status: h.status, code: Self.code(for: h.status), message: h.body ?? h.status.reasonPhrase)
        case is NIOTooManyBytesError:
            e = APIError(status: .contentTooLarge, code: "limit_exceeded", message: "the request body is too large")
        case is HTTPParserError:
            e = .badRequest("the request is malformed or ended before its Content-Length")
        case let h as any HTTPResponseError:
            e = APIError(status: h.status, code: Self.code(for: h.status), message: h.status.reasonPhrase)
        case is DecodingError:
            e = .badRequest("the request body is not the expected JSON")
        default:
            e = APIError(status: .internalServerError, code: "internal", message: "internal error")
        }
        var headers = e.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: e.status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: e.body)))
    }

    /// The error code of a status Hummingbird (not our handlers) chose.
    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 413: "limit_exceeded"
        case 415: "unsupported"
        case 429: "rate_limited"
        case 500...: "internal"
        default: "invalid_argument"
        }
    }

    var body: Data {
        struct Inner: Encodable {
            var code: String
            var message: String
        }
        struct Outer: Encodable { var error: Inner }
        let enc = JSONEncoder()
        enc.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return (try? enc.encode(Outer(error: Inner(code: code, message: message)))) ?? Data("{}".utf8)
    }
}

extension APIError {
    /// Library and gateway errors: our own refusals map to 4xx; a model provider's failures to
    /// 502/503/504 (the provider, not the caller, failed).
    init(wendao w: WendaoError) {
        headers = [:]
        code = w.code.rawValue
        message = w.message
        switch w.code {
        case .invalidArgument: status = .badRequest
        case .notFound: status = .notFound
        case .alreadyExists: status = .conflict
        case .unreadable: status = .unprocessableContent
        case .unsupported: status = .unsupportedMediaType
        case .limitExceeded: status = .contentTooLarge
        case .contextTooLong: status = .badRequest
        case .unauthenticated, .unavailable, .badResponse: status = .badGateway
        case .rateLimited:
            status = .serviceUnavailable
            headers = [.retryAfter: "5"]
        case .timeout: status = .gatewayTimeout
        case .cancelled: status = .init(code: 499, reasonPhrase: "Client Closed Request")
        case .storageUnavailable:
            // The database is down or restarting: the caller may retry (a balancer may try another
            // server); the message says why, never the password.
            status = .serviceUnavailable
            headers = [.retryAfter: "2"]
        case .corrupt, .storage, .internal: status = .internalServerError
        }
    }
}

/// Turns every thrown error into the JSON error shape, and logs every 5xx (with the request id of
/// the request logger) and every request cut short.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let parse as HTTPParserError {
            // The connection cannot carry another request: Hummingbird answers 400 and closes it.
            context.logger.notice(
                "request malformed or cut short", metadata: ["reason": "\(String(describing: parse).prefix(200))"])
            throw parse
        } catch {
            let response = APIError.response(for: error)
            if response.status.code >= 500 {
                let reason = (error as? APIError)?.message ?? String(String(reflecting: error).prefix(500))
                context.logger.error(
                    "request failed",
                    metadata: [
                        "status": "\(response.status.code)", "reason": "\(reason)", "error_type": "\(type(of: error))",
                    ])
            }
            return response
        }
    }
}

/// A request no route matched: 404 `not_found`, or 405 `method_not_allowed` with `Allow` when the
/// path is routed for other methods. Runs inside ``ErrorMiddleware``.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The routes, to tell an unknown path from a wrong method.
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let h as HTTPError where h.status == .notFound && (context.endpointPath ?? "NotFound") == "NotFound" {
            let allowed = routes.methods(for: request.uri.path)
            guard !allowed.isEmpty else { throw APIError.notFound("no such route") }
            let allow = allowed.map(\.rawValue).sorted().joined(separator: ", ")
            throw APIError(
                status: .methodNotAllowed, code: "method_not_allowed",
                message: "\(request.method.rawValue) is not allowed here; allowed: \(allow)", headers: [.allow: allow])
        }
    }
}

/// The routes of the router (method and path pattern), for 405 answers.
final class RouteTable: Sendable {
    private let routes = Mutex<[(path: RouterPath, method: HTTPRequest.Method)]>([])

    func set(_ list: [(RouterPath, HTTPRequest.Method)]) {
        routes.withLock { $0 = list.map { (path: $0.0, method: $0.1) } }
    }

    /// The methods routed for `path` (empty: no route has this path).
    func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var out: [HTTPRequest.Method] = []
        for r in routes.withLock({ $0 }) where Self.matches(r.path, segments) && !out.contains(r.method) {
            out.append(r.method)
        }
        return out
    }

    static func matches(_ route: RouterPath, _ segments: [Substring]) -> Bool {
        let parts = route.components
        var i = 0
        for part in parts {
            if part.description == "**" { return true }
            guard i < segments.count, part ~= segments[i] else { return false }
            i += 1
        }
        return i == segments.count
    }
}
