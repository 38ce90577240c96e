import Foundation
import Logging
import Synchronization
public import WendaoCore

/// How a provider's embedding model is called: request size, parallelism, input limit, prefixes.
///
/// Resolved by ``ModelCatalog/embeddingSettings(for:configuration:)`` from the provider preset,
/// `providers.NAME` and `models.PROVIDER:MODEL` (or `custom.NAME`) in `config.yaml`.
public struct EmbeddingSettings: Sendable, Equatable {
    /// Default ``maxCharacters``: about 6000 CJK characters stay under the 8192-token input limit of
    /// text-embedding-v3, text-embedding-3-* and bge-m3 whatever the tokenizer.
    public static let defaultMaxCharacters = 6000

    /// Most inputs per request (DashScope's text-embedding-v3 takes at most 10).
    public var batchSize = 32
    /// Requests in flight at once.
    public var concurrency = 4
    /// Longer inputs (prefix included) are cut to this many characters, and a note is logged.
    public var maxCharacters = EmbeddingSettings.defaultMaxCharacters
    /// Put before queries; empty: the raw text.
    public var queryPrefix = ""
    /// Put before passages; empty: the raw text.
    public var passagePrefix = ""
    /// The `dimensions` asked for, or nil to leave it to the model.
    public var dimensions: Int?

    /// The defaults (32 inputs per request, 4 at once, 6000 characters, raw text).
    public init() {}
}

extension ModelCatalog {
    /// The embedding settings of `model` (resolved from `provider:model` or `custom:NAME`): the
    /// preset's, then `providers.NAME`, then the model's own settings.
    public static func embeddingSettings(for model: ResolvedModel, configuration: ModelsConfiguration)
        -> EmbeddingSettings
    {
        var s = EmbeddingSettings()
        var providerSettings = configuration.providers[model.provider]
        if let preset = ProviderPreset.named(model.provider) {
            s.batchSize = preset.embeddingBatchSize
            s.concurrency = preset.embeddingConcurrency
            if let p = preset.embeddingPrefixes(of: model.model) {
                s.queryPrefix = p.query
                s.passagePrefix = p.passage
            }
            providerSettings =
                configuration.providers[preset.name]
                ?? preset.aliases.lazy.compactMap { configuration.providers[$0] }.first
        }
        if let p = providerSettings {
            if let b = p.embeddingBatchSize { s.batchSize = b }
            if let c = p.embeddingConcurrency { s.concurrency = c }
        }
        let modelSettings =
            model.id.hasPrefix("custom:")
            ? configuration.custom[String(model.id.dropFirst("custom:".count))]?.settings
            : configuration.models[model.id]
        if let m = modelSettings {
            if let b = m.embeddingBatchSize { s.batchSize = b }
            if let c = m.embeddingConcurrency { s.concurrency = c }
            if let n = m.embeddingMaxCharacters { s.maxCharacters = n }
            if let q = m.embeddingQueryPrefix { s.queryPrefix = q }
            if let p = m.embeddingPassagePrefix { s.passagePrefix = p }
            if let d = m.embeddingDimensions { s.dimensions = d }
        }
        s.batchSize = max(1, s.batchSize)
        s.concurrency = max(1, s.concurrency)
        s.maxCharacters = max(16, s.maxCharacters)
        return s
    }
}

/// A provider's embedding model as a ``TextEmbedder``: `dashscope:text-embedding-v3`,
/// `ollama:bge-m3`, `openai:text-embedding-3-small`, a provider of `config.yaml` — any
/// OpenAI-compatible `/embeddings`.
///
/// Texts are sent in requests of at most ``EmbeddingSettings/batchSize`` inputs, at most
/// ``EmbeddingSettings/concurrency`` at once, each cut to ``EmbeddingSettings/maxCharacters``
/// (logged). Queries and passages are sent as they are unless the preset or configuration names
/// prefixes. The gateway retries connection errors, 429 and 5xx.
///
/// Every response is checked before a vector leaves this type: one vector per input at the right
/// positions, none empty, none with NaN or infinity, none all zeros, and all with the dimension of
/// the first response this embedder received. Anything else is a `badResponse` error naming the
/// provider and model. Vectors are L2-normalised (the index scores by dot product).
///
/// ```swift
/// let model = try ModelCatalog.resolve("dashscope:text-embedding-v3", configuration: config, environment: env)
/// let embedder = RemoteEmbedder(
///     gateway: gateway, model: model, settings: ModelCatalog.embeddingSettings(for: model, configuration: config))
/// let v = try await embedder.embed(["运费怎么算"], as: .query).vectors[0]
/// ```
public final class RemoteEmbedder: TextEmbedder {
    /// The gateway that makes the calls.
    public let gateway: ModelGateway
    /// The provider's model.
    public let model: ResolvedModel
    /// Batching, parallelism, input limit and prefixes.
    public let settings: EmbeddingSettings
    private let learned = Mutex<Int?>(nil)

    /// Wraps a resolved model.
    public init(gateway: ModelGateway, model: ResolvedModel, settings: EmbeddingSettings = EmbeddingSettings()) {
        self.gateway = gateway
        self.model = model
        self.settings = settings
    }

    /// `provider:model` (or `custom:NAME`), the id stamped into vector files.
    public var id: String { model.id }

    /// The dimension of the first response, once there was one.
    public var knownDimension: Int? { learned.withLock { $0 } }

    /// Embeds `texts` through the gateway (see the type's description for batching and checks).
    ///
    /// - Throws: `unauthenticated` without a key (naming the variable to set), the gateway's errors
    ///   (prefixed with the embedder id), `badResponse` for a response that fails the checks.
    public func embed(_ texts: [String], as kind: EmbeddingKind) async throws -> EmbeddingResult {
        guard !texts.isEmpty else { return EmbeddingResult(vectors: [], tokenCount: 0, truncated: []) }
        try model.requireKey()
        let prefix = kind == .query ? settings.queryPrefix : settings.passagePrefix
        let limit = settings.maxCharacters
        var inputs: [String] = []
        var truncated: [Bool] = []
        inputs.reserveCapacity(texts.count)
        for text in texts {
            let full = prefix + text
            if full.count > limit {
                inputs.append(String(full.prefix(limit)))
                truncated.append(true)
            } else {
                inputs.append(full)
                truncated.append(false)
            }
        }
        let cut = truncated.filter { $0 }.count
        if cut > 0 {
            gateway.logger.warning(
                "embedding inputs cut to the character limit (embedding_max_characters in config.yaml)",
                metadata: ["embedder": "\(id)", "inputs": "\(cut)", "max_characters": "\(limit)"])
        }
        let size = settings.batchSize
        let starts = Array(stride(from: 0, to: inputs.count, by: size))
        var vectors = [[Float]](repeating: [], count: inputs.count)
        var tokens = 0
        try await withThrowingTaskGroup(of: (Int, [[Float]], Int).self) { group in
            var next = 0
            var running = 0
            while next < starts.count || running > 0 {
                // Keep `concurrency` requests in flight; the first failure cancels the others.
                while next < starts.count && running < settings.concurrency {
                    // A cancelled caller (a client that hung up) sends no further batches.
                    try Task.checkCancellation()
                    let start = starts[next]
                    let batch = Array(inputs[start..<min(start + size, inputs.count)])
                    next += 1
                    running += 1
                    group.addTask {
                        let (v, t) = try await self.embedBatch(batch, offset: start)
                        return (start, v, t)
                    }
                }
                guard let (start, batchVectors, batchTokens) = try await group.next() else { break }
                running -= 1
                for (i, v) in batchVectors.enumerated() { vectors[start + i] = v }
                tokens += batchTokens
            }
        }
        return EmbeddingResult(vectors: vectors, tokenCount: tokens, truncated: truncated)
    }

    /// Embeds on the bridge's thread and waits (``BlockingBridge``).
    public func embedBlocking(_ texts: [String], as kind: EmbeddingKind) throws -> EmbeddingResult {
        try BlockingBridge.run { try await self.embed(texts, as: kind) }
    }

    /// One request: checked, normalised vectors and the tokens used.
    func embedBatch(_ inputs: [String], offset: Int) async throws -> ([[Float]], Int) {
        let response: EmbeddingsResponse
        do {
            response = try await gateway.embeddings(model, inputs: inputs, dimensions: settings.dimensions)
        } catch let e as WendaoError {
            throw WendaoError(e.code, redact("embedder \(id): \(e.message)"))
        } catch is CancellationError {
            throw WendaoError(.cancelled, "embedding with \(id) was cancelled")
        }
        guard response.data.count == inputs.count else {
            throw bad("returned \(response.data.count) vectors for \(inputs.count) inputs")
        }
        var out: [[Float]] = []
        out.reserveCapacity(inputs.count)
        for (i, item) in response.data.enumerated() {
            let n = offset + i + 1  // 1-based position among the texts of this call, for messages
            guard item.index == i else {
                throw bad("returned vectors at positions \(response.data.map(\.index)) for \(inputs.count) inputs")
            }
            let v = item.embedding
            guard !v.isEmpty else { throw bad("returned an empty vector for input \(n)") }
            guard v.allSatisfy(\.isFinite) else { throw bad("returned a vector with NaN or infinity for input \(n)") }
            let expected = learned.withLock { d -> Int in
                if d == nil { d = v.count }
                return d!
            }
            guard v.count == expected else {
                throw bad(
                    "returned a \(v.count)-dimensional vector for input \(n); its vectors have \(expected) dimensions")
            }
            var norm: Float = 0
            for x in v { norm += x * x }
            norm = norm.squareRoot()
            guard norm > 0, norm.isFinite else { throw bad("returned an all-zero vector for input \(n)") }
            out.append(v.map { $0 / norm })
        }
        let tokens = response.usage?.promptTokens ?? inputs.reduce(0) { $0 + TokenEstimator.estimate($1) }
        return (out, tokens)
    }

    private func bad(_ what: String) -> WendaoError {
        let name = id == "\(model.provider):\(model.model)" ? id : "\(id) (\(model.provider):\(model.model))"
        return WendaoError(.badResponse, "embedder \(name) \(what)")
    }

    private func redact(_ text: String) -> String {
        model.apiKey?.redact(text) ?? Secret.redactKeyShapes(text)
    }
}
