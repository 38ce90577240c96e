public import Foundation
import Logging
import Synchronization
public import WendaoCore
import WendaoEmbed
public import WendaoModels

/// The embedders a process can use, by name, made once and kept:
///
/// - local models: `e5-small`, `minilm` (pulled with `wendao models pull`), `path:/dir`,
///   `path:/file.bin` (see ``Embedders``);
/// - a provider's embedding model through the gateway, written `provider:model`:
///   `dashscope:text-embedding-v3`, `ollama:bge-m3`, `openai:text-embedding-3-small`, a provider
///   or `custom:NAME` from `config.yaml` (see ``RemoteEmbedder``).
///
/// The composition root makes one with the models configuration, the environment (API keys, base
/// URLs) and its gateway, and hands it to ``Library``. Opening a remote embedder checks its name and
/// key without calling the provider.
///
/// ```swift
/// let registry = EmbedderRegistry(configuration: config, environment: env, gateway: gateway)
/// let library = try Library(directory: dir, embedders: registry)
/// let embedder = try registry.open("dashscope:text-embedding-v3")   // throws if DASHSCOPE_API_KEY is unset
/// ```
public final class EmbedderRegistry: Sendable {
    /// Variables that hold keys and base URLs (and `WENDAO_MODELS`, `WENDAO_EMBED_THREADS`).
    public let environment: [String: String]
    private let load: @Sendable () throws -> ModelsConfiguration
    private let loaded = Mutex<ModelsConfiguration?>(nil)
    private let givenGateway: ModelGateway?
    private let remote = Mutex<[String: RemoteEmbedder]>([:])

    /// A registry with a models configuration already read.
    ///
    /// - Parameter gateway: the gateway remote embedders call through (the caller shuts it down);
    ///   nil: one made on the first remote embedder and kept for the life of the process.
    public convenience init(
        configuration: ModelsConfiguration = ModelsConfiguration(),
        environment: [String: String] = ProcessInfo.processInfo.environment, gateway: ModelGateway? = nil
    ) {
        self.init(environment: environment, gateway: gateway, configuration: { configuration })
    }

    /// A registry that reads the models configuration when a remote embedder is first opened (so a
    /// broken `config.yaml` only fails the commands that need it).
    public init(
        environment: [String: String], gateway: ModelGateway? = nil,
        configuration: @escaping @Sendable () throws -> ModelsConfiguration
    ) {
        self.environment = environment
        self.givenGateway = gateway
        self.load = configuration
    }

    /// Whether `spec` names a provider's model (`provider:model`) rather than a local one.
    public static func isRemote(_ spec: String) -> Bool {
        let s = spec.trimmingCharacters(in: .whitespaces)
        return !s.hasPrefix("path:") && s.contains(":") && EmbedderCatalog.known(s) == nil
    }

    /// The embedder called `spec`, made on first use.
    ///
    /// - Throws: for a local model, what ``Embedders/open(_:environment:)`` throws (not pulled,
    ///   unreadable, unknown name); for a remote one, an unknown provider or custom model, or a
    ///   missing key (`unauthenticated`, naming the variable to set).
    public func open(_ spec: String) throws -> any TextEmbedder {
        let s = spec.trimmingCharacters(in: .whitespaces)
        guard Self.isRemote(s) else { return try Embedders.open(s, environment: environment) }
        let configuration = try self.configuration()
        let model = try ModelCatalog.resolve(s, configuration: configuration, environment: environment)
        try model.requireKey()
        if let hit = remote.withLock({ $0[model.id] }) { return hit }
        let embedder = RemoteEmbedder(
            gateway: givenGateway ?? Self.processGateway(configuration), model: model,
            settings: ModelCatalog.embeddingSettings(for: model, configuration: configuration))
        return remote.withLock { cache in
            if let other = cache[model.id] { return other }
            cache[model.id] = embedder
            return embedder
        }
    }

    /// The models configuration (read once).
    public func configuration() throws -> ModelsConfiguration {
        if let c = loaded.withLock({ $0 }) { return c }
        let c = try load()
        loaded.withLock { $0 = c }
        return c
    }

    /// Gateways made for registries that were given none, by time limits and retry policy; they live
    /// as long as the process (an HTTP client must be shut down before it is freed).
    private static let gateways = Mutex<[(ModelTimeouts, RetryPolicy, ModelGateway)]>([])

    private static func processGateway(_ configuration: ModelsConfiguration) -> ModelGateway {
        gateways.withLock { list in
            if let g = list.first(where: { $0.0 == configuration.timeouts && $0.1 == configuration.retry }) {
                return g.2
            }
            let g = ModelGateway(configuration: configuration, logger: Logger(label: "wendao.embeddings"))
            list.append((configuration.timeouts, configuration.retry, g))
            return g
        }
    }
}
