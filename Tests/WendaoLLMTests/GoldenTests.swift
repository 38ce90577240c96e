import Foundation
import Testing
import WendaoCore
@testable import WendaoLLM

/// llama.cpp's outputs on the same files (Tests/Fixtures/llm, made by scripts/make-llm-goldens.py):
/// first-step logits and greedy continuations of SmolLM2-135M (Q4_1 and Q8_0 weights, llama
/// architecture) and of the tiny random qwen2 and llama models (every block type the kernels run).
@Suite(.serialized) struct GoldenTests {
    struct Prompt: Decodable {
        var name: String
        var ids: [Int32]
        var top5_ids: [Int32]?
        var logits: [Float]?
        var greedy: Greedy?
    }
    struct Greedy: Decodable {
        var name: String?
        var tokens: [Int32]
        var gaps: [Float]
    }
    struct LogitsFile: Decodable { var prompts: [Prompt] }
    struct GreedyFile: Decodable { var runs: [Greedy] }

    static func fixture<T: Decodable>(_ name: String, as: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: TinyModels.folder.appendingPathComponent(name)))
    }

    /// The `index`-th vector of `count` float16 values in `file`.
    static func halfVectors(_ name: String, index: Int, count: Int) throws -> [Float] {
        let data = try Data(contentsOf: TinyModels.folder.appendingPathComponent(name))
        return data.withUnsafeBytes { raw in
            (0..<count).map { i in Half.float(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * (index * count + i), as: UInt16.self))) }
        }
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y)
            na += Double(x) * Double(x)
            nb += Double(y) * Double(y)
        }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    static func top(_ v: [Float], _ n: Int) -> [Int32] {
        v.indices.sorted { v[$0] > v[$1] }.prefix(n).map { Int32($0) }
    }

    /// Checks that our `n` most likely tokens are llama.cpp's, except where a token of llama.cpp's top
    /// `n` was nearly tied (within `nearTie`) with the best token outside it: there the order of two
    /// nearly equal logits is within the rounding both runtimes make.
    static func expectSameTop(_ n: Int, _ ours: [Float], _ theirs: [Float], nearTie: Float, _ label: String) {
        let mine = Set(top(ours, n))
        let reference = top(theirs, n + 1)
        let boundary = theirs[Int(reference[n])]
        for id in reference.prefix(n) where !mine.contains(id) {
            #expect(
                theirs[Int(id)] - boundary < nearTie,
                "\(label): llama.cpp's token \(id) (logit \(theirs[Int(id)])) is not in our top \(n) \(top(ours, n)), and it was not nearly tied with its next (\(boundary))"
            )
        }
    }

    /// Greedy decoding from `prompt` for `steps` tokens.
    static func greedy(_ m: LanguageModel, _ prompt: [Int32], steps: Int) throws -> [Int32] {
        m.resetCache()
        var out: [Int32] = []
        var logits = try m.evaluate(prompt)
        let vocab = m.hyperparameters.vocabularySize
        for _ in 0..<steps {
            var best = 0
            for i in 1..<vocab where logits[i] > logits[best] { best = i }
            out.append(Int32(best))
            logits = try m.step(Int32(best))
        }
        return out
    }

    /// Checks a greedy run against llama.cpp's: identical, or the first difference comes at a step
    /// where llama.cpp's two best tokens were nearly tied (its top-1/top-2 gap below `nearTie`).
    static func expectSameGreedy(_ ours: [Int32], _ theirs: Greedy, nearTie: Float, _ label: String) {
        guard let i = zip(ours, theirs.tokens).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
        else { return }
        #expect(
            theirs.gaps[i] < nearTie,
            "\(label): greedy tokens differ at step \(i) (ours \(ours[i]), llama.cpp \(theirs.tokens[i])) where llama.cpp's top-2 gap is \(theirs.gaps[i])"
        )
    }

    @Test("SmolLM2: first-step logits of 10 prompts match llama.cpp's (cosine ≥ 0.999, the same top 5)")
    func smolLM2Logits() throws {
        let m = try LanguageModel(path: try TestModels.smolLM2Path(), contextLength: 512, threads: 2)
        let file = try Self.fixture("smollm2-logits.json", as: LogitsFile.self)
        #expect(file.prompts.count == 10)
        let vocab = m.hyperparameters.vocabularySize
        for (i, p) in file.prompts.enumerated() {
            m.resetCache()
            let ours = Array(UnsafeBufferPointer(start: try m.evaluate(p.ids), count: vocab))
            let theirs = try Self.halfVectors("smollm2-logits.f16", index: i, count: vocab)
            let c = Self.cosine(ours, theirs)
            #expect(c >= 0.999, "\(p.name): cosine \(c)")
            Self.expectSameTop(5, ours, theirs, nearTie: 0.1, p.name)
        }
    }

    @Test("SmolLM2: 32 greedy tokens after each prompt are llama.cpp's, up to a near-tie")
    func smolLM2Greedy() throws {
        let m = try LanguageModel(path: try TestModels.smolLM2Path(), contextLength: 512, threads: 2)
        let prompts = try Self.fixture("smollm2-logits.json", as: LogitsFile.self).prompts
        let runs = try Self.fixture("smollm2-greedy.json", as: GreedyFile.self).runs
        #expect(runs.count == prompts.count)
        for (p, run) in zip(prompts, runs) {
            let ours = try Self.greedy(m, p.ids, steps: run.tokens.count)
            Self.expectSameGreedy(ours, run, nearTie: 0.5, p.name)
        }
    }

    @Test("Tiny qwen2 (Q4_K, Q5_K, Q6_K, Q8_0, Q5_0, Q4_0, Q4_1, F16): logits and greedy tokens match llama.cpp's")
    func tinyQwen2() throws { try tiny("tiny-qwen2") }

    @Test("Tiny llama with a SentencePiece vocabulary: logits and greedy tokens match llama.cpp's")
    func tinyLlama() throws { try tiny("tiny-llama-spm") }

    func tiny(_ name: String) throws {
        let m = try LanguageModel(path: TinyModels.folder.appendingPathComponent(name + ".gguf").path, threads: 2)
        let file = try Self.fixture(name + ".json", as: LogitsFile.self)
        #expect(file.prompts.count >= 4)
        let vocab = m.hyperparameters.vocabularySize
        for p in file.prompts {
            m.resetCache()
            let ours = Array(UnsafeBufferPointer(start: try m.evaluate(p.ids), count: vocab))
            let theirs = try #require(p.logits)
            let c = Self.cosine(ours, theirs)
            #expect(c >= 0.999, "\(name) \(p.name): cosine \(c)")
            Self.expectSameTop(1, ours, theirs, nearTie: 0.1, "\(name) \(p.name)")
            if let g = p.greedy {
                let run = try Self.greedy(m, p.ids, steps: g.tokens.count)
                Self.expectSameGreedy(run, g, nearTie: 0.1, "\(name) \(p.name)")
            }
        }
    }
}
