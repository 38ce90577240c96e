import WendaoZlib
import Foundation
import WendaoCore

/// A bounded, read-only ZIP reader for Office/EPUB packages: the end-of-central-directory record,
/// the central directory and each part's local header are parsed with every offset checked against
/// the file, and a deflated part is inflated from exactly its compressed bytes — a stream that ends
/// early is "damaged", never a loop waiting for more input (ZIPFoundation's reader spins forever on
/// such a part: found by fuzzing).
struct ZipReader {
    /// One central-directory entry.
    struct Entry {
        var path: String
        var method: UInt16
        var crc: UInt32
        var compressedSize: UInt64
        var uncompressedSize: UInt64
        var localHeaderOffset: UInt64
        var isDirectory: Bool
    }

    let data: Data
    private(set) var entries: [Entry] = []

    private static func damaged(_ why: String = "") -> WendaoError {
        WendaoError(.unreadable, why.isEmpty ? "damaged ZIP archive" : "damaged ZIP archive (\(why))")
    }

    init(_ data: Data, maxEntries: Int) throws {
        self.data = data
        let n = data.count
        guard n >= 22 else { throw Self.damaged() }
        // End of central directory: the last "PK\u{5}\u{6}" within the final 64 KiB + 22 bytes.
        var eocd = -1
        var i = n - 22
        let floor = max(0, n - 22 - 65_535)
        while i >= floor {
            if u32(i) == 0x0605_4B50 {
                eocd = i
                break
            }
            i -= 1
        }
        guard eocd >= 0 else { throw Self.damaged() }
        var count = UInt64(u16(eocd + 10))
        var cdSize = UInt64(u32(eocd + 12))
        var cdOffset = UInt64(u32(eocd + 16))
        // ZIP64: the locator sits just before the EOCD record.
        if (count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF), eocd >= 20,
            u32(eocd - 20) == 0x0706_4B50
        {
            let record = u64(eocd - 20 + 8)
            guard n >= 56, record <= UInt64(n - 56), u32(Int(record)) == 0x0606_4B50 else { throw Self.damaged() }
            count = u64(Int(record) + 32)
            cdSize = u64(Int(record) + 40)
            cdOffset = u64(Int(record) + 48)
        }
        guard cdOffset <= UInt64(n), cdSize <= UInt64(n) - cdOffset else { throw Self.damaged() }
        guard count <= UInt64(maxEntries) else {
            throw WendaoError(.limitExceeded, "archive has more than \(maxEntries) entries")
        }
        var p = Int(cdOffset)
        let end = Int(cdOffset + cdSize)
        for _ in 0..<Int(count) {
            guard p + 46 <= end, u32(p) == 0x0201_4B50 else { throw Self.damaged() }
            let method = u16(p + 10)
            let crc = u32(p + 16)
            var compressed = UInt64(u32(p + 20))
            var uncompressed = UInt64(u32(p + 24))
            let nameLength = Int(u16(p + 28))
            let extraLength = Int(u16(p + 30))
            let commentLength = Int(u16(p + 32))
            var offset = UInt64(u32(p + 42))
            let nameStart = p + 46
            guard nameStart + nameLength + extraLength + commentLength <= end else { throw Self.damaged() }
            let name = String(decoding: data[data.startIndex + nameStart..<data.startIndex + nameStart + nameLength],
                              as: UTF8.self)
            // ZIP64 extra field: the 0xFFFFFFFF values, in order.
            var e = nameStart + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let tag = u16(e)
                let size = Int(u16(e + 2))
                guard e + 4 + size <= extraEnd else { break }
                if tag == 0x0001 {
                    var q = e + 4
                    if uncompressed == 0xFFFF_FFFF, q + 8 <= e + 4 + size { uncompressed = u64(q); q += 8 }
                    if compressed == 0xFFFF_FFFF, q + 8 <= e + 4 + size { compressed = u64(q); q += 8 }
                    if offset == 0xFFFF_FFFF, q + 8 <= e + 4 + size { offset = u64(q) }
                }
                e += 4 + size
            }
            entries.append(
                Entry(
                    path: name, method: method, crc: crc, compressedSize: compressed, uncompressedSize: uncompressed,
                    localHeaderOffset: offset, isDirectory: name.hasSuffix("/")))
            p = extraEnd + commentLength
        }
    }

    /// Streams the inflated bytes of `entry` through `consumer` in chunks; the consumer may throw to
    /// stop. Returns the number of bytes produced.
    func read(_ entry: Entry, _ consumer: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        let n = UInt64(data.count)
        let h = entry.localHeaderOffset
        guard h <= n, n - h >= 30, u32(Int(h)) == 0x0403_4B50 else { throw Self.damaged("bad local header") }
        let start = h + 30 + UInt64(u16(Int(h) + 26)) + UInt64(u16(Int(h) + 28))
        guard start <= n, entry.compressedSize <= n - start else { throw Self.damaged("part runs past the end") }
        let range = Int(start)..<Int(start + entry.compressedSize)
        try data.withUnsafeBytes { raw in
            let all = raw.bindMemory(to: UInt8.self)
            let input = UnsafeBufferPointer(rebasing: all[range])
            switch entry.method {
            case 0:
                var at = 0
                while at < input.count {
                    let next = min(input.count, at + (64 << 10))
                    try consumer(UnsafeBufferPointer(rebasing: input[at..<next]))
                    at = next
                }
            case 8:
                try Self.inflate(input, consumer)
            default:
                throw WendaoError(.unsupported, "ZIP compression method \(entry.method) is not supported")
            }
        }
    }

    /// Raw-deflate inflation of exactly `input`; a stream that needs more input than it has is damaged.
    private static func inflate(
        _ input: UnsafeBufferPointer<UInt8>, _ consumer: (UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw WendaoError(.internal, "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: 64 << 10)
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = UInt32(input.count)
        while true {
            let result: Int32 = out.withUnsafeMutableBufferPointer { buffer in
                stream.next_out = buffer.baseAddress
                stream.avail_out = UInt32(buffer.count)
                return WendaoZlib.inflate(&stream, Z_NO_FLUSH)
            }
            let produced = out.count - Int(stream.avail_out)
            if produced > 0 { try out.withUnsafeBufferPointer { try consumer(UnsafeBufferPointer(rebasing: $0[0..<produced])) } }
            switch result {
            case Z_STREAM_END: return
            case Z_OK: continue
            case Z_BUF_ERROR:
                // No progress possible: input exhausted before the stream's end.
                if stream.avail_in == 0 { throw damaged("a compressed part ends early") }
                if produced == 0 { throw damaged("a compressed part is corrupt") }
            default:
                throw damaged("a compressed part is corrupt")
            }
        }
    }

    private func u16(_ i: Int) -> UInt16 {
        guard i >= 0, i + 2 <= data.count else { return 0 }
        let b = data.startIndex + i
        return UInt16(data[b]) | UInt16(data[b + 1]) << 8
    }

    private func u32(_ i: Int) -> UInt32 {
        guard i >= 0, i + 4 <= data.count else { return 0 }
        let b = data.startIndex + i
        return UInt32(data[b]) | UInt32(data[b + 1]) << 8 | UInt32(data[b + 2]) << 16 | UInt32(data[b + 3]) << 24
    }

    private func u64(_ i: Int) -> UInt64 { UInt64(u32(i)) | UInt64(u32(i + 4)) << 32 }
}
