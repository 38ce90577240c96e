extension Array where Element == UInt32 {
    /// Whether the word ends with `suffix` and is longer than it.
    @inline(__always)
    func ends(_ suffix: StaticString) -> Bool {
        let n = suffix.utf8CodeUnitCount
        guard count > n else { return false }
        return suffix.withUTF8Buffer { s in
            for i in 0..<n where self[count - n + i] != UInt32(s[i]) { return false }
            return true
        }
    }

    @inline(__always)
    func hasVowel(before end: Int) -> Bool {
        for i in 0..<end where EnglishStemmer.isVowel(self[i]) { return true }
        return false
    }
}

/// A light English stemmer on lowercase ASCII scalar values: plurals, `-ed`, `-ing` and a final `e`.
///
/// It is deliberately conservative (no derivational suffixes): the same rules run on documents and
/// queries, so what matters is that inflections of one word meet, not that stems are real words.
enum EnglishStemmer {
    @inline(__always)
    static func isVowel(_ v: UInt32) -> Bool {
        v == 0x61 || v == 0x65 || v == 0x69 || v == 0x6F || v == 0x75
    }

    /// Stems `w` in place.
    static func stem(_ w: inout [UInt32]) {
        guard w.count > 3, let last = w.last else { return }
        // Plurals.
        if last != 0x73 {
            // Not a plural: skip those checks.
        } else if w.ends("sses") {
            w.removeLast(2)
        } else if w.ends("ies") && w.count > 4 {
            w.removeLast(3)
            w.append(0x79)  // y
        } else if w.ends("ches") || w.ends("shes") || w.ends("xes") || w.ends("zzes") {
            w.removeLast(2)
        } else if !w.ends("ss") && !w.ends("us") && !w.ends("is") {
            w.removeLast()
        }
        // -ing / -ed.
        var stripped = false
        let final = w[w.count - 1]
        if final == 0x67 && w.count > 5 && w.ends("ing") && w.hasVowel(before: w.count - 3) {
            w.removeLast(3)
            stripped = true
        } else if final == 0x64 && w.count > 4 && w.ends("ed") && !w.ends("eed") && w.hasVowel(before: w.count - 2) {
            w.removeLast(2)
            stripped = true
        }
        if stripped, w.count > 2 {
            let a = w[w.count - 1]
            let b = w[w.count - 2]
            if a == b && !isVowel(a) && a != 0x6C && a != 0x73 && a != 0x7A { w.removeLast() }  // shipp → ship
        }
        if w.count > 4 && w[w.count - 1] == 0x65 { w.removeLast() }  // packag(e)
        if w.count > 3 && w[w.count - 1] == 0x79 { w[w.count - 1] = 0x69 }  // deliver(y) ~ deliveri(es)
    }
}

/// English stopwords, matched on lowercase words before stemming.
enum Stopwords {
    private static let words: [String] = [
        "a", "about", "above", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at", "be",
        "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did",
        "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have",
        "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in",
        "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not",
        "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own",
        "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them",
        "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under",
        "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
        "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "don", "shall",
        "may", "might", "must", "also", "let", "us",
    ]

    /// Longest stopword, to skip the lookup for longer words.
    static let maxLength = 10

    /// Unfinished FNV hashes of the stopwords in a small open-addressing table (0 = empty).
    static let table: [UInt64] = {
        var t = [UInt64](repeating: 0, count: 512)
        for w in words {
            var h = TermHash()
            for u in w.unicodeScalars { h.add(u.value) }
            var i = Int(truncatingIfNeeded: h.value >> 7) & 511
            while t[i] != 0 && t[i] != h.value { i = (i + 1) & 511 }
            t[i] = h.value
        }
        return t
    }()

    /// Whether the unfinished hash of a lowercase word is a stopword's.
    @inline(__always)
    static func contains(hash: UInt64) -> Bool {
        var i = Int(truncatingIfNeeded: hash >> 7) & 511
        while true {
            let v = table[i]
            if v == hash { return true }
            if v == 0 { return false }
            i = (i + 1) & 511
        }
    }
}
