/// The Unicode class of a scalar as the pre-tokenizers' regular expressions see it: one general
/// category group (`\p{L}`, `\p{N}`, …) plus the `White_Space` property (`\s`), packed in a byte.
///
/// The groups follow the Unicode general categories: letters (Lu Ll Lt Lm Lo), numbers (Nd Nl No),
/// separators (Zs Zl Zp), marks (Mn Mc Me), punctuation (P*), symbols (S*), controls (Cc Cf Co Cs)
/// and unassigned code points (Cn). Characters added after Unicode 15.1 count as unassigned, as in
/// llama.cpp's tables (so text splits the same whatever Unicode version Swift's runtime knows).
struct ScalarClass: Equatable {
    let raw: UInt8

    static let unassigned: UInt8 = 0
    static let number: UInt8 = 1
    static let letter: UInt8 = 2
    static let separator: UInt8 = 3
    static let mark: UInt8 = 4
    static let punctuation: UInt8 = 5
    static let symbol: UInt8 = 6
    static let control: UInt8 = 7
    static let whitespaceBit: UInt8 = 8

    /// The category group (one of the constants above).
    var group: UInt8 { raw & 7 }
    /// `\s`: the scalar has the Unicode `White_Space` property.
    var isWhitespace: Bool { raw & Self.whitespaceBit != 0 }
    /// `\p{L}`.
    var isLetter: Bool { group == Self.letter }
    /// `\p{N}`.
    var isNumber: Bool { group == Self.number }
    /// `\p{P}`.
    var isPunctuation: Bool { group == Self.punctuation }
    /// `[^\s\p{L}\p{N}]`.
    var isOther: Bool { !isWhitespace && group != Self.letter && group != Self.number }
    /// Which of GPT-2's runs the scalar belongs to: 0 whitespace, 1 `\p{L}`, 2 `\p{N}`, 3 the rest.
    var runKind: UInt8 { isWhitespace ? 0 : group == Self.letter ? 1 : group == Self.number ? 2 : 3 }

    /// The class of `value` (a Unicode scalar value; surrogates and values past U+10FFFF are
    /// controls and unassigned code points respectively).
    static func of(_ value: UInt32) -> ScalarClass {
        if value < 0x1_0000 { return ScalarClass(raw: basicPlane[Int(value)]) }
        return ScalarClass(raw: compute(value))
    }

    /// The classes of the Basic Multilingual Plane, computed once.
    private static let basicPlane: [UInt8] = (0..<UInt32(0x1_0000)).map(compute)

    private static func compute(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else {
            return (0xD800...0xDFFF).contains(value) ? control : unassigned
        }
        let p = scalar.properties
        let whitespace = p.isWhitespace ? whitespaceBit : 0
        if let age = p.age, age.major > 15 || (age.major == 15 && age.minor > 1) { return unassigned | whitespace }
        let group: UInt8
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: group = letter
        case .decimalNumber, .letterNumber, .otherNumber: group = number
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: group = separator
        case .nonspacingMark, .spacingMark, .enclosingMark: group = mark
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            group = punctuation
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: group = symbol
        case .control, .format, .surrogate, .privateUse: group = control
        case .unassigned: group = unassigned
        @unknown default: group = unassigned
        }
        return group | whitespace
    }
}
