import Foundation
import WendaoCore

/// A parsed sitemap document (sitemaps.org): either page URLs or further sitemaps.
///
/// Parsed by a small scanner without entity expansion: a document with a DOCTYPE is refused (no
/// internal subset, so no "billion laughs"), only the predefined XML entities and numeric
/// references are decoded, and at most ``maxEntries`` locations are read.
///
/// ```swift
/// let sitemap = try Sitemap.parse(xml)
/// switch sitemap.kind { case .urlSet: …; case .index: … }
/// ```
public struct Sitemap: Sendable, Equatable {
    /// What the document lists.
    public enum Kind: Sendable, Equatable {
        /// `<urlset>`: page URLs.
        case urlSet
        /// `<sitemapindex>`: further sitemaps.
        case index
    }

    /// What the document lists.
    public var kind: Kind
    /// The `<loc>` values, in order, entities decoded and whitespace trimmed.
    public var locations: [String]

    /// Most locations read from one document (the sitemaps.org limit).
    public static let maxEntries = 50_000

    /// Parses a sitemap.
    ///
    /// - Throws: ``WendaoError`` `unreadable` for a DOCTYPE, an entity declaration, or a root that is
    ///   neither `urlset` nor `sitemapindex`.
    public static func parse(_ xml: String) throws -> Sitemap {
        let b = Array(xml.utf8)
        let n = b.count
        var i = 0
        var kind: Kind?
        var locations: [String] = []
        var inLoc = false
        var loc: [UInt8] = []
        func lower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
        func startsWith(_ s: String, at k: Int) -> Bool {
            let p = Array(s.utf8)
            guard k + p.count <= n else { return false }
            for m in 0..<p.count where lower(b[k + m]) != p[m] { return false }
            return true
        }
        func indexOf(_ s: String, from k: Int) -> Int? {
            let p = Array(s.utf8)
            var j = k
            while j + p.count <= n {
                if b[j] == p[0], Array(b[j..<(j + p.count)]) == p { return j }
                j += 1
            }
            return nil
        }
        while i < n {
            guard b[i] == 0x3C else {
                if inLoc, loc.count < 4096 { loc.append(b[i]) }
                i += 1
                continue
            }
            if startsWith("<!doctype", at: i) || startsWith("<!entity", at: i) {
                throw WendaoError(.unreadable, "sitemap with a DOCTYPE or entity declaration refused")
            }
            if startsWith("<!--", at: i) {
                i = indexOf("-->", from: i + 4).map { $0 + 3 } ?? n
                continue
            }
            if startsWith("<![cdata[", at: i) {
                let end = indexOf("]]>", from: i + 9) ?? n
                if inLoc { loc.append(contentsOf: b[(i + 9)..<end].prefix(4096)) }
                i = min(n, end + 3)
                continue
            }
            // A tag: find its end and its local name (namespace prefix dropped).
            var j = i + 1
            while j < n, b[j] != 0x3E { j += 1 }
            if j >= n { break }  // unterminated tag
            let closing = i + 1 < n && b[i + 1] == 0x2F
            var nameStart = closing ? i + 2 : i + 1
            var nameEnd = nameStart
            while nameEnd < j,
                !(b[nameEnd] == 0x20 || b[nameEnd] == 0x09 || b[nameEnd] == 0x0A || b[nameEnd] == 0x0D
                    || b[nameEnd] == 0x2F)
            {
                if b[nameEnd] == 0x3A { nameStart = nameEnd + 1 }
                nameEnd += 1
            }
            let name = String(decoding: b[nameStart..<nameEnd].map(lower), as: UTF8.self)
            let selfClosing = j > i && b[j - 1] == 0x2F
            i = j + 1
            if name.hasPrefix("?") || name.hasPrefix("!") { continue }
            if kind == nil, !closing {
                switch name {
                case "urlset": kind = .urlSet
                case "sitemapindex": kind = .index
                default: throw WendaoError(.unreadable, "not a sitemap (root element <\(name.prefix(40))>)")
                }
                continue
            }
            if name == "loc" {
                if !closing, !selfClosing {
                    inLoc = true
                    loc = []
                } else if closing, inLoc {
                    inLoc = false
                    let text = HTMLText.decode(Substring(String(decoding: loc, as: UTF8.self)))
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    if !text.isEmpty { locations.append(text) }
                    if locations.count >= maxEntries { break }
                }
            }
        }
        guard let kind else { throw WendaoError(.unreadable, "not a sitemap (no urlset or sitemapindex)") }
        return Sitemap(kind: kind, locations: locations)
    }
}
