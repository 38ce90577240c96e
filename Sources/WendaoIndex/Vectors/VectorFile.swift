import Foundation
import WendaoCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An immutable, memory-mapped vector index file.
///
/// Layout (little-endian): a 128-byte header, then sections each starting 8-byte aligned (the two
/// matrices 64-byte aligned):
/// embedder id (UTF-8) · ids (Int64 × n) · tombstones (UInt8 × n) · levels (UInt8 × n, graph only) ·
/// int8 scales (Float32 × n, int8 only) · float32 matrix (n × dim) · int8 matrix (n × dim, int8
/// only) · level-0 links (UInt32 × n × (1 + 2M), graph only) · upper links (UInt32, graph only).
///
/// Header: magic, version, kind, generation, count, dimension, embedder length, flags, M,
/// efConstruction, efSearch, max level, entry node, seed, upper link words, tombstones, checksum.
/// The checksum covers everything except the two matrices (hashing 1.5 GB on every open would
/// defeat the mapping); damaged vectors give wrong scores but cannot crash, since every offset and
/// link is validated.
final class VectorFile {
    static let magic: UInt64 = 0x3130_4345_5644_5757  // "WWDVEC01"
    static let version: UInt32 = 1
    static let headerSize = 128
    static let flagInt8: UInt32 = 1
    static let flagGraph: UInt32 = 2
    static let maxEmbedderBytes = 1024

    let path: String
    let kind: UInt32
    let generation: Int64
    let count: Int
    let dimension: Int
    let embedder: String
    let hasInt8: Bool
    let hasGraph: Bool
    let m: Int
    let efConstruction: Int
    let efSearch: Int
    let maxLevel: Int
    let entry: Int
    let seed: UInt64
    let upperWords: Int
    let deletedCount: Int

    /// The mapping the pointers below point into.
    private let file: MappedFile
    let ids: UnsafePointer<Int64>
    let deleted: UnsafePointer<UInt8>
    let levels: UnsafePointer<UInt8>
    let scales: UnsafePointer<Float>
    let f32: UnsafePointer<Float>
    let i8: UnsafePointer<Int8>
    let level0: UnsafePointer<UInt32>
    let upper: UnsafePointer<UInt32>

    static func align(_ x: Int, _ a: Int) -> Int { (x + a - 1) & ~(a - 1) }

    /// Hash of the header bytes (with the checksum field already zeroed).
    static func hashHeader(_ header: [UInt8]) -> UInt64 {
        header.withUnsafeBytes { raw in
            guard let p = raw.baseAddress else { return 0 }
            return VectorKernels.hashWords(p, bytes: raw.count, seed: 0)
        }
    }

    /// Section offsets for the given shape.
    struct Layout {
        var embedder = 0, ids = 0, deleted = 0, levels = 0, scales = 0, f32 = 0, i8 = 0, level0 = 0, upper = 0
        var end = 0
        init(embedderBytes: Int, count n: Int, dimension d: Int, int8: Bool, graph: Bool, m: Int, upperWords: Int) {
            embedder = VectorFile.headerSize
            ids = VectorFile.align(embedder + embedderBytes, 8)
            deleted = ids + n * 8
            levels = VectorFile.align(deleted + n, 8)
            scales = VectorFile.align(levels + (graph ? n : 0), 8)
            f32 = VectorFile.align(scales + (int8 ? n * 4 : 0), 64)
            i8 = VectorFile.align(f32 + n * d * 4, 64)
            level0 = VectorFile.align(i8 + (int8 ? n * d : 0), 8)
            upper = level0 + (graph ? n * (2 * m + 1) * 4 : 0)
            end = VectorFile.align(upper + upperWords * 4, 8)
        }

        /// Byte ranges covered by the checksum (header first, with its checksum field zeroed).
        var hashedRanges: [Range<Int>] { [embedder..<f32, level0..<end] }
    }

    /// Reads only the stamp (embedder id, dimension) of an index file.
    static func stamp(path: String) throws -> (embedder: String, dimension: Int) {
        let file = try VectorFile(path: path)
        return (file.embedder, file.dimension)
    }

    /// Maps an index file; throws when it is missing, truncated, damaged or of another format.
    init(path: String) throws {
        self.path = path
        let file: MappedFile
        do { file = try MappedFile(mapping: path) } catch { throw SegmentError(mapping: path, error) }
        let size = file.count
        guard size >= VectorFile.headerSize, let h = file.bytes else {
            throw SegmentError.corrupt(path, "file too short")
        }
        func fail(_ why: String) -> SegmentError { SegmentError.corrupt(path, why) }
        func u32(_ o: Int) -> UInt32 { h.loadUnaligned(fromByteOffset: o, as: UInt32.self) }
        func u64(_ o: Int) -> UInt64 { h.loadUnaligned(fromByteOffset: o, as: UInt64.self) }
        guard u64(0) == VectorFile.magic else { throw fail("not a Wendao vector index") }
        guard u32(8) == VectorFile.version else { throw fail("vector index version \(u32(8)) is not supported") }
        let rawCount = u64(24)
        let rawDimension = u32(32)
        let embedderBytes = Int(u32(36))
        let flags = u32(40)
        let rawM = u32(44)
        let rawUpper = u64(72)
        guard rawCount < 1 << 32, rawDimension > 0, rawDimension <= 65_536,
            embedderBytes <= VectorFile.maxEmbedderBytes,
            flags & ~(VectorFile.flagInt8 | VectorFile.flagGraph) == 0, rawM <= 512, rawUpper < 1 << 40,
            u32(12) <= 2
        else { throw fail("impossible values in the header") }
        kind = u32(12)
        generation = Int64(bitPattern: u64(16))
        count = Int(rawCount)
        dimension = Int(rawDimension)
        hasInt8 = flags & VectorFile.flagInt8 != 0
        hasGraph = flags & VectorFile.flagGraph != 0
        m = Int(rawM)
        efConstruction = Int(u32(48))
        efSearch = Int(u32(52))
        maxLevel = Int(Int32(bitPattern: u32(56)))
        entry = Int(u32(60))
        seed = u64(64)
        upperWords = Int(rawUpper)
        deletedCount = Int(u64(80))
        let layout = Layout(
            embedderBytes: embedderBytes, count: count, dimension: dimension, int8: hasInt8, graph: hasGraph, m: m,
            upperWords: upperWords)
        guard layout.end == size else {
            throw fail(size < layout.end ? "file is truncated" : "sizes in the header do not match the file")
        }
        if hasGraph {
            guard m >= 2, count == 0 ? maxLevel == -1 : (maxLevel >= 0 && maxLevel <= 30 && entry < count) else {
                throw fail("graph header is inconsistent")
            }
        }
        // Checksum: header with the checksum field zeroed, then the hashed sections.
        var header = [UInt8](UnsafeRawBufferPointer(start: h, count: VectorFile.headerSize))
        header.withUnsafeMutableBytes { $0.storeBytes(of: 0, toByteOffset: 88, as: UInt64.self) }
        var sum = VectorFile.hashHeader(header)
        for r in layout.hashedRanges where !r.isEmpty {
            sum = VectorKernels.hashWords(h + r.lowerBound, bytes: r.count, seed: sum)
        }
        guard sum == u64(88) else { throw fail("checksum mismatch") }
        let nameBytes = UnsafeRawBufferPointer(start: h + layout.embedder, count: embedderBytes)
        embedder = String(decoding: nameBytes, as: UTF8.self)
        self.file = file
        ids = (h + layout.ids).assumingMemoryBound(to: Int64.self)
        deleted = (h + layout.deleted).assumingMemoryBound(to: UInt8.self)
        levels = (h + layout.levels).assumingMemoryBound(to: UInt8.self)
        scales = (h + layout.scales).assumingMemoryBound(to: Float.self)
        f32 = (h + layout.f32).assumingMemoryBound(to: Float.self)
        i8 = (h + layout.i8).assumingMemoryBound(to: Int8.self)
        level0 = (h + layout.level0).assumingMemoryBound(to: UInt32.self)
        upper = (h + layout.upper).assumingMemoryBound(to: UInt32.self)
    }

    /// Copies the graph into memory (it changes as vectors are added), validating every link.
    func loadGraph() throws -> HNSWGraph {
        let m0 = 2 * m
        var lv = [UInt8](UnsafeBufferPointer(start: levels, count: count))
        let l0 = [UInt32](UnsafeBufferPointer(start: level0, count: count * (m0 + 1)))
        var up: [[UInt32]] = []
        up.reserveCapacity(count)
        var cursor = 0
        let limit = UInt32(count)
        func bad(_ why: String) -> SegmentError { SegmentError.corrupt(path, "graph is damaged (\(why))") }
        for node in 0..<count {
            let b = node * (m0 + 1)
            let c = Int(l0[b])
            guard c <= m0 else { throw bad("too many links") }
            for i in 0..<c where l0[b + 1 + i] >= limit { throw bad("link out of range") }
            let level = Int(lv[node])
            guard level <= maxLevel else { throw bad("level above the top") }
            if level == 0 {
                up.append([])
                continue
            }
            let words = level * (m + 1)
            guard cursor + words <= upperWords else { throw bad("upper links past the end") }
            let list = [UInt32](UnsafeBufferPointer(start: upper + cursor, count: words))
            for l in 0..<level {
                let lb = l * (m + 1)
                let lc = Int(list[lb])
                guard lc <= m else { throw bad("too many links") }
                for i in 0..<lc {
                    let n = list[lb + 1 + i]
                    guard n < limit, Int(lv[Int(n)]) > l else { throw bad("upper link out of range") }
                }
            }
            up.append(list)
            cursor += words
        }
        guard cursor == upperWords else { throw bad("upper link count") }
        if count > 0 { guard Int(lv[entry]) == maxLevel else { throw bad("entry point") } }
        lv.reserveCapacity(count)
        return HNSWGraph(
            m: m, efConstruction: efConstruction, seed: seed, levels: lv, level0: l0, upper: up,
            entry: count > 0 ? entry : -1, maxLevel: count > 0 ? maxLevel : -1)
    }
}

/// Writes vector index files atomically: temporary file, sections streamed through a buffer,
/// checksum, fsync, rename.
enum VectorFileWriter {
    /// What to write.
    struct Contents {
        var kind: UInt32
        var generation: Int64
        var dimension: Int
        var embedder: String
        var int8: Bool
        /// Rows in output order: pointers for row i.
        var count: Int
        var id: (Int) -> Int64
        var deleted: (Int) -> Bool
        var f32: (Int) -> UnsafePointer<Float>
        var i8: (Int) -> (UnsafePointer<Int8>, Float)
        var graph: HNSWGraph?
        var efSearch: Int
        var m: Int
        var efConstruction: Int
        var seed: UInt64
    }

    static func write(path: String, _ c: Contents) throws {
        let n = c.count
        let d = c.dimension
        let name = Array(c.embedder.utf8)
        let graph = c.graph
        let m = graph?.m ?? c.m
        let upperWords = graph.map { g in g.upper.reduce(0) { $0 + $1.count } } ?? 0
        let layout = VectorFile.Layout(
            embedderBytes: name.count, count: n, dimension: d, int8: c.int8, graph: graph != nil, m: m,
            upperWords: upperWords)
        var header = [UInt8](repeating: 0, count: VectorFile.headerSize)
        var deletedCount = 0
        for i in 0..<n where c.deleted(i) { deletedCount += 1 }
        header.withUnsafeMutableBytes { h in
            h.storeBytes(of: VectorFile.magic, toByteOffset: 0, as: UInt64.self)
            h.storeBytes(of: VectorFile.version, toByteOffset: 8, as: UInt32.self)
            h.storeBytes(of: c.kind, toByteOffset: 12, as: UInt32.self)
            h.storeBytes(of: UInt64(bitPattern: c.generation), toByteOffset: 16, as: UInt64.self)
            h.storeBytes(of: UInt64(n), toByteOffset: 24, as: UInt64.self)
            h.storeBytes(of: UInt32(d), toByteOffset: 32, as: UInt32.self)
            h.storeBytes(of: UInt32(name.count), toByteOffset: 36, as: UInt32.self)
            let flags = (c.int8 ? VectorFile.flagInt8 : 0) | (graph != nil ? VectorFile.flagGraph : 0)
            h.storeBytes(of: flags, toByteOffset: 40, as: UInt32.self)
            h.storeBytes(of: UInt32(m), toByteOffset: 44, as: UInt32.self)
            h.storeBytes(of: UInt32(graph?.efConstruction ?? c.efConstruction), toByteOffset: 48, as: UInt32.self)
            h.storeBytes(of: UInt32(c.efSearch), toByteOffset: 52, as: UInt32.self)
            h.storeBytes(of: Int32(graph?.maxLevel ?? -1), toByteOffset: 56, as: Int32.self)
            h.storeBytes(of: UInt32(max(graph?.entry ?? 0, 0)), toByteOffset: 60, as: UInt32.self)
            h.storeBytes(of: graph?.seed ?? c.seed, toByteOffset: 64, as: UInt64.self)
            h.storeBytes(of: UInt64(upperWords), toByteOffset: 72, as: UInt64.self)
            h.storeBytes(of: UInt64(deletedCount), toByteOffset: 80, as: UInt64.self)
        }
        try IndexFileWriter.write(path: path, size: layout.end) { fd in
            var s = IndexFileWriter.Stream(fd: fd, offset: layout.embedder, capacity: 4 << 20)
            try name.withUnsafeBytes { try s.append($0) }
            try s.seek(layout.ids)
            for i in 0..<n { try s.append(c.id(i)) }
            for i in 0..<n { try s.append(UInt8(c.deleted(i) ? 1 : 0)) }
            if let graph {
                try s.seek(layout.levels)
                try graph.levels.withUnsafeBytes { try s.append($0) }
            }
            if c.int8 {
                try s.seek(layout.scales)
                for i in 0..<n { try s.append(c.i8(i).1) }
            }
            try s.seek(layout.f32)
            for i in 0..<n { try s.append(UnsafeRawBufferPointer(start: c.f32(i), count: d * 4)) }
            if c.int8 {
                try s.seek(layout.i8)
                for i in 0..<n { try s.append(UnsafeRawBufferPointer(start: c.i8(i).0, count: d)) }
            }
            if let graph {
                try s.seek(layout.level0)
                try graph.level0.withUnsafeBytes { try s.append($0) }
                for list in graph.upper where !list.isEmpty { try list.withUnsafeBytes { try s.append($0) } }
            }
            try s.flush()
            // Checksum over what was written (read back through a mapping).
            guard let p = mmap(nil, layout.end, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
                throw SegmentError.unreadable("", "mmap failed")
            }
            defer { munmap(p, layout.end) }
            var sum = VectorFile.hashHeader(header)
            for r in layout.hashedRanges where !r.isEmpty {
                sum = VectorKernels.hashWords(UnsafeRawPointer(p) + r.lowerBound, bytes: r.count, seed: sum)
            }
            header.withUnsafeMutableBytes { $0.storeBytes(of: sum, toByteOffset: 88, as: UInt64.self) }
            try header.withUnsafeBytes { try IndexFileWriter.pwriteAll(fd, $0, at: 0) }
        }
    }
}
