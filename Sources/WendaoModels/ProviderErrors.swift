import Foundation
import WendaoCore

/// Maps provider failures to ``WendaoError``s with messages that name the provider, say what to
/// do, and never contain the key.
enum ProviderErrors {
    /// The error for an HTTP error status with `body`.
    static func forStatus(_ status: Int, body: Data, model: ResolvedModel, retryAfter: Double?) -> WendaoError {
        let payload = ProviderErrorPayload.parse(body)
        let said = payload.map { summary($0, model: model) } ?? nonJSONSummary(body)
        let who = model.provider
        let text = (payload?.message ?? "") + " " + (payload?.code ?? "") + " " + (payload?.type ?? "")
        let lower = text.lowercased()
        func with(_ s: String) -> String { said.isEmpty ? s : "\(s): \(said)" }

        if isContextTooLong(lower) {
            return WendaoError(
                .contextTooLong,
                with("the prompt is too long for \(model.id) (context window about \(model.contextWindow) tokens)"))
        }
        if isUnknownModel(lower) || (status == 404 && lower.contains("model")) {
            return WendaoError(
                .notFound, with("\(who) does not know the model '\(model.model)' (HTTP \(status)); check the name"))
        }
        switch status {
        case 401, 403:
            if status == 403 && !lower.contains("key") && !lower.contains("auth") && !lower.contains("token")
                && !lower.isEmpty && !lower.contains("permission") && !lower.contains("access")
            {
                return WendaoError(.unauthenticated, with("\(who) refused the request (HTTP 403)"))
            }
            let vars = model.keySource ?? model.keyVariables.first ?? "the key"
            return WendaoError(
                .unauthenticated, with("\(who) rejected the API key (HTTP \(status)); check \(vars)"))
        case 301, 302, 303, 307, 308:
            return WendaoError(
                .badResponse,
                with("\(who) redirected the request (HTTP \(status)); redirects are not followed so the key stays with this host — set the base URL to the new address"))
        case 404:
            return WendaoError(
                .notFound,
                with("\(who) has no such endpoint at \(model.displayURL) (HTTP 404); is the base URL an OpenAI-compatible /v1 URL?"))
        case 402:
            return WendaoError(.rateLimited, with("\(who) says the account has no balance or quota left (HTTP 402)"))
        case 429:
            if lower.contains("quota") || lower.contains("balance") || lower.contains("arrear")
                || lower.contains("billing")
            {
                return WendaoError(.rateLimited, with("\(who) says the account's quota is used up (HTTP 429)"))
            }
            let after = retryAfter.map { ", retry after \(Int($0.rounded(.up))) s" } ?? ""
            return WendaoError(.rateLimited, with("\(who) is rate limiting this key (HTTP 429\(after))"))
        case 413:
            return WendaoError(.contextTooLong, with("\(who) refused the request as too large (HTTP 413)"))
        case 408:
            return WendaoError(.timeout, with("\(who) timed out the request (HTTP 408)"))
        case 500...599:
            return WendaoError(.unavailable, with("\(who) is down or overloaded (HTTP \(status))"))
        default:
            return WendaoError(.badResponse, with("\(who) refused the request (HTTP \(status))"))
        }
    }

    static func isContextTooLong(_ lower: String) -> Bool {
        lower.contains("context_length_exceeded") || lower.contains("context length")
            || lower.contains("maximum context") || lower.contains("context window")
            || lower.contains("range of input length") || lower.contains("too many tokens")
            || lower.contains("input is too long") || lower.contains("prompt is too long")
            || lower.contains("max_tokens") && lower.contains("exceed") || lower.contains("tokens_limit")
            || lower.contains("input length") && lower.contains("exceed")
    }

    static func isUnknownModel(_ lower: String) -> Bool {
        lower.contains("model_not_found") || lower.contains("model not exist") || lower.contains("model does not exist")
            || lower.contains("unknown model") || lower.contains("no such model") || lower.contains("invalid model")
            || (lower.contains("model") && (lower.contains("not found") || lower.contains("not exist")))
            || lower.contains("modelnotfound")
    }

    /// The provider's own words, shortened and redacted.
    static func summary(_ p: ProviderErrorPayload, model: ResolvedModel) -> String {
        var s = p.message.trimmingCharacters(in: .whitespacesAndNewlines)
        if let code = p.code, !code.isEmpty, !s.contains(code) { s = s.isEmpty ? code : "\(s) (\(code))" }
        s = s.replacingOccurrences(of: "\n", with: " ")
        if s.count > 300 { s = String(s.prefix(300)) + "…" }
        return model.apiKey?.redact(s) ?? Secret.redactKeyShapes(s)
    }

    /// What a non-JSON error body looks like, in a few words.
    static func nonJSONSummary(_ body: Data) -> String {
        if looksLikeHTML(body) { return "the provider answered with an HTML page, not JSON" }
        guard let s = String(data: body.prefix(200), encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
            !s.isEmpty
        else { return "" }
        return Secret.redactKeyShapes(s.replacingOccurrences(of: "\n", with: " "))
    }

    static func looksLikeHTML(_ body: Data) -> Bool {
        let head = String(decoding: body.prefix(512), as: UTF8.self).lowercased()
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return head.hasPrefix("<!doctype") || head.hasPrefix("<html") || head.contains("<head") || head.contains("<body")
    }

    /// The error for a 2xx body that is not the expected JSON.
    static func badBody(_ body: Data, model: ResolvedModel, expected: String) -> WendaoError {
        if looksLikeHTML(body) {
            return WendaoError(
                .badResponse,
                "\(model.provider) answered with an HTML page instead of JSON; is \(model.displayURL) an OpenAI-compatible "
                    + "/v1 base URL?")
        }
        if body.isEmpty { return WendaoError(.badResponse, "\(model.provider) answered with an empty body") }
        return WendaoError(.badResponse, "\(model.provider) answered with something that is not \(expected)")
    }

    /// `Retry-After` as seconds: delta-seconds or an HTTP date.
    static func retryAfterSeconds(_ value: String?, now: Date = Date()) -> Double? {
        guard let v = value?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
        // Capped at a day: the value only decides whether to wait (it is compared with a policy limit).
        if let s = Double(v), s.isFinite, s >= 0 { return min(s, 86_400) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            f.dateFormat = format
            if let d = f.date(from: v) { return min(max(0, d.timeIntervalSince(now)), 86_400) }
        }
        return nil
    }
}
