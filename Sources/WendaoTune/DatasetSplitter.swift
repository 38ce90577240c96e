import Foundation

/// Splits kept examples into train / validation / test **by document**: examples that share a document
/// (a comparison example links its two documents) always land in the same split, so no document is on
/// both sides. Groups are placed largest first (ties in a seeded order) into the split whose share of the
/// group's styles is furthest below its target — a stratification by style over whole documents.
///
/// ```swift
/// let split = DatasetSplitter.assign(examples, ratios: (0.8, 0.1, 0.1), seed: 17)
/// ```
public enum DatasetSplitter {
    /// The split names, in order.
    public static let names = ["train", "validation", "test"]

    /// Parses `0.8,0.1,0.1` (shares of train, validation, test; normalised to sum to 1).
    public static func parseRatios(_ text: String) -> [Double]? {
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        let v = parts.map { $0! }
        let sum = v.reduce(0, +)
        guard sum > 0, v[0] > 0 else { return nil }
        return v.map { $0 / sum }
    }

    /// Sets `split` on every kept example of `examples` (dropped ones get none).
    public static func assign(_ examples: inout [TuneExample], ratios: [Double], seed: UInt64) {
        let kept = examples.indices.filter { examples[$0].status == "kept" }
        for i in examples.indices { examples[i].split = nil }
        guard !kept.isEmpty else { return }
        // Union-find over documents.
        var parent: [String: String] = [:]
        func find(_ x: String) -> String {
            var r = x
            while let p = parent[r], p != r { r = p }
            var y = x
            while let p = parent[y], p != r {
                parent[y] = r
                y = p
            }
            return r
        }
        for i in kept {
            let docs = examples[i].documents.isEmpty ? ["(none)"] : examples[i].documents
            for d in docs where parent[d] == nil { parent[d] = d }
            for d in docs.dropFirst() {
                let a = find(docs[0])
                let b = find(d)
                if a != b { parent[max(a, b)] = min(a, b) }
            }
        }
        var groups: [String: [Int]] = [:]
        for i in kept {
            let d = examples[i].documents.first ?? "(none)"
            groups[find(d), default: []].append(i)
        }
        var rng = SeededRandom(seed: seed)
        var order = groups.keys.sorted()
        order.shuffle(using: &rng)
        // Largest first; the shuffle breaks ties.
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        order.sort { (groups[$0]!.count, position[$1]!) > (groups[$1]!.count, position[$0]!) }
        let styleTotals = Dictionary(grouping: kept, by: { examples[$0].style }).mapValues { Double($0.count) }
        var counts = Array(repeating: [QuestionStyle: Double](), count: 3)
        var sizes = [0.0, 0.0, 0.0]
        let total = Double(kept.count)
        for key in order {
            let members = groups[key]!
            let styles = Dictionary(grouping: members, by: { examples[$0].style }).mapValues { Double($0.count) }
            // The split most below its target, by style (weighted by the group's styles), then by size.
            var best = 0
            var bestNeed = -Double.infinity
            for s in 0..<3 where ratios[s] > 0 {
                var need = 0.0
                for (style, n) in styles {
                    let target = ratios[s] * (styleTotals[style] ?? 0)
                    need += n * (target - (counts[s][style] ?? 0)) / max(1, target)
                }
                need += (ratios[s] * total - sizes[s]) / max(1, ratios[s] * total)
                if need > bestNeed {
                    bestNeed = need
                    best = s
                }
            }
            for i in members {
                examples[i].split = names[best]
                counts[best][examples[i].style, default: 0] += 1
            }
            sizes[best] += Double(members.count)
        }
    }
}
