// HTML character references: numeric (decimal and hex) and the common named ones. Unknown names
// are left as they are.

enum HTMLEntities {
    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}",
        "copy": "©", "reg": "®", "trade": "™", "middot": "·", "mdash": "—", "ndash": "–",
        "hellip": "…", "laquo": "«", "raquo": "»", "ldquo": "\u{201C}", "rdquo": "\u{201D}",
        "lsquo": "\u{2018}", "rsquo": "\u{2019}", "sbquo": "‚", "bdquo": "„", "yen": "¥", "euro": "€",
        "pound": "£", "cent": "¢", "curren": "¤", "sect": "§", "para": "¶", "times": "×",
        "divide": "÷", "deg": "°", "plusmn": "±", "micro": "µ", "frac12": "½", "frac14": "¼",
        "frac34": "¾", "sup1": "¹", "sup2": "²", "sup3": "³", "bull": "•", "prime": "′", "Prime": "″",
        "larr": "←", "rarr": "→", "uarr": "↑", "darr": "↓", "harr": "↔", "lArr": "⇐", "rArr": "⇒",
        "le": "≤", "ge": "≥", "ne": "≠", "asymp": "≈", "equiv": "≡", "infin": "∞", "minus": "−",
        "permil": "‰", "ensp": "\u{2002}", "emsp": "\u{2003}", "thinsp": "\u{2009}",
        "zwj": "\u{200D}", "zwnj": "\u{200C}", "lrm": "\u{200E}", "rlm": "\u{200F}", "shy": "\u{00AD}",
        "iexcl": "¡", "iquest": "¿", "acute": "´", "cedil": "¸", "ordf": "ª", "ordm": "º", "not": "¬",
        "macr": "¯", "uml": "¨", "brvbar": "¦", "dagger": "†", "Dagger": "‡", "loz": "◊",
        "spades": "♠", "clubs": "♣", "hearts": "♥", "diams": "♦", "check": "✓", "star": "☆",
        "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "theta": "θ",
        "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω",
        "Delta": "Δ", "Sigma": "Σ", "Omega": "Ω", "Pi": "Π",
        "Agrave": "À", "Aacute": "Á", "Acirc": "Â", "Atilde": "Ã", "Auml": "Ä", "Aring": "Å",
        "AElig": "Æ", "Ccedil": "Ç", "Egrave": "È", "Eacute": "É", "Ecirc": "Ê", "Euml": "Ë",
        "Igrave": "Ì", "Iacute": "Í", "Icirc": "Î", "Iuml": "Ï", "Ntilde": "Ñ", "Ograve": "Ò",
        "Oacute": "Ó", "Ocirc": "Ô", "Otilde": "Õ", "Ouml": "Ö", "Oslash": "Ø", "Ugrave": "Ù",
        "Uacute": "Ú", "Ucirc": "Û", "Uuml": "Ü", "Yacute": "Ý", "szlig": "ß",
        "agrave": "à", "aacute": "á", "acirc": "â", "atilde": "ã", "auml": "ä", "aring": "å",
        "aelig": "æ", "ccedil": "ç", "egrave": "è", "eacute": "é", "ecirc": "ê", "euml": "ë",
        "igrave": "ì", "iacute": "í", "icirc": "î", "iuml": "ï", "ntilde": "ñ", "ograve": "ò",
        "oacute": "ó", "ocirc": "ô", "otilde": "õ", "ouml": "ö", "oslash": "ø", "ugrave": "ù",
        "uacute": "ú", "ucirc": "û", "uuml": "ü", "yacute": "ý", "yuml": "ÿ",
    ]

    /// Legacy names browsers accept without the closing semicolon.
    static let legacyWithoutSemicolon: Set<String> = ["amp", "lt", "gt", "quot", "nbsp", "copy", "reg"]

    /// Windows-1252 meanings of numeric references 128–159, as browsers decode them.
    static let cp1252: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
        0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ]

    /// Decodes a reference starting with `&` at `i` in scalars; returns the text and the length
    /// consumed, or nil when there is no (known) reference there.
    static func decode(_ s: [Unicode.Scalar], at i: Int) -> (String, Int)? {
        decode(count: s.count, at: i) { s[$0].value }
    }

    /// Decodes a reference starting with `&` at `i` in UTF-8 bytes.
    static func decode(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> (String, Int)? {
        decode(count: b.count, at: i) { UInt32(b[$0]) }
    }

    private static func decode(count n: Int, at i: Int, _ at: (Int) -> UInt32) -> (String, Int)? {
        var j = i + 1
        guard j < n else { return nil }
        if at(j) == 0x23 {  // '#'
            j += 1
            var hex = false
            if j < n, at(j) == 0x78 || at(j) == 0x58 {
                hex = true
                j += 1
            }
            let digitsStart = j
            var value: UInt32 = 0
            var overflow = false
            while j < n, j - digitsStart < 10 {
                let c = at(j)
                let d: UInt32
                if c >= 0x30, c <= 0x39 {
                    d = c - 0x30
                } else if hex, c >= 0x61, c <= 0x66 {
                    d = c - 0x61 + 10
                } else if hex, c >= 0x41, c <= 0x46 {
                    d = c - 0x41 + 10
                } else {
                    break
                }
                let next = value.multipliedReportingOverflow(by: hex ? 16 : 10)
                if next.overflow || next.partialValue > 0x10FFFF {
                    overflow = true
                } else {
                    value = next.partialValue + d
                }
                j += 1
            }
            guard j > digitsStart else { return nil }
            if j < n, at(j) == 0x3B { j += 1 }
            var scalar: UInt32 = overflow || value > 0x10FFFF || value == 0 ? 0xFFFD : value
            if scalar >= 0x80, scalar <= 0x9F { scalar = cp1252[Int(scalar - 0x80)] }
            let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
            return (String(Character(u)), j - i)
        }
        var name = String.UnicodeScalarView()
        while j < n, j - i <= 32 {
            let c = at(j)
            guard c < 0x80, let u = Unicode.Scalar(c), u.properties.isAlphabetic || (c >= 0x30 && c <= 0x39) else {
                break
            }
            name.append(u)
            j += 1
        }
        guard !name.isEmpty else { return nil }
        let key = String(name)
        guard let value = named[key] else { return nil }
        if j < n, at(j) == 0x3B { return (value, j + 1 - i) }
        return legacyWithoutSemicolon.contains(key) ? (value, j - i) : nil
    }
}
