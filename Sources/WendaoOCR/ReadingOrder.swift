import Foundation

/// Puts recognised lines in reading order and joins them into text: columns read one after the other,
/// tables row by row, blocks separated by a blank line.
///
/// A recursive cut of the page at empty gutters: a region splits first at a vertical gutter wider than
/// the typical line height (columns, read left to right) unless the two sides look like table cells
/// (their lines pair up row by row and are short for their column); otherwise at horizontal gaps
/// (bands, read top to bottom). The lines of an undivided region are grouped into rows; a row of several
/// boxes far apart is a table row, its cells joined by two spaces (which the PDF loader's layout reader
/// turns into `a | b | c`).
public enum ReadingOrder {
    struct Item {
        var minX: Double, minY: Double, maxX: Double, maxY: Double
        var text: String
        var cy: Double { (minY + maxY) / 2 }
        var height: Double { maxY - minY }
    }

    /// The lines' text in reading order.
    public static func text(_ lines: [OCRTextLine]) -> String {
        blocks(lines).map { $0.joined(separator: "\n") }.joined(separator: "\n\n")
    }

    /// The lines grouped into blocks in reading order; each block is a list of rows of text.
    public static func blocks(_ lines: [OCRTextLine]) -> [[String]] {
        let items = lines.filter { !$0.text.allSatisfy(\.isWhitespace) }.map { l -> Item in
            let b = l.bounds
            return Item(minX: b.minX, minY: b.minY, maxX: b.maxX, maxY: b.maxY, text: l.text)
        }
        if items.isEmpty { return [] }
        let heights = items.map(\.height).sorted()
        let h = max(1, heights[heights.count / 2])
        var out: [[String]] = []
        cut(items, lineHeight: h, depth: 0, into: &out)
        return out
    }

    private static func cut(_ items: [Item], lineHeight h: Double, depth: Int, into out: inout [[String]]) {
        if items.count > 1, depth < 12 {
            if let (left, right) = columnSplit(items, lineHeight: h) {
                cut(left, lineHeight: h, depth: depth + 1, into: &out)
                cut(right, lineHeight: h, depth: depth + 1, into: &out)
                return
            }
            let bands = bandSplit(items, minGap: h * 0.9)
            if bands.count > 1 {
                for b in bands { cut(b, lineHeight: h, depth: depth + 1, into: &out) }
                return
            }
        }
        out += rows(items, lineHeight: h)
    }

    /// Gaps in the projection of `spans` onto one axis: (start, end) of each empty stretch.
    private static func gaps(_ spans: [(Double, Double)]) -> [(Double, Double)] {
        let sorted = spans.sorted { $0.0 < $1.0 }
        var result: [(Double, Double)] = []
        var reach = sorted[0].1
        for s in sorted.dropFirst() {
            if s.0 > reach { result.append((reach, s.0)) }
            reach = max(reach, s.1)
        }
        return result
    }

    /// The widest vertical gutter splitting `items` into two column groups, unless they form a table.
    /// A narrower gutter (half a line height) is enough beside a side made only of lines standing
    /// across the others (a horizontal title over vertical writing, once the page is turned back; a
    /// sideways label in a margin): such a line never shares a row with the lines it stands across.
    private static func columnSplit(_ items: [Item], lineHeight h: Double) -> ([Item], [Item])? {
        func across(_ i: Item) -> Bool { i.height >= 2 * h && i.height >= 2 * (i.maxX - i.minX) }
        let candidates = gaps(items.map { ($0.minX, $0.maxX) }).filter { $0.1 - $0.0 >= 0.5 * h }
            .sorted { $0.1 - $0.0 > $1.1 - $1.0 }
        for gap in candidates {
            let x = (gap.0 + gap.1) / 2
            let left = items.filter { $0.maxX <= x }, right = items.filter { $0.minX >= x }
            guard !left.isEmpty, !right.isEmpty else { continue }
            if left.allSatisfy(across) != right.allSatisfy(across) { return (left, right) }
            if gap.1 - gap.0 >= 1.5 * h {
                if looksLikeTable(left, right, gutter: gap.1 - gap.0, lineHeight: h) { return nil }
                return (left, right)
            }
        }
        return nil
    }

    /// Two sides whose lines pair up row by row and are short: compared with their side's width, or with
    /// the gutter between the sides (text columns are much wider than their gutter; table cells are not).
    private static func looksLikeTable(_ a: [Item], _ b: [Item], gutter: Double, lineHeight h: Double) -> Bool {
        let paired = a.filter { i in b.contains { abs($0.cy - i.cy) < h * 0.5 } }.count
        let aligned = Double(paired) / Double(a.count)
        func fill(_ s: [Item]) -> Double {
            let w = max(1, (s.map(\.maxX).max() ?? 0) - (s.map(\.minX).min() ?? 0))
            let ratios = s.map { ($0.maxX - $0.minX) / w }.sorted()
            return ratios[ratios.count / 2]
        }
        func medianWidth(_ s: [Item]) -> Double {
            let w = s.map { $0.maxX - $0.minX }.sorted()
            return w[w.count / 2]
        }
        // A side with a single line each is a label/value pair: read across, like a table row.
        return aligned >= 0.6
            && (min(fill(a), fill(b)) < 0.6 || (a.count <= 2 && b.count <= 2)
                || gutter * 2 >= min(medianWidth(a), medianWidth(b)))
    }

    /// `items` split at horizontal gaps of at least `minGap`, top to bottom.
    private static func bandSplit(_ items: [Item], minGap: Double) -> [[Item]] {
        let g = gaps(items.map { ($0.minY, $0.maxY) }).filter { $0.1 - $0.0 >= minGap }
        if g.isEmpty { return [items] }
        var bands: [[Item]] = Array(repeating: [], count: g.count + 1)
        for i in items {
            let k = g.firstIndex { i.cy < ($0.0 + $0.1) / 2 } ?? g.count
            bands[k].append(i)
        }
        return bands.filter { !$0.isEmpty }
    }

    /// The items grouped into rows (top to bottom), each row's boxes left to right; boxes separated by
    /// more than two line heights become cells joined by two spaces. A row indented from the region's
    /// left edge (a paragraph's first line, 首行缩进) starts a new block.
    private static func rows(_ items: [Item], lineHeight h: Double) -> [[String]] {
        var rows: [[Item]] = []
        for i in items.sorted(by: { $0.cy < $1.cy }) {
            if let last = rows.last, let ref = last.first,
                abs(i.cy - ref.cy) < 0.5 * min(max(1, i.height), max(1, ref.height))
            {
                rows[rows.count - 1].append(i)
            } else {
                rows.append([i])
            }
        }
        let left = items.map(\.minX).min() ?? 0
        var blocks: [[String]] = []
        for row in rows {
            let sorted = row.sorted { $0.minX < $1.minX }
            var text = sorted[0].text
            for k in 1..<sorted.count {
                let gap = sorted[k].minX - sorted[k - 1].maxX
                text +=
                    gap > 2 * h ? "  " + sorted[k].text : (needsSpace(text, sorted[k].text) ? " " : "") + sorted[k].text
            }
            if blocks.isEmpty || sorted[0].minX >= left + 1.2 * h {
                blocks.append([text])
            } else {
                blocks[blocks.count - 1].append(text)
            }
        }
        return blocks
    }

    /// A space between two pieces of one line unless both sides are CJK.
    private static func needsSpace(_ a: String, _ b: String) -> Bool {
        guard let x = a.unicodeScalars.last, let y = b.unicodeScalars.first else { return false }
        return !(isCJK(x.value) && isCJK(y.value))
    }

    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x3000...0x303F).contains(v)
            || (0xFF00...0xFFEF).contains(v) || (0x20000...0x2A6DF).contains(v)
    }
}
