import WendaoCore

/// Everything an ``LLMTokenizer`` reads from the metadata, checked once and shared by its copies.
final class TokenizerTables: Sendable {
    let model: LLMTokenizer.Model
    let preName: String?
    let preTokenizer: PreTokenizer
    let ignoreMerges: Bool
    let warnings: [String]
    let texts: [String]
    let kinds: [LLMTokenizer.TokenKind]
    let ids: TokenIDs
    let merges: BPEMerges?
    let sentencePiece: SentencePieceBPE?
    let specials: SpecialTokenSplitter
    let bos: Int32?
    let eos: Int32?
    let eot: Int32?
    let eom: Int32?
    let addBOS: Bool
    let addSpacePrefix: Bool
    let endOfGeneration: Set<Int32>

    // Token texts llama.cpp recognises when the metadata does not name the token (llama-vocab.cpp).
    static let endOfTurnTexts = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
        "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]
    static let endOfMessageTexts = ["<|eom_id|>"]
    static let fillInMiddleTexts = [
        "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
        "<|prefix|>", "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
        "<|code_suffix|>", "<|suffix|>", "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>",
        "▁<MID>", "<|code_middle|>", "<|middle|>",
    ]
    static let fillInMiddlePadTexts = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    static let fillInMiddleRepoTexts = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]
    static let fillInMiddleSeparatorTexts = ["<|file_sep|>"]
    static let endOfGenerationTexts = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ]
    /// gpt-oss's channel tokens, which llama.cpp always renders.
    static let alwaysRenderedTexts = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]

    init(metadata: [String: GGUFValue], file: String?) throws(WendaoError) {
        let source = file ?? metadata["general.name"]?.string.map { "model '\($0)'" } ?? "the GGUF file"
        func corrupt(_ what: String) -> WendaoError { WendaoError(.corrupt, "\(source): \(what)") }

        guard let modelName = metadata["tokenizer.ggml.model"]?.string else {
            throw corrupt("the file has no tokenizer (tokenizer.ggml.model is missing)")
        }
        guard let model = LLMTokenizer.Model(rawValue: modelName) else {
            throw WendaoError(
                .unsupported,
                "\(source): tokenizer type '\(modelName)' is not supported (Wendao reads 'gpt2' byte-level BPE and 'llama' SentencePiece)"
            )
        }
        self.model = model
        guard let tokenValues = metadata["tokenizer.ggml.tokens"]?.array else {
            throw corrupt("the vocabulary (tokenizer.ggml.tokens) is missing or not an array")
        }
        guard !tokenValues.isEmpty, tokenValues.count <= Int(Int32.max) else {
            throw corrupt("the vocabulary (tokenizer.ggml.tokens) has \(tokenValues.count) tokens")
        }
        let n = tokenValues.count
        var texts: [String] = []
        texts.reserveCapacity(n)
        var ids = TokenIDs(capacity: n)
        for (i, v) in tokenValues.enumerated() {
            guard var t = v.string else { throw corrupt("token \(i) of tokenizer.ggml.tokens is not a string") }
            if t.isEmpty { t = "[EMPTY_\(i)]" }
            if let earlier = ids.insert(t, Int32(i)) {
                throw corrupt("token '\(t)' appears twice in the vocabulary (ids \(earlier) and \(i))")
            }
            texts.append(t)
        }

        var kinds = [LLMTokenizer.TokenKind](repeating: .normal, count: n)
        if let types = metadata["tokenizer.ggml.token_type"] {
            guard let a = types.array, a.count >= n else {
                throw corrupt("tokenizer.ggml.token_type does not give a type for each of the \(n) tokens")
            }
            for i in 0..<n {
                guard let t = a[i].integer else { throw corrupt("tokenizer.ggml.token_type[\(i)] is not an integer") }
                kinds[i] = Int32(exactly: t).flatMap(LLMTokenizer.TokenKind.init(rawValue:)) ?? .undefined
            }
        }

        var scores = [Float](repeating: 0, count: model == .sentencePiece ? n : 0)
        if model == .sentencePiece, let s = metadata["tokenizer.ggml.scores"] {
            guard let a = s.array, a.count >= n else {
                throw corrupt("tokenizer.ggml.scores does not give a score for each of the \(n) tokens")
            }
            for i in 0..<n {
                guard let v = a[i].number else { throw corrupt("tokenizer.ggml.scores[\(i)] is not a number") }
                scores[i] = Float(v)
            }
        }

        func tokenID(_ key: String) throws(WendaoError) -> Int32? {
            guard let v = metadata["tokenizer.ggml.\(key)"] else { return nil }
            guard let id = v.integer else { throw corrupt("tokenizer.ggml.\(key) is not an integer") }
            if id < 0 { return nil }
            guard id < n else {
                throw corrupt("tokenizer.ggml.\(key) is \(id), outside the vocabulary of \(n) tokens")
            }
            return Int32(id)
        }
        func flag(_ key: String) -> Bool? {
            if case .bool(let b) = metadata["tokenizer.ggml.\(key)"] { return b }
            return nil
        }
        func firstPresent(_ candidates: [String]) -> Int32? {
            for c in candidates { if let id = ids[c] { return id } }
            return nil
        }

        let unknownID = try tokenID("unknown_token_id")
        var warnings: [String] = []
        let preName = metadata["tokenizer.ggml.pre"]?.string
        self.preName = preName
        var addBOSDefault: Bool
        switch model {
        case .bytePairGPT2:
            let pre = PreTokenizer.named(preName)
            preTokenizer = pre.style
            ignoreMerges = pre.ignoreMerges
            addBOSDefault = pre.addsBOS
            if let w = pre.warning { warnings.append(w) }
            sentencePiece = nil
            merges = try Self.readMerges(metadata, ids: ids, texts: texts, corrupt: corrupt)
            addSpacePrefix = false
        case .sentencePiece:
            preTokenizer = .fallback
            ignoreMerges = false
            addBOSDefault = true
            merges = nil
            var byteTokens = [Int32](repeating: -1, count: 256)
            for b in 0..<256 {
                let hex = String(b, radix: 16, uppercase: true)
                let name = "<0x\(hex.count == 1 ? "0" + hex : hex)>"
                byteTokens[b] = ids[name] ?? (b < 0x80 ? ids[String(UnicodeScalar(UInt8(b)))] : nil) ?? -1
            }
            sentencePiece = SentencePieceBPE(ids: ids, scores: scores, byteTokens: byteTokens, unknown: unknownID ?? 0)
            addSpacePrefix = flag("add_space_prefix") ?? true
        }

        let defaults: (bos: Int32?, eos: Int32?) =
            model == .sentencePiece ? (n > 1 ? 1 : nil, n > 2 ? 2 : nil) : (nil, nil)
        bos = try tokenID("bos_token_id") ?? defaults.bos
        eos = try tokenID("eos_token_id") ?? defaults.eos
        addBOS = flag("add_bos_token") ?? addBOSDefault
        if addBOS && bos == nil {
            warnings.append("the vocabulary asks for a BOS token (tokenizer.ggml.add_bos_token) but names none")
        }

        // llama.cpp's corrections by token text: end-of-turn and fill-in-the-middle tokens become
        // control tokens, and those that end generation are gathered.
        var controls = Set<Int32>()
        let eotFound = try tokenID("eot_token_id") ?? firstPresent(Self.endOfTurnTexts)
        let eomFound = try tokenID("eom_token_id") ?? firstPresent(Self.endOfMessageTexts)
        eot = eotFound
        eom = eomFound
        if try tokenID("eot_token_id") == nil, let e = eotFound { controls.insert(e) }
        if try tokenID("eom_token_id") == nil, let e = eomFound { controls.insert(e) }
        var endOfGeneration = Set<Int32>()
        for (key, texts) in [
            ("fim_pad_token_id", Self.fillInMiddlePadTexts), ("fim_rep_token_id", Self.fillInMiddleRepoTexts),
            ("fim_sep_token_id", Self.fillInMiddleSeparatorTexts),
        ] {
            if let id = try tokenID(key) {
                endOfGeneration.insert(id)
            } else if let id = firstPresent(texts) {
                endOfGeneration.insert(id)
                controls.insert(id)
            }
        }
        // Prefix, suffix and middle: by key (and its older name), else by text.
        for (k, (key, oldKey)) in [
            ("fim_pre_token_id", "prefix_token_id"), ("fim_suf_token_id", "suffix_token_id"),
            ("fim_mid_token_id", "middle_token_id"),
        ].enumerated() {
            let byKey = try tokenID(key)
            let byOldKey = try tokenID(oldKey)
            if byKey == nil, byOldKey == nil,
                let id = firstPresent(Array(Self.fillInMiddleTexts[(8 * k)..<(8 * k + 8)]))
            {
                controls.insert(id)
            }
        }
        for t in Self.endOfGenerationTexts {
            if let id = ids[t] {
                endOfGeneration.insert(id)
                controls.insert(id)
            }
        }
        for case let id? in [eos, eotFound, eomFound] { endOfGeneration.insert(id) }
        // gpt-oss: `<|end|>` ends a message, not the answer, when `<|return|>` and `<|call|>` exist.
        if let end = ids["<|end|>"], endOfGeneration.contains(end),
            (ids["<|return|>"] != nil && ids["<|call|>"] != nil) || (ids["<|calls|>"] != nil && ids["<|flush|>"] != nil)
        {
            endOfGeneration.remove(end)
            controls.remove(end)
            kinds[Int(end)] = .userDefined
        }
        // Gemma 4 and PLaMo 2 have an ordinary `</s>`.
        if let s = ids["</s>"], ids["<|tool_response>"] != nil || ids["<|plamo:eos|>"] != nil {
            endOfGeneration.remove(s)
            controls.remove(s)
            kinds[Int(s)] = .normal
        }
        for id in controls { kinds[Int(id)] = .control }
        for t in Self.alwaysRenderedTexts { if let id = ids[t] { kinds[Int(id)] = .userDefined } }
        self.endOfGeneration = endOfGeneration

        var entries: [SpecialTokenSplitter.Entry] = []
        for (i, k) in kinds.enumerated() where k == .control || k == .userDefined || k == .unknown {
            entries.append(.init(id: Int32(i), bytes: Array(texts[i].utf8), onRequestOnly: k != .userDefined))
        }
        specials = SpecialTokenSplitter(entries: entries)
        self.texts = texts
        self.kinds = kinds
        self.ids = ids
        self.warnings = warnings
    }

    /// The merge table of a byte-level BPE vocabulary (`tokenizer.ggml.merges`, one `left right`
    /// pair per line, earliest first).
    private static func readMerges(
        _ metadata: [String: GGUFValue], ids: TokenIDs, texts: [String],
        corrupt: (String) -> WendaoError
    ) throws(WendaoError) -> BPEMerges {
        guard let lines = metadata["tokenizer.ggml.merges"]?.array else {
            throw corrupt("the BPE merges (tokenizer.ggml.merges) are missing")
        }
        guard lines.count < Int(UInt32.max) else { throw corrupt("tokenizer.ggml.merges has too many entries") }
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(lines.count)
        for (rank, v) in lines.enumerated() {
            guard let line = v.string else { throw corrupt("merge \(rank) is not a string") }
            // Split at the first space after the first byte, on bytes (not characters).
            let utf8 = line.utf8
            guard let space = utf8.dropFirst().firstIndex(of: 0x20) else {
                throw corrupt("merge \(rank) ('\(line)') is not two tokens separated by a space")
            }
            let left = String(decoding: utf8[..<space], as: UTF8.self)
            let right = String(decoding: utf8[utf8.index(after: space)...], as: UTF8.self)
            guard let l = ids[left], let r = ids[right] else {
                throw corrupt("merge \(rank) ('\(line)') names a token that is not in the vocabulary")
            }
            guard let merged = ids[left + right] else {
                throw corrupt("merge \(rank) ('\(line)') makes '\(left + right)', which is not in the vocabulary")
            }
            let key = BPEMerges.key(l, r)
            if table[key] == nil { table[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged)) }
        }
        var byteTokens = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { byteTokens[b] = ids[ByteLevelAlphabet.spell([UInt8(b)])] ?? -1 }
        return BPEMerges(table: table, byteTokens: byteTokens)
    }
}
