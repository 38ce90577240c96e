import ArgumentParser
import Foundation
import WendaoCore
import WendaoRAG

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Add files and folders to a knowledge base (unchanged files are skipped).",
        discussion: "Exits 1 after finishing the rest when any file failed; the summary names each failure.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Knowledge base name.") var kb: String
    @Argument(help: "Files and folders.") var paths: [String]
    @Option(name: .long, help: "Only files matching this glob (repeatable).") var include: [String] = []
    @Option(name: .long, help: "Skip files matching this glob (repeatable).") var exclude: [String] = []
    @Flag(name: .long, help: "Remove documents whose source file is gone from the given folders.") var prune = false
    @Flag(name: .long, help: "Re-ingest files even when unchanged.") var force = false
    @Flag(name: .long, help: "Create the knowledge base if it does not exist.") var create = false

    func run() throws {
        let lib = try global.library()
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
        let bar = ProgressBar(tty: Output.stderrIsTTY)
        let summary = try base.ingest(paths, options: options) { bar.handle($0) }
        bar.finish()
        if global.json {
            Output.json(summary)
        } else {
            for r in summary.results where r.outcome == .failed {
                Output.line("✗ \(r.path.replacingOccurrences(of: "\n", with: "\\n")): \(r.reason ?? "failed")")
            }
            for r in summary.results where r.outcome != .failed && r.reason != nil {
                Output.line("! \(r.path): \(r.reason ?? "")")
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
        case .file(let path, let outcome, let c, let b, let reason):
            files += 1
            chunks += c
            bytes += b
            if tty {
                if Date().timeIntervalSince(lastDraw) > 0.1 || files == totalFiles { draw() }
            } else {
                let why = reason.map { ": \($0)" } ?? ""
                let shown = path.replacingOccurrences(of: "\n", with: "\\n")
                Output.err("[\(files)/\(totalFiles)] \(outcome.rawValue) \(shown) (\(c) chunks)\(why)")
            }
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
        let line = String(
            format: "\r%@ %d/%d files · %d chunks · %.1f MB/s · ETA %.0fs ", bar, files, totalFiles, chunks, rate, eta)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if tty && files > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
