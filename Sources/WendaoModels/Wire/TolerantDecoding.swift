import Foundation
import WendaoCore

/// A coding key made from any string: wire types read and write members by their JSON names.
struct AnyKey: CodingKey, Hashable, ExpressibleByStringLiteral {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ string: String) { stringValue = string }
    init(stringLiteral value: String) { stringValue = value }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Reads that never fail on a missing member, a `null` or a value of an unexpected type: they give
/// `nil` instead, so one odd field of a provider's reply never loses the rest.
extension KeyedDecodingContainer where Key == AnyKey {
    /// A string member.
    func string(_ key: String) -> String? {
        try? decodeIfPresent(String.self, forKey: AnyKey(key))
    }

    /// A string member, or a number or boolean written as text (error codes and IDs arrive both
    /// ways; integers are read exactly, also beyond 2^53).
    func text(_ key: String) -> String? {
        guard contains(AnyKey(key)) else { return nil }
        if let s = try? decode(String.self, forKey: AnyKey(key)) { return s }
        if let i = try? decode(Int64.self, forKey: AnyKey(key)) { return String(i) }
        return json(key)?.scalarText
    }

    /// An integer member, also when sent as `12.0` or `"12"`.
    func int(_ key: String) -> Int? {
        guard contains(AnyKey(key)) else { return nil }
        if let i = try? decode(Int.self, forKey: AnyKey(key)) { return i }
        return json(key)?.lenientInt
    }

    /// Any member as JSON; `nil` when missing or `null`.
    func json(_ key: String) -> JSONValue? {
        guard let value = try? decodeIfPresent(JSONValue.self, forKey: AnyKey(key)), !value.isNull else {
            return nil
        }
        return value
    }

    /// A nested object member.
    func object(_ key: String) -> KeyedDecodingContainer<AnyKey>? {
        guard contains(AnyKey(key)), (try? decodeNil(forKey: AnyKey(key))) == false else { return nil }
        return try? nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(key))
    }

    /// A message content: a string, `null`, or an array of parts whose texts are joined.
    func content(_ key: String) -> String? {
        guard contains(AnyKey(key)) else { return nil }
        if let s = try? decode(String.self, forKey: AnyKey(key)) { return s }
        return json(key)?.contentText
    }

    /// An array member whose elements decode as `T`; elements that do not are skipped.
    func array<T: Decodable>(_ key: String, of type: T.Type = T.self) -> [T] {
        guard contains(AnyKey(key)), (try? decodeNil(forKey: AnyKey(key))) == false,
            var items = try? nestedUnkeyedContainer(forKey: AnyKey(key))
        else { return [] }
        var out: [T] = []
        while !items.isAtEnd {
            if let item = try? items.decode(T.self) {
                out.append(item)
            } else if (try? items.decode(JSONValue.self)) == nil {
                break
            }
        }
        return out
    }

    /// Token usage in any of the shapes providers send.
    func usage(_ key: String) -> TokenUsage? {
        (try? decodeIfPresent(WireUsage.self, forKey: AnyKey(key)))?.value
    }
}

extension JSONValue {
    /// An integer from a number (rounded toward zero) or a numeric string.
    var lenientInt: Int? {
        switch self {
        case .number(let d):
            return d.isFinite && abs(d) < 9.2e18 ? Int(d) : nil
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespaces)
            if let i = Int(t) { return i }
            if let d = Double(t), d.isFinite, abs(d) < 9.2e18 { return Int(d) }
            return nil
        default:
            return nil
        }
    }

    /// A string, number or boolean as text (`400`, not `400.0`).
    var scalarText: String? {
        switch self {
        case .string(let s): return s
        case .number(let d):
            return d.isFinite && d.rounded() == d && abs(d) < 9.2e18 ? String(Int(d)) : String(d)
        case .bool(let b): return b ? "true" : "false"
        default: return nil
        }
    }

    /// Message content: a string, or the texts of an array of parts (`{"type":"text","text":…}`)
    /// joined; `nil` for `null` or anything else.
    var contentText: String? {
        switch self {
        case .string(let s):
            return s
        case .array(let parts):
            var text = ""
            var any = false
            for part in parts {
                switch part {
                case .string(let s):
                    text += s
                    any = true
                case .object(let o):
                    let type = o["type"]?.stringValue
                    guard type == nil || type == "text" || type == "output_text" else { continue }
                    if let s = o["text"]?.stringValue ?? o["text"]?["value"]?.stringValue {
                        text += s
                        any = true
                    }
                default:
                    continue
                }
            }
            return any ? text : nil
        default:
            return nil
        }
    }
}

/// Token usage as the providers report it, mapped to ``TokenUsage``.
///
/// Accepts `prompt_tokens`/`input_tokens`, `completion_tokens`/`output_tokens`, `total_tokens`
/// (completion is derived from it when missing), cached prompt tokens from
/// `prompt_tokens_details.cached_tokens`, `prompt_cache_hit_tokens` (DeepSeek),
/// `input_tokens_details.cached_tokens` or `cached_tokens` (Moonshot), and reasoning tokens from
/// `completion_tokens_details.reasoning_tokens` or `output_tokens_details.reasoning_tokens`.
/// Counts may be numbers or numeric strings; `null`s are ignored. `value` is `nil` when the object
/// carries no count at all.
struct WireUsage: Decodable, Sendable {
    var value: TokenUsage?

    init(from decoder: any Decoder) throws {
        guard let c = try? decoder.container(keyedBy: AnyKey.self) else {
            value = nil
            return
        }
        // Counts are clamped to 0…2^40: a provider's nonsense must neither overflow sums nor go negative.
        func count(_ x: Int?) -> Int? { x.map { min(max($0, 0), 1 << 40) } }
        var prompt = count(c.int("prompt_tokens") ?? c.int("input_tokens"))
        var completion = count(c.int("completion_tokens") ?? c.int("output_tokens"))
        let total = count(c.int("total_tokens"))
        switch (prompt, completion, total) {
        case (nil, nil, nil):
            value = nil
            return
        case (let p?, nil, let t?):
            completion = max(0, t - p)
        case (nil, let k?, let t?):
            prompt = max(0, t - k)
        case (nil, nil, let t?):
            prompt = t
        default:
            break
        }
        let cached = count(
            c.object("prompt_tokens_details")?.int("cached_tokens") ?? c.int("prompt_cache_hit_tokens")
                ?? c.object("input_tokens_details")?.int("cached_tokens") ?? c.int("cached_tokens"))
        let reasoning = count(
            c.object("completion_tokens_details")?.int("reasoning_tokens")
                ?? c.object("output_tokens_details")?.int("reasoning_tokens"))
        value = TokenUsage(
            promptTokens: prompt ?? 0, completionTokens: completion ?? 0, cachedPromptTokens: cached,
            reasoningTokens: reasoning)
    }
}
