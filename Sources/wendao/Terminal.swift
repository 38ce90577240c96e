import Foundation
import Logging

/// Text made safe for a terminal. Names, titles and text from documents can hold escape
/// sequences (ESC, BEL, OSC title or hyperlink sequences, C1 controls) and bidirectional
/// overrides that a terminal would obey: a file named `\e]0;pwned\a.md` must not retitle the
/// window, and one named with a newline must not forge a line of output. Human output goes through
/// ``text(_:)`` (``Output`` applies it to everything it writes) and names through ``field(_:)``;
/// `--json` output is exact and never passes through here.
enum Terminal {
    /// `s` with every control character shown as an escape (`\x1b`, `\u{202E}`), except newlines
    /// and tabs, which multi-line text (answers, tables) needs.
    static func text(_ s: String) -> String { escaped(s, keepLines: true) }

    /// `s` on one line: like ``text(_:)``, and newlines, carriage returns and tabs escaped too.
    static func field(_ s: String) -> String { escaped(s, keepLines: false) }

    /// Whether `u` must not reach a terminal raw.
    static func isUnsafe(_ u: Unicode.Scalar, keepLines: Bool) -> Bool {
        switch u.value {
        case 0x0A, 0x09: return !keepLines
        case 0x00...0x1F, 0x7F...0x9F: return true
        // Bidirectional embeddings, overrides and isolates; line and paragraph separators.
        case 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: return true
        default: return false
        }
    }

    static func escaped(_ s: String, keepLines: Bool) -> String {
        guard s.unicodeScalars.contains(where: { isUnsafe($0, keepLines: keepLines) }) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            guard isUnsafe(u, keepLines: keepLines) else {
                out.append(u)
                continue
            }
            let shown: String
            switch u.value {
            case 0x0A: shown = "\\n"
            case 0x0D: shown = "\\r"
            case 0x09: shown = "\\t"
            case 0...0xFF: shown = String(format: "\\x%02x", u.value)
            default: shown = String(format: "\\u{%X}", u.value)
            }
            out.append(contentsOf: shown.unicodeScalars)
        }
        return String(out)
    }
}

/// A log handler that writes to standard error like `StreamLogHandler`, with messages and
/// metadata made terminal-safe (a logged file name cannot carry escape sequences).
struct TerminalSafeLogHandler: LogHandler {
    var inner: StreamLogHandler

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var safe = event
        safe.message = "\(Terminal.field(event.message.description))"
        safe.metadata = event.metadata?.mapValues { Logger.MetadataValue.string(Terminal.field("\($0)")) }
        inner.log(event: safe)
    }
}
