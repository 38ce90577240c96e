public import Foundation
public import WendaoCore

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Streams a large plain-text file as paragraph blocks without holding it in memory.
///
/// The file is read in pieces of about 1 MB. The encoding is detected on the first piece with the
/// rules of ``TextDecoding``; multi-byte characters cut by a piece boundary are carried over.
/// Paragraphs end at blank lines; a paragraph longer than 64 KB is emitted in pieces cut at a
/// sentence end or a space near 64 KB. Memory stays bounded by the piece size.
///
/// ```swift
/// let info = try PlainTextStream.forEachBlock(url: url, limits: LoaderLimits()) { block in
///     chunker.add(block)
/// }
/// print(info.encoding, info.bytes)
/// ```
public struct PlainTextStream: Sendable {
    /// Size of one read.
    static let pieceSize = 1 << 20
    /// Longest paragraph emitted as one block.
    static let maxParagraphBytes = 64 * 1024

    /// Reads the file at `url` and calls `body` with every paragraph, in order.
    ///
    /// - Returns: The recognised encoding (as ``DecodedText/encoding``), warnings, and the number of
    ///   bytes read.
    /// - Throws: ``WendaoError`` for a missing, unreadable, empty, binary or too large file (code
    ///   `notFound`, `unreadable` or `limitExceeded`); errors thrown by `body` are passed through.
    public static func forEachBlock(
        url: URL, limits: LoaderLimits, _ body: (Block) throws -> Void
    ) throws -> (encoding: String, warnings: [String], bytes: Int64) {
        let fd = try openFile(url, limits: limits)
        defer { close(fd) }
        var stream = Decoder()
        var splitter = ParagraphSplitter(maxParagraphBytes: maxParagraphBytes)
        var buffer = [UInt8](repeating: 0, count: pieceSize)
        var total: Int64 = 0
        var first = true
        while true {
            let count = try readPiece(fd, into: &buffer)
            total += Int64(count)
            if total > limits.maxTextBytes {
                throw WendaoError(
                    .limitExceeded,
                    "text file is larger than the \(DocumentLoader.megabytes(limits.maxTextBytes)) MB limit")
            }
            let eof = count < pieceSize
            try buffer.withUnsafeBufferPointer { all in
                let piece = UnsafeBufferPointer(rebasing: all[0..<count])
                if first {
                    if count == 0 { throw WendaoError(.unreadable, "empty file") }
                    try stream.start(piece, complete: eof)
                    first = false
                }
                try stream.decode(piece, eof: eof) { utf8 in
                    try splitter.feed(utf8) { try body(Block(kind: .paragraph, text: $0)) }
                }
            }
            if eof { break }
        }
        try splitter.finish { try body(Block(kind: .paragraph, text: $0)) }
        return (stream.encoding.rawValue, stream.warnings(), total)
    }

    private static func openFile(_ url: URL, limits: LoaderLimits) throws -> Int32 {
        let fd: Int32 = try url.withUnsafeFileSystemRepresentation { path in
            guard let path else { throw WendaoError(.notFound, "no such file or directory") }
            var st = stat()
            guard stat(path, &st) == 0 else { throw posixError(errno) }
            let type = st.st_mode & S_IFMT
            if type == S_IFDIR { throw WendaoError(.unreadable, "is a folder, not a file") }
            guard type == S_IFREG else { throw WendaoError(.unsupported, "not a regular file") }
            if Int64(st.st_size) > limits.maxTextBytes {
                let size = DocumentLoader.megabytes(Int64(st.st_size))
                let limit = DocumentLoader.megabytes(limits.maxTextBytes)
                throw WendaoError(.limitExceeded, "text file is \(size) MB, more than the \(limit) MB limit")
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw posixError(errno) }
            return fd
        }
        return fd
    }

    /// Fills `buffer` as far as the file allows; returns the byte count (less than the buffer size
    /// only at the end of the file).
    private static func readPiece(_ fd: Int32, into buffer: inout [UInt8]) throws -> Int {
        var filled = 0
        let size = buffer.count
        while filled < size {
            let n = buffer.withUnsafeMutableBytes { raw in
                read(fd, raw.baseAddress.map { $0 + filled }, size - filled)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw posixError(errno)
            }
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    static func posixError(_ code: Int32) -> WendaoError {
        switch code {
        case ENOENT, ENOTDIR: return WendaoError(.notFound, "no such file or directory")
        case EACCES, EPERM: return WendaoError(.unreadable, "permission denied")
        case ELOOP: return WendaoError(.unreadable, "symlink loop")
        case EISDIR: return WendaoError(.unreadable, "is a folder, not a file")
        default:
            let message = strerror(code).map { String(cString: $0) } ?? "error \(code)"
            return WendaoError(.unreadable, message.lowercased())
        }
    }

    /// Turns pieces of encoded bytes into pieces of UTF-8 cut at scalar boundaries.
    private struct Decoder {
        var encoding: TextDecoding.Encoding = .utf8
        var bomLength = 0
        var carry: [UInt8] = []
        var invalidSequences = 0
        var nulBytes = 0
        var undecodableLines = 0
        var oddByte = false

        mutating func start(_ piece: UnsafeBufferPointer<UInt8>, complete: Bool) throws {
            let d = try TextDecoding.detect(piece, complete: complete)
            encoding = d.encoding
            bomLength = d.bomLength
        }

        func warnings() -> [String] {
            var w: [String] = []
            if invalidSequences > 0 { w.append(TextDecoding.invalidWarning(invalidSequences)) }
            if nulBytes > 0 { w.append("\(nulBytes) NUL bytes removed") }
            if undecodableLines > 0 { w.append("\(undecodableLines) lines not valid GB18030; bytes replaced") }
            if oddByte { w.append("odd trailing byte ignored in UTF-16 text") }
            return w
        }

        mutating func decode(
            _ raw: UnsafeBufferPointer<UInt8>, eof: Bool, _ out: (UnsafeBufferPointer<UInt8>) throws -> Void
        ) rethrows {
            var piece = raw
            if bomLength > 0 {
                piece = UnsafeBufferPointer(rebasing: raw[min(bomLength, raw.count)...])
                bomLength = 0
            }
            // Join the carried bytes with the new piece (only the few carried bytes are copied
            // separately when there are any).
            var joined: [UInt8] = []
            if !carry.isEmpty {
                joined = carry
                joined.append(contentsOf: piece)
                carry.removeAll()
            }
            if joined.isEmpty {
                try decodeJoined(piece, eof: eof, out)
            } else {
                try joined.withUnsafeBufferPointer { try decodeJoined($0, eof: eof, out) }
            }
        }

        private mutating func decodeJoined(
            _ b: UnsafeBufferPointer<UInt8>, eof: Bool, _ out: (UnsafeBufferPointer<UInt8>) throws -> Void
        ) rethrows {
            switch encoding {
            case .utf8, .utf8BOM:
                let keep = eof ? 0 : TextDecoding.incompleteUTF8Tail(b)
                let body = UnsafeBufferPointer(rebasing: b[0..<(b.count - keep)])
                carry = Array(b[(b.count - keep)...])
                if TextDecoding.validUTF8(body, complete: true), !hasNUL(body) {
                    try out(body)
                } else {
                    invalidSequences += TextDecoding.utf8Stats(body, complete: true).invalid
                    var repaired = Array(String(decoding: body, as: UTF8.self).utf8)
                    removeNULs(&repaired)
                    try repaired.withUnsafeBufferPointer { try out($0) }
                }
            case .utf16LE, .utf16BE:
                var end = b.count - b.count % 2
                if !eof, end >= 2 {
                    // Do not split a surrogate pair: keep a trailing high surrogate for later.
                    let unit =
                        encoding == .utf16LE
                        ? UInt16(b[end - 1]) << 8 | UInt16(b[end - 2]) : UInt16(b[end - 2]) << 8 | UInt16(b[end - 1])
                    if unit >= 0xD800, unit <= 0xDBFF { end -= 2 }
                }
                if eof, b.count % 2 == 1 { oddByte = true }
                carry = eof ? [] : Array(b[end...])
                let text = TextDecoding.decodeUTF16(
                    UnsafeBufferPointer(rebasing: b[0..<end]), bigEndian: encoding == .utf16BE
                ).text
                try emit(text, out)
            case .utf32LE, .utf32BE:
                let end = b.count - b.count % 4
                carry = eof ? [] : Array(b[end...])
                let text = TextDecoding.decodeUTF32(
                    UnsafeBufferPointer(rebasing: b[0..<end]), bigEndian: encoding == .utf32BE)
                try emit(text, out)
            case .gb18030:
                let end = eof ? b.count : TextDecoding.gb18030Boundary(b)
                carry = Array(b[end...])
                if eof { carry = [] }
                let body = UnsafeBufferPointer(rebasing: b[0..<end])
                if let text = TextDecoding.decodeGB18030(body) {
                    try emit(text, out)
                } else {
                    try emit(decodeGB18030Lossy(body), out)
                }
            }
        }

        private mutating func emit(_ text: String, _ out: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
            var bytes = Array(text.utf8)
            removeNULs(&bytes)
            try bytes.withUnsafeBufferPointer { try out($0) }
        }

        private func hasNUL(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
            guard let base = b.baseAddress, !b.isEmpty else { return false }
            return memchr(base, 0, b.count) != nil
        }

        private mutating func removeNULs(_ bytes: inout [UInt8]) {
            let before = bytes.count
            let has = bytes.withUnsafeBufferPointer { hasNUL($0) }
            guard has else { return }
            bytes.removeAll { $0 == 0 }
            nulBytes += before - bytes.count
        }

        /// Decodes line by line; lines GB18030 cannot decode keep their ASCII and get U+FFFD for
        /// the other bytes.
        private mutating func decodeGB18030Lossy(_ b: UnsafeBufferPointer<UInt8>) -> String {
            var out = ""
            var start = 0
            var i = 0
            while i <= b.count {
                if i == b.count || b[i] == 0x0A {
                    let line = UnsafeBufferPointer(rebasing: b[start..<i])
                    if let s = TextDecoding.decodeGB18030(line) {
                        out += s
                    } else {
                        undecodableLines += 1
                        var scalars = String.UnicodeScalarView()
                        for c in line { scalars.append(c < 0x80 ? Unicode.Scalar(c) : "\u{FFFD}") }
                        out += String(scalars)
                    }
                    if i < b.count { out += "\n" }
                    start = i + 1
                }
                i += 1
            }
            return out
        }
    }
}
