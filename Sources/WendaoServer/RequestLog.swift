import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOHTTP1
import WendaoCore

/// Logs one line per request when its response is ready: method, path with query values redacted
/// (a key passed as `?api_key=…` never reaches the log), status, duration and the request id
/// (the request logger's `hb.request.id`, also sent back as `X-Request-Id`). Headers and bodies
/// are never logged.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = WendaoContext

    static let requestIDHeader = HTTPField.Name("X-Request-Id")!

    func handle(_ request: Request, context: WendaoContext, next: (Request, WendaoContext) async throws -> Response)
        async throws -> Response
    {
        let started = ContinuousClock.now
        let id = context.logger[metadataKey: "hb.request.id"].map { "\($0)" }
        func log(_ status: Int) {
            let ms = (ContinuousClock.now - started).seconds * 1000
            context.logger.info(
                "request",
                metadata: [
                    "method": "\(request.method.rawValue)",
                    "path": "\(Self.redacted(path: request.uri.path, query: request.uri.query))",
                    "status": "\(status)", "ms": "\(String(format: "%.1f", ms))",
                ])
        }
        do {
            var response = try await next(request, context)
            if let id { response.headers[Self.requestIDHeader] = id }
            log(Int(response.status.code))
            return response
        } catch {
            // Only a request cut short gets here (the error middleware answers everything else);
            // Hummingbird answers it 400.
            log(error is HTTPParserError ? 400 : 500)
            throw error
        }
    }

    /// `path` with control characters replaced and every query value replaced by
    /// `REDACTED` (plain names kept: `/v1/models?api_key=REDACTED`), at most 512 characters.
    static func redacted(path: String, query: String?) -> String {
        func clean(_ s: Substring) -> String {
            String(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
        }
        var out = clean(Substring(path))
        if let query, !query.isEmpty {
            let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
                // A bare token (no `=`) or a name that is not a plain identifier could be a secret too.
                guard let eq = pair.firstIndex(of: "=") else { return "REDACTED" }
                let name = pair[..<eq]
                let plain =
                    (1...64).contains(name.count)
                    && name.unicodeScalars.allSatisfy {
                        $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.-[]".unicodeScalars.contains($0))
                    }
                return (plain ? String(name) : "REDACTED") + "=REDACTED"
            }
            out += "?" + pairs.joined(separator: "&")
        }
        return out.count > 512 ? String(out.prefix(512)) + "…" : out
    }
}
