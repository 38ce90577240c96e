import Foundation
import WendaoCore

// Markdown → blocks. A line-based parser covering what knowledge-base documents use: ATX and setext
// headings, paragraphs, list items, block quotes, fenced code, pipe tables (one record per row),
// front matter and HTML comments. Inline markup is stripped by MarkdownInline.

enum MarkdownFormat {
    struct Result {
        var blocks: [Block]
        var title: String?
    }

    private enum ParaKind { case paragraph, listItem, quote }

    static func parse(_ text: String) -> Result {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var p = Parser(lines: lines)
        p.run()
        return Result(blocks: p.blocks, title: p.firstH1 ?? p.frontMatterTitle)
    }

    private struct Parser {
        let lines: [Substring]
        var blocks: [Block] = []
        var sections: [(level: Int, text: String)] = []
        var firstH1: String?
        var frontMatterTitle: String?
        var para: [Substring] = []
        var paraKind: ParaKind = .paragraph
        /// Whether the open paragraph or item started inside a block quote.
        var paraQuoted = false

        init(lines: [Substring]) { self.lines = lines }

        var sectionPath: [String] { sections.map(\.text) }

        mutating func run() {
            var i = skipFrontMatter()
            var fence: (char: Character, length: Int, indent: Int)?
            var code: [Substring] = []
            var inComment = false
            while i < lines.count {
                let line = lines[i]
                i += 1
                if let f = fence {
                    if isClosingFence(line, f.char, f.length) {
                        emitCode(code)
                        code.removeAll()
                        fence = nil
                    } else {
                        code.append(dropIndent(line, max: f.indent))
                    }
                    continue
                }
                if inComment {
                    if line.contains("-->") { inComment = false }
                    continue
                }
                if isBlank(line) {
                    flush()
                    continue
                }
                let indent = leadingSpaces(line)
                let stripped = line.drop { $0 == " " || $0 == "\t" }
                // Indented continuation of an open paragraph or list item.
                if indent >= 4, !para.isEmpty, listMarker(stripped) == nil {
                    para.append(stripped)
                    continue
                }
                if stripped.hasPrefix(">") {
                    var content = stripped
                    while content.hasPrefix(">") {
                        content = content.dropFirst()
                        if content.hasPrefix(" ") { content = content.dropFirst() }
                        content = content.drop { $0 == " " || $0 == "\t" }
                    }
                    if isBlank(content) {
                        flush()
                    } else if let item = listMarker(content) {
                        flush()
                        startPara(item, kind: .listItem)
                        paraQuoted = true
                    } else if !para.isEmpty, paraQuoted {
                        para.append(content)  // continues the quoted paragraph or item
                    } else {
                        flush()
                        startPara(content, kind: .quote)
                        paraQuoted = true
                    }
                    continue
                }
                if let f = openingFence(stripped) {
                    flush()
                    fence = (f.char, f.length, indent)
                    continue
                }
                if let (level, title) = atxHeading(stripped) {
                    flush()
                    heading(level: level, raw: title)
                    continue
                }
                if !para.isEmpty, paraKind == .paragraph, let level = setextLevel(stripped) {
                    let raw = para.joined(separator: "\n")
                    para.removeAll()
                    heading(level: level, raw: Substring(raw))
                    continue
                }
                if isThematicBreak(stripped) {
                    flush()
                    continue
                }
                if stripped.contains("|"), i < lines.count, let header = tableHeader(stripped, delimiter: lines[i]) {
                    flush()
                    i = table(header: header, from: i + 1)
                    continue
                }
                if let item = listMarker(stripped) {
                    flush()
                    startPara(item, kind: .listItem)
                    continue
                }
                if stripped.hasPrefix("<!--") {
                    if let end = stripped.range(of: "-->") {
                        let rest = stripped[end.upperBound...]
                        if isBlank(rest) { continue }
                    } else {
                        flush()
                        inComment = true
                        continue
                    }
                }
                if para.isEmpty, isLinkDefinition(stripped) { continue }
                // A new paragraph, or a (lazy) continuation of the open paragraph, item or quote.
                if para.isEmpty {
                    paraKind = .paragraph
                    paraQuoted = false
                }
                para.append(stripped)
            }
            if fence != nil { emitCode(code) }
            flush()
        }

        mutating func startPara(_ line: Substring, kind: ParaKind) {
            para = [line]
            paraKind = kind
            paraQuoted = false
        }

        mutating func flush() {
            guard !para.isEmpty else { return }
            let raw = para.joined(separator: "\n")
            para.removeAll()
            let text = TextScan.collapse(MarkdownInline.strip(raw))
            guard !text.isEmpty else { return }
            let kind: Block.Kind = paraKind == .listItem ? .listItem : .paragraph
            blocks.append(Block(kind: kind, text: text, sectionPath: sectionPath))
        }

        mutating func emitCode(_ code: [Substring]) {
            let text = TextScan.collapse(code.joined(separator: "\n"), keepNewlines: true)
            guard !text.isEmpty else { return }
            blocks.append(Block(kind: .paragraph, text: text, sectionPath: sectionPath))
        }

        mutating func heading(level: Int, raw: Substring) {
            let text = TextScan.collapse(MarkdownInline.strip(String(raw)))
            guard !text.isEmpty else { return }
            while let last = sections.last, last.level >= level { sections.removeLast() }
            sections.append((level, text))
            if level == 1, firstH1 == nil { firstH1 = text }
            blocks.append(Block(kind: .heading(level: level), text: text, sectionPath: sectionPath))
        }

        /// Parses table rows after the delimiter line; returns the index of the first line after.
        mutating func table(header: [String], from start: Int) -> Int {
            var i = start
            while i < lines.count {
                let line = lines[i]
                if isBlank(line) || !line.contains("|") { break }
                let stripped = line.drop { $0 == " " || $0 == "\t" }
                if stripped.hasPrefix(">") || openingFence(stripped) != nil || atxHeading(stripped) != nil { break }
                let cells = Self.splitRow(stripped).map { TextScan.collapse(MarkdownInline.strip($0)) }
                if let text = RecordFormat.row(header: header, cells: cells) {
                    blocks.append(Block(kind: .record, text: text, sectionPath: sectionPath))
                }
                i += 1
            }
            return i
        }

        /// Skips `---` front matter, remembering a `title:` in it. Returns the first content line.
        mutating func skipFrontMatter() -> Int {
            guard let first = lines.first, first.trimmingTrailingSpace == "---" else { return 0 }
            var i = 1
            var title: String?
            while i < lines.count, i < 2000 {
                let line = lines[i].trimmingTrailingSpace
                if line == "---" || line == "..." {
                    frontMatterTitle = title
                    return i + 1
                }
                if line.hasPrefix("title:") {
                    var value = line.dropFirst("title:".count).drop { $0 == " " || $0 == "\t" }
                    if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q {
                        value = value.dropFirst().dropLast()
                    }
                    if !value.isEmpty { title = String(value) }
                }
                i += 1
            }
            return 0
        }

        // MARK: Line classification

        func isBlank(_ line: Substring) -> Bool { line.allSatisfy { $0.isWhitespace } }

        func leadingSpaces(_ line: Substring) -> Int {
            var n = 0
            for c in line {
                if c == " " {
                    n += 1
                } else if c == "\t" {
                    n += 4 - n % 4
                } else {
                    break
                }
            }
            return n
        }

        func dropIndent(_ line: Substring, max: Int) -> Substring {
            var l = line
            var k = 0
            while k < max, l.first == " " {
                l = l.dropFirst()
                k += 1
            }
            return l
        }

        func openingFence(_ s: Substring) -> (char: Character, length: Int)? {
            guard let c = s.first, c == "`" || c == "~" else { return nil }
            let run = s.prefix { $0 == c }.count
            guard run >= 3 else { return nil }
            if c == "`", s.dropFirst(run).contains("`") { return nil }
            return (c, run)
        }

        func isClosingFence(_ line: Substring, _ c: Character, _ length: Int) -> Bool {
            let s = line.drop { $0 == " " || $0 == "\t" }
            let run = s.prefix { $0 == c }.count
            return run >= length && isBlank(s.dropFirst(run))
        }

        func atxHeading(_ s: Substring) -> (Int, Substring)? {
            let level = s.prefix { $0 == "#" }.count
            guard level >= 1, level <= 6 else { return nil }
            var rest = s.dropFirst(level)
            guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { return nil }
            rest = rest.drop { $0 == " " || $0 == "\t" }
            // Optional closing sequence: spaces then #s.
            var t = rest.trimmingTrailingSpace
            let closing = t.reversed().prefix { $0 == "#" }.count
            if closing > 0 {
                let before = t.dropLast(closing)
                if before.isEmpty || before.last == " " || before.last == "\t" {
                    t = before.trimmingTrailingSpace
                }
            }
            return (level, t)
        }

        func setextLevel(_ s: Substring) -> Int? {
            let t = s.trimmingTrailingSpace
            guard let c = t.first, c == "=" || c == "-", t.allSatisfy({ $0 == c }) else { return nil }
            if c == "=" { return 1 }
            return t.count >= 2 ? 2 : nil
        }

        func isThematicBreak(_ s: Substring) -> Bool {
            guard let c = s.first, c == "-" || c == "*" || c == "_" else { return false }
            var count = 0
            for ch in s {
                if ch == c {
                    count += 1
                } else if ch != " " && ch != "\t" {
                    return false
                }
            }
            return count >= 3
        }

        /// The item text when the line starts with a list marker (`-`, `*`, `+`, `1.`, `1)`).
        func listMarker(_ s: Substring) -> Substring? {
            guard let c = s.first else { return nil }
            var rest: Substring
            if c == "-" || c == "*" || c == "+" {
                rest = s.dropFirst()
            } else if c.isASCII, c.isNumber {
                let digits = s.prefix { $0.isASCII && $0.isNumber }
                guard digits.count <= 9 else { return nil }
                rest = s.dropFirst(digits.count)
                guard let d = rest.first, d == "." || d == ")" else { return nil }
                rest = rest.dropFirst()
            } else {
                return nil
            }
            guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { return nil }
            rest = rest.drop { $0 == " " || $0 == "\t" }
            for box in ["[ ] ", "[x] ", "[X] "] where rest.hasPrefix(box) {
                rest = rest.dropFirst(box.count)
            }
            return rest
        }

        /// `[label]: destination` (a link reference definition, not shown). The destination must
        /// look like a URL or path, so that text such as `[注意]: 这个很重要` stays.
        func isLinkDefinition(_ s: Substring) -> Bool {
            guard s.hasPrefix("["), !s.hasPrefix("[^"), let close = s.firstIndex(of: "]") else { return false }
            let after = s[s.index(after: close)...]
            guard after.hasPrefix(":") else { return false }
            let dest = after.dropFirst().drop { $0 == " " || $0 == "\t" }.prefix { $0 != " " && $0 != "\t" }
            guard !dest.isEmpty, !TextScan.containsCJK(String(dest)) else { return false }
            return dest.hasPrefix("<") || dest.contains("/") || dest.contains(".") || dest.hasPrefix("#")
        }

        /// Header cells when `line` is a table header and `delimiter` a delimiter row.
        func tableHeader(_ line: Substring, delimiter: Substring) -> [String]? {
            let d = delimiter.drop { $0 == " " || $0 == "\t" }.trimmingTrailingSpace
            guard d.contains("-"), d.contains("|") || line.contains("|") else { return nil }
            let cells = Self.splitRow(d)
            guard !cells.isEmpty else { return nil }
            for cell in cells {
                let t = cell.trimmingChars(" \t")
                var core = Substring(t)
                if core.hasPrefix(":") { core = core.dropFirst() }
                if core.hasSuffix(":") { core = core.dropLast() }
                guard !core.isEmpty, core.allSatisfy({ $0 == "-" }) else { return nil }
            }
            return Self.splitRow(line).map { TextScan.collapse(MarkdownInline.strip($0)) }
        }

        /// Splits a pipe-table row into raw cells (outer pipes optional, `\|` escapes a pipe).
        static func splitRow(_ line: Substring) -> [String] {
            var t = line.trimmingTrailingSpace
            if t.hasPrefix("|") { t = t.dropFirst() }
            if t.hasSuffix("|"), !t.hasSuffix("\\|") { t = t.dropLast() }
            var cells: [String] = []
            var cur = ""
            var escaped = false
            for c in t {
                if escaped {
                    if c != "|" { cur.append("\\") }
                    cur.append(c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "|" {
                    cells.append(cur)
                    cur = ""
                } else {
                    cur.append(c)
                }
            }
            if escaped { cur.append("\\") }
            cells.append(cur)
            return cells
        }
    }
}

/// Formats table rows and records the same way for every format.
enum RecordFormat {
    /// `header1: cell1 | header2: cell2`, skipping empty cells; cells without a header stand alone.
    /// Nil when every cell is empty.
    static func row(header: [String], cells: [String]) -> String? {
        var parts: [String] = []
        for (k, cell) in cells.enumerated() {
            let value = cell.trimmingChars(" \t\n")
            guard !value.isEmpty else { continue }
            let name = k < header.count ? header[k] : ""
            parts.append(name.isEmpty ? value : "\(name): \(value)")
        }
        return parts.isEmpty ? nil : parts.joined(separator: " | ")
    }
}

extension StringProtocol {
    /// The text without trailing spaces and tabs.
    var trimmingTrailingSpace: SubSequence {
        var end = endIndex
        while end > startIndex {
            let prev = index(before: end)
            guard self[prev] == " " || self[prev] == "\t" || self[prev] == "\r" else { break }
            end = prev
        }
        return self[startIndex..<end]
    }
}

extension String {
    /// The string without leading and trailing characters from `set`.
    func trimmingChars(_ set: String) -> String {
        let chars = Set(set)
        let start = firstIndex { !chars.contains($0) } ?? endIndex
        let end = lastIndex { !chars.contains($0) }.map { index(after: $0) } ?? start
        return start < end ? String(self[start..<end]) : ""
    }
}
