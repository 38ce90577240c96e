/// Provider keys an administrator entered (stored sealed by the server) made visible to model
/// resolution: each becomes the value of the provider's own key variable
/// (`WENDAO_<NAME>_API_KEY`, or the `api_key_env` that `config.yaml` names for it), unless the
/// environment already sets one of the provider's key variables — what the operator put in the
/// environment wins.
///
/// ```swift
/// let env = StoredProviderKeys.environment(ProcessInfo.processInfo.environment,
///                                          keys: ["deepseek": "sk-…"], configuration: config)
/// ```
public enum StoredProviderKeys {
    /// The provider names keys may be stored for: the built-in presets and the providers of
    /// `configuration`, sorted.
    public static func providers(_ configuration: ModelsConfiguration) -> [String] {
        Array(Set(ProviderPreset.builtIn.map(\.name)).union(configuration.providers.keys)).sorted()
    }

    /// The variables `provider`'s key may come from, in order (empty for an unknown provider).
    public static func keyVariables(_ provider: String, configuration: ModelsConfiguration) -> [String] {
        var vars: [String] = []
        if let env = configuration.providers[provider]?.apiKeyEnv { vars.append(env) }
        if let preset = ProviderPreset.named(provider) { vars += preset.allKeyVariables }
        return vars
    }

    /// `environment` with each stored key set on its provider's first key variable, where none of
    /// that provider's variables is set already.
    public static func environment(
        _ environment: [String: String], keys: [String: String], configuration: ModelsConfiguration
    ) -> [String: String] {
        var env = environment
        for (provider, key) in keys {
            let vars = keyVariables(provider, configuration: configuration)
            guard let first = vars.first else { continue }
            if vars.contains(where: { !(environment[$0] ?? "").isEmpty }) { continue }
            env[first] = key
        }
        return env
    }

    /// Where `provider`'s key comes from in `environment` (`"environment"` with the variable,
    /// `"config.yaml"`), or nil when neither has one.
    public static func configuredSource(
        _ provider: String, environment: [String: String], configuration: ModelsConfiguration
    ) -> String? {
        if let v = keyVariables(provider, configuration: configuration).first(where: {
            !(environment[$0] ?? "").isEmpty
        }) {
            return v
        }
        if configuration.providers[provider]?.apiKey != nil { return "config.yaml" }
        return nil
    }
}
