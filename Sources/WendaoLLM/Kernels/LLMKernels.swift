import Foundation
import WendaoCore
internal import WendaoLLMKernels

/// The matrix kernels of the language-model runtime: weight rows (ggml blocks, read in place from the
/// mapped file) times packed activation vectors.
///
/// Two implementations: the portable ones in this module (any CPU; also the tests' reference) and
/// `HaswellLLMKernels` (AVX2 + FMA, a separate target built with `-target-cpu haswell`). ``fast``
/// picks one once per process. Both compute, per block, the exact integer dot product of the weight
/// quants with the activation quants, then scale and sum in float as ggml does; they differ only in
/// the order of the float additions.
public enum LLMKernels {
    /// Whether the AVX2/FMA kernels are used (checked once per process): the processor has every
    /// Haswell feature (``CPUSupport/haswell``) and `WENDAO_LLM_KERNELS` is not `baseline`.
    public static let fast: Bool = {
        #if arch(x86_64)
            ProcessInfo.processInfo.environment["WENDAO_LLM_KERNELS"] != "baseline" && CPUSupport.haswell
        #else
            false
        #endif
    }()

    /// Whether ``multiply(_:_:rows:into:outStride:)`` and ``dequantize(_:row:into:)`` take weights of
    /// `type`: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K. A model with any other
    /// weight type is refused when it is loaded.
    public static func supports(_ type: GGMLType) -> Bool {
        switch type {
        case .f32, .f16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K: true
        default: false
        }
    }

    /// `out[t * outStride + r]` = row `r` of `w` · vector `t` of `x`, for every `r` in `rows` (absolute
    /// row numbers, so threads given disjoint row ranges write disjoint parts of one output) and every
    /// packed vector `t` in `0..<x.count`. Single-threaded: the caller splits the rows across threads.
    ///
    /// `w.type` must be supported, `x` packed in `ActivationFormat.for(w.type)` with `w.columns` columns,
    /// and `rows` within `0..<w.rows`.
    public static func multiply(
        _ w: WeightMatrix, _ x: PackedActivations, rows: Range<Int>, into out: UnsafeMutablePointer<Float>,
        outStride: Int
    ) {
        multiply(w, x, rows: rows, into: out, outStride: outStride, fast: fast)
    }

    /// ``multiply(_:_:rows:into:outStride:)`` with the Haswell (`fast`) or the portable kernels.
    static func multiply(
        _ w: WeightMatrix, _ x: PackedActivations, rows: Range<Int>, into out: UnsafeMutablePointer<Float>,
        outStride: Int, fast: Bool
    ) {
        PreparedMultiply(w, x, into: out, outStride: outStride, fast: fast).run(rows: rows)
    }

    /// Row `row` of `w` as `w.columns` floats (embedding lookup, tests), exactly as ggml's
    /// `dequantize_row_*` computes them.
    public static func dequantize(_ w: WeightMatrix, row: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(supports(w.type), "\(w.type.name) weights are not supported")
        precondition(row >= 0 && row < w.rows, "row \(row) outside 0..<\(w.rows)")
        PortableKernels.dequantize(w.type, w.row(row), columns: w.columns, into: out)
    }
}

/// One weight matrix times packed activations, checked once and then run on row ranges from any
/// number of threads. It holds only plain values and pointers, so the threads' hot loop does no
/// reference counting; the caller keeps the weights and the ``PackedActivations`` alive meanwhile.
struct PreparedMultiply: @unchecked Sendable {
    let type: GGMLType
    let weights: WeightRows
    let view: ActivationView
    let out: UnsafeMutablePointer<Float>
    let outStride: Int
    let fast: Bool
    /// Rows of the weight matrix.
    let rows: Int

    init(_ w: WeightMatrix, _ x: PackedActivations, into out: UnsafeMutablePointer<Float>, outStride: Int, fast: Bool) {
        precondition(LLMKernels.supports(w.type), "\(w.type.name) weights are not supported")
        precondition(x.format == ActivationFormat.for(w.type), "activations packed for another weight type")
        precondition(x.columns == w.columns, "activations of \(x.columns) columns for \(w.columns)-column weights")
        type = w.type
        weights = WeightRows(base: w.base, rowBytes: w.rowBytes, columns: w.columns)
        view = x.view
        self.out = out
        self.outStride = outStride
        self.fast = fast
        rows = w.rows
    }

    /// `out[t * outStride + r]` for every `r` in `range` and every packed vector `t`.
    func run(rows range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) outside 0..<\(rows)")
        guard !range.isEmpty, view.count > 0 else { return }
        let (weights, v, out, outStride) = (weights, view, out, outStride)
        let rows = range
        #if arch(x86_64)
            if fast {
                switch type {
                case .f32: HaswellLLMKernels.multiplyF32(weights, rows: rows, v, into: out, outStride: outStride)
                case .f16: HaswellLLMKernels.multiplyF16(weights, rows: rows, v, into: out, outStride: outStride)
                case .q4_0: HaswellLLMKernels.multiplyQ4_0(weights, rows: rows, v, into: out, outStride: outStride)
                case .q4_1: HaswellLLMKernels.multiplyQ4_1(weights, rows: rows, v, into: out, outStride: outStride)
                case .q5_0: HaswellLLMKernels.multiplyQ5_0(weights, rows: rows, v, into: out, outStride: outStride)
                case .q5_1: HaswellLLMKernels.multiplyQ5_1(weights, rows: rows, v, into: out, outStride: outStride)
                case .q8_0: HaswellLLMKernels.multiplyQ8_0(weights, rows: rows, v, into: out, outStride: outStride)
                case .q4_K: HaswellLLMKernels.multiplyQ4_K(weights, rows: rows, v, into: out, outStride: outStride)
                case .q5_K: HaswellLLMKernels.multiplyQ5_K(weights, rows: rows, v, into: out, outStride: outStride)
                case .q6_K: HaswellLLMKernels.multiplyQ6_K(weights, rows: rows, v, into: out, outStride: outStride)
                default: preconditionFailure()
                }
                return
            }
        #endif
        PortableKernels.multiply(type, weights, rows: rows, v, into: out, outStride: outStride)
    }
}
