/// A public share link of one knowledge base's chat: anyone with the link may ask that knowledge base
/// questions (at a limited rate) and nothing else. Stored by the SHA-256 of its token.
public struct ShareRecord: Sendable, Equatable {
    /// Stable numeric id.
    public var id: Int64
    /// The knowledge base it answers from.
    public var kbID: Int64
    /// A label (`share-N` unless one was given).
    public var name: String
    /// SHA-256 of the token (lowercase hex); the token itself is shown once.
    public var tokenHash: String
    /// The first 8 characters of the token, to recognise it by.
    public var prefix: String
    /// Origins (`https://www.example.com`) whose pages may embed the chat widget; empty: none.
    public var allowedOrigins: [String]
    /// Questions per minute the link answers (over all its visitors).
    public var perMinute: Int
    /// Creation time, seconds since 1970.
    public var createdAt: Double
    /// Revocation time, or nil while the link works.
    public var revokedAt: Double?

    /// Creates a record.
    public init(
        id: Int64, kbID: Int64, name: String, tokenHash: String, prefix: String, allowedOrigins: [String],
        perMinute: Int, createdAt: Double, revokedAt: Double? = nil
    ) {
        self.id = id
        self.kbID = kbID
        self.name = name
        self.tokenHash = tokenHash
        self.prefix = prefix
        self.allowedOrigins = allowedOrigins
        self.perMinute = perMinute
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// Share links of knowledge bases.
public protocol ShareStore: Sendable {
    /// Stores a new link; throws ``WendaoError/Code/notFound`` when the knowledge base does not exist.
    /// A nil `name` becomes `share-N`.
    func createShare(
        kb: Int64, name: String?, tokenHash: String, prefix: String, allowedOrigins: [String], perMinute: Int
    ) throws -> ShareRecord
    /// The links of a knowledge base, revoked ones included, by id.
    func shares(kb: Int64) throws -> [ShareRecord]
    /// The link whose token has this SHA-256, revoked or not, or nil.
    func share(tokenHash: String) throws -> ShareRecord?
    /// Marks a link of knowledge base `kb` revoked; ``WendaoError/Code/notFound`` for an unknown id
    /// (or one of another knowledge base).
    func revokeShare(kb: Int64, id: Int64, at: Double) throws
}

/// Provider API keys entered by an administrator, stored only sealed (see `SecretBox`).
public protocol ProviderKeyStore: Sendable {
    /// Stores (or replaces) the sealed key of `provider`.
    func setProviderKey(provider: String, sealed: [UInt8], at: Double) throws
    /// Every stored sealed key by provider name, with when it was stored.
    func providerKeys() throws -> [String: (sealed: [UInt8], updatedAt: Double)]
    /// Removes the key of `provider`; false when none was stored.
    func deleteProviderKey(provider: String) throws -> Bool
}
