import Foundation
import WendaoLoaders
import WendaoWeb

/// Fuzz targets for the web side: robots.txt rules, sitemaps, address/URL parsing and main-content
/// extraction.
enum FuzzWebTargets {
    static let names = ["robots", "sitemap", "address", "url", "maincontent"]

    static func run(_ name: String, _ data: Data) -> Bool {
        let text = String(decoding: data, as: UTF8.self)
        switch name {
        case "robots":
            let rules = RobotsRules.parse(text, productToken: WebFetcher.productToken)
            for path in ["/", "/a/b?c=d", text.prefix(200).description] { _ = rules.allows(path) }
        case "sitemap": _ = try? Sitemap.parse(text)
        case "address":
            for line in text.split(separator: "\n").prefix(64) {
                if let a = WebIPAddress(String(line)) { _ = WebAddressPolicy.refusalReason(a) }
                _ = try? WebNetwork(String(line))
            }
        case "url":
            let policy = WebAddressPolicy()
            for line in text.split(separator: "\n").prefix(64) {
                if let u = URL(string: String(line)) { _ = try? policy.checkURL(u) }
            }
        case "maincontent":
            let page = MainContent.extract(html: text, url: URL(string: "https://example.org/a/"))
            _ = page.blocks.count
            _ = WebCrawler.links(in: text, base: URL(string: "https://example.org/a/")!)
        default: return false
        }
        return true
    }
}
