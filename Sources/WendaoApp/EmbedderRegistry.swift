public import Foundation
import Synchronization
public import WendaoCore
public import WendaoEmbed
public import WendaoModels
import WendaoLLM

/// The embedders a process can use, by name, made once per registry and kept by it:
///
/// - local models: `e5-small`, `minilm` (pulled with `wendao models pull`), `path:/dir`,
///   `path:/file.bin` (see ``LocalEmbedders``);
/// - a provider's embedding model through the gateway, written `provider:model`:
///   `dashscope:text-embedding-v3`, `ollama:bge-m3`, `openai:text-embedding-3-small`, a provider
///   or `custom:NAME` from `config.yaml` (see ``RemoteEmbedder``).
///
/// The composition root (``AppEnvironment``) makes one with the models configuration, the
/// environment (API keys, base URLs) and its gateway, and hands it to `Library`. Opening a remote
/// embedder checks its name and key without calling the provider. There is no process-wide cache:
/// loaded encoders live as long as the registry (``shutdown()`` lets their threads go).
///
/// ```swift
/// let registry = EmbedderRegistry(configuration: config, environment: env, gateway: gateway)
/// let library = try Library(directory: dir, embedders: registry)
/// let embedder = try registry.open("dashscope:text-embedding-v3")   // throws if DASHSCOPE_API_KEY is unset
/// ```
public final class EmbedderRegistry: EmbedderProvider {
    /// Variables that hold keys and base URLs (and `WENDAO_MODELS`, `WENDAO_EMBED_THREADS`).
    public let environment: [String: String]
    private let load: @Sendable () throws -> ModelsConfiguration
    private let loaded = Mutex<ModelsConfiguration?>(nil)
    private let gateway: @Sendable () throws -> ModelGateway
    private let remote = Mutex<[String: RemoteEmbedder]>([:])
    private let local = Mutex<[String: TextEncoder]>([:])

    /// A registry with a models configuration already read.
    ///
    /// - Parameter gateway: the gateway remote embedders call through (its owner shuts it down);
    ///   nil: local embedders only (opening a provider's model is an error).
    public convenience init(
        configuration: ModelsConfiguration = ModelsConfiguration(),
        environment: [String: String] = ProcessInfo.processInfo.environment, gateway: ModelGateway? = nil
    ) {
        self.init(environment: environment, gateway: gateway, configuration: { configuration })
    }

    /// A registry that reads the models configuration when a remote embedder is first opened (so a
    /// broken `config.yaml` only fails the commands that need it).
    public convenience init(
        environment: [String: String], gateway: ModelGateway? = nil,
        configuration: @escaping @Sendable () throws -> ModelsConfiguration
    ) {
        self.init(
            environment: environment, configuration: configuration,
            gateway: {
                guard let gateway else {
                    throw WendaoError(
                        .unsupported, "providers' embedding models need a model gateway (none was configured here)")
                }
                return gateway
            })
    }

    /// A registry whose gateway is made on demand by its owner (the composition root).
    public init(
        environment: [String: String], configuration: @escaping @Sendable () throws -> ModelsConfiguration,
        gateway: @escaping @Sendable () throws -> ModelGateway
    ) {
        self.environment = environment
        self.load = configuration
        self.gateway = gateway
    }

    /// Whether `spec` names a provider's model (`provider:model`) rather than a local one.
    public static func isRemote(_ spec: String) -> Bool {
        let s = spec.trimmingCharacters(in: .whitespaces)
        return !s.hasPrefix("path:") && s.contains(":") && EmbedderCatalog.known(s) == nil
    }

    /// The embedder called `spec`, made on first use.
    ///
    /// - Throws: for a local model, what ``LocalEmbedders/load(_:environment:)`` throws (not pulled,
    ///   unreadable, unknown name); for a remote one, an unknown provider or custom model, or a
    ///   missing key (`unauthenticated`, naming the variable to set).
    public func open(_ spec: String) throws -> any TextEmbedder {
        let s = spec.trimmingCharacters(in: .whitespaces)
        if LocalModelCatalog.isLocal(s) {
            throw WendaoError(
                .invalidArgument,
                "'\(s)' is a chat model (it writes answers: kb set --model); embedders are e5-small, minilm, "
                    + "path:/model or provider:model")
        }
        guard Self.isRemote(s) else { return try openLocal(s) }
        let configuration = try self.configuration()
        let model = try ModelCatalog.resolve(s, configuration: configuration, environment: environment)
        try model.requireKey()
        if let hit = remote.withLock({ $0[model.id] }) { return hit }
        let embedder = RemoteEmbedder(
            gateway: try gateway(), model: model,
            settings: ModelCatalog.embeddingSettings(for: model, configuration: configuration))
        return remote.withLock { cache in
            if let other = cache[model.id] { return other }
            cache[model.id] = embedder
            return embedder
        }
    }

    /// The local encoder for `spec` (`e5-small`, `minilm`, `path:…`), loaded once by this registry.
    public func openLocal(_ spec: String) throws -> TextEncoder {
        if let hit = local.withLock({ $0[spec] }) { return hit }
        let encoder = try LocalEmbedders.load(spec, environment: environment)
        return local.withLock { cache in
            if let other = cache[spec] { return other }
            cache[spec] = encoder
            return encoder
        }
    }

    /// The models configuration (read once).
    public func configuration() throws -> ModelsConfiguration {
        if let c = loaded.withLock({ $0 }) { return c }
        let c = try load()
        loaded.withLock { $0 = c }
        return c
    }

    /// Forgets the embedders made so far; local encoders' threads exit once no caller holds them.
    public func shutdown() {
        local.withLock { $0.removeAll() }
        remote.withLock { $0.removeAll() }
    }
}
