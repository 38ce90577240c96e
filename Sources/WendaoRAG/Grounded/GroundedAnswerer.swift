import Foundation
public import WendaoCore
import WendaoIndex
import WendaoText

/// Answers questions with a language model, from numbered sources retrieved from a knowledge base,
/// and checks the citations the model writes.
///
/// 1. A follow-up (non-empty history) is rewritten by the model into a standalone search query.
/// 2. The knowledge base is searched. When the best passage covers too little of the query
///    (``Options/minimumCoverage``, the measure of ``ExtractiveAnswerer``), the query is translated
///    into the other language (Chinese ↔ English) and searched again; when still nothing is
///    relevant the answer is the not-found sentence and the answering model is not called.
/// 3. The passages that fit the context window become numbered sources (``GroundedPrompt``).
/// 4. The answer streams through a ``CitationFilter``: markers normalised, markers pointing at no
///    source removed, remote images removed.
/// 5. The citations of the result are the sources the answer actually cites.
///
/// **The answer guard** (``Options/answerGuard``; on by default for small models, see
/// ``AnswerGuardMode``) makes a small model's answer safe to show:
///
/// - The extractive answer over the same passages (``GroundedRetrieval/extractive``) decides whether
///   the knowledge base answers at all: when it finds nothing, the answer is "not found" and the model
///   is not called (small models affirm whatever they are asked); when the relevance gate fails but it
///   finds an answer, that answer is given.
/// - The model reads fewer sources (``Options/guardedSources``), the extractive answer's passages
///   first, under shorter rules (the `answer-system-small` template).
/// - Each sentence of the reply is checked as it completes (``SupportChecker``): its facts must be in
///   the sources it cites (a sentence that cites none, or the wrong one, is given the source that
///   supports it). Supported sentences are shown once together they state what the question asks for
///   and agree with the extractive answer (drawn from the passage its lead quotes; stating, as
///   written, the values it gives for what was asked): the extractive answerer decides what answers,
///   the model words it. The first unsupported sentence stops the model, and when nothing was shown
///   yet the extractive answer is given instead (its citations numbered among the sources), or "not
///   found" when there is none. ``GroundedAnswer/answeredBy`` says which path answered and
///   ``GroundedAnswer/answerGuard`` what the guard did.
///
/// ```swift
/// let answerer = GroundedAnswerer(model: model)
/// let result = try await answerer.answer("首重多少钱？", in: kb) { event in
///     if case .text(let piece) = event { print(piece, terminator: "") }
/// }
/// print(result.citations.map(\.document))
/// ```
public struct GroundedAnswerer: Sendable {
    /// Tunables of grounded answering.
    public struct Options: Sendable, Equatable {
        /// Passages retrieved per search.
        public var topK = 8
        /// Tokens reserved for (and the limit on) the answer.
        public var maxAnswerTokens = 1024
        /// An optional cap on the tokens of sources in the prompt (the context window is the other
        /// limit).
        public var maxContextTokens: Int?
        /// Sampling temperature of the answer call (low: answers stay close to the sources).
        public var temperature = 0.2
        /// The relevance gate: the share of the query's informative term weight (see
        /// ``ExtractiveAnswerer``) the best retrieved passage must contain, else the answer is "not
        /// found" without calling the model. A little below the extractive answerer's 0.35, because
        /// a model can still answer from a passage that paraphrases part of the question, while the
        /// extractive answerer has to quote a sentence that matches it.
        ///
        /// The measure is lexical, so it cannot tell a Chinese word the knowledge base lacks
        /// (`股市`) from a paraphrase of one it has (`公斤` where the documents say `kg`): an
        /// off-topic Chinese question that shares a word or a few characters with a passage can
        /// pass, and the model then answers "not found". Stricter variants (full weight for
        /// unknown pairs, coverage of the rarest terms, pairs only) were measured on the sample
        /// knowledge base and each gated out more answerable questions, so they were not adopted.
        public var minimumCoverage = 0.3
        /// Rewrite follow-up questions (when there is history) into standalone search queries.
        public var rewriteFollowUps = true
        /// When nothing relevant is found, translate the query (Chinese ↔ English) and search again.
        public var crossLingual = true
        /// At most this many earlier messages are used (a question and its answer are two).
        public var historyTurns = 6
        /// Token limit of the rewrite and translation calls.
        public var queryMaxTokens = 128
        /// When a model's answer is checked sentence by sentence against its sources, with the
        /// extractive answer as the fallback (see the type's documentation): `auto` (default) for small
        /// models (``AnswerGuardMode/isSmallModel(_:)``), `on`, or `off`.
        public var answerGuard = AnswerGuardMode.auto
        /// Under the guard: at most this many sources in the prompt, the extractive answer's passages
        /// first (a small model reads a few passages better than many, and a short prompt starts
        /// sooner on a CPU).
        public var guardedSources = 4
        /// Under the guard: at most this many sentences shown.
        public var guardedSentences = 4
        /// Under the guard: at most this many answer tokens (a small model that loops stops sooner).
        public var guardedAnswerTokens = 320
        /// Under the guard: the least share of a sentence's content words its sources must contain
        /// (``SupportChecker``).
        public var guardTermShare = 0.6

        /// The defaults.
        public init() {}
    }

    /// The model that rewrites, translates and answers.
    public var model: any ChatModel
    /// The prompts.
    public var templates: PromptTemplates
    /// The tunables.
    public var options: Options

    /// Creates an answerer.
    public init(model: any ChatModel, templates: PromptTemplates = .builtIn, options: Options = .init()) {
        self.model = model
        self.templates = templates
        self.options = options
    }

    /// Answers `question` from `kb`, reporting progress and the answer text to `onEvent` as they
    /// come. `history` holds the earlier turns of the conversation (already answered).
    ///
    /// Runs on the caller's executor, searching `kb` there (the knowledge base is not `Sendable`;
    /// it is never captured by an escaping closure). A server passes an async `retrieve` instead
    /// (``answer(_:history:retrieve:onEvent:)``), so that searches run where its blocking work runs.
    nonisolated(nonsending)
        public func answer(
            _ question: String, history: [ChatMessage] = [], in kb: KnowledgeBase, onEvent: (GroundedEvent) -> Void
        ) async throws -> GroundedAnswer
    {
        try await answer(
            question, history: history, retrieve: { query, topK in try Self.retrieve(query, topK: topK, in: kb) },
            onEvent: onEvent)
    }

    /// Answers `question` from what `retrieve(query, topK)` finds, reporting progress and the answer
    /// text to `onEvent` as they come. `history` holds the earlier turns of the conversation
    /// (already answered). `retrieve` is called once or twice (the second time with the query
    /// translated); ``retrieve(_:topK:in:queryVector:)`` is what it does against a knowledge base.
    ///
    /// Throws `.invalidArgument` for an empty question, `.contextTooLong` when the model's context
    /// window leaves no room for sources, and whatever the model or `retrieve` throws.
    nonisolated(nonsending)
        public func answer(
            _ question: String, history: [ChatMessage] = [],
            retrieve: (_ query: String, _ topK: Int) async throws -> GroundedRetrieval,
            onEvent: (GroundedEvent) -> Void
        ) async throws -> GroundedAnswer
    {
        let asked = question.trimmingCharactersInSet()
        guard !asked.isEmpty else { throw WendaoError(.invalidArgument, "the question is empty") }
        let language = AnswerLanguage.detect(asked)
        let guarded = options.answerGuard.isOn(forModel: model.id)
        var usage = TokenUsage.zero
        var result = GroundedAnswer(
            question: question, query: asked, translatedQuery: nil, answer: "", mode: "llm", model: model.id,
            found: false, language: language, coverage: 0, citations: [], sources: [], invalidCitations: [],
            uncited: false, truncatedContext: false, removedImages: 0, warningDetails: [], usage: .zero,
            finishReason: nil)
        result.answerGuard = guarded ? AnswerGuardReport() : nil

        // 1. A follow-up becomes a standalone query.
        var query = asked
        if options.rewriteFollowUps {
            let conversation = Self.conversationText(history, limit: options.historyTurns)
            if !conversation.isEmpty {
                try Task.checkCancellation()
                let prompt = templates.render(
                    .rewrite,
                    [
                        "history": conversation, "question": GroundedPrompt.dataText(asked),
                        "language": language.displayName,
                    ])
                let reply = try await model.complete(
                    [ChatMessage(.user, prompt)],
                    options: ChatOptions(temperature: 0, maxTokens: options.queryMaxTokens))
                usage = usage + reply.usage
                result.modelCalls += 1
                query = Self.cleanQuery(reply.text) ?? asked
                onEvent(.rewritten(query))
            }
        }

        // 2. Retrieve; gate on relevance; cross-lingual second search.
        var found: GroundedRetrieval
        do {
            found = try await retrieve(query, options.topK)
        } catch let e as WendaoError where e.code == .invalidArgument && query != asked {
            // The rewritten query has no searchable words: search the question itself.
            query = asked
            found = try await retrieve(query, options.topK)
        }
        var hits = found.hits
        result.query = query
        var coverage = found.coverage
        var extractive = found.extractive
        let queryCoverage = found.queryCoverage
        let unknownTerms = found.unknownQueryTerms
        // A small model's translation is not asked for under the guard: nothing checks it, and a poor one
        // (a 135M model's) made an unanswerable question look answered through the passages it found
        // ("运费可以用信用卡分期付吗？"); the extractive answerer's own cross-language renderings remain.
        if coverage < options.minimumCoverage && options.crossLingual && !guarded {
            try Task.checkCancellation()
            let target = language.other
            let prompt = templates.render(
                .translate, ["question": GroundedPrompt.dataText(query), "language": target.displayName])
            let reply = try await model.complete(
                [ChatMessage(.user, prompt)], options: ChatOptions(temperature: 0, maxTokens: options.queryMaxTokens))
            usage = usage + reply.usage
            result.modelCalls += 1
            if let translated = Self.cleanQuery(reply.text), translated != query {
                result.translatedQuery = translated
                onEvent(.translated(translated))
                // A translation without searchable words finds nothing.
                let more = (try? await retrieve(translated, options.topK)) ?? GroundedRetrieval(hits: [], coverage: 0)
                let translatedCoverage = more.coverage
                hits = Self.fuse([(hits, coverage), (more.hits, translatedCoverage)], topK: options.topK)
                coverage = max(coverage, translatedCoverage)
                if extractive?.found != true, let other = more.extractive, other.found || extractive == nil {
                    extractive = other
                }
            }
        }
        result.coverage = coverage
        result.usage = usage
        if guarded, let extractive, !extractive.found {
            // The passages do not answer (the extractive answerer's not-found decision): a small model
            // would only guess, so it is not asked.
            result.answerGuard?.fallbackReason = "the retrieved passages do not answer the question"
            return Self.notFound(result, onEvent: onEvent)
        }
        guard coverage >= options.minimumCoverage, !hits.isEmpty else {
            if guarded, let extractive, extractive.found {
                // Relevant by the extractive answerer's own evidence (meaning, or the other language).
                result.answerGuard?.fallbackReason = "the passages are relevant to the extractive answerer only"
                let (sources, mapped) = Self.numbering(extractive, among: [])
                result.sources = sources
                onEvent(.sources(sources))
                return Self.answeredExtractively(result, mapped, onEvent: onEvent)
            }
            return Self.notFound(result, onEvent: onEvent)
        }

        // 3. Sources that fit (under the guard: few, the extractive answer's passages first).
        var offered = hits
        if guarded {
            let first = extractive?.citations.map(\.chunkID) ?? []
            let lead = first.compactMap { id in hits.first { $0.chunkID == id } }
            offered = Array((lead + hits.filter { !first.contains($0.chunkID) }).prefix(max(1, options.guardedSources)))
        }
        let answerTokens = guarded ? min(options.maxAnswerTokens, options.guardedAnswerTokens) : options.maxAnswerTokens
        let prompt = try GroundedPrompt.assemble(
            question: asked, hits: offered, history: history, templates: templates, language: language,
            contextWindow: model.contextWindow, maxAnswerTokens: answerTokens,
            maxContextTokens: options.maxContextTokens, historyTurns: options.historyTurns,
            system: guarded ? .answerSystemSmall : .answerSystem)
        result.sources = prompt.sources
        result.truncatedContext = prompt.truncatedContext
        // The extractive fallback is numbered among the sources (its passages the prompt lacks are added).
        var fallback: (text: String, citations: [Citation])?
        if guarded, let extractive, extractive.found {
            let (sources, mapped) = Self.numbering(extractive, among: prompt.sources)
            result.sources = sources
            fallback = mapped
        }
        onEvent(.sources(result.sources))

        // 4. Stream the answer through the citation filter (and, under the guard, the sentence check).
        try Task.checkCancellation()
        var filter = CitationFilter(sourceCount: prompt.sources.count)
        var text = ""
        var guardStream: GuardedAnswerStream?
        if guarded {
            let agreement = fallback.map {
                GuardedAnswerStream.Agreement(
                    answer: $0.text, citations: $0.citations, offered: prompt.sources.count,
                    intent: QuestionIntent(asked))
            }
            guardStream = GuardedAnswerStream(
                checker: SupportChecker(
                    sources: prompt.sources, question: asked, minimumTermShare: options.guardTermShare,
                    minimumSourceCoverage: options.minimumCoverage, questionCoverage: queryCoverage,
                    unknownTerms: unknownTerms),
                question: asked, agreement: agreement, maxSentences: options.guardedSentences)
        }
        func perform(_ actions: [GuardedAnswerStream.Action]) {
            for case .emit(let piece) in actions {
                text += piece
                onEvent(.text(piece))
            }
        }
        let stream = model.streamChat(
            prompt.messages, options: ChatOptions(temperature: options.temperature, maxTokens: answerTokens))
        // What the model wrote, and whether it reported its usage: a guard that decides early ends the
        // stream before the usage event, and the tokens spent are then estimated, not dropped.
        var written = ""
        var reported = false
        reading: for try await event in stream {
            switch event {
            case .text(let t):
                written += t
                let piece = filter.feed(t)
                guard !piece.isEmpty else { continue }
                if var g = guardStream {
                    perform(g.feed(piece))
                    guardStream = g
                    // Decided: leaving the loop ends the stream, which cancels the model's call.
                    if g.finished { break reading }
                } else {
                    text += piece
                    onEvent(.text(piece))
                }
            case .reasoning: break
            case .usage(let u):
                usage = usage + u
                reported = true
            case .finish(let reason): result.finishReason = reason
            }
        }
        if !reported { usage = usage + TokenUsage.estimate(prompt: prompt.messages, completion: written) }
        // A cancelled consumer's loop ends early without an error: do not pass the partial answer off
        // as complete.
        try Task.checkCancellation()
        result.modelCalls += 1
        let tail = filter.finish()
        if var g = guardStream {
            if !g.finished {
                perform(g.feed(tail))
                perform(g.finish(cutOff: result.finishReason == "length"))
            }
            result.usage = usage
            result.answerGuard = g.report
            if g.shown {
                result.answer = text
                result.found = true
                result.citations = result.sources.filter { g.cited.contains($0.n) }
                result.removedImages = filter.removedImages
                result.invalidCitations = filter.invalidMarkers
                result.warningDetails += warnings(
                    for: result, sourceCount: prompt.sources.count, answerTokens: answerTokens)
                return result
            }
            result.truncatedContext = false
            result.finishReason = result.finishReason == "length" ? nil : result.finishReason
            if let fallback { return Self.answeredExtractively(result, fallback, onEvent: onEvent) }
            return Self.notFound(result, onEvent: onEvent)
        }
        if !tail.isEmpty {
            text += tail
            onEvent(.text(tail))
        }
        result.usage = usage
        result.removedImages = filter.removedImages
        result.invalidCitations = filter.invalidMarkers

        // 5. Check what the answer says and cites. The answer is exactly the text streamed, even
        // when it is the not-found sentence of the other language: the reader already saw it.
        result.answer = text
        let body = text.trimmingCharactersInSet()
        if body.isEmpty {
            result.warningDetails.append(
                AnswerWarning(
                    .emptyAnswer,
                    "the model returned an empty answer"
                        + (result.finishReason.map { " (finish reason: \($0))" } ?? "")))
        } else if AnswerLanguage.isNotFoundSentence(GroundedPrompt.removingCitationMarkers(body)) {
            // Not found, in either language: nothing is cited.
        } else {
            result.found = true
            result.citations = prompt.sources.filter { filter.cited.contains($0.n) }
            result.uncited = filter.cited.isEmpty
        }
        result.warningDetails += warnings(for: result, sourceCount: prompt.sources.count, answerTokens: answerTokens)
        return result
    }

    /// `result` answered with the not-found sentence of its language (streamed as the answer).
    private static func notFound(_ result: GroundedAnswer, onEvent: (GroundedEvent) -> Void) -> GroundedAnswer {
        var r = result
        r.answer = r.language.notFoundSentence
        r.found = false
        r.answeredBy = .notFound
        onEvent(.text(r.answer))
        return r
    }

    /// `result` answered with the extractive answer (already numbered among its sources).
    private static func answeredExtractively(
        _ result: GroundedAnswer, _ answer: (text: String, citations: [Citation]), onEvent: (GroundedEvent) -> Void
    ) -> GroundedAnswer {
        var r = result
        r.answer = answer.text
        r.found = true
        r.citations = answer.citations
        r.uncited = false
        r.answeredBy = .extractive
        onEvent(.text(r.answer))
        return r
    }

    /// The extractive answer `answer` with its citations numbered among `sources`: a cited passage that
    /// is one of them (whole) takes its number, the others are added after them. Returns the sources
    /// with the additions, and the answer's text and citations renumbered.
    static func numbering(_ answer: Answer, among sources: [Citation]) -> (
        sources: [Citation], answer: (text: String, citations: [Citation])
    ) {
        var all = sources
        var map: [Int: Int] = [:]
        for c in answer.citations {
            if let same = sources.first(where: { $0.chunkID == c.chunkID && $0.kind == c.kind && $0.text == c.text }) {
                map[c.n] = same.n
            } else {
                var added = c
                added.n = all.count + 1
                all.append(added)
                map[c.n] = added.n
            }
        }
        // Renumber the markers, `[k]` → `[map[k]]` (the extractive answer writes only its own markers).
        let s = Array(answer.answer.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == "[" {
                var k = i + 1
                var value = 0
                while k < s.count && FactScanner.isDigit(s[k]) && k - i <= 3 {
                    value = value * 10 + Int(s[k].value - 0x30)
                    k += 1
                }
                if k > i + 1 && k < s.count && s[k] == "]", let n = map[value] {
                    out.append(contentsOf: "[\(n)]".unicodeScalars)
                    i = k + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        let cited = answer.citations.compactMap { c in map[c.n].flatMap { n in all.first { $0.n == n } } }
        return (all, (String(out), cited))
    }

    // MARK: - Internals

    private func warnings(for r: GroundedAnswer, sourceCount: Int, answerTokens: Int) -> [AnswerWarning] {
        var w: [AnswerWarning] = []
        if r.uncited {
            w.append(.init(.uncited, "the answer cites no source: check it against the sources before relying on it"))
        }
        if !r.invalidCitations.isEmpty {
            let list = r.invalidCitations.map { "[\($0)]" }.joined(separator: ", ")
            w.append(
                .init(
                    .invalidCitations,
                    "removed citation markers that point at no source: \(list) (there were \(sourceCount) sources)"))
        }
        if r.removedImages > 0 {
            w.append(.init(.removedImages, "removed \(r.removedImages) remote image(s) from the answer"))
        }
        if r.truncatedContext {
            w.append(.init(.contextTruncated, "the best passage was cut to fit the model's context window"))
        }
        switch r.finishReason {
        case "length"?:
            w.append(
                .init(.lengthLimit, "the answer reached the limit of \(answerTokens) tokens and is cut off"))
        case "content_filter"?: w.append(.init(.contentFilter, "the provider's content filter stopped the answer"))
        default: break
        }
        return w
    }

    /// Relevance of `hits` to `query`: the best coverage among the first six passages (section and
    /// text), as ``ExtractiveAnswerer`` measures it.
    static func relevance(of query: String, in hits: [SearchHit], kb: KnowledgeBase) -> Double {
        guard !hits.isEmpty else { return 0 }
        let bounded = String(String.UnicodeScalarView(query.unicodeScalars.prefix(QueryLimits.maxCharacters)))
        let profile = ExtractiveAnswerer.profile(bounded, analyzer: kb.analyzer) { kb.index.idf($0) }
        guard !profile.isEmpty else { return 0 }
        return hits.prefix(6).map {
            ExtractiveAnswerer.coverage(profile, in: Set(kb.analyzer.terms($0.section + "\n" + $0.text)))
        }.max() ?? 0
    }

    /// Search results of `query`, or none when it has no searchable words.
    static func searchIfSearchable(_ query: String, topK: Int, kb: KnowledgeBase) -> [SearchHit] {
        (try? kb.search(query, topK: topK)) ?? []
    }

    /// The `topK` best passages of `kb` for `query`, their relevance and the extractive answer over
    /// them (see ``GroundedRetrieval``): what ``answer(_:history:in:onEvent:)`` retrieves. `queryVector`
    /// is the query's vector when the caller embedded it already (see
    /// ``KnowledgeBase/denseQuery(_:mode:)``); `mode` overrides the knowledge base's retrieval mode.
    public static func retrieve(
        _ query: String, topK: Int, in kb: KnowledgeBase, queryVector: [Float]? = nil, mode: RetrievalMode? = nil
    ) throws -> GroundedRetrieval {
        let (hits, lists) = try kb.retrieve(
            query, topK: topK, mode: mode ?? kb.defaultRetrievalMode, queryVector: queryVector)
        let bounded = String(String.UnicodeScalarView(query.unicodeScalars.prefix(QueryLimits.maxCharacters)))
        let profile = ExtractiveAnswerer.profile(bounded, analyzer: kb.analyzer) { kb.index.idf($0) }
        let analyzer = kb.analyzer
        return GroundedRetrieval(
            hits: hits, coverage: relevance(of: query, in: hits, kb: kb),
            extractive: kb.extractiveAnswer(query, hits: hits, lists: lists),
            queryCoverage: { text in
                profile.isEmpty ? 0 : ExtractiveAnswerer.coverage(profile, in: Set(analyzer.terms(text)))
            },
            unknownQueryTerms: Set(profile.concepts.filter { !$0.known }.flatMap { $0.alternatives.flatMap { $0 } })
                .subtracting(boundaryPairs(bounded, kb: kb)))
    }

    /// The character pairs of `query` that no document has only because they straddle two words the
    /// documents do have: 链运 and 输温 in "冷链运输温度" (冷链 · 运输 · 温度). They are not words the
    /// question brings, so an answer that repeats the question's phrase is not taken for one that
    /// speaks of something no document mentions. (成立 in "迅达快运是哪年成立的" is not one: 年成 and
    /// 立的 are not in the documents either.)
    static func boundaryPairs(_ query: String, kb: KnowledgeBase) -> Set<UInt64> {
        var out = Set<UInt64>()
        let analyzer = kb.analyzer
        func pairHash(_ a: Character, _ b: Character) -> UInt64? {
            let tokens = analyzer.tokens(String([a, b]))
            guard let t = tokens.first(where: { $0.unicodeScalars.count == 2 }) else { return nil }
            return Analyzer.hash(term: t)
        }
        func known(_ h: UInt64?) -> Bool { h.map { kb.index.documentFrequency($0) > 0 } ?? false }
        var run: [Character] = []
        func flush() {
            defer { run.removeAll() }
            guard run.count >= 4 else { return }
            let pairs = (0..<(run.count - 1)).map { pairHash(run[$0], run[$0 + 1]) }
            for i in 1..<(pairs.count - 1) {
                guard let h = pairs[i], !known(h), known(pairs[i - 1]), known(pairs[i + 1]) else { continue }
                out.insert(h)
            }
        }
        for c in query {
            if c.unicodeScalars.allSatisfy({ $0.value >= 0x3400 && $0.properties.isIdeographic }) {
                run.append(c)
            } else {
                flush()
            }
        }
        flush()
        return out
    }

    /// Reciprocal-rank fusion of result lists, each weighted by its relevance (so a list that
    /// failed the gate ranks below one that passed it); deduplicated by chunk id; ranks renumbered.
    static func fuse(_ lists: [(hits: [SearchHit], weight: Double)], topK: Int) -> [SearchHit] {
        var score: [Int64: Double] = [:]
        var first: [Int64: SearchHit] = [:]
        var order: [Int64] = []
        for (hits, weight) in lists {
            let w = max(weight, 0.05)
            for (i, h) in hits.enumerated() {
                score[h.chunkID, default: 0] += w / Double(60 + i + 1)
                if first[h.chunkID] == nil {
                    first[h.chunkID] = h
                    order.append(h.chunkID)
                }
            }
        }
        let ranked = order.enumerated().sorted {
            let a = score[$0.element] ?? 0
            let b = score[$1.element] ?? 0
            return a != b ? a > b : $0.offset < $1.offset
        }
        var out: [SearchHit] = []
        for (_, id) in ranked.prefix(max(1, topK)) {
            guard var h = first[id] else { continue }
            h.rank = out.count + 1
            out.append(h)
        }
        return out
    }

    /// The earlier turns as text for the rewrite prompt: `User: …` / `Assistant: …` lines,
    /// neutralised, each turn at most 1,000 characters.
    static func conversationText(_ history: [ChatMessage], limit: Int) -> String {
        GroundedPrompt.historyMessages(history, limit: limit).map { m in
            var text = GroundedPrompt.dataText(m.content)
            if text.unicodeScalars.count > 1000 {
                text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(1000))) + "…"
            }
            return (m.role == .user ? "User: " : "Assistant: ") + text
        }.joined(separator: "\n")
    }

    /// Longest query kept from a rewrite or translation.
    static let maxQueryLength = 512

    /// A model's rewrite or translation reduced to one clean query line: reasoning blocks, labels
    /// (`Query:`, `翻译：`), quotes and markup removed; nil when nothing usable is left.
    static func cleanQuery(_ reply: String) -> String? {
        var text = reply
        // Models that think aloud in the text: keep what follows the reasoning.
        if let end = text.range(of: "</think>") { text = String(text[end.upperBound...]) }
        let lines = GroundedPrompt.stripInvisible(text).split(whereSeparator: { $0.isNewline })
        guard var line = lines.map({ $0.trimmingCharacters(in: .whitespaces) }).first(where: { !$0.isEmpty }) else {
            return nil
        }
        let labels = [
            "standalone search query", "standalone query", "search query", "rewritten query", "query", "translation",
            "translated query", "查询", "检索词", "搜索词", "检索语句", "改写后的问题", "改写", "问题", "翻译",
        ]
        for sep in [":", "："] {
            if let r = line.range(of: sep),
                labels.contains(line[..<r.lowerBound].trimmingCharacters(in: .whitespaces).lowercased())
            {
                line = line[r.upperBound...].trimmingCharacters(in: .whitespaces)
                break
            }
        }
        let wrappers: Set<Unicode.Scalar> = [
            "\"", "'", "“", "”", "‘", "’", "「", "」", "『", "』", "`", "*", "<", ">", "《", "》", " ",
        ]
        var scalars = Substring(line).unicodeScalars
        while let f = scalars.first, wrappers.contains(f) { scalars.removeFirst() }
        while let l = scalars.last, wrappers.contains(l) { scalars.removeLast() }
        var query = String(Substring(scalars))
        if query.unicodeScalars.count > maxQueryLength {
            query = String(String.UnicodeScalarView(query.unicodeScalars.prefix(maxQueryLength)))
        }
        let hasContent = query.unicodeScalars.contains {
            $0.properties.isAlphabetic || $0.properties.numericType != nil
        }
        guard hasContent, !AnswerLanguage.isNotFoundSentence(query) else { return nil }
        return query
    }
}
