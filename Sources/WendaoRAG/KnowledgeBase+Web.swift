import Foundation
import Logging
import WendaoCore
import WendaoIndex
import WendaoLoaders
public import WendaoWeb

/// How web pages are fetched for ingest.
public struct WebIngestOptions: Sendable {
    /// Follow links (same origin), sitemaps and robots.txt from each start URL.
    public var crawl = false
    /// Depth and page limits of a crawl.
    public var crawlOptions = WebCrawlOptions()
    /// The fetcher (address policy, caps).
    public var fetcher = WebFetcher()

    /// Defaults: one page per URL, public addresses only.
    public init() {}
}

extension KnowledgeBase {
    /// True when `path` is a URL rather than a file path (anything with a scheme, so that
    /// `file:///etc/passwd` and `gopher://` are refused by the web policy instead of read).
    public static func isURL(_ path: String) -> Bool {
        guard let colon = path.firstIndex(of: ":"), path[path.index(after: colon)...].hasPrefix("//") else {
            return false
        }
        let scheme = path[..<colon]
        return !scheme.isEmpty && scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
    }

    /// Fetches web pages (HTML main content, PDFs, plain text) and stores each as a document whose
    /// identity is its URL. A page fetched before is asked for with its ETag / Last-Modified and
    /// skipped when the server answers 304 (or the bytes are unchanged). Failures are reported per
    /// URL and the rest goes on.
    public func ingestWeb(
        _ urls: [String], options: IngestOptions = IngestOptions(), web: WebIngestOptions = WebIngestOptions(),
        progress: (IngestEvent) -> Void = { _ in }
    ) async throws -> IngestSummary {
        let l = try lock()
        defer { l.unlock() }
        let started = Date()
        var summary = IngestSummary(kb: name)
        progress(.planned(files: urls.count, bytes: 0))
        func report(_ path: String, _ outcome: IngestOutcome, chunks: Int = 0, bytes: Int64 = 0, reason: String? = nil) {
            summary.tally(path: path, outcome: outcome, chunks: chunks, bytes: bytes, reason: reason)
            if outcome == .failed {
                library.logger.warning("page rejected", metadata: ["url": "\(path)", "reason": "\(reason ?? "")"])
            }
            progress(.file(path: path, outcome: outcome, chunks: chunks, bytes: bytes, reason: reason))
        }
        for raw in urls {
            try Task.checkCancellation()
            guard let url = URL(string: raw), url.scheme != nil else {
                report(raw, .failed, reason: "not a valid URL")
                continue
            }
            if web.crawl {
                try await crawl(url, options: options, web: web, record: report)
                continue
            }
            let identity = url.absoluteString
            do {
                let existing = try store.document(kb: record.id, path: identity)
                let validators =
                    options.force || existing == nil
                    ? nil : WebValidators(etag: existing?.etag, lastModified: existing?.lastModified)
                switch try await web.fetcher.fetch(url, validators: validators) {
                case .notModified:
                    report(identity, .unchanged)
                case .fetched(let resource):
                    let (outcome, chunks, warning) = try storePage(resource, identity: identity, options: options)
                    report(identity, outcome, chunks: chunks, bytes: Int64(resource.body.count), reason: warning)
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch let e as WendaoError {
                if e.code == .cancelled { throw e }
                report(identity, .failed, reason: e.message)
            } catch {
                report(identity, .failed, reason: "\(error)")
            }
        }
        if index.hasUnsavedChanges || index.generation != record.generation {
            try index.save(to: indexPath, generation: record.generation)
        }
        try syncVectors { done, total in progress(.embedding(done: done, total: total)) }
        summary.seconds = Date().timeIntervalSince(started)
        summary.results.sort { ($0.outcome == .failed ? 0 : 1, $0.path) < ($1.outcome == .failed ? 0 : 1, $1.path) }
        return summary
    }

    /// Crawls from `start`. Pages are spooled to a private temporary folder while the crawler runs
    /// (its callback may not touch this instance) and stored afterwards, so memory stays bounded.
    private func crawl(
        _ start: URL, options: IngestOptions, web: WebIngestOptions,
        record: (String, IngestOutcome, Int, Int64, String?) -> Void
    ) async throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent(
            "wendao-crawl-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(
            at: spool, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: spool) }
        let log = CrawlLog()
        let crawler = WebCrawler(fetcher: web.fetcher, options: web.crawlOptions)
        do {
            try await crawler.crawl(from: start) { event in
                switch event {
                case .page(let page):
                    let n = log.nextNumber()
                    let file = spool.appendingPathComponent("page-\(n)")
                    try page.resource.body.write(to: file)
                    var meta = page.resource
                    meta.body = Data()
                    log.append(.page(meta, file))
                case .failed(let url, let error):
                    log.append(.failed(url.absoluteString, error.message))
                case .skipped:
                    break
                }
            }
        } catch let e as WendaoError {
            if e.code == .cancelled { throw e }
            record(start.absoluteString, .failed, 0, 0, e.message)
            return
        }
        for entry in log.entries {
            switch entry {
            case .failed(let url, let reason):
                record(url, .failed, 0, 0, reason)
            case .page(var resource, let file):
                let identity = resource.requestedURL.absoluteString
                do {
                    resource.body = try Data(contentsOf: file)
                    let (outcome, chunks, warning) = try storePage(resource, identity: identity, options: options)
                    record(identity, outcome, chunks, Int64(resource.body.count), warning)
                } catch let e as WendaoError {
                    record(identity, .failed, 0, 0, e.message)
                } catch {
                    record(identity, .failed, 0, 0, "\(error)")
                }
            }
        }
    }

    /// Turns one fetched resource into a document and stores it (unless its bytes are unchanged).
    private func storePage(_ resource: WebResource, identity: String, options: IngestOptions) throws
        -> (IngestOutcome, Int, String?)
    {
        var sha = SHA256()
        sha.update(resource.body)
        let hash = sha.hexDigest()
        let existing = try store.document(kb: record.id, path: identity)
        if let existing, existing.contentHash == hash, !options.force { return (.unchanged, 0, nil) }
        let doc = try Self.document(from: resource, identity: identity, limits: options.limits)
        let header = NewDocument(
            path: identity, title: doc.title, format: doc.format.rawValue, contentHash: hash,
            byteCount: Int64(resource.body.count), source: resource.url.absoluteString, etag: resource.etag,
            lastModified: resource.lastModified)
        let prepared = Self.prepare(doc, header: header, settings: record.settings, analyzer: analyzer)
        if prepared.chunks.isEmpty { throw WendaoError(.unreadable, "no text found on the page") }
        let change = try store(prepared)
        let warning = doc.warnings.isEmpty ? nil : doc.warnings.prefix(3).joined(separator: "; ")
        let outcome: IngestOutcome =
            existing == nil ? .added : existing?.contentHash == hash ? .unchanged : .updated
        return (outcome, change.addedChunkIDs.count, warning)
    }

    /// The document a fetched resource holds: an HTML page's main content, a PDF's pages, or text.
    static func document(from resource: WebResource, identity: String, limits: LoaderLimits) throws -> LoadedDocument {
        if resource.isPDF {
            return try DocumentLoader.load(data: resource.body, identity: identity, fileName: "page.pdf", limits: limits)
        }
        if resource.isHTML {
            let parsed = MainContent.extract(html: try resource.text(), url: resource.url)
            let fallback = resource.url.host.map { $0 + resource.url.path } ?? identity
            let title = parsed.title.flatMap { $0.isEmpty ? nil : $0 } ?? fallback
            var warnings = parsed.warnings
            if parsed.blocks.isEmpty { warnings.append("no main content found") }
            return LoadedDocument(path: identity, title: title, format: .html, blocks: parsed.blocks, warnings: warnings)
        }
        let name = resource.url.lastPathComponent.isEmpty ? "page.txt" : resource.url.lastPathComponent
        return try DocumentLoader.load(data: resource.body, identity: identity, fileName: name, limits: limits)
    }
}

/// What a crawl produced, collected from the crawler's concurrent callback.
private final class CrawlLog: @unchecked Sendable {
    enum Entry {
        case page(WebResource, URL)
        case failed(String, String)
    }
    private let lock = NSLock()
    private var counter = 0
    private(set) var entries: [Entry] = []

    func nextNumber() -> Int {
        lock.lock()
        defer { lock.unlock() }
        counter += 1
        return counter
    }

    func append(_ e: Entry) {
        lock.lock()
        entries.append(e)
        lock.unlock()
    }
}
