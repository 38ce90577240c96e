/// A piece of text to encode: plain text, or a token already chosen.
enum TextFragment: Equatable {
    /// A range of the text's UTF-8 bytes, to pre-tokenize and merge.
    case text(Range<Int>)
    /// A special token written in the text.
    case token(Int32)
}

/// Finds special tokens written in text, as llama.cpp's `tokenizer_st_partition` does: tokens are
/// taken longest first, and each one splits every plain stretch left by the longer ones at each of
/// its occurrences (left to right, not overlapping).
struct SpecialTokenSplitter: Sendable {
    /// A special token's id, its bytes, and whether it is parsed only on request (control and
    /// unknown tokens) rather than always (user-defined tokens).
    struct Entry: Sendable {
        var id: Int32
        var bytes: [UInt8]
        var onRequestOnly: Bool
    }

    /// The tokens, longest first (ties by id).
    let entries: [Entry]
    /// Which bytes begin some entry.
    private let firstBytes: [Bool]

    init(entries: [Entry]) {
        let nonEmpty = entries.filter { !$0.bytes.isEmpty }
        self.entries = nonEmpty.sorted { a, b in
            a.bytes.count != b.bytes.count ? a.bytes.count > b.bytes.count : a.id < b.id
        }
        var first = [Bool](repeating: false, count: 256)
        for e in nonEmpty { first[Int(e.bytes[0])] = true }
        firstBytes = first
    }

    /// The fragments of `text`; control tokens only when `parseSpecial`.
    func split(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [TextFragment] {
        guard !text.isEmpty else { return [] }
        // Which entries occur at all: checked only where a first byte of some entry stands.
        var present = [Bool](repeating: false, count: entries.count)
        var any = false
        for i in 0..<text.count where firstBytes[Int(text[i])] {
            for (k, e) in entries.enumerated() where !present[k] && (parseSpecial || !e.onRequestOnly) {
                if Self.matches(e.bytes, text, at: i) {
                    present[k] = true
                    any = true
                }
            }
        }
        var fragments: [TextFragment] = [.text(0..<text.count)]
        guard any else { return fragments }
        for (k, e) in entries.enumerated() where present[k] {
            var next: [TextFragment] = []
            next.reserveCapacity(fragments.count + 2)
            for f in fragments {
                guard case .text(let range) = f else {
                    next.append(f)
                    continue
                }
                var start = range.lowerBound
                var i = range.lowerBound
                while i + e.bytes.count <= range.upperBound {
                    if text[i] == e.bytes[0], Self.matches(e.bytes, text, at: i) {
                        if i > start { next.append(.text(start..<i)) }
                        next.append(.token(e.id))
                        i += e.bytes.count
                        start = i
                    } else {
                        i += 1
                    }
                }
                if start < range.upperBound { next.append(.text(start..<range.upperBound)) }
            }
            fragments = next
        }
        return fragments
    }

    private static func matches(_ needle: [UInt8], _ text: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i + needle.count <= text.count else { return false }
        for (k, b) in needle.enumerated() where text[i + k] != b { return false }
        return true
    }
}
