import Foundation

/// The CPU kernels of the OCR networks: a packed SIMD matrix product, convolutions (im2col + GEMM,
/// depthwise directly), pooling and resize. All work on float32 NCHW data and split work over
/// ``OCRThreads/count`` threads.
enum OCRKernels {
    /// Runs `body(i)` for `i` in `0..<count`, spread over up to `threads` threads.
    static func parallel(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        if count <= 1 || threads <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { b in
            let box = UnsafeSendableBox(b)
            DispatchQueue.concurrentPerform(iterations: min(count, threads)) { t in
                var i = t
                while i < count {
                    box.value(i)
                    i += min(count, threads)
                }
            }
        }
    }

    /// `C[M×N] = A[M×K] · B[K×N]` (+ `bias[m]` per row when given), row-major with leading dimensions.
    static func gemm(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil, threads: Int
    ) {
        if m == 0 || n == 0 { return }
        let nr = 16
        let blocks = (n + nr - 1) / nr
        // Group column blocks so each task has enough work.
        let perTask = max(1, min(blocks, (blocks + threads * 4 - 1) / (threads * 4)))
        let tasks = (blocks + perTask - 1) / perTask
        let work = m * n * k
        parallel(tasks, threads: work < 1 << 16 ? 1 : threads) { t in
            let packedRaw = UnsafeMutableRawPointer.allocate(byteCount: max(1, k) * nr * 4, alignment: 64)
            defer { packedRaw.deallocate() }
            let packed = packedRaw.bindMemory(to: Float.self, capacity: max(1, k) * nr)
            let first = t * perTask
            let last = min(blocks, first + perTask)
            for blk in first..<last {
                let j0 = blk * nr
                let w = min(nr, n - j0)
                // Pack B[:, j0..<j0+w] into k×16, zero padded.
                for kk in 0..<k {
                    let src = b + kk * ldb + j0
                    let dst = packed + kk * nr
                    if w == nr {
                        UnsafeMutableRawPointer(dst).storeBytes(
                            of: UnsafeRawPointer(src).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                    } else {
                        for j in 0..<w { dst[j] = src[j] }
                        for j in w..<nr { dst[j] = 0 }
                    }
                }
                var i = 0
                while i + 4 <= m {
                    microKernel4(
                        k: k, a: a + i * lda, lda: lda, packed: packed, c: c + i * ldc + j0, ldc: ldc,
                        width: w, bias: bias.map { $0 + i })
                    i += 4
                }
                while i < m {
                    microKernel1(
                        k: k, a: a + i * lda, packed: packed, c: c + i * ldc + j0, width: w,
                        bias: bias?[i] ?? 0)
                    i += 1
                }
            }
        }
    }

    @inline(__always)
    private static func microKernel4(
        k: Int, a: UnsafePointer<Float>, lda: Int, packed: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        ldc: Int, width: Int, bias: UnsafePointer<Float>?
    ) {
        var s0 = SIMD16<Float>(repeating: 0), s1 = s0, s2 = s0, s3 = s0
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        let raw = UnsafeRawPointer(packed)
        for kk in 0..<k {
            let v = raw.load(fromByteOffset: kk * 64, as: SIMD16<Float>.self)
            s0.addProduct(v, SIMD16<Float>(repeating: a0[kk]))
            s1.addProduct(v, SIMD16<Float>(repeating: a1[kk]))
            s2.addProduct(v, SIMD16<Float>(repeating: a2[kk]))
            s3.addProduct(v, SIMD16<Float>(repeating: a3[kk]))
        }
        if let bias {
            s0 += SIMD16(repeating: bias[0])
            s1 += SIMD16(repeating: bias[1])
            s2 += SIMD16(repeating: bias[2])
            s3 += SIMD16(repeating: bias[3])
        }
        store(s0, c, width)
        store(s1, c + ldc, width)
        store(s2, c + 2 * ldc, width)
        store(s3, c + 3 * ldc, width)
    }

    @inline(__always)
    private static func store(_ v: SIMD16<Float>, _ c: UnsafeMutablePointer<Float>, _ width: Int) {
        if width == 16 {
            UnsafeMutableRawPointer(c).storeBytes(of: v, as: SIMD16<Float>.self)
        } else {
            for j in 0..<width { c[j] = v[j] }
        }
    }

    @inline(__always)
    private static func microKernel1(
        k: Int, a: UnsafePointer<Float>, packed: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, width: Int,
        bias: Float
    ) {
        var s0 = SIMD16<Float>(repeating: 0)
        let raw = UnsafeRawPointer(packed)
        for kk in 0..<k {
            s0.addProduct(raw.load(fromByteOffset: kk * 64, as: SIMD16<Float>.self), SIMD16<Float>(repeating: a[kk]))
        }
        store(s0 + SIMD16(repeating: bias), c, width)
    }

    /// Geometry of a 2-D convolution or pooling window.
    struct Window {
        var kh: Int, kw: Int
        var sh: Int, sw: Int
        var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
        var dh: Int = 1, dw: Int = 1

        func outSize(_ h: Int, _ w: Int) -> (Int, Int) {
            let oh = (h + padTop + padBottom - dh * (kh - 1) - 1) / sh + 1
            let ow = (w + padLeft + padRight - dw * (kw - 1) - 1) / sw + 1
            return (oh, ow)
        }
    }

    /// Convolution of one image `x[cin, h, w]` into `y[cout, oh, ow]` with weights `[cout, cin/group, kh, kw]`.
    static func conv2d(
        x: UnsafePointer<Float>, cin: Int, h: Int, w: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        cout: Int, group: Int, window g: Window, y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let (oh, ow) = g.outSize(h, w)
        let cinG = cin / group
        let coutG = cout / group
        if cinG == 1 && coutG == 1 {
            depthwise(x: x, channels: cin, h: h, w: w, weight: weight, bias: bias, window: g, y: y, threads: threads)
            return
        }
        let kk = cinG * g.kh * g.kw
        let pointwise =
            g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.padTop == 0 && g.padLeft == 0
            && g.padBottom == 0 && g.padRight == 0
        if pointwise {
            for gi in 0..<group {
                gemm(
                    m: coutG, n: oh * ow, k: kk, a: weight + gi * coutG * kk, lda: kk, b: x + gi * cinG * h * w,
                    ldb: oh * ow, c: y + gi * coutG * oh * ow, ldc: oh * ow, bias: bias.map { $0 + gi * coutG },
                    threads: threads)
            }
            return
        }
        // The unfolded input is made a band of output rows at a time, at most `im2colBudget` floats: the
        // whole of it would be kh·kw times the input (hundreds of megabytes for the detector's 3×3 layers
        // on a page), and a band stays warm in the cache between its unfolding and the product.
        let bandRows = max(1, min(oh, im2colBudget / max(1, kk * ow)))
        let col = UnsafeMutablePointer<Float>.allocate(capacity: kk * bandRows * ow)
        defer { col.deallocate() }
        for gi in 0..<group {
            let xg = x + gi * cinG * h * w
            var oy0 = 0
            while oy0 < oh {
                let band = min(bandRows, oh - oy0)
                im2col(
                    x: xg, c: cinG, h: h, w: w, window: g, rows: oy0..<(oy0 + band), ow: ow, col: col,
                    threads: threads)
                gemm(
                    m: coutG, n: band * ow, k: kk, a: weight + gi * coutG * kk, lda: kk, b: col, ldb: band * ow,
                    c: y + gi * coutG * oh * ow + oy0 * ow, ldc: oh * ow, bias: bias.map { $0 + gi * coutG },
                    threads: threads)
                oy0 += band
            }
        }
    }

    /// Floats in one band of unfolded input (16 MB).
    static let im2colBudget = 4 << 20

    /// Unfolds output rows `rows` of a convolution's input into `col[c·kh·kw, rows.count·ow]`.
    static func im2col(
        x: UnsafePointer<Float>, c: Int, h: Int, w: Int, window g: Window, rows outRows: Range<Int>, ow: Int,
        col: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let rows = c * g.kh * g.kw
        let width = outRows.count * ow
        parallel(rows, threads: rows * width < 1 << 16 ? 1 : threads) { r in
            let ci = r / (g.kh * g.kw)
            let ky = (r / g.kw) % g.kh
            let kx = r % g.kw
            let src = x + ci * h * w
            let dst = col + r * width
            for oy in outRows {
                let iy = oy * g.sh - g.padTop + ky * g.dh
                let row = dst + (oy - outRows.lowerBound) * ow
                if iy < 0 || iy >= h {
                    row.update(repeating: 0, count: ow)
                    continue
                }
                let srow = src + iy * w
                let off = kx * g.dw - g.padLeft
                if g.sw == 1 {
                    // Columns whose source is inside the row are one contiguous run.
                    let lo = min(ow, max(0, -off)), hi = max(lo, min(ow, w - off))
                    if lo > 0 { row.update(repeating: 0, count: lo) }
                    if hi > lo { (row + lo).update(from: srow + lo + off, count: hi - lo) }
                    if hi < ow { (row + hi).update(repeating: 0, count: ow - hi) }
                } else {
                    for ox in 0..<ow {
                        let ix = ox * g.sw + off
                        row[ox] = ix >= 0 && ix < w ? srow[ix] : 0
                    }
                }
            }
        }
    }

    /// Depthwise convolution: one filter per channel.
    static func depthwise(
        x: UnsafePointer<Float>, channels: Int, h: Int, w: Int, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, window g: Window, y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let (oh, ow) = g.outSize(h, w)
        parallel(channels, threads: channels * oh * ow < 1 << 15 ? 1 : threads) { c in
            let src = x + c * h * w
            let dst = y + c * oh * ow
            let wt = weight + c * g.kh * g.kw
            let b0 = bias?[c] ?? 0
            // Output columns whose whole window is inside the row.
            let oxLo = min(ow, max(0, (g.padLeft + g.sw - 1) / g.sw))
            var oxHi = oxLo
            while oxHi < ow, oxHi * g.sw - g.padLeft + (g.kw - 1) * g.dw < w { oxHi += 1 }
            for oy in 0..<oh {
                let row = dst + oy * ow
                for ox in 0..<ow { row[ox] = b0 }
                for ky in 0..<g.kh {
                    let iy = oy * g.sh - g.padTop + ky * g.dh
                    if iy < 0 || iy >= h { continue }
                    let srow = src + iy * w
                    for kx in 0..<g.kw {
                        let wv = wt[ky * g.kw + kx]
                        let off = kx * g.dw - g.padLeft
                        for ox in 0..<oxLo {
                            let ix = ox * g.sw + off
                            if ix >= 0 && ix < w { row[ox] += wv * srow[ix] }
                        }
                        if g.sw == 1 {
                            let s = srow + off
                            var ox = oxLo
                            while ox < oxHi {
                                row[ox] += wv * s[ox]
                                ox += 1
                            }
                        } else {
                            for ox in oxLo..<oxHi { row[ox] += wv * srow[ox * g.sw + off] }
                        }
                        for ox in max(oxLo, oxHi)..<ow {
                            let ix = ox * g.sw + off
                            if ix >= 0 && ix < w { row[ox] += wv * srow[ix] }
                        }
                    }
                }
            }
        }
    }

    /// Transposed convolution (group 1) of `x[cin, h, w]` with weights `[cin, cout, kh, kw]`: a GEMM into
    /// columns, then scattered into the output.
    static func convTranspose2d(
        x: UnsafePointer<Float>, cin: Int, h: Int, w: Int, weightT: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        cout: Int, kh: Int, kw: Int, sh: Int, sw: Int, padTop: Int, padLeft: Int, oh: Int, ow: Int,
        y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let rows = cout * kh * kw
        let col = UnsafeMutablePointer<Float>.allocate(capacity: rows * h * w)
        defer { col.deallocate() }
        gemm(m: rows, n: h * w, k: cin, a: weightT, lda: cin, b: x, ldb: h * w, c: col, ldc: h * w, threads: threads)
        parallel(cout, threads: threads) { co in
            let dst = y + co * oh * ow
            dst.update(repeating: bias?[co] ?? 0, count: oh * ow)
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let src = col + ((co * kh + ky) * kw + kx) * h * w
                    for iy in 0..<h {
                        let oy = iy * sh - padTop + ky
                        if oy < 0 || oy >= oh { continue }
                        for ix in 0..<w {
                            let ox = ix * sw - padLeft + kx
                            if ox >= 0 && ox < ow { dst[oy * ow + ox] += src[iy * w + ix] }
                        }
                    }
                }
            }
        }
    }
}

/// Carries a non-Sendable value into `concurrentPerform`, whose iterations only read it.
struct UnsafeSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
