/// The hot loops of the vector index compiled for Haswell-class x86-64 (AVX2 + FMA; this target is
/// built with `-target-cpu haswell`, see `kernelSettings` in Package.swift).
///
/// Calling any of these on an older processor is an illegal instruction: `WendaoIndex` checks the
/// CPU once and falls back to its own baseline kernels, so the rest of the tool (BM25) still runs on
/// any x86-64. Every entry point is `@inline(never)` on purpose: inlined into a baseline module (for
/// example through cross-module optimisation) the body would be recompiled without AVX2, which is
/// both slower and not what the dispatch intends.
///
/// All functions work on raw pointers; callers guarantee the lengths.
public enum HaswellKernels {
    /// Dot product of two float32 vectors of length `n` (fused multiply-adds on 8-lane vectors).
    @inline(never)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        dotBody(a, b, n)
    }

    /// Dot products of `query` with `count` consecutive rows of `dimension` floats starting at
    /// `rows`, written to `scores[0..<count]`.
    @inline(never)
    public static func dotRows(
        _ query: UnsafePointer<Float>, rows: UnsafePointer<Float>, count: Int, dimension: Int,
        into scores: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<count { scores[r] = dotBody(query, rows + r * dimension, dimension) }
    }

    /// Dot products of `query` with `count` vectors of `dimension` floats anywhere in memory
    /// (`vectors[i]`), written to `scores[0..<count]`. Four vectors are read at once, so four
    /// independent memory streams are in flight: the graph search touches vectors in random order,
    /// and one vector at a time leaves the processor waiting on memory.
    @inline(never)
    public static func dotMany(
        _ query: UnsafePointer<Float>, _ vectors: UnsafePointer<UnsafePointer<Float>>, count: Int, dimension: Int,
        into scores: UnsafeMutablePointer<Float>
    ) {
        var v = 0
        while v + 4 <= count {
            dot4Body(query, vectors[v], vectors[v + 1], vectors[v + 2], vectors[v + 3], dimension, scores + v)
            v += 4
        }
        while v < count {
            scores[v] = dotBody(query, vectors[v], dimension)
            v += 1
        }
    }

    @inline(__always)
    static func dot4Body(
        _ q: UnsafePointer<Float>, _ p0: UnsafePointer<Float>, _ p1: UnsafePointer<Float>, _ p2: UnsafePointer<Float>,
        _ p3: UnsafePointer<Float>, _ n: Int, _ out: UnsafeMutablePointer<Float>
    ) {
        let rq = UnsafeRawPointer(q)
        let (r0, r1, r2, r3) = (UnsafeRawPointer(p0), UnsafeRawPointer(p1), UnsafeRawPointer(p2), UnsafeRawPointer(p3))
        var a0 = SIMD8<Float>()
        var a1 = SIMD8<Float>()
        var a2 = SIMD8<Float>()
        var a3 = SIMD8<Float>()
        var b0 = SIMD8<Float>()
        var b1 = SIMD8<Float>()
        var b2 = SIMD8<Float>()
        var b3 = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            let o = i * 4
            let qa = rq.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let qb = rq.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self)
            a0.addProduct(qa, r0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            a1.addProduct(qa, r1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            a2.addProduct(qa, r2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            a3.addProduct(qa, r3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            b0.addProduct(qb, r0.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self))
            b1.addProduct(qb, r1.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self))
            b2.addProduct(qb, r2.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self))
            b3.addProduct(qb, r3.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self))
            i += 16
        }
        if i + 8 <= n {
            let o = i * 4
            let qa = rq.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a0.addProduct(qa, r0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            a1.addProduct(qa, r1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            a2.addProduct(qa, r2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            a3.addProduct(qa, r3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            i += 8
        }
        var t0: Float = 0
        var t1: Float = 0
        var t2: Float = 0
        var t3: Float = 0
        while i < n {
            t0.addProduct(q[i], p0[i])
            t1.addProduct(q[i], p1[i])
            t2.addProduct(q[i], p2[i])
            t3.addProduct(q[i], p3[i])
            i += 1
        }
        out[0] = (a0 + b0).sum() + t0
        out[1] = (a1 + b1).sum() + t1
        out[2] = (a2 + b2).sum() + t2
        out[3] = (a3 + b3).sum() + t3
    }

    /// Integer dot product of a quantised query (int8 values widened to Int16) with an int8 row of
    /// length `n`. Lanes are in −127…127, so the sum cannot overflow for any realistic dimension;
    /// the result is exact, hence identical to any other summation order.
    @inline(never)
    public static func dot(_ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int32 {
        dotBody(a, b, n)
    }

    /// Scores of `count` consecutive int8 rows of `dimension` lanes starting at `rows` against a
    /// quantised query: `scores[r] = Float(dot(query, row r)) · scales[r]`.
    @inline(never)
    public static func dotRows(
        _ query: UnsafePointer<Int16>, rows: UnsafePointer<Int8>, scales: UnsafePointer<Float>, count: Int,
        dimension: Int, into scores: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<count { scores[r] = Float(dotBody(query, rows + r * dimension, dimension)) * scales[r] }
    }

    /// One vector: the same arithmetic as one lane of ``dot4Body`` (two 8-lane accumulators over
    /// alternate 8-float chunks, the same tail and the same final sums), so a similarity is
    /// bit-identical whichever kernel computed it.
    @inline(__always)
    static func dotBody(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        var s0 = SIMD8<Float>()
        var s1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            let o = i * 4
            s0.addProduct(
                ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
                rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            s1.addProduct(
                ra.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self),
                rb.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self))
            i += 16
        }
        if i + 8 <= n {
            s0.addProduct(
                ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        var tail: Float = 0
        while i < n {
            tail.addProduct(a[i], b[i])
            i += 1
        }
        return (s0 + s1).sum() + tail
    }

    /// Written as a plain wrapping loop: with AVX2 LLVM turns it into sign extensions and `vpmaddwd`
    /// on 256-bit registers.
    @inline(__always)
    static func dotBody(_ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int32 {
        var s: Int32 = 0
        for i in 0..<n { s &+= Int32(a[i]) &* Int32(b[i]) }
        return s
    }
}
