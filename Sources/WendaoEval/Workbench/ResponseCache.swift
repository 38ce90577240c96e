public import Foundation
import Synchronization
public import WendaoCore

/// Model responses kept on disk by what determines them — the model, the exact messages and the
/// sampling options — so that re-running a suite, or adding a variant, calls the model only for what
/// changed.
///
/// The file is JSONL, one response a line, appended as responses arrive (a run stopped midway keeps
/// what it paid for); a damaged last line is ignored when the file is read. Only complete responses
/// are kept: a call that failed, or whose reader stopped early, is not.
///
/// ```swift
/// let cache = try ResponseCache(file: dir.appendingPathComponent("responses.jsonl"))
/// let model = CachingChatModel(base: provider, cache: cache)
/// ```
public final class ResponseCache: Sendable {
    /// One stored response.
    public struct Entry: Sendable, Codable, Equatable {
        /// The cache key (``ResponseCache/key(model:messages:options:)``).
        public var key: String
        /// The reply text.
        public var text: String
        /// Its usage.
        public var usage: TokenUsage
        /// The finish reason, when the provider gave one.
        public var finish: String?
        /// Seconds to the first text of the original call.
        public var ttft: Double
        /// Seconds of the original call.
        public var seconds: Double
        /// The hidden reasoning of a reasoning model (`reasoning_content`), when it sent one.
        public var reasoning: String? = nil
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var handle: FileHandle?
        var hits = 0
        var misses = 0
    }

    private let state: Mutex<State>
    /// The file (nil: in memory only).
    public let file: URL?

    /// A cache over `file` (created if missing; nil: in memory only).
    public init(file: URL?) throws {
        self.file = file
        var s = State()
        if let file {
            let fm = FileManager.default
            try? fm.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            var brokenLine = false
            if let data = try? Data(contentsOf: file) {
                let decoder = JSONDecoder()
                for line in data.split(separator: 0x0A) where !line.isEmpty {
                    if let e = try? decoder.decode(Entry.self, from: Data(line)) { s.entries[e.key] = e }
                }
                brokenLine = data.last.map { $0 != 0x0A } ?? false
            }
            if !fm.fileExists(atPath: file.path) { _ = fm.createFile(atPath: file.path, contents: nil) }
            guard let h = try? FileHandle(forWritingTo: file) else {
                throw WendaoError(.storage, "cannot write the response cache \(file.path)")
            }
            _ = try? h.seekToEnd()
            // A run killed in the middle of a line: the next entry starts on its own line.
            if brokenLine { _ = try? h.write(contentsOf: Data([0x0A])) }
            s.handle = h
        }
        state = Mutex(s)
    }

    deinit { state.withLock { s in _ = try? s.handle?.close() } }

    /// The key of a call: SHA-256 over the model, the messages and the options.
    public static func key(model: String, messages: [ChatMessage], options: ChatOptions) -> String {
        var h = SHA256()
        func add(_ s: String) {
            h.update(Array(s.utf8))
            h.update([0x1F])
        }
        add("v1")
        add(model)
        add(options.temperature.map { String($0) } ?? "-")
        add(options.topP.map { String($0) } ?? "-")
        add(options.maxTokens.map(String.init) ?? "-")
        add((options.stop ?? []).joined(separator: "\u{1E}"))
        for m in messages {
            add(m.role.rawValue)
            add(m.content)
        }
        return h.hexDigest()
    }

    /// The stored response for `key` (counted as a hit or a miss).
    public func lookup(_ key: String) -> Entry? {
        state.withLock { s in
            let e = s.entries[key]
            if e == nil { s.misses += 1 } else { s.hits += 1 }
            return e
        }
    }

    /// Keeps `entry` (appended to the file).
    public func store(_ entry: Entry) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(entry) else { return }
        line.append(0x0A)
        state.withLock { s in
            s.entries[entry.key] = entry
            _ = try? s.handle?.write(contentsOf: line)
        }
    }

    /// Hits and misses so far.
    public var counts: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }
}

/// What one model call cost and how long it took, as ``CachingChatModel`` reports it to the
/// ``CallRecorder`` of the task that made it.
public struct CallRecord: Sendable, Equatable {
    /// Served from the cache (no call made).
    public var cached: Bool
    /// Seconds to the first text (of the original call, when cached).
    public var ttft: Double
    /// Seconds of the call (of the original call, when cached).
    public var seconds: Double
    /// Tokens.
    public var usage: TokenUsage
}

/// Collects the ``CallRecord``s of the model calls made while it is ``current`` (a task-local value):
/// the workbench sets one per answered question.
public final class CallRecorder: Sendable {
    private let records = Mutex<[CallRecord]>([])

    /// The recorder of the current task, if any.
    @TaskLocal public static var current: CallRecorder?

    /// An empty recorder.
    public init() {}

    /// Adds a record.
    public func record(_ r: CallRecord) { records.withLock { $0.append(r) } }

    /// The records so far, in order.
    public var calls: [CallRecord] { records.withLock { $0 } }
}

/// A chat model whose complete responses are kept in a ``ResponseCache`` and replayed for the same
/// model, messages and options; every call (replayed or made) is reported to ``CallRecorder/current``.
public struct CachingChatModel: ChatModel {
    /// The model that makes the calls.
    public let base: any ChatModel
    /// The cache (nil: nothing kept, calls only recorded).
    public let cache: ResponseCache?

    /// Wraps `base`.
    public init(base: any ChatModel, cache: ResponseCache?) {
        self.base = base
        self.cache = cache
    }

    /// The base model's id.
    public var id: String { base.id }
    /// The base model's context window.
    public var contextWindow: Int { base.contextWindow }

    /// Replays a cached response, or streams the base model's and keeps it when complete.
    public func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error>
    {
        let key = ResponseCache.key(model: base.id, messages: messages, options: options)
        let recorder = CallRecorder.current
        if let hit = cache?.lookup(key) {
            recorder?.record(CallRecord(cached: true, ttft: hit.ttft, seconds: hit.seconds, usage: hit.usage))
            return AsyncThrowingStream { c in
                if let r = hit.reasoning, !r.isEmpty { c.yield(.reasoning(r)) }
                if !hit.text.isEmpty { c.yield(.text(hit.text)) }
                c.yield(.usage(hit.usage))
                if let f = hit.finish { c.yield(.finish(f)) }
                c.finish()
            }
        }
        let base = self.base
        let cache = self.cache
        return AsyncThrowingStream { continuation in
            let task = Task {
                let start = ContinuousClock.now
                var first: Double?
                var text = ""
                var reasoning = ""
                var usage = TokenUsage.zero
                var finish: String?
                do {
                    for try await e in base.streamChat(messages, options: options) {
                        switch e {
                        case .text(let t):
                            if first == nil { first = (ContinuousClock.now - start).seconds }
                            text += t
                        case .usage(let u): usage = usage + u
                        case .finish(let f): finish = f
                        case .reasoning(let r): reasoning += r
                        }
                        continuation.yield(e)
                    }
                    let seconds = (ContinuousClock.now - start).seconds
                    if usage == .zero { usage = TokenUsage.estimate(prompt: messages, completion: text) }
                    recorder?.record(CallRecord(cached: false, ttft: first ?? seconds, seconds: seconds, usage: usage))
                    if !Task.isCancelled {
                        cache?.store(
                            ResponseCache.Entry(
                                key: key, text: text, usage: usage, finish: finish, ttft: first ?? seconds,
                                seconds: seconds, reasoning: reasoning.isEmpty ? nil : reasoning))
                    }
                    continuation.finish()
                } catch {
                    let seconds = (ContinuousClock.now - start).seconds
                    recorder?.record(CallRecord(cached: false, ttft: first ?? seconds, seconds: seconds, usage: usage))
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
