#if arch(x86_64)
    // Clang's x86 intrinsics (Swift imports them as functions on SIMD types: __m256i is SIMD4<Int64>,
    // __m256 SIMD8<Float>). The integer dot products rest on two instructions Swift's SIMD operators
    // cannot express — `vpmaddubsw` (unsigned × signed bytes, pairs summed with saturation) and
    // `vpmaddwd` (int16 pairs multiplied and summed into int32) — and written with SIMD operators the
    // byte work around them (widening, shifts, shuffles) came out as out-of-line generic code. The
    // float accumulation uses the intrinsics and SIMD8<Float> arithmetic alike.
    import _Builtin_intrinsics.intel
    import WendaoPrefetch

    /// The quantised matrix kernels of the language-model runtime compiled for Haswell-class x86-64
    /// (AVX2, FMA, F16C; this target is built with `-target-cpu haswell`, see `kernelSettings` in
    /// Package.swift).
    ///
    /// Calling any of these on an older processor is an illegal instruction: WendaoLLM checks the CPU
    /// once (`LLMKernels.fast`) and otherwise runs its portable kernels, which are also the tests'
    /// reference. Every entry point is `@inline(never)` so that its body is never recompiled into a
    /// baseline module.
    ///
    /// The numerics follow ggml's: per block an exact integer dot product of the weight quants with the
    /// activation quants, scaled by both block scales and summed in float. Each `multiply…` writes
    /// `out[t * outStride + r]` = row `r` of `w` · vector `t` of `x`, for every `r` in `rows` and every
    /// vector `t`. Vectors are taken four at a time (each unpacked weight block serves four vectors) and
    /// in groups that stay in the L2 cache while the rows stream past.
    public enum HaswellLLMKernels {
        /// F32 weights times F32 vectors.
        @inline(never)
        public static func multiplyF32(
            _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
            outStride: Int
        ) {
            drive(w, rows: rows, x, vectorBytes: w.columns * 4, out, outStride) { r, t, n in
                n == 4
                    ? floatTile(w.row(r), w.columns, halves: false, x, t, 4)
                    : floatTile(w.row(r), w.columns, halves: false, x, t, 1)
            }
        }

        /// F16 weights times vectors rounded to half precision (as ggml, which converts them to F16).
        @inline(never)
        public static func multiplyF16(
            _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
            outStride: Int
        ) {
            drive(w, rows: rows, x, vectorBytes: w.columns * 4, out, outStride) { r, t, n in
                n == 4
                    ? floatTile(w.row(r), w.columns, halves: true, x, t, 4)
                    : floatTile(w.row(r), w.columns, halves: true, x, t, 1)
            }
        }

        /// Q4_0 weights times Q8_0 vectors.
        @inline(never)
        public static func multiplyQ4_0(
            _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
            outStride: Int
        ) { legacy(Q4_0Block.self, w, rows, x, out, outStride) }

        /// Q4_1 weights times Q8_1 vectors.
        @inline(never)
        public static func multiplyQ4_1(
            _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
            outStride: Int
        ) { legacy(Q4_1Block.self, w, rows, x, out, outStride) }

        /// Q5_0 weights times Q8_0 vectors.
        @inline(never)
        public static func multiplyQ5_0(
            _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
            outStride: Int
        ) { legacy(Q5_0Block.self, w, rows, x, out, outStride) }

        /// Q5_1 weights times Q8_1 vectors.
        @inline(never)
        public static func multiplyQ5_1(
            _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
            outStride: Int
        ) { legacy(Q5_1Block.self, w, rows, x, out, outStride) }

        /// Q8_0 weights times Q8_0 vectors.
        @inline(never)
        public static func multiplyQ8_0(
            _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
            outStride: Int
        ) { legacy(Q8_0Block.self, w, rows, x, out, outStride) }

        /// Q4_K weights times Q8_K vectors.
        @inline(never)
        public static func multiplyQ4_K(
            _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
            outStride: Int
        ) {
            drive(w, rows: rows, x, vectorBytes: w.columns, out, outStride) { r, t, n in
                n == 4
                    ? q45KTile(w.row(r), w.columns / 256, fiveBits: false, x, t, 4)
                    : q45KTile(w.row(r), w.columns / 256, fiveBits: false, x, t, 1)
            }
        }

        /// Q5_K weights times Q8_K vectors.
        @inline(never)
        public static func multiplyQ5_K(
            _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
            outStride: Int
        ) {
            drive(w, rows: rows, x, vectorBytes: w.columns, out, outStride) { r, t, n in
                n == 4
                    ? q45KTile(w.row(r), w.columns / 256, fiveBits: true, x, t, 4)
                    : q45KTile(w.row(r), w.columns / 256, fiveBits: true, x, t, 1)
            }
        }

        /// Q6_K weights times Q8_K vectors.
        @inline(never)
        public static func multiplyQ6_K(
            _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, into out: UnsafeMutablePointer<Float>,
            outStride: Int
        ) {
            drive(w, rows: rows, x, vectorBytes: w.columns, out, outStride) { r, t, n in
                n == 4 ? q6KTile(w.row(r), w.columns / 256, x, t, 4) : q6KTile(w.row(r), w.columns / 256, x, t, 1)
            }
        }

        /// Quantises `columns` floats (a multiple of 32) as ggml's `quantize_row_q8_0` / `_q8_1`: per 32
        /// values `d = max|x| / 127` and quants `x · (127 / max|x|)` rounded to nearest, ties to even.
        /// Writes the quants to `quants` and `d` to `scales[b]`, or with `withSums` the pair
        /// (`d`, `d · Σq`) to `scales[2b]`, `scales[2b + 1]`; the caller rounds these to half precision.
        @inline(never)
        public static func packQ8(
            _ x: UnsafePointer<Float>, columns: Int, withSums: Bool, quants: UnsafeMutablePointer<Int8>,
            scales: UnsafeMutablePointer<Float>
        ) {
            for b in 0..<columns / 32 {
                let p = UnsafeRawPointer(x + (b &* 32))
                let v0 = p.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self)
                let v1 = p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                let v2 = p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                let v3 = p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                let amax = maxMagnitude(lanesMax(lanesMax(abs(v0), abs(v1)), lanesMax(abs(v2), abs(v3))))
                let d = amax / 127
                let inverse = SIMD8<Float>(repeating: amax != 0 ? 127 / amax : 0)
                let i0 = roundToInt(v0 * inverse)
                let i1 = roundToInt(v1 * inverse)
                let i2 = roundToInt(v2 * inverse)
                let i3 = roundToInt(v3 * inverse)
                store(narrow(i0, i1, i2, i3), to: quants + (b &* 32))
                if withSums {
                    scales[2 &* b] = d
                    scales[2 &* b &+ 1] =
                        d * Float(horizontalSum(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3))))
                } else {
                    scales[b] = d
                }
            }
        }

        /// Quantises `columns` floats (a multiple of 256) as ggml's `quantize_row_q8_K`: per 256 values,
        /// with `m` the first value of largest magnitude, quants `x · (−127 / m)` rounded to nearest (ties
        /// to even, at most 127), `d = 1 / (−127 / m)` in `scales[b]` and the sum of every 16 quants in
        /// `sums`. An all-zero block gets `d = 0`, zero quants and zero sums.
        @inline(never)
        public static func packQ8_K(
            _ x: UnsafePointer<Float>, columns: Int, quants: UnsafeMutablePointer<Int8>,
            scales: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Int16>
        ) {
            for b in 0..<columns / 256 {
                let v = x + (b &* 256)
                let raw = UnsafeRawPointer(v)
                var m = SIMD8<Float>()
                for i in 0..<32 {
                    m = lanesMax(m, abs(raw.loadUnaligned(fromByteOffset: i &* 32, as: SIMD8<Float>.self)))
                }
                let amax = maxMagnitude(m)
                let q = quants + (b &* 256)
                if amax == 0 {
                    q.update(repeating: 0, count: 256)
                    (sums + (b &* 16)).update(repeating: 0, count: 16)
                    scales[b] = 0
                    continue
                }
                var first = 0
                while first < 255, abs(v[first]) != amax { first += 1 }  // bounded: NaNs never match
                let inverse = -127 / v[first]
                let scale = SIMD8<Float>(repeating: inverse)
                for g in 0..<8 {
                    let o = g &* 128
                    let i0 = roundToInt(raw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * scale)
                    let i1 = roundToInt(raw.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self) * scale)
                    let i2 = roundToInt(raw.loadUnaligned(fromByteOffset: o &+ 64, as: SIMD8<Float>.self) * scale)
                    let i3 = roundToInt(raw.loadUnaligned(fromByteOffset: o &+ 96, as: SIMD8<Float>.self) * scale)
                    store(narrow(i0, i1, i2, i3), to: q + (g &* 32))
                    let s = sums + (b &* 16 &+ g &* 2)
                    s[0] = Int16(truncatingIfNeeded: horizontalSum(_mm256_add_epi32(i0, i1)))
                    s[1] = Int16(truncatingIfNeeded: horizontalSum(_mm256_add_epi32(i2, i3)))
                }
                scales[b] = 1 / inverse
            }
        }
    }

    // MARK: - Loads, conversions and reductions

    @inline(__always)
    private func load256(_ p: UnsafeRawPointer) -> __m256i { p.loadUnaligned(as: __m256i.self) }

    @inline(__always)
    private func load256(_ p: UnsafePointer<Int8>) -> __m256i { UnsafeRawPointer(p).loadUnaligned(as: __m256i.self) }

    @inline(__always)
    private func load256(_ p: UnsafePointer<Int16>) -> __m256i { UnsafeRawPointer(p).loadUnaligned(as: __m256i.self) }

    @inline(__always)
    private func store(_ v: __m256i, to p: UnsafeMutablePointer<Int8>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: __m256i.self)
    }

    /// The half-precision floats at `a` and `b` in lanes 0 and 1. The pair is put together in general
    /// registers and moved over whole (`vmovd`): LLVM turns a lone half into an insert into whatever
    /// vector register is at hand, which chains every block's conversion to the previous block's
    /// arithmetic through that register's other lanes.
    @inline(__always)
    private func halves(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> SIMD4<Float> {
        let bits = UInt32(a.loadUnaligned(as: UInt16.self)) | UInt32(b.loadUnaligned(as: UInt16.self)) << 16
        return _mm_cvtph_ps(_mm_cvtsi32_si128(Int32(bitPattern: bits)))
    }

    /// Two floats at `p` in lanes 0 and 1 (lanes 2 and 3 zero).
    @inline(__always)
    private func floatPair(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
        _mm_castsi128_ps(_mm_loadl_epi64(UnsafeRawPointer(p).assumingMemoryBound(to: __m128i.self)))
    }

    /// 16 bytes at `p` as 32 nibbles: the low nibbles (elements 0…15) then the high ones (16…31).
    @inline(__always)
    private func nibbles(_ p: UnsafeRawPointer) -> __m256i {
        // The 16 bytes in both halves (a load), the upper half shifted right by 4 (one variable shift).
        let both = _mm256_broadcastsi128_si256(p.loadUnaligned(as: __m128i.self))
        return _mm256_and_si256(
            _mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0F))
    }

    /// Byte `i` is 0xFF where bit `i` of `bits` is set, else 0.
    @inline(__always)
    private func bitBytes(_ bits: UInt32) -> __m256i {
        let spread = _mm256_shuffle_epi8(
            _mm256_set1_epi32(Int32(bitPattern: bits)),
            _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202, 0x0101_0101_0101_0101, 0))
        let mask = _mm256_set1_epi64x(Int64(bitPattern: 0x8040_2010_0804_0201))
        return _mm256_cmpeq_epi8(_mm256_and_si256(spread, mask), mask)
    }

    @inline(__always)
    private func abs(_ v: SIMD8<Float>) -> SIMD8<Float> {
        _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF)))
    }

    /// The largest lane of `v` (magnitudes; with NaNs, whatever the comparisons keep: never a trap).
    @inline(__always)
    private func maxMagnitude(_ v: SIMD8<Float>) -> Float {
        let h = _mm_max_ps(v.lowHalf, v.highHalf)
        let q = _mm_max_ps(h, _mm_movehl_ps(h, h))
        return max(q[0], q[1])
    }

    /// The larger of each pair of lanes (`vmaxps`; the stdlib's `pointwiseMax` is a scalar loop here).
    @inline(__always)
    private func lanesMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { _mm256_max_ps(a, b) }

    /// Rounded to the nearest integer, ties to even (as ggml's quantisers).
    @inline(__always)
    private func roundToInt(_ v: SIMD8<Float>) -> __m256i { _mm256_cvttps_epi32(v.rounded(.toNearestOrEven)) }

    /// Four vectors of eight int32 in −128…127 as 32 bytes, in order.
    @inline(__always)
    private func narrow(_ a: __m256i, _ b: __m256i, _ c: __m256i, _ d: __m256i) -> __m256i {
        // The packs work within 128-bit lanes: the bytes come out as dwords 0 4 1 5 2 6 3 7.
        let bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d))
        return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
    }

    @inline(__always)
    private func horizontalSum(_ v: __m256i) -> Int32 {
        let lanes = unsafeBitCast(v, to: SIMD8<Int32>.self)
        let h = lanes.lowHalf &+ lanes.highHalf
        let q = h.lowHalf &+ h.highHalf
        return q[0] &+ q[1]
    }

    @inline(__always)
    private func horizontalSum(_ v: SIMD8<Float>) -> Float {
        let h = v.lowHalf + v.highHalf
        let q = h.lowHalf + h.highHalf
        return q[0] + q[1]
    }

    // MARK: - The driver

    /// How far ahead of the row being multiplied the driver prefetches the weights. Decoding
    /// SmolLM2-135M (360-byte Q4_1 rows) on the shared 2-core machine (load 4–6), 2 KiB ahead gave
    /// 9–20 % more tokens per second than none in four alternated rounds on 2 threads, and on one
    /// thread less processor time than none or 1 KiB, about as little as 4 KiB; on Qwen2.5-0.5B
    /// (616–952-byte rows) the noise hid any difference.
    private let prefetchBytes = 2048

    /// Runs `tile(r, t, n)`, the dot products of row `r` of `w` with vectors `t..<t + n` (n is 4 or 1),
    /// over every row in `rows` and every vector of `x`, and stores them; before each row it asks
    /// for the weights `prefetchBytes` ahead. Vectors are taken in groups of about
    /// 256 KiB (they stay in the L2 cache while every row streams past once per group). Rows are read
    /// one at a time, front to back: reading several rows side by side measured slower once the
    /// weights come from memory (the processor's prefetchers follow one stream best).
    @inline(__always)
    private func drive(
        _ w: WeightRows, rows: Range<Int>, _ x: ActivationView, vectorBytes: Int,
        _ out: UnsafeMutablePointer<Float>, _ outStride: Int, _ tile: (Int, Int, Int) -> SIMD4<Float>
    ) {
        let group = max(4, min(x.count, (256 << 10) / max(vectorBytes, 1)) & ~3)
        var first = 0
        while first < x.count {
            let end = min(x.count, first + group)
            for r in rows {
                // The cache lines of the bytes `prefetchBytes` further on (a hint: never a fault, even
                // past the end of the mapping).
                let start = UInt(bitPattern: w.row(r)) &+ UInt(prefetchBytes)
                var line = start & ~63
                let last = (start &+ UInt(w.rowBytes) &- 1) & ~63
                while line <= last {
                    wendao_prefetch(UnsafeRawPointer(bitPattern: line))
                    line &+= 64
                }
                var t = first
                while t + 4 <= end {
                    let v = tile(r, t, 4)
                    out[t &* outStride &+ r] = v[0]
                    out[(t &+ 1) &* outStride &+ r] = v[1]
                    out[(t &+ 2) &* outStride &+ r] = v[2]
                    out[(t &+ 3) &* outStride &+ r] = v[3]
                    t += 4
                }
                while t < end {
                    out[t &* outStride &+ r] = tile(r, t, 1)[0]
                    t += 1
                }
            }
            first = end
        }
    }

    // MARK: - F32 and F16

    /// Row (`columns` floats or halves at `row`) · vectors `t..<t + n`.
    @inline(__always)
    private func floatTile(
        _ row: UnsafeRawPointer, _ columns: Int, halves: Bool, _ x: ActivationView, _ t: Int, _ n: Int
    ) -> SIMD4<Float> {
        @inline(__always) func weights(_ i: Int) -> SIMD8<Float> {
            halves
                ? _mm256_cvtph_ps((row + (i &* 2)).loadUnaligned(as: __m128i.self))
                : (row + (i &* 4)).loadUnaligned(as: SIMD8<Float>.self)
        }
        var a = InlineArray<4, SIMD8<Float>>(repeating: .zero)
        var b = InlineArray<4, SIMD8<Float>>(repeating: .zero)
        var i = 0
        while i + 16 <= columns {
            let w0 = weights(i)
            let w1 = weights(i &+ 8)
            for k in 0..<n {
                let v = UnsafeRawPointer(x.floats + ((t &+ k) &* x.floatStride &+ i))
                a[k] = _mm256_fmadd_ps(w0, v.loadUnaligned(as: SIMD8<Float>.self), a[k])
                b[k] = _mm256_fmadd_ps(w1, v.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), b[k])
            }
            i += 16
        }
        if i + 8 <= columns {
            let w0 = weights(i)
            for k in 0..<n {
                let v = UnsafeRawPointer(x.floats + ((t &+ k) &* x.floatStride &+ i))
                a[k] = _mm256_fmadd_ps(w0, v.loadUnaligned(as: SIMD8<Float>.self), a[k])
            }
            i += 8
        }
        var result = SIMD4<Float>()
        for k in 0..<n {
            var s = horizontalSum(a[k] + b[k])
            let v = x.floats + ((t &+ k) &* x.floatStride)
            for j in i..<columns {
                let w =
                    halves
                    ? _cvtsh_ss((row + (j &* 2)).loadUnaligned(as: UInt16.self))
                    : row.load(fromByteOffset: j &* 4, as: Float.self)
                s += w * v[j]
            }
            result[k] = s
        }
        return result
    }

    // MARK: - Blocks of 32: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0

    /// A ggml block format of 32 weights with a half-precision scale `d` first.
    private protocol LegacyBlock {
        /// Bytes per block.
        static var bytes: Int { get }
        /// Signed quants, value = d·q (times Q8_0 vectors); otherwise unsigned quants and a half-precision
        /// minimum `m` after `d`, value = d·q + m (times Q8_1 vectors).
        static var symmetric: Bool { get }
        /// The 32 quants of the block at `p`, in element order.
        static func quants(_ p: UnsafeRawPointer) -> __m256i
    }

    /// d, 16 bytes of nibbles; q = nibble − 8.
    private enum Q4_0Block: LegacyBlock {
        static var bytes: Int { 18 }
        static var symmetric: Bool { true }
        @inline(__always) static func quants(_ p: UnsafeRawPointer) -> __m256i {
            _mm256_sub_epi8(nibbles(p + 2), _mm256_set1_epi8(8))
        }
    }

    /// d, m, 16 bytes of nibbles; q = nibble.
    private enum Q4_1Block: LegacyBlock {
        static var bytes: Int { 20 }
        static var symmetric: Bool { false }
        @inline(__always) static func quants(_ p: UnsafeRawPointer) -> __m256i { nibbles(p + 4) }
    }

    /// d, 32 fifth bits, 16 bytes of nibbles; q = (nibble | bit << 4) − 16.
    private enum Q5_0Block: LegacyBlock {
        static var bytes: Int { 22 }
        static var symmetric: Bool { true }
        @inline(__always) static func quants(_ p: UnsafeRawPointer) -> __m256i {
            // A set bit leaves the nibble (n + 16 − 16); a clear one makes it n − 16 (0xF0 | n as int8).
            let clear = _mm256_andnot_si256(
                bitBytes(p.loadUnaligned(fromByteOffset: 2, as: UInt32.self)), _mm256_set1_epi8(-16))
            return _mm256_or_si256(nibbles(p + 6), clear)
        }
    }

    /// d, m, 32 fifth bits, 16 bytes of nibbles; q = nibble | bit << 4.
    private enum Q5_1Block: LegacyBlock {
        static var bytes: Int { 24 }
        static var symmetric: Bool { false }
        @inline(__always) static func quants(_ p: UnsafeRawPointer) -> __m256i {
            let set = _mm256_and_si256(
                bitBytes(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)), _mm256_set1_epi8(16))
            return _mm256_or_si256(nibbles(p + 8), set)
        }
    }

    /// d, 32 signed bytes.
    private enum Q8_0Block: LegacyBlock {
        static var bytes: Int { 34 }
        static var symmetric: Bool { true }
        @inline(__always) static func quants(_ p: UnsafeRawPointer) -> __m256i { load256(p + 2) }
    }

    @inline(__always)
    private func legacy<B: LegacyBlock>(
        _ format: B.Type, _ w: WeightRows, _ rows: Range<Int>, _ x: ActivationView, _ out: UnsafeMutablePointer<Float>,
        _ outStride: Int
    ) {
        drive(w, rows: rows, x, vectorBytes: w.columns, out, outStride) { r, t, n in
            n == 4
                ? legacyTile(format, w.row(r), w.columns / 32, x, t, 4)
                : legacyTile(format, w.row(r), w.columns / 32, x, t, 1)
        }
    }

    /// Row (`blocks` blocks at `row`) · vectors `t..<t + n`.
    ///
    /// Blocks go four at a time. Their scales are gathered with plain loads into one register,
    /// converted and multiplied by the vectors' scales together, and parked on the stack, so that the
    /// block loop only broadcasts a product from memory (the vector units are the bottleneck; the
    /// load ports are not).
    ///
    /// Each vector is summed in one order whatever `n` is (so a vector multiplied alone or with
    /// others gives the same bits): one chain `acc = fma(d·d_x, float(q·y), acc)` over the blocks, as
    /// ggml's AVX2 `vec_dot`; the minimums' products `m·(d·Σq)_x` in the odd lanes of a vector, added
    /// at the end. (Two chains per vector would hide the FMA latency when decoding, but four vectors
    /// at once would then need more registers than there are.)
    @inline(__always)
    private func legacyTile<B: LegacyBlock>(
        _: B.Type, _ row: UnsafeRawPointer, _ blocks: Int, _ x: ActivationView, _ t: Int, _ n: Int
    ) -> SIMD4<Float> {
        typealias Accumulators = InlineArray<4, SIMD8<Float>>
        var acc = Accumulators(repeating: .zero)
        var minimum = Accumulators(repeating: .zero)
        /// Blocks `b..<b + count` (count is 4, 2 or 1, a constant once inlined).
        @inline(__always) func group(
            _ b: Int, _ count: Int, _ acc: inout Accumulators, _ minimum: inout Accumulators
        ) {
            let first = row + b &* B.bytes
            @inline(__always) func at(_ i: Int) -> UnsafeRawPointer { first + i &* B.bytes }
            // Per vector, the blocks' d·d_x (symmetric) or (d·d_x, m·(d·Σq)_x) pairs.
            var products = InlineArray<4, SIMD8<Float>>(repeating: .zero)
            if B.symmetric {
                var bits = UInt64(at(0).loadUnaligned(as: UInt16.self))
                if count >= 2 { bits |= UInt64(at(1).loadUnaligned(as: UInt16.self)) << 16 }
                if count == 4 {
                    bits |= UInt64(at(2).loadUnaligned(as: UInt16.self)) << 32
                    bits |= UInt64(at(3).loadUnaligned(as: UInt16.self)) << 48
                }
                let d = _mm_cvtph_ps(_mm_cvtsi64_si128(Int64(bitPattern: bits)))
                for k in 0..<n {
                    let xs = x.scales + ((t &+ k) &* x.scaleStride &+ b)
                    let dx =
                        count == 4
                        ? UnsafeRawPointer(xs).loadUnaligned(as: SIMD4<Float>.self)
                        : count == 2 ? floatPair(xs) : SIMD4<Float>(xs[0], 0, 0, 0)
                    products[k] = SIMD8<Float>(lowHalf: d * dx, highHalf: .zero)
                }
            } else {
                var low = UInt64(at(0).loadUnaligned(as: UInt32.self))
                if count >= 2 { low |= UInt64(at(1).loadUnaligned(as: UInt32.self)) << 32 }
                var high: UInt64 = 0
                if count == 4 {
                    high =
                        UInt64(at(2).loadUnaligned(as: UInt32.self)) | UInt64(at(3).loadUnaligned(as: UInt32.self))
                        << 32
                }
                let dm = _mm256_cvtph_ps(_mm_set_epi64x(Int64(bitPattern: high), Int64(bitPattern: low)))
                for k in 0..<n {
                    let xs = x.scales + ((t &+ k) &* x.scaleStride &+ b &* 2)
                    let pairs =
                        count == 4
                        ? UnsafeRawPointer(xs).loadUnaligned(as: SIMD8<Float>.self)
                        : SIMD8<Float>(
                            lowHalf: count == 2
                                ? UnsafeRawPointer(xs).loadUnaligned(as: SIMD4<Float>.self) : floatPair(xs),
                            highHalf: .zero)
                    products[k] = dm * pairs
                    minimum[k] += products[k]
                }
            }
            let scales = products  // a constant for the closure below (a captured variable is checked at run time)
            // Written out block by block so that each block's product lane is a constant.
            @inline(__always) func block(_ i: Int, _ acc: inout Accumulators) {
                let q = B.quants(at(i))
                let magnitude = _mm256_sign_epi8(q, q)
                for k in 0..<n {
                    let y = load256(x.quants + ((t &+ k) &* x.quantStride &+ (b &+ i) &* 32))
                    let s = SIMD8<Float>(repeating: scales[k][B.symmetric ? i : 2 &* i])
                    acc[k] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(blockDot(B.self, q, magnitude, y)), acc[k])
                }
            }
            block(0, &acc)
            if count >= 2 { block(1, &acc) }
            if count == 4 {
                block(2, &acc)
                block(3, &acc)
            }
        }
        var b = 0
        while b + 4 <= blocks {
            group(b, 4, &acc, &minimum)
            b += 4
        }
        if b + 2 <= blocks {
            group(b, 2, &acc, &minimum)
            b += 2
        }
        if b < blocks { group(b, 1, &acc, &minimum) }
        var result = SIMD4<Float>()
        for k in 0..<n {
            let m = minimum[k]
            result[k] = horizontalSum(acc[k]) + (B.symmetric ? 0 : (m[1] + m[3]) + (m[5] + m[7]))
        }
        return result
    }

    /// The integer dot product of a block's quants `q` with 32 activation quants `y`, as 8 partial
    /// sums (`magnitude` is |q|, used by the symmetric formats).
    @inline(__always)
    private func blockDot<B: LegacyBlock>(_: B.Type, _ q: __m256i, _ magnitude: __m256i, _ y: __m256i) -> __m256i {
        let ones = _mm256_set1_epi16(1)
        if B.symmetric {
            // vpmaddubsw multiplies unsigned by signed bytes: move the weights' signs onto the activations
            // (|q| · sign(q)·y = q·y).
            return _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(y, q)), ones)
        }
        return _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), ones)
    }

    // MARK: - K-quants: Q4_K, Q5_K, Q6_K (super-blocks of 256)

    /// The eight 6-bit scales and eight 6-bit minimums of a Q4_K/Q5_K super-block (12 bytes at `p`), as
    /// bytes 0…7 of two words.
    @inline(__always)
    private func scalesAndMins(_ p: UnsafeRawPointer) -> (scales: UInt64, mins: UInt64) {
        // Bytes 0–3: low 6 bits are scales 0–3, top 2 bits the high bits of scales 4–7; bytes 4–7 the
        // same for the minimums; bytes 8–11: low nibbles are the low bits of scales 4–7, high nibbles
        // those of minimums 4–7.
        let a = p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
        let b = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let c = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let scalesLow = a & 0x3F3F_3F3F
        let minsLow = b & 0x3F3F_3F3F
        let scalesHigh = (c & 0x0F0F_0F0F) | ((a >> 6) & 0x0303_0303) << 4
        let minsHigh = ((c >> 4) & 0x0F0F_0F0F) | ((b >> 6) & 0x0303_0303) << 4
        return (UInt64(scalesLow) | UInt64(scalesHigh) << 32, UInt64(minsLow) | UInt64(minsHigh) << 32)
    }

    /// Row (`blocks` Q4_K or Q5_K super-blocks at `row`) · vectors `t..<t + n`.
    @inline(__always)
    private func q45KTile(
        _ row: UnsafeRawPointer, _ blocks: Int, fiveBits: Bool, _ x: ActivationView, _ t: Int, _ n: Int
    ) -> SIMD4<Float> {
        var acc = InlineArray<4, SIMD8<Float>>(repeating: .zero)
        let low = _mm256_set1_epi8(0x0F)
        let bit = _mm256_set1_epi8(1)
        var block = row
        for b in 0..<blocks {
            // d, dmin, 12 bytes of scales and minimums, [Q5_K: 32 bytes of fifth bits], 128 bytes of nibbles:
            // bytes 32j…32j+31 hold sub-block 2j in their low nibbles and 2j+1 in their high ones.
            let ddmin = halves(block, block + 2)
            let d = ddmin[0]
            let dmin = ddmin[1]
            let (scales, mins) = scalesAndMins(block + 4)
            let m8 = _mm_set_epi64x(0, Int64(bitPattern: mins))
            let minPairs = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8))  // m0 m0 m1 m1 … m7 m7
            let qs = block + (fiveBits ? 48 : 16)
            var high = fiveBits ? load256(block + 16) : _mm256_setzero_si256()
            var sums = InlineArray<4, __m256i>(repeating: _mm256_setzero_si256())
            for j in 0..<4 {
                let raw = load256(qs + (j &* 32))
                var q0 = _mm256_and_si256(raw, low)
                var q1 = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low)
                if fiveBits {
                    // Bit 2j of byte l is the fifth bit of element l of sub-block 2j, bit 2j+1 of 2j+1.
                    q0 = _mm256_or_si256(q0, _mm256_slli_epi16(_mm256_and_si256(high, bit), 4))
                    high = _mm256_srli_epi16(high, 1)
                    q1 = _mm256_or_si256(q1, _mm256_slli_epi16(_mm256_and_si256(high, bit), 4))
                    high = _mm256_srli_epi16(high, 1)
                }
                let s0 = _mm256_set1_epi16(Int16(truncatingIfNeeded: scales >> UInt64(j &* 16)) & 0xFF)
                let s1 = _mm256_set1_epi16(Int16(truncatingIfNeeded: scales >> UInt64(j &* 16 &+ 8)) & 0xFF)
                for k in 0..<n {
                    let y = UnsafeRawPointer(x.quants + ((t &+ k) &* x.quantStride &+ b &* 256 &+ j &* 64))
                    let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, load256(y)), s0)
                    let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, load256(y + 32)), s1)
                    sums[k] = _mm256_add_epi32(sums[k], _mm256_add_epi32(p0, p1))
                }
            }
            for k in 0..<n {
                let dx = x.scales[(t &+ k) &* x.scaleStride &+ b]
                let bsums = load256(x.sums + ((t &+ k) &* x.sumStride &+ b &* 16))
                let minimum = _mm256_madd_epi16(bsums, minPairs)
                acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * dx), _mm256_cvtepi32_ps(sums[k]), acc[k])
                acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(-dmin * dx), _mm256_cvtepi32_ps(minimum), acc[k])
            }
            block += fiveBits ? 176 : 144
        }
        var result = SIMD4<Float>()
        for k in 0..<n { result[k] = horizontalSum(acc[k]) }
        return result
    }

    /// Row (`blocks` Q6_K super-blocks at `row`) · vectors `t..<t + n`.
    @inline(__always)
    private func q6KTile(
        _ row: UnsafeRawPointer, _ blocks: Int, _ x: ActivationView, _ t: Int, _ n: Int
    ) -> SIMD4<Float> {
        var acc = InlineArray<4, SIMD8<Float>>(repeating: .zero)
        let low = _mm256_set1_epi8(0x0F)
        let top = _mm256_set1_epi8(0x30)
        var block = row
        for b in 0..<blocks {
            // 128 bytes of low nibbles, 64 bytes of 2-bit high parts, 16 signed scales (one per 16
            // elements), d. In each half h: element 128h + 32g + l (g = 0…3, l = 0…31) takes the low
            // (g < 2) or high nibble of low byte 64h + 32(g & 1) + l and bits 2g, 2g+1 of high byte
            // 32h + l; q − 32 is the weight.
            let d = halves(block + 208, block + 208)[0]
            let scales = (block + 192).loadUnaligned(as: __m128i.self)
            var sums = InlineArray<4, __m256i>(repeating: _mm256_setzero_si256())
            for h in 0..<2 {
                let l0 = load256(block + (h &* 64))
                let l1 = load256(block + (h &* 64 &+ 32))
                let hb = load256(block + (128 &+ h &* 32))
                var q = InlineArray<4, __m256i>(repeating: _mm256_setzero_si256())
                q[0] = _mm256_or_si256(_mm256_and_si256(l0, low), _mm256_and_si256(_mm256_slli_epi16(hb, 4), top))
                q[1] = _mm256_or_si256(_mm256_and_si256(l1, low), _mm256_and_si256(_mm256_slli_epi16(hb, 2), top))
                q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low), _mm256_and_si256(hb, top))
                q[3] = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(l1, 4), low), _mm256_and_si256(_mm256_srli_epi16(hb, 2), top))
                for g in 0..<4 {
                    // Scales 2G and 2G+1 (G = 4h + g) for the two halves of the group, as int16.
                    let pick = Int64(bitPattern: 0x0101_0101_0101_0101 &* UInt64(2 &* (h &* 4 &+ g)))
                    let pair = _mm256_cvtepi8_epi16(
                        _mm_shuffle_epi8(scales, _mm_set_epi64x(pick &+ 0x0101_0101_0101_0101, pick)))
                    for k in 0..<n {
                        let y = UnsafeRawPointer(
                            x.quants + ((t &+ k) &* x.quantStride &+ b &* 256 &+ (h &* 4 &+ g) &* 32))
                        let p = _mm256_madd_epi16(_mm256_maddubs_epi16(q[g], load256(y)), pair)
                        sums[k] = _mm256_add_epi32(sums[k], p)
                    }
                }
            }
            // Σ sc·(q − 32)·y = Σ sc·q·y − 32·Σ sc·(Σ of 16 y).
            let wide = _mm256_cvtepi8_epi16(scales)
            for k in 0..<n {
                let dx = x.scales[(t &+ k) &* x.scaleStride &+ b]
                let bsums = load256(x.sums + ((t &+ k) &* x.sumStride &+ b &* 16))
                let offset = _mm256_slli_epi32(_mm256_madd_epi16(bsums, wide), 5)
                acc[k] = _mm256_fmadd_ps(
                    _mm256_set1_ps(d * dx), _mm256_cvtepi32_ps(_mm256_sub_epi32(sums[k], offset)), acc[k])
            }
            block += 210
        }
        var result = SIMD4<Float>()
        for k in 0..<n { result[k] = horizontalSum(acc[k]) }
        return result
    }
#endif
