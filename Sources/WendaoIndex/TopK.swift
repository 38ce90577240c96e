/// A bounded min-heap keeping the k best (id, score) pairs.
struct TopK {
    let k: Int
    private var items: [ScoredID] = []

    init(k: Int) {
        self.k = k
        items.reserveCapacity(k)
    }

    /// Pushes a bare score (for computing a threshold).
    mutating func pushScore(_ score: Float) { push(0, score) }

    /// Scores at or below this cannot enter.
    var threshold: Float { items.count < k ? -Float.infinity : items[0].score }

    @inline(__always)
    private static func less(_ a: ScoredID, _ b: ScoredID) -> Bool {
        a.score < b.score || (a.score == b.score && a.id > b.id)
    }

    mutating func push(_ id: Int64, _ score: Float) {
        let item = ScoredID(id: id, score: score)
        if items.count < k {
            items.append(item)
            var i = items.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                if Self.less(items[i], items[p]) {
                    items.swapAt(i, p)
                    i = p
                } else {
                    break
                }
            }
        } else if Self.less(items[0], item) {
            items[0] = item
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < items.count && Self.less(items[l], items[m]) { m = l }
                if r < items.count && Self.less(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
    }

    func sorted() -> [ScoredID] { items.sorted { Self.less($1, $0) } }
}
