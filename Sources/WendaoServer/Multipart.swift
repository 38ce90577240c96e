import Foundation

/// A streaming `multipart/form-data` reader: bytes in, part events out, with bounded memory (a
/// part's body is passed on as it arrives; only a boundary's length is held back).
struct MultipartReader {
    /// What the reader found.
    enum Event: Equatable {
        /// A part begins: its form field name and file name (nil for plain fields).
        case part(name: String, filename: String?)
        /// A piece of the current part's body.
        case data([UInt8])
        /// The current part ended.
        case partEnd
    }

    /// Why a body is not acceptable.
    struct Failure: Error, Equatable {
        var message: String
    }

    private enum State {
        case preamble
        case headers
        case body
        case afterDelimiter
        case done
    }

    private let dashBoundary: [UInt8]
    /// `\r\n--boundary`: what ends a body.
    private let delimiter: [UInt8]
    private var state = State.preamble
    private var buffer: [UInt8] = []
    /// Where the search for a boundary or the end of a header block goes on (bytes before it
    /// were searched already).
    private var searched = 0
    /// Largest header block of one part.
    private let maxHeaderBytes = 16 * 1024
    /// Most bytes before the first boundary.
    private let maxPreambleBytes = 64 * 1024

    /// Whether the closing boundary was seen.
    var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// A reader for `boundary` (from the Content-Type header).
    init(boundary: String) {
        dashBoundary = Array("--\(boundary)".utf8)
        delimiter = Array("\r\n--\(boundary)".utf8)
    }

    /// The boundary of a `multipart/form-data` content type, or nil.
    static func boundary(contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for p in parts.dropFirst() where p.lowercased().hasPrefix("boundary=") {
            var b = String(p.dropFirst("boundary=".count))
            if b.hasPrefix("\""), b.hasSuffix("\""), b.count >= 2 { b = String(b.dropFirst().dropLast()) }
            return (1...70).contains(b.count) ? b : nil
        }
        return nil
    }

    /// Feeds bytes; returns the events they complete.
    mutating func feed(_ bytes: some Sequence<UInt8>) throws(Failure) -> [Event] {
        buffer.append(contentsOf: bytes)
        var events: [Event] = []
        while true {
            switch state {
            case .done:
                buffer.removeAll()
                return events
            case .preamble:
                // Limits are decided by position, not by how much has arrived, so that a body is
                // read the same whether it comes whole or byte by byte.
                guard let r = find(dashBoundary, in: buffer, from: searched) else {
                    if buffer.count - dashBoundary.count >= maxPreambleBytes {
                        throw Failure(message: "no multipart boundary found")
                    }
                    // Bytes fed one at a time are not searched again (no quadratic work).
                    searched = max(0, buffer.count - dashBoundary.count + 1)
                    return events
                }
                guard r <= maxPreambleBytes else { throw Failure(message: "no multipart boundary found") }
                buffer.removeFirst(r + dashBoundary.count)
                searched = 0
                state = .afterDelimiter
            case .afterDelimiter:
                guard buffer.count >= 2 else { return events }
                if buffer[0] == 0x2D && buffer[1] == 0x2D {  // "--": the end
                    state = .done
                    continue
                }
                // Transport padding (spaces/tabs) may follow a boundary before CRLF.
                var i = 0
                while i < buffer.count, buffer[i] == 0x20 || buffer[i] == 0x09 { i += 1 }
                guard buffer.count >= i + 2 else { return events }
                guard buffer[i] == 0x0D && buffer[i + 1] == 0x0A else {
                    throw Failure(message: "malformed multipart boundary line")
                }
                buffer.removeFirst(i + 2)
                state = .headers
            case .headers:
                guard let r = find([0x0D, 0x0A, 0x0D, 0x0A], in: buffer, from: searched) else {
                    if buffer.count - 4 >= maxHeaderBytes {
                        throw Failure(message: "multipart part headers are too large")
                    }
                    searched = max(0, buffer.count - 3)
                    return events
                }
                guard r <= maxHeaderBytes else { throw Failure(message: "multipart part headers are too large") }
                let head = String(decoding: buffer[..<r], as: UTF8.self)
                buffer.removeFirst(r + 4)
                searched = 0
                let (name, filename) = try Self.disposition(head)
                events.append(.part(name: name, filename: filename))
                state = .body
            case .body:
                if let r = find(delimiter, in: buffer) {
                    if r > 0 { events.append(.data(Array(buffer[..<r]))) }
                    buffer.removeFirst(r + delimiter.count)
                    events.append(.partEnd)
                    state = .afterDelimiter
                } else {
                    // Keep what could be the start of a delimiter; pass on the rest.
                    let keep = min(buffer.count, delimiter.count - 1)
                    let n = buffer.count - keep
                    if n > 0 {
                        events.append(.data(Array(buffer[..<n])))
                        buffer.removeFirst(n)
                    }
                    return events
                }
            }
        }
    }

    /// The field name and file name of a part's `Content-Disposition` header.
    static func disposition(_ head: String) throws(Failure) -> (String, String?) {
        for line in head.split(separator: "\r\n") {
            let l = String(line)
            guard l.lowercased().hasPrefix("content-disposition:") else { continue }
            var name: String?
            var filename: String?
            var filenameStar: String?
            for param in l.dropFirst("content-disposition:".count).split(separator: ";") {
                let p = param.trimmingCharacters(in: .whitespaces)
                guard let eq = p.firstIndex(of: "=") else { continue }
                let key = p[..<eq].lowercased()
                var value = String(p[p.index(after: eq)...])
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                    value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
                }
                switch key {
                case "name": name = value
                case "filename": filename = value
                case "filename*":
                    // RFC 5987: UTF-8''percent-encoded
                    if let r = value.range(of: "''") { filenameStar = String(value[r.upperBound...]).removingPercentEncoding }
                default: break
                }
            }
            guard let name else { throw Failure(message: "a multipart part has no field name") }
            return (name, filenameStar ?? filename)
        }
        throw Failure(message: "a multipart part has no Content-Disposition header")
    }

    /// The index where `needle` starts in `haystack` (at `from` or later), or nil.
    private func find(_ needle: [UInt8], in haystack: [UInt8], from: Int = 0) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var i = from
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
