public import Foundation
import Logging
public import WendaoCore

/// API keys: `wdk_` + 32 random letters and digits, bound to knowledge bases by id, stored hashed.
///
/// ```swift
/// let (key, record) = try library.createAPIKey(name: "bot", knowledgeBases: ["logistics"], scope: .read)
/// print(key)  // shown once: only its SHA-256 and its first 12 characters are stored
/// if let caller = try library.authenticate(presented), caller.covers(kb.id) { … }
/// try library.revokeAPIKey(record.prefix)
/// ```
extension Library {
    /// What every key starts with.
    public static let apiKeyMarker = "wdk_"
    /// Random characters after the marker: 32 × log2(62) ≈ 190.5 bits.
    public static let apiKeyRandomLength = 32
    /// Characters kept in clear (marker + 8) to recognise a key by.
    public static let apiKeyPrefixLength = 12

    private static let apiKeyAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// A fresh key: `wdk_` + 32 characters drawn uniformly from [A-Za-z0-9] with the system's
    /// cryptographic generator.
    public static func generateAPIKey() -> String {
        var rng = SystemRandomNumberGenerator()
        var key = apiKeyMarker
        for _ in 0..<apiKeyRandomLength {
            // `Int.random(in:using:)` is unbiased (rejection sampling), so every character carries log2(62) bits.
            key.append(apiKeyAlphabet[Int.random(in: 0..<apiKeyAlphabet.count, using: &rng)])
        }
        return key
    }

    /// True when `presented` has the shape of a key (`wdk_` + 32 ASCII letters or digits). Checked
    /// byte by byte, so any string (huge, non-ASCII) is answered cheaply and safely.
    public static func isWellFormedAPIKey(_ presented: String) -> Bool {
        let bytes = presented.utf8
        guard bytes.count == apiKeyMarker.utf8.count + apiKeyRandomLength, bytes.starts(with: apiKeyMarker.utf8)
        else { return false }
        return bytes.dropFirst(apiKeyMarker.utf8.count).allSatisfy(isASCIIAlphanumeric)
    }

    /// The stored form of a key: SHA-256 of its UTF-8 bytes, lowercase hex.
    ///
    /// Unsalted and fast on purpose: salts and slow hashes (bcrypt, Argon2) protect low-entropy
    /// passwords against guessing, but a key carries about 190 random bits, so no dictionary or
    /// brute-force attack on a leaked hash is feasible, and an unsalted hash lets authentication
    /// find the key with one indexed lookup instead of trying every stored key.
    public static func apiKeyHash(_ key: String) -> String {
        var h = SHA256()
        h.update(Array(key.utf8))
        return h.hexDigest()
    }

    private static func isASCIIAlphanumeric(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
    }

    /// Checks a key label: 1 to 64 characters, no control characters, not only spaces.
    public static func validateAPIKeyName(_ name: String) throws(WendaoError) {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty, name.count <= 64,
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw WendaoError(.invalidArgument, "a key name must be 1 to 64 characters without control characters")
        }
    }

    /// Creates a key covering the named knowledge bases (each must exist; at least one). Returns
    /// the key — the only time it is available — and the stored record. `name` defaults to `key-N`.
    public func createAPIKey(name: String? = nil, knowledgeBases: [String], scope: APIKeyScope = .read) throws
        -> (key: String, record: APIKeyRecord)
    {
        guard !knowledgeBases.isEmpty else {
            throw WendaoError(.invalidArgument, "an API key needs at least one knowledge base (--kb NAME)")
        }
        if let name { try Self.validateAPIKeyName(name) }
        let ids = try knowledgeBases.map { try record($0).id }
        let key = Self.generateAPIKey()
        let stored = try store.createAPIKey(
            name: name, prefix: String(key.prefix(Self.apiKeyPrefixLength)), hash: Self.apiKeyHash(key), scope: scope,
            knowledgeBaseIDs: ids)
        logger.info("created API key", metadata: ["key_id": "\(stored.id)", "prefix": "\(stored.prefix)"])
        return (key, stored)
    }

    /// All keys, revoked ones included, by id (hashes only; keys are never stored).
    public func apiKeys() throws -> [APIKeyRecord] { try store.apiKeys() }

    /// Revokes a key given by numeric id, by prefix (`wdk_` plus 1 to 8 more characters, as
    /// `wendao keys list` shows it; it must match exactly one key) or by the whole key. Throws
    /// `notFound` when nothing matches and `invalidArgument` for an ambiguous prefix or a key that
    /// is already revoked.
    @discardableResult
    public func revokeAPIKey(_ idOrPrefix: String) throws -> APIKeyRecord {
        let given = idOrPrefix.trimmingCharacters(in: .whitespaces)
        let now = Date().timeIntervalSince1970
        if !given.isEmpty, given.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            guard let id = Int64(given) else { throw WendaoError(.notFound, "no API key with id \(given.prefix(20))") }
            return try store.revokeAPIKey(id: id, at: now)
        }
        if Self.isWellFormedAPIKey(given) {
            // Never echo a whole key in a message.
            guard let key = try store.apiKey(hash: Self.apiKeyHash(given)) else {
                throw WendaoError(.notFound, "no API key matches the key given")
            }
            return try store.revokeAPIKey(id: key.id, at: now)
        }
        let marker = Self.apiKeyMarker.utf8.count
        guard given.utf8.starts(with: Self.apiKeyMarker.utf8),
            (marker + 1...Self.apiKeyPrefixLength).contains(given.utf8.count),
            given.utf8.dropFirst(marker).allSatisfy(Self.isASCIIAlphanumeric)
        else {
            throw WendaoError(
                .invalidArgument,
                "give a key's id or its prefix (wdk_ and up to 8 more characters, as `wendao keys list` shows)")
        }
        let matches = try store.apiKeys().filter { $0.prefix.hasPrefix(given) }
        guard let only = matches.first else { throw WendaoError(.notFound, "no API key starts with \(given)") }
        guard matches.count == 1 else {
            let ids = matches.map { String($0.id) }.joined(separator: ", ")
            throw WendaoError(
                .invalidArgument, "\(given) matches \(matches.count) API keys (ids \(ids)): give the id instead")
        }
        return try store.revokeAPIKey(id: only.id, at: now)
    }

    /// The valid key presented by a caller, or nil when it is malformed, unknown or revoked.
    /// The shape is checked before any database access; a well-formed key is looked up by its
    /// hash, so the comparison never handles the stored secret and no timing reveals it.
    public func authenticate(_ presented: String) throws -> APIKeyRecord? {
        guard Self.isWellFormedAPIKey(presented) else { return nil }
        guard let key = try store.apiKey(hash: Self.apiKeyHash(presented)), key.revokedAt == nil else { return nil }
        return key
    }

    /// Records that `key` was used now, at most about once a minute per key (a server calls it
    /// after authenticating, off the hot path if it likes).
    public func recordAPIKeyUse(_ key: APIKeyRecord, at now: Double = Date().timeIntervalSince1970) throws {
        if let last = key.lastUsedAt, now - last < 60, now >= last { return }
        try store.markAPIKeyUsed(id: key.id, at: now)
    }
}
