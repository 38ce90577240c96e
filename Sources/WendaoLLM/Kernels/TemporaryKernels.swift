// TEMPORARY (replaced by the kernels branch): float reference kernels with the agreed API, so the
// forward pass can be checked before the quantised kernels land.

/// How activations are packed.
public enum ActivationFormat: Sendable, Hashable {
    /// Plain floats.
    case f32
    /// The format for `type`.
    public static func `for`(_ type: GGMLType) -> ActivationFormat { .f32 }
}

/// Packed activation vectors.
public final class PackedActivations: @unchecked Sendable {
    let columns: Int
    let storage: UnsafeMutablePointer<Float>
    /// Vectors packed.
    public private(set) var count = 0
    /// Room for `capacity` vectors.
    public init(format: ActivationFormat, columns: Int, capacity: Int) {
        self.columns = columns
        storage = .allocate(capacity: columns * capacity)
    }
    deinit { storage.deallocate() }
    /// Packs.
    public func pack(_ x: UnsafePointer<Float>, count: Int, stride: Int) {
        for i in 0..<count { (storage + i * columns).update(from: x + i * stride, count: columns) }
        self.count = count
    }
}

/// Kernels.
public enum LLMKernels {
    /// Whether supported.
    public static func supports(_ type: GGMLType) -> Bool { [.f32, .f16, .q4_1, .q8_0].contains(type) }
    /// y = W x.
    public static func multiply(
        _ w: WeightMatrix, _ x: PackedActivations, rows: Range<Int>, into out: UnsafeMutablePointer<Float>,
        outStride: Int
    ) {
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: w.columns)
        defer { tmp.deallocate() }
        for r in rows {
            dequantize(w, row: r, into: tmp)
            for t in 0..<x.count {
                let v = x.storage + t * w.columns
                var s: Float = 0
                for c in 0..<w.columns { s += tmp[c] * v[c] }
                out[t * outStride + r] = s
            }
        }
    }
    /// Dequantises a row.
    public static func dequantize(_ w: WeightMatrix, row: Int, into out: UnsafeMutablePointer<Float>) {
        let p = w.row(row)
        switch w.type {
        case .f32:
            for c in 0..<w.columns { out[c] = p.loadUnaligned(fromByteOffset: 4 * c, as: Float.self) }
        case .f16:
            for c in 0..<w.columns { out[c] = Float(p.loadUnaligned(fromByteOffset: 2 * c, as: Float16.self)) }
        case .q8_0:
            for b in 0..<(w.columns / 32) {
                let blk = p + 34 * b
                let d = Float(blk.loadUnaligned(as: Float16.self))
                for i in 0..<32 { out[32 * b + i] = d * Float(blk.load(fromByteOffset: 2 + i, as: Int8.self)) }
            }
        case .q4_1:
            for b in 0..<(w.columns / 32) {
                let blk = p + 20 * b
                let d = Float(blk.loadUnaligned(as: Float16.self))
                let m = Float(blk.loadUnaligned(fromByteOffset: 2, as: Float16.self))
                for i in 0..<16 {
                    let q = blk.load(fromByteOffset: 4 + i, as: UInt8.self)
                    out[32 * b + i] = d * Float(q & 15) + m
                    out[32 * b + i + 16] = d * Float(q >> 4) + m
                }
            }
        default: fatalError("temporary kernels: \(w.type.name)")
        }
    }
}
