import ArgumentParser
import Foundation
import Synchronization
import WendaoCore
import WendaoEval
import WendaoTune

#if canImport(Glibc)
    import Glibc
#endif

extension BenchCommand {
    /// `wendao bench tune`: the fine-tuning data studio's three figures of issue 19 — generation against a
    /// fake teacher with a fixed latency (versus the ideal time), MinHash dedupe and export of synthetic
    /// examples — printed as JSON. Not a test: nothing is asserted.
    struct Tune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tune",
            abstract: "Fine-tuning data studio: generation vs the ideal time, dedupe and export of N examples (JSON).",
            discussion: """
                generation: --chunks synthetic chunks (20 per document) through DatasetGenerator with an in-process \
                fake teacher that answers every call after --latency-ms (questions as JSON, answers citing [1]), \
                --concurrency chunks at once, checkpoints written to a temporary raw.jsonl; the ideal time is \
                calls × latency ÷ concurrency (every worker always waiting on a call). dedupe: --examples \
                synthetic questions (one in ten a near-duplicate of an earlier one) through the MinHash \
                deduplicator of `tune dataset clean` (random customer-service wording; one in ten a near-duplicate); peak RSS is the process's (getrusage). export: --examples \
                kept examples over 1,000 documents exported as --format and read back by the validator. \
                --skip generation,dedupe,export leaves parts out.
                """)
        @Option(help: "Chunks through generation.") var chunks = 10_000
        @Option(help: "The fake teacher's latency per call, in milliseconds.") var latencyMs = 50
        @Option(help: "Chunks generated at once.") var concurrency = 8
        @Option(help: "Question styles of the generation run.") var styles = "factual,colloquial"
        @Option(help: "Examples for dedupe and export.") var examples = 100_000
        @Option(help: "Export format.") var format = "openai"
        @Option(help: "Parts to leave out (generation, dedupe, export).") var skip = ""

        func run() async throws {
            guard chunks >= 1, examples >= 10, concurrency >= 1, latencyMs >= 0 else {
                throw WendaoError(
                    .invalidArgument, "--chunks, --concurrency must be at least 1, --examples at least 10")
            }
            guard let exportFormat = ExportFormat(rawValue: format) else {
                throw WendaoError(.invalidArgument, "unknown format '\(format)'")
            }
            let skipped = Set(skip.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            let styleList = try QuestionStyle.parseList(styles)
            let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("wendao-bench-tune-\(UUID())")
            try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: tmp) }
            var out: [String: Any] = [
                "build": Self.build, "cores": ProcessInfo.processInfo.activeProcessorCount,
            ]
            if !skipped.contains("generation") {
                out["generation"] = try await generation(styles: styleList, folder: tmp)
            }
            let synthetic = Self.examples(examples)
            if !skipped.contains("dedupe") { out["dedupe"] = dedupe(synthetic) }
            if !skipped.contains("export") {
                out["export"] = try export(synthetic, format: exportFormat, folder: tmp.appendingPathComponent("out"))
            }
            out["peak_rss_mb"] = Self.peakRSSMegabytes()
            let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys, .prettyPrinted])
            Output.line(String(decoding: data, as: UTF8.self))
        }

        static var build: String {
            #if DEBUG
                "debug"
            #else
                "release"
            #endif
        }

        func generation(styles: [QuestionStyle], folder: URL) async throws -> [String: Any] {
            var list: [SourceChunk] = []
            list.reserveCapacity(chunks)
            for i in 0..<chunks {
                let doc = i / 20
                list.append(
                    SourceChunk(
                        id: Int64(i + 1), document: "docs/d\(doc).md", section: "第\(i % 20)节", ordinal: i % 20,
                        text: "第\(doc)号文件第\(i % 20)节：标准快递首重\(i % 9 + 1)公斤收费\(i % 30 + 10)元，续重每公斤收费\(i % 5 + 2)元。"
                            + "偏远地区每票另加\(i % 7 + 3)元，办理需携带身份证。"))
            }
            let teacher = BenchTeacher(latency: .milliseconds(latencyMs))
            var options = GenerationOptions()
            options.styles = styles
            options.concurrency = concurrency
            let started = ContinuousClock.now
            let outcome = try await DatasetGenerator.run(
                chunks: list, done: [], rawFile: folder.appendingPathComponent("raw.jsonl"),
                teacher: ModelBinding(model: teacher, provider: "bench", price: nil), options: options
            ) { _ in false }
            let seconds = Self.seconds(ContinuousClock.now - started)
            let calls = teacher.calls.load(ordering: .relaxed)
            let ideal = Double(calls) * Double(latencyMs) / 1000 / Double(concurrency)
            return [
                "chunks": chunks, "styles": styles.map(\.rawValue), "latency_ms": latencyMs, "concurrency": concurrency,
                "calls": calls, "examples": outcome.examples, "failed_chunks": outcome.failedChunks,
                "seconds": Self.rounded(seconds), "ideal_seconds": Self.rounded(ideal),
                "ratio_to_ideal": Self.rounded(ideal > 0 ? seconds / ideal : 0),
            ]
        }

        func dedupe(_ list: [TuneExample]) -> [String: Any] {
            let before = Self.peakRSSMegabytes()
            let started = ContinuousClock.now
            var d = MinHashDeduplicator(threshold: 0.8)
            var duplicates = 0
            for e in list where d.isDuplicate(e.question) != nil { duplicates += 1 }
            let seconds = Self.seconds(ContinuousClock.now - started)
            return [
                "examples": list.count, "duplicates": duplicates, "planted_duplicates": list.count / 10,
                "seconds": Self.rounded(seconds),
                "per_second": Int(Double(list.count) / max(seconds, 1e-9)), "peak_rss_mb_before": before,
                "peak_rss_mb_after": Self.peakRSSMegabytes(),
            ]
        }

        func export(_ list: [TuneExample], format: ExportFormat, folder: URL) throws -> [String: Any] {
            let started = ContinuousClock.now
            let result = try DatasetExporter.export(
                list, chunks: [:], options: ExportOptions(format: format, name: "bench"), out: folder)
            let seconds = Self.seconds(ContinuousClock.now - started)
            let bytes = result.files.keys.reduce(0) { sum, name in
                let size =
                    (try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path))?[
                        .size] as? Int
                return sum + (size ?? 0)
            }
            return [
                "examples": list.count, "format": format.rawValue, "files": result.files,
                "seconds": Self.rounded(seconds), "megabytes": Self.rounded(Double(bytes) / 1_048_576),
            ]
        }

        /// `n` kept examples over 1,000 documents, split 80/10/10 by document. Questions are 12–20 characters
        /// drawn (seeded) from a customer-service vocabulary, so unrelated questions share few 5-grams, as
        /// real ones do; every tenth is a near-duplicate of the one before (a particle added).
        static func examples(_ n: Int) -> [TuneExample] {
            let vocabulary = Array(
                "快递包裹运费首重续重保价理赔签收派送网点冷链温度时效投诉退货换货地址电话预约上门取件仓库海关关税国际偏远地区周末节假日会员积分优惠券发票退款赔付声明价值易碎品文件证件身份核实多少怎么哪里什么时候能否需要")
            let styles: [QuestionStyle] = [.factual, .howTo, .colloquial, .crossLingual]
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            func next() -> Int {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Int(truncatingIfNeeded: state >> 33)
            }
            var out: [TuneExample] = []
            out.reserveCapacity(n)
            var previous = ""
            for i in 0..<n {
                let doc = i % 1000
                var q: String
                if i % 10 == 9 {
                    q = previous.dropLast() + "呢？"
                } else {
                    q = String((0..<(12 + next() % 9)).map { _ in vocabulary[next() % vocabulary.count] }) + "？"
                }
                previous = q
                var e = TuneExample(
                    id: "c\(i)-\(styles[i % 4].rawValue)", question: q,
                    answer: "标准快递首重\(i % 9 + 1)公斤收费\(i % 30 + 10)元，续重每公斤\(i % 5 + 2)元 [1]。", reasoning: nil,
                    style: styles[i % 4], language: "zh", chunks: [Int64(i)], chunkHashes: ["h\(i)"],
                    documents: ["docs/d\(doc).md"], section: "s", teacher: "bench:teacher", promptVersion: "bench",
                    createdAt: "2026-12-07T00:00:00Z")
                e.status = "kept"
                e.split = doc % 10 == 0 ? "test" : doc % 10 == 1 ? "validation" : "train"
                out.append(e)
            }
            return out
        }

        static func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }

        static func rounded(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

        /// The process's peak resident set so far, in MB (`getrusage`, Linux reports kilobytes).
        static func peakRSSMegabytes() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return rounded(Double(usage.ru_maxrss) / 1024)
        }
    }
}

/// The benchmark's teacher: every call answers after a fixed latency — the questions as the JSON object the
/// question prompt asks for, an answer as the passage's first sentence citing it, a comparison question
/// for two passages. Deterministic, no network.
final class BenchTeacher: ChatModel {
    let latency: Duration
    /// Calls answered so far.
    let calls = Atomic<Int>(0)

    init(latency: Duration) { self.latency = latency }

    var id: String { "bench:teacher" }
    var contextWindow: Int { 32_768 }

    func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error> {
        let latency = self.latency
        calls.add(1, ordering: .relaxed)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await Task.sleep(for: latency)
                    let reply = Self.reply(messages)
                    continuation.yield(.text(reply))
                    continuation.yield(.usage(TokenUsage(promptTokens: 400, completionTokens: reply.count / 2 + 1)))
                    continuation.yield(.finish("stop"))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func reply(_ messages: [ChatMessage]) -> String {
        let system = messages.first { $0.role == .system }?.content ?? ""
        let user = messages.last?.content ?? ""
        let passage = Self.firstSource(user)
        let sentence = String(passage.prefix { $0 != "。" }) + "。"
        if system.contains("compares or relates") {
            return #"{"question": "这两段说的收费有什么不同？"}"#
        }
        if system.contains("You write training questions") {
            let asked = system.components(separatedBy: "exactly these keys:").last ?? ""
            let keys = QuestionStyle.allCases.filter { asked.contains("\"\($0.rawValue)\"") }
            let fields = keys.map { "\"\($0.rawValue)\": \"关于「\(sentence.prefix(12))」的\($0.rawValue)问题是什么？\"" }
            return "{" + fields.joined(separator: ", ") + "}"
        }
        return sentence + " [1]"
    }

    /// The text of the first `<source …>` block of `prompt`.
    static func firstSource(_ prompt: String) -> String {
        guard let open = prompt.range(of: "<source"),
            let start = prompt.range(of: ">", range: open.upperBound..<prompt.endIndex),
            let end = prompt.range(of: "</source>", range: start.upperBound..<prompt.endIndex)
        else { return "" }
        return prompt[start.upperBound..<end.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
