/// Conversations kept: every question asked of a knowledge base and its answer (a turn), with who
/// asked, the sources, the model, the time taken and the asker's feedback.
///
/// Backend-neutral: the SQLite store implements it, a PostgreSQL one can later. Deleting a
/// conversation deletes its turns and their feedback; deleting a knowledge base deletes its
/// conversations.
///
/// ```swift
/// let c = try store.createConversation(kb: kb.id, title: "首重怎么收费？", caller: .admin, at: now)
/// let t = try store.appendTurn(NewTurn(conversationID: c.id, question: "首重怎么收费？", answer: "…", …))
/// try store.setFeedback(turn: t.id, rating: -1, note: "out of date", at: now)
/// ```
public protocol ConversationStore: Sendable {
    /// Stores a new, empty conversation of knowledge base `kb`; throws ``WendaoError/Code/notFound``
    /// when the knowledge base does not exist.
    func createConversation(kb: Int64, title: String, caller: ConversationCaller, at: Double) throws
        -> ConversationRecord
    /// The conversation with this id, or nil.
    func conversation(id: Int64) throws -> ConversationRecord?
    /// One page of conversations matching `query`, most recently updated first.
    func conversations(_ query: ConversationQuery) throws -> [ConversationRecord]
    /// The turns of a conversation, oldest first (empty for an unknown id).
    func turns(conversation: Int64) throws -> [TurnRecord]
    /// The turn with this id, or nil.
    func turn(id: Int64) throws -> TurnRecord?
    /// Stores a turn at the end of its conversation and marks the conversation updated at the
    /// turn's time; throws ``WendaoError/Code/notFound`` when the conversation does not exist (it
    /// was deleted while the answer was being made).
    func appendTurn(_ turn: NewTurn) throws -> TurnRecord
    /// Records (replacing any earlier) feedback on a turn: `rating` +1 or -1, an optional note.
    /// Throws ``WendaoError/Code/notFound`` for an unknown turn and
    /// ``WendaoError/Code/invalidArgument`` for a rating other than ±1.
    func setFeedback(turn: Int64, rating: Int, note: String?, at: Double) throws -> TurnRecord
    /// Deletes a conversation with its turns and feedback; throws ``WendaoError/Code/notFound`` for
    /// an unknown id.
    func deleteConversation(id: Int64) throws
    /// Deletes every conversation last updated before `time` (retention); returns how many.
    func deleteConversations(updatedBefore time: Double) throws -> Int
    /// Visits the turns matching `query`'s filters (its paging ignored) with their conversation,
    /// newest conversation first and, inside one, oldest turn first (CSV export).
    func forEachTurn(_ query: ConversationQuery, _ body: (ConversationRecord, TurnRecord) throws -> Void) throws
}

/// Who asked: the admin key, an open local server (no keys at all), or an API key — by its id and
/// name, never the key.
public enum ConversationCaller: Sendable, Equatable {
    /// The admin key.
    case admin
    /// A loopback server open without keys.
    case local
    /// An API key: its id and name.
    case key(id: Int64, name: String)
    /// A signed-in account: its id and name.
    case user(id: Int64, name: String)

    /// The stored label: `admin`, `local` or the key's name.
    public var name: String {
        switch self {
        case .admin: "admin"
        case .local: "local"
        case .key(_, let name), .user(_, let name): name
        }
    }

    /// The key id, for a key.
    public var keyID: Int64? {
        if case .key(let id, _) = self { return id }
        return nil
    }

    /// The account id, for a signed-in account.
    public var userID: Int64? {
        if case .user(let id, _) = self { return id }
        return nil
    }
}

/// A stored conversation.
public struct ConversationRecord: Sendable, Equatable {
    /// Stable numeric id.
    public var id: Int64
    /// The knowledge base it asks.
    public var kbID: Int64
    /// Its first question, shortened.
    public var title: String
    /// Creation time, seconds since 1970.
    public var createdAt: Double
    /// Time of the last turn (or the creation), seconds since 1970.
    public var updatedAt: Double
    /// Who started it.
    public var caller: ConversationCaller
    /// Number of turns.
    public var turnCount: Int
    /// Turns answered "not found".
    public var notFoundCount: Int
    /// Turns rated thumbs down.
    public var thumbsDownCount: Int

    /// Creates a record.
    public init(
        id: Int64, kbID: Int64, title: String, createdAt: Double, updatedAt: Double, caller: ConversationCaller,
        turnCount: Int = 0, notFoundCount: Int = 0, thumbsDownCount: Int = 0
    ) {
        self.id = id
        self.kbID = kbID
        self.title = title
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.caller = caller
        self.turnCount = turnCount
        self.notFoundCount = notFoundCount
        self.thumbsDownCount = thumbsDownCount
    }

    /// The longest title kept, in characters.
    public static let maxTitleCharacters = 80

    /// A title from a first question: white space collapsed, at most ``maxTitleCharacters``
    /// characters (an ellipsis marks a cut).
    public static func title(from question: String) -> String {
        let words = question.split(whereSeparator: { $0.isWhitespace || $0.isNewline })
        let flat = words.joined(separator: " ")
        guard flat.count > maxTitleCharacters else { return flat }
        return String(flat.prefix(maxTitleCharacters - 1)) + "…"
    }
}

/// A turn to store: a question and its answer.
public struct NewTurn: Sendable, Equatable {
    /// The conversation.
    public var conversationID: Int64
    /// The question as asked.
    public var question: String
    /// The answer text.
    public var answer: String
    /// Whether an answer was found.
    public var found: Bool
    /// `extractive` or `grounded`.
    public var mode: String
    /// The answering model (`provider:model`), nil for extractive answers.
    public var model: String?
    /// The citations as a JSON array (kept as the API returned them).
    public var citationsJSON: String
    /// Topic words carried from the previous question into retrieval (follow-ups), or nil.
    public var carried: String?
    /// Warnings the answer carried (codes or short texts).
    public var warnings: [String]
    /// Time to answer, in milliseconds.
    public var durationMilliseconds: Int
    /// False when the asker went away before the answer was complete (a streamed answer cut short).
    public var complete: Bool
    /// When it was asked, seconds since 1970.
    public var createdAt: Double

    /// Creates a turn.
    public init(
        conversationID: Int64, question: String, answer: String, found: Bool, mode: String, model: String? = nil,
        citationsJSON: String = "[]", carried: String? = nil, warnings: [String] = [], durationMilliseconds: Int = 0,
        complete: Bool = true, createdAt: Double
    ) {
        self.conversationID = conversationID
        self.question = question
        self.answer = answer
        self.found = found
        self.mode = mode
        self.model = model
        self.citationsJSON = citationsJSON
        self.carried = carried
        self.warnings = warnings
        self.durationMilliseconds = durationMilliseconds
        self.complete = complete
        self.createdAt = createdAt
    }
}

/// A stored turn, with its feedback.
public struct TurnRecord: Sendable, Equatable {
    /// Stable numeric id.
    public var id: Int64
    /// What was stored.
    public var turn: NewTurn
    /// +1 (thumbs up), -1 (thumbs down) or nil (no feedback).
    public var rating: Int?
    /// The feedback's note.
    public var note: String?
    /// When the feedback was given.
    public var feedbackAt: Double?

    /// Creates a record.
    public init(id: Int64, turn: NewTurn, rating: Int? = nil, note: String? = nil, feedbackAt: Double? = nil) {
        self.id = id
        self.turn = turn
        self.rating = rating
        self.note = note
        self.feedbackAt = feedbackAt
    }
}

/// Which conversations to list: filters and one page.
public struct ConversationQuery: Sendable {
    /// Only these knowledge bases (nil: all).
    public var knowledgeBaseIDs: [Int64]?
    /// Only conversations with a turn asked at or after this time.
    public var from: Double?
    /// Only conversations with a turn asked before this time.
    public var to: Double?
    /// Only conversations with a turn answered "not found".
    public var notFound = false
    /// Only conversations with a turn rated thumbs down.
    public var thumbsDown = false
    /// Only conversations started by this API key.
    public var callerKeyID: Int64?
    /// Only conversations started by this account.
    public var callerUserID: Int64?
    /// Page size.
    public var limit = 50
    /// Continue after this position (the last conversation of the previous page: its update time
    /// and id).
    public var after: (updatedAt: Double, id: Int64)?

    /// A query for every conversation, first page.
    public init() {}

    /// Whether any turn-level filter is set (the turns must then match them all, in one turn).
    public var filtersTurns: Bool { from != nil || to != nil || notFound || thumbsDown }
}
