import Foundation
public import WendaoCore

/// A model ready to call: where it lives, how to authenticate, and what it costs.
///
/// Made by ``ModelCatalog/resolve(_:configuration:environment:)`` from a `provider:model` name.
public struct ResolvedModel: Sendable, Equatable {
    /// The name as the user gave it, normalised: `dashscope:qwen-plus`, `custom:support-bot`.
    public var id: String
    /// Provider name, for messages (`dashscope`).
    public var provider: String
    /// The model name sent on the wire.
    public var model: String
    /// Base URL without a trailing slash.
    public var baseURL: String
    /// The key, when one is configured.
    public var apiKey: Secret?
    /// Where the key came from (a variable name or the config file), for `models list`.
    public var keySource: String?
    /// Variables that would provide the key, for "missing key" messages.
    public var keyVariables: [String]
    /// Whether a key is required.
    public var requiresKey: Bool
    /// Whether streams may request usage.
    public var streamUsage: Bool
    /// Context window in tokens.
    public var contextWindow: Int
    /// Temperatures the provider accepts.
    public var temperatureRange: ClosedRange<Double>
    /// Default temperature from config.
    public var temperature: Double?
    /// Price, when configured.
    public var price: ModelPrice?
    /// Extra request fields.
    public var extra: [String: JSONValue]
    /// Extra headers.
    public var headers: [String: String]

    /// The base URL with any user-info removed, for messages.
    public var displayURL: String { ModelCatalog.stripUserInfo(baseURL) }

    /// Throws the "missing key" error when a key is required and absent.
    public func requireKey() throws(WendaoError) {
        guard requiresKey, apiKey == nil else { return }
        let vars = keyVariables.isEmpty ? "api_key_env in config.yaml" : keyVariables.joined(separator: " or ")
        throw WendaoError(
            .unauthenticated, "no API key for \(provider): set \(vars) (or api_key_env under providers.\(provider) in config.yaml)")
    }
}

/// Turns `provider:model` names into ``ResolvedModel``s using presets, configuration and the
/// environment.
public enum ModelCatalog {
    /// Resolves `spec` (`provider:model` or `custom:NAME`).
    ///
    /// Key lookup order: the provider's `api_key` / `api_key_env` in config, then
    /// `WENDAO_<PROVIDER>_API_KEY`, then the provider's usual variable (`DASHSCOPE_API_KEY`, …).
    /// Base URL order: `WENDAO_<PROVIDER>_BASE_URL`, the provider's usual variable
    /// (`OPENAI_BASE_URL`, `OLLAMA_HOST`, …), config, preset.
    public static func resolve(
        _ spec: String, configuration: ModelsConfiguration, environment: [String: String]
    ) throws(WendaoError) -> ResolvedModel {
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        guard let colon = trimmed.firstIndex(of: ":") else {
            throw WendaoError(
                .invalidArgument,
                "model '\(trimmed)' must be written provider:model, e.g. deepseek:deepseek-chat or dashscope:qwen-plus "
                    + "(providers: \(knownProviderNames(configuration).joined(separator: ", ")))")
        }
        let providerName = trimmed[..<colon].lowercased()
        let modelName = String(trimmed[trimmed.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        guard !modelName.isEmpty else {
            throw WendaoError(.invalidArgument, "model '\(trimmed)' has no model name after '\(providerName):'")
        }
        if providerName == ResolvedModel.localProvider {
            // Local models are resolved by the composition root (it knows the catalogue and the files).
            throw WendaoError(
                .invalidArgument,
                "'\(trimmed)' names a local chat model, which runs in this process, not through a provider")
        }
        if providerName == "custom" {
            guard let c = configuration.custom[modelName] else {
                let names = configuration.custom.keys.sorted()
                throw WendaoError(
                    .notFound,
                    "no custom model '\(modelName)' in \(configuration.source ?? "config.yaml")"
                        + (names.isEmpty ? " (define it under 'custom:')" : " (defined: \(names.joined(separator: ", ")))"))
            }
            var base: ResolvedModel
            if let p = c.provider {
                base = try resolveProvider(p, model: c.model, configuration: configuration, environment: environment)
            } else {
                var settings = ProviderSettings()
                settings.baseURL = c.baseURL
                base = try resolveNew(
                    name: "custom:\(modelName)", settings: settings, model: c.model, environment: environment)
            }
            if let env = c.apiKeyEnv {
                base.keyVariables = [env]
                base.requiresKey = true
                if let v = environment[env], !v.isEmpty {
                    base.apiKey = Secret(v)
                    base.keySource = env
                }
            }
            if let k = c.apiKey {
                base.apiKey = k
                base.keySource = "config.yaml"
            }
            base.id = "custom:\(modelName)"
            apply(c.settings, to: &base)
            return base
        }
        var m = try resolveProvider(providerName, model: modelName, configuration: configuration, environment: environment)
        if let s = configuration.models[m.id] ?? configuration.models[trimmed] { apply(s, to: &m) }
        return m
    }

    static func apply(_ s: ModelSettings, to m: inout ResolvedModel) {
        if let w = s.contextWindow { m.contextWindow = w }
        if let p = s.price { m.price = p }
        if let t = s.temperature { m.temperature = t }
        m.extra.merge(s.extra) { _, new in new }
    }

    /// Provider names known to the configuration: built-in presets and config-defined ones.
    public static func knownProviderNames(_ configuration: ModelsConfiguration) -> [String] {
        var names = ProviderPreset.builtIn.map(\.name)
        for n in configuration.providers.keys.sorted() where ProviderPreset.named(n) == nil { names.append(n) }
        return names + ["custom"]
    }

    static func resolveProvider(
        _ providerName: String, model: String, configuration: ModelsConfiguration, environment: [String: String]
    ) throws(WendaoError) -> ResolvedModel {
        let name = providerName.lowercased()
        if let preset = ProviderPreset.named(name) {
            let settings = configuration.providers[preset.name] ?? preset.aliases.lazy.compactMap {
                configuration.providers[$0]
            }.first
            return try resolvePreset(preset, settings: settings, model: model, environment: environment)
        }
        if let settings = configuration.providers[name] {
            return try resolveNew(name: name, settings: settings, model: model, environment: environment)
        }
        throw WendaoError(
            .invalidArgument,
            "unknown provider '\(providerName)' (known: \(knownProviderNames(configuration).joined(separator: ", ")); "
                + "add others under 'providers:' in config.yaml)")
    }

    static func resolvePreset(
        _ preset: ProviderPreset, settings: ProviderSettings?, model: String, environment: [String: String]
    ) throws(WendaoError) -> ResolvedModel {
        // Base URL.
        var baseURL = preset.baseURL
        var urlSource = "preset"
        if let b = settings?.baseURL {
            baseURL = b
            urlSource = "config.yaml"
        }
        for v in [preset.wendaoBaseURLVariable] + preset.baseURLVariables {
            if let b = environment[v], !b.isEmpty {
                baseURL = v == "OLLAMA_HOST" ? ollamaBaseURL(b) : b
                urlSource = v
                break
            }
        }
        baseURL = try validateBaseURL(baseURL, provider: preset.name, source: urlSource)
        // Key.
        var keyVariables = preset.allKeyVariables
        var key: Secret?
        var keySource: String?
        if let env = settings?.apiKeyEnv {
            keyVariables.insert(env, at: 0)
        }
        for v in keyVariables {
            if let k = environment[v]?.trimmingCharacters(in: .whitespacesAndNewlines), !k.isEmpty {
                key = Secret(k)
                keySource = v
                break
            }
        }
        if key == nil, let k = settings?.apiKey {
            key = k
            keySource = "config.yaml"
        }
        // A preset pointed at a local or private server (OPENAI_BASE_URL at vLLM, say) may not need a
        // key; one pointed at another public host (a proxy) does, as does one with api_key_env set.
        let requiresKey =
            preset.requiresKey && (baseURL == preset.baseURL || !isLocalOrPrivate(baseURL))
            || settings?.apiKeyEnv != nil
        var window = preset.contextWindow(of: model)
        if let w = settings?.contextWindow { window = w }
        return ResolvedModel(
            id: "\(preset.name):\(model)", provider: preset.name, model: model, baseURL: baseURL, apiKey: key,
            keySource: keySource, keyVariables: keyVariables, requiresKey: requiresKey,
            streamUsage: settings?.streamUsage ?? preset.supportsStreamUsage, contextWindow: window,
            temperatureRange: preset.temperatureRange, temperature: nil, price: nil, extra: [:],
            headers: settings?.headers ?? [:])
    }

    static func resolveNew(
        name: String, settings: ProviderSettings, model: String, environment: [String: String]
    ) throws(WendaoError) -> ResolvedModel {
        guard let b = settings.baseURL else {
            throw WendaoError(.invalidArgument, "provider '\(name)' in config.yaml needs a base_url")
        }
        let baseURL = try validateBaseURL(b, provider: name, source: "config.yaml")
        var key = settings.apiKey
        var keySource: String? = key == nil ? nil : "config.yaml"
        var vars: [String] = []
        if let env = settings.apiKeyEnv {
            vars.append(env)
            if let k = environment[env]?.trimmingCharacters(in: .whitespacesAndNewlines), !k.isEmpty {
                key = Secret(k)
                keySource = env
            }
        }
        return ResolvedModel(
            id: "\(name):\(model)", provider: name, model: model, baseURL: baseURL, apiKey: key, keySource: keySource,
            keyVariables: vars, requiresKey: settings.apiKeyEnv != nil, streamUsage: settings.streamUsage ?? true,
            contextWindow: settings.contextWindow ?? 32_768, temperatureRange: 0...2, temperature: nil, price: nil,
            extra: [:], headers: settings.headers)
    }

    /// `OLLAMA_HOST` (`127.0.0.1:11434`, `0.0.0.0`, `http://host:port`) as an OpenAI-compatible base URL.
    static func ollamaBaseURL(_ host: String) -> String {
        var h = host.trimmingCharacters(in: .whitespaces)
        if !h.contains("://") { h = "http://" + h }
        if let u = URLComponents(string: h), u.port == nil, let hostName = u.host {
            h = "\(u.scheme ?? "http")://\(hostName == "0.0.0.0" ? "127.0.0.1" : hostName):11434"
        } else if let u = URLComponents(string: h), u.host == "0.0.0.0" {
            h = h.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
        }
        while h.hasSuffix("/") { h.removeLast() }
        return h.hasSuffix("/v1") ? h : h + "/v1"
    }

    /// Checks that `url` is an absolute http(s) URL with a host; returns it without a trailing slash
    /// (and without a trailing `/chat/completions`, a common copy-paste).
    public static func validateBaseURL(_ url: String, provider: String, source: String) throws(WendaoError) -> String {
        var u = url.trimmingCharacters(in: .whitespacesAndNewlines)
        while u.hasSuffix("/") { u.removeLast() }
        for suffix in ["/chat/completions", "/completions"] where u.hasSuffix(suffix) {
            u.removeLast(suffix.count)
        }
        guard let c = URLComponents(string: u), let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else {
            throw WendaoError(
                .invalidArgument,
                "base URL '\(stripUserInfo(u))' for \(provider) (from \(source)) is not an http:// or https:// URL")
        }
        guard let host = c.host, !host.isEmpty else {
            throw WendaoError(.invalidArgument, "base URL '\(stripUserInfo(u))' for \(provider) (from \(source)) has no host")
        }
        return u
    }

    /// Whether `url`'s host is loopback, a private or link-local IPv4 range, a unique-local or
    /// link-local IPv6 address, `localhost` or a `.local`/`.internal`/`.lan` name.
    static func isLocalOrPrivate(_ url: String) -> Bool {
        guard let host = URLComponents(string: url)?.host?.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        else { return false }
        if host == "localhost" || host.hasSuffix(".localhost") || host.hasSuffix(".local") || host.hasSuffix(".internal")
            || host.hasSuffix(".lan") || !host.contains(".") && !host.contains(":")
        {
            return true
        }
        if host.contains(":") {
            return host == "::1" || host.hasPrefix("fc") || host.hasPrefix("fd") || host.hasPrefix("fe80")
        }
        let parts = host.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 4 else { return false }
        switch (parts[0], parts[1]) {
        case (127, _), (10, _), (192, 168), (169, 254), (0, _): return true
        case (172, let b) where (16...31).contains(b): return true
        case (100, let b) where (64...127).contains(b): return true
        default: return false
        }
    }

    /// `url` without `user:password@`.
    static func stripUserInfo(_ url: String) -> String {
        guard var c = URLComponents(string: url), c.user != nil || c.password != nil else { return url }
        c.user = nil
        c.password = nil
        return c.string ?? url
    }
}
