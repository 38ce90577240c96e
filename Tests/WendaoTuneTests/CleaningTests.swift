import Foundation
import Testing
import WendaoCore
import WendaoTestSupport
import WendaoTune

/// An example for the cleaning tests.
func example(
    _ id: String, _ question: String, _ answer: String, style: QuestionStyle = .factual, chunk: Int64 = 1,
    documents: [String]? = nil
) -> TuneExample {
    TuneExample(
        id: id, question: question, answer: answer, reasoning: nil, style: style,
        language: AnswerLanguageCode.of(question), chunks: [chunk], chunkHashes: [],
        documents: documents ?? ["kb/d\(chunk).md"],
        section: "", teacher: "test:teacher", promptVersion: "v", createdAt: "2026-01-01T00:00:00Z")
}

enum AnswerLanguageCode {
    static func of(_ s: String) -> String {
        s.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) } ? "zh" : "en"
    }
}

@Suite struct MinHashTests {
    @Test("character 5-gram Jaccard: exact values on hand-made strings; short texts are one n-gram")
    func exact() {
        let d = MinHashDeduplicator(threshold: 0.8)
        // abcde bcdef cdefg vs abcde bcdef cdefh: 2 shared of 4.
        #expect(d.jaccard("abcdefg", "abcdefh") == 0.5)
        #expect(d.jaccard("ABCDEFG", "abc def g!") == 1)  // case, spaces and punctuation ignored
        #expect(d.jaccard("首重多少钱", "首重多少钱") == 1)
        #expect(d.jaccard("运费", "运费") == 1 && d.shingles("运费").count == 1)
        #expect(d.jaccard("abcdefg", "uvwxyz") == 0)
        // The estimate is close to the exact value.
        let a = "标准快递首重1公斤收费12元，续重每公斤3元，偏远地区另加5元"
        let b = "标准快递首重1公斤收费12元，续重每公斤4元，偏远地区另加5元"
        let est = MinHashDeduplicator.similarity(d.signature(a), d.signature(b))
        #expect(abs(est - d.jaccard(a, b)) < 0.12)
    }

    @Test("golden dedupe: the fixtures' near-duplicates go, paraphrases with other words stay")
    func golden() {
        let questions = [
            "寄一个3公斤的包裹到北京，运费怎么算？",  // 0 kept
            "寄一个3公斤的包裹到北京，运费怎么算呢？",  // 1 near-duplicate of 0 (one character added)
            "寄一个3公斤的包裹到北京,运费怎么算?",  // 2 same as 0 after normalisation
            "保价费怎么收？",  // 3 kept
            "包裹丢了最多赔多少钱？",  // 4 kept
            "How much does it cost to ship a 3 kg parcel to Beijing?",  // 5 kept
            "How much does it cost to ship a 3 kg parcel to Beijing",  // 6 duplicate of 5
            "How much does it cost to ship a 5 kg parcel to Shanghai?",  // 7 kept (other place and weight)
            "冷链运输的温度要求是多少？",  // 8 kept
            "冷链运输的温度要求是多少度？",  // 9 near-duplicate of 8
        ]
        var d = MinHashDeduplicator(threshold: 0.8)
        let kept = questions.indices.filter { d.isDuplicate(questions[$0]) == nil }
        #expect(kept == [0, 3, 4, 5, 7, 8])
    }

    @Test("100 identical questions: one is kept; the threshold is configurable")
    func identical() {
        var d = MinHashDeduplicator(threshold: 0.8)
        let kept = (0..<100).filter { _ in d.isDuplicate("能寄充电宝吗？") == nil }
        #expect(kept.count == 1)
        var strict = MinHashDeduplicator(threshold: 0.99)
        #expect(strict.isDuplicate("冷链运输的温度要求是多少？") == nil)
        #expect(strict.isDuplicate("冷链运输的温度要求是多少度？") == nil)
    }
}

@Suite struct PIITests {
    @Test(
        "true positives are masked",
        arguments: [
            ("我的手机是13812345678，请回电", "我的手机是[PHONE]，请回电", PIIMasker.Kind.phone),
            ("call +86 139-1234-5678 now", "call [PHONE] now", .phone),
            ("电话 186 1234 5678", "电话 [PHONE]", .phone),
            ("身份证号11010519491231002X，姓名张三", "身份证号[ID_NUMBER]，姓名张三", .idNumber),
            ("卡号6222021234567890128到账", "卡号[BANK_CARD]到账", .bankCard),
            ("card 4111 1111 1111 1111 ok", "card [BANK_CARD] ok", .bankCard),
            ("邮箱 zhang.san@example.com.cn 联系", "邮箱 [EMAIL] 联系", .email),
        ])
    func masked(text: String, expected: String, kind: PIIMasker.Kind) {
        let r = PIIMasker.mask(text)
        #expect(r.text == expected)
        #expect(r.found.map(\.kind) == [kind])
        // The report never holds the value itself.
        #expect(!r.found[0].preview.contains("12345678") && !r.found[0].preview.contains("zhang.san"))
    }

    @Test(
        "false positives survive: order and waybill numbers, bad check digits, non-Luhn numbers, hotlines, codes",
        arguments: [
            "订单号13812345678已发货",  // labelled as an order number
            "运单号：13812345678",
            "order no. 13912345678 shipped",
            "tracking #13912345678",
            "SA13812345678 到达上海",  // glued to letters: a waybill code
            "138123456789 是一个12位数字",  // 12 digits: not a mobile
            "身份证号110105194912310021",  // wrong check digit
            "号码110105194913310028",  // month 13
            "卡号6222021234567890123",  // fails Luhn
            "流水号2026112800010000018",  // starts with 2: not a card network, even if Luhn held
            "客服热线400-820-5566",
            "价格 12345678901 元",  // 11 digits starting with 12: not a mobile
            "版本 v1.2.3@build",
        ])
    func kept(text: String) {
        #expect(PIIMasker.mask(text).text == text)
    }

    @Test("check digits and Luhn")
    func checks() {
        #expect(PIIMasker.isResidentID("11010519491231002X"))
        #expect(PIIMasker.isResidentID("440524198001010013"))
        #expect(!PIIMasker.isResidentID("440524198001010014"))
        #expect(!PIIMasker.isResidentID("440524188001010014"))  // born 1880: not a living resident's number
        #expect(PIIMasker.luhn([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]))
        #expect(PIIMasker.isBankCard("6222021234567890128"))
        #expect(!PIIMasker.isBankCard("1234567812345670"))  // first digit 1
    }
}

@Suite struct CleanerTests {
    let chunk = SourceChunk(
        id: 1, document: "kb/d1.md", section: "价格", ordinal: 0, text: "标准快递首重收费12元，续重每公斤收费3元。客服热线400-820-5566。")

    @Test("each check drops with its reason and counts it; refusal targets stay")
    func checks() async {
        let examples = [
            example("ok", "首重多少钱？", "标准快递首重收费12元 [1]。"),
            example("empty", "首重多少钱？", "  "),
            example("echo", "首重收费多少钱？", "首重收费多少钱？"),
            example("long", "首重多少钱？", String(repeating: "元", count: 5000)),
            example("lang", "首重多少钱？", "The first kilogram costs twelve yuan according to the price list [1]."),
            example("refused", "续重怎么收？", "知识库中没有找到答案。"),
            example("unsupported", "首重多少钱？", "标准快递首重收费99元，当日达另加50元 [1]。"),
            example("refusal-target", "火星上能寄快递吗？", "知识库中没有找到答案。", style: .unanswerable),
            example("dup", "首重多少钱？", "标准快递首重收费12元 [1]。"),
            example("pii", "我的手机13812345678能改地址吗？", "标准快递首重收费12元 [1]。"),
            example("contaminated", "客服电话是多少？", "客服热线400-820-5566 [1]。"),
        ]
        var options = CleaningOptions()
        options.evalQuestions = ["客服电话是多少号？"]
        let (out, report) = await DatasetCleaner.clean(examples, chunks: [1: chunk], options: options)
        let reason = Dictionary(uniqueKeysWithValues: out.map { ($0.id, $0.dropReason ?? "kept") })
        #expect(reason["ok"] == "kept")
        #expect(reason["empty"] == "empty")
        #expect(reason["echo"] == "echo")
        #expect(reason["long"] == "length")
        #expect(reason["lang"] == "language")
        #expect(reason["refused"] == "refused")
        #expect(reason["unsupported"] == "unsupported")
        #expect(reason["refusal-target"] == "kept")
        #expect(reason["dup"] == "duplicate")
        #expect(reason["pii"] == "kept")
        #expect(reason["contaminated"] == "contaminated")
        #expect(report.input == 11 && report.kept == 3)
        #expect(
            report.dropped == [
                "empty": 1, "echo": 1, "length": 1, "language": 1, "refused": 1, "unsupported": 1, "duplicate": 1,
                "contaminated": 1,
            ])
        #expect(report.masked == ["phone": 1] && report.maskedExamples == 1)
        #expect(out.first { $0.id == "pii" }?.question == "我的手机[PHONE]能改地址吗？")
        #expect(report.maskedSamples.first?.preview == "138****5678")
        // Flag instead of drop.
        options.dropUnsupported = false
        let (flagged, r2) = await DatasetCleaner.clean(examples, chunks: [1: chunk], options: options)
        #expect(flagged.first { $0.id == "unsupported" }?.flags.contains("unsupported") == true)
        #expect(r2.dropped["unsupported"] == nil && r2.flagged["unsupported"] == 1)
    }

    @Test("a judge decides support when given; unreadable verdicts fall back to the lexical check and are counted")
    func judge() async {
        let examples = [
            example("a", "首重多少钱？", "标准快递首重收费12元 [1]。"),
            example("b", "续重多少钱？", "续重每公斤收费3元 [1]。"),
            example("c", "客服电话？", "客服热线400-820-5566 [1]。"),
        ]
        let (out, report) = await DatasetCleaner.clean(
            examples, chunks: [1: chunk], options: CleaningOptions(),
            judge: { e, _ in e.id == "a" ? false : e.id == "b" ? true : nil }, judgeName: "test:judge")
        #expect(out.map { $0.dropReason ?? "kept" } == ["unsupported", "kept", "kept"])
        #expect(report.judgeUnreadable == 1 && report.supportCheck == "judge:test:judge")
        #expect(DatasetCleaner.parseJudge(#"```json {"supported": false, "reason": "x"} ```"#) == false)
        #expect(DatasetCleaner.parseJudge("yes it is") == nil)
    }
}

@Suite struct SplitterTests {
    @Test(
        "property: no document is in two splits, every kept example is split, styles spread (seeded)", arguments: 1...25
    )
    func noDocumentInTwoSplits(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed))
        let documents = Int.random(in: 1...40, using: &rng)
        var examples: [TuneExample] = []
        for i in 0..<Int.random(in: 1...400, using: &rng) {
            let d = Int.random(in: 0..<documents, using: &rng)
            let style = QuestionStyle.allCases.randomElement(using: &rng)!
            var e = example("e\(i)", "问题\(i)", "答案\(i)", style: style, chunk: Int64(d))
            if style == .comparison { e.documents.append("kb/d\(Int.random(in: 0..<documents, using: &rng)).md") }
            e.status = Bool.random(using: &rng) || i % 3 != 0 ? "kept" : "dropped"
            examples.append(e)
        }
        DatasetSplitter.assign(&examples, ratios: [0.8, 0.1, 0.1], seed: UInt64(seed))
        var splitOf: [String: String] = [:]
        for e in examples where e.status == "kept" {
            let s = try #require(e.split)
            for d in e.documents {
                #expect(splitOf[d] == nil || splitOf[d] == s, "document \(d) in \(splitOf[d]!) and \(s)")
                splitOf[d] = s
            }
        }
        #expect(examples.filter { $0.status == "dropped" }.allSatisfy { $0.split == nil })
        // Same seed, same splits.
        var again = examples
        DatasetSplitter.assign(&again, ratios: [0.8, 0.1, 0.1], seed: UInt64(seed))
        #expect(again.map(\.split) == examples.map(\.split))
    }

    @Test("with many documents the shares come close to the ratios, per style")
    func ratios() {
        var examples: [TuneExample] = []
        for d in 0..<100 {
            for (k, style) in [QuestionStyle.factual, .colloquial, .unanswerable].enumerated() {
                var e = example("e\(d)-\(k)", "问题\(d)\(k)", "答案", style: style, chunk: Int64(d))
                e.status = "kept"
                examples.append(e)
            }
        }
        DatasetSplitter.assign(&examples, ratios: [0.8, 0.1, 0.1], seed: 3)
        for style in [QuestionStyle.factual, .colloquial, .unanswerable] {
            let of = examples.filter { $0.style == style }
            #expect(abs(of.filter { $0.split == "train" }.count - 80) <= 3)
            #expect(abs(of.filter { $0.split == "test" }.count - 10) <= 3)
        }
        #expect(DatasetSplitter.parseRatios("8,1,1") == [0.8, 0.1, 0.1])
        #expect(DatasetSplitter.parseRatios("0,1,1") == nil && DatasetSplitter.parseRatios("a,b") == nil)
    }
}
