public import Foundation
public import WendaoCore

/// Limits and switches for one crawl.
public struct WebCrawlOptions: Sendable {
    /// Most link hops from the start URL (0 = the start page only). Sitemap URLs count as depth 1.
    public var maxDepth: Int = 3
    /// Most page fetches (successful or not); robots.txt and sitemaps are not counted.
    public var maxPages: Int = 200
    /// Whether `/sitemap.xml` and the `Sitemap:` lines of robots.txt are read.
    public var followSitemaps: Bool = true
    /// Most sitemap documents fetched (indexes included); ends cyclic or self-referencing indexes.
    public var maxSitemaps: Int = 20
    /// Most URLs waiting in the queue (further links are dropped).
    public var maxQueuedURLs: Int = 20_000
    /// Pause between two requests.
    public var delay: Duration = .zero
    /// Creates options with the defaults.
    public init() {}
}

/// A page the crawler fetched.
public struct WebCrawledPage: Sendable {
    /// The resource (HTML or PDF); ``WebResource/url`` is the final URL.
    public var resource: WebResource
    /// Link hops from the start URL.
    public var depth: Int
}

/// What the crawler reports, in order.
public enum WebCrawlEvent: Sendable {
    /// An HTML or PDF page was fetched.
    case page(WebCrawledPage)
    /// A URL could not be fetched; the crawl goes on.
    case failed(url: URL, error: WendaoError)
    /// A URL was not fetched or not emitted (robots.txt, not HTML/PDF, sitemap problem).
    case skipped(url: URL, reason: String)
}

/// Counts for a finished crawl.
public struct WebCrawlSummary: Sendable, Equatable {
    /// Pages emitted.
    public var pages = 0
    /// URLs that failed.
    public var failed = 0
    /// URLs skipped.
    public var skipped = 0
}

/// A same-origin, breadth-first crawler that honours robots.txt and reads sitemaps.
///
/// Only URLs with the start URL's scheme, host and port are fetched (redirects elsewhere are
/// refused). Links come from `<a href>` / `<area href>` (relative ones resolved, `<base href>`
/// honoured, fragments stripped, non-http(s) skipped, duplicates dropped after normalisation).
/// robots.txt: missing or 4xx allows everything, 5xx or unreachable refuses everything (RFC 9309).
///
/// ```swift
/// let crawler = WebCrawler(fetcher: WebFetcher(), options: WebCrawlOptions())
/// let summary = try await crawler.crawl(from: URL(string: "https://docs.example.org/")!) { event in
///     if case .page(let page) = event { try await ingest(page.resource) }
/// }
/// ```
public struct WebCrawler: Sendable {
    /// The fetcher (its policy and limits apply to every request).
    public var fetcher: WebFetcher
    /// Crawl limits.
    public var options: WebCrawlOptions

    /// Creates a crawler.
    public init(fetcher: WebFetcher, options: WebCrawlOptions = WebCrawlOptions()) {
        self.fetcher = fetcher
        self.options = options
    }

    /// Crawls from `start`, calling `handle` for every event (the crawl waits for it, so a slow
    /// consumer slows the crawl instead of filling memory). Per-URL problems become events; the crawl
    /// stops early only when `handle` throws or the task is cancelled.
    ///
    /// - Throws: ``WendaoError`` when `start` itself is refused by the policy, `cancelled`, or what
    ///   `handle` throws.
    @discardableResult
    public func crawl(
        from start: URL, _ handle: @Sendable (WebCrawlEvent) async throws -> Void
    ) async throws -> WebCrawlSummary {
        let startTarget = try fetcher.policy.checkURL(start.absoluteURL.standardized)
        let origin = startTarget.origin
        var summary = WebCrawlSummary()
        var requests = 0
        func emit(_ event: WebCrawlEvent) async throws {
            switch event {
            case .page: summary.pages += 1
            case .failed: summary.failed += 1
            case .skipped: summary.skipped += 1
            }
            try await handle(event)
        }
        func pause() async throws {
            if requests > 0, options.delay > .zero { try await Task.sleep(for: options.delay) }
            requests += 1
        }

        try await pause()
        let robots = await loadRobots(startTarget)
        var queue: [(URL, Int)] = []
        var head = 0
        var seen: Set<String> = []
        func enqueue(_ url: URL, depth: Int) {
            guard depth <= options.maxDepth, queue.count - head < options.maxQueuedURLs,
                let (key, normal) = normalise(url, origin: origin), seen.insert(key).inserted
            else { return }
            queue.append((normal, depth))
        }
        enqueue(startTarget.url, depth: 0)
        if options.followSitemaps, options.maxDepth >= 1 {
            for url in try await sitemapPages(startTarget, robots: robots, emit: emit, pause: pause) {
                enqueue(url, depth: 1)
            }
        }

        var fetched = 0
        while head < queue.count, fetched < options.maxPages {
            try Task.checkCancellation()
            let (url, depth) = queue[head]
            head += 1
            guard let target = try? fetcher.policy.checkURL(url) else { continue }
            if !robots.allows(target.requestTarget) {
                try await emit(.skipped(url: url, reason: "disallowed by robots.txt"))
                continue
            }
            fetched += 1
            try await pause()
            let response: WebFetcher.Response
            do {
                response = try await fetcher.exchange(
                    url, validators: nil, anyStatus: false, redirectAllowed: { $0.origin == origin })
            } catch let error as WendaoError {
                if error.code == .cancelled { throw error }
                try await emit(.failed(url: url, error: error))
                continue
            }
            let resource = response.resource(requested: url)
            if let (finalKey, _) = normalise(resource.url, origin: origin) { seen.insert(finalKey) }
            if resource.isHTML {
                if depth < options.maxDepth, let html = try? resource.text() {
                    for link in Self.links(in: html, base: resource.url) { enqueue(link, depth: depth + 1) }
                }
                try await emit(.page(WebCrawledPage(resource: resource, depth: depth)))
            } else if resource.isPDF {
                try await emit(.page(WebCrawledPage(resource: resource, depth: depth)))
            } else {
                let type = resource.contentType ?? "unknown type"
                try await emit(.skipped(url: resource.url, reason: "not HTML or PDF (\(type))"))
            }
        }
        return summary
    }

    // MARK: Links

    /// Absolute http(s) links of a page (`<a href>`, `<area href>`, relative to `<base href>` or
    /// `base`), fragments removed, in document order, duplicates dropped.
    public static func links(in html: String, base: URL) -> [URL] {
        let tree = HTMLTree(html)
        var baseURL = base
        if let href = tree.baseHref, let b = URL(string: href.trimmingCharacters(in: .whitespaces), relativeTo: base) {
            baseURL = b.absoluteURL
        }
        var out: [URL] = []
        var seen: Set<String> = []
        for node in tree.nodes where node.name == "a" || node.name == "area" {
            guard let href = node.attributes["href"]?.trimmingCharacters(in: .whitespacesAndNewlines), !href.isEmpty,
                !href.hasPrefix("#"), let url = URL(string: href, relativeTo: baseURL)?.absoluteURL,
                let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                var c = URLComponents(url: url, resolvingAgainstBaseURL: true)
            else { continue }
            c.fragment = nil
            guard let clean = c.url, seen.insert(clean.absoluteString).inserted else { continue }
            out.append(clean)
        }
        return out
    }

    /// The dedupe key and the URL to fetch for `url`, when it is http(s) on `origin`: scheme and
    /// host lowercased, default port dropped, dot segments removed, empty path as `/`, no fragment.
    func normalise(_ url: URL, origin: String) -> (String, URL)? {
        guard let target = try? fetcher.policy.checkURL(url.absoluteURL.standardized), target.origin == origin,
            let normal = URL(string: "\(target.scheme)://\(target.hostHeader)\(target.requestTarget)")
        else { return nil }
        return (normal.absoluteString, normal)
    }

    // MARK: robots.txt

    func loadRobots(_ start: WebTarget) async -> RobotsRules {
        guard let url = URL(string: "\(start.scheme)://\(start.hostHeader)/robots.txt") else { return .allowAll }
        do {
            let response = try await fetcher.exchange(url, validators: nil, anyStatus: true, redirectAllowed: nil)
            switch response.status {
            case 200..<300:
                let text = (try? response.resource(requested: url).text()) ?? ""
                return RobotsRules.parse(text, productToken: WebFetcher.productToken)
            case 400..<500 where response.status != 429:
                return .allowAll
            default:
                return .refuseAll
            }
        } catch {
            // Unreachable robots.txt (5xx, network error, time-out) means: crawl nothing.
            return .refuseAll
        }
    }

    // MARK: Sitemaps

    /// Page URLs listed by `/sitemap.xml` and robots.txt's `Sitemap:` lines (same origin only),
    /// following nested indexes breadth-first; a visited set and ``WebCrawlOptions/maxSitemaps``
    /// end cycles.
    func sitemapPages(
        _ start: WebTarget, robots: RobotsRules, emit: (WebCrawlEvent) async throws -> Void,
        pause: () async throws -> Void
    ) async throws -> [URL] {
        let origin = start.origin
        var pending: [URL] = []
        var visited: Set<String> = []
        func add(_ url: URL) {
            guard let (key, normal) = normalise(url, origin: origin), visited.insert(key).inserted else { return }
            pending.append(normal)
        }
        for line in robots.sitemaps {
            if let url = URL(string: line) { add(url) }
        }
        if let url = URL(string: "\(start.scheme)://\(start.hostHeader)/sitemap.xml") { add(url) }
        var pages: [URL] = []
        var fetched = 0
        var index = 0
        let cap = max(options.maxPages * 4, 100)
        while index < pending.count, fetched < options.maxSitemaps, pages.count < cap {
            try Task.checkCancellation()
            let url = pending[index]
            index += 1
            guard let target = try? fetcher.policy.checkURL(url), robots.allows(target.requestTarget) else { continue }
            fetched += 1
            try await pause()
            let sitemap: Sitemap
            do {
                let response = try await fetcher.exchange(
                    url, validators: nil, anyStatus: true, redirectAllowed: { $0.origin == origin })
                // A missing sitemap is normal and not reported.
                if response.status == 404 || response.status == 410 { continue }
                guard (200..<300).contains(response.status) else {
                    try await emit(.skipped(url: url, reason: "sitemap answered HTTP \(response.status)"))
                    continue
                }
                sitemap = try Sitemap.parse(try response.resource(requested: url).text())
            } catch let error as WendaoError {
                if error.code == .cancelled { throw error }
                try await emit(.skipped(url: url, reason: "sitemap not read: \(error.message)"))
                continue
            }
            for location in sitemap.locations {
                guard let u = URL(string: location) else { continue }
                switch sitemap.kind {
                case .index: add(u)
                case .urlSet: if pages.count < cap { pages.append(u) }
                }
            }
        }
        return pages
    }
}
