import Foundation
import WendaoText

/// What a question asks for — an amount, a temperature, a time, a list of steps, a document to
/// bring — and whether a sentence holds it. Used by ``ExtractiveAnswerer`` to pick the sentence that
/// states the fact and to say "not found" when no passage holds what was asked.
///
/// Detection reads cue words in Chinese and English (`多少钱`, `几度`, `多久`, `how much`, `what
/// temperature`); holding is decided by the values of a sentence: a number (digits or Chinese
/// numerals, `36`, `2,000`, `0.5`, `二十`) and the unit right after it (`元`, `℃`, `天`, `kg`, `%`).
///
/// ```swift
/// let intent = QuestionIntent("冷链运输温度是多少？")       // wants a temperature
/// intent.isHeld(by: "冷藏 SVC-CC-02 2℃–8℃ 鲜奶")           // true
/// intent.isHeld(by: "每个保温箱内置温度记录仪。")            // false
/// ```
public struct QuestionIntent: Sendable, Equatable {
    /// A kind of fact a question can ask for.
    public enum Kind: String, Sendable, CaseIterable {
        /// A price, fee, rate, discount or compensation (`元`, `%`, `折`, `倍`, "free").
        case amount
        /// A temperature (`℃`).
        case temperature
        /// A duration or deadline (`天`, `小时`, `工作日`, "days").
        case duration
        /// A time of day (`8:00`, `9 点`).
        case clock
        /// A date (`2 月 15 日`, `2026 年`).
        case date
        /// A weight, size or volume (`kg`, `cm`, `ml`, `Wh`).
        case measure
        /// A count (`瓶`, `个`, `票`, "pieces").
        case count
        /// A phone number or an e-mail address.
        case contact
        /// Any number (a bare `多少` / `几`).
        case number
        /// What to do: a procedure.
        case steps
        /// What to bring or provide.
        case documents
        /// Whether something is allowed or available.
        case yesNo
    }

    /// The kinds asked for (empty: a general question).
    public var kinds: Set<Kind>

    /// The measure word a count question names (`名` in "多少名员工"), when it is specific: a count
    /// is then held only by a number with that measure word (or one of the same class: `名`, `位`,
    /// `人` count people; `位` also counts digits), not by any number ("12 位数字" does not say how many staff).
    public var measureWord: String?

    /// Whether the question asks for a rate or a share (`费率`, `比例`, `几折`, "percentage"): a
    /// percentage or a discount answers it, not the amounts of a worked example beside it.
    public var asksRate = false

    /// A limit a question asks for: the most or the least.
    public enum Bound: String, Sendable {
        /// The most, the highest, the maximum (`最多`, `上限`, "maximum").
        case upper
        /// The least, the lowest, the minimum (`最低`, `至少`, "minimum").
        case lower
    }

    /// The limit asked for, when the question asks for the most or the least of an amount, a measure
    /// or a count: it is held only by a sentence that states a limit of that side ("最低收费 1 元"
    /// does not answer "最多收多少").
    public var bound: Bound?

    static let upperQuestionCues = [
        "最多", "最高", "上限", "最大", "最重", "封顶", "maximum", "at most", "the most", "largest", "highest", "heaviest",
        "biggest",
    ]
    static let lowerQuestionCues = [
        "最低", "最少", "至少", "起码", "minimum", "at least", "the least", "lowest", "smallest", "cheapest",
    ]
    static let upperCues = [
        "最高", "最多", "上限", "超过", "以内", "以下", "封顶", "最大", "最长", "最重", "至多", "不大于", "不高于", "限", "maximum", "max ", "up to",
        "no more than", "at most", "exceed", "not more than", "limit", "within", "over ", "under ",
    ]
    static let lowerCues = [
        "最低", "最少", "至少", "不低于", "不少于", "以上", "起步", "起价", "起寄", "起收", "满", "minimum", "min ", "at least", "from ",
        "starting",
    ]

    /// The destination a question names after a verb of sending (`寄到日本`, `寄往香港`): a
    /// sentence answers only when it, its heading or its document names that place too — the
    /// rates for one destination do not answer for another.
    public var destination: String?

    /// True when the question asks about international shipping (`国际件`, `跨境`, "international"):
    /// a sentence answers only when it, its heading or its document is about international shipping
    /// too — a domestic rate or cap does not answer for an international one.
    public var isInternational = false

    static let internationalCues = [
        "国际", "跨境", "境外", "海外", "出境", "清关", "international", "cross-border", "overseas", "abroad", "customs",
    ]

    /// True when `context` (a sentence with its heading and document) names the question's
    /// destination and, for an international question, is about international shipping.
    public func isInScope(_ context: String) -> Bool {
        guard destination != nil || isInternational else { return true }
        let c = ScriptFolding.fold(Self.normalise(context))
        if let destination, !c.contains(destination) { return false }
        if isInternational, !Self.internationalCues.contains(where: { c.contains($0) }) { return false }
        return true
    }

    static let sendingVerbs = ["寄到", "寄往", "发往", "运往", "送往", "邮寄到", "快递到"]
    static let destinationStops = [
        "的", "要", "大概", "大约", "一般", "需要", "需", "是", "有", "多", "几", "首", "国际", "快递", "什么", "怎么", "吗", "能", "会",
        "属于", "运费", "收", "得", "还", "可以", "可", "怎", "呢", "该", "最", "包裹", "东西", "件", "时", "用", "走",
    ]

    static let genericPlaceStarts = [
        "了", "账", "另", "别", "其", "一", "这", "那", "哪", "某", "外", "本", "同", "国外", "海外", "境外", "任", "各", "所有",
    ]

    /// The place named after a verb of sending, up to the next function word (2–6 characters).
    static func destination(in q: String) -> String? {
        var starts = sendingVerbs.compactMap { q.range(of: $0)?.upperBound }
        // "寄一个包裹到南非": 到 after 寄.
        if let send = q.range(of: "寄"), let to = q[send.upperBound...].range(of: "到") { starts.append(to.upperBound) }
        for start in starts {
            var place = ""
            var rest = q[start...]
            while let c = rest.first, let u = c.unicodeScalars.first, u.value >= 0x3400 && u.value <= 0x9FFF,
                !destinationStops.contains(where: { rest.hasPrefix($0) })
            {
                place.append(c)
                rest = rest.dropFirst()
                if place.count == 6 { break }
            }
            // "另一个城市", "外省", "国外", "本市" name no particular place: other words say the same
            // ("跨城", "跨省", "国际", "同城").
            if place.count >= 2, !genericPlaceStarts.contains(where: { place.hasPrefix($0) }) { return place }
        }
        return nil
    }

    /// Specific Chinese measure words, each with those that count the same things.
    static let measureWords: [String: Set<String>] = [
        "名": ["名", "人"], "位": ["名", "位", "人"], "人": ["名", "人"], "家": ["家"], "台": ["台"],
        "辆": ["辆", "台"], "种": ["种", "类"], "条": ["条"], "瓶": ["瓶"], "张": ["张"], "件": ["件"], "票": ["票", "单"],
        "箱": ["箱"], "层": ["层", "楼"],
    ]

    /// Kinds that only a sentence holding a matching value answers.
    static let valueKinds: Set<Kind> = [
        .amount, .temperature, .duration, .clock, .date, .measure, .count, .contact, .number,
    ]

    /// True when the question asks for a value: an answer must hold one.
    public var wantsValue: Bool { !kinds.isDisjoint(with: Self.valueKinds) }

    /// Reads what `question` asks for.
    public init(_ question: String) {
        var q = Self.normalise(question)
        // "那几天", "好几个" name an amount without asking for one.
        for phrase in ["那几", "这几", "好几", "前几", "头几", "最后几"] { q = q.replacingOccurrences(of: phrase, with: "") }
        var k = Set<Kind>()
        func any(_ cues: [String]) -> Bool { cues.contains { q.contains($0) } }
        if any(["温度", "几度", "多少度", "度数", "℃", "temperature", "how cold", "how warm", "degrees"]) {
            k.insert(.temperature)
        }
        if any([
            "多久", "多长时间", "多少时间", "几天", "多少天", "几个小时", "多少小时", "几小时", "几个工作日", "时效", "期限", "最晚", "有效期",
            "多快", "几个月", "how long", "how many days", "how many hours", "how soon", "deadline", "how quickly",
        ]) {
            k.insert(.duration)
        }
        if any(["几点", "营业时间", "开门", "关门", "几时", "服务时间", "上班时间", "what time", "opening hours", "open until"]) {
            k.insert(.clock)
        }
        if any([
            "哪天", "哪一天", "几号", "什么时候", "何时", "哪一年", "哪年", "几月", "日期", "when", "what date", "which day", "which year",
        ]) {
            k.formUnion([.date, .duration, .clock])
        }
        if any([
            "多重", "多大", "多长", "多高", "多宽", "几公斤", "多少公斤", "多少斤", "几斤", "多少kg", "尺寸", "容量", "多少毫升", "几毫升", "多少升",
            "最重", "how heavy", "how big", "how large", "weight limit", "size limit", "dimensions", "capacity",
            "how many kg",
            "how many ml",
        ]) {
            k.insert(.measure)
        }
        if any(["几个", "几瓶", "几件", "几次", "几票", "几张", "多少个", "多少件", "多少票", "多少瓶", "多少次", "几位", "how many"]) {
            k.insert(.count)
        }
        let money = any([
            "钱", "费", "价", "贵", "便宜", "赔", "折", "补偿", "退多少", "cost", "price", "fee", "charge", "pay", "refund",
            "compensat", "surcharge", "discount", "rate", "expensive", "cheap",
        ])
        let asksQuantity = any([
            // "怎么算" asks for the method, not only the amount: it does not make a value question.
            "多少", "几", "怎么收", "如何收", "收费标准", "how much", "what is the",
            "what's the", "what are the",
        ])
        // A question that already asks for a time, a size or a count asks for money only in so many
        // words ("免费放几天" asks for days).
        let specific = !k.isDisjoint(with: [.temperature, .duration, .clock, .measure, .count])
        let strongMoney = any([
            "多少钱", "几块", "收费", "怎么收", "价格", "价钱", "收钱", "要钱", "加钱", "交钱", "付钱", "cost", "price", "fee",
            "charge",
        ])
        if money && (specific ? strongMoney : (asksQuantity || strongMoney)) { k.insert(.amount) }
        // "How much is a large box?" asks a price in English unless it asks for a size or a time.
        if !specific, any(["how much is", "how much are", "how much for", "how much will", "how much would"]) {
            k.insert(.amount)
        }
        if any(["比例", "费率", "几个点", "百分之", "税率", "几折", "percent", "percentage"]) {
            k.insert(.amount)
            asksRate = true
        }
        if any(["电话", "热线", "号码", "邮箱", "联系方式", "怎么联系", "phone", "hotline", "e-mail", "email", "contact"]) {
            k.insert(.contact)
        }
        if k.isDisjoint(with: Self.valueKinds), any(["多少", "几", "how much", "how many"]) { k.insert(.number) }
        if any([
            "怎么办", "怎么申请", "如何申请", "怎么操作", "如何操作", "如何办理", "怎么办理", "流程", "步骤", "怎么理赔", "如何理赔", "怎么处理",
            "如何处理", "怎么弄", "怎么预约", "如何预约", "怎么查", "如何查", "what should i do", "how do i", "how can i", "how to",
            "process", "procedure",
        ]) {
            k.insert(.steps)
        }
        if any([
            "材料", "资料", "单据", "证件", "单证", "带什么", "准备什么", "提供什么", "提交什么", "需要什么", "要什么", "documents", "paperwork",
            "what do i need",
        ]) {
            k.insert(.documents)
        }
        if any([
            "能不能", "可不可以", "可以吗", "能吗", "行吗", "是否", "能否", "有没有", "会不会", "要不要", "吗", "can i", "can you", "is it",
            "are there", "do you", "does it", "is there", "allowed",
        ]) {
            k.insert(.yesNo)
        }
        // "多少名", "几家": a count in a specific measure word.
        let scalars = Array(q.unicodeScalars)
        for (i, u) in scalars.enumerated() where u == "几" || (u == "少" && i > 0 && scalars[i - 1] == "多") {
            var j = i + 1
            while j < scalars.count && scalars[j] == " " { j += 1 }
            guard j < scalars.count else { continue }
            let w = String(scalars[j])
            if Self.measureWords[w] != nil {
                // "几位数" asks how many digits: any number of digits answers with 位.
                measureWord = w
                k.insert(.count)
                k.remove(.number)
                break
            }
        }
        // A question for a format ("子单号长什么样？") is answered by an example: a code or a number.
        if k.isDisjoint(with: Self.valueKinds),
            any(["什么格式", "格式是", "长什么样", "什么样子", "啥样", "what format", "look like", "what does it look"])
        {
            k.insert(.number)
        }
        // "What is the maximum …?" asks for a value even without a unit word.
        if k.isDisjoint(with: Self.valueKinds),
            any(["最多", "最高", "上限", "最低", "最少", "至少", "封顶", "起码", "maximum", "minimum", "at most", "at least"])
        {
            k.insert(.number)
        }
        kinds = k
        destination = Self.destination(in: ScriptFolding.fold(q))
        isInternational = Self.internationalCues.contains { q.contains($0) }
        if !k.isDisjoint(with: [.amount, .measure, .count, .number]) {
            let upper = any(Self.upperQuestionCues)
            let lower = any(Self.lowerQuestionCues)
            if upper != lower { bound = upper ? .upper : .lower }
        }
    }

    /// True when `text` holds a value of a kind asked for (always true for a question that asks for
    /// no value).
    public func isHeld(by text: String) -> Bool {
        guard wantsValue else { return true }
        var held = Self.kindsHeld(by: text)
        if let w = measureWord, let same = Self.measureWords[w], held.contains(.count),
            !Self.hasNumber(in: text, followedBy: same)
        {
            held.remove(.count)
        }
        if let bound {
            let t = Self.normalise(text)
            let cues = bound == .upper ? Self.upperCues : Self.lowerCues
            if !cues.contains(where: { t.contains($0) }) { return false }
        }
        return !held.isDisjoint(with: kinds)
    }

    /// True when `text` has a number (digits or Chinese numerals) followed by one of `words`.
    static func hasNumber(in text: String, followedBy words: Set<String>) -> Bool {
        let s = Array(text.unicodeScalars)
        var previousIsNumber = false
        for u in s {
            if u == " " { continue }
            if previousIsNumber && words.contains(String(u)) { return true }
            previousIsNumber = (u.value >= 0x30 && u.value <= 0x39) || chineseNumerals.contains(u.value) || u == ","
        }
        return false
    }

    /// Lowercased, NFKC-like folding of the few characters cue words care about.
    static func normalise(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.lowercased().unicodeScalars {
            switch u.value {
            case 0xFF01...0xFF5E: out.append(Unicode.Scalar(u.value - 0xFEE0)!)
            case 0x3000: out.append(" ")
            default: out.append(u)
            }
        }
        return String(out)
    }

    // MARK: - Values

    static let amountUnits = ["元", "块", "角", "%", "折", "倍", "yuan", "rmb", "cny", "percent"]
    static let amountPrefixes = ["¥", "￥", "cny", "rmb", "$", "us$"]
    static let amountWords = [
        "百分之",
        "免费", "不收", "不另收", "无需付", "不需要付", "不用付", "全额退", "退还", "free of charge", "no charge", "free",
    ]
    static let temperatureUnits = ["℃", "°c", "度", "°"]
    static let durationUnits = [
        "个工作日", "工作日", "天", "日", "小时", "个小时", "分钟", "个月", "月", "年", "周", "星期", "秒", "working day", "day", "hour",
        "minute",
        "week", "month", "year",
    ]
    static let durationWords = ["当日", "当天", "次日", "隔日", "即时", "立即", "同日", "same day", "next day"]
    static let clockUnits = ["点", "时"]
    static let measureUnits = [
        "kg", "公斤", "千克", "斤", "克", "cm", "厘米", "毫米", "mm", "立方米", "平方米", "米", "ml", "毫升", "升", "wh", "mah", "km", "公里",
        "g", "m", "l", "v",
    ]
    static let countUnits = [
        "个", "瓶", "件", "次", "票", "张", "位", "台", "块", "箱", "包", "单", "份", "人", "名", "家", "辆", "只", "条", "层", "piece",
        "item",
        "bottle", "time", "parcel", "shipment",
    ]

    /// Which value kinds `text` holds.
    static func kindsHeld(by text: String) -> Set<Kind> {
        let s = Array(normalise(text).unicodeScalars)
        var held = Set<Kind>()
        let lower = String(String.UnicodeScalarView(s))
        if amountWords.contains(where: { lower.contains($0) }) { held.insert(.amount) }
        if durationWords.contains(where: { lower.contains($0) }) { held.insert(.duration) }
        if lower.contains("@") { held.insert(.contact) }
        var i = 0
        while i < s.count {
            let v = s[i].value
            let isDigit = v >= 0x30 && v <= 0x39
            let isHan = chineseNumerals.contains(v)
            guard isDigit || isHan else {
                i += 1
                continue
            }
            // A number: digits with inner separators (2,000 · 0.5 · 8:00 · 400-820-5566), or Chinese numerals.
            var j = i
            var digits = 0
            var colon = false
            var dash = 0
            if isDigit {
                while j < s.count {
                    let w = s[j].value
                    if w >= 0x30 && w <= 0x39 {
                        digits += 1
                        j += 1
                    } else if (w == 0x2C || w == 0x2E || w == 0x3A || w == 0x2D) && j + 1 < s.count
                        && s[j + 1].value >= 0x30 && s[j + 1].value <= 0x39
                    {
                        if w == 0x3A { colon = true }
                        if w == 0x2D { dash += 1 }
                        j += 1
                    } else {
                        break
                    }
                }
            } else {
                while j < s.count, chineseNumerals.contains(s[j].value) { j += 1 }
            }
            if isDigit {
                if colon { held.insert(.clock) }
                if digits >= 7 && (dash >= 1 || digits >= 10) { held.insert(.contact) }
                held.insert(.number)
            }
            // Text right before and after the number (spaces skipped).
            var k = j
            while k < s.count && s[k].value == 0x20 { k += 1 }
            let after = String(String.UnicodeScalarView(s[k..<min(s.count, k + 12)]))
            var b = i
            while b > 0 && s[b - 1].value == 0x20 { b -= 1 }
            let before = String(String.UnicodeScalarView(s[max(0, b - 4)..<b]))
            func unit(_ units: [String]) -> Bool {
                units.contains { u in
                    guard after.hasPrefix(u) else { return false }
                    // A Latin unit must end there ("m" is not "more").
                    guard let last = u.unicodeScalars.last, last.value < 0x80, last.properties.isAlphabetic else {
                        return true
                    }
                    let rest = after.unicodeScalars.dropFirst(u.unicodeScalars.count)
                    guard let next = rest.first else { return true }
                    return !(next.properties.isAlphabetic && next.value < 0x80) || next == "s"
                }
            }
            let hanNumber = !isDigit
            if hanNumber && j - i == 1 && (s[i].value == 0x4E00) && !unit(amountUnits) {
                // A lone 一 is rarely a number ("一律", "一票多件").
                i = j
                continue
            }
            if hanNumber { held.insert(.number) }
            if unit(amountUnits) || amountPrefixes.contains(where: { before.hasSuffix($0) }) { held.insert(.amount) }
            if unit(temperatureUnits) { held.insert(.temperature) }
            // A year ("2026 年") and a day of a month ("5 月 1 日") are dates, not durations ("3 年",
            // "3 个月", "7 日内" are).
            let yearLike = digits == 4 && after.hasPrefix("年")
            let dayOfMonth =
                (after.hasPrefix("月") && !after.hasPrefix("月内"))
                || (after.hasPrefix("日") && !after.hasPrefix("日内") && !after.hasPrefix("日之内")
                    && !after.hasPrefix("日以内"))
            if unit(durationUnits) && !yearLike && !dayOfMonth { held.insert(.duration) }
            if unit(clockUnits) { held.insert(.clock) }
            if unit(measureUnits) { held.insert(.measure) }
            if unit(countUnits) { held.insert(.count) }
            if after.hasPrefix("月") || after.hasPrefix("日") || after.hasPrefix("号")
                || (digits == 4 && after.hasPrefix("年"))
            {
                held.insert(.date)
            }
            i = j
        }
        // A temperature can come first in its own notation ("-18℃" has its sign before the number).
        if lower.contains("℃") { held.insert(.temperature) }
        return held
    }

    /// Chinese numeral characters: 〇零一二两三四五六七八九十百千万半.
    static let chineseNumerals: Set<UInt32> = [
        0x3007, 0x96F6, 0x4E00, 0x4E8C, 0x4E24, 0x4E09, 0x56DB, 0x4E94, 0x516D, 0x4E03, 0x516B, 0x4E5D, 0x5341, 0x767E,
        0x5343, 0x4E07, 0x534A,
    ]
}

/// Table rows as readable sentences.
enum RowText {
    /// `区域: 二区 | 首重（1kg）: 15 元 | 续重（每 kg）: 7 元` → `二区：首重（1kg）15 元，续重（每 kg）7 元。` (English
    /// rows: `Zone 2: First kg (CNY) 15, Each additional kg (CNY) 7.`); nil when `line` is not a row.
    static func readable(_ line: String) -> String? {
        let cells = line.components(separatedBy: " | ")
        guard cells.count >= 2 else { return nil }
        var pairs: [(name: String, value: String)] = []
        for c in cells {
            if let r = c.range(of: ": ") {
                pairs.append((String(c[..<r.lowerBound]), String(c[r.upperBound...])))
            } else {
                pairs.append(("", c))
            }
        }
        // A row repeats its header: most cells are `name: value`.
        guard pairs.filter({ !$0.name.isEmpty }).count * 2 >= pairs.count else { return nil }
        let values = pairs.map(\.value).filter { !$0.isEmpty && $0 != "—" && $0 != "-" && $0 != "–" }
        guard !values.isEmpty else { return nil }
        let cjk = line.unicodeScalars.contains { $0.value >= 0x3000 }
        let subject = pairs[0].value
        var rest: [String] = []
        for p in pairs.dropFirst() where !p.value.isEmpty && p.value != "—" && p.value != "-" && p.value != "–" {
            if p.name.isEmpty {
                rest.append(p.value)
            } else {
                rest.append(p.name + " " + p.value)
            }
        }
        if rest.isEmpty { return subject }
        _ = values
        return cjk
            ? subject + "：" + rest.joined(separator: "，") + "。" : subject + ": " + rest.joined(separator: ", ") + "."
    }
}

extension RowText {
    /// The values of a row, each followed by the unit its header names in brackets (`时效(天): 3-5`
    /// → `3-5 天`), so that a row whose units are in its header still holds a duration or an amount.
    static func valuesWithUnits(_ line: String) -> String {
        var out: [String] = []
        for c in line.components(separatedBy: " | ") {
            guard let r = c.range(of: ": ") else {
                out.append(c)
                continue
            }
            let name = String(c[..<r.lowerBound])
            let value = String(c[r.upperBound...])
            var hint = ""
            if let open = name.lastIndex(where: { $0 == "(" || $0 == "（" }),
                let close = name.lastIndex(where: { $0 == ")" || $0 == "）" }), open < close
            {
                hint = String(name[name.index(after: open)..<close])
                if let slash = hint.firstIndex(of: "/") { hint = String(hint[..<slash]) }
                // "（1kg）" and "（每 kg）" qualify the column; only a bare unit is the value's unit.
                if hint.unicodeScalars.contains(where: { $0.properties.numericType != nil }) || hint.hasPrefix("每") {
                    hint = ""
                }
            }
            out.append(hint.isEmpty ? value : value + " " + hint)
        }
        return out.joined(separator: "；")
    }
}
