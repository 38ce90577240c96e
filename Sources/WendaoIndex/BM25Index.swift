import Foundation
public import WendaoCore

/// A BM25 inverted index over chunks: a memory-mapped segment file plus an in-memory delta and
/// tombstones, so that ingest and delete update it without a rebuild.
///
/// Opening maps the file (no parsing, no hash-map construction), so a search on a large knowledge
/// base starts in milliseconds. ``save(to:generation:)`` merges segment, delta and tombstones into
/// a new file atomically.
///
/// ```swift
/// let index = try BM25Index(path: "kb-1.bm25")
/// index.add(id: 42, terms: Analyzer().terms("首重12元"))
/// let hits = index.search(Analyzer().terms("首重多少钱"), k: 10)
/// try index.save(to: "kb-1.bm25", generation: 7)
/// ```
public final class BM25Index {
    // The state below is shared with the extensions: BM25Index+Mutation, +Search, +ImpactSearch and
    // +Persistence.

    /// Scoring parameters.
    public var parameters: BM25Parameters {
        didSet { normsAverage = -1 }
    }

    var segment: Segment?
    let delta = PostingsBuilder()
    /// Tombstones of segment documents.
    var deletedInSegment: [Bool] = []
    var deletedSegmentCount = 0
    var deletedSegmentLength: UInt64 = 0
    /// Tombstones of delta documents.
    var deletedInDelta: [Bool] = []
    var deletedDeltaCount = 0
    var deletedDeltaLength: UInt64 = 0
    /// external id → (in segment?, local number); built on first use.
    var locator: [Int64: (segment: Bool, doc: UInt32)]?

    // Scoring scratch, reused across queries.
    var accumulator: [Float] = []
    var deltaAccumulator: [Float] = []
    var norms: [Float] = []
    var normsAverage: Float = -1
    var touched: [UInt32] = []
    var scratchAcc: UnsafeMutablePointer<Float>?
    var scratchTouched: UnsafeMutablePointer<UInt32>?
    var scratchCapacity = 0
    var bitmap: [UInt64] = []

    deinit {
        scratchAcc?.deallocate()
        scratchTouched?.deallocate()
    }

    /// The generation stored in the file the index was opened from (0 for a new index).
    public internal(set) var generation: Int64 = 0

    /// Creates an empty index.
    public init(parameters: BM25Parameters = BM25Parameters()) {
        self.parameters = parameters
    }

    /// Opens the index saved at `path`; a missing file gives an empty index.
    public init(path: String, parameters: BM25Parameters = BM25Parameters()) throws(WendaoError) {
        self.parameters = parameters
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            let s = try Segment(path: path)
            segment = s
            generation = s.generation
            deletedInSegment = [Bool](repeating: false, count: s.documentCount)
        } catch SegmentError.corrupt(_, let why) {
            throw WendaoError(.corrupt, "index file \(path) is damaged (\(why)); run `wendao reindex`")
        } catch SegmentError.unreadable(_, let why) {
            throw WendaoError(.storage, "cannot read index file \(path): \(why)")
        } catch {
            throw WendaoError(.storage, "cannot read index file \(path)")
        }
    }

    /// Live documents.
    public var count: Int {
        (segment?.documentCount ?? 0) - deletedSegmentCount + delta.documentCount - deletedDeltaCount
    }

    var liveLength: UInt64 {
        (segment?.totalLength ?? 0) - deletedSegmentLength + delta.totalLength - deletedDeltaLength
    }

    /// All live ids, ascending.
    public func ids() -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity(count)
        if let s = segment { for d in 0..<s.documentCount where !deletedInSegment[d] { out.append(s.ids[d]) } }
        for (d, id) in delta.ids.enumerated() where !deletedInDelta[d] { out.append(id) }
        out.sort()
        return out
    }

    /// Whether there are changes not yet saved.
    public var hasUnsavedChanges: Bool { delta.documentCount > 0 || deletedSegmentCount > 0 }

    /// Internal consistency problems of the mapped file (empty when healthy).
    public func verify() -> [String] { segment?.verify() ?? [] }
}
