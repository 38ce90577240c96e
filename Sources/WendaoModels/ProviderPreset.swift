/// A model provider Wendao knows how to reach: its OpenAI-compatible base URL, where its key
/// comes from, and its quirks.
///
/// Presets are selected as `provider:model`, e.g. `dashscope:qwen-plus`. Any preset's base URL and
/// key can be overridden in `config.yaml` or the environment; new OpenAI-compatible endpoints are
/// added in `config.yaml` (see ``ModelsConfiguration``).
public struct ProviderPreset: Sendable, Equatable {
    /// The name used in `provider:model`.
    public var name: String
    /// Other accepted names (`glm` for `zhipu`, …).
    public var aliases: [String]
    /// Human-readable provider name.
    public var displayName: String
    /// OpenAI-compatible base URL (ending before `/chat/completions`).
    public var baseURL: String
    /// Environment variables that may hold the key, in order of preference (after
    /// `WENDAO_<NAME>_API_KEY`, which always comes first).
    public var keyVariables: [String]
    /// Environment variables that may override the base URL (after `WENDAO_<NAME>_BASE_URL`).
    public var baseURLVariables: [String]
    /// False for local servers (Ollama, vLLM) that accept requests without a key.
    public var requiresKey: Bool
    /// Whether streamed calls may ask for a final usage chunk with `stream_options.include_usage`.
    public var supportsStreamUsage: Bool
    /// Context window assumed for models the table below does not list.
    public var defaultContextWindow: Int
    /// Context windows of well-known models (prefix match on the model name, longest first).
    public var contextWindows: [String: Int]
    /// The closed or half-open temperature range the provider accepts; values outside are clamped.
    public var temperatureRange: ClosedRange<Double>
    /// Example model names, for help texts and the README.
    public var exampleModels: [String]
    /// Embedding models the provider serves on `/embeddings`, for `wendao models embedders` (empty:
    /// none known).
    public var embeddingModels: [String]
    /// Most inputs one `/embeddings` request may carry (DashScope's text-embedding-v3: 10).
    public var embeddingBatchSize: Int
    /// Embedding requests in flight at once per embedder.
    public var embeddingConcurrency: Int
    /// Prefixes some embedding models expect on queries and passages (prefix match on the model
    /// name, longest first); models not listed get the raw text.
    public var embeddingPrefixes: [String: EmbeddingPrefixes]

    /// `WENDAO_<NAME>_API_KEY`.
    public var wendaoKeyVariable: String { "WENDAO_\(envName)_API_KEY" }
    /// `WENDAO_<NAME>_BASE_URL`.
    public var wendaoBaseURLVariable: String { "WENDAO_\(envName)_BASE_URL" }
    /// Every key variable, Wendao's first.
    public var allKeyVariables: [String] { [wendaoKeyVariable] + keyVariables }

    var envName: String {
        String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// The context window of `model`: the longest matching prefix in ``contextWindows``, else the
    /// default.
    public func contextWindow(of model: String) -> Int {
        let m = model.lowercased()
        var best: (Int, Int)? = nil
        for (prefix, window) in contextWindows where m.hasPrefix(prefix) {
            if best == nil || prefix.count > best!.0 { best = (prefix.count, window) }
        }
        return best?.1 ?? defaultContextWindow
    }

    /// Creates a preset.
    public init(
        name: String, aliases: [String] = [], displayName: String, baseURL: String, keyVariables: [String],
        baseURLVariables: [String] = [], requiresKey: Bool = true, supportsStreamUsage: Bool = true,
        defaultContextWindow: Int = 32_768, contextWindows: [String: Int] = [:],
        temperatureRange: ClosedRange<Double> = 0...2, exampleModels: [String] = [], embeddingModels: [String] = [],
        embeddingBatchSize: Int = 32, embeddingConcurrency: Int = 4,
        embeddingPrefixes: [String: EmbeddingPrefixes] = [:]
    ) {
        self.name = name
        self.aliases = aliases
        self.displayName = displayName
        self.baseURL = baseURL
        self.keyVariables = keyVariables
        self.baseURLVariables = baseURLVariables
        self.requiresKey = requiresKey
        self.supportsStreamUsage = supportsStreamUsage
        self.defaultContextWindow = defaultContextWindow
        self.contextWindows = contextWindows
        self.temperatureRange = temperatureRange
        self.exampleModels = exampleModels
        self.embeddingModels = embeddingModels
        self.embeddingBatchSize = embeddingBatchSize
        self.embeddingConcurrency = embeddingConcurrency
        self.embeddingPrefixes = embeddingPrefixes
    }

    /// The prefixes `model` expects on queries and passages, if the preset lists it.
    public func embeddingPrefixes(of model: String) -> EmbeddingPrefixes? {
        let m = model.lowercased()
        return embeddingPrefixes.filter { m.hasPrefix($0.key) }.max { $0.key.count < $1.key.count }?.value
    }
}

extension ProviderPreset {
    /// The built-in presets, in the order the README lists them.
    public static let builtIn: [ProviderPreset] = [
        ProviderPreset(
            name: "openai", displayName: "OpenAI (or any OpenAI-compatible server via OPENAI_BASE_URL)",
            baseURL: "https://api.openai.com/v1", keyVariables: ["OPENAI_API_KEY"], baseURLVariables: ["OPENAI_BASE_URL"],
            defaultContextWindow: 128_000,
            contextWindows: ["gpt-4o": 128_000, "gpt-4.1": 1_000_000, "gpt-3.5": 16_385, "o1": 200_000, "o3": 200_000,
                "o4": 200_000, "gpt-5": 400_000],
            exampleModels: ["gpt-4o-mini", "gpt-4.1-mini"],
            embeddingModels: ["text-embedding-3-small", "text-embedding-3-large"]),
        ProviderPreset(
            name: "deepseek", displayName: "DeepSeek", baseURL: "https://api.deepseek.com/v1",
            keyVariables: ["DEEPSEEK_API_KEY"], defaultContextWindow: 65_536,
            contextWindows: ["deepseek-chat": 65_536, "deepseek-reasoner": 65_536],
            exampleModels: ["deepseek-chat", "deepseek-reasoner"]),
        ProviderPreset(
            name: "dashscope", aliases: ["qwen", "bailian"], displayName: "Alibaba Cloud Model Studio (DashScope, Qwen)",
            baseURL: "https://dashscope.aliyuncs.com/compatible-mode/v1", keyVariables: ["DASHSCOPE_API_KEY"],
            defaultContextWindow: 32_768,
            contextWindows: ["qwen-max": 32_768, "qwen-plus": 131_072, "qwen-turbo": 1_000_000, "qwen-long": 10_000_000,
                "qwen3": 131_072, "qwen2.5": 131_072],
            temperatureRange: 0...1.99, exampleModels: ["qwen-plus", "qwen-max", "qwen-turbo"],
            embeddingModels: ["text-embedding-v3", "text-embedding-v4"], embeddingBatchSize: 10),
        ProviderPreset(
            name: "qianfan", aliases: ["ernie", "baidu"], displayName: "Baidu AI Cloud Qianfan (ERNIE), v2 API",
            baseURL: "https://qianfan.baidubce.com/v2", keyVariables: ["QIANFAN_API_KEY"], defaultContextWindow: 8_192,
            contextWindows: ["ernie-4.0-8k": 8_192, "ernie-4.0-turbo-8k": 8_192, "ernie-4.0-turbo-128k": 131_072,
                "ernie-3.5-8k": 8_192, "ernie-3.5-128k": 131_072, "ernie-speed-128k": 131_072, "ernie-4.5": 131_072],
            temperatureRange: 0.0001...1, exampleModels: ["ernie-4.0-8k", "ernie-3.5-8k", "ernie-speed-128k"],
            embeddingModels: ["embedding-v1", "bge-large-zh", "tao-8k"], embeddingBatchSize: 16),
        ProviderPreset(
            name: "spark", aliases: ["xfyun", "iflytek"], displayName: "iFlytek Spark (HTTP API, APIPassword as key)",
            baseURL: "https://spark-api-open.xf-yun.com/v1", keyVariables: ["SPARK_API_PASSWORD", "SPARK_API_KEY"],
            supportsStreamUsage: false, defaultContextWindow: 8_192,
            contextWindows: ["lite": 4_096, "generalv3": 8_192, "pro-128k": 131_072, "generalv3.5": 8_192,
                "max-32k": 32_768, "4.0ultra": 8_192],
            temperatureRange: 0.0001...2, exampleModels: ["generalv3.5", "4.0Ultra", "lite"]),
        ProviderPreset(
            name: "zhipu", aliases: ["glm", "bigmodel"], displayName: "Zhipu AI BigModel (GLM)",
            baseURL: "https://open.bigmodel.cn/api/paas/v4", keyVariables: ["ZHIPUAI_API_KEY", "ZHIPU_API_KEY"],
            supportsStreamUsage: false, defaultContextWindow: 131_072,
            contextWindows: ["glm-4": 131_072, "glm-4-flash": 131_072, "glm-4-air": 131_072, "glm-4.5": 131_072],
            temperatureRange: 0.01...0.99, exampleModels: ["glm-4-flash", "glm-4-plus", "glm-4.5"],
            embeddingModels: ["embedding-3", "embedding-2"]),
        ProviderPreset(
            name: "moonshot", aliases: ["kimi"], displayName: "Moonshot AI (Kimi)", baseURL: "https://api.moonshot.cn/v1",
            keyVariables: ["MOONSHOT_API_KEY"], supportsStreamUsage: false, defaultContextWindow: 8_192,
            contextWindows: ["moonshot-v1-8k": 8_192, "moonshot-v1-32k": 32_768, "moonshot-v1-128k": 131_072,
                "moonshot-v1-auto": 131_072, "kimi-k2": 131_072, "kimi-latest": 131_072],
            temperatureRange: 0...1, exampleModels: ["moonshot-v1-8k", "kimi-k2-0711-preview"]),
        ProviderPreset(
            name: "siliconflow", displayName: "SiliconFlow", baseURL: "https://api.siliconflow.cn/v1",
            keyVariables: ["SILICONFLOW_API_KEY"], defaultContextWindow: 32_768,
            exampleModels: ["Qwen/Qwen2.5-7B-Instruct", "deepseek-ai/DeepSeek-V3"],
            embeddingModels: ["BAAI/bge-m3", "netease-youdao/bce-embedding-base_v1"]),
        ProviderPreset(
            name: "ollama", displayName: "Ollama (local)", baseURL: "http://127.0.0.1:11434/v1",
            keyVariables: ["OLLAMA_API_KEY"], baseURLVariables: ["OLLAMA_HOST"], requiresKey: false,
            defaultContextWindow: 8_192, exampleModels: ["qwen2.5", "llama3.1"],
            embeddingModels: ["bge-m3", "nomic-embed-text"], embeddingConcurrency: 2,
            embeddingPrefixes: [
                "nomic-embed-text": EmbeddingPrefixes(query: "search_query: ", passage: "search_document: ")
            ]),
        ProviderPreset(
            name: "vllm", displayName: "vLLM (local OpenAI-compatible server)", baseURL: "http://127.0.0.1:8000/v1",
            keyVariables: ["VLLM_API_KEY"], baseURLVariables: ["VLLM_BASE_URL"], requiresKey: false,
            defaultContextWindow: 32_768, exampleModels: ["Qwen/Qwen2.5-7B-Instruct"], embeddingModels: ["BAAI/bge-m3"],
            embeddingConcurrency: 2),
    ]

    /// The built-in preset called `name` (or one of its aliases), case-insensitively.
    public static func named(_ name: String) -> ProviderPreset? {
        let n = name.lowercased()
        return builtIn.first { $0.name == n || $0.aliases.contains(n) }
    }
}

/// Text an embedding model expects before queries and before passages (nomic-embed-text:
/// `search_query: ` / `search_document: `).
public struct EmbeddingPrefixes: Sendable, Equatable {
    /// Put before a query.
    public var query: String
    /// Put before a passage.
    public var passage: String

    /// Creates prefixes.
    public init(query: String, passage: String) {
        self.query = query
        self.passage = passage
    }
}
