/// A seeded paired bootstrap of the difference between two variants' per-question scores, so that "B is
/// better than A" is said only when the confidence interval of the difference excludes zero.
///
/// Questions are resampled with replacement (the same indices for both variants: the test is paired);
/// the interval is the 2.5th and 97.5th percentile of the resampled mean differences. The random
/// numbers come from SplitMix64 with a fixed seed, so a run is repeatable.
///
/// ```swift
/// let d = PairedBootstrap.compare(a: [0, 1, 1, 0], b: [1, 1, 1, 1], resamples: 1000, seed: 7)
/// print(d.difference, d.low, d.high, d.significant)
/// ```
public enum PairedBootstrap {
    /// The mean difference `b − a` and its confidence interval.
    public struct Difference: Sendable, Codable, Equatable {
        /// Mean of `b − a` over the questions.
        public var difference: Double
        /// Lower end of the 95 % interval.
        public var low: Double
        /// Upper end of the 95 % interval.
        public var high: Double
        /// Pairs compared.
        public var questions: Int

        /// Whether the interval excludes zero.
        public var significant: Bool { low > 0 || high < 0 }

        enum CodingKeys: String, CodingKey {
            case difference, low = "ci_low", high = "ci_high", questions
        }

        /// Creates a difference.
        public init(difference: Double, low: Double, high: Double, questions: Int) {
            self.difference = difference
            self.low = low
            self.high = high
            self.questions = questions
        }
    }

    /// Compares paired scores (`a[i]` and `b[i]` belong to the same question; the shorter length is used).
    public static func compare(a: [Double], b: [Double], resamples: Int = 1000, seed: UInt64 = 17) -> Difference {
        let n = min(a.count, b.count)
        guard n > 0 else { return Difference(difference: 0, low: 0, high: 0, questions: 0) }
        let diffs = (0..<n).map { b[$0] - a[$0] }
        let mean = diffs.reduce(0, +) / Double(n)
        var rng = SplitMix64(seed: seed)
        var means: [Double] = []
        means.reserveCapacity(max(1, resamples))
        for _ in 0..<max(1, resamples) {
            var sum = 0.0
            for _ in 0..<n { sum += diffs[Int(rng.next() % UInt64(n))] }
            means.append(sum / Double(n))
        }
        means.sort()
        func percentile(_ p: Double) -> Double { means[Int((p * Double(means.count - 1)).rounded())] }
        return Difference(difference: mean, low: percentile(0.025), high: percentile(0.975), questions: n)
    }
}

/// SplitMix64: a small, fast, seedable generator (Steele, Lea and Flood, 2014).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting at `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
