import Foundation
import Synchronization
public import WendaoCore

/// A GGUF chat model run on this machine, behind the same ``ChatModel`` contract as the gateway's
/// providers (`local:NAME` or `local:/abs/path/model.gguf`).
///
/// One instance per model file and process: the weights are mapped once and shared, and requests
/// wait in a bounded queue — one generation at a time, on the model's threads. When the file is
/// replaced on disk, the next request loads the new one.
///
/// ```swift
/// let model = try LocalChatModel(id: "local:smollm2-135m", path: "/models/SmolLM2-135M-Instruct.Q4_1.gguf")
/// let (text, usage) = try await model.complete([ChatMessage(.user, "Hello")])
/// ```
public final class LocalChatModel: ChatModel, Sendable {
    /// `local:NAME` (as the user wrote it).
    public let id: String
    /// Tokens the model accepts in prompt plus completion (the key/value cache's length).
    public let contextWindow: Int
    /// The GGUF file.
    public let path: String
    /// Requests that may wait while one runs.
    public let queueLimit: Int
    private let requestedContext: Int?
    private let threads: Int?
    private let state: Mutex<State>
    private let worker: SerialWorker

    private struct State: @unchecked Sendable {
        var model: LanguageModel
        var identity: FileIdentity?
    }

    /// Loads `path`; `contextLength` is capped at the model's own (default 4,096), `threads` defaults
    /// to the processor count, `queueLimit` is how many requests may wait before new ones are refused.
    ///
    /// - Throws: what ``LanguageModel/init(path:contextLength:threads:)`` throws.
    public init(
        id: String, path: String, contextLength: Int? = nil, threads: Int? = nil, queueLimit: Int = 16
    ) throws(WendaoError) {
        let model = try LanguageModel(path: path, contextLength: contextLength, threads: threads)
        self.id = id
        self.path = path
        self.queueLimit = max(0, queueLimit)
        requestedContext = contextLength
        self.threads = threads
        contextWindow = model.contextLength
        state = Mutex(State(model: model, identity: FileIdentity(path)))
        worker = SerialWorker(name: "wendao-llm")
    }

    /// The loaded model (for inspection: its tokenizer, template, cache size).
    public var model: LanguageModel { state.withLock { $0.model } }

    /// The model, reloaded first when its file changed on disk since it was loaded.
    private func current() throws(WendaoError) -> LanguageModel {
        let identity = FileIdentity(path)
        let (model, same) = state.withLock { ($0.model, $0.identity == identity) }
        if same { return model }
        guard identity != nil else {
            throw WendaoError(.unavailable, "\(path): the model file is gone (it was loaded as \(id))")
        }
        let fresh = try LanguageModel(path: path, contextLength: requestedContext, threads: threads)
        state.withLock {
            $0.model = fresh
            $0.identity = identity
        }
        return fresh
    }

    /// Streams the reply to `messages`: text pieces as they are generated, then usage and the
    /// finish reason. Cancelling the consuming task stops generation before the next token.
    public func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error>
    {
        let (stream, continuation) = AsyncThrowingStream<ChatEvent, any Error>.makeStream()
        let flag = CancelFlag()
        continuation.onTermination = { _ in flag.set() }
        let submitted = worker.submit(limit: queueLimit) { [self] in
            do throws(WendaoError) {
                if flag.isSet { throw WendaoError(.cancelled, "generation cancelled") }
                let model = try current()
                let prompt = try model.promptTokens(messages)
                let sampling = Self.sampling(for: options)
                let limits = GenerationLimits(
                    maxTokens: options.maxTokens, stop: options.stop ?? [], isCancelled: { flag.isSet })
                let result = try model.generate(prompt, sampling: sampling, limits: limits) { step in
                    if !step.text.isEmpty { continuation.yield(.text(step.text)) }
                    return !flag.isSet
                }
                continuation.yield(
                    .usage(TokenUsage(promptTokens: result.promptTokens, completionTokens: result.tokens.count)))
                continuation.yield(.finish(result.finishReason))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        if !submitted {
            continuation.finish(
                throwing: WendaoError(
                    .rateLimited, "\(id) is busy: \(queueLimit) requests are already waiting; try again shortly"))
        }
        return stream
    }
}

extension LocalChatModel {
    /// Runs ``LLMInspection/run(_:text:chat:steps:top:sampling:)`` on the model's queue, after the
    /// requests already waiting: how `text` is tokenized, the prompt the chat template renders, and the
    /// `top` candidates of each of `steps` generated tokens.
    ///
    /// - Throws: `rateLimited` when the queue is full; what loading and generating throw.
    public func inspect(
        _ text: String, chat: Bool, steps: Int, top: Int, sampling: SamplingOptions
    ) async throws -> LLMInspectionReport {
        let box = Mutex<CheckedContinuation<LLMInspectionReport, any Error>?>(nil)
        return try await withCheckedThrowingContinuation { continuation in
            box.withLock { $0 = continuation }
            let submitted = worker.submit(limit: queueLimit) { [self] in
                let result: Result<LLMInspectionReport, any Error>
                do throws(WendaoError) {
                    result = .success(
                        try LLMInspection.run(
                            try current(), text: text, chat: chat, steps: steps, top: top, sampling: sampling))
                } catch {
                    result = .failure(error)
                }
                box.withLock { $0.take() }?.resume(with: result)
            }
            if !submitted {
                box.withLock { $0.take() }?.resume(
                    throwing: WendaoError(
                        .rateLimited, "\(id) is busy: \(queueLimit) requests are already waiting; try again shortly"))
            }
        }
    }
}

extension LocalChatModel {
    /// The sampler for a chat call: the call's temperature (default 0.7) and top-p, llama.cpp's usual
    /// top-k 40 and min-p 0.05, and a mild repetition penalty (1.1 over the last 64 tokens), which
    /// keeps small models from repeating a line until the token limit; temperature 0 is greedy with
    /// the same penalty.
    static func sampling(for options: ChatOptions) -> SamplingOptions {
        var s = SamplingOptions(temperature: max(0, options.temperature ?? 0.7), repetitionPenalty: 1.1)
        if let p = options.topP, p > 0, p <= 1 { s.topP = p }
        if s.temperature == 0 {
            s.topK = 1
            s.topP = 1
            s.minP = 0
        }
        return s
    }
}

/// A flag set from any thread.
final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// What identifies a file's contents cheaply: device, inode, size and modification time.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var modifiedNanoseconds: Int64

    init?(_ path: String) {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        device = UInt64(s.st_dev)
        inode = UInt64(s.st_ino)
        size = Int64(s.st_size)
        modified = Int64(s.st_mtim.tv_sec)
        modifiedNanoseconds = Int64(s.st_mtim.tv_nsec)
    }
}

/// One thread that runs submitted work in order, with a bound on the work waiting.
final class SerialWorker: Sendable {
    private struct Queue: @unchecked Sendable {
        var jobs: [() -> Void] = []
        var running = false
    }
    private let queue = Mutex(Queue())
    private let name: String

    init(name: String) { self.name = name }

    /// Runs `work` at once on the worker's thread when it is idle, else queues it; false when
    /// `limit` jobs are already waiting (the running one not counted).
    func submit(limit: Int, _ work: @escaping @Sendable () -> Void) -> Bool {
        enum Decision { case start, queued, refused }
        let decision: Decision = queue.withLock { q in
            if !q.running {
                q.running = true
                return .start
            }
            guard q.jobs.count < limit else { return .refused }
            q.jobs.append(work)
            return .queued
        }
        switch decision {
        case .refused: return false
        case .queued: return true
        case .start:
            let thread = Thread { [self] in
                work()
                drain()
            }
            thread.name = name
            thread.stackSize = 1 << 22
            thread.start()
            return true
        }
    }

    private func drain() {
        while true {
            let job: (() -> Void)? = queue.withLock { q in
                if q.jobs.isEmpty {
                    q.running = false
                    return nil
                }
                return q.jobs.removeFirst()
            }
            guard let job else { return }
            job()
        }
    }
}
