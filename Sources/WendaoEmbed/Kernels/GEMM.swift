import Foundation
import WendaoCore

// The numeric core: packed SGEMM for `y = x · Wᵀ + b` (f32 and Q4_0 weights). The element-wise
// functions (LayerNorm, softmax, GELU, exp) are in Activations.swift, the buffers in
// AlignedBuffer.swift. Everything is written against Swift's SIMD types so the same code serves the
// baseline x86-64 target and wider ones.

/// Vector type of the micro-kernel: one row of a weight panel.
typealias PanelVector = SIMD16<Float>
/// Output columns per packed panel.
let panelWidth = PanelVector.scalarCount
/// Rows per block of the micro-kernel (6, 4 or 2): the most rows whose 16-float accumulators
/// stay in registers. With 16 vector registers of 8 floats (x86-64 with AVX2, the Haswell-class
/// build) six rows need twelve accumulators plus the panel vectors; with SSE's 4-float registers even
/// four rows spill, with 32 registers (NEON, AVX-512 targets) six rows fit. Measured once, on first
/// use; every kernel computes each output with the same fused multiply-adds in the same order, so
/// results do not depend on the choice.
let microKernelRows: Int = {
    let k = 384, m = 36
    let x = AlignedFloats(m * k), panel = AlignedFloats(panelWidth * k), out = AlignedFloats(m * panelWidth)
    for i in 0..<(m * k) { x.pointer[i] = Float(i % 7) * 0.1 }
    for i in 0..<(panelWidth * k) { panel.pointer[i] = Float(i % 5) * 0.1 }
    let w = try? LinearWeights(
        [(.f32(UnsafePointer(panel.pointer), rows: panelWidth, cols: k),
          WeightVector(UnsafePointer(out.pointer), count: panelWidth))],
        owner: 0)
    guard let w else { return 4 }
    let candidates = [6, 4, 2]
    var best = [UInt64](repeating: .max, count: candidates.count)
    for round in 0..<6 {
        for (slot, rows) in candidates.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<4 {
                panelTimesRows(
                    x.pointer, rows: 0..<m, lda: k, k: k, panel: panel.pointer, panelIndex: 0, weights: w,
                    epilogue: .none, out: out.pointer, ldc: panelWidth, rowsPerBlock: rows)
            }
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            if round > 0 { best[slot] = min(best[slot], elapsed) }
        }
    }
    // Prefer more rows unless fewer are clearly (5 %) faster: on a busy machine the timings are noisy.
    var choice = 0
    for slot in 1..<candidates.count where best[slot] * 105 / 100 < best[choice] { choice = slot }
    return candidates[choice]
}()

/// A weight matrix prepared for the SGEMM: either f32 panels (`panelWidth` output features ×
/// all input features, feature-major inside a panel) or the original Q4_0 rows, dequantised a
/// panel at a time while multiplying.
final class LinearWeights: @unchecked Sendable {
    /// Output features.
    let rows: Int
    /// Input features.
    let cols: Int
    /// Bias, `rows` floats.
    let bias: AlignedFloats
    /// f32 panels (nil for Q4_0).
    let panels: UnsafeMutablePointer<Float>?
    /// Q4_0 rows, interleaved per panel (nil for f32).
    let q4: UnsafeRawPointer?
    /// The memory `panels` or `q4` live in.
    let memory: PackedMemory
    /// The owner of the source matrices' memory.
    let owner: (any Sendable)?

    /// Number of panels.
    var panelCount: Int { (rows + panelWidth - 1) / panelWidth }

    /// Bytes the packed form of `parts` takes in a ``PackedMemory`` (0 for shapes `init` rejects).
    static func packedBytes(_ parts: [(WeightMatrix, WeightVector)]) -> Int {
        guard let first = parts.first else { return 0 }
        let rows = parts.reduce(0) { $0 + $1.0.rows }, cols = first.0.cols
        let panels = (rows + panelWidth - 1) / panelWidth
        switch first.0 {
        case .f32: return PackedMemory.reserve(panels * panelWidth * cols * 4)
        case .q4_0: return PackedMemory.reserve(panels * (cols / 32) * q4ChunkBytes)
        }
    }

    /// Packs the given matrices stacked vertically (e.g. Q, K, V into one projection) with
    /// their biases, into `memory` (nil: an allocation of its own). All must share `cols` and one
    /// format.
    init(_ parts: [(WeightMatrix, WeightVector)], owner: any Sendable, memory: PackedMemory? = nil) throws {
        guard let first = parts.first else { throw WendaoError(.invalidArgument, "no weight matrices to pack") }
        let cols = first.0.cols
        var rows = 0
        for (m, b) in parts {
            guard m.cols == cols, b.count == m.rows else {
                throw WendaoError(
                    .invalidArgument, "weight shapes do not match (\(m.rows)×\(m.cols), bias \(b.count))")
            }
            rows += m.rows
        }
        self.rows = rows
        self.cols = cols
        self.owner = owner
        let memory = memory ?? PackedMemory(bytes: Self.packedBytes(parts))
        self.memory = memory
        bias = AlignedFloats(rows)
        var r0 = 0
        for (_, b) in parts {
            bias.pointer.advanced(by: r0).update(from: b.pointer, count: b.count)
            r0 += b.count
        }
        switch first.0 {
        case .f32:
            let floats = ((rows + panelWidth - 1) / panelWidth) * panelWidth * cols
            let packed = memory.take(floats * 4).bindMemory(to: Float.self, capacity: floats)
            packed.initialize(repeating: 0, count: floats)
            var row = 0
            for (m, _) in parts {
                guard case .f32(let p, let mr, _) = m else {
                    throw WendaoError(.invalidArgument, "cannot mix f32 and Q4_0 matrices in one projection")
                }
                for r in 0..<mr {
                    let dst = packed + (row / panelWidth) * panelWidth * cols + row % panelWidth
                    let src = p + r * cols
                    for k in 0..<cols { dst[k * panelWidth] = src[k] }
                    row += 1
                }
            }
            panels = packed
            q4 = nil
        case .q4_0:
            guard cols % 32 == 0 else {
                throw WendaoError(.invalidArgument, "Q4_0 matrix with \(cols) columns (not a multiple of 32)")
            }
            panels = nil
            // Interleave the rows of each panel so a block of `panelWidth` rows dequantises with
            // whole-vector operations: per (panel, block) `panelWidth` f32 scales, then for each
            // byte position e the `panelWidth` rows' byte e (elements e and e + 16).
            let blocks = cols / 32
            let rowBytes = blocks * 18
            let panelCount = (rows + panelWidth - 1) / panelWidth
            let chunk = Self.q4ChunkBytes
            let packed = memory.take(panelCount * blocks * chunk)
            packed.initializeMemory(as: UInt8.self, repeating: 0x88, count: panelCount * blocks * chunk)
            var row = 0
            for (m, _) in parts {
                guard case .q4_0(let p, let mr, _) = m else {
                    throw WendaoError(.invalidArgument, "cannot mix f32 and Q4_0 matrices in one projection")
                }
                for r in 0..<mr {
                    let panel = row / panelWidth, j = row % panelWidth
                    for b in 0..<blocks {
                        let src = p + r * rowBytes + b * 18
                        let dst = packed + (panel * blocks + b) * chunk
                        dst.storeBytes(of: loadHalf(src), toByteOffset: j * 4, as: Float.self)
                        for e in 0..<16 {
                            dst.storeBytes(
                                of: src.load(fromByteOffset: 2 + e, as: UInt8.self),
                                toByteOffset: panelWidth * 4 + e * panelWidth + j, as: UInt8.self)
                        }
                    }
                    row += 1
                }
            }
            q4 = UnsafeRawPointer(packed)
        }
    }

    /// Bytes of one (panel, block) chunk of the interleaved Q4_0 layout.
    static let q4ChunkBytes = panelWidth * 4 + 16 * panelWidth

    /// Writes panel `panel` as f32 (feature-major, `panelWidth` wide) into `dst`.
    func dequantisePanel(_ panel: Int, into dst: UnsafeMutablePointer<Float>) {
        guard let q4 else { return }
        let blocks = cols / 32
        let chunk = Self.q4ChunkBytes
        let out = UnsafeMutableRawPointer(dst)
        let eight = PanelVector(repeating: 8)
        typealias Bytes = SIMD16<UInt8>
        for b in 0..<blocks {
            let src = q4 + (panel * blocks + b) * chunk
            let scale = src.loadUnaligned(as: PanelVector.self)
            for e in 0..<16 {
                let packed = src.loadUnaligned(fromByteOffset: panelWidth * 4 + e * panelWidth, as: Bytes.self)
                let lo = PanelVector(SIMD16<Int32>(truncatingIfNeeded: packed & 0x0F)) - eight
                let hi = PanelVector(SIMD16<Int32>(truncatingIfNeeded: packed &>> 4)) - eight
                out.storeBytes(of: lo * scale, toByteOffset: (b * 32 + e) * panelWidth * 4, as: PanelVector.self)
                out.storeBytes(of: hi * scale, toByteOffset: (b * 32 + e + 16) * panelWidth * 4, as: PanelVector.self)
            }
        }
    }
}

/// What to do to each output after the bias.
enum Epilogue {
    /// Nothing.
    case none
    /// GELU (erf form).
    case gelu
}

/// `out[m × ldc] = x[m × cols] · Wᵀ + bias` (optionally GELU), threads splitting the output
/// features. `x` rows are `lda` floats apart.
func linear(
    _ x: UnsafePointer<Float>, rows m: Int, lda: Int, weights w: LinearWeights, epilogue: Epilogue,
    out: UnsafeMutablePointer<Float>, ldc: Int, parallel: Parallel
) {
    let k = w.cols
    let panels = w.panelCount
    let xs = SendablePointer(UnsafeMutablePointer(mutating: x))
    let ys = SendablePointer(out)
    // Row blocks of `rowBlock` rows are the outer loop inside a share of panels, so a block of x
    // stays in cache while the panels stream past. Up to one row block (batch-1 texts), shares
    // are small and handed out as threads come free; beyond, each thread takes one contiguous
    // share so the panels of a share are reused across all row blocks.
    let rowBlock = 64
    let grain = m <= rowBlock ? max(1, panels / (4 * parallel.threads)) : Int.max
    if let packed = w.panels {
        let panelBase = SendablePointer(packed)
        parallel.forEachChunk(panels, grain: grain) { range, _ in
            let x = UnsafePointer(xs.pointer), out = ys.pointer
            var r0 = 0
            while r0 < m {
                let r1 = min(m, r0 + rowBlock)
                for p in range {
                    panelTimesRows(
                        x, rows: r0..<r1, lda: lda, k: k, panel: panelBase.pointer + p * panelWidth * k,
                        panelIndex: p, weights: w, epilogue: epilogue, out: out, ldc: ldc)
                }
                r0 = r1
            }
        }
    } else {
        // One dequantised panel per thread.
        let scratch = AlignedFloats(parallel.threads * panelWidth * k)
        parallel.forEachChunk(panels, grain: grain) { range, participant in
            let x = UnsafePointer(xs.pointer), out = ys.pointer
            let panel = scratch.pointer + participant * panelWidth * k
            for p in range {
                w.dequantisePanel(p, into: panel)
                panelTimesRows(
                    x, rows: 0..<m, lda: lda, k: k, panel: panel, panelIndex: p, weights: w,
                    epilogue: epilogue, out: out, ldc: ldc)
            }
        }
    }
}

/// A pointer that may cross into worker threads (each writes a disjoint region).
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

@inline(__always)
private func panelTimesRows(
    _ x: UnsafePointer<Float>, rows: Range<Int>, lda: Int, k: Int, panel: UnsafePointer<Float>, panelIndex: Int,
    weights w: LinearWeights, epilogue: Epilogue, out: UnsafeMutablePointer<Float>, ldc: Int,
    rowsPerBlock: Int = microKernelRows
) {
    let c0 = panelIndex * panelWidth
    let valid = min(panelWidth, w.rows - c0)
    let bias = UnsafeRawPointer(w.bias.pointer + c0)
    // The bias vector may be short in the last panel: read it lane by lane there.
    var b = PanelVector(repeating: 0)
    if valid == panelWidth {
        b = bias.loadUnaligned(as: PanelVector.self)
    } else {
        for j in 0..<valid { b[j] = w.bias.pointer[c0 + j] }
    }
    let raw = UnsafeRawPointer(panel)
    let step = panelWidth * 4
    // Every kernel below computes an output as bias + Σ_i fma over i = 0..<k in order, so a row's
    // result does not depend on which kernel (block of rows) it lands in.
    var r = rows.lowerBound
    while r < rows.upperBound {
        let left = rows.upperBound - r
        let block: Int
        if rowsPerBlock >= 6 {
            // Blocks of 6 rows, ending in blocks of 4 or 5 rather than of 1–3 where possible:
            // fewer than 4 rows give fewer than 8 independent accumulators, too few to hide the
            // latency of the multiply-adds (25 rows → 6, 6, 5, 4, 4).
            block = left >= 14 ? 6 : rowBlockPlan[left]
        } else {
            block = min(left, rowsPerBlock, left >= 4 ? 4 : left >= 2 ? 2 : 1)
        }
        switch block {
        case 6:
            let a0 = x + r * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda
            var s0 = PanelVector(repeating: 0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0
            for i in 0..<k {
                let v = raw.load(fromByteOffset: i * step, as: PanelVector.self)
                s0.addProduct(v, PanelVector(repeating: a0[i]))
                s1.addProduct(v, PanelVector(repeating: a1[i]))
                s2.addProduct(v, PanelVector(repeating: a2[i]))
                s3.addProduct(v, PanelVector(repeating: a3[i]))
                s4.addProduct(v, PanelVector(repeating: a4[i]))
                s5.addProduct(v, PanelVector(repeating: a5[i]))
            }
            store(s0 + b, epilogue, out + r * ldc + c0, valid)
            store(s1 + b, epilogue, out + (r + 1) * ldc + c0, valid)
            store(s2 + b, epilogue, out + (r + 2) * ldc + c0, valid)
            store(s3 + b, epilogue, out + (r + 3) * ldc + c0, valid)
            store(s4 + b, epilogue, out + (r + 4) * ldc + c0, valid)
            store(s5 + b, epilogue, out + (r + 5) * ldc + c0, valid)
        case 5:
            let a0 = x + r * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda
            var s0 = PanelVector(repeating: 0), s1 = s0, s2 = s0, s3 = s0, s4 = s0
            for i in 0..<k {
                let v = raw.load(fromByteOffset: i * step, as: PanelVector.self)
                s0.addProduct(v, PanelVector(repeating: a0[i]))
                s1.addProduct(v, PanelVector(repeating: a1[i]))
                s2.addProduct(v, PanelVector(repeating: a2[i]))
                s3.addProduct(v, PanelVector(repeating: a3[i]))
                s4.addProduct(v, PanelVector(repeating: a4[i]))
            }
            store(s0 + b, epilogue, out + r * ldc + c0, valid)
            store(s1 + b, epilogue, out + (r + 1) * ldc + c0, valid)
            store(s2 + b, epilogue, out + (r + 2) * ldc + c0, valid)
            store(s3 + b, epilogue, out + (r + 3) * ldc + c0, valid)
            store(s4 + b, epilogue, out + (r + 4) * ldc + c0, valid)
        case 4:
            let a0 = x + r * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda
            var s0 = PanelVector(repeating: 0), s1 = s0, s2 = s0, s3 = s0
            for i in 0..<k {
                let v = raw.load(fromByteOffset: i * step, as: PanelVector.self)
                s0.addProduct(v, PanelVector(repeating: a0[i]))
                s1.addProduct(v, PanelVector(repeating: a1[i]))
                s2.addProduct(v, PanelVector(repeating: a2[i]))
                s3.addProduct(v, PanelVector(repeating: a3[i]))
            }
            store(s0 + b, epilogue, out + r * ldc + c0, valid)
            store(s1 + b, epilogue, out + (r + 1) * ldc + c0, valid)
            store(s2 + b, epilogue, out + (r + 2) * ldc + c0, valid)
            store(s3 + b, epilogue, out + (r + 3) * ldc + c0, valid)
        case 3:
            let a0 = x + r * lda, a1 = a0 + lda, a2 = a1 + lda
            var s0 = PanelVector(repeating: 0), s1 = s0, s2 = s0
            for i in 0..<k {
                let v = raw.load(fromByteOffset: i * step, as: PanelVector.self)
                s0.addProduct(v, PanelVector(repeating: a0[i]))
                s1.addProduct(v, PanelVector(repeating: a1[i]))
                s2.addProduct(v, PanelVector(repeating: a2[i]))
            }
            store(s0 + b, epilogue, out + r * ldc + c0, valid)
            store(s1 + b, epilogue, out + (r + 1) * ldc + c0, valid)
            store(s2 + b, epilogue, out + (r + 2) * ldc + c0, valid)
        case 2:
            let a0 = x + r * lda, a1 = a0 + lda
            var s0 = PanelVector(repeating: 0), s1 = s0
            for i in 0..<k {
                let v = raw.load(fromByteOffset: i * step, as: PanelVector.self)
                s0.addProduct(v, PanelVector(repeating: a0[i]))
                s1.addProduct(v, PanelVector(repeating: a1[i]))
            }
            store(s0 + b, epilogue, out + r * ldc + c0, valid)
            store(s1 + b, epilogue, out + (r + 1) * ldc + c0, valid)
        default:
            let a0 = x + r * lda
            var s0 = PanelVector(repeating: 0)
            for i in 0..<k {
                let v = raw.load(fromByteOffset: i * step, as: PanelVector.self)
                s0.addProduct(v, PanelVector(repeating: a0[i]))
            }
            store(s0 + b, epilogue, out + r * ldc + c0, valid)
        }
        r += block
    }
}

/// Rows of the next micro-kernel block when `left` (< 14) rows remain (see `panelTimesRows`).
private let rowBlockPlan = [0, 1, 2, 3, 4, 5, 6, 4, 4, 5, 6, 6, 6, 5]

@inline(__always)
private func store(_ v: PanelVector, _ epilogue: Epilogue, _ dst: UnsafeMutablePointer<Float>, _ valid: Int) {
    var v = v
    if case .gelu = epilogue { v = gelu16(v) }
    if valid == panelWidth {
        UnsafeMutableRawPointer(dst).storeBytes(of: v, as: PanelVector.self)
    } else {
        for j in 0..<valid { dst[j] = v[j] }
    }
}
