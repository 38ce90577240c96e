#if arch(x86_64)
    import _Builtin_intrinsics.intel
    #if canImport(Glibc)
        import Glibc
    #else
        import Darwin
    #endif

    /// Attention over the half-precision key/value cache for Haswell-class x86-64 (AVX2, FMA, F16C):
    /// the language model's other hot loop beside the matrix kernels. Called only after WendaoLLM
    /// checked the processor.
    public enum HaswellAttention {
        /// One query head against `span` cached positions: `scores[j] = scale · q · K[j]`, a softmax
        /// over them, and `out = Σ softmax[j] · V[j]`. Keys and values are half-precision bits,
        /// position `j` at `keys + j * stride`; `width` is a multiple of 8.
        @inline(never)
        public static func attend(
            query: UnsafePointer<Float>, keys: UnsafePointer<UInt16>, values: UnsafePointer<UInt16>, stride: Int,
            span: Int, width: Int, scale: Float, scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
        ) {
            var maxScore = -Float.infinity
            for j in 0..<span {
                let k = keys + j &* stride
                var acc = SIMD8<Float>()
                var i = 0
                while i < width {
                    let q = UnsafeRawPointer(query + i).loadUnaligned(as: SIMD8<Float>.self)
                    acc = fma(q, halves(k + i), acc)
                    i &+= 8
                }
                let s = acc.sum() * scale
                scores[j] = s
                maxScore = max(maxScore, s)
            }
            var total: Float = 0
            for j in 0..<span {
                let e = expf(scores[j] - maxScore)
                scores[j] = e
                total += e
            }
            // The weights meet the half-precision values in half precision, as in ggml.
            let inverse = 1 / total
            for j in 0..<span { scores[j] = Float(Float16(scores[j] * inverse)) }
            var i = 0
            while i < width {
                var acc = SIMD8<Float>()
                var j = 0
                while j < span {
                    acc = fma(SIMD8(repeating: scores[j]), halves(values + j &* stride + i), acc)
                    j &+= 1
                }
                UnsafeMutableRawPointer(out + i).storeBytes(of: acc, as: SIMD8<Float>.self)
                i &+= 8
            }
        }

        @inline(__always) private static func halves(_ p: UnsafePointer<UInt16>) -> SIMD8<Float> {
            _mm256_cvtph_ps(UnsafeRawPointer(p).loadUnaligned(as: __m128i.self))
        }

        @inline(__always) private static func fma(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
            c.addingProduct(a, b)
        }
    }
#endif
