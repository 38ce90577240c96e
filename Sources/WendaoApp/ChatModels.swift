import Foundation
public import NIOPosix
import Synchronization
public import WendaoCore
public import WendaoLLM
public import WendaoModels

/// The chat models a process answers with, by name: a provider's model through the gateway
/// (`provider:model`, `custom:NAME`), or a GGUF model run here (`local:NAME` from the catalogue, once
/// pulled; `local:/abs/path/model.gguf`).
///
/// Every place that takes a model name (the CLI's `chat`, `ask`, `demo`, `kb set --model`,
/// `WENDAO_MODEL`, the server's answers and `/v1/chat/completions`, `eval answers`) resolves it with
/// ``resolve(_:configuration:environment:)`` and asks ``chatModel(for:)`` for the model to call, so
/// `local:` works wherever a provider's model does — with no key and no cost.
///
/// A local model is loaded once per file and kept while this object lives (one per
/// ``AppEnvironment``: per process for the server, per command for the CLI): requests share it, and its
/// own queue runs them one at a time. Loading happens on the thread pool, after the memory check
/// (``LocalModelMemory``), on the first request; a failed load is not kept (a later `models pull` helps).
///
/// ```swift
/// let model = try ChatModels.resolve("local:smollm2-135m", configuration: config, environment: env)
/// let chat = try await app.chatModels.chatModel(for: model)   // loads the file the first time
/// for try await e in chat.streamChat([ChatMessage(.user, "Hello")], options: ChatOptions()) { … }
/// ```
public final class ChatModels: Sendable {
    /// Variables read here: `WENDAO_MODELS` (where pulled models are), `WENDAO_LLM_THREADS` (threads
    /// per local model; default all cores), `WENDAO_LLM_MEMORY_CHECK=off` (skip the memory check).
    public let environment: [String: String]
    private let gateway: @Sendable () throws -> ModelGateway
    private let threadPool: @Sendable () -> NIOThreadPool
    private let load: @Sendable (LocalModelLoad) throws -> any ChatModel
    private let loaded = Mutex<[String: Task<any ChatModel, any Error>]>([:])

    /// What loading a local model needs.
    public struct LocalModelLoad: Sendable, Equatable {
        /// `local:NAME` or `local:/path`.
        public var id: String
        /// The GGUF file.
        public var path: String
        /// The context asked for: `context_window` in config.yaml, else 4,096 capped at the catalogue
        /// model's trained context (the runtime caps it at the file's own in any case).
        public var contextLength: Int?
        /// Threads (`WENDAO_LLM_THREADS`), nil for the runtime's default.
        public var threads: Int?
    }

    /// Chat models over the composition root's gateway and thread pool (both made on first use).
    ///
    /// - Parameter load: makes a local model (default: ``LocalChatModel``); tests pass a double.
    public init(
        environment: [String: String], gateway: @escaping @Sendable () throws -> ModelGateway,
        threadPool: @escaping @Sendable () -> NIOThreadPool,
        load: @escaping @Sendable (LocalModelLoad) throws -> any ChatModel = ChatModels.loadRuntime
    ) {
        self.environment = environment
        self.gateway = gateway
        self.threadPool = threadPool
        self.load = load
    }

    /// Resolves `spec`: `local:…` against the catalogue and the file system (no key, no call), anything
    /// else as ``ModelCatalog/resolve(_:configuration:environment:)`` does.
    ///
    /// - Throws: for `local:`, what ``LocalModelCatalog/reference(_:environment:)`` throws (unknown name,
    ///   not pulled — naming the pull command —, no such file); otherwise the catalogue's errors.
    public static func resolve(
        _ spec: String, configuration: ModelsConfiguration, environment: [String: String]
    ) throws(WendaoError) -> ResolvedModel {
        guard LocalModelCatalog.isLocal(spec) else {
            return try ModelCatalog.resolve(spec, configuration: configuration, environment: environment)
        }
        let reference = try LocalModelCatalog.reference(spec, environment: environment)
        let trained = reference.known?.trainedContext ?? Int.max
        return ModelCatalog.local(
            id: reference.id, path: reference.path,
            contextWindow: min(LocalModelMemory.defaultContextLength, trained), configuration: configuration)
    }

    /// Whether `spec` names a local model (it needs no key and no provider).
    public static func isLocal(_ spec: String) -> Bool { LocalModelCatalog.isLocal(spec) }

    /// The model to call for `model`: the gateway's for a provider's model, the shared local runtime for
    /// a `local:` one (loaded on first use: memory checked, then the file read on the thread pool).
    ///
    /// - Throws: for a local model, `limitExceeded` when it would not fit in memory, and what loading
    ///   throws (a damaged file, an unsupported architecture); for a provider's, a missing gateway.
    public func chatModel(for model: ResolvedModel) async throws -> any ChatModel {
        guard model.isLocal else { return GatewayChatModel(gateway: try gateway(), model: model) }
        // The context: config.yaml's context_window, else the runtime's default (4,096, capped at the
        // model's own), which `resolve` put there.
        let request = LocalModelLoad(
            id: model.id, path: model.model, contextLength: model.contextWindow,
            threads: environment["WENDAO_LLM_THREADS"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil })
        let key = request.path
        let checkMemory = environment["WENDAO_LLM_MEMORY_CHECK"]?.lowercased() != "off"
        let task = loaded.withLock { cache -> Task<any ChatModel, any Error> in
            if let t = cache[key] { return t }
            let pool = threadPool()
            let load = self.load
            let t = Task<any ChatModel, any Error> {
                try await pool.runIfActive {
                    if checkMemory {
                        let estimate = try LocalModelMemory.estimate(
                            path: request.path, contextLength: request.contextLength)
                        try LocalModelMemory.check(estimate, model: request.id)
                    }
                    return try load(request)
                }
            }
            cache[key] = t
            return t
        }
        do {
            let loadedModel = try await task.value
            return loadedModel.id == model.id ? loadedModel : RenamedChatModel(base: loadedModel, id: model.id)
        } catch {
            // Not kept: the next request tries again (after a pull, with more memory free…).
            loaded.withLock { cache in
                if cache[key] == task { cache.removeValue(forKey: key) }
            }
            throw error
        }
    }

    /// What a local model does with `text` (tokens, the rendered prompt, each step's candidates), run
    /// on the shared model's queue: the web UI's model page and `wendao llm inspect`.
    ///
    /// - Throws: `invalidArgument` for a provider's model (its API gives no token probabilities to show);
    ///   what ``chatModel(for:)`` and ``LocalChatModel/inspect(_:chat:steps:top:sampling:)`` throw.
    public func inspect(
        _ model: ResolvedModel, text: String, chat: Bool, steps: Int, top: Int, sampling: SamplingOptions
    ) async throws -> LLMInspectionReport {
        guard model.isLocal else {
            throw WendaoError(
                .invalidArgument, "\(model.id) is a provider's model: only a local model (local:NAME) can be inspected")
        }
        var chatModel = try await chatModel(for: model)
        if let renamed = chatModel as? RenamedChatModel { chatModel = renamed.base }
        guard let local = chatModel as? LocalChatModel else {
            throw WendaoError(.invalidArgument, "\(model.id) is not run by Wendao's runtime: it cannot be inspected")
        }
        return try await local.inspect(text, chat: chat, steps: steps, top: top, sampling: sampling)
    }

    /// The local models loaded so far (their `local:` names).
    public func loadedLocalModels() async -> [String] {
        let tasks = loaded.withLock { Array($0.values) }
        var ids: [String] = []
        for t in tasks { if let m = try? await t.value { ids.append(m.id) } }
        return ids.sorted()
    }

    /// Forgets the loaded local models (their memory goes when no request holds them).
    public func shutdown() {
        loaded.withLock { $0.removeAll() }
    }

    /// The catalogue's models that are pulled, as `local:NAME` (for model lists).
    public static func pulledLocalModels(environment: [String: String]) -> [String] {
        LocalModelCatalog.known.filter { LocalModelCatalog.installed($0, environment: environment) != nil }.map(\.spec)
    }

    /// Loads the runtime (``LocalChatModel``).
    public static let loadRuntime: @Sendable (LocalModelLoad) throws -> any ChatModel = { request in
        try LocalChatModel(
            id: request.id, path: request.path, contextLength: request.contextLength, threads: request.threads)
    }
}

/// A chat model shared under another name (one file named both `local:NAME` and `local:/path`).
struct RenamedChatModel: ChatModel {
    let base: any ChatModel
    let id: String
    var contextWindow: Int { base.contextWindow }

    func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error> {
        base.streamChat(messages, options: options)
    }
}
