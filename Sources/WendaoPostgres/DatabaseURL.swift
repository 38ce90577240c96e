import Foundation
import WendaoCore

/// Where a PostgreSQL database is and how to reach it, read from a `postgres://` URL.
///
/// ```
/// postgres://wendao:PASSWORD@db.internal:5432/wendao?sslmode=verify-full&pool_size=20
/// ```
///
/// The password is kept for connecting and never shown: ``redacted`` (used in every message and log
/// line) leaves it out.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    /// How the connection is encrypted (libpq's `sslmode` names).
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, without checking its certificate (libpq's default).
        case prefer
        /// TLS required, the certificate not checked — unless `sslrootcert` names a root certificate:
        /// then (as with libpq) the certificate's chain is checked against it, not the host name.
        case require
        /// TLS required, the certificate checked against the system's roots (or `sslrootcert`) and
        /// the host name.
        case verifyFull = "verify-full"
    }

    /// Host name or address.
    public var host: String
    /// TCP port.
    public var port: Int
    /// User name.
    public var user: String
    /// Password (never printed).
    public var password: String?
    /// Database name.
    public var database: String
    /// TLS mode.
    public var tls: TLSMode
    /// Most connections this process opens.
    public var poolSize: Int
    /// Seconds to wait for a connection.
    public var connectTimeout: Int
    /// `sslrootcert`: a PEM file of the certificate authorities to trust instead of the system's
    /// (a private CA); nil: the system's roots.
    public var rootCertificatePath: String?

    /// Reads `url`; throws ``WendaoError/Code/invalidArgument`` naming what is wrong (never the password).
    public init(_ url: String) throws {
        let trimmed = url.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let scheme = trimmed.range(of: "://"),
            ["postgres", "postgresql"].contains(trimmed[..<scheme.lowerBound].lowercased())
        else {
            throw WendaoError(
                .invalidArgument,
                "the database URL must start with postgres:// (e.g. postgres://user:password@host:5432/wendao)")
        }
        var rest = Substring(trimmed[scheme.upperBound...])
        var query = Substring("")
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var user = ""
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = Self.decode(credentials[..<colon])
                password = Self.decode(credentials[credentials.index(after: colon)...])
            } else {
                user = Self.decode(credentials)
            }
        }
        var host = String(rest)
        var port = 5432
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else {
                throw WendaoError(.invalidArgument, "the database URL has an unclosed [ in its host")
            }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw WendaoError(.invalidArgument, "the database URL's port is not a number from 1 to 65535")
                }
                port = p
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else {
                throw WendaoError(.invalidArgument, "the database URL's port is not a number from 1 to 65535")
            }
            port = p
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw WendaoError(.invalidArgument, "the database URL names no host") }
        guard !user.isEmpty else {
            throw WendaoError(.invalidArgument, "the database URL names no user (postgres://USER:PASSWORD@\(host)/…)")
        }
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        database = path.isEmpty ? user : Self.decode(path)
        tls = .prefer
        poolSize = 10
        connectTimeout = 10
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            switch key {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw WendaoError(
                        .invalidArgument,
                        "sslmode '\(value.prefix(40))' is not one of "
                            + TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
                }
                tls = mode
            case "pool_size", "pool_max":
                guard let n = Int(value), (1...1000).contains(n) else {
                    throw WendaoError(.invalidArgument, "\(key) must be a number from 1 to 1000")
                }
                poolSize = n
            case "connect_timeout":
                guard let n = Int(value), (1...600).contains(n) else {
                    throw WendaoError(.invalidArgument, "connect_timeout must be a number of seconds from 1 to 600")
                }
                connectTimeout = n
            case "sslrootcert":
                guard !value.isEmpty else { throw WendaoError(.invalidArgument, "sslrootcert names no file") }
                rootCertificatePath = value
            case "application_name":
                continue
            default:
                throw WendaoError(
                    .invalidArgument,
                    "the database URL has an unknown parameter '\(key.prefix(40))' "
                        + "(known: sslmode, sslrootcert, pool_size, connect_timeout, application_name)")
            }
        }
    }

    private static func decode(_ s: Substring) -> String {
        String(s).removingPercentEncoding ?? String(s)
    }

    /// The URL without the password: what messages and logs show.
    public var redacted: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(h):\(port)/\(database)"
    }

    /// ``redacted``.
    public var description: String { redacted }

    /// A folder name for this database's caches on a server's disk (`pg-HOST-PORT-DATABASE-HASH`):
    /// the same for every URL that names the same database, whatever the user, password or options.
    public var cacheNamespace: String {
        let identity = "\(host.lowercased()):\(port)/\(database)"
        var safe = ""
        for c in identity.unicodeScalars {
            let allowed =
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "-"
            safe.unicodeScalars.append(allowed ? c : "_")
        }
        // FNV-1a, so that names the replacement above made alike stay apart.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in identity.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return "pg-\(safe.prefix(80))-\(String(hash, radix: 16))"
    }

    /// True when `text` is a PostgreSQL URL (rather than a path).
    public static func isDatabaseURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }
}
