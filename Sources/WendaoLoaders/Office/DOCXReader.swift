import Foundation
import WendaoCore

// DOCX: the main document part (found through the package relationships), paragraphs in order,
// headings from styles (styleId → name / outline level, following basedOn), list paragraphs,
// tables as header-repeating records. Tracked deletions and the fallback branch of
// mc:AlternateContent are skipped.

enum DOCXReader {
    static func parse(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument {
        let package = try OfficePackage(data, limits: limits)
        let rels = try package.relationships(of: "")
        var main = rels.first { $0.isType("officeDocument") }?.target
        if main == nil, package.has("word/document.xml") { main = "word/document.xml" }
        guard let mainPart = main, package.has(mainPart) else {
            throw WendaoError(.unreadable, "not a Word document (no word/document.xml)")
        }
        let docRels = try package.relationships(of: mainPart)
        var styles = DOCXStyles()
        if let stylesPart = docRels.first(where: { $0.isType("styles") })?.target {
            try package.parseXML(stylesPart, cap: 64 << 20, handler: &styles)
        }
        var title: String?
        let core = rels.first(where: { $0.isType("core-properties") })?.target ?? "docProps/core.xml"
        var coreHandler = ElementTextHandler("title")
        if try package.parseXML(core, cap: 4 << 20, handler: &coreHandler) { title = coreHandler.value }
        var body = DOCXBodyHandler(styles: styles)
        try package.parseXML(mainPart, handler: &body)
        body.flushPending()
        return ParsedDocument(title: title ?? body.firstTitle, blocks: body.blocks, warnings: package.warnings)
    }
}

/// What styles.xml says about paragraph styles.
struct DOCXStyles: XMLHandler {
    struct Style {
        var name: String = ""
        var basedOn: String?
        var outline: Int?
        var numbered = false
    }

    var styles: [String: Style] = [:]
    private var current: String?
    private var currentStyle = Style()
    private var inPPr = 0

    mutating func start(_ tag: XMLTag) throws {
        let n = tag.name
        if n.is("style") {
            current = tag.attribute(local: "type") == "paragraph" ? tag.attribute(local: "styleId") : nil
            currentStyle = Style()
            return
        }
        guard current != nil else { return }
        if n.is("name") {
            currentStyle.name = tag.attribute(local: "val") ?? ""
        } else if n.is("basedOn") {
            currentStyle.basedOn = tag.attribute(local: "val")
        } else if n.is("pPr") {
            inPPr += 1
        } else if inPPr > 0, n.is("outlineLvl") {
            currentStyle.outline = tag.attribute(local: "val").flatMap { Int($0) }
        } else if inPPr > 0, n.is("numId") {
            currentStyle.numbered = tag.attribute(local: "val") != "0"
        }
    }

    mutating func end(_ name: XMLName) throws {
        if name.is("pPr") {
            inPPr = max(0, inPPr - 1)
        } else if name.is("style") {
            if let id = current, styles.count < 20_000 { styles[id] = currentStyle }
            current = nil
        }
    }

    mutating func text(_ text: XMLText) throws {}

    /// Heading level from a style name (`heading 1`, `标题 1`, `Heading1`, …) or the title style.
    static func level(fromName raw: String) -> (level: Int, isTitle: Bool)? {
        let name = raw.lowercased().filter { $0 != " " }
        if name == "title" || name == "标题" || name == "標題" { return (1, true) }
        for prefix in ["heading", "标题", "標題", "titre", "überschrift", "encabezado", "título", "заголовок", "見出し", "제목"]
        where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            if let n = Int(rest), (1...9).contains(n) { return (n, false) }
        }
        return nil
    }

    /// The heading level of paragraph style `id` (nil: not a heading), following `basedOn`.
    func heading(_ id: String) -> (level: Int, isTitle: Bool)? {
        var current: String? = id
        var hops = 0
        while let key = current, hops < 16 {
            hops += 1
            guard let style = styles[key] else {
                return Self.level(fromName: key)
            }
            if let found = Self.level(fromName: style.name) { return found }
            if let outline = style.outline { return outline < 9 ? (outline + 1, false) : nil }
            current = style.basedOn
        }
        return nil
    }

    /// Whether the style (or one it is based on) carries numbering.
    func numbered(_ id: String) -> Bool {
        var current: String? = id
        var hops = 0
        while let key = current, let style = styles[key], hops < 16 {
            if style.numbered { return true }
            hops += 1
            current = style.basedOn
        }
        return false
    }
}

/// Walks word/document.xml.
struct DOCXBodyHandler: XMLHandler {
    struct Paragraph {
        var bytes: [UInt8] = []
        var style: String?
        var outline: Int?
        var numbered = false
        var hasBreaks = false
    }

    struct TableState {
        var table = OfficeTable()
        var row: [OfficeTable.Cell] = []
        var rowIsHeader = false
        var cell: [UInt8] = []
        var span = 1
        var continues = false
        var headerRowsOpen = true
    }

    let styles: DOCXStyles
    var blocks: [Block] = []
    var firstTitle: String?
    private var firstHeading1: String?
    private var sections = SectionTracker()
    private var paragraphs: [Paragraph] = []
    private var skipDepth = 0
    private var inText = 0
    private var inPPr = 0
    private var tableDepth = 0
    private var table = TableState()
    private var headingCache: [String: (level: Int, isTitle: Bool)?] = [:]

    init(styles: DOCXStyles) { self.styles = styles }

    mutating func start(_ tag: XMLTag) throws {
        let n = tag.name
        if skipDepth > 0 {
            skipDepth += 1
            return
        }
        if n.is("del") || n.is("moveFrom") || n.is("Fallback") || n.is("pPrChange") || n.is("rPrChange")
            || n.is("instrText") || n.is("delText")
        {
            skipDepth = 1
            return
        }
        switch true {
        case n.is("t"):
            inText += 1
        case n.is("p"):
            paragraphs.append(Paragraph())
        case n.is("pPr"):
            inPPr += 1
        case n.is("tab") where inPPr == 0:
            appendToParagraph(0x09)
        case n.is("br"), n.is("cr"):
            appendToParagraph(0x0A)
        case n.is("noBreakHyphen"):
            appendToParagraph(UInt8(ascii: "-"))
        case n.is("pStyle") where inPPr > 0:
            if !paragraphs.isEmpty { paragraphs[paragraphs.count - 1].style = tag.attribute(local: "val") }
        case n.is("outlineLvl") where inPPr > 0:
            if !paragraphs.isEmpty {
                paragraphs[paragraphs.count - 1].outline = tag.attribute(local: "val").flatMap { Int($0) }
            }
        case n.is("numId") where inPPr > 0:
            if !paragraphs.isEmpty { paragraphs[paragraphs.count - 1].numbered = tag.attribute(local: "val") != "0" }
        case n.is("tbl"):
            tableDepth += 1
            if tableDepth == 1 { table = TableState() }
        case n.is("tr") where tableDepth == 1:
            table.row = []
            table.rowIsHeader = false
        case n.is("tblHeader") where tableDepth == 1:
            table.rowIsHeader = ooxmlOn(tag.attribute(local: "val"))
        case n.is("tc") where tableDepth == 1:
            table.cell = []
            table.span = 1
            table.continues = false
        case n.is("gridSpan") where tableDepth == 1:
            table.span = tag.attribute(local: "val").flatMap { Int($0) } ?? 1
        case n.is("vMerge") where tableDepth == 1:
            table.continues = (tag.attribute(local: "val") ?? "continue") == "continue"
        default:
            break
        }
    }

    mutating func end(_ name: XMLName) throws {
        if skipDepth > 0 {
            skipDepth -= 1
            return
        }
        switch true {
        case name.is("t"):
            inText = max(0, inText - 1)
        case name.is("pPr"):
            inPPr = max(0, inPPr - 1)
        case name.is("p"):
            guard let p = paragraphs.popLast() else { return }
            finish(p)
        case name.is("tc") where tableDepth == 1:
            let text = OfficeText.oneLine(table.cell)
            table.row.append(OfficeTable.Cell(text: text, span: table.span, continuesAbove: table.continues))
        case name.is("tr") where tableDepth == 1:
            if table.rowIsHeader, table.headerRowsOpen {
                table.table.markedHeaderRows += 1
            } else {
                table.headerRowsOpen = false
            }
            table.table.rows.append(table.row)
            table.row = []
        case name.is("tbl"):
            tableDepth = max(0, tableDepth - 1)
            if tableDepth == 0 {
                blocks += table.table.blocks(sectionPath: sections.path)
                table = TableState()
            }
        default:
            break
        }
    }

    mutating func text(_ text: XMLText) throws {
        guard inText > 0, skipDepth == 0, !paragraphs.isEmpty else { return }
        text.append(to: &paragraphs[paragraphs.count - 1].bytes)
    }

    private mutating func appendToParagraph(_ byte: UInt8) {
        guard !paragraphs.isEmpty else { return }
        paragraphs[paragraphs.count - 1].bytes.append(byte)
        if byte == 0x09 || byte == 0x0A { paragraphs[paragraphs.count - 1].hasBreaks = true }
    }

    /// Emits a finished paragraph, or adds it to the open table cell.
    private mutating func finish(_ p: Paragraph) {
        if tableDepth > 0 {
            if !table.cell.isEmpty { table.cell.append(0x20) }
            table.cell.append(contentsOf: p.bytes)
            return
        }
        // Text from w:t never holds tabs or line breaks that matter (XML whitespace collapses anyway);
        // only w:tab / w:br / w:cr put them in.
        let text = OfficeText.normalize(p.bytes, mayHaveBreaks: p.hasBreaks)
        guard !text.isEmpty else { return }
        var heading: (level: Int, isTitle: Bool)?
        if let outline = p.outline, outline < 9 {
            heading = (outline + 1, false)
        } else if let style = p.style {
            if let cached = headingCache[style] {
                heading = cached
            } else {
                heading = styles.heading(style)
                headingCache[style] = heading
            }
        }
        if let heading {
            let oneLine = OfficeText.oneLine(Array(text.utf8))
            if heading.isTitle, firstTitle == nil { firstTitle = oneLine }
            if heading.level == 1, firstHeading1 == nil { firstHeading1 = oneLine }
            let path = sections.heading(level: heading.level, text: oneLine)
            blocks.append(Block(kind: .heading(level: heading.level), text: oneLine, sectionPath: path))
            return
        }
        let list = p.numbered || (p.style.map { styles.numbered($0) } ?? false)
        blocks.append(Block(kind: list ? .listItem : .paragraph, text: text, sectionPath: sections.path))
    }

    /// Emits anything left open by a part that ended early; settles the title.
    mutating func flushPending() {
        while let p = paragraphs.popLast() { finish(p) }
        if firstTitle == nil { firstTitle = firstHeading1 }
    }
}
