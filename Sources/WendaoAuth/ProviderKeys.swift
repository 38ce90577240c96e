import Foundation
public import WendaoCore

/// Provider API keys entered by an administrator: sealed with the data directory's ``SecretBox``
/// before they reach the store, opened only to call the provider, never shown again.
public struct ProviderKeys: Sendable {
    /// Where the sealed keys are kept.
    public let store: any ProviderKeyStore
    /// The box that seals and opens them.
    public let box: SecretBox

    /// Keys over `store`, sealed with `box`.
    public init(store: any ProviderKeyStore, box: SecretBox) {
        self.store = store
        self.box = box
    }

    /// Checks a key as typed: 1–1,024 characters, no white space or control characters.
    public static func validate(_ key: String) throws {
        guard !key.isEmpty, key.count <= 1024,
            !key.unicodeScalars.contains(where: {
                $0.properties.isWhitespace || $0.properties.generalCategory == .control
            })
        else {
            throw WendaoError(
                .invalidArgument, "a provider key has 1 to 1,024 characters without spaces or control characters")
        }
    }

    /// Seals and stores `key` for `provider` (replacing an earlier one).
    public func set(provider: String, key: String) throws {
        try Self.validate(key)
        try store.setProviderKey(provider: provider, sealed: try box.seal(key), at: Date().timeIntervalSince1970)
    }

    /// Removes `provider`'s key; false when none was stored.
    public func remove(provider: String) throws -> Bool { try store.deleteProviderKey(provider: provider) }

    /// When each provider's key was stored, without opening any.
    public func stored() throws -> [String: Double] { try store.providerKeys().mapValues(\.updatedAt) }

    /// Every stored key, opened. A key that cannot be opened (another secret key, altered bytes) is
    /// left out and named in `unreadable`.
    public func opened() throws -> (keys: [String: String], unreadable: [String]) {
        var keys: [String: String] = [:]
        var unreadable: [String] = []
        for (provider, entry) in try store.providerKeys() {
            if let key = try? box.open(entry.sealed) { keys[provider] = key } else { unreadable.append(provider) }
        }
        return (keys, unreadable.sorted())
    }
}
