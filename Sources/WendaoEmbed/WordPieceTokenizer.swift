import Foundation
import WendaoCore

/// UTF-8 bytes used as a dictionary key. `String` keys would compare by canonical equivalence,
/// which would merge vocabulary entries that differ only in normalisation.
struct ByteKey: Hashable, Sendable {
    var bytes: [UInt8]
}

/// BERT's tokenizer: the "basic" pre-tokenizer (clean-up, CJK characters as single tokens,
/// punctuation split, optional lower-casing and accent stripping) followed by greedy
/// longest-match-first WordPiece with `##` continuation pieces, wrapped in `[CLS] … [SEP]`.
public struct WordPieceTokenizer: EncoderTokenizer {
    private let vocabulary: [ByteKey: Int32]
    /// Whether text is lower-cased before matching.
    public let lowercase: Bool
    /// Whether accents are removed (NFD, then combining marks dropped).
    public let stripAccents: Bool
    /// Id of `[UNK]`.
    public let unknownID: Int32
    /// Id of `[CLS]`.
    public let clsID: Int32
    /// Id of `[SEP]`.
    public let sepID: Int32
    /// Id of `[PAD]` (0 when the vocabulary has none).
    public let padID: Int32
    /// Words longer than this many characters become `[UNK]`.
    public let maxCharactersPerWord: Int

    /// Number of entries in the vocabulary.
    public var vocabularySize: Int { vocabulary.count }

    /// Builds a tokenizer from the vocabulary tokens in id order (as in `vocab.txt`).
    /// - Throws: ``WendaoError`` `.unreadable` when `[UNK]`, `[CLS]` or `[SEP]` is missing.
    public init(
        tokens: [String], lowercase: Bool = true, stripAccents: Bool? = nil, maxCharactersPerWord: Int = 100
    ) throws {
        var ids: [(String, Int32)] = []
        ids.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() { ids.append((t, Int32(i))) }
        try self.init(ids: ids, lowercase: lowercase, stripAccents: stripAccents,
                      maxCharactersPerWord: maxCharactersPerWord)
    }

    /// Builds a tokenizer from (token, id) pairs (as in `tokenizer.json`).
    public init(
        ids: [(String, Int32)], lowercase: Bool = true, stripAccents: Bool? = nil, maxCharactersPerWord: Int = 100
    ) throws {
        var vocab: [ByteKey: Int32] = [:]
        vocab.reserveCapacity(ids.count)
        for (token, id) in ids where vocab[ByteKey(bytes: Array(token.utf8))] == nil {
            vocab[ByteKey(bytes: Array(token.utf8))] = id
        }
        func special(_ name: String) throws -> Int32 {
            guard let id = vocab[ByteKey(bytes: Array(name.utf8))] else {
                throw WendaoError(.unreadable, "WordPiece vocabulary has no \(name) token")
            }
            return id
        }
        vocabulary = vocab
        unknownID = try special("[UNK]")
        clsID = try special("[CLS]")
        sepID = try special("[SEP]")
        padID = vocab[ByteKey(bytes: Array("[PAD]".utf8))] ?? 0
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase
        self.maxCharactersPerWord = max(1, maxCharactersPerWord)
    }

    /// Reads `vocab.txt` (one token per line, id = line number).
    public static func load(vocabFile: String, lowercase: Bool = true, stripAccents: Bool? = nil) throws
        -> WordPieceTokenizer
    {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: vocabFile))
        } catch {
            throw WendaoError(.unreadable, "\(vocabFile): cannot read vocabulary")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WendaoError(.unreadable, "\(vocabFile): vocabulary is not UTF-8")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        if lines.last == "" { lines.removeLast() }
        return try WordPieceTokenizer(tokens: lines, lowercase: lowercase, stripAccents: stripAccents)
    }

    /// Token ids of `text`: `[CLS]`, at most `maxLength − 2` word pieces, `[SEP]`.
    public func encode(_ text: String, maxLength: Int) -> [Int32] {
        let budget = max(0, maxLength - 2)
        var out: [Int32] = [clsID]
        out.reserveCapacity(min(budget, text.utf8.count) + 2)
        forEachPiece(text) { id in
            if out.count - 1 >= budget { return false }
            out.append(id)
            return true
        }
        out.append(sepID)
        return out
    }

    /// The text cut into consecutive windows of at most `maxLength − 2` word pieces, each as
    /// `[CLS] … [SEP]`: how ``TextEncoder`` embeds a text longer than its limit (like
    /// ``SentencePieceTokenizer/windows(_:maxLength:)``). There is always at least one window.
    public func windows(_ text: String, maxLength: Int) -> [[Int32]] {
        tokenWindows(pieces(text), maxLength: maxLength, open: clsID, close: sepID)
    }

    /// Number of tokens `text` produces without truncation, `[CLS]` and `[SEP]` included.
    public func tokenCount(_ text: String) -> Int {
        var n = 2
        forEachPiece(text) { _ in
            n += 1
            return true
        }
        return n
    }

    /// The word-piece ids of `text` without special tokens or truncation.
    public func pieces(_ text: String) -> [Int32] {
        var out: [Int32] = []
        forEachPiece(text) { id in
            out.append(id)
            return true
        }
        return out
    }

    // MARK: - Basic tokenizer

    /// Calls `body` with every piece id in order until it returns false.
    private func forEachPiece(_ text: String, _ body: (Int32) -> Bool) {
        var word: [Unicode.Scalar] = []
        var keepGoing = true
        func flush() {
            guard !word.isEmpty, keepGoing else {
                word.removeAll(keepingCapacity: true)
                return
            }
            keepGoing = wordPiece(word, body)
            word.removeAll(keepingCapacity: true)
        }
        for scalar in normalized(text) {
            if !keepGoing { return }
            if isWhitespace(scalar) {
                flush()
            } else if isPunctuation(scalar) || isCJK(scalar.value) {
                flush()
                if keepGoing { keepGoing = wordPiece([scalar], body) }
            } else {
                word.append(scalar)
            }
        }
        flush()
    }

    /// Clean-up, lower-casing and accent stripping, as a scalar sequence. Whitespace and
    /// control characters are handled here; CJK characters and punctuation by the splitter.
    private func normalized(_ text: String) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.unicodeScalars.count)
        var needsDecomposition = false
        for s in text.unicodeScalars {
            if s.value == 0 || s.value == 0xFFFD || isControl(s) { continue }
            if isWhitespace(s) {
                out.append(" ")
                continue
            }
            if stripAccents && s.value >= 0x80 { needsDecomposition = true }
            out.append(s)
        }
        if stripAccents && needsDecomposition {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: out)
            let decomposed = String(view).decomposedStringWithCanonicalMapping
            out = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(out.count)
            for s in out {
                if s.value < 0x80 {
                    lowered.append((0x41...0x5A).contains(s.value) ? Unicode.Scalar(s.value + 32)! : s)
                } else if s.properties.changesWhenLowercased {
                    lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                } else {
                    lowered.append(s)
                }
            }
            out = lowered
        }
        return out
    }

    /// Greedy longest-match-first split of one word; false when `body` asked to stop.
    private func wordPiece(_ word: [Unicode.Scalar], _ body: (Int32) -> Bool) -> Bool {
        if word.count > maxCharactersPerWord { return body(unknownID) }
        // Byte offsets of scalar boundaries, so candidate pieces are byte slices.
        var utf8: [UInt8] = []
        var boundary: [Int] = [0]
        for s in word {
            utf8.append(contentsOf: String(s).utf8)
            boundary.append(utf8.count)
        }
        var found: [Int32] = []
        var start = 0
        var key = ByteKey(bytes: [])
        while start < word.count {
            var end = word.count
            var match: Int32?
            while end > start {
                key.bytes.removeAll(keepingCapacity: true)
                if start > 0 { key.bytes.append(contentsOf: [0x23, 0x23]) }
                key.bytes.append(contentsOf: utf8[boundary[start]..<boundary[end]])
                if let id = vocabulary[key] {
                    match = id
                    break
                }
                end -= 1
            }
            guard let id = match else { return body(unknownID) }
            found.append(id)
            start = end
        }
        for id in found where !body(id) { return false }
        return true
    }
}

// MARK: - Character classes (as BERT defines them)

@inline(__always)
private func isWhitespace(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x20, 0x09, 0x0A, 0x0D: return true
    case 0..<0x80: return false
    default: return s.properties.isWhitespace
    }
}

@inline(__always)
private func isControl(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x09, 0x0A, 0x0D: return false
    case 0x20..<0x7F: return false
    default:
        switch s.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }
}

@inline(__always)
private func isPunctuation(_ s: Unicode.Scalar) -> Bool {
    let v = s.value
    if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
        return true
    }
    if v < 0x80 { return false }
    switch s.properties.generalCategory {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
        .finalPunctuation, .otherPunctuation:
        return true
    default:
        return false
    }
}

/// The CJK Unified Ideograph blocks BERT splits into single characters.
@inline(__always)
private func isCJK(_ v: UInt32) -> Bool {
    (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
        || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
        || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
}
