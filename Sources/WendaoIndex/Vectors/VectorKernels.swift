import Dispatch
import Foundation
import WendaoCore
internal import WendaoVectorKernels

/// Hot loops of the vector index: float32 and int8 dot products, quantisation, hashing and a seeded
/// generator. Everything here works on raw pointers; callers guarantee the lengths.
///
/// The dot products have two implementations: the baseline ones below (this module is built for
/// any x86-64, so float kernels use a separate multiply and add: `addingProduct` would become a call
/// to `fmaf` per lane) and ``HaswellKernels`` (AVX2 + FMA, a separate target built with
/// `-target-cpu haswell`). ``fast`` picks one once per process.
@_spi(Bench) public enum VectorKernels {
    /// Whether the Haswell kernels are used: the processor has every feature `-target-cpu haswell`
    /// may emit (``CPUSupport/haswell``) and `WENDAO_VECTOR_KERNELS` is not `baseline`. Elsewhere on
    /// x86-64 the baseline kernels are used; on other architectures the kernel target is built for the
    /// default CPU, so it is always safe.
    static let fast: Bool = {
        if ProcessInfo.processInfo.environment["WENDAO_VECTOR_KERNELS"] == "baseline" { return false }
        #if arch(x86_64)
            return CPUSupport.haswell
        #else
            return true
        #endif
    }()

    /// Name of the kernels in use (benchmark output).
    @_spi(Bench) public static var name: String { fast ? "haswell" : "baseline" }

    /// Whether a `/proc/cpuinfo` flag set covers what `-target-cpu haswell` code may use
    /// (``CPUSupport/hasHaswellFeatures(_:)``).
    static func hasHaswellFeatures(_ flags: Set<String>) -> Bool { CPUSupport.hasHaswellFeatures(flags) }

    /// Dot product of two float32 vectors of length `n` (Haswell or baseline kernel).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        fast ? HaswellKernels.dot(a, b, n) : baselineDot(a, b, n)
    }

    /// Integer dot product of a widened int8 query with an int8 row (Haswell or baseline kernel;
    /// both exact).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int32 {
        fast ? HaswellKernels.dot(a, b, n) : baselineDot(a, b, n)
    }

    /// `scores[r]` = dot of `query` with row `r` of `count` consecutive float32 rows.
    static func dotRows(
        _ query: UnsafePointer<Float>, rows: UnsafePointer<Float>, count: Int, dimension: Int,
        into scores: UnsafeMutablePointer<Float>
    ) {
        if fast {
            HaswellKernels.dotRows(query, rows: rows, count: count, dimension: dimension, into: scores)
        } else {
            for r in 0..<count { scores[r] = baselineDot(query, rows + r * dimension, dimension) }
        }
    }

    /// `scores[r]` = integer dot of the widened query with int8 row `r` × `scales[r]`.
    static func dotRows(
        _ query: UnsafePointer<Int16>, rows: UnsafePointer<Int8>, scales: UnsafePointer<Float>, count: Int,
        dimension: Int, into scores: UnsafeMutablePointer<Float>
    ) {
        if fast {
            HaswellKernels.dotRows(
                query, rows: rows, scales: scales, count: count, dimension: dimension, into: scores)
        } else {
            for r in 0..<count {
                scores[r] = Float(baselineDot(query, rows + r * dimension, dimension)) * scales[r]
            }
        }
    }

    /// Baseline dot product of two float32 vectors of length `n` (SSE2).
    @inline(__always)
    static func baselineDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        var s0 = SIMD16<Float>()
        var s1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= n {
            s0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            s1 += ra.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
            i += 32
        }
        if i + 16 <= n {
            s0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        var s8 = SIMD8<Float>()
        if i + 8 <= n {
            s8 = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var tail: Float = 0
        while i < n {
            tail += a[i] * b[i]
            i += 1
        }
        return (s0 + s1).sum() + s8.sum() + tail
    }

    /// Baseline integer dot product of a quantised query (int8 values widened to Int16 once per query)
    /// with an int8 row; every lane is in −127…127, so the sum cannot overflow for any realistic dimension.
    /// Written as a plain wrapping loop so that LLVM vectorises it into widening multiply-adds
    /// (`pmaddwd`): on the baseline x86-64 target this form measured 1.4× faster than int8 × int8,
    /// and with AVX2 enabled (`-target-cpu`) the same loop runs about 3× faster again.
    @inline(__always)
    static func baselineDot(_ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int32 {
        var s: Int32 = 0
        for i in 0..<n { s &+= Int32(a[i]) &* Int32(b[i]) }
        return s
    }

    /// Symmetric int8 quantisation of `v` into `out`; returns the scale (value ≈ scale · lane).
    static func quantize(_ v: UnsafePointer<Float>, _ n: Int, into out: UnsafeMutablePointer<Int8>) -> Float {
        var m: Float = 0
        for i in 0..<n { m = max(m, abs(v[i])) }
        guard m > 0 else {
            out.update(repeating: 0, count: n)
            return 0
        }
        let scale = m / 127
        let inverse = 127 / m
        for i in 0..<n { out[i] = Int8(max(-127, min(127, (v[i] * inverse).rounded()))) }
        return scale
    }

    /// Whether every component is finite.
    static func allFinite(_ v: UnsafeBufferPointer<Float>) -> Bool {
        for x in v where !x.isFinite { return false }
        return true
    }

    /// A 64-bit hash of whole 8-byte words (damage detection, not security); `bytes` must be a
    /// multiple of 8.
    static func hashWords(_ p: UnsafeRawPointer, bytes: Int, seed: UInt64) -> UInt64 {
        var h0 = seed ^ 0x9E37_79B9_7F4A_7C15
        var h1 = seed &+ 0xC2B2_AE3D_27D4_EB4F
        let words = bytes / 8
        var i = 0
        while i + 2 <= words {
            let w0 = p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
            let w1 = p.loadUnaligned(fromByteOffset: i * 8 + 8, as: UInt64.self)
            h0 = ((h0 ^ w0) &* 0x9E37_79B9_7F4A_7C15).rotateLeft(29)
            h1 = ((h1 ^ w1) &* 0xC2B2_AE3D_27D4_EB4F).rotateLeft(31)
            i += 2
        }
        if i < words {
            h0 = ((h0 ^ p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0xFF51_AFD7).rotateLeft(29)
        }
        return SplitMix64.mix(h0 ^ (h1 &* 0x94D0_49BB_1331_11EB) ^ UInt64(bytes))
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotateLeft(_ r: UInt64) -> UInt64 { (self << r) | (self >> (64 - r)) }
}

/// SplitMix64: a small, fast, seeded generator (deterministic on every platform). SPI for the
/// synthetic data of WendaoBench's `VectorBench`.
@_spi(Bench) public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    /// A generator whose sequence follows from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The finaliser on its own: a good 64-bit mixing function.
    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// Uniform in (0, 1].
    public mutating func unit() -> Double { Double((next() >> 11) + 1) * 0x1p-53 }

    /// A standard normal sample (Box–Muller).
    public mutating func gaussian() -> Float {
        let u = unit()
        let v = unit()
        return Float((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
    }
}

/// A growable buffer of plain values with a stable pointer between mutations (the delta of a vector
/// index: new rows are appended, never moved one by one).
final class GrowableBuffer<Element: BitwiseCopyable> {
    private(set) var pointer: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 64) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
    }

    deinit { pointer.deallocate() }

    func reserve(_ n: Int) {
        guard n > capacity else { return }
        let grown = max(n, capacity * 2)
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: grown)
        fresh.initialize(from: pointer, count: count)
        pointer.deallocate()
        pointer = fresh
        capacity = grown
    }

    func append(_ source: UnsafePointer<Element>, count n: Int) {
        reserve(count + n)
        (pointer + count).initialize(from: source, count: n)
        count += n
    }

    func append(_ value: Element) {
        reserve(count + 1)
        (pointer + count).initialize(to: value)
        count += 1
    }

    func append(repeating value: Element, count n: Int) {
        reserve(count + n)
        (pointer + count).initialize(repeating: value, count: n)
        count += n
    }

    func removeAll() { count = 0 }
}
