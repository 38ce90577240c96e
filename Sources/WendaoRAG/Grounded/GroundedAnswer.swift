public import WendaoCore

/// What ``GroundedAnswerer/answer(_:history:in:onEvent:)`` reports while it works, in order:
/// `rewritten` and `translated` (when those steps run), `sources`, then the answer `text` in pieces.
/// When the knowledge base has nothing relevant, only the not-found sentence comes as `text`. Under the
/// answer guard (small models) the pieces are whole checked sentences, or the extractive answer in one
/// piece when the model's answer was not supported.
public enum GroundedEvent: Sendable, Equatable {
    /// The follow-up question rewritten as a standalone search query.
    case rewritten(String)
    /// The query translated into the other language for a second search.
    case translated(String)
    /// The numbered sources offered to the model (before the answer starts).
    case sources([Citation])
    /// A piece of the answer, citation markers normalised and unsafe images removed (under the answer
    /// guard: one or more supported sentences).
    case text(String)
}

/// Something a reader of an answer should know, with a stable code a front end can act on (the web
/// UI words the known ones in its own language) and an English message for everyone else.
public struct AnswerWarning: Sendable, Codable, Equatable {
    /// Stable codes: `uncited`, `invalid_citations`, `removed_images`, `context_truncated`,
    /// `empty_answer`, `length_limit`, `content_filter`, and `other`.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// The answer cites no source.
        case uncited
        /// Citation markers pointing at no source were removed.
        case invalidCitations = "invalid_citations"
        /// Remote images were removed from the answer.
        case removedImages = "removed_images"
        /// The best passage was cut to fit the context window.
        case contextTruncated = "context_truncated"
        /// The model returned nothing.
        case emptyAnswer = "empty_answer"
        /// The answer reached the token limit and is cut off.
        case lengthLimit = "length_limit"
        /// The provider's content filter stopped the answer.
        case contentFilter = "content_filter"
        /// Anything else.
        case other
    }

    /// What kind of warning this is.
    public var code: Code
    /// The warning in English.
    public var message: String

    /// Creates a warning.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// Which path produced the text of a grounded answer.
public enum AnswerOrigin: String, Sendable, Codable, Equatable, CaseIterable {
    /// The model's text (with the answer guard on, only its supported sentences).
    case model
    /// The extractive answer over the same passages: the answer guard found the model's answer
    /// unsupported (or the model was not needed: see ``GroundedAnswerer``).
    case extractive
    /// The not-found sentence, decided without the model's text: nothing relevant was retrieved, or,
    /// with the answer guard, neither the model's answer nor an extractive one is supported.
    case notFound = "not_found"
}

/// A model-written answer grounded in numbered sources, with checked citations.
///
/// `--json` shape (snake_case keys; `finish_reason` and `translated_query` are null when absent):
///
/// ```json
/// {"question": "那重量呢？", "query": "续重怎么收费", "answer": "续重每公斤3元[1]。", "mode": "llm",
///  "model": "dashscope:qwen-plus", "found": true, "language": "zh", "coverage": 0.8,
///  "citations": [{"n": 1, …}], "sources": [{"n": 1, …}, {"n": 2, …}], "invalid_citations": [],
///  "uncited": false, "truncated_context": false, "removed_images": 0, "warnings": [],
///  "warning_details": [],
///  "usage": {"prompt_tokens": 900, "completion_tokens": 20, "total_tokens": 920},
///  "finish_reason": "stop", "translated_query": null, "model_calls": 1, "answered_by": "model",
///  "answer_guard": null}
/// ```
///
/// With the answer guard on (small models), `answer_guard` reports what it did
/// (``AnswerGuardReport``) and `answered_by` says whether the text is the model's or the extractive
/// fallback.
public struct GroundedAnswer: Sendable, Codable, Equatable {
    /// The question as asked.
    public var question: String
    /// The query searched: the rewritten follow-up, or the question.
    public var query: String
    /// The translated query of the cross-lingual second search, when it ran.
    @ExplicitNull public var translatedQuery: String? = nil
    /// The answer text with `[n]` markers: exactly the text of the `text` events. When `found` is
    /// false it is the not-found sentence (in the question's language when the knowledge base had
    /// nothing relevant; as the model wrote it, in either language, when the model found nothing),
    /// or empty when the model returned nothing.
    public var answer: String
    /// Always `llm`.
    public var mode: String
    /// The model id (`provider:model`).
    public var model: String
    /// False when the knowledge base does not contain the answer (or the model gave none).
    public var found: Bool
    /// The answer language.
    public var language: AnswerLanguage
    /// Best relevance (coverage of the query's informative terms by a retrieved passage, 0…1).
    public var coverage: Double
    /// The sources the answer cites, with the numbers used in its text.
    public var citations: [Citation]
    /// Every source offered to the model, numbered 1…n.
    public var sources: [Citation]
    /// Marker numbers the model wrote that pointed at no source (removed from the text).
    public var invalidCitations: [Int]
    /// The answer has text but cites no source.
    public var uncited: Bool
    /// The best passage was cut to fit the context window.
    public var truncatedContext: Bool
    /// Remote images removed from the answer.
    public var removedImages: Int
    /// Things a reader should know (uncited answer, removed markers, cut-off answer, …), with codes.
    public var warningDetails: [AnswerWarning]
    /// The messages of ``warningDetails``.
    public var warnings: [String] { warningDetails.map(\.message) }
    /// Tokens of all model calls (rewrite, translation, answer).
    public var usage: TokenUsage
    /// Why the answer call stopped, when the provider said.
    @ExplicitNull public var finishReason: String? = nil
    /// Model calls made (rewrite, translation, answer).
    public var modelCalls = 0
    /// Which path produced ``answer``: the model, the extractive fallback, or the not-found decision.
    public var answeredBy: AnswerOrigin = .model
    /// What the answer guard did, when it was on (nil: off).
    public var answerGuard: AnswerGuardReport? = nil

    enum CodingKeys: String, CodingKey {
        case question, query, translatedQuery = "translated_query", answer, mode, model, found, language, coverage
        case citations, sources, invalidCitations = "invalid_citations", uncited
        case truncatedContext = "truncated_context", removedImages = "removed_images", warnings
        case warningDetails = "warning_details", usage
        case finishReason = "finish_reason", modelCalls = "model_calls", answeredBy = "answered_by"
        case answerGuard = "answer_guard"
    }

    /// Encodes the shape above (absent optionals as null, so that the keys are stable).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(question, forKey: .question)
        try c.encode(query, forKey: .query)
        try c.encode(translatedQuery, forKey: .translatedQuery)
        try c.encode(answer, forKey: .answer)
        try c.encode(mode, forKey: .mode)
        try c.encode(model, forKey: .model)
        try c.encode(found, forKey: .found)
        try c.encode(language, forKey: .language)
        try c.encode(coverage, forKey: .coverage)
        try c.encode(citations, forKey: .citations)
        try c.encode(sources, forKey: .sources)
        try c.encode(invalidCitations, forKey: .invalidCitations)
        try c.encode(uncited, forKey: .uncited)
        try c.encode(truncatedContext, forKey: .truncatedContext)
        try c.encode(removedImages, forKey: .removedImages)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(warningDetails, forKey: .warningDetails)
        try c.encode(usage, forKey: .usage)
        try c.encode(finishReason, forKey: .finishReason)
        try c.encode(modelCalls, forKey: .modelCalls)
        try c.encode(answeredBy, forKey: .answeredBy)
        try c.encode(answerGuard, forKey: .answerGuard)
    }
}

extension GroundedAnswer {
    /// Decodes the shape above (`ask --json` output); warnings without details (an older writer)
    /// come back with the code `other`, and a missing `answered_by` is read from `found`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        question = try c.decode(String.self, forKey: .question)
        query = try c.decode(String.self, forKey: .query)
        translatedQuery = try c.decodeIfPresent(String.self, forKey: .translatedQuery)
        answer = try c.decode(String.self, forKey: .answer)
        mode = try c.decode(String.self, forKey: .mode)
        model = try c.decode(String.self, forKey: .model)
        found = try c.decode(Bool.self, forKey: .found)
        language = try c.decode(AnswerLanguage.self, forKey: .language)
        coverage = try c.decode(Double.self, forKey: .coverage)
        citations = try c.decode([Citation].self, forKey: .citations)
        sources = try c.decode([Citation].self, forKey: .sources)
        invalidCitations = try c.decode([Int].self, forKey: .invalidCitations)
        uncited = try c.decode(Bool.self, forKey: .uncited)
        truncatedContext = try c.decode(Bool.self, forKey: .truncatedContext)
        removedImages = try c.decode(Int.self, forKey: .removedImages)
        if let details = try c.decodeIfPresent([AnswerWarning].self, forKey: .warningDetails) {
            warningDetails = details
        } else {
            warningDetails = try c.decode([String].self, forKey: .warnings).map { AnswerWarning(.other, $0) }
        }
        usage = try c.decode(TokenUsage.self, forKey: .usage)
        finishReason = try c.decodeIfPresent(String.self, forKey: .finishReason)
        modelCalls = try c.decodeIfPresent(Int.self, forKey: .modelCalls) ?? 0
        answeredBy = try c.decodeIfPresent(AnswerOrigin.self, forKey: .answeredBy) ?? (found ? .model : .notFound)
        answerGuard = try c.decodeIfPresent(AnswerGuardReport.self, forKey: .answerGuard)
    }
}
