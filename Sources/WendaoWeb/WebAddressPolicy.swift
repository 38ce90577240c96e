public import Foundation
import WendaoCore

/// A URL that passed ``WebAddressPolicy/checkURL(_:)``: http or https, no user info, a host that is
/// either a name or a parsed IP literal.
public struct WebTarget: Sendable, Hashable {
    /// The URL as given (fragment removed).
    public let url: URL
    /// `http` or `https`.
    public let scheme: String
    /// The host, lowercased, without brackets or a trailing dot, percent-decoded.
    public let host: String
    /// The host as an address when the URL names one directly (any IPv4 spelling, IPv6 literal).
    public let literal: WebIPAddress?
    /// The port (explicit, or 80/443).
    public let port: Int
    /// Path and query as sent in the request line (`/a/b?c=d`).
    public let requestTarget: String

    /// Whether the connection uses TLS.
    public var isTLS: Bool { scheme == "https" }

    /// The `Host` header value: the host (IPv6 in brackets) plus the port when it is not the default.
    public var hostHeader: String {
        port == (isTLS ? 443 : 80) ? bracketedHost : "\(bracketedHost):\(port)"
    }

    /// `scheme://host:port` (port always written), the unit of "same origin".
    public var origin: String { "\(scheme)://\(bracketedHost):\(port)" }

    private var bracketedHost: String {
        if let literal, !literal.isIPv4 { return "[\(literal)]" }
        return host
    }
}

/// Decides which URLs and addresses the fetcher may reach: http and https only, no user info, and
/// public unicast addresses only — unless a host or network is on the explicit allow-list.
///
/// Refused: loopback, private (10/8, 172.16/12, 192.168/16), link-local (169.254/16, fe80::/10),
/// CGNAT (100.64/10), multicast, broadcast, unspecified and 0/8, 192.0.0/24, benchmarking
/// (198.18/15), documentation ranges, 240/4, unique-local (fc00::/7), site-local (fec0::/10), the cloud
/// metadata addresses (169.254.169.254, fd00:ec2::254), and IPv6 forms that embed a refused IPv4
/// address (IPv4-mapped, IPv4-compatible, SIIT, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo).
///
/// ```swift
/// var policy = WebAddressPolicy()
/// try policy.checkURL(URL(string: "http://0x7f.1/")!)            // throws: loopback
/// policy = try WebAddressPolicy(allowList: ["wiki.corp", "10.20.0.0/16"])
/// ```
public struct WebAddressPolicy: Sendable {
    /// Host names (lowercased) whose addresses are admitted even when not public. The cloud metadata
    /// addresses stay refused for them unless an allowed network contains them.
    public var allowedHosts: Set<String>
    /// Networks whose addresses are admitted even when not public.
    public var allowedNetworks: [WebNetwork]

    /// Creates a policy; with no arguments only public addresses are reachable.
    public init(allowedHosts: Set<String> = [], allowedNetworks: [WebNetwork] = []) {
        self.allowedHosts = Set(allowedHosts.map { Self.normaliseName($0) })
        self.allowedNetworks = allowedNetworks
    }

    /// Creates a policy from configuration entries, each a host name or a network in CIDR notation
    /// (`intranet.example`, `10.20.0.0/16`, `127.0.0.1/32`).
    ///
    /// - Throws: ``WendaoError`` `invalidArgument` for an entry that is neither.
    public init(allowList: [String]) throws {
        var hosts: Set<String> = []
        var networks: [WebNetwork] = []
        for raw in allowList {
            let entry = raw.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { continue }
            if entry.contains("/") || WebIPAddress(entry) != nil {
                networks.append(try WebNetwork(entry))
            } else {
                let name = Self.normaliseName(entry)
                guard Self.isValidName(name) else {
                    throw WendaoError(.invalidArgument, "allow-list entry '\(entry)' is not a host name or network")
                }
                hosts.insert(name)
            }
        }
        self.init(allowedHosts: hosts, allowedNetworks: networks)
    }

    // MARK: URLs

    /// Checks a URL's scheme, user info and host spelling; IP literals are checked here too, names
    /// later against every address they resolve to.
    ///
    /// - Throws: ``WendaoError`` `unsupported` (scheme), `invalidArgument` (malformed URL, user info,
    ///   bad host) or `invalidArgument` naming why the address is refused.
    public func checkURL(_ url: URL) throws -> WebTarget {
        guard var c = URLComponents(url: url, resolvingAgainstBaseURL: true) else {
            throw WendaoError(.invalidArgument, "not a valid URL")
        }
        let scheme = (c.scheme ?? "").lowercased()
        guard scheme == "http" || scheme == "https" else {
            let shown = scheme.isEmpty ? "(none)" : scheme
            throw WendaoError(.unsupported, "URL scheme '\(shown)' is not fetched (only http and https)")
        }
        if c.percentEncodedUser != nil || c.percentEncodedPassword != nil {
            throw WendaoError(.invalidArgument, "URLs with user info (user@host) are refused")
        }
        guard let rawHost = c.percentEncodedHost, !rawHost.isEmpty else {
            throw WendaoError(.invalidArgument, "URL has no host")
        }
        var host = rawHost
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let literal: WebIPAddress?
        if host.contains(":") {
            // IPv6 literal; the zone id may be written %25zone.
            guard let a = WebIPAddress.parseIPv6(Substring(host)) else {
                throw WendaoError(.invalidArgument, "malformed IPv6 address in URL")
            }
            literal = WebIPAddress(bytes: a.0, zone: a.1)
        } else {
            guard let decoded = host.removingPercentEncoding else {
                throw WendaoError(.invalidArgument, "malformed host in URL")
            }
            host = Self.normaliseName(decoded)
            if let v4 = WebIPAddress.parseIPv4(host) {
                literal = WebIPAddress(bytes: v4)
            } else {
                guard Self.isValidName(host) else {
                    throw WendaoError(.invalidArgument, "host '\(host.prefix(80))' is not a valid host name")
                }
                if Self.looksNumeric(host) {
                    throw WendaoError(.invalidArgument, "host '\(host.prefix(80))' is a malformed IPv4 address")
                }
                literal = nil
            }
        }
        if let literal {
            try check(literal, host: nil)
            host = literal.description
        }
        let port = c.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { throw WendaoError(.invalidArgument, "URL port \(port) is invalid") }
        var target = c.percentEncodedPath.isEmpty ? "/" : c.percentEncodedPath
        if let q = c.percentEncodedQuery { target += "?" + q }
        guard !target.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw WendaoError(.invalidArgument, "URL path contains spaces or control characters")
        }
        c.fragment = nil
        return WebTarget(
            url: c.url ?? url, scheme: scheme, host: host, literal: literal, port: port, requestTarget: target)
    }

    // MARK: Addresses

    /// Checks one address for `host` (nil for an address written in the URL).
    ///
    /// - Throws: ``WendaoError`` `invalidArgument` naming the kind of address refused.
    public func check(_ address: WebIPAddress, host: String?) throws {
        if allowedNetworks.contains(where: { $0.contains(address) }) { return }
        if let embedded = Self.embeddedIPv4(address), allowedNetworks.contains(where: { $0.contains(embedded) }) {
            return
        }
        guard let reason = Self.refusalReason(address) else { return }
        if let host, allowedHosts.contains(Self.normaliseName(host)), !Self.isMetadata(address) { return }
        let subject = host.map { "'\($0.prefix(80))' resolves to \(address)" } ?? "address \(address)"
        throw WendaoError(.invalidArgument, "\(subject): \(reason) addresses are not fetched")
    }

    /// Why `address` is not a public unicast address (nil when it is).
    public static func refusalReason(_ address: WebIPAddress) -> String? {
        if address.isIPv4 { return ipv4Reason(address.bytes) }
        let b = address.bytes
        if address.zone != nil { return "scoped (zone id)" }
        if let v4 = embeddedIPv4(address), let reason = ipv4Reason(v4.bytes) {
            return "IPv6-embedded \(reason)"
        }
        if b.allSatisfy({ $0 == 0 }) { return "unspecified" }
        if b[0..<15].allSatisfy({ $0 == 0 }), b[15] == 1 { return "loopback" }
        if b[0] == 0xFF { return "multicast" }
        if b[0] == 0xFE, b[1] & 0xC0 == 0x80 { return "link-local" }
        if b[0] == 0xFE, b[1] & 0xC0 == 0xC0 { return "site-local" }
        if b[0] & 0xFE == 0xFC { return isMetadata(address) ? "cloud metadata" : "unique-local" }
        if b[0..<8] == [0x01, 0, 0, 0, 0, 0, 0, 0] { return "discard-only" }
        if b[0..<4] == [0x20, 0x01, 0x0D, 0xB8] { return "documentation" }
        if b[0..<6] == [0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01] { return "local-use NAT64" }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return "IPv4-compatible" }
        return nil
    }

    /// The IPv4 address an IPv6 address carries, for the forms that route to it: IPv4-mapped
    /// (::ffff:a.b.c.d), SIIT (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96),
    /// 6to4 (2002::/16) and Teredo (2001::/32, the client address).
    static func embeddedIPv4(_ address: WebIPAddress) -> WebIPAddress? {
        let b = address.bytes
        guard b.count == 16 else { return nil }
        let zeros10 = b[0..<10].allSatisfy { $0 == 0 }
        if zeros10, b[10] == 0xFF, b[11] == 0xFF { return WebIPAddress(bytes: Array(b[12..<16])) }
        if b[0..<8].allSatisfy({ $0 == 0 }), b[8] == 0xFF, b[9] == 0xFF, b[10] == 0, b[11] == 0 {
            return WebIPAddress(bytes: Array(b[12..<16]))
        }
        if zeros10, b[10] == 0, b[11] == 0, !(b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1) {
            return WebIPAddress(bytes: Array(b[12..<16]))
        }
        if b[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] {
            return WebIPAddress(bytes: Array(b[12..<16]))
        }
        if b[0] == 0x20, b[1] == 0x02 { return WebIPAddress(bytes: Array(b[2..<6])) }
        if b[0..<4] == [0x20, 0x01, 0x00, 0x00] { return WebIPAddress(bytes: b[12..<16].map { ~$0 }) }
        return nil
    }

    static func isMetadata(_ address: WebIPAddress) -> Bool {
        let b = address.bytes
        if b == [169, 254, 169, 254] { return true }
        if let v4 = embeddedIPv4(address), v4.bytes == [169, 254, 169, 254] { return true }
        // fd00:ec2::254
        return b == [0xFD, 0x00, 0x0E, 0xC2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54]
    }

    private static func ipv4Reason(_ b: [UInt8]) -> String? {
        switch (b[0], b[1], b[2]) {
        case (169, 254, _): return b == [169, 254, 169, 254] ? "cloud metadata" : "link-local"
        case (0, _, _): return "unspecified (0.0.0.0/8)"
        case (10, _, _): return "private"
        case (100, 64...127, _): return "shared (CGNAT)"
        case (127, _, _): return "loopback"
        case (172, 16...31, _): return "private"
        case (192, 168, _): return "private"
        case (192, 0, 0): return "IETF protocol (192.0.0.0/24)"
        case (192, 0, 2), (198, 51, 100), (203, 0, 113): return "documentation"
        case (192, 88, 99): return "6to4 relay"
        case (198, 18...19, _): return "benchmarking"
        case (224...239, _, _): return "multicast"
        case (240...255, _, _): return b == [255, 255, 255, 255] ? "broadcast" : "reserved (240.0.0.0/4)"
        default: return nil
        }
    }

    // MARK: Names

    static func normaliseName(_ name: String) -> String {
        var n = name.lowercased()
        if n.hasSuffix("."), n.count > 1 { n.removeLast() }
        return n
    }

    static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2E || c == 0x5F
        } && !name.hasPrefix(".") && !name.contains("..")
    }

    /// A name whose last label is a number (decimal or 0x-hex) is meant as an IPv4 address.
    static func looksNumeric(_ name: String) -> Bool {
        guard let last = name.split(separator: ".").last else { return false }
        if last.allSatisfy({ $0.isASCII && $0.isNumber }) { return true }
        let l = last.lowercased()
        return l.hasPrefix("0x") && l.dropFirst(2).allSatisfy { $0.isHexDigit }
    }
}
