import Foundation

// Excel number formats, applied the way Excel displays values: built-in format ids and custom
// format codes (sections, quoted literals, digit placeholders, thousands separators, percent,
// dates and times with serial numbers in the 1900 or 1904 system). Nothing is evaluated.

/// A compiled number format.
struct XLSXNumberFormat: Sendable {
    enum Token: Sendable {
        /// Literal text as UTF-8.
        case literal([UInt8])
        case year(Int)
        case month(Int)
        case minute(Int)
        case day(Int)
        case hour(Int, elapsed: Bool)
        case elapsedMinute
        case second(Int, elapsed: Bool)
        case fraction(Int)
        case ampm(chinese: Bool)
        case number
        case text
    }

    struct Section: Sendable {
        var tokens: [Token] = []
        var isDate = false
        var hasAMPM = false
        var decimals = 0
        var minDecimals = 0
        var minInteger = 0
        var grouping = false
        var percent = 0
        var scale = 0
        var scientific = false
        var hasNumber = false
    }

    /// What kind of format this is.
    enum Kind: Sendable {
        case general
        case text
        case custom([Section])
    }

    let kind: Kind

    static let general = XLSXNumberFormat(kind: .general)

    /// Built-in formats by id (14 and 22 use ISO-style dates instead of the locale's short date).
    static func builtIn(_ id: Int) -> String? {
        switch id {
        case 1: return "0"
        case 2: return "0.00"
        case 3: return "#,##0"
        case 4: return "#,##0.00"
        case 9: return "0%"
        case 10: return "0.00%"
        case 11: return "0.00E+00"
        case 14: return "yyyy-mm-dd"
        case 15: return "d-mmm-yy"
        case 16: return "d-mmm"
        case 17: return "mmm-yy"
        case 18: return "h:mm AM/PM"
        case 19: return "h:mm:ss AM/PM"
        case 20: return "h:mm"
        case 21: return "h:mm:ss"
        case 22: return "yyyy-mm-dd h:mm"
        case 27, 36, 50: return "yyyy\"年\"m\"月\""
        case 28, 29, 51, 54: return "m\"月\"d\"日\""
        case 30: return "m-d-yy"
        case 31: return "yyyy\"年\"m\"月\"d\"日\""
        case 32, 55: return "h\"时\"mm\"分\""
        case 33, 56: return "h\"时\"mm\"分\"ss\"秒\""
        case 34, 57: return "上午/下午h\"时\"mm\"分\""
        case 35, 58: return "上午/下午h\"时\"mm\"分\"ss\"秒\""
        case 37: return "#,##0 ;(#,##0)"
        case 38: return "#,##0 ;[Red](#,##0)"
        case 39: return "#,##0.00;(#,##0.00)"
        case 40: return "#,##0.00;[Red](#,##0.00)"
        case 45: return "mm:ss"
        case 46: return "[h]:mm:ss"
        case 47: return "mm:ss.0"
        case 48: return "##0.0E+0"
        case 49: return "@"
        default: return nil
        }
    }

    /// Compiles a format code.
    init(code: String) {
        let trimmed = code.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.lowercased() == "general" {
            kind = .general
            return
        }
        if trimmed == "@" {
            kind = .text
            return
        }
        let sections = Self.splitSections(Array(trimmed.unicodeScalars)).prefix(4).map(Self.compile)
        kind = sections.isEmpty ? .general : .custom(Array(sections))
    }

    private init(kind: Kind) { self.kind = kind }

    /// Whether values in this format are dates or times.
    var isDate: Bool {
        if case .custom(let s) = kind { return s.first?.isDate ?? false }
        return false
    }

    private static func splitSections(_ s: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var out: [[Unicode.Scalar]] = [[]]
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\"" {
                out[out.count - 1].append(c)
                i += 1
                while i < s.count, s[i] != "\"" {
                    out[out.count - 1].append(s[i])
                    i += 1
                }
                if i < s.count { out[out.count - 1].append(s[i]) }
            } else if c == "\\", i + 1 < s.count {
                out[out.count - 1] += [c, s[i + 1]]
                i += 1
            } else if c == ";" {
                out.append([])
            } else {
                out[out.count - 1].append(c)
            }
            i += 1
        }
        return out
    }

    private static func compile(_ s: [Unicode.Scalar]) -> Section {
        var section = Section()
        var literal = ""
        var tokens: [Token] = []
        func flush() {
            if !literal.isEmpty { tokens.append(.literal(Array(literal.utf8))) }
            literal = ""
        }
        func run(_ i: Int) -> Int {
            var j = i
            let lower = String(s[i]).lowercased()
            while j < s.count, String(s[j]).lowercased() == lower { j += 1 }
            return j - i
        }
        var numberStarted = false
        var numberEnded = false
        var afterPoint = false
        var i = 0
        while i < s.count {
            let c = s[i]
            let lower = Character(c).lowercased()
            if c == "\"" {
                i += 1
                while i < s.count, s[i] != "\"" {
                    literal.unicodeScalars.append(s[i])
                    i += 1
                }
                i += 1
                continue
            }
            if c == "\\", i + 1 < s.count {
                literal.unicodeScalars.append(s[i + 1])
                i += 2
                continue
            }
            if c == "_" {
                literal += " "
                i += 2
                continue
            }
            if c == "*" {
                i += 2
                continue
            }
            if c == "[" {
                var j = i + 1
                var inner = ""
                while j < s.count, s[j] != "]" {
                    inner.unicodeScalars.append(s[j])
                    j += 1
                }
                let l = inner.lowercased()
                if !l.isEmpty, l.allSatisfy({ $0 == "h" }) {
                    flush()
                    tokens.append(.hour(l.count, elapsed: true))
                    section.isDate = true
                } else if !l.isEmpty, l.allSatisfy({ $0 == "m" }) {
                    flush()
                    tokens.append(.elapsedMinute)
                    section.isDate = true
                } else if !l.isEmpty, l.allSatisfy({ $0 == "s" }) {
                    flush()
                    tokens.append(.second(l.count, elapsed: true))
                    section.isDate = true
                }
                i = j + 1
                continue
            }
            let rest = String(String.UnicodeScalarView(s[i...].prefix(5))).lowercased()
            if rest.hasPrefix("am/pm") || rest.hasPrefix("上午/下午") || rest.hasPrefix("a/p") {
                flush()
                let chinese = rest.hasPrefix("上午")
                tokens.append(.ampm(chinese: chinese))
                section.hasAMPM = true
                i += rest.hasPrefix("a/p") ? 3 : 5
                continue
            }
            if numberStarted, !numberEnded, c == "E" || c == "e", i + 1 < s.count, s[i + 1] == "+" || s[i + 1] == "-" {
                section.scientific = true
                i += 2
                while i < s.count, s[i] == "0" || s[i] == "#" { i += 1 }
                numberEnded = true
                continue
            }
            switch lower {
            case "y", "e":
                flush()
                let n = run(i)
                tokens.append(.year(n > 2 || lower == "e" ? 4 : 2))
                section.isDate = true
                i += n
                continue
            case "m":
                flush()
                let n = run(i)
                tokens.append(.month(n))
                section.isDate = true
                i += n
                continue
            case "d":
                flush()
                let n = run(i)
                tokens.append(.day(n))
                section.isDate = true
                i += n
                continue
            case "h":
                flush()
                let n = run(i)
                tokens.append(.hour(n, elapsed: false))
                section.isDate = true
                i += n
                continue
            case "s":
                flush()
                let n = run(i)
                tokens.append(.second(n, elapsed: false))
                section.isDate = true
                i += n
                continue
            case "g", "b":
                i += run(i)
                continue
            default:
                break
            }
            if c == "@" {
                flush()
                tokens.append(.text)
                i += 1
                continue
            }
            if section.isDate, c == ".", i + 1 < s.count, s[i + 1] == "0" {
                flush()
                var n = 0
                var j = i + 1
                while j < s.count, s[j] == "0" {
                    n += 1
                    j += 1
                }
                tokens.append(.fraction(n))
                i = j
                continue
            }
            let isPlaceholder = c == "0" || c == "#" || c == "?"
            if !numberEnded, isPlaceholder || (numberStarted && (c == "," || c == ".")) || (c == "." && !numberStarted
                && i + 1 < s.count && (s[i + 1] == "0" || s[i + 1] == "#"))
            {
                if !numberStarted {
                    flush()
                    tokens.append(.number)
                    numberStarted = true
                    section.hasNumber = true
                }
                if c == "." {
                    afterPoint = true
                } else if c == "," {
                    let next = i + 1 < s.count ? s[i + 1] : " "
                    if next == "0" || next == "#" || next == "?" { section.grouping = true } else { section.scale += 1 }
                } else if afterPoint {
                    section.decimals += 1
                    if c == "0" { section.minDecimals += 1 }
                } else if c == "0" {
                    section.minInteger += 1
                }
                i += 1
                continue
            }
            if numberStarted { numberEnded = true }
            if c == "%" { section.percent += 1 }
            literal.unicodeScalars.append(c)
            i += 1
        }
        flush()
        // m after h (or before s) is minutes.
        for k in tokens.indices {
            guard case .month(let n) = tokens[k], n <= 2 else { continue }
            var previous: Token?
            for p in stride(from: k - 1, through: 0, by: -1) {
                if case .literal = tokens[p] { continue }
                previous = tokens[p]
                break
            }
            var next: Token?
            for q in (k + 1)..<tokens.count {
                if case .literal = tokens[q] { continue }
                next = tokens[q]
                break
            }
            var isMinute = false
            if case .hour = previous { isMinute = true }
            if case .second = next { isMinute = true }
            if isMinute { tokens[k] = .minute(n) }
        }
        section.tokens = tokens
        return section
    }

    // MARK: - Formatting
    //
    // Formatting writes UTF-8 bytes: the sheet reader appends each value straight into its row
    // text, so a cell costs no string of its own. The String functions wrap the byte ones.

    /// Formats a cell's raw `<v>` text.
    func format(raw: String, date1904: Bool) -> String {
        var copy = raw
        var out: [UInt8] = []
        copy.withUTF8 { append(raw: $0, date1904: date1904, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the formatted value of a cell's raw `<v>` bytes to `out` (UTF-8).
    func append(raw: UnsafeBufferPointer<UInt8>, date1904: Bool, to out: inout [UInt8]) {
        switch kind {
        case .general, .text:
            Self.appendGeneral(raw, to: &out)
        case .custom(let sections):
            guard let value = Self.number(raw) else {
                out.append(contentsOf: raw)
                return
            }
            var k = 0
            var v = value
            if value < 0, sections.count >= 2, sections[1].hasNumber || !sections[1].tokens.isEmpty {
                k = 1
                v = -value
            } else if value == 0, sections.count >= 3 {
                k = 2
            }
            if sections[k].isDate {
                if !Self.appendDate(v, section: sections[k], date1904: date1904, to: &out) {
                    Self.appendGeneral(raw, to: &out)
                }
                return
            }
            Self.appendNumber(v, raw: raw, section: sections[k], to: &out)
        }
    }

    /// The value of a number as `Double(String)` reads it. A plain decimal with at most 15
    /// significant digits and 22 decimals is read here: its digits and the power of ten are both
    /// exact doubles, so the one correctly rounded division gives the double strtod gives.
    /// Anything else goes to the standard library.
    static func number(_ raw: UnsafeBufferPointer<UInt8>) -> Double? {
        let n = raw.count
        let negative = n > 0 && raw[0] == UInt8(ascii: "-")
        var i = negative ? 1 : 0
        var mantissa: UInt64 = 0
        var significant = 0
        var intDigits = 0
        var fracDigits = 0
        var sawPoint = false
        var fast = i < n
        while fast, i < n {
            let c = raw[i]
            if c >= 0x30, c <= 0x39 {
                if mantissa != 0 || c != 0x30 { significant += 1 }
                if sawPoint { fracDigits += 1 } else { intDigits += 1 }
                if significant > 15 || fracDigits > 22 {
                    fast = false
                } else {
                    mantissa = mantissa * 10 + UInt64(c - 0x30)
                }
            } else if c == UInt8(ascii: "."), !sawPoint {
                sawPoint = true
            } else {
                fast = false
            }
            i += 1
        }
        if fast, intDigits > 0, !sawPoint || fracDigits > 0 {
            let v = Double(mantissa) / exactPow10[fracDigits]
            return negative ? -v : v
        }
        return Double(String(decoding: raw, as: UTF8.self))
    }

    /// 10^0 … 10^22, all exact.
    private static let exactPow10: [Double] = {
        var t: [Double] = [1]
        for _ in 1...22 { t.append(t[t.count - 1] * 10) }
        return t
    }()

    /// General: integers as they are, other numbers with at most 15 significant digits.
    static func general(_ raw: String) -> String {
        var copy = raw
        var out: [UInt8] = []
        copy.withUTF8 { appendGeneral($0, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends ``general(_:)`` of the raw bytes to `out`.
    static func appendGeneral(_ raw: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var simple = true
        var digits = 0
        var sawPoint = false
        for k in 0..<raw.count {
            let c = raw[k]
            if c >= 0x30, c <= 0x39 {
                digits += 1
            } else if c == UInt8(ascii: "."), !sawPoint {
                sawPoint = true
            } else if c == UInt8(ascii: "-"), k == 0 {
                continue
            } else {
                simple = false
                break
            }
        }
        if simple, digits > 0, digits <= 15 {
            var end = raw.count
            if sawPoint {
                while end > 0, raw[end - 1] == UInt8(ascii: "0") { end -= 1 }
                if end > 0, raw[end - 1] == UInt8(ascii: ".") { end -= 1 }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: raw[0..<end]))
            return
        }
        out.append(contentsOf: generalRounded(String(decoding: raw, as: UTF8.self)).utf8)
    }

    /// General for what is not a short plain decimal: 15 significant digits, exponent when needed.
    private static func generalRounded(_ raw: String) -> String {
        guard let value = Double(raw) else { return raw }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        let magnitude = abs(value)
        if magnitude >= 1e-4, magnitude < 1e15 {
            // Round to 15 significant digits, then print the shortest form of that double.
            let digits = 14 - Int(log10(magnitude).rounded(.down))
            if digits >= 0, digits < pow10.count {
                let rounded = (value * pow10[digits]).rounded() / pow10[digits]
                let s = rounded.description
                if !s.utf8.contains(UInt8(ascii: "e")) { return s.hasSuffix(".0") ? String(s.dropLast(2)) : s }
            }
        }
        var s = String(format: "%.15g", value)
        if let e = s.firstIndex(where: { $0 == "e" }) {
            var mantissa = s[..<e]
            if mantissa.utf8.contains(UInt8(ascii: ".")) {
                while mantissa.last == "0" { mantissa = mantissa.dropLast() }
                if mantissa.last == "." { mantissa = mantissa.dropLast() }
            }
            s = String(mantissa) + s[e...].uppercased()
        }
        return s
    }

    private static let pow10: [Double] = (0...18).map { pow(10, Double($0)) }

    private static func appendNumber(
        _ value: Double, raw: UnsafeBufferPointer<UInt8>, section: Section, to out: inout [UInt8]
    ) {
        var v = value
        for _ in 0..<section.percent { v *= 100 }
        for _ in 0..<section.scale { v /= 1000 }
        let start = out.count
        for token in section.tokens {
            switch token {
            case .literal(let s):
                out.append(contentsOf: s)
            case .number:
                if section.scientific {
                    out.append(contentsOf: String(format: "%.\(section.decimals)E", v).utf8)
                } else {
                    let at = out.count
                    appendFixed(abs(v), section: section, to: &out)
                    if v < 0, out[at...].contains(where: { $0 != 0x30 && $0 != 0x2E && $0 != 0x2C }) {
                        out.insert(UInt8(ascii: "-"), at: at)
                    }
                }
            case .text:
                appendGeneral(raw, to: &out)
            default:
                break
            }
        }
        if !section.hasNumber, out.count == start { appendGeneral(raw, to: &out) }
    }

    /// Appends `a` (not negative) with the section's decimals, minimum digits and grouping.
    private static func appendFixed(_ a: Double, section: Section, to out: inout [UInt8]) {
        let d = min(section.decimals, 15)
        let scaled = a * pow10[d]
        guard scaled < 9e15 else {
            let s = String(format: "%.\(d)f", a)
            let parts = s.utf8.split(separator: UInt8(ascii: "."), maxSplits: 1)
            var frac = parts.count > 1 ? Array(parts[1]) : []
            while frac.count > section.minDecimals, frac.last == UInt8(ascii: "0") { frac.removeLast() }
            let whole = parts.first.map { Array($0) } ?? []
            whole.withUnsafeBufferPointer { appendInteger($0, section: section, to: &out) }
            if !frac.isEmpty {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: frac)
            }
            return
        }
        // Nudge by one part in 10^15 so that 1.005 (stored as 1.00499…) rounds like Excel shows it.
        let n = UInt64((scaled * (1 + 4e-16)).rounded(.toNearestOrAwayFromZero))
        let p = UInt64(pow10[d])
        var frac = n % p
        var fracLength = d
        while fracLength > section.minDecimals, frac % 10 == 0 {
            frac /= 10
            fracLength -= 1
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            let count = digits(n / p, into: buffer)
            appendInteger(UnsafeBufferPointer(rebasing: buffer[(20 - count)...]), section: section, to: &out)
        }
        if fracLength > 0 {
            out.append(UInt8(ascii: "."))
            appendDigits(frac, width: fracLength, to: &out)
        }
    }

    /// Writes the decimal digits of `v` at the end of `buffer` (20 bytes); returns how many.
    @inline(__always)
    private static func digits(_ v: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var v = v
        var k = buffer.count
        repeat {
            k -= 1
            buffer[k] = UInt8(truncatingIfNeeded: v % 10) + 0x30
            v /= 10
        } while v > 0
        return buffer.count - k
    }

    /// Appends the decimal digits of `v`, zero-padded on the left to `width` (byte by byte: the
    /// numbers are short).
    private static func appendDigits(_ v: UInt64, width: Int, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            let count = digits(v, into: buffer)
            var pad = width - count
            while pad > 0 {
                out.append(UInt8(ascii: "0"))
                pad -= 1
            }
            for k in (20 - count)..<20 { out.append(buffer[k]) }
        }
    }

    /// Appends the integer digits: a lone 0 dropped when the format has no `0` before the point,
    /// zero-padded to the minimum digits, grouped by thousands when asked.
    private static func appendInteger(_ digits: UnsafeBufferPointer<UInt8>, section: Section, to out: inout [UInt8]) {
        var count = digits.count
        if count == 1, digits[0] == UInt8(ascii: "0"), section.minInteger == 0 { count = 0 }
        let total = max(count, section.minInteger)
        let pad = total - count
        let group = section.grouping && total > 3
        for k in 0..<total {
            if group, k > 0, (total - k) % 3 == 0 { out.append(UInt8(ascii: ",")) }
            out.append(k < pad ? UInt8(ascii: "0") : digits[k - pad])
        }
    }

    /// Appends `n` zero-padded to `width` (as `String(n)` padded on the left with zeros).
    private static func appendInt(_ n: Int, width: Int, to out: inout [UInt8]) {
        guard n >= 0 else {
            let s = String(n).utf8
            if s.count < width { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - s.count)) }
            out.append(contentsOf: s)
            return
        }
        appendDigits(UInt64(n), width: width, to: &out)
    }
    /// Civil date from a day count since 1970-01-01 (proleptic Gregorian).
    static func civil(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static let monthNames = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ]
    private static let dayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    /// Appends the date or time; false (nothing appended) when the serial is out of range.
    static func appendDate(_ serial: Double, section: Section, date1904: Bool, to out: inout [UInt8]) -> Bool {
        guard serial.isFinite, serial >= 0, serial < 2_958_466 else { return false }
        var whole = Int(serial.rounded(.down))
        let fractionSeconds = (serial - Double(whole)) * 86_400
        var seconds = Int(fractionSeconds.rounded())
        if seconds >= 86_400 {
            seconds -= 86_400
            whole += 1
        }
        let subsecond = fractionSeconds - fractionSeconds.rounded(.down)
        // Day 0 of the 1900 system is 1899-12-31; day 60 is the fictitious 1900-02-29.
        var ymd: (year: Int, month: Int, day: Int)
        var weekday: Int
        if date1904 {
            let days = whole - 24_107  // 1904-01-01 is 24,107 days before 1970-01-01
            ymd = civil(days)
            weekday = ((days % 7) + 11) % 7
        } else if whole == 60 {
            ymd = (1900, 2, 29)
            weekday = 3
        } else {
            let days = whole - (whole < 60 ? 25_568 : 25_569)
            ymd = civil(days)
            weekday = ((days % 7) + 11) % 7
        }
        let totalSeconds = whole * 86_400 + seconds
        let hour = seconds / 3_600
        let minute = (seconds % 3_600) / 60
        let second = seconds % 60
        for token in section.tokens {
            switch token {
            case .literal(let s): out.append(contentsOf: s)
            case .year(let n): appendInt(n == 2 ? ymd.year % 100 : ymd.year, width: n == 2 ? 2 : 0, to: &out)
            case .month(let n):
                switch n {
                case 1: appendInt(ymd.month, width: 0, to: &out)
                case 2: appendInt(ymd.month, width: 2, to: &out)
                case 3: out.append(contentsOf: monthNames[ymd.month - 1].utf8.prefix(3))
                case 5: out.append(contentsOf: monthNames[ymd.month - 1].utf8.prefix(1))
                default: out.append(contentsOf: monthNames[ymd.month - 1].utf8)
                }
            case .minute(let n): appendInt(minute, width: n >= 2 ? 2 : 0, to: &out)
            case .day(let n):
                switch n {
                case 1: appendInt(ymd.day, width: 0, to: &out)
                case 2: appendInt(ymd.day, width: 2, to: &out)
                case 3: out.append(contentsOf: dayNames[weekday].utf8.prefix(3))
                default: out.append(contentsOf: dayNames[weekday].utf8)
                }
            case .hour(let n, let elapsed):
                var h = elapsed ? totalSeconds / 3_600 : hour
                if section.hasAMPM, !elapsed {
                    h %= 12
                    if h == 0 { h = 12 }
                }
                appendInt(h, width: n >= 2 ? 2 : 0, to: &out)
            case .elapsedMinute: appendInt(totalSeconds / 60, width: 0, to: &out)
            case .second(let n, let elapsed):
                appendInt(elapsed ? totalSeconds : second, width: n >= 2 ? 2 : 0, to: &out)
            case .fraction(let n):
                let f = Int((subsecond * pow10[min(n, 9)]).rounded(.down))
                out.append(UInt8(ascii: "."))
                appendInt(f, width: n, to: &out)
            case .ampm(let chinese):
                if chinese {
                    out.append(contentsOf: (hour < 12 ? "上午" : "下午").utf8)
                } else {
                    out.append(contentsOf: (hour < 12 ? "AM" : "PM").utf8)
                }
            case .number, .text:
                break
            }
        }
        return true
    }
}
