import Foundation
import Testing
import WendaoTestSupport
import WendaoCore
@testable import WendaoText

// MARK: - Normalizer

@Suite struct NormalizerTests {
    @Test func fullWidthBecomesHalfWidth() {
        #expect(Normalizer.normalize("ＡＢＣ１２３，") == "ABC123,")
        #expect(Normalizer.normalize("ｈｅｌｌｏ　ｗｏｒｌｄ！") == "hello world!")
    }

    @Test func lineEndingsAndControlCharacters() {
        #expect(Normalizer.normalize("a\r\nb\rc\nd") == "a\nb\nc\nd")
        #expect(Normalizer.normalize("运费\r\n首重") == "运费\n首重")
        // Control characters, BOM and zero-width space go; tab and newline stay.
        #expect(Normalizer.normalize("a\u{0007}b\u{FEFF}c\u{200B}d\te\n") == "abcd\te\n")
        #expect(Normalizer.normalize("x\u{0000}y\u{001B}z") == "xyz")
    }

    @Test func plainTextIsUnchanged() {
        let s = "首重12元、续重每公斤3元。Shipping costs 12 yuan."
        #expect(Normalizer.normalize(s) == s)
        #expect(Normalizer.normalize("") == "")
    }
}

// MARK: - Analyzer

@Suite struct AnalyzerTests {
    let analyzer = Analyzer()

    @Test func traditionalAndSimplifiedMeet() {
        #expect(ScriptFolding.isAvailable, "the Hant-Hans folding table could not be built on this platform")
        #expect(analyzer.terms("國際快遞") == analyzer.terms("国际快递"))
        let tokens = analyzer.tokens("國際快遞")
        #expect(tokens.contains("国际"))
        #expect(tokens.contains("快递"))
        #expect(tokens.contains("递"))
        #expect(!tokens.contains("國"))
        #expect(!tokens.contains("遞"))
        #expect(!tokens.contains { $0.contains("際") })
        #expect(ScriptFolding.fold("運費與保價") == "运费与保价")
    }

    @Test func cjkUnigramsAndBigrams() {
        let tokens = analyzer.tokens("快递")
        #expect(tokens.contains("快"))
        #expect(tokens.contains("递"))
        #expect(tokens.contains("快递"))
        let three = analyzer.tokens("上门取")
        #expect(Set(three) == ["上", "门", "取", "上门", "门取"])
        #expect(Set(Analyzer(cjkMode: .bigrams).tokens("上门取")) == ["上门", "门取"])
        #expect(Analyzer(cjkMode: .bigrams).tokens("门") == ["门"])
        #expect(Set(Analyzer(cjkMode: .unigrams).tokens("上门取")) == ["上", "门", "取"])
        // Bigrams never span a break between runs.
        #expect(!analyzer.tokens("快，递").contains("快递"))
        #expect(!analyzer.tokens("快 递").contains("快递"))
    }

    @Test func englishLowercaseStopwordsAndStemming() {
        let a = analyzer.tokens("packages")
        let b = analyzer.tokens("package")
        let c = analyzer.tokens("packaging")
        #expect(a.count == 1)
        #expect(a == b)
        #expect(b == c)
        #expect(analyzer.terms("Shipping") == analyzer.terms("shipped"))
        #expect(analyzer.terms("DELIVERIES") == analyzer.terms("delivery"))
        #expect(analyzer.tokens("the").isEmpty)
        #expect(analyzer.tokens("The parcel").count == 1)
        #expect(analyzer.tokens("the of and to").isEmpty)
        #expect(analyzer.tokens("Parcel") == analyzer.tokens("parcel"))
        #expect(analyzer.tokens("PARCEL").allSatisfy { $0 == $0.lowercased() })
        // Without stopword dropping, "the" is a term.
        #expect(Analyzer(dropStopwords: false).tokens("the") == ["the"])
        #expect(Analyzer(stemming: false).tokens("packages") == ["packages"])
    }

    @Test func codesStayWhole() {
        let waybill = analyzer.tokens("SA202611280001")
        #expect(waybill.contains("sa202611280001"))
        #expect(waybill.contains("202611280001"))
        let phone = analyzer.tokens("400-820-5566")
        #expect(phone.contains("400-820-5566"))
        #expect(phone.contains("5566"))
        #expect(phone.contains("400"))
        let service = analyzer.tokens("SVC-CC-02")
        #expect(service.contains("svc-cc-02"))
        #expect(analyzer.tokens("1-3kg").contains("1-3kg"))
        // A trailing dot or dash does not stick to the code.
        #expect(analyzer.tokens("请拨打400-820-5566。").contains("400-820-5566"))
        #expect(analyzer.tokens("SA202611280001.").contains("sa202611280001"))
        // The whole code in a query matches the whole code in a document.
        let docTerms = Set(analyzer.terms("运单号 SA202611280001 已签收"))
        #expect(analyzer.terms("sa202611280001").allSatisfy { docTerms.contains($0) })
    }

    @Test func mixedText() {
        let tokens = analyzer.tokens("请用顺丰寄 packages 到 SVC-CC-02，电话400-820-5566")
        for expected in ["顺丰", "寄", "packag", "svc-cc-02", "400-820-5566", "电话"] {
            #expect(tokens.contains(expected), "missing \(expected) in \(tokens)")
        }
        #expect(!tokens.contains("请用顺丰寄"))
    }

    @Test(arguments: ["", " ", "\n\t  ", "，。！？、；：“”（）", "...---///___", "!!! ??? ***", "　　", "— … ·"])
    func noTermsWithoutWords(_ text: String) {
        #expect(analyzer.terms(text).isEmpty)
        #expect(analyzer.tokens(text).isEmpty)
    }

    @Test func hashesAgreeWithTokens() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<50 {
            let text =
                TextPool.paragraph(&rng, sentences: 1...6) + " SA2026\(Int.random(in: 0...99999, using: &rng)) 國際"
            let terms = analyzer.terms(text)
            let hashed = analyzer.tokens(text).map { Analyzer.hash(term: $0) }
            #expect(terms == hashed)
        }
    }

    @Test func oneMegabyteIsAnalysed() {
        var rng = SeededGenerator(seed: 11)
        // Random scalars from many scripts, punctuation, combining marks and spaces.
        let ranges: [ClosedRange<UInt32>] = [
            0x20...0x7E, 0x4E00...0x9FFF, 0x3000...0x303F, 0xFF00...0xFFEF, 0x0300...0x036F, 0x0400...0x04FF,
            0x1F300...0x1F6FF, 0xAC00...0xD7AF, 0x20000...0x2A6DF,
        ]
        var view = String.UnicodeScalarView()
        var bytes = 0
        while bytes < 1 << 20 {
            let r = ranges.randomElement(using: &rng)!
            if let u = Unicode.Scalar(UInt32.random(in: r, using: &rng)) {
                view.append(u)
                bytes += String(u).utf8.count
            }
        }
        let text = String(view)
        let terms = analyzer.terms(text)
        #expect(terms.count > 100_000)
        // One enormous "word": letters, digits and joiners with no break.
        let word = String(repeating: "ab1-", count: 1 << 18)
        #expect(!analyzer.terms(word).isEmpty)
    }
}

// MARK: - Sentence splitter

private func sentences(_ text: String) -> [String] {
    SentenceSplitter.spans(text).map { scalarSlice(text, $0.start, $0.end) }
}

@Suite struct SentenceSplitterTests {
    @Test func chineseTerminators() {
        #expect(sentences("运费多少？首重12元。续重3元！可以吗；好的") == ["运费多少？", "首重12元。", "续重3元！", "可以吗；", "好的"])
    }

    @Test func docExample() {
        #expect(sentences("运费多少？首重12元。Mr. Li said so.") == ["运费多少？", "首重12元。", "Mr. Li said so."])
    }

    @Test func ellipsisStaysInOneSentence() {
        #expect(sentences("他想了想……然后走了。") == ["他想了想……", "然后走了。"])
        #expect(sentences("Wait... what?! Fine.") == ["Wait...", "what?!", "Fine."])
    }

    @Test func closingQuotesStayWithTheSentence() {
        #expect(sentences("他说：“明天到。”然后挂了电话。") == ["他说：“明天到。”", "然后挂了电话。"])
        #expect(sentences("「好的。」」我们走吧。") == ["「好的。」」", "我们走吧。"])
        #expect(sentences("He said \"yes.\" Then he left.") == ["He said \"yes.\"", "Then he left."])
        #expect(sentences("（详见附件。）下一句。") == ["（详见附件。）", "下一句。"])
    }

    @Test func abbreviationsDoNotSplit() {
        #expect(
            sentences("Mr. Smith ships e.g. parcels to the U.S. daily. No. 5 is next.") == [
                "Mr. Smith ships e.g. parcels to the U.S. daily.", "No. 5 is next.",
            ])
        #expect(
            sentences("Contact Dr. Wang i.e. the manager. Done.") == ["Contact Dr. Wang i.e. the manager.", "Done."])
        #expect(sentences("J. Smith signed it. OK.") == ["J. Smith signed it.", "OK."])
    }

    @Test func decimalsDoNotSplit() {
        #expect(
            sentences("The fee is 0.5 yuan per 3.5kg parcel. Next one.") == [
                "The fee is 0.5 yuan per 3.5kg parcel.", "Next one.",
            ])
        #expect(sentences("每公斤3.5元，体积重量按0.2计算。下一条。") == ["每公斤3.5元，体积重量按0.2计算。", "下一条。"])
        #expect(sentences("See www.example.com for v1.2 details.") == ["See www.example.com for v1.2 details."])
    }

    @Test func newlinesSplit() {
        #expect(sentences("第一行\n第二行\r\nthird line") == ["第一行", "第二行", "third line"])
        #expect(sentences("a\n\n\nb") == ["a", "b"])
    }

    @Test func emptyAndBlank() {
        #expect(SentenceSplitter.spans("").isEmpty)
        #expect(SentenceSplitter.spans("  \n \t ").isEmpty)
    }

    @Test func spansCoverEveryNonSpaceCharacterInOrder() {
        var rng = SeededGenerator(seed: 3)
        let spaces: Set<UInt32> = [0x20, 0x09, 0x0A, 0x0D, 0x3000, 0xA0]
        let extras = ["\n", "  ", "……", "”", "Mr. ", "0.5", "e.g. ", "?!", "\u{3000}", "。」"]
        for _ in 0..<100 {
            var text = ""
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                text += Bool.random(using: &rng) ? TextPool.chineseSentence(&rng) : TextPool.englishSentence(&rng) + " "
                if Int.random(in: 0..<3, using: &rng) == 0 { text += extras.randomElement(using: &rng)! }
            }
            let scalars = Array(text.unicodeScalars.map(\.value))
            let spans = SentenceSplitter.spans(scalars)
            var covered = [Bool](repeating: false, count: scalars.count)
            var previousEnd = 0
            for s in spans {
                #expect(s.start >= previousEnd && s.end > s.start && s.end <= scalars.count)
                #expect(!spaces.contains(scalars[s.start]) && !spaces.contains(scalars[s.end - 1]))
                for i in s.start..<s.end { covered[i] = true }
                previousEnd = s.end
            }
            for i in 0..<scalars.count where !covered[i] {
                #expect(spaces.contains(scalars[i]), "scalar \(i) of \(text.debugDescription) is in no sentence")
            }
        }
    }
}

// MARK: - Chunker

/// A generated document with what tests need to know about its blocks.
private struct GeneratedDocument {
    var blocks: [Block] = []

    static func make(seed: UInt64) -> GeneratedDocument {
        var rng = SeededGenerator(seed: seed)
        var doc = GeneratedDocument()
        for s in 0..<Int.random(in: 2...5, using: &rng) {
            let h1 = "第\(s + 1)章 \(TextPool.chineseWords.randomElement(using: &rng)!)"
            doc.blocks.append(Block(kind: .heading(level: 1), text: h1, sectionPath: [h1]))
            for sub in 0..<Int.random(in: 1...3, using: &rng) {
                var path = [h1]
                if sub > 0 || Bool.random(using: &rng) {
                    let h2 = "\(s + 1).\(sub + 1) \(TextPool.englishWords.randomElement(using: &rng)!)"
                    path.append(h2)
                    doc.blocks.append(Block(kind: .heading(level: 2), text: h2, sectionPath: path))
                }
                for _ in 0..<Int.random(in: 1...7, using: &rng) {
                    switch Int.random(in: 0..<10, using: &rng) {
                    case 0...3:
                        doc.blocks.append(
                            Block(kind: .paragraph, text: TextPool.paragraph(&rng, sentences: 1...3), sectionPath: path)
                        )
                    case 4...5:
                        // A long paragraph (several chunks).
                        doc.blocks.append(
                            Block(
                                kind: .paragraph, text: TextPool.paragraph(&rng, sentences: 10...30), sectionPath: path)
                        )
                    case 6:
                        doc.blocks.append(
                            Block(kind: .listItem, text: TextPool.chineseSentence(&rng), sectionPath: path))
                    case 7:
                        let q = TextPool.chineseSentence(&rng, words: 2...4)
                        let a = TextPool.paragraph(&rng, sentences: 1...(Bool.random(using: &rng) ? 2 : 14))
                        doc.blocks.append(Block(kind: .record, text: "问：\(q)\n答：\(a)", sectionPath: path))
                    case 8:
                        // One very long sentence without any terminator (Chinese, no spaces).
                        var long = ""
                        for _ in 0..<Int.random(in: 80...400, using: &rng) {
                            long += TextPool.chineseWords.randomElement(using: &rng)!
                            if Int.random(in: 0..<15, using: &rng) == 0 { long += "，" }
                        }
                        doc.blocks.append(Block(kind: .paragraph, text: long, sectionPath: path))
                    default:
                        // A long English sentence with spaces but no full stop, plus stray whitespace.
                        var words: [String] = []
                        for _ in 0..<Int.random(in: 40...160, using: &rng) {
                            words.append(TextPool.englishWords.randomElement(using: &rng)!)
                        }
                        doc.blocks.append(
                            Block(kind: .paragraph, text: "  " + words.joined(separator: " ") + "\n", sectionPath: path)
                        )
                    }
                }
            }
        }
        return doc
    }

    /// Document-text range of each block.
    var ranges: [Range<Int>] {
        var out: [Range<Int>] = []
        var offset = 0
        for (i, b) in blocks.enumerated() {
            if i > 0 { offset += 2 }
            let n = b.text.unicodeScalars.count
            out.append(offset..<(offset + n))
            offset += n
        }
        return out
    }
}

private let chunkerSettings: [(size: Int, overlap: Int)] = [(200, 40), (200, 0), (64, 20), (500, 100), (1000, 0)]

@Suite struct ChunkerTests {
    @Test(arguments: 0..<chunkerSettings.count, [UInt64(1), 2, 3, 4, 5, 6])
    func chunkInvariants(settingIndex: Int, seed: UInt64) throws {
        let (size, overlap) = chunkerSettings[settingIndex]
        let doc = GeneratedDocument.make(seed: seed &* 7919 &+ UInt64(settingIndex))
        let text = Chunker.documentText(doc.blocks)
        let scalars = Array(text.unicodeScalars)
        let ranges = doc.ranges
        #expect(ranges.last?.upperBound == scalars.count)
        let chunks = Chunker.chunk(doc.blocks, size: size, overlap: overlap)
        try #require(!chunks.isEmpty)

        var covered = [Bool](repeating: false, count: scalars.count)
        for c in chunks {
            // Length bound and offsets.
            // Sizes count units (a Chinese character or digit 1, other characters 0.4), not scalars.
            #expect(Chunker.units(c.text) <= size, "chunk of \(Chunker.units(c.text)) units > \(size)")
            #expect(c.end - c.start == c.text.unicodeScalars.count)
            #expect(c.start >= 0 && c.end <= scalars.count && c.start < c.end)
            #expect(c.text == scalarSlice(text, c.start, c.end))
            // No leading whitespace.
            #expect(c.text.unicodeScalars.first.map { !$0.properties.isWhitespace } ?? false)
            for i in max(0, c.start)..<min(c.end, scalars.count) { covered[i] = true }
            // Blocks the chunk touches.
            let touched = doc.blocks.indices.filter { ranges[$0].overlaps(c.start..<c.end) }
            #expect(!touched.isEmpty)
            for i in touched {
                let b = doc.blocks[i]
                // Never mixes sections, never contains a heading.
                #expect(b.sectionPath == c.sectionPath, "chunk \(c.start)..<\(c.end) mixes sections")
                if case .heading = b.kind { Issue.record("chunk \(c.start)..<\(c.end) contains heading text") }
                // A record is alone in its chunk.
                if b.kind == .record {
                    #expect(touched.count == 1)
                    #expect(ranges[i].contains(c.start) && c.end <= ranges[i].upperBound)
                }
            }
        }
        // Every non-space character of a non-heading block is in some chunk.
        for (i, b) in doc.blocks.enumerated() {
            if case .heading = b.kind { continue }
            for k in ranges[i] where !covered[k] && !scalars[k].properties.isWhitespace {
                Issue.record("character \(k) (\(scalars[k])) of block \(i) is in no chunk")
                break
            }
        }
        // Chunks come in document order.
        for (a, b) in zip(chunks, chunks.dropFirst()) { #expect(a.start < b.start && a.end <= b.end) }
        if overlap == 0 {
            for (a, b) in zip(chunks, chunks.dropFirst()) { #expect(b.start >= a.end) }
        }
    }

    @Test func overlapRepeatsTrailingSentences() {
        var rng = SeededGenerator(seed: 99)
        // Short sentences (each well under the overlap) in one long paragraph.
        var para = ""
        for _ in 0..<120 { para += TextPool.chineseSentence(&rng, words: 2...5) }
        let blocks = [Block(kind: .paragraph, text: para, sectionPath: ["s"])]
        let size = 200
        let overlap = 40
        let chunks = Chunker.chunk(blocks, size: size, overlap: overlap)
        #expect(chunks.count >= 5)
        let starts = Set(SentenceSplitter.spans(para).map(\.start))
        for (a, b) in zip(chunks, chunks.dropFirst()) {
            #expect(b.start < a.end, "no overlap between \(a.start)..<\(a.end) and \(b.start)..<\(b.end)")
            #expect(a.end - b.start <= overlap)
            #expect(b.end > a.end)
            // The repeated part is made of whole sentences.
            #expect(starts.contains(b.start))
        }
        for c in chunks { #expect(starts.contains(c.start)) }
        // Without overlap the same paragraph gives disjoint chunks.
        let plain = Chunker.chunk(blocks, size: size, overlap: 0)
        for (a, b) in zip(plain, plain.dropFirst()) { #expect(b.start >= a.end) }
        #expect(plain.count <= chunks.count)
    }

    @Test func overlapDoesNotCrossSections() {
        var rng = SeededGenerator(seed: 5)
        var blocks: [Block] = []
        for s in ["A", "B"] {
            blocks.append(Block(kind: .heading(level: 1), text: s, sectionPath: [s]))
            var para = ""
            for _ in 0..<30 { para += TextPool.chineseSentence(&rng, words: 2...5) }
            blocks.append(Block(kind: .paragraph, text: para, sectionPath: [s]))
        }
        let chunks = Chunker.chunk(blocks, size: 120, overlap: 40)
        let boundary = Chunker.documentText(Array(blocks.prefix(3))).unicodeScalars.count
        for c in chunks where c.sectionPath == ["B"] { #expect(c.start >= boundary - 1) }
        #expect(Set(chunks.map(\.sectionPath)) == [["A"], ["B"]])
    }

    @Test func recordsAreChunksOfTheirOwn() {
        let blocks = [
            Block(kind: .paragraph, text: "开头一句。", sectionPath: []),
            Block(kind: .record, text: "问：怎么开发票？\n答：在订单页申请。", sectionPath: ["怎么开发票？"]),
            Block(kind: .record, text: "问：保价费多少？\n答：声明价值的1%。", sectionPath: ["保价费多少？"]),
            Block(kind: .paragraph, text: "结尾一句。", sectionPath: []),
        ]
        let chunks = Chunker.chunk(blocks, size: 200, overlap: 40)
        #expect(chunks.map(\.text) == ["开头一句。", blocks[1].text, blocks[2].text, "结尾一句。"])
        #expect(chunks[1].sectionPath == ["怎么开发票？"])
    }

    @Test func incrementalEqualsOneShot() {
        let doc = GeneratedDocument.make(seed: 42)
        var chunker = Chunker(size: 150, overlap: 30)
        var incremental: [ChunkDraft] = []
        for b in doc.blocks { chunker.add(b) { incremental.append($0) } }
        chunker.finish { incremental.append($0) }
        #expect(incremental == Chunker.chunk(doc.blocks, size: 150, overlap: 30))
    }

    @Test func veryLongSentenceIsCutAtTheSizeLimit() {
        let long = String(repeating: "超长句子没有标点", count: 500)  // 4000 scalars
        let chunks = Chunker.chunk([Block(kind: .paragraph, text: long)], size: 200, overlap: 40)
        #expect(chunks.count >= 20)
        #expect(chunks.allSatisfy { Chunker.units($0.text) <= 200 })
        #expect(chunks.map(\.text).joined() == long)
    }
}
