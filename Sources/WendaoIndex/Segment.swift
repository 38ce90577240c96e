import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An immutable, memory-mapped index segment file.
///
/// Layout (little-endian, every section 8-byte aligned):
/// header (96 bytes) · external ids (Int64 × docs) · lengths (UInt32 × docs) ·
/// term table (open addressing; 24-byte entries: hash, first posting, count, max impact) ·
/// posting doc numbers (UInt32) · posting term frequencies (UInt16) · posting impacts (Float32).
///
/// An impact is the BM25 term-frequency part `tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen))`
/// computed with the k1, b and average length stored in the header; a query multiplies it by idf.
/// The per-term maximum impact lets a query skip postings that cannot reach the top k.
final class Segment {
    static let magic: UInt64 = 0x3135_324D_4244_5757  // "WWDBM251"
    static let version: UInt32 = 2
    static let headerSize = 96
    static let entrySize = 24

    let documentCount: Int
    let termCount: Int
    let tableCapacity: Int
    let postingCount: Int
    let totalLength: UInt64
    let generation: Int64
    /// k1, b and average length the impacts were computed with.
    let impactK1: Float
    let impactB: Float
    let impactAverage: Float

    private let base: UnsafeMutableRawPointer
    private let mappedLength: Int
    let ids: UnsafePointer<Int64>
    let lengths: UnsafePointer<UInt32>
    private let table: UnsafeRawPointer
    let postingDocs: UnsafePointer<UInt32>
    let postingTFs: UnsafePointer<UInt16>
    let postingImpacts: UnsafePointer<Float>

    static func align8(_ x: Int) -> Int { (x + 7) & ~7 }

    struct Layout {
        var ids = 0, lengths = 0, table = 0, docs = 0, tfs = 0, impacts = 0, end = 0
        init(documents: Int, capacity: Int, postings: Int) {
            ids = Segment.headerSize
            lengths = ids + documents * 8
            table = Segment.align8(lengths + documents * 4)
            docs = table + capacity * Segment.entrySize
            tfs = Segment.align8(docs + postings * 4)
            impacts = Segment.align8(tfs + postings * 2)
            end = Segment.align8(impacts + postings * 4)
        }
    }

    /// Maps a segment file; throws when it is missing, truncated or of another format.
    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SegmentError.unreadable(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SegmentError.unreadable(path, "stat failed") }
        let size = Int(st.st_size)
        guard size >= Segment.headerSize else { throw SegmentError.corrupt(path, "file too short") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SegmentError.unreadable(path, "mmap failed")
        }
        base = p
        mappedLength = size
        let h = UnsafeRawPointer(p)
        func u64(_ o: Int) -> UInt64 { h.loadUnaligned(fromByteOffset: o, as: UInt64.self) }
        guard u64(0) == Segment.magic, h.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == Segment.version else {
            munmap(p, size)
            throw SegmentError.corrupt(path, "not a Wendao BM25 segment (or an older version)")
        }
        generation = Int64(bitPattern: u64(16))
        documentCount = Int(u64(24))
        termCount = Int(u64(32))
        tableCapacity = Int(u64(40))
        postingCount = Int(u64(48))
        totalLength = u64(56)
        impactK1 = h.loadUnaligned(fromByteOffset: 64, as: Float.self)
        impactB = h.loadUnaligned(fromByteOffset: 68, as: Float.self)
        impactAverage = h.loadUnaligned(fromByteOffset: 72, as: Float.self)
        let layout = Layout(documents: documentCount, capacity: tableCapacity, postings: postingCount)
        guard layout.end == size, tableCapacity > 0, tableCapacity & (tableCapacity - 1) == 0,
            termCount < tableCapacity, documentCount < Int(UInt32.max)
        else {
            munmap(p, size)
            throw SegmentError.corrupt(path, "sizes in the header do not match the file")
        }
        // Every term's postings must lie inside the file (cheap: one pass over the term table).
        var entries = 0
        for i in 0..<tableCapacity {
            let e = h.advanced(by: layout.table + i * Segment.entrySize)
            let count = Int(e.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
            if count == 0 { continue }
            entries += 1
            let start = e.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            if start > UInt64(postingCount) || Int(start) + count > postingCount {
                munmap(p, size)
                throw SegmentError.corrupt(path, "a term's postings lie outside the file")
            }
        }
        if entries != termCount {
            munmap(p, size)
            throw SegmentError.corrupt(path, "the term table does not match the header")
        }
        ids = h.advanced(by: layout.ids).assumingMemoryBound(to: Int64.self)
        lengths = h.advanced(by: layout.lengths).assumingMemoryBound(to: UInt32.self)
        table = h.advanced(by: layout.table)
        postingDocs = h.advanced(by: layout.docs).assumingMemoryBound(to: UInt32.self)
        postingTFs = h.advanced(by: layout.tfs).assumingMemoryBound(to: UInt16.self)
        postingImpacts = h.advanced(by: layout.impacts).assumingMemoryBound(to: Float.self)
    }

    deinit { munmap(base, mappedLength) }

    /// (first posting, count, max impact) for a term, or nil.
    @inline(__always)
    func postings(of term: UInt64) -> (start: Int, count: Int, maxImpact: Float)? {
        let mask = tableCapacity - 1
        var i = Int(truncatingIfNeeded: term) & mask
        while true {
            let e = table.advanced(by: i * Segment.entrySize)
            let count = e.load(fromByteOffset: 16, as: UInt32.self)
            if count == 0 { return nil }
            if e.load(as: UInt64.self) == term {
                return (
                    Int(e.load(fromByteOffset: 8, as: UInt64.self)), Int(count),
                    e.load(fromByteOffset: 20, as: Float.self)
                )
            }
            i = (i + 1) & mask
        }
    }

    /// Visits every term with its postings range.
    func forEachTerm(_ body: (UInt64, Int, Int) throws -> Void) rethrows {
        for i in 0..<tableCapacity {
            let e = table.advanced(by: i * Segment.entrySize)
            let count = e.load(fromByteOffset: 16, as: UInt32.self)
            if count == 0 { continue }
            try body(e.load(as: UInt64.self), Int(e.load(fromByteOffset: 8, as: UInt64.self)), Int(count))
        }
    }

    /// Verifies internal consistency (posting ranges, doc numbers, ascending order); each kind of
    /// problem is reported once, with the number of terms it affects.
    func verify() -> [String] {
        var problems: [String] = []
        var total = 0
        var terms = 0
        var outside = 0
        var disordered = 0
        forEachTerm { _, start, count in
            terms += 1
            total += count
            if start + count > postingCount {
                outside += 1
                return
            }
            var prev: Int64 = -1
            for k in start..<(start + count) {
                let d = Int64(postingDocs[k])
                if d <= prev || d >= Int64(documentCount) {
                    disordered += 1
                    return
                }
                prev = d
            }
        }
        if outside > 0 { problems.append("\(outside) terms have postings past the end of the file") }
        if disordered > 0 { problems.append("\(disordered) terms have postings out of order or out of range") }
        if terms != termCount { problems.append("term count \(terms) ≠ header \(termCount)") }
        if total != postingCount { problems.append("posting count \(total) ≠ header \(postingCount)") }
        var sum: UInt64 = 0
        for d in 0..<documentCount { sum += UInt64(lengths[d]) }
        if sum != totalLength { problems.append("document lengths do not add up") }
        return problems
    }
}

/// Low-level segment failures (mapped to WendaoError by the index).
enum SegmentError: Error {
    case unreadable(String, String)
    case corrupt(String, String)
}

/// Writes segment files.
enum SegmentWriter {
    /// One term's postings source: doc numbers (already remapped, ascending) and tfs.
    struct TermPostings {
        var term: UInt64
        var docs: [UInt32]
        var tfs: [UInt16]
    }

    /// Writes a segment atomically (temporary file, fsync, rename).
    static func write(
        path: String, generation: Int64, ids: [Int64], lengths: [UInt32], k1: Float, b: Float, termCount: Int,
        postingCount: Int,
        forEachTerm: ((UInt64, UnsafeBufferPointer<UInt32>, UnsafeBufferPointer<UInt16>) -> Void) -> Void
    ) throws {
        var capacity = 16
        while capacity < termCount * 2 { capacity <<= 1 }
        let layout = Segment.Layout(documents: ids.count, capacity: capacity, postings: postingCount)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: layout.end, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: layout.end)
        func put64(_ o: Int, _ v: UInt64) { buffer.storeBytes(of: v, toByteOffset: o, as: UInt64.self) }
        put64(0, Segment.magic)
        buffer.storeBytes(of: Segment.version, toByteOffset: 8, as: UInt32.self)
        put64(16, UInt64(bitPattern: generation))
        put64(24, UInt64(ids.count))
        put64(32, UInt64(termCount))
        put64(40, UInt64(capacity))
        put64(48, UInt64(postingCount))
        let total = lengths.reduce(UInt64(0)) { $0 + UInt64($1) }
        put64(56, total)
        let average = ids.isEmpty ? 1 : max(Float(Double(total) / Double(ids.count)), 1e-6)
        buffer.storeBytes(of: k1, toByteOffset: 64, as: Float.self)
        buffer.storeBytes(of: b, toByteOffset: 68, as: Float.self)
        buffer.storeBytes(of: average, toByteOffset: 72, as: Float.self)
        let norms = lengths.map { k1 * (1 - b + b * Float($0) / average) }
        ids.withUnsafeBytes { buffer.advanced(by: layout.ids).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        lengths.withUnsafeBytes {
            if $0.count > 0 { buffer.advanced(by: layout.lengths).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        let docsOut = buffer.advanced(by: layout.docs).assumingMemoryBound(to: UInt32.self)
        let tfsOut = buffer.advanced(by: layout.tfs).assumingMemoryBound(to: UInt16.self)
        let impactsOut = buffer.advanced(by: layout.impacts).assumingMemoryBound(to: Float.self)
        var cursor = 0
        var written = 0
        let mask = capacity - 1
        forEachTerm { term, docs, tfs in
            guard docs.count > 0 else { return }
            var i = Int(truncatingIfNeeded: term) & mask
            while buffer.load(fromByteOffset: layout.table + i * Segment.entrySize + 16, as: UInt32.self) != 0 {
                i = (i + 1) & mask
            }
            let e = layout.table + i * Segment.entrySize
            buffer.storeBytes(of: term, toByteOffset: e, as: UInt64.self)
            buffer.storeBytes(of: UInt64(cursor), toByteOffset: e + 8, as: UInt64.self)
            buffer.storeBytes(of: UInt32(docs.count), toByteOffset: e + 16, as: UInt32.self)
            (docsOut + cursor).update(from: docs.baseAddress!, count: docs.count)
            (tfsOut + cursor).update(from: tfs.baseAddress!, count: tfs.count)
            var maxImpact: Float = 0
            for i in 0..<docs.count {
                let tf = Float(tfs[i])
                let impact = tf * (k1 + 1) / (tf + norms[Int(docs[i])])
                impactsOut[cursor + i] = impact
                maxImpact = max(maxImpact, impact)
            }
            buffer.storeBytes(of: maxImpact, toByteOffset: e + 20, as: Float.self)
            cursor += docs.count
            written += 1
        }
        guard cursor == postingCount && written == termCount else {
            throw SegmentError.corrupt(path, "segment writer: term or posting counts disagree")
        }
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw SegmentError.unreadable(tmp, String(cString: strerror(errno))) }
        var off = 0
        while off < layout.end {
            let n = Glibc.write(fd, buffer + off, min(layout.end - off, 1 << 24))
            if n <= 0 {
                close(fd)
                unlink(tmp)
                throw SegmentError.unreadable(tmp, "write failed: \(String(cString: strerror(errno)))")
            }
            off += n
        }
        fsync(fd)
        close(fd)
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw SegmentError.unreadable(path, "rename failed")
        }
    }
}
