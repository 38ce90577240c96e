// CRC-32 (IEEE 802.3, the ZIP checksum), slicing-by-16. ZIPFoundation's built-in fallback on Linux
// works a byte at a time and cost a quarter of the parse time, so entries are read with its
// checksum disabled and checked here instead.

/// A running CRC-32.
struct OfficeCRC32 {
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 16 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[n] = c
        }
        for n in 0..<256 {
            var c = t[n]
            for k in 1..<16 {
                c = t[Int(c & 0xFF)] ^ (c >> 8)
                t[k * 256 + n] = c
            }
        }
        return t
    }()

    /// The checksum of everything fed so far.
    private(set) var value: UInt32 = 0

    /// Adds bytes.
    mutating func update(_ b: UnsafeBufferPointer<UInt8>) {
        var c = ~value
        let n = b.count
        var i = 0
        guard let base = b.baseAddress else { return }
        let raw = UnsafeRawPointer(base)
        Self.tables.withUnsafeBufferPointer { t in
            while i + 16 <= n {
                let first = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let second = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self))
                let a = UInt32(truncatingIfNeeded: first) ^ c
                let b = UInt32(truncatingIfNeeded: first >> 32)
                let d = UInt32(truncatingIfNeeded: second)
                let e = UInt32(truncatingIfNeeded: second >> 32)
                c = t[15 * 256 + Int(a & 0xFF)] ^ t[14 * 256 + Int((a >> 8) & 0xFF)]
                    ^ t[13 * 256 + Int((a >> 16) & 0xFF)] ^ t[12 * 256 + Int(a >> 24)]
                    ^ t[11 * 256 + Int(b & 0xFF)] ^ t[10 * 256 + Int((b >> 8) & 0xFF)]
                    ^ t[9 * 256 + Int((b >> 16) & 0xFF)] ^ t[8 * 256 + Int(b >> 24)]
                    ^ t[7 * 256 + Int(d & 0xFF)] ^ t[6 * 256 + Int((d >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((d >> 16) & 0xFF)] ^ t[4 * 256 + Int(d >> 24)]
                    ^ t[3 * 256 + Int(e & 0xFF)] ^ t[2 * 256 + Int((e >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((e >> 16) & 0xFF)] ^ t[Int(e >> 24)]
                i += 16
            }
            while i < n {
                c = t[Int((c ^ UInt32(b[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        value = ~c
    }
}
