/// SentencePiece BPE as llama.cpp runs it for `tokenizer.ggml.model = llama`: the text's
/// characters start as symbols; the adjacent pair whose concatenation is the vocabulary entry of
/// highest score (leftmost among equals) merges until none is left; characters that are no token
/// fall back to byte tokens (`<0x0A>`).
struct SentencePieceBPE: Sendable {
    /// Token ids by text.
    let ids: TokenIDs
    /// Scores by token id.
    let scores: [Float]
    /// The token of each byte (`<0xNN>`, else the byte as a one-character token), or -1.
    let byteTokens: [Int32]
    /// The unknown token, for bytes with no token at all.
    let unknown: Int32?

    private struct Candidate {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32

        /// Whether `self` comes out of the queue before `other`: higher score, then leftmost.
        func precedes(_ other: Candidate) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    /// Appends the tokens of `text` (UTF-8, spaces already written as `▁`) to `out`.
    func encode(_ text: [UInt8], into out: inout [Int32]) {
        guard !text.isEmpty else { return }
        var start: [Int32] = []
        var length: [Int32] = []
        var i = 0
        while i < text.count {
            let b = text[i]
            let n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
            let len = min(n, text.count - i)
            start.append(Int32(i))
            length.append(Int32(len))
            i += len
        }
        let count = start.count
        var next = (0..<count).map { Int32($0 + 1 < count ? $0 + 1 : -1) }
        var prev = (0..<count).map { Int32($0 - 1) }
        var heap: [Candidate] = []

        func token(_ from: Int32, _ size: Int32) -> Int32? {
            ids[bytes: text[Int(from)..<Int(from + size)]]
        }
        func push(_ c: Candidate) {
            heap.append(c)
            var k = heap.count - 1
            while k > 0 {
                let parent = (k - 1) / 2
                guard heap[k].precedes(heap[parent]) else { break }
                heap.swapAt(parent, k)
                k = parent
            }
        }
        func pop() -> Candidate? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var k = 0
                while true {
                    let l = 2 * k + 1
                    guard l < heap.count else { break }
                    let r = l + 1
                    let m = r < heap.count && heap[r].precedes(heap[l]) ? r : l
                    guard heap[m].precedes(heap[k]) else { break }
                    heap.swapAt(m, k)
                    k = m
                }
            }
            return top
        }
        func consider(_ left: Int32, _ right: Int32) {
            guard left >= 0, right >= 0 else { return }
            let size = length[Int(left)] + length[Int(right)]
            guard let id = token(start[Int(left)], size), Int(id) < scores.count else { return }
            push(Candidate(score: scores[Int(id)], left: left, right: right, size: size))
        }

        for k in 1..<max(count, 1) { consider(Int32(k - 1), Int32(k)) }
        while let c = pop() {
            let l = Int(c.left)
            let r = Int(c.right)
            // Stale when either side has merged since.
            guard length[l] > 0, length[r] > 0, length[l] + length[r] == c.size else { continue }
            length[l] += length[r]
            length[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = c.left }
            consider(prev[l], c.left)
            consider(c.left, next[l])
        }
        var k: Int32 = 0
        while k >= 0 {
            let s = start[Int(k)]
            let n = length[Int(k)]
            if let id = token(s, n) {
                out.append(id)
            } else {
                for b in text[Int(s)..<Int(s + n)] {
                    let t = byteTokens[Int(b)]
                    if t >= 0 {
                        out.append(t)
                    } else if let unknown {
                        out.append(unknown)
                    }
                }
            }
            k = next[Int(k)]
        }
    }
}
