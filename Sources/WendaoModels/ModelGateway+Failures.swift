import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import WendaoCore

// Failure classification: which errors are retried, and the public error each becomes.
extension ModelGateway {
    /// An HTTP error status with its body.
    struct StatusFailure: Error {
        var status: Int
        var body: Data
        var retryAfter: Double?
    }

    /// A stream that ended before it was complete.
    struct StreamBroke: Error {
        var afterTokens: Bool
        var underlying: String
    }

    /// A classified failure: the public error, whether to retry, and how long the provider asked to
    /// wait.
    struct Failure {
        var error: WendaoError
        var retryable: Bool
        var retryAfter: Double?
    }

    func classify(_ error: any Error, model: ResolvedModel) -> Failure {
        switch error {
        case let s as StatusFailure:
            let e = ProviderErrors.forStatus(s.status, body: s.body, model: model, retryAfter: s.retryAfter)
            let retryable =
                [408, 429, 500, 502, 503, 504, 529].contains(s.status) && e.code != .contextTooLong
                && !(s.status == 429 && e.message.contains("quota"))
            return Failure(error: e, retryable: retryable, retryAfter: s.retryAfter)
        case let b as StreamBroke:
            return Failure(
                error: WendaoError(
                    .unavailable,
                    "the answer stream from \(model.provider) broke off\(b.afterTokens ? " part-way" : "") (\(Secret.redactKeyShapes(b.underlying)))"
                ),
                retryable: true, retryAfter: nil)
        case let w as WendaoError:
            // Timeouts are retried (a fresh connection often helps); protocol errors are not.
            return Failure(error: w, retryable: w.code == .timeout, retryAfter: nil)
        case is CancellationError:
            return Failure(error: WendaoError(.cancelled, "the request to \(model.provider) was cancelled"), retryable: false)
        case let h as HTTPClientError:
            if h == .cancelled {
                return Failure(
                    error: WendaoError(.cancelled, "the request to \(model.provider) was cancelled"), retryable: false)
            }
            if h == .connectTimeout {
                return Failure(
                    error: WendaoError(
                        .timeout,
                        "could not connect to \(model.provider) at \(model.displayURL) within \(Self.seconds(timeouts.connect))"),
                    retryable: true)
            }
            return Failure(error: connectionError(model, "\(h)"), retryable: true)
        default:
            return Failure(error: connectionError(model, "\(error)"), retryable: true)
        }
    }

    func connectionError(_ model: ResolvedModel, _ detail: String) -> WendaoError {
        let lower = detail.lowercased()
        var reason: String
        if lower.contains("connection refused") {
            reason = "connection refused: is it running?"
            if model.provider == "ollama" { reason += " Start it with `ollama serve`." }
        } else if lower.contains("no such host") || lower.contains("name or service not known")
            || lower.contains("nodename nor servname") || lower.contains("temporary failure in name resolution")
            || lower.contains("unknown host")
        {
            reason = "the host name does not resolve"
        } else if lower.contains("network is unreachable") || lower.contains("no route to host") {
            reason = "the network is unreachable"
        } else if lower.contains("tls") || lower.contains("ssl") || lower.contains("certificate") {
            reason = "TLS handshake failed: " + Self.shorten(detail)
        } else if lower.contains("remoteconnectionclosed") || lower.contains("connection reset") {
            reason = "the connection was closed by the server"
        } else {
            reason = Self.shorten(detail)
        }
        return WendaoError(.unavailable, "cannot reach \(model.provider) at \(model.displayURL) (\(Secret.redactKeyShapes(reason)))")
    }

    static func shorten(_ s: String) -> String {
        let d = s.replacingOccurrences(of: "\n", with: " ")
        return d.count > 200 ? String(d.prefix(200)) + "…" : d
    }

    /// Any error as the public ``WendaoError``, with the key redacted.
    func publicError(_ error: any Error, model: ResolvedModel) -> WendaoError {
        if Task.isCancelled { return WendaoError(.cancelled, "the request to \(model.provider) was cancelled") }
        var e = classify(error, model: model).error
        if let key = model.apiKey { e.message = key.redact(e.message) }
        return e
    }
}
