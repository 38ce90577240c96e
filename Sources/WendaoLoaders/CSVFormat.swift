import WendaoCore

// CSV/TSV → records. RFC 4180 parsing (quoted fields, doubled quotes, line breaks inside quotes),
// ragged rows tolerated, delimiter sniffed from the header line. A question/answer header turns
// every row into one FAQ record; any other table repeats its header into every row. Cells are
// plain text: a leading = + - @ is never evaluated.

enum CSVFormat {
    struct Result {
        var blocks: [Block]
        var warnings: [String]
    }

    static let questionNames: Set<String> = ["question", "q", "问题", "问", "提问", "常见问题"]
    static let answerNames: Set<String> = ["answer", "a", "答案", "答", "回答", "解答"]

    static func parse(_ text: String, preferTab: Bool = false) -> Result {
        var copy = text
        // Excel's "sep=;" hint line names the delimiter.
        var forced: UInt8?
        if copy.hasPrefix("sep="), let end = copy.firstIndex(of: "\n") {
            let hint = copy[copy.index(copy.startIndex, offsetBy: 4)..<end].utf8
            if hint.count == 1, let c = hint.first, c == 0x2C || c == 0x3B || c == 0x09 || c == 0x7C {
                forced = c
                copy = String(copy[copy.index(after: end)...])
            }
        }
        return copy.withUTF8 { b in
            let delimiter = forced ?? sniffDelimiter(b, preferTab: preferTab)
            var warnings: [String] = []
            var blocks: [Block] = []
            var header: [String]?
            var faq: (q: Int, a: Int)?
            var rowNumber = 0
            let unterminated = parseRows(b, delimiter: delimiter) { cells in
                rowNumber += 1
                let trimmed = cells.map { TextScan.collapse($0) }
                guard trimmed.contains(where: { !$0.isEmpty }) else { return }
                guard let h = header else {
                    header = trimmed
                    faq = faqColumns(trimmed)
                    return
                }
                if let f = faq {
                    if let block = faqRecord(h, trimmed, f) { blocks.append(block) }
                } else if let text = RecordFormat.row(header: h, cells: trimmed) {
                    let first = trimmed.first ?? ""
                    blocks.append(Block(kind: .record, text: text, sectionPath: first.isEmpty ? [] : [first]))
                }
            }
            if unterminated { warnings.append("unterminated quoted field at the end of the file") }
            if header != nil, blocks.isEmpty { warnings.append("only a header row, no data rows") }
            return Result(blocks: blocks, warnings: warnings)
        }
    }

    static func normalizedHeader(_ s: String) -> String {
        var t = s.lowercased()
        while let last = t.last, last == ":" || last == "：" { t.removeLast() }
        return t.trimmingChars(" \t")
    }

    static func faqColumns(_ header: [String]) -> (q: Int, a: Int)? {
        let names = header.map(normalizedHeader)
        guard let q = names.firstIndex(where: { questionNames.contains($0) }),
            let a = names.firstIndex(where: { answerNames.contains($0) }), q != a
        else { return nil }
        return (q, a)
    }

    static func faqRecord(_ header: [String], _ cells: [String], _ f: (q: Int, a: Int)) -> Block? {
        let question = f.q < cells.count ? cells[f.q] : ""
        let answer = f.a < cells.count ? cells[f.a] : ""
        let cjk = TextScan.containsCJK(question.isEmpty ? answer : question)
        var lines: [String] = []
        if !question.isEmpty { lines.append((cjk ? "问：" : "Q: ") + question) }
        if !answer.isEmpty { lines.append((cjk ? "答：" : "A: ") + answer) }
        for (k, cell) in cells.enumerated() where k != f.q && k != f.a && !cell.isEmpty {
            let name = k < header.count ? header[k] : ""
            lines.append(name.isEmpty ? cell : "\(name): \(cell)")
        }
        guard !lines.isEmpty else { return nil }
        return Block(
            kind: .record, text: lines.joined(separator: "\n"), sectionPath: question.isEmpty ? [] : [question])
    }

    /// Picks `,`, tab or `;` by counting them (outside quotes) in the first line.
    static func sniffDelimiter(_ b: UnsafeBufferPointer<UInt8>, preferTab: Bool) -> UInt8 {
        var comma = 0
        var tab = 0
        var semicolon = 0
        var inQuotes = false
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 0x22 {
                inQuotes.toggle()
            } else if !inQuotes {
                if c == 0x0A || c == 0x0D {
                    if comma + tab + semicolon > 0 { break }
                } else if c == 0x2C {
                    comma += 1
                } else if c == 0x09 {
                    tab += 1
                } else if c == 0x3B {
                    semicolon += 1
                }
            }
            i += 1
        }
        if preferTab, tab > 0 { return 0x09 }
        if tab > comma, tab >= semicolon { return 0x09 }
        if semicolon > comma, semicolon > tab { return 0x3B }
        if comma == 0, tab == 0, semicolon == 0 { return preferTab ? 0x09 : 0x2C }
        return 0x2C
    }

    /// Calls `row` for every record; returns true when the input ended inside a quoted field.
    @discardableResult
    static func parseRows(_ b: UnsafeBufferPointer<UInt8>, delimiter: UInt8, _ row: ([String]) -> Void) -> Bool {
        var cells: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var quotedField = false
        var onlySpaces = true  // the field so far is empty or spaces
        var i = 0
        let n = b.count
        func endField() {
            cells.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            quotedField = false
            onlySpaces = true
        }
        while i < n {
            let c = b[i]
            if inQuotes {
                if c == 0x22 {
                    if i + 1 < n, b[i + 1] == 0x22 {
                        field.append(0x22)
                        i += 2
                        continue
                    }
                    inQuotes = false
                } else {
                    field.append(c)
                }
                i += 1
                continue
            }
            if c == 0x22, onlySpaces, !quotedField {
                field.removeAll(keepingCapacity: true)
                inQuotes = true
                quotedField = true
            } else if c == delimiter {
                endField()
            } else if c == 0x0A || c == 0x0D {
                endField()
                row(cells)
                cells.removeAll(keepingCapacity: true)
                if c == 0x0D, i + 1 < n, b[i + 1] == 0x0A { i += 1 }
            } else {
                if c != 0x20, c != 0x09 { onlySpaces = false }
                field.append(c)
            }
            i += 1
        }
        if !field.isEmpty || !cells.isEmpty || quotedField {
            endField()
            row(cells)
        }
        return inQuotes
    }
}
