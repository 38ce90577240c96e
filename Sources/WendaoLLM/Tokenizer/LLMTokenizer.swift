public import WendaoCore

/// The tokenizer of a GGUF language model, read from its `tokenizer.ggml.*` metadata, with the
/// results llama.cpp gives for the same file.
///
/// Two vocabulary types are read: byte-level BPE (`tokenizer.ggml.model = gpt2`: GPT-2, Llama 3,
/// Qwen2, SmolLM…) with the pre-tokenizer `tokenizer.ggml.pre` names, and SentencePiece BPE
/// (`llama`: Llama 2, TinyLlama, Mistral…) with byte fallback.
///
/// ```swift
/// let file = try GGUFFile(path: path)
/// let tokenizer = try LLMTokenizer(gguf: file, file: path)
/// let ids = tokenizer.encode("<|im_start|>user\n你好<|im_end|>\n", parseSpecial: true)
/// var stream = TokenTextStream(tokenizer)
/// for id in ids { print(stream.append(id), terminator: "") }
/// ```
public struct LLMTokenizer: Sendable {
    /// The vocabulary types read.
    public enum Model: String, Sendable, Equatable {
        /// Byte-level BPE (`tokenizer.ggml.model = gpt2`).
        case bytePairGPT2 = "gpt2"
        /// SentencePiece BPE with byte fallback (`tokenizer.ggml.model = llama`).
        case sentencePiece = "llama"
    }

    /// What a token is, from `tokenizer.ggml.token_type` (with llama.cpp's corrections: tokens that
    /// end generation, such as `<|im_end|>`, are control tokens whatever the file says).
    public enum TokenKind: Int32, Sendable, Equatable {
        /// No type, or one outside the list.
        case undefined = 0
        /// Ordinary text.
        case normal = 1
        /// The unknown token.
        case unknown = 2
        /// A control token (`<|im_start|>`, `</s>`): written in text only with `parseSpecial`,
        /// decoded to nothing unless asked.
        case control = 3
        /// A token added by the model's authors, always matched in text (`<tool_call>`).
        case userDefined = 4
        /// A placeholder never produced.
        case unused = 5
        /// One byte (`<0x0A>`), for SentencePiece byte fallback.
        case byte = 6

        /// Control, user-defined and unknown tokens: those llama.cpp matches in text.
        var isSpecial: Bool { self == .control || self == .userDefined || self == .unknown }
    }

    let tables: TokenizerTables

    /// The vocabulary type.
    public var model: Model { tables.model }
    /// The pre-tokenizer's name as the file gives it (`tokenizer.ggml.pre`), or nil.
    public var preTokenizerName: String? { tables.preName }
    /// Things a person should know about this tokenizer (an unknown pre-tokenizer replaced by
    /// llama.cpp's default, say); empty when all is as the model intends.
    public var warnings: [String] { tables.warnings }
    /// How many tokens the vocabulary has.
    public var vocabularySize: Int { tables.texts.count }
    /// The beginning-of-sequence token, if any.
    public var bos: Int32? { tables.bos }
    /// The end-of-sequence token, if any.
    public var eos: Int32? { tables.eos }
    /// The end-of-turn token (`tokenizer.ggml.eot_token_id`, else `<|eot_id|>`, `<|im_end|>` and
    /// the like found by their text), if any.
    public var eot: Int32? { tables.eot }
    /// The end-of-message token (`tokenizer.ggml.eom_token_id`, else `<|eom_id|>`), if any.
    public var eom: Int32? { tables.eom }
    /// Whether ``encode(_:addBOS:parseSpecial:)`` adds the BOS token by default
    /// (`tokenizer.ggml.add_bos_token`, else the vocabulary type's default).
    public var addsBOS: Bool { tables.addBOS }
    /// Every token that ends generation: EOS, EOT, EOM and the tokens llama.cpp treats so by their
    /// text (`<|endoftext|>`, `<|file_sep|>`…).
    public var endOfGenerationTokens: Set<Int32> { tables.endOfGeneration }

    /// Reads the tokenizer of `gguf`; error messages name `file` (else the model's `general.name`).
    ///
    /// - Throws: `corrupt` when the vocabulary is missing or inconsistent (merges naming unknown
    ///   tokens, special token ids out of range…); `unsupported` for a vocabulary type other than
    ///   `gpt2` and `llama`.
    public init(gguf: GGUFFile, file: String? = nil) throws(WendaoError) {
        try self.init(metadata: gguf.metadata, file: file)
    }

    /// Reads a tokenizer from GGUF metadata (as ``GGUFFile/metadata``); errors name `file`, else
    /// `general.name`.
    public init(metadata: [String: GGUFValue], file: String? = nil) throws(WendaoError) {
        tables = try TokenizerTables(metadata: metadata, file: file)
    }

    /// The tokens of `text`.
    ///
    /// - Parameters:
    ///   - addBOS: whether to start with the BOS token; nil follows ``addsBOS``.
    ///   - parseSpecial: whether control tokens written in the text (`<|im_end|>`) become their
    ///     ids, as llama.cpp's `special = true`; otherwise they are encoded as plain text.
    ///     User-defined tokens are always matched, as in llama.cpp and Hugging Face tokenizers.
    public func encode(_ text: String, addBOS: Bool? = nil, parseSpecial: Bool = false) -> [Int32] {
        encode([.text(text)], addBOS: addBOS, parseSpecial: parseSpecial)
    }

    /// The tokens of a prompt made of parts: plain text (encoded as ``encode(_:addBOS:parseSpecial:)``
    /// with `parseSpecial` false) and control tokens named by their text. Adjacent text parts are
    /// encoded as one text, so the result is llama.cpp's for the joined prompt with
    /// `special = true` — except that control tokens written inside the text parts stay text, so
    /// a message cannot forge a turn.
    ///
    /// A control part that is not a special token of the vocabulary is encoded as text.
    public func encode(_ parts: [PromptPart], addBOS: Bool? = nil) -> [Int32] {
        encode(parts, addBOS: addBOS, parseSpecial: false)
    }

    func encode(_ parts: [PromptPart], addBOS: Bool?, parseSpecial: Bool) -> [Int32] {
        var out: [Int32] = []
        if addBOS ?? tables.addBOS, let bos = tables.bos { out.append(bos) }
        var pendingText: [UInt8] = []
        // SentencePiece prefixes a space to text that starts the prompt or follows a special token.
        var afterSpecial = true
        var scratch = BPEScratch()
        func flush() {
            guard !pendingText.isEmpty else { return }
            let fragments = pendingText.withUnsafeBufferPointer {
                tables.specials.split($0, parseSpecial: parseSpecial)
            }
            for f in fragments {
                switch f {
                case .token(let id):
                    out.append(id)
                    afterSpecial = true
                case .text(let range):
                    encodePlain(pendingText[range], afterSpecial: afterSpecial, scratch: &scratch, into: &out)
                    afterSpecial = false
                }
            }
            pendingText.removeAll(keepingCapacity: true)
        }
        for part in parts {
            switch part {
            case .text(let s):
                pendingText.append(contentsOf: s.utf8)
            case .control(let name):
                if let id = tables.ids[name], tables.kinds[Int(id)].isSpecial {
                    flush()
                    out.append(id)
                    afterSpecial = true
                } else {
                    pendingText.append(contentsOf: name.utf8)
                }
            }
        }
        flush()
        return out
    }

    private func encodePlain(
        _ bytes: ArraySlice<UInt8>, afterSpecial: Bool, scratch: inout BPEScratch, into out: inout [Int32]
    ) {
        switch tables.model {
        case .bytePairGPT2:
            guard let merges = tables.merges else { return }
            bytes.withUnsafeBufferPointer { buffer in
                let text = ScalarText(utf8: buffer)
                for word in tables.preTokenizer.split(text) {
                    let from = text.byteOffsets[word.lowerBound]
                    let to = text.byteOffsets[word.upperBound]
                    let w = UnsafeBufferPointer(rebasing: buffer[from..<to])
                    if tables.ignoreMerges, let id = tables.ids[ByteLevelAlphabet.spell(w)] {
                        out.append(id)
                    } else {
                        merges.encode(word: w, scratch: &scratch, into: &out)
                    }
                }
            }
        case .sentencePiece:
            guard let spm = tables.sentencePiece else { return }
            var escaped: [UInt8] = []
            escaped.reserveCapacity(bytes.count + 8)
            if tables.addSpacePrefix && afterSpecial { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) }
            for b in bytes {
                if b == 0x20 { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) } else { escaped.append(b) }
            }
            spm.encode(escaped, into: &out)
        }
    }

    /// The bytes token `id` stands for in decoded text (llama.cpp's `token_to_piece`): control and
    /// unknown tokens give nothing unless `special`; unused tokens and ids out of range give nothing.
    public func piece(_ id: Int32, special: Bool = false) -> [UInt8] {
        guard id >= 0, Int(id) < tables.texts.count else { return [] }
        let text = tables.texts[Int(id)]
        switch tables.kinds[Int(id)] {
        case .control, .unknown:
            return special ? Array(text.utf8) : []
        case .userDefined:
            return Array(text.utf8)
        case .normal:
            switch tables.model {
            case .bytePairGPT2: return ByteLevelAlphabet.bytes(of: text)
            case .sentencePiece: return Array(text.replacing("\u{2581}", with: " ").utf8)
            }
        case .byte:
            return Self.byteValue(text).map { [$0] } ?? []
        case .unused, .undefined:
            return []
        }
    }

    /// The text of `ids` (invalid UTF-8 from partial byte tokens replaced by U+FFFD); control
    /// tokens are left out unless `special`. As llama.cpp's `llama_detokenize`, the space
    /// SentencePiece puts before the text is dropped from the first token (not after a BOS token),
    /// so `decode(encode(s, addBOS: false))` gives `s` back; unlike it, spaces before punctuation
    /// are kept (its `clean_spaces`, which SmolLM2's and Qwen's vocabularies do not use).
    public func decode(_ ids: [Int32], special: Bool = false) -> String {
        String(decoding: decodedBytes(ids, special: special), as: UTF8.self)
    }

    /// The bytes of ``decode(_:special:)``.
    func decodedBytes(_ ids: [Int32], special: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        for (i, id) in ids.enumerated() {
            let p = piece(id, special: special)
            if i == 0 && tables.addSpacePrefix && p.first == 0x20 {
                bytes.append(contentsOf: p.dropFirst())
            } else {
                bytes.append(contentsOf: p)
            }
        }
        return bytes
    }

    /// The token's text as the vocabulary spells it (`Ġthe`, `▁the`, `<|im_end|>`, `<0x0A>`), for
    /// display and debugging; empty for ids out of range.
    public func text(of id: Int32) -> String {
        guard id >= 0, Int(id) < tables.texts.count else { return "" }
        return tables.texts[Int(id)]
    }

    /// The token whose vocabulary text is `text` (`<|im_end|>`), if any.
    public func token(named text: String) -> Int32? { tables.ids[text] }

    /// What token `id` is; `undefined` for ids out of range.
    public func kind(of id: Int32) -> TokenKind {
        guard id >= 0, Int(id) < tables.kinds.count else { return .undefined }
        return tables.kinds[Int(id)]
    }

    /// Whether generating `id` ends the answer (see ``endOfGenerationTokens``).
    public func isEndOfGeneration(_ id: Int32) -> Bool { tables.endOfGeneration.contains(id) }

    /// The byte of a `<0xNN>` token text.
    static func byteValue(_ text: String) -> UInt8? {
        let u = Array(text.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }
}

/// A part of a prompt for ``LLMTokenizer``'s `encode(_:addBOS:)`: text, or a control token by its
/// text.
public enum PromptPart: Sendable, Equatable {
    /// Text, encoded as text whatever it contains.
    case text(String)
    /// A control token (`<|im_start|>`), encoded as its id.
    case control(String)
}
