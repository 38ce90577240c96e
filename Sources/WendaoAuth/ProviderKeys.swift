public import Foundation
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
        Self.open(try store.providerKeys(), with: box)
    }

    /// The keys stored for a data directory, opened with its secret key — which is neither read nor
    /// created when no key is stored (one read of the store either way).
    public static func opened(store: any ProviderKeyStore, dataDirectory: URL, environment: [String: String]) throws
        -> (keys: [String: String], unreadable: [String])
    {
        let sealed = try store.providerKeys()
        guard !sealed.isEmpty else { return ([:], []) }
        return open(sealed, with: try SecretBox.open(dataDirectory: dataDirectory, environment: environment))
    }

    private static func open(_ sealed: [String: (sealed: [UInt8], updatedAt: Double)], with box: SecretBox) -> (
        keys: [String: String], unreadable: [String]
    ) {
        var keys: [String: String] = [:]
        var unreadable: [String] = []
        for (provider, entry) in sealed {
            if let key = try? box.open(entry.sealed) { keys[provider] = key } else { unreadable.append(provider) }
        }
        return (keys, unreadable.sorted())
    }
}
