public import Foundation
import WendaoCore
public import WendaoLoaders

/// Extracts the main content of a web page: the article text without navigation, headers, footers,
/// sidebars, forms, cookie banners, ads and link lists.
///
/// The region read is `<main>`, else the element with `role="main"`, else the `<article>` with the
/// most text, else `<body>`. Inside it, boilerplate elements are dropped (`nav`, `header` — unless it
/// carries an article's heading —, `footer`, `aside`, `form`, `script`, `style`, `noscript`, elements
/// whose class or id says menu/nav/sidebar/footer/breadcrumb/cookie/banner/ad, landmark roles other
/// than main, and blocks that are mostly links). What remains is converted to blocks by
/// WendaoLoaders' HTML format, so headings become section paths and tables become records.
///
/// ```swift
/// let doc = MainContent.extract(html: page, url: URL(string: "https://example.org/guide"))
/// print(doc.title ?? "-", doc.blocks.count)
/// ```
public enum MainContent {
    /// Boilerplate element names, dropped with their content.
    static let droppedElements: Set<String> = [
        "nav", "footer", "aside", "form", "script", "style", "noscript", "template", "iframe", "svg", "canvas",
        "button", "select", "dialog", "menu", "object", "embed", "head",
    ]
    /// Words in a class or id that mark boilerplate.
    static let boilerplateWords: Set<String> = [
        "menu", "nav", "navbar", "navigation", "sidebar", "footer", "breadcrumb", "breadcrumbs", "cookie",
        "cookies", "consent", "banner", "ad", "ads", "advert", "adverts", "advertisement", "sponsored", "promo",
        "share", "sharing", "social", "skip", "toc", "pagination", "pager",
    ]
    /// ARIA landmark roles that are not content.
    static let boilerplateRoles: Set<String> = [
        "navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "dialog", "alert",
    ]
    /// Containers that the link-density rule may drop.
    static let densityCandidates: Set<String> = [
        "div", "section", "ul", "ol", "p", "table", "dl", "span", "td", "li", "header",
    ]

    /// Extracts the main content of `html`.
    ///
    /// - Parameters:
    ///   - html: The page, decoded.
    ///   - url: Where it came from (its last path segment or host is the title of last resort).
    /// - Returns: The blocks and the page title (`<title>`, else the first heading, else from `url`).
    public static func extract(html: String, url: URL?) -> ParsedDocument {
        let tree = HTMLTree(html)
        var warnings: [String] = []
        if tree.truncated {
            warnings.append("page has more than \(HTMLTree.maxNodes) HTML nodes; the rest was skipped")
        }
        let root = mainRoot(tree)
        let kept = keptNodes(tree, root: root)
        // Wrapped in <main> so that the HTML format keeps the article headers left in.
        let body = serialise(tree, root: root, kept: kept)
        let cleaned = body.isEmpty ? "" : "<main>" + body + "</main>"
        var blocks: [Block] = []
        if !cleaned.isEmpty {
            do {
                let doc = try DocumentLoader.load(
                    data: Data(cleaned.utf8), identity: "page.html", fileName: "page.html")
                blocks = doc.blocks
                warnings += doc.warnings
            } catch {
                warnings.append("main content could not be converted: \(error)")
            }
        }
        var title = tree.title
        if title == nil, let heading = blocks.first(where: { if case .heading = $0.kind { true } else { false } }) {
            title = heading.text
        }
        if title == nil, let url {
            let last = url.lastPathComponent
            title = last.isEmpty || last == "/" ? url.host : last
        }
        return ParsedDocument(title: title, blocks: blocks, warnings: warnings)
    }

    // MARK: Region

    static func mainRoot(_ tree: HTMLTree) -> Int {
        let nodes = tree.nodes
        if let main = nodes.indices.first(where: { nodes[$0].name == "main" && nodes[$0].attributes["hidden"] == nil })
        {
            return main
        }
        if let role = nodes.indices.first(where: { nodes[$0].attributes["role"]?.lowercased() == "main" }) {
            return role
        }
        let articles = tree.elements(named: "article")
        if !articles.isEmpty {
            let lengths = textLengths(tree)
            // Articles nested in another article count as part of it.
            let outer = articles.filter { a in !articles.contains { $0 != a && tree.isInside(a, $0) } }
            if let best = outer.max(by: { lengths[$0] < lengths[$1] }), lengths[best] > 0 { return best }
        }
        return tree.elements(named: "body").first ?? 0
    }

    /// Non-whitespace text bytes under each node.
    static func textLengths(_ tree: HTMLTree) -> [Int] {
        var lengths = [Int](repeating: 0, count: tree.nodes.count)
        for i in stride(from: tree.nodes.count - 1, through: 1, by: -1) {
            let node = tree.nodes[i]
            if node.name.isEmpty { lengths[i] += node.text.utf8.count { $0 > 0x20 } }
            lengths[node.parent] += lengths[i]
        }
        return lengths
    }

    // MARK: Pruning

    /// Which nodes under `root` are kept (root included).
    static func keptNodes(_ tree: HTMLTree, root: Int) -> [Bool] {
        let nodes = tree.nodes
        let count = nodes.count
        var text = [Int](repeating: 0, count: count)
        var linkText = [Int](repeating: 0, count: count)
        var anchors = [Int](repeating: 0, count: count)
        var headings = [Int](repeating: 0, count: count)
        for i in stride(from: count - 1, through: 1, by: -1) {
            let node = nodes[i]
            if node.name.isEmpty {
                let n = node.text.utf8.count { $0 > 0x20 }
                text[i] += n
                if node.inLink { linkText[i] += n }
            } else if node.name == "a" {
                anchors[i] += 1
            } else if node.name.count == 2, node.name.first == "h", let l = node.name.last?.wholeNumberValue,
                (1...6).contains(l)
            {
                headings[i] += 1
            }
            let p = node.parent
            text[p] += text[i]
            linkText[p] += linkText[i]
            anchors[p] += anchors[i]
            headings[p] += headings[i]
        }
        var kept = [Bool](repeating: false, count: count)
        kept[root] = true
        // Whether a node lies inside an article or main element (for headers carrying the title).
        var inArticle = [Bool](repeating: false, count: count)
        inArticle[root] = ["article", "main"].contains(nodes[root].name)
        var stack = [root]
        while let k = stack.popLast() {
            for child in nodes[k].children {
                let node = nodes[child]
                let article = inArticle[k] || node.name == "article" || node.name == "main"
                inArticle[child] = article
                if !node.name.isEmpty {
                    if droppedElements.contains(node.name) || node.attributes["hidden"] != nil { continue }
                    if node.name == "header", !(article && headings[child] > 0) { continue }
                    if let role = node.attributes["role"]?.lowercased(), boilerplateRoles.contains(role) { continue }
                    if !["main", "article", "body", "html"].contains(node.name),
                        isBoilerplateName(node.attributes["class"]) || isBoilerplateName(node.attributes["id"])
                    {
                        continue
                    }
                    if densityCandidates.contains(node.name), anchors[child] >= 3, text[child] > 0,
                        Double(linkText[child]) > 0.6 * Double(text[child])
                    {
                        continue
                    }
                }
                kept[child] = true
                stack.append(child)
            }
        }
        return kept
    }

    /// Whether a class or id value contains a boilerplate word (`site-nav`, `cookie_banner`, `ad`).
    static func isBoilerplateName(_ value: String?) -> Bool {
        guard let value, !value.isEmpty else { return false }
        let words = value.lowercased().split { !($0.isLetter || $0.isNumber) }
        return words.contains { boilerplateWords.contains(String($0)) }
    }

    // MARK: Output

    /// Writes the kept nodes back out as plain HTML (no attributes), text unchanged.
    static func serialise(_ tree: HTMLTree, root: Int, kept: [Bool]) -> String {
        let nodes = tree.nodes
        var out = ""
        // (node, closing) pairs; a loop instead of recursion, so nesting depth costs no stack.
        var work: [(Int, Bool)] = [(root, false)]
        while let (k, closing) = work.popLast() {
            let node = nodes[k]
            if closing {
                out += "</\(node.name)>"
                continue
            }
            if node.name.isEmpty {
                out += node.text
                continue
            }
            let element = k != 0 && HTMLTree.isWritable(node.name)
            if element {
                out += "<\(node.name)>"
                if HTMLTree.voidElements.contains(node.name) { continue }
                work.append((k, true))
            }
            for child in node.children.reversed() where kept[child] { work.append((child, false)) }
        }
        return out
    }
}

extension HTMLTree {
    /// Element names safe to write back (letters, digits, hyphens).
    static func isWritable(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }
}
