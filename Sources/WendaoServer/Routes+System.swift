import NIOCore
import HTTPTypes
import Foundation
import Hummingbird
import Synchronization

/// Whether the server takes new work (false while starting and once shutdown began).
final class Readiness: Sendable {
    private let state = Mutex(false)
    var isReady: Bool { state.withLock { $0 } }
    func set(_ ready: Bool) { state.withLock { $0 = ready } }
}

extension WendaoAPI {
    /// The Content-Security-Policy of every UI response.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

    func addSystemRoutes(_ router: Router<WendaoContext>) {
        router.get("healthz") { _, _ in try JSON.response(["status": "ok"]) }
        router.get("readyz") { _, _ in
            readiness.isReady
                ? try JSON.response(["status": "ready"])
                : try JSON.response(["status": "not ready"], status: .serviceUnavailable)
        }
        for path in UIAssets.files.keys.sorted() {
            router.get(RouterPath(path)) { request, _ in asset(path, request) }
        }
        router.get("ui/{*}") { _, _ -> Response in throw APIError.notFound("no such file") }
    }

    /// A bundled file with caching headers and a strict security policy.
    func asset(_ path: String, _ request: Request) -> Response {
        guard let file = UIAssets.files[path] else { return APIError.response(for: APIError.notFound("no such file")) }
        let etag = "\"\(file.sha256)\""
        var headers: HTTPFields = [
            .contentType: file.contentType, .eTag: etag, .cacheControl: "no-cache",
            .contentSecurityPolicy: Self.contentSecurityPolicy, HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer", HTTPField.Name("X-Frame-Options")!: "DENY",
        ]
        if request.headers[.ifNoneMatch] == etag {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.body)))
    }
}
