import Foundation
import WendaoCore

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
    /// k1 and b the impacts were computed with (the average length is recorded in the header too).
    let impactK1: Float
    let impactB: Float

    /// The mapping the pointers below point into.
    private let file: MappedFile
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
        let file: MappedFile
        do { file = try MappedFile(mapping: path) } catch { throw SegmentError(mapping: path, error) }
        let size = file.count
        guard size >= Segment.headerSize, let h = file.bytes else {
            throw SegmentError.corrupt(path, "file too short")
        }
        self.file = file
        func u64(_ o: Int) -> UInt64 { h.loadUnaligned(fromByteOffset: o, as: UInt64.self) }
        guard u64(0) == Segment.magic, h.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == Segment.version else {
            throw SegmentError.corrupt(path, "not a Wendao BM25 segment (or an older version)")
        }
        generation = Int64(bitPattern: u64(16))
        // Counts come from the file: refuse values that could overflow the layout arithmetic.
        let limit: UInt64 = 1 << 40
        guard u64(24) < limit, u64(32) < limit, u64(40) < limit, u64(48) < limit else {
            throw SegmentError.corrupt(path, "impossible counts in the header")
        }
        documentCount = Int(u64(24))
        termCount = Int(u64(32))
        tableCapacity = Int(u64(40))
        postingCount = Int(u64(48))
        totalLength = u64(56)
        impactK1 = h.loadUnaligned(fromByteOffset: 64, as: Float.self)
        impactB = h.loadUnaligned(fromByteOffset: 68, as: Float.self)
        let layout = Layout(documents: documentCount, capacity: tableCapacity, postings: postingCount)
        guard layout.end == size, tableCapacity > 0, tableCapacity & (tableCapacity - 1) == 0,
            termCount < tableCapacity, documentCount < Int(UInt32.max)
        else {
            throw SegmentError.corrupt(path, "sizes in the header do not match the file")
        }
        ids = h.advanced(by: layout.ids).assumingMemoryBound(to: Int64.self)
        lengths = h.advanced(by: layout.lengths).assumingMemoryBound(to: UInt32.self)
        table = h.advanced(by: layout.table)
        postingDocs = h.advanced(by: layout.docs).assumingMemoryBound(to: UInt32.self)
        postingTFs = h.advanced(by: layout.tfs).assumingMemoryBound(to: UInt16.self)
        postingImpacts = h.advanced(by: layout.impacts).assumingMemoryBound(to: Float.self)
    }

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
                // A damaged entry pointing outside the postings reads as "no postings".
                let start = e.load(fromByteOffset: 8, as: UInt64.self)
                guard start <= UInt64(postingCount), Int(start) + Int(count) <= postingCount else { return nil }
                return (Int(start), Int(count), e.load(fromByteOffset: 20, as: Float.self))
            }
            i = (i + 1) & mask
        }
    }

    /// Visits every term with its postings range (entries pointing outside the postings are skipped;
    /// ``verify()`` reports them).
    func forEachTerm(_ body: (UInt64, Int, Int) throws -> Void) rethrows {
        for i in 0..<tableCapacity {
            let e = table.advanced(by: i * Segment.entrySize)
            let count = e.load(fromByteOffset: 16, as: UInt32.self)
            if count == 0 { continue }
            let start = e.load(fromByteOffset: 8, as: UInt64.self)
            guard start <= UInt64(postingCount), Int(start) + Int(count) <= postingCount else { continue }
            try body(e.load(as: UInt64.self), Int(start), Int(count))
        }
    }

    /// Term-table entries whose postings range lies outside the file.
    func entriesOutside() -> Int {
        var n = 0
        for i in 0..<tableCapacity {
            let e = table.advanced(by: i * Segment.entrySize)
            let count = e.load(fromByteOffset: 16, as: UInt32.self)
            if count == 0 { continue }
            let start = e.load(fromByteOffset: 8, as: UInt64.self)
            if start > UInt64(postingCount) || Int(start) + Int(count) > postingCount { n += 1 }
        }
        return n
    }

    /// Verifies internal consistency (posting ranges, doc numbers, ascending order); each kind of
    /// problem is reported once, with the number of terms it affects.
    func verify() -> [String] {
        var problems: [String] = []
        var total = 0
        var terms = 0
        let outside = entriesOutside()
        var disordered = 0
        forEachTerm { _, start, count in
            terms += 1
            total += count
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
        if terms + outside != termCount { problems.append("term count \(terms) ≠ header \(termCount)") }
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

    /// A file of `path` that could not be mapped, in the words segment and vector files use.
    init(mapping path: String, _ failure: MappedFile.Failure) {
        switch failure.step {
        case .open: self = .unreadable(path, failure.reason)
        case .stat: self = .unreadable(path, "stat failed")
        case .notRegularFile, .map: self = .unreadable(path, "mmap failed")
        }
    }
}

/// Writes segment files.
enum SegmentWriter {
    /// Writes a segment atomically (temporary file, fsync, rename). Sections are streamed through
    /// small buffers, so memory beyond the term table stays constant whatever the index size.
    static func write(
        path: String, generation: Int64, ids: [Int64], lengths: [UInt32], k1: Float, b: Float, termCount: Int,
        postingCount: Int,
        forEachTerm: ((UInt64, UnsafeBufferPointer<UInt32>, UnsafeBufferPointer<UInt16>) -> Void) -> Void
    ) throws {
        var capacity = 16
        while capacity < termCount * 2 { capacity <<= 1 }
        let layout = Segment.Layout(documents: ids.count, capacity: capacity, postings: postingCount)
        try IndexFileWriter.write(path: path, size: layout.end) { fd in
            // Header.
            var header = [UInt8](repeating: 0, count: Segment.headerSize)
            let total = lengths.reduce(UInt64(0)) { $0 + UInt64($1) }
            let average = ids.isEmpty ? 1 : max(Float(Double(total) / Double(ids.count)), 1e-6)
            header.withUnsafeMutableBytes { h in
                h.storeBytes(of: Segment.magic, toByteOffset: 0, as: UInt64.self)
                h.storeBytes(of: Segment.version, toByteOffset: 8, as: UInt32.self)
                h.storeBytes(of: UInt64(bitPattern: generation), toByteOffset: 16, as: UInt64.self)
                h.storeBytes(of: UInt64(ids.count), toByteOffset: 24, as: UInt64.self)
                h.storeBytes(of: UInt64(termCount), toByteOffset: 32, as: UInt64.self)
                h.storeBytes(of: UInt64(capacity), toByteOffset: 40, as: UInt64.self)
                h.storeBytes(of: UInt64(postingCount), toByteOffset: 48, as: UInt64.self)
                h.storeBytes(of: total, toByteOffset: 56, as: UInt64.self)
                h.storeBytes(of: k1, toByteOffset: 64, as: Float.self)
                h.storeBytes(of: b, toByteOffset: 68, as: Float.self)
                h.storeBytes(of: average, toByteOffset: 72, as: Float.self)
            }
            try header.withUnsafeBytes { try IndexFileWriter.pwriteAll(fd, $0, at: 0) }
            try ids.withUnsafeBytes { try IndexFileWriter.pwriteAll(fd, $0, at: layout.ids) }
            try lengths.withUnsafeBytes { try IndexFileWriter.pwriteAll(fd, $0, at: layout.lengths) }
            let norms = lengths.map { k1 * (1 - b + b * Float($0) / average) }
            var table = [UInt8](repeating: 0, count: capacity * Segment.entrySize)
            var docsOut = IndexFileWriter.Stream(fd: fd, offset: layout.docs, capacity: 1 << 20)
            var tfsOut = IndexFileWriter.Stream(fd: fd, offset: layout.tfs, capacity: 1 << 20)
            var impactsOut = IndexFileWriter.Stream(fd: fd, offset: layout.impacts, capacity: 1 << 20)
            var impacts: [Float] = []
            var cursor = 0
            var written = 0
            var failure: (any Error)?
            let mask = capacity - 1
            forEachTerm { term, docs, tfs in
                guard docs.count > 0, failure == nil else { return }
                table.withUnsafeMutableBytes { t in
                    var i = Int(truncatingIfNeeded: term) & mask
                    while t.load(fromByteOffset: i * Segment.entrySize + 16, as: UInt32.self) != 0 {
                        i = (i + 1) & mask
                    }
                    let e = i * Segment.entrySize
                    impacts.removeAll(keepingCapacity: true)
                    var maxImpact: Float = 0
                    for k in 0..<docs.count {
                        let tf = Float(tfs[k])
                        let impact = tf * (k1 + 1) / (tf + norms[Int(docs[k])])
                        impacts.append(impact)
                        maxImpact = max(maxImpact, impact)
                    }
                    t.storeBytes(of: term, toByteOffset: e, as: UInt64.self)
                    t.storeBytes(of: UInt64(cursor), toByteOffset: e + 8, as: UInt64.self)
                    t.storeBytes(of: UInt32(docs.count), toByteOffset: e + 16, as: UInt32.self)
                    t.storeBytes(of: maxImpact, toByteOffset: e + 20, as: Float.self)
                }
                do {
                    try docsOut.append(UnsafeRawBufferPointer(docs))
                    try tfsOut.append(UnsafeRawBufferPointer(tfs))
                    try impacts.withUnsafeBytes { try impactsOut.append($0) }
                } catch {
                    failure = error
                }
                cursor += docs.count
                written += 1
            }
            if let failure { throw failure }
            try docsOut.flush()
            try tfsOut.flush()
            try impactsOut.flush()
            try table.withUnsafeBytes { try IndexFileWriter.pwriteAll(fd, $0, at: layout.table) }
            guard cursor == postingCount && written == termCount else {
                throw SegmentError.corrupt(path, "segment writer: term or posting counts disagree")
            }
        }
    }
}
