public import WendaoCore

/// A GGUF model file (versions 2 and 3), memory-mapped: its metadata, its tensor table, and where
/// each tensor's data lies.
///
/// Every offset, size, count and string length is checked against the file before it is used, so a
/// damaged or hostile file is a ``WendaoError`` (`corrupt` or `unsupported`) naming what is wrong —
/// never a crash or an allocation the file does not justify.
///
/// ```swift
/// let model = try GGUFFile(path: "/models/SmolLM2-135M-Instruct.Q4_1.gguf")
/// model.metadata["general.architecture"]?.string      // "llama"
/// model.tensors.first { $0.name == "token_embd.weight" }?.type   // .q4_1
/// ```
public final class GGUFFile: Sendable {
    /// The file's format version (2 or 3).
    public let version: UInt32
    /// Metadata by key, in file order in ``metadataKeys``.
    public let metadata: [String: GGUFValue]
    /// The metadata keys in the order the file lists them.
    public let metadataKeys: [String]
    /// The tensors, in file order.
    public let tensors: [GGUFTensor]
    /// The alignment of tensor data (`general.alignment`, default 32).
    public let alignment: Int
    /// Where the tensor data section starts in the file.
    public let dataOffset: Int
    /// The file's size in bytes.
    public let fileSize: Int
    /// The path it was opened from.
    public let path: String
    private let file: MappedFile

    /// Longest string (a key, a value, a tensor name) accepted, in bytes.
    public static let maximumStringBytes = 1 << 24
    /// Deepest nesting of arrays accepted.
    public static let maximumArrayDepth = 4

    /// Maps and reads `path`.
    public init(path: String) throws(WendaoError) {
        self.path = path
        file = try MappedFile(path: path)
        fileSize = file.count
        guard let base = file.bytes, file.count >= 24 else {
            throw WendaoError(.corrupt, "\(path) is too short to be a GGUF file")
        }
        var r = GGUFReader(base: base, count: file.count, path: path)
        let magic = try r.u32("the magic number")
        guard magic == 0x4655_4747 else {
            throw WendaoError(.unsupported, "\(path) is not a GGUF file (no 'GGUF' magic)")
        }
        version = try r.u32("the version")
        guard version == 2 || version == 3 else {
            throw WendaoError(.unsupported, "\(path) is GGUF version \(version); versions 2 and 3 are supported")
        }
        let tensorCount = try r.u64("the tensor count")
        let kvCount = try r.u64("the metadata count")
        // Each entry takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor at least
        // 8 + 4 + 4 + 8 bytes: counts the file cannot hold are refused before any allocation.
        guard kvCount <= UInt64(r.remaining / 13) else {
            throw WendaoError(.corrupt, "\(path): \(kvCount) metadata entries cannot fit in the file")
        }
        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(Int(kvCount))
        for _ in 0..<Int(kvCount) {
            let key = try r.string("a metadata key")
            let type = try r.u32("the type of '\(key)'")
            let value = try r.value(type: type, depth: 0, what: key)
            guard metadata[key] == nil else {
                throw WendaoError(.corrupt, "\(path): metadata key '\(key)' appears twice")
            }
            metadata[key] = value
            keys.append(key)
        }
        guard tensorCount <= UInt64(r.remaining / 24) else {
            throw WendaoError(.corrupt, "\(path): \(tensorCount) tensors cannot fit in the file")
        }
        var infos: [(name: String, dims: [Int], type: UInt32, offset: UInt64)] = []
        infos.reserveCapacity(Int(tensorCount))
        for _ in 0..<Int(tensorCount) {
            let name = try r.string("a tensor name")
            let nDims = try r.u32("the dimensions of '\(name)'")
            guard (1...4).contains(nDims) else {
                throw WendaoError(.corrupt, "\(path): tensor '\(name)' has \(nDims) dimensions (1 to 4 are valid)")
            }
            var dims: [Int] = []
            for _ in 0..<nDims {
                let d = try r.u64("a dimension of '\(name)'")
                guard d >= 1, d <= UInt64(Int32.max) else {
                    throw WendaoError(.corrupt, "\(path): tensor '\(name)' has a dimension of \(d)")
                }
                dims.append(Int(d))
            }
            let type = try r.u32("the type of '\(name)'")
            let offset = try r.u64("the offset of '\(name)'")
            infos.append((name, dims, type, offset))
        }
        var align = 32
        if let a = metadata["general.alignment"] {
            guard let v = a.integer, v >= 1, v <= 1 << 16, v & (v - 1) == 0 else {
                throw WendaoError(.corrupt, "\(path): general.alignment must be a power of two up to 65536")
            }
            align = Int(v)
        }
        alignment = align
        let start = (r.position + align - 1) / align * align
        guard start <= file.count else {
            throw WendaoError(.corrupt, "\(path): the tensor data section starts past the end")
        }
        dataOffset = start
        var names = Set<String>()
        var tensors: [GGUFTensor] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            guard names.insert(info.name).inserted else {
                throw WendaoError(.corrupt, "\(path): tensor '\(info.name)' appears twice")
            }
            guard let type = GGMLType(rawValue: info.type) else {
                throw WendaoError(
                    .unsupported,
                    "\(path): tensor '\(info.name)' has ggml type \(info.type), which Wendao does not read")
            }
            let (elements, overflow) = info.dims.reduce((1, false)) { acc, d in
                let m = acc.0.multipliedReportingOverflow(by: d)
                return (m.partialValue, acc.1 || m.overflow)
            }
            let (bytes, tooBig) = (elements / type.blockSize).multipliedReportingOverflow(by: type.blockBytes)
            guard !overflow, !tooBig, info.dims[0] % type.blockSize == 0 else {
                throw WendaoError(
                    .corrupt,
                    "\(path): tensor '\(info.name)' (\(info.dims)) is not a whole number of \(type.name) blocks")
            }
            guard info.offset % UInt64(align) == 0, info.offset <= UInt64(file.count - start),
                UInt64(bytes) <= UInt64(file.count - start) - info.offset
            else {
                throw WendaoError(
                    .corrupt,
                    "\(path): the data of tensor '\(info.name)' (\(bytes) bytes at \(info.offset)) lies outside the file or is misaligned"
                )
            }
            tensors.append(
                GGUFTensor(
                    name: info.name, shape: info.dims, type: type, offset: start + Int(info.offset), byteCount: bytes))
        }
        self.metadata = metadata
        metadataKeys = keys
        self.tensors = tensors
    }

    /// The bytes of `tensor` (valid while this file lives).
    public func data(of tensor: GGUFTensor) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: file.bytes!.advanced(by: tensor.offset), count: tensor.byteCount)
    }

    /// The model's architecture (`general.architecture`), or nil.
    public var architecture: String? { metadata["general.architecture"]?.string }
}

/// One tensor of a GGUF file.
public struct GGUFTensor: Sendable, Equatable {
    /// Its name (`blk.0.attn_q.weight`).
    public var name: String
    /// Its dimensions, innermost first (as GGUF stores them).
    public var shape: [Int]
    /// How its elements are stored.
    public var type: GGMLType
    /// Where its data starts in the file.
    public var offset: Int
    /// How many bytes its data takes.
    public var byteCount: Int

    /// The number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A metadata value.
public indirect enum GGUFValue: Sendable, Equatable {
    /// Any unsigned integer type.
    case unsigned(UInt64)
    /// Any signed integer type.
    case signed(Int64)
    /// FLOAT32 or FLOAT64.
    case float(Double)
    /// BOOL.
    case bool(Bool)
    /// STRING (UTF-8; invalid bytes replaced).
    case string(String)
    /// ARRAY of values of one type.
    case array([GGUFValue])

    /// The value as a string, when it is one.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value as an integer, when it is an integer that fits.
    public var integer: Int64? {
        switch self {
        case .unsigned(let u): u <= UInt64(Int64.max) ? Int64(u) : nil
        case .signed(let s): s
        default: nil
        }
    }

    /// The value as a number, when it is numeric.
    public var number: Double? {
        switch self {
        case .unsigned(let u): Double(u)
        case .signed(let s): Double(s)
        case .float(let f): f
        default: nil
        }
    }

    /// The elements, when it is an array.
    public var array: [GGUFValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// The ggml tensor types Wendao reads, with their block geometry.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, bf16 = 30

    /// Elements per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .i8, .i16, .i32, .i64, .f64, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: 256
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8: 1
        case .i64, .f64: 8
        case .q4_0: 18
        case .q4_1: 20
        case .q5_0: 22
        case .q5_1: 24
        case .q8_0: 34
        case .q8_1: 36
        case .q2_K: 84
        case .q3_K: 110
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        case .q8_K: 292
        }
    }

    /// The name llama.cpp prints (`Q4_K`, `F16`).
    public var name: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        case .i8: "I8"
        case .i16: "I16"
        case .i32: "I32"
        case .i64: "I64"
        case .f64: "F64"
        case .bf16: "BF16"
        }
    }
}

/// A cursor over the mapped bytes that checks every read against the end.
struct GGUFReader {
    let base: UnsafeRawPointer
    let count: Int
    let path: String
    var position = 0

    var remaining: Int { count - position }

    mutating func take(_ n: Int, _ what: String) throws(WendaoError) -> UnsafeRawPointer {
        guard n >= 0, n <= remaining else {
            throw WendaoError(.corrupt, "\(path) ends inside \(what) (at byte \(position))")
        }
        defer { position += n }
        return base.advanced(by: position)
    }

    mutating func u8(_ what: String) throws(WendaoError) -> UInt8 { try take(1, what).load(as: UInt8.self) }
    mutating func u16(_ what: String) throws(WendaoError) -> UInt16 {
        UInt16(littleEndian: try take(2, what).loadUnaligned(as: UInt16.self))
    }
    mutating func u32(_ what: String) throws(WendaoError) -> UInt32 {
        UInt32(littleEndian: try take(4, what).loadUnaligned(as: UInt32.self))
    }
    mutating func u64(_ what: String) throws(WendaoError) -> UInt64 {
        UInt64(littleEndian: try take(8, what).loadUnaligned(as: UInt64.self))
    }

    mutating func string(_ what: String) throws(WendaoError) -> String {
        let n = try u64("the length of \(what)")
        guard n <= UInt64(GGUFFile.maximumStringBytes), n <= UInt64(remaining) else {
            throw WendaoError(.corrupt, "\(path): \(what) claims \(n) bytes (at byte \(position))")
        }
        let p = try take(Int(n), what)
        return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(n)), as: UTF8.self)
    }

    /// The smallest number of bytes a value of `type` takes (for bounding array counts).
    static func minimumBytes(_ type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: 1
        case 2, 3: 2
        case 4, 5, 6: 4
        case 10, 11, 12: 8
        case 8: 8
        case 9: 12
        default: nil
        }
    }

    mutating func value(type: UInt32, depth: Int, what: String) throws(WendaoError) -> GGUFValue {
        switch type {
        case 0: return .unsigned(UInt64(try u8(what)))
        case 1: return .signed(Int64(Int8(bitPattern: try u8(what))))
        case 2: return .unsigned(UInt64(try u16(what)))
        case 3: return .signed(Int64(Int16(bitPattern: try u16(what))))
        case 4: return .unsigned(UInt64(try u32(what)))
        case 5: return .signed(Int64(Int32(bitPattern: try u32(what))))
        case 6: return .float(Double(Float(bitPattern: try u32(what))))
        case 7:
            let b = try u8(what)
            guard b <= 1 else { throw WendaoError(.corrupt, "\(path): '\(what)' is a boolean of value \(b)") }
            return .bool(b == 1)
        case 8: return .string(try string(what))
        case 9:
            guard depth < GGUFFile.maximumArrayDepth else {
                throw WendaoError(.corrupt, "\(path): '\(what)' nests arrays too deeply")
            }
            let elementType = try u32("the element type of '\(what)'")
            let n = try u64("the length of '\(what)'")
            guard let size = Self.minimumBytes(elementType) else {
                throw WendaoError(.corrupt, "\(path): '\(what)' has elements of unknown type \(elementType)")
            }
            guard n <= UInt64(remaining / size) else {
                throw WendaoError(.corrupt, "\(path): '\(what)' claims \(n) elements, more than the file holds")
            }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(n))
            for _ in 0..<Int(n) { items.append(try value(type: elementType, depth: depth + 1, what: what)) }
            return .array(items)
        case 10: return .unsigned(try u64(what))
        case 11: return .signed(Int64(bitPattern: try u64(what)))
        case 12: return .float(Double(bitPattern: try u64(what)))
        default: throw WendaoError(.corrupt, "\(path): '\(what)' has unknown value type \(type)")
        }
    }
}
