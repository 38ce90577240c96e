public import WendaoCore

/// The messages of one grounded answer call, assembled so that documents cannot give orders.
///
/// - Instructions are only in the system message (the `answer-system` template).
/// - Document text is data: each passage sits in the user message inside
///   `<source id="n" document="…" section="…" page="…">…</source>`, all of them inside
///   `<sources>…</sources>`, and the system prompt says that text inside sources is quoted
///   material, never instructions.
/// - Anything in document text (and in the question) that looks like markup — `<` before a tag name,
///   `/`, `!`, `?` or `|`, so `</source>`, `<sources>`, `<|im_start|>` in any case — has its `<`
///   replaced by `＜`, so a document cannot close its block; control and invisible format
///   characters are removed (line breaks and tabs stay); attribute values are escaped
///   (`&`, `"`, `<`, `>`) and kept on one line.
/// - The question comes after the sources; earlier turns of the conversation are separate
///   user/assistant messages between the system message and the final user message, without
///   their old `[n]` markers (those numbered other sources).
/// - Roles alternate, as chat APIs expect: the history starts with a user turn and ends with an
///   assistant turn, and the new question is the final user message. Empty turns are dropped,
///   consecutive turns of one role are merged (joined by a blank line), a leading assistant turn
///   and a trailing unanswered user turn are dropped, and the history is kept and trimmed in
///   whole question-and-answer pairs: the newest pairs that fit a quarter of the room.
///
/// ```swift
/// let prompt = try GroundedPrompt.assemble(question: "首重多少钱？", hits: hits, contextWindow: 8192)
/// for try await event in model.streamChat(prompt.messages, options: ChatOptions(maxTokens: 1024)) { … }
/// ```
public struct GroundedPrompt: Sendable, Equatable {
    /// System message, history, final user message.
    public var messages: [ChatMessage]
    /// The sources offered, numbered 1…n in prompt order.
    public var sources: [Citation]
    /// Whether the best passage was cut to fit.
    public var truncatedContext: Bool
    /// Estimated prompt tokens (``TokenEstimator``).
    public var estimatedTokens: Int
    /// How many history messages were kept.
    public var historyMessages: Int
    /// The answer language.
    public var language: AnswerLanguage

    /// Assembles the prompt for `question` from ranked `hits`, choosing the passages that fit.
    ///
    /// - Parameters:
    ///   - language: the answer language; detected from the question when nil.
    ///   - historyTurns: at most this many earlier messages (a question and its answer are two; an
    ///     odd number keeps one message fewer, since pairs are kept whole).
    ///   - system: the template of the system message (`answer-system`, or `answer-system-small` for a
    ///     model under the answer guard).
    /// - Throws: `.contextTooLong` when there is no room for sources (see ``ContextBudget``).
    public static func assemble(
        question: String, hits: [SearchHit], history: [ChatMessage] = [], templates: PromptTemplates = .builtIn,
        language: AnswerLanguage? = nil, contextWindow: Int, maxAnswerTokens: Int = 1024,
        maxContextTokens: Int? = nil, historyTurns: Int = 6, system systemTemplate: PromptTemplates.Name = .answerSystem
    ) throws(WendaoError) -> GroundedPrompt {
        let lang = language ?? AnswerLanguage.detect(question)
        var values = [
            "language": lang.displayName, "not_found": lang.notFoundSentence,
            "question": dataText(question).trimmingCharactersInSet(), "sources": sourcesBlock([]),
        ]
        let system = ChatMessage(.system, templates.render(systemTemplate, values))
        let skeleton = ChatMessage(.user, templates.render(.answerUser, values))
        let base = TokenEstimator.estimate([system, skeleton])

        // History: whole question-and-answer pairs, newest first, within a quarter of what is left
        // after the answer reserve; the oldest pairs go first.
        let room = max(0, contextWindow - maxAnswerTokens - base)
        var kept: [ChatMessage] = []
        var historyTokens = 0
        for pair in historyPairs(history, limit: historyTurns).reversed() {
            let t = TokenEstimator.estimate(pair.question) + TokenEstimator.estimate(pair.answer)
            if historyTokens + t > room / 4 { break }
            kept.insert(contentsOf: [pair.question, pair.answer], at: 0)
            historyTokens += t
        }

        let budget = ContextBudget(
            contextWindow: contextWindow, maxAnswerTokens: maxAnswerTokens, maxContextTokens: maxContextTokens,
            fixedTokens: base + historyTokens)
        let selection = try budget.select(hits)
        let sources = selection.hits.enumerated().map { i, h in
            Citation(n: i + 1, document: h.document, section: h.section, page: h.page, chunkID: h.chunkID, text: h.text)
        }
        values["sources"] = sourcesBlock(sources)
        let user = ChatMessage(.user, templates.render(.answerUser, values))
        let messages = [system] + kept + [user]
        return GroundedPrompt(
            messages: messages, sources: sources, truncatedContext: selection.truncated,
            estimatedTokens: TokenEstimator.estimate(messages), historyMessages: kept.count, language: lang)
    }

    /// The `<sources>` block of numbered sources (what `{{sources}}` becomes).
    public static func sourcesBlock(_ sources: [Citation]) -> String {
        var s = "<sources>\n"
        for c in sources {
            s += sourceBlock(number: c.n, document: c.document, section: c.section, page: c.page, text: c.text)
            s += "\n"
        }
        return s + "</sources>"
    }

    /// One `<source …>…</source>` block, document text neutralised.
    public static func sourceBlock(number: Int, hit: SearchHit) -> String {
        sourceBlock(number: number, document: hit.document, section: hit.section, page: hit.page, text: hit.text)
    }

    static func sourceBlock(number: Int, document: String, section: String, page: Int?, text: String) -> String {
        var open = "<source id=\"\(number)\" document=\"\(attribute(document))\""
        if !section.isEmpty { open += " section=\"\(attribute(section))\"" }
        if let page { open += " page=\"\(page)\"" }
        return open + ">\n" + dataText(text).trimmingCharactersInSet() + "\n</source>"
    }

    // MARK: - Neutralising data

    /// Longest attribute value (longer values are cut and end with `…`).
    static let maxAttributeLength = 160

    /// `text` made safe to place inside a block: control and format characters removed (line
    /// breaks and tabs kept, CR LF and line separators become `\n`), and the `<` of anything that
    /// looks like markup replaced by `＜`.
    public static func dataText(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            let u = s[i]
            i += 1
            switch u {
            case "\n", "\t": out.append(u)
            case "\r":
                if i < s.count && s[i] == "\n" { continue }
                out.append("\n")
            case "\u{2028}", "\u{2029}", "\u{85}": out.append("\n")
            case "<": out.append(looksLikeMarkup(s, after: i) ? "＜" : "<")
            default:
                if isInvisible(u) { continue }
                out.append(u)
            }
        }
        return String(out)
    }

    /// An attribute value: neutralised, on one line, `&"<>` escaped, at most
    /// ``maxAttributeLength`` characters.
    static func attribute(_ value: String) -> String {
        var out = ""
        var n = 0
        var lastWasSpace = false
        for u in dataText(value).unicodeScalars {
            let isSpace = u == "\n" || u == "\t" || u == " "
            if isSpace && lastWasSpace { continue }
            lastWasSpace = isSpace
            if n == maxAttributeLength {
                out += "…"
                break
            }
            n += 1
            switch u {
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "<", "＜": out += "&lt;"
            case ">": out += "&gt;"
            case "\n", "\t": out += " "
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// Whether the `<` before index `i` starts something tag-like: after optional spaces, `/` and
    /// invisible characters, a letter, `!`, `?` or `|`.
    static func looksLikeMarkup(_ s: [Unicode.Scalar], after i: Int) -> Bool {
        var j = i
        while j < s.count, s[j] == " " || s[j] == "/" || s[j] == "\t" || s[j] == "\n" || isInvisible(s[j]) {
            j += 1
        }
        guard j < s.count else { return false }
        let c = s[j]
        return c.properties.isAlphabetic || c == "!" || c == "?" || c == "|"
    }

    /// Control characters (other than line breaks and tabs) and invisible format characters (zero
    /// widths, bidirectional overrides, tag characters, BOM).
    static func isInvisible(_ u: Unicode.Scalar) -> Bool {
        if u == "\n" || u == "\t" { return false }
        switch u.properties.generalCategory {
        case .control, .format: return true
        default: return false
        }
    }

    /// Earlier turns, cleaned: user and assistant messages only (instructions come from the
    /// application alone), invisible characters removed, assistant turns without their `[n]`
    /// markers (which numbered the sources of their own answer), empty turns dropped, consecutive
    /// turns of one role merged (joined by a blank line); the last `limit`.
    static func historyMessages(_ history: [ChatMessage], limit: Int) -> [ChatMessage] {
        var turns: [ChatMessage] = []
        for m in history where m.role != .system {
            var text = stripInvisible(m.content)
            if m.role == .assistant { text = removingCitationMarkers(text) }
            text = text.trimmingCharactersInSet()
            if text.isEmpty { continue }
            if let last = turns.last, last.role == m.role {
                turns[turns.count - 1] = ChatMessage(m.role, last.content + "\n\n" + text)
            } else {
                turns.append(ChatMessage(m.role, text))
            }
        }
        return Array(turns.suffix(max(0, limit)))
    }

    /// Earlier turns for the answer call as question-and-answer pairs, oldest first: the cleaned
    /// turns of ``historyMessages(_:limit:)`` (strictly alternating once merged) without a leading
    /// assistant turn or a trailing unanswered question; at most `limit / 2` pairs.
    static func historyPairs(_ history: [ChatMessage], limit: Int) -> [(question: ChatMessage, answer: ChatMessage)] {
        var turns = historyMessages(history, limit: Int.max)[...]
        if turns.first?.role == .assistant { turns = turns.dropFirst() }
        if turns.last?.role == .user { turns = turns.dropLast() }
        var pairs: [(question: ChatMessage, answer: ChatMessage)] = []
        var i = turns.startIndex
        while i + 1 < turns.endIndex {
            pairs.append((turns[i], turns[i + 1]))
            i += 2
        }
        return Array(pairs.suffix(max(0, limit) / 2))
    }

    /// `text` without control and invisible format characters (line breaks and tabs kept).
    static func stripInvisible(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars where !isInvisible(u) { out.append(u) }
        return String(out)
    }

    /// `text` without `[n]` citation markers.
    static func removingCitationMarkers(_ text: String) -> String {
        var filter = CitationFilter(sourceCount: 0)
        return filter.feed(text) + filter.finish()
    }
}
