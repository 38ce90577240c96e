public import WendaoCore

/// Structure-aware recursive splitting: sections → blocks → sentences → (only if one sentence is
/// too long) a hard cut.
///
/// Sizes are counted in *units* fair to both scripts (``weight(_:)``): a Chinese character or a digit
/// counts 1, any other character 0.4. A chunk of 200 units holds 200 Chinese characters or about 500
/// characters (80–90 words) of English, the sizes each language was measured best at; mixed text
/// falls in between.
///
/// The chunker is incremental: feed blocks with ``add(_:emit:)`` and call ``finish(emit:)``; memory
/// stays bounded by the chunk size, so arbitrarily long documents stream through it.
///
/// Offsets refer to the document text: every block's text in order, separated by a blank line
/// (`"\n\n"`), headings included. Chunks never span two sections; records (FAQ rows, table rows)
/// are always chunks of their own; overlap repeats whole trailing sentences of the previous chunk
/// in the same section.
///
/// ```swift
/// var chunker = Chunker(size: 200, overlap: 40)
/// var chunks: [ChunkDraft] = []
/// for block in document.blocks { chunker.add(block) { chunks.append($0) } }
/// chunker.finish { chunks.append($0) }
/// ```
public struct Chunker: Sendable {
    /// Target maximum chunk length in units (``weight(_:)``).
    public let size: Int
    /// Overlap carried into the next chunk, in units (whole sentences, at most this many).
    public let overlap: Int

    /// Tenths of a unit a scalar counts: 10 for CJK (Han, kana, Hangul, CJK punctuation, full-width
    /// forms: U+2E80 and above) and for ASCII digits (a number in Chinese text reads like its
    /// characters), 4 for anything else (Latin letters, spaces, punctuation).
    @inline(__always)
    public static func weight(_ v: UInt32) -> Int { v >= 0x2E80 || (v >= 0x30 && v <= 0x39) ? 10 : 4 }

    /// The size of `text` in units, rounded up.
    public static func units(_ text: String) -> Int {
        (text.unicodeScalars.reduce(0) { $0 + weight($1.value) } + 9) / 10
    }

    /// Document offset of the next block.
    private var offset = 0
    /// Document text from `windowStart` to `offset` (bounded: trimmed after every chunk).
    private var window: [UInt32] = []
    private var windowStart = 0
    /// Pending pieces of the current chunk as document ranges.
    private var pieces: [(start: Int, end: Int)] = []
    private var section: [String] = []
    private var page: Int?
    private var first = true

    /// Creates a chunker.
    public init(size: Int, overlap: Int) {
        self.size = max(size, 20)
        self.overlap = max(0, min(overlap, size / 2))
    }

    /// Adds the next block of the document.
    public mutating func add(_ block: Block, emit: (ChunkDraft) throws -> Void) rethrows {
        if !first {
            offset += 2
            window.append(0x0A)
            window.append(0x0A)
        }
        first = false
        let scalars = Array(block.text.unicodeScalars.map(\.value))
        let blockStart = offset
        offset += scalars.count
        window.append(contentsOf: scalars)
        switch block.kind {
        case .heading:
            try flush(emit: emit, keepOverlap: false)
            section = block.sectionPath
            page = block.page
        case .record:
            try flush(emit: emit, keepOverlap: false)
            section = block.sectionPath.isEmpty ? section : block.sectionPath
            page = block.page
            try addSentences(scalars, start: blockStart, emit: emit)
            try flush(emit: emit, keepOverlap: false)
        case .paragraph, .listItem:
            if block.sectionPath != section {
                try flush(emit: emit, keepOverlap: false)
                section = block.sectionPath
            }
            if pieces.isEmpty { page = block.page }
            let trimmed = Self.trim(scalars)
            if trimmed.end > trimmed.start {
                let len = weight(blockStart + trimmed.start, blockStart + trimmed.end)
                if pieces.isEmpty && len <= size * 10 {
                    pieces.append((blockStart + trimmed.start, blockStart + trimmed.end))
                } else if let f = pieces.first, weight(f.start, blockStart + trimmed.end) <= size * 10 {
                    pieces.append((blockStart + trimmed.start, blockStart + trimmed.end))
                } else {
                    try addSentences(scalars, start: blockStart, emit: emit)
                }
            }
        }
        trimWindow()
    }

    /// Emits the last chunk.
    public mutating func finish(emit: (ChunkDraft) throws -> Void) rethrows {
        try flush(emit: emit, keepOverlap: false)
    }

    /// Chunks a whole document in one call.
    public static func chunk(_ blocks: [Block], size: Int, overlap: Int) -> [ChunkDraft] {
        var c = Chunker(size: size, overlap: overlap)
        var out: [ChunkDraft] = []
        for b in blocks { c.add(b) { out.append($0) } }
        c.finish { out.append($0) }
        return out
    }

    /// The document text for `blocks`, as chunk offsets see it.
    public static func documentText(_ blocks: [Block]) -> String {
        blocks.map(\.text).joined(separator: "\n\n")
    }

    // MARK: - Internals

    private static func trim(_ s: [UInt32]) -> (start: Int, end: Int) {
        var a = 0
        var b = s.count
        while a < b && isSpace(s[a]) { a += 1 }
        while b > a && isSpace(s[b - 1]) { b -= 1 }
        return (a, b)
    }

    @inline(__always)
    private static func isSpace(_ v: UInt32) -> Bool {
        v == 0x20 || v == 0x09 || v == 0x0A || v == 0x3000 || v == 0xA0
    }

    private mutating func trimWindow() {
        let keepFrom = pieces.first?.start ?? offset
        if keepFrom > windowStart {
            let drop = min(keepFrom - windowStart, window.count)
            if drop > 4096 || pieces.isEmpty {
                window.removeFirst(drop)
                windowStart += drop
            }
        }
    }

    private mutating func addSentences(_ scalars: [UInt32], start: Int, emit: (ChunkDraft) throws -> Void) rethrows {
        for span in SentenceSplitter.spans(scalars) {
            var s = span.start
            while s < span.end {
                // Cut a too-long sentence at a soft boundary near the size limit.
                var e = span.end
                if Self.weight(scalars, s, e) > size * 10 {
                    e = softCut(scalars, from: s, limit: Self.limit(scalars, from: s, units: size))
                }
                if let f = pieces.first, weight(f.start, start + e) > size * 10 {
                    try flush(emit: emit, keepOverlap: true)
                    // The overlap must leave room for the new piece.
                    while let f2 = pieces.first, weight(f2.start, start + e) > size * 10 { pieces.removeFirst() }
                }
                pieces.append((start + s, start + e))
                s = e
                while s < span.end && Self.isSpace(scalars[s]) { s += 1 }
            }
        }
    }

    /// Tenths of units of `s[a..<b]`.
    private static func weight(_ s: [UInt32], _ a: Int, _ b: Int) -> Int {
        var w = 0
        for i in a..<b { w += weight(s[i]) }
        return w
    }

    /// Tenths of units of the document range `a..<b` (inside the window).
    private func weight(_ a: Int, _ b: Int) -> Int {
        let lo = max(0, a - windowStart)
        let hi = min(window.count, b - windowStart)
        guard hi > lo else { return 0 }
        var w = 0
        for i in lo..<hi { w += Self.weight(window[i]) }
        return w
    }

    /// The end of the longest run of `s` from `from` that fits in `units` (at least one scalar).
    private static func limit(_ s: [UInt32], from: Int, units: Int) -> Int {
        var w = 0
        var i = from
        while i < s.count {
            w += weight(s[i])
            if w > units * 10 { break }
            i += 1
        }
        return max(i, from + 1)
    }

    private func softCut(_ s: [UInt32], from: Int, limit: Int) -> Int {
        var i = limit
        let floor = from + (limit - from) / 2
        while i > floor {
            let v = s[i - 1]
            if v == 0x20 || v == 0xFF0C || v == 0x2C || v == 0x3001 || v == 0xFF1A || v == 0x3A {
                return i
            }
            i -= 1
        }
        return limit
    }

    private mutating func flush(emit: (ChunkDraft) throws -> Void, keepOverlap: Bool) rethrows {
        guard let firstPiece = pieces.first, let lastPiece = pieces.last else { return }
        let start = firstPiece.start
        let end = lastPiece.end
        var text = String.UnicodeScalarView()
        for v in window[(start - windowStart)..<(end - windowStart)] {
            if let u = Unicode.Scalar(v) { text.append(u) }
        }
        try emit(ChunkDraft(text: String(text), sectionPath: section, page: page, start: start, end: end))
        var kept: [(start: Int, end: Int)] = []
        if keepOverlap && overlap > 0 && pieces.count > 1 {
            for p in pieces.reversed() {
                if weight(p.start, end) > overlap * 10 { break }
                kept.insert(p, at: 0)
            }
        }
        pieces = kept
    }
}
