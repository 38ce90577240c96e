import Foundation
import Testing
import WendaoTestSupport
import WendaoCore
@testable import WendaoLoaders

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#endif

private func load(_ text: String, _ name: String) throws -> LoadedDocument {
    try DocumentLoader.load(data: Data(text.utf8), identity: "kb/\(name)", fileName: name)
}

/// "中文测试" in GBK.
private let gbkChineseTest: [UInt8] = [0xD6, 0xD0, 0xCE, 0xC4, 0xB2, 0xE2, 0xCA, 0xD4]

@Suite struct LoaderTests {
    // MARK: - Text decoding

    @Test func utf8BOMIsStrippedAndLineEndingsNormalised() throws {
        let data = Data([0xEF, 0xBB, 0xBF] + Array("第一行\r\n第二行\rthird\n".utf8))
        let decoded = try TextDecoding.decode(data)
        #expect(decoded.encoding == "utf-8-bom")
        #expect(decoded.text == "第一行\n第二行\nthird\n")
        #expect(decoded.warnings.isEmpty)
    }

    @Test func utf16WithBOM() throws {
        let text = "中文 text 😀\r\nline two"
        var le: [UInt8] = [0xFF, 0xFE]
        var be: [UInt8] = [0xFE, 0xFF]
        for unit in text.utf16 {
            le += [UInt8(unit & 0xFF), UInt8(unit >> 8)]
            be += [UInt8(unit >> 8), UInt8(unit & 0xFF)]
        }
        let a = try TextDecoding.decode(Data(le))
        #expect(a.encoding == "utf-16le")
        #expect(a.text == "中文 text 😀\nline two")
        let b = try TextDecoding.decode(Data(be))
        #expect(b.encoding == "utf-16be")
        #expect(b.text == a.text)
    }

    @Test func gbkWithoutBOMIsDecodedAsGB18030() throws {
        // "中文测试, OK\n中文测试\r\n中文测试" in GBK, built byte by byte.
        let bytes = gbkChineseTest + Array(", OK\n".utf8) + gbkChineseTest + [0x0D, 0x0A] + gbkChineseTest
        let decoded = try TextDecoding.decode(Data(bytes))
        #expect(decoded.encoding == "gb18030")
        #expect(decoded.text == "中文测试, OK\n中文测试\n中文测试")

        // Mostly English with a few GBK characters: under 1 % invalid UTF-8, still GB18030.
        let mostlyASCII = Array(String(repeating: "status ok; ", count: 400).utf8) + gbkChineseTest
        let log = try TextDecoding.decode(Data(mostlyASCII))
        #expect(log.encoding == "gb18030")
        #expect(log.text.hasSuffix("ok; 中文测试"))
        #expect(log.warnings.isEmpty)

        let doc = try DocumentLoader.load(data: Data(bytes), identity: "kb/gbk.txt", fileName: "gbk.txt")
        #expect(doc.format == .text)
        #expect(doc.blocks.map(\.text) == ["中文测试, OK 中文测试中文测试"])  // CJK lines join without a space
    }

    @Test func mostlyValidUTF8IsRepairedWithAWarning() throws {
        var bytes = Array(String(repeating: "这是一段正常的中文文本。", count: 20).utf8)
        bytes.insert(0xFF, at: 30)
        let decoded = try TextDecoding.decode(Data(bytes))
        #expect(decoded.encoding == "utf-8")
        #expect(decoded.text.contains("\u{FFFD}"))
        #expect(decoded.warnings == ["1 invalid UTF-8 byte sequence replaced"])
    }

    @Test func undecodableBytesAreRejected() {
        let bytes = [UInt8](repeating: 0, count: 0) + (0..<200).map { $0 % 2 == 0 ? UInt8(0x80) : UInt8(0xFF) }
        let error = thrownWendaoError { _ = try TextDecoding.decode(Data(bytes)) }
        #expect(error?.code == .unreadable)
        #expect(error?.message == "not valid UTF-8, UTF-16 or GB18030 text")
    }

    @Test func binaryGarbageNamedTxtIsRejected() {
        var bytes: [UInt8] = []
        var x: UInt32 = 12345
        for _ in 0..<4096 {
            x = x &* 1_103_515_245 &+ 12345
            bytes.append(UInt8(truncatingIfNeeded: x >> 16))
        }
        bytes[10] = 0
        let error = thrownWendaoError {
            _ = try DocumentLoader.load(data: Data(bytes), identity: "kb/data.txt", fileName: "data.txt")
        }
        #expect(error == WendaoError(.unreadable, "binary data, not text"))
    }

    @Test func emptyAndTooLargeFiles() {
        let empty = thrownWendaoError {
            _ = try DocumentLoader.load(data: Data(), identity: "e.txt", fileName: "e.txt")
        }
        #expect(empty == WendaoError(.unreadable, "empty file"))
        var limits = LoaderLimits()
        limits.maxStructuredBytes = 100
        let big = thrownWendaoError {
            _ = try DocumentLoader.load(
                data: Data(repeating: 0x61, count: 101), identity: "b.md", fileName: "b.md", limits: limits)
        }
        #expect(big?.code == .limitExceeded)
    }

    // MARK: - Type sniffing

    @Test func binaryFormatsAreRecognisedByContent() {
        func error(_ bytes: [UInt8], _ name: String) -> WendaoError? {
            thrownWendaoError { _ = try DocumentLoader.load(data: Data(bytes), identity: name, fileName: name) }
        }
        // A truncated PDF under a .txt name is read as a PDF (the content decides) and reported damaged.
        let pdf = error(Array("%PDF-1.7\n".utf8) + [0xE2, 0xE3, 0xCF, 0xD3], "report.txt")
        #expect(pdf?.code == .unreadable)
        #expect(pdf?.message.hasPrefix("damaged PDF") == true, "\(String(describing: pdf))")
        let zip: [UInt8] = [0x50, 0x4B, 0x03, 0x04, 0x14, 0, 0, 0]
        #expect(error(zip, "a.docx") == WendaoError(.unreadable, "damaged ZIP archive"))
        #expect(error(zip, "a.bin") == WendaoError(.unreadable, "damaged ZIP archive"))
        let ole: [UInt8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]
        #expect(
            error(ole, "old.doc")
                == WendaoError(
                    .unsupported, "legacy Office file (.doc/.xls/.ppt): save it as .docx/.xlsx/.pptx to load it"))
        let gif = Array("GIF89a".utf8) + [0, 0, 0, 0]
        #expect(error(gif, "scan.gif")?.message == "this image type is not read by OCR: convert it to PNG, JPEG or TIFF")
        #expect(error([0x1F, 0x8B, 8, 0], "notes.md")?.message.hasPrefix("compressed archives are not read") == true)
        // A JPEG named .md is an image (OCR), not Markdown: the truncated bytes fail in the image reader.
        #expect(error([0xFF, 0xD8, 0xFF, 0xE0], "photo.md")?.code != nil)
    }

    @Test func aNameThatLiesIsReportedAndTheContentRead() throws {
        let html = "<!DOCTYPE html><html><body><p>Hello</p></body></html>"
        let doc = try load(html, "manual.pdf")
        #expect(doc.format == .html)
        #expect(doc.blocks.map(\.text) == ["Hello"])
        #expect(doc.warnings.first == "named .pdf but contains HTML, not PDF; read as HTML")
        let csv = try load("a,b\n1,2\n", "export.xls")
        #expect(csv.format == .text)
        #expect(csv.warnings.first == "named .xls but contains plain text, not Excel; read as plain text")
        let rtf = thrownWendaoError { _ = try load("{\\rtf1\\ansi hello}", "letter.doc") }
        #expect(rtf?.message.hasPrefix("RTF files are not read") == true)
        let binary = thrownWendaoError {
            _ = try DocumentLoader.load(data: Data([0, 1, 2, 0xFE, 0xFF, 0, 0]), identity: "x.pdf", fileName: "x.pdf")
        }
        #expect(binary == WendaoError(.unreadable, "named .pdf but the content is not a valid PDF file"))
    }

    @Test func unknownExtensions() throws {
        let text = try load("hello\n\nworld", "notes.xyz")
        #expect(text.format == .text)
        #expect(text.blocks.count == 2)
        let html = try load("<!doctype html><title>T</title><p>x</p>", "page.view")
        #expect(html.format == .html)
        #expect(html.title == "T")
        let binary = thrownWendaoError {
            _ = try DocumentLoader.load(data: Data([0, 1, 2, 3, 0, 0, 7]), identity: "x.xyz", fileName: "x.xyz")
        }
        #expect(binary == WendaoError(.unsupported, "unsupported file type .xyz"))
    }

    // MARK: - Plain text

    @Test func textParagraphsJoinLinesAndCollapseSpaces() throws {
        let doc = try load("First   line\nsecond\tline\n\n  \n中文第一行\n第二行\n\nEnd of 中文\nEnglish", "a.txt")
        #expect(doc.title == "a")
        #expect(doc.blocks.map(\.text) == ["First line second line", "中文第一行第二行", "End of 中文 English"])
        #expect(doc.blocks.allSatisfy { $0.kind == .paragraph })
    }

    // MARK: - Markdown

    @Test func markdownStructure() throws {
        let md = """
            ---
            title: Front Title
            tags: [a, b]
            ---
            # 退货与拒收处理

            本文说明**拒收**与[退货](https://example.com/x_y "t")，见 `SVC-RT-01`。
            ![示意图](img.png)

            ## 一、拒收

            ### 1. 什么时候可以拒收

            - 外包装明显破损；
            * 快件与本人购买的物品不符
            1. 第一步
               继续说明

            > 引用的文字
            > 第二行

            | 项目 | 由谁承担 | 说明 |
            | --- | :---: | --- |
            | 原运费 | 寄件人 | 已产生的运费**不退** |
            | 保价费 | 不退 | |

            ```swift
            let x = 1
              indented()
            ```

            Setext Title
            ============

            snake_case_name stays, 2 * 3 = 6, ~~old~~ 1~3天, <span>tag</span> &amp; \\*literal\\*
            <!-- a comment -->

            二级
            ----
            after
            """
        let doc = try load(md, "refund.md")
        #expect(doc.title == "退货与拒收处理")
        #expect(doc.format == .markdown)
        let blocks = doc.blocks
        #expect(!blocks.contains { $0.text.contains("Front Title") || $0.text.contains("tags") })
        #expect(blocks[0] == Block(kind: .heading(level: 1), text: "退货与拒收处理", sectionPath: ["退货与拒收处理"]))
        #expect(blocks[1].text == "本文说明拒收与退货，见 SVC-RT-01。示意图")
        #expect(blocks[1].sectionPath == ["退货与拒收处理"])
        let path = ["退货与拒收处理", "一、拒收", "1. 什么时候可以拒收"]
        let items = blocks.filter { $0.kind == .listItem }
        #expect(items.map(\.text) == ["外包装明显破损；", "快件与本人购买的物品不符", "第一步继续说明"])
        #expect(items.allSatisfy { $0.sectionPath == path })
        #expect(blocks.contains(Block(kind: .paragraph, text: "引用的文字第二行", sectionPath: path)))
        let records = blocks.filter { $0.kind == .record }
        #expect(records.map(\.text) == ["项目: 原运费 | 由谁承担: 寄件人 | 说明: 已产生的运费不退", "项目: 保价费 | 由谁承担: 不退"])
        #expect(records.allSatisfy { $0.sectionPath == path })
        #expect(blocks.contains { $0.text == "let x = 1\n  indented()" })
        #expect(blocks.contains(Block(kind: .heading(level: 1), text: "Setext Title", sectionPath: ["Setext Title"])))
        #expect(
            blocks.contains {
                $0.text == "snake_case_name stays, 2 * 3 = 6, old 1~3天, tag & *literal*"
                    && $0.sectionPath == ["Setext Title"]
            })
        #expect(!blocks.contains { $0.text.contains("comment") })
        #expect(blocks.last == Block(kind: .paragraph, text: "after", sectionPath: ["Setext Title", "二级"]))
    }

    @Test func markdownLinkDefinitionsAreHiddenButBracketTextStays() throws {
        let doc = try load("[docs]: https://example.com/docs\n\n[注意]: 这个很重要\n\nSee [the docs][docs].", "x.md")
        #expect(doc.blocks.map(\.text) == ["[注意]: 这个很重要", "See the docs."])
    }

    @Test func markdownTitleFallsBackToFrontMatterThenFileName() throws {
        #expect(try load("---\ntitle: \"FM\"\n---\ntext", "x.md").title == "FM")
        #expect(try load("## Only h2\ntext", "说明.md").title == "说明")
    }

    // MARK: - HTML

    @Test func htmlEntitiesScriptsStylesAndHeadings() throws {
        let html = """
            <!DOCTYPE html>
            <html><head><title>退货 &amp; 拒收</title>
            <style>p { color: red }</style>
            <script>var s = "<p>not text</p>"; if (a < b) {}</script>
            </head>
            <body>
            <nav><a href="/">首页</a> | 关于我们</nav>
            <header><p>站点页眉</p></header>
            <h1 class="x">退货政策</h1>
            <p>运费 &yen;10 &times; 2 &mdash; 共计&nbsp;&#x4E2D;&#25991; &unknown; &lt;tag&gt; &quot;q&quot; &#128512;</p>
            <!-- <p>commented out</p> -->
            <![CDATA[ cdata text ]]>
            <h2>拒收<br>说明</h2>
            <div>第一行<br>第二行<span>续</span></div>
            <ul><li>条目一<li>条目 <b>二</b></ul>
            <table>
              <thead><tr><th>项目</th><th>由谁承担</th></tr></thead>
              <tbody><tr><td>原运费</td><td>寄件人</td></tr>
              <tr><td>保价费<td>不退</tr></tbody>
            </table>
            <noscript>enable JS</noscript><template><p>tpl</p></template><svg><text>svg text</text></svg>
            <aside>related links</aside>
            <footer>© 2024 迅达</footer>
            <pre>code  line 1
              line 2</pre>
            </body></html>
            """
        let doc = try load(html, "policy.html")
        #expect(doc.title == "退货 & 拒收")
        #expect(doc.format == .html)
        let texts = doc.blocks.map(\.text)
        for hidden in [
            "color", "not text", "首页", "关于我们", "站点页眉", "commented", "cdata", "enable JS", "tpl", "svg text", "related",
            "2024",
        ] {
            #expect(!texts.contains { $0.contains(hidden) }, "\(hidden) should be dropped")
        }
        #expect(doc.blocks[0] == Block(kind: .heading(level: 1), text: "退货政策", sectionPath: ["退货政策"]))
        #expect(doc.blocks[1].text == "运费 ¥10 × 2 — 共计 中文 &unknown; <tag> \"q\" 😀")
        #expect(doc.blocks[2] == Block(kind: .heading(level: 2), text: "拒收说明", sectionPath: ["退货政策", "拒收说明"]))
        #expect(doc.blocks[3] == Block(kind: .paragraph, text: "第一行第二行续", sectionPath: ["退货政策", "拒收说明"]))
        #expect(doc.blocks.filter { $0.kind == .listItem }.map(\.text) == ["条目一", "条目 二"])
        #expect(doc.blocks.filter { $0.kind == .record }.map(\.text) == ["项目: 原运费 | 由谁承担: 寄件人", "项目: 保价费 | 由谁承担: 不退"])
        #expect(texts.contains("code line 1\n  line 2") || texts.contains("code  line 1\n  line 2"))
    }

    @Test func deeplyNestedHTMLLoadsFast() throws {
        let depth = 100_000
        var html = "<html><body>"
        html += String(repeating: "<div>", count: depth)
        html += "deep text"
        html += String(repeating: "</div>", count: depth)
        html += "<p>after</p>"
        // Unclosed and misnested tags: never closed, stray end tags.
        html +=
            String(repeating: "<span><b>", count: depth / 2) + "unclosed"
            + String(repeating: "</i></p>", count: depth / 2)
        let clock = ContinuousClock()
        let start = clock.now
        let doc = try load(html, "deep.html")
        let elapsed = clock.now - start
        #expect(doc.blocks.map(\.text) == ["deep text", "after", "unclosed"])
        #expect(elapsed < .seconds(30), "quadratic behaviour would take minutes")
    }

    // MARK: - CSV

    @Test func csvFAQBecomesOneRecordPerQuestion() throws {
        let csv = """
            问题,答案,分类
            寄件可以开发票吗？,可以，在小程序“我的-发票”中申请。,发票
            "保价费怎么算？","按声明价值的 0.5% 收取，最低 1 元。",保价

            ,,
            拒收后运费退吗？,"已产生的运费不退，
            退回运费由寄件人承担。",
            """
        let doc = try load(csv, "faq.csv")
        #expect(doc.format == .csv)
        #expect(doc.blocks.count == 3)
        #expect(doc.blocks.allSatisfy { $0.kind == .record })
        #expect(doc.blocks[0].text == "问：寄件可以开发票吗？\n答：可以，在小程序“我的-发票”中申请。\n分类: 发票")
        #expect(doc.blocks[0].sectionPath == ["寄件可以开发票吗？"])
        #expect(doc.blocks[1].sectionPath == ["保价费怎么算？"])
        #expect(doc.blocks[2].text == "问：拒收后运费退吗？\n答：已产生的运费不退，退回运费由寄件人承担。")

        let english = try load("Question;Answer\nCan I track it?;\"Yes; use the \"\"Track\"\" page.\"\n", "faq-en.csv")
        #expect(english.blocks.map(\.text) == ["Q: Can I track it?\nA: Yes; use the \"Track\" page."])
    }

    @Test func csvWithQuotedNewlinesAndFormulas() throws {
        let csv =
            "name,note,formula\r\n\"Smith, J\",\"line one\nline two\",=SUM(A1:A9)\r\n"
            + "Lee,\"say \"\"hi\"\"\",@cmd\r\nragged\r\nx,y,z,extra\r\n"
        let doc = try load(csv, "people.csv")
        #expect(
            doc.blocks.map(\.text) == [
                "name: Smith, J | note: line one line two | formula: =SUM(A1:A9)",
                "name: Lee | note: say \"hi\" | formula: @cmd",
                "name: ragged",
                "name: x | note: y | formula: z | extra",
            ])
        #expect(doc.blocks[0].sectionPath == ["Smith, J"])
    }

    @Test func nonFAQCSVRepeatsHeaderIntoEveryRow() throws {
        let csv = "区域,首重(元/kg),续重(元/kg),时效(天)\n同城,8,2,1\n省内,10,3,1-2\n"
        let doc = try load(csv, "price-zones.csv")
        #expect(
            doc.blocks == [
                Block(kind: .record, text: "区域: 同城 | 首重(元/kg): 8 | 续重(元/kg): 2 | 时效(天): 1", sectionPath: ["同城"]),
                Block(kind: .record, text: "区域: 省内 | 首重(元/kg): 10 | 续重(元/kg): 3 | 时效(天): 1-2", sectionPath: ["省内"]),
            ])
        let tsv = try load("a\tb\n1\t2,3\n", "t.tsv")
        #expect(tsv.blocks.map(\.text) == ["a: 1 | b: 2,3"])
        let excel = try load("sep=;\nname;price\nbox;1,5\n", "excel.csv")
        #expect(excel.blocks.map(\.text) == ["name: box | price: 1,5"])
    }

    // MARK: - JSON

    @Test func jsonArraysOfObjectsBecomeRecords() throws {
        let json = """
            {"faq": [
              {"question": "保价费怎么算？", "answer": "按声明价值的 0.5% 收取。", "id": 7, "hot": true},
              {"title": "Lithium batteries", "content": "Ship them  separately.", "tags": ["air", "ground"]}
            ],
             "title": "FAQ", "description": "常见问题汇总", "version": 2}
            """
        let doc = try load(json, "faq.json")
        #expect(doc.format == .json)
        #expect(doc.blocks.contains(Block(kind: .paragraph, text: "常见问题汇总", sectionPath: ["FAQ"])))
        #expect(doc.blocks.contains(Block(kind: .paragraph, text: "version: 2", sectionPath: ["FAQ"])))
        #expect(
            doc.blocks.contains(
                Block(
                    kind: .record, text: "问：保价费怎么算？\n答：按声明价值的 0.5% 收取。\nhot: true\nid: 7",
                    sectionPath: ["FAQ", "保价费怎么算？"])))
        #expect(
            doc.blocks.contains(
                Block(
                    kind: .record, text: "Lithium batteries\nShip them separately.\ntags: air, ground",
                    sectionPath: ["FAQ", "Lithium batteries"])))
    }

    @Test func jsonTooDeepOrInvalidIsRejected() {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(
            thrownWendaoError { _ = try load(deep, "deep.json") }
                == WendaoError(.unreadable, "JSON nested deeper than 256 levels"))
        #expect(thrownWendaoError { _ = try load("{\"a\": ", "bad.json") }?.code == .unreadable)
        // Brackets inside strings do not count.
        let inString = "{\"a\": \"" + String(repeating: "[", count: 300) + "\"}"
        #expect((try? load(inString, "ok.json"))?.blocks.count == 1)
    }

    @Test func jsonLinesSkipBadLinesWithAWarning() throws {
        let jsonl = """
            {"question": "How long?", "answer": "2 days"}
            {"question": broken}

            {"name": "Zone A", "price": 8}
            """
        let doc = try load(jsonl, "faq.jsonl")
        #expect(doc.format == .jsonl)
        #expect(doc.warnings == ["line 2: invalid JSON"])
        #expect(
            doc.blocks == [
                Block(kind: .record, text: "Q: How long?\nA: 2 days", sectionPath: ["How long?"]),
                Block(kind: .record, text: "Zone A\nprice: 8", sectionPath: ["Zone A"]),
            ])
        let allBad = thrownWendaoError { _ = try load("{x}\nnope\n", "bad.ndjson") }
        #expect(allBad?.code == .unreadable)
    }

    // MARK: - Source walker

    @Test func walkerSkipsHiddenAppliesGlobsAndReportsLoopsOnce() throws {
        let dir = try ScratchDirectory("loader")
        let root = dir.url.appendingPathComponent("kb")
        try dir.write("kb/a.md", "a")
        try dir.write("kb/.hidden.md", "h")
        try dir.write("kb/.git/config.md", "g")
        try dir.write("kb/sub/b.txt", "b")
        try dir.write("kb/sub/c.csv", "q,a\n1,2")
        try dir.write("kb/sub/deeper/d.md", "d")
        let odd = "sp ace 'q\" \n换行 文件.md"
        try dir.write("kb/\(odd)", "odd")
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("sub/loop").path, withDestinationPath: "..")
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("link-to-a.md").path, withDestinationPath: "a.md")
        #if canImport(Glibc) || canImport(Darwin)
            #expect(mkfifo(root.appendingPathComponent("pipe").path, 0o644) == 0)
        #endif

        let all = SourceWalker().walk([root.path])
        #expect(
            all.files.map(\.identity) == [
                "kb/a.md", "kb/link-to-a.md", "kb/sp ace 'q\" \n换行 文件.md", "kb/sub/b.txt", "kb/sub/c.csv",
                "kb/sub/deeper/d.md",
            ])
        #expect(all.files.first?.size == 1)
        #expect(all.errors.count == 1)
        #expect(all.errors.first?.path.hasSuffix("sub/loop") == true)
        #expect(all.errors.first?.error.message == "symlink loop")
        let oddFile = try #require(all.files.first { $0.identity.hasSuffix("文件.md") })
        #expect(try String(contentsOf: oddFile.url, encoding: .utf8) == "odd")

        let md = SourceWalker(include: ["*.md"]).walk([root.path])
        #expect(
            md.files.map(\.identity) == [
                "kb/a.md", "kb/link-to-a.md", "kb/sp ace 'q\" \n换行 文件.md", "kb/sub/deeper/d.md",
            ])
        let braces = SourceWalker(include: ["**/*.{txt,csv}"], exclude: ["sub/c.*"]).walk([root.path])
        #expect(braces.files.map(\.identity) == ["kb/sub/b.txt"])
        let pruned = SourceWalker(exclude: ["sub"], followSymlinks: false).walk([root.path])
        #expect(pruned.files.map(\.identity) == ["kb/a.md", "kb/sp ace 'q\" \n换行 文件.md"])
        #expect(pruned.errors.isEmpty)
        let classes = SourceWalker(include: ["[ab].*", "sub/deeper/?.md"]).walk([root.path])
        #expect(classes.files.map(\.identity) == ["kb/a.md", "kb/sub/b.txt", "kb/sub/deeper/d.md"])
    }

    @Test func walkerFilesAndMissingPaths() throws {
        let dir = try ScratchDirectory("loader")
        let file = try dir.write("docs/说明 文档.txt", "x")
        let result = SourceWalker().walk([file.path, dir.url.appendingPathComponent("missing").path])
        #expect(result.files.map(\.identity) == ["说明 文档.txt"])
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.error == WendaoError(.notFound, "no such file or directory"))
        // A path ending in "." uses the resolved folder's name (the working directory is shared by
        // parallel tests, so it is not changed here).
        let dot = SourceWalker().walk([dir.url.path + "/docs/."])
        #expect(dot.files.map(\.identity) == ["docs/说明 文档.txt"])
        #expect(dot.errors.isEmpty)
        // A folder reached through a symbolic link keeps the name it was given.
        let link = dir.url.appendingPathComponent("handbook")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "docs")
        #expect(SourceWalker().walk([link.path]).files.map(\.identity) == ["handbook/说明 文档.txt"])
    }

    @Test func globMatching() {
        #expect(Glob("*.md").matches("a.md"))
        #expect(!Glob("*.md").matches("sub/a.md"))
        #expect(Glob("**/*.md").matches("a.md"))
        #expect(Glob("**/*.md").matches("x/y/a.md"))
        #expect(Glob("docs/**").matches("docs/x/y.txt"))
        #expect(Glob("file?.txt").matches("file1.txt"))
        #expect(!Glob("file?.txt").matches("file10.txt"))
        #expect(Glob("[!a]*.txt").matches("b.txt"))
        #expect(!Glob("[!a]*.txt").matches("a.txt"))
        #expect(Glob("*.{md,markdown}").matches("x.markdown"))
        #expect(!Glob("*.{md,markdown}").matches("x.txt"))
        // Pathological pattern stays fast (no exponential backtracking).
        #expect(!Glob(String(repeating: "*a", count: 30) + "b").matches(String(repeating: "a", count: 200)))
    }

    // MARK: - Streaming plain text

    @Test func plainTextStreamEmitsEveryParagraphOfALargeFile() throws {
        let dir = try ScratchDirectory("loader")
        // ~20 MB: numbered paragraphs of mixed Chinese/English text over two lines, some with CRLF.
        let filler = String(repeating: "快递 delivery 时效说明 ", count: 7)
        var data = Data()
        data.reserveCapacity(21 << 20)
        var count = 0
        while data.count < 20 << 20 {
            let eol = count % 3 == 0 ? "\r\n" : "\n"
            data.append(contentsOf: Array("第\(count)段 \(filler)\(eol)第二行。\(eol)\(eol)".utf8))
            count += 1
        }
        let url = try dir.write("big.txt", data)
        var seen = 0
        var badText = 0
        var lastText = ""
        let clock = ContinuousClock()
        let start = clock.now
        let info = try PlainTextStream.forEachBlock(url: url, limits: LoaderLimits()) { block in
            if !block.text.hasPrefix("第\(seen)段 ") || block.text.contains("\u{FFFD}")
                || !block.text.hasSuffix("时效说明第二行。")
            {
                badText += 1
            }
            seen += 1
            lastText = block.text
        }
        let elapsed = clock.now - start
        #expect(seen == count)
        #expect(badText == 0)
        #expect(lastText.hasPrefix("第\(count - 1)段"))
        #expect(info.encoding == "utf-8")
        #expect(info.bytes == Int64(data.count))
        #expect(info.warnings.isEmpty)
        // Linear, not quadratic: about 0.4 s in a debug build alone; the bound only catches a pathological
        // slowdown on a loaded 2-core machine (a quadratic scan of 20 MB would take minutes).
        #expect(elapsed < .seconds(60))
    }

    @Test func plainTextStreamSplitsHugeParagraphs() throws {
        let dir = try ScratchDirectory("loader")
        let sentence = "This is one sentence of a very long paragraph. "
        let long = String(repeating: sentence, count: 5000)  // ~235 KB, one paragraph
        let url = try dir.write("long.txt", "intro\n\n" + long + "\n\nend")
        var blocks: [Block] = []
        _ = try PlainTextStream.forEachBlock(url: url, limits: LoaderLimits()) { blocks.append($0) }
        #expect(blocks.first?.text == "intro")
        #expect(blocks.last?.text == "end")
        let middle = blocks.dropFirst().dropLast()
        #expect(middle.count >= 4)
        #expect(middle.allSatisfy { $0.text.utf8.count <= 64 * 1024 && $0.text.hasSuffix(".") })
        #expect(middle.map(\.text).joined(separator: " ") == long.trimmingCharacters(in: .whitespaces))
    }

    @Test func plainTextStreamGB18030AndUTF16AcrossPieces() throws {
        let dir = try ScratchDirectory("loader")
        // GB18030: an odd ASCII prefix makes the 1 MB piece boundary fall inside a character.
        var gbk: [UInt8] = Array("x".utf8)
        var paragraphs = 0
        while gbk.count < (1 << 20) + 200_000 {
            gbk += gbkChineseTest + gbkChineseTest + Array("\n\n".utf8)
            paragraphs += 1
        }
        let gbURL = try dir.write("gbk.txt", Data(gbk))
        var texts: [String] = []
        let info = try PlainTextStream.forEachBlock(url: gbURL, limits: LoaderLimits()) { texts.append($0.text) }
        #expect(info.encoding == "gb18030")
        #expect(texts.count == paragraphs)
        #expect(texts.dropFirst().allSatisfy { $0 == "中文测试中文测试" })

        // UTF-16LE with a surrogate pair straddling the first piece boundary.
        var le: [UInt8] = [0xFF, 0xFE]
        let unit = "段落😀\n\n"
        var count = 0
        while le.count < (1 << 20) + 100_000 {
            for u in unit.utf16 { le += [UInt8(u & 0xFF), UInt8(u >> 8)] }
            count += 1
        }
        let leURL = try dir.write("utf16.txt", Data(le))
        var ok = 0
        let leInfo = try PlainTextStream.forEachBlock(url: leURL, limits: LoaderLimits()) {
            if $0.text == "段落😀" { ok += 1 }
        }
        #expect(leInfo.encoding == "utf-16le")
        #expect(ok == count)
    }

    @Test func plainTextStreamRejectsBinaryAndMissingFiles() throws {
        let dir = try ScratchDirectory("loader")
        let bin = try dir.write("bin.txt", Data([0x7F, 0x45, 0x4C, 0x46, 0, 0, 0, 1, 2, 3]))
        let e1 = thrownWendaoError { _ = try PlainTextStream.forEachBlock(url: bin, limits: LoaderLimits()) { _ in } }
        #expect(e1 == WendaoError(.unreadable, "binary data, not text"))
        let missing = dir.url.appendingPathComponent("nope.txt")
        let e2 = thrownWendaoError {
            _ = try PlainTextStream.forEachBlock(url: missing, limits: LoaderLimits()) { _ in }
        }
        #expect(e2?.code == .notFound)
        let empty = try dir.write("empty.txt", Data())
        let e3 = thrownWendaoError { _ = try PlainTextStream.forEachBlock(url: empty, limits: LoaderLimits()) { _ in } }
        #expect(e3 == WendaoError(.unreadable, "empty file"))
    }
}
