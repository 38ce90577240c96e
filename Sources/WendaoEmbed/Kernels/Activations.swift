// Element-wise functions of the encoder: vectorised exp, erf, GELU, LayerNorm and softmax.

/// e^x for each lane, for x ≤ 0 (relative error ≈ 2e-7; 0 below −87). Only whole-vector
/// arithmetic and bit operations: no per-lane selects, which the baseline x86-64 target would
/// turn into scalar loops.
@inline(__always)
func vectorExp<V: SIMD>(_ x: V) -> V where V.Scalar == Float, V.MaskStorage.Scalar == Int32 {
    // n = round(x / ln 2) via the 1.5·2^23 trick (no rounding instruction needed).
    let magic = V(repeating: 12_582_912)
    let t = x * V(repeating: 1.442_695_04) + magic
    let n = t - magic
    let r = x - n * V(repeating: 0.693_145_75) - n * V(repeating: 1.428_606_8e-6)
    // e^r on |r| ≤ ln2/2: Taylor polynomial to r^7.
    var p = V(repeating: 1.0 / 5040)
    p = p * r + V(repeating: 1.0 / 720)
    p = p * r + V(repeating: 1.0 / 120)
    p = p * r + V(repeating: 1.0 / 24)
    p = p * r + V(repeating: 1.0 / 6)
    p = p * r + V(repeating: 0.5)
    p = p * r + V(repeating: 1)
    p = p * r + V(repeating: 1)
    // 2^n from the integer in t's low mantissa bits; lanes below −87 (where 2^n would not be a
    // normal float) are cleared through the sign of x + 87.
    let bits = unsafeBitCast(t, to: V.MaskStorage.self)
    let scale = unsafeBitCast((bits &- 0x4B40_0000 &+ 127) &<< 23, to: V.self)
    let underflow = unsafeBitCast(x + V(repeating: 87), to: V.MaskStorage.self) &>> 31
    return unsafeBitCast(unsafeBitCast(p * scale, to: V.MaskStorage.self) & ~underflow, to: V.self)
}

/// erf(x) for each lane (Abramowitz & Stegun 7.1.26; absolute error ≤ 1.5e-7).
@inline(__always)
func vectorErf<V: SIMD>(_ x: V) -> V where V.Scalar == Float, V.MaskStorage.Scalar == Int32 {
    let xb = unsafeBitCast(x, to: V.MaskStorage.self)
    let sign = xb & V.MaskStorage(repeating: Int32.min)
    let ax = unsafeBitCast(xb & V.MaskStorage(repeating: Int32.max), to: V.self)
    let t = V(repeating: 1) / (V(repeating: 1) + V(repeating: 0.327_591_1) * ax)
    var poly = V(repeating: 1.061_405_429)
    poly = poly * t + V(repeating: -1.453_152_027)
    poly = poly * t + V(repeating: 1.421_413_741)
    poly = poly * t + V(repeating: -0.284_496_736)
    poly = poly * t + V(repeating: 0.254_829_592)
    poly = poly * t
    let y = V(repeating: 1) - poly * vectorExp(-(ax * ax))
    return unsafeBitCast(unsafeBitCast(y, to: V.MaskStorage.self) | sign, to: V.self)
}

/// GELU, erf form: `0.5·z·(1 + erf(z/√2))`.
@inline(__always)
func gelu<V: SIMD>(_ z: V) -> V where V.Scalar == Float, V.MaskStorage.Scalar == Int32 {
    V(repeating: 0.5) * z * (V(repeating: 1) + vectorErf(z * V(repeating: 0.707_106_781_186_547_5)))
}

/// ``gelu(_:)`` for the GEMM epilogue's 16-lane vectors, specialised here. Debug builds compile the
/// kernels file by file (`-O` without whole-module optimisation), where a call to the generic
/// version from another file would stay unspecialised and run many times slower.
func gelu16(_ z: SIMD16<Float>) -> SIMD16<Float> { gelu(z) }

/// In-place LayerNorm of one row: mean and biased variance, then `(x − μ)/√(σ² + ε)·g + b`.
func layerNorm(
    _ row: UnsafeMutablePointer<Float>, count n: Int, gain: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    epsilon: Float
) {
    typealias V = SIMD8<Float>
    let w = V.scalarCount
    let body = n / w * w
    let raw = UnsafeMutableRawPointer(row)
    var acc = V(repeating: 0)
    var i = 0
    while i < body {
        acc += raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)
        i += w
    }
    var sum = acc.sum()
    while i < n {
        sum += row[i]
        i += 1
    }
    let mean = sum / Float(n)
    var acc2 = V(repeating: 0)
    let mv = V(repeating: mean)
    i = 0
    while i < body {
        let d = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self) - mv
        acc2 += d * d
        i += w
    }
    var sq = acc2.sum()
    while i < n {
        let d = row[i] - mean
        sq += d * d
        i += 1
    }
    let inv = 1 / (sq / Float(n) + epsilon).squareRoot()
    let iv = V(repeating: inv)
    let g = UnsafeRawPointer(gain), b = UnsafeRawPointer(bias)
    i = 0
    while i < body {
        let v = (raw.loadUnaligned(fromByteOffset: i * 4, as: V.self) - mv) * iv
        let gi = g.loadUnaligned(fromByteOffset: i * 4, as: V.self)
        let y = v * gi + b.loadUnaligned(fromByteOffset: i * 4, as: V.self)
        raw.storeBytes(of: y, toByteOffset: i * 4, as: V.self)
        i += w
    }
    while i < n {
        row[i] = (row[i] - mean) * inv * gain[i] + bias[i]
        i += 1
    }
}

/// In-place softmax of `n` floats (max-subtracted).
func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    typealias V = SIMD8<Float>
    let w = V.scalarCount
    let raw = UnsafeMutableRawPointer(x)
    var maxVector = V(repeating: -Float.infinity)
    var m = 0
    while m + w <= n {
        let v = raw.loadUnaligned(fromByteOffset: m * 4, as: V.self)
        maxVector.replace(with: v, where: v .> maxVector)
        m += w
    }
    var maxValue = maxVector.max()
    while m < n {
        maxValue = max(maxValue, x[m])
        m += 1
    }
    let mv = V(repeating: maxValue)
    var acc = V(repeating: 0)
    var i = 0
    while i + w <= n {
        let e = vectorExp(raw.loadUnaligned(fromByteOffset: i * 4, as: V.self) - mv)
        raw.storeBytes(of: e, toByteOffset: i * 4, as: V.self)
        acc += e
        i += w
    }
    var sum = acc.sum()
    if i < n {
        var tail = V(repeating: -Float.infinity)
        for j in i..<n { tail[j - i] = x[j] }
        let e = vectorExp(tail - mv)
        for j in i..<n {
            x[j] = e[j - i]
            sum += e[j - i]
        }
    }
    let inv = V(repeating: 1 / sum)
    i = 0
    while i + w <= n {
        raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: V.self) * inv, toByteOffset: i * 4, as: V.self)
        i += w
    }
    while i < n {
        x[i] *= inv[0]
        i += 1
    }
}
