import NIOCore
import HTTPTypes
import Foundation
import Hummingbird
import Logging
import WendaoCore
import WendaoModels
import WendaoRAG

struct SearchBody: Decodable {
    var query: String
    var top_k: Int?
    var budget_chars: Int?
    var mode: String?
}

struct AskBody: Decodable {
    var question: String
    var model: String?
    var history: [ChatMessage]?
    var top_k: Int?
    var stream: Bool?
    /// The conversation this question continues; absent: a new one.
    var conversation_id: Int64?
}

/// What one answer produced, for JSON, SSE and the OpenAI routes alike.
enum AnswerOutcome: Sendable {
    case extractive(Answer)
    case grounded(GroundedAnswer, UsageReport)
    /// A provider model's reply without retrieval (OpenAI passthrough).
    case plain(String, TokenUsage?)

    var text: String {
        switch self {
        case .extractive(let a): a.answer
        case .grounded(let g, _): g.answer
        case .plain(let t, _): t
        }
    }

    var citations: [Citation] {
        switch self {
        case .extractive(let a): a.citations
        case .grounded(let g, _): g.citations
        case .plain: []
        }
    }

    var found: Bool {
        switch self {
        case .extractive(let a): a.found
        case .grounded(let g, _): g.found
        case .plain: true
        }
    }

    var usage: TokenUsage? {
        switch self {
        case .extractive: nil
        case .grounded(let g, _): g.usage
        case .plain(_, let u): u
        }
    }

    func encodedResponse(stored: StoredTurn? = nil) throws -> Response {
        switch self {
        case .extractive(let a): try JSON.response(WithStoredTurn(base: a, stored: stored))
        case .grounded(let g, let u):
            try JSON.response(WithStoredTurn(base: AnswerReport(answer: g, usage: u), stored: stored))
        case .plain(let t, _): try JSON.response(["answer": t])
        }
    }
}

extension WendaoAPI {
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        (ContinuousClock.now - start).seconds
    }

    /// White space as JSON Schema patterns (ECMA-262 `\s`) see it: the OpenAPI document says a
    /// question must match `\S`, and the server must agree on what is blank.
    static let blank = CharacterSet(
        charactersIn: "\t\n\u{0B}\u{0C}\r \u{A0}\u{1680}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}\u{FEFF}"
    )
    .union(CharacterSet(charactersIn: "\u{2000}"..."\u{200A}"))

    /// Whether `text` holds nothing but white space.
    static func isBlank(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { blank.contains($0) }
    }

    /// A question or query: not blank, at most ``ServerConfiguration/maxQueryCharacters`` characters
    /// (Unicode scalars, as JSON Schema's `maxLength` counts them).
    func checkQuery(_ text: String, _ what: String) throws {
        guard !Self.isBlank(text) else {
            throw APIError.badRequest("the \(what) is empty")
        }
        guard text.unicodeScalars.count <= service.configuration.maxQueryCharacters else {
            throw APIError(
                status: .contentTooLarge, code: "limit_exceeded",
                message: "the \(what) is longer than \(service.configuration.maxQueryCharacters) characters")
        }
    }

    /// How a knowledge base will answer, settled before any work (and before a stream starts, so
    /// that a bad model or a missing provider key is a plain 4xx, never a 200 with an error event).
    struct AnswerPlan: Sendable {
        /// The knowledge base.
        var kb: String
        /// The answering model; nil for extractive answers.
        var model: ResolvedModel?
        /// The prompt templates (with a model).
        var templates: PromptTemplates?
    }

    /// The plan for answering from `record`: with the requested model, else the knowledge base's,
    /// else the configured default, else extractively.
    func planAnswer(_ record: KnowledgeBaseRecord, model requested: String?) async throws -> AnswerPlan {
        guard let model = try resolveModel(requested: requested, kbModel: record.settings.model) else {
            return AnswerPlan(kb: record.name)
        }
        // Reading the templates is file work: on the thread pool.
        let directory = service.configuration.dataDirectory
        let name = record.name
        let templates = try await service.blocking { try PromptTemplates.load(dataDirectory: directory, kb: name) }
        // A local model is loaded now (once per process), so that one that cannot load is an error
        // status, not an error event after a 200.
        if model.isLocal { _ = try await service.chatModel(for: model) }
        return AnswerPlan(kb: record.name, model: model, templates: templates)
    }

    /// The model for an answer (see ``KnowledgeService/model(requested:kbModel:requireKey:)``). A
    /// name not written `provider:model` is a 400; a well-formed name this server cannot use (an
    /// unknown provider, no key for it) is a 404: the model does not exist here.
    func resolveModel(requested: String?, kbModel: String?) throws -> ResolvedModel? {
        do {
            return try service.model(requested: requested, kbModel: kbModel)
        } catch let e as WendaoError
            where e.code != .internal && e.code != .storage && e.code != .storageUnavailable
        {
            let spec = requested ?? kbModel ?? ""
            guard spec.contains(":") else { throw APIError(wendao: e) }
            throw APIError.notFound("model '\(spec)' is not available on this server: \(e.message)")
        }
    }

    /// Answers `question` as `plan` says. `onEvent` sees the streamed pieces. A `followUp` carries
    /// the previous question's topic into an extractive answer's retrieval (a model rewrites a
    /// follow-up itself, from `history`).
    func answer(
        _ question: String, plan: AnswerPlan, history: [ChatMessage], topK: Int, followUp: FollowUp? = nil,
        onEvent: (GroundedEvent) -> Void
    ) async throws -> AnswerOutcome {
        guard let model = plan.model, let templates = plan.templates else {
            let text = followUp?.denseText(question) ?? question
            let a = try await service.withKnowledgeBase(plan.kb, query: text, mode: nil) { kb, vector -> Answer in
                do {
                    return try kb.ask(question, topK: topK, queryVector: vector, followUp: followUp)
                } catch let e as WendaoError
                    where e.code == .invalidArgument && (try? kb.queryTerms(question)) == nil
                {
                    // Nothing searchable in the question (only punctuation or stopwords): not found.
                    return ExtractiveAnswerer().answer(
                        question: question, hits: [], analyzer: kb.analyzer, idf: { _ in 0 })
                }
            }
            onEvent(.text(a.answer))
            return .extractive(a)
        }
        // A curated answer is returned as it is: the model is not called.
        let curated = try await service.withKnowledgeBase(plan.kb) { kb -> Answer? in
            try kb.curatedMatch(question).map { KnowledgeBase.curatedAnswer(question: question, match: $0) }
        }
        if let curated {
            onEvent(.text(curated.answer))
            return .extractive(curated)
        }
        var options = GroundedAnswerer.Options()
        options.topK = topK
        let answerer = GroundedAnswerer(
            model: try await service.chatModel(for: model), templates: templates, options: options)
        let started = ContinuousClock.now
        // Each search runs on the thread pool (its query vector awaited first); the model calls
        // are awaited here.
        let service = self.service
        let name = plan.kb
        let g = try await answerer.answer(
            question, history: history,
            retrieve: { query, k in
                try await service.withKnowledgeBase(name, query: query, mode: nil) { kb, vector in
                    try GroundedAnswerer.retrieve(query, topK: k, in: kb, queryVector: vector)
                }
            }, onEvent: onEvent)
        let seconds = Self.seconds(since: started)
        metrics.observe("model_answer", seconds: seconds)
        return .grounded(g, UsageReport(model: model, usage: g.usage, calls: g.modelCalls, seconds: seconds))
    }

    func addAnswerRoutes(_ api: RouterGroup<WendaoContext>) {
        api.post("kbs/:kb/search") { request, context in
            let name = try context.knowledgeBaseName()
            _ = try await visibleRecord(name, context)
            let body = try await JSON.decode(SearchBody.self, from: request, limit: limits.json)
            try checkQuery(body.query, "query")
            let topK = body.top_k ?? 10
            guard (1...100).contains(topK) else { throw APIError.badRequest("top_k must be between 1 and 100") }
            let started = ContinuousClock.now
            defer { metrics.observe("retrieval", seconds: Self.seconds(since: started)) }
            var requestedMode: RetrievalMode?
            if let m = body.mode {
                guard let parsed = RetrievalMode(rawValue: m) else {
                    throw APIError.badRequest("mode must be bm25, dense or hybrid")
                }
                requestedMode = parsed
            }
            let mode = requestedMode
            if let budget = body.budget_chars, budget <= 0 {
                throw APIError.badRequest("budget_chars must be positive")
            }
            let hits = try await service.withKnowledgeBase(name, query: body.query, mode: mode) {
                kb, vector -> [SearchHit] in
                if let mode, mode != .bm25, kb.record.settings.embedder == nil {
                    throw APIError(
                        status: .conflict, code: "conflict",
                        message:
                            "knowledge base '\(name)' has no embedder for \(mode.rawValue) search: use bm25, or set one")
                }
                do {
                    if let budget = body.budget_chars {
                        return ContextPacker.pack(
                            try kb.search(body.query, topK: max(topK, 20), mode: mode, queryVector: vector),
                            budget: budget)
                    }
                    return try kb.search(body.query, topK: topK, mode: mode, queryVector: vector)
                } catch let e as WendaoError
                    where e.code == .invalidArgument && (try? kb.queryTerms(body.query)) == nil
                {
                    // Nothing searchable in the query (only punctuation or stopwords): no hits.
                    return []
                }
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: FastJSON.searchResponse(query: body.query, hits: hits)))
        }
        api.post("kbs/:kb/ask") { request, context in
            let name = try context.knowledgeBaseName()
            let record = try await askableRecord(name, context)
            let body = try await JSON.decode(AskBody.self, from: request, limit: limits.json)
            try checkQuery(body.question, "question")
            try checkRequestedModel(body.model, record: record, context)
            let topK = body.top_k ?? 8
            guard (1...50).contains(topK) else { throw APIError.badRequest("top_k must be between 1 and 50") }
            // A conversation continued must be the caller's and this knowledge base's (else 404).
            let continuing = try await continuation(body.conversation_id, record: record, context)
            let history = body.history.map { $0.filter { $0.role != .system } } ?? continuing.history
            // Settled before anything streams (a model this server cannot use is a 404, not an
            // error event after a 200).
            let plan = try await planAnswer(try await askableRecord(name, context), model: body.model)
            // Without a model, a short or elliptical follow-up borrows the previous question's topic.
            let followUp: FollowUp? =
                if plan.model != nil {
                    nil
                } else if let previous = continuing.previous {
                    FollowUp.detect(
                        body.question, previousQuestion: previous.turn.question, previousTopic: previous.turn.carried)
                } else if let asked = history.last(where: { $0.role == .user }) {
                    FollowUp.detect(body.question, previousQuestion: asked.content)
                } else {
                    nil
                }
            let caller = conversationCaller(context.principal)
            let started = ContinuousClock.now
            let slot = try limits.rate.enter(.answer, for: context.principal)
            guard body.stream == true else {
                defer { slot.release() }
                let (outcome, stored) = try await whileConnected(context) {
                    let outcome = try await answer(
                        body.question, plan: plan, history: history, topK: topK, followUp: followUp,
                        onEvent: { _ in })
                    let stored = try await storeTurn(
                        question: body.question, outcome: outcome, followUp: followUp, started: started,
                        continuing: continuing, record: record, caller: caller)
                    return (outcome, stored)
                }
                return try outcome.encodedResponse(stored: stored)
            }
            // A stream the client leaves before the answer is complete stores nothing.
            return sseResponse(context.logger) { send in
                defer { slot.release() }
                let outcome = try await answer(
                    body.question, plan: plan, history: history, topK: topK, followUp: followUp
                ) { event in
                    switch event {
                    case .sources(let s): send(JSON.event("sources", ["sources": s]))
                    case .text(let t): send(JSON.event("token", ["text": t]))
                    case .rewritten, .translated: break
                    }
                }
                struct CitationsEvent: Encodable {
                    var citations: [Citation]
                    var invalid_citations: [Int]
                    var found: Bool
                }
                var invalid: [Int] = []
                if case .grounded(let g, _) = outcome { invalid = g.invalidCitations }
                send(
                    JSON.event(
                        "citations",
                        CitationsEvent(citations: outcome.citations, invalid_citations: invalid, found: outcome.found)))
                let stored = try await storeTurn(
                    question: body.question, outcome: outcome, followUp: followUp, started: started,
                    continuing: continuing, record: record, caller: caller)
                switch outcome {
                case .extractive(let a): send(JSON.event("done", WithStoredTurn(base: a, stored: stored)))
                case .grounded(let g, let u):
                    send(JSON.event("usage", u))
                    send(JSON.event("done", WithStoredTurn(base: AnswerReport(answer: g, usage: u), stored: stored)))
                case .plain(let t, _): send(JSON.event("done", ["answer": t]))
                }
            }
        }
    }

    /// A `text/event-stream` response whose events come from `produce`, which runs in a child
    /// task; when the client goes away, writing fails and the child (and any model call in it) is
    /// cancelled. On success `last` is sent; a failure becomes `failure(error)`.
    func eventStream(
        _ logger: Logger, last: ByteBuffer? = nil, failure: @escaping @Sendable (any Error) -> ByteBuffer,
        _ produce: @escaping @Sendable (_ send: @escaping @Sendable (ByteBuffer) -> Void) async throws -> Void
    ) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                let (events, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .unbounded)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        do {
                            try await produce { continuation.yield($0) }
                            if let last { continuation.yield(last) }
                        } catch {
                            // A failure after the 200 went out is logged like a 5xx would be.
                            if ErrorEvent.status(of: error) >= 500 {
                                logger.error(
                                    "stream failed",
                                    metadata: ["reason": "\(String(String(reflecting: error).prefix(500)))"])
                            }
                            continuation.yield(failure(error))
                        }
                        continuation.finish()
                    }
                    // A comment every 2 s keeps proxies from timing out an idle stream and lets a
                    // write notice a client that hung up while the model was thinking.
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: .seconds(2))
                            continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                    }
                    for await buffer in events { try await writer.write(buffer) }
                    group.cancelAll()
                }
                try await writer.finish(nil)
            })
    }

    /// Wendao's SSE: named events, a failure as an `error` event.
    func sseResponse(
        _ logger: Logger,
        _ produce: @escaping @Sendable (_ send: @escaping @Sendable (ByteBuffer) -> Void) async throws -> Void
    ) -> Response {
        eventStream(logger, failure: { JSON.event("error", ErrorEvent($0)) }, produce)
    }
}

/// The `error` event of a stream.
struct ErrorEvent: Encodable {
    struct Inner: Encodable {
        var code: String
        var message: String
    }
    var error: Inner

    init(_ e: any Error) {
        let api = Self.apiError(e)
        error = Inner(code: api.code, message: api.message)
    }

    static func apiError(_ e: any Error) -> APIError {
        switch e {
        case let a as APIError: a
        case let w as WendaoError: APIError(wendao: w)
        case is CancellationError: APIError(status: .init(code: 499), code: "cancelled", message: "cancelled")
        default: APIError(status: .internalServerError, code: "internal", message: "internal error")
        }
    }

    /// The status the error would have had before the stream began.
    static func status(of e: any Error) -> Int { Int(apiError(e).status.code) }
}
