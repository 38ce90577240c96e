import Foundation
import Logging
import PostgresNIO
public import WendaoCore

/// Conversations kept: the `conversations` and `conversation_turns` tables.
extension PostgresStore: ConversationStore {
    private static let conversationColumns = """
        c.*,
        (SELECT COUNT(*) FROM conversation_turns t WHERE t.conversation_id = c.id AND NOT t.found) AS not_found_count,
        (SELECT COUNT(*) FROM conversation_turns t WHERE t.conversation_id = c.id AND t.rating = -1)
            AS thumbs_down_count
        """

    private static func conversationRecord(_ row: PostgresRandomAccessRow) throws -> ConversationRecord {
        let kind = try row.get("caller_kind", as: String.self)
        let keyID = try row.get("caller_key_id", as: Int64?.self) ?? 0
        let name = try row.get("caller_name", as: String.self)
        let caller: ConversationCaller =
            switch kind {
            case "key": .key(id: keyID, name: name)
            case "user": .user(id: keyID, name: name)
            case "local": .local
            default: .admin
            }
        return ConversationRecord(
            id: try row.get("id"), kbID: try row.get("kb_id"), title: try row.get("title"),
            createdAt: try row.get("created_at"), updatedAt: try row.get("updated_at"), caller: caller,
            turnCount: Int(try row.get("turn_count", as: Int32.self)),
            notFoundCount: Int(try row.get("not_found_count", as: Int64.self)),
            thumbsDownCount: Int(try row.get("thumbs_down_count", as: Int64.self)))
    }

    private static func turnRecord(_ row: PostgresRandomAccessRow) throws -> TurnRecord {
        let warningsJSON = try row.get("warnings", as: String.self)
        let warnings = (try? JSONDecoder().decode([String].self, from: Data(warningsJSON.utf8))) ?? []
        let turn = NewTurn(
            conversationID: try row.get("conversation_id"), question: try row.get("question"),
            answer: try row.get("answer"), found: try row.get("found"), mode: try row.get("mode"),
            model: try row.get("model"), citationsJSON: try row.get("citations"), carried: try row.get("carried"),
            warnings: warnings, durationMilliseconds: Int(try row.get("duration_ms", as: Int64.self)),
            complete: try row.get("complete"), createdAt: try row.get("created_at"))
        return TurnRecord(
            id: try row.get("id"), turn: turn, rating: try row.get("rating", as: Int32?.self).map(Int.init),
            note: try row.get("note"), feedbackAt: try row.get("feedback_at"))
    }

    /// The turn-level conditions of `query` on alias `t`, appended to `sql` with their bindings.
    private static func turnConditions(_ query: ConversationQuery, into q: inout SQLBuilder) -> [String] {
        var clauses: [String] = []
        if let from = query.from { clauses.append("t.created_at >= \(q.bind(from))") }
        if let to = query.to { clauses.append("t.created_at < \(q.bind(to))") }
        if query.notFound { clauses.append("NOT t.found") }
        if query.thumbsDown { clauses.append("t.rating = -1") }
        return clauses
    }

    /// The WHERE clause (possibly empty) selecting the conversations of `query`.
    private static func conversationFilter(_ query: ConversationQuery, paged: Bool, into q: inout SQLBuilder)
        -> String
    {
        var clauses: [String] = []
        if let ids = query.knowledgeBaseIDs {
            clauses.append(ids.isEmpty ? "FALSE" : "c.kb_id = ANY(\(q.bind(ids))::int8[])")
        }
        if let key = query.callerKeyID {
            clauses.append("c.caller_kind = 'key' AND c.caller_key_id = \(q.bind(key))")
        }
        if let user = query.callerUserID {
            clauses.append("c.caller_kind = 'user' AND c.caller_key_id = \(q.bind(user))")
        }
        if query.filtersTurns {
            let turns = turnConditions(query, into: &q)
            clauses.append(
                "EXISTS (SELECT 1 FROM conversation_turns t WHERE t.conversation_id = c.id AND "
                    + turns.joined(separator: " AND ") + ")")
        }
        if paged, let after = query.after {
            let u = q.bind(after.updatedAt)
            clauses.append("(c.updated_at < \(u) OR (c.updated_at = \(u) AND c.id < \(q.bind(after.id))))")
        }
        return clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
    }

    /// Stores a new conversation.
    public func createConversation(kb: Int64, title: String, caller: ConversationCaller, at: Double) throws
        -> ConversationRecord
    {
        let kind =
            switch caller {
            case .admin: "admin"
            case .local: "local"
            case .key: "key"
            case .user: "user"
            }
        let callerID = caller.keyID ?? caller.userID
        let logger = self.logger
        return try transaction("cannot create conversation") { c in
            guard !(try await c.rows("SELECT id FROM kb WHERE id = \(kb) FOR SHARE", logger: logger)).isEmpty else {
                throw WendaoError(.notFound, "no knowledge base with id \(kb)")
            }
            let rows = try await c.rows(
                """
                INSERT INTO conversations (kb_id, title, created_at, updated_at, caller_kind, caller_key_id, caller_name)
                VALUES (\(kb), \(title), \(at), \(at), \(kind), \(callerID), \(caller.name)) RETURNING id
                """, logger: logger)
            return ConversationRecord(
                id: try rows[0].get("id"), kbID: kb, title: title, createdAt: at, updatedAt: at, caller: caller)
        }
    }

    /// The conversation with this id, or nil.
    public func conversation(id: Int64) throws -> ConversationRecord? {
        let logger = self.logger
        return try run("cannot read conversation") { client in
            try await client.rows(
                "SELECT \(unescaped: Self.conversationColumns) FROM conversations c WHERE c.id = \(id)", logger: logger
            ).first.map(Self.conversationRecord)
        }
    }

    /// One page of conversations, most recently updated first.
    public func conversations(_ query: ConversationQuery) throws -> [ConversationRecord] {
        var q = SQLBuilder()
        let filter = Self.conversationFilter(query, paged: true, into: &q)
        let limit = q.bind(max(0, query.limit))
        let sql = q.query(
            """
            SELECT \(Self.conversationColumns) FROM conversations c \(filter)
            ORDER BY c.updated_at DESC, c.id DESC LIMIT \(limit)
            """)
        let logger = self.logger
        return try run("cannot list conversations") { client in
            try await client.rows(sql, logger: logger).map(Self.conversationRecord)
        }
    }

    /// The turns of a conversation, oldest first.
    public func turns(conversation: Int64) throws -> [TurnRecord] {
        let logger = self.logger
        return try run("cannot read turns") { client in
            try await client.rows(
                "SELECT * FROM conversation_turns WHERE conversation_id = \(conversation) ORDER BY id", logger: logger
            ).map(Self.turnRecord)
        }
    }

    /// The turn with this id, or nil.
    public func turn(id: Int64) throws -> TurnRecord? {
        let logger = self.logger
        return try run("cannot read turn") { client in
            try await client.rows("SELECT * FROM conversation_turns WHERE id = \(id)", logger: logger)
                .first.map(Self.turnRecord)
        }
    }

    /// Stores a turn and marks its conversation updated.
    public func appendTurn(_ turn: NewTurn) throws -> TurnRecord {
        let warnings = String(decoding: (try? JSONEncoder().encode(turn.warnings)) ?? Data("[]".utf8), as: UTF8.self)
        let logger = self.logger
        return try transaction("cannot store turn") { c in
            let updated = try await c.rows(
                """
                UPDATE conversations SET updated_at = GREATEST(updated_at, \(turn.createdAt)),
                    turn_count = turn_count + 1
                WHERE id = \(turn.conversationID) RETURNING id
                """, logger: logger)
            guard !updated.isEmpty else {
                throw WendaoError(.notFound, "no conversation with id \(turn.conversationID)")
            }
            let rows = try await c.rows(
                """
                INSERT INTO conversation_turns (conversation_id, question, answer, found, mode, model, citations, carried,
                    warnings, duration_ms, complete, created_at)
                VALUES (\(turn.conversationID), \(turn.question), \(turn.answer), \(turn.found), \(turn.mode),
                    \(turn.model), \(turn.citationsJSON), \(turn.carried), \(warnings),
                    \(Int64(turn.durationMilliseconds)), \(turn.complete), \(turn.createdAt))
                RETURNING id
                """, logger: logger)
            return TurnRecord(id: try rows[0].get("id"), turn: turn)
        }
    }

    /// Records feedback on a turn.
    public func setFeedback(turn: Int64, rating: Int, note: String?, at: Double) throws -> TurnRecord {
        guard rating == 1 || rating == -1 else {
            throw WendaoError(.invalidArgument, "a rating is +1 (thumbs up) or -1 (thumbs down)")
        }
        let logger = self.logger
        return try run("cannot store feedback") { client in
            let rows = try await client.rows(
                """
                UPDATE conversation_turns SET rating = \(Int32(rating)), note = \(note), feedback_at = \(at)
                WHERE id = \(turn) RETURNING *
                """, logger: logger)
            guard let row = rows.first else { throw WendaoError(.notFound, "no turn with id \(turn)") }
            return try Self.turnRecord(row)
        }
    }

    /// Deletes a conversation with its turns.
    public func deleteConversation(id: Int64) throws {
        let logger = self.logger
        try run("cannot delete conversation") { client in
            let rows = try await client.rows("DELETE FROM conversations WHERE id = \(id) RETURNING id", logger: logger)
            guard !rows.isEmpty else { throw WendaoError(.notFound, "no conversation with id \(id)") }
        }
    }

    /// Deletes conversations last updated before `time`.
    public func deleteConversations(updatedBefore time: Double) throws -> Int {
        let logger = self.logger
        return try run("cannot purge conversations") { client in
            try await client.rows("DELETE FROM conversations WHERE updated_at < \(time) RETURNING id", logger: logger)
                .count
        }
    }

    /// Visits the matching turns with their conversations (read first, then visited).
    public func forEachTurn(_ query: ConversationQuery, _ body: (ConversationRecord, TurnRecord) throws -> Void)
        throws
    {
        var q = SQLBuilder()
        let filter = Self.conversationFilter(query, paged: false, into: &q)
        let conversationsSQL = q.query(
            """
            SELECT \(Self.conversationColumns) FROM conversations c \(filter)
            ORDER BY c.updated_at DESC, c.id DESC
            """)
        var t = SQLBuilder()
        let conversationMark = t.bind(Int64(0))
        let turnClauses = ["t.conversation_id = \(conversationMark)"] + Self.turnConditions(query, into: &t)
        let turnsTemplate = t
        let turnsSQL =
            "SELECT * FROM conversation_turns t WHERE \(turnClauses.joined(separator: " AND ")) ORDER BY t.id"
        let logger = self.logger
        let conversations: [ConversationRecord] = try run("cannot export conversations") { client in
            try await client.rows(conversationsSQL, logger: logger).map(Self.conversationRecord)
        }
        for c in conversations {
            var builder = turnsTemplate
            builder.replaceFirst(Int64(c.id))
            let sql = builder.query(turnsSQL)
            let turns: [TurnRecord] = try run("cannot export conversations") { client in
                try await client.rows(sql, logger: logger).map(Self.turnRecord)
            }
            for turn in turns { try body(c, turn) }
        }
    }
}

/// Curated answers: the `curated_answer` table.
extension PostgresStore: CuratedAnswerStore {
    private static func curatedRecord(_ row: PostgresRandomAccessRow) throws -> CuratedAnswerRecord {
        CuratedAnswerRecord(
            id: try row.get("id"), question: try row.get("question"), answer: try row.get("answer"),
            note: try row.get("note"), sourceTurn: try row.get("source_turn"), createdAt: try row.get("created_at"),
            updatedAt: try row.get("updated_at"))
    }

    private static func taken(_ c: PostgresConnection, kb: Int64, key: String, except id: Int64?, logger: Logger)
        async throws -> Int64?
    {
        try await c.rows(
            """
            SELECT id FROM curated_answer WHERE kb_id = \(kb) AND question_key = \(key) AND id != \(id ?? -1)
            """, logger: logger
        ).first.map { try $0.get("id", as: Int64.self) }
    }

    /// Stores a new entry; `alreadyExists` when the normalised question is taken.
    public func createCuratedAnswer(
        kb: Int64, question: String, key: String, answer: String, note: String?, sourceTurn: String?
    ) throws -> CuratedAnswerRecord {
        let logger = self.logger
        let now = Date().timeIntervalSince1970
        return try transaction("cannot store the curated answer") { c in
            try await Self.lockKnowledgeBase(c, kb: kb, logger: logger)
            if let other = try await Self.taken(c, kb: kb, key: key, except: nil, logger: logger) {
                throw WendaoError(.alreadyExists, "curated answer \(other) already answers this question")
            }
            let rows = try await c.rows(
                """
                INSERT INTO curated_answer (kb_id, question, question_key, answer, note, source_turn, created_at,
                    updated_at)
                VALUES (\(kb), \(question), \(key), \(answer), \(note), \(sourceTurn), \(now), \(now)) RETURNING id
                """, logger: logger)
            return CuratedAnswerRecord(
                id: try rows[0].get("id"), question: question, answer: answer, note: note, sourceTurn: sourceTurn,
                createdAt: now, updatedAt: now)
        }
    }

    /// All entries of a knowledge base, by id.
    public func curatedAnswers(kb: Int64) throws -> [CuratedAnswerRecord] {
        let logger = self.logger
        return try run("cannot read curated answers") { client in
            try await client.rows("SELECT * FROM curated_answer WHERE kb_id = \(kb) ORDER BY id", logger: logger)
                .map(Self.curatedRecord)
        }
    }

    /// Changes an entry in one transaction.
    public func updateCuratedAnswer(
        kb: Int64, id: Int64, question: String?, key: String?, answer: String?, note: String?
    ) throws -> CuratedAnswerRecord {
        let logger = self.logger
        let now = Date().timeIntervalSince1970
        return try transaction("cannot change the curated answer") { c in
            try await Self.lockKnowledgeBase(c, kb: kb, logger: logger)
            guard
                let row = try await c.rows(
                    "SELECT * FROM curated_answer WHERE id = \(id) AND kb_id = \(kb)", logger: logger
                ).first
            else { throw WendaoError(.notFound, "no curated answer \(id) in this knowledge base") }
            var record = try Self.curatedRecord(row)
            if let key, let other = try await Self.taken(c, kb: kb, key: key, except: id, logger: logger) {
                throw WendaoError(.alreadyExists, "curated answer \(other) already answers this question")
            }
            if let question { record.question = question }
            if let answer { record.answer = answer }
            if let note { record.note = note.isEmpty ? nil : note }
            record.updatedAt = now
            try await c.exec(
                """
                UPDATE curated_answer SET question = \(record.question), question_key = COALESCE(\(key), question_key),
                    answer = \(record.answer), note = \(record.note), updated_at = \(record.updatedAt)
                WHERE id = \(id)
                """, logger: logger)
            return record
        }
    }

    /// Deletes an entry.
    public func deleteCuratedAnswer(kb: Int64, id: Int64) throws {
        let logger = self.logger
        try run("cannot delete the curated answer") { client in
            let rows = try await client.rows(
                "DELETE FROM curated_answer WHERE id = \(id) AND kb_id = \(kb) RETURNING id", logger: logger)
            guard !rows.isEmpty else { throw WendaoError(.notFound, "no curated answer \(id) in this knowledge base") }
        }
    }
}

/// A query built from SQL text and `$n` placeholders whose values are bound, for the few queries
/// whose shape depends on the filters asked for.
struct SQLBuilder: Sendable {
    private var bindings = PostgresBindings()
    private var count = 0
    /// Values in order, kept so that the first one can be replaced (a per-row template).
    private var values: [any PostgresDynamicTypeEncodable & Sendable] = []

    /// Binds `value` and returns its placeholder.
    mutating func bind<T: PostgresDynamicTypeEncodable & Sendable>(_ value: T) -> String {
        bindings.append(value)
        values.append(value)
        count += 1
        return "$\(count)"
    }

    /// Replaces the first bound value (same type) by `value`.
    mutating func replaceFirst<T: PostgresDynamicTypeEncodable & Sendable>(_ value: T) {
        guard !values.isEmpty else { return }
        values[0] = value
        var fresh = PostgresBindings()
        for v in values { Self.append(v, to: &fresh) }
        bindings = fresh
    }

    private static func append(_ value: some PostgresDynamicTypeEncodable & Sendable, to b: inout PostgresBindings) {
        b.append(value)
    }

    /// The query with this builder's bindings.
    func query(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }
}
