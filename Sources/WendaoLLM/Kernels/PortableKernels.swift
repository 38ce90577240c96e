internal import WendaoLLMKernels

/// The portable kernels: any CPU, plain Swift written as short loops LLVM vectorises for whatever
/// the module is built for (SSE2 multiply-adds on baseline x86-64). They are the fallback when
/// ``LLMKernels/fast`` is false and the tests hold the Haswell kernels to them.
///
/// Each dot product reads the weight blocks directly: per block an exact integer sum of quant
/// products, scaled in float.
enum PortableKernels {
    // MARK: Multiplying

    /// `out[t * outStride + r]` = row `r` of `w` (ggml blocks of `type`) · vector `t` of `x`.
    static func multiply(
        _ type: GGMLType, _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
        outStride: Int
    ) {
        // Vectors in groups of about 256 KiB, which stay in the L2 cache while the rows stream past.
        let vectorBytes = type == .f32 || type == .f16 ? w.columns * 4 : w.columns
        let group = max(1, min(x.count, (256 << 10) / vectorBytes))
        var first = 0
        while first < x.count {
            let end = min(x.count, first + group)
            for r in rows {
                let row = w.row(r)
                for t in first..<end { out[t * outStride + r] = dot(type, row, w.columns, x, t) }
            }
            first = end
        }
    }

    /// The row of `columns` elements at `p` · vector `t` of `x`.
    static func dot(_ type: GGMLType, _ p: UnsafeRawPointer, _ columns: Int, _ x: ActivationView, _ t: Int) -> Float {
        let y = x.quants + t * x.quantStride
        let xs = x.scales + t * x.scaleStride
        switch type {
        case .f32:
            return floatDot(columns, x.floats + t * x.floatStride) {
                p.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self)
            }
        case .f16:
            return floatDot(columns, x.floats + t * x.floatStride) { half(p, $0 * 2) }
        case .q4_0:
            return symmetricDot(p, columns / 32, 18, y, xs) { nibbleDot($0 + 2, 0, $1, offset: 8) }
        case .q5_0:
            return symmetricDot(p, columns / 32, 22, y, xs) {
                nibbleDot($0 + 6, $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self), $1, offset: 16)
            }
        case .q8_0:
            return symmetricDot(p, columns / 32, 34, y, xs) { block, y in
                var s: Int32 = 0
                for i in 0..<32 { s &+= Int32(block.load(fromByteOffset: 2 + i, as: Int8.self)) &* Int32(y[i]) }
                return s
            }
        case .q4_1:
            return minimumDot(p, columns / 32, 20, y, xs) { nibbleDot($0 + 4, 0, $1, offset: 0) }
        case .q5_1:
            return minimumDot(p, columns / 32, 24, y, xs) {
                nibbleDot($0 + 8, $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self), $1, offset: 0)
            }
        case .q4_K, .q5_K:
            return q45KDot(p, columns / 256, fiveBits: type == .q5_K, y, xs, x.sums + t * x.sumStride)
        case .q6_K:
            return q6KDot(p, columns / 256, y, xs, x.sums + t * x.sumStride)
        default:
            preconditionFailure("\(type.name) weights are not supported")
        }
    }

    /// Σ over blocks of d·d_x·(integer dot) for Q4_0, Q5_0 and Q8_0 (`bytes` per block, d first).
    @inline(__always)
    private static func symmetricDot(
        _ p: UnsafeRawPointer, _ blocks: Int, _ bytes: Int, _ y: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>,
        _ integer: (UnsafeRawPointer, UnsafePointer<Int8>) -> Int32
    ) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let block = p + b * bytes
            sum += (half(block, 0) * xs[b]) * Float(integer(block, y + b * 32))
        }
        return sum
    }

    /// Σ over blocks of d·d_x·(integer dot) + m·(d·Σq)_x for Q4_1 and Q5_1 (d, m first).
    @inline(__always)
    private static func minimumDot(
        _ p: UnsafeRawPointer, _ blocks: Int, _ bytes: Int, _ y: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>,
        _ integer: (UnsafeRawPointer, UnsafePointer<Int8>) -> Int32
    ) -> Float {
        var sum: Float = 0
        var minimum: Float = 0
        for b in 0..<blocks {
            let block = p + b * bytes
            sum += (half(block, 0) * xs[2 * b]) * Float(integer(block, y + b * 32))
            minimum += half(block, 2) * xs[2 * b + 1]
        }
        return sum + minimum
    }

    /// Σ (q − offset)·y over a block of 32 whose low 4 bits are the nibbles at `qs` (byte i: element i
    /// low, element i + 16 high) and whose fifth bits are bit i of `highBits` (zero for Q4 formats).
    @inline(__always)
    private static func nibbleDot(_ qs: UnsafeRawPointer, _ highBits: UInt32, _ y: UnsafePointer<Int8>, offset: Int32)
        -> Int32
    {
        // The fifth bits spread to 0x10 bytes, eight at a time: copy the byte into every byte, keep
        // bit k in byte k, and turn a non-zero byte into 0x10.
        @inline(__always) func spread(_ bits: UInt32) -> UInt64 {
            let picked = (UInt64(bits & 0xFF) &* 0x0101_0101_0101_0101) & 0x8040_2010_0804_0201
            return ((picked &+ 0x7F7F_7F7F_7F7F_7F7F) & 0x8080_8080_8080_8080) >> 3
        }
        var high = (spread(highBits), spread(highBits >> 8), spread(highBits >> 16), spread(highBits >> 24))
        return withUnsafeBytes(of: &high) { h in
            var s: Int32 = 0
            for i in 0..<16 {
                let byte = qs.load(fromByteOffset: i, as: UInt8.self)
                let low = Int32(byte & 0xF | h[i]) &- offset
                let top = Int32(byte >> 4 | h[i + 16]) &- offset
                s &+= low &* Int32(y[i]) &+ top &* Int32(y[i + 16])
            }
            return s
        }
    }

    /// Q4_K/Q5_K row · Q8_K vector: per super-block d·d_x·Σ scale·(q·y) − dmin·d_x·Σ min·(Σy).
    private static func q45KDot(
        _ p: UnsafeRawPointer, _ blocks: Int, fiveBits: Bool, _ y: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>,
        _ sums: UnsafePointer<Int16>
    ) -> Float {
        var sum: Float = 0
        let bytes = fiveBits ? 176 : 144
        for b in 0..<blocks {
            let block = p + b * bytes
            let (scales, mins) = scalesAndMins(block + 4)
            let qs = block + (fiveBits ? 48 : 16)
            let qh = block + 16
            let v = y + b * 256
            var scaled: Int32 = 0
            var minimum: Int32 = 0
            for j in 0..<4 {
                // Bytes 32j…32j+31: sub-block 2j in the low nibbles, 2j+1 in the high ones; Q5_K's
                // fifth bits are bits 2j and 2j+1 of the 32 qh bytes.
                var s0: Int32 = 0
                var s1: Int32 = 0
                let shift = UInt8(2 * j)
                if fiveBits {
                    for l in 0..<32 {
                        let byte = qs.load(fromByteOffset: j * 32 + l, as: UInt8.self)
                        let h = qh.load(fromByteOffset: l, as: UInt8.self) >> shift
                        s0 &+= Int32(byte & 0xF | (h & 1) << 4) &* Int32(v[j * 64 + l])
                        s1 &+= Int32(byte >> 4 | (h & 2) << 3) &* Int32(v[j * 64 + 32 + l])
                    }
                } else {
                    for l in 0..<32 {
                        let byte = qs.load(fromByteOffset: j * 32 + l, as: UInt8.self)
                        s0 &+= Int32(byte & 0xF) &* Int32(v[j * 64 + l])
                        s1 &+= Int32(byte >> 4) &* Int32(v[j * 64 + 32 + l])
                    }
                }
                scaled &+= Int32(scales[2 * j]) &* s0 &+ Int32(scales[2 * j + 1]) &* s1
                // Σy over sub-blocks 2j and 2j+1: two sums of 16 each.
                let s = sums + b * 16 + 4 * j
                minimum &+= Int32(mins[2 * j]) &* (Int32(s[0]) &+ Int32(s[1]))
                minimum &+= Int32(mins[2 * j + 1]) &* (Int32(s[2]) &+ Int32(s[3]))
            }
            sum += (half(block, 0) * xs[b]) * Float(scaled)
            sum += (-half(block, 2) * xs[b]) * Float(minimum)
        }
        return sum
    }

    /// Q6_K row · Q8_K vector: per super-block d·d_x·Σ scale·((q − 32)·y), as Σ scale·(q·y) − 32·Σ
    /// scale·(Σy).
    private static func q6KDot(
        _ p: UnsafeRawPointer, _ blocks: Int, _ y: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>,
        _ sums: UnsafePointer<Int16>
    ) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let block = p + b * 210
            let v = y + b * 256
            var scaled: Int32 = 0
            for h in 0..<2 {
                for g in 0..<4 {
                    // Element 128h + 32g + l: low (g < 2) or high nibble of byte 64h + 32(g % 2) + l,
                    // bits 2g…2g+1 of byte 128 + 32h + l; scales 16 elements each.
                    let low = block + (64 * h + 32 * (g % 2))
                    let top = block + (128 + 32 * h)
                    let lowShift = UInt8(g < 2 ? 0 : 4)
                    let topShift = UInt8(2 * g)
                    let u = v + (128 * h + 32 * g)
                    @inline(__always) func sixteen(_ from: Int) -> Int32 {
                        var s: Int32 = 0
                        for l in from..<from + 16 {
                            let q =
                                low.load(fromByteOffset: l, as: UInt8.self) >> lowShift & 0xF
                                | (top.load(fromByteOffset: l, as: UInt8.self) >> topShift & 3) << 4
                            s &+= Int32(q) &* Int32(u[l])
                        }
                        return s
                    }
                    let s0 = sixteen(0)
                    let s1 = sixteen(16)
                    let scales = block + 192 + 8 * h + 2 * g
                    let scale0 = Int32(scales.load(as: Int8.self))
                    let scale1 = Int32(scales.load(fromByteOffset: 1, as: Int8.self))
                    scaled &+= scale0 &* s0 &+ scale1 &* s1
                }
            }
            var offset: Int32 = 0
            for j in 0..<16 {
                offset &+= Int32(block.load(fromByteOffset: 192 + j, as: Int8.self)) &* Int32(sums[b * 16 + j])
            }
            sum += (half(block, 208) * xs[b]) * Float(scaled &- 32 &* offset)
        }
        return sum
    }

    /// Σ wᵢ·xᵢ over `n` floats, 16 lanes at a time (`weight(i)` gives wᵢ).
    @inline(__always)
    private static func floatDot(_ n: Int, _ x: UnsafePointer<Float>, _ weight: (Int) -> Float) -> Float {
        var lanes = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            var w = SIMD16<Float>()
            for j in 0..<16 { w[j] = weight(i + j) }
            lanes += w * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var sum = lanes.sum()
        while i < n {
            sum += weight(i) * x[i]
            i += 1
        }
        return sum
    }

    // MARK: Packing

    /// ggml's `nearest_int`: `value` rounded to nearest, ties to even, for |value| < 2²² (the
    /// fraction bits fall off when 1.5 · 2²³ is added; the integer is left in the low mantissa bits).
    /// Never traps, whatever the value.
    @inline(__always)
    static func nearestInt(_ value: Float) -> Int32 {
        Int32(bitPattern: (value + 0x1.8p23).bitPattern & 0x007F_FFFF) - 0x0040_0000
    }

    /// Q8_0/Q8_1 quantisation as `HaswellLLMKernels.packQ8` (same bytes): per 32 values
    /// `d = max|x| / 127`, quants round(x · 127 / max|x|); `scales[b]` = d, or with `withSums`
    /// `scales[2b]` = d and `scales[2b + 1]` = d · Σq (not yet rounded to half precision).
    static func packQ8(
        _ x: UnsafePointer<Float>, columns: Int, withSums: Bool, quants: UnsafeMutablePointer<Int8>,
        scales: UnsafeMutablePointer<Float>
    ) {
        for b in 0..<columns / 32 {
            let v = x + b * 32
            let q = quants + b * 32
            var amax: Float = 0
            for i in 0..<32 { amax = max(amax, abs(v[i])) }
            let d = amax / 127
            let inverse: Float = amax != 0 ? 127 / amax : 0
            var sum: Int32 = 0
            for i in 0..<32 {
                let n = nearestInt(v[i] * inverse)
                q[i] = Int8(truncatingIfNeeded: n)
                sum &+= n
            }
            if withSums {
                scales[2 * b] = d
                scales[2 * b + 1] = d * Float(sum)
            } else {
                scales[b] = d
            }
        }
    }

    /// Q8_K quantisation as `HaswellLLMKernels.packQ8_K` (same bytes): per 256 values, with `m` the
    /// first value of largest magnitude, quants min(127, round(x · (−127 / m))), `scales[b]` =
    /// 1 / (−127 / m), `sums` the sum of every 16 quants; zeros for an all-zero block.
    static func packQ8_K(
        _ x: UnsafePointer<Float>, columns: Int, quants: UnsafeMutablePointer<Int8>,
        scales: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Int16>
    ) {
        for b in 0..<columns / 256 {
            let v = x + b * 256
            let q = quants + b * 256
            var amax: Float = 0
            var extreme: Float = 0
            for i in 0..<256 where abs(v[i]) > amax {
                amax = abs(v[i])
                extreme = v[i]
            }
            guard amax != 0 else {
                q.update(repeating: 0, count: 256)
                (sums + b * 16).update(repeating: 0, count: 16)
                scales[b] = 0
                continue
            }
            let inverse = -127 / extreme
            for i in 0..<256 { q[i] = Int8(truncatingIfNeeded: min(127, nearestInt(v[i] * inverse))) }
            for j in 0..<16 {
                var sum: Int32 = 0
                for i in 0..<16 { sum &+= Int32(q[j * 16 + i]) }
                sums[b * 16 + j] = Int16(truncatingIfNeeded: sum)
            }
            scales[b] = 1 / inverse
        }
    }

    // MARK: Dequantising

    /// The `columns` values of the row at `p` (ggml blocks of `type`) into `out`, computed as ggml's
    /// `dequantize_row_*` does.
    static func dequantize(_ type: GGMLType, _ p: UnsafeRawPointer, columns: Int, into out: UnsafeMutablePointer<Float>)
    {
        switch type {
        case .f32:
            for i in 0..<columns { out[i] = p.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
        case .f16:
            for i in 0..<columns { out[i] = half(p, i * 2) }
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0:
            let q = UnsafeMutablePointer<Int8>.allocate(capacity: 32)
            defer { q.deallocate() }
            let bytes = type.blockBytes
            for b in 0..<columns / 32 {
                let block = p + b * bytes
                legacyQuants(type, block, into: q)
                let d = half(block, 0)
                let o = out + b * 32
                switch type {
                case .q4_1, .q5_1:
                    let m = half(block, 2)
                    for i in 0..<32 { o[i] = Float(q[i]) * d + m }
                default:
                    for i in 0..<32 { o[i] = Float(q[i]) * d }
                }
            }
        case .q4_K, .q5_K:
            let five = type == .q5_K
            for b in 0..<columns / 256 {
                let block = p + b * type.blockBytes
                let d = half(block, 0)
                let dmin = half(block, 2)
                let (scales, mins) = scalesAndMins(block + 4)
                let qs = block + (five ? 48 : 16)
                for j in 0..<8 {
                    let scale = d * Float(scales[j])
                    let minimum = dmin * Float(mins[j])
                    let o = out + b * 256 + j * 32
                    for l in 0..<32 {
                        var v = Int32(
                            qs.load(fromByteOffset: (j / 2) * 32 + l, as: UInt8.self) >> (4 * UInt8(j % 2)) & 0xF)
                        if five && block.load(fromByteOffset: 16 + l, as: UInt8.self) >> UInt8(j) & 1 == 1 { v += 16 }
                        o[l] = scale * Float(v) - minimum
                    }
                }
            }
        case .q6_K:
            let q = UnsafeMutablePointer<Int8>.allocate(capacity: 256)
            defer { q.deallocate() }
            for b in 0..<columns / 256 {
                let block = p + b * 210
                q6KQuants(block, into: q)
                let d = half(block, 208)
                for i in 0..<256 {
                    let scale = Float(block.load(fromByteOffset: 192 + i / 16, as: Int8.self))
                    out[b * 256 + i] = d * scale * Float(q[i])
                }
            }
        default:
            preconditionFailure("\(type.name) weights are not supported")
        }
    }

    // MARK: Block formats

    /// The half-precision float at `p + offset`.
    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Half.float(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// The 32 quants of a Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 block, in element order: signed for Q4_0 (nibble − 8),
    /// Q5_0 (5 bits − 16) and Q8_0; unsigned for Q4_1 (nibble) and Q5_1 (5 bits).
    @inline(__always)
    static func legacyQuants(_ type: GGMLType, _ block: UnsafeRawPointer, into q: UnsafeMutablePointer<Int8>) {
        // Nibble layout: byte i holds element i (low nibble) and element i + 16 (high nibble); Q5's
        // fifth bits are bit i of a little-endian word for element i.
        func nibbles(_ at: Int, _ highBits: UInt32, _ offset: Int8) {
            for i in 0..<16 {
                let byte = block.load(fromByteOffset: at + i, as: UInt8.self)
                let low = Int8(byte & 0xF) | Int8(truncatingIfNeeded: (highBits >> UInt32(i)) & 1) << 4
                let high = Int8(byte >> 4) | Int8(truncatingIfNeeded: (highBits >> UInt32(i + 16)) & 1) << 4
                q[i] = low - offset
                q[i + 16] = high - offset
            }
        }
        switch type {
        case .q4_0: nibbles(2, 0, 8)
        case .q4_1: nibbles(4, 0, 0)
        case .q5_0: nibbles(6, block.loadUnaligned(fromByteOffset: 2, as: UInt32.self), 16)
        case .q5_1: nibbles(8, block.loadUnaligned(fromByteOffset: 4, as: UInt32.self), 0)
        default: for i in 0..<32 { q[i] = block.load(fromByteOffset: 2 + i, as: Int8.self) }
        }
    }

    /// The eight 6-bit scales and minimums of a Q4_K/Q5_K super-block (12 bytes at `p`).
    @inline(__always)
    static func scalesAndMins(_ p: UnsafeRawPointer) -> (scales: SIMD8<UInt8>, mins: SIMD8<UInt8>) {
        // Sub-blocks 0–3: low 6 bits of bytes 0–3 (scales) and 4–7 (minimums). Sub-blocks 4–7: the
        // nibbles of bytes 8–11 (low: scale, high: minimum) plus the top 2 bits of bytes 0–3 (scale)
        // and 4–7 (minimum) as bits 4–5.
        var scales = SIMD8<UInt8>()
        var mins = SIMD8<UInt8>()
        for j in 0..<4 {
            let a = p.load(fromByteOffset: j, as: UInt8.self)
            let b = p.load(fromByteOffset: j + 4, as: UInt8.self)
            let c = p.load(fromByteOffset: j + 8, as: UInt8.self)
            scales[j] = a & 63
            mins[j] = b & 63
            scales[j + 4] = (c & 0xF) | (a >> 6) << 4
            mins[j + 4] = (c >> 4) | (b >> 6) << 4
        }
        return (scales, mins)
    }

    /// The 256 quants of a Q6_K super-block minus 32 (−32…31), in element order.
    @inline(__always)
    static func q6KQuants(_ block: UnsafeRawPointer, into q: UnsafeMutablePointer<Int8>) {
        // Element 128h + 32g + l takes the low (g = 0, 1) or high (g = 2, 3) nibble of byte
        // 64h + 32(g % 2) + l and bits 2g…2g+1 of byte 128 + 32h + l.
        for h in 0..<2 {
            for g in 0..<4 {
                for l in 0..<32 {
                    let low =
                        block.load(fromByteOffset: 64 * h + 32 * (g % 2) + l, as: UInt8.self) >> (g < 2 ? 0 : 4) & 0xF
                    let high = block.load(fromByteOffset: 128 + 32 * h + l, as: UInt8.self) >> UInt8(2 * g) & 3
                    q[128 * h + 32 * g + l] = Int8(low | high << 4) - 32
                }
            }
        }
    }
}
