import Foundation
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
import WendaoEval
import WendaoIndex
@testable import WendaoRAG
@testable import WendaoText

/// What a question asks for, which sentences hold it, answer units, cross-language renderings,
/// chunk units, and bad input against small knowledge bases.
@Suite struct AnswerTests {
    @Test func intentReadsWhatIsAsked() {
        #expect(QuestionIntent("冷链运输温度是多少？").kinds.contains(.temperature))
        #expect(QuestionIntent("保价费怎么收？").kinds.contains(.amount))
        #expect(QuestionIntent("包裹到了驿站，可以免费放几天？").kinds.contains(.duration))
        // "免费" in a question about days does not make it a question about money.
        #expect(!QuestionIntent("包裹到了驿站，可以免费放几天？").kinds.contains(.amount))
        #expect(QuestionIntent("人工客服几点下班？").kinds.contains(.clock))
        #expect(QuestionIntent("申请理赔要准备哪些材料？").kinds.contains(.documents))
        #expect(QuestionIntent("快递摔坏了，要怎么申请赔偿？").kinds.contains(.steps))
        #expect(QuestionIntent("How much does a medium box cost?").kinds.contains(.amount))
        #expect(!QuestionIntent("能寄充电宝吗？").wantsValue)
        #expect(!QuestionIntent("运费怎么算？").wantsValue)
    }

    @Test func valuesAreRecognisedInDigitsAndChineseNumerals() {
        let temperature = QuestionIntent("冷链运输温度是多少？")
        #expect(temperature.isHeld(by: "冷藏 SVC-CC-02 2℃–8℃ 鲜奶"))
        #expect(temperature.isHeld(by: "冻品 -18℃ 及以下"))
        #expect(!temperature.isHeld(by: "每个冷链保温箱内置温度记录仪，每 5 分钟记录一次温度。"))
        let money = QuestionIntent("运费多少钱？")
        #expect(money.isHeld(by: "运费 = 15 + 7 × 3 = 36 元（未含附加费）。"))
        #expect(money.isHeld(by: "手续费二十元。"))
        #expect(money.isHeld(by: "上门取件本身不收取任何费用。"))
        #expect(money.isHeld(by: "Fuel surcharge: 8% of the freight charge."))
        #expect(money.isHeld(by: "The first 0.5 kg costs CNY 85."))
        #expect(!money.isHeld(by: "计费重量取实际重量与体积重量两者中的较大值。"))
        let days = QuestionIntent("多久能到？")
        #expect(days.isHeld(by: "时效 3-5 天"))
        #expect(days.isHeld(by: "三个工作日内答复"))
        #expect(days.isHeld(by: "Delivered within 2 working days."))
        #expect(!days.isHeld(by: "请联系客服。"))
        #expect(QuestionIntent("几点开门？").isHeld(by: "营业时间 08:30–19:30"))
        #expect(QuestionIntent("客服电话是多少？").isHeld(by: "热线 400-820-5566"))
    }

    @Test func intentAsksForTheRightKindOfValue() {
        // A count in a specific measure word is held by a number in that word, not by any number.
        let staff = QuestionIntent("迅达快运一共有多少名员工？")
        #expect(staff.measureWord == "名")
        #expect(!staff.isHeld(by: "运单号统一为 SA + 12 位数字，共 14 个字符。"))
        #expect(staff.isHeld(by: "网点会安排两名快递员上门。"))
        #expect(staff.isHeld(by: "全公司共有员工 3,200 人。"))
        #expect(QuestionIntent("上门取件的验证码是几位数？").isHeld(by: "您会收到一个 4 位取件验证码。"))
        // A year and a day of a month are dates, not durations.
        let validity = QuestionIntent("验证码多长时间内有效？")
        #expect(!validity.isHeld(by: "自 2026 年 5 月 1 日起，验证码改为在 App 内显示。"))
        #expect(validity.isHeld(by: "验证码 10 分钟内有效。"))
        #expect(validity.isHeld(by: "请在 7 日内使用。"))
        #expect(validity.isHeld(by: "有效期 3 个月。"))
        #expect(QuestionIntent("哪天开始？").isHeld(by: "自 2026 年 5 月 1 日起。"))
        // The least is not answered by the most, and the reverse.
        let least = QuestionIntent("国际件保价最低收多少钱？")
        #expect(least.bound == .lower)
        #expect(!least.isHeld(by: "国际快件保价费率为声明价值的 1%，单票最高保价 10,000 元。"))
        #expect(least.isHeld(by: "保价费率为声明价值的 0.5%，最低收费 1 元。"))
        let most = QuestionIntent("What is the maximum declared value?")
        #expect(most.bound == .upper)
        #expect(most.isHeld(by: "单票保价上限为 5,000 元。"))
        #expect(!most.isHeld(by: "Declared value costs 0.5%, minimum CNY 1."))
        #expect(QuestionIntent("冷藏温度是多少？").bound == nil)
        // "How much is a box?" asks a price.
        let box = QuestionIntent("How much is a medium-size cardboard box?")
        #expect(box.kinds.contains(.amount))
        #expect(!box.isHeld(by: "寄往日本的纸箱，尺寸 40cm × 30cm × 25cm。"))
        #expect(box.isHeld(by: "中号纸箱（40×30×25cm）：价格 6 元。"))
        // The place a question sends to, unless it names no particular place.
        #expect(QuestionIntent("寄到香港的快递首重多少钱？").destination == "香港")
        #expect(QuestionIntent("寄到日本大概要几个工作日？").destination == "日本")
        #expect(QuestionIntent("從上海寄到廣州要花多少錢？").destination == "广州")
        #expect(QuestionIntent("想改寄到另一个城市，要加多少钱？").destination == nil)
        #expect(QuestionIntent("充电宝能寄到国外吗？").destination == nil)
        #expect(QuestionIntent("寄到").destination == nil)
        #expect(QuestionIntent("寄一个5公斤的包裹到南非要多少钱？").destination == "南非")
        // An international question is answered only by a sentence about international shipping.
        let international = QuestionIntent("国际件保价最低收多少钱？")
        #expect(international.isInternational)
        #expect(!international.isInScope("保价服务说明.md\n一、保价费率\n普通物品：最低收费 1 元。"))
        #expect(international.isInScope("跨境与清关指南.md\n七、保价与理赔\n国际快件保价费率为声明价值的 1%。"))
        #expect(
            QuestionIntent("What is the minimum fee for an international parcel?").isInScope(
                "en/international-shipping.html\nRates"))
        #expect(QuestionIntent("保价最低收多少钱？").isInScope("保价服务说明.md\n普通物品：最低收费 1 元。"))
        #expect(!QuestionIntent("寄到香港的首重多少钱？").isInScope("上海到广州属于二区，首重 15 元。"))
        // A question for a format is answered by an example.
        let format = QuestionIntent("一次寄了好几箱，子单号长什么样？")
        #expect(format.isHeld(by: "子单号格式为“母单号-两位序号”，例如 SA202611280001-01。"))
        #expect(!format.isHeld(by: "一次寄出多个包裹时，系统生成一个母单号和若干子单号。"))
        // "那几天" names days without asking for them.
        #expect(!QuestionIntent("高考那几天还送快递吗？").kinds.contains(.duration))
        #expect(QuestionIntent("高考要几天？").kinds.contains(.duration))
    }

    @Test func tableRowsReadAsSentences() {
        #expect(
            RowText.readable("区域: 二区 | 首重（1kg）: 15 元 | 续重（每 kg）: 7 元 | 参考时效: 2–4 天")
                == "二区：首重（1kg） 15 元，续重（每 kg） 7 元，参考时效 2–4 天。")
        #expect(RowText.readable("Zone: Zone 2 | First kg (CNY): 15") == "Zone 2: First kg (CNY) 15.")
        #expect(RowText.readable("运费多少？首重12元。") == nil)
        // A unit named only in the header still makes the row hold a duration.
        #expect(QuestionIntent("几天能到？").isHeld(by: RowText.valuesWithUnits("区域: 三区 | 时效(天): 3-5")))
    }

    @Test func workedExamplesStayWholeAndListMarkersGo() {
        let text = "**计算示例**：从上海寄 3.4kg 的包裹到北京，属于二区。计费重量进位为 4kg，运费 = 15 + 7 × 3 = 36 元。\n- 特快：标准快递运费 × 1.5；"
        let units = ExtractiveAnswerer.units(of: text, hit: 0)
        #expect(units.count == 2)
        #expect(units[0].text.hasPrefix("计算示例："))
        #expect(units[0].text.hasSuffix("36 元。"))
        #expect(units[1].text == "特快：标准快递运费 × 1.5；")
        #expect(units[1].isListItem)
    }

    @Test func glossaryRendersEnglishPhrases() throws {
        try #require(
            BilingualGlossary.isAvailable,
            "no glossary at \(BilingualGlossary.file().path): run scripts/make-glossary.py")
        let r = BilingualGlossary.renderings(
            of: "What temperature does the cold-chain service keep? Cash on delivery fees?")
        let english = r.map(\.english)
        #expect(english.contains("temperature"))
        #expect(english.contains("cold chain"))
        #expect(english.contains("cash on delivery"))
        #expect(r.first { $0.english == "temperature" }?.chinese.contains("温度") == true)
        #expect(r.first { $0.english == "cold chain" }?.chinese.contains("冷链") == true)
        #expect(BilingualGlossary.baseForms("charges").contains("charge"))
        // Comparatives and British spellings reach the dictionary's base forms.
        #expect(BilingualGlossary.baseForms("heavier").contains("heavy"))
        #expect(BilingualGlossary.baseForms("larger").contains("large"))
        #expect(BilingualGlossary.baseForms("jewellery").contains("jewelry"))
        #expect(BilingualGlossary.baseForms("neighbouring").contains("neighbor"))
        #expect(!BilingualGlossary.baseForms("or").contains(""))
        // A hyphenated compound the dictionary keeps whole.
        #expect(
            BilingualGlossary.renderings(of: "e-cigarette liquid").contains { $0.chinese.contains("电子烟") })
        #expect(BilingualGlossary.renderings(of: "jewellery").contains { $0.chinese.contains("首饰") })
        #expect(BilingualGlossary.isMainlyEnglish("How much is a box?"))
        #expect(!BilingualGlossary.isMainlyEnglish("运费多少钱？"))
        #expect(BilingualGlossary.renderings(of: "").isEmpty)
    }

    @Test func chunkSizesCountUnitsFairToBothScripts() {
        #expect(Chunker.units("冷链运输") == 4)
        #expect(Chunker.units("abcde") == 2)
        #expect(Chunker.units("2026") == 4)
        let english = String(repeating: "Pickups are free and available every day from eight to eight. ", count: 40)
        let chinese = String(repeating: "上门取件服务时间为每天早八点到晚八点，周末照常服务。", count: 40)
        for (text, maxCharacters) in [(english, 520), (chinese, 200)] {
            let chunks = Chunker.chunk([Block(kind: .paragraph, text: text)], size: 200, overlap: 40)
            #expect(chunks.count > 1)
            #expect(chunks.allSatisfy { Chunker.units($0.text) <= 200 })
            #expect(chunks.allSatisfy { $0.text.unicodeScalars.count <= maxCharacters })
            // English chunks are about 2.5 times longer in characters than Chinese ones.
            if text == english { #expect(chunks[0].text.unicodeScalars.count > 400) }
        }
    }

    /// A small knowledge base of Chinese and English notes, tables only, and one very long sentence.
    private func knowledgeBase(_ scratch: ScratchDirectory) throws -> KnowledgeBase {
        try scratch.write(
            "kb/冷链.md",
            """
            # 冷链服务

            ## 温区

            | 产品 | 温度范围 | 适用物品 |
            | --- | --- | --- |
            | 冷藏 | 2℃–8℃ | 鲜奶、水产 |
            | 冷冻 | -18℃ 及以下 | 冻肉 |

            每个保温箱内置温度记录仪，每 5 分钟记录一次温度。

            ## 价格

            同城冷链首重二十元，跨省首重 35 元。**计算示例**：跨省寄 3kg，运费 = 35 + 12 × 2 = 59 元。

            """)
        try scratch.write(
            "kb/rates.csv", "区域,首重(元/kg),时效(天)\n同城,8,1\n省内,10,1-2\n四区,28,5-7\n")
        try scratch.write("kb/long.txt", String(repeating: "包裹在运输途中如遇天气原因可能延误并且我们会尽快通知您", count: 200))
        try scratch.write(
            "kb/guide.md",
            "# Guide\n\nPickups are free and available every day from 8:00 to 20:00.\n\n"
                + "Our cold chain team checks the temperature range of every fresh parcel.\n")
        let library = try Library(directory: scratch.child("data"))
        try library.create("kb")
        let kb = try library.open("kb")
        _ = try kb.ingest([scratch.child("kb").path], options: IngestOptions())
        return kb
    }

    @Test func answersStateTheFactOrSayNotFound() throws {
        let scratch = try ScratchDirectory("answers")
        defer { scratch.remove() }
        let kb = try knowledgeBase(scratch)
        let temperature = try kb.ask("冷藏的温度是多少？")
        #expect(temperature.found && temperature.answer.contains("2℃–8℃"), "\(temperature.answer)")
        let example = try kb.ask("跨省寄 3kg 冷链运费多少钱？")
        #expect(example.found && example.answer.contains("59 元"), "\(example.answer)")
        let days = try kb.ask("寄四区要几天？")
        #expect(days.found && days.answer.contains("5-7"), "\(days.answer)")
        // The rates of one destination do not answer for another.
        let region = try kb.ask("寄到四区要几天？")
        #expect(region.found && region.answer.contains("5-7"), "\(region.answer)")
        #expect(!(try kb.ask("寄到香港的冷链首重多少钱？")).found)
        // A question about something the documents never mention.
        #expect(!(try kb.ask("你们的 PayPal 账号是什么？")).found)
        let weather = try kb.ask("明天上海会下雨吗？")
        #expect(!weather.found)
        // "Not found" is said in the question's language only.
        #expect(weather.answer == "知识库中没有找到答案。")
        let paypal = try kb.ask("What is your PayPal account?")
        #expect(!paypal.found && paypal.answer == "Not found in this knowledge base.", "\(paypal.answer)")
        #expect(!(try kb.ask("Can I pay with PayPal?")).found)
        #expect(!(try kb.ask("Do you ship with DHL?")).found)
        // In an English question the words written as names mark its topic: an inner capital or three
        // capitals and more ("I", "Can" and "Ok" are not names).
        let a = Analyzer()
        let names = ExtractiveAnswerer.nameLikeTerms(
            "Can I pay with PayPal or FedEx, Ok, like the CEO said?", analyzer: a)
        #expect(names == Set(["paypal", "fedex", "ceo"].flatMap { a.tokens($0) }.map { Analyzer.hash(term: $0) }))
    }

    @Test func aQuantityTheDocumentsWriteOtherwiseIsNotAnUnknownTopic() {
        for q in ["两天", "三公斤", "3kg", "48小时", "第二", "半年"] {
            #expect(ExtractiveAnswerer.isQuantity(Array(q.unicodeScalars)), "\(q)")
        }
        for w in ["一直", "快件", "保价", "物流", "更新"] {
            #expect(!ExtractiveAnswerer.isQuantity(Array(w.unicodeScalars)), "\(w)")
        }
        // "快件两天都没有物流更新了怎么办？" where the documents say "48 小时": the unknown "两天" would be
        // most of the question's weight; as a quantity it is left out, while an unknown topic word counts.
        typealias Concept = ExtractiveAnswerer.Concept
        var p = ExtractiveAnswerer.QueryProfile()
        p.concepts = [
            Concept(kind: .word, alternatives: [[1]], weight: 2, known: true),
            Concept(kind: .word, alternatives: [[2]], weight: 2, known: true),
        ]
        var days = Concept(kind: .bigram, alternatives: [[3]], weight: 4.5, known: false)
        #expect(ExtractiveAnswerer.unknownShare(p) == 0)
        var topic = p
        topic.concepts.append(days)
        #expect(ExtractiveAnswerer.unknownShare(topic) > ExtractiveAnswerer().maximumUnknownShare)
        days.isQuantity = true
        p.concepts.append(days)
        #expect(ExtractiveAnswerer.unknownShare(p) == 0)
    }

    @Test func englishQuestionsAreAnsweredFromChineseDocuments() throws {
        try #require(
            BilingualGlossary.isAvailable,
            "no glossary at \(BilingualGlossary.file().path): run scripts/make-glossary.py")
        let scratch = try ScratchDirectory("cross-language")
        defer { scratch.remove() }
        let kb = try knowledgeBase(scratch)
        let q = "What temperature range does the cold chain keep for fresh milk?"
        // Retrieval found only the English guide, which shares words with the question but holds no
        // temperature: the Chinese passages found through the renderings answer.
        let english = try kb.search(q, topK: 8, mode: .bm25).filter { $0.document.hasSuffix("guide.md") }
        #expect(!english.isEmpty)
        var answerer = ExtractiveAnswerer()
        answerer.renderings = kb.crossLanguagePhrases(q)
        #expect(answerer.renderings.contains { $0.chinese.contains { $0.text == "冷链" } })
        let alone = answerer.answer(question: q, hits: english, analyzer: kb.analyzer) { kb.index.idf($0) }
        #expect(!alone.answer.contains("2℃–8℃"))
        answerer.crossLanguageHits = kb.crossLanguageHits(answerer.renderings, question: q)
        #expect(answerer.crossLanguageHits.contains { $0.document.hasSuffix("冷链.md") })
        let a = answerer.answer(question: q, hits: english, analyzer: kb.analyzer) { kb.index.idf($0) }
        #expect(a.found && a.answer.contains("2℃–8℃"), "\(a.answer)")
        #expect(a.citations.first?.document.hasSuffix("冷链.md") == true)
        // A Chinese question gets no cross-language passages.
        #expect(kb.crossLanguageHits(kb.crossLanguagePhrases("冷链温度是多少？"), question: "冷链温度是多少？").isEmpty)
    }

    @Test func howToQuestionsAreAnsweredByTheProcedureNotTheOverview() throws {
        #expect(ExtractiveAnswerer.isOverview("This page explains how to track a parcel."))
        #expect(ExtractiveAnswerer.isOverview("本文介绍理赔的流程。"))
        #expect(!ExtractiveAnswerer.isOverview("This parcel explains nothing."))
        #expect(!ExtractiveAnswerer.isOverview("Enter the waybill number on the home page."))
        #expect(ExtractiveAnswerer.isProcedureHeading("2. How to track"))
        #expect(ExtractiveAnswerer.isProcedureHeading("三、理赔流程"))
        #expect(!ExtractiveAnswerer.isProcedureHeading("7. Pickup points"))

        let scratch = try ScratchDirectory("how-to")
        defer { scratch.remove() }
        try scratch.write(
            "kb/tracking.md",
            """
            # Tracking and Support

            This page explains how to track a parcel, what parcel notifications you get and how to reach support.

            ## 2. How to track

            - App: enter or scan the waybill number on the home page;
            - Phone: call 400-820-5566 and press 1.

            ## 7. Pickup points

            Pickup points keep parcels free for 3 days; parcels not collected by day 7 go back to the sender.
            Couriers ask before leaving a parcel in a locker.

            """)
        try scratch.write(
            "kb/破损包裹.md",
            """
            # 破损包裹处理流程

            包裹破损时请保留包裹外包装，拍下包裹和面单的照片。包裹理赔在 3 个工作日内受理，包裹查询可拨打客服电话。

            """)
        let library = try Library(directory: scratch.child("data"))
        try library.create("kb")
        let kb = try library.open("kb")
        _ = try kb.ingest([scratch.child("kb").path], options: IngestOptions())
        let q = "How do I track my parcel?"
        let answer = try kb.ask(q)
        // The overview names both of the question's words and answers nothing.
        #expect(answer.found && !answer.answer.contains("This page explains"), "\(answer.answer)")
        #expect(answer.citations.first?.document.hasSuffix("tracking.md") == true, "\(answer.citations)")
        try #require(
            BilingualGlossary.isAvailable,
            "no glossary at \(BilingualGlossary.file().path): run scripts/make-glossary.py")
        #expect(!kb.crossLanguagePhrases(q).isEmpty)
        // The Chinese renderings of "parcel" (包裹) occur five times in one passage, and each adds three
        // index terms (包, 裹, 包裹) where the English word adds one; the English passages still come
        // first, each language measured against what its own query could score.
        let hits = try kb.search(q, topK: 4, mode: .bm25)
        #expect(hits.first?.document.hasSuffix("tracking.md") == true, "\(hits.map(\.document))")
    }

    @Test func badInputGivesAnAnswerOrNotFoundNeverACrash() throws {
        let scratch = try ScratchDirectory("bad-input")
        defer { scratch.remove() }
        let kb = try knowledgeBase(scratch)
        let questions = [
            "冷", String(repeating: "冷链温度是多少", count: 300), "cold chain 温度 is how much?", "快第冷链温度多少？",
            "冷藏的溫度是多少？", "首重二十元还是 20 元？", "How long are pickups available?", "Pickups?",
            String(repeating: "运输途中", count: 600),
            String(repeating: "How much is the cold-chain fee at most? ", count: 50),
            "e-cigarette?", "What is the most 冷链 charge for 多少名 people?", "二十元还是十五元？几名？",
        ]
        for q in questions {
            let a = try kb.ask(q)
            #expect(!a.answer.isEmpty)
            #expect(a.found == !a.citations.isEmpty)
            #expect(a.answer.count <= 600, "\(q.prefix(20)): \(a.answer.count) characters")
        }
        // Traditional characters are folded: the same answer as Simplified.
        #expect(try kb.ask("冷藏的溫度是多少？").answer.contains("2℃–8℃"))
        // Only punctuation: a clear error, not a crash.
        let e = thrownWendaoError { _ = try kb.ask("？！。，") }
        #expect(e?.code == .invalidArgument)
        #expect(thrownWendaoError { _ = try kb.ask("e-e-e-e-e") }?.code == .invalidArgument)
    }

    @Test func evaluatorCountsAllFactsCategoriesAndWritesDetails() throws {
        let scratch = try ScratchDirectory("eval-answers")
        defer { scratch.remove() }
        let kb = try knowledgeBase(scratch)
        let questions = scratch.child("q.jsonl")
        try """
        {"id": "a", "question": "冷藏的温度是多少？", "answers": ["2℃–8℃"], "category": "temperature"}
        {"id": "b", "question": "冷藏的温度是多少？", "answers": ["2℃–8℃", "不存在的事实"], "all": true, "category": "temperature"}
        {"id": "c", "question": "你们的 PayPal 账号是什么？", "answers": [], "answerable": false, "category": "unanswerable"}
        """.write(to: questions, atomically: true, encoding: .utf8)
        let details = scratch.child("details.jsonl")
        let r = try AnswerEvaluator.run(kb: kb, file: questions, details: details)
        #expect(r.answerable == 2 && r.unanswerable == 1)
        #expect(r.answerHit == 0.5)
        #expect(r.notFoundRecall == 1)
        #expect(r.categories["temperature"]?.answerHits == 1)
        #expect(r.categories["unanswerable"]?.notFound == 1)
        let lines = try String(contentsOf: details, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        let b = try JSONDecoder().decode(AnswerDetail.self, from: Data(lines[1].utf8))
        #expect(b.all && !b.correct && b.goldInAnswer == ["2℃–8℃"] && !b.sources.isEmpty)
    }
}
