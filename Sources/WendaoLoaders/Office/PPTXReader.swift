import Foundation
import WendaoCore

// PPTX: slides in presentation order (p:sldIdLst → relationships), each slide's title placeholder
// as a level-1 heading and the section path of the slide's other blocks, text grouped by a:p,
// tables as header-repeating records, speaker notes appended as one paragraph. Every block of a
// slide carries the slide number as its page.

enum PPTXReader {
    static let notesPrefix = "备注 / Notes: "

    static func parse(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument {
        let package = try OfficePackage(data, limits: limits)
        let rels = try package.relationships(of: "")
        var main = rels.first { $0.isType("officeDocument") }?.target
        if main == nil, package.has("ppt/presentation.xml") { main = "ppt/presentation.xml" }
        guard let mainPart = main, package.has(mainPart) else {
            throw WendaoError(.unreadable, "not a PowerPoint presentation (no ppt/presentation.xml)")
        }
        var order = PresentationHandler()
        try package.parseXML(mainPart, cap: 16 << 20, handler: &order)
        let presRels = try package.relationships(of: mainPart)
        var byId: [String: String] = [:]
        for rel in presRels where rel.isType("slide") {
            if let target = rel.target { byId[rel.id] = target }
        }
        var warnings = package.warnings
        var title: String?
        let core = rels.first(where: { $0.isType("core-properties") })?.target ?? "docProps/core.xml"
        var coreHandler = ElementTextHandler("title")
        if try package.parseXML(core, cap: 4 << 20, handler: &coreHandler) { title = coreHandler.value }

        var blocks: [Block] = []
        var missing = 0
        for (index, id) in order.slideIds.enumerated() {
            let page = index + 1
            guard let slidePart = byId[id], package.has(slidePart) else {
                missing += 1
                continue
            }
            var slide = SlideHandler(notes: false)
            try package.parseXML(slidePart, handler: &slide)
            let slideTitle = slide.title
            if title == nil, page == 1 { title = slideTitle }
            let path = slideTitle.map { [$0] } ?? []
            if let slideTitle {
                blocks.append(Block(kind: .heading(level: 1), text: slideTitle, sectionPath: path, page: page))
            }
            for item in slide.items {
                switch item {
                case .paragraph(let text):
                    blocks.append(Block(kind: .paragraph, text: text, sectionPath: path, page: page))
                case .table(let table):
                    blocks += table.blocks(sectionPath: path, page: page)
                }
            }
            let slideRels = try package.relationships(of: slidePart)
            if let notesPart = slideRels.first(where: { $0.isType("notesSlide") })?.target {
                var notes = SlideHandler(notes: true)
                if try package.parseXML(notesPart, handler: &notes) {
                    let text = notes.items.compactMap { item -> String? in
                        if case .paragraph(let t) = item { return t }
                        return nil
                    }.joined(separator: "\n")
                    if !text.isEmpty {
                        blocks.append(Block(kind: .paragraph, text: notesPrefix + text, sectionPath: path, page: page))
                    }
                }
            }
        }
        if missing > 0 { warnings.append("\(missing) slides listed in the presentation are missing") }
        return ParsedDocument(title: title, blocks: blocks, warnings: warnings)
    }
}

/// Reads `p:sldId r:id` in order.
struct PresentationHandler: XMLHandler {
    var slideIds: [String] = []

    mutating func start(_ tag: XMLTag) throws {
        if tag.name.is("sldId"), slideIds.count < 100_000,
            let id = tag.attribute("r:id") ?? tag.attribute(local: "id")
        {
            slideIds.append(id)
        }
    }

    mutating func end(_ name: XMLName) throws {}
    mutating func text(_ text: XMLText) throws {}
}

/// Reads one slide or notes slide.
struct SlideHandler: XMLHandler {
    enum Item {
        case paragraph(String)
        case table(OfficeTable)
    }

    /// Notes mode: only the body placeholder's text is kept.
    let notes: Bool
    var items: [Item] = []
    var title: String?

    private var inShape = false
    private var placeholder: String?
    private var hasPlaceholder = false
    private var titleBytes: [UInt8] = []
    private var paragraph: [UInt8] = []
    private var inParagraph = false
    private var inText = 0
    private var tableDepth = 0
    private var table = OfficeTable()
    private var row: [OfficeTable.Cell] = []
    private var cell: [UInt8] = []
    private var cellSpan = 1
    private var cellContinues = false
    private var cellSkipped = false

    init(notes: Bool) { self.notes = notes }

    private var shapeIsTitle: Bool { placeholder == "title" || placeholder == "ctrTitle" }

    private var shapeIgnored: Bool {
        if notes { return !(hasPlaceholder && (placeholder == "body" || placeholder == nil)) }
        guard let p = placeholder else { return false }
        return p == "sldNum" || p == "dt" || p == "ftr" || p == "hdr"
    }

    mutating func start(_ tag: XMLTag) throws {
        let n = tag.name
        switch true {
        case n.is("sp"):
            inShape = true
            placeholder = nil
            hasPlaceholder = false
            titleBytes = []
        case n.is("ph") where inShape:
            hasPlaceholder = true
            placeholder = tag.attribute("type")
        case n.is("p"):
            inParagraph = true
            paragraph = []
        case n.is("t"):
            inText += 1
        case n.is("br"):
            if inParagraph { paragraph.append(0x0A) }
        case n.is("tbl"):
            tableDepth += 1
            if tableDepth == 1 { table = OfficeTable() }
        case n.is("tr") where tableDepth == 1:
            row = []
        case n.is("tc") where tableDepth == 1:
            cell = []
            cellSpan = tag.attribute("gridSpan").flatMap { Int($0) } ?? 1
            cellContinues = ooxmlOn(tag.attribute("vMerge") ?? "0")
            cellSkipped = ooxmlOn(tag.attribute("hMerge") ?? "0")
        default:
            break
        }
    }

    mutating func end(_ name: XMLName) throws {
        switch true {
        case name.is("t"):
            inText = max(0, inText - 1)
        case name.is("p"):
            guard inParagraph else { return }
            inParagraph = false
            if tableDepth > 0 {
                if !cell.isEmpty { cell.append(0x20) }
                cell.append(contentsOf: paragraph)
            } else if inShape, shapeIsTitle, !notes {
                if !titleBytes.isEmpty { titleBytes.append(0x20) }
                titleBytes.append(contentsOf: paragraph)
            } else if inShape ? !shapeIgnored : !notes {
                let text = OfficeText.normalize(paragraph)
                if !text.isEmpty { items.append(.paragraph(text)) }
            }
            paragraph = []
        case name.is("sp"):
            if shapeIsTitle, !notes, title == nil {
                let text = OfficeText.oneLine(titleBytes)
                if !text.isEmpty { title = text }
            }
            inShape = false
            placeholder = nil
            hasPlaceholder = false
        case name.is("tc") where tableDepth == 1:
            if !cellSkipped {
                let text = OfficeText.oneLine(cell)
                row.append(OfficeTable.Cell(text: text, span: cellSpan, continuesAbove: cellContinues))
            }
        case name.is("tr") where tableDepth == 1:
            table.rows.append(row)
        case name.is("tbl"):
            tableDepth = max(0, tableDepth - 1)
            if tableDepth == 0, !notes { items.append(.table(table)) }
        default:
            break
        }
    }

    mutating func text(_ text: XMLText) throws {
        guard inText > 0, inParagraph, paragraph.count < 1 << 20 else { return }
        text.append(to: &paragraph)
    }
}
