/// Cleans a streamed answer as it arrives: normalises citation markers, drops markers that point at
/// no source, and removes images that would make the reader's browser fetch a remote URL.
///
/// Markers models actually write become `[n]`:
///
/// | written                                   | becomes        |
/// |-------------------------------------------|----------------|
/// | `[1]`, `【1】`, `［１］`, `[^1]`            | `[1]`          |
/// | `[1, 2]`, `[1,2]`, `[1、2]`, `【1，2】`     | `[1][2]`       |
/// | `[1-3]`, `[1–3]`                          | `[1][2][3]`    |
/// | `[source 1]`, `[Source: 2]`, `[来源1]`      | `[1]`, `[2]`   |
///
/// Numbers have one to three digits; a range spans at most 20. A marker number of 0 or above
/// `sourceCount` is removed and recorded in ``invalidMarkers``; valid ones are recorded in
/// ``cited`` and ``citedInOrder``. Brackets that are not citations (`[note]`, `array[i]`, a
/// markdown link `[text](url)` — even `[1](url)`) pass unchanged, and so does everything inside
/// inline code and fenced code blocks.
///
/// Images: `![alt](url)` whose URL has a scheme (`http:`, `https:`, `data:`, …) or starts with `//`
/// is removed, and so is a reference image (`![alt][ref]`, `![alt]` not followed by `(`), whose URL
/// is defined elsewhere; ``removedImages`` counts them. Only images with a relative URL stay.
/// Raw HTML images — an `<img …>` tag (or `<image …>`, which HTML parsers read as `<img>`) in any
/// case, attributes in any order and quoting, `src`, `srcset` or none — are removed whole and
/// counted too, whatever their URL: an attribute value may hide a scheme behind character
/// references (`src="&#104;ttps://…"`), so a relative-looking one cannot be trusted. Other HTML
/// passes unchanged. Images of both kinds are checked inside code too (an unclosed backtick must
/// not hide one).
///
/// Only what could still become a marker or an image is held back, and never much: a bracket run
/// longer than ``maxMarkerLength`` or an image's text longer than ``maxImageLength`` is let
/// through (an image's `!` or `<` is dropped, so the text cannot render as an image later; an
/// `<img` tag still open when the answer ends loses its `<` the same way). A `<` holds back only
/// while the letters after it can still spell `img`: `a < b` and `<b>` pass at once.
///
/// ```swift
/// var filter = CitationFilter(sourceCount: 3)
/// filter.feed("首重12元【1")      // "首重12元"
/// filter.feed("，7】。")          // "[1]。"
/// filter.finish()                 // ""
/// filter.invalidMarkers           // [7]
/// ```
public struct CitationFilter: Sendable {
    /// Sources the answer may cite, numbered 1…`sourceCount`.
    public let sourceCount: Int
    /// Valid source numbers cited so far.
    public private(set) var cited: Set<Int> = []
    /// Valid source numbers in order of first citation.
    public private(set) var citedInOrder: [Int] = []
    /// Marker numbers that pointed at no source (removed), in order of first appearance.
    public private(set) var invalidMarkers: [Int] = []
    /// Remote or reference markdown images and raw HTML `<img>` tags removed.
    public private(set) var removedImages = 0

    /// Longest bracket run held back while it could still become a marker.
    public static let maxMarkerLength = 64
    /// Longest image text held back while it could still become a remote image (a markdown
    /// image's alt text and URL start, or an `<img` tag up to its `>`).
    public static let maxImageLength = 2048
    /// Longest image URL discarded after a removed image's `(` (a longer one is let through: its
    /// image syntax is already gone).
    static let maxDiscardLength = 8192

    /// Text not yet decided.
    private var pending: [Unicode.Scalar] = []
    /// Inside the URL of a removed image: parentheses open and characters discarded so far.
    private var discarding: (depth: Int, count: Int)?
    /// Length of the backtick run that opened the current inline code span (0: none).
    private var inlineCode = 0
    /// Inside a fenced code block.
    private var fenced = false
    /// Only spaces since the last line break.
    private var atLineStart = true

    /// Creates a filter for an answer with `sourceCount` numbered sources.
    public init(sourceCount: Int) {
        self.sourceCount = sourceCount
    }

    /// Takes the next piece of the stream; returns the text that is safe to show now.
    public mutating func feed(_ text: String) -> String {
        pending.append(contentsOf: text.unicodeScalars)
        return drain(final: false)
    }

    /// Ends the stream; returns the text still held back, resolved.
    public mutating func finish() -> String {
        drain(final: true)
    }

    // MARK: - Scanning

    private enum Step {
        /// Wait for more text (keep everything from the current position).
        case needMore
        /// Emit `pending[i..<end]` unchanged.
        case literal(end: Int)
        /// Emit `text` in place of `pending[i..<end]`.
        case replace(end: Int, text: String)
        /// Drop `pending[i..<end]`.
        case drop(end: Int)
    }

    private mutating func drain(final: Bool) -> String {
        let s = pending
        var out = String.UnicodeScalarView()
        var i = 0
        scan: while i < s.count {
            let c = s[i]
            if var d = discarding {
                i += 1
                d.count += 1
                if c == "(" {
                    d.depth += 1
                } else if c == ")" {
                    d.depth -= 1
                }
                if d.depth < 0 || c == "\n" || d.count > Self.maxDiscardLength {
                    discarding = nil
                    if c == "\n" { emit("\n", into: &out) }
                } else {
                    discarding = d
                }
                continue
            }
            let step: Step
            switch c {
            case "`":
                step = backticks(s, i, final: final)
            case "!":
                step = image(s, i, final: final)
            case "<":
                step = htmlImage(s, i, final: final)
            case "[", "【", "［":
                step = inlineCode == 0 && !fenced ? marker(s, i, final: final) : .literal(end: i + 1)
            default:
                step = .literal(end: i + 1)
            }
            switch step {
            case .needMore:
                break scan
            case .literal(let end):
                for k in i..<end { emit(s[k], into: &out) }
                i = end
            case .replace(let end, let text):
                for u in text.unicodeScalars { emit(u, into: &out) }
                i = end
            case .drop(let end):
                i = end
            }
        }
        pending = Array(s[i...])
        if final {
            // Whatever is still held (only possible when a step needs more) is plain text.
            for u in pending { emit(u, into: &out) }
            pending = []
            discarding = nil
        }
        return String(out)
    }

    private mutating func emit(_ u: Unicode.Scalar, into out: inout String.UnicodeScalarView) {
        out.append(u)
        if u == "\n" {
            atLineStart = true
            inlineCode = 0
        } else if u != " " && u != "\t" {
            atLineStart = false
        }
    }

    /// A run of backticks: opens or closes inline code or a fenced block.
    private mutating func backticks(_ s: [Unicode.Scalar], _ i: Int, final: Bool) -> Step {
        var j = i
        while j < s.count && s[j] == "`" { j += 1 }
        let run = j - i
        if j == s.count && !final && run < Self.maxMarkerLength { return .needMore }
        if fenced {
            if atLineStart && run >= 3 { fenced = false }
        } else if inlineCode > 0 {
            if run == inlineCode { inlineCode = 0 }
        } else if atLineStart && run >= 3 {
            fenced = true
        } else {
            inlineCode = run
        }
        return .literal(end: j)
    }

    /// A `!`: the start of an image, or plain text.
    private mutating func image(_ s: [Unicode.Scalar], _ i: Int, final: Bool) -> Step {
        guard i + 1 < s.count else { return final ? .literal(end: i + 1) : .needMore }
        guard s[i + 1] == "[" else { return .literal(end: i + 1) }
        // The alt text, brackets balanced.
        var j = i + 2
        var depth = 0
        while true {
            if j - i > Self.maxImageLength { return .drop(end: i + 1) }
            guard j < s.count else { return final ? .literal(end: i + 1) : .needMore }
            if s[j] == "[" {
                depth += 1
            } else if s[j] == "]" {
                if depth == 0 { break }
                depth -= 1
            }
            j += 1
        }
        let close = j
        let next = close + 1
        guard next < s.count else {
            if !final { return .needMore }
            return isMarker(s, from: i + 1, to: close) ? .literal(end: i + 1) : removeImage(end: next)
        }
        switch s[next] {
        case "(":
            break
        case "[":
            // A reference image: its URL is defined elsewhere and cannot be checked.
            return removeImage(end: next)
        default:
            // "Free![1]" is an exclamation followed by a citation; "![alt]" alone is a shortcut
            // reference image.
            return isMarker(s, from: i + 1, to: close) ? .literal(end: i + 1) : removeImage(end: next)
        }
        // The URL: remote when it has a scheme or starts with two slashes.
        var k = next + 1
        while k < s.count && (s[k] == " " || s[k] == "\t" || s[k] == "\n") { k += 1 }
        if k < s.count && s[k] == "<" { k += 1 }
        let urlStart = k
        var remote: Bool?
        while remote == nil {
            if k - i > Self.maxImageLength { return .drop(end: i + 1) }
            guard k < s.count else {
                if final { return .literal(end: i + 1) }
                return .needMore
            }
            let u = s[k]
            let v = u.value
            let offset = k - urlStart
            if offset == 0 && (u == "/" || u == "\\") {
                k += 1
                continue
            }
            if offset == 1 && (s[urlStart] == "/" || s[urlStart] == "\\") {
                remote = u == "/" || u == "\\"
                break
            }
            let isLetter = (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
            let isSchemeCharacter = isLetter || (v >= 0x30 && v <= 0x39) || u == "+" || u == "-" || u == "."
            if u == ":" {
                remote = offset > 0
            } else if !isSchemeCharacter || (offset == 0 && !isLetter) || offset > 32 {
                remote = false
            }
            k += 1
        }
        guard remote == true else { return .literal(end: next + 1) }
        removedImages += 1
        discarding = (0, 0)
        return .drop(end: next + 1)
    }

    /// A `<`: the start of a raw HTML image tag, or plain text.
    ///
    /// The tag is read as an HTML tokenizer reads it: the name runs to whitespace, `/` or `>`;
    /// attribute values may be quoted with `"` or `'` (a `>` inside quotes does not end the tag).
    private mutating func htmlImage(_ s: [Unicode.Scalar], _ i: Int, final: Bool) -> Step {
        // The tag name: `img` or `image`, any case.
        var j = i + 1
        var name = ""
        while j < s.count, let letter = Self.asciiLower(s[j]) {
            name.unicodeScalars.append(letter)
            guard Self.imageTagNames.contains(where: { $0.hasPrefix(name) }) else { return .literal(end: i + 1) }
            j += 1
        }
        guard j < s.count else {
            // More letters may still spell an image tag.
            return final ? .literal(end: i + 1) : .needMore
        }
        guard Self.imageTagNames.contains(name), Self.isTagNameEnd(s[j]) else { return .literal(end: i + 1) }
        // Attributes, up to the `>` that closes the tag.
        var quote: Unicode.Scalar?
        var afterEquals = false
        while true {
            if j - i >= Self.maxImageLength { return .drop(end: i + 1) }
            guard j < s.count else { return final ? .drop(end: i + 1) : .needMore }
            let c = s[j]
            j += 1
            if let q = quote {
                if c == q { quote = nil }
                continue
            }
            if c == ">" {
                removedImages += 1
                return .drop(end: j)
            }
            if afterEquals && (c == "\"" || c == "'") {
                quote = c
                afterEquals = false
            } else if c == "=" {
                afterEquals = true
            } else if !Self.isHTMLSpace(c) {
                // A value starts unquoted (or a new name): quotes inside it are ordinary characters.
                afterEquals = false
            }
        }
    }

    /// Tag names that make an image (`<image>` is parsed as `<img>`).
    private static let imageTagNames = ["img", "image"]

    private static func asciiLower(_ u: Unicode.Scalar) -> Unicode.Scalar? {
        switch u.value {
        case 0x41...0x5A: Unicode.Scalar(u.value + 0x20)
        case 0x61...0x7A: u
        default: nil
        }
    }

    private static func isHTMLSpace(_ u: Unicode.Scalar) -> Bool {
        u == " " || u == "\t" || u == "\n" || u == "\r" || u == "\u{0C}"
    }

    private static func isTagNameEnd(_ u: Unicode.Scalar) -> Bool {
        isHTMLSpace(u) || u == "/" || u == ">"
    }

    private mutating func removeImage(end: Int) -> Step {
        removedImages += 1
        return .drop(end: end)
    }

    /// An opening bracket: a citation marker, or plain text.
    private mutating func marker(_ s: [Unicode.Scalar], _ i: Int, final: Bool) -> Step {
        let closer: Unicode.Scalar = s[i] == "【" ? "】" : s[i] == "［" ? "］" : "]"
        var j = i + 1
        while j < s.count && s[j] != closer && j - i <= Self.maxMarkerLength { j += 1 }
        let closed = j < s.count && s[j] == closer
        var parser = MarkerParser(Array(s[(i + 1)..<j]), closed: closed)
        let numbers = parser.parse()
        guard closed else {
            let viable = parser.reachedEnd && j - i <= Self.maxMarkerLength && j == s.count
            return viable && !final ? .needMore : .literal(end: i + 1)
        }
        guard let numbers else { return .literal(end: i + 1) }
        // A link, `[1](url)`, is not a citation.
        let next = j + 1
        if next == s.count && !final && closer == "]" { return .needMore }
        if next < s.count && s[next] == "(" && closer == "]" { return .literal(end: next) }
        return .replace(end: next, text: record(numbers))
    }

    /// Whether `s[from...to]` (brackets included) is a citation marker.
    private func isMarker(_ s: [Unicode.Scalar], from: Int, to: Int) -> Bool {
        guard to > from else { return false }
        var p = MarkerParser(Array(s[(from + 1)..<to]), closed: true)
        return p.parse() != nil
    }

    /// Records marker numbers; returns the normalised text of the valid ones.
    private mutating func record(_ numbers: [Int]) -> String {
        var text = ""
        var seen = Set<Int>()
        for n in numbers where seen.insert(n).inserted {
            if n >= 1 && n <= sourceCount {
                text += "[\(n)]"
                if cited.insert(n).inserted { citedInOrder.append(n) }
            } else if !invalidMarkers.contains(n) {
                invalidMarkers.append(n)
            }
        }
        return text
    }
}

/// Parses the inside of a citation marker: items separated by `,` `，` `、` `;` `；`, each an
/// optional prefix (`^`, `#`, `source`, `来源`, …) and a number or a range.
struct MarkerParser {
    static let words: Set<String> = [
        "source", "sources", "src", "ref", "refs", "reference", "references", "doc", "document", "citation",
        "来源", "资料", "文档", "引用", "出处", "参考", "参考资料", "文献",
    ]
    static let wordCharacters: Set<Unicode.Scalar> = Set("来源资料文档引用出处参考文献".unicodeScalars)
    static let maxRange = 20

    let s: [Unicode.Scalar]
    let closed: Bool
    var i = 0
    /// The parse looked past the end of unclosed input (so more input could still complete it).
    private(set) var reachedEnd = false

    init(_ s: [Unicode.Scalar], closed: Bool) {
        self.s = s
        self.closed = closed
    }

    /// The numbers of a complete, closed marker (ranges expanded); nil otherwise.
    mutating func parse() -> [Int]? {
        var out: [Int] = []
        while true {
            skipSpaces()
            guard let numbers = item() else { return nil }
            out += numbers
            skipSpaces()
            guard let c = peek() else { break }
            guard c == "," || c == "，" || c == "、" || c == ";" || c == "；" else { return nil }
            i += 1
        }
        return closed && i == s.count && !out.isEmpty ? out : nil
    }

    private mutating func peek() -> Unicode.Scalar? {
        if i < s.count { return s[i] }
        if !closed { reachedEnd = true }
        return nil
    }

    private mutating func skipSpaces() {
        while let c = peek(), c == " " || c == "\u{3000}" || c == "\u{A0}" { i += 1 }
    }

    private mutating func item() -> [Int]? {
        guard prefix(), let a = number() else { return nil }
        let save = i
        skipSpaces()
        if let c = peek(), c == "-" || c == "–" || c == "—" || c == "~" || c == "～" {
            i += 1
            skipSpaces()
            guard prefix(), let b = number() else { return nil }
            if b < a { return [a, b] }
            guard b - a <= Self.maxRange else { return nil }
            return Array(a...b)
        }
        i = save
        return [a]
    }

    /// An optional prefix; false when letters are there but form no known word.
    private mutating func prefix() -> Bool {
        if let c = peek(), c == "^" || c == "#" {
            i += 1
            return true
        }
        var word = ""
        while i < s.count && Self.isWordCharacter(s[i]) {
            word.unicodeScalars.append(s[i])
            i += 1
        }
        if i == s.count && !closed {
            // More letters may follow: only worth waiting for when they can still make a word.
            let w = word.lowercased()
            if Self.words.contains(where: { $0.hasPrefix(w) }) { reachedEnd = true }
            return false
        }
        guard !word.isEmpty else { return true }
        guard Self.words.contains(word.lowercased()) else { return false }
        skipSpaces()
        if let c = peek(), c == ":" || c == "：" || c == "#" || c == "." {
            i += 1
            skipSpaces()
        }
        return true
    }

    private static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        (c.value >= 0x41 && c.value <= 0x5A) || (c.value >= 0x61 && c.value <= 0x7A) || wordCharacters.contains(c)
    }

    /// One to three digits (ASCII or full-width).
    private mutating func number() -> Int? {
        var value = 0
        var digits = 0
        while let c = peek(), let d = Self.digit(c) {
            guard digits < 3 else { return nil }
            value = value * 10 + d
            digits += 1
            i += 1
        }
        return digits > 0 ? value : nil
    }

    private static func digit(_ c: Unicode.Scalar) -> Int? {
        if c.value >= 0x30 && c.value <= 0x39 { return Int(c.value - 0x30) }
        if c.value >= 0xFF10 && c.value <= 0xFF19 { return Int(c.value - 0xFF10) }
        return nil
    }
}
