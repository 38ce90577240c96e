import Foundation

/// Folds Traditional Chinese characters to Simplified ones, character by character, so that a
/// query in either script finds text in the other.
///
/// The table is derived once per process from ICU's `Hant-Hans` transliterator (shipped with
/// Foundation), covering the CJK Unified Ideographs block and Extension A; it takes about 30 ms.
public enum ScriptFolding {
    private static let base: UInt32 = 0x3400
    private static let limit: UInt32 = 0xA000

    /// `table[v - base]` is the folded scalar value, or 0 when the character is unchanged.
    private static let table: [UInt32] = {
        var scalars = String.UnicodeScalarView()
        for v in base..<limit {
            if let u = Unicode.Scalar(v) { scalars.append(u) }
        }
        let source = String(scalars)
        var result = [UInt32](repeating: 0, count: Int(limit - base))
        guard let folded = source.applyingTransform(StringTransform("Hant-Hans"), reverse: false),
            folded.unicodeScalars.count == source.unicodeScalars.count
        else { return result }
        for (a, b) in zip(source.unicodeScalars, folded.unicodeScalars) where a != b {
            result[Int(a.value - base)] = b.value
        }
        return result
    }()

    /// Builds the table now (it is otherwise built on first use). The CLI calls this on a
    /// background thread at start-up so that the ~30 ms overlap with reading files.
    public static func prepare() { _ = table.count }

    /// Whether the folding table could be built (ICU transliteration available).
    public static var isAvailable: Bool { table.contains { $0 != 0 } }

    /// The Simplified form of one scalar value (itself when there is none).
    @inline(__always)
    public static func fold(_ v: UInt32) -> UInt32 {
        guard v >= base && v < limit else { return v }
        let f = table[Int(v &- base)]
        return f == 0 ? v : f
    }

    /// The Simplified form of a string, character by character.
    public static func fold(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            out.append(Unicode.Scalar(fold(u.value)) ?? u)
        }
        return String(out)
    }
}
