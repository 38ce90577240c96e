import Foundation
import WendaoCore

// SVG: the root `<title>` is the document title (and a heading); other `<title>`/`<desc>` elements
// and every `<text>` element (its `<tspan>`/`<textPath>` pieces) become paragraphs, in document
// order. Styles, scripts and metadata are skipped.

enum SVGReader {
    static func parse(_ data: Data, limits: LoaderLimits) throws -> ParsedDocument {
        if data.count > limits.maxStructuredBytes {
            throw WendaoError(
                .limitExceeded,
                "file is \(data.count >> 20) MB, more than the \(limits.maxStructuredBytes >> 20) MB limit")
        }
        var handler = SVGHandler()
        try data.withUnsafeBytes { raw in
            try XMLStream.parse(raw.bindMemory(to: UInt8.self), part: "SVG", html: false, handler: &handler)
        }
        guard handler.sawSVG else { throw WendaoError(.unreadable, "not an SVG drawing (no <svg> root)") }
        return ParsedDocument(title: handler.title, blocks: handler.blocks)
    }
}

struct SVGHandler: XMLHandler {
    var blocks: [Block] = []
    var title: String?
    var sawSVG = false
    private var depth = 0
    private var skipDepth = 0
    private var collecting: (kind: Int, depth: Int)?  // kind 0 = text, 1 = title, 2 = desc
    private var bytes: [UInt8] = []

    mutating func start(_ tag: XMLTag) throws {
        depth += 1
        let n = tag.name
        if depth == 1 { sawSVG = n.is("svg") }
        if skipDepth > 0 { return }
        if n.is("style") || n.is("script") || n.is("metadata") {
            skipDepth = depth
            return
        }
        if collecting == nil {
            if n.is("text") {
                collecting = (0, depth)
            } else if n.is("title") {
                collecting = (1, depth)
            } else if n.is("desc") {
                collecting = (2, depth)
            }
            bytes = []
        } else if n.is("tspan") || n.is("textPath") {
            let positioned = tag.attribute("x") != nil || tag.attribute("y") != nil || tag.attribute("dy") != nil
            if positioned, let last = bytes.last, last != 0x20 { bytes.append(0x20) }
        }
    }

    mutating func end(_ name: XMLName) throws {
        defer { depth -= 1 }
        if skipDepth > 0 {
            if depth == skipDepth { skipDepth = 0 }
            return
        }
        guard let c = collecting, c.depth == depth else { return }
        collecting = nil
        let text = OfficeText.oneLine(bytes)
        bytes = []
        guard !text.isEmpty else { return }
        if c.kind == 1, depth == 2, title == nil {
            title = text
            blocks.append(Block(kind: .heading(level: 1), text: text, sectionPath: [text]))
        } else {
            blocks.append(Block(kind: .paragraph, text: text, sectionPath: title.map { [$0] } ?? []))
        }
    }

    mutating func text(_ text: XMLText) throws {
        guard collecting != nil, skipDepth == 0, bytes.count < 1 << 20 else { return }
        text.append(to: &bytes)
    }
}
