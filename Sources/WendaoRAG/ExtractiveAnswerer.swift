import Foundation
public import WendaoCore
import WendaoIndex
public import WendaoText

/// A numbered source of an answer.
public struct Citation: Sendable, Codable, Equatable {
    /// The number used in the answer text, `[n]`.
    public var n: Int
    /// Document identity.
    public var document: String
    /// Section path.
    public var section: String
    /// Page, when known.
    @ExplicitNull public var page: Int? = nil
    /// Chunk id.
    public var chunkID: Int64
    /// The cited passage (the chunk text).
    public var text: String
    /// `curated` for a curated answer (then ``curatedID`` names it, `chunk_id` is 0, `document` is
    /// empty and `section` is the curated question); nil — absent from JSON — for a document chunk.
    public var kind: String? = nil
    /// The curated answer's id, for a `curated` citation.
    public var curatedID: Int64? = nil

    enum CodingKeys: String, CodingKey {
        case n, document, section, page, chunkID = "chunk_id", text, kind, curatedID = "curated_id"
    }
}

/// An answer with its citations.
public struct Answer: Sendable, Codable, Equatable {
    /// The question as asked.
    public var question: String
    /// The answer text, with `[n]` markers.
    public var answer: String
    /// `extractive` (no model) or `llm`.
    public var mode: String
    /// False when the knowledge base does not contain the answer.
    public var found: Bool
    /// Sources, numbered as in the text.
    public var citations: [Citation]
    /// How much of the question the best evidence covers (0…1): the confidence signal.
    public var coverage: Double
}

/// Builds answers from the best sentences of the retrieved chunks, without a language model.
///
/// The question is read for what it asks (``QuestionIntent``: an amount, a temperature, a time, a
/// list of steps, a document to bring). The passages are cut into answer units: sentences, a worked
/// example kept whole (its start and its conclusion), table rows rendered as readable sentences, list
/// items. Each unit is scored by the inverse-document-frequency mass of the question's terms it
/// contains (under its heading), plus the rank of its passage; a question that asks for a value is
/// answered only by a unit that holds a value of that kind. When no passage covers enough of the
/// question, or none holds what was asked, the answer is "not found" rather than an unrelated
/// passage.
public struct ExtractiveAnswerer: Sendable {
    /// Minimum share of the question's informative term weight the best chunk must contain.
    public var minimumCoverage: Double = 0.35
    /// With dense evidence: a question this share of whose pair and word weight no passage contains
    /// is answered "not found" unless its best dense match stands out
    /// (``SemanticCalibration/unknownTopicMargin``). Chosen on `eval.jsonl` (4 of its 6 unanswerable
    /// questions that were still answered, 4 of 121 answered ones lost).
    public var maximumUnknownShare = 0.6
    /// A question that asks for a value (an amount, a time, …) is answered when the best passage
    /// covers this share of ``minimumCoverage``, since the sentence that answers must also hold a
    /// value of the asked kind.
    public var valueQuestionCoverageFactor = 0.9
    /// At most this many units (sentences, rows, list items) in an answer.
    public var maxSentences = 3
    /// At most this many characters of answer text.
    public var maxCharacters = 360
    /// Dense-retrieval evidence, when the knowledge base has an embedder: a question worded
    /// differently from the documents (or in another language) is answered from the sentences most
    /// similar in meaning when the lexical coverage is too low but the dense match is confident.
    public var semantic: SemanticEvidence?
    /// Chinese renderings of an English question's words that the knowledge base contains (see
    /// ``BilingualGlossary``): a passage holding a rendering covers the word.
    public var renderings: [CrossLanguagePhrase] = []
    /// Passages in the documents' other language, best first, retrieved by the renderings alone
    /// (``KnowledgeBase/crossLanguageHits(_:question:k:)``): an English question about facts only
    /// the Chinese documents state is answered from them. Their retrieval bonus is measured against
    /// the best of their own list, so that English passages which merely share the question's words
    /// do not win on rank alone.
    public var crossLanguageHits: [SearchHit] = []
    /// The topic a follow-up question carries from the one before (its words count at
    /// ``FollowUp/carriedWeight``; what the earlier question asked for applies when this one does
    /// not say).
    public var followUp: FollowUp?

    /// Creates an answerer.
    public init() {}

    /// Chinese question and function words that carry no topic (used only for the coverage
    /// signal, never for retrieval).
    static let questionWords: Set<String> = [
        "请问", "问下", "一下", "什么", "怎么", "怎样", "如何", "多少", "哪些", "哪里", "哪个", "为什么", "是否", "能否", "可以",
        "能不能", "可不可以", "有没有", "是不是", "吗", "呢", "吧", "啊", "呀", "的", "了", "我", "我们", "你", "你们", "您", "是",
        "有", "要", "会", "能", "在", "和", "与", "或", "就", "都", "也", "还", "又", "这", "那", "这个", "那个", "个", "些",
        "想", "需要", "应该", "一个", "请", "问", "么", "怎", "哪", "几", "多", "谁", "吗？", "被", "把", "给", "对", "让",
        "how", "what", "which", "when", "where", "why", "who", "can", "much", "many", "long", "does", "do", "get",
        "need", "want", "please", "tell",
    ]

    /// Hashes of the question words (and, for Chinese words, of their characters and pairs).
    static let questionTermHashes: Set<UInt64> = {
        let a = Analyzer(cjkMode: .unigramsAndBigrams, stemming: true, dropStopwords: false)
        var s = Set<UInt64>()
        for w in questionWords {
            let t = a.terms(w)
            if t.count <= 3 { s.formUnion(t) }
        }
        return s
    }()

    /// Single characters of the question words.
    static let questionCharacterHashes: Set<UInt64> = {
        var s = Set<UInt64>()
        for w in questionWords where w.unicodeScalars.allSatisfy({ $0.value >= 0x2E80 }) {
            for u in w.unicodeScalars { s.insert(Analyzer.hash(term: ScriptFolding.fold(String(u)))) }
        }
        return s
    }()

    /// One informative part of a question: a character, a character pair or a word, or an English
    /// word with its Chinese renderings. It is found in a text when any of its alternatives is
    /// (an alternative is found when all of its terms are).
    struct Concept {
        enum Kind { case unigram, bigram, word }
        var kind: Kind
        var alternatives: [[UInt64]]
        var weight: Double
        /// False for terms no passage of the knowledge base contains.
        var known: Bool

        /// A Latin word or a year (four digits) that no passage contains, in a question that is not
        /// mainly English.
        var isUnknownIdentifier = false
        /// A quantity the question states (`两天`, `3kg`, `第二`): it describes the asker's case, not
        /// the topic, so not being in the knowledge base does not make the question off-topic.
        var isQuantity = false

        func isFound(in terms: Set<UInt64>) -> Bool {
            alternatives.contains { alt in !alt.isEmpty && alt.allSatisfy { terms.contains($0) } }
        }
    }

    /// The informative parts of a question, with their idf weights.
    struct QueryProfile {
        var concepts: [Concept] = []
        var isEmpty: Bool { concepts.isEmpty }
    }

    static func profile(
        _ question: String, analyzer: Analyzer, renderings: [CrossLanguagePhrase] = [], halveUnknownWords: Bool = false,
        idf: (UInt64) -> Float
    ) -> QueryProfile {
        var p = QueryProfile()
        var seen = Set<UInt64>()
        let unknownIDF = Double(idf(0x5EED_0000_0000_0001))
        // English words rendered in Chinese are one concept each: the word or any rendering.
        let englishQuestion = BilingualGlossary.isMainlyEnglish(question)
        // In an English question every word is Latin, so only a word written as a name — an inner
        // capital (PayPal, FedEx) or three capitals or more (CEO, DHL) — marks what it is about.
        let namesInEnglish: Set<UInt64> = englishQuestion ? nameLikeTerms(question, analyzer: analyzer) : []
        var rendered = Set<UInt64>()
        for r in renderings {
            rendered.formUnion(r.english)
            let own = r.english.map { Double(idf($0)) }.max() ?? unknownIDF
            let alternatives = [r.english] + r.chinese.map(\.terms)
            p.concepts.append(Concept(kind: .word, alternatives: alternatives, weight: own, known: true))
        }
        // Words that only ask (什么, 多少, how, …) carry no topic: drop them, and the pairs they form.
        for t in analyzer.tokens(question) {
            let h = Analyzer.hash(term: t)
            guard !questionTermHashes.contains(h), !rendered.contains(h), seen.insert(h).inserted else { continue }
            let w = Double(idf(h))
            let known = w < unknownIDF - 1e-4
            let scalars = Array(t.unicodeScalars)
            let cjk = scalars.allSatisfy { $0.value >= 0x2E80 }
            let quantity = Self.isQuantity(scalars)
            if cjk && scalars.count == 1 {
                p.concepts.append(Concept(kind: .unigram, alternatives: [[h]], weight: w, known: known))
            } else if cjk && scalars.count == 2 {
                if questionCharacterHashes.contains(Analyzer.hash(term: String(scalars[0])))
                    || questionCharacterHashes.contains(Analyzer.hash(term: String(scalars[1])))
                {
                    continue
                }
                // A pair that occurs nowhere may be phrasing rather than a missing topic: it counts
                // half.
                var c = Concept(kind: .bigram, alternatives: [[h]], weight: known ? w : w * 0.5, known: known)
                c.isQuantity = quantity
                p.concepts.append(c)
            } else {
                // Like a pair, a word no passage contains may be phrasing (or the question's language):
                // for the answer it counts half (the grounded answerer's relevance gate keeps full weight).
                var c = Concept(
                    kind: .word, alternatives: [[h]], weight: known || !halveUnknownWords ? w : w * 0.5, known: known)
                let letters = scalars.allSatisfy { $0.properties.isAlphabetic && $0.value < 0x80 }
                let year =
                    scalars.count == 4 && scalars.allSatisfy { $0.value >= 0x30 && $0.value <= 0x39 }
                    && (t.hasPrefix("19") || t.hasPrefix("20"))
                c.isUnknownIdentifier =
                    !known && ((englishQuestion ? namesInEnglish.contains(h) : letters && scalars.count >= 2) || year)
                c.isQuantity = quantity && !year
                p.concepts.append(c)
            }
        }
        return p
    }

    /// The terms of the words of `text` written as names: a capital after a lowercase letter
    /// (`PayPal`, `iPhone`, `FedEx`) or three or more letters all capitals (`CEO`, `DHL`).
    static func nameLikeTerms(_ text: String, analyzer: Analyzer) -> Set<UInt64> {
        var out = Set<UInt64>()
        for word in text.split(whereSeparator: { !($0.isASCII && $0.isLetter) }) {
            let chars = Array(word)
            let innerCapital = chars.indices.dropFirst().contains { chars[$0].isUppercase && chars[$0 - 1].isLowercase }
            let acronym = chars.count >= 3 && chars.allSatisfy(\.isUppercase)
            guard innerCapital || acronym else { continue }
            for t in analyzer.tokens(String(word)) { out.insert(Analyzer.hash(term: t)) }
        }
        return out
    }

    /// The share of the question's weight found in `terms`: characters and words by idf, and
    /// character pairs (which carry word order and meaning) by idf, averaged.
    static func coverage(_ p: QueryProfile, in terms: Set<UInt64>) -> Double {
        var u = 0.0
        var ut = 0.0
        var b = 0.0
        var bt = 0.0
        for c in p.concepts {
            let found = c.isFound(in: terms)
            if c.kind == .bigram {
                bt += c.weight
                if found { b += c.weight }
            } else {
                ut += c.weight
                if found { u += c.weight }
            }
        }
        let uni = ut > 0 ? u / ut : 0
        if bt == 0 { return uni }
        let bi = b / bt
        return ut > 0 ? 0.5 * uni + 0.5 * bi : bi
    }

    /// True for a term that states a quantity: it has a digit, or starts with a Chinese numeral
    /// other than `一` (`两天`, `三公斤`; `一` starts too many ordinary words, `一直`, `一般`), or with
    /// `第` and a numeral (`第二`).
    static func isQuantity(_ scalars: [Unicode.Scalar]) -> Bool {
        guard let first = scalars.first else { return false }
        if scalars.contains(where: FactScanner.isDigit) { return true }
        if "两二三四五六七八九十半".unicodeScalars.contains(first) { return true }
        return first == "第" && scalars.count > 1 && "一二三四五六七八九十".unicodeScalars.contains(scalars[1])
    }

    /// The share of the question's pair and word weight (full idf) that no passage of the knowledge
    /// base contains. Unknown quantities (`两天` where the documents write `48 小时`) are left out:
    /// they say what the asker's case is, not what the question is about.
    static func unknownShare(_ p: QueryProfile) -> Double {
        var unknown = 0.0
        var all = 0.0
        for c in p.concepts where c.kind != .unigram && !(c.isQuantity && !c.known) {
            // Unknown pairs and words were entered at half weight.
            let w = c.known ? c.weight : c.weight * 2
            all += w
            if !c.known { unknown += w }
        }
        return all > 0 ? unknown / all : 0
    }

    /// A piece of a passage that can answer: a sentence, a worked example, a table row (as a
    /// readable sentence) or a list item.
    struct Unit {
        var hit: Int
        var start: Int
        var line: Int
        /// The text shown in the answer.
        var text: String
        /// The text whose values answer (a row's values with the units its header names).
        var valueText: String
        var isListItem: Bool
        var isRow: Bool
        var endsWithColon: Bool
    }

    /// Markers that start a worked example: the example is kept whole, so its conclusion ("运费 =
    /// 15 + 7 × 3 = 36 元") stays with its start.
    static let exampleMarkers = [
        "计算示例", "示例", "例如", "比如", "举例", "例：", "例:", "example", "for example", "e.g.", "for instance",
    ]

    /// Whether `text` describes its own document rather than stating something ("This page explains
    /// how to …", "本文介绍……"): an overview names the topics a question asks about without answering
    /// any of them.
    static func isOverview(_ text: String) -> Bool {
        let lower = text.lowercased().trimmingCharactersInSet()
        for subject in overviewSubjects where lower.hasPrefix(subject) {
            let rest = lower.dropFirst(subject.count).drop { $0 == " " }
            if overviewVerbs.contains(where: { rest.hasPrefix($0) }) { return true }
        }
        return false
    }

    /// How an overview sentence starts: the document speaking of itself.
    static let overviewSubjects = [
        "this page", "this document", "this guide", "this notice", "this section", "this article", "this faq",
        "this leaflet", "this manual", "this handbook", "this policy", "本文", "本页", "本指南", "本手册", "本章", "本节", "本文档",
    ]

    /// The verbs of an overview sentence.
    static let overviewVerbs = [
        "explains", "describes", "summarises", "summarizes", "covers", "outlines", "introduces", "gives an overview",
        "provides an overview", "介绍", "概述", "简要说明", "说明了以下", "汇总了",
    ]

    /// Whether a heading names a procedure ("2. How to track", "理赔流程", "如何办理"): a question that
    /// asks how to do something is answered under such a heading.
    static func isProcedureHeading(_ heading: String) -> Bool {
        let lower = heading.lowercased()
        return procedureHeadingWords.contains { lower.contains($0) }
    }

    /// Words of a heading that names a procedure.
    static let procedureHeadingWords = [
        "how to", "how do", "steps", "procedure", "process", "instructions", "如何", "怎么", "怎样", "流程", "步骤", "办理",
        "操作指南", "操作方法",
    ]

    /// Verbs that say what to bring or provide.
    static let providingVerbs = [
        "提供", "提交", "携带", "准备", "出示", "上传", "凭", "provide", "bring", "submit", "present", "upload",
    ]

    /// The answer units of a passage, in order.
    static func units(of text: String, hit: Int) -> [Unit] {
        var out: [Unit] = []
        var offset = 0
        for (lineNumber, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineScalars = Array(rawLine.unicodeScalars)
            defer { offset += lineScalars.count + 1 }
            let line = String(rawLine)
            if line.trimmingCharactersInSet().isEmpty { continue }
            let (body, bodyStart, isListItem) = stripListMarker(lineScalars)
            if let row = RowText.readable(String(String.UnicodeScalarView(body))) {
                out.append(
                    Unit(
                        hit: hit, start: offset + bodyStart, line: lineNumber, text: row,
                        valueText: RowText.valuesWithUnits(String(String.UnicodeScalarView(body))), isListItem: false,
                        isRow: true, endsWithColon: false))
                continue
            }
            let spans = SentenceSplitter.spans(body.map(\.value))
            var k = 0
            while k < spans.count {
                let unitStart = spans[k].start
                var end = spans[k].end
                let first = clean(String(String.UnicodeScalarView(body[unitStart..<end]))).lowercased()
                // A worked example runs to the end of its line (at most 240 characters).
                if exampleMarkers.contains(where: { first.hasPrefix($0) }) {
                    while k + 1 < spans.count && spans[k + 1].end - unitStart <= 240 {
                        k += 1
                        end = spans[k].end
                    }
                }
                let sentence = clean(String(String.UnicodeScalarView(body[unitStart..<end])))
                if !sentence.isEmpty {
                    let last = sentence.unicodeScalars.last
                    out.append(
                        Unit(
                            hit: hit, start: offset + bodyStart + unitStart, line: lineNumber, text: sentence,
                            valueText: sentence, isListItem: isListItem, isRow: false,
                            endsWithColon: last == "：" || last == ":"))
                }
                k += 1
            }
        }
        return out
    }

    /// A list item's text without its marker (`- `, `* `, `• `), and whether it was one; numbered
    /// items keep their number ("1. 提交申请").
    static func stripListMarker(_ s: [Unicode.Scalar]) -> ([Unicode.Scalar], Int, Bool) {
        var i = 0
        while i < s.count && (s[i] == " " || s[i] == "\t") { i += 1 }
        if i + 1 < s.count && (s[i] == "-" || s[i] == "*" || s[i] == "•") && s[i + 1] == " " {
            return (Array(s[(i + 2)...]), i + 2, true)
        }
        var j = i
        while j < s.count && s[j].properties.numericType != nil && s[j].value < 0x80 { j += 1 }
        if j > i && j + 1 < s.count && (s[j] == "." || s[j] == "、" || s[j] == ")") {
            return (Array(s[i...]), i, true)
        }
        return (Array(s[i...]), i, false)
    }

    /// Markdown emphasis removed.
    static func clean(_ s: String) -> String {
        s.contains("**") ? s.replacingOccurrences(of: "**", with: "") : s
    }

    /// Answers `question` from ranked hits.
    public func answer(question: String, hits: [SearchHit], analyzer: Analyzer, idf: (UInt64) -> Float) -> Answer {
        var profile = Self.profile(
            question, analyzer: analyzer, renderings: renderings, halveUnknownWords: true, idf: idf)
        var intent = QuestionIntent(question)
        // A follow-up's own words that name something (pairs and words the knowledge base knows:
        // "北京" in "那北京呢？"): a sentence without any of them is about the earlier topic only.
        let ownNames = followUp == nil ? [] : profile.concepts.filter { $0.known && $0.kind != .unigram }
        if let followUp {
            // The carried words count less than the question's own, and never twice.
            let own = Set(profile.concepts.flatMap { $0.alternatives.flatMap { $0 } })
            let carried = Self.profile(followUp.topic, analyzer: analyzer, halveUnknownWords: true, idf: idf)
            for var c in carried.concepts where !c.alternatives.flatMap({ $0 }).contains(where: own.contains) {
                c.weight *= Double(FollowUp.carriedWeight)
                c.isUnknownIdentifier = false
                profile.concepts.append(c)
            }
            if intent.kinds.isEmpty {
                let earlier = QuestionIntent(followUp.previousQuestion)
                intent.kinds = earlier.kinds
                intent.measureWord = earlier.measureWord
                intent.bound = earlier.bound
            }
        }
        let notFound = Answer(
            question: question, answer: AnswerLanguage.detect(question).notFoundSentence, mode: "extractive",
            found: false, citations: [], coverage: 0)
        guard !hits.isEmpty, !profile.isEmpty else { return notFound }
        // A name, code or year the knowledge base never mentions ("PayPal", "CEO", "2027") is what the
        // question is about: no passage can answer it.
        if profile.concepts.contains(where: { $0.isUnknownIdentifier }) { return notFound }
        // Most of the question's words are unknown to the knowledge base and its meaning does not
        // stand out either: it is about something the documents do not cover.
        if let semantic, Self.unknownShare(profile) >= maximumUnknownShare,
            semantic.margin < semantic.calibration.unknownTopicMargin
        {
            return notFound
        }
        // Coverage of the best chunks (section path and text).
        var candidates = Array(hits.prefix(8))
        // Cross-language passages join the candidates (those retrieval already found keep their rank).
        let ownCount = candidates.count
        let present = Set(candidates.map(\.chunkID))
        candidates += crossLanguageHits.filter { !present.contains($0.chunkID) }.prefix(4)
        let crossTop = max(crossLanguageHits.first?.score ?? 1, 1e-9)
        let chunkTerms = candidates.map { Set(analyzer.terms($0.section + "\n" + $0.text)) }
        let chunkCoverage = chunkTerms.map { Self.coverage(profile, in: $0) }
        let best = chunkCoverage.max() ?? 0
        func semanticFallback() -> Answer {
            if let semantic, semantic.isConfident,
                let a = semanticAnswer(
                    question: question, hits: hits, evidence: semantic, intent: intent, coverage: best)
            {
                return a
            }
            var a = notFound
            a.coverage = best
            return a
        }
        // A question that asks for a value has a second test — a sentence must hold a value of that
        // kind — so a little less of its wording needs to be found.
        let gate = intent.wantsValue ? minimumCoverage * valueQuestionCoverageFactor : minimumCoverage
        guard best >= gate else { return semanticFallback() }
        // Score the units of the passages that cover enough of the question.
        struct Scored {
            var unit: Unit
            var score: Double
            var coverage: Double
            var inContext: Double
            var holds: Bool
            /// The unit, its heading or its document names the question's destination and scope
            /// (``QuestionIntent/isInScope(_:)``).
            var atDestination: Bool
        }
        var scored: [Scored] = []
        let listAnswer = intent.kinds.contains(.steps) || intent.kinds.contains(.documents)
        var unitsByHit: [Int: [Unit]] = [:]
        let topScore = max(candidates.first?.score ?? 1, 1e-9)
        for (i, h) in candidates.enumerated() where chunkCoverage[i] >= minimumCoverage * 0.6 {
            let path = h.section.components(separatedBy: " › ")
            let heading = path.count > 1 ? path[path.count - 1] : ""
            let units = Self.units(of: h.text, hit: i)
            unitsByHit[i] = units
            for u in units {
                // A unit is read under its own heading ("五、赔多少？" makes its sentences about
                // compensation) — the innermost one only: the document title would make every
                // sentence of the document look relevant.
                var c = Self.coverage(profile, in: Set(analyzer.terms(heading + "\n" + u.text)))
                if c == 0 { continue }
                // A sentence that asks a question (an FAQ's question line) is not an answer.
                if let last = u.text.unicodeScalars.last, last == "?" || last == "？" { c *= 0.5 }
                let holds = intent.isHeld(by: u.valueText)
                // The gate reads the unit in its whole section path: the document title says what
                // the passage is about ("破损包裹处理流程" for "包裹丢了最多赔多少钱？").
                let inContext = Self.coverage(profile, in: Set(analyzer.terms(h.section + "\n" + u.text)))
                // Units of passages that retrieval ranked higher are preferred (score relative to
                // the best passage).
                var score = c + 0.5 * Double(i < ownCount ? h.score / topScore : h.score / crossTop)
                if !holds { score -= 0.25 }
                if !ownNames.isEmpty {
                    let terms = Set(analyzer.terms(heading + "\n" + u.text))
                    if !ownNames.contains(where: { $0.isFound(in: terms) }) { score -= 0.3 }
                }
                // What to bring is answered by a list: an item, or a sentence that enumerates.
                if listAnswer && (u.isListItem || u.text.filter({ $0 == "、" }).count >= 2) { score += 0.1 }
                // A sentence about the document itself answers nothing, however many of the
                // question's words it names.
                if Self.isOverview(u.text) { score -= 0.5 }
                // How to do something is answered under a heading that names a procedure — most
                // surely one that names the question's own action ("2. How to track" for "How do I
                // track my parcel?").
                if intent.kinds.contains(.steps), Self.isProcedureHeading(heading) {
                    score += 0.2 + 0.3 * Self.coverage(profile, in: Set(analyzer.terms(heading)))
                }
                if listAnswer {
                    let lower = u.text.lowercased()
                    // What to bring is said with a verb of providing ("需提供营业执照…").
                    if intent.kinds.contains(.documents), Self.providingVerbs.contains(where: { lower.contains($0) }) {
                        score += 0.15
                    }
                    // A worked example is not a procedure or a list of papers.
                    if Self.exampleMarkers.contains(where: { lower.hasPrefix($0) }) { score -= 0.2 }
                }
                let atDestination = intent.isInScope(h.document + "\n" + h.section + "\n" + u.text)
                scored.append(
                    Scored(
                        unit: u, score: score, coverage: c, inContext: inContext, holds: holds,
                        atDestination: atDestination))
            }
        }
        scored.sort { $0.score > $1.score }
        // The lead holds what was asked; without one, the passages do not answer this question.
        guard
            let lead = scored.first(where: {
                $0.holds && $0.atDestination && max($0.coverage, $0.inContext) >= minimumCoverage * 0.5
            })
        else {
            return semanticFallback()
        }
        var chosen: [Unit] = [lead.unit]
        var length = lead.unit.text.count
        var seenText: Set<String> = [lead.unit.text]
        // A list intro ("…的：") or a step of a procedure brings the items that follow it.
        if let units = unitsByHit[lead.unit.hit], lead.unit.endsWithColon || (listAnswer && lead.unit.isListItem) {
            let after = units.filter { $0.start > lead.unit.start }
            for u in after.prefix(listAnswer ? 6 : 3) {
                guard u.isListItem || u.isRow, length + u.text.count <= maxCharacters,
                    chosen.count < (listAnswer ? 6 : 4)
                else { break }
                chosen.append(u)
                seenText.insert(u.text)
                length += u.text.count
            }
        }
        for s in scored where chosen.count < maxSentences {
            if seenText.contains(s.unit.text) { continue }
            if length + s.unit.text.count > maxCharacters || s.score < lead.score * 0.75
                || s.coverage < lead.coverage * 0.7 || (intent.wantsValue && !s.holds)
            {
                continue
            }
            chosen.append(s.unit)
            seenText.insert(s.unit.text)
            length += s.unit.text.count
        }
        return Self.compose(
            question: question, chosen: chosen.map { ($0.hit, $0.start, $0.text) }, candidates: candidates,
            coverage: best)
    }

    /// An answer from chosen sentences (best first): the best sentence leads, the others follow by
    /// chunk rank and position; citations are numbered in order of appearance.
    static func compose(
        question: String, chosen: [(hit: Int, start: Int, text: String)], candidates: [SearchHit], coverage: Double
    ) -> Answer {
        var chosen = chosen
        let lead = chosen.removeFirst()
        chosen.sort { ($0.hit, $0.start) < ($1.hit, $1.start) }
        chosen.insert(lead, at: 0)
        var numbers: [Int: Int] = [:]
        var citations: [Citation] = []
        var parts: [String] = []
        for s in chosen {
            let n: Int
            if let existing = numbers[s.hit] {
                n = existing
            } else {
                n = citations.count + 1
                numbers[s.hit] = n
                let h = candidates[s.hit]
                citations.append(
                    Citation(
                        n: n, document: h.document, section: h.section, page: h.page, chunkID: h.chunkID, text: h.text))
            }
            parts.append("\(s.text) [\(n)]")
        }
        let cjk = parts.joined().unicodeScalars.contains { $0.value >= 0x3000 }
        return Answer(
            question: question, answer: parts.joined(separator: cjk ? "" : " "), mode: "extractive", found: true,
            citations: citations, coverage: coverage)
    }

    /// The answer from meaning rather than shared words: sentences of the chunks dense retrieval
    /// ranked close to its best, scored by their embedding similarity with the question. Nil when
    /// no sentence qualifies or the sentences cannot be embedded.
    func semanticAnswer(
        question: String, hits: [SearchHit], evidence: SemanticEvidence, intent: QuestionIntent, coverage: Double
    ) -> Answer? {
        // The chunks whose dense similarity is close to the best one, in retrieval order.
        let candidates = Array(
            hits.filter {
                (evidence.chunkCosines[$0.chunkID] ?? -1) >= evidence.topCosine - evidence.calibration.chunkSpread
            }
            .prefix(3))
        guard !candidates.isEmpty else { return nil }
        var sentences: [(hit: Int, start: Int, text: String)] = []
        for (i, h) in candidates.enumerated() {
            for u in Self.units(of: h.text, hit: i) {
                guard
                    u.text.unicodeScalars.contains(where: {
                        $0.properties.isAlphabetic || $0.properties.numericType != nil
                    })
                else { continue }
                // The question's destination or scope must be named here too.
                if !intent.isInScope(h.document + "\n" + h.section + "\n" + u.text) { continue }
                sentences.append((i, u.start, u.text))
                if sentences.count >= 48 { break }
            }
        }
        guard !sentences.isEmpty, let similarities = try? evidence.similarity(sentences.map(\.text)),
            similarities.count == sentences.count
        else { return nil }
        var scored: [(index: Int, score: Double)] = []
        for (i, s) in sentences.enumerated() where similarities[i].isFinite {
            var score = similarities[i]
            // A sentence that asks (an FAQ's question line) is not an answer; a question that asks
            // for a value is answered by a sentence that holds one.
            if let last = s.text.unicodeScalars.last, last == "?" || last == "？" { score -= 0.03 }
            if !intent.isHeld(by: s.text) { score -= 0.02 }
            scored.append((i, score))
        }
        scored.sort { $0.score > $1.score }
        guard let top = scored.first, top.score >= evidence.calibration.minimumSentenceCosine else { return nil }
        var chosen: [(hit: Int, start: Int, text: String)] = []
        var length = 0
        for c in scored where chosen.count < 2 {
            let s = sentences[c.index]
            if !chosen.isEmpty
                && (c.score < top.score - evidence.calibration.sentenceSpread || length + s.text.count > maxCharacters
                    || chosen.contains(where: { $0.text == s.text }))
            {
                continue
            }
            chosen.append(s)
            length += s.text.count
        }
        return Self.compose(question: question, chosen: chosen, candidates: candidates, coverage: coverage)
    }
}

/// An English word or phrase of a question with the Chinese renderings the knowledge base contains,
/// as analysed terms.
public struct CrossLanguagePhrase: Sendable {
    /// The English phrase's terms.
    public var english: [UInt64]
    /// Each rendering's text and its terms (its character pairs, or its character).
    public var chinese: [(text: String, terms: [UInt64])]

    /// Creates a phrase.
    public init(english: [UInt64], chinese: [(text: String, terms: [UInt64])]) {
        self.english = english
        self.chinese = chinese
    }
}

/// What dense retrieval knows about a question, for ``ExtractiveAnswerer``.
public struct SemanticEvidence: Sendable {
    /// Cosine similarity of the best dense candidate with the question.
    public var topCosine: Double
    /// ``topCosine`` minus the mean cosine of the dense candidate pool: how much the best match
    /// stands out from the knowledge base at large.
    public var margin: Double
    /// Dense cosine of each candidate chunk.
    public var chunkCosines: [Int64: Double]
    /// Cosine similarities of texts (sentences) with the question.
    public var similarity: @Sendable ([String]) throws -> [Double]
    /// The embedder's thresholds.
    public var calibration: SemanticCalibration

    /// Creates evidence.
    public init(
        topCosine: Double, margin: Double, chunkCosines: [Int64: Double],
        similarity: @escaping @Sendable ([String]) throws -> [Double], calibration: SemanticCalibration
    ) {
        self.topCosine = topCosine
        self.margin = margin
        self.chunkCosines = chunkCosines
        self.similarity = similarity
        self.calibration = calibration
    }

    /// True when the best dense match is similar enough, and stands out enough, to answer from.
    public var isConfident: Bool { topCosine >= calibration.minimumCosine && margin >= calibration.minimumMargin }
}

/// Per-embedder thresholds for answering from dense evidence alone. Cosine scales differ between
/// models, so each model needs its own; an embedder without one never answers from meaning alone
/// (lexical coverage still decides).
public struct SemanticCalibration: Sendable, Equatable {
    /// The best chunk's cosine must reach this.
    public var minimumCosine: Double
    /// …and stand out from the candidate pool's mean by this much.
    public var minimumMargin: Double
    /// Chunks within this cosine of the best are read for sentences.
    public var chunkSpread: Double
    /// The best sentence's cosine must reach this.
    public var minimumSentenceCosine: Double
    /// A second sentence must be within this of the best.
    public var sentenceSpread: Double
    /// A question mostly in words the knowledge base does not contain is answered only when its best
    /// dense match stands out from the pool mean by at least this much.
    public var unknownTopicMargin: Double = 0

    /// Calibration of multilingual-e5-small (4-bit): measured on the CMRC 2018 trial set — 120 of its
    /// questions against the unrelated logistics sample (none answerable) reach a best cosine of at
    /// most 0.868 and a margin of at most 0.033, while against their own articles 95 % of questions
    /// reach ≥ 0.876 and 90 % a margin ≥ 0.039.
    public static let e5Small = SemanticCalibration(
        minimumCosine: 0.875, minimumMargin: 0.035, chunkSpread: 0.02, minimumSentenceCosine: 0.80,
        sentenceSpread: 0.015, unknownTopicMargin: 0.03)

    /// The calibration for an embedder id, or nil when none has been measured.
    public static func forEmbedder(_ id: String) -> SemanticCalibration? {
        id.hasPrefix("e5-small") ? e5Small : nil
    }
}

extension KnowledgeBase {
    /// Answers a question from this knowledge base (extractive: no model needed), retrieving by
    /// `mode` (default: the knowledge base's mode).
    ///
    /// With dense retrieval (an embedder whose cosine scale is calibrated, see
    /// ``SemanticCalibration``), a question that shares too few words with the best passages is still
    /// answered when its meaning matches one confidently — from the sentences closest in meaning.
    /// `queryVector` is the question's vector when the caller embedded it already (see
    /// ``denseQuery(_:mode:)``).
    ///
    /// A `followUp` (``FollowUp/detect(_:previousQuestion:previousTopic:)``) carries the previous
    /// question's topic into retrieval and into the choice of sentences, at a lower weight than the
    /// question's own words; the answer still cites the passages it quotes. A curated answer that
    /// matches the question (``curatedMatch(_:matcher:)``) answers first, as a `curated` citation;
    /// ``askTimed(_:topK:mode:queryVector:followUp:)`` (evaluations) does not consult them.
    public func ask(
        _ question: String, topK: Int = 8, mode: RetrievalMode? = nil, queryVector: [Float]? = nil,
        followUp: FollowUp? = nil
    ) throws -> Answer {
        if let match = try curatedMatch(question) { return Self.curatedAnswer(question: question, match: match) }
        return try askTimed(question, topK: topK, mode: mode, queryVector: queryVector, followUp: followUp).answer
    }

    /// ``ask(_:topK:mode:queryVector:)`` with its timings: the whole call and the answer step alone
    /// (after retrieval), for evaluation and benchmarks.
    public func askTimed(
        _ question: String, topK: Int = 8, mode: RetrievalMode? = nil, queryVector: [Float]? = nil,
        followUp: FollowUp? = nil
    ) throws -> (answer: Answer, totalSeconds: Double, answerSeconds: Double) {
        let start = ContinuousClock.now
        let (hits, lists) = try retrieve(
            question, topK: topK, mode: mode ?? defaultRetrievalMode, queryVector: queryVector, followUp: followUp)
        let retrieved = ContinuousClock.now
        let answer = extractiveAnswer(question, hits: hits, lists: lists, followUp: followUp)
        let end = ContinuousClock.now
        return (answer, (end - start).seconds, (end - retrieved).seconds)
    }

    /// The extractive answer to `question` from `hits` (retrieved for it; `lists` are the candidate
    /// lists they came from, for the dense evidence): what ``ask(_:topK:mode:queryVector:followUp:)``
    /// answers after retrieval. The grounded answerer's guard uses it as its fallback
    /// (``GroundedAnswerer/retrieve(_:topK:in:queryVector:)``).
    func extractiveAnswer(_ question: String, hits: [SearchHit], lists: CandidateLists?, followUp: FollowUp? = nil)
        -> Answer
    {
        var answerer = ExtractiveAnswerer()
        answerer.followUp = followUp
        answerer.renderings = crossLanguagePhrases(String(question.prefix(QueryLimits.maxCharacters)))
        answerer.crossLanguageHits = crossLanguageHits(answerer.renderings, question: question)
        if let dense = lists?.dense, let top = dense.first, let q = lists?.queryVector, let embedder = try? embedder(),
            let calibration = SemanticCalibration.forEmbedder(embedder.id)
        {
            let pool = dense.prefix(50).map { Double($0.score) }
            let mean = pool.reduce(0, +) / Double(pool.count)
            let cosines = Dictionary(dense.map { ($0.id, Double($0.score)) }, uniquingKeysWith: { a, _ in a })
            answerer.semantic = SemanticEvidence(
                topCosine: Double(top.score), margin: Double(top.score) - mean, chunkCosines: cosines,
                similarity: { texts in
                    return try embedder.embedBlocking(texts, as: .passage).vectors.map { v in
                        Double(zip(q, v).reduce(Float(0)) { $0 + $1.0 * $1.1 })
                    }
                }, calibration: calibration)
        }
        return answerer.answer(question: question, hits: hits, analyzer: analyzer) { index.idf($0) }
    }
}
