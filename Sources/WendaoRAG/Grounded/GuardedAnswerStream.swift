import Foundation
import WendaoText

/// Cuts a streamed answer (already through the ``CitationFilter``, so markers are `[n]`) into
/// complete sentences. A sentence is complete once text follows it; the citation markers right after
/// its end (`首重12元。[1]`, `It is 12 yuan. [1]`) belong to it. A sentence longer than
/// ``maxSentenceLength`` is cut at its last clause break (or there) so that a reply without
/// punctuation is still checked as it comes. Each sentence keeps the spaces and line breaks before
/// it, so that the sentences put together are the text.
struct SentenceAssembler {
    /// Longest sentence held back waiting for its end.
    static let maxSentenceLength = 600

    private var pending: [Unicode.Scalar] = []

    /// Takes the next piece of text; returns the sentences it completed.
    mutating func feed(_ text: String) -> [String] {
        pending.append(contentsOf: text.unicodeScalars)
        var out: [String] = []
        while let end = completeSentenceEnd() {
            out.append(String(String.UnicodeScalarView(pending[..<end])))
            pending.removeFirst(end)
        }
        return out
    }

    /// Ends the text; returns what is left (nil when only spaces are).
    mutating func finish() -> String? {
        defer { pending = [] }
        guard pending.contains(where: { !Self.isSpace($0) }) else { return nil }
        return String(String.UnicodeScalarView(pending))
    }

    private func completeSentenceEnd() -> Int? {
        let spans = SentenceSplitter.spans(pending.map(\.value))
        if spans.count >= 2 {
            let end = Self.afterMarkers(pending, from: spans[0].end)
            if pending[end...].contains(where: { !Self.isSpace($0) }) { return end }
        }
        // One long sentence still open: cut it at a clause break.
        let start = spans.first?.start ?? 0
        guard pending.count - start > Self.maxSentenceLength else { return nil }
        let limit = start + Self.maxSentenceLength
        let breaks: Set<Unicode.Scalar> = ["，", ",", "、", "；", ";", "：", ":", " "]
        var cut = limit
        while cut > start + Self.maxSentenceLength / 2 && !breaks.contains(pending[cut - 1]) { cut -= 1 }
        return cut > start + Self.maxSentenceLength / 2 ? cut : limit
    }

    /// The position after the `[n]` markers (and spaces between them) that start at `i`, or `i`.
    static func afterMarkers(_ s: [Unicode.Scalar], from i: Int) -> Int {
        var j = i
        var end = i
        while true {
            while j < s.count && (s[j] == " " || s[j] == "\u{3000}") { j += 1 }
            guard j < s.count, s[j] == "[" else { break }
            var k = j + 1
            while k < s.count && FactScanner.isDigit(s[k]) { k += 1 }
            guard k > j + 1, k < s.count, s[k] == "]" else { break }
            j = k + 1
            end = j
        }
        return end
    }

    static func isSpace(_ u: Unicode.Scalar) -> Bool {
        u == " " || u == "\n" || u == "\t" || u == "\r" || u == "\u{3000}" || u == "\u{A0}"
    }
}

/// The guard over a streamed answer: checks each sentence as it completes and decides what is shown.
///
/// - Before anything is shown, supported sentences are held until together they state what the
///   question asks for (a value of the asked kind, ``QuestionIntent``) and agree with the extractive
///   answer (``Agreement``: they draw on the passage its lead quotes; they state, as written, a value
///   of each of its sentences that holds what was asked, or else a number of its lead); then they are
///   shown at once. The extractive answerer decides which passage answers; the model only words it.
///   An opening that only says where the answer comes from ("根据文档内容，") is left out.
/// - The first sentence that is not supported, before anything is shown, replaces the whole answer
///   (`fallback`); after something is shown, it ends the answer there (`stop`). So does the
///   not-found sentence, a sentence repeated (a model in a loop) and the ``maxSentences``-th sentence.
/// - Sentences without checkable content (`不能。`, `[3]`) are never shown.
struct GuardedAnswerStream {
    /// What to do next.
    enum Action: Equatable {
        /// Show this text.
        case emit(String)
        /// Stop the model: the answer is complete with what was shown.
        case stop
        /// Stop the model and answer otherwise: nothing was shown, for this reason.
        case fallback(String)
    }

    let checker: SupportChecker
    let intent: QuestionIntent
    /// The numbers the question states.
    let questionFacts: Set<Fact.Key>
    /// The question's own words hold a value of the kind it asks for ("after the free storage period",
    /// "寄 3 公斤要多少钱" does not): then only a number the question does not state answers it.
    let questionHoldsIntent: Bool
    /// What the model's answer must share with the extractive answer before it is shown: the lead of
    /// the extractive answer (its first, best sentence) is what answers the question.
    struct Agreement {
        /// The number of the source the extractive answer's lead quotes (the answer must cite it; nil:
        /// the model was not offered that passage, no condition).
        var source: Int?
        /// The numbers the lead states, as written with their units (the answer must state one of them
        /// the same way — `20,000 元`, not `20,000元` — when there are any: facts are copied, not
        /// reworded).
        var values: Set<String>
        /// For a question that asks for a value: the numbers of the asked kind of each sentence of the
        /// extractive answer that holds one (the answer must state one of each: "8:00–22:00" and the
        /// holiday hours "9:00–18:00" both answer "几点到几点").
        var valueSentences: [Set<String>]

        /// The agreement with `answer`, whose citations are numbered among the sources offered to the
        /// model (`offered`: 1…n; higher numbers are passages the model did not see), for a question
        /// that asks `intent`.
        init(answer: String, citations: [Citation], offered: Int, intent: QuestionIntent) {
            // The sentences: each ends with its marker ("… [1]").
            var units: [(text: String, n: Int?)] = []
            var current = String.UnicodeScalarView()
            let s = Array(answer.unicodeScalars)
            var i = 0
            while i < s.count {
                if s[i] == "[" {
                    var k = i + 1
                    var value = 0
                    while k < s.count && FactScanner.isDigit(s[k]) && k - i <= 3 {
                        value = value * 10 + Int(s[k].value - 0x30)
                        k += 1
                    }
                    if k > i + 1 && k < s.count && s[k] == "]" && citations.contains(where: { $0.n == value }) {
                        units.append((String(current), value))
                        current = String.UnicodeScalarView()
                        i = k + 1
                        continue
                    }
                }
                current.append(s[i])
                i += 1
            }
            if !String(current).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                units.append((String(current), nil))
            }
            let numbers = { (text: String) in Set(FactScanner.numbers(in: text).map(\.text)) }
            source = units.first?.n.flatMap { $0 <= offered ? $0 : nil }
            values = units.first.map { numbers($0.text) } ?? []
            valueSentences =
                intent.wantsValue
                ? units.filter { intent.isHeld(by: $0.text) }.map { unit in
                    // The values of the asked kind (the rate "1%" of "2,000 × 1% = 20 元" for a rate
                    // question: a model that gave another row's 0.5% beside the 2,000 元 did not agree).
                    let facts = FactScanner.numbers(in: unit.text)
                    let asked = facts.filter { fact in
                        if intent.asksRate, case .number(_, let unit) = fact.key {
                            return unit == .percent || unit == .discount
                        }
                        return intent.isHeld(by: GuardedAnswerStream.canonicalText(fact))
                    }
                    return Set((asked.isEmpty ? facts : asked).map(\.text))
                }.filter { !$0.isEmpty } : []
        }
    }

    /// Nil: the answer is shown once it states what was asked.
    let agreement: Agreement?
    /// Most sentences shown.
    let maxSentences: Int

    private var assembler = SentenceAssembler()
    private var held: [(text: String, body: String, cited: [Int], changed: Bool)] = []
    private var seen = Set<String>()
    /// The content words of each sentence checked so far, to catch a model that repeats itself in
    /// other words ("… waybill number …" then "… waybill numbers …").
    private var seenWords: [Set<String>] = []

    /// Whether two sentences' content words are nearly the same (Jaccard similarity 0.8 or more, at
    /// least four words): the second says nothing new.
    static func isNearRepeat(_ a: Set<String>, _ b: Set<String>) -> Bool {
        guard a.count >= 4, b.count >= 4 else { return false }
        return Double(a.intersection(b).count) >= 0.8 * Double(a.union(b).count)
    }
    private(set) var report = AnswerGuardReport()
    /// The source numbers the shown sentences cite.
    private(set) var cited: [Int] = []
    /// Something was shown.
    private(set) var shown = false
    /// The answer is decided: nothing more is read.
    private(set) var finished = false

    init(checker: SupportChecker, question: String, agreement: Agreement?, maxSentences: Int) {
        self.checker = checker
        intent = QuestionIntent(question)
        questionFacts = Set(FactScanner.numbers(in: question).map(\.key))
        questionHoldsIntent = intent.wantsValue && intent.isHeld(by: question)
        self.agreement = agreement
        self.maxSentences = max(1, maxSentences)
    }

    /// Takes the next piece of the filtered answer.
    mutating func feed(_ text: String) -> [Action] {
        guard !finished else { return [] }
        var actions: [Action] = []
        for sentence in assembler.feed(text) {
            actions += process(sentence)
            if finished { break }
        }
        return actions
    }

    /// Ends the answer. `cutOff`: the model stopped at its token limit, so a last sentence without
    /// an end is not shown.
    mutating func finish(cutOff: Bool) -> [Action] {
        guard !finished else { return [] }
        var actions: [Action] = []
        if let rest = assembler.finish() {
            if cutOff && !Self.endsSentence(rest) {
                report.checkedSentences += 1
                report.droppedSentences += 1
            } else {
                actions += process(rest)
            }
        }
        guard !finished else { return actions }
        finished = true
        if shown { return actions }
        report.droppedSentences += held.count
        let reason =
            held.isEmpty
            ? (report.checkedSentences == 0
                ? "the model returned no answer" : "no sentence of the model's answer is supported by its sources")
            : "the model's supported sentences do not state what the question asks, or not from the passage that answers it"
        report.fallbackReason = reason
        return actions + [.fallback(reason)]
    }

    private mutating func process(_ sentence: String) -> [Action] {
        report.checkedSentences += 1
        let (body, markers) = Self.splitMarkers(sentence)
        switch checker.check(body, cited: markers) {
        case .uncheckable:
            report.droppedSentences += 1
            return []
        case .notFound:
            report.droppedSentences += 1
            return shown ? stop() : fallback("the model answered that its sources do not hold the answer")
        case .unsupported(let why):
            report.droppedSentences += 1
            // The sentence is quoted (cut to 80 characters) so that a reader sees what the model wrote.
            let quoted = body.count > 80 ? String(body.prefix(79)) + "…" : body
            return shown
                ? stop() : fallback("sentence \(report.checkedSentences) (“\(quoted)”) is not supported: \(why)")
        case .supported(let citedNumbers, let changed):
            let key = String(
                body.unicodeScalars.filter { $0.properties.isAlphabetic || $0.properties.numericType != nil })
            let words = Set(SupportChecker.contentTokens(body, analyzer: checker.analyzer))
            let nearRepeat = seenWords.contains { Self.isNearRepeat($0, words) }
            seenWords.append(words)
            guard seen.insert(key).inserted, !nearRepeat else {
                report.droppedSentences += 1
                return shown ? stop() : fallback("the model repeats itself")
            }
            let text = changed ? Self.citing(sentence, citedNumbers) : sentence
            if shown {
                return show([(text, body, citedNumbers, changed)])
            }
            held.append((text, body, citedNumbers, changed))
            if isComplete(held) {
                let first = held
                held = []
                return show(first)
            }
            if held.count >= maxSentences {
                report.droppedSentences += held.count
                held = []
                return fallback(
                    "the model's supported sentences do not state what the question asks, or not from the passage that answers it"
                )
            }
            return []
        }
    }

    private mutating func show(_ sentences: [(text: String, body: String, cited: [Int], changed: Bool)]) -> [Action] {
        var actions: [Action] = []
        for s in sentences {
            var text = s.text
            if !shown {
                text = String(String.UnicodeScalarView(text.unicodeScalars.drop(while: SentenceAssembler.isSpace)))
                let stripped = SupportChecker.strippingPreamble(text)
                if !stripped.isEmpty && GuardedAnswerStream.splitMarkers(stripped).body.contains(where: \.isLetter) {
                    text = stripped
                }
            }
            shown = true
            report.shownSentences += 1
            if s.changed { report.citedByGuard += 1 }
            for n in s.cited where !cited.contains(n) { cited.append(n) }
            actions.append(.emit(text))
        }
        if report.shownSentences >= maxSentences {
            finished = true
            actions.append(.stop)
        }
        return actions
    }

    private mutating func stop() -> [Action] {
        finished = true
        return [.stop]
    }

    private mutating func fallback(_ reason: String) -> [Action] {
        finished = true
        report.droppedSentences += held.count
        held = []
        report.fallbackReason = reason
        return [.fallback(reason)]
    }

    /// Whether the held sentences state what was asked and agree with the extractive answer.
    private func isComplete(_ sentences: [(text: String, body: String, cited: [Int], changed: Bool)]) -> Bool {
        let text = sentences.map(\.body).joined(separator: "\n")
        guard intent.isHeld(by: text) else { return false }
        if questionHoldsIntent {
            // Restating the question holds its value kind trivially: a number of the answer's own must.
            let own = FactScanner.numbers(in: text).filter { !questionFacts.contains($0.key) }
            guard intent.isHeld(by: own.map(Self.canonicalText).joined(separator: "；")) else { return false }
        }
        guard let agreement else { return true }
        if let lead = agreement.source, !sentences.contains(where: { $0.cited.contains(lead) }) { return false }
        let values = Set(FactScanner.numbers(in: text).map(\.text))
        if !agreement.valueSentences.isEmpty {
            // Every value the extractive answer gives for what was asked is in the answer too: the model's
            // answer never holds less than the extractive one.
            return agreement.valueSentences.allSatisfy { !$0.isDisjoint(with: values) }
        }
        // When the passage that answers states values, the answer states one of them (whatever the
        // question's wording: "How do you work out the volumetric weight?" is answered by "÷ 6000").
        return agreement.values.isEmpty || !values.isDisjoint(with: agreement.values)
    }

    /// A number fact written with a typical unit of its kind (`36 元`, `2 ℃`), for ``QuestionIntent``.
    static func canonicalText(_ fact: Fact) -> String {
        guard case .number(let value, let kind) = fact.key else { return fact.text }
        let unit: String =
            switch kind {
            case .money: " 元"
            case .percent: "%"
            case .discount: " 折"
            case .multiple: " 倍"
            case .temperature: "℃"
            case .weight: " kg"
            case .length: " cm"
            case .volume: " ml"
            case .energy: " Wh"
            case .duration: " 天"
            case .date: " 日"
            case .clock: " 点"
            case .count: " 个"
            case nil: ""
            }
        return value + unit
    }

    /// Whether `text` ends a sentence (a terminator, then perhaps closers and markers).
    static func endsSentence(_ text: String) -> Bool {
        var s = Array(text.unicodeScalars)
        while let last = s.last, SentenceAssembler.isSpace(last) { s.removeLast() }
        // Trailing markers.
        while s.last == "]" {
            guard let open = s.lastIndex(of: "[") else { break }
            s.removeSubrange(open...)
            while let last = s.last, SentenceAssembler.isSpace(last) { s.removeLast() }
        }
        guard let last = s.last else { return false }
        return "。！？.!?；;…」』”\")）".unicodeScalars.contains(last)
    }

    /// A sentence's text without its `[n]` markers, and the marker numbers.
    static func splitMarkers(_ sentence: String) -> (body: String, markers: [Int]) {
        let s = Array(sentence.unicodeScalars)
        var body = String.UnicodeScalarView()
        var markers: [Int] = []
        var i = 0
        while i < s.count {
            if s[i] == "[" {
                var k = i + 1
                var value = 0
                while k < s.count && FactScanner.isDigit(s[k]) && k - i <= 3 {
                    value = value * 10 + Int(s[k].value - 0x30)
                    k += 1
                }
                if k > i + 1 && k < s.count && s[k] == "]" {
                    if !markers.contains(value) { markers.append(value) }
                    i = k + 1
                    continue
                }
            }
            body.append(s[i])
            i += 1
        }
        return (String(body), markers)
    }

    /// `sentence` with its markers replaced by `cited`, placed before its final punctuation (after
    /// closing brackets and quotes): `首重12元。` → `首重12元[1]。`, `It costs 12 yuan.` →
    /// `It costs 12 yuan [1].`, `…（未含附加费）。` → `…（未含附加费）[1]。`
    static func citing(_ sentence: String, _ cited: [Int]) -> String {
        let body = Array(splitMarkers(sentence).body.unicodeScalars)
        var end = body.count
        while end > 0 && SentenceAssembler.isSpace(body[end - 1]) { end -= 1 }
        let trailing = body[end...]
        var cut = end
        let terminators = "。！？.!?；;…：:".unicodeScalars
        while cut > 0 && terminators.contains(body[cut - 1]) { cut -= 1 }
        var head = Array(body[..<cut])
        while let last = head.last, last == " " { head.removeLast() }
        let markers = cited.map { "[\($0)]" }.joined()
        let latin = head.last.map { $0.isASCII } ?? false
        var out = String.UnicodeScalarView(head)
        out.append(contentsOf: ((latin ? " " : "") + markers).unicodeScalars)
        out.append(contentsOf: body[cut..<end])
        out.append(contentsOf: trailing)
        return String(out)
    }
}
