// Inline Markdown → plain text: links keep their text, images their alt text, emphasis markers,
// code backticks and HTML tags are removed, backslash escapes and entities are resolved.
// Linear time: bracket, parenthesis and code-span partners are found with stacks and tables first.

enum MarkdownInline {
    static func strip(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        let n = s.count
        if n == 0 { return "" }
        // Fast path: nothing to strip.
        var special = false
        for u in s {
            switch u {
            case "\\", "`", "[", "]", "!", "<", "&", "*", "_", "~": special = true
            default: break
            }
            if special { break }
        }
        if !special { return text }

        let codeEnd = codeSpans(s)
        let (bracketClose, parenClose) = partners(s, codeEnd: codeEnd)
        let removeRun = emphasisRuns(s, codeEnd: codeEnd)

        var out = String.UnicodeScalarView()
        var skipAt: [Int: Int] = [:]
        var i = 0
        while i < n {
            if let jump = skipAt[i] {
                i = jump
                continue
            }
            let c = s[i]
            switch c {
            case "\\":
                if i + 1 < n, s[i + 1].isASCII, isPunctuation(s[i + 1]) {
                    out.append(s[i + 1])
                    i += 2
                } else {
                    out.append(c)
                    i += 1
                }
            case "`":
                var len = 1
                while i + len < n, s[i + len] == "`" { len += 1 }
                if let end = codeEnd[i] {
                    var a = i + len
                    var b = end
                    if b - a >= 2, s[a] == " ", s[b - 1] == " " {
                        a += 1
                        b -= 1
                    }
                    for k in a..<b { out.append(s[k] == "\n" ? " " : s[k]) }
                    i = end + len
                } else {
                    for _ in 0..<len { out.append("`") }
                    i += len
                }
            case "!" where i + 1 < n && s[i + 1] == "[" && linkEnd(i + 1, s, bracketClose, parenClose) != nil:
                i += 1  // the image's alt text is kept, the "!" dropped
            case "[":
                if let (close, end) = linkEnd(i, s, bracketClose, parenClose) {
                    skipAt[close] = end
                    i += 1
                } else if let close = bracketClose[i], i + 1 < n, s[i + 1] == "^" {
                    i = close + 1  // footnote reference
                } else {
                    out.append(c)
                    i += 1
                }
            case "<":
                if let end = tagOrAutolink(i, s) {
                    if end.keep { for k in (i + 1)..<(end.close) { out.append(s[k]) } }
                    i = end.close + 1
                } else {
                    out.append(c)
                    i += 1
                }
            case "&":
                if let (value, len) = HTMLEntities.decode(s, at: i) {
                    out.append(contentsOf: value.unicodeScalars)
                    i += len
                } else {
                    out.append(c)
                    i += 1
                }
            case "*", "_", "~":
                var len = 1
                while i + len < n, s[i + len] == c { len += 1 }
                if !removeRun.contains(i) { for _ in 0..<len { out.append(c) } }
                i += len
            default:
                out.append(c)
                i += 1
            }
        }
        return String(out)
    }

    private static func isPunctuation(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: return true
        default: return false
        }
    }

    /// For every opening backtick run with a closing run of the same length: start → closing start.
    private static func codeSpans(_ s: [Unicode.Scalar]) -> [Int: Int] {
        var runs: [(start: Int, len: Int)] = []
        var i = 0
        while i < s.count {
            if s[i] == "`", i == 0 || s[i - 1] != "\\" {
                var len = 1
                while i + len < s.count, s[i + len] == "`" { len += 1 }
                runs.append((i, len))
                i += len
            } else {
                i += 1
            }
        }
        guard runs.count >= 2 else { return [:] }
        // next run index with the same length, computed from the right
        var nextSame = [Int](repeating: -1, count: runs.count)
        var lastByLen: [Int: Int] = [:]
        for r in stride(from: runs.count - 1, through: 0, by: -1) {
            nextSame[r] = lastByLen[runs[r].len] ?? -1
            lastByLen[runs[r].len] = r
        }
        var result: [Int: Int] = [:]
        var r = 0
        while r < runs.count {
            let m = nextSame[r]
            if m >= 0 {
                result[runs[r].start] = runs[m].start
                r = m + 1
            } else {
                r += 1
            }
        }
        return result
    }

    /// Matching `]` for `[` and `)` for `(`, outside code spans.
    private static func partners(_ s: [Unicode.Scalar], codeEnd: [Int: Int]) -> ([Int: Int], [Int: Int]) {
        var brackets: [Int: Int] = [:]
        var parens: [Int: Int] = [:]
        var bStack: [Int] = []
        var pStack: [Int] = []
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                i += 2
                continue
            }
            if c == "`", let end = codeEnd[i] {
                var len = 1
                while i + len < s.count, s[i + len] == "`" { len += 1 }
                i = end + len
                continue
            }
            switch c {
            case "[": bStack.append(i)
            case "]": if let open = bStack.popLast() { brackets[open] = i }
            case "(": pStack.append(i)
            case ")": if let open = pStack.popLast() { parens[open] = i }
            default: break
            }
            i += 1
        }
        return (brackets, parens)
    }

    /// For `[text](dest)` or `[text][ref]` starting at `open`: the `]` index and the index after the
    /// link's end.
    private static func linkEnd(
        _ open: Int, _ s: [Unicode.Scalar], _ brackets: [Int: Int], _ parens: [Int: Int]
    ) -> (Int, Int)? {
        guard let close = brackets[open], close + 1 < s.count else { return nil }
        if s[close + 1] == "(", let end = parens[close + 1] { return (close, end + 1) }
        if s[close + 1] == "[", let end = brackets[close + 1] { return (close, end + 1) }
        return nil
    }

    /// An autolink (`<https://…>`, kept) or an HTML tag/comment (dropped) starting at `i`.
    private static func tagOrAutolink(_ i: Int, _ s: [Unicode.Scalar]) -> (close: Int, keep: Bool)? {
        guard i + 1 < s.count else { return nil }
        let next = s[i + 1]
        let isTagStart = next.properties.isAlphabetic && next.isASCII || next == "/" || next == "!" || next == "?"
        guard isTagStart else { return nil }
        var j = i + 1
        let limit = min(s.count, i + 2000)
        var hasSpace = false
        while j < limit, s[j] != ">" {
            if s[j] == "<" { return nil }
            if s[j] == " " || s[j] == "\n" { hasSpace = true }
            j += 1
        }
        guard j < limit else { return nil }
        let inner = String(String.UnicodeScalarView(s[(i + 1)..<j]))
        let lower = inner.lowercased()
        if !hasSpace,
            lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("mailto:")
                || lower.hasPrefix("ftp://") || (inner.contains("@") && !inner.contains("/"))
        {
            return (j, true)
        }
        return (j, false)
    }

    /// Start indices of `*`, `_` and `~~` delimiter runs that pair up as emphasis (to be removed).
    private static func emphasisRuns(_ s: [Unicode.Scalar], codeEnd: [Int: Int]) -> Set<Int> {
        var remove = Set<Int>()
        var openers: [Unicode.Scalar: [Int]] = [:]
        let n = s.count
        var i = 0
        while i < n {
            let c = s[i]
            if c == "\\" {
                i += 2
                continue
            }
            if c == "`", let end = codeEnd[i] {
                var len = 1
                while i + len < n, s[i + len] == "`" { len += 1 }
                i = end + len
                continue
            }
            guard c == "*" || c == "_" || c == "~" else {
                i += 1
                continue
            }
            var len = 1
            while i + len < n, s[i + len] == c { len += 1 }
            if c == "~", len != 2 {
                i += len
                continue
            }
            let prev: Unicode.Scalar? = i > 0 ? s[i - 1] : nil
            let next: Unicode.Scalar? = i + len < n ? s[i + len] : nil
            let prevSpace = prev.map { $0.properties.isWhitespace } ?? true
            let nextSpace = next.map { $0.properties.isWhitespace } ?? true
            var canOpen = !nextSpace
            var canClose = !prevSpace
            if c == "_", let p = prev, let q = next, isWordChar(p), isWordChar(q) {
                canOpen = false
                canClose = false
            }
            if canClose, var stack = openers[c], let open = stack.popLast() {
                remove.insert(open)
                remove.insert(i)
                openers[c] = stack
            } else if canOpen {
                openers[c, default: []].append(i)
            }
            i += len
        }
        return remove
    }

    private static func isWordChar(_ u: Unicode.Scalar) -> Bool {
        u.properties.isAlphabetic || u.properties.numericType != nil
    }
}
