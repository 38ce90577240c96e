/// The rows of a weight matrix in ggml blocks, as the kernels read them: row `r` starts at
/// `base + r * rowBytes` and holds `columns` elements.
public struct WeightRows {
    /// The first byte of row 0.
    public var base: UnsafeRawPointer
    /// Bytes per row.
    public var rowBytes: Int
    /// Elements per row (a whole number of blocks).
    public var columns: Int

    /// A view of `columns`-element rows `rowBytes` apart from `base`.
    public init(base: UnsafeRawPointer, rowBytes: Int, columns: Int) {
        self.base = base
        self.rowBytes = rowBytes
        self.columns = columns
    }

    /// The first byte of row `r`.
    @inline(__always) public func row(_ r: Int) -> UnsafeRawPointer { base + r &* rowBytes }
}

/// Packed activation vectors as the kernels read them (WendaoLLM's `PackedActivations` hands out
/// this view). Vector `t`'s parts start at `t` times their stride; a part a format does not use may
/// point anywhere.
///
/// - Q8_0: `quants` (int8, one per column) and `scales` (one f16-rounded `d` per 32 columns).
/// - Q8_1: as Q8_0, but `scales` holds pairs (`d`, `d·Σq`), both f16-rounded, per 32 columns.
/// - Q8_K: `quants`, `scales` (one float `d` per 256 columns) and `sums` (Σq per 16 columns).
/// - F32 and F16: `floats` (for F16 the values are rounded to half precision).
public struct ActivationView {
    /// Int8 quants of vector 0.
    public var quants: UnsafePointer<Int8>
    /// Bytes between the quants of consecutive vectors.
    public var quantStride: Int
    /// Block scales of vector 0.
    public var scales: UnsafePointer<Float>
    /// Floats between the scales of consecutive vectors.
    public var scaleStride: Int
    /// Q8_K sums of 16 quants of vector 0.
    public var sums: UnsafePointer<Int16>
    /// Sums between consecutive vectors.
    public var sumStride: Int
    /// Float values of vector 0 (F32 and F16 formats).
    public var floats: UnsafePointer<Float>
    /// Floats between consecutive vectors.
    public var floatStride: Int
    /// How many vectors there are.
    public var count: Int

    /// A view of `count` vectors.
    public init(
        quants: UnsafePointer<Int8>, quantStride: Int, scales: UnsafePointer<Float>, scaleStride: Int,
        sums: UnsafePointer<Int16>, sumStride: Int, floats: UnsafePointer<Float>, floatStride: Int, count: Int
    ) {
        self.quants = quants
        self.quantStride = quantStride
        self.scales = scales
        self.scaleStride = scaleStride
        self.sums = sums
        self.sumStride = sumStride
        self.floats = floats
        self.floatStride = floatStride
        self.count = count
    }
}
