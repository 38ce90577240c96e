import Foundation
import WendaoCore

/// libsodium's password-hashing functions, loaded from the system's shared library at run time
/// (Debian's `libsodium23`), so that building Wendao needs no headers and a machine without the
/// library still runs everything but accounts.
struct Sodium: Sendable {
    typealias Init = @convention(c) () -> Int32
    typealias Limit = @convention(c) () -> Int
    typealias HashString =
        @convention(c) (
            UnsafeMutablePointer<CChar>?, UnsafePointer<CChar>?, UInt64, UInt64, Int
        ) -> Int32
    typealias VerifyString = @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UInt64) -> Int32
    typealias AEADEncrypt =
        @convention(c) (
            UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt64>?, UnsafePointer<UInt8>?, UInt64,
            UnsafePointer<UInt8>?, UInt64, UnsafePointer<UInt8>?, UnsafePointer<UInt8>?, UnsafePointer<UInt8>?
        ) -> Int32
    typealias AEADDecrypt =
        @convention(c) (
            UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt8>?,
            UnsafePointer<UInt8>?, UInt64, UnsafePointer<UInt8>?, UInt64, UnsafePointer<UInt8>?, UnsafePointer<UInt8>?
        ) -> Int32

    let opslimit: UInt64
    let memlimit: Int
    let strbytes: Int
    let hashString: HashString
    let verifyString: VerifyString
    /// XChaCha20-Poly1305 (IETF): 24-byte nonces, 16-byte tags.
    let aeadEncrypt: AEADEncrypt
    let aeadDecrypt: AEADDecrypt

    /// The library, or the reason it cannot be used.
    static let shared: Result<Sodium, WendaoError> = load()

    private static func load() -> Result<Sodium, WendaoError> {
        let names = ["libsodium.so.23", "libsodium.so.26", "libsodium.so", "libsodium.dylib"]
        guard let handle = names.lazy.compactMap({ dlopen($0, RTLD_NOW) }).first else {
            return .failure(
                WendaoError(
                    .unsupported,
                    "accounts need libsodium, which is not installed: apt-get install libsodium23 (Debian, Ubuntu)"))
        }
        func symbol<T>(_ name: String, as type: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: type) }
        }
        guard let initialise = symbol("sodium_init", as: Init.self),
            let ops = symbol("crypto_pwhash_opslimit_interactive", as: Limit.self),
            let mem = symbol("crypto_pwhash_memlimit_interactive", as: Limit.self),
            let bytes = symbol("crypto_pwhash_strbytes", as: Limit.self),
            let hash = symbol("crypto_pwhash_str", as: HashString.self),
            let verify = symbol("crypto_pwhash_str_verify", as: VerifyString.self),
            let encrypt = symbol("crypto_aead_xchacha20poly1305_ietf_encrypt", as: AEADEncrypt.self),
            let decrypt = symbol("crypto_aead_xchacha20poly1305_ietf_decrypt", as: AEADDecrypt.self)
        else {
            return .failure(WendaoError(.unsupported, "the installed libsodium lacks Argon2id or XChaCha20-Poly1305"))
        }
        guard initialise() >= 0 else { return .failure(WendaoError(.internal, "libsodium could not be initialised")) }
        return .success(
            Sodium(
                opslimit: UInt64(ops()), memlimit: mem(), strbytes: bytes(), hashString: hash, verifyString: verify,
                aeadEncrypt: encrypt, aeadDecrypt: decrypt))
    }
}

/// Argon2id password hashes (libsodium) and random tokens.
///
/// ```swift
/// let stored = try Passwords.hash("correct horse battery")   // "$argon2id$v=19$m=65536,t=2,p=1$…"
/// Passwords.verify("correct horse battery", against: stored)  // true
/// ```
public enum Passwords {
    /// The shortest password accepted.
    public static let minimumLength = 10
    /// The longest password accepted, in UTF-8 bytes (hashing cost does not depend on it, but a
    /// request body of megabytes should not reach the hasher).
    public static let maximumBytes = 1024

    /// Checks a new password: at least ``minimumLength`` characters, at most ``maximumBytes``.
    public static func validate(_ password: String) throws {
        guard password.count >= minimumLength else {
            throw WendaoError(.invalidArgument, "a password needs at least \(minimumLength) characters")
        }
        guard password.utf8.count <= maximumBytes else {
            throw WendaoError(.invalidArgument, "a password may have at most \(maximumBytes) bytes")
        }
    }

    /// The Argon2id hash string of `password` (libsodium's interactive limits: 64 MiB, 2 passes),
    /// salted at random; it records its own parameters.
    public static func hash(_ password: String) throws -> String {
        let sodium = try Sodium.shared.get()
        var out = [CChar](repeating: 0, count: sodium.strbytes)
        let chars = Array(password.utf8CString)  // NUL-terminated: never empty
        let status = sodium.hashString(&out, chars, UInt64(chars.count - 1), sodium.opslimit, sodium.memlimit)
        guard status == 0 else { throw WendaoError(.internal, "the password could not be hashed (out of memory)") }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `password` matches `stored` (a string from ``hash(_:)``); false for anything else,
    /// and when libsodium is missing.
    public static func verify(_ password: String, against stored: String) -> Bool {
        guard case .success(let sodium) = Sodium.shared, stored.utf8.count < sodium.strbytes else { return false }
        let chars = Array(password.utf8CString)
        guard chars.count - 1 <= maximumBytes else { return false }
        let storedChars = Array(stored.utf8CString)
        return sodium.verifyString(storedChars, chars, UInt64(chars.count - 1)) == 0
    }

    /// A hash of a random password, to verify against when a sign-in names no existing user: the
    /// answer then takes as long as for a real user, so timing does not tell which names exist.
    public static let decoy: String = (try? hash(randomToken())) ?? ""

    /// `byteCount` random bytes from the system's generator (`getrandom`), URL-safe Base64 without
    /// padding.
    public static func randomToken(byteCount: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// SHA-256 of a token, lowercase hex: what the store keeps of a session.
    public static func tokenHash(_ token: String) -> String {
        var h = WendaoCore.SHA256()
        h.update(Array(token.utf8))
        return h.hexDigest()
    }
}
