import WendaoCore

/// A dense layer `y = x · Wᵀ + b` prepared for the kernels: f32 weights are packed into SGEMM
/// panels, Q4_0 weights are used in place. Exposed for kernel tests and benchmarks.
public final class DenseLayer: Sendable {
    let weights: LinearWeights

    /// Output features.
    public var outputs: Int { weights.rows }
    /// Input features.
    public var inputs: Int { weights.cols }

    /// Prepares `matrix` with `bias` (`matrix.rows` floats); `owner` keeps their memory alive.
    /// - Throws: ``WendaoError`` `.invalidArgument` for mismatched shapes or a Q4_0 width that
    ///   is not a multiple of 32.
    public init(matrix: WeightMatrix, bias: WeightVector, owner: any Sendable) throws {
        weights = try LinearWeights([(matrix, bias)], owner: owner)
    }

    /// Applies the layer to `rows` input rows (`inputs` floats each), writing `rows × outputs`
    /// floats to `out`; `gelu` applies GELU (erf form) after the bias.
    public func apply(
        _ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>, gelu: Bool = false, threads: Int = 1
    ) {
        linear(
            x, rows: rows, lda: inputs, weights: weights, epilogue: gelu ? .gelu : .none, out: out, ldc: outputs,
            parallel: Parallel(threads: max(1, threads)))
    }

    /// Array form of ``apply(_:rows:out:gelu:threads:)``.
    /// - Throws: ``WendaoError`` `.invalidArgument` when `x.count != rows × inputs`.
    public func apply(_ x: [Float], rows: Int, gelu: Bool = false, threads: Int = 1) throws -> [Float] {
        guard rows >= 0, x.count == rows * inputs else {
            throw WendaoError(.invalidArgument, "input has \(x.count) floats, expected \(rows) × \(inputs)")
        }
        var out = [Float](repeating: 0, count: rows * outputs)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                guard let xb = xp.baseAddress, let ob = op.baseAddress else { return }
                apply(xb, rows: rows, out: ob, gelu: gelu, threads: threads)
            }
        }
        return out
    }
}
