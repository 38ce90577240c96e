import Foundation
public import WendaoCore

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#endif

/// Float buffers the loaders allocate (converted F16/BF16 tensors, realigned copies) and keep
/// alive next to the mapping.
final class OwnedBuffers: @unchecked Sendable {
    private var buffers: [UnsafeMutablePointer<Float>] = []
    private let lock = NSLock()

    /// Allocates `count` floats owned by this object.
    func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        lock.lock()
        buffers.append(p)
        lock.unlock()
        return p
    }

    deinit {
        for p in buffers { p.deallocate() }
    }
}

/// A `.safetensors` file: an 8-byte little-endian header length, a JSON header describing each
/// tensor (dtype, shape, byte range), then the tensor data. The file is memory-mapped; float32
/// tensors are viewed in place, F16/BF16 ones are converted to float32 on request.
public final class SafetensorsFile: @unchecked Sendable {
    /// Element types this reader understands.
    public enum DType: String, Sendable {
        /// IEEE float32.
        case f32 = "F32"
        /// IEEE float16.
        case f16 = "F16"
        /// bfloat16.
        case bf16 = "BF16"
        /// Signed 64-bit integers (e.g. `position_ids` buffers; never read as weights).
        case i64 = "I64"
        /// Signed 32-bit integers.
        case i32 = "I32"
        /// Float64.
        case f64 = "F64"
        /// Unsigned bytes.
        case u8 = "U8"
        /// Signed bytes.
        case i8 = "I8"
        /// Booleans.
        case bool = "BOOL"

        /// Bytes per element.
        var size: Int {
            switch self {
            case .f32, .i32: 4
            case .f16, .bf16: 2
            case .i64, .f64: 8
            case .u8, .i8, .bool: 1
            }
        }
    }

    /// One tensor's description.
    public struct Tensor: Sendable {
        /// Element type.
        public var dtype: DType
        /// Shape, outermost first.
        public var shape: [Int]
        /// Byte offset of the first element from the start of the file.
        public var offset: Int
        /// Length in bytes.
        public var byteCount: Int
        /// Number of elements.
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The mapping.
    public let file: MappedFile
    /// Tensors by name.
    public let tensors: [String: Tensor]
    let owned = OwnedBuffers()

    /// Largest JSON header accepted (the format itself caps it at 100 MB).
    static let maxHeader = 100_000_000

    /// Maps and validates `path`.
    public init(path: String) throws {
        file = try MappedFile(path: path)
        tensors = try Self.parseHeader(file)
    }

    private static func parseHeader(_ file: MappedFile) throws -> [String: Tensor] {
        let name = file.path
        guard let base = file.bytes, file.count >= 8 else {
            throw WendaoError(.unreadable, "\(name): truncated safetensors file (\(file.count) bytes, no header)")
        }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << (8 * UInt64(i)) }
        guard length <= UInt64(file.count - 8) else {
            throw WendaoError(.unreadable, "\(name): header length \(length) runs past the end of the file")
        }
        guard length <= UInt64(maxHeader), length >= 2 else {
            throw WendaoError(.unreadable, "\(name): implausible safetensors header length \(length)")
        }
        let dataStart = 8 + Int(length)
        let dataCount = file.count - dataStart
        let header = Data(bytes: base + 8, count: Int(length))
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: header)
        } catch {
            throw WendaoError(.unreadable, "\(name): safetensors header is not valid JSON")
        }
        guard let entries = json as? [String: Any] else {
            throw WendaoError(.unreadable, "\(name): safetensors header is not a JSON object")
        }
        var out: [String: Tensor] = [:]
        for (key, value) in entries where key != "__metadata__" {
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                let shapeAny = entry["shape"] as? [Any], let offsAny = entry["data_offsets"] as? [Any],
                offsAny.count == 2
            else {
                throw WendaoError(.unreadable, "\(name): malformed header entry for tensor '\(key)'")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw WendaoError(.unsupported, "\(name): tensor '\(key)' has unsupported dtype \(dtypeName)")
            }
            var shape: [Int] = []
            var elements = 1
            for dim in shapeAny {
                guard let d = (dim as? NSNumber)?.intValue, d >= 0, d <= 1 << 40 else {
                    throw WendaoError(.unreadable, "\(name): tensor '\(key)' has an invalid shape")
                }
                shape.append(d)
                let (m, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, m <= 1 << 40 else {
                    throw WendaoError(.unreadable, "\(name): tensor '\(key)' is implausibly large")
                }
                elements = m
            }
            guard let begin = (offsAny[0] as? NSNumber)?.intValue, let end = (offsAny[1] as? NSNumber)?.intValue,
                begin >= 0, end >= begin
            else {
                throw WendaoError(.unreadable, "\(name): tensor '\(key)' has invalid data offsets")
            }
            guard end <= dataCount else {
                throw WendaoError(
                    .unreadable, "\(name): tensor '\(key)' ends at byte \(end) but the data section has \(dataCount)"
                        + " (truncated file?)")
            }
            guard end - begin == elements * dtype.size else {
                throw WendaoError(
                    .unreadable, "\(name): tensor '\(key)' has \(end - begin) bytes, shape \(shape) needs "
                        + "\(elements * dtype.size)")
            }
            out[key] = Tensor(dtype: dtype, shape: shape, offset: dataStart + begin, byteCount: end - begin)
        }
        // Byte ranges must not overlap.
        let sorted = out.sorted { $0.value.offset < $1.value.offset }
        for i in sorted.indices.dropFirst() {
            let prev = sorted[i - 1].value, cur = sorted[i].value
            if cur.offset < prev.offset + prev.byteCount {
                throw WendaoError(
                    .unreadable, "\(name): tensors '\(sorted[i - 1].key)' and '\(sorted[i].key)' overlap")
            }
        }
        return out
    }

    /// The float32 contents of tensor `name` with exactly `shape`: a view into the mapping for
    /// aligned F32 data, otherwise a converted copy owned by this file.
    public func floats(_ name: String, shape expected: [Int]) throws -> UnsafePointer<Float> {
        guard let t = tensors[name] else {
            throw WendaoError(.unreadable, "\(file.path): missing tensor '\(name)'")
        }
        guard t.shape == expected else {
            throw WendaoError(.unreadable, "\(file.path): tensor '\(name)' has shape \(t.shape), expected \(expected)")
        }
        guard let base = file.bytes else {
            throw WendaoError(.unreadable, "\(file.path): empty file")
        }
        let n = t.elementCount
        let src = base + t.offset
        switch t.dtype {
        case .f32:
            if t.offset % MemoryLayout<Float>.alignment == 0 {
                return src.assumingMemoryBound(to: Float.self)
            }
            let dst = owned.allocate(n)
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4)
            return UnsafePointer(dst)
        case .f16:
            let dst = owned.allocate(n)
            for i in 0..<n {
                let lo = UInt16(src.load(fromByteOffset: 2 * i, as: UInt8.self))
                let hi = UInt16(src.load(fromByteOffset: 2 * i + 1, as: UInt8.self))
                dst[i] = halfToFloat(lo | hi << 8)
            }
            return UnsafePointer(dst)
        case .bf16:
            let dst = owned.allocate(n)
            for i in 0..<n {
                let lo = UInt32(src.load(fromByteOffset: 2 * i, as: UInt8.self))
                let hi = UInt32(src.load(fromByteOffset: 2 * i + 1, as: UInt8.self))
                dst[i] = Float(bitPattern: (lo | hi << 8) << 16)
            }
            return UnsafePointer(dst)
        default:
            throw WendaoError(
                .unsupported, "\(file.path): tensor '\(name)' has dtype \(t.dtype.rawValue), expected F32/F16/BF16")
        }
    }
}

/// Reads a little-endian IEEE half at `p` (any alignment) as Float.
@inline(__always)
func loadHalf(_ p: UnsafeRawPointer) -> Float {
    halfToFloat(UInt16(p.load(as: UInt8.self)) | UInt16(p.load(fromByteOffset: 1, as: UInt8.self)) << 8)
}

/// Converts IEEE half-precision bits to Float (subnormals, infinities and NaN included).
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        // Zero or subnormal: mantissa × 2^-24.
        let magnitude = Float(mantissa) * (1.0 / 16_777_216.0)
        return sign != 0 ? -magnitude : magnitude
    }
    if exponent == 31 {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}
