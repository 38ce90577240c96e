import Foundation
import Testing
import WendaoCore
@testable import WendaoLLM

// The matrix kernels against references written here from the block formats (ggml-common.h's
// layouts, ggml-quants.c's dequantize_row_* and quantize_row_q8_*), not from the kernels' code.

/// A small seeded generator (SplitMix64).
private struct Generator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }

    /// Uniform in (0, 1].
    mutating func unit() -> Double { Double((next() >> 11) + 1) * 0x1p-53 }

    mutating func gaussian() -> Float {
        Float((-2 * Foundation.log(unit())).squareRoot() * Foundation.cos(2 * Double.pi * unit()))
    }

    /// Bits of a finite half with a random mantissa and an exponent in `exponents` (powers of two).
    mutating func half(_ exponents: ClosedRange<Int>, signed: Bool = true) -> UInt16 {
        let e = exponents.lowerBound + Int(next() % UInt64(exponents.count))
        let sign: UInt16 = signed && next() & 1 == 1 ? 0x8000 : 0
        return sign | UInt16(e + 15) << 10 | UInt16(next() & 0x3FF)
    }
}

/// A half's value from the IEEE 754 definition, in double arithmetic.
private func specHalf(_ bits: UInt16) -> Float {
    let sign: Double = bits & 0x8000 == 0 ? 1 : -1
    let exponent = Int(bits >> 10) & 0x1F
    let mantissa = Double(bits & 0x3FF)
    if exponent == 0x1F { return mantissa == 0 ? Float(sign * .infinity) : .nan }
    if exponent == 0 { return Float(sign * mantissa * 0x1p-24) }
    return Float(sign * (1 + mantissa / 1024) * Foundation.pow(2, Double(exponent - 15)))
}

/// `value` rounded to the nearest half (ties to even), in double arithmetic.
private func specRoundToHalf(_ value: Float) -> Float {
    let v = Double(value)
    let magnitude = abs(v)
    if magnitude >= 65520 { return v < 0 ? -.infinity : .infinity }
    let quantum = magnitude < 0x1p-14 ? 0x1p-24 : Foundation.pow(2, (Foundation.log2(magnitude)).rounded(.down) - 10)
    return Float((v / quantum).rounded(.toNearestOrEven) * quantum)
}

/// The types the kernels multiply.
private let weightTypes: [GGMLType] = [.f32, .f16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K]

/// A weight matrix in its own memory, filled with random blocks whose half-precision fields are sane.
private final class RandomMatrix {
    let matrix: WeightMatrix
    private let memory: UnsafeMutableRawPointer

    init(_ type: GGMLType, rows: Int, columns: Int, seed: UInt64) {
        var g = Generator(state: seed)
        let bytes = rows * (columns / type.blockSize) * type.blockBytes
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        self.memory = memory
        for i in 0..<bytes { memory.storeBytes(of: g.byte(), toByteOffset: i, as: UInt8.self) }
        func setHalf(_ offset: Int, _ bits: UInt16) {
            memory.storeBytes(of: bits, toByteOffset: offset, as: UInt16.self)
        }
        let blocks = rows * columns / type.blockSize
        for b in 0..<blocks {
            let o = b * type.blockBytes
            switch type {
            case .f32: memory.storeBytes(of: g.gaussian(), toByteOffset: o, as: Float.self)
            case .f16: setHalf(o, g.half(-4...1))
            case .q4_0, .q5_0, .q8_0: setHalf(o, g.half(-9...(-5)))
            case .q4_1, .q5_1:
                setHalf(o, g.half(-9...(-5)))
                setHalf(o + 2, g.half(-7...(-3)))
            case .q4_K, .q5_K:
                setHalf(o, g.half(-12...(-8), signed: false))
                setHalf(o + 2, g.half(-12...(-8), signed: false))
            case .q6_K: setHalf(o + 208, g.half(-14...(-10)))
            default: fatalError("no generator for \(type.name)")
            }
        }
        matrix = WeightMatrix(type: type, rows: rows, columns: columns, base: UnsafeRawPointer(memory))
    }

    deinit { memory.deallocate() }
}

/// Row `r` of `w` from the format descriptions, written as ggml's dequantize_row_* loops.
private func specRow(_ w: WeightMatrix, _ r: Int) -> [Float] {
    let p = w.row(r)
    func byte(_ o: Int) -> UInt8 { p.load(fromByteOffset: o, as: UInt8.self) }
    func half(_ o: Int) -> Float { specHalf(UInt16(byte(o)) | UInt16(byte(o + 1)) << 8) }
    var y = [Float](repeating: .nan, count: w.columns)
    let blocks = w.columns / w.type.blockSize
    for i in 0..<blocks {
        let x = i * w.type.blockBytes
        switch w.type {
        case .f32:
            y[i] = Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(byte(x + $1)) << (8 * UInt32($1)) })
        case .f16:
            y[i] = half(x)
        case .q4_0, .q4_1, .q5_0, .q5_1:
            // block_q4_0 {d; qs[16]}, block_q4_1 {d; m; qs[16]}, block_q5_0 {d; qh[4]; qs[16]},
            // block_q5_1 {d; m; qh[4]; qs[16]}.
            let d = half(x)
            let hasMin = w.type == .q4_1 || w.type == .q5_1
            let m = hasMin ? half(x + 2) : 0
            let five = w.type == .q5_0 || w.type == .q5_1
            let qhAt = x + (hasMin ? 4 : 2)
            let qsAt = qhAt + (five ? 4 : 0)
            let qh = five ? (0..<4).reduce(UInt32(0)) { $0 | UInt32(byte(qhAt + $1)) << (8 * UInt32($1)) } : 0
            for j in 0..<16 {
                let xh0 = Int(((qh >> UInt32(j)) << 4) & 0x10)
                let xh1 = Int((qh >> UInt32(j + 12)) & 0x10)
                let offset = hasMin ? 0 : (five ? 16 : 8)
                let x0 = (Int(byte(qsAt + j)) & 0x0F | xh0) - offset
                let x1 = (Int(byte(qsAt + j)) >> 4 | xh1) - offset
                y[i * 32 + j] = hasMin ? Float(x0) * d + m : Float(x0) * d
                y[i * 32 + j + 16] = hasMin ? Float(x1) * d + m : Float(x1) * d
            }
        case .q8_0:
            let d = half(x)
            for j in 0..<32 { y[i * 32 + j] = Float(Int8(bitPattern: byte(x + 2 + j))) * d }
        case .q4_K, .q5_K:
            // {d; dmin; scales[12]; [q5_K: qh[32];] qs[128]}: get_scale_min_k4 and the 64-value loop.
            let five = w.type == .q5_K
            let d = half(x)
            let dmin = half(x + 2)
            func scaleMin(_ j: Int) -> (Float, Float) {
                let q = x + 4
                if j < 4 { return (Float(byte(q + j) & 63), Float(byte(q + j + 4) & 63)) }
                let sc = byte(q + j + 4) & 0xF | (byte(q + j - 4) >> 6) << 4
                let mn = byte(q + j + 4) >> 4 | (byte(q + j) >> 6) << 4
                return (Float(sc), Float(mn))
            }
            var out = i * 256
            var ql = x + (five ? 48 : 16)
            var u1: UInt8 = 1
            var u2: UInt8 = 2
            for j in stride(from: 0, to: 256, by: 64) {
                let (sc1, m1) = scaleMin(j / 32)
                let (sc2, m2) = scaleMin(j / 32 + 1)
                let d1 = d * sc1
                let dm1 = dmin * m1
                let d2 = d * sc2
                let dm2 = dmin * m2
                for l in 0..<32 {
                    let h: Float = five && byte(x + 16 + l) & u1 != 0 ? 16 : 0
                    y[out] = d1 * (Float(byte(ql + l) & 0xF) + h) - dm1
                    out += 1
                }
                for l in 0..<32 {
                    let h: Float = five && byte(x + 16 + l) & u2 != 0 ? 16 : 0
                    y[out] = d2 * (Float(byte(ql + l) >> 4) + h) - dm2
                    out += 1
                }
                ql += 32
                u1 <<= 2
                u2 <<= 2
            }
        case .q6_K:
            // {ql[128]; qh[64]; scales[16]; d}: the 128-value loop.
            let d = half(x + 208)
            var out = i * 256
            var ql = x
            var qh = x + 128
            var sc = x + 192
            for _ in 0..<2 {
                for l in 0..<32 {
                    let s = l / 16
                    let q1 = Int((byte(ql + l) & 0xF) | ((byte(qh + l) >> 0) & 3) << 4) - 32
                    let q2 = Int((byte(ql + l + 32) & 0xF) | ((byte(qh + l) >> 2) & 3) << 4) - 32
                    let q3 = Int((byte(ql + l) >> 4) | ((byte(qh + l) >> 4) & 3) << 4) - 32
                    let q4 = Int((byte(ql + l + 32) >> 4) | ((byte(qh + l) >> 6) & 3) << 4) - 32
                    func scale(_ k: Int) -> Float { Float(Int8(bitPattern: byte(sc + s + k))) }
                    y[out + l] = d * scale(0) * Float(q1)
                    y[out + l + 32] = d * scale(2) * Float(q2)
                    y[out + l + 64] = d * scale(4) * Float(q3)
                    y[out + l + 96] = d * scale(6) * Float(q4)
                }
                out += 128
                ql += 64
                qh += 32
                sc += 8
            }
        default:
            fatalError("no reference for \(w.type.name)")
        }
    }
    return y
}

/// Random activations: gaussian, one vector scaled up, and an all-zero first block in vector 1.
private func randomActivations(columns: Int, count: Int, seed: UInt64) -> [Float] {
    var g = Generator(state: seed)
    var x = (0..<(columns * count)).map { _ in g.gaussian() }
    if count > 1 { for i in 0..<min(columns, 256) { x[columns + i] = 0 } }
    if count > 2 { for i in 0..<columns { x[2 * columns + i] *= 40 } }
    return x
}

/// What the packed vector `t` stands for: its values (d·q, or the floats) and, for Q8_1, the stored
/// d·Σq per block of 32.
private func unpacked(_ x: PackedActivations, _ t: Int) -> (values: [Float], sums: [Float]) {
    switch x.format {
    case .f32, .f16:
        return ((0..<x.columns).map { x.floats[t * x.floatStride + $0] }, [])
    case .q8_0, .q8_1:
        let pairs = x.format == .q8_1 ? 2 : 1
        let values = (0..<x.columns).map {
            x.scales[t * x.scaleStride + pairs * ($0 / 32)] * Float(x.quants[t * x.quantStride + $0])
        }
        let sums = pairs == 2 ? (0..<x.columns / 32).map { x.scales[t * x.scaleStride + 2 * $0 + 1] } : []
        return (values, sums)
    case .q8_K:
        return (
            (0..<x.columns).map { x.scales[t * x.scaleStride + $0 / 256] * Float(x.quants[t * x.quantStride + $0]) }, []
        )
    }
}

/// The expected dot product of row `w` with packed vector `t`: exact (double) arithmetic on the
/// dequantised row and the packed values, with Q8_1's stored d·Σq in place of d·Σq for the minimums
/// (as the kernels use it). Also Σ|wᵢ·xᵢ|, the scale of the float rounding error.
private func expected(
    _ row: [Float], _ type: GGMLType, _ matrix: WeightMatrix, _ r: Int, _ x: PackedActivations, _ t: Int
)
    -> (value: Double, magnitude: Double)
{
    let (values, sums) = unpacked(x, t)
    var value = 0.0
    var magnitude = 0.0
    for i in 0..<row.count {
        value += Double(row[i]) * Double(values[i])
        magnitude += abs(Double(row[i]) * Double(values[i]))
    }
    if type == .q4_1 || type == .q5_1 {
        for b in 0..<row.count / 32 {
            let m = Double(
                specHalf(matrix.row(r).loadUnaligned(fromByteOffset: b * type.blockBytes + 2, as: UInt16.self)))
            let exactSum = (0..<32).reduce(0.0) { $0 + Double(values[b * 32 + $1]) }
            value += m * (Double(sums[b]) - exactSum)
            magnitude += abs(m * Double(sums[b]))
        }
    }
    return (value, magnitude)
}

/// Runs `multiply` into a fresh output of `x.count` × `outStride` floats filled with a sentinel.
private func run(
    _ w: WeightMatrix, _ x: PackedActivations, rows: Range<Int>, outStride: Int, fast: Bool
) -> [Float] {
    var out = [Float](repeating: -12345, count: x.count * outStride)
    out.withUnsafeMutableBufferPointer {
        LLMKernels.multiply(w, x, rows: rows, into: $0.baseAddress!, outStride: outStride, fast: fast)
    }
    return out
}

/// The kernels to test: the portable ones, and the Haswell ones when this processor runs them.
private let kernelChoices: [Bool] = CPUSupport.haswell ? [false, true] : [false]

@Suite("LLM matrix kernels")
struct KernelTests {
    @Test("half-precision conversions agree with the IEEE definition")
    func halves() {
        for bits in 0...UInt16.max {
            let value = Half.float(bits)
            let spec = specHalf(bits)
            if spec.isNaN {
                #expect(value.isNaN)
            } else {
                #expect(value.bitPattern == spec.bitPattern, "\(bits)")
                #expect(Half.bits(value) == bits, "round trip of \(bits)")
            }
        }
        var g = Generator(state: 7)
        for _ in 0..<200_000 {
            let value = Float(g.gaussian()) * Float(Foundation.pow(2, Double(Int(g.next() % 44) - 30)))
            #expect(Half.rounded(value).bitPattern == specRoundToHalf(value).bitPattern, "\(value)")
        }
        for value: Float in [65504, 65519.99, 65520, 1e9, 0x1p-25, 0x1.8p-25, 0x1p-24, 0x1.8p-24, 3e-5] {
            #expect(Half.rounded(value).bitPattern == specRoundToHalf(value).bitPattern, "\(value)")
            #expect(Half.rounded(-value).bitPattern == specRoundToHalf(-value).bitPattern, "\(-value)")
        }
    }

    @Test("supported types and their activation formats")
    func formats() {
        #expect(weightTypes.allSatisfy(LLMKernels.supports))
        #expect(!LLMKernels.supports(.q8_K) && !LLMKernels.supports(.q2_K) && !LLMKernels.supports(.bf16))
        #expect(ActivationFormat.for(.f32) == .f32)
        #expect(ActivationFormat.for(.f16) == .f16)
        for type in [GGMLType.q4_0, .q5_0, .q8_0] { #expect(ActivationFormat.for(type) == .q8_0) }
        for type in [GGMLType.q4_1, .q5_1] { #expect(ActivationFormat.for(type) == .q8_1) }
        for type in [GGMLType.q4_K, .q5_K, .q6_K] { #expect(ActivationFormat.for(type) == .q8_K) }
        if ProcessInfo.processInfo.environment["WENDAO_LLM_KERNELS"] != "baseline" {
            #expect(LLMKernels.fast == CPUSupport.haswell)
        }
        #expect(CPUSupport.hasHaswellFeatures(Set(CPUSupport.haswellFlags + ["sse2"])))
        #expect(!CPUSupport.hasHaswellFeatures(Set(CPUSupport.haswellFlags.filter { $0 != "fma" })))
    }

    @Test("dequantisation of random blocks matches the format description bit for bit", arguments: weightTypes)
    func dequantize(type: GGMLType) {
        let columns = 2 * max(type.blockSize, 32)
        let random = RandomMatrix(type, rows: 3, columns: columns, seed: 11)
        var row = [Float](repeating: 0, count: columns)
        for r in 0..<3 {
            row.withUnsafeMutableBufferPointer { LLMKernels.dequantize(random.matrix, row: r, into: $0.baseAddress!) }
            let spec = specRow(random.matrix, r)
            for i in 0..<columns where row[i].bitPattern != spec[i].bitPattern {
                Issue.record("\(type.name) row \(r) element \(i): \(row[i]) instead of \(spec[i])")
                break
            }
        }
    }

    @Test("activations are quantised as ggml's quantize_row_q8_0, _q8_1 and _q8_K", arguments: kernelChoices)
    func packing(fast: Bool) {
        let columns = 512
        let values = randomActivations(columns: columns, count: 3, seed: 5)
        for format in [ActivationFormat.q8_0, .q8_1, .q8_K, .f16, .f32] {
            let packed = PackedActivations(format: format, columns: columns, capacity: 4)
            values.withUnsafeBufferPointer { packed.pack($0.baseAddress!, count: 3, stride: columns, fast: fast) }
            #expect(packed.count == 3)
            for t in 0..<3 {
                let x = Array(values[t * columns..<(t + 1) * columns])
                switch format {
                case .q8_0, .q8_1:
                    for b in 0..<columns / 32 {
                        // d = amax/127 and id = 127/amax in float, quants rounded to nearest even (the
                        // AVX2 quantize_row_q8_0/_q8_1); d and d·Σq stored as halves.
                        let block = x[b * 32..<(b + 1) * 32]
                        let amax = block.map { abs($0) }.max()!
                        let d = amax / 127
                        let inverse: Float = amax != 0 ? 127 / amax : 0
                        let q = block.map { Int(($0 * inverse).rounded(.toNearestOrEven)) }
                        let got = (0..<32).map { Int(packed.quants[t * packed.quantStride + b * 32 + $0]) }
                        #expect(got == q, "\(format) vector \(t) block \(b)")
                        let stride = format == .q8_1 ? 2 : 1
                        #expect(packed.scales[t * packed.scaleStride + stride * b] == specRoundToHalf(d))
                        if format == .q8_1 {
                            let s = specRoundToHalf(d * Float(q.reduce(0, +)))
                            #expect(packed.scales[t * packed.scaleStride + 2 * b + 1] == s)
                        }
                    }
                case .q8_K:
                    for b in 0..<columns / 256 {
                        // The first value of largest magnitude m; iscale = −127/m; quants
                        // min(127, nearest(iscale·x)); d = 1/iscale; sums of 16 (quantize_row_q8_K_ref).
                        let block = Array(x[b * 256..<(b + 1) * 256])
                        let amax = block.map { abs($0) }.max()!
                        let scale = packed.scales[t * packed.scaleStride + b]
                        let got = (0..<256).map { Int(packed.quants[t * packed.quantStride + b * 256 + $0]) }
                        let sums = (0..<16).map { Int(packed.sums[t * packed.sumStride + b * 16 + $0]) }
                        if amax == 0 {
                            #expect(scale == 0 && got.allSatisfy { $0 == 0 } && sums.allSatisfy { $0 == 0 })
                            continue
                        }
                        let m = block.first { abs($0) == amax }!
                        let iscale = -127 / m
                        let q = block.map { min(127, Int(($0 * iscale).rounded(.toNearestOrEven))) }
                        #expect(got == q, "Q8_K vector \(t) block \(b)")
                        #expect(scale == 1 / iscale)
                        #expect(sums == (0..<16).map { j in q[j * 16..<(j + 1) * 16].reduce(0, +) })
                    }
                case .f16:
                    let got = (0..<columns).map { packed.floats[t * packed.floatStride + $0] }
                    #expect(got == x.map(specRoundToHalf))
                case .f32:
                    #expect((0..<columns).map { packed.floats[t * packed.floatStride + $0] } == x)
                }
            }
        }
    }

    @Test("the Haswell and the portable quantisers give the same bytes", .enabled(if: CPUSupport.haswell))
    func packingAgrees() {
        let columns = 768
        var values = randomActivations(columns: columns, count: 4, seed: 9)
        values[100] = 0.5
        values[101] = -0.5  // a tie for the largest magnitude in its Q8_K block
        for i in 102..<256 { values[i] = 0.25 }
        for format in [ActivationFormat.q8_0, .q8_1, .q8_K] {
            let a = PackedActivations(format: format, columns: columns, capacity: 4)
            let b = PackedActivations(format: format, columns: columns, capacity: 4)
            values.withUnsafeBufferPointer {
                a.pack($0.baseAddress!, count: 4, stride: columns, fast: true)
                b.pack($0.baseAddress!, count: 4, stride: columns, fast: false)
            }
            for t in 0..<4 {
                #expect(
                    (0..<columns).allSatisfy { a.quants[t * a.quantStride + $0] == b.quants[t * b.quantStride + $0] })
                let scales = format == .q8_1 ? columns / 16 : columns / format.blockSize
                #expect(
                    (0..<scales).allSatisfy { a.scales[t * a.scaleStride + $0] == b.scales[t * b.scaleStride + $0] })
                if format == .q8_K {
                    #expect(
                        (0..<columns / 16).allSatisfy { a.sums[t * a.sumStride + $0] == b.sums[t * b.sumStride + $0] })
                }
            }
        }
    }

    @Test("multiply agrees with the dequantised rows times the packed vectors", arguments: weightTypes, kernelChoices)
    func multiply(type: GGMLType, fast: Bool) {
        let columns = 2 * max(type.blockSize, 32) + (type.blockSize == 1 ? 13 : 0)
        let rows = 7
        let count = 6
        let random = RandomMatrix(type, rows: rows, columns: columns, seed: 21)
        let w = random.matrix
        let values = randomActivations(columns: columns, count: count, seed: 3)
        let x = PackedActivations(format: .for(type), columns: columns, capacity: 8)
        values.withUnsafeBufferPointer { x.pack($0.baseAddress!, count: count, stride: columns, fast: fast) }
        let out = run(w, x, rows: 0..<rows, outStride: rows, fast: fast)
        for r in 0..<rows {
            let row = specRow(w, r)
            for t in 0..<count {
                let (value, magnitude) = expected(row, type, w, r, x, t)
                let got = Double(out[t * rows + r])
                #expect(
                    abs(got - value) <= 2e-5 * magnitude + 1e-30,
                    "\(type.name) row \(r) vector \(t): \(got) vs \(value)")
            }
        }
    }

    @Test("multiply agrees with float activations within the quantisation error", arguments: weightTypes, kernelChoices)
    func multiplyFloats(type: GGMLType, fast: Bool) {
        let columns = 4 * max(type.blockSize, 32)
        let rows = 5
        let count = 5
        let random = RandomMatrix(type, rows: rows, columns: columns, seed: 31)
        let w = random.matrix
        let values = randomActivations(columns: columns, count: count, seed: 4)
        let x = PackedActivations(format: .for(type), columns: columns, capacity: count)
        values.withUnsafeBufferPointer { x.pack($0.baseAddress!, count: count, stride: columns, fast: fast) }
        let out = run(w, x, rows: 0..<rows, outStride: rows, fast: fast)
        let block = max(ActivationFormat.for(type).blockSize, 32)
        for r in 0..<rows {
            let row = specRow(w, r)
            for t in 0..<count {
                let v = values[t * columns..<(t + 1) * columns].map(Double.init)
                var exact = 0.0
                var bound = 0.0
                for b in 0..<columns / block {
                    // Rounding moves each value by at most half a quantisation step (max|x|/127 per
                    // block), the half-precision scale by 2⁻¹¹ of it: 0.6 of a step covers both.
                    let part = b * block..<(b + 1) * block
                    let step: Double
                    switch ActivationFormat.for(type) {
                    case .f32: step = 0
                    case .f16: step = part.map { abs(v[$0]) }.max()! * 0x1p-10
                    default: step = part.map { abs(v[$0]) }.max()! / 127
                    }
                    for i in part {
                        exact += Double(row[i]) * v[i]
                        bound += abs(Double(row[i])) * 0.6 * step + 1e-5 * abs(Double(row[i]) * v[i])
                    }
                    if type == .q4_1 || type == .q5_1 {
                        // w = d·q + m: the minimum's share of the rounding, and m times the stored d·Σq (a half)
                        // instead of Σx.
                        for sub in stride(from: part.lowerBound, to: part.upperBound, by: 32) {
                            let m = abs(
                                Double(
                                    specHalf(
                                        w.row(r).loadUnaligned(
                                            fromByteOffset: sub / 32 * type.blockBytes + 2, as: UInt16.self))))
                            let sum = (sub..<sub + 32).reduce(0.0) { $0 + v[$1] }
                            bound += m * (2 * 32 * 0.6 * step + 0x1p-10 * abs(sum) + 0x1p-10 * 32 * step)
                        }
                    }
                }
                let got = Double(out[t * rows + r])
                #expect(abs(got - exact) <= bound, "\(type.name) row \(r) vector \(t): \(got) vs \(exact) ± \(bound)")
            }
        }
    }

    @Test(
        "several vectors at once equal one at a time; row ranges and the output stride", arguments: weightTypes,
        kernelChoices)
    func rowsAndVectors(type: GGMLType, fast: Bool) {
        let columns = 3 * max(type.blockSize, 32)
        let rows = 9
        let count = 11  // tiles of four and single vectors
        let random = RandomMatrix(type, rows: rows, columns: columns, seed: 41)
        let w = random.matrix
        let values = randomActivations(columns: columns, count: count, seed: 6)
        let all = PackedActivations(format: .for(type), columns: columns, capacity: count)
        values.withUnsafeBufferPointer { all.pack($0.baseAddress!, count: count, stride: columns, fast: fast) }
        let full = run(w, all, rows: 0..<rows, outStride: rows, fast: fast)
        let one = PackedActivations(format: .for(type), columns: columns, capacity: 1)
        for t in 0..<count {
            values.withUnsafeBufferPointer { one.pack($0.baseAddress! + t * columns, count: 1, stride: 0, fast: fast) }
            let single = run(w, one, rows: 0..<rows, outStride: rows, fast: fast)
            #expect(single == Array(full[t * rows..<(t + 1) * rows]), "\(type.name) vector \(t)")
        }
        // A sub-range of rows into a wider output: only those entries are written.
        let stride = rows + 5
        let part = run(w, all, rows: 2..<7, outStride: stride, fast: fast)
        for t in 0..<count {
            for r in 0..<stride {
                let expected: Float = (2..<7).contains(r) ? full[t * rows + r] : -12345
                #expect(part[t * stride + r] == expected, "\(type.name) vector \(t) entry \(r)")
            }
        }
        #expect(run(w, all, rows: 4..<4, outStride: rows, fast: fast).allSatisfy { $0 == -12345 })
    }

    @Test("the Haswell kernels agree with the portable ones", .enabled(if: CPUSupport.haswell), arguments: weightTypes)
    func fastAgreesWithPortable(type: GGMLType) {
        let columns = 8 * max(type.blockSize, 32)
        let rows = 6
        let count = 7
        let random = RandomMatrix(type, rows: rows, columns: columns, seed: 51)
        let w = random.matrix
        let values = randomActivations(columns: columns, count: count, seed: 8)
        let x = PackedActivations(format: .for(type), columns: columns, capacity: count)
        values.withUnsafeBufferPointer { x.pack($0.baseAddress!, count: count, stride: columns, fast: false) }
        let fast = run(w, x, rows: 0..<rows, outStride: rows, fast: true)
        let portable = run(w, x, rows: 0..<rows, outStride: rows, fast: false)
        for r in 0..<rows {
            let row = specRow(w, r)
            for t in 0..<count {
                let magnitude = expected(row, type, w, r, x, t).magnitude
                let difference = abs(Double(fast[t * rows + r]) - Double(portable[t * rows + r]))
                #expect(difference <= 2e-5 * magnitude, "\(type.name) row \(r) vector \(t)")
            }
        }
    }

    @Test("non-finite activations give non-finite or garbage results, never a trap", arguments: kernelChoices)
    func nonFinite(fast: Bool) {
        let columns = 512
        var values = randomActivations(columns: columns, count: 3, seed: 13)
        values[5] = .nan
        values[columns + 300] = .infinity
        values[2 * columns + 7] = -.infinity
        for i in 0..<256 { values[2 * columns + 256 + i] = .nan }
        for type in weightTypes {
            let random = RandomMatrix(type, rows: 3, columns: columns, seed: 61)
            let x = PackedActivations(format: .for(type), columns: columns, capacity: 3)
            values.withUnsafeBufferPointer { x.pack($0.baseAddress!, count: 3, stride: columns, fast: fast) }
            #expect(run(random.matrix, x, rows: 0..<3, outStride: 3, fast: fast).count == 9)
        }
    }

    @Test("odd shapes: one block, many rows, a sub-range", arguments: weightTypes, kernelChoices)
    func oddShapes(type: GGMLType, fast: Bool) {
        for (rows, columns, range) in [
            (1, type.blockSize, 0..<1), (1, 1 * max(type.blockSize, 7), 0..<1),
            (67, type.blockSize == 1 ? 40 : type.blockSize, 0..<67),
            (67, 2 * max(type.blockSize, 32), 13..<61),
        ] {
            let random = RandomMatrix(type, rows: rows, columns: columns, seed: UInt64(rows * 1000 + columns))
            let w = random.matrix
            let values = randomActivations(columns: columns, count: 5, seed: 12)
            let x = PackedActivations(format: .for(type), columns: columns, capacity: 5)
            values.withUnsafeBufferPointer { x.pack($0.baseAddress!, count: 5, stride: columns, fast: fast) }
            let out = run(w, x, rows: range, outStride: rows, fast: fast)
            for r in 0..<rows {
                let row = specRow(w, r)
                for t in 0..<5 {
                    let got = out[t * rows + r]
                    if range.contains(r) {
                        let (value, magnitude) = expected(row, type, w, r, x, t)
                        #expect(
                            abs(Double(got) - value) <= 2e-5 * magnitude + 1e-30,
                            "\(type.name) \(rows)×\(columns) row \(r)")
                    } else {
                        #expect(got == -12345)
                    }
                }
            }
        }
    }
}
