public import Foundation
public import WendaoCore

/// Reads an exported folder back and checks every file by the rules of the program that consumes it:
///
/// - **OpenAI** (chat fine-tuning data preparation checks): every line a JSON object with only
///   `messages`; every message a known role (`system`, `user`, `assistant`, `tool`), a non-empty string
///   `content` and no unknown key; at least one assistant message, the last one; tokens per example at
///   most the limit; a training file of at least 10 examples.
/// - **DashScope** and **ms-swift**: the same message rules; after an optional system message, user and
///   assistant alternate, starting with the user.
/// - **Alpaca** / **ShareGPT** / **LLaMA-Factory**: `dataset_info.json` parses, names files that exist,
///   and its `columns` (and `tags`) are in every record; records are a JSON array; Alpaca's prompt and
///   response are non-empty strings; ShareGPT turns alternate user (odd positions) and assistant (even),
///   as LLaMA-Factory's converter requires.
/// - **CSV**: parses back with the header's column count on every row, and no cell starts with a formula
///   character.
public enum ExportValidator {
    /// Validates the folder; returns the checks passed, or throws naming the file, line and rule.
    public static func validate(folder: URL, format: ExportFormat, maxTokens: Int) throws(WendaoError) -> [String] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        var passed: [String] = []
        switch format {
        case .openai, .dashscope, .swift:
            for f in files where f.hasSuffix(".jsonl") && f != "test-eval.jsonl" {
                let n = try validateMessagesJSONL(
                    folder.appendingPathComponent(f), format: format, maxTokens: maxTokens)
                if format == .openai, f == "train.jsonl", n < 10 {
                    throw WendaoError(
                        .invalidArgument,
                        "\(folder.appendingPathComponent(f).path): OpenAI requires at least 10 training examples, the file has \(n)"
                    )
                }
                passed.append("\(f): \(n) examples, \(format.rawValue) message rules")
            }
        case .alpaca, .sharegpt, .llamafactory:
            passed += try validateDatasetInfo(folder: folder, maxTokens: maxTokens)
        case .csv:
            for f in files where f.hasSuffix(".csv") {
                let n = try validateCSV(folder.appendingPathComponent(f))
                passed.append("\(f): \(n) rows, no formula cells")
            }
        }
        if passed.isEmpty { throw WendaoError(.invalidArgument, "\(folder.path): no exported file to check") }
        return passed
    }

    static func fail(_ file: URL, _ line: Int?, _ why: String) -> WendaoError {
        WendaoError(.invalidArgument, "\(file.path)\(line.map { " line \($0)" } ?? ""): \(why)")
    }

    static func validateMessagesJSONL(_ file: URL, format: ExportFormat, maxTokens: Int) throws(WendaoError) -> Int {
        guard let data = try? Data(contentsOf: file) else { throw fail(file, nil, "cannot read") }
        var count = 0
        for (i, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty { continue }
            guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw fail(file, i + 1, "not a JSON object")
            }
            guard Set(o.keys).isSubset(of: ["messages", "tools", "parallel_tool_calls"]) else {
                throw fail(file, i + 1, "unknown key(s) \(o.keys.sorted().joined(separator: ", "))")
            }
            guard let messages = o["messages"] as? [[String: Any]], !messages.isEmpty else {
                throw fail(file, i + 1, "no messages list")
            }
            try checkMessages(
                messages.map { ($0["role"] as? String, $0["content"], Set($0.keys)) }, file: file, line: i + 1,
                alternate: format != .openai, maxTokens: maxTokens)
            count += 1
        }
        if count == 0 { throw fail(file, nil, "no examples") }
        return count
    }

    static func checkMessages(
        _ messages: [(role: String?, content: Any?, keys: Set<String>)], file: URL, line: Int, alternate: Bool,
        maxTokens: Int
    ) throws(WendaoError) {
        var chat: [ChatMessage] = []
        for (n, m) in messages.enumerated() {
            guard let role = m.role, ["system", "user", "assistant", "tool"].contains(role) else {
                throw fail(file, line, "message \(n + 1): role must be system, user, assistant or tool")
            }
            guard m.keys.isSubset(of: ["role", "content", "name", "weight", "tool_calls", "tool_call_id"]) else {
                throw fail(file, line, "message \(n + 1): unknown key")
            }
            guard let content = m.content as? String,
                !content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            else { throw fail(file, line, "message \(n + 1): content must be a non-empty string") }
            if role == "system" && n != 0 {
                throw fail(file, line, "message \(n + 1): a system message must come first")
            }
            chat.append(ChatMessage(ChatMessage.Role(rawValue: role == "tool" ? "user" : role) ?? .user, content))
        }
        guard messages.last?.role == "assistant" else {
            throw fail(file, line, "the last message must be the assistant's")
        }
        if alternate {
            let turns = messages.filter { $0.role != "system" }.map { $0.role ?? "" }
            for (k, r) in turns.enumerated() where r != (k % 2 == 0 ? "user" : "assistant") {
                throw fail(file, line, "user and assistant must alternate, starting with the user")
            }
        }
        let tokens = TokenEstimator.estimate(chat)
        if tokens > maxTokens { throw fail(file, line, "\(tokens) tokens, more than the limit of \(maxTokens)") }
    }

    static func validateDatasetInfo(folder: URL, maxTokens: Int) throws(WendaoError) -> [String] {
        let infoFile = folder.appendingPathComponent("dataset_info.json")
        guard let data = try? Data(contentsOf: infoFile),
            let info = try? JSONSerialization.jsonObject(with: data) as? [String: Any], !info.isEmpty
        else { throw fail(infoFile, nil, "missing, not JSON or empty") }
        var passed = ["dataset_info.json: \(info.count) datasets"]
        for (name, value) in info.sorted(by: { $0.key < $1.key }) {
            guard let entry = value as? [String: Any], let fileName = entry["file_name"] as? String else {
                throw fail(infoFile, nil, "dataset '\(name)' has no file_name")
            }
            let file = folder.appendingPathComponent(fileName)
            guard let d = try? Data(contentsOf: file) else {
                throw fail(infoFile, nil, "'\(name)': \(fileName) does not exist")
            }
            guard let records = try? JSONSerialization.jsonObject(with: d) as? [[String: Any]], !records.isEmpty else {
                throw fail(file, nil, "not a non-empty JSON array of objects")
            }
            let formatting = entry["formatting"] as? String ?? "alpaca"
            let columns = entry["columns"] as? [String: String] ?? [:]
            for (i, r) in records.enumerated() {
                let line = i + 1
                if let s = columns["system"], r[s] != nil, !(r[s] is String) {
                    throw fail(file, line, "record \(line): system must be a string")
                }
                if formatting == "alpaca" {
                    for key in ["prompt", "response"] {
                        let column = columns[key] ?? (key == "prompt" ? "instruction" : "output")
                        guard let v = r[column] as? String, !v.isEmpty else {
                            throw fail(file, line, "record \(line): '\(column)' (\(key)) must be a non-empty string")
                        }
                    }
                    if let q = columns["query"], r[q] != nil, !(r[q] is String) {
                        throw fail(file, line, "record \(line): '\(q)' must be a string")
                    }
                    let chat = [
                        ChatMessage(.system, r[columns["system"] ?? "system"] as? String ?? ""),
                        ChatMessage(.user, r[columns["prompt"] ?? "instruction"] as? String ?? ""),
                        ChatMessage(.assistant, r[columns["response"] ?? "output"] as? String ?? ""),
                    ]
                    if TokenEstimator.estimate(chat) > maxTokens {
                        throw fail(file, line, "longer than \(maxTokens) tokens")
                    }
                } else if formatting == "sharegpt" {
                    let tags = entry["tags"] as? [String: String] ?? [:]
                    let roleTag = tags["role_tag"] ?? "from"
                    let contentTag = tags["content_tag"] ?? "value"
                    let user = tags["user_tag"] ?? "human"
                    let assistant = tags["assistant_tag"] ?? "gpt"
                    let system = tags["system_tag"]
                    guard let turns = r[columns["messages"] ?? "conversations"] as? [[String: Any]], !turns.isEmpty
                    else {
                        throw fail(file, line, "record \(line): no '\(columns["messages"] ?? "conversations")' list")
                    }
                    var body = turns
                    if let system, (body.first?[roleTag] as? String) == system { body.removeFirst() }
                    guard body.count % 2 == 0 else {
                        throw fail(file, line, "record \(line): an odd number of turns (LLaMA-Factory drops it)")
                    }
                    var chat: [ChatMessage] = []
                    for (k, t) in body.enumerated() {
                        let want = k % 2 == 0 ? user : assistant
                        guard (t[roleTag] as? String) == want else {
                            throw fail(file, line, "record \(line): turn \(k + 1) must be '\(want)' (\(roleTag))")
                        }
                        guard let c = t[contentTag] as? String, !c.isEmpty else {
                            throw fail(file, line, "record \(line): turn \(k + 1) has no '\(contentTag)'")
                        }
                        chat.append(ChatMessage(k % 2 == 0 ? .user : .assistant, c))
                    }
                    if TokenEstimator.estimate(chat) > maxTokens {
                        throw fail(file, line, "longer than \(maxTokens) tokens")
                    }
                } else {
                    throw fail(infoFile, nil, "'\(name)': unknown formatting '\(formatting)'")
                }
            }
            passed.append("\(fileName): \(records.count) records, LLaMA-Factory \(formatting) rules")
        }
        return passed
    }

    /// Parses CSV (RFC 4180 quoting) into rows.
    public static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var cell = ""
        var quoted = false
        var chars = Array(text.unicodeScalars)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" {
                        cell.unicodeScalars.append("\"")
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    cell.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(cell)
                cell = ""
            } else if c == "\r" || c == "\n" {
                if c == "\r" && i + 1 < chars.count && chars[i + 1] == "\n" { i += 1 }
                row.append(cell)
                rows.append(row)
                row = []
                cell = ""
            } else {
                cell.unicodeScalars.append(c)
            }
            i += 1
        }
        if !cell.isEmpty || !row.isEmpty {
            row.append(cell)
            rows.append(row)
        }
        return rows
    }

    static func validateCSV(_ file: URL) throws(WendaoError) -> Int {
        guard let data = try? Data(contentsOf: file), let text = String(data: data, encoding: .utf8) else {
            throw fail(file, nil, "not UTF-8")
        }
        let rows = parseCSV(text)
        guard let header = rows.first, rows.count > 1 else { throw fail(file, nil, "no rows") }
        for (i, r) in rows.enumerated() {
            guard r.count == header.count else {
                throw fail(file, i + 1, "\(r.count) cells, the header has \(header.count)")
            }
            for c in r {
                if let f = c.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠"].contains(f) {
                    throw fail(file, i + 1, "a cell starts with '\(f)' (a spreadsheet would run it as a formula)")
                }
            }
        }
        return rows.count - 1
    }
}
