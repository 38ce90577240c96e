import WendaoCore

// HTML → blocks with a tolerant, non-recursive tokenizer and an explicit element stack. Every byte
// is looked at a bounded number of times and every element is pushed and popped once, so deep
// nesting (100 000 levels) and broken markup cost linear time and no call stack.

enum HTMLFormat {
    struct Result {
        var blocks: [Block]
        var title: String?
    }

    static func parse(_ text: String) -> Result {
        var copy = text
        return copy.withUTF8 { b in
            var p = HTMLParser(b)
            p.run()
            return Result(blocks: p.blocks, title: p.title ?? p.firstH1)
        }
    }
}

private struct HTMLParser {
    struct Effects: OptionSet {
        let rawValue: UInt16
        static let block = Effects(rawValue: 1 << 0)
        static let drop = Effects(rawValue: 1 << 1)
        static let heading = Effects(rawValue: 1 << 2)
        static let listItem = Effects(rawValue: 1 << 3)
        static let pre = Effects(rawValue: 1 << 4)
        static let article = Effects(rawValue: 1 << 5)
        static let table = Effects(rawValue: 1 << 6)
        static let tableHead = Effects(rawValue: 1 << 7)
        static let row = Effects(rawValue: 1 << 8)
        static let cell = Effects(rawValue: 1 << 9)
    }

    struct Open {
        var name: String
        var effects: Effects
    }

    struct TableState {
        var header: [String]?
        var row: [String] = []
        var rowAllHeaderCells = true
        var cell: [UInt8] = []
        var cellOpen = false
        var headDepth = 0
        var records = 0
    }

    static let voidElements: Set<String> = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
        "track", "wbr", "keygen", "basefont", "bgsound", "frame",
    ]
    /// Elements whose content is raw text that is skipped entirely.
    static let rawSkip: Set<String> = [
        "script", "style", "textarea", "iframe", "noembed", "noframes", "xmp", "plaintext",
    ]
    /// Elements whose content is dropped (boilerplate or not text).
    static let dropped: Set<String> = [
        "head", "noscript", "template", "svg", "nav", "aside", "select", "canvas", "object", "datalist",
        "menu",
    ]
    static let blockElements: Set<String> = [
        "address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog", "dir",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hgroup", "hr", "html", "li", "main", "menu", "nav", "ol", "p", "pre",
        "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "td", "th", "caption", "ul",
        "legend", "option", "listing", "head", "title", "br", "search", "optgroup",
    ]

    let b: UnsafeBufferPointer<UInt8>
    var blocks: [Block] = []
    var title: String?
    var firstH1: String?
    private var sections: [(level: Int, text: String)] = []
    private var stack: [Open] = []
    private var openCount: [String: Int] = [:]
    private var dropDepth = 0
    private var headingLevels: [Int] = []
    private var listDepth = 0
    private var preDepth = 0
    private var articleDepth = 0
    private var tables: [TableState] = []
    private var buffer: [UInt8] = []

    init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    // MARK: Tokenizer

    mutating func run() {
        let n = b.count
        var i = 0
        while i < n {
            if b[i] != 0x3C {  // text up to the next '<'
                var j = i + 1
                while j < n, b[j] != 0x3C { j += 1 }
                appendText(i, j)
                i = j
                continue
            }
            guard i + 1 < n else {
                appendText(i, n)
                break
            }
            let c = b[i + 1]
            if c == 0x21 {  // '!'
                if matches("<!--", at: i) {
                    i = find("-->", from: i + 4).map { $0 + 3 } ?? n
                } else if matches("<![CDATA[", at: i) {
                    i = find("]]>", from: i + 9).map { $0 + 3 } ?? n
                } else {
                    i = findByte(0x3E, from: i + 2).map { $0 + 1 } ?? n
                }
            } else if c == 0x3F {  // '?'
                i = findByte(0x3E, from: i + 2).map { $0 + 1 } ?? n
            } else if c == 0x2F {  // '/'
                if i + 2 < n, isAlpha(b[i + 2]) {
                    let (name, after) = readName(i + 2)
                    i = findByte(0x3E, from: after).map { $0 + 1 } ?? n
                    endTag(name)
                } else {
                    i = findByte(0x3E, from: i + 2).map { $0 + 1 } ?? n
                }
            } else if isAlpha(c) {
                let (name, after) = readName(i + 1)
                guard let (end, selfClosing) = skipAttributes(after) else { break }
                i = end
                i = startTag(name, selfClosing: selfClosing, contentStart: i)
            } else {
                appendText(i, i + 1)
                i += 1
            }
        }
        while !stack.isEmpty { pop() }
        flush()
    }

    func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }

    func matches(_ s: StaticString, at i: Int) -> Bool {
        let count = s.utf8CodeUnitCount
        guard i + count <= b.count else { return false }
        let p = s.utf8Start
        for k in 0..<count where b[i + k] != p[k] { return false }
        return true
    }

    func findByte(_ c: UInt8, from i: Int) -> Int? {
        var j = i
        while j < b.count {
            if b[j] == c { return j }
            j += 1
        }
        return nil
    }

    func find(_ s: StaticString, from i: Int) -> Int? {
        let first = s.utf8Start[0]
        var j = i
        while let k = findByte(first, from: j) {
            if matches(s, at: k) { return k }
            j = k + 1
        }
        return nil
    }

    /// Reads a tag name (lowercased) starting at `i`.
    func readName(_ i: Int) -> (String, Int) {
        var j = i
        var bytes: [UInt8] = []
        while j < b.count {
            let c = b[j]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C || c == 0x2F || c == 0x3E { break }
            if bytes.count < 32 { bytes.append(c >= 0x41 && c <= 0x5A ? c | 0x20 : c) }
            j += 1
        }
        return (String(decoding: bytes, as: UTF8.self), j)
    }

    /// Skips attributes (values may be quoted and contain `>`); returns the index after `>` and
    /// whether the tag ends with `/>`. Nil when the input ends inside the tag.
    func skipAttributes(_ start: Int) -> (Int, Bool)? {
        let n = b.count
        var i = start
        while i < n {
            let c = b[i]
            switch c {
            case 0x3E:
                return (i + 1, i > start && b[i - 1] == 0x2F)
            case 0x3D:  // '=' then an optional quoted value
                i += 1
                while i < n, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
                if i < n, b[i] == 0x22 || b[i] == 0x27 {
                    guard let close = findByte(b[i], from: i + 1) else { return nil }
                    i = close + 1
                }
            default:
                i += 1
            }
        }
        return nil
    }

    // MARK: Tags

    /// Handles a start tag; returns where tokenizing continues (after raw-text content).
    mutating func startTag(_ name: String, selfClosing: Bool, contentStart: Int) -> Int {
        if Self.rawSkip.contains(name) || name == "title" {
            let end = findEndTag(name, from: contentStart)
            if name == "title", title == nil, dropDepth == 0 || openCount["head", default: 0] > 0 {
                var bytes: [UInt8] = []
                decodeText(contentStart, end.contentEnd, into: &bytes)
                let t = bytes.withUnsafeBufferPointer { TextScan.collapse($0) }
                if !t.isEmpty { title = t }
            }
            return end.resume
        }
        // Implicit closes, as browsers do for elements with optional end tags.
        if name == "body", openCount["head", default: 0] > 0 { close("head") }
        if Self.blockElements.contains(name), stack.last?.name == "p" { pop() }
        switch name {
        case "li":
            if stack.last?.name == "li" { pop() }
        case "dt", "dd":
            if let top = stack.last?.name, top == "dt" || top == "dd" { pop() }
        case "td", "th":
            if let top = stack.last?.name, top == "td" || top == "th" { pop() }
        case "tr":
            if let top = stack.last?.name, top == "td" || top == "th" { pop() }
            if stack.last?.name == "tr" { pop() }
        case "option":
            if stack.last?.name == "option" { pop() }
        default:
            break
        }
        if name == "br" {
            if dropDepth == 0 { appendBytes([0x0A]) }
            return contentStart
        }
        if Self.voidElements.contains(name) {
            if name == "hr" { flush() }
            return contentStart
        }
        if selfClosing { return contentStart }
        var effects: Effects = []
        if Self.blockElements.contains(name) {
            effects.insert(.block)
            flush()
        }
        if Self.dropped.contains(name) || ((name == "header" || name == "footer") && articleDepth == 0) {
            effects.insert(.drop)
            dropDepth += 1
        }
        if name.count == 2, name.first == "h", let level = name.last?.wholeNumberValue, (1...6).contains(level) {
            effects.insert(.heading)
            headingLevels.append(level)
        }
        if name == "li" {
            effects.insert(.listItem)
            listDepth += 1
        }
        if name == "pre" || name == "listing" {
            effects.insert(.pre)
            preDepth += 1
        }
        if name == "article" || name == "main" {
            effects.insert(.article)
            articleDepth += 1
        }
        switch name {
        case "table":
            effects.insert(.table)
            tables.append(TableState())
        case "thead" where !tables.isEmpty:
            effects.insert(.tableHead)
            tables[tables.count - 1].headDepth += 1
        case "tr" where !tables.isEmpty:
            effects.insert(.row)
            finishRow()
        case "td", "th":
            if !tables.isEmpty {
                effects.insert(.cell)
                finishCell()
                tables[tables.count - 1].cellOpen = true
                if name == "td" { tables[tables.count - 1].rowAllHeaderCells = false }
            }
        default:
            break
        }
        stack.append(Open(name: name, effects: effects))
        openCount[name, default: 0] += 1
        return contentStart
    }

    mutating func endTag(_ name: String) {
        if name == "br" {
            if dropDepth == 0 { appendBytes([0x0A]) }
            return
        }
        close(name)
    }

    /// Pops elements up to and including the innermost open `name` (ignored when none is open).
    mutating func close(_ name: String) {
        guard openCount[name, default: 0] > 0 else { return }
        while let top = stack.last {
            pop()
            if top.name == name { break }
        }
    }

    mutating func pop() {
        guard let e = stack.popLast() else { return }
        if e.effects.contains(.block) { flush() }
        openCount[e.name, default: 1] -= 1
        let fx = e.effects
        if fx.contains(.drop) { dropDepth -= 1 }
        if fx.contains(.heading) { _ = headingLevels.popLast() }
        if fx.contains(.listItem) { listDepth -= 1 }
        if fx.contains(.pre) { preDepth -= 1 }
        if fx.contains(.article) { articleDepth -= 1 }
        if fx.contains(.cell) { finishCell() }
        if fx.contains(.row) { finishRow() }
        if fx.contains(.tableHead), !tables.isEmpty {
            finishRow()
            tables[tables.count - 1].headDepth -= 1
        }
        if fx.contains(.table) {
            finishRow()
            // A table with only a header row keeps its text as one record.
            if let t = tables.popLast(), t.records == 0, let header = t.header,
                let text = RecordFormat.row(header: [], cells: header)
            {
                blocks.append(Block(kind: .record, text: text, sectionPath: sections.map(\.text)))
            }
        }
    }

    /// Finds `</name` (case-insensitive) from `start`: where the content ends and where to resume.
    func findEndTag(_ name: String, from start: Int) -> (contentEnd: Int, resume: Int) {
        let nameBytes = Array(name.utf8)
        var j = start
        while let k = findByte(0x3C, from: j) {
            if k + 1 < b.count, b[k + 1] == 0x2F, k + 2 + nameBytes.count <= b.count {
                var same = true
                for (m, c) in nameBytes.enumerated() {
                    let x = b[k + 2 + m]
                    if (x >= 0x41 && x <= 0x5A ? x | 0x20 : x) != c {
                        same = false
                        break
                    }
                }
                let after = k + 2 + nameBytes.count
                if same, after == b.count || !isAlpha(b[after]) {
                    let resume = findByte(0x3E, from: after).map { $0 + 1 } ?? b.count
                    return (k, resume)
                }
            }
            j = k + 1
        }
        return (b.count, b.count)
    }

    // MARK: Text

    mutating func appendText(_ start: Int, _ end: Int) {
        guard dropDepth == 0, start < end else { return }
        var bytes: [UInt8] = []
        decodeText(start, end, into: &bytes)
        appendBytes(bytes)
    }

    func decodeText(_ start: Int, _ end: Int, into out: inout [UInt8]) {
        var i = start
        var runStart = start
        while i < end {
            if b[i] == 0x26 {  // '&'
                let slice = UnsafeBufferPointer(rebasing: b[0..<end])
                if let (value, len) = HTMLEntities.decode(slice, at: i) {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i]))
                    out.append(contentsOf: value.utf8)
                    i += len
                    runStart = i
                    continue
                }
            }
            i += 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<end]))
    }

    mutating func appendBytes(_ bytes: [UInt8]) {
        if !tables.isEmpty, tables[tables.count - 1].cellOpen {
            tables[tables.count - 1].cell.append(contentsOf: bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// Ends the current block of text.
    mutating func flush() {
        if !tables.isEmpty, tables[tables.count - 1].cellOpen {
            // Block boundaries inside a table cell only separate words.
            tables[tables.count - 1].cell.append(0x0A)
            return
        }
        guard !buffer.isEmpty else { return }
        let text = buffer.withUnsafeBufferPointer { TextScan.collapse($0, keepNewlines: preDepth > 0) }
        buffer.removeAll(keepingCapacity: true)
        guard !text.isEmpty else { return }
        if let level = headingLevels.last {
            while let last = sections.last, last.level >= level { sections.removeLast() }
            sections.append((level, text))
            if level == 1, firstH1 == nil { firstH1 = text }
            blocks.append(Block(kind: .heading(level: level), text: text, sectionPath: sections.map(\.text)))
        } else {
            let kind: Block.Kind = listDepth > 0 ? .listItem : .paragraph
            blocks.append(Block(kind: kind, text: text, sectionPath: sections.map(\.text)))
        }
    }

    mutating func finishCell() {
        guard !tables.isEmpty, tables[tables.count - 1].cellOpen else { return }
        let t = tables.count - 1
        let text = tables[t].cell.withUnsafeBufferPointer { TextScan.collapse($0) }
        tables[t].cell.removeAll(keepingCapacity: true)
        tables[t].cellOpen = false
        tables[t].row.append(text)
    }

    mutating func finishRow() {
        guard !tables.isEmpty else { return }
        finishCell()
        let t = tables.count - 1
        let row = tables[t].row
        let allHeader = tables[t].rowAllHeaderCells
        tables[t].row = []
        tables[t].rowAllHeaderCells = true
        guard row.contains(where: { !$0.isEmpty }) else { return }
        if tables[t].header == nil, allHeader || tables[t].headDepth > 0 {
            tables[t].header = row
            return
        }
        if let text = RecordFormat.row(header: tables[t].header ?? [], cells: row) {
            tables[t].records += 1
            blocks.append(Block(kind: .record, text: text, sectionPath: sections.map(\.text)))
        }
    }
}
