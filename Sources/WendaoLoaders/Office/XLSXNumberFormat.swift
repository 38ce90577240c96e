import Foundation

// Excel number formats, applied the way Excel displays values: built-in format ids and custom
// format codes (sections, quoted literals, digit placeholders, thousands separators, percent,
// dates and times with serial numbers in the 1900 or 1904 system). Nothing is evaluated.

/// A compiled number format.
struct XLSXNumberFormat: Sendable {
    enum Token: Sendable {
        case literal(String)
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
            if !literal.isEmpty { tokens.append(.literal(literal)) }
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

    /// Formats a cell's raw `<v>` text.
    func format(raw: String, date1904: Bool) -> String {
        switch kind {
        case .general, .text:
            return Self.general(raw)
        case .custom(let sections):
            guard let value = Double(raw) else { return raw }
            var section = sections[0]
            var v = value
            if value < 0, sections.count >= 2, sections[1].hasNumber || !sections[1].tokens.isEmpty {
                section = sections[1]
                v = -value
            } else if value == 0, sections.count >= 3 {
                section = sections[2]
            }
            if section.isDate {
                return Self.formatDate(v, section: section, date1904: date1904) ?? Self.general(raw)
            }
            return Self.formatNumber(v, raw: raw, section: section)
        }
    }

    /// General: integers as they are, other numbers with at most 15 significant digits.
    static func general(_ raw: String) -> String {
        var simple = true
        var digits = 0
        var sawPoint = false
        for (k, c) in raw.utf8.enumerated() {
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
            guard sawPoint else { return raw }
            var s = Substring(raw)
            while s.last == "0" { s = s.dropLast() }
            if s.last == "." { s = s.dropLast() }
            return String(s)
        }
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

    static func formatNumber(_ value: Double, raw: String, section: Section) -> String {
        var v = value
        for _ in 0..<section.percent { v *= 100 }
        for _ in 0..<section.scale { v /= 1000 }
        var number: String
        if section.scientific {
            number = String(format: "%.\(section.decimals)E", v)
        } else {
            number = fixed(abs(v), section: section)
            if v < 0, number.contains(where: { $0 != "0" && $0 != "." && $0 != "," }) { number = "-" + number }
        }
        var out = ""
        for token in section.tokens {
            switch token {
            case .literal(let s): out += s
            case .number: out += number
            case .text: out += general(raw)
            default: break
            }
        }
        if !section.hasNumber { return out.isEmpty ? general(raw) : out }
        return out
    }

    private static func fixed(_ a: Double, section: Section) -> String {
        let d = min(section.decimals, 15)
        var intDigits: String
        var fracDigits: String
        let scaled = a * pow10[d]
        if scaled < 9e15 {
            // Nudge by one part in 10^15 so that 1.005 (stored as 1.00499…) rounds like Excel shows it.
            let n = UInt64((scaled * (1 + 4e-16)).rounded(.toNearestOrAwayFromZero))
            let p = UInt64(pow10[d])
            intDigits = String(n / p)
            fracDigits = d > 0 ? String(n % p) : ""
            if fracDigits.count < d { fracDigits = String(repeating: "0", count: d - fracDigits.count) + fracDigits }
        } else {
            let s = String(format: "%.\(d)f", a)
            let parts = s.split(separator: ".", maxSplits: 1)
            intDigits = String(parts[0])
            fracDigits = parts.count > 1 ? String(parts[1]) : ""
        }
        while fracDigits.count > section.minDecimals, fracDigits.last == "0" { fracDigits.removeLast() }
        if intDigits == "0", section.minInteger == 0 { intDigits = "" }
        if intDigits.count < section.minInteger {
            intDigits = String(repeating: "0", count: section.minInteger - intDigits.count) + intDigits
        }
        if section.grouping, intDigits.count > 3 {
            var grouped = ""
            for (k, ch) in intDigits.enumerated() {
                if k > 0, (intDigits.count - k) % 3 == 0 { grouped.append(",") }
                grouped.append(ch)
            }
            intDigits = grouped
        }
        return fracDigits.isEmpty && section.decimals == 0 ? intDigits
            : fracDigits.isEmpty ? intDigits : intDigits + "." + fracDigits
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

    static func formatDate(_ serial: Double, section: Section, date1904: Bool) -> String? {
        guard serial.isFinite, serial >= 0, serial < 2_958_466 else { return nil }
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
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        var out = ""
        for token in section.tokens {
            switch token {
            case .literal(let s): out += s
            case .year(let n): out += n == 2 ? pad(ymd.year % 100, 2) : String(ymd.year)
            case .month(let n):
                switch n {
                case 1: out += String(ymd.month)
                case 2: out += pad(ymd.month, 2)
                case 3: out += String(monthNames[ymd.month - 1].prefix(3))
                case 5: out += String(monthNames[ymd.month - 1].prefix(1))
                default: out += monthNames[ymd.month - 1]
                }
            case .minute(let n): out += n >= 2 ? pad(minute, 2) : String(minute)
            case .day(let n):
                switch n {
                case 1: out += String(ymd.day)
                case 2: out += pad(ymd.day, 2)
                case 3: out += String(dayNames[weekday].prefix(3))
                default: out += dayNames[weekday]
                }
            case .hour(let n, let elapsed):
                var h = elapsed ? totalSeconds / 3_600 : hour
                if section.hasAMPM, !elapsed {
                    h %= 12
                    if h == 0 { h = 12 }
                }
                out += n >= 2 ? pad(h, 2) : String(h)
            case .elapsedMinute: out += String(totalSeconds / 60)
            case .second(let n, let elapsed):
                let s = elapsed ? totalSeconds : second
                out += n >= 2 ? pad(s, 2) : String(s)
            case .fraction(let n):
                let f = Int((subsecond * pow10[min(n, 9)]).rounded(.down))
                out += "." + pad(f, n)
            case .ampm(let chinese):
                if chinese { out += hour < 12 ? "上午" : "下午" } else { out += hour < 12 ? "AM" : "PM" }
            case .number, .text:
                break
            }
        }
        return out
    }
}
