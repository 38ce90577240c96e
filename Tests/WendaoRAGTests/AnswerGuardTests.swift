import Foundation
import Testing
import WendaoApp
import WendaoCore
import WendaoIndex
@testable import WendaoRAG
import WendaoTestSupport
import WendaoText

// MARK: - Test doubles

/// What a scripted model was asked and how much of its reply the answerer read (thread-safe).
private final class StreamProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [[ChatMessage]] = []
    private var pulledEvents = 0
    private var offeredEvents = 0

    func record(_ messages: [ChatMessage], events: Int) {
        lock.withLock {
            recorded.append(messages)
            offeredEvents = events
            pulledEvents = 0
        }
    }
    func pull() { lock.withLock { pulledEvents += 1 } }
    var calls: [[ChatMessage]] { lock.withLock { recorded } }
    /// Events of the last reply the answerer read, and how many there were.
    var pulled: (read: Int, of: Int) { lock.withLock { (pulledEvents, offeredEvents) } }
}

/// A chat model whose answer is scripted from the prompt it gets; its stream hands out one event per
/// request, so a test sees how far the answerer read before it stopped.
private struct ScriptedModel: ChatModel {
    var id: String
    var contextWindow = 8192
    let probe = StreamProbe()
    let finish: String
    let reply: @Sendable (_ prompt: [ChatMessage]) -> [String]

    init(_ id: String = "local:test", finish: String = "stop", reply: @escaping @Sendable ([ChatMessage]) -> [String]) {
        self.id = id
        self.finish = finish
        self.reply = reply
    }

    /// Replies `pieces` to every answer call.
    static func replying(_ pieces: [String], id: String = "local:test", finish: String = "stop") -> ScriptedModel {
        ScriptedModel(id, finish: finish) { _ in pieces }
    }

    var answerCalls: [[ChatMessage]] { probe.calls.filter { $0.first?.role == .system } }

    func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error> {
        let pieces = messages.first?.role == .system ? reply(messages) : ["echo"]
        let events =
            pieces.map { ChatEvent.text($0) } + [
                .usage(TokenUsage(promptTokens: 100, completionTokens: 10)), .finish(finish),
            ]
        probe.record(messages, events: events.count)
        let probe = self.probe
        let queue = EventQueue(events)
        return AsyncThrowingStream(unfolding: {
            guard let e = queue.next() else { return nil }
            probe.pull()
            return e
        })
    }
}

/// Events handed out one at a time.
private final class EventQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ChatEvent]

    init(_ events: [ChatEvent]) { self.events = events }
    func next() -> ChatEvent? { lock.withLock { events.isEmpty ? nil : events.removeFirst() } }
}

/// A search hit over synthetic text, one document per hit.
private func hit(_ id: Int64, _ text: String, section: String = "Doc", rank: Int = 1) -> SearchHit {
    SearchHit(
        rank: rank, score: 1,
        chunk: ChunkRecord(
            id: id, documentID: id, documentPath: "doc\(id).md", documentTitle: "Doc", ordinal: 0, section: section,
            page: nil, text: text, start: 0, end: text.unicodeScalars.count))
}

private func citation(_ n: Int, _ h: SearchHit) -> Citation {
    Citation(n: n, document: h.document, section: h.section, page: h.page, chunkID: h.chunkID, text: h.text)
}

/// The extractive answer quoting `sentence` from `h` (as ``ExtractiveAnswerer`` writes one).
private func extractive(_ question: String, _ sentence: String, from h: SearchHit) -> Answer {
    Answer(
        question: question, answer: "\(sentence) [1]", mode: "extractive", found: true, citations: [citation(1, h)],
        coverage: 0.8)
}

private func notFoundAnswer(_ question: String) -> Answer {
    Answer(
        question: question, answer: AnswerLanguage.detect(question).notFoundSentence, mode: "extractive", found: false,
        citations: [], coverage: 0.1)
}

/// Answers `question` from fixed hits (and the extractive answer over them), collecting the events.
private func ask(
    _ model: ScriptedModel, _ question: String, hits: [SearchHit], extractive: Answer?,
    options: GroundedAnswerer.Options = .init()
) async throws -> (GroundedAnswer, [GroundedEvent]) {
    var events: [GroundedEvent] = []
    let answerer = GroundedAnswerer(model: model, options: options)
    let a = try await answerer.answer(
        question, retrieve: { _, _ in GroundedRetrieval(hits: hits, coverage: 0.8, extractive: extractive) }
    ) { events.append($0) }
    return (a, events)
}

private func streamedText(_ events: [GroundedEvent]) -> String {
    var text = ""
    for case .text(let t) in events { text += t }
    return text
}

private func texts(_ events: [GroundedEvent]) -> [String] {
    events.compactMap { if case .text(let t) = $0 { t } else { nil } }
}

// MARK: - The guarded pipeline

@Suite struct AnswerGuardTests {
    static let question = "首重收费多少钱？"
    static let pricing = hit(1, "标准快递首重收费12元，续重每公斤收费3元。偏远地区另加15元。", section: "价格说明 › 首重与续重")
    static let insurance = hit(2, "保价费按声明价值的1%收取，最低1元。", section: "价格说明 › 保价", rank: 2)
    static let hits = [pricing, insurance]
    static let fallback = extractive(question, "标准快递首重收费12元，续重每公斤收费3元。", from: pricing)

    @Test func supportedAnswerIsShownWithItsCitation() async throws {
        let model = ScriptedModel.replying(["标准快递首重", "收费12元[1]。"])
        let (a, events) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answer == "标准快递首重收费12元[1]。" && streamedText(events) == a.answer)
        #expect(a.found && a.answeredBy == .model && !a.uncited && a.warnings.isEmpty)
        #expect(a.citations.map(\.n) == [1] && a.citations[0].chunkID == Self.pricing.chunkID)
        let report = try #require(a.answerGuard)
        #expect(report.shownSentences == 1 && report.droppedSentences == 0 && report.fallbackReason == nil)
        guard case .sources(let offered) = events.first else {
            Issue.record("the sources are not announced first: \(events)")
            return
        }
        #expect(offered == a.sources && a.sources.map(\.n) == [1, 2])
        // The small-model rules, not the long ones.
        let system = try #require(model.answerCalls.first?.first?.content)
        #expect(system.contains("one to three short sentences") && !system.contains("You are Wendao"))
    }

    @Test func openingThatOnlyNamesTheSourcesIsLeftOut() async throws {
        let model = ScriptedModel.replying(["根据提供的信息，标准快递首重收费12元[1]。"])
        let (a, events) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answer == "标准快递首重收费12元[1]。" && streamedText(events) == a.answer && a.answeredBy == .model)
    }

    @Test func numberNotInTheCitedSourceFallsBackToTheExtractiveAnswer() async throws {
        let model = ScriptedModel.replying(["标准快递首重收费18元[1]。"])
        let (a, events) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answeredBy == .extractive && a.found)
        #expect(a.answer == Self.fallback.answer && streamedText(events) == a.answer)
        #expect(!a.answer.contains("18"))
        #expect(a.citations.map(\.chunkID) == [Self.pricing.chunkID] && a.citations.map(\.n) == [1])
        let report = try #require(a.answerGuard)
        #expect(report.shownSentences == 0 && report.droppedSentences == 1)
        #expect(report.fallbackReason?.contains("18元") == true)
        // Only the sources and one piece of text: nothing of the model's answer was shown.
        #expect(events.count == 2 && texts(events) == [a.answer])
        #expect(a.modelCalls == 1 && a.usage.completionTokens == 10)
    }

    @Test func uncitedSupportedSentenceGetsItsCitation() async throws {
        let model = ScriptedModel.replying(["保价费按声明价值的1%收取，最低1元。"])
        let fallback = extractive("保价费怎么收？", "保价费按声明价值的1%收取，最低1元。", from: Self.insurance)
        let (a, _) = try await ask(model, "保价费怎么收？", hits: [Self.insurance, Self.pricing], extractive: fallback)
        #expect(a.answeredBy == .model && !a.uncited)
        #expect(a.answer == "保价费按声明价值的1%收取，最低1元[1]。")
        #expect(a.citations.map(\.chunkID) == [Self.insurance.chunkID])
        #expect(a.answerGuard?.citedByGuard == 1)
    }

    @Test func wrongCitationIsCorrected() async throws {
        // The fact is in source 1, the model cites source 2.
        let model = ScriptedModel.replying(["偏远地区另加15元[2]。"])
        let question = "偏远地区加多少钱？"
        let fallback = extractive(question, "偏远地区另加15元。", from: Self.pricing)
        let (a, _) = try await ask(model, question, hits: Self.hits, extractive: fallback)
        #expect(a.answeredBy == .model && a.answer == "偏远地区另加15元[1]。")
        #expect(a.citations.map(\.n) == [1] && a.answerGuard?.citedByGuard == 1)
    }

    @Test func affirmingWhatNoSourceMentionsIsNotShown() async throws {
        let payment = hit(3, "运费支付方式：支持现金、微信支付和支付宝，月结客户可以对公转账。", section: "付款 › 支付方式")
        let question = "能用数字人民币付运费吗？"
        let fallback = extractive(question, "运费支付方式：支持现金、微信支付和支付宝，月结客户可以对公转账。", from: payment)
        let model = ScriptedModel.replying(["能用数字人民币付运费。"])
        let (a, _) = try await ask(model, question, hits: [payment], extractive: fallback)
        #expect(a.answeredBy == .extractive && !a.answer.contains("数字人民币"))
        // The same affirmation with a citation, or with "可以", is not shown either.
        for reply in ["能用数字人民币付运费[1]。", "可以，数字人民币可以用来支付运费[1]。"] {
            let (b, _) = try await ask(ScriptedModel.replying([reply]), question, hits: [payment], extractive: fallback)
            #expect(b.answeredBy == .extractive && !b.answer.contains("数字人民币"), "\(reply) was shown")
        }
    }

    @Test func whenTheExtractiveAnswererFindsNothingTheModelIsNotAsked() async throws {
        let payment = hit(3, "运费支付方式：支持现金、微信支付和支付宝。")
        let question = "能用数字人民币付运费吗？"
        let model = ScriptedModel.replying(["能用数字人民币付运费[1]。"])
        let (a, events) = try await ask(model, question, hits: [payment], extractive: notFoundAnswer(question))
        #expect(model.answerCalls.isEmpty)
        #expect(!a.found && a.answeredBy == .notFound && a.answer == "知识库中没有找到答案。")
        #expect(events == [.text("知识库中没有找到答案。")] && a.citations.isEmpty)
        #expect(a.answerGuard?.fallbackReason != nil)
    }

    @Test func markerAloneFallsBack() async throws {
        let model = ScriptedModel.replying(["[1]"])
        let (a, _) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answeredBy == .extractive && a.answer == Self.fallback.answer)
        #expect(a.answerGuard?.checkedSentences == 1 && a.answerGuard?.shownSentences == 0)
    }

    @Test func notFoundSentenceMeansNotFoundWithoutAFallback() async throws {
        let model = ScriptedModel.replying(["知识库中没有", "找到答案。"])
        let (a, events) = try await ask(model, Self.question, hits: Self.hits, extractive: nil)
        #expect(!a.found && a.answeredBy == .notFound && a.answer == "知识库中没有找到答案。")
        #expect(streamedText(events) == a.answer && a.citations.isEmpty && !a.uncited)
        // With an extractive answer over the same passages, that answer is given.
        let (b, _) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(b.found && b.answeredBy == .extractive && b.answer == Self.fallback.answer)
    }

    @Test func sentencesStreamAsTheyComplete() async throws {
        let pieces = ["标准快递首重收费12元", "[1]", "。续重每公斤", "收费3元[1]。", "偏远地区另加15元[1]。"]
        let model = ScriptedModel.replying(pieces)
        var pulledAtFirstText: Int?
        var events: [GroundedEvent] = []
        let answerer = GroundedAnswerer(model: model)
        let a = try await answerer.answer(
            Self.question,
            retrieve: { _, _ in GroundedRetrieval(hits: Self.hits, coverage: 0.8, extractive: Self.fallback) }
        ) { e in
            if case .text = e, pulledAtFirstText == nil { pulledAtFirstText = model.probe.pulled.read }
            events.append(e)
        }
        #expect(texts(events) == ["标准快递首重收费12元[1]。", "续重每公斤收费3元[1]。", "偏远地区另加15元[1]。"])
        #expect(a.answer == pieces.joined() && a.answeredBy == .model)
        // The first sentence was shown once the text after it began, before the model finished.
        #expect(pulledAtFirstText == 3)
        #expect(a.answerGuard?.shownSentences == 3 && a.citations.map(\.n) == [1])
    }

    @Test func unsupportedLaterSentenceEndsTheAnswerAndTheModelCall() async throws {
        let pieces = [
            "标准快递首重收费12元[1]。", "另外每票收取手续费99元[1]。", "偏远地区另加15元[1]。", "续重每公斤收费3元[1]。",
            "保价费按声明价值的1%收取[2]。",
        ]
        let model = ScriptedModel.replying(pieces)
        let (a, events) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answer == "标准快递首重收费12元[1]。" && streamedText(events) == a.answer)
        #expect(a.answeredBy == .model && a.answerGuard?.droppedSentences == 1)
        // Reading stopped at the third piece (the one that completed the unsupported sentence).
        let pulled = model.probe.pulled
        #expect(pulled.read == 3 && pulled.read < pulled.of)
    }

    @Test func answerCutAtTheTokenLimitLosesItsUnfinishedSentence() async throws {
        let model = ScriptedModel.replying(["标准快递首重收费12元[1]。续重每公斤收费"], finish: "length")
        let (a, _) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answer == "标准快递首重收费12元[1]。" && a.answeredBy == .model)
        #expect(a.answerGuard?.droppedSentences == 1)
        #expect(a.warningDetails.map(\.code).contains(.lengthLimit))
    }

    @Test func valueQuestionNeedsTheValueTheExtractiveAnswerStates() async throws {
        // Supported, but it does not say what the first kilogram costs.
        let model = ScriptedModel.replying(["偏远地区另加15元[1]。"])
        let (a, _) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answeredBy == .extractive && a.answer == Self.fallback.answer)
        // Drawn from a passage the extractive answer does not lead with: not shown either, even when
        // the extractive answer quotes it further on.
        let other = ScriptedModel.replying(["保价费最低1元[2]。"])
        let (b, _) = try await ask(other, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(b.answeredBy == .extractive)
        let both = Answer(
            question: Self.question, answer: "标准快递首重收费12元。 [1]保价费最低1元。 [2]", mode: "extractive", found: true,
            citations: [citation(1, Self.pricing), citation(2, Self.insurance)], coverage: 0.8)
        let (c, _) = try await ask(other, Self.question, hits: Self.hits, extractive: both)
        #expect(c.answeredBy == .extractive && c.answer == both.answer)
    }

    @Test func answerStatesAValueWhenThePassageThatAnswersDoes() async throws {
        // "怎么算" asks for a method, not a value; the passage that answers gives one all the same.
        let formula = hit(5, "国内快件的体积重量 = 长 × 宽 × 高（cm）÷ 6000，与实际重量取大者计费。", section: "计费重量")
        let question = "国内快件的体积重量怎么算？"
        let fallback = extractive(question, "国内快件的体积重量 = 长 × 宽 × 高（cm）÷ 6000，与实际重量取大者计费。", from: formula)
        let vague = ScriptedModel.replying(["国内快件的体积重量按长、宽、高计算，与实际重量取大者计费[1]。"])
        let (a, _) = try await ask(vague, question, hits: [formula], extractive: fallback)
        #expect(a.answeredBy == .extractive && a.answer.contains("6000"))
        let exact = ScriptedModel.replying(["国内快件的体积重量等于长 × 宽 × 高（cm）÷ 6000，与实际重量取大者计费[1]。"])
        let (b, _) = try await ask(exact, question, hits: [formula], extractive: fallback)
        #expect(b.answeredBy == .model && b.answer.contains("6000"))
    }

    @Test func restatingTheQuestionDoesNotAnswerIt() async throws {
        // "free" makes the question itself look as if it held an amount; "3 days" is not one.
        let pickup = hit(
            6, "Pickup points keep parcels free for 3 days; from day 4 a fee of CNY 1 per parcel per day applies.")
        let question = "How much does the pickup point charge per day after the free storage period?"
        let fallback = extractive(
            question,
            "Pickup points keep parcels free for 3 days; from day 4 a fee of CNY 1 per parcel per day applies.",
            from: pickup)
        let restated = ScriptedModel.replying([
            "The pickup point charges per day after the free storage period of 3 days [1]."
        ])
        let (a, _) = try await ask(restated, question, hits: [pickup], extractive: fallback)
        #expect(a.answeredBy == .extractive)
        let answered = ScriptedModel.replying(["From day 4 the pickup point charges CNY 1 per parcel per day [1]."])
        let (b, _) = try await ask(answered, question, hits: [pickup], extractive: fallback)
        #expect(b.answeredBy == .model && b.answer.contains("CNY 1"))
    }

    @Test func answerKeepsEveryValueTheExtractiveAnswerGivesForWhatWasAsked() async throws {
        let hours = hit(7, "人工客服每天 8:00–22:00 在线。国庆期间人工客服时间调整为 9:00 至 18:00。", section: "客服热线")
        let question = "人工客服几点到几点有人接？"
        let both = Answer(
            question: question, answer: "国庆期间人工客服时间调整为 9:00 至 18:00。 [1]人工客服每天 8:00–22:00 在线。 [1]",
            mode: "extractive", found: true, citations: [citation(1, hours)], coverage: 0.8)
        let holidayOnly = ScriptedModel.replying(["人工客服时间调整为 9:00 至 18:00[1]。"])
        let (a, _) = try await ask(holidayOnly, question, hits: [hours], extractive: both)
        #expect(a.answeredBy == .extractive && a.answer.contains("8:00–22:00"))
        let whole = ScriptedModel.replying(["人工客服每天 8:00–22:00 在线，国庆期间为 9:00 至 18:00[1]。"])
        let (b, _) = try await ask(whole, question, hits: [hours], extractive: both)
        #expect(b.answeredBy == .model)
    }

    @Test func aValueOfTheAskedKindMustBeTheExtractiveAnswers() async throws {
        let rates = hit(
            9, "普通物品保价费率为声明价值的 0.5%。易碎品保价费率为声明价值的 1%。声明价值 2,000 元的陶瓷花瓶：2,000 × 1% = 20 元。",
            section: "保价服务说明 › 保价费率")
        let question = "寄个陶瓷花瓶，保价费率是多少？"
        let fallback = extractive(question, "声明价值 2,000 元的陶瓷花瓶：2,000 × 1% = 20 元。", from: rates)
        // Another row's rate beside the example's declared value is not the answer.
        let otherRow = ScriptedModel.replying(["陶瓷花瓶的保价费率为声明价值的 0.5%，声明价值 2,000 元[1]。"])
        let (a, _) = try await ask(otherRow, question, hits: [rates], extractive: fallback)
        #expect(a.answeredBy == .extractive && !a.answer.contains("0.5%"), "\(a.answer)")
        let right = ScriptedModel.replying(["易碎品保价费率为声明价值的 1%[1]。"])
        let (b, _) = try await ask(right, question, hits: [rates], extractive: fallback)
        #expect(b.answeredBy == .model, "\(b.answer)")
    }

    @Test func valuesAreCopiedAsTheSourceWritesThem() async throws {
        let cod = hit(8, "单票代收上限：标准 20,000 元。拒收件不收代收手续费。", section: "代收货款 › 收费标准")
        let question = "代收货款一票最多能代收多少钱？"
        let fallback = extractive(question, "单票代收上限：标准 20,000 元。", from: cod)
        let reworded = ScriptedModel.replying(["代收货款单票代收上限是20000元[1]。"])
        let (a, _) = try await ask(reworded, question, hits: [cod], extractive: fallback)
        #expect(a.answeredBy == .extractive && a.answer.contains("20,000 元"))
        let copied = ScriptedModel.replying(["代收货款单票代收上限是 20,000 元[1]。"])
        let (b, _) = try await ask(copied, question, hits: [cod], extractive: fallback)
        #expect(b.answeredBy == .model && b.answer.contains("20,000 元"))
    }

    @Test func followUpsAreGuardedToo() async throws {
        let model = ScriptedModel.replying(["续重每公斤收费3元[1]。"])
        let fallback = extractive("标准快递续重怎么收费", "标准快递首重收费12元，续重每公斤收费3元。", from: Self.pricing)
        var events: [GroundedEvent] = []
        let history = [ChatMessage(.user, "首重收费多少钱？"), ChatMessage(.assistant, "标准快递首重收费12元[1]。")]
        let a = try await GroundedAnswerer(model: model).answer(
            "那续重呢？", history: history,
            retrieve: { _, _ in GroundedRetrieval(hits: Self.hits, coverage: 0.8, extractive: fallback) }
        ) { events.append($0) }
        #expect(events.first == .rewritten("echo") && a.modelCalls == 2)
        #expect(a.answeredBy == .model && a.answer == "续重每公斤收费3元[1]。" && a.citations.map(\.n) == [1])
    }

    // MARK: Bad input

    @Test func emptyModelAnswerFallsBack() async throws {
        let (a, _) = try await ask(
            ScriptedModel.replying([""]), Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answeredBy == .extractive && a.answer == Self.fallback.answer)
        #expect(a.answerGuard?.fallbackReason == "the model returned no answer")
        #expect(!a.warningDetails.map(\.code).contains(.emptyAnswer))
    }

    @Test(.timeLimit(.minutes(1))) func tenThousandCharactersWithoutAnEndAreCheckedAsTheyCome() async throws {
        let garbage = String(repeating: "运费计算方式请咨询当地网点", count: 770)
        #expect(garbage.count >= 10_000)
        let pieces = stride(from: 0, to: garbage.count, by: 100).map { i in
            String(garbage.dropFirst(i).prefix(100))
        }
        let model = ScriptedModel.replying(pieces)
        let (a, _) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answeredBy == .extractive && a.answer == Self.fallback.answer)
        // The first forced cut was checked and stopped the model long before the end.
        let pulled = model.probe.pulled
        #expect(pulled.read <= SentenceAssembler.maxSentenceLength / 100 + 2 && pulled.read < pulled.of)
    }

    @Test func tenThousandCharactersOfOneSentenceRepeatedShowItOnce() async throws {
        let sentence = "标准快递首重收费12元[1]。"
        let model = ScriptedModel.replying([String(repeating: sentence, count: 10_000 / sentence.count + 1)])
        let (a, _) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answer == sentence && a.answeredBy == .model)
        #expect(a.answerGuard?.shownSentences == 1)
    }

    static let tracking = hit(
        3,
        "App: enter or scan the waybill number on the home page to see the details of your package and other shipments.",
        section: "Tracking › 2. How to track")

    @Test func leadInToAListClaimsNothingAndItsItemsAreChecked() async throws {
        let q = "How do I track my parcel?"
        let lead = "App: enter or scan the waybill number on the home page to see the details of your package."
        let model = ScriptedModel.replying([
            "To track your parcel, follow these steps:\n", "Enter or scan the waybill number on the home page [1].",
        ])
        let (a, _) = try await ask(
            model, q, hits: [Self.tracking], extractive: extractive(q, lead, from: Self.tracking))
        #expect(a.answeredBy == .model, "\(a.answerGuard?.fallbackReason ?? "")")
        #expect(a.answer.contains("waybill number") && !a.answer.contains("follow these steps"), "\(a.answer)")
        #expect(a.answerGuard?.shownSentences == 1)
    }

    @Test func aSentenceRepeatedInOtherWordsEndsTheAnswer() async throws {
        #expect(
            GuardedAnswerStream.isNearRepeat(
                ["track", "waybill", "number", "home", "page"], ["track", "waybill", "number", "home", "page", "also"]))
        #expect(
            !GuardedAnswerStream.isNearRepeat(
                ["track", "waybill", "number", "home"], ["scan", "waybill", "app", "page"]))
        let q = "How do I track my parcel?"
        let lead = "App: enter or scan the waybill number on the home page to see the details of your package."
        let model = ScriptedModel.replying([
            "Scan the waybill number on the home page to see the details of your package [1]. ",
            "You can also scan the waybill numbers on the home page to see the details of your package [1]. ",
            "Enter the waybill number on the home page [1].",
        ])
        let (a, _) = try await ask(
            model, q, hits: [Self.tracking], extractive: extractive(q, lead, from: Self.tracking))
        #expect(a.answeredBy == .model)
        #expect(
            a.answer == "Scan the waybill number on the home page to see the details of your package [1].",
            "\(a.answer)")
    }

    @Test func markersPointingAtNoSourceAreReplacedByTheRightOne() async throws {
        let model = ScriptedModel.replying(["标准快递首重收费12元[9]。"])
        let (a, _) = try await ask(model, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answer == "标准快递首重收费12元[1]。" && a.invalidCitations == [9])
        #expect(a.warningDetails.map(\.code) == [.invalidCitations] && a.answerGuard?.citedByGuard == 1)
    }

    // MARK: Options and output

    @Test func guardIsOnForSmallModelsOnly() async throws {
        let reply = ["标准快递首重收费18元[1]。"]
        // A large model's answer is shown as it streams (citations checked, facts not).
        let large = ScriptedModel.replying(reply, id: "deepseek:deepseek-chat")
        let (a, _) = try await ask(large, Self.question, hits: Self.hits, extractive: Self.fallback)
        #expect(a.answer == reply[0] && a.answeredBy == .model && a.answerGuard == nil)
        // Switched on for it, or off for a local one.
        var on = GroundedAnswerer.Options()
        on.answerGuard = .on
        let (b, _) = try await ask(large, Self.question, hits: Self.hits, extractive: Self.fallback, options: on)
        #expect(b.answeredBy == .extractive && b.answerGuard != nil)
        var off = GroundedAnswerer.Options()
        off.answerGuard = .off
        let (c, _) = try await ask(
            ScriptedModel.replying(reply), Self.question, hits: Self.hits, extractive: Self.fallback, options: off)
        #expect(c.answer == reply[0] && c.answerGuard == nil)
    }

    @Test(arguments: [
        ("local:smollm2-135m", true), ("local:/models/x.gguf", true), ("ollama:qwen2.5:0.5b", true),
        ("llama:qwen2.5-coder-0.5b-instruct-q4_k_m", true), ("ollama:llama3.2:3b", true),
        ("vllm:Qwen/Qwen2.5-1.5B", true),
        ("ollama:qwen2.5:7b", false), ("ollama:qwen2.5", false), ("deepseek:deepseek-chat", false),
        ("openai:gpt-4o-mini", false), ("ollama:llama3.1:70b", false), ("dashscope:qwen-plus", false),
    ])
    func smallModelsAreKnownByTheirNames(_ id: String, _ small: Bool) {
        #expect(AnswerGuardMode.isSmallModel(id) == small)
        #expect(AnswerGuardMode.auto.isOn(forModel: id) == small)
    }

    @Test func answerJSONSaysWhichPathAnswered() async throws {
        let (a, _) = try await ask(
            ScriptedModel.replying(["[1]"]), Self.question, hits: Self.hits, extractive: Self.fallback)
        let data = try JSONEncoder().encode(a)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["answered_by"] as? String == "extractive")
        let report = try #require(object["answer_guard"] as? [String: Any])
        for key in ["checked_sentences", "shown_sentences", "dropped_sentences", "cited_by_guard", "fallback_reason"] {
            #expect(report[key] != nil, "missing \(key)")
        }
        #expect(try JSONDecoder().decode(GroundedAnswer.self, from: data) == a)
        // A writer without the new keys: found answers were the model's.
        var older = object
        older.removeValue(forKey: "answered_by")
        older.removeValue(forKey: "answer_guard")
        let decoded = try JSONDecoder().decode(
            GroundedAnswer.self, from: JSONSerialization.data(withJSONObject: older))
        #expect(decoded.answeredBy == .model && decoded.answerGuard == nil)
    }

    @Test func fewSourcesUnderTheGuardTheExtractiveOnesFirst() async throws {
        let many = (1...8).map { hit(Int64(10 + $0), "第\($0)条：其他说明文字，与首重无关。", rank: $0) }
        let lead = hit(30, "标准快递首重收费12元。", rank: 9)
        let fallback = extractive(Self.question, "标准快递首重收费12元。", from: lead)
        let model = ScriptedModel.replying(["标准快递首重收费12元[1]。"])
        let (a, _) = try await ask(model, Self.question, hits: many + [lead], extractive: fallback)
        #expect(a.sources.count == GroundedAnswerer.Options().guardedSources)
        #expect(a.sources.first?.chunkID == lead.chunkID && a.answeredBy == .model)
    }

    @Test func extractivePassagesMissingFromThePromptAreAddedAsSources() {
        let outside = hit(40, "续重每公斤收费3元。")
        let answer = Answer(
            question: "q", answer: "标准快递首重收费12元。 [1]续重每公斤收费3元。 [2]", mode: "extractive", found: true,
            citations: [citation(1, Self.pricing), citation(2, outside)], coverage: 0.8)
        let offered = [citation(1, Self.insurance), citation(2, Self.pricing)]
        let (sources, mapped) = GroundedAnswerer.numbering(answer, among: offered)
        #expect(sources.map(\.n) == [1, 2, 3] && sources[2].chunkID == outside.chunkID)
        #expect(mapped.text == "标准快递首重收费12元。 [2]续重每公斤收费3元。 [3]")
        #expect(mapped.citations.map(\.n) == [2, 3])
    }
}

// MARK: - Against a knowledge base

@Suite struct AnswerGuardKnowledgeBaseTests {
    @Test func fallbackIsTheKnowledgeBasesExtractiveAnswer() async throws {
        let scratch = try ScratchDirectory("guard")
        defer { scratch.remove() }
        let library = try Library(directory: scratch.child("data"))
        try library.create("kb")
        let kb = try library.open("kb")
        try scratch.write("src/pricing.md", "# 价格说明\n\n## 首重与续重\n\n标准快递首重收费12元，续重每公斤收费3元。偏远地区另加15元。\n")
        try scratch.write("src/contact.txt", "客服热线400-820-5566，每天8点到22点有人接听。\n\n投诉请发邮件到客服邮箱。")
        _ = try kb.ingest([scratch.child("src").path])
        let question = "首重收费多少钱？"
        let found = try GroundedAnswerer.retrieve(question, topK: 8, in: kb)
        let expected = try #require(found.extractive)
        let asked = try kb.ask(question)
        #expect(expected.found && expected.answer == asked.answer)
        #expect(found.queryCoverage.map { $0("标准快递首重收费12元") > 0.5 } == true)

        let model = ScriptedModel.replying(["首重收费99元[1]。"])
        var events: [GroundedEvent] = []
        let a = try await GroundedAnswerer(model: model).answer(question, in: kb) { events.append($0) }
        #expect(a.answeredBy == .extractive)
        let strip = { (s: String) in GuardedAnswerStream.splitMarkers(s).body }
        #expect(strip(a.answer) == strip(expected.answer) && streamedText(events) == a.answer)
        #expect(Set(a.citations.map(\.chunkID)) == Set(expected.citations.map(\.chunkID)))
        // A fact of the right kind from a passage about something else ("2026" from a notice's date):
        // the model's affirmation is not shown.
        try scratch.write("src/notice.txt", "国庆服务安排\n\n迅达快运客户服务中心\n2026 年 9 月 15 日\n\n国庆期间网点营业时间调整为 9:00–17:00。")
        _ = try kb.ingest([scratch.child("src").path])
        let founded = ScriptedModel.replying(["迅达快运是2026年成立的[1]。"])
        let f = try await GroundedAnswerer(model: founded).answer("迅达快运是哪一年成立的？", in: kb) { _ in }
        #expect(f.answeredBy != .model && !f.answer.contains("成立"), "\(f.answer)")
        // A question the knowledge base cannot answer: not found, and the model is not asked.
        let unanswered = try await GroundedAnswerer(model: model).answer("火星上的天气怎么样？", in: kb) { _ in }
        #expect(!unanswered.found && unanswered.answeredBy == .notFound)
        #expect(model.answerCalls.count == 1)
    }

    @Test func pairsAcrossTwoKnownWordsAreNotUnknownTopics() throws {
        let scratch = try ScratchDirectory("guard-pairs")
        defer { scratch.remove() }
        let library = try Library(directory: scratch.child("data"))
        try library.create("kb")
        let kb = try library.open("kb")
        try scratch.write("src/cold.md", "# 冷链服务\n\n冷链全程温度控制在 2℃–8℃。\n\n运输方式为陆运，时效 2 天。\n")
        _ = try kb.ingest([scratch.child("src").path])
        let a = Analyzer()
        func hash(_ pair: String) -> UInt64 { Analyzer.hash(term: a.tokens(pair).first { $0.count == 2 } ?? pair) }
        // 冷链 · 运输 · 温度 are in the documents; 链运 and 输温 only straddle them.
        let cold = try GroundedAnswerer.retrieve("冷链运输温度是多少？", topK: 8, in: kb)
        #expect(!cold.unknownQueryTerms.contains(hash("链运")) && !cold.unknownQueryTerms.contains(hash("输温")))
        // 成立 is a word of its own that no document has (年成 and 立的 are not known either).
        let founded = try GroundedAnswerer.retrieve("冷链服务是哪年成立的？", topK: 8, in: kb)
        #expect(founded.unknownQueryTerms.contains(hash("成立")))
    }
}

// MARK: - Facts and support

@Suite struct AnswerGuardSupportTests {
    private func numbers(_ text: String) -> Set<String> {
        Set(
            FactScanner.numbers(in: text).map { f in
                switch f.key {
                case .number(let v, let u): "\(v)\(u.map { " " + $0.rawValue } ?? "")"
                case .digits(let d): "#\(d)"
                case .name: "?"
                }
            })
    }

    @Test func writingsOfOneFactAreTheSame() {
        for t in ["2℃", "2°C", "2 ℃", "2 °C", "２℃", "2度"] { #expect(numbers(t) == ["2 temperature"], "\(t)") }
        for t in ["36元", "36 元", "３６元", "¥36", "CNY 36", "36 yuan", "三十六元"] {
            #expect(numbers(t) == ["36 money"], "\(t)")
        }
        #expect(numbers("2,000 元") == numbers("2000元") && numbers("2000元") == ["2000 money"])
        #expect(numbers("1.50 元") == ["1.5 money"] && numbers("4.00 元") == ["4 money"])
        #expect(numbers("400-820-5566") == ["#4008205566"] && numbers("400 820 5566") == ["#4008205566"])
        #expect(numbers("8:00") == ["8 clock"] && numbers("8点") == ["8 clock"] && numbers("8:30") == ["8:30 clock"])
        #expect(numbers("2026-04-12") == numbers("2026年4月12日"))
        #expect(
            numbers("两天") == ["2 duration"] && numbers("3 个工作日") == ["3 duration"]
                && numbers("7 days") == ["7 duration"])
        #expect(numbers("2℃–8℃") == ["2 temperature", "8 temperature"])
        #expect(numbers("0.5%") == ["0.5 percent"] && numbers("百分之五") == ["5 percent"])
        #expect(numbers("3.4kg") == ["3.4 weight"] && numbers("3.4 公斤") == ["3.4 weight"])
        // Not numbers: codes, words with numerals.
        #expect(numbers("SVC-CC-02 一般 统一 一个包裹 v1.2").isEmpty)
    }

    @Test func factsMustBeInTheCitedSourceInTheSameKindOfUnit() {
        let sources = [
            Citation(n: 1, document: "a", section: "冷链", page: nil, chunkID: 1, text: "冷藏温度范围 2℃–8℃，全国 380 台冷藏车。"),
            Citation(
                n: 2, document: "b", section: "热线", page: nil, chunkID: 2, text: "客服热线 400-820-5566，服务代码 SVC-CC-02。"),
        ]
        let checker = SupportChecker(sources: sources, question: "冷藏温度是多少？")
        #expect(checker.check("冷藏温度范围是2°C到8°C", cited: [1]) == .supported(cited: [1], changed: false))
        if case .unsupported(let why) = checker.check("冷藏温度范围是380℃", cited: [1]) {
            #expect(why.contains("380"))
        } else {
            Issue.record("380℃ passed")
        }
        #expect(checker.check("冷藏温度范围 2℃–8℃", cited: []) == .supported(cited: [1], changed: true))
        #expect(checker.check("客服热线 400 820 5566", cited: [1]) == .supported(cited: [2], changed: true))
        if case .unsupported = checker.check("客服热线 400-820-5567", cited: [2]) {
        } else {
            Issue.record("a wrong phone number passed")
        }
        if case .unsupported = checker.check("服务代码 SVC-CC-09", cited: [2]) {
        } else {
            Issue.record("a wrong code passed")
        }
        #expect(checker.check("[3]", cited: []) == .uncheckable)
        #expect(checker.check("不能。", cited: []) == .uncheckable)
        #expect(checker.check("知识库中没有找到答案。", cited: []) == .notFound)
    }

    @Test func negationsAndQuestionEchoesNeedTheirSources() {
        let sources = [
            Citation(
                n: 1, document: "a", section: "付款", page: nil, chunkID: 1, text: "运费可以用现金、微信支付和支付宝支付，月结客户可以对公转账。")
        ]
        let checker = SupportChecker(sources: sources, question: "能用数字人民币付运费吗？")
        // The question restated says nothing that can be checked; with words of its own it is a claim
        // the source does not make.
        #expect(checker.check("能用数字人民币付运费", cited: [1]) == .uncheckable)
        if case .unsupported(let why) = checker.check("可以，数字人民币可以用来支付运费", cited: [1]) {
            #expect(why.contains("数字"))
        } else {
            Issue.record("the affirmation passed")
        }
        if case .unsupported = checker.check("运费不可以用现金、微信支付和支付宝支付", cited: [1]) {
        } else {
            Issue.record("a negation the source does not make passed")
        }
        #expect(checker.check("运费可以用微信支付和支付宝支付", cited: [1]) == .supported(cited: [1], changed: false))
        // English: words and names.
        let en = [
            Citation(
                n: 1, document: "e", section: "Tracking", page: nil, chunkID: 3,
                text: "Track your parcel on the website or in the WeChat mini program with the waybill number.")
        ]
        let english = SupportChecker(sources: en, question: "How do I track my parcel?")
        #expect(
            english.check("You can track it on the website with the waybill number.", cited: [])
                == .supported(cited: [1], changed: true))
        if case .unsupported = english.check("You can track it with the Alipay app and your phone number.", cited: [1])
        {
        } else {
            Issue.record("a name the source does not have passed")
        }
    }

    @Test func aFactMayBeStatedInTheQuestionsWords() {
        let sources = [
            Citation(
                n: 1, document: "a", section: "上门取件", page: nil, chunkID: 1, text: "上门取件服务时间：每天 8:00–20:00，周末照常服务。"),
            Citation(
                n: 2, document: "b", section: "本人签收", page: nil, chunkID: 2, text: "保价金额达到 5,000 元及以上的快件，不得投递快递柜和自提点。"),
        ]
        let hours = SupportChecker(sources: sources, question: "上门取件每天几点到几点？")
        #expect(hours.check("上门取件每天 8:00至20:00", cited: []) == .supported(cited: [1], changed: true))
        if case .unsupported = hours.check("上门取件每天 9:00至18:00", cited: [1]) {
        } else {
            Issue.record("wrong hours passed")
        }
        let lockers = SupportChecker(sources: sources, question: "保价五千块以上的快件能放快递柜吗？")
        #expect(lockers.check("保价五千块以上的快件不得投递快递柜", cited: [2]) == .supported(cited: [2], changed: false))
    }

    @Test func sentencesCompleteWithTheirMarkers() {
        var a = SentenceAssembler()
        #expect(a.feed("首重12元。") == [])
        #expect(a.feed("[1]") == [])
        #expect(a.feed("续重3元[1]。\n偏") == ["首重12元。[1]", "续重3元[1]。"])
        #expect(a.finish() == "\n偏")
        var b = SentenceAssembler()
        #expect(b.feed("The fee is 0.") == [])
        #expect(b.feed("5 yuan. [1] Next") == ["The fee is 0.5 yuan. [1]"])
        #expect(GuardedAnswerStream.citing("首重12元。", [1]) == "首重12元[1]。")
        #expect(GuardedAnswerStream.citing("\nIt costs 12 yuan.", [1, 2]) == "\nIt costs 12 yuan [1][2].")
        #expect(GuardedAnswerStream.citing("运费 36 元（未含附加费）。[3]", [1]) == "运费 36 元（未含附加费）[1]。")
    }
}
