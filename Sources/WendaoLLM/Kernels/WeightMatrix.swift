/// A weight matrix stored in ggml blocks, read in place from the mapped GGUF file: `rows` rows of
/// `columns` elements, row-major, each row `columns / type.blockSize` blocks of `type.blockBytes`.
public struct WeightMatrix: @unchecked Sendable {
    /// How its elements are stored.
    public let type: GGMLType
    /// Output features (GGUF's second dimension).
    public let rows: Int
    /// Input features (GGUF's first dimension).
    public let columns: Int
    /// The first byte of row 0 (inside the mapped file).
    public let base: UnsafeRawPointer

    /// Bytes per row.
    public var rowBytes: Int { columns / type.blockSize * type.blockBytes }

    /// The first byte of row `r`.
    @inline(__always) public func row(_ r: Int) -> UnsafeRawPointer { base.advanced(by: r * rowBytes) }

    /// A matrix view; `columns` must be a whole number of blocks.
    public init(type: GGMLType, rows: Int, columns: Int, base: UnsafeRawPointer) {
        precondition(columns % type.blockSize == 0)
        self.type = type
        self.rows = rows
        self.columns = columns
        self.base = base
    }
}
