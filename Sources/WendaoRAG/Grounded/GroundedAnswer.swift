public import WendaoCore

/// What ``GroundedAnswerer/answer(_:history:in:onEvent:)`` reports while it works, in order:
/// `rewritten` and `translated` (when those steps run), `sources`, then the answer `text` in pieces.
/// When the knowledge base has nothing relevant, only the not-found sentence comes as `text`.
public enum GroundedEvent: Sendable, Equatable {
    /// The follow-up question rewritten as a standalone search query.
    case rewritten(String)
    /// The query translated into the other language for a second search.
    case translated(String)
    /// The numbered sources offered to the model (before the answer starts).
    case sources([Citation])
    /// A piece of the answer, citation markers normalised and unsafe images removed.
    case text(String)
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
///  "usage": {"prompt_tokens": 900, "completion_tokens": 20, "total_tokens": 920},
///  "finish_reason": "stop", "translated_query": null}
/// ```
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
    /// Things a reader should know (uncited answer, removed markers, cut-off answer, …).
    public var warnings: [String]
    /// Tokens of all model calls (rewrite, translation, answer).
    public var usage: TokenUsage
    /// Why the answer call stopped, when the provider said.
    @ExplicitNull public var finishReason: String? = nil
    /// Model calls made (rewrite, translation, answer).
    public var modelCalls = 0

    enum CodingKeys: String, CodingKey {
        case question, query, translatedQuery = "translated_query", answer, mode, model, found, language, coverage
        case citations, sources, invalidCitations = "invalid_citations", uncited
        case truncatedContext = "truncated_context", removedImages = "removed_images", warnings, usage
        case finishReason = "finish_reason", modelCalls = "model_calls"
    }
}
