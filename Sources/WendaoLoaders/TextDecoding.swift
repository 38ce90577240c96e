public import Foundation
import WendaoCore

/// Text decoded from bytes, with the encoding that was recognised.
public struct DecodedText: Sendable {
    /// The text: line endings normalised to `\n`, no leading byte-order mark.
    public var text: String
    /// The recognised encoding: `utf-8`, `utf-8-bom`, `utf-16le`, `utf-16be`, `utf-32le`,
    /// `utf-32be` or `gb18030`.
    public var encoding: String
    /// Recoverable problems, e.g. `3 invalid UTF-8 byte sequences replaced`.
    public var warnings: [String]

    /// Creates decoded text.
    public init(text: String, encoding: String, warnings: [String] = []) {
        self.text = text
        self.encoding = encoding
        self.warnings = warnings
    }
}

/// Detects the encoding of text files and decodes them.
///
/// Byte-order marks win (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE). Without one, valid UTF-8 is UTF-8;
/// otherwise GB18030 (which includes GBK and GB2312) is tried and accepted when the result reads
/// like text. UTF-8 with a few damaged bytes (under 1 %) is decoded with U+FFFD replacements and a
/// warning. Binary data is rejected.
///
/// ```swift
/// let decoded = try TextDecoding.decode(Data([0xD6, 0xD0, 0xCE, 0xC4]))
/// // decoded.text == "中文", decoded.encoding == "gb18030"
/// ```
public enum TextDecoding {
    /// Decodes `data` as text; throws ``WendaoError`` with code `unreadable` for binary data or
    /// bytes that are not UTF-8, UTF-16 or GB18030 text.
    public static func decode(_ data: Data) throws -> DecodedText {
        if data.isEmpty { return DecodedText(text: "", encoding: "utf-8") }
        let bytes = [UInt8](data)
        return try bytes.withUnsafeBufferPointer { b in
            let detection = try detect(b, complete: true)
            let body = UnsafeBufferPointer(rebasing: b[detection.bomLength...])
            var warnings: [String] = []
            var text: String
            switch detection.encoding {
            case .utf8, .utf8BOM:
                if detection.invalidSequences > 0 {
                    text = String(decoding: body, as: UTF8.self)
                    warnings.append(invalidWarning(detection.invalidSequences))
                } else {
                    text = String(decoding: body, as: UTF8.self)
                }
            case .utf16LE, .utf16BE:
                let r = decodeUTF16(body, bigEndian: detection.encoding == .utf16BE)
                text = r.text
                if r.oddByte { warnings.append("odd trailing byte ignored in UTF-16 text") }
            case .utf32LE, .utf32BE:
                text = decodeUTF32(body, bigEndian: detection.encoding == .utf32BE)
            case .gb18030:
                guard let s = decodeGB18030(body) else {
                    throw WendaoError(.unreadable, "not valid UTF-8, UTF-16 or GB18030 text")
                }
                text = s
            }
            text = normalizeNewlines(text)
            if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
            return DecodedText(text: text, encoding: detection.encoding.rawValue, warnings: warnings)
        }
    }

    // MARK: - Detection (shared with PlainTextStream)

    /// Text encodings the loaders recognise.
    enum Encoding: String, Sendable {
        case utf8 = "utf-8"
        case utf8BOM = "utf-8-bom"
        case utf16LE = "utf-16le"
        case utf16BE = "utf-16be"
        case utf32LE = "utf-32le"
        case utf32BE = "utf-32be"
        case gb18030 = "gb18030"
    }

    struct Detection {
        var encoding: Encoding
        var bomLength: Int
        /// Invalid UTF-8 sequences in the examined bytes (only for UTF-8 accepted with damage).
        var invalidSequences: Int
    }

    static let gb18030Encoding = String.Encoding(rawValue: 0x80000632)
    static let binaryError = WendaoError(.unreadable, "binary data, not text")
    static let notTextError = WendaoError(.unreadable, "not valid UTF-8, UTF-16 or GB18030 text")

    static func invalidWarning(_ count: Int) -> String {
        count == 1 ? "1 invalid UTF-8 byte sequence replaced" : "\(count) invalid UTF-8 byte sequences replaced"
    }

    /// Detects the encoding of `b` (the whole file when `complete`, else its first piece).
    static func detect(_ b: UnsafeBufferPointer<UInt8>, complete: Bool) throws -> Detection {
        let n = b.count
        // Byte-order marks. UTF-32 LE starts like UTF-16 LE, so test it first.
        if n >= 4, b[0] == 0xFF, b[1] == 0xFE, b[2] == 0, b[3] == 0 {
            return try checkedWide(Detection(encoding: .utf32LE, bomLength: 4, invalidSequences: 0), b)
        }
        if n >= 4, b[0] == 0, b[1] == 0, b[2] == 0xFE, b[3] == 0xFF {
            return try checkedWide(Detection(encoding: .utf32BE, bomLength: 4, invalidSequences: 0), b)
        }
        if n >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF {
            let body = UnsafeBufferPointer(rebasing: b[3...])
            if hasBinaryBytes(body) { throw binaryError }
            let invalid = validUTF8(body, complete: complete) ? 0 : utf8Stats(body, complete: complete).invalid
            if invalid * 100 >= max(1, body.count) { throw notTextError }
            return Detection(encoding: .utf8BOM, bomLength: 3, invalidSequences: invalid)
        }
        if n >= 2, b[0] == 0xFF, b[1] == 0xFE {
            return try checkedWide(Detection(encoding: .utf16LE, bomLength: 2, invalidSequences: 0), b)
        }
        if n >= 2, b[0] == 0xFE, b[1] == 0xFF {
            return try checkedWide(Detection(encoding: .utf16BE, bomLength: 2, invalidSequences: 0), b)
        }
        // UTF-16 without a byte-order mark: mostly-ASCII text has a zero in every other byte.
        if let wide = bomlessUTF16(b) {
            return try checkedWide(Detection(encoding: wide, bomLength: 0, invalidSequences: 0), b)
        }
        if hasBinaryBytes(b) { throw binaryError }
        if validUTF8(b, complete: complete) { return Detection(encoding: .utf8, bomLength: 0, invalidSequences: 0) }
        let stats = utf8Stats(b, complete: complete)
        let fewInvalid = stats.invalid * 100 < n
        // Real UTF-8 with a few damaged bytes: plenty of valid multi-byte sequences around.
        if fewInvalid, stats.multibyte >= 4 * stats.invalid {
            return Detection(encoding: .utf8, bomLength: 0, invalidSequences: stats.invalid)
        }
        if plausibleGB18030(b, complete: complete) {
            return Detection(encoding: .gb18030, bomLength: 0, invalidSequences: 0)
        }
        if fewInvalid { return Detection(encoding: .utf8, bomLength: 0, invalidSequences: stats.invalid) }
        throw notTextError
    }

    /// Rejects UTF-16/32 "text" whose first scalars are mostly control characters.
    private static func checkedWide(_ d: Detection, _ b: UnsafeBufferPointer<UInt8>) throws -> Detection {
        let sampleEnd = min(b.count, d.bomLength + 8192)
        var end = sampleEnd
        let unit = d.encoding == .utf32LE || d.encoding == .utf32BE ? 4 : 2
        end -= (end - d.bomLength) % unit
        let sample = UnsafeBufferPointer(rebasing: b[d.bomLength..<end])
        let text: String
        switch d.encoding {
        case .utf16LE, .utf16BE: text = decodeUTF16(sample, bigEndian: d.encoding == .utf16BE).text
        default: text = decodeUTF32(sample, bigEndian: d.encoding == .utf32BE)
        }
        var total = 0
        var bad = 0
        for u in text.unicodeScalars {
            total += 1
            if isControl(u.value) || u.value == 0xFFFD { bad += 1 }
        }
        if total > 0, bad * 20 > total { throw binaryError }
        return d
    }

    @inline(__always)
    private static func isControl(_ v: UInt32) -> Bool {
        (v < 0x20 && v != 0x09 && v != 0x0A && v != 0x0D && v != 0x0C) || v == 0x7F
    }

    /// Detects BOM-less UTF-16 from the pattern of zero bytes in the first 8 KB.
    private static func bomlessUTF16(_ b: UnsafeBufferPointer<UInt8>) -> Encoding? {
        let n = min(b.count, 8192) & ~1
        guard n >= 8 else { return nil }
        var zeroEven = 0
        var zeroOdd = 0
        var i = 0
        while i < n {
            if b[i] == 0 { zeroEven += 1 }
            if b[i + 1] == 0 { zeroOdd += 1 }
            i += 2
        }
        let pairs = n / 2
        if zeroOdd * 10 >= pairs * 7, zeroEven * 20 <= pairs { return .utf16LE }
        if zeroEven * 10 >= pairs * 7, zeroOdd * 20 <= pairs { return .utf16BE }
        return nil
    }

    /// NUL bytes or many control bytes in the first 8 KB mean binary data.
    static func hasBinaryBytes(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = min(b.count, 8192)
        var controls = 0
        for i in 0..<n {
            let c = b[i]
            if c == 0 { return true }
            if c < 0x20, c != 0x09, c != 0x0A, c != 0x0D, c != 0x0C, c != 0x1B { controls += 1 }
            if c == 0x7F { controls += 1 }
        }
        // More than 1 % control bytes (and more than a couple of stray ones).
        return controls > 2 && controls * 100 > n
    }

    /// Fast strict validation (a truncated sequence at the very end is accepted unless `complete`).
    static func validUTF8(_ b: UnsafeBufferPointer<UInt8>, complete: Bool) -> Bool {
        var body = b
        if !complete {
            body = UnsafeBufferPointer(rebasing: b[0..<(b.count - incompleteUTF8Tail(b))])
        }
        if #available(macOS 15, iOS 18, tvOS 18, watchOS 11, visionOS 2, *) {
            return String(validating: body, as: UTF8.self) != nil
        } else {
            return String(data: Data(body), encoding: .utf8) != nil
        }
    }

    /// Bytes at the end of `b` that start a UTF-8 sequence the buffer does not complete.
    static func incompleteUTF8Tail(_ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = b.count
        var k = 1
        while k <= 3, k <= n {
            let c = b[n - k]
            if c & 0xC0 != 0x80 {
                // A lead (or ASCII) byte k bytes from the end.
                if c >= 0xC0 { return TextScan.sequenceLength(c) > k ? k : 0 }
                return 0
            }
            k += 1
        }
        return 0
    }

    /// Counts invalid sequences (maximal-subpart rule) and valid multi-byte sequences.
    static func utf8Stats(_ b: UnsafeBufferPointer<UInt8>, complete: Bool) -> (invalid: Int, multibyte: Int) {
        let n = complete ? b.count : b.count - incompleteUTF8Tail(b)
        var invalid = 0
        var multi = 0
        var i = 0
        while i < n {
            let c = b[i]
            if c < 0x80 {
                i += 1
                continue
            }
            let len = validSequenceLength(b, i, n)
            if len > 0 {
                multi += 1
                i += len
            } else {
                invalid += 1
                i += max(1, maximalSubpart(b, i, n))
            }
        }
        return (invalid, multi)
    }

    /// Length of the valid multi-byte sequence at `i`, or 0.
    private static func validSequenceLength(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let c = b[i]
        let len: Int
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: len = 2
        case 0xE0: len = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: len = 3
        case 0xED: len = 3; hi = 0x9F
        case 0xF0: len = 4; lo = 0x90
        case 0xF1...0xF3: len = 4
        case 0xF4: len = 4; hi = 0x8F
        default: return 0
        }
        guard i + len <= n else { return 0 }
        let c1 = b[i + 1]
        guard c1 >= lo, c1 <= hi else { return 0 }
        for k in 2..<max(2, len) where b[i + k] & 0xC0 != 0x80 { return 0 }
        return len
    }

    /// Bytes of the invalid sequence at `i` replaced by one U+FFFD (a lead byte plus the valid
    /// continuation bytes that follow it).
    private static func maximalSubpart(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let c = b[i]
        guard c >= 0xC2, c <= 0xF4 else { return 1 }
        let need = TextScan.sequenceLength(c)
        var k = 1
        while k < need, i + k < n, b[i + k] & 0xC0 == 0x80 { k += 1 }
        return k
    }

    /// Tries GB18030 on the bytes (cut at a character boundary when not complete) and accepts it
    /// when the result is mostly printable ASCII and CJK.
    static func plausibleGB18030(_ b: UnsafeBufferPointer<UInt8>, complete: Bool) -> Bool {
        let end = complete ? b.count : gb18030Boundary(b)
        guard end > 0, let s = decodeGB18030(UnsafeBufferPointer(rebasing: b[0..<end])) else { return false }
        var total = 0
        var good = 0
        var controls = 0
        for u in s.unicodeScalars {
            total += 1
            let v = u.value
            if v < 0x80 {
                if isControl(v) { controls += 1 } else { good += 1 }
            } else if TextScan.isCJK(v) || (0x2000...0x206F).contains(v) || (0x00A0...0x00FF).contains(v)
                || (0x2100...0x22FF).contains(v) || (0x2460...0x27BF).contains(v) || (0x0391...0x03C9).contains(v)
                || (0x0401...0x0451).contains(v) || (0xAC00...0xD7A3).contains(v)
            {
                good += 1
            }
        }
        guard total > 0 else { return false }
        return controls * 100 <= total && good * 100 >= total * 95
    }

    /// Largest prefix length of `b` that ends on a GB18030 character boundary (walks forward from
    /// the start, which is a boundary).
    static func gb18030Boundary(_ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = b.count
        var i = 0
        var last = 0
        while i < n {
            let c = b[i]
            let len: Int
            if c < 0x80 || c == 0x80 || c == 0xFF {
                len = 1
            } else if i + 1 < n, b[i + 1] >= 0x30, b[i + 1] <= 0x39 {
                len = 4
            } else {
                len = 2
            }
            if i + len > n { break }
            i += len
            last = i
        }
        return last
    }

    static func decodeGB18030(_ b: UnsafeBufferPointer<UInt8>) -> String? {
        if b.isEmpty { return "" }
        return String(data: Data(b), encoding: gb18030Encoding)
    }

    /// Decodes UTF-16 with U+FFFD for unpaired surrogates; an odd last byte is ignored.
    static func decodeUTF16(_ b: UnsafeBufferPointer<UInt8>, bigEndian: Bool) -> (text: String, oddByte: Bool) {
        let count = b.count / 2
        var units = [UInt16](repeating: 0, count: count)
        units.withUnsafeMutableBufferPointer { u in
            var i = 0
            while i < count {
                let x = UInt16(b[2 * i]), y = UInt16(b[2 * i + 1])
                u[i] = bigEndian ? (x << 8 | y) : (y << 8 | x)
                i += 1
            }
        }
        return (String(decoding: units, as: UTF16.self), b.count % 2 == 1)
    }

    /// Decodes UTF-32 with U+FFFD for invalid scalars; trailing partial units are ignored.
    static func decodeUTF32(_ b: UnsafeBufferPointer<UInt8>, bigEndian: Bool) -> String {
        var s = String.UnicodeScalarView()
        var i = 0
        while i + 4 <= b.count {
            let v: UInt32
            if bigEndian {
                v = UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
            } else {
                v = UInt32(b[i + 3]) << 24 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i])
            }
            s.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            i += 4
        }
        return String(s)
    }

    /// Converts CR LF and lone CR to LF.
    static func normalizeNewlines(_ text: String) -> String {
        var copy = text
        return copy.withUTF8 { b -> String in
            var hasCR = false
            for c in b where c == 0x0D {
                hasCR = true
                break
            }
            guard hasCR else { return text }
            var out = [UInt8]()
            out.reserveCapacity(b.count)
            var i = 0
            while i < b.count {
                let c = b[i]
                if c == 0x0D {
                    out.append(0x0A)
                    if i + 1 < b.count, b[i + 1] == 0x0A { i += 1 }
                } else {
                    out.append(c)
                }
                i += 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
