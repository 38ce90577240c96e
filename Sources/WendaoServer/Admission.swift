import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import WendaoCore

/// Admission control: one mechanism for every route that costs more than a lookup.
///
/// - A per-key request rate (token bucket) for every API route: 429 with `Retry-After`.
/// - Per class of expensive work (``Work``): a global cap on work in flight (503 `overloaded` with
///   `Retry-After`) and a per-key cap (429 `rate_limited` with `Retry-After`), so one key at its
///   budget is refused while other keys are still served. The admin (and the single user of an
///   open local server) is held to the global caps only.
///
/// A slot is taken with ``enter(_:for:)`` and given back with ``Slot/release()``; an ingest slot
/// may instead be handed to the job it queued (``Slot/hand(to:)``) and is then free again once
/// that job has finished.
final class Admission: Sendable {
    /// A class of expensive work, each with its own budget.
    enum Work: String, CaseIterable, Sendable {
        /// Answers: `ask`, chat completions (model calls, streams, extractive answers).
        case answer
        /// `/v1/embeddings` (local models are CPU work; remote ones spend the server's key).
        case embedding
        /// Uploads being received and the ingest jobs they queued (until those finish).
        case ingest
    }

    /// The caps of one class of work.
    struct Budget: Sendable, Equatable {
        /// Work in flight over all callers.
        var total: Int
        /// Work in flight for one API key.
        var perKey: Int
    }

    private struct State {
        var inFlight: [Work: Int] = [:]
        var perKey: [Work: [String: Int]] = [:]
        /// Ingest slots held by queued jobs: job id → the key label that queued it.
        var jobs: [Int64: String] = [:]
        var buckets: [String: (tokens: Double, at: ContinuousClock.Instant)] = [:]
        var lastUseRecorded: [Int64: ContinuousClock.Instant] = [:]
    }

    private let state = Mutex(State())
    /// Requests one key may make per second (a burst of twice this).
    let rate: Double
    let budgets: [Work: Budget]
    /// Whether a queued job has finished (its ingest slot is then free).
    private let jobFinished: @Sendable (Int64) -> Bool
    /// Stores that an API key was used (called at most about once a minute per key; the server's
    /// closure writes on its thread pool).
    let recordUse: @Sendable (APIKeyRecord) async throws -> Void

    init(
        rate: Double, budgets: [Work: Budget], jobFinished: @escaping @Sendable (Int64) -> Bool = { _ in true },
        recordUse: @escaping @Sendable (APIKeyRecord) async throws -> Void = { _ in }
    ) {
        self.rate = rate
        self.budgets = budgets
        self.jobFinished = jobFinished
        self.recordUse = recordUse
    }

    /// The budgets a configuration asks for.
    static func budgets(_ c: ServerConfiguration) -> [Work: Budget] {
        [
            .answer: Budget(total: c.maxConcurrentAnswers, perKey: c.maxConcurrentAnswersPerKey),
            .embedding: Budget(total: c.maxConcurrentEmbeddings, perKey: c.maxConcurrentEmbeddingsPerKey),
            .ingest: Budget(total: c.maxConcurrentIngests, perKey: c.maxConcurrentIngestsPerKey),
        ]
    }

    // MARK: Request rate

    /// Takes one request token for `label`, or throws 429 with the seconds until one is free.
    func admit(_ label: String) throws {
        let now = ContinuousClock.now
        let capacity = max(1, rate * 2)
        let rate = self.rate
        let wait: Double? = state.withLock { s in
            var (tokens, at) = s.buckets[label] ?? (capacity, now)
            tokens = min(capacity, tokens + (now - at).seconds * rate)
            at = now
            if tokens >= 1 {
                s.buckets[label] = (tokens - 1, at)
                return nil
            }
            s.buckets[label] = (tokens, at)
            return (1 - tokens) / rate
        }
        if let wait {
            let seconds = max(1, Int(wait.rounded(.up)))
            throw APIError(
                status: .tooManyRequests, code: "rate_limited",
                message: "too many requests for this key; retry after \(seconds) s",
                headers: [.retryAfter: "\(seconds)"])
        }
    }

    /// Whether a key's last use should be written now: at most once a minute per key and process
    /// (the store keeps its own once-a-minute check across processes).
    func shouldRecordUse(of key: Int64) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { s in
            if let last = s.lastUseRecorded[key], now - last < .seconds(60) { return false }
            if s.lastUseRecorded.count > 100_000 { s.lastUseRecorded.removeAll() }
            s.lastUseRecorded[key] = now
            return true
        }
    }

    // MARK: Work in flight

    /// A place in a class of work, held until ``release()`` (or, for ingest, until the job it was
    /// handed to has finished).
    final class Slot: Sendable {
        let work: Work
        let label: String?
        private let admission: Admission
        private let held = Atomic<Bool>(true)

        fileprivate init(work: Work, label: String?, admission: Admission) {
            self.work = work
            self.label = label
            self.admission = admission
        }

        /// Gives the place back (a second call does nothing).
        func release() {
            guard held.exchange(false, ordering: .acquiringAndReleasing) else { return }
            admission.leave(work, label: label)
        }

        /// Keeps the place until job `id` has finished (an upload hands its slot to its job).
        func hand(to job: Int64) {
            guard held.exchange(false, ordering: .acquiringAndReleasing) else { return }
            admission.park(job: job, label: label ?? "")
        }

        deinit { release() }
    }

    /// Takes a place in `work` for `principal`, or throws 503 (`overloaded`: the server is at its
    /// global cap) or 429 (`rate_limited`: this key is at its own cap), both with `Retry-After`.
    func enter(_ work: Work, for principal: Principal) throws -> Slot {
        let budget = budgets[work] ?? Budget(total: .max, perKey: .max)
        let label: String? = principal.isAdmin ? nil : principal.label
        if work == .ingest { reapFinishedJobs() }
        enum Refusal { case global, key }
        let refusal: Refusal? = state.withLock { s in
            let total = s.inFlight[work, default: 0]
            guard total < budget.total else { return .global }
            if let label {
                let mine = s.perKey[work]?[label] ?? 0
                guard mine < budget.perKey else { return .key }
                s.perKey[work, default: [:]][label] = mine + 1
            }
            s.inFlight[work] = total + 1
            return nil
        }
        switch refusal {
        case nil:
            return Slot(work: work, label: label, admission: self)
        case .global:
            throw APIError(
                status: .serviceUnavailable, code: "overloaded",
                message: "the server has \(budget.total) \(Self.noun(work)) in flight already; retry shortly",
                headers: [.retryAfter: "1"])
        case .key:
            throw APIError(
                status: .tooManyRequests, code: "rate_limited",
                message: "this key has \(budget.perKey) \(Self.noun(work)) in flight already (its limit); "
                    + "retry when one has finished",
                headers: [.retryAfter: "1"])
        }
    }

    /// Work in flight in `work` (for tests and metrics).
    func inFlight(_ work: Work) -> Int { state.withLock { $0.inFlight[work, default: 0] } }

    private static func noun(_ work: Work) -> String {
        switch work {
        case .answer: "answers"
        case .embedding: "embedding requests"
        case .ingest: "uploads or ingest jobs"
        }
    }

    fileprivate func leave(_ work: Work, label: String?) {
        state.withLock { s in
            s.inFlight[work] = max(0, s.inFlight[work, default: 0] - 1)
            if let label, let mine = s.perKey[work]?[label] {
                s.perKey[work]?[label] = mine > 1 ? mine - 1 : nil
            }
        }
    }

    fileprivate func park(job: Int64, label: String) {
        state.withLock { $0.jobs[job] = label }
    }

    /// Frees the ingest slots of jobs that have finished.
    private func reapFinishedJobs() {
        let parked = state.withLock { $0.jobs }
        for (job, label) in parked where jobFinished(job) {
            let removed = state.withLock { $0.jobs.removeValue(forKey: job) != nil }
            if removed { leave(.ingest, label: label.isEmpty ? nil : label) }
        }
    }
}

/// Applies the per-key request rate and records when an API key was last used (at most about
/// once a minute per key).
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = WendaoContext
    let limits: Admission

    func handle(_ request: Request, context: WendaoContext, next: (Request, WendaoContext) async throws -> Response)
        async throws -> Response
    {
        // The rate applies to API keys; the admin (and an open local server's single user) is not
        // throttled.
        if case .key(let record) = context.principal {
            try limits.admit(context.principal.label)
            if limits.shouldRecordUse(of: record.id) {
                do { try await limits.recordUse(record) } catch {
                    context.logger.warning(
                        "could not record the use of an API key",
                        metadata: ["key": "\(record.id)", "reason": "\(error)"])
                }
            }
        }
        return try await next(request, context)
    }
}

// MARK: - Stopping work nobody waits for

/// Closes a connection whose client hung up (its input closed) after sending a whole request. The
/// server allows half-closed connections; without this a request whose client has gone would keep
/// running until it tries to write. Work that watches the connection
/// (``WendaoAPI/whileConnected(_:shutdown:_:)``) is cancelled when it closes. A request cut short
/// (the parser reports an error first) is left alone: it is answered 400 and then closed.
final class ClientHangUpHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private var sawError = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        sawError = true
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case ChannelEvent.inputClosed = event, !sawError {
            context.close(promise: nil)
        }
    }
}

extension WendaoAPI {
    /// Runs `work`, cancelling it when the request's connection closes (the client hung up) and,
    /// with `shutdown`, when the server begins a graceful shutdown (SIGTERM): work a client no
    /// longer waits for stops instead of holding a CPU and a slot.
    func whileConnected<T: Sendable>(
        _ context: WendaoContext, shutdown: Bool = false, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let watched: @Sendable () async throws -> T = {
            guard let channel = context.channel else { return try await work() }
            return try await Self.cancelling(work, whenClosed: channel)
        }
        do {
            return try await shutdown ? cancelWhenGracefulShutdown(watched) : watched()
        } catch is CancellationError {
            throw APIError(
                status: .init(code: 499, reasonPhrase: "Client Closed Request"), code: "cancelled",
                message: "the request was cancelled (the client hung up or the server is shutting down)")
        } catch let e as WendaoError where e.code == .cancelled {
            throw APIError(
                status: .init(code: 499, reasonPhrase: "Client Closed Request"), code: "cancelled",
                message: e.message)
        }
    }

    static func cancelling<T: Sendable>(
        _ work: @escaping @Sendable () async throws -> T, whenClosed channel: any Channel
    )
        async throws -> T
    {
        let (closed, signal) = AsyncStream<Void>.makeStream()
        channel.closeFuture.whenComplete { _ in signal.finish() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                // Ends when the channel closes, or when this task is cancelled (work finished).
                for await _ in closed {}
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
                // The connection closed first.
                group.cancelAll()
            }
            throw CancellationError()
        }
    }
}
