import ArgumentParser
import Foundation
import Synchronization
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG
import WendaoWeb

struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Add files and folders to a knowledge base (unchanged files are skipped).",
        discussion: "Exits 1 after finishing the rest when any file failed; the summary names each failure.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Knowledge base name.") var kb: String
    @Argument(help: "Files, folders and http(s) URLs.") var paths: [String]
    @Option(name: .long, help: "Only files matching this glob (repeatable).") var include: [String] = []
    @Option(name: .long, help: "Skip files matching this glob (repeatable).") var exclude: [String] = []
    @Flag(name: .long, help: "Remove documents whose source file is gone from the given folders.") var prune = false
    @Flag(name: .long, help: "Re-ingest files even when unchanged.") var force = false
    @Flag(name: .long, help: "Create the knowledge base if it does not exist.") var create = false
    @Flag(name: .long, help: "Follow links on the same site from each URL (honours robots.txt and sitemap.xml).")
    var crawl = false
    @Option(name: .long, help: "Link depth of a crawl.") var maxDepth = 3
    @Option(name: .long, help: "Most pages fetched per crawled site.") var maxPages = 200

    func run() async throws {
        let app = global.app()
        defer { app.close() }
        let lib = try app.library()
        if create, try lib.store.knowledgeBase(named: kb) == nil {
            try Library.validateName(kb)
            try lib.create(kb)
        }
        let base = try lib.open(kb)
        var options = IngestOptions()
        options.include = include
        options.exclude = exclude
        options.prune = prune
        options.force = force
        let pages = OCRPageProgress()
        options.ocrProgress = { path, done, total in pages.report(path: path, done: done, total: total) }
        guard (0...20).contains(maxDepth), (1...100_000).contains(maxPages) else {
            throw WendaoError(.invalidArgument, "--max-depth must be 0–20 and --max-pages 1–100000")
        }
        let urls = paths.filter(KnowledgeBase.isURL)
        let files = paths.filter { !KnowledgeBase.isURL($0) }
        let bar = ProgressBar(tty: Output.stderrIsTTY)
        var summary = IngestSummary(kb: kb)
        if !files.isEmpty || urls.isEmpty {
            summary = try base.ingest(files, options: options) { bar.handle($0) }
        }
        if !urls.isEmpty {
            var web = WebIngestOptions()
            web.crawl = crawl
            web.crawlOptions.maxDepth = maxDepth
            web.crawlOptions.maxPages = maxPages
            web.fetcher = try Self.fetcher(global)
            let pages = try await base.ingestWeb(urls, options: options, web: web) { bar.handle($0) }
            summary.merge(pages)
        }
        bar.finish()
        if global.json {
            Output.json(summary)
        } else {
            for r in summary.results where r.outcome == .failed {
                Output.line("✗ \(Terminal.field(r.path)): \(Terminal.field(r.reason ?? "failed"))")
            }
            for r in summary.results where r.outcome != .failed && r.reason != nil {
                Output.line("! \(Terminal.field(r.path)): \(Terminal.field(r.reason ?? ""))")
            }
            let mb = Double(summary.bytes) / 1_048_576
            Output.line(
                String(
                    format:
                        "%@: %d files — %d added, %d updated, %d unchanged, %d failed, %d pruned; %d chunks, %.1f MB in %.2fs",
                    summary.kb, summary.files, summary.added, summary.updated, summary.unchanged, summary.failed,
                    summary.pruned, summary.chunks, mb, summary.seconds))
        }
        if summary.failed > 0 { throw ExitCode(1) }
    }
}

extension IngestCommand {
    /// The guarded fetcher, with the allow-list and caps of the configuration file (`web:`).
    static func fetcher(_ global: GlobalOptions) throws -> WebFetcher {
        let setup = try ModelSetup(global: global)
        var limits = WebFetchLimits()
        if let n = setup.configuration.webMaxBytes { limits.maxBodyBytes = n }
        if let t = setup.configuration.webTimeout { limits.totalTimeout = .milliseconds(Int64(t * 1000)) }
        let policy: WebAddressPolicy
        do {
            policy = try WebAddressPolicy(allowList: setup.configuration.webAllow)
        } catch {
            throw WendaoError(.invalidArgument, "web.allow in the configuration: \(error)")
        }
        return WebFetcher(policy: policy, limits: limits)
    }
}

/// OCR progress of long scans on stderr: a line when a file of three or more pages starts, then at
/// most one every five seconds, and when it is done (a 500-page scan takes a while; silence would look
/// like a hang). Called from loader threads.
final class OCRPageProgress: Sendable {
    private let lastLine = Mutex([String: Date]())

    func report(path: String, done: Int, total: Int) {
        guard total >= 3 else { return }
        let now = Date()
        let due = lastLine.withLock { last -> Bool in
            if done > 0, done < total, let t = last[path], now.timeIntervalSince(t) < 5 { return false }
            last[path] = done == total ? nil : now
            return true
        }
        guard due else { return }
        let line = done == 0 ? "OCR \(Terminal.field(path)): \(total) pages" : "OCR \(Terminal.field(path)): page \(done)/\(total)"
        Output.err(Output.stderrIsTTY ? "\r\u{1B}[K" + line : line)
    }
}

/// Progress on stderr: a redrawn bar on a terminal, plain lines otherwise.
final class ProgressBar {
    let tty: Bool
    var totalFiles = 0
    var totalBytes: Int64 = 0
    var files = 0
    var chunks = 0
    var bytes: Int64 = 0
    let started = Date()
    var lastDraw = Date.distantPast

    init(tty: Bool) { self.tty = tty }

    func handle(_ e: IngestEvent) {
        switch e {
        case .planned(let f, let b):
            totalFiles = f
            totalBytes = b
            if !tty { Output.err("ingest: \(f) files, \(String(format: "%.1f", Double(b) / 1_048_576)) MB") }
        case .embedding(let done, let total):
            embedding(done: done, total: total)
        case .file(let path, let outcome, let c, let b, let reason):
            files += 1
            chunks += c
            bytes += b
            if tty {
                if Date().timeIntervalSince(lastDraw) > 0.1 || files == totalFiles { draw() }
            } else {
                let why = reason.map { ": \(Terminal.field($0))" } ?? ""
                Output.err("[\(files)/\(totalFiles)] \(outcome.rawValue) \(Terminal.field(path)) (\(c) chunks)\(why)")
            }
        }
    }

    var embedStarted: Date?
    var lastEmbedReport = -1
    /// Embedding progress while files are still read (chunks embedded, handed over, chunks/s).
    var embedded: (done: Int, total: Int, rate: Double)?

    /// Embedding progress: a redrawn line with chunks/s on a terminal, a line every 10 % otherwise.
    func embedding(done: Int, total: Int) {
        guard total > 0 else { return }
        if done == 0 { embedStarted = nil }  // a new pass (the closing vector sync) starts its own clock
        let start = embedStarted ?? Date()
        embedStarted = start
        let rate = Double(done) / max(Date().timeIntervalSince(start), 0.001)
        embedded = (done, total, rate)
        if tty && files < totalFiles {
            return  // files are still being read: the file bar shows the embedding too
        }
        if tty {
            guard Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
            lastDraw = Date()
            let line = String(format: "\rembedding %d/%d chunks · %.0f chunks/s ", done, total, rate)
            FileHandle.standardError.write(Data(line.utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let step = done * 10 / total
            guard step != lastEmbedReport else { return }
            lastEmbedReport = step
            Output.err(String(format: "embedding: %d/%d chunks (%.0f chunks/s)", done, total, rate))
        }
    }

    func draw() {
        lastDraw = Date()
        let elapsed = max(Date().timeIntervalSince(started), 0.001)
        let rate = Double(bytes) / 1_048_576 / elapsed
        let fraction = totalBytes > 0 ? Double(bytes) / Double(totalBytes) : Double(files) / Double(max(totalFiles, 1))
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let width = 24
        let filled = Int(Double(width) * min(fraction, 1))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        var line = String(
            format: "\r%@ %d/%d files · %d chunks · %.1f MB/s · ETA %.0fs", bar, files, totalFiles, chunks, rate, eta)
        if let e = embedded {
            line += String(format: " · embedded %d/%d (%.0f chunks/s)", e.done, e.total, e.rate)
        }
        FileHandle.standardError.write(Data((line + " ").utf8))
    }

    func finish() {
        if tty && files > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
