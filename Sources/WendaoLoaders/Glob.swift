// Glob patterns for include/exclude filters: `*` (any run without `/`), `?` (one character but
// `/`), `**` (anything, including `/`; `**/` also matches no folder at all), `[abc]`, `[a-z]`,
// `[!abc]`, and `{md,txt}` alternatives. Matching simulates an NFA: linear in the path length
// times the pattern length, never exponential.

struct Glob: Sendable {
    private enum Token: Sendable {
        case literal(Character)
        case any
        case star
        case globstar
        case globstarSlash
        case set([ClosedRange<Character>], negated: Bool)
    }

    private let alternatives: [[Token]]

    init(_ pattern: String) {
        var p = pattern
        if p.hasPrefix("./") { p.removeFirst(2) }
        if p.hasSuffix("/") { p += "**" }
        alternatives = Self.expandBraces(p).map(Self.compile)
    }

    func matches(_ path: String) -> Bool {
        let chars = Array(path)
        return alternatives.contains { Self.run($0, chars) }
    }

    /// Expands `{a,b}` groups (nested too), capped at 256 alternatives.
    private static func expandBraces(_ pattern: String) -> [String] {
        var done: [String] = []
        var work = [pattern]
        while let p = work.popLast() {
            let chars = Array(p)
            var open: Int?
            var depth = 0
            var range: (Int, Int)?
            var i = 0
            while i < chars.count {
                let c = chars[i]
                if c == "\\" {
                    i += 2
                    continue
                }
                if c == "{" {
                    if depth == 0 { open = i }
                    depth += 1
                } else if c == "}", depth > 0 {
                    depth -= 1
                    if depth == 0, let o = open {
                        range = (o, i)
                        break
                    }
                }
                i += 1
            }
            guard let (o, close) = range else {
                done.append(p)
                continue
            }
            // Split the group at top-level commas.
            var parts: [String] = []
            var cur = ""
            var d = 0
            for c in chars[(o + 1)..<close] {
                if c == "{" { d += 1 }
                if c == "}" { d -= 1 }
                if c == ",", d == 0 {
                    parts.append(cur)
                    cur = ""
                } else {
                    cur.append(c)
                }
            }
            parts.append(cur)
            let prefix = String(chars[0..<o])
            let suffix = String(chars[(close + 1)...])
            if parts.count == 1 {
                // `{x}` without a comma is literal.
                done.append(p)
                continue
            }
            for part in parts.reversed() where done.count + work.count < 256 {
                work.append(prefix + part + suffix)
            }
        }
        return done
    }

    private static func compile(_ pattern: String) -> [Token] {
        let c = Array(pattern)
        var tokens: [Token] = []
        var i = 0
        while i < c.count {
            let ch = c[i]
            switch ch {
            case "*":
                if i + 1 < c.count, c[i + 1] == "*" {
                    var j = i
                    while j < c.count, c[j] == "*" { j += 1 }
                    if j < c.count, c[j] == "/" {
                        tokens.append(.globstarSlash)
                        i = j + 1
                    } else {
                        tokens.append(.globstar)
                        i = j
                    }
                } else {
                    tokens.append(.star)
                    i += 1
                }
            case "?":
                tokens.append(.any)
                i += 1
            case "[":
                if let (token, next) = parseSet(c, i) {
                    tokens.append(token)
                    i = next
                } else {
                    tokens.append(.literal("["))
                    i += 1
                }
            case "\\" where i + 1 < c.count:
                tokens.append(.literal(c[i + 1]))
                i += 2
            default:
                tokens.append(.literal(ch))
                i += 1
            }
        }
        return tokens
    }

    private static func parseSet(_ c: [Character], _ start: Int) -> (Token, Int)? {
        var i = start + 1
        var negated = false
        if i < c.count, c[i] == "!" || c[i] == "^" {
            negated = true
            i += 1
        }
        var ranges: [ClosedRange<Character>] = []
        var first = true
        while i < c.count {
            let ch = c[i]
            if ch == "]", !first { return (.set(ranges, negated: negated), i + 1) }
            first = false
            if i + 2 < c.count, c[i + 1] == "-", c[i + 2] != "]" {
                let lo = ch, hi = c[i + 2]
                if lo <= hi { ranges.append(lo...hi) }
                i += 3
            } else {
                ranges.append(ch...ch)
                i += 1
            }
        }
        return nil
    }

    private static func run(_ tokens: [Token], _ s: [Character]) -> Bool {
        let n = tokens.count
        var current = [Bool](repeating: false, count: n + 1)
        current[0] = true
        closure(tokens, &current)
        for ch in s {
            var next = [Bool](repeating: false, count: n + 1)
            var any = false
            for k in 0..<n where current[k] {
                switch tokens[k] {
                case .literal(let l):
                    if l == ch { next[k + 1] = true }
                case .any:
                    if ch != "/" { next[k + 1] = true }
                case .star:
                    if ch != "/" { next[k] = true }
                case .globstar:
                    next[k] = true
                case .globstarSlash:
                    next[k] = true
                    if ch == "/" { next[k + 1] = true }
                case .set(let ranges, let negated):
                    if ch != "/", ranges.contains(where: { $0.contains(ch) }) != negated { next[k + 1] = true }
                }
            }
            closure(tokens, &next)
            for v in next where v {
                any = true
                break
            }
            if !any { return false }
            current = next
        }
        return current[n]
    }

    /// Adds states reachable without consuming a character (stars matching nothing).
    private static func closure(_ tokens: [Token], _ states: inout [Bool]) {
        for k in 0..<tokens.count where states[k] {
            switch tokens[k] {
            case .star, .globstar, .globstarSlash: states[k + 1] = true
            default: break
            }
        }
    }
}
