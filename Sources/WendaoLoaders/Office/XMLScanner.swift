import Foundation
import WendaoCore

// A small, non-validating XML pull tokenizer over UTF-8 bytes, written for the Office and EPUB
// loaders. It never processes a DTD: a DOCTYPE with an internal subset or any ENTITY declaration
// refuses the whole part, so neither external entities (XXE) nor entity expansion (billion laughs)
// can happen. Only the five predefined entities and numeric character references are decoded
// (plus the common HTML names in HTML mode); any other `&name;` stays literal.
//
// The scanner is resumable at token boundaries: `scan` reports how many bytes it consumed and the
// caller keeps the rest for the next chunk, so parts are parsed while they inflate and never need
// to be held whole. Long text runs are delivered in pieces, so a part made of one enormous text run
// does not grow the carry-over buffer.

/// Receives the events of an ``XMLScanner``. The byte views passed in are valid only during the call.
protocol XMLHandler {
    /// An element starts. A self-closing element is followed at once by ``end(_:)``.
    mutating func start(_ tag: XMLTag) throws
    /// An element ends (the local name, without prefix).
    mutating func end(_ name: XMLName) throws
    /// Character data (possibly one piece of a longer run).
    mutating func text(_ text: XMLText) throws
}

/// Thrown by a handler that has read enough: the caller stops parsing without an error.
struct XMLStop: Error {}

/// A local element name (the part after any `prefix:`).
struct XMLName {
    /// The name's bytes.
    let bytes: UnsafeBufferPointer<UInt8>

    /// Whether the name equals `s` (ASCII, case-sensitive).
    @inline(__always)
    func `is`(_ s: StaticString) -> Bool {
        XMLBytes.equal(bytes, s)
    }

    /// The name as a string.
    var string: String { String(decoding: bytes, as: UTF8.self) }
}

/// A start tag: its local name and lazily read attributes.
struct XMLTag {
    /// The local element name.
    let name: XMLName
    /// The bytes after the element name up to (not including) `>` or `/>`.
    let attributeBytes: UnsafeBufferPointer<UInt8>
    /// Whether the tag ends with `/>`.
    let selfClosing: Bool
    /// Whether named HTML entities are decoded in attribute values.
    let html: Bool

    /// The decoded value of the attribute whose qualified name is exactly `qualified`
    /// (e.g. `r:id`, `name`).
    func attribute(_ qualified: StaticString) -> String? {
        raw(qualified).map(decode)
    }

    /// The decoded value of the first attribute whose local name is `local`, whatever its prefix.
    func attribute(local: StaticString) -> String? {
        find { _, loc in XMLBytes.equal(loc, local) }.map(decode)
    }

    /// The raw (undecoded) value of the attribute named exactly `qualified`.
    func raw(_ qualified: StaticString) -> UnsafeBufferPointer<UInt8>? {
        find { full, _ in XMLBytes.equal(full, qualified) }
    }

    /// Calls `visit` with each attribute's qualified name, local name and raw value, in document
    /// order, until it returns true.
    func forEachAttribute(
        _ visit: (
            _ qualified: UnsafeBufferPointer<UInt8>, _ local: UnsafeBufferPointer<UInt8>,
            _ value: UnsafeBufferPointer<UInt8>
        ) -> Bool
    ) {
        let b = attributeBytes
        let n = b.count
        var i = 0
        while i < n {
            while i < n, XMLBytes.isSpace(b[i]) { i += 1 }
            let nameStart = i
            var colon = -1
            while i < n, b[i] != UInt8(ascii: "="), !XMLBytes.isSpace(b[i]), b[i] != UInt8(ascii: "/") {
                if b[i] == UInt8(ascii: ":") { colon = i }
                i += 1
            }
            let nameEnd = i
            while i < n, XMLBytes.isSpace(b[i]) { i += 1 }
            var valueRange = 0..<0
            if i < n, b[i] == UInt8(ascii: "=") {
                i += 1
                while i < n, XMLBytes.isSpace(b[i]) { i += 1 }
                if i < n, b[i] == UInt8(ascii: "\"") || b[i] == UInt8(ascii: "'") {
                    let q = b[i]
                    let vs = i + 1
                    i = vs
                    while i < n, b[i] != q { i += 1 }
                    valueRange = vs..<i
                    i += 1
                } else {
                    let vs = i
                    while i < n, !XMLBytes.isSpace(b[i]) { i += 1 }
                    valueRange = vs..<i
                }
            } else if nameEnd == nameStart {
                i += 1  // a stray byte such as `/`
                continue
            }
            guard nameEnd > nameStart else { continue }
            let full = UnsafeBufferPointer(rebasing: b[nameStart..<nameEnd])
            let local = colon >= 0 ? UnsafeBufferPointer(rebasing: b[(colon + 1)..<nameEnd]) : full
            if visit(full, local, UnsafeBufferPointer(rebasing: b[valueRange])) { return }
        }
    }

    private func decode(_ value: UnsafeBufferPointer<UInt8>) -> String {
        if !value.contains(0x26) {
            return String(decoding: value, as: UTF8.self)
        }
        var out: [UInt8] = []
        XMLBytes.appendDecoded(value, html: html, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private func find(
        _ match: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Bool
    ) -> UnsafeBufferPointer<UInt8>? {
        var found: UnsafeBufferPointer<UInt8>?
        forEachAttribute { full, local, value in
            guard match(full, local) else { return false }
            found = value
            return true
        }
        return found
    }
}

/// A piece of character data.
struct XMLText {
    /// The raw bytes (entities not yet decoded unless ``isCDATA``).
    let raw: UnsafeBufferPointer<UInt8>
    /// Whether the bytes come from a CDATA section (taken literally).
    let isCDATA: Bool
    /// Whether named HTML entities are decoded.
    let html: Bool

    /// Appends the decoded text to `out`.
    func append(to out: inout [UInt8]) {
        if isCDATA {
            out.append(contentsOf: raw)
        } else {
            XMLBytes.appendDecoded(raw, html: html, to: &out)
        }
    }

    /// Whether the text is only XML whitespace.
    var isWhitespace: Bool {
        for c in raw where !XMLBytes.isSpace(c) { return false }
        return true
    }
}

/// Byte helpers shared by the scanner and its handlers.
enum XMLBytes {
    @inline(__always)
    static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D
    }

    @inline(__always)
    static func equal(_ b: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard b.count == n, let base = b.baseAddress else { return n == 0 && b.isEmpty }
        return equal(base, s.utf8Start, n)
    }

    /// The index of the first `byte` in `b` at or after `from`, or nil. A few bytes are looked at
    /// inline before memchr is called: most tokens and values in Office XML are short.
    @inline(__always)
    static func index(of byte: UInt8, in b: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        let n = b.count
        var i = from
        let stop = min(n, from + 16)
        while i < stop {
            if b[i] == byte { return i }
            i += 1
        }
        guard i < n, let base = b.baseAddress, let p = memchr(base + i, Int32(byte), n - i) else { return nil }
        return UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self) - base
    }

    /// Whether `n` bytes at `a` and `b` are equal (short names compared inline, not with memcmp).
    @inline(__always)
    static func equal(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        if n > 8 { return memcmp(a, b, n) == 0 }
        for k in 0..<n where a[k] != b[k] { return false }
        return true
    }

    /// Decodes `&lt; &gt; &amp; &quot; &apos;` and numeric references (and, in HTML mode, the common
    /// named HTML entities); anything else stays literal.
    static func appendDecoded(_ b: UnsafeBufferPointer<UInt8>, html: Bool, to out: inout [UInt8]) {
        guard !b.isEmpty else { return }
        let n = b.count
        var i = 0
        while i < n {
            guard let a = index(of: 0x26, in: b, from: i) else {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<n]))
                return
            }
            if a > i { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<a])) }
            var j = a + 1
            while j < n, j - a <= 32, b[j] != UInt8(ascii: ";"), b[j] != UInt8(ascii: "&") { j += 1 }
            if j < n, b[j] == UInt8(ascii: ";"), let decoded = entity(UnsafeBufferPointer(rebasing: b[(a + 1)..<j]),
                                                                    html: html) {
                out.append(contentsOf: decoded)
                i = j + 1
            } else {
                out.append(0x26)
                i = a + 1
            }
        }
    }

    private static func entity(_ name: UnsafeBufferPointer<UInt8>, html: Bool) -> [UInt8]? {
        if equal(name, "lt") { return [0x3C] }
        if equal(name, "gt") { return [0x3E] }
        if equal(name, "amp") { return [0x26] }
        if equal(name, "quot") { return [0x22] }
        if equal(name, "apos") { return [0x27] }
        if name.count >= 2, name[0] == UInt8(ascii: "#") {
            var value: UInt32 = 0
            let hex = name[1] == UInt8(ascii: "x") || name[1] == UInt8(ascii: "X")
            let digits = name[(hex ? 2 : 1)...]
            guard !digits.isEmpty, digits.count <= 8 else { return nil }
            for c in digits {
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x61...0x66 where hex: d = UInt32(c - 0x61 + 10)
                case 0x41...0x46 where hex: d = UInt32(c - 0x41 + 10)
                default: return nil
                }
                value = value * (hex ? 16 : 10) + d
            }
            guard value != 0, let scalar = Unicode.Scalar(value) else { return nil }
            return Array(String(Character(scalar)).utf8)
        }
        if html, let s = HTMLEntities.named[String(decoding: name, as: UTF8.self)] {
            return Array(s.utf8)
        }
        return nil
    }
}

/// The tokenizer. Feed it bytes with ``scan(_:final:handler:)``; keep the unconsumed tail.
struct XMLScanner {
    /// Most nested elements accepted.
    static let maxDepth = 256
    /// Longest element or attribute name accepted, in bytes.
    static let maxName = 1_024

    /// Part name used in error messages.
    let part: String
    /// HTML mode: void elements, unmatched end tags, stray `<` and named HTML entities tolerated.
    let html: Bool
    /// Names of the open elements back to back (`nameStarts` marks where each begins). Only the
    /// first `namesEnd` bytes are in use, so closing an element never shrinks the array.
    private var names: [UInt8] = []
    private var namesEnd = 0
    private var nameStarts: [Int] = []
    private var sawRoot = false

    /// Creates a scanner for the part named `part`.
    init(part: String, html: Bool = false) {
        self.part = part
        self.html = html
    }

    private static let voidElements: Set<String> = [
        "br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source", "param",
        "embed", "track", "keygen", "basefont", "frame",
    ]

    private func malformed(_ why: String) -> WendaoError {
        WendaoError(.unreadable, "malformed XML in \(part): \(why)")
    }

    /// The error for any DTD that could declare entities.
    func entityRefusal() -> WendaoError {
        WendaoError(.unsupported, "XML with entity declarations refused (\(part))")
    }

    /// Checks the end of input: the root element must have been seen and closed.
    func finish() throws {
        guard sawRoot else { throw malformed("no root element") }
        if !html, !nameStarts.isEmpty { throw malformed("unclosed element at end of part") }
    }

    /// Scans `b`, delivering events to `handler`. Returns the number of bytes consumed; the rest
    /// (an incomplete token) must be passed again, followed by more bytes. With `final`, an
    /// incomplete token is an error.
    mutating func scan<H: XMLHandler>(_ b: UnsafeBufferPointer<UInt8>, final: Bool, handler: inout H) throws -> Int {
        guard b.baseAddress != nil else { return 0 }
        let n = b.count
        var i = 0
        while i < n {
            if b[i] != UInt8(ascii: "<") {
                let lt = XMLBytes.index(of: 0x3C, in: b, from: i)
                let end = lt ?? n
                if lt == nil, !final {
                    var cut = end
                    var k = end - 1
                    while k >= i, end - k < 40 {
                        if b[k] == UInt8(ascii: ";") { break }
                        if b[k] == UInt8(ascii: "&") { cut = k; break }
                        k -= 1
                    }
                    if cut > i { try emitText(UnsafeBufferPointer(rebasing: b[i..<cut]), handler: &handler) }
                    return cut
                }
                try emitText(UnsafeBufferPointer(rebasing: b[i..<end]), handler: &handler)
                i = end
                continue
            }
            guard i + 1 < n else { break }
            let c = b[i + 1]
            if c == UInt8(ascii: "/") {
                guard let gt = find(0x3E, in: b, from: i + 2) else { break }
                var e = gt
                while e > i + 2, XMLBytes.isSpace(b[e - 1]) { e -= 1 }
                try endTag(UnsafeBufferPointer(rebasing: b[(i + 2)..<e]), handler: &handler)
                i = gt + 1
            } else if c == UInt8(ascii: "!") {
                guard let next = try markup(b, at: i, final: final, handler: &handler) else { break }
                i = next
            } else if c == UInt8(ascii: "?") {
                guard let end = find("?>", in: b, from: i + 2) else { break }
                i = end + 2
            } else {
                guard let next = try startTag(b, at: i, final: final, handler: &handler) else { break }
                i = next
            }
        }
        if i < n, final { throw malformed("truncated") }
        return i
    }

    // MARK: - Tokens

    private func find(_ byte: UInt8, in b: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        XMLBytes.index(of: byte, in: b, from: from)
    }

    private func find(_ s: StaticString, in b: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        let first = s.utf8Start.pointee
        let m = s.utf8CodeUnitCount
        var k = from
        while let p = find(first, in: b, from: k) {
            if p + m > b.count { return nil }
            if memcmp(b.baseAddress! + p, s.utf8Start, m) == 0 { return p }
            k = p + 1
        }
        return nil
    }

    private func hasPrefix(_ b: UnsafeBufferPointer<UInt8>, at i: Int, _ s: StaticString, caseless: Bool) -> Bool {
        let m = s.utf8CodeUnitCount
        guard i + m <= b.count else { return false }
        for k in 0..<m {
            var x = b[i + k]
            let y = s.utf8Start[k]
            if caseless, x >= 0x61, x <= 0x7A { x -= 0x20 }
            if x != y { return false }
        }
        return true
    }

    private mutating func emitText<H: XMLHandler>(_ t: UnsafeBufferPointer<UInt8>, handler: inout H) throws {
        if nameStarts.isEmpty {
            // Outside the root element only whitespace is allowed (HTML mode: anything is dropped).
            if !html {
                for c in t where !XMLBytes.isSpace(c) {
                    throw malformed(sawRoot ? "text after the root element" : "text before the root element")
                }
            }
            return
        }
        if !html, XMLBytes.index(of: 0, in: t, from: 0) != nil { throw malformed("NUL byte") }
        try handler.text(XMLText(raw: t, isCDATA: false, html: html))
    }

    /// `<!…>`: comment, CDATA, DOCTYPE. Returns the index after it, or nil when incomplete.
    private mutating func markup<H: XMLHandler>(
        _ b: UnsafeBufferPointer<UInt8>, at i: Int, final: Bool, handler: inout H
    ) throws -> Int? {
        if i + 9 > b.count, !final { return nil }
        if hasPrefix(b, at: i, "<!--", caseless: false) {
            guard let end = find("-->", in: b, from: i + 4) else { return nil }
            return end + 3
        }
        if hasPrefix(b, at: i, "<![CDATA[", caseless: false) {
            guard let end = find("]]>", in: b, from: i + 9) else { return nil }
            if !nameStarts.isEmpty {
                let raw = UnsafeBufferPointer(rebasing: b[(i + 9)..<end])
                try handler.text(XMLText(raw: raw, isCDATA: true, html: html))
            }
            return end + 3
        }
        if hasPrefix(b, at: i, "<!DOCTYPE", caseless: true) {
            // Refuse internal subsets and entity declarations as soon as they are visible.
            var k = i + 9
            while k < b.count, b[k] != UInt8(ascii: ">") {
                if b[k] == UInt8(ascii: "[") { throw entityRefusal() }
                if hasPrefix(b, at: k, "ENTITY", caseless: true) { throw entityRefusal() }
                if b[k] == UInt8(ascii: "\"") || b[k] == UInt8(ascii: "'") {
                    guard let close = find(b[k], in: b, from: k + 1) else { return nil }
                    k = close
                }
                k += 1
            }
            guard k < b.count else { return nil }
            return k + 1
        }
        if hasPrefix(b, at: i, "<!ENTITY", caseless: true) || hasPrefix(b, at: i, "<!ATTLIST", caseless: true)
            || hasPrefix(b, at: i, "<!ELEMENT", caseless: true)
        {
            throw entityRefusal()
        }
        if html {
            guard let gt = find(0x3E, in: b, from: i + 2) else { return nil }
            return gt + 1
        }
        throw malformed("unexpected markup declaration")
    }

    @inline(__always)
    private static func isNameByte(_ c: UInt8) -> Bool {
        !(isSpaceOrDelimiter(c))
    }

    @inline(__always)
    private static func isSpaceOrDelimiter(_ c: UInt8) -> Bool {
        c <= 0x20 || c == UInt8(ascii: "/") || c == UInt8(ascii: ">") || c == UInt8(ascii: "=")
            || c == UInt8(ascii: "<") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
    }

    /// A start tag at `i`. Returns the index after it, or nil when incomplete.
    private mutating func startTag<H: XMLHandler>(
        _ b: UnsafeBufferPointer<UInt8>, at i: Int, final: Bool, handler: inout H
    ) throws -> Int? {
        let n = b.count
        let first = b[i + 1]
        let nameOK = (first >= 0x41 && first <= 0x5A) || (first >= 0x61 && first <= 0x7A) || first == 0x5F
            || first == 0x3A || first >= 0x80
        guard nameOK else {
            if html {
                try emitText(UnsafeBufferPointer(rebasing: b[i..<(i + 1)]), handler: &handler)
                return i + 1
            }
            throw malformed("invalid tag")
        }
        var j = i + 1
        var colon = -1
        while j < n, Self.isNameByte(b[j]) {
            if b[j] == UInt8(ascii: ":") { colon = j }
            j += 1
        }
        if j - i > Self.maxName { throw WendaoError(.limitExceeded, "XML name too long in \(part)") }
        guard j < n else { return nil }
        let nameEnd = j
        let attrStart = j
        var selfClosing = false
        var attrEnd = -1
        var count = 0
        while j < n {
            let c = b[j]
            if c == UInt8(ascii: ">") {
                attrEnd = j
                break
            } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                guard let close = find(c, in: b, from: j + 1) else { return nil }
                j = close + 1
                count += 1
                if count > 4_096 { throw WendaoError(.limitExceeded, "too many XML attributes in \(part)") }
            } else if c == UInt8(ascii: "/"), j + 1 < n, b[j + 1] == UInt8(ascii: ">") {
                attrEnd = j
                selfClosing = true
                break
            } else if c == UInt8(ascii: "<"), !html {
                throw malformed("'<' inside a tag")
            } else {
                j += 1
            }
        }
        guard attrEnd >= 0 else { return nil }
        let localStart = colon >= 0 ? colon + 1 : i + 1
        let local = UnsafeBufferPointer(rebasing: b[localStart..<nameEnd])
        let tag = XMLTag(
            name: XMLName(bytes: local), attributeBytes: UnsafeBufferPointer(rebasing: b[attrStart..<attrEnd]),
            selfClosing: selfClosing, html: html)
        if !html, sawRoot, nameStarts.isEmpty { throw malformed("second root element") }
        sawRoot = true
        var isVoid = false
        if html, !selfClosing, local.count <= 8 {
            isVoid = Self.voidElements.contains(String(decoding: local, as: UTF8.self).lowercased())
        }
        if !selfClosing, !isVoid {
            if nameStarts.count >= Self.maxDepth {
                throw WendaoError(.limitExceeded, "XML nested deeper than \(Self.maxDepth) levels in \(part)")
            }
            nameStarts.append(namesEnd)
            pushName(local)
        }
        try handler.start(tag)
        if selfClosing || isVoid { try handler.end(tag.name) }
        return attrEnd + (selfClosing ? 2 : 1)
    }

    private mutating func endTag<H: XMLHandler>(_ full: UnsafeBufferPointer<UInt8>, handler: inout H) throws {
        var localStart = 0
        for (k, c) in full.enumerated() where c == UInt8(ascii: ":") { localStart = k + 1 }
        let local = UnsafeBufferPointer(rebasing: full[localStart...])
        if html {
            // Pop to the matching open element, closing what was left open; ignore strays.
            var k = nameStarts.count - 1
            while k >= 0, !topEquals(local, at: k) { k -= 1 }
            guard k >= 0 else { return }
            while nameStarts.count > k {
                let start = nameStarts.removeLast()
                let name = Array(names[start..<namesEnd])
                namesEnd = start
                try name.withUnsafeBufferPointer { try handler.end(XMLName(bytes: $0)) }
            }
            return
        }
        guard let start = nameStarts.last, topEquals(local, at: nameStarts.count - 1) else {
            throw malformed(nameStarts.isEmpty ? "unexpected end tag" : "mismatched end tag")
        }
        nameStarts.removeLast()
        namesEnd = start
        try handler.end(XMLName(bytes: local))
    }

    @inline(__always)
    private func topEquals(_ local: UnsafeBufferPointer<UInt8>, at k: Int) -> Bool {
        let start = nameStarts[k]
        let end = k + 1 < nameStarts.count ? nameStarts[k + 1] : namesEnd
        guard end - start == local.count else { return false }
        guard !local.isEmpty, let other = local.baseAddress else { return true }
        return names.withUnsafeBufferPointer { all in
            guard let base = all.baseAddress else { return false }
            return XMLBytes.equal(base + start, other, local.count)
        }
    }

    @inline(__always)
    private mutating func pushName(_ local: UnsafeBufferPointer<UInt8>) {
        let start = namesEnd
        let end = start + local.count
        if names.count < end { names.append(contentsOf: repeatElement(0, count: end - names.count)) }
        if let source = local.baseAddress, !local.isEmpty {
            names.withUnsafeMutableBufferPointer { all in
                if let base = all.baseAddress { (base + start).update(from: source, count: local.count) }
            }
        }
        namesEnd = end
    }
}

/// Feeds chunks into an ``XMLScanner``, keeping the incomplete tail between chunks. Detects a
/// UTF-8 BOM (skipped) and UTF-16 (the part is then collected and transcoded before scanning).
struct XMLStream<H: XMLHandler> {
    /// Largest incomplete token carried between chunks (a single tag or comment), in bytes.
    static var maxPending: Int { 32 << 20 }

    private var scanner: XMLScanner
    private var pending: [UInt8] = []
    private var decided = false
    private var utf16: Bool?  // true = little-endian, false = big-endian, nil = UTF-8
    private var handlerStopped = false

    /// Creates a stream for the part `part`.
    init(part: String, html: Bool) {
        scanner = XMLScanner(part: part, html: html)
    }

    /// Parses a whole part held in memory.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, part: String, html: Bool, handler: inout H) throws {
        var stream = XMLStream(part: part, html: html)
        try stream.feed(bytes, handler: &handler)
        try stream.finish(handler: &handler)
    }

    /// Feeds the next chunk.
    mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, handler: inout H) throws {
        if !decided {
            pending.append(contentsOf: chunk)
            guard pending.count >= 4 else { return }
            decide()
            if utf16 != nil { return }
            let all = pending
            pending = []
            try all.withUnsafeBufferPointer { try scanChunk($0, handler: &handler) }
            return
        }
        if utf16 != nil {
            pending.append(contentsOf: chunk)
            return
        }
        try scanChunk(chunk, handler: &handler)
    }

    private mutating func decide() {
        decided = true
        // Short parts (fewer than 4 bytes) are padded for the look-ahead (fuzzing found the overrun).
        let p = pending + [UInt8](repeating: 0x20, count: max(0, 4 - pending.count))
        if p[0] == 0xEF, p[1] == 0xBB, p[2] == 0xBF, pending.count >= 3 {
            pending.removeFirst(3)
        } else if (p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0x3C && p[1] == 0 && p[2] != 0) {
            utf16 = true
        } else if (p[0] == 0xFE && p[1] == 0xFF) || (p[0] == 0 && p[1] == 0x3C) {
            utf16 = false
        }
    }

    private mutating func scanChunk(_ chunk: UnsafeBufferPointer<UInt8>, handler: inout H) throws {
        if pending.isEmpty {
            let used = try scanner.scan(chunk, final: false, handler: &handler)
            if used < chunk.count { pending.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[used...])) }
        } else {
            pending.append(contentsOf: chunk)
            let used = try pending.withUnsafeBufferPointer { try scanner.scan($0, final: false, handler: &handler) }
            if used == pending.count {
                pending.removeAll(keepingCapacity: true)
            } else if used > 0 {
                pending.removeSubrange(0..<used)
            }
        }
        if pending.count > Self.maxPending {
            throw WendaoError(.limitExceeded, "XML token larger than \(Self.maxPending >> 20) MB in \(scanner.part)")
        }
    }

    /// Ends the input: scans what is left and checks the document was complete.
    mutating func finish(handler: inout H) throws {
        if !decided {
            if pending.isEmpty { throw WendaoError(.unreadable, "malformed XML in \(scanner.part): empty part") }
            decide()
        }
        if let littleEndian = utf16 {
            var bytes = pending
            pending = []
            if bytes.count >= 2, (bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF) {
                bytes.removeFirst(2)
            }
            var units: [UInt16] = []
            units.reserveCapacity(bytes.count / 2)
            var k = 0
            while k + 1 < bytes.count {
                let a = UInt16(bytes[k])
                let b = UInt16(bytes[k + 1])
                units.append(littleEndian ? a | b << 8 : a << 8 | b)
                k += 2
            }
            var text = String(decoding: units, as: UTF16.self)
            try text.withUTF8 { u in
                let used = try scanner.scan(u, final: true, handler: &handler)
                _ = used
            }
        } else {
            try pending.withUnsafeBufferPointer { p in _ = try scanner.scan(p, final: true, handler: &handler) }
            pending = []
        }
        try scanner.finish()
    }
}
