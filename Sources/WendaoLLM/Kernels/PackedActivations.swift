internal import WendaoLLMKernels

/// `count` activation vectors of `columns` floats, packed for one weight type (see
/// ``ActivationFormat``). Reused across calls: allocate once per model for the largest shape;
/// ``pack(_:count:stride:)`` overwrites.
///
/// Quantisation follows ggml's `quantize_row_q8_0`, `_q8_1` and `_q8_K` (round to nearest, ties to
/// even), so dot products match llama.cpp's. Each vector's parts (int8 quants, block scales, Q8_K's
/// sums of 16 quants, or floats) are 64-byte aligned.
///
/// Not thread-safe while packing: pack, then let any number of threads multiply.
public final class PackedActivations: @unchecked Sendable {
    /// How the vectors are packed.
    public let format: ActivationFormat
    /// Floats per vector (a whole number of ``ActivationFormat/blockSize``).
    public let columns: Int
    /// The most vectors ``pack(_:count:stride:)`` takes.
    public let capacity: Int
    /// How many vectors the last ``pack(_:count:stride:)`` stored.
    public private(set) var count = 0

    private let memory: UnsafeMutableRawPointer
    let quants: UnsafeMutablePointer<Int8>
    let quantStride: Int
    let scales: UnsafeMutablePointer<Float>
    let scaleStride: Int
    let sums: UnsafeMutablePointer<Int16>
    let sumStride: Int
    let floats: UnsafeMutablePointer<Float>
    let floatStride: Int

    /// Room for `capacity` vectors of `columns` floats in `format`.
    public init(format: ActivationFormat, columns: Int, capacity: Int) {
        precondition(columns > 0 && columns % format.blockSize == 0, "columns must be a whole number of blocks")
        precondition(capacity >= 0)
        self.format = format
        self.columns = columns
        self.capacity = capacity
        func rounded(_ n: Int, _ multiple: Int) -> Int { (n + multiple - 1) / multiple * multiple }
        let quantized = format == .q8_0 || format == .q8_1 || format == .q8_K
        quantStride = quantized ? rounded(columns, 64) : 0
        switch format {
        case .q8_0: scaleStride = rounded(columns / 32, 16)
        case .q8_1: scaleStride = rounded(columns / 16, 16)
        case .q8_K: scaleStride = rounded(columns / 256, 16)
        case .f32, .f16: scaleStride = 0
        }
        sumStride = format == .q8_K ? rounded(columns / 16, 32) : 0
        floatStride = quantized ? 0 : rounded(columns, 16)
        let slots = max(capacity, 1)
        let quantBytes = slots * quantStride
        let scaleBytes = slots * scaleStride * 4
        let sumBytes = slots * sumStride * 2
        let floatBytes = slots * floatStride * 4
        memory = .allocate(byteCount: max(quantBytes + scaleBytes + sumBytes + floatBytes, 64), alignment: 64)
        quants = memory.bindMemory(to: Int8.self, capacity: quantBytes)
        scales = (memory + quantBytes).bindMemory(to: Float.self, capacity: scaleBytes / 4)
        sums = (memory + quantBytes + scaleBytes).bindMemory(to: Int16.self, capacity: sumBytes / 2)
        floats = (memory + quantBytes + scaleBytes + sumBytes).bindMemory(to: Float.self, capacity: floatBytes / 4)
    }

    deinit { memory.deallocate() }

    /// Packs vectors i in 0..<count from `x + i * stride` (`columns` floats each).
    public func pack(_ x: UnsafePointer<Float>, count: Int, stride: Int) {
        pack(x, count: count, stride: stride, fast: LLMKernels.fast)
    }

    /// ``pack(_:count:stride:)`` with the Haswell (`fast`) or the portable quantisers; both give the
    /// same bytes.
    func pack(_ x: UnsafePointer<Float>, count: Int, stride: Int, fast: Bool) {
        precondition(count >= 0 && count <= capacity, "more vectors than the capacity")
        for i in 0..<count {
            let source = x + i * stride
            switch format {
            case .f32:
                (floats + i * floatStride).update(from: source, count: columns)
            case .f16:
                let target = floats + i * floatStride
                for j in 0..<columns { target[j] = Half.rounded(source[j]) }
            case .q8_0, .q8_1:
                let withSums = format == .q8_1
                let q = quants + i * quantStride
                let s = scales + i * scaleStride
                #if arch(x86_64)
                    if fast {
                        HaswellLLMKernels.packQ8(source, columns: columns, withSums: withSums, quants: q, scales: s)
                    } else {
                        PortableKernels.packQ8(source, columns: columns, withSums: withSums, quants: q, scales: s)
                    }
                #else
                    PortableKernels.packQ8(source, columns: columns, withSums: withSums, quants: q, scales: s)
                #endif
                // ggml stores d and d·Σq as halves.
                for j in 0..<(withSums ? columns / 16 : columns / 32) { s[j] = Half.rounded(s[j]) }
            case .q8_K:
                let q = quants + i * quantStride
                let s = scales + i * scaleStride
                let sum = sums + i * sumStride
                #if arch(x86_64)
                    if fast {
                        HaswellLLMKernels.packQ8_K(source, columns: columns, quants: q, scales: s, sums: sum)
                    } else {
                        PortableKernels.packQ8_K(source, columns: columns, quants: q, scales: s, sums: sum)
                    }
                #else
                    PortableKernels.packQ8_K(source, columns: columns, quants: q, scales: s, sums: sum)
                #endif
            }
        }
        self.count = count
    }

    /// The vectors as the kernels read them.
    var view: ActivationView {
        ActivationView(
            quants: UnsafePointer(quants), quantStride: quantStride, scales: UnsafePointer(scales),
            scaleStride: scaleStride, sums: UnsafePointer(sums), sumStride: sumStride, floats: UnsafePointer(floats),
            floatStride: floatStride, count: count)
    }
}
