import Foundation
import GRDB
public import WendaoCore

/// Conversations kept: the `conversations` and `conversation_turns` tables.
extension SQLiteStore: ConversationStore {
    /// The columns of a conversation with its counts of not-found and thumbs-down turns.
    private static let conversationColumns = """
        c.*,
        (SELECT COUNT(*) FROM conversation_turns t WHERE t.conversation_id = c.id AND t.found = 0) AS not_found_count,
        (SELECT COUNT(*) FROM conversation_turns t WHERE t.conversation_id = c.id AND t.rating = -1)
            AS thumbs_down_count
        """

    private static func conversationRecord(_ row: Row) -> ConversationRecord {
        let kind: String = row["caller_kind"]
        let caller: ConversationCaller =
            switch kind {
            case "key": .key(id: row["caller_key_id"] ?? 0, name: row["caller_name"])
            // An account's id is kept in the same column as a key's (the kind tells them apart).
            case "user": .user(id: row["caller_key_id"] ?? 0, name: row["caller_name"])
            case "local": .local
            default: .admin
            }
        return ConversationRecord(
            id: row["id"], kbID: row["kb_id"], title: row["title"], createdAt: row["created_at"],
            updatedAt: row["updated_at"], caller: caller, turnCount: row["turn_count"],
            notFoundCount: row["not_found_count"] ?? 0, thumbsDownCount: row["thumbs_down_count"] ?? 0)
    }

    private static func turnRecord(_ row: Row) -> TurnRecord {
        let warnings =
            (try? JSONDecoder().decode([String].self, from: Data((row["warnings"] as String? ?? "[]").utf8))) ?? []
        let turn = NewTurn(
            conversationID: row["conversation_id"], question: row["question"], answer: row["answer"],
            found: row["found"], mode: row["mode"], model: row["model"], citationsJSON: row["citations"],
            carried: row["carried"], warnings: warnings, durationMilliseconds: row["duration_ms"],
            complete: row["complete"], createdAt: row["created_at"])
        return TurnRecord(
            id: row["id"], turn: turn, rating: row["rating"], note: row["note"], feedbackAt: row["feedback_at"])
    }

    /// The turn-level conditions of `query` on alias `t`, with their arguments.
    private static func turnConditions(_ query: ConversationQuery) -> (sql: [String], arguments: StatementArguments) {
        var sql: [String] = []
        var arguments = StatementArguments()
        if let from = query.from {
            sql.append("t.created_at >= ?")
            arguments += [from]
        }
        if let to = query.to {
            sql.append("t.created_at < ?")
            arguments += [to]
        }
        if query.notFound { sql.append("t.found = 0") }
        if query.thumbsDown { sql.append("t.rating = -1") }
        return (sql, arguments)
    }

    /// The WHERE clause (possibly empty) selecting the conversations of `query`, paging included
    /// when `paged`.
    private static func conversationFilter(_ query: ConversationQuery, paged: Bool) -> (
        sql: String, arguments: StatementArguments
    ) {
        var clauses: [String] = []
        var arguments = StatementArguments()
        if let ids = query.knowledgeBaseIDs {
            if ids.isEmpty {
                clauses.append("0")
            } else {
                clauses.append("c.kb_id IN (\(ids.map { _ in "?" }.joined(separator: ", ")))")
                arguments += StatementArguments(ids)
            }
        }
        if let key = query.callerKeyID {
            clauses.append("c.caller_kind = 'key' AND c.caller_key_id = ?")
            arguments += [key]
        }
        if let user = query.callerUserID {
            clauses.append("c.caller_kind = 'user' AND c.caller_key_id = ?")
            arguments += [user]
        }
        if query.filtersTurns {
            let turns = turnConditions(query)
            clauses.append(
                "EXISTS (SELECT 1 FROM conversation_turns t WHERE t.conversation_id = c.id AND "
                    + turns.sql.joined(separator: " AND ") + ")")
            arguments += turns.arguments
        }
        if paged, let after = query.after {
            clauses.append("(c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))")
            arguments += [after.updatedAt, after.updatedAt, after.id]
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), arguments)
    }

    /// Stores a new conversation.
    public func createConversation(kb: Int64, title: String, caller: ConversationCaller, at: Double) throws
        -> ConversationRecord
    {
        try wrap("cannot create conversation") {
            try pool.write { db in
                guard try Int64.fetchOne(db, sql: "SELECT id FROM kb WHERE id = ?", arguments: [kb]) != nil else {
                    throw WendaoError(.notFound, "no knowledge base with id \(kb)")
                }
                let kind =
                    switch caller {
                    case .admin: "admin"
                    case .local: "local"
                    case .key: "key"
                    case .user: "user"
                    }
                try db.execute(
                    sql: """
                        INSERT INTO conversations (kb_id, title, created_at, updated_at, caller_kind, caller_key_id,
                        caller_name) VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [kb, title, at, at, kind, caller.keyID ?? caller.userID, caller.name])
                return ConversationRecord(
                    id: db.lastInsertedRowID, kbID: kb, title: title, createdAt: at, updatedAt: at, caller: caller)
            }
        }
    }

    /// The conversation with this id, or nil.
    public func conversation(id: Int64) throws -> ConversationRecord? {
        try wrap("cannot read conversation") {
            try pool.read { db in
                try Row.fetchOne(
                    db, sql: "SELECT \(Self.conversationColumns) FROM conversations c WHERE c.id = ?", arguments: [id]
                ).map(Self.conversationRecord)
            }
        }
    }

    /// One page of conversations, most recently updated first.
    public func conversations(_ query: ConversationQuery) throws -> [ConversationRecord] {
        let filter = Self.conversationFilter(query, paged: true)
        var arguments = filter.arguments
        arguments += [max(0, query.limit)]
        return try wrap("cannot list conversations") {
            try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.conversationColumns) FROM conversations c \(filter.sql)
                        ORDER BY c.updated_at DESC, c.id DESC LIMIT ?
                        """,
                    arguments: arguments
                ).map(Self.conversationRecord)
            }
        }
    }

    /// The turns of a conversation, oldest first.
    public func turns(conversation: Int64) throws -> [TurnRecord] {
        try wrap("cannot read turns") {
            try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM conversation_turns WHERE conversation_id = ? ORDER BY id",
                    arguments: [conversation]
                ).map(Self.turnRecord)
            }
        }
    }

    /// The turn with this id, or nil.
    public func turn(id: Int64) throws -> TurnRecord? {
        try wrap("cannot read turn") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM conversation_turns WHERE id = ?", arguments: [id])
                    .map(Self.turnRecord)
            }
        }
    }

    /// Stores a turn and marks its conversation updated.
    public func appendTurn(_ turn: NewTurn) throws -> TurnRecord {
        let warnings = String(decoding: (try? JSONEncoder().encode(turn.warnings)) ?? Data("[]".utf8), as: UTF8.self)
        return try wrap("cannot store turn") {
            try pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE conversations SET updated_at = max(updated_at, ?), turn_count = turn_count + 1
                        WHERE id = ?
                        """,
                    arguments: [turn.createdAt, turn.conversationID])
                guard db.changesCount > 0 else {
                    throw WendaoError(.notFound, "no conversation with id \(turn.conversationID)")
                }
                try db.execute(
                    sql: """
                        INSERT INTO conversation_turns (conversation_id, question, answer, found, mode, model,
                        citations, carried, warnings, duration_ms, complete, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        turn.conversationID, turn.question, turn.answer, turn.found, turn.mode, turn.model,
                        turn.citationsJSON, turn.carried, warnings, turn.durationMilliseconds, turn.complete,
                        turn.createdAt,
                    ])
                return TurnRecord(id: db.lastInsertedRowID, turn: turn)
            }
        }
    }

    /// Records feedback on a turn.
    public func setFeedback(turn: Int64, rating: Int, note: String?, at: Double) throws -> TurnRecord {
        guard rating == 1 || rating == -1 else {
            throw WendaoError(.invalidArgument, "a rating is +1 (thumbs up) or -1 (thumbs down)")
        }
        return try wrap("cannot store feedback") {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE conversation_turns SET rating = ?, note = ?, feedback_at = ? WHERE id = ?",
                    arguments: [rating, note, at, turn])
                guard db.changesCount > 0,
                    let row = try Row.fetchOne(
                        db, sql: "SELECT * FROM conversation_turns WHERE id = ?", arguments: [turn])
                else { throw WendaoError(.notFound, "no turn with id \(turn)") }
                return Self.turnRecord(row)
            }
        }
    }

    /// Deletes a conversation with its turns.
    public func deleteConversation(id: Int64) throws {
        try wrap("cannot delete conversation") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM conversations WHERE id = ?", arguments: [id])
                guard db.changesCount > 0 else { throw WendaoError(.notFound, "no conversation with id \(id)") }
            }
        }
    }

    /// Deletes conversations last updated before `time`.
    public func deleteConversations(updatedBefore time: Double) throws -> Int {
        try wrap("cannot purge conversations") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM conversations WHERE updated_at < ?", arguments: [time])
                return db.changesCount
            }
        }
    }

    /// Visits the matching turns with their conversations.
    public func forEachTurn(_ query: ConversationQuery, _ body: (ConversationRecord, TurnRecord) throws -> Void)
        throws
    {
        let filter = Self.conversationFilter(query, paged: false)
        let turns = Self.turnConditions(query)
        let turnWhere = (["t.conversation_id = ?"] + turns.sql).joined(separator: " AND ")
        try wrap("cannot export conversations") {
            try pool.read { db in
                let conversations = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.conversationColumns) FROM conversations c \(filter.sql)
                        ORDER BY c.updated_at DESC, c.id DESC
                        """,
                    arguments: filter.arguments
                ).map(Self.conversationRecord)
                for c in conversations {
                    var arguments: StatementArguments = [c.id]
                    arguments += turns.arguments
                    let rows = try Row.fetchCursor(
                        db, sql: "SELECT * FROM conversation_turns t WHERE \(turnWhere) ORDER BY t.id",
                        arguments: arguments)
                    while let row = try rows.next() { try body(c, Self.turnRecord(row)) }
                }
            }
        }
    }
}
