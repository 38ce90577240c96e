/// How activations are packed for dot products with a weight type (llama.cpp's `vec_dot_type`):
/// Q4_0, Q5_0 and Q8_0 weights take ``q8_0``; Q4_1 and Q5_1 take ``q8_1``; K-quants take ``q8_K``;
/// F16 takes ``f16`` and F32 ``f32``.
public enum ActivationFormat: Sendable, Hashable {
    /// Floats as they are.
    case f32
    /// Floats rounded to half precision (ggml converts activations to F16 for F16 weights).
    case f16
    /// Per 32 values a scale `d` (half precision) and 32 int8 quants.
    case q8_0
    /// Per 32 values `d` and `d · Σq` (half precision) and 32 int8 quants.
    case q8_1
    /// Per 256 values a float scale, 256 int8 quants and the sums of every 16 quants.
    case q8_K

    /// The format activations take for weights of `type`. Types the kernels do not multiply
    /// (``LLMKernels/supports(_:)`` is false) get ``f32``.
    public static func `for`(_ type: GGMLType) -> ActivationFormat {
        switch type {
        case .f16: .f16
        case .q4_0, .q5_0, .q8_0: .q8_0
        case .q4_1, .q5_1: .q8_1
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: .q8_K
        default: .f32
        }
    }

    /// Values per block: vectors are a whole number of blocks long.
    public var blockSize: Int {
        switch self {
        case .f32, .f16: 1
        case .q8_0, .q8_1: 32
        case .q8_K: 256
        }
    }
}
