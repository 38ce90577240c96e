import Foundation
import WendaoCore

// JSON / JSON Lines → blocks. Objects inside arrays become one record each (title, text fields,
// then other fields as `key: value`); other objects give one block per text field. Walking is
// iterative; nesting deeper than 256 levels is refused before JSONSerialization sees the bytes.

enum JSONFormat {
    static let maxDepth = 256

    static let titleKeys = ["title", "name", "question", "q", "问题", "标题", "名称", "subject", "heading", "headline"]
    static let textKeys = [
        "text", "content", "body", "answer", "a", "description", "summary", "abstract", "details", "desc",
        "答案", "回答", "内容", "正文", "描述", "摘要", "说明",
    ]
    static let questionKeys: Set<String> = ["question", "q", "问题", "问"]
    static let answerKeys: Set<String> = ["answer", "a", "答案", "答", "回答", "解答"]

    static func parse(_ text: String) throws -> [Block] {
        let value = try parseValue(Data(text.utf8))
        var blocks: [Block] = []
        walk(value, inArray: false, into: &blocks)
        return blocks
    }

    static func parseLines(_ text: String) throws -> (blocks: [Block], warnings: [String]) {
        var blocks: [Block] = []
        var bad: [Int] = []
        var valid = 0
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            guard line.contains(where: { !$0.isWhitespace }) else { continue }
            guard let value = try? parseValue(Data(line.utf8)) else {
                bad.append(lineNumber)
                continue
            }
            valid += 1
            walk(value, inArray: true, into: &blocks)
        }
        if valid == 0, !bad.isEmpty {
            throw WendaoError(.unreadable, "no line is valid JSON (first bad line: \(bad[0]))")
        }
        var warnings = bad.prefix(20).map { "line \($0): invalid JSON" }
        if bad.count > 20 { warnings.append("\(bad.count - 20) more invalid JSON lines skipped") }
        return (blocks, warnings)
    }

    /// Parses one JSON value after checking its nesting depth on the bytes.
    static func parseValue(_ data: Data) throws -> Any {
        let depth = data.withUnsafeBytes { raw -> Int in
            var depth = 0
            var maxSeen = 0
            var inString = false
            var escaped = false
            for c in raw {
                if inString {
                    if escaped {
                        escaped = false
                    } else if c == 0x5C {
                        escaped = true
                    } else if c == 0x22 {
                        inString = false
                    }
                    continue
                }
                switch c {
                case 0x22: inString = true
                case 0x5B, 0x7B:
                    depth += 1
                    if depth > maxSeen {
                        maxSeen = depth
                        if maxSeen > maxDepth { return maxSeen }
                    }
                case 0x5D, 0x7D: depth -= 1
                default: break
                }
            }
            return maxSeen
        }
        if depth > maxDepth {
            throw WendaoError(.unreadable, "JSON nested deeper than \(maxDepth) levels")
        }
        do {
            return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw WendaoError(.unreadable, "invalid JSON")
        }
    }

    private struct Work {
        var value: Any
        var path: [String]
        var inArray: Bool
    }

    /// Walks the value iteratively (explicit stack) and appends blocks in document order.
    static func walk(_ root: Any, inArray: Bool, into blocks: inout [Block]) {
        var stack = [Work(value: root, path: [], inArray: inArray)]
        while let work = stack.popLast() {
            let path = work.path
            if let array = work.value as? [Any] {
                for element in array.reversed() {
                    stack.append(Work(value: element, path: path, inArray: true))
                }
                continue
            }
            if let object = work.value as? [String: Any] {
                var children: [Work] = []
                let title = objectTitle(object)
                let childPath = title.map { path + [$0] } ?? path
                let scalars = scalarFields(object)
                if work.inArray {
                    if let block = record(object, scalars: scalars, title: title, path: path) { blocks.append(block) }
                } else if !scalars.isEmpty {
                    var used = Set<String>()
                    if let t = titleKey(object) { used.insert(t) }
                    for key in textKeys {
                        guard let value = scalars[key], !value.isEmpty else { continue }
                        used.insert(key)
                        blocks.append(Block(kind: .paragraph, text: value, sectionPath: childPath))
                    }
                    let others = scalars.keys.sorted().filter { !used.contains($0) && !(scalars[$0] ?? "").isEmpty }
                    if !others.isEmpty {
                        let text = others.map { "\($0): \(scalars[$0] ?? "")" }.joined(separator: "\n")
                        blocks.append(Block(kind: .paragraph, text: text, sectionPath: childPath))
                    } else if used.isEmpty, let t = title {
                        blocks.append(Block(kind: .paragraph, text: t, sectionPath: childPath))
                    }
                }
                for key in object.keys.sorted() {
                    guard let value = object[key], isContainer(value), scalarArray(value) == nil else { continue }
                    children.append(Work(value: value, path: childPath, inArray: false))
                }
                stack.append(contentsOf: children.reversed())
                continue
            }
            if let s = scalarText(work.value) {
                let text = TextScan.collapse(s)
                if !text.isEmpty { blocks.append(Block(kind: .paragraph, text: text, sectionPath: path)) }
            }
        }
    }

    static func isContainer(_ v: Any) -> Bool { v is [Any] || v is [String: Any] }

    /// Scalar fields (strings, numbers, booleans, arrays of scalars) as display text, by key.
    static func scalarFields(_ object: [String: Any]) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in object {
            if let s = scalarText(value) {
                out[key] = TextScan.collapse(s)
            } else if let list = scalarArray(value) {
                out[key] = list
            }
        }
        return out
    }

    /// An array holding only scalars, joined with ", ".
    static func scalarArray(_ v: Any) -> String? {
        guard let array = v as? [Any], !array.isEmpty else { return nil }
        var parts: [String] = []
        for element in array {
            guard let s = scalarText(element) else { return nil }
            let t = TextScan.collapse(s)
            if !t.isEmpty { parts.append(t) }
        }
        return parts.joined(separator: ", ")
    }

    static let booleanType = type(of: NSNumber(value: true))

    static func scalarText(_ v: Any) -> String? {
        if let s = v as? String { return s }
        if let n = v as? NSNumber {
            if type(of: n) == booleanType { return n.boolValue ? "true" : "false" }
            return n.stringValue
        }
        return nil
    }

    static func titleKey(_ object: [String: Any]) -> String? {
        for key in titleKeys {
            if let v = object[key], let s = scalarText(v), !TextScan.collapse(s).isEmpty { return key }
        }
        return nil
    }

    static func objectTitle(_ object: [String: Any]) -> String? {
        guard let key = titleKey(object), let v = object[key], let s = scalarText(v) else { return nil }
        return TextScan.collapse(s)
    }

    /// One record for an object inside an array.
    static func record(_ object: [String: Any], scalars: [String: String], title: String?, path: [String]) -> Block? {
        var lines: [String] = []
        var used = Set<String>()
        let qKey =
            titleKeys.first { questionKeys.contains($0) && !(scalars[$0] ?? "").isEmpty }
            ?? questionKeys.sorted().first { !(scalars[$0] ?? "").isEmpty }
        let aKey =
            textKeys.first { answerKeys.contains($0) && !(scalars[$0] ?? "").isEmpty }
            ?? answerKeys.sorted().first { !(scalars[$0] ?? "").isEmpty }
        var sectionTitle = title
        if let q = qKey, let a = aKey, let question = scalars[q], let answer = scalars[a] {
            // FAQ entry: the same shape as a CSV FAQ row.
            let cjk = TextScan.containsCJK(question)
            lines.append((cjk ? "问：" : "Q: ") + question)
            lines.append((cjk ? "答：" : "A: ") + answer)
            used = [q, a]
            sectionTitle = question
            if let t = titleKey(object), t != q, let tv = scalars[t] {
                lines.insert(tv, at: 0)
                used.insert(t)
            }
        } else {
            if let t = titleKey(object), let tv = scalars[t] {
                lines.append(tv)
                used.insert(t)
            }
            for key in textKeys {
                guard !used.contains(key), let value = scalars[key], !value.isEmpty else { continue }
                lines.append(value)
                used.insert(key)
            }
        }
        for key in scalars.keys.sorted() where !used.contains(key) {
            guard let value = scalars[key], !value.isEmpty else { continue }
            lines.append("\(key): \(value)")
        }
        guard !lines.isEmpty else { return nil }
        let sectionPath = sectionTitle.map { path + [$0] } ?? path
        return Block(kind: .record, text: lines.joined(separator: "\n"), sectionPath: sectionPath)
    }
}
