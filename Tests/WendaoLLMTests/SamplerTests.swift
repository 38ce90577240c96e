import Foundation
import Testing
import WendaoCore
@testable import WendaoLLM

@Suite struct SamplerTests {
    /// Logits with a clear order: token i has logit i/10 (the last is the most likely).
    static func ramp(_ n: Int) -> [Float] { (0..<n).map { Float($0) / 10 } }

    @Test func greedyTakesTheLargestLogit() {
        var logits: [Float] = [0.1, 2.5, -1, 2.4]
        var s = Sampler(.greedy)
        #expect(logits.withUnsafeMutableBufferPointer { s.sample($0.baseAddress!, count: 4) } == 1)
    }

    @Test func topKOneIsGreedyAtAnyTemperature() {
        var logits = Self.ramp(100)
        var s = Sampler(SamplingOptions(temperature: 5, topK: 1, seed: 3))
        for _ in 0..<20 {
            #expect(logits.withUnsafeMutableBufferPointer { s.sample($0.baseAddress!, count: 100) } == 99)
        }
    }

    @Test func topKLimitsTheDraw() {
        var logits = Self.ramp(1000)
        var s = Sampler(SamplingOptions(temperature: 100, topK: 5, topP: 1, minP: 0, seed: 9))
        var seen = Set<Int32>()
        for _ in 0..<500 { seen.insert(logits.withUnsafeMutableBufferPointer { s.sample($0.baseAddress!, count: 1000) }) }
        #expect(seen.isSubset(of: [995, 996, 997, 998, 999]))
        #expect(seen.count > 1)  // at this temperature the five are nearly equally likely
    }

    @Test func topPKeepsTheSmallestSetReachingTheMass() {
        // Probabilities about 0.6, 0.3, 0.1 (and tiny others): top-p 0.8 keeps the first two.
        var logits: [Float] = [log(0.6), log(0.3), log(0.1), -30, -30]
        var s = Sampler(SamplingOptions(temperature: 1, topK: 0, topP: 0.8, minP: 0, seed: 1))
        var seen = Set<Int32>()
        for _ in 0..<400 { seen.insert(logits.withUnsafeMutableBufferPointer { s.sample($0.baseAddress!, count: 5) }) }
        #expect(seen == [0, 1])
    }

    @Test func minPDropsUnlikelyTokens() {
        var logits: [Float] = [log(0.5), log(0.45), log(0.05)]
        var s = Sampler(SamplingOptions(temperature: 1, topK: 0, topP: 1, minP: 0.2, seed: 2))
        var seen = Set<Int32>()
        for _ in 0..<400 { seen.insert(logits.withUnsafeMutableBufferPointer { s.sample($0.baseAddress!, count: 3) }) }
        #expect(seen == [0, 1])
    }

    @Test func aSeedReproducesTheDraws() {
        var logits = Self.ramp(50)
        func draws(_ seed: UInt64) -> [Int32] {
            var s = Sampler(SamplingOptions(temperature: 2, topK: 0, topP: 1, minP: 0, seed: seed))
            return (0..<30).map { _ in logits.withUnsafeMutableBufferPointer { s.sample($0.baseAddress!, count: 50) } }
        }
        #expect(draws(42) == draws(42))
        #expect(draws(42) != draws(43))
    }

    @Test func penaltiesLowerRecentTokens() {
        var logits: [Float] = [2, 1, -1, 0.5]
        let s = Sampler(SamplingOptions(repetitionPenalty: 2, presencePenalty: 0.5, frequencyPenalty: 0.25))
        logits.withUnsafeMutableBufferPointer { s.penalize($0.baseAddress!, count: 4, recent: [0, 2, 2][...]) }
        #expect(logits[0] == 2 / 2 - 0.5 - 0.25)
        #expect(logits[1] == 1)
        #expect(logits[2] == -1 * 2 - 0.5 - 0.5)
        #expect(logits[3] == 0.5)
    }

    @Test func outOfRangeOptionsAreRefused() {
        #expect(throws: WendaoError.self) { try SamplingOptions(temperature: -1).validated() }
        #expect(throws: WendaoError.self) { try SamplingOptions(topP: 0).validated() }
        #expect(throws: WendaoError.self) { try SamplingOptions(minP: 1).validated() }
        #expect(throws: WendaoError.self) { try SamplingOptions(temperature: .nan).validated() }
    }

    @Test func topCandidatesAreOrderedWithProbabilities() {
        var logits: [Float] = [0, 3, 1, 2]
        let top = logits.withUnsafeMutableBufferPointer { Sampler.top($0.baseAddress!, count: 4, n: 3, temperature: 1) }
        #expect(top.map(\.id) == [1, 3, 2])
        let z = [0, 3, 1, 2].reduce(0.0) { $0 + exp(Double($1)) }
        #expect(abs(top[0].probability - exp(3) / z) < 1e-9)
    }

    @Test func stopSequencesCutAndHoldBack() {
        // A complete stop sequence: cut before it.
        let text = "Answer.\nUser: more"
        let cut = StopSequences.scan(text, ["\nUser:"])
        #expect(cut.map { String(text[..<$0.0]) } == "Answer.")
        #expect(cut?.1 == true)
        // A suffix that may become one: held back, not matched.
        let partial = "Answer.\nUs"
        let held = StopSequences.scan(partial, ["\nUser:"])
        #expect(held.map { String(partial[..<$0.0]) } == "Answer.")
        #expect(held?.1 == false)
        // Nothing like it: all emitted.
        #expect(StopSequences.scan("plain text", ["\nUser:"]) == nil)
        #expect(StopSequences.scan("plain text", []) == nil)
    }
}
