import Foundation
import Testing
import WendaoCore
import WendaoEval
import WendaoTestSupport
@testable import WendaoTune

@Suite struct ExportTests {
    /// 30 kept examples over 10 documents (split by document), one dropped, one with reasoning and a
    /// formula-like answer.
    func dataset() -> ([TuneExample], [Int64: SourceChunk]) {
        var examples: [TuneExample] = []
        var chunks: [Int64: SourceChunk] = [:]
        for d in 0..<10 {
            chunks[Int64(d)] = SourceChunk(
                id: Int64(d), document: "kb/d\(d).md", section: "s", ordinal: 0, text: "第\(d)条：运费为\(d + 10)元。")
            for (k, style) in [QuestionStyle.factual, .colloquial, .unanswerable].enumerated() {
                var e = example(
                    "c\(d)-\(style.rawValue)", "第\(d)条的运费是多少\(k)？",
                    style == .unanswerable ? "知识库中没有找到答案。" : "第\(d)条：运费为\(d + 10)元。 [1]", style: style,
                    chunk: Int64(d))
                e.status = "kept"
                examples.append(e)
            }
        }
        examples[0].reasoning = "先看第0条。"
        examples[1].answer = "=HYPERLINK(\"http://x\") [1]"
        var dropped = example("gone", "被丢弃的问题？", "答案")
        dropped.status = "dropped"
        examples.append(dropped)
        DatasetSplitter.assign(&examples, ratios: [0.6, 0.2, 0.2], seed: 5)
        return (examples, chunks)
    }

    @Test("every format is written and read back by its consumer's rules", arguments: ExportFormat.allCases)
    func formats(format: ExportFormat) throws {
        let s = try ScratchDirectory("export")
        defer { s.remove() }
        let (examples, chunks) = dataset()
        let result = try DatasetExporter.export(
            examples, chunks: chunks, options: ExportOptions(format: format, name: "demo"), out: s.child("out"))
        let kept = examples.filter { $0.status == "kept" }
        let counted = result.files.filter { !["dataset_info.json", "test-eval.jsonl"].contains($0.key) }.values.reduce(
            0, +)
        #expect(counted == kept.count)
        #expect(!result.validated.isEmpty)
        // The held-out test split as a Wendao test set.
        let test = try TestSetReader.read(s.child("out/test-eval.jsonl"))
        #expect(test.count == kept.filter { $0.split == "test" }.count)
        #expect(test.contains { !$0.answerable })
        switch format {
        case .openai, .dashscope, .swift:
            let text = try String(contentsOf: s.child("out/train.jsonl"), encoding: .utf8)
            let first = try #require(
                try JSONSerialization.jsonObject(with: Data(text.split(separator: "\n")[0].utf8)) as? [String: Any])
            let messages = try #require(first["messages"] as? [[String: String]])
            #expect(messages.map { $0["role"]! } == ["user", "assistant"])
            // Closed-book: citations removed.
            #expect(!messages[1]["content"]!.contains("[1]"))
            if format == .swift {
                #expect(FileManager.default.fileExists(atPath: s.child("out/val.jsonl").path))
            }
        case .alpaca, .sharegpt, .llamafactory:
            let info = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: s.child("out/dataset_info.json")))
                    as? [String: Any])
            #expect(Set(info.keys) == ["demo_train", "demo_validation", "demo_test"])
        case .csv:
            let rows = ExportValidator.parseCSV(try String(contentsOf: s.child("out/train.csv"), encoding: .utf8))
            #expect(rows[0] == ["system", "question", "answer"])
            // The formula-like answer was neutralised (if it landed in train).
            #expect(!rows.dropFirst().contains { $0[2].hasPrefix("=") })
        }
    }

    @Test("with context: the chunk in the user turn, citations kept; reasoning as <think>; a system message")
    func context() throws {
        let s = try ScratchDirectory("export-ctx")
        defer { s.remove() }
        let (examples, chunks) = dataset()
        var options = ExportOptions(format: .openai, name: "demo")
        options.withContext = true
        options.withReasoning = true
        _ = try DatasetExporter.export(examples, chunks: chunks, options: options, out: s.child("out"))
        let all = try DatasetSplitter.names.flatMap { split -> [[String: Any]] in
            guard let text = try? String(contentsOf: s.child("out/\(split).jsonl"), encoding: .utf8) else { return [] }
            return try text.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
        #expect(all.count == 30)
        let messages = all.compactMap { $0["messages"] as? [[String: String]] }
        #expect(messages.allSatisfy { $0.count == 3 && $0[0]["role"] == "system" })
        #expect(
            messages.contains { $0[1]["content"]!.contains("<source n=\"1\"") && $0[2]["content"]!.contains("[1]") })
        #expect(messages.contains { $0[2]["content"]!.hasPrefix("<think>\n先看第0条。\n</think>") })
    }

    @Test("the validator rejects what consumers reject, naming file and line")
    func validatorRejects() throws {
        let s = try ScratchDirectory("export-bad")
        defer { s.remove() }
        let good = #"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}"#
        func check(_ line: String, _ format: ExportFormat = .openai, count: Int = 12) throws -> String? {
            let dir = s.child("case-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let lines = [line] + Array(repeating: good, count: count - 1)
            try Data(lines.joined(separator: "\n").utf8).write(to: dir.appendingPathComponent("train.jsonl"))
            do {
                _ = try ExportValidator.validate(folder: dir, format: format, maxTokens: 100)
                return nil
            } catch let e {
                return e.message
            }
        }
        #expect(try check(good) == nil)
        #expect(
            try check(#"{"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}"#)?
                .contains("line 1: message 1: content must be a non-empty string") == true)
        #expect(try check(#"{"messages": [{"role": "bot", "content": "q"}]}"#)?.contains("role must be") == true)
        #expect(try check(#"{"messages": [{"role": "user", "content": "q"}]}"#)?.contains("last message") == true)
        #expect(try check(#"{"prompt": "q", "completion": "a"}"#)?.contains("unknown key") == true)
        #expect(try check("not json")?.contains("not a JSON object") == true)
        #expect(try check(good, count: 5)?.contains("at least 10 training examples") == true)
        let long =
            #"{"messages": [{"role": "user", "content": "\#(String(repeating: "长", count: 500))"}, {"role": "assistant", "content": "a"}]}"#
        #expect(try check(long)?.contains("more than the limit of 100") == true)
        // ms-swift: user and assistant alternate.
        #expect(
            try check(
                #"{"messages": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "a"}]}"#, .swift
            )?
            .contains("alternate") == true)
        // LLaMA-Factory: a dataset_info.json naming a missing file; turns out of order.
        let lf = s.child("lf")
        try FileManager.default.createDirectory(at: lf, withIntermediateDirectories: true)
        try Data(#"{"d": {"file_name": "missing.json"}}"#.utf8).write(
            to: lf.appendingPathComponent("dataset_info.json"))
        #expect(throws: WendaoError.self) {
            _ = try ExportValidator.validate(folder: lf, format: .alpaca, maxTokens: 100)
        }
        try Data(
            #"{"d": {"file_name": "d.json", "formatting": "sharegpt", "columns": {"messages": "conversations"}}}"#.utf8
        )
        .write(to: lf.appendingPathComponent("dataset_info.json"))
        try Data(#"[{"conversations": [{"from": "gpt", "value": "a"}, {"from": "human", "value": "q"}]}]"#.utf8)
            .write(to: lf.appendingPathComponent("d.json"))
        let e = try #require(
            thrownError { _ = try ExportValidator.validate(folder: lf, format: .sharegpt, maxTokens: 100) })
        #expect(e.message.contains("d.json line 1") && e.message.contains("must be 'human'"))
        // CSV cells are neutralised.
        #expect(DatasetExporter.csvCell("=1+2") == "\"'=1+2\"")
        #expect(DatasetExporter.csvCell("@SUM(A1)") == "\"'@SUM(A1)\"")
        #expect(DatasetExporter.csvCell("-5") == "\"'-5\"" && DatasetExporter.csvCell("正常") == "\"正常\"")
        #expect(DatasetExporter.csvCell("say \"hi\"") == "\"say \"\"hi\"\"\"")
    }
}

func thrownError(_ body: () throws -> Void) -> WendaoError? {
    do {
        try body()
        return nil
    } catch let e as WendaoError {
        return e
    } catch {
        return nil
    }
}

/// The export's own JSON writer reads back as the same value JSONSerialization wrote, for every
/// kind of value and text the export holds (quotes, backslashes, control characters, Chinese,
/// emoji, slashes, nested arrays and dictionaries).
@Suite struct TuneJSONWriterTests {
    @Test func writesWhatJSONSerializationReadsBack() throws {
        let value: [String: Any] = [
            "question": "运费怎么算？\"quoted\" back\\slash\ttab\nline\u{01}\u{1F} 😀 a/b",
            "answerable": true, "refusal": false, "count": 42, "big": Int64(9_007_199_254_740_993),
            "ratio": 0.125, "whole": 3.0, "none": NSNull(),
            "messages": [["role": "user", "content": "包裹"], ["role": "assistant", "content": "[1] 36 元"]],
            "tags": ["tune", "factual"], "empty": [String](), "nested": ["b": ["z": 1, "a": [1, 2]], "a": "x"],
        ]
        let line = try TuneJSON.objectLine(value)
        #expect(!line.contains("\n") && !line.contains("\\/"))
        let ours = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? NSDictionary
        let reference = try JSONSerialization.jsonObject(
            with: JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) as? NSDictionary
        #expect(ours != nil && ours == reference)
        // Keys sorted at every level, as `.sortedKeys` writes them.
        #expect(line.hasPrefix("{\"answerable\":true,\"big\":9007199254740993,\"count\":42,\"empty\":[]"))
        #expect(line.contains("\"nested\":{\"a\":\"x\",\"b\":{\"a\":[1,2],\"z\":1}}"))
        #expect(line.contains("\\u0001") && line.contains("\\u001f") && line.contains("\\t"))
        #expect(throws: WendaoError.self) { try TuneJSON.objectLine(["x": Double.nan]) }
        #expect(throws: WendaoError.self) { try TuneJSON.objectLine(["x": Date()]) }
    }
}
