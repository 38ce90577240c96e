import WendaoCore

// Byte-level helpers shared by the loaders. They work on UTF-8 bytes so that large inputs stay fast
// even in unoptimised (debug) builds.

enum TextScan {
    /// True for scalars of CJK scripts that are written without spaces between words (Han, kana,
    /// bopomofo, CJK punctuation, fullwidth forms). Hangul is excluded: Korean uses spaces.
    static func isCJK(_ v: UInt32) -> Bool {
        switch v {
        case 0x2E80...0x2FDF, 0x3000...0x303F, 0x3040...0x30FF, 0x3100...0x312F, 0x3190...0x31FF,
            0x3200...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0xFE30...0xFE4F,
            0xFF00...0xFFEF, 0x20000...0x3FFFF:
            return true
        default:
            return false
        }
    }

    /// True when the string contains at least one CJK scalar.
    static func containsCJK(_ s: String) -> Bool {
        for u in s.unicodeScalars where isCJK(u.value) { return true }
        return false
    }

    /// Length of the UTF-8 sequence a lead byte announces (1 for ASCII and for stray bytes).
    @inline(__always)
    static func sequenceLength(_ lead: UInt8) -> Int {
        if lead < 0xC0 { return 1 }
        if lead < 0xE0 { return 2 }
        if lead < 0xF0 { return 3 }
        return 4
    }

    /// Decodes the scalar starting at `i` (lenient: malformed input gives U+FFFD) and its length.
    @inline(__always)
    static func scalar(at i: Int, in b: UnsafeBufferPointer<UInt8>) -> (value: UInt32, length: Int) {
        let lead = b[i]
        if lead < 0x80 { return (UInt32(lead), 1) }
        let n = sequenceLength(lead)
        guard n > 1, i + n <= b.count else { return (0xFFFD, 1) }
        var v = UInt32(lead) & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07)
        for k in 1..<n {
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { return (0xFFFD, 1) }
            v = v << 6 | UInt32(c & 0x3F)
        }
        return (v, n)
    }

    /// The scalar that ends just before `end` (lenient).
    @inline(__always)
    static func scalar(endingAt end: Int, in b: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var start = end - 1
        var steps = 0
        while start > 0, b[start] & 0xC0 == 0x80, steps < 3 {
            start -= 1
            steps += 1
        }
        guard start >= 0 else { return 0xFFFD }
        let s = scalar(at: start, in: b)
        return start + s.length == end ? s.value : 0xFFFD
    }

    /// Length of the whitespace scalar at `i` (ASCII whitespace, NEL, NBSP, Unicode spaces, line
    /// and paragraph separators, ideographic space, BOM/ZWNBSP), or 0 when it is not whitespace.
    @inline(__always)
    static func whitespaceLength(at i: Int, in b: UnsafeBufferPointer<UInt8>) -> Int {
        let c = b[i]
        if c < 0x80 {
            return c == 0x20 || (c >= 0x09 && c <= 0x0D) ? 1 : 0
        }
        if c == 0xC2, i + 1 < b.count, b[i + 1] == 0xA0 || b[i + 1] == 0x85 { return 2 }
        if c == 0xE2, i + 2 < b.count {
            let c1 = b[i + 1], c2 = b[i + 2]
            if c1 == 0x80, c2 >= 0x80 && c2 <= 0x8A || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF { return 3 }
            if c1 == 0x81, c2 == 0x9F { return 3 }
        }
        if c == 0xE3, i + 2 < b.count, b[i + 1] == 0x80, b[i + 2] == 0x80 { return 3 }
        if c == 0xE1, i + 2 < b.count, b[i + 1] == 0x9A, b[i + 2] == 0x80 { return 3 }
        if c == 0xEF, i + 2 < b.count, b[i + 1] == 0xBB, b[i + 2] == 0xBF { return 3 }
        return 0
    }

    /// Collapses every whitespace run to one space and trims the ends. A run that contains a line
    /// break between two CJK characters is removed entirely (Chinese lines join without a space).
    /// With `keepNewlines`, line structure is kept instead (code blocks): trailing spaces are
    /// trimmed, runs of blank lines become one blank line.
    static func collapse(_ b: UnsafeBufferPointer<UInt8>, keepNewlines: Bool = false) -> String {
        if keepNewlines { return collapseKeepingLines(b) }
        if b.isEmpty { return "" }
        return String(unsafeUninitializedCapacity: b.count) { collapse(b, into: $0) }
    }

    /// Appends ``collapse(_:keepNewlines:)`` of `b` (one line) to `out` as UTF-8 bytes, without an
    /// intermediate string.
    static func appendCollapsed(_ b: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        if b.isEmpty { return }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: b.count))
        let written = out.withUnsafeMutableBufferPointer { all in
            collapse(b, into: UnsafeMutableBufferPointer(rebasing: all[start...]))
        }
        out.removeLast(b.count - written)
    }

    /// The collapsing loop: writes the collapsed bytes of `b` to `out` (at least `b.count` long) and
    /// returns how many were written.
    private static func collapse(_ b: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let n = b.count
        var written = 0
        var i = 0
        var lastRunEnd = 0  // end of the last non-space run copied
        while i < n {
            // Copy a run of non-space bytes. ASCII is tested inline; only lead bytes that can
            // start a Unicode space (C2, E1, E2, E3, EF) need the full test.
            var j = i
            while j < n {
                let c = b[j]
                if c < 0x80 {
                    if c == 0x20 || (c >= 0x09 && c <= 0x0D) { break }
                    j += 1
                } else {
                    if c == 0xC2 || c == 0xE1 || c == 0xE2 || c == 0xE3 || c == 0xEF,
                        whitespaceLength(at: j, in: b) > 0
                    {
                        break
                    }
                    j += c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4
                }
            }
            if j > n { j = n }
            if j > i {
                if let dst = out.baseAddress, let src = b.baseAddress {
                    (dst + written).update(from: src + i, count: j - i)
                }
                written += j - i
                lastRunEnd = j
                i = j
            }
            guard i < n else { break }
            // A whitespace run.
            var hasBreak = false
            while j < n {
                let wl = whitespaceLength(at: j, in: b)
                if wl == 0 { break }
                if b[j] == 0x0A || b[j] == 0x0D { hasBreak = true }
                j += wl
            }
            if written > 0, j < n {
                // A line break between two CJK characters disappears; any other run is one space.
                let join =
                    hasBreak && isCJK(scalar(endingAt: lastRunEnd, in: b)) && isCJK(scalar(at: j, in: b).value)
                if !join {
                    out[written] = 0x20
                    written += 1
                }
            }
            i = j
        }
        return written
    }

    private static func collapseKeepingLines(_ b: UnsafeBufferPointer<UInt8>) -> String {
        var lines: [Substring] = []
        let s = String(decoding: b, as: UTF8.self)
        for raw in s.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = raw
            while let last = line.last, last.isWhitespace { line = line.dropLast() }
            lines.append(line)
        }
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        var out = ""
        var blank = false
        for line in lines {
            if line.isEmpty {
                blank = true
                continue
            }
            if !out.isEmpty { out += blank ? "\n\n" : "\n" }
            blank = false
            out += line
        }
        return out
    }

    /// ``collapse(_:keepNewlines:)`` for a string.
    static func collapse(_ s: String, keepNewlines: Bool = false) -> String {
        var copy = s
        return copy.withUTF8 { collapse($0, keepNewlines: keepNewlines) }
    }

    /// True when the bytes are only whitespace.
    static func isBlank(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < b.count {
            let w = whitespaceLength(at: i, in: b)
            if w == 0 { return false }
            i += w
        }
        return true
    }

    /// The file name without its last extension (`faq.csv` → `faq`).
    static func baseName(_ fileName: String) -> String {
        let name = fileName.split(separator: "/").last.map(String.init) ?? fileName
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// The lowercased last extension without the dot, or "" (`A.TXT` → `txt`; `.bashrc` → "").
    static func fileExtension(_ fileName: String) -> String {
        let name = fileName.split(separator: "/").last.map(String.init) ?? fileName
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...]).lowercased()
    }
}

/// Splits UTF-8 text fed in pieces into paragraphs at blank lines. Lines of one paragraph are
/// joined (with a space, or without one between CJK characters). A paragraph longer than
/// `maxParagraphBytes` is emitted in pieces cut at a sentence end or whitespace near the limit.
/// Memory stays bounded by the piece size plus the paragraph limit.
struct ParagraphSplitter {
    let maxParagraphBytes: Int
    private var para: [UInt8] = []
    private var lineHasContent = false
    /// True when the last byte appended was a carriage return (a following line feed belongs to it).
    private var pendingCR = false

    init(maxParagraphBytes: Int = 64 * 1024) {
        self.maxParagraphBytes = max(1024, maxParagraphBytes)
        para.reserveCapacity(min(self.maxParagraphBytes + 4096, 1 << 20))
    }

    /// Feeds the next piece of UTF-8 bytes (pieces must be cut at scalar boundaries).
    mutating func feed(_ b: UnsafeBufferPointer<UInt8>, _ emit: (String) throws -> Void) rethrows {
        let n = b.count
        var i = 0
        while i < n {
            // Find the next line break (LF or CR).
            var j = i
            while j < n, b[j] != 0x0A, b[j] != 0x0D { j += 1 }
            if j > i {
                let seg = UnsafeBufferPointer(rebasing: b[i..<j])
                pendingCR = false
                if !lineHasContent, !TextScan.isBlank(seg) { lineHasContent = true }
                para.append(contentsOf: seg)
                if para.count > maxParagraphBytes { try emitOversized(emit) }
            }
            guard j < n else { break }
            let c = b[j]
            if c == 0x0A, pendingCR {
                // Second half of CR LF: the break was handled at the CR.
                pendingCR = false
                i = j + 1
                continue
            }
            pendingCR = c == 0x0D
            try endLine(emit)
            i = j + 1
        }
    }

    private mutating func endLine(_ emit: (String) throws -> Void) rethrows {
        if lineHasContent {
            para.append(0x0A)
            lineHasContent = false
        } else {
            try flush(emit)
        }
    }

    /// Emits whatever paragraph is pending (call once at the end).
    mutating func finish(_ emit: (String) throws -> Void) rethrows {
        try flush(emit)
    }

    private mutating func flush(_ emit: (String) throws -> Void) rethrows {
        defer {
            para.removeAll(keepingCapacity: true)
            lineHasContent = false
        }
        guard !para.isEmpty else { return }
        let text = para.withUnsafeBufferPointer { TextScan.collapse($0) }
        if !text.isEmpty { try emit(text) }
    }

    /// Cuts the oversized paragraph near the limit and emits the first part.
    private mutating func emitOversized(_ emit: (String) throws -> Void) rethrows {
        while para.count > maxParagraphBytes {
            let cut = para.withUnsafeBufferPointer { Self.cutPoint($0, limit: maxParagraphBytes) }
            let head = para.withUnsafeBufferPointer { TextScan.collapse(UnsafeBufferPointer(rebasing: $0[0..<cut])) }
            para.removeSubrange(0..<cut)
            if !head.isEmpty { try emit(head) }
        }
    }

    /// A cut position ≤ limit: after a sentence end, else at whitespace, else at a scalar boundary.
    static func cutPoint(_ b: UnsafeBufferPointer<UInt8>, limit: Int) -> Int {
        let window = max(256, limit / 8)
        let lower = max(1, limit - window)
        var i = min(limit, b.count)
        var space = -1
        while i > lower {
            let c = b[i - 1]
            // ASCII sentence ends followed by a space, or CJK sentence ends (。！？；).
            if c == 0x2E || c == 0x21 || c == 0x3F || c == 0x3B {
                if i < b.count, b[i] == 0x20 || b[i] == 0x0A { return i }
            }
            if i >= 3, b[i - 3] == 0xE3, b[i - 2] == 0x80, b[i - 1] == 0x82 { return i }  // 。
            if i >= 3, b[i - 3] == 0xEF, b[i - 2] == 0xBC,
                b[i - 1] == 0x81 || b[i - 1] == 0x9F || b[i - 1] == 0x9B
            {
                return i  // ！ ？ ；
            }
            if space < 0, c == 0x20 || c == 0x0A || c == 0x09 { space = i }
            i -= 1
        }
        if space > 0 { return space }
        // Fall back to a scalar boundary at the limit.
        var cut = min(limit, b.count)
        while cut > 1, cut < b.count, b[cut] & 0xC0 == 0x80 { cut -= 1 }
        return max(1, cut)
    }
}
