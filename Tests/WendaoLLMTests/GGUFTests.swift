import Foundation
import Testing
import WendaoCore
import WendaoTestSupport
@testable import WendaoLLM

/// Writes GGUF files for the tests, following the format description (not the reader's code).
struct GGUFWriter {
    var version: UInt32 = 3
    var metadata: [(String, UInt32, [UInt8])] = []
    var tensors: [(name: String, dims: [UInt64], type: UInt32, data: [UInt8])] = []
    var alignment = 32

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }

    mutating func add(_ key: String, string value: String) { metadata.append((key, 8, Self.str(value))) }
    mutating func add(_ key: String, u32 value: UInt32) { metadata.append((key, 4, Self.le(value))) }
    mutating func add(_ key: String, f32 value: Float) { metadata.append((key, 6, Self.le(value.bitPattern))) }
    mutating func add(_ key: String, strings: [String]) {
        metadata.append((key, 9, Self.le(UInt32(8)) + Self.le(UInt64(strings.count)) + strings.flatMap(Self.str)))
    }

    func bytes() -> [UInt8] {
        var out: [UInt8] =
            Array("GGUF".utf8) + Self.le(version) + Self.le(UInt64(tensors.count))
            + Self.le(UInt64(metadata.count))
        for (k, t, v) in metadata { out += Self.str(k) + Self.le(t) + v }
        var offset: UInt64 = 0
        var offsets: [UInt64] = []
        for t in tensors {
            offsets.append(offset)
            offset += UInt64(t.data.count)
            offset = (offset + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment)
        }
        for (t, o) in zip(tensors, offsets) {
            out +=
                Self.str(t.name) + Self.le(UInt32(t.dims.count)) + t.dims.flatMap(Self.le) + Self.le(t.type)
                + Self.le(o)
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out += t.data
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }
}

@Suite struct GGUFTests {
    func sample() -> GGUFWriter {
        var w = GGUFWriter()
        w.add("general.architecture", string: "llama")
        w.add("llama.context_length", u32: 2048)
        w.add("llama.rope.freq_base", f32: 10000)
        w.add("tokenizer.ggml.tokens", strings: ["<s>", "</s>", "你好", "hello"])
        w.tensors.append(
            ("token_embd.weight", [32, 4], 0, (0..<(32 * 4)).flatMap { GGUFWriter.le(Float($0).bitPattern) }))
        w.tensors.append(("output_norm.weight", [32], 1, Array(repeating: 0, count: 64)))
        w.tensors.append(("blk.0.attn_q.weight", [32, 2], 2, Array(repeating: 7, count: 2 * 18)))
        return w
    }

    func write(_ bytes: [UInt8], _ scratch: ScratchDirectory, _ name: String = "m.gguf") throws -> String {
        let url = scratch.child(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    @Test("Metadata of every kind, the tensor table, alignment and tensor data are read as written")
    func reads() throws {
        let scratch = try ScratchDirectory("gguf")
        defer { scratch.remove() }
        let f = try GGUFFile(path: try write(sample().bytes(), scratch))
        #expect(f.version == 3)
        #expect(f.architecture == "llama")
        #expect(f.metadata["llama.context_length"]?.integer == 2048)
        #expect(f.metadata["llama.rope.freq_base"]?.number == 10000)
        #expect(f.metadata["tokenizer.ggml.tokens"]?.array?.compactMap(\.string) == ["<s>", "</s>", "你好", "hello"])
        #expect(f.metadataKeys.first == "general.architecture")
        #expect(f.tensors.map(\.name) == ["token_embd.weight", "output_norm.weight", "blk.0.attn_q.weight"])
        #expect(f.tensors.map(\.type) == [.f32, .f16, .q4_0])
        #expect(f.tensors[2].byteCount == 36 && f.tensors[0].elementCount == 128)
        #expect(f.dataOffset % 32 == 0 && f.tensors.allSatisfy { $0.offset % 32 == 0 })
        let embd = f.data(of: f.tensors[0])
        #expect(embd.loadUnaligned(fromByteOffset: 4 * 5, as: Float.self) == 5)
        #expect(f.data(of: f.tensors[2]).allSatisfy { $0 == 7 })
    }

    @Test("A file cut at any byte is a clear error, never a crash")
    func truncated() throws {
        let scratch = try ScratchDirectory("gguf-cut")
        defer { scratch.remove() }
        let full = sample().bytes()
        // Every cut before the last tensor's data ends must fail; stepping keeps the test quick.
        var cut = 0
        while cut < full.count - 36 {
            let path = try write(Array(full.prefix(cut)), scratch, "cut.gguf")
            #expect(throws: WendaoError.self, "cut at \(cut)") { _ = try GGUFFile(path: path) }
            cut += cut < 200 ? 1 : 7
        }
    }

    @Test("Hostile counts, lengths, types, offsets and versions are refused before use")
    func hostile() throws {
        let scratch = try ScratchDirectory("gguf-hostile")
        defer { scratch.remove() }
        func refused(_ bytes: [UInt8], _ what: String) throws {
            let path = try write(bytes, scratch, "h.gguf")
            #expect(throws: WendaoError.self, "\(what)") { _ = try GGUFFile(path: path) }
        }
        let good = sample().bytes()
        var v = good
        v.replaceSubrange(4..<8, with: GGUFWriter.le(UInt32(1)))
        try refused(v, "version 1")
        var magic = good
        magic[0] = 0x47 ^ 0xFF
        try refused(magic, "magic")
        var counts = good
        counts.replaceSubrange(16..<24, with: GGUFWriter.le(UInt64.max))
        try refused(counts, "a metadata count of 2^64-1")
        var tensorsCount = good
        tensorsCount.replaceSubrange(8..<16, with: GGUFWriter.le(UInt64(1) << 40))
        try refused(tensorsCount, "a tensor count of 2^40")
        var key = good
        key.replaceSubrange(24..<32, with: GGUFWriter.le(UInt64(1) << 50))
        try refused(key, "a key length of 2^50")
        // An array claiming more elements than the file has bytes.
        var w = GGUFWriter()
        w.metadata.append(("x", 9, GGUFWriter.le(UInt32(4)) + GGUFWriter.le(UInt64(1) << 40)))
        try refused(w.bytes(), "an array of 2^40 elements")
        var nested = GGUFWriter()
        var deep: [UInt8] = GGUFWriter.le(UInt32(0)) + GGUFWriter.le(UInt64(0))
        for _ in 0..<8 { deep = GGUFWriter.le(UInt32(9)) + GGUFWriter.le(UInt64(1)) + deep }
        nested.metadata.append(("deep", 9, deep))
        try refused(nested.bytes(), "arrays nested 8 deep")
        var badType = GGUFWriter()
        badType.metadata.append(("t", 99, [0]))
        try refused(badType.bytes(), "an unknown value type")
        var dup = GGUFWriter()
        dup.add("a", u32: 1)
        dup.add("a", u32: 2)
        try refused(dup.bytes(), "a duplicate key")
        var bool = GGUFWriter()
        bool.metadata.append(("b", 7, [2]))
        try refused(bool.bytes(), "a boolean of 2")
        // Tensors: outside the file, misaligned, an unknown type, a partial block, too many dims.
        var outside = sample()
        outside.tensors[2].data = Array(repeating: 7, count: 18)  // half the declared blocks
        try refused(outside.bytes(), "tensor data past the end")
        var unknownType = sample()
        unknownType.tensors[1].type = 77
        try refused(unknownType.bytes(), "an unknown ggml type")
        var partial = sample()
        partial.tensors[2].dims = [30, 2]
        try refused(partial.bytes(), "a row that is not whole Q4_0 blocks")
        var dims = sample()
        dims.tensors[1].dims = [1, 1, 1, 1, 32]
        try refused(dims.bytes(), "five dimensions")
        var huge = sample()
        huge.tensors[1].dims = [UInt64(Int32.max), UInt64(Int32.max), UInt64(Int32.max)]
        try refused(huge.bytes(), "an element count that overflows")
        var align = sample()
        align.add("general.alignment", u32: 24)
        try refused(align.bytes(), "an alignment that is not a power of two")
        try refused([], "an empty file")
    }
}
