/// Turns generated tokens into text as they come, holding back the bytes of a character that is
/// not complete yet (a Chinese character or an emoji split over byte tokens), so every piece it
/// returns is whole UTF-8.
///
/// ```swift
/// var stream = TokenTextStream(tokenizer)
/// for id in generated { send(stream.append(id)) }
/// send(stream.finish())
/// ```
public struct TokenTextStream: Sendable {
    private let tokenizer: LLMTokenizer
    private let special: Bool
    private var pending: [UInt8] = []

    /// A stream decoding with `tokenizer`; control tokens are left out unless `special`.
    public init(_ tokenizer: LLMTokenizer, special: Bool = false) {
        self.tokenizer = tokenizer
        self.special = special
    }

    /// The text that token `id` completes (often its own text, empty while a character is
    /// unfinished, sometimes several characters at once).
    public mutating func append(_ id: Int32) -> String {
        pending.append(contentsOf: tokenizer.piece(id, special: special))
        let ready = Self.completeLength(pending)
        guard ready > 0 else { return "" }
        let text = String(decoding: pending[0..<ready], as: UTF8.self)
        pending.removeFirst(ready)
        return text
    }

    /// What is held back, with U+FFFD for an unfinished character; the stream is then empty.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Whether bytes are held back.
    public var isHoldingBytes: Bool { !pending.isEmpty }

    /// How many leading bytes of `bytes` can be decoded now: all of them but a final sequence that
    /// is the valid beginning of a longer character.
    static func completeLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // The last character starts at most 3 bytes before the end.
        var i = n - 1
        while i >= 0 && i >= n - 4 {
            let b = bytes[i]
            if b & 0xC0 != 0x80 {
                let need = b < 0x80 ? 1 : b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 1
                return n - i < need && prefixIsValid(bytes[i...]) ? i : n
            }
            i -= 1
        }
        return n
    }

    /// Whether `bytes` (a lead byte and fewer continuation bytes than it needs) can still become a
    /// valid character.
    private static func prefixIsValid(_ bytes: ArraySlice<UInt8>) -> Bool {
        let lead = bytes[bytes.startIndex]
        guard bytes.count > 1 else { return true }
        let second = bytes[bytes.startIndex + 1]
        // The second byte's range rules out overlong forms, surrogates and values past U+10FFFF.
        switch lead {
        case 0xE0: return (0xA0...0xBF).contains(second)
        case 0xED: return (0x80...0x9F).contains(second)
        case 0xF0: return (0x90...0xBF).contains(second)
        case 0xF4: return (0x80...0x8F).contains(second)
        default: return true
        }
    }
}
