import Foundation
import Testing
import WendaoCore
import WendaoEval
import WendaoApp
import WendaoRAG
import WendaoTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The metrics of `wendao eval run`. The golden values were computed once with
/// `scripts/eval-metric-goldens.py`, a re-implementation of the scoring functions of the official SQuAD v1.1
/// and CMRC 2018 evaluation scripts (see its header for the one difference: NLTK's tokenizer, which the
/// fixtures do not exercise).
@Suite struct EvalMetricTests {
    @Test(
        "SQuAD v1.1 F1 and exact match (English references)",
        arguments: [
            ("The cat sat on the mat.", "a cat sat on a mat", 1.0, 1.0),
            ("Paris is the capital", "capital of France", 0.3333333333333333, 0.0),
            ("It costs 12 yuan per kilogram", "12 yuan", 0.5, 0.0),
            ("an apple", "The Apple!", 1.0, 1.0),
        ])
    func squad(prediction: String, reference: String, f1: Double, em: Double) {
        #expect(abs(AnswerScoring.f1(prediction, references: [reference]) - f1) < 1e-9)
        #expect(AnswerScoring.exactMatch(prediction, references: [reference]) == em)
        #expect(AnswerScoring.style(of: reference) == .squad)
    }

    @Test(
        "CMRC 2018 F1 (longest common substring of character segments) and exact match (Chinese references)",
        arguments: [
            ("运费是36元", ["36 元"], 0.5714285714285715, 0.0),
            ("首重收费12元，续重每公斤3元。", ["首重12元"], 0.23529411764705882, 0.0),
            ("《保价服务说明》", ["保价服务说明"], 1.0, 1.0),
            ("冷链运输温度2-8℃", ["2-8℃", "2至8度"], 0.25, 0.0),
            ("知识库中没有找到答案。", ["18 小时"], 0.0, 0.0),
        ])
    func cmrc(prediction: String, references: [String], f1: Double, em: Double) {
        #expect(abs(AnswerScoring.f1(prediction, references: references) - f1) < 1e-9)
        #expect(AnswerScoring.exactMatch(prediction, references: references) == em)
        #expect(AnswerScoring.style(of: prediction, against: references[0]) == .cmrc)
    }

    @Test("citation markers are not part of the scored answer; gold strings match across spaces")
    func markersAndGold() {
        #expect(AnswerScoring.f1("运费是36元[1]", references: ["36 元"]) == AnswerScoring.f1("运费是36元", references: ["36 元"]))
        #expect(AnswerScoring.contains("运费是36元[1]。", gold: "36 元"))
        #expect(!AnswerScoring.contains("运费是3元[6]", gold: "36 元"))
        #expect(AnswerScoring.contextRecall(reference: "首重12元", context: "标准快递首重收费12元") == 1)
        #expect(AnswerScoring.contextRecall(reference: "首重12元", context: "续重3元") == 0.5)  // 重 and 元 of 首 重 12 元
    }

    @Test("the paired bootstrap is seeded: the same seed, the same interval; a clear gain is significant, none is not")
    func bootstrap() {
        let a: [Double] = [0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1]
        let b: [Double] = [1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1]
        let d1 = PairedBootstrap.compare(a: a, b: b, resamples: 2000, seed: 42)
        let d2 = PairedBootstrap.compare(a: a, b: b, resamples: 2000, seed: 42)
        #expect(d1 == d2)
        #expect(abs(d1.difference - 0.4) < 1e-12)  // 8 more right answers in 20
        #expect(d1.low <= d1.difference && d1.difference <= d1.high)
        #expect(d1.significant && d1.low > 0)
        let same = PairedBootstrap.compare(a: a, b: a, resamples: 500, seed: 1)
        #expect(same.difference == 0 && same.low == 0 && same.high == 0 && !same.significant)
        // One question better, one worse, the rest equal: no difference to speak of.
        var c = a
        c[0] = 1
        c[1] = 0
        #expect(!PairedBootstrap.compare(a: a, b: c, resamples: 1000, seed: 42).significant)
        // The seed matters (another seed, another resampling), the mean does not change.
        let d3 = PairedBootstrap.compare(a: a, b: b, resamples: 2000, seed: 43)
        #expect(d3.difference == d1.difference)
    }

    @Test("the judge's reply is read as JSON, JSON inside prose, labelled lines or N/5; no score is no score")
    func judgeParsing() {
        let json = AnswerJudge.parse(#"{"faithfulness": 5, "relevance": 4, "correctness": "3", "reason": "fine"}"#)
        #expect(json.faithfulness == 5 && json.relevance == 4 && json.correctness == 3 && json.reason == "fine")
        #expect(json.score == 4)
        let prose = AnswerJudge.parse(
            "Sure! Here is my grading:\n```json\n{\"faithfulness\": 4, \"relevance\": 4, \"correctness\": 4, \"reason\": \"ok\"}\n```"
        )
        #expect(prose.score == 4)
        let lines = AnswerJudge.parse("Faithfulness: 5\nRelevance - 3\nCorrectness: 4 (mostly right)")
        #expect(lines.faithfulness == 5 && lines.relevance == 3 && lines.correctness == 4)
        #expect(AnswerJudge.parse("Overall I would give it 4/5.").score == 4)
        let none = AnswerJudge.parse("The answer looks reasonable but I cannot say more.")
        #expect(!none.scored && none.score == nil)
        #expect(!AnswerJudge.parse(#"{"faithfulness": 9, "relevance": 0}"#).scored)
        #expect(AnswerJudge.parseWinner(#"{"winner": "B", "reason": "shorter"}"#) == "B")
        #expect(AnswerJudge.parseWinner("I think it is a tie.") == "tie")
        #expect(AnswerJudge.parseWinner("Both are fine") == nil)
    }

    @Test("citation precision and recall come from the answer guard's support check")
    func citations() throws {
        let sources = try JSONDecoder().decode(
            [Citation].self,
            from: Data(
                #"""
                [{"n":1,"document":"kb/pricing.md","section":"价格说明 › 首重与续重","page":null,"chunk_id":1,"text":"标准快递首重收费12元，续重每公斤收费3元。"},
                 {"n":2,"document":"kb/contact.txt","section":"","page":null,"chunk_id":2,"text":"客服热线400-820-5566，每天8点到22点有人接听。"}]
                """#.utf8))
        let right = CitationSupport.assess(answer: "标准快递首重收费12元[1]。", sources: sources, question: "首重多少钱？")
        #expect(right.precision == 1 && right.recall == 1)
        let wrong = CitationSupport.assess(answer: "标准快递首重收费12元[2]。", sources: sources, question: "首重多少钱？")
        #expect(wrong.precision == 0 && wrong.recall == 0)
        let invented = CitationSupport.assess(answer: "标准快递首重收费99元[1]。", sources: sources, question: "首重多少钱？")
        #expect(invented.precision == 0)
        let uncited = CitationSupport.assess(answer: "标准快递首重收费12元。", sources: sources, question: "首重多少钱？")
        #expect(uncited.precision == nil && uncited.recall == 0)
    }

    @Test("test sets: JSONL and CSV (quoted fields, lists with |), with errors that name the line")
    func testSets() throws {
        let s = try ScratchDirectory("testset")
        defer { s.remove() }
        let csv = try s.write(
            "t.csv",
            "id,question,answers,documents,answerable,tags\r\nc1,\"首重多少钱，一公斤？\",12元|12 元,pricing.md,true,amount|price\r\nc2,火星天气,,,no,\r\n"
        )
        let cases = try TestSetReader.read(csv)
        #expect(cases.count == 2)
        #expect(
            cases[0].question == "首重多少钱，一公斤？" && cases[0].gold == ["12元", "12 元"]
                && cases[0].tags == ["amount", "price"])
        #expect(cases[1].answerable == false && cases[1].gold.isEmpty)
        let jsonl = try s.write("t.jsonl", "{\"question\": \"a\", \"answers\": [\"1\"]}\nnot json\n")
        let e = thrownWendaoError { _ = try TestSetReader.read(jsonl) }
        #expect(e?.message.contains("t.jsonl line 2") == true)
        let big = try s.write("big.jsonl", "{\"question\": \"\(String(repeating: "长", count: 20_000))\"}\n")
        #expect(thrownWendaoError { _ = try TestSetReader.read(big) }?.message.contains("more than the 16384") == true)
    }

    @Test("test sets: XLSX (the first worksheet; shared and inline strings, numbers, booleans), errors name the file")
    func xlsxTestSet() throws {
        // Made by scripts/make-eval-xlsx.py.
        let file = repositoryRoot.appendingPathComponent("Tests/Fixtures/eval/testset.xlsx")
        let cases = try TestSetReader.read(file)
        #expect(cases.map(\.id) == ["q1", "q2", "q3"], "the empty row and the second sheet are skipped")
        #expect(cases[0].question == "首重收费多少钱？" && cases[0].gold == ["12元", "十二元"] && cases[0].tags == ["pricing"])
        #expect(cases[0].answerable)
        #expect(cases[1].question == "保价费按什么比例收取？" && cases[1].gold == ["1"], "a number cell as shown")
        #expect(cases[2].answerable == false)
        var streamed: [String] = []
        try TestSetReader.forEach(file) { streamed.append($0.id) }
        #expect(streamed == ["q1", "q2", "q3"])

        let s = try ScratchDirectory("xlsx")
        defer { s.remove() }
        let notExcel = try s.write("broken.xlsx", "id,question\n1,a\n")
        let e = thrownWendaoError { _ = try TestSetReader.read(notExcel) }
        #expect(e?.message.contains("broken.xlsx") == true, "\(e?.message ?? "")")
        let suite = try s.write(
            "s.yaml", "kb: k\ntests: \(file.path)\nvariants: [{name: e, model: extractive}]\n")
        #expect(try EvalSuite.load(suite).cases().count == 3)
    }
}

/// A chat model that counts its calls.
final class CountingModel: ChatModel, @unchecked Sendable {
    let id = "test:counting"
    let contextWindow = 8192
    private let lock = NSLock()
    private var made = 0
    var calls: Int { lock.withLock { made } }

    func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error> {
        lock.withLock { made += 1 }
        let text = "reply to " + (messages.last?.content ?? "")
        return AsyncThrowingStream { c in
            c.yield(.text(text))
            c.yield(.usage(TokenUsage(promptTokens: 10, completionTokens: 3)))
            c.yield(.finish("stop"))
            c.finish()
        }
    }
}

@Suite struct ResponseCacheTests {
    @Test("cached responses are replayed without a call, across processes (the file), by model, messages and options")
    func replay() async throws {
        let s = try ScratchDirectory("cache")
        defer { s.remove() }
        let file = s.child("cache/responses.jsonl")
        let base = CountingModel()
        let model = CachingChatModel(base: base, cache: try ResponseCache(file: file))
        let ask = [ChatMessage(.system, "be brief"), ChatMessage(.user, "首重多少钱？")]
        let recorder = CallRecorder()
        let first = try await CallRecorder.$current.withValue(recorder) {
            try await model.complete(ask, options: ChatOptions(temperature: 0, maxTokens: 50))
        }
        let second = try await CallRecorder.$current.withValue(recorder) {
            try await model.complete(ask, options: ChatOptions(temperature: 0, maxTokens: 50))
        }
        #expect(first.text == second.text && second.usage == first.usage)
        #expect(base.calls == 1)
        #expect(recorder.calls.map(\.cached) == [false, true])
        // Another temperature, another message, another model: calls.
        _ = try await model.complete(ask, options: ChatOptions(temperature: 0.7, maxTokens: 50))
        _ = try await model.complete([ChatMessage(.user, "续重呢？")], options: ChatOptions(temperature: 0, maxTokens: 50))
        #expect(base.calls == 3)
        // A new process reads the file (a damaged last line is skipped).
        let handle = try FileHandle(forWritingTo: file)
        _ = try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"key\": \"trunc".utf8))
        try handle.close()
        let reopened = CachingChatModel(base: base, cache: try ResponseCache(file: file))
        let again = try await reopened.complete(ask, options: ChatOptions(temperature: 0, maxTokens: 50))
        #expect(again.text == first.text && base.calls == 3)
        #expect(
            ResponseCache.key(model: "a", messages: ask, options: ChatOptions(temperature: 0))
                != ResponseCache.key(model: "b", messages: ask, options: ChatOptions(temperature: 0)))
    }
}

/// A chat model that answers with a function of the messages.
struct FunctionModel: ChatModel {
    let id = "test:function"
    let contextWindow = 8192
    let reply: @Sendable ([ChatMessage]) -> String

    func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error> {
        let text = reply(messages)
        return AsyncThrowingStream { c in
            c.yield(.text(text))
            c.finish()
        }
    }
}

@Suite struct TestSetGeneratorTests {
    @Test(
        "a draft: questions with their passage's document and answer, near-duplicates and answered 'unanswerable' ones dropped"
    )
    func draft() async throws {
        let passages = (0..<6).map {
            TestSetGenerator.Passage(
                chunkID: Int64($0), document: "kb/d\($0).md", section: "s", text: "第\($0)条：运费为\($0 + 10)元。")
        }
        let model = FunctionModel { messages in
            let user = messages.last?.content ?? ""
            let n = (0..<6).first { user.contains("第\($0)条") } ?? -1
            if messages.first?.content.contains("does NOT answer") == true {
                return #"{"question": "火星\#(n)号的天气怎么样？"}"#
            }
            if n == 4 { return #"Here it is: {"question": "第3条的运费是多少钱呢？", "answer": "14元"}"# }
            if n == 1 { return "I cannot write a question for this." }
            return #"{"question": "第\#(n)条的运费是多少钱？", "answer": "\#(n + 10)元"}"#
        }
        var options = TestSetGenerator.Options()
        options.count = 6
        options.unanswerableShare = 0.34
        options.concurrency = 1
        let draft = await TestSetGenerator.generate(passages: passages, model: model, options: options) { q in
            q.contains("火星5")
        }
        // 0 kept; 1 unusable; 2 unanswerable, kept; 3 kept; 4 a near-duplicate of 3; 5 "unanswerable" but answered.
        #expect(draft.cases.map(\.question) == ["第0条的运费是多少钱？", "火星2号的天气怎么样？", "第3条的运费是多少钱？"])
        #expect(draft.cases.map(\.id) == ["gen001", "gen002", "gen003"])
        #expect(draft.duplicates == 1 && draft.answerable == 1 && draft.unusable == 1)
        let first = draft.cases[0]
        #expect(
            first.reference == "10元" && first.gold == ["10元"] && first.documents == ["kb/d0.md"] && first.answerable)
        #expect(
            !draft.cases[1].answerable && draft.cases[1].documents.isEmpty
                && draft.cases[1].tags.contains("unanswerable"))
        // The lines read back as a test set.
        let s = try ScratchDirectory("generated")
        defer { s.remove() }
        let file = try s.write("g.jsonl", draft.cases.map(TestSetGenerator.jsonLine).joined(separator: "\n"))
        #expect(try TestSetReader.read(file) == draft.cases)
        #expect(TestSetGenerator.similarity("首重收费多少钱？", "首重收费多少钱呢？") >= 0.8)
        #expect(TestSetGenerator.similarity("首重收费多少钱？", "客服电话是多少？") < 0.3)
    }
}

/// Suite files: the YAML, the matrix, prompt templates, and the errors bad ones get.
@Suite struct EvalSuiteTests {
    func scratch() throws -> ScratchDirectory {
        let s = try ScratchDirectory("suite")
        try s.write("q.jsonl", "{\"id\": \"q1\", \"question\": \"首重多少钱？\", \"answers\": [\"12元\"]}\n")
        try s.write("p/a.txt", "Answer in {{language}} from the sources. If they do not answer, say {{not_found}}")
        try s.write("p/b.txt", "Cite sources like [1]. If they do not answer, say exactly {{not_found}}")
        return s
    }

    @Test("a matrix of prompts × models and a list of variants; prompts versioned by content hash")
    func matrix() throws {
        let s = try scratch()
        defer { s.remove() }
        let file = try s.write(
            "suite.yaml",
            """
            kb: facts
            tests: q.jsonl
            defaults: { retrieval: { top_k: 4 }, temperature: 0, answer_guard: off }
            matrix:
              prompts: { a: p/a.txt, b: p/b.txt }
              models: [openai:m1, deepseek:deepseek-chat]
            variants:
              - { name: extractive, model: extractive }
              - { name: wide, model: openai:m1, retrieval: { top_k: 12, mode: bm25 } }
            """)
        let suite = try EvalSuite.load(file)
        #expect(suite.name == "suite")
        #expect(
            suite.variants.map(\.name) == [
                "extractive", "wide", "a@openai:m1", "b@openai:m1", "a@deepseek:deepseek-chat",
                "b@deepseek:deepseek-chat",
            ])
        let a = try #require(suite.variants.first { $0.name == "a@openai:m1" })
        #expect(a.retrieval.topK == 4 && a.temperature == 0 && a.answerGuard == .off)
        #expect(a.prompt?.version.count == 12)
        #expect(suite.variants[1].retrieval.topK == 12 && suite.variants[1].retrieval.mode == .bm25)
        #expect(Set(suite.variants.map(\.fingerprint)).count == suite.variants.count)
        // A changed prompt file is a new version and a new fingerprint.
        try s.write("p/a.txt", "Answer briefly in {{language}}. If the sources do not answer, say {{not_found}}")
        let changed = try EvalSuite.load(file)
        let a2 = try #require(changed.variants.first { $0.name == "a@openai:m1" })
        #expect(a2.prompt?.version != a.prompt?.version && a2.fingerprint != a.fingerprint)
        #expect(try suite.cases().map(\.id) == ["q1"])
    }

    @Test("the sample suite and the README's suite example load (prompts found, placeholders valid)")
    func sampleSuite() throws {
        let sample = repositoryRoot.appendingPathComponent("Samples/logistics/eval-suite.yaml")
        let suite = try EvalSuite.load(sample)
        #expect(
            suite.variants.map(\.name) == ["extractive", "concise@openai:gpt-4o-mini", "strict@openai:gpt-4o-mini"])
        #expect(try suite.cases().count == 32)
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let examples = readme.components(separatedBy: "```yml\n").dropFirst().compactMap {
            $0.components(separatedBy: "```").first
        }.filter { $0.hasPrefix("# Samples/logistics/eval-suite.yaml") }
        #expect(examples.count == 1)
        for yaml in examples {
            #expect(try EvalSuite.parse(yaml, file: sample).variants.count == 3)
        }
    }

    @Test(
        "bad suites are refused with the file, the line and column, and the reason",
        arguments: [
            (
                "kb: facts\ntests: q.jsonl\nvariants: [ {name: x, model: extractive}\n",
                ["line", "column", "suite.yaml"]
            ),
            (
                "kb: facts\ntests: q.jsonl\nvariants:\n  - name: x\n    modle: extractive\n",
                ["line 5", "unknown key 'modle'"]
            ),
            ("kb: facts\ntests: nope.jsonl\nvariants: [{model: extractive}]\n", ["line 2", "nope.jsonl"]),
            ("tests: q.jsonl\nvariants: [{model: extractive}]\n", ["needs kb"]),
            ("kb: facts\ntests: q.jsonl\n", ["no variants"]),
            (
                "kb: facts\ntests: q.jsonl\nvariants: [{model: extractive, temperature: 7}]\n",
                ["temperature", "0.0 to 2.0"]
            ),
            (
                "kb: facts\ntests: q.jsonl\nvariants: [{model: openai:m, prompt: p/missing.txt}]\n",
                ["p/missing.txt", "cannot be read"]
            ),
            ("kb: facts\ntests: q.jsonl\nvariants: [{model: extractive}, {model: extractive}]\n", ["two variants"]),
        ])
    func badSuites(yaml: String, expected: [String]) throws {
        let s = try scratch()
        defer { s.remove() }
        let file = try s.write("suite.yaml", yaml)
        let e = thrownWendaoError { _ = try EvalSuite.load(file) }
        let message = try #require(e?.message)
        for part in expected { #expect(message.contains(part), "\(message)") }
    }

    @Test("a prompt template with a placeholder it may not use, or without {{not_found}}, is named with the reason")
    func badTemplates() throws {
        let s = try scratch()
        defer { s.remove() }
        try s.write("p/data.txt", "Answer {{question}} from {{sources}}. Else {{not_found}}")
        try s.write("p/none.txt", "Answer from the sources.")
        try s.write("p/typo.txt", "Answer in {{langauge}}. Else {{not_found}}")
        for (file, placeholder) in [("data", "{{question}}"), ("none", "{{not_found}}"), ("typo", "{{langauge}}")] {
            let suite = try s.write(
                "suite.yaml", "kb: facts\ntests: q.jsonl\nvariants:\n  - model: openai:m\n    prompt: p/\(file).txt\n")
            let message = thrownWendaoError { _ = try EvalSuite.load(suite) }?.message ?? ""
            #expect(
                message.contains("p/\(file).txt") && message.contains(placeholder) && message.contains("line 5"),
                "\(message)")
        }
    }
}

/// `wendao eval run` end to end against a fake OpenAI-compatible provider.
@Suite struct EvalRunCLITests {
    /// Questions about the CLI fixture's facts (``CLIFixture/writeFacts()``); q4 is not answerable.
    static let questions = """
        {"id": "q1", "question": "标准快递首重收费多少？", "answers": ["12元"], "documents": ["pricing.md"]}
        {"id": "q2", "question": "续重每公斤收费多少？", "answers": ["3元"], "documents": ["pricing.md"]}
        {"id": "q3", "question": "客服热线电话是多少？", "answers": ["400-820-5566"], "documents": ["contact.txt"]}
        {"id": "q4", "question": "火星上的天气怎么样？", "answers": [], "answerable": false}

        """

    /// A fake provider: answers by the question, judges, and counts the answer calls per (prompt, question).
    final class Provider: @unchecked Sendable {
        let lock = NSLock()
        var answers: [String: Int] = [:]
        var server: FakeProviderServer!
        var firstPrice = "12"
        var failOn: String?
        /// A pause before each answer's text (so that a run can be interrupted midway).
        var delay: Duration = .zero

        static func messages(_ req: RecordedRequest) -> [(String, String)] {
            guard let o = try? JSONSerialization.jsonObject(with: req.body) as? [String: Any],
                let ms = o["messages"] as? [[String: Any]]
            else { return [] }
            return ms.map { ($0["role"] as? String ?? "", $0["content"] as? String ?? "") }
        }

        static func reply(_ text: String, delay: Duration = .zero) -> FakeResponse {
            var r = FakeResponse.sse([
                Shapes.chunk(text, finish: "stop"),
                #"{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":500,"completion_tokens":10,"total_tokens":510}}"#,
            ])
            r.delayBeforeHead = delay
            return r
        }

        func start() async throws {
            server = try await FakeProviderServer.start { [self] req, _ in
                let ms = Self.messages(req)
                let system = ms.first { $0.0 == "system" }?.1 ?? ""
                let user = ms.last?.1 ?? ""
                if system.contains("wendao-judge-v1-pairwise") {
                    return Self.reply(#"{"winner": "A", "reason": "first"}"#)
                }
                if system.contains("wendao-judge-v1") {
                    return Self.reply(
                        #"Grading: {"faithfulness": 5, "relevance": 4, "correctness": 5, "reason": "matches the reference"}"#
                    )
                }
                if user.contains("Translate the search query") { return Self.reply("weather on Mars") }
                let question = user.components(separatedBy: "Question: ").last ?? ""
                let prompt = system.contains("VARIANT-A") ? "A" : system.contains("VARIANT-B") ? "B" : "?"
                lock.withLock { answers[prompt + ":" + question, default: 0] += 1 }
                if let failOn, question.contains(failOn) {
                    return .json(
                        #"{"error":{"message":"the fake provider refuses this one","type":"invalid_request_error"}}"#,
                        status: 400)
                }
                if question.contains("首重") { return Self.reply("标准快递首重收费\(firstPrice)元[1]。", delay: delay) }
                if question.contains("续重") { return Self.reply("续重每公斤收费3元[1]。", delay: delay) }
                if question.contains("客服") { return Self.reply("客服热线400-820-5566[1]。", delay: delay) }
                return Self.reply("知识库中没有找到答案。")
            }
        }

        var answerCalls: Int { lock.withLock { answers.values.reduce(0, +) } }
        var calls: [String: Int] { lock.withLock { answers } }
        var maxCallsPerAnswer: Int { lock.withLock { answers.values.max() ?? 0 } }
    }

    func fixture(judge: Bool) async throws -> (CLIFixture, String) {
        let f = try CLIFixture()
        let src = try f.writeFacts()
        let ingest = try await f.run("ingest", "--kb", "facts", "--create", src)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        try f.scratch.write("suite/questions.jsonl", Self.questions)
        try f.scratch.write(
            "suite/prompts/a.txt",
            "VARIANT-A. Answer in {{language}} from the numbered sources, citing [n]. Else: {{not_found}}")
        try f.scratch.write(
            "suite/prompts/b.txt",
            "VARIANT-B. Answer only from the sources, in {{language}}; cite [n]. Else: {{not_found}}")
        let judgeBlock =
            judge ? "judge:\n  model: openai:fake-model\n  pairwise: [a@openai:fake-model, b@openai:fake-model]\n" : ""
        let suite = try f.scratch.write(
            "suite/suite.yaml",
            """
            name: facts-suite
            kb: facts
            tests: questions.jsonl
            concurrency: 2
            defaults: { retrieval: { top_k: 4 }, temperature: 0, max_tokens: 256 }
            variants:
              - { name: extractive, model: extractive }
            matrix:
              prompts: { a: prompts/a.txt, b: prompts/b.txt }
              models: [openai:fake-model]
            \(judgeBlock)
            """)
        return (f, suite.path)
    }

    @Test(
        "a suite runs every variant; the report has metrics, a judge and an HTML page; a re-run makes no call; the gate catches a planted regression",
        .tags(.slow), .timeLimit(.minutes(5)))
    func endToEnd() async throws {
        let (f, suite) = try await fixture(judge: true)
        defer { f.scratch.remove() }
        let provider = Provider()
        try await provider.start()
        let env = ["OPENAI_BASE_URL": provider.server.baseURL, "OPENAI_API_KEY": canaryKey]
        let html = f.scratch.child("report.html").path
        let first = try await f.runAsync(["eval", "run", suite, "--json", "--html", html], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        let report = try first.json()
        let variants = try #require(report["variants"] as? [[String: Any]])
        #expect(variants.map { $0["name"] as? String } == ["extractive", "a@openai:fake-model", "b@openai:fake-model"])
        for v in variants.dropFirst() {
            let m = try #require(v["metrics"] as? [String: Double])
            #expect(m["accuracy"] == 1, "\(v)")
            #expect(m["gold_contained"] == 1 && m["hit@k"] == 1 && m["correct_refusal"] == 1 && m["false_refusal"] == 0)
            #expect(abs((m["judge_score"] ?? 0) - 14.0 / 3) < 1e-9)
            #expect(m["errors"] == 0)
            #expect(m["citation_precision"] != nil && m["latency_p50_ms"] != nil && (m["prompt_tokens"] ?? 0) >= 1500)
        }
        let extractive = try #require(variants[0]["metrics"] as? [String: Double])
        #expect(extractive["hit@k"] == 1 && extractive["cost"] == 0)
        // The judge compared a and b twice per question, positions swapped: always preferring "A" is a tie.
        let pairwise = try #require(report["pairwise"] as? [String: Any])
        #expect(pairwise["ties"] as? Int == 4 && pairwise["b_win_rate"] as? Double == 0.5)
        #expect((report["comparisons"] as? [[String: Any]])?.isEmpty == false)
        // Three answerable questions per prompt reach the model (the fourth is not found before any answer call).
        #expect(provider.answerCalls == 6)
        #expect(provider.maxCallsPerAnswer == 1)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("<svg") && page.contains("<details") && page.contains("标准快递首重收费12元"))
        #expect(!page.contains("<script") && !page.contains("http://") && !page.contains("https://"))
        for text in [first.stdout, first.stderr, page] { #expect(!text.contains(canaryKey)) }

        // The same run again: everything from the cache, no request at all; the gate passes.
        try Data(first.stdout.utf8).write(to: f.scratch.child("base.json"))
        let before = provider.server.requests.count
        let again = try await f.runAsync(
            ["eval", "run", suite, "--json", "--baseline", f.scratch.child("base.json").path], environment: env)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(provider.server.requests.count == before)
        #expect(again.stderr.contains("model calls: 0 made"))
        let cells = try #require(
            (try again.json()["questions"] as? [[String: Any]])?.first?["results"] as? [String: Any])
        let cell = try #require(cells["a@openai:fake-model"] as? [String: Any])
        let metrics = try #require(cell["metrics"] as? [String: Any])
        #expect(metrics["cached_calls"] as? Int == metrics["calls"] as? Int)

        // A planted regression: the model now gets the first price wrong. The gate names the metric and q1.
        provider.firstPrice = "99"
        let worse = try await f.runAsync(
            [
                "eval", "run", suite, "--no-cache", "--baseline", f.scratch.child("base.json").path, "--max-drop",
                "0.02",
            ],
            environment: env)
        #expect(worse.status == 1, "\(worse.stderr)")
        #expect(worse.stderr.contains("regression: a@openai:fake-model: accuracy 1.000 → 0.750"), "\(worse.stderr)")
        #expect(worse.stderr.contains("worse: q1"))
        #expect(worse.stdout.contains("acc"))
        await provider.server.shutdown()
    }

    @Test(
        "failing cells are recorded and counted; the cost cap stops cleanly; --resume answers the rest without asking twice",
        .tags(.slow), .timeLimit(.minutes(5)))
    func failuresCapAndResume() async throws {
        let (f, suite) = try await fixture(judge: false)
        defer { f.scratch.remove() }
        try f.scratch.write(
            "data/config.yaml",
            "models:\n  \"openai:fake-model\":\n    price: { input: 1000, output: 0, currency: CNY }\n")
        let provider = Provider()
        provider.failOn = "续重"
        try await provider.start()
        let env = ["OPENAI_BASE_URL": provider.server.baseURL]
        let results = f.scratch.child("results.jsonl").path
        // 500 prompt tokens at 1,000 per million: 0.5 a call; the cap stops after the first answer.
        let capped = try await f.runAsync(
            [
                "eval", "run", suite, "--no-cache", "--concurrency", "1", "--max-cost", "0.4", "--results", results,
                "--json",
            ],
            environment: env)
        #expect(capped.status == 0, "\(capped.stderr)")
        let stopped = try #require(try capped.json()["stopped"] as? String)
        #expect(stopped.contains("cost cap"), "\(stopped)")
        let afterCap = provider.answerCalls
        #expect(afterCap >= 1 && afterCap < 6)

        let resumed = try await f.runAsync(
            ["eval", "run", suite, "--no-cache", "--resume", "--results", results, "--json"], environment: env)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let report = try resumed.json()
        #expect(report["stopped"] is NSNull || report["stopped"] == nil)
        #expect((report["resumed"] as? Int ?? 0) >= 1)
        // Every answer was asked for once, over both runs (the failing q2 is recorded, not retried twice here).
        #expect(provider.maxCallsPerAnswer == 1)
        #expect(provider.answerCalls == 6)
        let variants = try #require(report["variants"] as? [[String: Any]])
        for v in variants.dropFirst() {
            #expect(v["errors"] as? Int == 1 && v["answered"] as? Int == 3, "\(v)")
            #expect((v["metrics"] as? [String: Double])?["errors"] == 1)
        }
        #expect(resumed.stderr.contains("2 answers failed"))
        // The results file has one line per answer made.
        let lines = try String(contentsOfFile: results, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 12)
        await provider.server.shutdown()
    }

    @Test(
        "Ctrl-C keeps the answers written so far; --resume answers the rest without asking for those again",
        .tags(.slow), .timeLimit(.minutes(5)))
    func interruptAndResume() async throws {
        let (f, suite) = try await fixture(judge: false)
        defer { f.scratch.remove() }
        let provider = Provider()
        provider.delay = .milliseconds(400)
        try await provider.start()
        let env = ["OPENAI_BASE_URL": provider.server.baseURL]
        let results = f.scratch.child("results.jsonl")
        let args = [
            "eval", "run", suite, "--no-cache", "--concurrency", "1", "--results", results.path, "--data", f.data,
        ]
        let (p, out, err) = try WendaoCLI.start(args, scratch: f.scratch, environment: env)
        // Wait until a model's answer is in the file, then interrupt.
        var written = ""
        for _ in 0..<600 where p.isRunning {
            written = (try? String(contentsOf: results, encoding: .utf8)) ?? ""
            if written.contains("\"variant\":\"a@openai:fake-model\"") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        // A second run writing the same results file is refused while the first one runs.
        if p.isRunning {
            let second = try await f.runAsync(
                ["eval", "run", suite, "--no-cache", "--results", results.path], environment: env)
            if p.isRunning {
                #expect(second.status == 1 && second.stderr.contains("another run is writing"), "\(second.stderr)")
            }
        }
        kill(p.processIdentifier, SIGINT)
        let interrupted = await WendaoCLI.finishAsync(p, out, err)
        print(
            "eval run interrupted: exit \(interrupted.status), \(written.split(separator: "\n").count) answers written")
        try #require(written.contains("a@openai:fake-model"), "no model answer was written before the interrupt")
        // Interrupted midway (or, on a very fast machine, already done).
        #expect(interrupted.status == 130 || interrupted.status == 0, "\(interrupted.stderr)")
        if interrupted.status == 130 { #expect(interrupted.stderr.contains("--resume continues")) }
        let kept = try String(contentsOf: results, encoding: .utf8).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(!kept.isEmpty)
        let before = provider.calls
        let resumed = try await f.runAsync(
            ["eval", "run", suite, "--no-cache", "--resume", "--results", results.path, "--json"], environment: env)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let after = provider.calls
        // What the first run answered was not asked for again.
        let questions = ["q1": "标准快递首重收费多少？", "q2": "续重每公斤收费多少？", "q3": "客服热线电话是多少？"]
        for r in kept {
            guard let variant = r["variant"] as? String, variant != "extractive", let q = r["question"] as? String,
                let text = questions[q]
            else { continue }
            let key = (variant.hasPrefix("a@") ? "A:" : "B:") + text
            #expect(after[key] == before[key], "\(variant) × \(q) was asked again")
        }
        let variants = try #require(try resumed.json()["variants"] as? [[String: Any]])
        #expect(variants.allSatisfy { $0["answered"] as? Int == 4 && $0["errors"] as? Int == 0 }, "\(variants)")
        await provider.server.shutdown()
    }

    @Test(
        "eval generate writes a draft test set from the knowledge base's passages", .tags(.slow),
        .timeLimit(.minutes(3)))
    func generate() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let src = try f.writeFacts()
        #expect(try await f.run("ingest", "--kb", "facts", "--create", src).status == 0)
        let server = try await FakeProviderServer.start { req, _ in
            let ms = Provider.messages(req)
            let user = ms.last?.1 ?? ""
            if ms.first?.1.contains("does NOT answer") == true {
                return Provider.reply(#"{"question": "火星上的天气怎么样？"}"#)
            }
            if user.contains("客服热线") { return Provider.reply(#"{"question": "客服电话是多少？", "answer": "400-820-5566"}"#) }
            if user.contains("保价") { return Provider.reply(#"{"question": "保价费怎么收？", "answer": "1%"}"#) }
            return Provider.reply(#"{"question": "首重收费多少钱？", "answer": "12元"}"#)
        }
        let out = f.scratch.child("draft.jsonl")
        let r = try await f.runAsync(
            ["eval", "generate", "--kb", "facts", "--model", "openai:fake-model", "--count", "10", "--out", out.path],
            environment: ["OPENAI_BASE_URL": server.baseURL])
        #expect(r.status == 0, "\(r.stderr)")
        let cases = try TestSetReader.read(out)
        #expect(!cases.isEmpty && cases.count <= 10)
        #expect(r.stderr.contains("\(cases.count) questions"))
        for c in cases where c.answerable {
            #expect(c.documents.count == 1 && c.documents[0].hasPrefix("kb/") && c.reference != nil, "\(c)")
        }
        #expect(Set(cases.map(\.question)).count == cases.count)
        await server.shutdown()
    }

    @Test("unknown models and missing keys are named before any call; a missing knowledge base says how to make it")
    func refusedBeforeCalls() async throws {
        let (f, suite) = try await fixture(judge: false)
        defer { f.scratch.remove() }
        let provider = Provider()
        try await provider.start()
        let text = try String(contentsOfFile: suite, encoding: .utf8)
        try text.replacingOccurrences(
            of: "models: [openai:fake-model]", with: "models: [openai:fake-model, deepseek:deepseek-chat]"
        )
        .write(toFile: suite, atomically: true, encoding: .utf8)
        let env = ["OPENAI_BASE_URL": provider.server.baseURL]
        let missing = try await f.runAsync(["eval", "run", suite], environment: env)
        #expect(missing.status != 0)
        #expect(
            missing.stderr.contains("no API key for deepseek") && missing.stderr.contains("a@deepseek:deepseek-chat"),
            "\(missing.stderr)")
        try text.replacingOccurrences(of: "models: [openai:fake-model]", with: "models: [nosuch:model]")
            .write(toFile: suite, atomically: true, encoding: .utf8)
        let unknown = try await f.runAsync(["eval", "run", suite, "--json"], environment: env)
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("unknown provider 'nosuch'"), "\(unknown.stderr)")
        try text.replacingOccurrences(of: "kb: facts", with: "kb: nothere")
            .write(toFile: suite, atomically: true, encoding: .utf8)
        let nokb = try await f.runAsync(["eval", "run", suite], environment: env)
        #expect(nokb.status != 0 && nokb.stderr.contains("wendao ingest --kb nothere"), "\(nokb.stderr)")
        // --dry-run: the plan, no call.
        try text.write(toFile: suite, atomically: true, encoding: .utf8)
        let dry = try await f.runAsync(["eval", "run", suite, "--dry-run", "--json"], environment: env)
        #expect(dry.status == 0, "\(dry.stderr)")
        let plan = try dry.json()
        #expect(plan["answers"] as? Int == 12 && plan["model_answers"] as? Int == 8)
        #expect((plan["estimated_prompt_tokens"] as? Int ?? 0) > 0)
        #expect(provider.server.requests.isEmpty)
        await provider.server.shutdown()
    }
}

@Suite struct RatingsExportTests {
    @Test("rated answers become a test set: up-rated references with their documents, down-rated flagged for review")
    func export() throws {
        let s = try ScratchDirectory("ratings")
        defer { s.remove() }
        let lib = try Library(directory: s.child("data"))
        let kb = try lib.create("facts")
        let other = try lib.create("other")
        let store = lib.store
        let citations =
            #"[{"n":1,"document":"docs/pricing.md","section":"首重","page":null,"chunk_id":3,"text":"首重12元"},"#
            + #"{"n":2,"document":"docs/pricing.md","section":"续重","page":null,"chunk_id":4,"text":"续重3元"}]"#
        let c = try store.createConversation(kb: kb.id, title: "t", caller: .admin, at: 100)
        func turn(_ q: String, _ a: String, found: Bool = true, at: Double) throws -> TurnRecord {
            try store.appendTurn(
                NewTurn(
                    conversationID: c.id, question: q, answer: a, found: found, mode: "grounded",
                    citationsJSON: citations, createdAt: at))
        }
        let up = try turn("首重收费多少钱？", "标准快递首重收费12元[1]。", at: 101)
        _ = try store.setFeedback(turn: up.id, rating: 1, note: nil, at: 102)
        let down = try turn("保价费怎么收？", "保价免费[2]。", at: 103)
        _ = try store.setFeedback(turn: down.id, rating: -1, note: "错了，是1%", at: 104)
        let refusal = try turn("能用PayPal吗？", "知识库中没有找到答案。", found: false, at: 105)
        _ = try store.setFeedback(turn: refusal.id, rating: 1, note: nil, at: 106)
        _ = try turn("没评分的问题", "随便", at: 107)
        // The same question rated down earlier and up later: exported once, as the up-rating.
        let again = try turn("保价费怎么收？", "保价费按声明价值的1%收取[2]。", at: 108)
        _ = try store.setFeedback(turn: again.id, rating: 1, note: nil, at: 109)
        let elsewhere = try store.createConversation(kb: other.id, title: "o", caller: .admin, at: 100)
        let foreign = try store.appendTurn(
            NewTurn(conversationID: elsewhere.id, question: "x?", answer: "y", found: true, mode: "m", createdAt: 101))
        _ = try store.setFeedback(turn: foreign.id, rating: 1, note: nil, at: 102)

        let rows = try RatingsExport.rows(store: store, kb: kb.id, since: nil)
        #expect(rows.map(\.question) == ["首重收费多少钱？", "保价费怎么收？", "能用PayPal吗？"])
        #expect(rows[0].reference == "标准快递首重收费12元。" && rows[0].documents == ["docs/pricing.md"])
        #expect(rows[0].answerable && rows[0].review == nil && rows[0].tags == ["rated-up"])
        #expect(rows[1].reference == "保价费按声明价值的1%收取。", "the later up-rating wins")
        #expect(rows[2].answerable == false && rows[2].reference == nil)

        // Down-rated only: flagged, with the rejected answer and the note; --since cuts older turns.
        let d2 = try turn("续重怎么算？", "按件收费[2]。", at: 200)
        _ = try store.setFeedback(turn: d2.id, rating: -1, note: "不对", at: 201)
        let recent = try RatingsExport.rows(store: store, kb: kb.id, since: 150)
        #expect(recent.map(\.question) == ["续重怎么算？"])
        #expect(recent[0].review == true && recent[0].tags.contains("needs-review") && recent[0].reference == nil)
        #expect(recent[0].rejectedAnswer == "按件收费[2]。" && recent[0].note == "不对")

        // The suite's reader takes the file as it is.
        let file = try s.write("rated.jsonl", rows.map(RatingsExport.jsonLine).joined(separator: "\n") + "\n")
        let cases = try TestSetReader.read(file)
        #expect(cases.count == 3)
        #expect(cases[0].reference == "标准快递首重收费12元。" && cases[0].documents == ["docs/pricing.md"])
        #expect(cases[2].answerable == false)
    }
}

@Suite struct LargeTestSetTests {
    @Test(
        "a test set of 100,000 rows is read in pieces and run; the results are written as they come, the report lists the first questions and counts them all"
    )
    func hundredThousandRows() async throws {
        let s = try ScratchDirectory("large-set")
        defer { s.remove() }
        let lib = try Library(directory: s.child("data"))
        _ = try lib.create("facts")
        try s.write("src/pricing.md", "# 价格\n\n标准快递首重收费12元。\n\n续重每公斤收费3元。\n")
        _ = try lib.open("facts").ingest([s.child("src").path])
        // 100,000 rows, written a piece at a time; ten distinct questions (their searches are shared).
        let rows = 100_000
        let file = s.child("big.jsonl")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        var chunk = ""
        for i in 0..<rows {
            let answerable = i % 10 != 9
            chunk +=
                answerable
                ? #"{"id": "r\#(i)", "question": "标准快递首重收费多少？\#(i % 9)", "answers": ["12元"]}"# + "\n"
                : #"{"id": "r\#(i)", "question": "火星上的天气怎么样？", "answerable": false}"# + "\n"
            if chunk.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(chunk.utf8))
                chunk = ""
            }
        }
        try handle.write(contentsOf: Data(chunk.utf8))
        try handle.close()
        var counted = 0
        try TestSetReader.forEach(file) { _ in counted += 1 }
        #expect(counted == rows)

        let suitePath = try s.write(
            "suite.yaml", "kb: facts\ntests: big.jsonl\nvariants: [{name: ex, model: extractive}]\n")
        let suite = try EvalSuite.load(suitePath)
        let cases = try suite.cases()
        #expect(cases.count == rows)
        let templates = try PromptTemplates.load(dataDirectory: s.child("data"), kb: "facts")
        let kb = KnowledgeAccess(try lib.open("facts"))
        var options = WorkbenchOptions(resultsFile: s.child("results.jsonl"))
        options.detailLimit = 50
        let outcome = try await Workbench.run(
            suite: suite, cases: cases, kb: kb, templates: templates, models: [:], judge: nil, options: options)
        #expect(outcome.results.count == rows)
        #expect(outcome.results.filter { $0.error != nil }.isEmpty)
        #expect(outcome.results[48].answer.contains("12元") && outcome.results[50].answer.isEmpty, "kept slim after 50")
        var written = 0
        let results = try FileHandle(forReadingFrom: s.child("results.jsonl"))
        while let piece = try results.read(upToCount: 1 << 20), !piece.isEmpty {
            written += piece.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        try results.close()
        #expect(written == rows, "every answer is in the results file, whole")
        let report = WorkbenchReport.make(
            suite: suite, cases: cases, outcome: outcome, resultsFile: s.child("results.jsonl"), detailLimit: 50)
        #expect(report.questions.count == 50 && report.questionsTotal == rows)
        let accuracy = try #require(report.variants.first?.metrics["accuracy"])
        #expect(accuracy > 0.85, "the extractive answers are right on the answerable nine tenths and refuse Mars")
        #expect(report.variants.first?.answered == rows)
        #expect(report.table.contains("100000 questions"))
    }
}
