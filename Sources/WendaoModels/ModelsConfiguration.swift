public import Foundation
public import WendaoCore
import Yams

/// Connect, first-token and total time limits of one model call, in seconds.
public struct ModelTimeouts: Sendable, Equatable {
    /// Establishing the TCP/TLS connection.
    public var connect: Double = 10
    /// From sending the request to the first streamed token (or, unstreamed, to the response head).
    public var firstToken: Double = 60
    /// The whole call, retries included.
    public var total: Double = 600

    /// Default limits.
    public init() {}
}

/// When and how often failed calls are retried.
public struct RetryPolicy: Sendable, Equatable {
    /// Retries after the first attempt (connection errors, 408, 429, 5xx; never after a streamed
    /// token reached the caller).
    public var maxRetries = 2
    /// First backoff delay in seconds; doubles each retry, with jitter.
    public var baseDelay = 0.5
    /// Longest backoff delay in seconds.
    public var maxDelay = 8.0
    /// The longest `Retry-After` honoured; a provider asking for more fails the call at once with
    /// a "rate limited, retry after N s" error instead of blocking.
    public var maxRetryAfter = 30.0

    /// Default policy.
    public init() {}

    /// The delay before retry number `attempt` (1-based): exponential with "equal jitter" (half
    /// fixed, half random), capped; `retryAfter` (seconds) wins when given.
    public func delay(attempt: Int, retryAfter: Double?, random: Double = Double.random(in: 0...1)) -> Double {
        if let retryAfter { return max(0, retryAfter) }
        let exp = min(maxDelay, baseDelay * pow(2, Double(max(0, attempt - 1))))
        return exp / 2 + exp / 2 * random
    }
}

/// Price of a model per million tokens, in one currency.
public struct ModelPrice: Sendable, Equatable, Codable {
    /// Prompt tokens.
    public var input: Double
    /// Completion tokens.
    public var output: Double
    /// Prompt tokens served from the provider's cache (defaults to ``input``).
    public var cachedInput: Double?
    /// Currency code or symbol (`CNY`, `USD`, …).
    public var currency: String

    /// Creates a price.
    public init(input: Double, output: Double, cachedInput: Double? = nil, currency: String = "CNY") {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput
        self.currency = currency
    }

    /// The cost of `usage` at this price.
    public func cost(of usage: TokenUsage) -> Double {
        let cached = min(usage.cachedPromptTokens ?? 0, usage.promptTokens)
        let fresh = usage.promptTokens - cached
        return (Double(fresh) * input + Double(cached) * (cachedInput ?? input) + Double(usage.completionTokens) * output)
            / 1_000_000
    }
}

/// Settings that change one provider (a built-in preset, or a new OpenAI-compatible endpoint).
public struct ProviderSettings: Sendable, Equatable {
    /// Base URL (required for a provider that is not built in).
    public var baseURL: String?
    /// The key itself (prefer ``apiKeyEnv``: config files get copied around).
    public var apiKey: Secret?
    /// An environment variable holding the key.
    public var apiKeyEnv: String?
    /// Whether streams may request usage with `stream_options`.
    public var streamUsage: Bool?
    /// Context window for this provider's models.
    public var contextWindow: Int?
    /// Extra HTTP headers sent with every call (for gateways that need them).
    public var headers: [String: String] = [:]
    /// Most inputs per `/embeddings` request (`embedding_batch_size`; default from the preset, else 32).
    public var embeddingBatchSize: Int?
    /// Embedding requests in flight at once (`embedding_concurrency`; default from the preset, else 4).
    public var embeddingConcurrency: Int?

    /// No changes.
    public init() {}
}

/// Settings of one model (`provider:model` or `custom:NAME`).
public struct ModelSettings: Sendable, Equatable {
    /// Context window in tokens.
    public var contextWindow: Int?
    /// Price per million tokens.
    public var price: ModelPrice?
    /// Default temperature.
    public var temperature: Double?
    /// Extra request fields merged into every chat request (e.g. `enable_thinking: false`).
    public var extra: [String: JSONValue] = [:]
    /// Embedding models: most inputs per request (`embedding_batch_size`).
    public var embeddingBatchSize: Int?
    /// Embedding models: requests in flight at once (`embedding_concurrency`).
    public var embeddingConcurrency: Int?
    /// Embedding models: longer inputs are cut to this many characters (`embedding_max_characters`).
    public var embeddingMaxCharacters: Int?
    /// Embedding models: text put before queries (`embedding_query_prefix`).
    public var embeddingQueryPrefix: String?
    /// Embedding models: text put before passages (`embedding_passage_prefix`).
    public var embeddingPassagePrefix: String?
    /// Embedding models: the `dimensions` asked for, for models that can shorten their vectors
    /// (`embedding_dimensions`).
    public var embeddingDimensions: Int?

    /// No settings.
    public init() {}
}

/// A named model defined in config, selected as `custom:NAME`.
public struct CustomModel: Sendable, Equatable {
    /// The provider it runs on (built-in or defined under `providers`); or use ``baseURL``.
    public var provider: String?
    /// Base URL when no provider is named.
    public var baseURL: String?
    /// The model name sent on the wire.
    public var model: String
    /// Key variable (when no provider is named).
    public var apiKeyEnv: String?
    /// Key (when no provider is named).
    public var apiKey: Secret?
    /// Per-model settings.
    public var settings = ModelSettings()

    /// Creates a custom model.
    public init(model: String) { self.model = model }
}

/// Everything configurable about models, read from `config.yaml` in the data directory.
///
/// ```yaml
/// default_model: dashscope:qwen-plus
/// providers:
///   dashscope:
///     api_key_env: MY_DASHSCOPE_KEY       # instead of DASHSCOPE_API_KEY
///   lab:                                  # a new OpenAI-compatible endpoint: lab:<model>
///     base_url: http://10.0.0.5:8000/v1
///     api_key_env: LAB_KEY
/// custom:
///   support-bot:                          # custom:support-bot
///     provider: lab
///     model: qwen2.5-72b-instruct
///     context_window: 32768
/// models:
///   deepseek:deepseek-chat:
///     price: { input: 2, output: 8, cached_input: 0.5, currency: CNY }   # per million tokens
///   dashscope:text-embedding-v3:          # an embedder (`kb set --embedder dashscope:text-embedding-v3`)
///     embedding_batch_size: 10            # inputs per request (DashScope's limit; preset default)
///     embedding_dimensions: 1024          # `dimensions` sent with every request
///     embedding_max_characters: 6000      # longer inputs are cut (default 6000)
///     embedding_query_prefix: ""          # raw text unless the preset or this says otherwise
/// timeouts: { connect: 10, first_token: 60, total: 600 }
/// retries: { max_retries: 2, base_delay: 0.5, max_delay: 8, max_retry_after: 30 }
/// ```
public struct ModelsConfiguration: Sendable, Equatable {
    /// The model `ask` and `chat` use when none is given (also `WENDAO_MODEL`).
    public var defaultModel: String?
    /// Provider settings by name.
    public var providers: [String: ProviderSettings] = [:]
    /// Custom models by name.
    public var custom: [String: CustomModel] = [:]
    /// Model settings by `provider:model`.
    public var models: [String: ModelSettings] = [:]
    /// Time limits.
    public var timeouts = ModelTimeouts()
    /// Retry policy.
    public var retry = RetryPolicy()
    /// Problems that did not stop loading (unknown keys, …), one line each.
    public var warnings: [String] = []
    /// Where the configuration came from (for messages), or nil for defaults.
    public var source: String?
    /// Web ingest: hosts and CIDRs admitted although private (`web.allow`; off by default).
    public var webAllow: [String] = []
    /// Web ingest: largest page or file fetched, in bytes (`web.max_bytes`).
    public var webMaxBytes: Int?
    /// Web ingest: time limit for one fetch, in seconds (`web.timeout`).
    public var webTimeout: Double?
    /// `server.allowed_hosts`: host names clients reach `wendao serve` by (besides loopback).
    public var serverAllowedHosts: [String] = []
    /// `server.allowed_origins`: foreign origins whose pages may change data through the server.
    public var serverAllowedOrigins: [String] = []
    /// `server.admin_key_env`: the environment variable holding the admin key (default
    /// `WENDAO_ADMIN_KEY`).
    public var serverAdminKeyEnv: String?
    /// `server.secure_cookies`: mark the session cookie `Secure` (behind an HTTPS proxy).
    public var serverSecureCookies = false
    /// `conversations.retention_days`: conversations not continued for this many days are deleted
    /// by `wendao serve` (nil or 0: kept until deleted).
    public var conversationRetentionDays: Int?

    /// `database_url`: the PostgreSQL database several servers share (`WENDAO_DATABASE_URL` and
    /// `--database` take precedence); nil: the data directory's SQLite store.
    public var databaseURL: String?
    /// `vector_search`: where dense retrieval runs with the PostgreSQL store (`local`, `pgvector` or
    /// `pgvector:EF`; see `VectorSearchSettings`). `WENDAO_VECTOR_SEARCH` and `--vector-search` take
    /// precedence; nil: each server's own index.
    public var vectorSearch: String?

    /// Defaults: built-in presets only.
    public init() {}

    /// The configuration file of a data directory.
    public static func defaultFile(dataDirectory: URL) -> URL {
        dataDirectory.appendingPathComponent("config.yaml")
    }

    /// Reads `url`; a missing file gives the defaults.
    public static func load(from url: URL) throws(WendaoError) -> ModelsConfiguration {
        guard FileManager.default.fileExists(atPath: url.path) else { return ModelsConfiguration() }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw WendaoError(.unreadable, "\(url.path): cannot read the configuration file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WendaoError(.unreadable, "\(url.path): the configuration file is not UTF-8 text")
        }
        return try parse(text, source: url.path)
    }

    /// Parses YAML text; `source` names it in messages.
    public static func parse(_ text: String, source: String) throws(WendaoError) -> ModelsConfiguration {
        var c = ModelsConfiguration()
        c.source = source
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch {
            throw WendaoError(.invalidArgument, "\(source): not valid YAML (\(yamlReason(error)))")
        }
        guard let root else { return c }
        var r = Reader(source: source)
        let top = try r.map(root, "")
        for (key, value) in top {
            switch key {
            case "default_model": c.defaultModel = try r.string(value, key)
            case "database_url": c.databaseURL = try r.string(value, key)
            case "vector_search": c.vectorSearch = try r.string(value, key)
            case "providers":
                for (name, v) in try r.map(value, key) {
                    c.providers[name.lowercased()] = try r.provider(v, "providers.\(name)")
                }
            case "custom":
                for (name, v) in try r.map(value, key) { c.custom[name] = try r.customModel(v, "custom.\(name)") }
            case "models":
                for (name, v) in try r.map(value, key) { c.models[name] = try r.modelSettings(v, "models.\(name)") }
            case "timeouts":
                for (k, v) in try r.map(value, key) {
                    let n = try r.positive(v, "timeouts.\(k)")
                    switch k {
                    case "connect": c.timeouts.connect = n
                    case "first_token": c.timeouts.firstToken = n
                    case "total": c.timeouts.total = n
                    default: r.unknown("timeouts.\(k)")
                    }
                }
            case "retries":
                for (k, v) in try r.map(value, key) {
                    switch k {
                    case "max_retries":
                        c.retry.maxRetries = try r.int(v, "retries.\(k)", in: 0...10)
                    case "base_delay": c.retry.baseDelay = try r.positive(v, "retries.\(k)")
                    case "max_delay": c.retry.maxDelay = try r.positive(v, "retries.\(k)")
                    case "max_retry_after": c.retry.maxRetryAfter = try r.positive(v, "retries.\(k)")
                    default: r.unknown("retries.\(k)")
                    }
                }
            case "web":
                for (k, v) in try r.map(value, key) {
                    switch k {
                    case "allow":
                        c.webAllow = try r.strings(v, "web.allow")
                    case "max_bytes": c.webMaxBytes = try r.int(v, "web.max_bytes", in: 1...(16 << 30))
                    case "timeout": c.webTimeout = try r.positive(v, "web.timeout")
                    default: r.unknown("web.\(k)")
                    }
                }
            case "server":
                for (k, v) in try r.map(value, key) {
                    switch k {
                    case "allowed_hosts": c.serverAllowedHosts = try r.strings(v, "server.allowed_hosts")
                    case "allowed_origins": c.serverAllowedOrigins = try r.strings(v, "server.allowed_origins")
                    case "admin_key_env": c.serverAdminKeyEnv = try r.string(v, "server.admin_key_env")
                    case "secure_cookies": c.serverSecureCookies = try r.bool(v, "server.secure_cookies")
                    default: r.unknown("server.\(k)")
                    }
                }
            case "conversations":
                for (k, v) in try r.map(value, key) {
                    switch k {
                    case "retention_days":
                        c.conversationRetentionDays = try r.int(v, "conversations.retention_days", in: 0...36_500)
                    default: r.unknown("conversations.\(k)")
                    }
                }
            case "images": break  // the image studio's section, read by WendaoImages' ImageStudioConfiguration
            default: r.unknown(key)
            }
        }
        c.warnings = r.warnings
        return c
    }

    static func yamlReason(_ error: any Error) -> String {
        let s = "\(error)".split(separator: "\n").first.map(String.init) ?? "syntax error"
        return s.count > 200 ? String(s.prefix(200)) + "…" : s
    }
}

/// Walks a loaded YAML tree with typed accessors that name the key path in errors.
private struct Reader {
    var source: String
    var warnings: [String] = []

    func fail(_ path: String, _ what: String) -> WendaoError {
        WendaoError(.invalidArgument, "\(source): \(path.isEmpty ? "top level" : path) \(what)")
    }

    mutating func unknown(_ path: String) {
        warnings.append("\(source): unknown key '\(Secret.redactKeyShapes(path))' ignored")
    }

    func map(_ v: Any, _ path: String) throws(WendaoError) -> [(String, Any)] {
        if v is NSNull { return [] }
        guard let d = v as? [AnyHashable: Any] else { throw fail(path, "must be a mapping (key: value lines)") }
        return d.map { ("\($0.key)", $0.value) }.sorted { $0.0 < $1.0 }
    }

    func string(_ v: Any, _ path: String) throws(WendaoError) -> String {
        if let s = v as? String { return s }
        if let i = v as? Int { return String(i) }
        if let d = v as? Double { return String(d) }
        throw fail(path, "must be a string")
    }

    func strings(_ v: Any, _ path: String) throws(WendaoError) -> [String] {
        guard let list = v as? [Any] else { throw fail(path, "must be a list") }
        return try list.map { item throws(WendaoError) in try string(item, path) }
    }

    func number(_ v: Any, _ path: String) throws(WendaoError) -> Double {
        if let i = v as? Int { return Double(i) }
        if let d = v as? Double, d.isFinite { return d }
        if let s = v as? String, let d = Double(s), d.isFinite { return d }
        throw fail(path, "must be a number")
    }

    /// A number in (0, 86400]: every time setting is seconds, and nothing needs more than a day.
    func positive(_ v: Any, _ path: String) throws(WendaoError) -> Double {
        let d = try number(v, path)
        guard d > 0 else { throw fail(path, "must be greater than 0") }
        guard d <= 86_400 else { throw fail(path, "must be at most 86400 (seconds)") }
        return d
    }

    func int(_ v: Any, _ path: String, in range: ClosedRange<Int>) throws(WendaoError) -> Int {
        let d = try number(v, path)
        guard d == d.rounded(), let i = Int(exactly: d), range.contains(i) else {
            throw fail(path, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return i
    }

    func bool(_ v: Any, _ path: String) throws(WendaoError) -> Bool {
        guard let b = v as? Bool else { throw fail(path, "must be true or false") }
        return b
    }

    func json(_ v: Any, _ path: String) throws(WendaoError) -> JSONValue {
        switch v {
        case is NSNull: return .null
        case let b as Bool: return .bool(b)
        case let i as Int: return .number(Double(i))
        case let d as Double: return .number(d)
        case let s as String: return .string(s)
        case let a as [Any]:
            var out: [JSONValue] = []
            for (i, x) in a.enumerated() { out.append(try json(x, "\(path)[\(i)]")) }
            return .array(out)
        case is [AnyHashable: Any]:
            var out: [String: JSONValue] = [:]
            for (k, x) in try map(v, path) { out[k] = try json(x, "\(path).\(k)") }
            return .object(out)
        default: throw fail(path, "has a value that cannot be sent as JSON")
        }
    }

    mutating func provider(_ v: Any, _ path: String) throws(WendaoError) -> ProviderSettings {
        var p = ProviderSettings()
        for (k, x) in try map(v, path) {
            switch k {
            case "base_url": p.baseURL = try string(x, "\(path).\(k)")
            case "api_key": p.apiKey = Secret(try string(x, "\(path).\(k)"))
            case "api_key_env": p.apiKeyEnv = try string(x, "\(path).\(k)")
            case "stream_usage": p.streamUsage = try bool(x, "\(path).\(k)")
            case "context_window": p.contextWindow = try int(x, "\(path).\(k)", in: 256...100_000_000)
            case "headers":
                for (h, hv) in try map(x, "\(path).\(k)") { p.headers[h] = try string(hv, "\(path).\(k).\(h)") }
            case "embedding_batch_size": p.embeddingBatchSize = try int(x, "\(path).\(k)", in: 1...2048)
            case "embedding_concurrency": p.embeddingConcurrency = try int(x, "\(path).\(k)", in: 1...64)
            default: unknown("\(path).\(k)")
            }
        }
        return p
    }

    mutating func modelSettings(_ v: Any, _ path: String, into base: ModelSettings = ModelSettings(), skip: Set<String> = [])
        throws(WendaoError) -> ModelSettings
    {
        var m = base
        for (k, x) in try map(v, path) where !skip.contains(k) {
            switch k {
            case "context_window": m.contextWindow = try int(x, "\(path).\(k)", in: 256...100_000_000)
            case "temperature": m.temperature = try number(x, "\(path).\(k)")
            case "extra":
                for (ek, ev) in try map(x, "\(path).\(k)") { m.extra[ek] = try json(ev, "\(path).\(k).\(ek)") }
            case "embedding_batch_size": m.embeddingBatchSize = try int(x, "\(path).\(k)", in: 1...2048)
            case "embedding_concurrency": m.embeddingConcurrency = try int(x, "\(path).\(k)", in: 1...64)
            case "embedding_max_characters":
                m.embeddingMaxCharacters = try int(x, "\(path).\(k)", in: 16...1_000_000)
            case "embedding_query_prefix": m.embeddingQueryPrefix = try string(x, "\(path).\(k)")
            case "embedding_passage_prefix": m.embeddingPassagePrefix = try string(x, "\(path).\(k)")
            case "embedding_dimensions": m.embeddingDimensions = try int(x, "\(path).\(k)", in: 1...65_536)
            case "price":
                var input: Double?
                var output: Double?
                var cached: Double?
                var currency = "CNY"
                for (pk, pv) in try map(x, "\(path).price") {
                    switch pk {
                    case "input": input = try number(pv, "\(path).price.input")
                    case "output": output = try number(pv, "\(path).price.output")
                    case "cached_input": cached = try number(pv, "\(path).price.cached_input")
                    case "currency": currency = try string(pv, "\(path).price.currency")
                    default: unknown("\(path).price.\(pk)")
                    }
                }
                guard let input, let output, input >= 0, output >= 0 else {
                    throw fail("\(path).price", "needs input and output prices (per million tokens, ≥ 0)")
                }
                m.price = ModelPrice(input: input, output: output, cachedInput: cached, currency: currency)
            default: unknown("\(path).\(k)")
            }
        }
        return m
    }

    mutating func customModel(_ v: Any, _ path: String) throws(WendaoError) -> CustomModel {
        let entries = try map(v, path)
        guard let mv = entries.first(where: { $0.0 == "model" })?.1 else { throw fail(path, "needs a 'model' name") }
        var c = CustomModel(model: try string(mv, "\(path).model"))
        for (k, x) in entries {
            switch k {
            case "model": break
            case "provider": c.provider = try string(x, "\(path).\(k)")
            case "base_url": c.baseURL = try string(x, "\(path).\(k)")
            case "api_key_env": c.apiKeyEnv = try string(x, "\(path).\(k)")
            case "api_key": c.apiKey = Secret(try string(x, "\(path).\(k)"))
            default: break  // per-model settings, read below
            }
        }
        let handled: Set<String> = ["model", "provider", "base_url", "api_key_env", "api_key"]
        c.settings = try modelSettings(v, path, skip: handled)
        guard c.provider != nil || c.baseURL != nil else { throw fail(path, "needs a 'provider' or a 'base_url'") }
        return c
    }
}
