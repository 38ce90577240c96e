/// Splits text into sentences.
///
/// Knows Chinese terminators (。！？；…), English ones (`.`, `!`, `?`, `;`) with the usual exceptions
/// (abbreviations such as `Mr.`, `e.g.`, `No.`, decimals such as `0.5`, initials), closing quotes and
/// brackets that belong to the sentence before them, and line breaks.
///
/// ```swift
/// SentenceSplitter.split("运费多少？首重12元。Mr. Li said so.")
/// // ["运费多少？", "首重12元。", "Mr. Li said so."]
/// ```
public enum SentenceSplitter {
    /// A sentence as a range of Unicode-scalar offsets into the text (trailing spaces excluded).
    public struct Span: Sendable, Equatable {
        /// Start offset.
        public var start: Int
        /// End offset (exclusive).
        public var end: Int
        /// Length in scalars.
        public var length: Int { end - start }
    }

    private static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "nos", "inc", "ltd",
        "co", "corp", "dept", "approx", "fig", "vol", "p", "pp", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
        "sep", "sept", "oct", "nov", "dec", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "u.s", "u.k", "a.m",
        "p.m", "ave", "rd", "est", "max", "min", "tel", "ext",
    ]

    @inline(__always)
    private static func isStrongTerminator(_ v: UInt32) -> Bool {
        v == 0x3002 || v == 0xFF01 || v == 0xFF1F || v == 0xFF1B || v == 0x21 || v == 0x3F || v == 0x2026
            || v == 0xFF61 || v == 0x3B
    }

    @inline(__always)
    private static func isCloser(_ v: UInt32) -> Bool {
        // ” ’ 」 』 ） 》 〉 】 " ' ) ]
        v == 0x201D || v == 0x2019 || v == 0x300D || v == 0x300F || v == 0xFF09 || v == 0x300B || v == 0x3009
            || v == 0x3011 || v == 0x22 || v == 0x27 || v == 0x29 || v == 0x5D
    }

    @inline(__always)
    private static func isSpace(_ v: UInt32) -> Bool {
        v == 0x20 || v == 0x09 || v == 0x0A || v == 0x0D || v == 0x3000 || v == 0xA0
    }

    /// Sentence spans of `text`, in order, covering every non-space character.
    public static func spans(_ text: String) -> [Span] {
        spans(Array(text.unicodeScalars.map(\.value)))
    }

    /// Sentence spans of a scalar array.
    public static func spans(_ s: [UInt32]) -> [Span] {
        var out: [Span] = []
        var start = 0
        let n = s.count
        var i = 0
        func emit(_ end: Int) {
            var a = start
            var b = end
            while a < b && isSpace(s[a]) { a += 1 }
            while b > a && isSpace(s[b - 1]) { b -= 1 }
            if b > a { out.append(Span(start: a, end: b)) }
            start = end
        }
        while i < n {
            let v = s[i]
            if v == 0x0A {
                emit(i + 1)
                i += 1
                continue
            }
            if isStrongTerminator(v) || v == 0x2E {
                var j = i + 1
                if v == 0x2E {
                    // Decimal or dotted code: "0.5", "v1.2", "www.example.com".
                    if j < n && !isSpace(s[j]) && !isCloser(s[j]) && s[j] != 0x2E {
                        i += 1
                        continue
                    }
                    if isAbbreviation(s, dotAt: i) {
                        i += 1
                        continue
                    }
                }
                // Runs of terminators (?!, ……, ...) and closing quotes stay with the sentence.
                while j < n && (isStrongTerminator(s[j]) || s[j] == 0x2E || isCloser(s[j])) { j += 1 }
                if v == 0x2E || v == 0x21 || v == 0x3F || v == 0x3B {
                    // ASCII terminators need a following space or end (not "3.5kg", "a?b").
                    if j < n && !isSpace(s[j]) && !isCJKish(s[j]) {
                        i = j
                        continue
                    }
                }
                emit(j)
                i = j
                continue
            }
            i += 1
        }
        emit(n)
        return out
    }

    @inline(__always)
    private static func isCJKish(_ v: UInt32) -> Bool { v >= 0x2E80 }

    private static func isAbbreviation(_ s: [UInt32], dotAt i: Int) -> Bool {
        // The word before the dot (letters and inner dots).
        var a = i
        while a > 0 {
            let c = s[a - 1]
            let isLetter = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E
            if !isLetter { break }
            a -= 1
        }
        guard a < i else { return false }
        var word = String.UnicodeScalarView()
        for k in a..<i { if let u = Unicode.Scalar(s[k]) { word.append(u) } }
        let w = String(word).lowercased()
        if abbreviations.contains(w) { return true }
        // A single capital letter is an initial ("J. Smith").
        if i - a == 1, let c = s.indices.contains(a) ? s[a] : nil, c >= 0x41 && c <= 0x5A { return true }
        return false
    }
}
