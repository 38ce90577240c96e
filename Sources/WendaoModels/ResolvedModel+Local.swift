public import WendaoCore

// Local models (`local:NAME`, `local:/path/model.gguf`) share ResolvedModel with providers' models so
// that every place which names, checks, prices and reports a model treats them alike; the composition
// root turns them into a runtime (`ChatModels`), never the gateway.
extension ResolvedModel {
    /// The provider name of local models.
    public static let localProvider = "local"

    /// Whether this is a model run in this process (`local:…`).
    public var isLocal: Bool { provider == Self.localProvider }

    /// Refuses a local model where a provider's is needed (the gateway).
    public func requireRemote() throws(WendaoError) {
        guard isLocal else { return }
        throw WendaoError(.invalidArgument, "\(id) runs in this process, not through a provider")
    }
}

extension ModelCatalog {
    /// A local model as a ``ResolvedModel``: provider `local`, the GGUF file as its `model` and
    /// `baseURL` (shown in messages), no key, free; `config.yaml` settings under `models."local:NAME"`
    /// (`context_window`, `temperature`) apply as to any model.
    ///
    /// - Parameters:
    ///   - id: the canonical name (`local:smollm2-135m`, `local:/models/x.gguf`).
    ///   - path: the GGUF file.
    ///   - contextWindow: the context the runtime will prepare when none is configured.
    public static func local(
        id: String, path: String, contextWindow: Int, configuration: ModelsConfiguration
    ) -> ResolvedModel {
        var m = ResolvedModel(
            id: id, provider: ResolvedModel.localProvider, model: path, baseURL: path, apiKey: nil, keySource: nil,
            keyVariables: [], requiresKey: false, streamUsage: true, contextWindow: contextWindow,
            temperatureRange: 0...2, temperature: nil, price: nil, extra: [:], headers: [:])
        if let s = configuration.models[id] { apply(s, to: &m) }
        return m
    }
}
