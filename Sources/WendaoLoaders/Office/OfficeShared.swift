import Foundation
import WendaoCore

/// Text normalisation shared by the Office loaders.
enum OfficeText {
    /// Collapses runs of spaces; keeps tabs and line breaks (trimmed around them); trims the ends.
    static func normalize(_ bytes: [UInt8], mayHaveBreaks: Bool = true) -> String {
        if !mayHaveBreaks || (!bytes.contains(0x09) && !bytes.contains(0x0A)) {
            return bytes.withUnsafeBufferPointer { TextScan.collapse($0) }
        }
        var lines: [String] = []
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            var fields: [String] = []
            for field in line.split(separator: 0x09, omittingEmptySubsequences: false) {
                fields.append(Array(field).withUnsafeBufferPointer { TextScan.collapse($0) })
            }
            while let last = fields.last, last.isEmpty { fields.removeLast() }
            lines.append(fields.joined(separator: "\t"))
        }
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    /// The collapsed text on one line (tabs and line breaks become spaces).
    static func oneLine(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { TextScan.collapse($0) }
    }
}

/// Headings seen so far, for section paths.
struct SectionTracker {
    private(set) var stack: [(level: Int, text: String)] = []

    /// Enters a heading; returns its section path (including itself).
    mutating func heading(level: Int, text: String) -> [String] {
        while let last = stack.last, last.level >= level { stack.removeLast() }
        stack.append((level, text))
        return path
    }

    /// The current section path.
    var path: [String] { stack.map(\.text) }
}

/// A table collected cell by cell, turned into header-repeating records.
struct OfficeTable {
    /// One cell as read from the file.
    struct Cell {
        /// The cell text (already normalised).
        var text: String
        /// Grid columns the cell spans.
        var span: Int = 1
        /// Whether the cell continues a vertical merge from the row above.
        var continuesAbove: Bool = false
    }

    /// Rows of cells.
    var rows: [[Cell]] = []
    /// Number of leading rows marked as header rows (`w:tblHeader`); zero means "use the first row".
    var markedHeaderRows = 0

    /// The blocks: one `.record` per data row (`header: value | …`). A one-column table gives one
    /// paragraph per row; a table with only a header row gives one record of its cells.
    func blocks(sectionPath: [String], page: Int? = nil) -> [Block] {
        // Expand to a grid: each cell's text at its first column; spans and vertical merges copied
        // into `full` so headers and merged values are known for every column.
        var starts: [[String]] = []
        var fulls: [[String]] = []
        var previousFull: [String] = []
        var columns = 0
        for row in rows {
            var start: [String] = []
            var full: [String] = []
            for cell in row {
                let c = full.count
                let text = cell.continuesAbove ? (c < previousFull.count ? previousFull[c] : "") : cell.text
                let span = max(1, min(cell.span, 512))
                start.append(text)
                full.append(text)
                for _ in 1..<span {
                    start.append("")
                    full.append(text)
                }
            }
            columns = max(columns, full.count)
            starts.append(start)
            fulls.append(full)
            previousFull = full
        }
        guard let firstNonEmpty = starts.firstIndex(where: { $0.contains { !$0.isEmpty } }) else { return [] }
        if columns == 1 {
            return starts.compactMap { row in
                row.first.flatMap {
                    $0.isEmpty ? nil : Block(kind: .paragraph, text: $0, sectionPath: sectionPath, page: page)
                }
            }
        }
        let headerRows = markedHeaderRows > 0
            ? 0..<min(markedHeaderRows, rows.count) : firstNonEmpty..<(firstNonEmpty + 1)
        var header = [String](repeating: "", count: columns)
        for r in headerRows {
            for (c, text) in fulls[r].enumerated() where !text.isEmpty {
                if header[c].isEmpty {
                    header[c] = text
                } else if !header[c].split(separator: "/").map({ $0.trimmingCharacters(in: .whitespaces) })
                    .contains(text)
                {
                    header[c] += " / " + text
                }
            }
        }
        var blocks: [Block] = []
        for r in headerRows.upperBound..<starts.count {
            if let text = RecordFormat.row(header: header, cells: starts[r]) {
                blocks.append(Block(kind: .record, text: text, sectionPath: sectionPath, page: page))
            }
        }
        if blocks.isEmpty {
            let text = headerRows.flatMap { starts[$0] }.filter { !$0.isEmpty }.joined(separator: " | ")
            if !text.isEmpty { blocks.append(Block(kind: .record, text: text, sectionPath: sectionPath, page: page)) }
        }
        return blocks
    }
}

/// Whether an OOXML on/off attribute value means "on" (absent value counts as on).
func ooxmlOn(_ value: String?) -> Bool {
    guard let value else { return true }
    return value == "1" || value == "true" || value == "on"
}

/// Collects the text of elements with a given local name (`dc:title`, …) from a small part.
struct ElementTextHandler: XMLHandler {
    let wanted: StaticString
    var depth = 0
    var bytes: [UInt8] = []
    var done = false

    init(_ wanted: StaticString) { self.wanted = wanted }

    mutating func start(_ tag: XMLTag) throws {
        if !done, tag.name.is(wanted) { depth += 1 }
    }

    mutating func end(_ name: XMLName) throws {
        if depth > 0, name.is(wanted) {
            depth -= 1
            if depth == 0 { done = true }
        }
    }

    mutating func text(_ text: XMLText) throws {
        if depth > 0, bytes.count < 4_096 { text.append(to: &bytes) }
    }

    /// The collected text, collapsed; nil when empty.
    var value: String? {
        let s = OfficeText.oneLine(bytes)
        return s.isEmpty ? nil : s
    }
}
