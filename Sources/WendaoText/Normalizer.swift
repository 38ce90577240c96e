import Foundation

/// Text normalisation shared by indexing, querying and display.
///
/// - NFKC (which also folds full-width ASCII to half-width and the ideographic space to a space);
/// - line endings to `\n`; other control characters removed.
///
/// ```swift
/// Normalizer.normalize("ＡＢＣ１２３")  // "ABC123"
/// ```
public enum Normalizer {
    /// Returns the NFKC form of `text`, with control characters other than `\n` and `\t` removed.
    /// ASCII-only input is returned with only the control-character pass.
    public static func normalize(_ text: String) -> String {
        var ascii = true
        var hasControl = false
        for b in text.utf8 {
            if b >= 0x80 {
                ascii = false
            } else if b < 0x20 && b != 0x0A && b != 0x09 {
                hasControl = true
            }
        }
        var s = ascii ? text : text.precomposedStringWithCompatibilityMapping
        if hasControl || !ascii {
            var out = String.UnicodeScalarView()
            var changed = false
            var previousCR = false
            for u in s.unicodeScalars {
                let v = u.value
                if v == 0x0D {
                    out.append("\n")
                    previousCR = true
                    changed = true
                    continue
                }
                if v == 0x0A && previousCR {
                    previousCR = false
                    continue
                }
                previousCR = false
                if (v < 0x20 && v != 0x0A && v != 0x09) || (0x7F...0x9F).contains(v) || v == 0xFEFF || v == 0x200B {
                    changed = true
                    continue
                }
                out.append(u)
            }
            if changed { s = String(out) }
        }
        return s
    }
}
