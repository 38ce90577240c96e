public import WendaoCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a model wants a conversation written, recognised from its `tokenizer.chat_template` (a
/// Jinja template, which Wendao does not interpret: it recognises the family and writes the format
/// the family's model cards document).
///
/// Families:
/// - **ChatML** (`<|im_start|>role\n…<|im_end|>\n`): Qwen2, Qwen2.5, Qwen3, SmolLM2… A default
///   system prompt written in the template (SmolLM2's, Qwen2.5's) is used when the conversation
///   has none; Qwen3-style templates (`enable_thinking`) get an empty `<think>` block after the
///   assistant header unless thinking is asked for, and past answers lose their reasoning.
/// - **Llama 3** (`<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`, after
///   `<|begin_of_text|>`), with Llama 3.1/3.2's dated system block when the template has one.
/// - **Llama 2** (`<s>[INST] <<SYS>>\n…\n<</SYS>>\n\n… [/INST] … </s>`).
/// - **Zephyr** (`<|user|>\n…</s>\n`, TinyLlama-Chat).
///
/// A file without a template whose vocabulary has `<|im_start|>` and `<|im_end|>` is taken to be
/// ChatML (without a default system prompt): that is what such vocabularies are made for.
///
/// ```swift
/// let template = try ChatTemplate(gguf: file, tokenizer: tokenizer)
/// let prompt = template.tokens(for: [ChatMessage(.user, "首重多少钱？")])
/// ```
public struct ChatTemplate: Sendable {
    /// The template families Wendao writes.
    public enum Family: String, Sendable, Equatable {
        /// `<|im_start|>role\n…<|im_end|>\n`.
        case chatML = "chatml"
        /// `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`.
        case llama3
        /// `<s>[INST] … [/INST] … </s>`.
        case llama2
        /// `<|role|>\n…</s>\n`.
        case zephyr
    }

    /// The family.
    public let family: Family
    /// The system prompt the template writes when the conversation has none (SmolLM2's "You are a
    /// helpful AI assistant named SmolLM, trained by Hugging Face"), if any.
    public let defaultSystemPrompt: String?
    /// Whether the template is Qwen3's kind, with `<think>` blocks switched by `enable_thinking`.
    public let hasThinkingSwitch: Bool
    /// Whether the generation prompt opens a `<think>` block itself (QwQ, DeepSeek-R1 distills).
    public let opensThinking: Bool
    /// Whether reasoning (`…</think>`) is removed from earlier answers.
    public let dropsPastReasoning: Bool
    /// Llama 3.1/3.2's "Cutting Knowledge Date" line, when the template writes one.
    public let knowledgeCutoff: String?
    /// The date Llama 3.1/3.2's system block states ("07 Dec 2025"): today's local date, as
    /// llama.cpp writes it; set it for a fixed prompt. The block is only written when
    /// ``knowledgeCutoff`` is set.
    public var today: String
    /// The token texts that end an answer in this format (`<|im_end|>`, `<|eot_id|>`, `</s>`).
    public let stopTexts: [String]
    /// The tokens that end an answer: those of ``stopTexts`` and the tokenizer's end-of-generation
    /// tokens.
    public let stopTokens: Set<Int32>
    private let tokenizer: LLMTokenizer
    private let endOfTurnText: String
    private let bosText: String?

    /// The template of `gguf`, checked against `tokenizer`; errors name the model (`general.name`,
    /// else `file`).
    ///
    /// - Throws: `unsupported` when the template is missing or of no family Wendao writes, or when
    ///   the vocabulary lacks a token the format needs.
    public init(gguf: GGUFFile, tokenizer: LLMTokenizer, file: String? = nil) throws(WendaoError) {
        let name = gguf.metadata["general.name"]?.string ?? file ?? "the model"
        try self.init(template: gguf.metadata["tokenizer.chat_template"]?.string, tokenizer: tokenizer, modelName: name)
    }

    /// Recognises `template` (nil when the file has none) for a model named `modelName`.
    public init(template: String?, tokenizer: LLMTokenizer, modelName: String) throws(WendaoError) {
        self.tokenizer = tokenizer
        let family: Family
        if let t = template {
            if t.contains("<|im_start|>") && !t.contains("<|im_sep|>") && !t.contains("<end_of_utterance>") {
                family = .chatML
            } else if t.contains("<|start_header_id|>") && t.contains("<|end_header_id|>") {
                family = .llama3
            } else if t.contains("[INST]") && t.contains("<<SYS>>") {
                family = .llama2
            } else if t.contains("<|user|>") && t.contains("<|assistant|>") && !t.contains("<|end|>")
                && (t.contains("eos_token") || t.contains("</s>") || t.contains("<|endoftext|>"))
            {
                family = .zephyr
            } else {
                throw WendaoError(
                    .unsupported,
                    "\(modelName): chat template not supported (Wendao writes ChatML, Llama 3, Llama 2 and Zephyr conversations; this template is none of them)"
                )
            }
        } else if tokenizer.token(named: "<|im_start|>") != nil && tokenizer.token(named: "<|im_end|>") != nil {
            family = .chatML
        } else {
            throw WendaoError(
                .unsupported,
                "\(modelName): chat template not supported: the file has none (tokenizer.chat_template) and its vocabulary is not ChatML's"
            )
        }
        self.family = family
        let literals = template.map(JinjaLiterals.strings(in:)) ?? []
        var defaultSystem: String?
        var needed: [String]
        switch family {
        case .chatML:
            let prefix = "<|im_start|>system\n"
            for l in literals {
                guard let start = l.firstRange(of: prefix),
                    let end = l[start.upperBound...].firstRange(of: "<|im_end|>")
                else { continue }
                let text = String(l[start.upperBound..<end.lowerBound])
                if !text.isEmpty {
                    defaultSystem = text
                    break
                }
            }
            endOfTurnText = "<|im_end|>"
            bosText = nil
            needed = ["<|im_start|>", "<|im_end|>"]
        case .llama3:
            endOfTurnText = "<|eot_id|>"
            // The template writes `bos_token`: `<|begin_of_text|>` in Llama 3 vocabularies.
            bosText = tokenizer.bos.map(tokenizer.text(of:)) ?? "<|begin_of_text|>"
            needed = [bosText!, "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        case .llama2:
            endOfTurnText = tokenizer.eos.map(tokenizer.text(of:)) ?? "</s>"
            bosText = tokenizer.bos.map(tokenizer.text(of:)) ?? "<s>"
            needed = [bosText!, endOfTurnText]
        case .zephyr:
            let t = template ?? ""
            if t.contains("eos_token"), let eos = tokenizer.eos {
                endOfTurnText = tokenizer.text(of: eos)
            } else {
                endOfTurnText = t.contains("</s>") ? "</s>" : "<|endoftext|>"
            }
            bosText = nil
            needed = [endOfTurnText]
        }
        for token in needed where tokenizer.token(named: token) == nil {
            throw WendaoError(
                .unsupported,
                "\(modelName): the \(family.rawValue) chat format needs the token '\(token)', which the vocabulary lacks"
            )
        }
        defaultSystemPrompt = defaultSystem
        let t = template ?? ""
        hasThinkingSwitch = family == .chatML && t.contains("enable_thinking")
        opensThinking =
            family == .chatML && !hasThinkingSwitch && literals.contains { $0.hasSuffix("assistant\n<think>\n") }
        dropsPastReasoning = family == .chatML && t.contains("</think>")
        if family == .llama3, let cutoff = literals.lazy.compactMap(Self.knowledgeDate(in:)).first {
            knowledgeCutoff = cutoff
        } else {
            knowledgeCutoff = nil
        }
        today = Self.localDate()
        var stops = [endOfTurnText]
        if family == .llama3, tokenizer.token(named: "<|eom_id|>") != nil { stops.append("<|eom_id|>") }
        stopTexts = stops
        stopTokens = tokenizer.endOfGenerationTokens.union(stops.compactMap(tokenizer.token(named:)))
    }

    /// The prompt as text, as the model's template renders it (special tokens written out).
    ///
    /// - Parameters:
    ///   - addGenerationPrompt: end with the header of the assistant's turn.
    ///   - enableThinking: for Qwen3-style templates, let the model think first; otherwise the
    ///     answer starts after an empty `<think>` block.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true, enableThinking: Bool = false)
        -> String
    {
        parts(messages, addGenerationPrompt: addGenerationPrompt, enableThinking: enableThinking).map { part in
            switch part {
            case .text(let s), .control(let s): s
            }
        }.joined()
    }

    /// The prompt's tokens: ``render(_:addGenerationPrompt:enableThinking:)`` encoded with the
    /// format's markers as control tokens and the messages as text (a message that contains
    /// `<|im_end|>` cannot end its turn early). The BOS token is added when the format or the
    /// tokenizer wants one.
    public func tokens(for messages: [ChatMessage], addGenerationPrompt: Bool = true, enableThinking: Bool = false)
        -> [Int32]
    {
        let p = parts(messages, addGenerationPrompt: addGenerationPrompt, enableThinking: enableThinking)
        return tokenizer.encode(p, addBOS: bosText == nil ? nil : false)
    }

    /// The prompt as text and control tokens, in order.
    public func parts(_ messages: [ChatMessage], addGenerationPrompt: Bool = true, enableThinking: Bool = false)
        -> [PromptPart]
    {
        switch family {
        case .chatML: chatMLParts(messages, addGenerationPrompt, enableThinking)
        case .llama3: llama3Parts(messages, addGenerationPrompt)
        case .llama2: llama2Parts(messages)
        case .zephyr: zephyrParts(messages, addGenerationPrompt)
        }
    }

    private func chatMLParts(_ messages: [ChatMessage], _ addGenerationPrompt: Bool, _ enableThinking: Bool)
        -> [PromptPart]
    {
        var out: [PromptPart] = []
        func turn(_ role: String, _ content: String) {
            out += [.control("<|im_start|>"), .text(role + "\n" + content), .control("<|im_end|>"), .text("\n")]
        }
        if let d = defaultSystemPrompt, let first = messages.first, first.role != .system { turn("system", d) }
        // Qwen3 keeps the reasoning of answers given after the last question (tool-call steps).
        let lastQuestion = messages.lastIndex { $0.role == .user } ?? messages.count - 1
        for (i, m) in messages.enumerated() {
            guard m.role == .assistant, dropsPastReasoning, let split = Self.splitReasoning(m.content) else {
                turn(m.role.rawValue, m.content)
                continue
            }
            if hasThinkingSwitch && i > lastQuestion && (i == messages.count - 1 || !split.reasoning.isEmpty) {
                let reasoning = split.reasoning.trimmingNewlines()
                turn("assistant", "<think>\n" + reasoning + "\n</think>\n\n" + split.answer)
            } else {
                turn("assistant", split.answer)
            }
        }
        if addGenerationPrompt {
            out += [.control("<|im_start|>"), .text("assistant\n")]
            if hasThinkingSwitch && !enableThinking {
                out.append(.text("<think>\n\n</think>\n\n"))
            } else if opensThinking {
                out.append(.text("<think>\n"))
            }
        }
        return out
    }

    private func llama3Parts(_ messages: [ChatMessage], _ addGenerationPrompt: Bool) -> [PromptPart] {
        var out: [PromptPart] = [.control(bosText ?? "<|begin_of_text|>")]
        func turn(_ role: String, _ content: String) {
            out += [
                .control("<|start_header_id|>"), .text(role), .control("<|end_header_id|>"), .text("\n\n" + content),
                .control("<|eot_id|>"),
            ]
        }
        var rest = messages[...]
        if let cutoff = knowledgeCutoff {
            var system = ""
            if let first = messages.first, first.role == .system {
                system = first.content.trimmingPythonWhitespace()
                rest = messages.dropFirst()
            }
            turn("system", "Cutting Knowledge Date: \(cutoff)\nToday Date: \(today)\n\n" + system)
        }
        for m in rest { turn(m.role.rawValue, m.content.trimmingPythonWhitespace()) }
        if addGenerationPrompt {
            out += [.control("<|start_header_id|>"), .text("assistant"), .control("<|end_header_id|>"), .text("\n\n")]
        }
        return out
    }

    private func llama2Parts(_ messages: [ChatMessage]) -> [PromptPart] {
        var out: [PromptPart] = []
        var rest = messages[...]
        var system: String?
        if let first = messages.first, first.role == .system {
            system = first.content
            rest = messages.dropFirst()
        }
        for (i, m) in rest.enumerated() {
            var content = m.content
            if i == 0, let system { content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content }
            switch m.role {
            case .user, .system:
                out += [.control(bosText ?? "<s>"), .text("[INST] " + content.trimmingPythonWhitespace() + " [/INST]")]
            case .assistant:
                out += [.text(" " + content.trimmingPythonWhitespace() + " "), .control(endOfTurnText)]
            }
        }
        return out
    }

    private func zephyrParts(_ messages: [ChatMessage], _ addGenerationPrompt: Bool) -> [PromptPart] {
        var out: [PromptPart] = []
        for m in messages {
            out += [.text("<|\(m.role.rawValue)|>\n" + m.content), .control(endOfTurnText), .text("\n")]
        }
        if addGenerationPrompt { out.append(.text("<|assistant|>\n")) }
        return out
    }

    /// An answer's reasoning and the answer after `</think>` (Qwen3's split), when it has one.
    static func splitReasoning(_ content: String) -> (reasoning: String, answer: String)? {
        let scalars = Array(content.unicodeScalars)
        let close = Array("</think>".unicodeScalars)
        let ends = scalars.ranges(of: close)
        guard let first = ends.first, let last = ends.last else { return nil }
        var answer = scalars[last.upperBound...]
        while answer.first == "\n" { answer.removeFirst() }
        var reasoning = scalars[..<first.lowerBound]
        while reasoning.last == "\n" { reasoning.removeLast() }
        if let open = reasoning.ranges(of: Array("<think>".unicodeScalars)).last {
            reasoning = reasoning[open.upperBound...]
        }
        while reasoning.first == "\n" { reasoning.removeFirst() }
        return (String(String.UnicodeScalarView(reasoning)), String(String.UnicodeScalarView(answer)))
    }

    /// "December 2023" from a literal "Cutting Knowledge Date: December 2023\n".
    static func knowledgeDate(in literal: String) -> String? {
        guard let r = literal.firstRange(of: "Cutting Knowledge Date: ") else { return nil }
        let date = literal[r.upperBound...].prefix { $0 != "\n" }
        return date.isEmpty ? nil : String(date)
    }

    /// Today's local date as `strftime("%d %b %Y")` writes it ("07 Dec 2025").
    static func localDate() -> String {
        var now = time(nil)
        var parts = tm()
        guard localtime_r(&now, &parts) != nil else { return "26 Jul 2024" }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = parts.tm_mday < 10 ? "0\(parts.tm_mday)" : "\(parts.tm_mday)"
        return "\(day) \(months[Int(parts.tm_mon) % 12]) \(1900 + Int(parts.tm_year))"
    }
}

/// The string literals of a Jinja template (inside `{{ }}` and `{% %}`, with escapes resolved) and
/// its raw text between tags.
enum JinjaLiterals {
    static func strings(in template: String) -> [String] {
        var out: [String] = []
        let chars = Array(template.unicodeScalars)
        var i = 0
        var raw = String.UnicodeScalarView()
        func flushRaw() {
            if !raw.isEmpty { out.append(String(raw)) }
            raw = String.UnicodeScalarView()
        }
        while i < chars.count {
            let c = chars[i]
            if c == "{", i + 1 < chars.count, chars[i + 1] == "{" || chars[i + 1] == "%" || chars[i + 1] == "#" {
                flushRaw()
                let close: Unicode.Scalar = chars[i + 1] == "{" ? "}" : chars[i + 1] == "%" ? "%" : "#"
                let isComment = chars[i + 1] == "#"
                i += 2
                while i < chars.count {
                    let d = chars[i]
                    if d == close, i + 1 < chars.count, chars[i + 1] == "}" {
                        i += 2
                        break
                    }
                    if !isComment && (d == "'" || d == "\"") {
                        var literal = String.UnicodeScalarView()
                        i += 1
                        while i < chars.count, chars[i] != d {
                            if chars[i] == "\\", i + 1 < chars.count {
                                i += 1
                                switch chars[i] {
                                case "n": literal.append("\n")
                                case "t": literal.append("\t")
                                case "r": literal.append("\r")
                                default: literal.append(chars[i])
                                }
                            } else {
                                literal.append(chars[i])
                            }
                            i += 1
                        }
                        out.append(String(literal))
                    }
                    i += 1
                }
            } else {
                raw.append(c)
                i += 1
            }
        }
        flushRaw()
        return out
    }
}

extension String {
    /// Without the leading and trailing whitespace Python's `str.strip()` (Jinja's `trim`) removes.
    func trimmingPythonWhitespace() -> String {
        func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (0x1C...0x1F).contains(c.value) }
        return trimming(isSpace)
    }

    /// Without leading and trailing newlines (Python's `strip('\n')`).
    func trimmingNewlines() -> String { trimming { $0 == "\n" } }

    private func trimming(_ drop: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !drop($0) }) else { return "" }
        let last = scalars.lastIndex { !drop($0) }!
        return String(scalars[first...last])
    }
}
