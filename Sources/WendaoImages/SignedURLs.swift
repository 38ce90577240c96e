public import Foundation
public import WendaoCore

/// HMAC-SHA256 (RFC 2104) over Core's SHA-256.
public enum HMACSHA256 {
    /// The 32-byte MAC of `message` under `key`.
    public static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var k = key
        if k.count > 64 { k = digest(k) }
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = digest(k.map { $0 ^ 0x36 } + message)
        return digest(k.map { $0 ^ 0x5C } + inner)
    }

    static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(bytes)
        let hex = Array(h.hexDigest().utf8)
        func v(_ c: UInt8) -> UInt8 { c >= 0x61 ? c - 0x61 + 10 : c - 0x30 }
        return stride(from: 0, to: hex.count, by: 2).map { v(hex[$0]) << 4 | v(hex[$0 + 1]) }
    }
}

/// Signed, expiring URLs under `public_base_url` for local files a provider must fetch (try-on
/// inputs): `{base}/files/images/{name}?exp={unix}&sig={hmac}`. The signature covers the name and
/// the expiry; a changed name, expiry or signature, or a URL past its expiry, is refused.
///
/// ```swift
/// let signer = try URLSigner.open(dataDirectory: dir, baseURL: "https://studio.example.com")
/// let url = signer.url(for: "3f…a9.jpg", ttl: 3600)
/// try signer.verify(name: "3f…a9.jpg", expires: "1765200000", signature: "…")
/// ```
public struct URLSigner: Sendable {
    /// The public base URL (no trailing slash).
    public let baseURL: String
    let key: [UInt8]

    /// The path prefix signed files are served under.
    public static let pathPrefix = "/files/images/"

    /// Creates a signer with a key.
    public init(baseURL: String, key: [UInt8]) {
        var b = baseURL
        while b.hasSuffix("/") { b.removeLast() }
        self.baseURL = b
        self.key = key
    }

    /// The signer of a data directory: its key is `images/signing.key` (32 random bytes, made on first
    /// use, readable by the owner only).
    public static func open(dataDirectory: URL, baseURL: String) throws -> URLSigner {
        let file = dataDirectory.appendingPathComponent("images").appendingPathComponent("signing.key")
        let fm = FileManager.default
        if let data = fm.contents(atPath: file.path), data.count >= 32 {
            return URLSigner(baseURL: baseURL, key: [UInt8](data))
        }
        var g = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        do {
            try fm.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard fm.createFile(atPath: file.path, contents: Data(key), attributes: [.posixPermissions: 0o600]) else {
                throw WendaoError(.storage, "cannot write \(file.path)")
            }
        } catch let e as WendaoError { throw e } catch {
            throw WendaoError(.storage, "cannot write \(file.path): \(error.localizedDescription)")
        }
        return URLSigner(baseURL: baseURL, key: key)
    }

    /// The signature of `name` valid until `expires` (seconds since 1970), lowercase hex.
    public func signature(name: String, expires: Int) -> String {
        HMACSHA256.mac(key: key, message: Array("\(name)\n\(expires)".utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A URL for `name` valid for `ttl` seconds from `now`.
    public func url(for name: String, ttl: Double, now: Date = Date()) -> String {
        let expires = Int(now.timeIntervalSince1970 + ttl)
        return "\(baseURL)\(Self.pathPrefix)\(name)?exp=\(expires)&sig=\(signature(name: name, expires: expires))"
    }

    /// Checks a request for `name` with the `exp` and `sig` query values.
    ///
    /// - Throws: ``WendaoError`` `unauthenticated` for a missing, malformed or wrong signature, or an
    ///   expired URL.
    public func verify(name: String, expires: String?, signature given: String?, now: Date = Date()) throws(WendaoError)
    {
        guard let expires, let exp = Int(expires), let given, given.utf8.count == 64 else {
            throw WendaoError(.unauthenticated, "this file link is not signed")
        }
        let expected = Array(signature(name: name, expires: exp).utf8)
        let g = Array(given.lowercased().utf8)
        var diff: UInt8 = 0
        for i in 0..<64 { diff |= expected[i] ^ g[i] }
        guard diff == 0 else { throw WendaoError(.unauthenticated, "this file link's signature does not match") }
        guard Double(exp) >= now.timeIntervalSince1970 else {
            throw WendaoError(.unauthenticated, "this file link expired")
        }
    }

    /// Whether `name` is a stored upload's name (`<64 hex>.png|jpg|webp`): nothing else is ever served.
    public static func isServableName(_ name: String) -> Bool {
        let parts = name.split(separator: ".")
        guard parts.count == 2, parts[0].count == 64, parts[0].allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            return false
        }
        return ["png", "jpg", "webp"].contains(String(parts[1]))
    }
}
