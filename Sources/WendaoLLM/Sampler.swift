public import WendaoCore
import Foundation

/// How the next token is chosen from the logits.
///
/// The order is llama.cpp's default chain: penalties on recent tokens, then top-k, top-p and min-p
/// on the temperature-scaled distribution, then a draw (or the most likely token at temperature 0).
public struct SamplingOptions: Sendable, Equatable, Hashable {
    /// 0 picks the most likely token (greedy); higher spreads the choice.
    public var temperature: Double = 0.7
    /// Keep only the `topK` most likely tokens (0: all).
    public var topK: Int = 40
    /// Keep the smallest set of tokens whose probabilities add up to `topP` (1: all).
    public var topP: Double = 0.95
    /// Drop tokens less likely than `minP` × the most likely one (0: none).
    public var minP: Double = 0.05
    /// Divides positive logits (multiplies negative ones) of tokens seen in the last
    /// ``penaltyWindow`` tokens (1: off).
    public var repetitionPenalty: Double = 1.0
    /// Subtracted from the logits of tokens seen in the window (0: off).
    public var presencePenalty: Double = 0
    /// Subtracted once per occurrence in the window (0: off).
    public var frequencyPenalty: Double = 0
    /// How many recent tokens the penalties look at.
    public var penaltyWindow: Int = 64
    /// Seed of the random draw (nil: a fresh one).
    public var seed: UInt64?

    /// Greedy decoding: always the most likely token.
    public static let greedy = SamplingOptions(temperature: 0, topK: 1, topP: 1, minP: 0)

    /// Default options (temperature 0.7, top-k 40, top-p 0.95, min-p 0.05).
    public init(
        temperature: Double = 0.7, topK: Int = 40, topP: Double = 0.95, minP: Double = 0.05,
        repetitionPenalty: Double = 1.0, presencePenalty: Double = 0, frequencyPenalty: Double = 0,
        penaltyWindow: Int = 64, seed: UInt64? = nil
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.penaltyWindow = penaltyWindow
        self.seed = seed
    }

    /// Checks the ranges.
    public func validated() throws(WendaoError) -> SamplingOptions {
        guard temperature >= 0, temperature.isFinite, topK >= 0, topP > 0, topP <= 1, minP >= 0, minP < 1,
            repetitionPenalty > 0, repetitionPenalty.isFinite, presencePenalty.isFinite, frequencyPenalty.isFinite,
            penaltyWindow >= 0
        else {
            throw WendaoError(
                .invalidArgument,
                "sampling options out of range (temperature ≥ 0, top_k ≥ 0, 0 < top_p ≤ 1, 0 ≤ min_p < 1, repetition penalty > 0)"
            )
        }
        return self
    }
}

/// One candidate of a sampling step, for ``LanguageModel/inspect``.
public struct TokenCandidate: Sendable, Equatable, Codable {
    /// The token id.
    public var id: Int32
    /// Its probability after penalties and temperature (before top-k/top-p/min-p).
    public var probability: Double
    /// Its raw logit.
    public var logit: Float
}

/// Draws tokens from logits with ``SamplingOptions``; keeps the random state between draws.
public struct Sampler: Sendable {
    /// The options.
    public let options: SamplingOptions
    private var rng: SplitMix64

    /// A sampler with `options` (seeded from `options.seed`, else at random).
    public init(_ options: SamplingOptions) {
        self.options = options
        rng = SplitMix64(seed: options.seed ?? UInt64.random(in: 0...UInt64.max))
    }

    /// Applies the penalties for `recent` tokens to `logits` in place.
    func penalize(_ logits: UnsafeMutablePointer<Float>, count: Int, recent: ArraySlice<Int32>) {
        let o = options
        guard o.repetitionPenalty != 1 || o.presencePenalty != 0 || o.frequencyPenalty != 0 else { return }
        var seen: [Int32: Int] = [:]
        for t in recent.suffix(o.penaltyWindow) { seen[t, default: 0] += 1 }
        for (t, n) in seen where t >= 0 && Int(t) < count {
            var l = logits[Int(t)]
            if o.repetitionPenalty != 1 {
                l = l > 0 ? l / Float(o.repetitionPenalty) : l * Float(o.repetitionPenalty)
            }
            l -= Float(o.presencePenalty) + Float(o.frequencyPenalty) * Float(n)
            logits[Int(t)] = l
        }
    }

    /// The `n` most likely tokens of `logits` with their probabilities at this temperature.
    static func top(_ logits: UnsafePointer<Float>, count: Int, n: Int, temperature: Double) -> [TokenCandidate] {
        let k = min(n, count)
        var best: [(Float, Int32)] = []
        best.reserveCapacity(k + 1)
        var maxLogit = -Float.infinity
        for i in 0..<count {
            let l = logits[i]
            maxLogit = max(maxLogit, l)
            if best.count < k || l > best[best.count - 1].0 {
                var j = best.count
                best.append((l, Int32(i)))
                while j > 0 && best[j - 1].0 < l {
                    best[j] = best[j - 1]
                    j -= 1
                }
                best[j] = (l, Int32(i))
                if best.count > k { best.removeLast() }
            }
        }
        let t = temperature > 0 ? temperature : 1
        var z = 0.0
        for i in 0..<count { z += expDouble(Double(logits[i] - maxLogit) / t) }
        return best.map { TokenCandidate(id: $0.1, probability: expDouble(Double($0.0 - maxLogit) / t) / z, logit: $0.0) }
    }

    /// Chooses the next token from `logits` (penalties already applied).
    mutating func sample(_ logits: UnsafePointer<Float>, count: Int) -> Int32 {
        let o = options
        if o.temperature <= 0 || o.topK == 1 {
            var best = 0
            for i in 1..<count where logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        // Candidates: top-k (all when 0), sorted by logit.
        let k = o.topK > 0 ? min(o.topK, count) : count
        var candidates = Sampler.top(logits, count: count, n: k, temperature: o.temperature)
        // Renormalise over the candidates, then top-p and min-p.
        let total = candidates.reduce(0) { $0 + $1.probability }
        for i in candidates.indices { candidates[i].probability /= total }
        if o.minP > 0, let first = candidates.first {
            let floor = first.probability * o.minP
            candidates = candidates.filter { $0.probability >= floor }
        }
        if o.topP < 1 {
            var mass = 0.0
            var keep = 0
            for c in candidates {
                keep += 1
                mass += c.probability
                if mass >= o.topP { break }
            }
            candidates.removeSubrange(keep...)
        }
        let mass = candidates.reduce(0) { $0 + $1.probability }
        var r = rng.nextDouble() * mass
        for c in candidates {
            r -= c.probability
            if r <= 0 { return c.id }
        }
        return candidates.last!.id
    }
}

@inline(__always) private func expDouble(_ x: Double) -> Double { exp(x) }

/// A small, fast, seedable random generator (SplitMix64), so a seed reproduces a generation.
public struct SplitMix64: Sendable {
    private var state: UInt64
    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
