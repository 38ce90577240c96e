import Foundation
import WendaoCore

// EPUB: META-INF/container.xml → OPF package → spine order. Each XHTML chapter is parsed with the
// safe XML scanner in HTML mode (void elements, `&nbsp;`, unmatched end tags tolerated; unknown
// entities stay literal). The chapter title (table-of-contents label, else first heading, else
// <title>) is the top of every section path in the chapter. Content documents listed in
// META-INF/encryption.xml mean DRM: refused as unsupported (obfuscated fonts are fine).

enum EPUBReader {
    static func parse(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument {
        let package = try OfficePackage(data, limits: limits)
        var container = RootfileHandler()
        guard try package.parseXML("META-INF/container.xml", cap: 4 << 20, handler: &container),
            let opfPath = container.path.flatMap({ OfficePackage.resolve($0, base: "") }), package.has(opfPath)
        else {
            throw WendaoError(.unreadable, "not an EPUB book (no package document)")
        }
        var opf = OPFHandler()
        try package.parseXML(opfPath, cap: 16 << 20, handler: &opf)
        let base = OfficePackage.directory(of: opfPath)
        var items: [String: OPFHandler.Item] = [:]
        for item in opf.items { items[item.id] = item }
        let spine: [(path: String, item: OPFHandler.Item)] = opf.spine.compactMap { idref in
            guard let item = items[idref], let path = OfficePackage.resolve(item.href, base: base) else { return nil }
            return (path, item)
        }

        var encryption = EncryptionHandler()
        if try package.parseXML("META-INF/encryption.xml", cap: 4 << 20, handler: &encryption) {
            let encrypted = Set(encryption.uris.compactMap { OfficePackage.resolve($0, base: "")?.lowercased() })
            if spine.contains(where: { encrypted.contains($0.path.lowercased()) }) {
                throw WendaoError(.unsupported, "EPUB is DRM-protected")
            }
        }

        // Table-of-contents labels by chapter path: EPUB 3 nav document, else the EPUB 2 NCX.
        var labels: [String: String] = [:]
        if let nav = opf.items.first(where: { $0.properties.split(separator: " ").contains("nav") }),
            let navPath = OfficePackage.resolve(nav.href, base: base)
        {
            var handler = TOCHandler(ncx: false)
            try package.parseXML(navPath, html: true, cap: 16 << 20, handler: &handler)
            labels = handler.labels(base: OfficePackage.directory(of: navPath))
        }
        if labels.isEmpty, let ncx = opf.tocId.flatMap({ items[$0] }) ?? opf.items.first(where: {
            $0.mediaType == "application/x-dtbncx+xml"
        }), let ncxPath = OfficePackage.resolve(ncx.href, base: base) {
            var handler = TOCHandler(ncx: true)
            try package.parseXML(ncxPath, cap: 16 << 20, handler: &handler)
            labels = handler.labels(base: OfficePackage.directory(of: ncxPath))
        }

        var blocks: [Block] = []
        var firstChapterTitle: String?
        var missing = 0
        for (path, item) in spine {
            let type = item.mediaType
            guard type.isEmpty || type.contains("html") || type.contains("xml") else { continue }
            var chapter = ChapterHandler()
            guard try package.parseXML(path, html: true, handler: &chapter) else {
                missing += 1
                continue
            }
            chapter.flush()
            let chapterTitle = labels[path.lowercased()] ?? chapter.firstHeading ?? chapter.documentTitle
            if firstChapterTitle == nil { firstChapterTitle = chapterTitle }
            blocks += chapter.blocks(chapterTitle: chapterTitle)
        }
        var warnings = package.warnings
        if missing > 0 { warnings.append("\(missing) chapters listed in the spine are missing") }
        return ParsedDocument(title: opf.title ?? firstChapterTitle, blocks: blocks, warnings: warnings)
    }
}

/// META-INF/container.xml: the first rootfile.
struct RootfileHandler: XMLHandler {
    var path: String?

    mutating func start(_ tag: XMLTag) throws {
        if path == nil, tag.name.is("rootfile") { path = tag.attribute("full-path") }
    }

    mutating func end(_ name: XMLName) throws {}
    mutating func text(_ text: XMLText) throws {}
}

/// META-INF/encryption.xml: encrypted resources.
struct EncryptionHandler: XMLHandler {
    var uris: [String] = []

    mutating func start(_ tag: XMLTag) throws {
        if tag.name.is("CipherReference"), uris.count < 100_000, let uri = tag.attribute("URI") { uris.append(uri) }
    }

    mutating func end(_ name: XMLName) throws {}
    mutating func text(_ text: XMLText) throws {}
}

/// The OPF package document: title, manifest, spine.
struct OPFHandler: XMLHandler {
    struct Item {
        var id: String
        var href: String
        var mediaType: String
        var properties: String
    }

    var title: String?
    var items: [Item] = []
    var spine: [String] = []
    var tocId: String?
    private var inTitle = false
    private var titleBytes: [UInt8] = []

    mutating func start(_ tag: XMLTag) throws {
        let n = tag.name
        if n.is("item"), items.count < 100_000 {
            items.append(Item(
                id: tag.attribute("id") ?? "", href: tag.attribute("href") ?? "",
                mediaType: tag.attribute("media-type") ?? "", properties: tag.attribute("properties") ?? ""))
        } else if n.is("itemref"), spine.count < 100_000, let idref = tag.attribute("idref") {
            spine.append(idref)
        } else if n.is("spine") {
            tocId = tag.attribute("toc")
        } else if n.is("title"), title == nil {
            inTitle = true
        }
    }

    mutating func end(_ name: XMLName) throws {
        if inTitle, name.is("title") {
            inTitle = false
            let text = OfficeText.oneLine(titleBytes)
            if !text.isEmpty { title = text }
        }
    }

    mutating func text(_ text: XMLText) throws {
        if inTitle, titleBytes.count < 4_096 { text.append(to: &titleBytes) }
    }
}

/// Table-of-contents labels from a nav document (`<a href>`) or an NCX (`navLabel` + `content src`).
struct TOCHandler: XMLHandler {
    let ncx: Bool
    private var entries: [(href: String, label: String)] = []
    private var href: String?
    private var collecting = false
    private var bytes: [UInt8] = []

    init(ncx: Bool) { self.ncx = ncx }

    mutating func start(_ tag: XMLTag) throws {
        let n = tag.name
        if ncx {
            if n.is("navLabel") {
                collecting = true
                bytes = []
            } else if n.is("content"), let src = tag.attribute("src"), entries.count < 100_000 {
                entries.append((src, OfficeText.oneLine(bytes)))
            } else if n.is("navPoint") {
                bytes = []
            }
        } else if n.is("a") {
            href = tag.attribute("href")
            collecting = href != nil
            bytes = []
        }
    }

    mutating func end(_ name: XMLName) throws {
        if ncx {
            if name.is("navLabel") { collecting = false }
        } else if name.is("a"), let h = href {
            collecting = false
            href = nil
            if entries.count < 100_000 { entries.append((h, OfficeText.oneLine(bytes))) }
        }
    }

    mutating func text(_ text: XMLText) throws {
        if collecting, bytes.count < 4_096 { text.append(to: &bytes) }
    }

    /// First label per target document (lower-cased path, fragment removed).
    func labels(base: String) -> [String: String] {
        var out: [String: String] = [:]
        for entry in entries where !entry.label.isEmpty {
            guard let path = OfficePackage.resolve(entry.href, base: base)?.lowercased() else { continue }
            if out[path] == nil { out[path] = entry.label }
        }
        return out
    }
}

/// One XHTML chapter: headings, paragraphs, list items, tables.
struct ChapterHandler: XMLHandler {
    enum Item {
        case heading(Int, String)
        case block(Block.Kind, String)
        case table(OfficeTable)
    }

    var items: [Item] = []
    var firstHeading: String?
    var documentTitle: String?
    private var buffer: [UInt8] = []
    private var skipDepth = 0
    private var depth = 0
    private var headingLevel: Int?
    private var listDepth = 0
    private var inTitle = false
    private var preDepth = 0
    private var tableDepth = 0
    private var table = OfficeTable()
    private var row: [OfficeTable.Cell] = []
    private var cell: [UInt8] = []
    private var inCell = false
    private var cellSpan = 1

    private static let blockNames: Set<String> = [
        "p", "div", "li", "dt", "dd", "blockquote", "pre", "section", "article", "aside", "header", "footer",
        "figure", "figcaption", "caption", "ul", "ol", "dl", "table", "body", "main", "hr", "address",
        "h1", "h2", "h3", "h4", "h5", "h6", "nav",
    ]

    mutating func start(_ tag: XMLTag) throws {
        depth += 1
        if skipDepth > 0 { return }
        let n = tag.name
        if n.is("script") || n.is("style") || n.is("svg") || n.is("math") {
            skipDepth = depth
            return
        }
        if n.is("title") {
            inTitle = true
            buffer = []
            return
        }
        if n.is("br") {
            if inCell { cell.append(0x20) } else { buffer.append(0x0A) }
            return
        }
        if n.is("table") {
            flush()
            tableDepth += 1
            if tableDepth == 1 { table = OfficeTable() }
            return
        }
        if tableDepth == 1 {
            if n.is("tr") {
                row = []
                return
            }
            if n.is("td") || n.is("th") {
                flush()
                inCell = true
                cell = []
                cellSpan = tag.attribute("colspan").flatMap { Int($0) } ?? 1
                return
            }
        }
        if n.bytes.count <= 10, Self.blockNames.contains(n.string.lowercased()) {
            flush()
            let lower = n.string.lowercased()
            if lower.count == 2, lower.hasPrefix("h"), let level = Int(lower.dropFirst()) { headingLevel = level }
            if lower == "li" { listDepth += 1 }
            if lower == "pre" { preDepth += 1 }
        }
    }

    mutating func end(_ name: XMLName) throws {
        defer { depth -= 1 }
        if skipDepth > 0 {
            if depth == skipDepth { skipDepth = 0 }
            return
        }
        if name.is("title"), inTitle {
            inTitle = false
            let text = OfficeText.oneLine(buffer)
            if !text.isEmpty, documentTitle == nil { documentTitle = text }
            buffer = []
            return
        }
        if name.is("table") {
            tableDepth = max(0, tableDepth - 1)
            if tableDepth == 0 { items.append(.table(table)) }
            return
        }
        if tableDepth == 1 {
            if name.is("tr") {
                table.rows.append(row)
                return
            }
            if name.is("td") || name.is("th") {
                flush()
                inCell = false
                row.append(OfficeTable.Cell(text: OfficeText.oneLine(cell), span: cellSpan))
                return
            }
        }
        if name.bytes.count <= 10, Self.blockNames.contains(name.string.lowercased()) {
            flush()
            let lower = name.string.lowercased()
            if lower == "li" { listDepth = max(0, listDepth - 1) }
            if lower == "pre" { preDepth = max(0, preDepth - 1) }
        }
    }

    mutating func text(_ text: XMLText) throws {
        guard skipDepth == 0 else { return }
        if inTitle {
            if buffer.count < 4_096 { text.append(to: &buffer) }
        } else if inCell {
            if cell.count < 1 << 20 { text.append(to: &cell) }
        } else if buffer.count < 4 << 20 {
            text.append(to: &buffer)
        }
    }

    /// Ends the current block.
    mutating func flush() {
        if inCell {
            if !buffer.isEmpty {
                cell.append(0x20)
                cell.append(contentsOf: buffer)
                buffer = []
            }
            return
        }
        defer {
            buffer.removeAll(keepingCapacity: true)
            headingLevel = nil
        }
        guard !buffer.isEmpty else { return }
        let text = preDepth > 0
            ? buffer.withUnsafeBufferPointer { TextScan.collapse($0, keepNewlines: true) } : OfficeText.oneLine(buffer)
        guard !text.isEmpty else { return }
        if let level = headingLevel {
            if firstHeading == nil { firstHeading = text }
            items.append(.heading(level, text))
        } else {
            items.append(.block(listDepth > 0 ? .listItem : .paragraph, text))
        }
    }

    /// The chapter's blocks with section paths under `chapterTitle`.
    func blocks(chapterTitle: String?) -> [Block] {
        var sections = SectionTracker()
        var out: [Block] = []
        func full(_ path: [String]) -> [String] {
            guard let top = chapterTitle else { return path }
            return path.first == top ? path : [top] + path
        }
        for item in items {
            switch item {
            case .heading(let level, let text):
                let path = sections.heading(level: level, text: text)
                out.append(Block(kind: .heading(level: level), text: text, sectionPath: full(path)))
            case .block(let kind, let text):
                out.append(Block(kind: kind, text: text, sectionPath: full(sections.path)))
            case .table(let table):
                out += table.blocks(sectionPath: full(sections.path))
            }
        }
        return out
    }
}
