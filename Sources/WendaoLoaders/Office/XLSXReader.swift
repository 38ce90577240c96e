import Foundation
import WendaoCore

// XLSX: every sheet in workbook order; the first non-empty row is the header, every following row
// one record `header: value | …` with section path [sheet name]. Sheets are parsed while they
// inflate, row by row (no DOM); after `maxSheetRows` rows the sheet is cut with a warning.
// Formulas are never evaluated: a formula cell shows its cached value, or nothing. Text cells
// starting with = + - @ stay literal text.

enum XLSXReader {
    static func parse(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument {
        let package = try OfficePackage(data, limits: limits)
        let rels = try package.relationships(of: "")
        var main = rels.first { $0.isType("officeDocument") }?.target
        if main == nil, package.has("xl/workbook.xml") { main = "xl/workbook.xml" }
        guard let mainPart = main, package.has(mainPart) else {
            throw WendaoError(.unreadable, "not an Excel workbook (no xl/workbook.xml)")
        }
        var workbook = WorkbookHandler()
        try package.parseXML(mainPart, cap: 16 << 20, handler: &workbook)
        let bookRels = try package.relationships(of: mainPart)
        var targets: [String: OfficeRelationship] = [:]
        for rel in bookRels { targets[rel.id] = rel }

        var shared = SharedStringsHandler()
        if let part = bookRels.first(where: { $0.isType("sharedStrings") })?.target {
            try package.parseXML(part, handler: &shared)
        }
        var styles = XLSXStylesHandler()
        if let part = bookRels.first(where: { $0.isType("styles") })?.target {
            try package.parseXML(part, cap: 64 << 20, handler: &styles)
        }
        var warnings = package.warnings
        var blocks: [Block] = []
        let hidden = workbook.sheets.filter(\.hidden).map(\.name)
        if !hidden.isEmpty { warnings.append("hidden sheets included: " + hidden.joined(separator: ", ")) }
        var formats = XLSXFormats(styles: styles, date1904: workbook.date1904)
        for sheet in workbook.sheets {
            guard let rel = targets[sheet.relId], rel.isType("worksheet"), let part = rel.target, package.has(part)
            else {
                continue
            }
            var handler = SheetHandler(
                name: sheet.name, shared: shared.strings, formats: formats, maxRows: limits.maxSheetRows)
            try package.parseXML(part, handler: &handler)
            formats = handler.formats
            if blocks.isEmpty { blocks = handler.blocks } else { blocks += handler.blocks }
            if handler.cut {
                warnings.append("sheet \(sheet.name): rows after \(limits.maxSheetRows) skipped")
            }
        }
        return ParsedDocument(title: nil, blocks: blocks, warnings: warnings)
    }

    /// Calls `row` with each row of the first worksheet that has a value, in order: the cells' texts as
    /// displayed (number formats applied, formulas' cached values, "" for an empty cell) and the row's
    /// 1-based number among the sheet's rows. The sheet is parsed while it inflates, so memory stays
    /// bounded by one row (and the shared strings); rows past `limits.maxSheetRows` are an error.
    static func rows(
        of data: Data, limits: LoaderLimits, _ row: (_ cells: [String], _ number: Int) throws -> Void
    ) throws {
        let package = try OfficePackage(data, limits: limits)
        let rels = try package.relationships(of: "")
        var main = rels.first { $0.isType("officeDocument") }?.target
        if main == nil, package.has("xl/workbook.xml") { main = "xl/workbook.xml" }
        guard let mainPart = main, package.has(mainPart) else {
            throw WendaoError(.unreadable, "not an Excel workbook (no xl/workbook.xml)")
        }
        var workbook = WorkbookHandler()
        try package.parseXML(mainPart, cap: 16 << 20, handler: &workbook)
        var targets: [String: OfficeRelationship] = [:]
        let bookRels = try package.relationships(of: mainPart)
        for rel in bookRels { targets[rel.id] = rel }
        var shared = SharedStringsHandler()
        if let part = bookRels.first(where: { $0.isType("sharedStrings") })?.target {
            try package.parseXML(part, handler: &shared)
        }
        var styles = XLSXStylesHandler()
        if let part = bookRels.first(where: { $0.isType("styles") })?.target {
            try package.parseXML(part, cap: 64 << 20, handler: &styles)
        }
        let first = workbook.sheets.first { sheet in
            guard let rel = targets[sheet.relId], rel.isType("worksheet"), let part = rel.target else { return false }
            return package.has(part)
        }
        guard let sheet = first, let part = targets[sheet.relId]?.target else {
            throw WendaoError(.unreadable, "the workbook has no worksheet")
        }
        try withoutActuallyEscaping(row) { row in
            var handler = SheetHandler(
                name: sheet.name, shared: shared.strings,
                formats: XLSXFormats(styles: styles, date1904: workbook.date1904), maxRows: limits.maxSheetRows)
            handler.onRow = row
            try package.parseXML(part, handler: &handler)
            if handler.cut {
                throw WendaoError(
                    .limitExceeded, "sheet \(sheet.name) has more than \(limits.maxSheetRows) rows")
            }
        }
    }

    /// `A` for column 0, `Z` for 25, `AA` for 26.
    static func columnName(_ index: Int) -> String {
        var n = index + 1
        var out: [UInt8] = []
        while n > 0 {
            let r = (n - 1) % 26
            out.insert(UInt8(65 + r), at: 0)
            n = (n - 1) / 26
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Sheets of xl/workbook.xml.
struct WorkbookHandler: XMLHandler {
    struct Sheet {
        var name: String
        var relId: String
        var hidden: Bool
    }

    var sheets: [Sheet] = []
    var date1904 = false

    mutating func start(_ tag: XMLTag) throws {
        if tag.name.is("sheet"), sheets.count < 10_000 {
            let state = tag.attribute("state")
            sheets.append(Sheet(
                name: tag.attribute("name") ?? "Sheet\(sheets.count + 1)",
                relId: tag.attribute("r:id") ?? tag.attribute(local: "id") ?? "",
                hidden: state == "hidden" || state == "veryHidden"))
        } else if tag.name.is("workbookPr") {
            date1904 = tag.attribute("date1904").map { ooxmlOn($0) } ?? false
        }
    }

    mutating func end(_ name: XMLName) throws {}
    mutating func text(_ text: XMLText) throws {}
}

/// xl/sharedStrings.xml: one string per `si` (rich-text runs concatenated, phonetic runs skipped).
struct SharedStringsHandler: XMLHandler {
    var strings: [String] = []
    private var inItem = false
    private var inText = 0
    private var inPhonetic = 0
    private var bytes: [UInt8] = []

    mutating func start(_ tag: XMLTag) throws {
        let n = tag.name
        if n.is("si") {
            inItem = true
            bytes.removeAll(keepingCapacity: true)
        } else if n.is("t") {
            inText += 1
        } else if n.is("rPh") {
            inPhonetic += 1
        }
    }

    mutating func end(_ name: XMLName) throws {
        if name.is("si") {
            inItem = false
            strings.append(SheetHandler.cellText(bytes))
        } else if name.is("t") {
            inText = max(0, inText - 1)
        } else if name.is("rPh") {
            inPhonetic = max(0, inPhonetic - 1)
        }
    }

    mutating func text(_ text: XMLText) throws {
        if inItem, inText > 0, inPhonetic == 0 { text.append(to: &bytes) }
    }
}

/// xl/styles.xml: custom number formats and the cellXfs number format ids.
struct XLSXStylesHandler: XMLHandler {
    var customFormats: [Int: String] = [:]
    var cellFormatIds: [Int] = []
    private var inCellXfs = false

    mutating func start(_ tag: XMLTag) throws {
        let n = tag.name
        if n.is("numFmt") {
            if let id = tag.attribute("numFmtId").flatMap({ Int($0) }), let code = tag.attribute("formatCode"),
                customFormats.count < 10_000
            {
                customFormats[id] = code
            }
        } else if n.is("cellXfs") {
            inCellXfs = true
        } else if inCellXfs, n.is("xf"), cellFormatIds.count < 100_000 {
            cellFormatIds.append(tag.attribute("numFmtId").flatMap { Int($0) } ?? 0)
        }
    }

    mutating func end(_ name: XMLName) throws {
        if name.is("cellXfs") { inCellXfs = false }
    }

    mutating func text(_ text: XMLText) throws {}
}

/// Compiled formats per cell style index, built on first use.
struct XLSXFormats {
    let styles: XLSXStylesHandler
    let date1904: Bool
    private var byStyle: [XLSXNumberFormat?] = []

    init(styles: XLSXStylesHandler, date1904: Bool) {
        self.styles = styles
        self.date1904 = date1904
    }

    mutating func format(style: Int) -> XLSXNumberFormat {
        // Styles outside cellXfs are General; the cache has one slot per cellXfs entry (at most 100,000).
        guard style >= 0, style < styles.cellFormatIds.count else { return .general }
        if style < byStyle.count, let f = byStyle[style] { return f }
        var f = XLSXNumberFormat.general
        let id = styles.cellFormatIds[style]
        if let code = styles.customFormats[id] ?? XLSXNumberFormat.builtIn(id) { f = XLSXNumberFormat(code: code) }
        if byStyle.isEmpty { byStyle = Array(repeating: nil, count: styles.cellFormatIds.count) }
        byStyle[style] = f
        return f
    }
}

/// One worksheet, streamed row by row. Cell values are written as UTF-8 straight into one buffer
/// per row (`rowBytes`, with a byte range per column); a record's text is built from those bytes,
/// so no cell needs a string of its own.
struct SheetHandler: XMLHandler {
    let name: String
    let shared: [String]
    var formats: XLSXFormats
    let maxRows: Int
    let path: [String]
    var blocks: [Block] = []
    var cut = false
    /// When set, each row with a value is handed over as cell texts (with its number) instead of
    /// becoming a record block.
    var onRow: ((_ cells: [String], _ number: Int) throws -> Void)?

    private var rows = 0
    private var header: [[UInt8]]?
    private var headerCells: [String]?
    private var rowBytes: [UInt8] = []
    private var liveBytes = 0
    /// The bytes of each column's value in `rowBytes` (empty range: no value), up to the last
    /// column with a value.
    private var cells: [Range<Int>] = []
    private var record: [UInt8] = []
    private var nextColumn = 0
    private var inSheetData = false
    private var inCell = false
    private var cellColumn = 0
    private var cellType: UInt8 = 0  // 0 number, s shared, b bool, e error, t str/inline/date
    private var cellStyle = 0
    private var inValue = false
    private var inInlineText = 0
    private var inPhonetic = 0
    private var value: [UInt8] = []
    private var inline: [UInt8] = []
    private var hasInline = false

    init(name: String, shared: [String], formats: XLSXFormats, maxRows: Int) {
        self.name = name
        self.shared = shared
        self.formats = formats
        self.maxRows = maxRows
        path = [name]
    }

    /// Whether cell text can be taken as it is: no control bytes, spaces or lead bytes of Unicode
    /// spaces (C2, E2, E3).
    private static func isPlain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for c in bytes where c < 0x21 || c == 0xC2 || c == 0xE3 || c == 0xE2 { return false }
        return true
    }

    /// Cell text on one line (line breaks inside a cell become spaces).
    static func cellText(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { b in
            isPlain(b) ? String(decoding: b, as: UTF8.self) : TextScan.collapse(b)
        }
    }

    /// Appends ``cellText(_:)`` of `bytes` to `out` as UTF-8.
    static func appendCellText(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        if isCollapsed(bytes) || isPlain(bytes) {
            out.append(contentsOf: bytes)
        } else {
            TextScan.appendCollapsed(bytes, to: &out)
        }
    }

    /// Whether ``TextScan/collapse(_:keepNewlines:)`` would return the bytes unchanged because
    /// they have no whitespace but single spaces between other characters. It looks at every
    /// byte (collapse steps over whole UTF-8 sequences), so it can only be stricter; when in doubt
    /// the caller collapses.
    private static func isCollapsed(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = b.count
        guard n > 0, b[0] != 0x20, b[n - 1] != 0x20 else { return false }
        var previousSpace = false
        var i = 0
        while i < n {
            let c = b[i]
            if c > 0x20, c < 0x80 {
                previousSpace = false
            } else if c == 0x20 {
                if previousSpace { return false }
                previousSpace = true
            } else if c < 0x20 {
                return false
            } else {
                previousSpace = false
                if c == 0xC2 || c == 0xE1 || c == 0xE2 || c == 0xE3 || c == 0xEF,
                    TextScan.whitespaceLength(at: i, in: b) > 0
                {
                    return false
                }
            }
            i += 1
        }
        return true
    }

    private static func int(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !b.isEmpty, b.count < 10 else { return nil }
        var n = 0
        for c in b {
            guard c >= 0x30, c <= 0x39 else { return nil }
            n = n * 10 + Int(c - 0x30)
        }
        return n
    }

    mutating func start(_ tag: XMLTag) throws {
        let n = tag.name
        if n.is("c") {
            guard inSheetData else { return }
            inCell = true
            if !value.isEmpty { value.removeAll(keepingCapacity: true) }
            if !inline.isEmpty { inline.removeAll(keepingCapacity: true) }
            hasInline = false
            cellColumn = nextColumn
            // One pass over the attributes; the first of each name counts, as with `tag.raw`.
            var r: UnsafeBufferPointer<UInt8>?
            var t: UnsafeBufferPointer<UInt8>?
            var s: UnsafeBufferPointer<UInt8>?
            tag.forEachAttribute { name, _, raw in
                if name.count == 1 {
                    switch name[0] {
                    case UInt8(ascii: "r"): if r == nil { r = raw }
                    case UInt8(ascii: "t"): if t == nil { t = raw }
                    case UInt8(ascii: "s"): if s == nil { s = raw }
                    default: break
                    }
                }
                return false
            }
            if let r {
                var col = 0
                var letters = 0
                for c in r {
                    let u = c & 0xDF
                    guard u >= 0x41, u <= 0x5A else { break }
                    col = col * 26 + Int(u - 0x40)
                    letters += 1
                }
                if letters > 0, letters <= 3 { cellColumn = col - 1 }
            }
            nextColumn = cellColumn + 1
            cellType = 0
            if let t, let first = t.first {
                switch first {
                case UInt8(ascii: "s"): cellType = t.count == 1 ? UInt8(ascii: "s") : UInt8(ascii: "t")
                case UInt8(ascii: "b"): cellType = UInt8(ascii: "b")
                case UInt8(ascii: "e"): cellType = UInt8(ascii: "e")
                case UInt8(ascii: "n"): cellType = 0
                default: cellType = UInt8(ascii: "t")
                }
            }
            cellStyle = s.flatMap { Self.int($0) } ?? 0
        } else if n.is("v") {
            inValue = inCell
        } else if n.is("row") {
            guard inSheetData else { return }
            rows += 1
            if rows > maxRows {
                cut = true
                throw XMLStop()
            }
            cells.removeAll(keepingCapacity: true)
            rowBytes.removeAll(keepingCapacity: true)
            liveBytes = 0
            nextColumn = 0
        } else if n.is("t") {
            if inCell { inInlineText += 1 }
        } else if n.is("is") {
            hasInline = inCell
        } else if n.is("rPh") {
            inPhonetic += 1
        } else if n.is("sheetData") {
            inSheetData = true
        }
    }

    mutating func end(_ name: XMLName) throws {
        if name.is("c") {
            guard inCell else { return }
            inCell = false
            let start = rowBytes.count
            appendCellValue()
            let length = rowBytes.count - start
            guard length > 0, cellColumn < 16_384 else {
                rowBytes.removeSubrange(start...)
                return
            }
            if cells.count <= cellColumn {
                cells.append(contentsOf: repeatElement(0..<0, count: cellColumn + 1 - cells.count))
            }
            liveBytes += length - cells[cellColumn].count
            cells[cellColumn] = start..<(start + length)
            if rowBytes.count > 1 << 20, rowBytes.count > 2 * liveBytes { compactRow() }
        } else if name.is("v") {
            inValue = false
        } else if name.is("row") {
            try finishRow()
        } else if name.is("t") {
            inInlineText = max(0, inInlineText - 1)
        } else if name.is("rPh") {
            inPhonetic = max(0, inPhonetic - 1)
        } else if name.is("sheetData") {
            inSheetData = false
            if blocks.isEmpty, let headerCells, !headerCells.isEmpty {
                blocks.append(Block(kind: .record, text: headerCells.joined(separator: " | "), sectionPath: path))
            }
        }
    }

    mutating func text(_ text: XMLText) throws {
        if inValue {
            text.append(to: &value)
        } else if inInlineText > 0, hasInline, inPhonetic == 0 {
            text.append(to: &inline)
        }
    }

    /// Drops the bytes of overwritten cells (a row that repeats the same column many times).
    private mutating func compactRow() {
        var kept: [UInt8] = []
        kept.reserveCapacity(liveBytes)
        for k in cells.indices where !cells[k].isEmpty {
            let start = kept.count
            kept.append(contentsOf: rowBytes[cells[k]])
            cells[k] = start..<kept.count
        }
        rowBytes = kept
    }

    /// Appends the cell's displayed value to `rowBytes`.
    private mutating func appendCellValue() {
        if hasInline {
            inline.withUnsafeBufferPointer { Self.appendCellText($0, to: &rowBytes) }
            return
        }
        guard !value.isEmpty else { return }
        switch cellType {
        case UInt8(ascii: "s"):
            let index = value.withUnsafeBufferPointer { Self.int($0) } ?? -1
            if index >= 0, index < shared.count { rowBytes.append(contentsOf: shared[index].utf8) }
        case UInt8(ascii: "b"):
            rowBytes.append(contentsOf: (value.count == 1 && value[0] == 0x31 ? "TRUE" : "FALSE").utf8)
        case UInt8(ascii: "e"), UInt8(ascii: "t"):
            value.withUnsafeBufferPointer { Self.appendCellText($0, to: &rowBytes) }
        default:
            var lo = 0
            var hi = value.count
            while lo < hi, XMLBytes.isSpace(value[lo]) { lo += 1 }
            while hi > lo, XMLBytes.isSpace(value[hi - 1]) { hi -= 1 }
            let format = cellStyle == 0 ? XLSXNumberFormat.general : formats.format(style: cellStyle)
            let date1904 = formats.date1904
            value.withUnsafeBufferPointer {
                format.append(raw: UnsafeBufferPointer(rebasing: $0[lo..<hi]), date1904: date1904, to: &rowBytes)
            }
        }
    }

    private mutating func finishRow() throws {
        guard cells.contains(where: { !$0.isEmpty }) else { return }
        if let onRow {
            try onRow(cells.map { String(decoding: rowBytes[$0], as: UTF8.self) }, rows)
            return
        }
        guard let header else {
            let texts = cells.map { String(decoding: rowBytes[$0], as: UTF8.self) }
            headerCells = texts.filter { !$0.isEmpty }
            header = texts.enumerated().map { k, text in
                Array((text.isEmpty ? XLSXReader.columnName(k) : text).utf8)
            }
            return
        }
        record.removeAll(keepingCapacity: true)
        for (k, cell) in cells.enumerated() where !cell.isEmpty {
            if !record.isEmpty {
                record.append(UInt8(ascii: " "))
                record.append(UInt8(ascii: "|"))
                record.append(UInt8(ascii: " "))
            }
            if k < header.count {
                record.append(contentsOf: header[k])
            } else {
                record.append(contentsOf: Array(XLSXReader.columnName(k).utf8))
            }
            record.append(UInt8(ascii: ":"))
            record.append(UInt8(ascii: " "))
            record.append(contentsOf: rowBytes[cell])
        }
        blocks.append(Block(kind: .record, text: String(decoding: record, as: UTF8.self), sectionPath: path))
    }
}
