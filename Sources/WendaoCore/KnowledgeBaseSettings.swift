/// How chunks are retrieved.
public enum RetrievalMode: String, Sendable, CaseIterable, Codable {
    /// Lexical BM25 only.
    case bm25
    /// Dense embeddings only (needs an embedder).
    case dense
    /// BM25 and dense candidates fused (needs an embedder; see ``FusionMethod``).
    case hybrid
}

/// How runs of Chinese (and Japanese/Korean) characters become terms.
public enum CJKMode: String, Sendable, CaseIterable, Codable {
    /// Every character and every overlapping pair of characters (the default: best on the dev sets).
    case unigramsAndBigrams = "unigram+bigram"
    /// Overlapping pairs only; a run of one character gives that character.
    case bigrams = "bigram"
    /// Single characters only.
    case unigrams = "unigram"
}

/// Which OCR engine reads scanned pages and images.
public enum OCREngineChoice: String, Sendable, CaseIterable, Codable {
    /// PP-OCR first; a page whose text is mostly Latin script is read again by Tesseract, whose text is
    /// kept (better on dense Latin scans); Tesseract alone when the PP-OCR models are not pulled.
    case auto
    /// The PP-OCR models run natively (`wendao models pull ppocr`).
    case ppocr
    /// The `tesseract` program.
    case tesseract
}

/// How hybrid retrieval fuses BM25 and dense candidates.
public enum FusionMethod: String, Sendable, CaseIterable, Codable {
    /// Confidence-weighted scores (the default).
    case weighted
    /// Reciprocal-rank fusion.
    case rrf
}

/// Settings of one knowledge base, stored with it.
///
/// Every way of changing them — `wendao kb create/set`, `POST`/`PATCH /api/v1/kbs`, the web UI —
/// goes through one ``Patch``: ``Patch/validate(_:for:checker:)`` then ``Patch/apply(to:)``.
public struct KnowledgeBaseSettings: Sendable, Codable, Equatable {
    /// Target chunk size in units (a Chinese character or a digit counts 1, any other character 0.4).
    public var chunkSize: Int
    /// Overlap carried from one chunk into the next, in the same units (whole sentences).
    public var chunkOverlap: Int
    /// BM25 term-frequency saturation.
    public var k1: Double
    /// BM25 length normalisation.
    public var b: Double

    /// How Chinese/Japanese/Korean runs are indexed (fixed when the knowledge base is created).
    public var cjkMode: CJKMode

    /// The model that writes answers (`provider:model`), or nil for extractive answers.
    public var model: String?
    /// Tesseract languages for OCR of scanned pages and images (e.g. `["chi_sim", "eng"]`); nil
    /// uses the default, Simplified Chinese plus English.
    public var ocrLanguages: [String]?
    /// The OCR engine; nil: `auto`.
    public var ocrEngine: OCREngineChoice?
    /// The text-embedding model for dense retrieval (`e5-small`, `minilm`, `path:/dir`); nil: BM25 only.
    public var embedder: String?
    /// Retrieval mode; nil: hybrid when an embedder is set, else BM25 (see ``effectiveRetrievalMode``).
    public var retrievalMode: RetrievalMode?
    /// How hybrid retrieval fuses BM25 and dense candidates; nil: `weighted`.
    public var fusion: FusionMethod?

    /// Defaults measured on the Chinese dev sets (see BENCHMARKS.md).
    public static let `default` = KnowledgeBaseSettings(chunkSize: 200, chunkOverlap: 40, k1: 1.2, b: 0.75)

    /// Creates settings.
    public init(chunkSize: Int, chunkOverlap: Int, k1: Double, b: Double, cjkMode: CJKMode = .unigramsAndBigrams) {
        self.chunkSize = chunkSize
        self.chunkOverlap = chunkOverlap
        self.k1 = k1
        self.b = b
        self.cjkMode = cjkMode
    }

    /// The retrieval mode in force: the one set, else hybrid with an embedder, else BM25.
    public var effectiveRetrievalMode: RetrievalMode {
        retrievalMode ?? (embedder == nil ? .bm25 : .hybrid)
    }

    /// The OCR engine in force (`auto` unless set).
    public var effectiveOCREngine: OCREngineChoice { ocrEngine ?? .auto }

    /// The fusion method in force (`weighted` unless set).
    public var effectiveFusion: FusionMethod { fusion ?? .weighted }

    enum CodingKeys: String, CodingKey {
        case chunkSize, chunkOverlap, k1, b, cjkMode, model, ocrLanguages, ocrEngine, embedder, retrievalMode, fusion
    }

    /// Decodes stored settings. Fields added in later versions take their defaults; a value that is
    /// present but not understood (an unknown retrieval mode, a string where a number belongs) is a
    /// decoding error, never a silent default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = KnowledgeBaseSettings.default
        chunkSize = try c.decodeIfPresent(Int.self, forKey: .chunkSize) ?? d.chunkSize
        chunkOverlap = try c.decodeIfPresent(Int.self, forKey: .chunkOverlap) ?? d.chunkOverlap
        k1 = try c.decodeIfPresent(Double.self, forKey: .k1) ?? d.k1
        b = try c.decodeIfPresent(Double.self, forKey: .b) ?? d.b
        cjkMode = try c.decodeIfPresent(CJKMode.self, forKey: .cjkMode) ?? d.cjkMode
        model = try c.decodeIfPresent(String.self, forKey: .model)
        ocrLanguages = try c.decodeIfPresent([String].self, forKey: .ocrLanguages)
        ocrEngine = try c.decodeIfPresent(OCREngineChoice.self, forKey: .ocrEngine)
        embedder = try c.decodeIfPresent(String.self, forKey: .embedder)
        retrievalMode = try c.decodeIfPresent(RetrievalMode.self, forKey: .retrievalMode)
        fusion = try c.decodeIfPresent(FusionMethod.self, forKey: .fusion)
    }

    /// Whether `code` looks like a Tesseract language (`chi_sim`, `eng`, `script_Latin`): ASCII letters,
    /// digits and `_`, at most 40 bytes. Anything else could reach a command line or a file path.
    public static func isValidOCRLanguage(_ code: String) -> Bool {
        !code.isEmpty && code.utf8.count <= 40
            && code.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
            }
    }

    /// Checks that every value is usable.
    public func validated() throws(WendaoError) -> Self {
        guard (40...20_000).contains(chunkSize) else {
            throw WendaoError(.invalidArgument, "chunk size must be between 40 and 20000 characters (got \(chunkSize))")
        }
        guard chunkOverlap >= 0, chunkOverlap < chunkSize / 2 + 1 else {
            throw WendaoError(
                .invalidArgument, "chunk overlap must be between 0 and half the chunk size (got \(chunkOverlap))")
        }
        guard k1 >= 0, k1 <= 10, b >= 0, b <= 1 else {
            throw WendaoError(.invalidArgument, "BM25 needs 0 ≤ k1 ≤ 10 and 0 ≤ b ≤ 1")
        }
        if let model, !model.contains(":") || model.count > 200 {
            throw WendaoError(.invalidArgument, "model must be written provider:model (got '\(model)')")
        }
        if let ocrLanguages, ocrLanguages.isEmpty || !ocrLanguages.allSatisfy(Self.isValidOCRLanguage) {
            throw WendaoError(
                .invalidArgument, "OCR languages must be tesseract language codes such as chi_sim or eng")
        }
        return self
    }
}

/// What the settings contract needs to know about models that only the composition root can tell:
/// whether an answer model and an embedder named in a change can be used by this process.
public protocol KnowledgeBaseSettingsChecker {
    /// Throws unless `spec` (`provider:model`) names a provider and model this process can resolve
    /// (keys are checked when the model is used).
    func checkAnswerModel(_ spec: String) throws
    /// Throws unless the embedder `spec` can be opened now (a local model pulled; a provider known
    /// and its key set).
    func checkEmbedder(_ spec: String) throws
}

extension KnowledgeBaseSettings {
    /// A change to settings, from any front end: the CLI's options, the REST body, the web UI.
    /// Nil fields are left as they are; `model` and `embedder` set to `""` or `"none"` clear them, as
    /// does an empty `ocrLanguages`.
    ///
    /// ```swift
    /// let patch = KnowledgeBaseSettings.Patch(k1: 1.5, retrievalMode: .hybrid)
    /// try patch.validate(current, for: .update, checker: checker)
    /// try kb.updateSettings(patch.apply(to: current))
    /// ```
    public struct Patch: Sendable, Equatable {
        /// Chunk size in units.
        public var chunkSize: Int?
        /// Chunk overlap in units.
        public var chunkOverlap: Int?
        /// BM25 k1.
        public var k1: Double?
        /// BM25 b.
        public var b: Double?
        /// CJK mode (only when creating; an update may repeat the current one).
        public var cjkMode: CJKMode?
        /// Answer model (`provider:model`); `""` or `"none"`: extractive answers.
        public var model: String?
        /// OCR languages; empty: the default.
        public var ocrLanguages: [String]?
        /// OCR engine.
        public var ocrEngine: OCREngineChoice?
        /// Embedder; `""` or `"none"`: BM25 only.
        public var embedder: String?
        /// Retrieval mode.
        public var retrievalMode: RetrievalMode?
        /// Fusion method.
        public var fusion: FusionMethod?

        /// What a patch is for: a new knowledge base, or a change to an existing one.
        public enum Purpose: Sendable {
            /// Settings of a knowledge base about to be created.
            case create
            /// A change to a knowledge base's settings.
            case update
        }

        /// Creates a patch.
        public init(
            chunkSize: Int? = nil, chunkOverlap: Int? = nil, k1: Double? = nil, b: Double? = nil,
            cjkMode: CJKMode? = nil, model: String? = nil, ocrLanguages: [String]? = nil, embedder: String? = nil,
            retrievalMode: RetrievalMode? = nil, fusion: FusionMethod? = nil, ocrEngine: OCREngineChoice? = nil
        ) {
            self.ocrEngine = ocrEngine
            self.chunkSize = chunkSize
            self.chunkOverlap = chunkOverlap
            self.k1 = k1
            self.b = b
            self.cjkMode = cjkMode
            self.model = model
            self.ocrLanguages = ocrLanguages
            self.embedder = embedder
            self.retrievalMode = retrievalMode
            self.fusion = fusion
        }

        /// Whether the patch names an answer model or an embedder (an administrator's decisions).
        public var choosesModels: Bool { model != nil || embedder != nil }

        /// `value` unless it clears the setting (`""`, `"none"`).
        static func cleared(_ value: String) -> String? {
            let v = value.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()
            return v.isEmpty || String(v) == "none" ? nil : String(v)
        }

        /// `current` with this patch applied (not validated: see ``validate(_:for:checker:)``).
        public func apply(to current: KnowledgeBaseSettings) -> KnowledgeBaseSettings {
            var s = current
            if let chunkSize { s.chunkSize = chunkSize }
            if let chunkOverlap { s.chunkOverlap = chunkOverlap }
            if let k1 { s.k1 = k1 }
            if let b { s.b = b }
            if let cjkMode { s.cjkMode = cjkMode }
            if let model { s.model = Self.cleared(model) }
            if let ocrLanguages { s.ocrLanguages = ocrLanguages.isEmpty ? nil : ocrLanguages }
            if let ocrEngine { s.ocrEngine = ocrEngine }
            if let embedder { s.embedder = Self.cleared(embedder) }
            if let retrievalMode { s.retrievalMode = retrievalMode }
            if let fusion { s.fusion = fusion }
            return s
        }

        /// Checks the patch against `current` (``KnowledgeBaseSettings/default`` when creating): the
        /// resulting settings are valid, the CJK mode is not changed after creation, and the answer
        /// model and embedder it names can be used (asked of `checker`).
        ///
        /// - Returns: the settings with the patch applied.
        @discardableResult
        public func validate(
            _ current: KnowledgeBaseSettings, for purpose: Purpose, checker: some KnowledgeBaseSettingsChecker
        ) throws -> KnowledgeBaseSettings {
            if purpose == .update, let cjkMode, cjkMode != current.cjkMode {
                throw WendaoError(.invalidArgument, "the CJK mode is fixed when a knowledge base is created")
            }
            if let ocrLanguages, !ocrLanguages.allSatisfy(KnowledgeBaseSettings.isValidOCRLanguage) {
                throw WendaoError(
                    .invalidArgument, "OCR languages must be tesseract language codes such as chi_sim or eng")
            }
            let result = try apply(to: current).validated()
            if let model, let spec = Self.cleared(model) { try checker.checkAnswerModel(spec) }
            if let embedder, let spec = Self.cleared(embedder) { try checker.checkEmbedder(spec) }
            return result
        }
    }
}

/// A setting whose values are a fixed set of names (``RetrievalMode``, ``CJKMode``, ``FusionMethod``):
/// parsed with one message that names the field and the accepted values.
public protocol NamedSettingValue: RawRepresentable, CaseIterable, Sendable where RawValue == String {}

extension NamedSettingValue {
    /// The value called `value`, or an `invalidArgument` error naming `field` and the accepted values:
    /// "fusion must be one of weighted, rrf (got 'borda')".
    public init(parsing value: String, field: String) throws(WendaoError) {
        guard let v = Self(rawValue: value) else {
            let accepted = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw WendaoError(.invalidArgument, "\(field) must be one of \(accepted) (got '\(value.prefix(60))')")
        }
        self = v
    }
}

extension RetrievalMode: NamedSettingValue {}
extension CJKMode: NamedSettingValue {}
extension FusionMethod: NamedSettingValue {}
extension OCREngineChoice: NamedSettingValue {}
