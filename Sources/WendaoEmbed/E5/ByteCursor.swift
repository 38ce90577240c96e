import WendaoCore

/// Reads little-endian values from a byte range, checking every read against the range's end.
struct ByteCursor {
    /// The bytes being read.
    let bytes: UnsafeRawBufferPointer
    /// Offset of the next read.
    var offset: Int
    /// What the reader is looking at, for error messages (e.g. "E5S1 header").
    var section: String

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0, section: String) {
        self.bytes = bytes
        self.offset = offset
        self.section = section
    }

    /// Bytes left.
    var remaining: Int { bytes.count - offset }

    /// Throws unless `n` more bytes can be read.
    func need(_ n: Int, _ what: String) throws {
        guard n >= 0, n <= remaining else {
            throw WendaoError(
                .unreadable, "file truncated in the \(section): \(what) needs \(n) bytes at offset \(offset), "
                    + "\(max(remaining, 0)) left")
        }
    }

    mutating func skip(_ n: Int, _ what: String) throws {
        try need(n, what)
        offset += n
    }

    mutating func u8(_ what: String) throws -> UInt8 {
        try need(1, what)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16(_ what: String) throws -> UInt16 {
        try need(2, what)
        defer { offset += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    mutating func u32(_ what: String) throws -> UInt32 {
        try need(4, what)
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    mutating func i32(_ what: String) throws -> Int32 {
        Int32(bitPattern: try u32(what))
    }

    mutating func u64(_ what: String) throws -> UInt64 {
        try need(8, what)
        defer { offset += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    mutating func f32(_ what: String) throws -> Float {
        Float(bitPattern: try u32(what))
    }

    /// `count` little-endian u32 values, copied out.
    mutating func u32Array(_ count: Int, _ what: String) throws -> [UInt32] {
        let (size, overflow) = count.multipliedReportingOverflow(by: 4)
        guard !overflow else { throw WendaoError(.unreadable, "\(what) count \(count) is absurd") }
        try need(size, what)
        let start = offset
        offset += size
        return [UInt32](unsafeUninitializedCapacity: count) { buffer, initialised in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + size)]))
            #if _endian(big)
                for i in 0..<count { buffer[i] = UInt32(littleEndian: buffer[i]) }
            #endif
            initialised = count
        }
    }

    /// `count` raw bytes, copied out.
    mutating func byteArray(_ count: Int, _ what: String) throws -> [UInt8] {
        try need(count, what)
        let start = offset
        offset += count
        return Array(bytes[start..<(start + count)])
    }
}
