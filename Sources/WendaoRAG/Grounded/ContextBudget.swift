public import WendaoCore
import WendaoText

/// Chooses the retrieved passages that fit a model's context window.
///
/// The room for sources is the context window minus the reserve for the answer and the tokens of
/// everything else in the prompt (instructions, question, history), capped by an optional user
/// limit. Hits are taken in rank order; one that does not fit is skipped for a smaller one further
/// down; a hit overlapping or touching an already chosen passage of the same document is merged
/// into it and costs only its new text (as ``ContextPacker/contextText(_:)`` does). When even the
/// best hit does not fit, it is cut at a sentence boundary (``SentenceSplitter``) to fit and the
/// selection reports `truncated`. Costs are ``TokenEstimator`` estimates of the rendered source
/// blocks, so they err on the high side.
///
/// ```swift
/// let budget = ContextBudget(contextWindow: 8192, maxAnswerTokens: 1024, fixedTokens: 400)
/// let selection = try budget.select(hits)   // selection.hits, .tokens, .truncated
/// ```
public struct ContextBudget: Sendable, Equatable {
    /// Below this many tokens for sources there is no meaningful context: ``select(_:)`` throws
    /// `.contextTooLong`.
    public static let minimumContextTokens = 64

    /// Tokens the model accepts in prompt plus completion.
    public var contextWindow: Int
    /// Tokens reserved for the answer.
    public var maxAnswerTokens: Int
    /// An optional user cap on the tokens of sources.
    public var maxContextTokens: Int?
    /// Tokens of the rest of the prompt (instructions, question, history, message overheads).
    public var fixedTokens: Int

    /// Creates a budget.
    public init(contextWindow: Int, maxAnswerTokens: Int = 1024, maxContextTokens: Int? = nil, fixedTokens: Int = 0) {
        self.contextWindow = contextWindow
        self.maxAnswerTokens = maxAnswerTokens
        self.maxContextTokens = maxContextTokens
        self.fixedTokens = fixedTokens
    }

    /// Tokens left for the source blocks.
    public var availableTokens: Int {
        let room = contextWindow - maxAnswerTokens - fixedTokens
        guard let cap = maxContextTokens else { return room }
        return min(room, cap)
    }

    /// The passages chosen for a prompt.
    public struct Selection: Sendable, Equatable {
        /// Chosen passages in prompt order. A merged passage keeps the identity (chunk id, section,
        /// page, rank) of its best-ranked hit and carries the merged text and range.
        public var hits: [SearchHit]
        /// Estimated tokens of their source blocks.
        public var tokens: Int
        /// Whether the best hit was cut to fit.
        public var truncated: Bool
    }

    /// Chooses the hits (in rank order) that fit ``availableTokens``.
    ///
    /// Throws `.contextTooLong`, with the numbers, when fewer than ``minimumContextTokens`` are
    /// available or not even a piece of the best hit fits.
    public func select(_ hits: [SearchHit]) throws(WendaoError) -> Selection {
        let available = availableTokens
        guard available >= Self.minimumContextTokens else { throw tooSmall() }
        guard let best = hits.first else { return Selection(hits: [], tokens: 0, truncated: false) }
        let bestCost = Self.cost(of: best, number: 1)
        if bestCost > available {
            return try truncated(best, to: available)
        }
        var chosen: [SearchHit] = []
        var costs: [Int] = []
        var used = 0
        for h in hits {
            if let k = chosen.firstIndex(where: { Self.adjoins($0, h) }) {
                guard let merged = Self.merge(chosen[k], h) else { continue }
                let c = Self.cost(of: merged, number: k + 1)
                let delta = c - costs[k]
                if used + delta > available { continue }
                chosen[k] = merged
                costs[k] = c
                used += delta
            } else {
                let c = Self.cost(of: h, number: chosen.count + 1)
                // A hit that does not fit is skipped for a smaller one further down.
                if used + c > available { continue }
                chosen.append(h)
                costs.append(c)
                used += c
            }
        }
        return Selection(hits: chosen, tokens: used, truncated: false)
    }

    /// Estimated tokens of the source block of `hit` numbered `number` (separator included).
    public static func cost(of hit: SearchHit, number: Int) -> Int {
        TokenEstimator.estimate(GroundedPrompt.sourceBlock(number: number, hit: hit) + "\n")
    }

    // MARK: - Internals

    /// Tokens the context window leaves for sources, before any cap.
    private var room: Int { contextWindow - maxAnswerTokens - fixedTokens }

    /// The cap, when it is what limits the sources (it is below the room the window leaves).
    private var bindingCap: Int? {
        guard let cap = maxContextTokens, cap < room else { return nil }
        return cap
    }

    /// How the room is computed; the cap is mentioned when it binds.
    private var arithmetic: String {
        var s =
            "context window \(contextWindow) − answer reserve \(maxAnswerTokens) − instructions, question and "
            + "history \(fixedTokens) = \(room)"
        if let cap = bindingCap { s += ", capped at \(cap) by maxContextTokens" }
        return s
    }

    /// The error for fewer than ``minimumContextTokens`` available, naming what limits them: the
    /// context window (too small for the answer reserve and the rest of the prompt), or, when the
    /// window leaves enough, the caller's cap.
    private func tooSmall() -> WendaoError {
        let minimum = Self.minimumContextTokens
        let window =
            "context window \(contextWindow) − answer reserve \(maxAnswerTokens) − instructions, question and "
            + "history \(fixedTokens) = \(room)"
        if room >= minimum, let cap = maxContextTokens {
            return WendaoError(
                .contextTooLong,
                "a context cap of \(cap) tokens is below the \(minimum)-token minimum for sources; raise the cap "
                    + "(maxContextTokens) or remove it: the context window leaves \(room) tokens for sources (\(window))")
        }
        let leaves =
            room >= 0
            ? "the prompt leaves \(room) tokens for sources, at least \(minimum) are needed"
            : "the prompt is \(-room) tokens over the context window before any source is added, and sources "
                + "need at least \(minimum)"
        return WendaoError(
            .contextTooLong,
            "\(leaves) (\(window)); use a model with a larger context window, fewer answer tokens, a shorter "
                + "question or less history")
    }

    /// Whether `h` overlaps or touches passage `p` of the same document.
    static func adjoins(_ p: SearchHit, _ h: SearchHit) -> Bool {
        p.documentID == h.documentID && p.document == h.document && h.start <= p.end && h.end >= p.start
            && p.text.unicodeScalars.count == p.end - p.start && h.text.unicodeScalars.count == h.end - h.start
    }

    /// Passage `p` extended by the text of `h` (which adjoins it); nil when `h` adds nothing.
    static func merge(_ p: SearchHit, _ h: SearchHit) -> SearchHit? {
        guard h.start < p.start || h.end > p.end else { return nil }
        let hs = Array(h.text.unicodeScalars)
        var text = Array(p.text.unicodeScalars)
        var out = p
        if h.start < p.start {
            text = Array(hs[0..<(p.start - h.start)]) + text
            out.start = h.start
        }
        if h.end > p.end {
            text += hs[(p.end - h.start)...]
            out.end = h.end
        }
        out.text = String(String.UnicodeScalarView(text))
        return out
    }

    /// The longest prefix of `best` that fits `available`: whole sentences when at least one fits,
    /// else as many characters as fit.
    private func truncated(_ best: SearchHit, to available: Int) throws(WendaoError) -> Selection {
        let scalars = Array(best.text.unicodeScalars)
        func prefix(_ n: Int) -> SearchHit {
            var h = best
            h.text = String(String.UnicodeScalarView(scalars[0..<n]))
            h.end = h.start + n
            return h
        }
        func fits(_ n: Int) -> Bool { Self.cost(of: prefix(n), number: 1) <= available }
        // Sentence ends, ascending: the largest that fits (cost grows with length).
        let ends = SentenceSplitter.spans(scalars.map(\.value)).map(\.end)
        var lo = 0
        var hi = ends.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if fits(ends[mid]) { lo = mid + 1 } else { hi = mid }
        }
        var length = lo > 0 ? ends[lo - 1] : 0
        if length == 0 {
            // Not even the first sentence fits: as many characters of it as do.
            var a = 0
            var b = ends.first ?? scalars.count
            while a < b {
                let mid = (a + b + 1) / 2
                if fits(mid) { a = mid } else { b = mid - 1 }
            }
            length = a
        }
        guard length > 0 else {
            throw WendaoError(
                .contextTooLong,
                "not even the start of the best passage fits the \(available) tokens "
                    + "left for sources (\(arithmetic))")
        }
        let h = prefix(length)
        return Selection(hits: [h], tokens: Self.cost(of: h, number: 1), truncated: true)
    }
}
