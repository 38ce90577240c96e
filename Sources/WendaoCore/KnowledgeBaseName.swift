import Foundation

/// The identity of knowledge-base names, shared by every layer (store, library, server caches,
/// access checks, command line).
///
/// A name is stored and compared in **NFC**, byte for byte. Every entry point turns what it was
/// given into that form first, so the layers cannot disagree: SQLite compares bytes, Swift's
/// `String` compares canonical equivalence, and for NFC strings the two are the same relation
/// (`"\u{212A}unden"`, with KELVIN SIGN, and `"Kunden"` are one name everywhere).
///
/// Names that differ only by case, width or compatibility characters (`Kunden`, `kunden`,
/// `Ｋｕｎｄｅｎ`) are different names, but a new one is refused while a *confusable* one exists
/// (same ``confusableKey(_:)``), and a name may not mix Latin, Greek and Cyrillic letters
/// (`Кunden` with a Cyrillic К). Two tenants can therefore never hold names a person reads as the
/// same.
///
/// ```swift
/// let name = try KnowledgeBaseName.canonical("客服知识库")   // validated, NFC
/// KnowledgeBaseName.confusableKey("Ｋｕｎｄｅｎ") == KnowledgeBaseName.confusableKey("kunden")   // true
/// ```
public enum KnowledgeBaseName {
    /// The longest name, in Unicode scalars (after NFC).
    public static let maxScalars = 64

    /// `raw` in canonical form (NFC) after checking it: 1–64 letters (any script), digits, `-`, `_`
    /// or `.`, starting with a letter or digit, no `..`, no mix of Latin, Greek and Cyrillic.
    public static func canonical(_ raw: String) throws(WendaoError) -> String {
        let name = raw.precomposedStringWithCanonicalMapping
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, scalars.count <= maxScalars else {
            throw WendaoError(.invalidArgument, "knowledge-base name must be 1 to \(maxScalars) characters")
        }
        func isDigit(_ u: Unicode.Scalar) -> Bool { u.value >= 0x30 && u.value <= 0x39 }
        func ok(_ u: Unicode.Scalar) -> Bool {
            u.properties.isAlphabetic || isDigit(u) || u == "-" || u == "_" || u == "."
        }
        guard first.properties.isAlphabetic || isDigit(first), scalars.allSatisfy(ok), !name.contains("..") else {
            throw WendaoError(
                .invalidArgument,
                "invalid knowledge-base name '\(printable(name))': use letters, digits, '-', '_' or '.' "
                    + "(no spaces, slashes or quotes)")
        }
        let scripts = Set(scalars.compactMap(confusableScript))
        guard scripts.count <= 1 else {
            throw WendaoError(
                .invalidArgument,
                "invalid knowledge-base name '\(printable(name))': it mixes \(scripts.sorted().joined(separator: ", ")) "
                    + "letters, which read alike")
        }
        return name
    }

    /// Whether `raw` is a valid name (see ``canonical(_:)``).
    public static func isValid(_ raw: String) -> Bool {
        (try? canonical(raw)) != nil
    }

    /// The key under which names a reader would confuse coincide: compatibility-normalised (NFKC:
    /// full-width and other compatibility characters folded), case-folded and width-folded.
    public static func confusableKey(_ name: String) -> String {
        name.precomposedStringWithCompatibilityMapping
            .folding(options: [.caseInsensitive, .widthInsensitive], locale: nil)
            .precomposedStringWithCompatibilityMapping
    }

    /// Latin, Greek or Cyrillic for letters of those scripts (whose letters look alike), else nil.
    static func confusableScript(_ u: Unicode.Scalar) -> String? {
        guard u.properties.isAlphabetic else { return nil }
        switch u.value {
        case 0x41...0x5A, 0x61...0x7A, 0xAA, 0xBA, 0xC0...0x24F, 0x1E00...0x1EFF, 0xFF21...0xFF3A, 0xFF41...0xFF5A:
            return "Latin"
        case 0x370...0x3FF, 0x1F00...0x1FFF:
            return "Greek"
        case 0x400...0x52F, 0x1C80...0x1C8F, 0x2DE0...0x2DFF, 0xA640...0xA69F:
            return "Cyrillic"
        default:
            return nil
        }
    }

    /// `s` shortened and with control characters escaped, for messages.
    static func printable(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars.prefix(80) {
            if u.properties.generalCategory == .control || u.properties.generalCategory == .format {
                out += String(format: "\\u{%X}", u.value)
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
