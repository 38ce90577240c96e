internal import WendaoLLMKernels

/// The portable kernels: any CPU, plain Swift (LLVM vectorises the integer dot products for whatever
/// the module is built for). They are the fallback when ``LLMKernels/fast`` is false and the reference
/// the tests hold the Haswell kernels to.
///
/// A weight row is first unpacked into int8 quants plus its block scales (once per row and group of
/// vectors), then dotted with each packed vector: per block an exact integer sum, scaled in float.
enum PortableKernels {
    // MARK: Multiplying

    /// `out[t * outStride + r]` = row `r` of `w` (ggml blocks of `type`) · vector `t` of `x`.
    static func multiply(
        _ type: GGMLType, _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
        outStride: Int
    ) {
        let row = UnpackedRow(columns: w.columns)
        defer { row.deallocate() }
        let vectorBytes = type == .f32 || type == .f16 ? w.columns * 4 : w.columns
        let group = max(1, min(x.count, (256 << 10) / vectorBytes))
        var first = 0
        while first < x.count {
            let end = min(x.count, first + group)
            for r in rows {
                row.unpack(type, w.row(r))
                for t in first..<end { out[t * outStride + r] = row.dot(type, x, t) }
            }
            first = end
        }
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
        _ x: UnsafePointer<Float>, columns: Int, quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>,
        sums: UnsafeMutablePointer<Int16>
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
    static func dequantize(_ type: GGMLType, _ p: UnsafeRawPointer, columns: Int, into out: UnsafeMutablePointer<Float>) {
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
                        var v = Int32(qs.load(fromByteOffset: (j / 2) * 32 + l, as: UInt8.self) >> (4 * UInt8(j % 2)) & 0xF)
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
                    let low = block.load(fromByteOffset: 64 * h + 32 * (g % 2) + l, as: UInt8.self) >> (g < 2 ? 0 : 4) & 0xF
                    let high = block.load(fromByteOffset: 128 + 32 * h + l, as: UInt8.self) >> UInt8(2 * g) & 3
                    q[128 * h + 32 * g + l] = Int8(low | high << 4) - 32
                }
            }
        }
    }
}

/// One weight row unpacked for the portable dot products: int8 quants, per-block float scales (and
/// minimums), per-sub-block integer scales (K-quants), or floats.
private final class UnpackedRow {
    let columns: Int
    let quants: UnsafeMutablePointer<Int8>
    /// Legacy formats: d per 32; K-quants: d per 256.
    let scales: UnsafeMutablePointer<Float>
    /// Q4_1/Q5_1: m per 32; Q4_K/Q5_K: dmin per 256.
    let minimums: UnsafeMutablePointer<Float>
    /// Q4_K/Q5_K: 8 scales then 8 minimums per 256; Q6_K: 16 scales per 256.
    let subScales: UnsafeMutablePointer<Int32>
    /// F32/F16 rows.
    let floats: UnsafeMutablePointer<Float>

    init(columns: Int) {
        self.columns = columns
        quants = .allocate(capacity: columns)
        scales = .allocate(capacity: columns / 32 + 1)
        minimums = .allocate(capacity: columns / 32 + 1)
        subScales = .allocate(capacity: columns / 16 + 1)
        floats = .allocate(capacity: columns)
    }

    func deallocate() {
        quants.deallocate()
        scales.deallocate()
        minimums.deallocate()
        subScales.deallocate()
        floats.deallocate()
    }

    /// Unpacks the row at `p`.
    func unpack(_ type: GGMLType, _ p: UnsafeRawPointer) {
        switch type {
        case .f32, .f16:
            PortableKernels.dequantize(type, p, columns: columns, into: floats)
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0:
            for b in 0..<columns / 32 {
                let block = p + b * type.blockBytes
                PortableKernels.legacyQuants(type, block, into: quants + b * 32)
                scales[b] = PortableKernels.half(block, 0)
                minimums[b] = PortableKernels.half(block, 2)  // used only by Q4_1 and Q5_1
            }
        case .q4_K, .q5_K:
            let five = type == .q5_K
            for b in 0..<columns / 256 {
                let block = p + b * type.blockBytes
                scales[b] = PortableKernels.half(block, 0)
                minimums[b] = PortableKernels.half(block, 2)
                let (s, m) = PortableKernels.scalesAndMins(block + 4)
                for j in 0..<8 {
                    subScales[b * 16 + j] = Int32(s[j])
                    subScales[b * 16 + 8 + j] = Int32(m[j])
                }
                let qs = block + (five ? 48 : 16)
                let q = quants + b * 256
                for j in 0..<8 {
                    for l in 0..<32 {
                        var v = qs.load(fromByteOffset: (j / 2) * 32 + l, as: UInt8.self) >> (4 * UInt8(j % 2)) & 0xF
                        if five { v |= (block.load(fromByteOffset: 16 + l, as: UInt8.self) >> UInt8(j) & 1) << 4 }
                        q[j * 32 + l] = Int8(v)
                    }
                }
            }
        case .q6_K:
            for b in 0..<columns / 256 {
                let block = p + b * 210
                PortableKernels.q6KQuants(block, into: quants + b * 256)
                scales[b] = PortableKernels.half(block, 208)
                for j in 0..<16 { subScales[b * 16 + j] = Int32(block.load(fromByteOffset: 192 + j, as: Int8.self)) }
            }
        default:
            preconditionFailure("\(type.name) weights are not supported")
        }
    }

    /// The unpacked row · vector `t` of `x`.
    func dot(_ type: GGMLType, _ x: ActivationView, _ t: Int) -> Float {
        let y = x.quants + t * x.quantStride
        let xs = x.scales + t * x.scaleStride
        switch type {
        case .f32, .f16:
            return floatDot(floats, x.floats + t * x.floatStride, columns)
        case .q4_0, .q5_0, .q8_0:
            var sum: Float = 0
            for b in 0..<columns / 32 {
                sum += (scales[b] * xs[b]) * Float(integerDot(quants + b * 32, y + b * 32, 32))
            }
            return sum
        case .q4_1, .q5_1:
            var sum: Float = 0
            var minimum: Float = 0
            for b in 0..<columns / 32 {
                sum += (scales[b] * xs[2 * b]) * Float(integerDot(quants + b * 32, y + b * 32, 32))
                minimum += minimums[b] * xs[2 * b + 1]
            }
            return sum + minimum
        case .q4_K, .q5_K:
            var sum: Float = 0
            let bsums = x.sums + t * x.sumStride
            for b in 0..<columns / 256 {
                var scaled: Int32 = 0
                var mins: Int32 = 0
                for j in 0..<8 {
                    let o = b * 256 + j * 32
                    scaled &+= subScales[b * 16 + j] &* integerDot(quants + o, y + o, 32)
                    mins &+= subScales[b * 16 + 8 + j] &* (Int32(bsums[b * 16 + 2 * j]) &+ Int32(bsums[b * 16 + 2 * j + 1]))
                }
                sum += (scales[b] * xs[b]) * Float(scaled)
                sum += (-minimums[b] * xs[b]) * Float(mins)
            }
            return sum
        case .q6_K:
            var sum: Float = 0
            for b in 0..<columns / 256 {
                var scaled: Int32 = 0
                for j in 0..<16 {
                    let o = b * 256 + j * 16
                    scaled &+= subScales[b * 16 + j] &* integerDot(quants + o, y + o, 16)
                }
                sum += (scales[b] * xs[b]) * Float(scaled)
            }
            return sum
        default:
            preconditionFailure("\(type.name) weights are not supported")
        }
    }

    /// Σ a[i]·b[i] over `n` int8 pairs (exact).
    @inline(__always)
    private func integerDot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int32 {
        var s: Int32 = 0
        for i in 0..<n { s &+= Int32(a[i]) &* Int32(b[i]) }
        return s
    }

    private func integerDot(_ a: UnsafeMutablePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int32 {
        integerDot(UnsafePointer(a), b, n)
    }

    /// Σ a[i]·b[i] over `n` floats, in 16 lanes.
    private func floatDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        var lanes = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            lanes += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        var sum = lanes.sum()
        while i < n {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    private func floatDot(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        floatDot(UnsafePointer(a), b, n)
    }
}
