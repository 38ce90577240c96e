import Foundation
import Logging
import Synchronization
import WendaoCore
import WendaoEval
import WendaoModels
import WendaoRAG

/// An evaluation run as `GET /api/v1/eval/runs/{id}` shows it (and as `run.json` in its directory
/// keeps it, so that runs outlive a page reload and a restart).
struct EvalRunRecord: Codable, Sendable {
    /// A short random id (hex).
    var id: String
    /// The suite's name.
    var suite: String
    /// The suite file in the data directory's `eval/suites`, or `upload`.
    var source: String
    /// The knowledge base answered from.
    var kb: String
    /// `running`, `done`, `failed`, `cancelled`, or `interrupted` (the server stopped during the run).
    var state: String
    /// Answers made (every variant × question).
    var done: Int
    /// Answers in the run.
    var total: Int
    /// Answers that failed (recorded per cell; the run went on).
    var failed: Int
    /// The variants' names.
    var variants: [String]
    /// When it started (ISO 8601).
    var created_at: String
    /// When it ended.
    var finished_at: String?
    /// Who started it (a label: `admin`, `user-3`, `key-7`; never a key).
    var created_by: String
    /// Why it failed.
    var error: String?
    /// Why it stopped before the end (the cost cap).
    var stopped: String?
    /// The earlier run it was compared with, if any.
    var baseline_run: String?
    /// Metrics that dropped more than 0.02 since the baseline run.
    var regressions: [WorkbenchReport.Regression]?
    /// A few headline metrics per variant, once done.
    var summary: [VariantBrief]?

    /// A variant's headline metrics.
    struct VariantBrief: Codable, Sendable {
        var name: String
        var metrics: [String: Double]
    }

    var isFinished: Bool { state != "running" }
}

/// The evaluation runs of a server: started from a suite (the data directory's `eval/suites/*.yaml`, or
/// an uploaded one), run in the background, kept in `<data>/eval/runs/<id>/` (run.json, results.jsonl,
/// report.json, report.html; an uploaded suite's files under `input/`).
final class EvalRuns: Sendable {
    /// `<data>/eval/runs`.
    let directory: URL
    /// `<data>/eval/suites`.
    let suitesDirectory: URL
    private let cacheFile: URL
    private let records = Mutex<[String: EvalRunRecord]>([:])
    private let tasks = Mutex<[String: Task<Void, Never>]>([:])
    private let cache = Mutex<ResponseCache?>(nil)
    /// Runs at once (more wait for none: they are refused with 429).
    static let maxRunning = 2
    /// Questions whose answers a report lists one by one (the figures cover all of them).
    static let detailLimit = 2000
    /// Runs kept on disk (the oldest finished ones are removed beyond).
    static let maxKept = 200

    init(dataDirectory: URL) {
        directory = dataDirectory.appendingPathComponent("eval/runs")
        suitesDirectory = dataDirectory.appendingPathComponent("eval/suites")
        cacheFile = dataDirectory.appendingPathComponent("eval/cache/responses.jsonl")
        var loaded: [String: EvalRunRecord] = [:]
        let fm = FileManager.default
        let decoder = JSONDecoder()
        for name in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? [] {
            let file = directory.appendingPathComponent(name).appendingPathComponent("run.json")
            guard let data = try? Data(contentsOf: file), var r = try? decoder.decode(EvalRunRecord.self, from: data)
            else { continue }
            if !r.isFinished {
                // The server stopped while it ran: its answers so far are in results.jsonl.
                r.state = "interrupted"
                r.finished_at = r.finished_at ?? Self.now()
                Self.save(r, in: directory)
            }
            loaded[r.id] = r
        }
        records.withLock { $0 = loaded }
    }

    /// The time now, ISO 8601 with milliseconds (runs are listed by it, newest first).
    static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }

    /// A new run id: 12 random hex digits.
    static func newID() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }

    /// Whether `id` could be a run id (so that it can name a directory).
    static func isValidID(_ id: String) -> Bool {
        id.count == 12 && id.allSatisfy { $0.isHexDigit && ($0.isNumber || $0.isLowercase) }
    }

    func runDirectory(_ id: String) -> URL { directory.appendingPathComponent(id) }

    /// Every run, newest first.
    func list() -> [EvalRunRecord] {
        records.withLock { Array($0.values) }.sorted { ($0.created_at, $0.id) > ($1.created_at, $1.id) }
    }

    func record(_ id: String) -> EvalRunRecord? { records.withLock { $0[id] } }

    /// The response cache shared by every run of this server (opened on first use).
    func responseCache() throws -> ResponseCache {
        try cache.withLock { c in
            if let c { return c }
            let made = try ResponseCache(file: cacheFile)
            c = made
            return made
        }
    }

    /// Whether another run may start now.
    var canStart: Bool { records.withLock { $0.values.filter { !$0.isFinished }.count } < Self.maxRunning }

    static func save(_ r: EvalRunRecord, in directory: URL) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(r) else { return }
        let dir = directory.appendingPathComponent(r.id)
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try? data.write(to: dir.appendingPathComponent("run.json"), options: .atomic)
    }

    private func update(_ id: String, persist: Bool, _ change: (inout EvalRunRecord) -> Void) {
        let r = records.withLock { all -> EvalRunRecord? in
            guard var r = all[id] else { return nil }
            change(&r)
            all[id] = r
            return r
        }
        if persist, let r { Self.save(r, in: directory) }
    }

    /// What a started run needs.
    struct Start: Sendable {
        var suite: EvalSuite
        var cases: [EvalCase]
        var kb: KnowledgeAccess
        var templates: PromptTemplates
        var models: [String: ModelBinding]
        var judge: ModelBinding?
        var maxCost: Double?
        var concurrency: Int?
        var baseline: (id: String, report: WorkbenchReport)?
    }

    /// Records run `id` (its directory already made) and starts it in the background.
    func start(id: String, source: String, createdBy: String, _ s: Start, logger: Logger) -> EvalRunRecord {
        let record = EvalRunRecord(
            id: id, suite: s.suite.name, source: source, kb: s.suite.knowledgeBase, state: "running", done: 0,
            total: s.cases.count * s.suite.variants.count, failed: 0, variants: s.suite.variants.map(\.name),
            created_at: Self.now(), finished_at: nil, created_by: createdBy, error: nil, stopped: nil,
            baseline_run: s.baseline?.id, regressions: nil, summary: nil)
        records.withLock { $0[id] = record }
        Self.save(record, in: directory)
        let dir = runDirectory(id)
        let task = Task { [self] in
            await self.execute(id: id, dir: dir, s, logger: logger)
            _ = self.tasks.withLock { $0.removeValue(forKey: id) }
        }
        tasks.withLock { $0[id] = task }
        prune()
        return record
    }

    private func execute(id: String, dir: URL, _ s: Start, logger: Logger) async {
        let resultsFile = dir.appendingPathComponent("results.jsonl")
        var options = WorkbenchOptions(resultsFile: resultsFile)
        options.maxCost = s.maxCost
        options.concurrency = s.concurrency
        options.detailLimit = Self.detailLimit
        let lastSaved = Mutex(ContinuousClock.now)
        options.progress = { [self] p in
            // In memory at once; on disk at most twice a second.
            let due = lastSaved.withLock { t -> Bool in
                guard ContinuousClock.now - t > .milliseconds(500) else { return false }
                t = ContinuousClock.now
                return true
            }
            self.update(id, persist: due) { r in
                r.done = p.done
                r.failed = p.failed
            }
        }
        do {
            let outcome = try await Workbench.run(
                suite: s.suite, cases: s.cases, kb: s.kb, templates: s.templates, models: s.models, judge: s.judge,
                options: options)
            var report = WorkbenchReport.make(
                suite: s.suite, cases: s.cases, outcome: outcome, resultsFile: resultsFile,
                detailLimit: Self.detailLimit)
            // The server's paths are not shown to API callers.
            report.resultsFile = "results.jsonl"
            let regressions = s.baseline.map { report.regressions(against: $0.report, maxDrop: 0.02) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(report).write(to: dir.appendingPathComponent("report.json"), options: .atomic)
            let page = report.html(baseline: s.baseline?.report, regressions: regressions ?? [])
            try Data(page.utf8).write(to: dir.appendingPathComponent("report.html"), options: .atomic)
            let headline = ["accuracy", "f1", "hit@k", "false_refusal", "judge_score", "latency_p50_ms", "cost"]
            update(id, persist: true) { r in
                r.state = "done"
                r.finished_at = Self.now()
                r.done = outcome.results.count
                r.failed = outcome.results.filter { $0.error != nil }.count
                r.stopped = outcome.stopped
                r.regressions = regressions
                r.summary = report.variants.map { v in
                    EvalRunRecord.VariantBrief(name: v.name, metrics: v.metrics.filter { headline.contains($0.key) })
                }
            }
        } catch {
            let cancelled = Task.isCancelled || error is CancellationError
            let message = APIError.redactPaths((error as? WendaoError)?.message ?? "\(error)")
            if !cancelled {
                logger.error("evaluation run failed", metadata: ["run": "\(id)", "reason": "\(message)"])
            }
            update(id, persist: true) { r in
                r.state = cancelled ? "cancelled" : "failed"
                r.finished_at = Self.now()
                r.error = cancelled ? nil : message
            }
        }
    }

    /// Cancels run `id` if it is running; returns its record.
    func cancel(_ id: String) async -> EvalRunRecord? {
        let task = tasks.withLock { $0[id] }
        if let task {
            task.cancel()
            await task.value
        }
        return record(id)
    }

    /// Removes the oldest finished runs beyond ``maxKept``.
    private func prune() {
        let finished = list().filter(\.isFinished)
        guard finished.count > Self.maxKept else { return }
        for r in finished.suffix(finished.count - Self.maxKept) {
            _ = records.withLock { $0.removeValue(forKey: r.id) }
            try? FileManager.default.removeItem(at: runDirectory(r.id))
        }
    }

    /// The report of a finished run (nil: none, or unreadable).
    func report(_ id: String) -> WorkbenchReport? {
        guard let data = try? Data(contentsOf: runDirectory(id).appendingPathComponent("report.json")) else {
            return nil
        }
        return try? JSONDecoder().decode(WorkbenchReport.self, from: data)
    }
}
