import Foundation

/// An API key (or any credential) that never prints itself.
///
/// `description`, `debugDescription` and string interpolation all show `•••`; the value is only
/// read where it goes on the wire (the `Authorization` header). Messages that may echo a key back
/// (provider error texts) go through ``Secret/redact(_:)`` first.
///
/// ```swift
/// let key = Secret("sk-…")
/// print("\(key)")   // •••
/// ```
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    let value: String

    /// Wraps a credential.
    public init(_ value: String) { self.value = value }

    /// `•••`.
    public var description: String { "•••" }
    /// `Secret(•••)`.
    public var debugDescription: String { "Secret(•••)" }

    /// The credential, for the request header only.
    public var exposedValue: String { value }

    /// `text` with this credential, and anything shaped like an API key, replaced by `[redacted]`.
    public func redact(_ text: String) -> String {
        var out = text
        if value.count >= 4 { out = out.replacingOccurrences(of: value, with: "[redacted]") }
        return Secret.redactKeyShapes(out)
    }

    /// Replaces words that look like API keys (`sk-…`, `bce-v3/…`, long opaque tokens, partially
    /// masked keys such as `sk-abc***xyz`) by `[redacted]`.
    public static func redactKeyShapes(_ text: String) -> String {
        var result = ""
        var word = ""
        func flush() {
            result += looksLikeKey(word) ? "[redacted]" : word
            word = ""
        }
        for ch in text {
            if ch.isWhitespace || ch == "\"" || ch == "'" || ch == "," || ch == "，" || ch == "：" || ch == "(" || ch == ")" {
                flush()
                result.append(ch)
            } else {
                word.append(ch)
            }
        }
        flush()
        return result
    }

    static func looksLikeKey(_ w: String) -> Bool {
        let lower = w.lowercased()
        for prefix in ["sk-", "sk_", "bce-v3/", "ak-", "key-", "bearer:"] where lower.hasPrefix(prefix) && w.count >= 12 {
            return true
        }
        // A long run of letters and digits mixed, like a raw token (32+ chars, at least one digit
        // and one letter, no spaces). URLs and paths are not keys.
        if w.count >= 32, !w.contains("/"), !w.contains("."),
            w.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "*") }),
            w.contains(where: \.isNumber), w.contains(where: \.isLetter)
        {
            return true
        }
        return false
    }
}
