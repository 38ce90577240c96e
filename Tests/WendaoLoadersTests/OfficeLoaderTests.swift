import Foundation
import Testing
import WendaoTestSupport
import WendaoCore
import ZIPFoundation
@testable import WendaoLoaders

// Fixtures are built in memory with ZIPFoundation; the large hostile ones are generated while they
// are compressed, so no test holds the inflated content.

private let wNS = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\""
private let relNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
private let pkgRelNS = "http://schemas.openxmlformats.org/package/2006/relationships"


/// A ZIP archive of small text entries.
private func makeZip(_ files: [(String, String)]) throws -> Data {
    let archive = try Archive(accessMode: .create)
    for (path, text) in files {
        let data = Data(text.utf8)
        try archive.addEntry(
            with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate
        ) { position, size in
            data.subdata(in: Int(position)..<Int(position) + size)
        }
    }
    return archive.data ?? Data()
}

/// A ZIP archive with one entry whose content comes from `next` (called until it returns nil).
private func makeStreamedZip(
    _ small: [(String, String)], streamed path: String, size: Int64, next: () -> Data?
) throws -> Data {
    let archive = try Archive(accessMode: .create)
    for (p, text) in small {
        let data = Data(text.utf8)
        try archive.addEntry(with: p, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) {
            data.subdata(in: Int($0)..<Int($0) + $1)
        }
    }
    var pending = Data()
    try archive.addEntry(
        with: path, type: .file, uncompressedSize: size, compressionMethod: .deflate, bufferSize: 1 << 20
    ) { _, wanted in
        if pending.isEmpty, let more = next() {
            if more.count == wanted { return more }
            pending = more
        }
        while pending.count < wanted, let more = next() { pending.append(more) }
        let n = min(wanted, pending.count)
        let out = pending.prefix(n)
        pending = pending.dropFirst(n)
        return Data(out)
    }
    return archive.data ?? Data()
}

private func rels(_ items: [(String, String, String)]) -> String {
    var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"\(pkgRelNS)\">"
    for (id, type, target) in items {
        s += "<Relationship Id=\"\(id)\" Type=\"\(relNS)/\(type)\" Target=\"\(target)\"/>"
    }
    return s + "</Relationships>"
}

private func docxFiles(document: String, styles: String? = nil) -> [(String, String)] {
    var files = [
        ("_rels/.rels", rels([("rId1", "officeDocument", "word/document.xml")])),
        ("word/document.xml", document),
    ]
    if let styles {
        files.append(("word/_rels/document.xml.rels", rels([("rId1", "styles", "styles.xml")])))
        files.append(("word/styles.xml", styles))
    }
    return files
}

private func para(_ text: String, style: String? = nil) -> String {
    let ppr = style.map { "<w:pPr><w:pStyle w:val=\"\($0)\"/></w:pPr>" } ?? ""
    return "<w:p>\(ppr)<w:r><w:t xml:space=\"preserve\">\(text)</w:t></w:r></w:p>"
}

private func cell(_ text: String, props: String = "") -> String {
    "<w:tc>\(props.isEmpty ? "" : "<w:tcPr>\(props)</w:tcPr>")\(text.isEmpty ? "<w:p/>" : para(text))</w:tc>"
}

private let docxStyles = """
    <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
    <w:styles \(wNS)>
    <w:style w:type="paragraph" w:default="1" w:styleId="a"><w:name w:val="Normal"/></w:style>
    <w:style w:type="paragraph" w:styleId="1"><w:name w:val="heading 1"/><w:basedOn w:val="a"/></w:style>
    <w:style w:type="paragraph" w:styleId="2"><w:name w:val="标题 2"/><w:basedOn w:val="a"/></w:style>
    <w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>
    <w:style w:type="paragraph" w:styleId="MyHead"><w:name w:val="我的小节样式"/><w:basedOn w:val="2"/></w:style>
    <w:style w:type="paragraph" w:styleId="Outline3"><w:name w:val="Custom"/>
      <w:pPr><w:outlineLvl w:val="2"/></w:pPr></w:style>
    <w:style w:type="paragraph" w:styleId="a5"><w:name w:val="List Paragraph"/></w:style>
    <w:style w:type="character" w:styleId="1Char"><w:name w:val="heading 1 Char"/></w:style>
    </w:styles>
    """

private func sampleDocx() throws -> Data {
    let doc = """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <w:document \(wNS)><w:body>
        \(para("运费手册", style: "Title"))
        \(para("快递", style: "1"))
        <w:p><w:r><w:t xml:space="preserve">首重 </w:t></w:r><w:del><w:r><w:delText>旧价</w:delText></w:r></w:del>\
        <w:ins><w:r><w:t>新价</w:t></w:r></w:ins><w:r><w:tab/><w:t>A&amp;B &lt;1&gt; &#x4E2D;&#25991;</w:t>\
        <w:br/><w:t>第二行</w:t></w:r></w:p>
        <w:p><w:pPr><w:pStyle w:val="a5"/><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr>\
        <w:r><w:t>偏远地区加收</w:t></w:r></w:p>
        \(para("价格表", style: "MyHead"))
        <w:tbl><w:tblGrid><w:gridCol/><w:gridCol/><w:gridCol/></w:tblGrid>
        <w:tr><w:trPr><w:tblHeader/></w:trPr>\(cell("重量"))\(cell("首重"))\(cell("续重"))</w:tr>
        <w:tr>\(cell("1-3kg"))\(cell("12元", props: "<w:vMerge w:val=\"restart\"/>"))\(cell("2元"))</w:tr>
        <w:tr>\(cell("3-5kg"))\(cell("", props: "<w:vMerge/>"))<w:tc><w:p><w:r><w:t>3元</w:t></w:r></w:p>\
        <w:tbl><w:tr>\(cell("内"))\(cell("表"))</w:tr></w:tbl></w:tc></w:tr>
        <w:tr>\(cell("另议", props: "<w:gridSpan w:val=\"3\"/>"))</w:tr>
        </w:tbl>
        \(para("退货", style: "2"))
        \(para("七天无理由。"))
        \(para("附录", style: "Outline3"))
        <w:p/>
        </w:body></w:document>
        """
    return try makeZip(docxFiles(document: doc, styles: docxStyles))
}

private func sheetXML(_ rows: String) -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/"
        + "spreadsheetml/2006/main\" xmlns:r=\"\(relNS)\"><sheetData>\(rows)</sheetData></worksheet>"
}

private func xlsxFiles(sheets: [(name: String, hidden: Bool, xml: String)], shared: [String], styles: String?)
    -> [(String, String)]
{
    var book = "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
        + "xmlns:r=\"\(relNS)\"><sheets>"
    var bookRels: [(String, String, String)] = []
    var files: [(String, String)] = [("_rels/.rels", rels([("rId1", "officeDocument", "xl/workbook.xml")]))]
    for (k, sheet) in sheets.enumerated() {
        book += "<sheet name=\"\(sheet.name)\" sheetId=\"\(k + 1)\"\(sheet.hidden ? " state=\"hidden\"" : "") "
            + "r:id=\"rId\(k + 1)\"/>"
        bookRels.append(("rId\(k + 1)", "worksheet", "worksheets/sheet\(k + 1).xml"))
        files.append(("xl/worksheets/sheet\(k + 1).xml", sheet.xml))
    }
    book += "</sheets></workbook>"
    files.append(("xl/workbook.xml", book))
    if !shared.isEmpty {
        bookRels.append(("rIdS", "sharedStrings", "sharedStrings.xml"))
        let items = shared.map { $0.hasPrefix("<") ? "<si>\($0)</si>" : "<si><t>\($0)</t></si>" }.joined()
        let sst = "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
        files.append(("xl/sharedStrings.xml", sst
            + items + "</sst>"))
    }
    if let styles {
        bookRels.append(("rIdY", "styles", "styles.xml"))
        files.append(("xl/styles.xml", styles))
    }
    files.append(("xl/_rels/workbook.xml.rels", rels(bookRels)))
    return files
}

private let xlsxStyles = """
    <styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
    <numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/></numFmts>
    <cellStyleXfs count="1"><xf numFmtId="49"/></cellStyleXfs>
    <cellXfs count="6"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="10"/>
    <xf numFmtId="4"/><xf numFmtId="9"/></cellXfs>
    </styleSheet>
    """

private func sampleXlsx() throws -> Data {
    let shared = ["名称", "日期", "比例", "金额", "公式", "=1+1", "<r><t>苹</t></r><r><t>果</t><rPh><t>ping</t></rPh></r>",
                  "备注"]
    let sheet1 = sheetXML("""
        <row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>\
        <c r="D1" t="s"><v>3</v></c><c r="E1" t="s"><v>4</v></c><c r="F1" t="s"><v>7</v></c></row>
        <row r="2"><c r="A2" t="s"><v>6</v></c><c r="B2" s="1"><v>45292</v></c><c r="C2" s="3"><v>0.1234</v></c>\
        <c r="D2" s="4"><v>1234567.891</v></c><c r="E2"><f>1+2</f><v>3</v></c><c r="F2" t="s"><v>5</v></c></row>
        <row r="4"><c r="A4" t="inlineStr"><is><t>香蕉</t></is></c><c r="B4" s="2"><v>45293.5</v></c>\
        <c r="C4" s="5"><v>0.5</v></c><c r="D4"><v>0.30000000000000004</v></c><c r="E4"><f>A1</f></c>\
        <c r="F4" t="b"><v>1</v></c><c r="G4"><v>7</v></c></row>
        <row r="5"><c r="A5" t="e"><v>#DIV/0!</v></c><c r="B5" t="str"><f>"x"</f><v>+cmd|' /C calc'!A0</v></c></row>
        """)
    let sheet2 = sheetXML("""
        <row><c t="inlineStr"><is><t>k</t></is></c><c t="inlineStr"><is><t>v</t></is></c></row>
        <row><c t="inlineStr"><is><t>a</t></is></c><c t="inlineStr"><is><t>b</t></is></c></row>
        """)
    return try makeZip(xlsxFiles(
        sheets: [("价目", false, sheet1), ("隐藏", true, sheet2)], shared: shared, styles: xlsxStyles))
}

private func epubFiles(chapters: [(id: String, href: String, body: String)], spine: [String], nav: String,
                       extra: [(String, String)] = []) -> [(String, String)]
{
    var manifest = "<item id=\"nav\" href=\"nav.xhtml\" media-type=\"application/xhtml+xml\" properties=\"nav\"/>"
    var files: [(String, String)] = [
        ("mimetype", "application/epub+zip"),
        ("META-INF/container.xml", """
            <?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">\
            <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>\
            </rootfiles></container>
            """),
        ("OEBPS/nav.xhtml", nav),
    ]
    for chapter in chapters {
        manifest += "<item id=\"\(chapter.id)\" href=\"\(chapter.href)\" media-type=\"application/xhtml+xml\"/>"
        files.append(("OEBPS/" + chapter.href, chapter.body))
    }
    let itemrefs = spine.map { "<itemref idref=\"\($0)\"/>" }.joined()
    files.append(("OEBPS/content.opf", """
        <?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">\
        <metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>测试之书</dc:title></metadata>\
        <manifest>\(manifest)</manifest><spine>\(itemrefs)</spine></package>
        """))
    return files + extra
}

private let sampleNav = """
    <?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">\
    <body><nav epub:type="toc"><ol><li><a href="text/ch1.xhtml">第一章 开始</a></li>\
    <li><a href="text/ch2.xhtml#x">序言</a></li></ol></nav></body></html>
    """

private let sampleChapters: [(id: String, href: String, body: String)] = [
    ("c1", "text/ch1.xhtml", """
        <?xml version="1.0" encoding="utf-8"?><!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml">\
        <head><title>ch1</title><style>p { color: red }</style></head><body><h1>第一章 开始</h1>\
        <p>正文一。</p><h2>小节</h2><ul><li>要点</li></ul><table><tr><th>问</th><th>答</th></tr>\
        <tr><td>运费？</td><td>十元</td></tr></table></body></html>
        """),
    ("c2", "text/ch2.xhtml", """
        <html><head><title>t2</title></head><body><p>前言&amp;内容<br>第二行 &foo; &copy; 保留<img src="a.png">\
        </p><p>末段</body></html>
        """),
]

private func sampleEpub(extra: [(String, String)] = []) throws -> Data {
    try makeZip(epubFiles(chapters: sampleChapters, spine: ["c2", "c1"], nav: sampleNav, extra: extra))
}

private func slideXML(title: String?, body: [String], table: [[String]]? = nil, titleType: String = "title") -> String {
    var s = "<p:sld xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" "
        + "xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\"><p:cSld><p:spTree>"
    if let title {
        s += "<p:sp><p:nvSpPr><p:nvPr><p:ph type=\"\(titleType)\"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r>"
            + "<a:t>\(title)</a:t></a:r></a:p></p:txBody></p:sp>"
    }
    s += "<p:sp><p:nvSpPr><p:nvPr><p:ph type=\"sldNum\"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>99</a:t>"
        + "</a:r></a:p></p:txBody></p:sp>"
    if !body.isEmpty {
        s += "<p:sp><p:nvSpPr><p:nvPr><p:ph idx=\"1\" type=\"body\"/></p:nvPr></p:nvSpPr><p:txBody>"
        for line in body { s += "<a:p><a:r><a:t>\(line)</a:t></a:r></a:p>" }
        s += "</p:txBody></p:sp>"
    }
    if let table {
        s += "<p:graphicFrame><a:graphic><a:graphicData><a:tbl>"
        for row in table {
            s += "<a:tr>" + row.map { "<a:tc><a:txBody><a:p><a:r><a:t>\($0)</a:t></a:r></a:p></a:txBody></a:tc>" }
                .joined() + "</a:tr>"
        }
        s += "</a:tbl></a:graphicData></a:graphic></p:graphicFrame>"
    }
    return s + "</p:spTree></p:cSld></p:sld>"
}

private func notesXML(_ text: String) -> String {
    "<p:notes xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" "
        + "xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\"><p:cSld><p:spTree>"
        + "<p:sp><p:nvSpPr><p:nvPr><p:ph type=\"sldImg\"/></p:nvPr></p:nvSpPr></p:sp>"
        + "<p:sp><p:nvSpPr><p:nvPr><p:ph type=\"body\" idx=\"1\"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r>"
        + "<a:t>\(text)</a:t></a:r></a:p></p:txBody></p:sp>"
        + "<p:sp><p:nvSpPr><p:nvPr><p:ph type=\"sldNum\"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>3</a:t>"
        + "</a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:notes>"
}

private func samplePptx() throws -> Data {
    let presentation = "<p:presentation xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\" "
        + "xmlns:r=\"\(relNS)\"><p:sldIdLst><p:sldId id=\"256\" r:id=\"rId7\"/><p:sldId id=\"257\" r:id=\"rId5\"/>"
        + "<p:sldId id=\"258\" r:id=\"rId6\"/></p:sldIdLst></p:presentation>"
    return try makeZip([
        ("_rels/.rels", rels([("rId1", "officeDocument", "ppt/presentation.xml")])),
        ("ppt/presentation.xml", presentation),
        ("ppt/_rels/presentation.xml.rels", rels([
            ("rId5", "slide", "slides/slide1.xml"), ("rId6", "slide", "slides/slide2.xml"),
            ("rId7", "slide", "/ppt/slides/slide3.xml"), ("rId8", "slideMaster", "slideMasters/slideMaster1.xml"),
        ])),
        ("ppt/slides/slide1.xml", slideXML(title: "价格", body: [], table: [["地区", "价格"], ["北京", "10元"], ["上海", "12元"]])),
        ("ppt/slides/slide2.xml", slideXML(title: "结束", body: ["谢谢"])),
        ("ppt/slides/slide3.xml", slideXML(title: "年度总结", body: ["收入增长 20%", "客户 &amp; 伙伴"], titleType: "ctrTitle")),
        ("ppt/slides/_rels/slide2.xml.rels", rels([("rId1", "notesSlide", "../notesSlides/notesSlide1.xml")])),
        ("ppt/notesSlides/notesSlide1.xml", notesXML("记得提问环节")),
    ])
}

/// Overwrites the uncompressed size of `name` in its local and central headers.
private func lieAboutSize(_ data: Data, entry name: String, claimed: UInt32) -> Data {
    var b = [UInt8](data)
    let nameBytes = Array(name.utf8)
    func u16(_ p: Int) -> Int { Int(b[p]) | Int(b[p + 1]) << 8 }
    func put32(_ p: Int, _ v: UInt32) { for k in 0..<4 { b[p + k] = UInt8((v >> (8 * UInt32(k))) & 0xFF) } }
    var p = 0
    while p + 46 < b.count {
        if b[p] == 0x50, b[p + 1] == 0x4B, b[p + 2] == 3, b[p + 3] == 4,
            Array(b[(p + 30)..<(p + 30 + u16(p + 26))]) == nameBytes
        {
            put32(p + 22, claimed)
        }
        if b[p] == 0x50, b[p + 1] == 0x4B, b[p + 2] == 1, b[p + 3] == 2,
            Array(b[(p + 46)..<(p + 46 + u16(p + 28))]) == nameBytes
        {
            put32(p + 24, claimed)
        }
        p += 1
    }
    return Data(b)
}

private struct Seeded: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private let xxe = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
private let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
    + (1...9).map { k in
        "<!ENTITY lol\(k) \"" + String(repeating: "&lol\(k == 1 ? "" : String(k - 1));", count: 10) + "\">"
    }
        .joined() + "]>"

@Suite struct OfficeLoaderTests {
    // MARK: - DOCX

    @Test func docxHeadingsListsAndTables() throws {
        let doc = try OfficeLoader.docx(try sampleDocx(), limits: LoaderLimits())
        #expect(doc.title == "运费手册")
        let expected: [Block] = [
            Block(kind: .heading(level: 1), text: "运费手册", sectionPath: ["运费手册"]),
            Block(kind: .heading(level: 1), text: "快递", sectionPath: ["快递"]),
            Block(kind: .paragraph, text: "首重 新价\tA&B <1> 中文\n第二行", sectionPath: ["快递"]),
            Block(kind: .listItem, text: "偏远地区加收", sectionPath: ["快递"]),
            Block(kind: .heading(level: 2), text: "价格表", sectionPath: ["快递", "价格表"]),
            Block(kind: .record, text: "重量: 1-3kg | 首重: 12元 | 续重: 2元", sectionPath: ["快递", "价格表"]),
            Block(kind: .record, text: "重量: 3-5kg | 首重: 12元 | 续重: 3元 内 表", sectionPath: ["快递", "价格表"]),
            Block(kind: .record, text: "重量: 另议", sectionPath: ["快递", "价格表"]),
            Block(kind: .heading(level: 2), text: "退货", sectionPath: ["快递", "退货"]),
            Block(kind: .paragraph, text: "七天无理由。", sectionPath: ["快递", "退货"]),
            Block(kind: .heading(level: 3), text: "附录", sectionPath: ["快递", "退货", "附录"]),
        ]
        #expect(doc.blocks == expected)
        #expect(doc.warnings.isEmpty)
    }

    @Test func docxTitleFromCorePropertiesAndHeadingWithoutStyles() throws {
        var files = docxFiles(document: "<w:document \(wNS)><w:body>\(para("第一章", style: "Heading1"))"
            + "\(para("正文"))</w:body></w:document>")
        let core = "<cp:coreProperties xmlns:cp=\"x\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
        files.append(("docProps/core.xml", core
            + "<dc:title>核心标题</dc:title></cp:coreProperties>"))
        let doc = try OfficeLoader.docx(try makeZip(files), limits: LoaderLimits())
        #expect(doc.title == "核心标题")
        #expect(doc.blocks.map(\.kind) == [.heading(level: 1), .paragraph])
        #expect(doc.blocks[1].sectionPath == ["第一章"])
    }

    @Test func emptyDocxHasNoBlocks() throws {
        let doc = try OfficeLoader.docx(
            try makeZip(docxFiles(document: "<w:document \(wNS)><w:body><w:p/><w:sectPr/></w:body></w:document>")),
            limits: LoaderLimits())
        #expect(doc.blocks.isEmpty)
        #expect(doc.title == nil)
    }

    @Test func docxWithoutMainPartIsUnreadable() throws {
        let zip = try makeZip([("_rels/.rels", rels([("rId1", "officeDocument", "../../etc/passwd")]))])
        let error = thrownWendaoError { _ = try OfficeLoader.docx(zip, limits: LoaderLimits()) }
        #expect(error == WendaoError(.unreadable, "not a Word document (no word/document.xml)"))
    }

    // MARK: - PPTX

    @Test func pptxSlidesInPresentationOrderWithNotesAndTables() throws {
        let doc = try OfficeLoader.pptx(try samplePptx(), limits: LoaderLimits())
        #expect(doc.title == "年度总结")
        let expected: [Block] = [
            Block(kind: .heading(level: 1), text: "年度总结", sectionPath: ["年度总结"], page: 1),
            Block(kind: .paragraph, text: "收入增长 20%", sectionPath: ["年度总结"], page: 1),
            Block(kind: .paragraph, text: "客户 & 伙伴", sectionPath: ["年度总结"], page: 1),
            Block(kind: .heading(level: 1), text: "价格", sectionPath: ["价格"], page: 2),
            Block(kind: .record, text: "地区: 北京 | 价格: 10元", sectionPath: ["价格"], page: 2),
            Block(kind: .record, text: "地区: 上海 | 价格: 12元", sectionPath: ["价格"], page: 2),
            Block(kind: .heading(level: 1), text: "结束", sectionPath: ["结束"], page: 3),
            Block(kind: .paragraph, text: "谢谢", sectionPath: ["结束"], page: 3),
            Block(kind: .paragraph, text: "备注 / Notes: 记得提问环节", sectionPath: ["结束"], page: 3),
        ]
        #expect(doc.blocks == expected)
    }

    // MARK: - XLSX

    @Test func xlsxValuesFormattedAsShown() throws {
        let doc = try OfficeLoader.xlsx(try sampleXlsx(), limits: LoaderLimits())
        let expected: [Block] = [
            Block(kind: .record, text: "名称: 苹果 | 日期: 2024-01-01 | 比例: 12.34% | 金额: 1,234,567.89 | 公式: 3 | 备注: =1+1",
                  sectionPath: ["价目"]),
            Block(kind: .record, text: "名称: 香蕉 | 日期: 2024年1月2日 | 比例: 50% | 金额: 0.3 | 备注: TRUE | G: 7",
                  sectionPath: ["价目"]),
            Block(kind: .record, text: "名称: #DIV/0! | 日期: +cmd|' /C calc'!A0", sectionPath: ["价目"]),
            Block(kind: .record, text: "k: a | v: b", sectionPath: ["隐藏"]),
        ]
        #expect(doc.blocks == expected)
        #expect(doc.warnings == ["hidden sheets included: 隐藏"])
    }

    @Test func numberFormats() {
        func f(_ code: String, _ raw: String, date1904: Bool = false) -> String {
            XLSXNumberFormat(code: code).format(raw: raw, date1904: date1904)
        }
        #expect(f("yyyy-mm-dd", "0", date1904: true) == "1904-01-01")
        #expect(f("yyyy-mm-dd", "59") == "1900-02-28")
        #expect(f("yyyy-mm-dd", "60") == "1900-02-29")
        #expect(f("yyyy-mm-dd", "61") == "1900-03-01")
        #expect(f("yyyy-mm-dd hh:mm:ss", "45292.75") == "2024-01-01 18:00:00")
        #expect(f("h:mm AM/PM", "0.5") == "12:00 PM")
        #expect(f("[h]:mm:ss", "1.5") == "36:00:00")
        #expect(f("0.00", "1.005") == "1.01")
        #expect(f("#,##0", "-1234.5") == "-1,235")
        #expect(f("#,##0.00;(#,##0.00)", "-1234.5") == "(1,234.50)")
        #expect(f("0.0%", "0.1234") == "12.3%")
        #expect(f("\"¥\"#,##0.00\" 元\"", "1234") == "¥1,234.00 元")
        #expect(f("0.00E+00", "12345") == "1.23E+04")
        #expect(f("mmm d, yyyy", "45292") == "Jan 1, 2024")
        #expect(f("@", "12.50") == "12.5")
        #expect(XLSXNumberFormat.general("0.30000000000000004") == "0.3")
        #expect(XLSXNumberFormat.general("1E+20") == "1E+20")
        #expect(XLSXNumberFormat.general("-42") == "-42")
        #expect(XLSXNumberFormat.general("2.5000") == "2.5")
        #expect(XLSXReader.columnName(0) == "A" && XLSXReader.columnName(27) == "AB")
    }

    @Test func exportNeutralisesFormulaLikeCells() {
        #expect(OfficeLoader.neutralisedForExport("=1+1") == "'=1+1")
        #expect(OfficeLoader.neutralisedForExport("+cmd") == "'+cmd")
        #expect(OfficeLoader.neutralisedForExport("-2") == "'-2")
        #expect(OfficeLoader.neutralisedForExport("@SUM(A1)") == "'@SUM(A1)")
        #expect(OfficeLoader.neutralisedForExport("价格 = 10") == "价格 = 10")
        #expect(OfficeLoader.neutralisedForExport("") == "")
    }

    @Test(.tags(.slow), .timeLimit(.minutes(3))) func millionRowSheetStopsAtRowLimit() async throws {
        try await offConcurrencyPool { try Self.millionRowCase() }
    }

    static func millionRowCase() throws {
        let rowCount = 1_000_000
        let head = Array(sheetXML("<row><c t=\"inlineStr\"><is><t>名称</t></is></c><c t=\"inlineStr\"><is><t>数量</t>"
            + "</is></c></row>").utf8)
        let split = head.count - Array("</sheetData></worksheet>".utf8).count
        func row(_ i: Int) -> [UInt8] {
            let n = 1_000_000 + i
            return Array("<row><c t=\"inlineStr\"><is><t>item\(n)</t></is></c><c><v>\(n)</v></c></row>".utf8)
        }
        let size = Int64(head.count + rowCount * row(0).count)
        var i = -1
        let zip = try makeStreamedZip(
            Array(xlsxFiles(sheets: [("数据", false, "")], shared: [], styles: nil).filter { !$0.0.contains("sheet1") }),
            streamed: "xl/worksheets/sheet1.xml", size: size
        ) {
            i += 1
            if i == 0 { return Data(head[0..<split]) }
            if i <= rowCount { return Data(row(i - 1)) }
            if i == rowCount + 1 { return Data(head[split...]) }
            return nil
        }
        var limits = LoaderLimits()
        limits.maxSheetRows = 50_000
        let doc = try OfficeLoader.xlsx(zip, limits: limits)
        #expect(doc.blocks.count == 49_999)
        #expect(doc.blocks.last?.text == "名称: item1049998 | 数量: 1049998")
        #expect(doc.warnings == ["sheet 数据: rows after 50000 skipped"])
    }

    // MARK: - EPUB

    @Test func epubFollowsSpineWithChapterTitles() throws {
        let doc = try OfficeLoader.epub(try sampleEpub(), limits: LoaderLimits())
        #expect(doc.title == "测试之书")
        let expected: [Block] = [
            Block(kind: .paragraph, text: "前言&内容第二行 &foo; © 保留", sectionPath: ["序言"]),
            Block(kind: .paragraph, text: "末段", sectionPath: ["序言"]),
            Block(kind: .heading(level: 1), text: "第一章 开始", sectionPath: ["第一章 开始"]),
            Block(kind: .paragraph, text: "正文一。", sectionPath: ["第一章 开始"]),
            Block(kind: .heading(level: 2), text: "小节", sectionPath: ["第一章 开始", "小节"]),
            Block(kind: .listItem, text: "要点", sectionPath: ["第一章 开始", "小节"]),
            Block(kind: .record, text: "问: 运费？ | 答: 十元", sectionPath: ["第一章 开始", "小节"]),
        ]
        #expect(doc.blocks == expected)
    }

    @Test func drmProtectedEpubIsRefused() throws {
        let encryption = "<encryption xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\" "
            + "xmlns:enc=\"http://www.w3.org/2001/04/xmlenc#\"><enc:EncryptedData><enc:CipherData>"
            + "<enc:CipherReference URI=\"OEBPS/text/ch1.xhtml\"/></enc:CipherData></enc:EncryptedData></encryption>"
        let zip = try sampleEpub(extra: [("META-INF/encryption.xml", encryption)])
        let error = thrownWendaoError { _ = try OfficeLoader.epub(zip, limits: LoaderLimits()) }
        #expect(error == WendaoError(.unsupported, "EPUB is DRM-protected"))
    }

    // MARK: - SVG

    @Test func svgText() throws {
        let svg = """
            <?xml version="1.0" encoding="UTF-8"?><svg xmlns="http://www.w3.org/2000/svg"><title>流程图</title>\
            <desc>订单处理流程</desc><style>.a { fill: red }</style><g><text x="0" y="10">下单</text>\
            <text><tspan x="0">付款</tspan><tspan x="0" dy="12">发货</tspan></text></g></svg>
            """
        let doc = try OfficeLoader.svg(Data(svg.utf8), limits: LoaderLimits())
        #expect(doc.title == "流程图")
        #expect(doc.blocks.map(\.text) == ["流程图", "订单处理流程", "下单", "付款 发货"])
        #expect(doc.blocks.dropFirst().allSatisfy { $0.sectionPath == ["流程图"] && $0.kind == .paragraph })
    }

    @Test func utf16SVG() throws {
        let svg = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><svg><text>你好</text></svg>"
        var bytes: [UInt8] = [0xFF, 0xFE]
        for unit in svg.utf16 { bytes += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        let doc = try OfficeLoader.svg(Data(bytes), limits: LoaderLimits())
        #expect(doc.blocks.map(\.text) == ["你好"])
    }

    // MARK: - Hostile input

    @Test func entityDeclarationsAreRefusedEverywhere() throws {
        let refusal = "XML with entity declarations refused"
        for prolog in [xxe, laughs] {
            let body = prolog == xxe ? "&e;" : "&lol9;"
            let document = prolog + "<w:document \(wNS)><w:body>\(para(body))</w:body></w:document>"
            let docx = try makeZip(docxFiles(document: document))
            let e1 = thrownWendaoError { _ = try OfficeLoader.docx(docx, limits: LoaderLimits()) }
            #expect(e1 == WendaoError(.unsupported, "\(refusal) (word/document.xml)"))

            let xlsx = try makeZip(xlsxFiles(
                sheets: [("s", false, sheetXML("<row><c t=\"s\"><v>0</v></c></row>"))], shared: ["x"], styles: nil
            ).map { $0.0 == "xl/sharedStrings.xml" ? ($0.0, prolog + "<sst><si><t>\(body)</t></si></sst>") : $0 })
            let e2 = thrownWendaoError { _ = try OfficeLoader.xlsx(xlsx, limits: LoaderLimits()) }
            #expect(e2 == WendaoError(.unsupported, "\(refusal) (xl/sharedStrings.xml)"))

            let chapter = prolog + "<html><body><p>\(body)</p></body></html>"
            let epub = try makeZip(epubFiles(chapters: [("c1", "c1.xhtml", chapter)], spine: ["c1"], nav: sampleNav))
            let e3 = thrownWendaoError { _ = try OfficeLoader.epub(epub, limits: LoaderLimits()) }
            #expect(e3 == WendaoError(.unsupported, "\(refusal) (OEBPS/c1.xhtml)"))

            let svg = Data((prolog + "<svg><text>\(body)</text></svg>").utf8)
            let e4 = thrownWendaoError { _ = try OfficeLoader.svg(svg, limits: LoaderLimits()) }
            #expect(e4 == WendaoError(.unsupported, "\(refusal) (SVG)"))
        }
    }

    @Test(.tags(.slow), .timeLimit(.minutes(3))) func zipBombFailsFastWithBoundedMemory() async throws {
        // Compressing 1 GB takes seconds: on a thread of its own, not a shared concurrency thread.
        try await offConcurrencyPool { try Self.zipBombCase() }
    }

    static func zipBombCase() throws {
        let head = Array("<w:document \(wNS)><w:body>".utf8)
        let tail = Array("</w:body></w:document>".utf8)
        let spaces = Data(repeating: 0x20, count: 1 << 20)
        let total = 1 << 30
        var sent = 0
        var part = 0
        let zip = try makeStreamedZip(
            docxFiles(document: "").filter { $0.0 != "word/document.xml" },
            streamed: "word/document.xml", size: Int64(head.count + total + tail.count)
        ) {
            part += 1
            if part == 1 { return Data(head) }
            if sent < total {
                sent += spaces.count
                return spaces
            }
            if sent == total {
                sent += 1
                return Data(tail)
            }
            return nil
        }
        #expect(zip.count < 4 << 20)
        let error = thrownWendaoError { _ = try OfficeLoader.docx(zip, limits: LoaderLimits()) }
        #expect(error == WendaoError(.limitExceeded, "archive inflates to more than 256 MB"))
    }

    @Test func headersThatLieAboutSizesAreCaught() throws {
        let long = para(String(repeating: "很长的内容", count: 20_000))
        let big = "<w:document \(wNS)><w:body>" + long + "</w:body></w:document>"
        let honest = try makeZip(docxFiles(document: big))
        let lying = lieAboutSize(honest, entry: "word/document.xml", claimed: 100)
        #expect(lying != honest)
        let damaged = thrownWendaoError { _ = try OfficeLoader.docx(lying, limits: LoaderLimits()) }
        #expect(damaged?.code == .unreadable)
        #expect(damaged?.message.hasPrefix("damaged ZIP archive") == true)

        var small = LoaderLimits()
        small.maxInflatedBytes = 64 << 10
        let limited = thrownWendaoError { _ = try OfficeLoader.docx(lying, limits: small) }
        #expect(limited == WendaoError(.limitExceeded, "archive inflates to more than 0 MB"))
    }

    @Test func unsafeEntryNamesAreIgnored() throws {
        var files = docxFiles(document: "<w:document \(wNS)><w:body>\(para("正常"))</w:body></w:document>")
        files += [("../evil.xml", "<x/>"), ("/abs/path.xml", "<x/>"), ("word/../../up.xml", "<x/>")]
        let doc = try OfficeLoader.docx(try makeZip(files), limits: LoaderLimits())
        #expect(doc.blocks.map(\.text) == ["正常"])
        #expect(doc.warnings == ["3 archive entries with unsafe names (absolute or ../) ignored"])
        #expect(OfficePackage.resolve("../../etc/passwd", base: "word") == nil)
        #expect(OfficePackage.resolve("../media/a.png", base: "word/slides") == "word/media/a.png")
    }

    @Test func damagedArchivesAreUnreadable() throws {
        let good = try sampleDocx()
        let truncated = good.prefix(good.count / 2)
        #expect(thrownWendaoError { _ = try OfficeLoader.docx(Data(truncated), limits: LoaderLimits()) }
            == WendaoError(.unreadable, "damaged ZIP archive"))
        var rng = Seeded(state: 42)
        let random = Data((0..<8_192).map { _ in UInt8.random(in: 0...255, using: &rng) })
        #expect(thrownWendaoError { _ = try OfficeLoader.xlsx(random, limits: LoaderLimits()) }
            == WendaoError(.unreadable, "damaged ZIP archive"))
        let pkRandom = Data([0x50, 0x4B, 0x03, 0x04]) + random
        #expect(thrownWendaoError { _ = try OfficeLoader.pptx(pkRandom, limits: LoaderLimits()) }?.code == .unreadable)
        // Flip bytes inside the compressed data of a valid archive: checksum or inflate must fail.
        var corrupt = [UInt8](good)
        for k in stride(from: 200, to: min(600, corrupt.count), by: 7) { corrupt[k] ^= 0x5A }
        let error = thrownWendaoError { _ = try OfficeLoader.docx(Data(corrupt), limits: LoaderLimits()) }
        #expect(error?.code == .unreadable)
    }

    @Test func garbageInDocumentXMLIsUnreadable() throws {
        var rng = Seeded(state: 7)
        var garbage = "这不是 XML {\"json\": true} "
        garbage += String(decoding: (0..<2_000).map { _ in UInt8.random(in: 0...255, using: &rng) }, as: UTF8.self)
        let docx = try makeZip(docxFiles(document: garbage))
        let error = thrownWendaoError { _ = try OfficeLoader.docx(docx, limits: LoaderLimits()) }
        #expect(error?.code == .unreadable)
        #expect(error?.message.hasPrefix("malformed XML in word/document.xml") == true)
        let unclosed = try makeZip(docxFiles(document: "<w:document \(wNS)><w:body><w:p>"))
        #expect(thrownWendaoError { _ = try OfficeLoader.docx(unclosed, limits: LoaderLimits()) }?.code == .unreadable)
    }

    @Test func deepNestingAndEntryCountAreLimited() throws {
        let deep = String(repeating: "<g>", count: 300) + String(repeating: "</g>", count: 300)
        let error = thrownWendaoError { _ = try OfficeLoader.svg(Data("<svg>\(deep)</svg>".utf8), limits: LoaderLimits()) }
        #expect(error == WendaoError(.limitExceeded, "XML nested deeper than 256 levels in SVG"))
        var limits = LoaderLimits()
        limits.maxArchiveEntries = 2
        let many = thrownWendaoError { _ = try OfficeLoader.docx(try sampleDocx(), limits: limits) }
        #expect(many == WendaoError(.limitExceeded, "archive has more than 2 entries"))
    }

    @Test func scannerDecodesOnlyPredefinedAndNumericEntities() throws {
        let svg = "<svg><text>&lt;a&gt; &amp;amp; &#65;&#x42; &#0; &unknown; &nbsp; &#xD800; & alone</text></svg>"
        let doc = try OfficeLoader.svg(Data(svg.utf8), limits: LoaderLimits())
        #expect(doc.blocks.map(\.text) == ["<a> &amp; AB &#0; &unknown; &nbsp; &#xD800; & alone"])
    }
}
