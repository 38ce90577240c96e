public import Foundation
import WendaoCore

/// Authenticated encryption of small secrets at rest (provider keys entered in the web UI):
/// XChaCha20-Poly1305 from the system's libsodium, with a 256-bit master key that never lives in
/// the store — it comes from `WENDAO_SECRET_KEY` or from the file `secret.key` in the data directory
/// (created with mode 0600; a file others may read is refused).
///
/// ```swift
/// let box = try SecretBox.open(dataDirectory: dir, environment: env)
/// let sealed = try box.seal("sk-…")
/// try box.open(sealed)   // "sk-…"
/// ```
public struct SecretBox: Sendable {
    private let key: [UInt8]

    /// The environment variable that may hold the master key (any text of 16 characters or more;
    /// its SHA-256 is the key).
    public static let environmentVariable = "WENDAO_SECRET_KEY"

    /// A box with this 32-byte key.
    public init(key: [UInt8]) throws {
        guard key.count == 32 else { throw WendaoError(.invalidArgument, "a secret key has 32 bytes") }
        self.key = key
    }

    /// The box of a data directory: the key from `WENDAO_SECRET_KEY`, else from `secret.key` in
    /// `dataDirectory`, which is created (0600, 32 random bytes) when missing.
    public static func open(dataDirectory: URL, environment: [String: String]) throws -> SecretBox {
        if let text = environment[environmentVariable], !text.isEmpty {
            guard text.count >= 16 else {
                throw WendaoError(.invalidArgument, "\(environmentVariable) must have at least 16 characters")
            }
            var h = WendaoCore.SHA256()
            h.update(Array(text.utf8))
            let hex = Array(h.hexDigest().utf8)
            let bytes = stride(from: 0, to: hex.count, by: 2).map { i in
                UInt8(String(decoding: hex[i..<(i + 2)], as: UTF8.self), radix: 16) ?? 0
            }
            return try SecretBox(key: bytes)
        }
        let file = dataDirectory.appendingPathComponent("secret.key")
        let fm = FileManager.default
        if !fm.fileExists(atPath: file.path) {
            try fm.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let text = Data(bytes).base64EncodedString() + "\n"
            // Created 0600 from the start (never readable by others, even for a moment).
            let fd = Foundation.open(file.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard fd >= 0 else {
                throw WendaoError(.storage, "cannot create \(file.path): \(String(cString: strerror(errno)))")
            }
            let written = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            guard written == text.utf8.count else { throw WendaoError(.storage, "cannot write \(file.path)") }
        }
        var info = stat()
        guard stat(file.path, &info) == 0 else { throw WendaoError(.unreadable, "cannot read \(file.path)") }
        guard info.st_mode & 0o077 == 0 else {
            throw WendaoError(
                .invalidArgument,
                "\(file.path) may be read by other users: chmod 600 it (it encrypts the provider keys)")
        }
        let text = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: text), data.count == 32 else {
            throw WendaoError(.corrupt, "\(file.path) does not hold a base64 key of 32 bytes")
        }
        return try SecretBox(key: Array(data))
    }

    /// `plaintext` encrypted with a fresh random nonce: nonce (24 bytes) followed by the
    /// ciphertext and its tag.
    public func seal(_ plaintext: String) throws -> [UInt8] {
        let sodium = try Sodium.shared.get()
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let message = Array(plaintext.utf8)
        var out = [UInt8](repeating: 0, count: message.count + 16)
        var outLength: UInt64 = 0
        let status = sodium.aeadEncrypt(
            &out, &outLength, message, UInt64(message.count), nil, 0, nil, nonce, key)
        guard status == 0 else { throw WendaoError(.internal, "encryption failed") }
        return nonce + out.prefix(Int(outLength))
    }

    /// The plaintext of `sealed`; `corrupt` when it was altered or sealed with another key.
    public func open(_ sealed: [UInt8]) throws -> String {
        let sodium = try Sodium.shared.get()
        guard sealed.count >= 24 + 16 else { throw WendaoError(.corrupt, "a stored secret is truncated") }
        let nonce = Array(sealed.prefix(24))
        let cipher = Array(sealed.dropFirst(24))
        var out = [UInt8](repeating: 0, count: cipher.count)
        var outLength: UInt64 = 0
        let status = sodium.aeadDecrypt(
            &out, &outLength, nil, cipher, UInt64(cipher.count), nil, 0, nonce, key)
        guard status == 0 else {
            throw WendaoError(.corrupt, "a stored secret cannot be decrypted (altered, or another secret key)")
        }
        return String(decoding: out.prefix(Int(outLength)), as: UTF8.self)
    }
}
