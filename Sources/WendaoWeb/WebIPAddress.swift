import Foundation
import WendaoCore

/// An IPv4 or IPv6 address as raw network-order bytes (4 or 16 of them).
///
/// Parsing accepts every IPv4 spelling that `inet_aton` accepts (`2130706433`, `0177.0.0.1`,
/// `0x7f.1`, `127.1`) and IPv6 text with `::` compression, an embedded dotted IPv4 tail and an
/// optional zone id (`fe80::1%eth0`, kept in ``zone``).
///
/// ```swift
/// let a = WebIPAddress("0x7f.1")          // 127.0.0.1
/// let b = WebIPAddress("::ffff:7f00:1")   // ::ffff:127.0.0.1
/// ```
public struct WebIPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address bytes in network order: 4 for IPv4, 16 for IPv6.
    public let bytes: [UInt8]
    /// The IPv6 zone id (`eth0` in `fe80::1%eth0`), when one was given.
    public let zone: String?

    /// Creates an address from 4 or 16 network-order bytes; nil for any other count.
    public init?(bytes: [UInt8], zone: String? = nil) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
        self.zone = bytes.count == 16 ? zone : nil
    }

    /// Parses an IPv4 address in any `inet_aton` spelling or an IPv6 address (brackets allowed).
    public init?(_ text: String) {
        if let v4 = Self.parseIPv4(text) {
            self.bytes = v4
            self.zone = nil
            return
        }
        var t = Substring(text)
        if t.hasPrefix("["), t.hasSuffix("]") { t = t.dropFirst().dropLast() }
        guard let (v6, zone) = Self.parseIPv6(t) else { return nil }
        self.bytes = v6
        self.zone = zone
    }

    /// Whether this is an IPv4 address.
    public var isIPv4: Bool { bytes.count == 4 }

    /// Canonical text: dotted quad for IPv4, RFC 5952 form for IPv6 (zone appended after `%`).
    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [UInt16] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])) }
        // Longest run (≥ 2) of zero groups is written as "::".
        var bestStart = -1
        var bestLength = 0
        var i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8, groups[j] == 0 { j += 1 }
                if j - i > bestLength, j - i >= 2 {
                    bestStart = i
                    bestLength = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        var text: String
        if bestStart < 0 {
            text = hex(0..<8)
        } else {
            text = hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
        if let zone { text += "%" + zone }
        return text
    }

    // MARK: IPv4

    /// Parses IPv4 the way `inet_aton` does: one to four parts, each decimal, octal (leading `0`) or
    /// hex (`0x`); the last part fills the remaining bytes. Nil when the text is not such a number.
    static func parseIPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt64] = []
        for part in parts {
            guard let v = parseIPv4Part(part) else { return nil }
            values.append(v)
        }
        let last = values.removeLast()
        for v in values where v > 255 { return nil }
        let lastBytes = 4 - values.count
        guard last < (UInt64(1) << (8 * UInt64(lastBytes))) else { return nil }
        var out = values.map { UInt8($0) }
        for k in stride(from: lastBytes - 1, through: 0, by: -1) {
            out.append(UInt8((last >> (8 * UInt64(k))) & 0xFF))
        }
        return out
    }

    /// One `inet_aton` part; values are capped so that overlong digit strings cannot overflow.
    private static func parseIPv4Part(_ part: Substring) -> UInt64? {
        var digits = part.utf8[...]
        guard !digits.isEmpty else { return nil }
        var radix: UInt64 = 10
        if digits.count >= 2, digits.first == 0x30, let x = digits.dropFirst().first, x | 0x20 == 0x78 {
            radix = 16
            digits = digits.dropFirst(2)
            if digits.isEmpty { return 0 }  // inet_aton reads "0x" as zero
        } else if digits.count >= 2, digits.first == 0x30 {
            radix = 8
            digits = digits.dropFirst()
        }
        var value: UInt64 = 0
        for c in digits {
            let d: UInt64
            switch c {
            case 0x30...0x39: d = UInt64(c - 0x30)
            case 0x61...0x66: d = UInt64(c - 0x61 + 10)
            case 0x41...0x46: d = UInt64(c - 0x41 + 10)
            default: return nil
            }
            guard d < radix else { return nil }
            value = value * radix + d
            if value > 0xFFFF_FFFF { return nil }
        }
        return value
    }

    // MARK: IPv6

    /// Parses IPv6 text (no brackets); returns the bytes and the zone id (after `%`, or `%25` as in
    /// URLs). Nil when malformed.
    static func parseIPv6(_ input: Substring) -> ([UInt8], String?)? {
        var text = input
        var zone: String?
        if let percent = text.firstIndex(of: "%") {
            var z = text[text.index(after: percent)...]
            if z.hasPrefix("25"), z.count > 2 { z = z.dropFirst(2) }
            guard !z.isEmpty, z.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
            else { return nil }
            zone = String(z)
            text = text[..<percent]
        }
        guard text.contains(":"), text.count <= 64 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        if let gap = text.range(of: "::") {
            sawGap = true
            let left = text[..<gap.lowerBound]
            let right = text[gap.upperBound...]
            if right.contains("::") { return nil }
            guard let l = parseGroups(left, allowV4Tail: false), let r = parseGroups(right, allowV4Tail: true)
            else { return nil }
            head = l
            tail = r
        } else {
            guard let all = parseGroups(text, allowV4Tail: true) else { return nil }
            head = all
        }
        if sawGap {
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard head.count == 8 else { return nil }
        }
        let groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        var bytes: [UInt8] = []
        for g in groups { bytes += [UInt8(g >> 8), UInt8(g & 0xFF)] }
        return (bytes, zone)
    }

    /// Colon-separated hex groups; a dotted-quad (strict decimal) last piece counts as two groups.
    private static func parseGroups(_ text: Substring, allowV4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if index == parts.count - 1, allowV4Tail, part.contains(".") {
                let quads = part.split(separator: ".", omittingEmptySubsequences: false)
                guard quads.count == 4 else { return nil }
                var b: [UInt8] = []
                for q in quads {
                    guard (1...3).contains(q.count), q.allSatisfy({ $0.isASCII && $0.isNumber }),
                        let v = UInt8(q), q.count == 1 || q.first != "0"
                    else { return nil }
                    b.append(v)
                }
                groups.append(UInt16(b[0]) << 8 | UInt16(b[1]))
                groups.append(UInt16(b[2]) << 8 | UInt16(b[3]))
                continue
            }
            guard (1...4).contains(part.count), let v = UInt16(part, radix: 16) else { return nil }
            groups.append(v)
        }
        return groups
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`); a bare address means a single host.
public struct WebNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public let address: WebIPAddress
    /// The prefix length in bits.
    public let prefixLength: Int

    /// Parses `address/prefix` or a bare address.
    ///
    /// - Throws: ``WendaoError`` `invalidArgument` when the text is not a network.
    public init(_ text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let a = WebIPAddress(String(parts[0])), a.zone == nil else {
            throw WendaoError(.invalidArgument, "'\(text)' is not a network (expected e.g. 10.0.0.0/8)")
        }
        let bits = a.bytes.count * 8
        var length = bits
        if parts.count == 2 {
            guard let l = Int(parts[1]), (0...bits).contains(l) else {
                throw WendaoError(.invalidArgument, "'\(text)' has a bad prefix length")
            }
            length = l
        }
        self.init(address: a, prefixLength: length)
    }

    /// Creates a network; host bits of `address` are cleared.
    public init(address: WebIPAddress, prefixLength: Int) {
        let bits = address.bytes.count * 8
        let length = max(0, min(bits, prefixLength))
        var masked = address.bytes
        for i in 0..<masked.count {
            let keep = max(0, min(8, length - i * 8))
            masked[i] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        self.address = WebIPAddress(bytes: masked) ?? address
        self.prefixLength = length
    }

    /// Whether `ip` (of the same family) lies in this network.
    public func contains(_ ip: WebIPAddress) -> Bool {
        guard ip.bytes.count == address.bytes.count else { return false }
        var remaining = prefixLength
        for i in 0..<ip.bytes.count {
            if remaining <= 0 { return true }
            let keep = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
            if ip.bytes[i] & mask != address.bytes[i] { return false }
            remaining -= keep
        }
        return true
    }

    /// `address/prefix`.
    public var description: String { "\(address)/\(prefixLength)" }
}
