public import Foundation
public import WendaoCore
import WendaoRAG

/// The trainer formats a dataset exports to.
public enum ExportFormat: String, Sendable, CaseIterable, Codable {
    /// OpenAI chat fine-tuning JSONL (`{"messages": […]}`), `train.jsonl` / `validation.jsonl`.
    case openai
    /// Alpaca JSON (`instruction`, `input`, `output`, `system`) with LLaMA-Factory's `dataset_info.json`.
    case alpaca
    /// ShareGPT JSON (`conversations` of `human`/`gpt`, `system`) with `dataset_info.json`.
    case sharegpt
    /// LLaMA-Factory's OpenAI-style ShareGPT (`messages` of `user`/`assistant`, roles declared by `tags`)
    /// with `dataset_info.json`: point `dataset_dir` at the folder.
    case llamafactory
    /// ms-swift JSONL (`{"messages": […]}`): `train.jsonl`, `val.jsonl`.
    case swift
    /// DashScope (Alibaba Cloud Bailian) fine-tuning JSONL: `{"messages": […]}` with system, user and
    /// assistant turns.
    case dashscope
    /// A spreadsheet for people (CSV, UTF-8 with BOM); cells that a spreadsheet would run as formulas are
    /// neutralised.
    case csv
}

/// Options of an export.
public struct ExportOptions: Sendable {
    /// The format.
    public var format: ExportFormat
    /// Put the source chunk(s) in the user turn, as Wendao's answers see them, and keep the answer's `[n]`
    /// citations (otherwise a closed-book question → answer, citations removed).
    public var withContext = false
    /// Put the teacher's reasoning before the answer as `<think>…</think>` (reasoning models).
    public var withReasoning = false
    /// The system message (nil: none, or with context the grounded instructions).
    public var system: String?
    /// Longest example in tokens (estimated); longer ones are left out and counted.
    public var maxTokens = 65_536
    /// The dataset's name (file names in `dataset_info.json`).
    public var name: String

    /// Options for `format`.
    public init(format: ExportFormat, name: String) {
        self.format = format
        self.name = name
    }
}

/// What an export wrote.
public struct ExportResult: Sendable, Codable {
    /// The format.
    public var format: String
    /// The folder.
    public var out: String
    /// Files written, with their example counts.
    public var files: [String: Int]
    /// Examples left out for being longer than the token limit.
    public var tooLong: Int
    /// Checks passed on reading the files back.
    public var validated: [String]

    enum CodingKeys: String, CodingKey { case format, out, files, tooLong = "too_long", validated }
}

/// Writes a dataset's kept examples in a trainer's format — one file per split, plus
/// `dataset_info.json` for LLaMA-Factory and the held-out test split as a Wendao test set
/// (`test-eval.jsonl`, for `wendao eval run`) — then reads every file back and checks it by its
/// consumer's rules (``ExportValidator``); a file that fails is an error naming the file, line and rule.
public enum DatasetExporter {
    /// Exports `examples` (the kept ones) into the folder `out`.
    public static func export(
        _ examples: [TuneExample], chunks: [Int64: SourceChunk], options: ExportOptions, out: URL
    ) throws(WendaoError) -> ExportResult {
        let kept = examples.filter { $0.status == "kept" && $0.review != "rejected" }
        guard !kept.isEmpty else {
            throw WendaoError(.invalidArgument, "dataset '\(options.name)' has no kept examples to export")
        }
        do {
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        } catch {
            throw WendaoError(.storage, "cannot create \(out.path): \(error.localizedDescription)")
        }
        var result = ExportResult(format: options.format.rawValue, out: out.path, files: [:], tooLong: 0, validated: [])
        var conversations: [String: [Conversation]] = [:]
        for e in kept {
            let c = conversation(e, chunks: chunks, options: options)
            let tokens = TokenEstimator.estimate(c.messages)
            if tokens > options.maxTokens {
                result.tooLong += 1
                continue
            }
            conversations[e.split ?? "train", default: []].append(c)
        }
        func write(_ name: String, _ data: Data) throws(WendaoError) {
            let file = out.appendingPathComponent(name)
            do { try data.write(to: file, options: .atomic) } catch {
                throw WendaoError(.storage, "cannot write \(file.path): \(error.localizedDescription)")
            }
        }
        let splits = DatasetSplitter.names.filter { !(conversations[$0] ?? []).isEmpty }
        var info: [String: Any] = [:]
        for split in splits {
            let list = conversations[split] ?? []
            let name: String
            let data: Data
            switch options.format {
            case .openai, .dashscope, .swift:
                name = (options.format == .swift && split == "validation" ? "val" : split) + ".jsonl"
                var d = Data()
                for c in list {
                    d.append(
                        Data(
                            try jsonLine([
                                "messages": c.messages.map { ["role": $0.role.rawValue, "content": $0.content] }
                            ]).utf8))
                    d.append(0x0A)
                }
                data = d
            case .alpaca:
                name = split + ".json"
                data = try json(
                    list.map { c -> [String: Any] in
                        var o: [String: Any] = ["instruction": c.user, "input": "", "output": c.assistant]
                        if let s = c.system { o["system"] = s }
                        return o
                    })
                var columns: [String: String] = ["prompt": "instruction", "query": "input", "response": "output"]
                if list.contains(where: { $0.system != nil }) { columns["system"] = "system" }
                info["\(options.name)_\(split)"] = ["file_name": name, "columns": columns] as [String: Any]
            case .sharegpt:
                name = split + ".json"
                data = try json(
                    list.map { c -> [String: Any] in
                        var o: [String: Any] = [
                            "conversations": [
                                ["from": "human", "value": c.user], ["from": "gpt", "value": c.assistant],
                            ]
                        ]
                        if let s = c.system { o["system"] = s }
                        return o
                    })
                var columns: [String: String] = ["messages": "conversations"]
                if list.contains(where: { $0.system != nil }) { columns["system"] = "system" }
                info["\(options.name)_\(split)"] =
                    ["file_name": name, "formatting": "sharegpt", "columns": columns] as [String: Any]
            case .llamafactory:
                name = split + ".json"
                data = try json(
                    list.map { c in ["messages": c.messages.map { ["role": $0.role.rawValue, "content": $0.content] }] }
                )
                info["\(options.name)_\(split)"] =
                    [
                        "file_name": name, "formatting": "sharegpt", "columns": ["messages": "messages"],
                        "tags": [
                            "role_tag": "role", "content_tag": "content", "user_tag": "user",
                            "assistant_tag": "assistant",
                            "system_tag": "system",
                        ],
                    ] as [String: Any]
            case .csv:
                name = split + ".csv"
                data = csv(list)
            }
            try write(name, data)
            result.files[name] = list.count
        }
        if [.alpaca, .sharegpt, .llamafactory].contains(options.format) {
            try write("dataset_info.json", try json(info, pretty: true))
            result.files["dataset_info.json"] = info.count
        }
        // The held-out test split as a Wendao test set.
        let test = kept.filter { $0.split == "test" }
        if !test.isEmpty {
            var d = Data()
            for e in test {
                var o: [String: Any] = [
                    "id": e.id, "question": e.question, "documents": e.isRefusalTarget ? [] : e.documents,
                    "answerable": !e.isRefusalTarget, "tags": ["tune", e.style.rawValue],
                ]
                if !e.isRefusalTarget { o["reference"] = e.answerWithoutCitations }
                d.append(Data(try jsonLine(o).utf8))
                d.append(0x0A)
            }
            try write("test-eval.jsonl", d)
            result.files["test-eval.jsonl"] = test.count
        }
        result.validated = try ExportValidator.validate(
            folder: out, format: options.format, maxTokens: options.maxTokens)
        return result
    }

    /// One example as a conversation.
    struct Conversation {
        var system: String?
        var user: String
        var assistant: String

        var messages: [ChatMessage] {
            (system.map { [ChatMessage(.system, $0)] } ?? []) + [
                ChatMessage(.user, user), ChatMessage(.assistant, assistant),
            ]
        }
    }

    static func conversation(_ e: TuneExample, chunks: [Int64: SourceChunk], options: ExportOptions) -> Conversation {
        var answer = options.withContext ? e.answer : e.answerWithoutCitations
        if options.withReasoning, let r = e.reasoning { answer = "<think>\n\(r)\n</think>\n\n" + answer }
        if options.withContext {
            let sources = e.chunks.compactMap { chunks[$0] }
            let blocks = sources.enumerated().map { TeacherPrompts.block($1, n: $0 + 1) }.joined(separator: "\n")
            let lang = AnswerLanguage.detect(e.question)
            let system =
                options.system
                ?? TeacherPrompts.answerSystem.replacingOccurrences(of: "{{language}}", with: lang.displayName)
                .replacingOccurrences(of: "{{not_found}}", with: lang.notFoundSentence)
                .replacingOccurrences(of: "You are the teacher: write", with: "Write")
            return Conversation(
                system: system, user: blocks + "\n<question>\n" + e.question + "\n</question>", assistant: answer)
        }
        return Conversation(system: options.system, user: e.question, assistant: answer)
    }

    static func jsonLine(_ o: Any) throws(WendaoError) -> String {
        do { return try TuneJSON.objectLine(o) } catch {
            throw WendaoError(.internal, "cannot encode an example: \(error)")
        }
    }

    static func json(_ o: Any, pretty: Bool = false) throws(WendaoError) -> Data {
        if !pretty {
            var d = Data(try jsonLine(o).utf8)
            d.append(0x0A)
            return d
        }
        do {
            var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
            if pretty { options.insert(.prettyPrinted) }
            var d = try JSONSerialization.data(withJSONObject: o, options: options)
            d.append(0x0A)
            return d
        } catch {
            throw WendaoError(.internal, "cannot encode the export: \(error)")
        }
    }

    /// A CSV cell: quoted, and neutralised when a spreadsheet would read it as a formula (`=`, `+`, `-`,
    /// `@`, tab or carriage return first: a `'` is put before it, as OWASP recommends).
    public static func csvCell(_ s: String) -> String {
        var v = s
        if let f = v.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠"].contains(f) {
            v = "'" + v
        }
        return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func csv(_ list: [Conversation]) -> Data {
        var s = "\u{FEFF}system,question,answer\r\n"
        for c in list { s += [c.system ?? "", c.user, c.assistant].map(csvCell).joined(separator: ",") + "\r\n" }
        return Data(s.utf8)
    }
}
