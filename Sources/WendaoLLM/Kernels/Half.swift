/// IEEE 754 half-precision conversions in plain integer and float arithmetic: the same on every CPU
/// (Swift's `Float16` is missing on macOS x86-64 and calls a runtime function elsewhere on baseline
/// x86-64). The Haswell kernels use the processor's F16C instructions, which give the same values.
enum Half {
    /// The float a half's bits stand for (exact).
    @inline(__always)
    static func float(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2⁻²⁴ (exact in float).
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }

    /// The half nearest to `value` (ties to even; beyond the largest half, infinity), as bits.
    static func bits(_ value: Float) -> UInt16 {
        let raw = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: raw >> 16) & 0x8000
        let magnitude = raw & 0x7FFF_FFFF
        if magnitude > 0x7F80_0000 { return sign | 0x7E00 }  // NaN
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // ≥ 65520 rounds to infinity
        if magnitude < 0x3880_0000 {
            // Below 2⁻¹⁴: a subnormal half, a multiple of 2⁻²⁴ (1024 of them is the smallest normal).
            return sign | UInt16(roundedToEven(Float(bitPattern: magnitude) * 0x1p24))
        }
        let rest = magnitude & 0x1FFF
        var half = ((magnitude >> 23) - 112) << 10 | (magnitude >> 13) & 0x3FF
        if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) { half += 1 }  // a carry moves into the exponent
        return sign | UInt16(half)
    }

    /// `value` rounded to half precision, as a float.
    @inline(__always)
    static func rounded(_ value: Float) -> Float { float(bits(value)) }

    /// `value` rounded to the nearest integer, ties to even, for |value| < 2²²: adding and taking away
    /// 1.5 · 2²³ leaves no fraction bits (ggml's `nearest_int` does the same).
    @inline(__always)
    static func roundedToEven(_ value: Float) -> Float { (value + 0x1.8p23) - 0x1.8p23 }
}
