/// How a byte-level BPE vocabulary cuts text into words before merging — the regular expressions
/// of the model's `tokenizer.json`, chosen by `tokenizer.ggml.pre` as llama.cpp chooses them, and
/// matched by hand (no regex engine) with the same results.
///
/// Each style is a list of passes; a pass cuts every piece the previous pass left into smaller
/// ones, and the words of the last pass are what BPE merges.
enum PreTokenizer: Sendable, Equatable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// StarCoder and SmolLM: every digit (`\p{N}`) alone, then GPT-2's expression.
    case digitsThenGPT2
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3
    /// Qwen2: Llama 3's expression with single digits (`\p{N}`) instead of runs of up to three.
    case qwen2
    /// llama.cpp's fallback for vocabularies without a known pre-tokenizer: runs of punctuation,
    /// GPT-2's expression, runs of numbers, then ASCII digits in threes.
    case fallback

    /// The style, the BPE options and a warning (when the name is missing or unknown) for a
    /// `tokenizer.ggml.pre` value.
    static func named(_ name: String?) -> (style: PreTokenizer, ignoreMerges: Bool, addsBOS: Bool, warning: String?) {
        guard let name else {
            return (
                .fallback, false, false,
                "the file names no pre-tokenizer (tokenizer.ggml.pre); using llama.cpp's default, which may split text differently from the model's own tokenizer"
            )
        }
        switch name {
        case "default": return (.fallback, false, false, nil)
        case "gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4", "jina-es",
            "jina-de", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe", "gigachat", "a.x-4.0",
            "mellum", "modern-bert":
            return (.gpt2, false, false, nil)
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2":
            return (.digitsThenGPT2, false, false, nil)
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
            return (.llama3, true, true, nil)
        case "dbrx", "smaug-bpe":
            return (.llama3, false, false, nil)
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "megrez", "hunyuan", "solar-open":
            return (.qwen2, false, false, nil)
        default:
            return (
                .fallback, false, false,
                "pre-tokenizer '\(name)' is not one Wendao knows; using llama.cpp's default, which may split text differently from the model's own tokenizer"
            )
        }
    }

    /// The words of `text` (ranges of scalar indices, in order, covering all of it).
    func split(_ text: ScalarText) -> [Range<Int>] {
        let whole = [0..<text.count]
        let passes = PreTokenizerPasses(text)
        switch self {
        case .gpt2:
            return passes.gpt2(whole)
        case .digitsThenGPT2:
            return passes.gpt2(passes.isolate(whole, single: true) { _, c in c.isNumber })
        case .llama3:
            return passes.llama3Style(whole, digitGroup: 3)
        case .qwen2:
            return passes.llama3Style(whole, digitGroup: 1)
        case .fallback:
            // `[\p{P}\$\+<=>\^~\|]+`, GPT-2's expression, `\p{N}+`, `[0-9][0-9][0-9]`.
            let punctuation = passes.isolate(whole, single: false) { v, c in
                c.isPunctuation || v == 0x24 || v == 0x2B || (0x3C...0x3E).contains(v) || v == 0x5E || v == 0x7C
                    || v == 0x7E
            }
            let numbers = passes.isolate(passes.gpt2(punctuation), single: false) { _, c in c.isNumber }
            return passes.asciiDigitTriples(numbers)
        }
    }
}

/// A piece of text as Unicode scalar values with their classes.
struct ScalarText {
    /// The scalar values.
    var scalars: [UInt32] = []
    /// Their classes.
    var classes: [ScalarClass] = []
    /// The UTF-8 offset of each scalar, plus the total length at the end.
    var byteOffsets: [Int] = []

    var count: Int { scalars.count }

    /// Decodes `bytes` (valid UTF-8).
    init(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        scalars.reserveCapacity(bytes.count)
        classes.reserveCapacity(bytes.count)
        byteOffsets.reserveCapacity(bytes.count + 1)
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = UInt32(bytes[i])
            var value: UInt32
            var length: Int
            if b0 < 0x80 {
                value = b0
                length = 1
            } else if b0 < 0xE0 {
                value = b0 & 0x1F
                length = 2
            } else if b0 < 0xF0 {
                value = b0 & 0x0F
                length = 3
            } else {
                value = b0 & 0x07
                length = 4
            }
            length = min(length, n - i)
            for k in 1..<max(length, 1) { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
            scalars.append(value)
            classes.append(ScalarClass.of(value))
            byteOffsets.append(i)
            i += length
        }
        byteOffsets.append(n)
    }
}

/// The passes over one text. Each pass takes pieces (scalar ranges) and returns smaller ones; a
/// pass never looks across a piece's ends, as llama.cpp's splitters do not.
struct PreTokenizerPasses {
    let text: ScalarText

    init(_ text: ScalarText) { self.text = text }

    private static let apostrophe: UInt32 = 0x27
    private static let space: UInt32 = 0x20
    private static let cr: UInt32 = 0x0D
    private static let lf: UInt32 = 0x0A

    /// Cuts each piece into runs of scalars matching `predicate` (each matching scalar alone when
    /// `single`) and the stretches between them: the effect of splitting on `[class]+` (`[class]`).
    func isolate(_ pieces: [Range<Int>], single: Bool, _ predicate: (UInt32, ScalarClass) -> Bool) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(pieces.count)
        for piece in pieces {
            var start = piece.lowerBound
            var i = piece.lowerBound
            while i < piece.upperBound {
                guard predicate(text.scalars[i], text.classes[i]) else {
                    i += 1
                    continue
                }
                if i > start { out.append(start..<i) }
                var end = i + 1
                if !single {
                    while end < piece.upperBound, predicate(text.scalars[end], text.classes[end]) { end += 1 }
                }
                out.append(i..<end)
                start = end
                i = end
            }
            if start < piece.upperBound { out.append(start..<piece.upperBound) }
        }
        return out
    }

    /// The fallback's last pass, `[0-9][0-9][0-9]`: ASCII digits in threes from the left of each run.
    func asciiDigitTriples(_ pieces: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(pieces.count)
        func isDigit(_ i: Int) -> Bool { (0x30...0x39).contains(text.scalars[i]) }
        for piece in pieces {
            var start = piece.lowerBound
            var i = piece.lowerBound
            while i + 3 <= piece.upperBound {
                if isDigit(i), isDigit(i + 1), isDigit(i + 2) {
                    if i > start { out.append(start..<i) }
                    out.append(i..<(i + 3))
                    i += 3
                    start = i
                } else {
                    i += 1
                }
            }
            if start < piece.upperBound { out.append(start..<piece.upperBound) }
        }
        return out
    }

    /// The length of a contraction (`'s 't 'm 'd 're 've 'll`) at `i`, or 0; `anyCase` for `(?i:…)`.
    private func contraction(at i: Int, end: Int, anyCase: Bool) -> Int {
        guard text.scalars[i] == Self.apostrophe, i + 1 < end else { return 0 }
        func lower(_ v: UInt32) -> UInt32 { anyCase && (0x41...0x5A).contains(v) ? v + 0x20 : v }
        let a = lower(text.scalars[i + 1])
        // s t m d
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }
        guard i + 2 < end else { return 0 }
        let b = lower(text.scalars[i + 2])
        // re ve ll
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 }
        return 0
    }

    /// GPT-2's expression over each piece.
    func gpt2(_ pieces: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(pieces.count * 2)
        let classes = text.classes
        let scalars = text.scalars
        for piece in pieces {
            let end = piece.upperBound
            func cls(_ i: Int) -> ScalarClass? { i < end ? classes[i] : nil }
            var pos = piece.lowerBound
            while pos < end {
                let start = pos
                let c = contraction(at: pos, end: end, anyCase: false)
                if c > 0 {
                    pos += c
                    out.append(start..<pos)
                    continue
                }
                // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one kind.
                let first = scalars[pos] == Self.space ? pos + 1 : pos
                if let k = cls(first), !k.isWhitespace {
                    let kind = k.runKind
                    pos = first + 1
                    while let n = cls(pos), n.runKind == kind { pos += 1 }
                    out.append(start..<pos)
                    continue
                }
                var spaces = 0
                while let n = cls(pos + spaces), n.isWhitespace { spaces += 1 }
                if spaces > 1 && pos + spaces < end {
                    // `\s+(?!\S)`: the run but its last scalar, which goes with the next word.
                    pos += spaces - 1
                } else if spaces > 0 {
                    pos += spaces
                } else {
                    pos += 1
                }
                out.append(start..<pos)
            }
        }
        return out
    }

    /// Llama 3's expression over each piece; `digitGroup` is 3 for Llama 3 and 1 for Qwen2.
    func llama3Style(_ pieces: [Range<Int>], digitGroup: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(pieces.count * 2)
        let classes = text.classes
        let scalars = text.scalars
        for piece in pieces {
            let end = piece.upperBound
            func cls(_ i: Int) -> ScalarClass? { i < end ? classes[i] : nil }
            var pos = piece.lowerBound
            while pos < end {
                let start = pos
                let c = contraction(at: pos, end: end, anyCase: true)
                if c > 0 {
                    pos += c
                    out.append(start..<pos)
                    continue
                }
                let v = scalars[pos]
                let k = classes[pos]
                // `[^\r\n\p{L}\p{N}]?\p{L}+`
                if v != Self.cr && v != Self.lf && !k.isNumber && (k.isLetter || cls(pos + 1)?.isLetter == true) {
                    pos += 1
                    while let n = cls(pos), n.isLetter { pos += 1 }
                    out.append(start..<pos)
                    continue
                }
                // `\p{N}{1,3}` (or `\p{N}`): a run of numbers in groups from the left.
                if k.isNumber {
                    var groupStart = pos
                    while let n = cls(pos), n.isNumber {
                        pos += 1
                        if pos - groupStart >= digitGroup {
                            out.append(groupStart..<pos)
                            groupStart = pos
                        }
                    }
                    if pos > groupStart { out.append(groupStart..<pos) }
                    continue
                }
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*` (a lone space at the piece's end counts too, as in llama.cpp).
                let first = v == Self.space ? pos + 1 : pos
                if cls(first).map({ $0.isOther }) ?? true {
                    pos = first
                    while let n = cls(pos), n.isOther { pos += 1 }
                    while pos < end, scalars[pos] == Self.cr || scalars[pos] == Self.lf { pos += 1 }
                    out.append(start..<pos)
                    continue
                }
                var spaces = 0
                var afterLastNewline = 0
                while let n = cls(pos + spaces), n.isWhitespace {
                    let s = scalars[pos + spaces]
                    if s == Self.cr || s == Self.lf { afterLastNewline = pos + spaces + 1 }
                    spaces += 1
                }
                if afterLastNewline > 0 {
                    // `\s*[\r\n]+`
                    pos = afterLastNewline
                } else if spaces > 1 && pos + spaces < end {
                    // `\s+(?!\S)`
                    pos += spaces - 1
                } else if spaces > 0 {
                    pos += spaces
                } else {
                    pos += 1
                }
                out.append(start..<pos)
            }
        }
        return out
    }
}
