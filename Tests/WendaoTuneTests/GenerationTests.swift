import Foundation
import Synchronization
import Testing
import WendaoCore
import WendaoEval
import WendaoModels
import WendaoTestSupport
import WendaoTune

/// A deterministic fake teacher: questions built from the passage, answers copied from its first
/// sentence with `[1]`; passages with a marker misbehave (see the cases). Counts its calls.
final class FakeTeacher: ChatModel, Sendable {
    let id = "fake:teacher"
    let contextWindow = 32_768
    private let made = Mutex(0)
    private let prompts = Mutex<[String]>([])
    let delay: Duration

    init(delay: Duration = .zero) { self.delay = delay }

    var calls: Int { made.withLock { $0 } }
    var userPrompts: [String] { prompts.withLock { $0 } }

    static func sourceText(_ user: String, n: Int = 1) -> String {
        guard let open = user.range(of: "<source n=\"\(n)\""), let start = user[open.upperBound...].range(of: ">\n"),
            let end = user[start.upperBound...].range(of: "\n</source>")
        else { return "" }
        return String(user[start.upperBound..<end.lowerBound])
    }

    func reply(_ messages: [ChatMessage]) -> (text: String, reasoning: String?) {
        let system = messages.first?.content ?? ""
        let user = messages.last?.content ?? ""
        let source = Self.sourceText(user)
        let topic = String(source.prefix(8))
        if system.contains("You write training questions") && !system.contains("compares or relates") {
            if source.contains("MALFORMED") { return ("I'd rather not.", nil) }
            return (
                #"Sure: {"factual": "\#(topic)是什么规定？", "howto": "", "colloquial": "问下，\#(topic)咋整？", "crosslingual": "What is rule number \#(source.count)?", "unanswerable": "火星上\#(topic)的猫叫什么？"}"#,
                nil
            )
        }
        if system.contains("compares or relates") {
            return (#"{"question": "\#(topic)和\#(String(Self.sourceText(user, n: 2).prefix(8)))有什么不同？"}"#, nil)
        }
        let question =
            user.components(separatedBy: "<question>\n").last?.components(separatedBy: "\n</question>")
            .first ?? ""
        if source.contains("EMPTY") { return ("", nil) }
        if source.contains("REFUSE") { return ("知识库中没有找到答案。", nil) }
        if source.contains("ECHO") { return (question, nil) }
        if source.contains("THINK") {
            return ("<think>先读来源。</think>" + source.prefix(20) + " [1]", "provider reasoning")
        }
        if !question.unicodeScalars.contains(where: { $0.value >= 0x4E00 }) { return ("It is in the source [1].", nil) }
        let first = source.split(separator: "。").first.map { String($0) + "。" } ?? source
        return (first + " [1]", nil)
    }

    func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error> {
        made.withLock { $0 += 1 }
        prompts.withLock { $0.append(messages.last?.content ?? "") }
        let (text, reasoning) = reply(messages)
        let delay = self.delay
        return AsyncThrowingStream { c in
            let task = Task {
                if delay > .zero { try? await Task.sleep(for: delay) }
                if Task.isCancelled {
                    c.finish(throwing: CancellationError())
                    return
                }
                if let reasoning { c.yield(.reasoning(reasoning)) }
                if !text.isEmpty { c.yield(.text(text)) }
                c.yield(.usage(TokenUsage(promptTokens: 100, completionTokens: 20)))
                c.finish()
            }
            c.onTermination = { _ in task.cancel() }
        }
    }
}

func chunks(_ texts: [(String, String)]) -> [SourceChunk] {
    texts.enumerated().map { i, t in
        SourceChunk(id: Int64(i + 1), document: t.0, section: "s", ordinal: i, text: t.1)
    }
}

@Suite struct GenerationTests {
    let sample = chunks([
        ("kb/a.md", "标准快递首重收费12元，续重每公斤收费3元。偏远地区另加5元。"),
        ("kb/a.md", "保价费率为声明价值的0.5%，最低收费1元。易碎品费率1%。"),
        ("kb/b.md", "冷链运输全程温度保持在2到8摄氏度之间。超温会自动报警。"),
        ("kb/c.md", "客服热线400-820-5566，每天8点到22点有人接听。"),
    ])

    func binding(_ teacher: any ChatModel, cache: ResponseCache?) -> ModelBinding {
        ModelBinding(
            model: CachingChatModel(base: teacher, cache: cache), provider: "fake",
            price: ModelPrice(input: 2, output: 8, currency: "CNY"))
    }

    @Test("every style, provenance per example, checkpoints per chunk; the calls the estimate counts")
    func generate() async throws {
        let s = try ScratchDirectory("tune-gen")
        defer { s.remove() }
        let teacher = FakeTeacher()
        var options = GenerationOptions()
        options.concurrency = 2
        let outcome = try await DatasetGenerator.run(
            chunks: sample, done: [], rawFile: s.child("raw.jsonl"), teacher: binding(teacher, cache: nil),
            options: options
        ) { _ in false }
        #expect(outcome.generated == 4 && outcome.failedChunks == 0)
        let store = try readCheckpoints(s.child("raw.jsonl"))
        #expect(store.map(\.chunk).sorted() == [1, 2, 3, 4])
        let examples = store.flatMap(\.examples)
        let styles = Set(examples.map(\.style))
        #expect(styles == [.factual, .colloquial, .crossLingual, .unanswerable, .comparison])
        // Chunks 1 and 2 share a document: one comparison over both.
        let comparison = try #require(examples.first { $0.style == .comparison })
        #expect(comparison.chunks == [1, 2] && comparison.documents == ["kb/a.md"])
        #expect(comparison.answer.contains("[1]") && comparison.answer.contains("[2]") == false)
        let factual = try #require(examples.first { $0.id == "c1-factual" })
        #expect(factual.answer == "标准快递首重收费12元，续重每公斤收费3元。 [1]")
        #expect(factual.teacher == "fake:teacher" && factual.promptVersion == TeacherPrompts.version)
        #expect(factual.chunkHashes == [sample[0].hash] && factual.section == "s" && factual.language == "zh")
        let refusal = try #require(examples.first { $0.id == "c3-unanswerable" })
        #expect(refusal.answer == "知识库中没有找到答案。")
        #expect(examples.first { $0.id == "c1-crosslingual" }?.language == "en")
        // howto was "" (no procedure): not a failure.
        #expect(outcome.failures.isEmpty)
        // The estimate counts the calls made: 4 question calls, 3 answers each, 1 comparison + its answer.
        let plan = DatasetGenerator.estimate(
            chunks: sample, styles: QuestionStyle.allCases, options: options, price: nil, isLocal: false)
        #expect(teacher.calls == 4 + 4 * 3 + 2)
        #expect(plan.calls == 4 + 4 * 4 + 2)  // at most: howto is asked for too
        #expect(plan.cost == nil)
        let priced = DatasetGenerator.estimate(
            chunks: sample, styles: QuestionStyle.allCases, options: options, price: ModelPrice(input: 2, output: 8),
            isLocal: false)
        #expect((priced.cost ?? 0) > 0)
    }

    @Test("malformed JSON, an empty answer, a refusal, the question echoed, <think> reasoning, a 1 MB chunk")
    func badTeacher() async throws {
        let s = try ScratchDirectory("tune-bad")
        defer { s.remove() }
        let bad = chunks([
            ("kb/m.md", "MALFORMED 这一段的老师不返回 JSON。"),
            ("kb/e.md", "EMPTY 这一段的老师返回空答案。"),
            ("kb/r.md", "REFUSE 这一段的老师拒绝回答。"),
            ("kb/x.md", "ECHO 这一段的老师把问题原样返回。"),
            ("kb/t.md", "THINK 这一段的老师先思考再回答。"),
            ("kb/big.md", String(repeating: "很长的段落。", count: 180_000)),
        ])
        let teacher = FakeTeacher()
        var options = GenerationOptions()
        options.styles = [.factual, .colloquial]
        let outcome = try await DatasetGenerator.run(
            chunks: bad, done: [], rawFile: s.child("raw.jsonl"), teacher: binding(teacher, cache: nil),
            options: options
        ) { _ in false }
        #expect(outcome.generated == 6)
        #expect(outcome.failures["malformed JSON from the teacher"] == 1)
        #expect(outcome.failures["empty answer"] == 2)
        #expect(outcome.failures["question echoed back"] == 2)
        let examples = try readCheckpoints(s.child("raw.jsonl")).flatMap(\.examples)
        // The refusal is kept for cleaning to drop (counted there as "refused").
        #expect(examples.filter { $0.documents == ["kb/r.md"] }.allSatisfy { $0.answer == "知识库中没有找到答案。" })
        let thought = try #require(examples.first { $0.documents == ["kb/t.md"] })
        #expect(thought.reasoning == "provider reasoning\n先读来源。")
        #expect(!thought.answer.contains("<think>") && thought.answer.hasSuffix("[1]"))
        // The 1 MB chunk went into the prompts cut to the cap.
        let longest = teacher.userPrompts.map(\.count).max() ?? 0
        #expect(longest < TeacherPrompts.maxChunkCharacters + 1000)
        let (cleaned, report) = await DatasetCleaner.clean(
            examples, chunks: Dictionary(uniqueKeysWithValues: bad.map { ($0.id, $0) }), options: CleaningOptions())
        #expect(report.dropped["refused"] == 2)
        #expect(cleaned.filter { $0.status == "kept" }.count == report.kept)
    }

    @Test("Ctrl-C midway, then resume: no call is made twice, and the result equals an uninterrupted run")
    func resume() async throws {
        let s = try ScratchDirectory("tune-resume")
        defer { s.remove() }
        let many = chunks(
            (0..<12).map { ("kb/d\($0 / 2).md", "第\($0)条：标准快递首重收费\($0 + 10)元，续重每公斤\($0)元。") })
        var options = GenerationOptions()
        options.concurrency = 3
        // The uninterrupted run, for reference.
        let reference = FakeTeacher()
        _ = try await DatasetGenerator.run(
            chunks: many, done: [], rawFile: s.child("ref.jsonl"), teacher: binding(reference, cache: nil),
            options: options
        ) { _ in false }
        // Interrupted: cancelled after a few chunks.
        let slow = FakeTeacher(delay: .milliseconds(20))
        let cache = try ResponseCache(file: s.child("cache.jsonl"))
        let rawFile = s.child("raw.jsonl")
        let task = Task {
            try await DatasetGenerator.run(
                chunks: many, done: [], rawFile: rawFile, teacher: binding(slow, cache: cache), options: options
            ) { _ in false }
        }
        while (try? readCheckpoints(rawFile).count) ?? 0 < 3 { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        _ = try? await task.value
        let firstCalls = slow.calls
        let done = Set(try readCheckpoints(rawFile).map(\.chunk))
        #expect(done.count >= 3 && done.count < 12)
        // Resume in a "new process": a new cache object over the same file, a new teacher.
        let again = FakeTeacher()
        let outcome = try await DatasetGenerator.run(
            chunks: many, done: done, rawFile: rawFile,
            teacher: binding(again, cache: try ResponseCache(file: s.child("cache.jsonl"))), options: options
        ) { _ in false }
        #expect(outcome.resumed == done.count && outcome.generated == 12 - done.count)
        // Calls completed before the interruption were replayed, not made again.
        #expect(firstCalls + again.calls <= reference.calls + 3 * 1)  // at most the calls in flight when cancelled
        // The remaining chunks needed exactly the uninterrupted run's other calls: made or replayed.
        let doneCalls = try readCheckpoints(rawFile).filter { done.contains($0.chunk) }.map(\.calls).reduce(0, +)
        #expect(again.calls + outcome.cachedCalls == reference.calls - doneCalls)
        let resumed = try readCheckpoints(rawFile).flatMap(\.examples).map { "\($0.id)|\($0.question)|\($0.answer)" }
        let whole = try readCheckpoints(s.child("ref.jsonl")).flatMap(\.examples).map {
            "\($0.id)|\($0.question)|\($0.answer)"
        }
        #expect(resumed.sorted() == whole.sorted())
    }

    @Test("the spending cap stops starting chunks once reached")
    func costCap() async throws {
        let s = try ScratchDirectory("tune-cap")
        defer { s.remove() }
        var options = GenerationOptions()
        options.concurrency = 1
        options.maxCost = 0.0005  // the first chunk's 6 calls cost 6 × (100 × 2 + 20 × 8) / 1e6 = 0.00216
        let outcome = try await DatasetGenerator.run(
            chunks: sample, done: [], rawFile: s.child("raw.jsonl"), teacher: binding(FakeTeacher(), cache: nil),
            options: options
        ) { _ in false }
        #expect(outcome.generated == 1 && outcome.stopped?.contains("cost cap") == true)
        #expect((outcome.spent ?? 0) > 0.0005)
    }

    @Test("chunk selection covers every document, caps per document, spreads, and round-robins a limit")
    func selection() {
        let docs: [[SourceChunk]] = (0..<5).map { d in
            (0..<(d == 0 ? 40 : 3)).map {
                SourceChunk(id: Int64(d * 100 + $0), document: "kb/d\(d).md", section: "", ordinal: $0, text: "x")
            }
        }
        let capped = ChunkSelection.select(docs, perDocument: 4, limit: nil, seed: 1)
        #expect(capped.filter { $0.document == "kb/d0.md" }.map(\.ordinal) == [0, 10, 20, 30])
        #expect(Set(capped.map(\.document)).count == 5 && capped.count == 4 + 4 * 3)
        let limited = ChunkSelection.select(docs, perDocument: 4, limit: 7, seed: 1)
        #expect(limited.count == 7 && Set(limited.map(\.document)).count == 5)
        let few = ChunkSelection.select(docs, perDocument: 4, limit: 3, seed: 1)
        #expect(few.count == 3 && Set(few.map(\.document)).count == 3)
    }
}

func readCheckpoints(_ file: URL) throws -> [ChunkCheckpoint] {
    let data = (try? Data(contentsOf: file)) ?? Data()
    return data.split(separator: 0x0A).compactMap { try? JSONDecoder().decode(ChunkCheckpoint.self, from: Data($0)) }
}
