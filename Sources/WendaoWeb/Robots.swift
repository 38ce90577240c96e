import Foundation
import WendaoCore

/// The robots.txt rules that apply to one crawler (RFC 9309).
///
/// The groups whose `User-agent` equals the crawler's product token (case-insensitive) are merged
/// and used; when there is none, the `*` groups are; when there is none either, everything is
/// allowed. Among the `Allow`/`Disallow` patterns that match a path (`*` matches any run of
/// characters, a final `$` anchors the end), the longest wins, and `Allow` wins a tie.
///
/// ```swift
/// let rules = RobotsRules.parse("User-agent: *\nDisallow: /private/\n", productToken: "WendaoBot")
/// rules.allows("/private/a.html")   // false
/// ```
public struct RobotsRules: Sendable, Equatable {
    /// One `Allow` or `Disallow` line.
    public struct Rule: Sendable, Equatable {
        /// Whether the line is `Allow`.
        public var allow: Bool
        /// The path pattern.
        public var pattern: String
    }

    /// The rules that apply, in file order.
    public private(set) var rules: [Rule]
    /// `Sitemap:` URLs, as written.
    public private(set) var sitemaps: [String]
    /// When set, every path is refused (robots.txt was unreachable: 5xx or a network error).
    public private(set) var disallowAll: Bool

    /// Rules that allow everything (no robots.txt, or one answered with 4xx).
    public static let allowAll = RobotsRules(rules: [], sitemaps: [], disallowAll: false)
    /// Rules that refuse everything (robots.txt unreachable).
    public static let refuseAll = RobotsRules(rules: [], sitemaps: [], disallowAll: true)

    /// Largest robots.txt read (RFC 9309 asks for at least 500 KiB).
    public static let maxBytes = 512 * 1024

    /// Parses robots.txt text for the crawler called `productToken`.
    public static func parse(_ text: String, productToken: String) -> RobotsRules {
        let token = productToken.lowercased()
        var mine: [Rule] = []
        var star: [Rule] = []
        var matchedMine = false
        var matchedStar = false
        var sitemaps: [String] = []
        var agents: [String] = []
        var inRules = false
        for rawLine in text.prefix(maxBytes).split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            var line = rawLine
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "user-agent":
                if inRules {
                    agents = []
                    inRules = false
                }
                agents.append(value.lowercased())
                if value.lowercased() == token { matchedMine = true }
                if value == "*" { matchedStar = true }
            case "allow", "disallow":
                inRules = true
                // An empty pattern matches nothing.
                guard !value.isEmpty, !agents.isEmpty else { continue }
                let rule = Rule(allow: key == "allow", pattern: String(value.prefix(1024)))
                if agents.contains(token) { mine.append(rule) }
                if agents.contains("*") { star.append(rule) }
            case "sitemap":
                if !value.isEmpty, sitemaps.count < 100 { sitemaps.append(value) }
            default:
                continue
            }
        }
        let rules = matchedMine ? mine : (matchedStar ? star : [])
        return RobotsRules(rules: rules, sitemaps: sitemaps, disallowAll: false)
    }

    /// Whether the crawler may fetch `path` (the percent-encoded path plus `?query`).
    public func allows(_ path: String) -> Bool {
        if disallowAll { return false }
        if path == "/robots.txt" { return true }
        let subject = Array(Self.normalise(path).utf8.prefix(4096))
        var best: (length: Int, allow: Bool)?
        for rule in rules {
            let pattern = Array(Self.normalise(rule.pattern).utf8)
            guard Self.matches(pattern, subject) else { continue }
            let length = pattern.count
            if let b = best, b.length > length || (b.length == length && b.allow) { continue }
            best = (length, rule.allow)
        }
        return best?.allow ?? true
    }

    /// Upper-cases percent escapes so `%2f` and `%2F` compare equal.
    static func normalise(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == 0x25, i + 2 < b.count {
                out.append(0x25)
                out.append(b[i + 1] >= 0x61 && b[i + 1] <= 0x66 ? b[i + 1] - 0x20 : b[i + 1])
                out.append(b[i + 2] >= 0x61 && b[i + 2] <= 0x66 ? b[i + 2] - 0x20 : b[i + 2])
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Prefix match with `*` wildcards and a final `$` anchor (greedy with one backtrack point,
    /// O(pattern × subject) at worst).
    static func matches(_ pattern: [UInt8], _ subject: [UInt8]) -> Bool {
        var p = pattern
        var anchored = false
        if p.last == 0x24 {
            anchored = true
            p.removeLast()
        }
        var pi = 0
        var si = 0
        var starP = -1
        var starS = 0
        while true {
            if pi == p.count {
                if !anchored || si == subject.count { return true }
            } else if p[pi] == 0x2A {
                starP = pi
                starS = si
                pi += 1
                continue
            } else if si < subject.count, p[pi] == subject[si] {
                pi += 1
                si += 1
                continue
            }
            // Mismatch (or an anchored pattern that ended early): let the last `*` eat one more byte.
            guard starP >= 0, starS < subject.count else { return false }
            starS += 1
            si = starS
            pi = starP + 1
        }
    }
}
