import Foundation
import WendaoCore

/// Turns the text of PDF pages (from pdftotext or OCR) into blocks: judges whether a text layer is usable,
/// drops running headers, footers and page numbers, rejoins hyphenated words and splits paragraphs.
enum PDFPageText {
    /// What a page's text layer is worth.
    enum Quality: Equatable {
        /// Readable text.
        case text
        /// No visible characters at all.
        case empty
        /// Characters from fonts without a Unicode map (private-use, control, U+FFFD, `(cid:N)`), or no
        /// letters or digits to speak of.
        case garbled
    }

    /// Judges a page's text layer.
    static func quality(_ text: String) -> Quality {
        var visible = 0
        var bad = 0
        var letters = 0
        var digits = 0
        for s in text.unicodeScalars {
            let v = s.value
            if v == 0x20 || v == 0x09 || v == 0x0A || v == 0x0D || v == 0x0C || v == 0x3000 || v == 0xA0 {
                continue
            }
            if s.properties.isWhitespace { continue }
            visible += 1
            if v < 0x20 || (v >= 0x7F && v <= 0x9F) || v == 0xFFFD || (v >= 0xE000 && v <= 0xF8FF) || v >= 0xF0000 {
                bad += 1
            } else if s.properties.isAlphabetic {
                letters += 1
            } else if s.properties.numericType != nil {
                digits += 1
            }
        }
        if visible == 0 { return .empty }
        // "(cid:123)" is what poppler prints for glyphs it cannot map: count those characters as bad.
        var cidChars = 0
        if text.contains("(cid:") {
            cidChars = text.components(separatedBy: "(cid:").count - 1
            cidChars *= 8
            letters = max(0, letters - cidChars / 8 * 3)
        }
        bad += cidChars
        if bad * 5 >= visible { return .garbled }  // at least 20 %
        if letters == 0, digits * 2 < visible { return .garbled }
        if visible >= 20, (letters + digits) * 10 < visible * 3 { return .garbled }  // under 30 % letters/digits
        return .text
    }

    /// Splits page text into lines with trailing whitespace removed (blank lines kept as "").
    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            var l = Substring(line)
            while let last = l.last, last.isWhitespace { l = l.dropLast() }
            while let first = l.first, first.isWhitespace { l = l.dropFirst() }
            return String(l)
        }
    }

    /// How many non-blank lines at the top and at the bottom of a page may be headers or footers.
    static let zoneLines = 3

    /// Removes running headers and footers (lines among the first or last ``zoneLines`` non-blank lines of a
    /// page that, with digits ignored, recur on at least 3 pages and at least half of the pages with text)
    /// and bare page-number lines in those zones. Returns the number of lines removed.
    @discardableResult
    static func removeRunningLines(_ pages: inout [[String]]) -> Int {
        let withText = pages.filter { $0.contains { !$0.isEmpty } }.count
        var zones: [[Int]] = []
        var counts: [String: Int] = [:]
        for lines in pages {
            let zone = zoneIndices(lines)
            zones.append(zone)
            var seen = Set<String>()
            for i in zone {
                let key = normalizedKey(lines[i])
                if !key.isEmpty, seen.insert(key).inserted { counts[key, default: 0] += 1 }
            }
        }
        let needed = max(3, (withText + 1) / 2)
        var removed = 0
        for p in pages.indices {
            for i in zones[p] {
                let line = pages[p][i]
                let repeated = withText >= 3 && (counts[normalizedKey(line)] ?? 0) >= needed
                if repeated || isPageNumberLine(line) {
                    pages[p][i] = ""
                    removed += 1
                }
            }
        }
        return removed
    }

    /// Indices of the first and last ``zoneLines`` non-blank lines.
    private static func zoneIndices(_ lines: [String]) -> [Int] {
        let nonBlank = lines.indices.filter { !lines[$0].isEmpty }
        var zone = Array(nonBlank.prefix(zoneLines))
        for i in nonBlank.suffix(zoneLines) where !zone.contains(i) { zone.append(i) }
        return zone
    }

    /// A line with whitespace collapsed and every run of digits replaced by `#`.
    static func normalizedKey(_ line: String) -> String {
        var out = ""
        var lastWasDigit = false
        var lastWasSpace = false
        for ch in line {
            if ch.isNumber, ch.isASCII || ch.unicodeScalars.first?.properties.numericType == .decimal {
                if !lastWasDigit { out.append("#") }
                lastWasDigit = true
                lastWasSpace = false
            } else if ch.isWhitespace {
                if !lastWasSpace, !out.isEmpty { out.append(" ") }
                lastWasSpace = true
                lastWasDigit = false
            } else {
                out.append(ch)
                lastWasDigit = false
                lastWasSpace = false
            }
        }
        while out.last == " " { out.removeLast() }
        return out
    }

    /// Shapes of bare page-number lines after lowercasing, removing whitespace and replacing digit runs by
    /// `#`: `3`, `- 3 -`, `第 3 页`, `Page 3 of 10`, `3/10`, …
    private static let pageNumberShapes: Set<String> = [
        "#", "-#-", "–#–", "—#—", "-#", "#-", "[#]", "(#)", "<#>", "·#·", "•#•", "|#|",
        "page#", "page#of#", "page#/#", "p.#", "pg.#", "#of#", "#/#", "-#/#-",
        "第#页", "第#页共#页", "第#页,共#页", "第#页，共#页", "共#页第#页", "共#页,第#页", "共#页，第#页", "第#/#页",
        "#页", "第#頁", "第#頁共#頁", "第#頁，共#頁", "頁#", "页#",
    ]

    /// True for a line that is only a page number.
    static func isPageNumberLine(_ line: String) -> Bool {
        guard !line.isEmpty, line.count <= 40 else { return false }
        var shape = ""
        var digits = 0
        var lastWasDigit = false
        for ch in line.lowercased() where !ch.isWhitespace {
            if ch.isASCII, ch.isNumber {
                digits += 1
                if !lastWasDigit { shape.append("#") }
                lastWasDigit = true
            } else {
                shape.append(ch)
                lastWasDigit = false
            }
        }
        return digits > 0 && digits <= 10 && pageNumberShapes.contains(shape)
    }

    /// Rejoins English words hyphenated across a line end (`ware-` + `house` → `warehouse`).
    static func joinHyphenated(_ lines: [String]) -> [String] {
        var out: [String] = []
        out.reserveCapacity(lines.count)
        var i = 0
        while i < lines.count {
            var line = lines[i]
            while i + 1 < lines.count, endsWithWordHyphen(line), let first = lines[i + 1].unicodeScalars.first,
                first.properties.isLowercase, first.isASCII
            {
                line = String(line.dropLast()) + lines[i + 1]
                i += 1
            }
            out.append(line)
            i += 1
        }
        return out
    }

    /// Inserts a blank line after a line that ends a sentence and is clearly shorter than the longest line of
    /// its group of consecutive lines: the last line of a paragraph inside a text flow.
    static func breakAfterShortLines(_ lines: [String]) -> [String] {
        var out: [String] = []
        out.reserveCapacity(lines.count + 8)
        var start = 0
        while start < lines.count {
            if lines[start].isEmpty {
                out.append("")
                start += 1
                continue
            }
            var end = start
            while end < lines.count, !lines[end].isEmpty { end += 1 }
            let widths = lines[start..<end].map(displayWidth)
            let widest = widths.max() ?? 0
            for i in start..<end {
                out.append(lines[i])
                if i + 1 < end, widest >= 20, widths[i - start] * 4 < widest * 3, endsSentence(lines[i]) {
                    out.append("")
                }
            }
            start = end
        }
        return out
    }

    /// Width in columns: CJK characters count 2.
    private static func displayWidth(_ line: String) -> Int {
        line.unicodeScalars.reduce(0) { $0 + (TextScan.isCJK($1.value) ? 2 : 1) }
    }

    private static func endsSentence(_ line: String) -> Bool {
        guard let last = line.unicodeScalars.last else { return false }
        return "。！？.!?:：;；”」』)）\"".unicodeScalars.contains(last)
    }

    private static func endsWithWordHyphen(_ line: String) -> Bool {
        let scalars = line.unicodeScalars
        guard scalars.count >= 3, scalars.last == "-" else { return false }
        let before = scalars[scalars.index(scalars.endIndex, offsetBy: -2)]
        let twoBefore = scalars[scalars.index(scalars.endIndex, offsetBy: -3)]
        return before.isASCII && before.properties.isAlphabetic && twoBefore.properties.isAlphabetic
    }

    /// Paragraph blocks of one page: paragraphs at blank lines and after short lines that end a sentence
    /// (pdftotext keeps a whole text flow together), lines joined (CJK without spaces).
    static func paragraphs(_ lines: [String], page: Int?) -> [Block] {
        var blocks: [Block] = []
        var splitter = ParagraphSplitter()
        var text = breakAfterShortLines(joinHyphenated(lines)).joined(separator: "\n")
        text.withUTF8 { b in
            splitter.feed(b) { blocks.append(Block(kind: .paragraph, text: $0, page: page)) }
        }
        splitter.finish { blocks.append(Block(kind: .paragraph, text: $0, page: page)) }
        return blocks
    }

    /// Blocks of a page read in layout mode: a line with two or more cells (separated by runs of at least two
    /// spaces) is one table row (`A100 | Widget | 12.50`); other lines flow into paragraphs.
    static func layoutBlocks(_ rawLines: [String], page: Int?) -> [Block] {
        var blocks: [Block] = []
        var pending: [String] = []
        func flush() {
            if !pending.isEmpty { blocks += paragraphs(pending, page: page) }
            pending.removeAll()
        }
        for line in rawLines {
            let cells = tableCells(line)
            if cells.count >= 2 {
                flush()
                blocks.append(Block(kind: .paragraph, text: cells.joined(separator: " | "), page: page))
            } else {
                pending.append(line)
            }
        }
        flush()
        return blocks
    }

    /// Cells of a layout line: pieces separated by two or more spaces.
    static func tableCells(_ line: String) -> [String] {
        var cells: [String] = []
        var current = ""
        var spaces = 0
        for ch in line {
            if ch == " " {
                spaces += 1
                continue
            }
            if spaces >= 2, !current.isEmpty {
                cells.append(current)
                current = ""
            } else if spaces == 1, !current.isEmpty {
                current.append(" ")
            }
            spaces = 0
            current.append(ch)
        }
        if !current.isEmpty { cells.append(current) }
        return cells
    }

    /// True when pdftotext's default output of a page looks like a table taken apart cell by cell: many
    /// blank-line-separated pieces, most of them one short line.
    static func looksLikeTable(_ lines: [String]) -> Bool {
        var pieces = 0
        var shortSingles = 0
        var current: [String] = []
        func close() {
            guard !current.isEmpty else { return }
            pieces += 1
            if current.count == 1, current[0].count <= 24, current[0].split(separator: " ").count <= 3 {
                shortSingles += 1
            }
            current.removeAll()
        }
        for line in lines {
            if line.isEmpty { close() } else { current.append(line) }
        }
        close()
        return pieces >= 6 && shortSingles * 10 >= pieces * 6
    }

    /// The PDF's metadata title when it is meaningful (not empty, `untitled`, or a file name).
    static func meaningfulTitle(_ raw: String?) -> String? {
        guard var title = raw.map({ TextScan.collapse($0) }), !title.isEmpty, title.count <= 300 else { return nil }
        for prefix in ["Microsoft Word - ", "Microsoft PowerPoint - ", "Microsoft Excel - "]
        where title.hasPrefix(prefix) {
            title = String(title.dropFirst(prefix.count))
        }
        let lower = title.lowercased()
        if ["untitled", "无标题", "無標題", "unknown", "title", "document", "none", "null"].contains(lower) {
            return nil
        }
        let fileExtensions = [".doc", ".docx", ".pdf", ".ppt", ".pptx", ".xls", ".xlsx", ".rtf", ".txt", ".md",
                              ".odt", ".tex", ".dvi", ".indd", ".tmp", ".html", ".htm", ".wps"]
        if fileExtensions.contains(where: { lower.hasSuffix($0) }) { return nil }
        guard title.unicodeScalars.contains(where: { $0.properties.isAlphabetic }) else { return nil }
        return title
    }

    /// `1, 3, 5–8` for sorted page numbers (at most `limit` items, then `…`).
    static func pageList(_ pages: [Int], limit: Int = 20) -> String {
        var parts: [String] = []
        var i = 0
        while i < pages.count {
            var j = i
            while j + 1 < pages.count, pages[j + 1] == pages[j] + 1 { j += 1 }
            if j > i + 1 {
                parts.append("\(pages[i])–\(pages[j])")
            } else {
                parts += pages[i...j].map(String.init)
            }
            i = j + 1
        }
        if parts.count > limit { return parts.prefix(limit).joined(separator: ", ") + ", …" }
        return parts.joined(separator: ", ")
    }
}
