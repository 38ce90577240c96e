import Foundation
import Testing
import WendaoCore
@testable import WendaoLLM

/// The model files the LLM tests run on. They are not skipped when missing: CI provides them, and a
/// test that silently skips proves nothing.
enum TestModels {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// SmolLM2-135M-Instruct (Q4_1): `$WENDAO_TEST_GGUF_SMOLLM2`, else
    /// `$WENDAO_MODELS/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf` (`WENDAO_MODELS` defaults to
    /// `~/.cache/wendao/models`).
    static func smolLM2Path() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["WENDAO_TEST_GGUF_SMOLLM2"], !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else {
                throw Missing(description: "WENDAO_TEST_GGUF_SMOLLM2 names \(path), which does not exist")
            }
            return path
        }
        let models =
            env["WENDAO_MODELS"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/wendao/models").path
        let path = models + "/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            throw Missing(
                description:
                    "SmolLM2-135M-Instruct.Q4_1.gguf is not at \(path): put it there (or set WENDAO_MODELS, or WENDAO_TEST_GGUF_SMOLLM2 to the file)"
            )
        }
        return path
    }

    private static let loaded: Result<(GGUFFile, LLMTokenizer), any Error> = Result {
        let path = try smolLM2Path()
        let file = try GGUFFile(path: path)
        return (file, try LLMTokenizer(gguf: file, file: path))
    }

    /// SmolLM2's file and tokenizer, read once for all tests.
    static func smolLM2() throws -> (file: GGUFFile, tokenizer: LLMTokenizer) { try loaded.get() }
}

/// llama.cpp's token ids for texts (made by scripts/make-llm-goldens.py with llama-cpp-python), in
/// `Tests/Fixtures/llm`.
struct TokenFixture: Decodable {
    struct Case: Decodable {
        var name: String
        var textHex: String
        var addBOS: Bool
        var ids: [Int32]
        var idsParseSpecial: [Int32]
        var piecesRoundtrip: Bool
        var detokenizedHex: String
        var detokenizedParseSpecialHex: String

        enum CodingKeys: String, CodingKey {
            case name, ids
            case textHex = "text_hex"
            case addBOS = "add_bos"
            case idsParseSpecial = "ids_parse_special"
            case piecesRoundtrip = "pieces_roundtrip"
            case detokenizedHex = "detokenized_hex"
            case detokenizedParseSpecialHex = "detokenized_parse_special_hex"
        }

        var text: String { String(decoding: TokenFixture.bytes(hex: textHex), as: UTF8.self) }
    }

    struct Piece: Decodable {
        var id: Int32
        var hex: String
        var hexSpecial: String?
        var control: Bool?

        enum CodingKeys: String, CodingKey {
            case id, hex, control
            case hexSpecial = "hex_special"
        }
    }

    var cases: [Case]
    var pieces: [Piece]?

    /// The fixture directory: `Tests/Fixtures/llm`, found from this source file.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/llm")

    static func load(_ name: String) throws -> TokenFixture {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try JSONDecoder().decode(TokenFixture.self, from: data)
    }

    static func bytes(hex: String) -> [UInt8] {
        let u = Array(hex.utf8)
        return stride(from: 0, to: u.count - 1, by: 2).map {
            UInt8(String(decoding: u[$0..<($0 + 2)], as: UTF8.self), radix: 16)!
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Compares `tokenizer` with every case and piece; records an issue per difference.
    func check(_ tokenizer: LLMTokenizer, _ fixture: String) {
        for c in cases {
            let text = c.text
            let ids = tokenizer.encode(text, addBOS: c.addBOS, parseSpecial: false)
            #expect(ids == c.ids, "\(fixture) \(c.name): \(text.debugDescription)")
            let special = tokenizer.encode(text, addBOS: c.addBOS, parseSpecial: true)
            #expect(special == c.idsParseSpecial, "\(fixture) \(c.name) (parse special): \(text.debugDescription)")
            let decoded = c.ids.flatMap { tokenizer.piece($0) }
            #expect((decoded == Array(text.utf8)) == c.piecesRoundtrip, "\(fixture) \(c.name): round trip")
            #expect(
                Self.hex(tokenizer.decodedBytes(c.ids, special: false)) == c.detokenizedHex,
                "\(fixture) \(c.name): decode")
            #expect(
                Self.hex(tokenizer.decodedBytes(c.idsParseSpecial, special: true)) == c.detokenizedParseSpecialHex,
                "\(fixture) \(c.name): decode with special tokens")
        }
        for p in pieces ?? [] {
            #expect(Self.hex(tokenizer.piece(p.id)) == p.hex, "\(fixture) piece of \(p.id)")
            #expect(
                Self.hex(tokenizer.piece(p.id, special: true)) == p.hexSpecial ?? p.hex,
                "\(fixture) special piece of \(p.id)")
            #expect((tokenizer.kind(of: p.id) == .control) == (p.control ?? false), "\(fixture) kind of \(p.id)")
        }
    }
}

/// Hand-made vocabularies for tests that need no model file.
enum TinyVocab {
    /// A byte-level BPE vocabulary: every single byte, a few merges (`hello`, ` world`, `ll`), the
    /// given special tokens (text and type) at the end.
    static func bpeMetadata(
        pre: String? = "gpt2", specials: [(String, Int32)] = [], template: String? = nil
    ) -> [String: GGUFValue] {
        var tokens = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) }
        let merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"]
        tokens += ["he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld"]
        var types = [Int32](repeating: 1, count: tokens.count)
        for (text, type) in specials {
            tokens.append(text)
            types.append(type)
        }
        var m: [String: GGUFValue] = [
            "general.name": .string("Tiny BPE"),
            "tokenizer.ggml.model": .string("gpt2"),
            "tokenizer.ggml.tokens": .array(tokens.map(GGUFValue.string)),
            "tokenizer.ggml.token_type": .array(types.map { .signed(Int64($0)) }),
            "tokenizer.ggml.merges": .array(merges.map(GGUFValue.string)),
        ]
        if let pre { m["tokenizer.ggml.pre"] = .string(pre) }
        if let template { m["tokenizer.chat_template"] = .string(template) }
        return m
    }

    /// A SentencePiece vocabulary: `<unk> <s> </s>`, the 256 byte tokens, then `▁ h e l o ▁h ll ▁he
    /// ▁hell ▁hello` with scores that build `▁hello` step by step.
    static func spmMetadata(extra: [(String, Int32)] = [], template: String? = nil) -> [String: GGUFValue] {
        var tokens = ["<unk>", "<s>", "</s>"]
        var types: [Int32] = [2, 3, 3]
        var scores: [Float] = [0, 0, 0]
        for b in 0..<256 {
            tokens.append(String(format: "<0x%02X>", b))
            types.append(6)
            scores.append(0)
        }
        for (t, s) in [
            ("▁", -10), ("h", -10), ("e", -10), ("l", -10), ("o", -10), ("▁h", -1), ("ll", -2), ("▁he", -3),
            ("▁hell", -4), ("▁hello", -5),
        ] as [(String, Float)] {
            tokens.append(t)
            types.append(1)
            scores.append(s)
        }
        for (t, type) in extra {
            tokens.append(t)
            types.append(type)
            scores.append(0)
        }
        var m: [String: GGUFValue] = [
            "general.name": .string("Tiny SPM"),
            "tokenizer.ggml.model": .string("llama"),
            "tokenizer.ggml.tokens": .array(tokens.map(GGUFValue.string)),
            "tokenizer.ggml.token_type": .array(types.map { .signed(Int64($0)) }),
            "tokenizer.ggml.scores": .array(scores.map { .float(Double($0)) }),
            "tokenizer.ggml.bos_token_id": .unsigned(1),
            "tokenizer.ggml.eos_token_id": .unsigned(2),
        ]
        if let template { m["tokenizer.chat_template"] = .string(template) }
        return m
    }
}

extension GGUFWriter {
    mutating func add(_ key: String, i32s values: [Int32]) {
        metadata.append((key, 9, Self.le(UInt32(5)) + Self.le(UInt64(values.count)) + values.flatMap(Self.le)))
    }
    mutating func add(_ key: String, bool value: Bool) { metadata.append((key, 7, [value ? 1 : 0])) }
}

@Suite struct TokenizerTests {
    // MARK: SmolLM2 (byte-level BPE, pre-tokenizer `smollm`)

    @Test("SmolLM2's vocabulary: size, special tokens and end-of-generation tokens as llama.cpp reads them")
    func smolLM2Vocabulary() throws {
        let t = try TestModels.smolLM2().tokenizer
        #expect(t.model == .bytePairGPT2)
        #expect(t.preTokenizerName == "smollm")
        #expect(t.warnings.isEmpty)
        #expect(t.vocabularySize == 49152)
        #expect(t.bos == 1 && t.eos == 2 && t.eot == 2)
        #expect(!t.addsBOS)
        #expect(t.text(of: 1) == "<|im_start|>" && t.kind(of: 1) == .control)
        // <|im_end|> (EOS), <|endoftext|> by its text, and <reponame> as a fill-in-the-middle token.
        #expect(t.endOfGenerationTokens == [0, 2, 4])
        #expect(t.isEndOfGeneration(2) && !t.isEndOfGeneration(1))
    }

    @Test("SmolLM2 gives llama.cpp's token ids and pieces for every golden text")
    func smolLM2Goldens() throws {
        let fixture = try TokenFixture.load("smollm2-tokens.json")
        #expect(fixture.cases.count >= 35)
        fixture.check(try TestModels.smolLM2().tokenizer, "smollm2-tokens.json")
    }

    @Test(
        "The tiny test models give llama.cpp's token ids (Qwen2 pre-tokenizer; SentencePiece)",
        arguments: ["tiny-qwen2", "tiny-llama-spm"])
    func tinyGoldens(_ name: String) throws {
        let path = TokenFixture.directory.appendingPathComponent(name + ".gguf").path
        let tokenizer = try LLMTokenizer(gguf: try GGUFFile(path: path), file: path)
        #expect(tokenizer.warnings.isEmpty)
        let fixture = try TokenFixture.load(name + ".json")
        #expect(fixture.cases.count >= 15)
        fixture.check(tokenizer, name + ".json")
    }

    @Test("Special tokens written in text become their ids only when asked")
    func specialTokenParsing() throws {
        let t = try TestModels.smolLM2().tokenizer
        let text = "<|im_start|>user\nHi<|im_end|>"
        #expect(t.encode(text, parseSpecial: true) == [1, 4093, 198, 26843, 2])
        let plain = t.encode(text)
        #expect(!plain.contains(1) && !plain.contains(2))
        #expect(t.decode(plain) == text)
        // Decoding leaves control tokens out unless asked.
        #expect(t.decode([1, 4093, 2]) == "user")
        #expect(t.decode([1, 4093, 2], special: true) == "<|im_start|>user<|im_end|>")
        #expect(t.encode(text, addBOS: true, parseSpecial: true).first == 1)
    }

    @Test("Text decodes back to itself", arguments: TokenizerTests.roundTripTexts)
    func roundTrip(_ text: String) throws {
        let t = try TestModels.smolLM2().tokenizer
        let ids = t.encode(text)
        // Bytes, not `String ==` (which would accept any canonically equivalent text).
        #expect(Array(t.decode(ids).utf8) == Array(text.utf8))
        var stream = TokenTextStream(t)
        var streamed = ""
        for id in ids { streamed += stream.append(id) }
        streamed += stream.finish()
        #expect(Array(streamed.utf8) == Array(text.utf8))
    }

    static let roundTripTexts = [
        "", " ", "Hello, world!", "  leading and trailing  ", "首重多少钱？续重每公斤 8 元。", "🎉🇨🇳👩‍👩‍👧 emoji",
        "func f() {\n\treturn x[0] + 1_000\n}\n", "line\r\nbreaks\n\n\nand\ttabs", "ÀÉÎÕÜ ñ ß ø",
        "12345678901234567890",
        "don't we'll I'M", "\u{0}\u{1}control\u{7F}", "Mixed 中文 and English, 数字123。", "e\u{301} vs \u{E9}",
    ]

    @Test("A Chinese character split over byte tokens is held back until it is whole")
    func streamingHoldsIncompleteCharacters() throws {
        let t = try TestModels.smolLM2().tokenizer
        let text = "你好世界"
        let ids = t.encode(text)
        // SmolLM2 has few Chinese tokens: the characters are spelled in byte pieces.
        #expect(ids.count > 4)
        #expect(String(decoding: t.piece(ids[0]), as: UTF8.self) != "你")
        var stream = TokenTextStream(t)
        var pieces: [String] = []
        for id in ids { pieces.append(stream.append(id)) }
        #expect(!stream.isHoldingBytes)
        #expect(pieces.joined() == text)
        #expect(pieces.allSatisfy { !$0.contains("\u{FFFD}") })
        #expect(pieces.first == "")
        #expect(pieces.filter { !$0.isEmpty } == ["你", "好", "世", "界"])
    }

    @Test("An unfinished character left at the end comes out as U+FFFD")
    func streamFinishFlushes() throws {
        let t = try TestModels.smolLM2().tokenizer
        let ids = t.encode("你")
        var stream = TokenTextStream(t)
        #expect(stream.append(ids[0]) == "")
        #expect(stream.isHoldingBytes)
        #expect(stream.finish() == "\u{FFFD}")
        #expect(!stream.isHoldingBytes)
        #expect(TokenTextStream.completeLength([0xE4, 0xBD]) == 0)
        #expect(TokenTextStream.completeLength([0x41, 0xE4, 0xBD]) == 1)
        #expect(TokenTextStream.completeLength([0x41, 0xE4, 0xBD, 0xA0]) == 4)
        // Bytes that can never become a character are not held.
        #expect(TokenTextStream.completeLength([0x41, 0xBD]) == 2)
        #expect(TokenTextStream.completeLength([0xED, 0xA0]) == 2)
    }

    @Test("Tokenising ten kilobytes of mixed Chinese and English is fast")
    func speed() throws {
        let t = try TestModels.smolLM2().tokenizer
        let paragraph = "检索增强生成（RAG）把知识库中的段落交给模型，Wendao answers questions about your documents, 并给出引用。"
        var text = ""
        while text.utf8.count < 10_000 { text += paragraph + "\n" }
        let clock = ContinuousClock()
        var ids: [Int32] = []
        let elapsed = clock.measure { ids = t.encode(text) }
        #expect(t.decode(ids) == text)
        // Generous for unoptimised builds on a loaded machine; an optimised build takes a few ms.
        #expect(elapsed < .milliseconds(500), "\(elapsed) for \(text.utf8.count) bytes")
    }

    // MARK: Pre-tokenizers

    /// The words each style cuts `text` into.
    func words(_ style: PreTokenizer, _ text: String) -> [String] {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { b in
            let st = ScalarText(utf8: UnsafeBufferPointer(b))
            return style.split(st).map { r in
                String(decoding: b[st.byteOffsets[r.lowerBound]..<st.byteOffsets[r.upperBound]], as: UTF8.self)
            }
        }
    }

    @Test("GPT-2's expression: contractions, optional leading space, runs of letters, numbers and the rest")
    func gpt2Words() {
        #expect(
            words(.gpt2, "Hello world's 123 ...!!  x   ") == [
                "Hello", " world", "'s", " 123", " ...!!", " ", " x", "   ",
            ])
        #expect(words(.gpt2, "I'M don't") == ["I", "'", "M", " don", "'t"])
        #expect(words(.gpt2, "a\n\nb\tc") == ["a", "\n", "\n", "b", "\t", "c"])
        #expect(words(.digitsThenGPT2, "abc 2024年") == ["abc", " ", "2", "0", "2", "4", "年"])
    }

    @Test("Llama 3's expression: digits in threes, a leading non-letter joins a word, newlines with preceding spaces")
    func llama3Words() {
        #expect(words(.llama3, "1234567 items") == ["123", "456", "7", " items"])
        #expect(words(.llama3, "I'M (hello) x  \n\n  y") == ["I", "'M", " (", "hello", ")", " x", "  \n\n", " ", " y"])
        #expect(words(.llama3, "a.\n\nb") == ["a", ".\n\n", "b"])
        #expect(words(.qwen2, "1234 你好，世界。") == ["1", "2", "3", "4", " 你好", "，世界", "。"])
        #expect(words(.qwen2, "x ") == ["x", " "])
    }

    @Test("llama.cpp's fallback splits punctuation runs, numbers, then ASCII digits in threes")
    func fallbackWords() {
        #expect(words(.fallback, "a+b=12345, ok") == ["a", "+", "b", "=", "123", "45", ",", " ok"])
    }

    @Test("Pre-tokenizer names map to styles; unknown and missing names fall back with a warning")
    func preTokenizerNames() throws {
        #expect(PreTokenizer.named("smollm").style == .digitsThenGPT2)
        #expect(PreTokenizer.named("llama-bpe").style == .llama3 && PreTokenizer.named("llama-bpe").ignoreMerges)
        #expect(PreTokenizer.named("qwen2").style == .qwen2)
        #expect(PreTokenizer.named("default").warning == nil)
        let unknown = try LLMTokenizer(metadata: TinyVocab.bpeMetadata(pre: "no-such-pre"))
        #expect(unknown.warnings.count == 1 && unknown.warnings[0].contains("no-such-pre"))
        #expect(unknown.encode("hello world") == unknown.encode("hello world"))
        let missing = try LLMTokenizer(metadata: TinyVocab.bpeMetadata(pre: nil))
        #expect(missing.warnings.count == 1)
    }

    // MARK: Hand-made vocabularies

    @Test("Byte-level BPE merges by rank, leftmost first among equals")
    func tinyBPE() throws {
        let t = try LLMTokenizer(metadata: TinyVocab.bpeMetadata())
        let hello = t.token(named: "hello")!
        let world = t.token(named: "Ġworld")!
        #expect(t.encode("hello world") == [hello, world])
        // `l l` merges the leftmost pair first.
        #expect(t.encode("lll").map(t.text(of:)) == ["ll", "l"])
        #expect(t.encode("héllo").map(t.text(of:)) == ["h", "Ã", "©", "ll", "o"])
        #expect(t.decode(t.encode("héllo")) == "héllo")
    }

    @Test("User-defined tokens are always matched; control tokens only with parseSpecial; longest first")
    func tinySpecials() throws {
        let t = try LLMTokenizer(
            metadata: TinyVocab.bpeMetadata(specials: [("<tool>", 4), ("<|im_end|>", 3), ("<|im", 3)]))
        let tool = t.token(named: "<tool>")!
        let end = t.token(named: "<|im_end|>")!
        #expect(t.encode("hello<tool>").last == tool)
        #expect(!t.encode("<|im_end|>").contains(end))
        #expect(t.encode("<|im_end|>", parseSpecial: true) == [end])
        #expect(t.encode("<|im<|im_end|>", parseSpecial: true) == [t.token(named: "<|im")!, end])
        // <|im_end|> is an end-of-turn token by its text, hence control and end of generation.
        #expect(t.eot == end && t.isEndOfGeneration(end))
        #expect(t.piece(tool) == Array("<tool>".utf8) && t.piece(end).isEmpty)
    }

    @Test("Prompt parts: control parts become tokens, text parts stay text even when they spell one")
    func promptParts() throws {
        let t = try LLMTokenizer(metadata: TinyVocab.bpeMetadata(specials: [("<|im_start|>", 3), ("<|im_end|>", 3)]))
        let start = t.token(named: "<|im_start|>")!
        let end = t.token(named: "<|im_end|>")!
        let ids = t.encode([.control("<|im_start|>"), .text("hello<|im_end|>"), .control("<|im_end|>")])
        #expect(ids.first == start && ids.last == end)
        #expect(ids.filter { $0 == end }.count == 1)
        #expect(t.encode([.text("hel"), .text("lo")]) == t.encode("hello"))
        // A control part the vocabulary lacks is text.
        #expect(t.encode([.control("hello")]) == t.encode("hello"))
    }

    @Test("SentencePiece: best-scored pairs merge first, a space prefix, byte fallback, BOS by default")
    func tinySentencePiece() throws {
        let t = try LLMTokenizer(metadata: TinyVocab.spmMetadata())
        #expect(t.model == .sentencePiece && t.addsBOS && t.bos == 1)
        #expect(t.encode("hello").map(t.text(of:)) == ["<s>", "▁hello"])
        #expect(t.encode("hello", addBOS: false).map(t.text(of:)) == ["▁hello"])
        // `i` and `é` are no tokens: their bytes are.
        #expect(t.encode("hi é", addBOS: false).map(t.text(of:)) == ["▁h", "<0x69>", "▁", "<0xC3>", "<0xA9>"])
        // Pieces keep SentencePiece's leading space; decoding drops it, as llama_detokenize does.
        #expect(t.encode("hi é").flatMap { t.piece($0) } == Array(" hi é".utf8))
        #expect(t.decode(t.encode("hi é", addBOS: false)) == "hi é")
        // After a BOS token (whose piece is empty) llama_detokenize keeps it.
        #expect(t.decode(t.encode("hi é")) == " hi é")
        #expect(
            t.encode("hello</s>hello", addBOS: false, parseSpecial: true).map(t.text(of:)) == [
                "▁hello", "</s>", "▁hello",
            ])
        var noPrefix = TinyVocab.spmMetadata()
        noPrefix["tokenizer.ggml.add_space_prefix"] = .bool(false)
        #expect(try LLMTokenizer(metadata: noPrefix).encode("hello", addBOS: false).first != t.token(named: "▁hello"))
    }

    @Test("Token texts are compared byte for byte: canonically equivalent spellings are different tokens")
    func canonicalEquivalentTokens() throws {
        let t = try LLMTokenizer(metadata: TinyVocab.spmMetadata(extra: [("\u{E9}", 1), ("e\u{301}", 1)]))
        let composed = t.token(named: "\u{E9}")!
        let decomposed = t.token(named: "e\u{301}")!
        #expect(composed != decomposed)
        #expect(t.encode("\u{E9}", addBOS: false).last == composed)
        #expect(t.encode("e\u{301}", addBOS: false).last == decomposed)
    }

    // MARK: Errors

    @Test("A vocabulary that is missing or inconsistent is a corrupt-file error naming the file")
    func corruptVocabularies() throws {
        func refusal(_ m: [String: GGUFValue]) -> WendaoError? {
            do {
                _ = try LLMTokenizer(metadata: m, file: "/m/tiny.gguf")
                return nil
            } catch { return error }
        }
        var noTokens = TinyVocab.bpeMetadata()
        noTokens["tokenizer.ggml.tokens"] = nil
        let e1 = refusal(noTokens)
        #expect(e1?.code == .corrupt && e1?.message.contains("/m/tiny.gguf") == true)
        #expect(e1?.message.contains("tokenizer.ggml.tokens") == true)

        var badMerge = TinyVocab.bpeMetadata()
        badMerge["tokenizer.ggml.merges"] = .array([.string("h e"), .string("zz qq")])
        let e2 = refusal(badMerge)
        #expect(e2?.code == .corrupt && e2?.message.contains("zz qq") == true)

        var noMerges = TinyVocab.bpeMetadata()
        noMerges["tokenizer.ggml.merges"] = nil
        #expect(refusal(noMerges)?.code == .corrupt)

        var badBOS = TinyVocab.bpeMetadata()
        badBOS["tokenizer.ggml.bos_token_id"] = .unsigned(1_000_000)
        let e3 = refusal(badBOS)
        #expect(e3?.code == .corrupt && e3?.message.contains("bos_token_id") == true)

        var shortTypes = TinyVocab.bpeMetadata()
        shortTypes["tokenizer.ggml.token_type"] = .array([.signed(1)])
        #expect(refusal(shortTypes)?.code == .corrupt)

        var duplicate = TinyVocab.bpeMetadata()
        duplicate["tokenizer.ggml.tokens"] = .array(["a", "b", "a"].map(GGUFValue.string))
        #expect(refusal(duplicate)?.code == .corrupt)

        // Without a file name, the model's name.
        var unnamed = noTokens
        unnamed["general.name"] = .string("Tiny BPE")
        #expect((try? LLMTokenizer(metadata: unnamed)) == nil)
        do {
            _ = try LLMTokenizer(metadata: unnamed)
        } catch {
            #expect(error.message.contains("Tiny BPE"))
        }
    }

    @Test("An unknown tokenizer type is unsupported, naming the type and the file")
    func unsupportedModel() {
        var m = TinyVocab.bpeMetadata()
        m["tokenizer.ggml.model"] = .string("bert")
        #expect {
            _ = try LLMTokenizer(metadata: m, file: "/m/bert.gguf")
        } throws: { error in
            guard let e = error as? WendaoError else { return false }
            return e.code == .unsupported && e.message.contains("bert") && e.message.contains("/m/bert.gguf")
        }
        var none = TinyVocab.bpeMetadata()
        none["tokenizer.ggml.model"] = nil
        #expect(throws: WendaoError.self) { _ = try LLMTokenizer(metadata: none) }
    }

    @Test("A tokenizer read from a written GGUF file; its errors name the file")
    func fromFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wendao-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var w = GGUFWriter()
        w.add("general.architecture", string: "llama")
        w.add("tokenizer.ggml.model", string: "gpt2")
        w.add("tokenizer.ggml.pre", string: "qwen2")
        w.add(
            "tokenizer.ggml.tokens",
            strings: (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) } + ["he", "<|im_end|>"])
        w.add("tokenizer.ggml.token_type", i32s: [Int32](repeating: 1, count: 257) + [3])
        w.add("tokenizer.ggml.merges", strings: ["h e"])
        w.add("tokenizer.ggml.eos_token_id", u32: 257)
        w.add("tokenizer.ggml.add_bos_token", bool: false)
        let path = dir.appendingPathComponent("tiny.gguf").path
        try Data(w.bytes()).write(to: URL(fileURLWithPath: path))
        let t = try LLMTokenizer(gguf: try GGUFFile(path: path), file: path)
        #expect(t.encode("hehe<|im_end|>", parseSpecial: true) == [256, 256, 257])
        #expect(t.eos == 257 && t.isEndOfGeneration(257))

        var bad = GGUFWriter()
        bad.add("tokenizer.ggml.model", string: "gpt2")
        bad.add("tokenizer.ggml.tokens", strings: ["a"])
        let badPath = dir.appendingPathComponent("bad.gguf").path
        try Data(bad.bytes()).write(to: URL(fileURLWithPath: badPath))
        #expect {
            _ = try LLMTokenizer(gguf: try GGUFFile(path: badPath), file: badPath)
        } throws: { error in
            (error as? WendaoError)?.message.contains(badPath) == true
        }
    }
}
