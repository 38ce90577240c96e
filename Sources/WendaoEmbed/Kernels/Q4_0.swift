import WendaoCore

/// The Q4_0 block format (32 weights in 18 bytes: f16 scale, 16 bytes of nibbles).
public enum Q4_0 {
    /// Quantises a row-major `rows × cols` matrix (`cols` a multiple of 32) as ggml does:
    /// per block `d = max / −8` where `max` is the element of largest magnitude,
    /// nibble = clamp(round-to-nearest(x/d) + 8, 0…15).
    /// - Throws: ``WendaoError`` `.invalidArgument` for a bad shape.
    public static func quantize(_ values: [Float], rows: Int, cols: Int) throws -> [UInt8] {
        guard rows >= 0, cols > 0, cols % 32 == 0, values.count == rows * cols else {
            throw WendaoError(.invalidArgument, "Q4_0 needs rows × cols values with cols a multiple of 32")
        }
        var out = [UInt8](repeating: 0, count: rows * cols / 32 * 18)
        var o = 0
        for start in stride(from: 0, to: values.count, by: 32) {
            var maxValue: Float = 0
            for v in values[start..<start + 32] where abs(v) > abs(maxValue) { maxValue = v }
            let d = maxValue / -8
            let half = floatToHalf(d)
            let inv = d == 0 ? 0 : 1 / halfToFloat(half)
            out[o] = UInt8(half & 0xFF)
            out[o + 1] = UInt8(half >> 8)
            for j in 0..<16 {
                let lo = min(15, max(0, Int((values[start + j] * inv).rounded()) + 8))
                let hi = min(15, max(0, Int((values[start + j + 16] * inv).rounded()) + 8))
                out[o + 2 + j] = UInt8(lo | hi << 4)
            }
            o += 18
        }
        return out
    }

    /// The value of element (`row`, `col`) of a Q4_0 matrix with `cols` columns.
    public static func value(_ data: UnsafeRawPointer, cols: Int, row: Int, col: Int) -> Float {
        let block = data + (row * (cols / 32) + col / 32) * 18
        let d = loadHalf(block)
        let e = col % 32
        let byte = block.load(fromByteOffset: 2 + e % 16, as: UInt8.self)
        let nibble = e < 16 ? byte & 0x0F : byte >> 4
        return d * Float(Int32(nibble) - 8)
    }
}

/// Float to IEEE half (round to nearest even; overflow → infinity).
func floatToHalf(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    if f.isNaN { return sign | 0x7E00 }
    let a = abs(f)
    if a >= 65520 { return sign | 0x7C00 }
    if a < 6.103_515_6e-5 {
        // Subnormal half: value = m × 2^-24.
        let m = (a * 16_777_216).rounded(.toNearestOrEven)
        return sign | UInt16(m)
    }
    let exponent = Int((bits >> 23) & 0xFF) - 127 + 15
    var mantissa = bits & 0x7F_FFFF
    var e = UInt32(exponent)
    // Round the 23-bit mantissa to 10 bits, nearest even.
    let rest = mantissa & 0x1FFF
    mantissa >>= 13
    if rest > 0x1000 || (rest == 0x1000 && mantissa & 1 == 1) {
        mantissa += 1
        if mantissa == 0x400 {
            mantissa = 0
            e += 1
        }
    }
    if e >= 31 { return sign | 0x7C00 }
    return sign | UInt16(e << 10) | UInt16(mantissa)
}
