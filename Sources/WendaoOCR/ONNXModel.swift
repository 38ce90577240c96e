public import Foundation
import WendaoCore

/// A float32 (or small integer) tensor in row-major order. Integer tensors (shapes, indices) keep their
/// values as floats: the PP-OCR graphs only use them for shapes and small indices, exact in float32.
public struct Tensor: Sendable {
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// The values, `shape.reduce(1, *)` of them.
    public var data: [Float]

    /// Creates a tensor; `data.count` must equal the product of `shape`.
    public init(shape: [Int], data: [Float]) {
        precondition(data.count == shape.reduce(1, *), "tensor data does not match its shape")
        self.shape = shape
        self.data = data
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// Number of values.
    public var count: Int { data.count }
}

/// One attribute of a graph node.
enum ONNXAttribute: Sendable {
    case float(Float)
    case int(Int)
    case string(String)
    case tensor(Tensor)
    case floats([Float])
    case ints([Int])
}

/// One node of an ONNX graph.
struct ONNXNode: Sendable {
    var opType: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [String: ONNXAttribute]

    func int(_ name: String, _ fallback: Int) -> Int {
        if case .int(let v) = attributes[name] { return v }
        return fallback
    }

    func float(_ name: String, _ fallback: Float) -> Float {
        if case .float(let v) = attributes[name] { return v }
        return fallback
    }

    func ints(_ name: String) -> [Int]? {
        if case .ints(let v) = attributes[name] { return v }
        return nil
    }

    func string(_ name: String) -> String? {
        if case .string(let v) = attributes[name] { return v }
        return nil
    }
}

/// An ONNX model read straight from its protobuf encoding: the graph's nodes in order, its constant
/// tensors (initializers and `Constant` nodes), input and output names and the metadata properties.
///
/// Only what inference needs is decoded; the reader checks every length against the bytes it has, so a
/// damaged or truncated file is an error, never a crash.
///
/// ```swift
/// let model = try ONNXModel(contentsOf: URL(fileURLWithPath: "/models/ppocr/det.onnx"))
/// print(model.nodes.count, model.metadata["character"]?.count ?? 0)
/// ```
public struct ONNXModel: Sendable {
    var nodes: [ONNXNode]
    var constants: [String: Tensor]
    /// Names of the graph inputs that are not constants.
    public var inputs: [String]
    /// Names of the graph outputs.
    public var outputs: [String]
    /// `metadata_props` of the model (`character` holds the recogniser's dictionary).
    public var metadata: [String: String]
    /// The default-domain opset the model was exported with.
    public var opset: Int

    /// Reads a model file.
    ///
    /// - Throws: ``WendaoError`` `corrupt` naming the file when it is not a readable ONNX model.
    public init(contentsOf url: URL) throws {
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url, options: .mappedIfSafe)) } catch {
            throw WendaoError(.notFound, "cannot read model file \(url.lastPathComponent)")
        }
        do {
            try self.init(bytes: bytes)
        } catch let e as WendaoError {
            throw WendaoError(.corrupt, "\(url.lastPathComponent): \(e.message)")
        }
    }

    /// Parses model bytes.
    public init(bytes: [UInt8]) throws {
        nodes = []
        constants = [:]
        inputs = []
        outputs = []
        metadata = [:]
        opset = 0
        var sawGraph = false
        try bytes.withUnsafeBufferPointer { buf in
            var r = ProtoReader(buf, 0, buf.count)
            while let (field, wire) = try r.nextField() {
                switch (field, wire) {
                case (7, 2):
                    sawGraph = true
                    try parseGraph(try r.sub())
                case (8, 2):
                    var s = try r.sub()
                    var domain = ""
                    var version = 0
                    while let (f, w) = try s.nextField() {
                        if f == 1, w == 2 {
                            domain = try s.string()
                        } else if f == 2, w == 0 {
                            version = Int(truncatingIfNeeded: try s.varint())
                        } else {
                            try s.skip(w)
                        }
                    }
                    if domain.isEmpty || domain == "ai.onnx" { opset = version }
                case (14, 2):
                    var s = try r.sub()
                    var key = ""
                    var value = ""
                    while let (f, w) = try s.nextField() {
                        if f == 1, w == 2 {
                            key = try s.string()
                        } else if f == 2, w == 2 {
                            value = try s.string()
                        } else {
                            try s.skip(w)
                        }
                    }
                    metadata[key] = value
                default:
                    try r.skip(wire)
                }
            }
        }
        guard sawGraph, !nodes.isEmpty else { throw WendaoError(.corrupt, "not an ONNX model (no graph)") }
    }

    private mutating func parseGraph(_ reader: ProtoReader) throws {
        var r = reader
        var declaredInputs: [String] = []
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, 2):
                let node = try Self.parseNode(try r.sub())
                if node.opType == "Constant" {
                    guard let out = node.outputs.first, case .tensor(let t) = node.attributes["value"] else {
                        throw WendaoError(.corrupt, "a Constant node has no tensor value")
                    }
                    constants[out] = t
                } else {
                    nodes.append(node)
                }
            case (5, 2):
                let (name, t) = try Self.parseTensor(try r.sub())
                constants[name] = t
            case (11, 2), (12, 2):
                var s = try r.sub()
                var name = ""
                while let (f, w) = try s.nextField() {
                    if f == 1, w == 2 { name = try s.string() } else { try s.skip(w) }
                }
                if field == 11 { declaredInputs.append(name) } else { outputs.append(name) }
            default:
                try r.skip(wire)
            }
        }
        inputs = declaredInputs.filter { constants[$0] == nil }
    }

    private static func parseNode(_ reader: ProtoReader) throws -> ONNXNode {
        var r = reader
        var node = ONNXNode(opType: "", inputs: [], outputs: [], attributes: [:])
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, 2): node.inputs.append(try r.string())
            case (2, 2): node.outputs.append(try r.string())
            case (4, 2): node.opType = try r.string()
            case (5, 2):
                let (name, value) = try parseAttribute(try r.sub())
                if let value { node.attributes[name] = value }
            default: try r.skip(wire)
            }
        }
        return node
    }

    private static func parseAttribute(_ reader: ProtoReader) throws -> (String, ONNXAttribute?) {
        var r = reader
        var name = ""
        var value: ONNXAttribute?
        var floats: [Float] = []
        var ints: [Int] = []
        var type = 0
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, 2): name = try r.string()
            case (2, 5): value = .float(try r.fixed32Float())
            case (3, 0): value = .int(Int(truncatingIfNeeded: try r.varint()))
            case (4, 2): value = .string(try r.string())
            case (5, 2): value = .tensor(try parseTensor(try r.sub()).1)
            case (7, 5): floats.append(try r.fixed32Float())
            case (7, 2):
                var s = try r.sub()
                while !s.atEnd { floats.append(try s.fixed32Float()) }
            case (8, 0): ints.append(Int(truncatingIfNeeded: try r.varint()))
            case (8, 2):
                var s = try r.sub()
                while !s.atEnd { ints.append(Int(truncatingIfNeeded: try s.varint())) }
            case (20, 0): type = Int(try r.varint())
            default: try r.skip(wire)
            }
        }
        if type == 6 || (!floats.isEmpty && value == nil) { value = .floats(floats) }
        if type == 7 || (!ints.isEmpty && value == nil) { value = .ints(ints) }
        return (name, value)
    }

    /// Decodes a TensorProto: float32, float64, int32 and int64 data, raw or typed.
    static func parseTensor(_ reader: ProtoReader) throws -> (String, Tensor) {
        var r = reader
        var dims: [Int] = []
        var dataType = 0
        var name = ""
        var values: [Float] = []
        var raw: UnsafeBufferPointer<UInt8>?
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, 0): dims.append(Int(truncatingIfNeeded: try r.varint()))
            case (1, 2):
                var s = try r.sub()
                while !s.atEnd { dims.append(Int(truncatingIfNeeded: try s.varint())) }
            case (2, 0): dataType = Int(try r.varint())
            case (4, 5): values.append(try r.fixed32Float())
            case (4, 2):
                var s = try r.sub()
                values.reserveCapacity(s.remaining / 4)
                while !s.atEnd { values.append(try s.fixed32Float()) }
            case (5, 0), (7, 0): values.append(Float(Int64(bitPattern: try r.varint())))
            case (5, 2), (7, 2):
                var s = try r.sub()
                while !s.atEnd { values.append(Float(Int64(bitPattern: try s.varint()))) }
            case (8, 2): name = try r.string()
            case (9, 2): raw = try r.bytes()
            default: try r.skip(wire)
            }
        }
        guard dims.allSatisfy({ $0 >= 0 && $0 < 1 << 28 }) else { throw WendaoError(.corrupt, "bad tensor dimensions") }
        let count = dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
        guard count >= 0, count < 1 << 28 else { throw WendaoError(.corrupt, "tensor too large") }
        if let raw {
            values = []
            values.reserveCapacity(count)
            switch dataType {
            case 1:
                guard raw.count == count * 4 else { throw WendaoError(.corrupt, "tensor \(name) has the wrong size") }
                for i in 0..<count {
                    let bits =
                        UInt32(raw[4 * i]) | UInt32(raw[4 * i + 1]) << 8 | UInt32(raw[4 * i + 2]) << 16
                        | UInt32(raw[4 * i + 3]) << 24
                    values.append(Float(bitPattern: bits))
                }
            case 6:
                guard raw.count == count * 4 else { throw WendaoError(.corrupt, "tensor \(name) has the wrong size") }
                for i in 0..<count {
                    let bits =
                        UInt32(raw[4 * i]) | UInt32(raw[4 * i + 1]) << 8 | UInt32(raw[4 * i + 2]) << 16
                        | UInt32(raw[4 * i + 3]) << 24
                    values.append(Float(Int32(bitPattern: bits)))
                }
            case 7:
                guard raw.count == count * 8 else { throw WendaoError(.corrupt, "tensor \(name) has the wrong size") }
                for i in 0..<count {
                    var bits: UInt64 = 0
                    for k in 0..<8 { bits |= UInt64(raw[8 * i + k]) << (8 * UInt64(k)) }
                    // Slice ends such as INT64_MAX become a large float, clamped by the op.
                    values.append(Float(Int64(bitPattern: bits)))
                }
            default:
                throw WendaoError(.corrupt, "tensor \(name) has unsupported data type \(dataType)")
            }
        }
        guard values.count == count else { throw WendaoError(.corrupt, "tensor \(name) has the wrong size") }
        return (name, Tensor(shape: dims, data: values))
    }
}

/// Reads protobuf wire format from a byte range, checking every length.
struct ProtoReader {
    let buf: UnsafeBufferPointer<UInt8>
    var pos: Int
    let end: Int

    init(_ buf: UnsafeBufferPointer<UInt8>, _ pos: Int, _ end: Int) {
        self.buf = buf
        self.pos = pos
        self.end = end
    }

    var atEnd: Bool { pos >= end }
    var remaining: Int { end - pos }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard pos < end, shift < 64 else { throw WendaoError(.corrupt, "truncated protobuf varint") }
            let b = buf[pos]
            pos += 1
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func nextField() throws -> (Int, Int)? {
        if pos >= end { return nil }
        let key = try varint()
        let field = Int(truncatingIfNeeded: key >> 3)
        guard field > 0 else { throw WendaoError(.corrupt, "bad protobuf field number") }
        return (field, Int(key & 7))
    }

    mutating func bytes() throws -> UnsafeBufferPointer<UInt8> {
        let n = try varint()
        guard n <= UInt64(end - pos) else { throw WendaoError(.corrupt, "truncated protobuf field") }
        let out = UnsafeBufferPointer(rebasing: buf[pos..<(pos + Int(n))])
        pos += Int(n)
        return out
    }

    mutating func sub() throws -> ProtoReader {
        let n = try varint()
        guard n <= UInt64(end - pos) else { throw WendaoError(.corrupt, "truncated protobuf message") }
        let r = ProtoReader(buf, pos, pos + Int(n))
        pos += Int(n)
        return r
    }

    mutating func string() throws -> String { String(decoding: try bytes(), as: UTF8.self) }

    mutating func fixed32Float() throws -> Float {
        guard end - pos >= 4 else { throw WendaoError(.corrupt, "truncated protobuf float") }
        let bits =
            UInt32(buf[pos]) | UInt32(buf[pos + 1]) << 8 | UInt32(buf[pos + 2]) << 16 | UInt32(buf[pos + 3]) << 24
        pos += 4
        return Float(bitPattern: bits)
    }

    mutating func skip(_ wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1:
            guard end - pos >= 8 else { throw WendaoError(.corrupt, "truncated protobuf field") }
            pos += 8
        case 2: _ = try bytes()
        case 5:
            guard end - pos >= 4 else { throw WendaoError(.corrupt, "truncated protobuf field") }
            pos += 4
        default: throw WendaoError(.corrupt, "unsupported protobuf wire type \(wire)")
        }
    }
}
