import Foundation
import Synchronization
import WendaoModels

/// A download's progress on standard error: one line rewritten in place on a terminal
/// (`  41.3%  406.0 / 983.0 MB  12.4 MB/s  resumed at 120.0 MB`), else a line at every tenth (or every
/// 30 s) so logs stay short.
final class DownloadProgressLine: Sendable {
    private let interactive: Bool
    private struct State {
        var shown = false
        var lastTenth = -1
        var lastLine = ContinuousClock.now
    }
    private let state = Mutex(State())

    init(interactive: Bool) { self.interactive = interactive }

    func show(_ p: DownloadProgress) {
        let text = Self.describe(p)
        state.withLock { s in
            if interactive {
                FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)".utf8))
                s.shown = true
                return
            }
            let tenth = p.fraction.map { Int($0 * 10) } ?? -1
            let now = ContinuousClock.now
            guard tenth != s.lastTenth || now - s.lastLine >= .seconds(30) else { return }
            s.lastTenth = tenth
            s.lastLine = now
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// Ends the rewritten line (before other output).
    func finish() {
        state.withLock { s in
            if s.shown { FileHandle.standardError.write(Data("\n".utf8)) }
            s.shown = false
        }
    }

    static func describe(_ p: DownloadProgress) -> String {
        func mb(_ b: Int64) -> String { String(format: "%.1f", Double(b) / 1_000_000) }
        var text = ""
        if let f = p.fraction { text += String(format: "%5.1f%%  ", f * 100) }
        text += mb(p.received)
        if let t = p.total { text += " / " + mb(t) }
        text += " MB  " + String(format: "%.1f MB/s", p.bytesPerSecond / 1_000_000)
        if p.resumedFrom > 0 { text += "  resumed at \(mb(p.resumedFrom)) MB" }
        return "  " + text
    }
}
