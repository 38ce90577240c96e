import Foundation
public import WendaoCore

/// Turns text into index terms, the same way for documents and queries.
///
/// - Chinese, Japanese and Korean runs: characters and overlapping character pairs, after folding
///   Traditional to Simplified (``ScriptFolding``), so a 繁體 query finds 简体 text and back.
/// - Words: lowercased, English stopwords dropped, light English stemming (plurals, -ed, -ing).
/// - Codes with digits (tracking numbers, SKUs, phone and postal codes, `SVC-CC-02`, `1-3kg`) stay
///   whole, and their parts are indexed too, so both `SA202611280001` and `400-820-5566` match whole.
///
/// Terms are 64-bit hashes of the normalised term text: no strings are allocated on the hot path.
///
/// ```swift
/// let terms = Analyzer().terms("國際快遞 SA202611280001")
/// ```
public struct Analyzer: Sendable {
    /// CJK handling.
    public var cjkMode: CJKMode
    /// Whether English words are stemmed.
    public var stemming: Bool
    /// Whether English stopwords are dropped.
    public var dropStopwords: Bool

    /// Creates an analyzer.
    public init(cjkMode: CJKMode = .unigramsAndBigrams, stemming: Bool = true, dropStopwords: Bool = true) {
        self.cjkMode = cjkMode
        self.stemming = stemming
        self.dropStopwords = dropStopwords
    }

    /// The terms of `text`, in order, with repetitions.
    public func terms(_ text: String) -> [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(text.utf8.count / 2)
        analyze(text, into: &out)
        return out
    }

    /// Appends the terms of `text` to `terms`.
    public func analyze(_ text: String, into terms: inout [UInt64]) {
        var sink = HashSink(terms: terms)
        terms = []
        scan(text, &sink)
        terms = sink.terms
    }

    /// The terms of `text` as readable strings (for explanations and tests; slower than hashes).
    public func tokens(_ text: String) -> [String] {
        var sink = StringSink()
        scan(text, &sink)
        return sink.tokens
    }

    /// The hash of one term given as text already in its final form (lowercase, stemmed).
    public static func hash(term: String) -> UInt64 {
        var h = TermHash()
        for u in term.unicodeScalars { h.add(u.value) }
        return TermHash.finish(h.value)
    }

    // MARK: - Scanner

    @inline(__always)
    private static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x3040...0x30FF).contains(v)
            || (0xAC00...0xD7AF).contains(v) || (0xF900...0xFAFF).contains(v) || (0x20000...0x2FFFF).contains(v)
    }

    @inline(__always)
    private static func isJoiner(_ v: UInt32) -> Bool {
        v == 0x2D || v == 0x5F || v == 0x2E || v == 0x2F  // - _ . /
    }

    private func scan<S: TermSink>(_ raw: String, _ sink: inout S) {
        var isASCII = true
        for b in raw.utf8 where b >= 0x80 {
            isASCII = false
            break
        }
        var word = WordBuffer()
        if isASCII {
            scanASCII(raw, &word, &sink)
            return
        }
        let text = raw.precomposedStringWithCompatibilityMapping
        var pendingJoiner: UInt32 = 0
        var prevCJK: UInt32 = 0
        var cjkRun = 0

        func endCJKRun(_ sink: inout S) {
            if cjkMode == .bigrams && cjkRun == 1 { sink.emit1(prevCJK) }
            prevCJK = 0
            cjkRun = 0
        }

        for u in text.unicodeScalars {
            var v = u.value
            // Word characters.
            var isWordChar = false
            if v < 0x80 {
                if v >= 0x41 && v <= 0x5A {
                    v += 0x20
                    isWordChar = true
                } else if (v >= 0x61 && v <= 0x7A) || (v >= 0x30 && v <= 0x39) {
                    isWordChar = true
                }
            } else if Self.isCJK(v) {
                if !word.isEmpty { flush(&word, &sink) }
                pendingJoiner = 0
                let f = ScriptFolding.fold(v)
                switch cjkMode {
                case .unigramsAndBigrams:
                    sink.emit1(f)
                    if cjkRun > 0 { sink.emit2(prevCJK, f) }
                case .bigrams:
                    if cjkRun > 0 { sink.emit2(prevCJK, f) }
                case .unigrams:
                    sink.emit1(f)
                }
                prevCJK = f
                cjkRun += 1
                continue
            } else if u.properties.isAlphabetic || u.properties.numericType != nil {
                isWordChar = true
                if u.properties.changesWhenLowercased, let l = u.properties.lowercaseMapping.unicodeScalars.first {
                    v = l.value
                }
            }
            if cjkRun > 0 { endCJKRun(&sink) }
            step(v, isWordChar: isWordChar, &word, &pendingJoiner, &sink)
        }
        if cjkRun > 0 { endCJKRun(&sink) }
        if !word.isEmpty { flush(&word, &sink) }
    }

    /// The same scan for ASCII-only text, over bytes (no normalisation or CJK handling needed).
    private func scanASCII<S: TermSink>(_ text: String, _ word: inout WordBuffer, _ sink: inout S) {
        var pendingJoiner: UInt32 = 0
        for b in text.utf8 {
            var v = UInt32(b)
            var isWordChar = false
            if v >= 0x41 && v <= 0x5A {
                v += 0x20
                isWordChar = true
            } else if (v >= 0x61 && v <= 0x7A) || (v >= 0x30 && v <= 0x39) {
                isWordChar = true
            }
            step(v, isWordChar: isWordChar, &word, &pendingJoiner, &sink)
        }
        if !word.isEmpty { flush(&word, &sink) }
    }

    /// One non-CJK scalar: extends the current word (a joiner such as `-` or `.` only between word
    /// characters), or ends it.
    @inline(__always)
    private func step<S: TermSink>(
        _ v: UInt32, isWordChar: Bool, _ word: inout WordBuffer, _ pendingJoiner: inout UInt32, _ sink: inout S
    ) {
        if isWordChar {
            if pendingJoiner != 0 {
                word.append(pendingJoiner, joiner: true)
                pendingJoiner = 0
            }
            word.append(v, joiner: false)
        } else if Self.isJoiner(v) && !word.isEmpty && pendingJoiner == 0 {
            pendingJoiner = v
        } else {
            pendingJoiner = 0
            if !word.isEmpty { flush(&word, &sink) }
        }
    }

    /// Emits the terms of one word-like run and clears it.
    private func flush<S: TermSink>(_ word: inout WordBuffer, _ sink: inout S) {
        defer { word.clear() }
        if word.hasDigit {
            sink.emit(word.scalars[...])
            guard word.hasJoiner || word.hasLetter else { return }
            // Parts: split at joiners and at letter/digit changes.
            var start = 0
            var i = 0
            let s = word.scalars
            func isDigit(_ v: UInt32) -> Bool { v >= 0x30 && v <= 0x39 }
            while i <= s.count {
                let boundary: Bool
                if i == s.count {
                    boundary = true
                } else if Self.isJoiner(s[i]) {
                    boundary = true
                } else if i > start && isDigit(s[i]) != isDigit(s[i - 1]) {
                    boundary = true
                } else {
                    boundary = false
                }
                if boundary {
                    if i > start && !(start == 0 && i == s.count) {
                        let part = s[start..<i]
                        if part.count > 1 || isDigit(part[part.startIndex]) { sink.emit(part) }
                    }
                    start = (i < s.count && Self.isJoiner(s[i])) ? i + 1 : i
                    if i < s.count && Self.isJoiner(s[i]) {
                        i += 1
                        continue
                    }
                    if i == s.count { break }
                }
                i += 1
            }
            return
        }
        // Letters only, possibly joined (cross-border, e.g.): each part on its own.
        var start = 0
        let s = word.scalars
        for i in 0...s.count where i == s.count || Self.isJoiner(s[i]) {
            if i > start { emitWord(s[start..<i], &sink, &word.stemScratch) }
            start = i + 1
        }
    }

    private func emitWord<S: TermSink>(_ part: ArraySlice<UInt32>, _ sink: inout S, _ stemScratch: inout [UInt32]) {
        var ascii = true
        for v in part where v >= 0x80 {
            ascii = false
            break
        }
        if ascii {
            if part.count < 2 { return }
            if dropStopwords && part.count <= Stopwords.maxLength {
                var h = TermHash()
                for v in part { h.add(v) }
                if Stopwords.contains(hash: h.value) { return }
            }
            if stemming && part.count > 3 {
                stemScratch.removeAll(keepingCapacity: true)
                stemScratch.append(contentsOf: part)
                EnglishStemmer.stem(&stemScratch)
                sink.emit(stemScratch[...])
                return
            }
        }
        sink.emit(part)
    }
}

/// A word being collected by the scanner.
struct WordBuffer {
    var scalars: [UInt32] = []
    var stemScratch: [UInt32] = []
    var hasDigit = false
    var hasLetter = false
    var hasJoiner = false

    init() { scalars.reserveCapacity(32) }

    var isEmpty: Bool { scalars.isEmpty }

    @inline(__always)
    mutating func append(_ v: UInt32, joiner: Bool) {
        scalars.append(v)
        if joiner {
            hasJoiner = true
        } else if v >= 0x30 && v <= 0x39 {
            hasDigit = true
        } else {
            hasLetter = true
        }
    }

    mutating func clear() {
        scalars.removeAll(keepingCapacity: true)
        hasDigit = false
        hasLetter = false
        hasJoiner = false
    }
}

/// 64-bit FNV-1a over scalar values with a final avalanche.
struct TermHash {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325

    @inline(__always)
    mutating func add(_ v: UInt32) {
        value = (value ^ UInt64(v)) &* 0x0000_0100_0000_01b3
    }

    @inline(__always)
    static func finish(_ h: UInt64) -> UInt64 {
        var x = h
        x ^= x >> 33
        x = x &* 0xff51_afd7_ed55_8ccd
        x ^= x >> 33
        x = x &* 0xc4ce_b9fe_1a85_ec53
        x ^= x >> 33
        return x
    }
}

protocol TermSink {
    mutating func emit(_ scalars: ArraySlice<UInt32>)
    mutating func emit1(_ a: UInt32)
    mutating func emit2(_ a: UInt32, _ b: UInt32)
}

struct HashSink: TermSink {
    var terms: [UInt64]

    @inline(__always)
    mutating func emit(_ scalars: ArraySlice<UInt32>) {
        var h = TermHash()
        for v in scalars { h.add(v) }
        terms.append(TermHash.finish(h.value))
    }

    @inline(__always)
    mutating func emit1(_ a: UInt32) {
        var h = TermHash()
        h.add(a)
        terms.append(TermHash.finish(h.value))
    }

    @inline(__always)
    mutating func emit2(_ a: UInt32, _ b: UInt32) {
        var h = TermHash()
        h.add(a)
        h.add(b)
        terms.append(TermHash.finish(h.value))
    }
}

struct StringSink: TermSink {
    var tokens: [String] = []

    mutating func emit(_ scalars: ArraySlice<UInt32>) {
        var s = String.UnicodeScalarView()
        for v in scalars { if let u = Unicode.Scalar(v) { s.append(u) } }
        tokens.append(String(s))
    }

    mutating func emit1(_ a: UInt32) { emit([a][...]) }

    mutating func emit2(_ a: UInt32, _ b: UInt32) { emit([a, b][...]) }
}
