import Foundation

/// Masks personal data in training text: Chinese mobile numbers, resident identity numbers (18 digits
/// whose check digit is valid, with a real date of birth), bank card numbers (16–19 digits, Luhn-valid,
/// a card-network first digit 3–6) and e-mail addresses.
///
/// **Identifiers are not people.** A number is kept when the words just before it say it is an
/// identifier — 订单号, 运单号, 单号, 快递单, 工单, 编号, 流水号, 发票号, 票号, order, tracking, waybill,
/// invoice, ref, no., # — within 12 characters (`订单号：13812345678` survives, `手机：13812345678` does not).
/// A number glued to letters (`SA13812345678`) or to more digits is never a phone number, so waybill
/// codes survive without a label. Bank cards must start with 3, 4, 5 or 6, which keeps order numbers
/// that begin with a year (`2026…`) out even when they pass Luhn.
///
/// ```swift
/// let r = PIIMasker.mask("手机13812345678，订单号13812345678")
/// // r.text == "手机[PHONE]，订单号13812345678"; r.found.map(\.kind) == [.phone]
/// ```
public enum PIIMasker {
    /// A kind of personal data.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// A Chinese mobile number.
        case phone
        /// A resident identity number.
        case idNumber = "id_number"
        /// A bank card number.
        case bankCard = "bank_card"
        /// An e-mail address.
        case email

        /// What replaces it.
        public var token: String {
            switch self {
            case .phone: "[PHONE]"
            case .idNumber: "[ID_NUMBER]"
            case .bankCard: "[BANK_CARD]"
            case .email: "[EMAIL]"
            }
        }
    }

    /// One masked value, shown without the value itself (`138****5678`).
    public struct Finding: Sendable, Codable, Equatable {
        /// Its kind.
        public var kind: Kind
        /// The value with all but its first three and last four characters starred (e-mail: the first
        /// character and the domain).
        public var preview: String
    }

    /// `text` with personal data masked, and what was found.
    public static func mask(_ text: String) -> (text: String, found: [Finding]) {
        guard text.unicodeScalars.contains(where: { ("0"..."9").contains($0) || $0 == "@" }) else { return (text, []) }
        let ns = text as NSString
        var spans: [(NSRange, Kind)] = []
        func taken(_ r: NSRange) -> Bool { spans.contains { NSIntersectionRange($0.0, r).length > 0 } }
        for m in Patterns.email.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            spans.append((m.range, .email))
        }
        for (pattern, kind) in [(Patterns.id, Kind.idNumber), (Patterns.card, .bankCard), (Patterns.phone, .phone)] {
            for m in pattern.matches(in: text, range: NSRange(location: 0, length: ns.length)) where !taken(m.range) {
                let value = ns.substring(with: m.range)
                let digits = value.filter { $0.isASCII && ($0.isNumber || $0 == "X" || $0 == "x") }
                let valid: Bool
                switch kind {
                case .idNumber: valid = isResidentID(digits)
                case .bankCard: valid = isBankCard(digits)
                case .phone: valid = true
                case .email: valid = false
                }
                guard valid else { continue }
                let before = ns.substring(to: m.range.location)
                if labelledAsIdentifier(String(before.suffix(12))) { continue }
                spans.append((m.range, kind))
            }
        }
        guard !spans.isEmpty else { return (text, []) }
        spans.sort { $0.0.location < $1.0.location }
        var out = ""
        var at = 0
        var found: [Finding] = []
        for (r, kind) in spans {
            out += ns.substring(with: NSRange(location: at, length: r.location - at))
            out += kind.token
            found.append(Finding(kind: kind, preview: preview(ns.substring(with: r), kind: kind)))
            at = r.location + r.length
        }
        out += ns.substring(from: at)
        return (out, found)
    }

    /// A valid 18-character resident identity number: a date of birth that exists and the ISO 7064
    /// MOD 11-2 check character.
    public static func isResidentID(_ s: String) -> Bool {
        let c = Array(s.uppercased())
        guard c.count == 18, c[0..<17].allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        let digits = c[0..<17].map { Int(String($0))! }
        guard (1...8).contains(digits[0]) else { return false }
        let year = digits[6...9].reduce(0) { $0 * 10 + $1 }
        let month = digits[10] * 10 + digits[11]
        let day = digits[12] * 10 + digits[13]
        guard (1900...2100).contains(year), (1...12).contains(month) else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return false }
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        let sum = zip(digits, weights).reduce(0) { $0 + $1.0 * $1.1 }
        let check = Array("10X98765432")[sum % 11]
        return c[17] == check
    }

    /// A bank card number: 16–19 digits, first digit 3–6, Luhn-valid.
    public static func isBankCard(_ s: String) -> Bool {
        let d = s.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
        guard d.count == s.count, (16...19).contains(d.count), (3...6).contains(d[0]) else { return false }
        return luhn(d)
    }

    /// The Luhn checksum holds for `digits`.
    public static func luhn(_ digits: [Int]) -> Bool {
        var sum = 0
        for (i, x) in digits.reversed().enumerated() {
            if i % 2 == 1 {
                let y = x * 2
                sum += y > 9 ? y - 9 : y
            } else {
                sum += x
            }
        }
        return sum % 10 == 0
    }

    /// The text before a number says it is an order, waybill or other identifier.
    static func labelledAsIdentifier(_ before: String) -> Bool {
        let ns = before as NSString
        return Patterns.label.firstMatch(in: before, range: NSRange(location: 0, length: ns.length)) != nil
    }

    static func preview(_ value: String, kind: Kind) -> String {
        if kind == .email, let at = value.firstIndex(of: "@") {
            return String(value.prefix(1)) + "***" + value[at...]
        }
        let c = Array(value.filter { !$0.isWhitespace && $0 != "-" })
        guard c.count > 7 else { return String(repeating: "*", count: c.count) }
        return String(c.prefix(3)) + String(repeating: "*", count: c.count - 7) + String(c.suffix(4))
    }

    enum Patterns {
        static func compile(_ pattern: String, _ options: NSRegularExpression.Options = []) -> NSRegularExpression {
            guard let r = try? NSRegularExpression(pattern: pattern, options: options) else {
                preconditionFailure("invalid built-in pattern \(pattern)")
            }
            return r
        }

        // NSRegularExpression is Sendable (documented thread-safe); these are compiled once.
        static let email = compile(
            #"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}"#
        )
        static let id = compile(
            #"(?<![A-Za-z0-9])[1-8]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![A-Za-z0-9])"#
        )
        static let card = compile(
            #"(?<![A-Za-z0-9\-])[3-6]\d{3}(?:[ \-]?\d{4}){2,3}(?:[ \-]?\d{1,3})?(?![A-Za-z0-9\-])"#)
        static let phone = compile(
            #"(?<![A-Za-z0-9\-+])(?:\+?86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}(?![A-Za-z0-9\-])"#)
        static let label = compile(
            #"(?:订单|运单|单号|快递单|工单|编号|流水号|发票号|票号|order|tracking|waybill|invoice|ref|no\.?|#)\s*(?:号|码|编号)?\s*(?:是|为)?\s*[:：#]?\s*$"#,
            [.caseInsensitive])
    }
}
