public import WendaoCore

/// One server-sent event: what a `text/event-stream` delivers between blank lines.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` field; `nil` for the default type (`message`).
    public var event: String?
    /// The `data:` lines joined with `"\n"`.
    public var data: String
    /// The last event ID seen on the stream (the `id:` field persists across events, as in the
    /// WHATWG EventSource spec); `nil` when none was sent.
    public var id: String?

    /// Creates an event.
    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// An incremental `text/event-stream` parser following the WHATWG EventSource rules.
///
/// Feed it bytes as they arrive, in chunks of any size; it returns the events completed by each
/// chunk. Lines end in `\n`, `\r\n` or `\r` (also when `\r` and `\n` arrive in different chunks);
/// a UTF-8 byte-order mark at the start is skipped; `:` comment lines (keep-alives) and unknown
/// fields are ignored; `retry:` is ignored. Bytes are buffered per line, so a UTF-8 character split
/// across chunks decodes correctly. `[DONE]` is not special here.
///
/// ```swift
/// var parser = SSEParser()
/// for try await chunk in body {
///     for event in try parser.feed(chunk) { handle(event.data) }
/// }
/// for event in try parser.finish() { handle(event.data) }
/// ```
public struct SSEParser: Sendable {
    private let maxEventBytes: Int
    /// Bytes of the line being read.
    private var line: [UInt8] = []
    /// The previous byte was `\r`: a following `\n` belongs to the same line end.
    private var afterCR = false
    /// Nothing but (a prefix of) a byte-order mark has been read yet.
    private var atStart = true
    /// The event being assembled.
    private var data = ""
    private var hasData = false
    private var eventType: String?
    private var lastEventID: String?
    /// Bytes of the field lines of the event being assembled.
    private var eventBytes = 0
    /// Set once a limit was exceeded; every later call throws it.
    private var failure: WendaoError?

    /// Creates a parser that rejects events (field lines plus the line being read) larger than
    /// `maxEventBytes` bytes.
    public init(maxEventBytes: Int = 8 << 20) {
        self.maxEventBytes = max(1, maxEventBytes)
    }

    /// Parses `bytes`, the next piece of the stream, and returns the events it completes.
    ///
    /// - Throws: `WendaoError(.badResponse)` when an event exceeds `maxEventBytes`; the parser then
    ///   keeps failing and the stream should be abandoned.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(WendaoError) -> [SSEEvent] {
        if let failure { throw failure }
        var out: [SSEEvent] = []
        let result: Result<Void, WendaoError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(WendaoError) in try self.consume(buffer, into: &out) }
        }
        if let result {
            try result.get()
        } else {
            let copy = Array(bytes)
            try copy.withUnsafeBufferPointer { buffer throws(WendaoError) in try consume(buffer, into: &out) }
        }
        return out
    }

    /// Ends the stream: a last line without a line end is processed, and an event not yet followed
    /// by a blank line is dispatched. The parser is then ready for a new stream.
    public mutating func finish() throws(WendaoError) -> [SSEEvent] {
        if let failure { throw failure }
        var out: [SSEEvent] = []
        if !line.isEmpty {
            try endLine(into: &out)
        }
        dispatch(into: &out)
        self = SSEParser(maxEventBytes: maxEventBytes)
        return out
    }

    private mutating func consume(_ buffer: UnsafeBufferPointer<UInt8>, into out: inout [SSEEvent])
        throws(WendaoError)
    {
        for byte in buffer {
            if afterCR {
                afterCR = false
                if byte == 0x0A { continue }
            }
            switch byte {
            case 0x0A:
                try endLine(into: &out)
            case 0x0D:
                afterCR = true
                try endLine(into: &out)
            default:
                line.append(byte)
                if atStart { skipByteOrderMark() }
                if line.count + eventBytes > maxEventBytes {
                    let error = WendaoError(
                        .badResponse, "a server-sent event is larger than \(maxEventBytes) bytes")
                    failure = error
                    line = []
                    throw error
                }
            }
        }
    }

    /// Drops a complete UTF-8 byte-order mark at the start of the stream.
    private mutating func skipByteOrderMark() {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        if line.count <= bom.count, line.elementsEqual(bom.prefix(line.count)) {
            if line.count == bom.count {
                line.removeAll(keepingCapacity: true)
                atStart = false
            }
        } else {
            atStart = false
        }
    }

    private mutating func endLine(into out: inout [SSEEvent]) throws(WendaoError) {
        atStart = false
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            dispatch(into: &out)
            return
        }
        if line[0] == UInt8(ascii: ":") { return }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let name = line[..<colon]
        var valueStart = colon < line.endIndex ? colon + 1 : colon
        if valueStart < line.endIndex, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = line[valueStart...]
        if name.elementsEqual("data".utf8) {
            if hasData { data += "\n" }
            data += String(decoding: value, as: UTF8.self)
            hasData = true
            eventBytes += line.count
        } else if name.elementsEqual("event".utf8) {
            eventType = String(decoding: value, as: UTF8.self)
            eventBytes += line.count
        } else if name.elementsEqual("id".utf8) {
            if !value.contains(0) {
                lastEventID = value.isEmpty ? nil : String(decoding: value, as: UTF8.self)
            }
        }
    }

    private mutating func dispatch(into out: inout [SSEEvent]) {
        if hasData {
            let type = eventType.flatMap { $0.isEmpty ? nil : $0 }
            out.append(SSEEvent(event: type, data: data, id: lastEventID))
        }
        data = ""
        hasData = false
        eventType = nil
        eventBytes = 0
    }
}
