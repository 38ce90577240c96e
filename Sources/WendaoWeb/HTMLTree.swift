import Foundation

// A tolerant, non-recursive HTML tree for the web pages the crawler reads: elements with the few
// attributes that matter here (class, id, role, href), text kept raw (entities undecoded, so it can
// be written back out), script/style content skipped. Nodes are stored in document order, so every
// child has a larger index than its parent, and every walk is a loop, never recursion.

struct HTMLTree {
    struct Node {
        /// Element name, lowercased; empty for a text node.
        var name: String
        /// Raw text (text nodes only).
        var text: Substring = ""
        var attributes: [String: String] = [:]
        var parent: Int
        var children: [Int] = []
        /// Text node inside an `<a>` element.
        var inLink = false
    }

    static let maxNodes = 2_000_000

    /// Node 0 is the document root (name `#document`).
    private(set) var nodes: [Node] = [Node(name: "#document", parent: -1)]
    /// `<title>` text, entities decoded and whitespace collapsed.
    private(set) var title: String?
    /// `<base href>` value.
    private(set) var baseHref: String?
    /// Whether the node cap cut the document short.
    private(set) var truncated = false

    static let voidElements: Set<String> = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
        "track", "wbr", "keygen", "basefont", "bgsound", "frame",
    ]
    static let skipped: Set<String> = ["script", "style", "textarea", "iframe", "noembed", "noframes", "xmp", "title"]
    static let closesParagraph: Set<String> = [
        "address", "article", "aside", "blockquote", "details", "dialog", "div", "dl", "fieldset", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "main", "menu",
        "nav", "ol", "p", "pre", "section", "table", "ul",
    ]
    static let keptAttributes: Set<String> = ["class", "id", "role", "href", "name", "content", "rel", "hidden"]

    init(_ html: String) {
        let bytes = Array(html.utf8)
        parse(bytes, html)
    }

    // MARK: Parsing

    private mutating func parse(_ b: [UInt8], _ source: String) {
        var stack: [Int] = [0]
        var openCount: [String: Int] = [:]
        var linkDepth = 0
        let n = b.count
        var i = 0
        let utf8 = source.utf8
        func sub(_ s: Int, _ e: Int) -> Substring {
            Substring(utf8[utf8.index(utf8.startIndex, offsetBy: s)..<utf8.index(utf8.startIndex, offsetBy: e)])
        }
        while i < n {
            if nodes.count >= Self.maxNodes {
                truncated = true
                return
            }
            if b[i] != 0x3C {
                var j = i + 1
                while j < n, b[j] != 0x3C { j += 1 }
                append(Node(name: "", text: sub(i, j), parent: stack.last ?? 0, inLink: linkDepth > 0), to: stack)
                i = j
                continue
            }
            guard i + 1 < n else { break }
            let c = b[i + 1]
            if c == 0x21 {  // <! comment, doctype, CDATA
                if i + 3 < n, b[i + 2] == 0x2D, b[i + 3] == 0x2D {
                    i = find(b, [0x2D, 0x2D, 0x3E], from: i + 4).map { $0 + 3 } ?? n
                } else {
                    i = findByte(b, 0x3E, from: i + 2).map { $0 + 1 } ?? n
                }
            } else if c == 0x3F {
                i = findByte(b, 0x3E, from: i + 2).map { $0 + 1 } ?? n
            } else if c == 0x2F {
                if i + 2 < n, isAlpha(b[i + 2]) {
                    let (name, after) = readName(b, i + 2)
                    i = findByte(b, 0x3E, from: after).map { $0 + 1 } ?? n
                    if openCount[name, default: 0] > 0, let k = stack.lastIndex(where: { nodes[$0].name == name }),
                        k > 0
                    {
                        for idx in stack[k...] {
                            if nodes[idx].name == "a" { linkDepth -= 1 }
                            openCount[nodes[idx].name, default: 1] -= 1
                        }
                        stack.removeSubrange(k...)
                    }
                } else {
                    i = findByte(b, 0x3E, from: i + 2).map { $0 + 1 } ?? n
                }
            } else if isAlpha(c) {
                let (name, after) = readName(b, i + 1)
                guard let (end, attributes, selfClosing) = readAttributes(b, from: after) else { break }
                i = end
                if Self.skipped.contains(name) {
                    let (contentEnd, resume) = findEndTag(b, name, from: i)
                    if name == "title", title == nil {
                        let t = HTMLText.collapse(HTMLText.decode(sub(i, contentEnd)))
                        if !t.isEmpty { title = t }
                    }
                    i = resume
                    continue
                }
                if name == "base", baseHref == nil { baseHref = attributes["href"] }
                // Implied end tags, as browsers do for the common cases.
                func popTop() {
                    guard stack.count > 1, let k = stack.popLast() else { return }
                    if nodes[k].name == "a" { linkDepth -= 1 }
                    openCount[nodes[k].name, default: 1] -= 1
                }
                var top: String { nodes[stack.last ?? 0].name }
                if Self.closesParagraph.contains(name), top == "p" { popTop() }
                if name == "li", top == "li" { popTop() }
                if name == "dt" || name == "dd", top == "dt" || top == "dd" { popTop() }
                if name == "td" || name == "th", top == "td" || top == "th" { popTop() }
                if name == "tr" {
                    if top == "td" || top == "th" { popTop() }
                    if top == "tr" { popTop() }
                }
                if name == "a", top == "a" { popTop() }  // <a> does not nest
                let index = append(Node(name: name, attributes: attributes, parent: stack.last ?? 0), to: stack)
                if !selfClosing, !Self.voidElements.contains(name) {
                    stack.append(index)
                    openCount[name, default: 0] += 1
                    if name == "a" { linkDepth += 1 }
                }
            } else {
                append(Node(name: "", text: sub(i, i + 1), parent: stack.last ?? 0, inLink: linkDepth > 0), to: stack)
                i += 1
            }
        }
    }

    @discardableResult
    private mutating func append(_ node: Node, to stack: [Int]) -> Int {
        var node = node
        node.parent = stack.last ?? 0
        let index = nodes.count
        nodes.append(node)
        nodes[node.parent].children.append(index)
        return index
    }

    private func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }

    private func findByte(_ b: [UInt8], _ c: UInt8, from i: Int) -> Int? {
        var j = i
        while j < b.count {
            if b[j] == c { return j }
            j += 1
        }
        return nil
    }

    private func find(_ b: [UInt8], _ pattern: [UInt8], from i: Int) -> Int? {
        var j = i
        while let k = findByte(b, pattern[0], from: j) {
            if k + pattern.count <= b.count, Array(b[k..<(k + pattern.count)]) == pattern { return k }
            j = k + 1
        }
        return nil
    }

    private func readName(_ b: [UInt8], _ i: Int) -> (String, Int) {
        var j = i
        var out: [UInt8] = []
        while j < b.count {
            let c = b[j]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C || c == 0x2F || c == 0x3E { break }
            if out.count < 32 { out.append(c >= 0x41 && c <= 0x5A ? c | 0x20 : c) }
            j += 1
        }
        return (String(decoding: out, as: UTF8.self), j)
    }

    /// Reads attributes up to `>`; returns the index after it, the kept attributes (values decoded)
    /// and whether the tag ends with `/>`. Nil when the input ends inside the tag.
    private func readAttributes(_ b: [UInt8], from start: Int) -> (Int, [String: String], Bool)? {
        var attributes: [String: String] = [:]
        var i = start
        let n = b.count
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C }
        while i < n {
            while i < n, isSpace(b[i]) || b[i] == 0x2F {
                if b[i] == 0x2F, i + 1 < n, b[i + 1] == 0x3E { return (i + 2, attributes, true) }
                i += 1
            }
            guard i < n else { return nil }
            if b[i] == 0x3E { return (i + 1, attributes, false) }
            var nameBytes: [UInt8] = []
            while i < n, !isSpace(b[i]), b[i] != 0x3D, b[i] != 0x3E, !(b[i] == 0x2F && i + 1 < n && b[i + 1] == 0x3E) {
                if nameBytes.count < 32 { nameBytes.append(b[i] >= 0x41 && b[i] <= 0x5A ? b[i] | 0x20 : b[i]) }
                i += 1
            }
            if nameBytes.isEmpty {
                i += 1
                continue
            }
            while i < n, isSpace(b[i]) { i += 1 }
            var value: [UInt8] = []
            if i < n, b[i] == 0x3D {
                i += 1
                while i < n, isSpace(b[i]) { i += 1 }
                guard i < n else { return nil }
                if b[i] == 0x22 || b[i] == 0x27 {
                    guard let close = findByte(b, b[i], from: i + 1) else { return nil }
                    value = Array(b[(i + 1)..<close].prefix(4096))
                    i = close + 1
                } else {
                    let s = i
                    while i < n, !isSpace(b[i]), b[i] != 0x3E { i += 1 }
                    value = Array(b[s..<i].prefix(4096))
                }
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            if Self.keptAttributes.contains(name), attributes[name] == nil {
                attributes[name] = HTMLText.decode(Substring(String(decoding: value, as: UTF8.self)))
            }
        }
        return nil
    }

    private func findEndTag(_ b: [UInt8], _ name: String, from start: Int) -> (Int, Int) {
        let nameBytes = Array(name.utf8)
        var j = start
        while let k = findByte(b, 0x3C, from: j) {
            if k + 2 + nameBytes.count <= b.count, b[k + 1] == 0x2F {
                var same = true
                for (m, c) in nameBytes.enumerated() where (b[k + 2 + m] | 0x20) != c {
                    same = false
                    break
                }
                let after = k + 2 + nameBytes.count
                if same, after == b.count || !isAlpha(b[after]) {
                    return (k, findByte(b, 0x3E, from: after).map { $0 + 1 } ?? b.count)
                }
            }
            j = k + 1
        }
        return (b.count, b.count)
    }

    // MARK: Queries

    /// Indices of elements named `name`, in document order.
    func elements(named name: String) -> [Int] {
        nodes.indices.filter { nodes[$0].name == name }
    }

    /// Whether `node` lies inside `ancestor` (or is it).
    func isInside(_ node: Int, _ ancestor: Int) -> Bool {
        var k = node
        while k >= 0 {
            if k == ancestor { return true }
            k = nodes[k].parent
        }
        return false
    }
}

/// Small text helpers: the XML/HTML predefined entities and numeric references (enough for URLs and
/// titles; the block text goes through WendaoLoaders' full decoder), and whitespace collapsing.
enum HTMLText {
    static let named: [Substring: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}",
    ]

    static func decode(_ s: Substring) -> String {
        guard s.contains("&") else { return String(s) }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "&", let semi = s[i...].prefix(12).firstIndex(of: ";") {
                let body = s[s.index(after: i)..<semi]
                var replacement: String?
                if body.hasPrefix("#x") || body.hasPrefix("#X") {
                    replacement = UInt32(body.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
                } else if body.hasPrefix("#") {
                    replacement = UInt32(body.dropFirst()).flatMap(Unicode.Scalar.init).map { String($0) }
                } else {
                    replacement = named[body]
                }
                if let replacement {
                    out += replacement
                    i = s.index(after: semi)
                    continue
                }
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        return out
    }

    static func collapse(_ s: String) -> String {
        s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
