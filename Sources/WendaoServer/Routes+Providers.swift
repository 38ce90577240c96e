import Foundation
import Hummingbird
import Logging
import WendaoAuth
import WendaoCore
import WendaoModels
import WendaoRAG

/// A model provider as the administrator's page shows it: whether a key is there and where it comes
/// from — never the key.
struct ProviderView: Encodable, Sendable {
    var name: String
    var display_name: String
    var requires_key: Bool
    /// `environment` (a variable is set), `config.yaml`, `stored` (entered in the web UI), or `missing`.
    var key_status: String
    /// The variable the key comes from, when `key_status` is `environment`.
    @ExplicitNull var key_variable: String?
    /// When the stored key was entered (seconds since 1970).
    @ExplicitNull var stored_at: Double?
    var example_models: [String]
}

struct ProviderKeyBody: Decodable {
    var key: String
}

extension WendaoAPI {
    /// `/api/v1/providers`: the model providers with their key status, and keys entered by the
    /// administrator (stored sealed; never sent back).
    func addProviderRoutes(_ api: RouterGroup<WendaoContext>) {
        let configuration = service.configuration
        api.get("providers") { _, context in
            try requireAdmin(context)
            let stored = try await service.blocking { try service.library.store.providerKeys().mapValues(\.updatedAt) }
            let views = StoredProviderKeys.providers(configuration.models).map { name -> ProviderView in
                let preset = ProviderPreset.named(name)
                let source = StoredProviderKeys.configuredSource(
                    name, environment: configuration.environment, configuration: configuration.models)
                let status =
                    source == "config.yaml"
                    ? "config.yaml" : source != nil ? "environment" : stored[name] != nil ? "stored" : "missing"
                return ProviderView(
                    name: name, display_name: preset?.displayName ?? name, requires_key: preset?.requiresKey ?? true,
                    key_status: status, key_variable: status == "environment" ? source : nil, stored_at: stored[name],
                    example_models: preset?.exampleModels ?? [])
            }
            return try JSON.response(["providers": views])
        }
        api.put("providers/:provider/key") { request, context in
            try requireAdmin(context)
            let provider = try context.parameters.require("provider")
            guard StoredProviderKeys.providers(configuration.models).contains(provider) else {
                throw APIError.notFound("no provider named '\(provider.prefix(64))'")
            }
            let body = try await JSON.decode(ProviderKeyBody.self, from: request, limit: 16 << 10)
            try await service.blocking { try service.providerKeys().set(provider: provider, key: body.key) }
            service.invalidateProviderKeys()
            context.logger.info("provider key stored", metadata: ["provider": "\(provider)"])
            return Response(status: .noContent)
        }
        api.delete("providers/:provider/key") { _, context in
            try requireAdmin(context)
            let provider = try context.parameters.require("provider")
            let removed = try await service.blocking { try service.library.store.deleteProviderKey(provider: provider) }
            service.invalidateProviderKeys()
            guard removed else { throw APIError.notFound("no key is stored for '\(provider.prefix(64))'") }
            return Response(status: .noContent)
        }
    }
}
