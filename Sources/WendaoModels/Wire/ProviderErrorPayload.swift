public import Foundation

/// A provider's error body, in whichever of the many shapes it came.
///
/// Recognised: OpenAI, DeepSeek, Moonshot, vLLM and DashScope compatible mode
/// `{"error": {"message", "type", "code", "param"}}` (code a string or a number); vLLM
/// `{"object": "error", "message", "type", "code"}`; DashScope native
/// `{"code": "InvalidApiKey", "message", "request_id"}`; Qianfan v1 `{"error_code", "error_msg"}`;
/// Spark `{"code": 10013, "message"}` and `{"header": {"code", "message", "sid"}}`; Ollama
/// `{"error": "…"}`; FastAPI `{"detail": "…"}` and `{"detail": [{"msg", "loc"}]}`; a bare
/// `{"message": "…"}` or `{"msg": "…"}`; an array holding one of these.
///
/// ```swift
/// if let err = ProviderErrorPayload.parse(body) { logger.warning("\(err.message)") }
/// ```
public struct ProviderErrorPayload: Sendable, Equatable {
    /// What went wrong, as the provider put it.
    public var message: String
    /// The error class (`invalid_request_error`, …), when given.
    public var type: String?
    /// The provider's code (`invalid_api_key`, `InvalidApiKey`, `110`, …), as text.
    public var code: String?
    /// The offending parameter, when given.
    public var param: String?
    /// The provider's request ID (`request_id`, Spark `sid`), for support tickets.
    public var requestID: String?

    /// Creates a payload.
    public init(
        message: String, type: String? = nil, code: String? = nil, param: String? = nil, requestID: String? = nil
    ) {
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.requestID = requestID
    }

    /// The error described by an HTTP error body; `nil` when the body is not JSON (an HTML error
    /// page, say) or carries no recognisable error.
    public static func parse(_ body: Data) -> ProviderErrorPayload? {
        guard let json = JSONValue.parse(body) else { return nil }
        return from(json, strict: false)
    }

    /// The error carried by a server-sent-event `data:` payload in the middle of a stream; `nil`
    /// for an ordinary chunk (anything with a non-null `choices`), `[DONE]`, non-JSON, or an
    /// object without an unmistakable error shape (a bare `message` is not enough here).
    ///
    /// ```swift
    /// if let err = ProviderErrorPayload.parseStreamError(event.data) { throw map(err) }
    /// ```
    public static func parseStreamError(_ payload: String) -> ProviderErrorPayload? {
        guard let json = JSONValue.parse(Data(payload.utf8)), json["choices"]?.isNull ?? true else { return nil }
        return from(json, strict: true)
    }

    /// Reads an error from `json`. `strict` accepts only unmistakable error shapes, not a bare
    /// `message` (an ordinary stream chunk of some servers could have one).
    static func from(_ json: JSONValue, strict: Bool) -> ProviderErrorPayload? {
        if case .array(let items) = json {
            return items.lazy.compactMap { from($0, strict: strict) }.first
        }
        if case .string(let s) = json {
            return strict || s.isEmpty ? nil : ProviderErrorPayload(message: s)
        }
        guard case .object(let o) = json else { return nil }
        let requestID = (o["request_id"] ?? o["requestId"] ?? o["sid"] ?? o["header"]?["sid"])?.scalarText

        func make(_ message: String?, type: String? = nil, code: JSONValue?, param: JSONValue? = nil)
            -> ProviderErrorPayload?
        {
            let code = code?.scalarText
            guard let text = nonEmpty(message) ?? nonEmpty(code) else { return nil }
            return ProviderErrorPayload(
                message: text, type: nonEmpty(type), code: nonEmpty(code), param: nonEmpty(param?.scalarText),
                requestID: nonEmpty(requestID))
        }

        switch o["error"] {
        case .object(let e)?:
            let message = (e["message"] ?? e["msg"] ?? e["error_msg"])?.scalarText
            return make(
                message, type: e["type"]?.scalarText, code: e["code"] ?? e["error_code"], param: e["param"])
        case .string(let s)?:
            return make(s, type: o["type"]?.scalarText, code: o["code"])
        default:
            break
        }
        if let code = o["error_code"], !isSuccess(code) {
            return make((o["error_msg"] ?? o["message"])?.scalarText, code: code)
        }
        if o["object"]?.stringValue == "error" {
            return make(o["message"]?.scalarText, type: o["type"]?.scalarText, code: o["code"], param: o["param"])
        }
        if let header = o["header"]?.objectValue, let code = header["code"] {
            return isSuccess(code) ? nil : make(header["message"]?.scalarText, code: code)
        }
        if let detail = o["detail"] {
            switch detail {
            case .string(let s):
                return make(s, code: nil)
            case .array(let items):
                let messages = items.compactMap { item -> String? in
                    guard let msg = (item["msg"] ?? item["message"])?.scalarText else { return item.scalarText }
                    let loc = item["loc"]?.arrayValue?.compactMap(\.scalarText).joined(separator: ".") ?? ""
                    return loc.isEmpty ? msg : "\(loc): \(msg)"
                }
                return make(messages.joined(separator: "; "), code: nil)
            case .object(let d):
                return make((d["message"] ?? d["msg"])?.scalarText, code: d["code"])
            default:
                break
            }
        }
        let message = (o["message"] ?? o["msg"] ?? o["errmsg"])?.scalarText
        if let code = o["code"] ?? o["errcode"] {
            return isSuccess(code) ? nil : make(message, type: o["type"]?.scalarText, code: code)
        }
        return strict ? nil : make(message, type: o["type"]?.scalarText, code: nil)
    }

    /// Codes that mean success in the shapes that send one on every reply (Spark `0`, `"200"`).
    private static func isSuccess(_ code: JSONValue) -> Bool {
        switch code {
        case .null: return true
        case .number(let d): return d == 0 || d == 200
        case .string(let s): return s.isEmpty || s == "0" || s == "200" || s.lowercased() == "success"
        default: return false
        }
    }

    private static func nonEmpty(_ s: String?) -> String? {
        guard let t = s?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty else { return nil }
        return t
    }
}
