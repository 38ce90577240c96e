import Foundation
import Testing
import WendaoLLM

// Checks that the llama.cpp golden fixtures in Tests/Fixtures/llm are where the tests expect them and agree with
// their own descriptions (binary layout, top-5 lists, greedy first steps, the tiny models' tensor types). The
// runtime's own golden tests live elsewhere; this one only guards the data they read. See the README there.

/// Tests/Fixtures/llm, found through the real location of this file (it may be reached through a symlink).
private let llmFixtures: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/llm")

private func fixtureData(_ name: String) throws -> Data {
    try Data(contentsOf: llmFixtures.appendingPathComponent(name))
}

/// Little-endian float16 values, as Float.
private func float16Values(_ data: Data) -> [Float] {
    data.withUnsafeBytes { raw in
        (0..<(raw.count / 2)).map { i in
            Float(Float16(bitPattern: UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8))
        }
    }
}

private struct LogitsFile: Decodable {
    struct File: Decodable {
        var name: String
        var shape: [Int]
    }
    struct Reference: Decodable {
        var top5_ids: [Int]
        var index_in_ref_file: Int?
    }
    struct Prompt: Decodable {
        var name: String
        var ids: [Int]
        var top5_ids: [Int]
        var top5_logits: [Float]
        var norm: Float
        var reference_f64: Reference
    }
    var logits_file: File
    var reference_logits_file: File
    var prompts: [Prompt]
}

private struct GreedyFile: Decodable {
    struct Run: Decodable {
        var name: String
        var tokens: [Int]
        var gaps: [Float]
    }
    var n_steps: Int
    var runs: [Run]
}

private struct TokensFile: Decodable {
    struct Case: Decodable {
        var name: String
        var text: String
        var ids: [Int]
        var ids_parse_special: [Int]
        var pieces_roundtrip: Bool
    }
    struct Piece: Decodable {
        var id: Int
        var hex: String
    }
    var cases: [Case]
    var pieces: [Piece]?
}

private struct TinyFile: Decodable {
    struct Greedy: Decodable {
        var tokens: [Int]
    }
    struct Prompt: Decodable {
        var name: String
        var ids: [Int]
        var logits: [Float]
        var reference_logits_f64: [Float]
        var greedy: Greedy
    }
    var prompts: [Prompt]
}

private struct DequantFile: Decodable {
    struct Matrix: Decodable {
        var tensor: String
        var type: String
        var ne: [Int]
    }
    var models: [String: [Matrix]]
}

private func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.utf8.makeIterator()
    while let hi = it.next(), let lo = it.next() {
        out.append(UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16)!)
    }
    return out
}

@Suite struct LLMFixturesTests {
    @Test func smollm2LogitsMatchTheirDescription() throws {
        let doc = try JSONDecoder().decode(LogitsFile.self, from: fixtureData("smollm2-logits.json"))
        let nVocab = 49152
        #expect(doc.logits_file.shape == [doc.prompts.count, nVocab])
        let values = float16Values(try fixtureData(doc.logits_file.name))
        #expect(values.count == doc.prompts.count * nVocab)
        for (i, prompt) in doc.prompts.enumerated() {
            let row = values[(i * nVocab)..<((i + 1) * nVocab)]
            for (id, logit) in zip(prompt.top5_ids, prompt.top5_logits) {
                // Float16 holds values below 64 to within 1/64.
                #expect(abs(row[row.startIndex + id] - logit) <= 1.0 / 64, "\(prompt.name) id \(id)")
            }
            let best = row.indices.max { row[$0] < row[$1] }! - row.startIndex
            #expect(best == prompt.top5_ids[0], "\(prompt.name)")
            let norm = row.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - prompt.norm) <= 1e-3 * prompt.norm, "\(prompt.name)")
        }
        let kept = doc.prompts.filter { $0.reference_f64.index_in_ref_file != nil }
        #expect(doc.reference_logits_file.shape == [kept.count, nVocab])
        let reference = float16Values(try fixtureData(doc.reference_logits_file.name))
        #expect(reference.count == kept.count * nVocab)
        for prompt in kept {
            let j = prompt.reference_f64.index_in_ref_file!
            let row = reference[(j * nVocab)..<((j + 1) * nVocab)]
            let best = row.indices.max { row[$0] < row[$1] }! - row.startIndex
            #expect(best == prompt.reference_f64.top5_ids[0], "\(prompt.name)")
        }
    }

    @Test func smollm2GreedyRunsStartWithTheTopLogit() throws {
        let logits = try JSONDecoder().decode(LogitsFile.self, from: fixtureData("smollm2-logits.json"))
        let greedy = try JSONDecoder().decode(GreedyFile.self, from: fixtureData("smollm2-greedy.json"))
        #expect(greedy.runs.map(\.name) == logits.prompts.map(\.name))
        for (run, prompt) in zip(greedy.runs, logits.prompts) {
            #expect(run.tokens.count == greedy.n_steps)
            #expect(run.gaps.count == greedy.n_steps)
            #expect(run.tokens.first == prompt.top5_ids[0])
            #expect(run.gaps.allSatisfy { $0 >= 0 })
        }
    }

    @Test(arguments: ["smollm2-tokens.json", "tiny-qwen2.json", "tiny-llama-spm.json"])
    func piecesGiveBackTheText(file: String) throws {
        let doc = try JSONDecoder().decode(TokensFile.self, from: fixtureData(file))
        #expect(doc.cases.count >= 15)
        let pieces = Dictionary(uniqueKeysWithValues: (doc.pieces ?? []).map { ($0.id, bytes(hex: $0.hex)) })
        for c in doc.cases where c.pieces_roundtrip {
            let decoded = c.ids.flatMap { pieces[$0] ?? [] }
            #expect(decoded == Array(c.text.utf8), "\(file) \(c.name)")
        }
    }

    @Test(arguments: ["tiny-qwen2", "tiny-llama-spm"])
    func tinyModelsAgreeWithTheirGoldens(name: String) throws {
        let file = try GGUFFile(path: llmFixtures.appendingPathComponent(name + ".gguf").path)
        #expect(file.architecture == (name == "tiny-qwen2" ? "qwen2" : "llama"))
        let nVocab = try #require(file.metadata["tokenizer.ggml.tokens"]?.array).count
        let doc = try JSONDecoder().decode(TinyFile.self, from: fixtureData(name + ".json"))
        #expect(doc.prompts.count == 4)
        for prompt in doc.prompts {
            #expect(prompt.logits.count == nVocab)
            #expect(prompt.reference_logits_f64.count == nVocab)
            let best = prompt.logits.indices.max { prompt.logits[$0] < prompt.logits[$1] }!
            #expect(prompt.greedy.tokens.first == best, "\(name) \(prompt.name)")
        }
        let dequant = try JSONDecoder().decode(DequantFile.self, from: fixtureData("tiny-dequant.json"))
        let byName = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0) })
        for matrix in try #require(dequant.models[name + ".gguf"]) {
            let tensor = try #require(byName[matrix.tensor])
            #expect(tensor.type.name == matrix.type)
            #expect(tensor.shape == matrix.ne)
        }
        if name == "tiny-qwen2" {
            let types = Set(file.tensors.map(\.type))
            #expect(types == [.f32, .f16, .q4_0, .q4_1, .q5_0, .q8_0, .q4_K, .q5_K, .q6_K])
        }
    }
}
