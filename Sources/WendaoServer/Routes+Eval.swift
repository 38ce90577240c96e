import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFoundationCompat
import Synchronization
import WendaoCore
import WendaoEval
import WendaoModels
import WendaoRAG

/// `POST /api/v1/eval/runs`'s body: a suite of the data directory, or an uploaded one with its files.
struct EvalRunBody: Decodable {
    /// A suite file in `<data>/eval/suites` (its name only).
    var suite: String?
    /// An uploaded suite's YAML.
    var suite_yaml: String?
    /// The files the uploaded suite names (the test set, prompt templates), by their relative path.
    var files: [String: String]?
    var limit: Int?
    var concurrency: Int?
    var max_cost: Double?
    /// An earlier run of the same suite to compare with (regressions above 0.02 are listed).
    var baseline_run: String?
}

/// One suite of the data directory, as `GET /api/v1/eval/suites` lists it.
struct EvalSuiteView: Encodable {
    var file: String
    var name: String?
    var kb: String?
    var variants: [String]?
    var test_set: String?
    /// Why the suite cannot be run (administrators only see these).
    var error: String?
}

/// One variant of the prompt playground.
struct PlaygroundVariant: Decodable {
    var name: String?
    /// `provider:model`, `local:NAME` or `extractive`; default: the knowledge base's model.
    var model: String?
    /// The answer call's system prompt (`{{not_found}}` required, `{{language}}` allowed).
    var prompt: String?
    var top_k: Int?
    var mode: String?
    var temperature: Double?
    var max_tokens: Int?
}

/// `POST /api/v1/kbs/{kb}/playground`'s body.
struct PlaygroundBody: Decodable {
    var question: String
    var variants: [PlaygroundVariant]
}

/// `GET /api/v1/eval/compare`'s answer.
struct EvalCompareView: Encodable {
    var first: EvalRunRecord
    var second: EvalRunRecord
    var rows: [RunComparison.Row]
    var unmatched: [String]
}

extension WendaoAPI {
    /// The evaluation workbench over REST: suites of the data directory, runs started in the background
    /// (kept on disk, listed, cancelled, their reports read), two runs compared with paired bootstrap
    /// intervals; and the prompt playground (one question, several variants streamed side by side). A
    /// run or a playground answers from a knowledge base: the caller must be allowed to change it
    /// (editors and the knowledge base's administrators, write keys, the server's administrator).
    func addEvalRoutes(_ api: RouterGroup<WendaoContext>, runs: EvalRuns) {
        let service = self.service
        let logger = service.logger

        /// Whether the caller may run evaluations on knowledge base `name` (nil: it does not exist).
        @Sendable func mayEvaluate(_ name: String, _ context: WendaoContext) async -> Bool {
            guard let record = try? await service.currentRecord(name) else { return context.principal.isAdmin }
            return context.principal.canWrite(record.id)
        }

        @Sendable func visibleRun(_ context: WendaoContext) async throws -> EvalRunRecord {
            let id = try context.parameters.require("id")
            guard EvalRuns.isValidID(id), let r = runs.record(id), await mayEvaluate(r.kb, context) else {
                throw APIError.notFound("evaluation run '\(id.prefix(40))' does not exist")
            }
            return r
        }

        api.get("eval/suites") { _, context in
            let directory = runs.suitesDirectory
            let files = try await service.blocking {
                ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter {
                    $0.hasSuffix(".yaml") || $0.hasSuffix(".yml")
                }.sorted()
            }
            var out: [EvalSuiteView] = []
            for file in files {
                let url = directory.appendingPathComponent(file)
                let loaded = try await service.blocking { () -> Result<EvalSuite, WendaoError> in
                    do { return .success(try EvalSuite.load(url)) } catch let e as WendaoError {
                        return .failure(e)
                    } catch { return .failure(WendaoError(.invalidArgument, "\(error)")) }
                }
                switch loaded {
                case .success(let s):
                    guard await mayEvaluate(s.knowledgeBase, context) else { continue }
                    out.append(
                        EvalSuiteView(
                            file: file, name: s.name, kb: s.knowledgeBase, variants: s.variants.map(\.name),
                            test_set: s.testSet.lastPathComponent))
                case .failure(let e):
                    guard context.principal.isAdmin else { continue }
                    out.append(EvalSuiteView(file: file, error: APIError.redactPaths(e.message)))
                }
            }
            return try JSON.response(["suites": out])
        }

        api.get("eval/runs") { _, context in
            var visible: [EvalRunRecord] = []
            var allowed: [String: Bool] = [:]
            for r in runs.list() {
                let ok: Bool
                if let known = allowed[r.kb] {
                    ok = known
                } else {
                    ok = await mayEvaluate(r.kb, context)
                }
                allowed[r.kb] = ok
                if ok { visible.append(r) }
            }
            return try JSON.response(["runs": visible])
        }

        api.get("eval/runs/:id") { _, context in try JSON.response(try await visibleRun(context)) }

        api.post("eval/runs/:id/cancel") { _, context in
            let r = try await visibleRun(context)
            return try JSON.response(await runs.cancel(r.id) ?? r)
        }

        api.get("eval/runs/:id/report") { _, context in
            let r = try await visibleRun(context)
            let file = runs.runDirectory(r.id).appendingPathComponent("report.json")
            guard r.state == "done", let data = try? await service.blocking({ try Data(contentsOf: file) }) else {
                throw APIError(
                    status: .conflict, code: "conflict", message: "run \(r.id) has no report (it is \(r.state))")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(data: data)))
        }

        api.get("eval/runs/:id/report.html") { _, context in
            let r = try await visibleRun(context)
            let file = runs.runDirectory(r.id).appendingPathComponent("report.html")
            guard r.state == "done", let data = try? await service.blocking({ try Data(contentsOf: file) }) else {
                throw APIError(
                    status: .conflict, code: "conflict", message: "run \(r.id) has no report (it is \(r.state))")
            }
            // The report is one self-contained page: inline styles and SVG, no script, no network.
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                    .contentSecurityPolicy:
                        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
                        + "base-uri 'none'; form-action 'none'; sandbox",
                    HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                    HTTPField.Name("Referrer-Policy")!: "no-referrer",
                ],
                body: .init(byteBuffer: ByteBuffer(data: data)))
        }

        api.get("eval/compare") { request, context in
            let q = request.uri.queryParameters
            guard let a = q.get("a"), let b = q.get("b") else {
                throw APIError.badRequest("name two runs: ?a=FIRST&b=SECOND")
            }
            var pair: [EvalRunRecord] = []
            for id in [a, b] {
                guard EvalRuns.isValidID(id), let r = runs.record(id), await mayEvaluate(r.kb, context) else {
                    throw APIError.notFound("evaluation run '\(id.prefix(40))' does not exist")
                }
                pair.append(r)
            }
            let (first, second) = (pair[0], pair[1])
            let reports = try await service.blocking { (runs.report(first.id), runs.report(second.id)) }
            guard let x = reports.0, let y = reports.1 else {
                throw APIError(
                    status: .conflict, code: "conflict", message: "both runs must be done to be compared")
            }
            let c = try await service.blocking { RunComparison.make(first: x, second: y) }
            return try JSON.response(
                EvalCompareView(first: first, second: second, rows: c.rows, unmatched: c.unmatched))
        }

        api.get("eval/ratings") { request, context in
            let q = request.uri.queryParameters
            guard let raw = q.get("kb"), !raw.isEmpty else {
                throw APIError.badRequest("name the knowledge base: ?kb=NAME")
            }
            guard let name = try? KnowledgeBaseName.canonical(raw) else {
                throw APIError.notFound("knowledge base '\(raw.prefix(80))' does not exist")
            }
            let record = try await writableRecord(name, context)
            var since: Double?
            if let text = q.get("since"), !text.isEmpty {
                guard let t = ConversationSummary.time(text, endOfDay: false) else {
                    throw APIError.badRequest("since must be a date (2026-12-06) or a time (2026-12-06T08:00:00Z)")
                }
                since = t
            }
            let store = service.library.store
            let from = since
            let rows = try await service.blocking { try RatingsExport.rows(store: store, kb: record.id, since: from) }
            let text = rows.map(RatingsExport.jsonLine).joined(separator: "\n") + (rows.isEmpty ? "" : "\n")
            let file = "rated-\(record.id).jsonl"
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/x-ndjson; charset=utf-8",
                    .contentDisposition: "attachment; filename=\"\(file)\"", .cacheControl: "no-store",
                ],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }

        api.post("eval/runs") { request, context in
            let body = try await JSON.decode(EvalRunBody.self, from: request, limit: 16 << 20)
            if let limit = body.limit, limit < 1 { throw APIError.badRequest("limit must be at least 1") }
            if let c = body.concurrency, !(1...32).contains(c) {
                throw APIError.badRequest("concurrency must be between 1 and 32")
            }
            if let m = body.max_cost, !(m >= 0) { throw APIError.badRequest("max_cost must not be negative") }
            guard runs.canStart else {
                throw APIError(
                    status: .tooManyRequests, code: "rate_limited",
                    message: "\(EvalRuns.maxRunning) evaluation runs are running; wait for one to finish")
            }
            let id = EvalRuns.newID()
            let dir = runs.runDirectory(id)
            let loaded: (String, EvalSuite)
            do {
                loaded = try await loadSuite(body, runs: runs, into: dir)
            } catch {
                try? FileManager.default.removeItem(at: dir)
                throw error
            }
            let source = loaded.0
            var suite = loaded.1
            if let limit = body.limit { suite.limit = min(suite.limit ?? limit, limit) }
            let prepared: EvalRuns.Start
            do {
                let kbRecord = try await writableRecord(suite.knowledgeBase, context)
                prepared = try await prepareRun(suite, kb: kbRecord.name, body: body, runs: runs, context: context)
            } catch {
                try? FileManager.default.removeItem(at: dir)
                throw error
            }
            let record = runs.start(
                id: id, source: source, createdBy: context.principal.label, prepared, logger: logger)
            return try JSON.response(record, status: .accepted)
        }

        api.post("kbs/:kb/playground") { request, context in
            let name = try context.knowledgeBaseName()
            let record = try await writableRecord(name, context)
            let body = try await JSON.decode(PlaygroundBody.self, from: request, limit: limits.json)
            try checkQuery(body.question, "question")
            guard (1...4).contains(body.variants.count) else {
                throw APIError.badRequest("give 1 to 4 variants")
            }
            let variants = try await planPlayground(body.variants, record: record)
            let slot = try limits.rate.enter(.answer, for: context.principal)
            let question = body.question
            return sseResponse(context.logger) { send in
                defer { slot.release() }
                await withTaskGroup(of: Void.self) { group in
                    for (i, v) in variants.enumerated() {
                        group.addTask {
                            await self.playgroundAnswer(question, variant: v, index: i, kb: record.name, send: send)
                        }
                    }
                }
                send(JSON.event("end", ["variants": variants.count]))
            }
        }
    }

    /// The suite of `body` (a data-directory suite, or an uploaded one written into `dir/input`).
    func loadSuite(_ body: EvalRunBody, runs: EvalRuns, into dir: URL) async throws -> (String, EvalSuite) {
        if let file = body.suite {
            guard body.suite_yaml == nil else { throw APIError.badRequest("give either 'suite' or 'suite_yaml'") }
            guard !file.isEmpty, !file.contains("/"), !file.hasPrefix("."),
                file.hasSuffix(".yaml") || file.hasSuffix(".yml")
            else {
                throw APIError.badRequest(
                    "'suite' must be the name of a .yaml file in the data directory's eval/suites")
            }
            let url = runs.suitesDirectory.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw APIError.notFound("no suite '\(file.prefix(80))' in the data directory's eval/suites")
            }
            return (file, try await suiteOrBadRequest { try EvalSuite.load(url) })
        }
        guard let yaml = body.suite_yaml, !yaml.isEmpty else {
            throw APIError.badRequest("give 'suite' (a suite of the data directory) or 'suite_yaml' with its 'files'")
        }
        let input = dir.appendingPathComponent("input")
        let files = body.files ?? [:]
        guard files.count <= 20 else { throw APIError.badRequest("at most 20 files") }
        for (path, _) in files {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            guard !path.isEmpty, path.count <= 200, !path.hasPrefix("/"),
                parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }),
                !path.contains("\\"), !path.contains("\0"), path != "suite.yaml"
            else {
                throw APIError.badRequest("'files' has a name that cannot be used: '\(path.prefix(80))'")
            }
        }
        try await service.blocking {
            let fm = FileManager.default
            try fm.createDirectory(at: input, withIntermediateDirectories: true)
            try Data(yaml.utf8).write(to: input.appendingPathComponent("suite.yaml"))
            for (path, text) in files {
                let url = input.appendingPathComponent(path)
                try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url)
            }
        }
        let suite = try await suiteOrBadRequest { try EvalSuite.load(input.appendingPathComponent("suite.yaml")) }
        // An uploaded suite reads only its own files.
        let root = input.standardizedFileURL.path + "/"
        var named = [suite.testSet]
        for v in suite.variants { if let p = v.prompt { named.append(input.appendingPathComponent(p.path)) } }
        for url in named where !url.standardizedFileURL.resolvingSymlinksInPath().path.hasPrefix(root) {
            throw APIError.badRequest("an uploaded suite may name only the files uploaded with it (in 'files')")
        }
        return ("upload", suite)
    }

    /// Runs `load` on the thread pool; its errors become 400s without the server's paths.
    func suiteOrBadRequest(_ load: @escaping @Sendable () throws -> EvalSuite) async throws -> EvalSuite {
        do { return try await service.blocking(load) } catch let e as WendaoError {
            throw APIError.badRequest(APIError.redactPaths(e.message))
        }
    }

    /// Resolves the suite's models (and keys), opens the knowledge base, reads the test set: everything a
    /// run needs, or the first problem as a 4xx before anything is started.
    func prepareRun(
        _ suite: EvalSuite, kb: String, body: EvalRunBody, runs: EvalRuns, context: WendaoContext
    ) async throws -> EvalRuns.Start {
        let cases: [EvalCase]
        do { cases = try await service.blocking { try suite.cases() } } catch let e as WendaoError {
            throw APIError.badRequest(APIError.redactPaths(e.message))
        }
        guard !cases.isEmpty else { throw APIError.badRequest("the test set has no questions (after tags and limit)") }
        var specs: [String] = []
        for v in suite.variants where !v.isExtractive && !specs.contains(v.model) { specs.append(v.model) }
        if let j = suite.judge?.model, !specs.contains(j) { specs.append(j) }
        var bindings: [String: ModelBinding] = [:]
        let cache = try runs.responseCache()
        for spec in specs {
            let model: ResolvedModel
            do {
                guard let m = try service.model(requested: spec, kbModel: nil) else { continue }
                model = m
            } catch let e as WendaoError {
                let users = suite.variants.filter { $0.model == spec }.map(\.name)
                let who = users.isEmpty ? "the judge" : "variant '\(users[0])'"
                throw APIError.badRequest("\(who): \(APIError.redactPaths(e.message))")
            }
            let chat = try await service.chatModel(for: model)
            bindings[spec] = ModelBinding(
                model: CachingChatModel(base: chat, cache: cache), provider: model.provider, price: model.price)
        }
        let directory = service.configuration.dataDirectory
        let library = service.library
        let templates = try await service.blocking { try PromptTemplates.load(dataDirectory: directory, kb: kb) }
        // Searches run on the server's thread pool, like every other blocking piece of work.
        let offload: @Sendable (@escaping @Sendable () -> Void) async -> Void = { [service] work in
            _ = try? await service.blocking(work)
        }
        let access = try await service.blocking { KnowledgeAccess(try library.open(kb), offload: offload) }
        var baseline: (id: String, report: WorkbenchReport)?
        if let b = body.baseline_run {
            guard EvalRuns.isValidID(b), let r = runs.record(b), r.kb == kb else {
                throw APIError.notFound("evaluation run '\(b.prefix(40))' (the baseline) does not exist")
            }
            guard let report = try await service.blocking({ runs.report(r.id) }) else {
                throw APIError(status: .conflict, code: "conflict", message: "the baseline run \(b) has no report")
            }
            baseline = (b, report)
        }
        return EvalRuns.Start(
            suite: suite, cases: cases, kb: access, templates: templates, models: bindings,
            judge: suite.judge.flatMap { bindings[$0.model] }, maxCost: body.max_cost,
            concurrency: body.concurrency, baseline: baseline)
    }

    /// A playground variant, checked.
    struct PlannedVariant: Sendable {
        var name: String
        var model: ResolvedModel?
        var templates: PromptTemplates?
        var topK: Int
        var mode: RetrievalMode?
        var temperature: Double?
        var maxTokens: Int?
    }

    /// Checks the playground's variants (models resolved, prompts validated) before anything streams.
    func planPlayground(_ variants: [PlaygroundVariant], record: KnowledgeBaseRecord) async throws -> [PlannedVariant] {
        var planned: [PlannedVariant] = []
        for (i, v) in variants.enumerated() {
            let label = v.name.flatMap { $0.isEmpty ? nil : String($0.prefix(80)) } ?? "variant \(i + 1)"
            let topK = v.top_k ?? 8
            guard (1...50).contains(topK) else { throw APIError.badRequest("\(label): top_k must be between 1 and 50") }
            var mode: RetrievalMode?
            if let m = v.mode {
                guard let parsed = RetrievalMode(rawValue: m) else {
                    throw APIError.badRequest("\(label): mode must be bm25, dense or hybrid")
                }
                mode = parsed
            }
            if let t = v.temperature, !(0...2).contains(t) {
                throw APIError.badRequest("\(label): temperature must be between 0 and 2")
            }
            if let m = v.max_tokens, !(1...8192).contains(m) {
                throw APIError.badRequest("\(label): max_tokens must be between 1 and 8192")
            }
            if let prompt = v.prompt, prompt.unicodeScalars.count > 32_000 {
                throw APIError.badRequest("\(label): the prompt is longer than 32,000 characters")
            }
            var p = PlannedVariant(
                name: label, model: nil, templates: nil, topK: topK, mode: mode, temperature: v.temperature,
                maxTokens: v.max_tokens)
            if v.model != EvalSuite.extractiveModel {
                let plan = try await planAnswer(record, model: v.model)
                p.model = plan.model
                p.templates = plan.templates
                if let prompt = v.prompt, !prompt.isEmpty, p.model != nil {
                    do throws(WendaoError) {
                        try PromptTemplates.validate(prompt, named: .answerSystem, file: label)
                    } catch {
                        throw APIError.badRequest(error.message)
                    }
                    p.templates?.answerSystem = prompt
                    p.templates?.answerSystemSmall = prompt
                }
            }
            planned.append(p)
        }
        return planned
    }

    /// One playground variant's answer, streamed as events naming it by `index`.
    func playgroundAnswer(
        _ question: String, variant v: PlannedVariant, index: Int, kb: String,
        send: @escaping @Sendable (ByteBuffer) -> Void
    ) async {
        struct Piece: Encodable {
            var variant: Int
            var text: String
        }
        struct Sources: Encodable {
            var variant: Int
            var sources: [Citation]
        }
        struct Done: Encodable {
            var variant: Int
            var answer: String
            var found: Bool
            var citations: [Citation]
            var answered_by: String
            var model: String
            var prompt_tokens: Int
            var completion_tokens: Int
            var latency_ms: Double
            var ttft_ms: Double?
        }
        struct Failure: Encodable {
            var variant: Int
            var error: ErrorEvent.Inner
        }
        let started = ContinuousClock.now
        let firstText = Mutex<Double?>(nil)
        let service = self.service
        let mode = v.mode
        do {
            guard let model = v.model, let templates = v.templates else {
                let r = try await service.withKnowledgeBase(kb, query: question, mode: mode) { kb, vector in
                    try GroundedAnswerer.retrieve(question, topK: v.topK, in: kb, queryVector: vector, mode: mode)
                }
                let a = r.extractive
                let text = a?.answer ?? AnswerLanguage.detect(question).notFoundSentence
                send(JSON.event("sources", Sources(variant: index, sources: a?.citations ?? [])))
                send(JSON.event("token", Piece(variant: index, text: text)))
                let ms = Self.seconds(since: started) * 1000
                send(
                    JSON.event(
                        "done",
                        Done(
                            variant: index, answer: text, found: a?.found ?? false, citations: a?.citations ?? [],
                            answered_by: "extractive", model: EvalSuite.extractiveModel, prompt_tokens: 0,
                            completion_tokens: 0, latency_ms: ms, ttft_ms: ms)))
                return
            }
            var options = GroundedAnswerer.Options()
            options.topK = v.topK
            if let t = v.temperature { options.temperature = t }
            if let m = v.maxTokens { options.maxAnswerTokens = m }
            let answerer = GroundedAnswerer(
                model: try await service.chatModel(for: model), templates: templates, options: options)
            let g = try await answerer.answer(
                question,
                retrieve: { query, k in
                    try await service.withKnowledgeBase(kb, query: query, mode: mode) { kb, vector in
                        try GroundedAnswerer.retrieve(query, topK: k, in: kb, queryVector: vector, mode: mode)
                    }
                },
                onEvent: { event in
                    switch event {
                    case .sources(let s): send(JSON.event("sources", Sources(variant: index, sources: s)))
                    case .text(let t):
                        firstText.withLock { if $0 == nil { $0 = Self.seconds(since: started) * 1000 } }
                        send(JSON.event("token", Piece(variant: index, text: t)))
                    case .rewritten, .translated: break
                    }
                })
            send(
                JSON.event(
                    "done",
                    Done(
                        variant: index, answer: g.answer, found: g.found, citations: g.citations,
                        answered_by: g.answeredBy.rawValue, model: model.id, prompt_tokens: g.usage.promptTokens,
                        completion_tokens: g.usage.completionTokens, latency_ms: Self.seconds(since: started) * 1000,
                        ttft_ms: firstText.withLock { $0 })))
        } catch {
            send(JSON.event("variant_error", Failure(variant: index, error: ErrorEvent(error).error)))
        }
    }
}
