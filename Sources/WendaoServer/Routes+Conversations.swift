import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WendaoCore
import WendaoRAG

struct FeedbackBody: Decodable {
    var rating: String
    var note: String?
}

/// What the ask routes learn from a conversation being continued.
struct ConversationContinuation: Sendable {
    /// The conversation continued (nil: a new one is created with the turn).
    var conversation: ConversationRecord?
    /// Its last turn.
    var previous: TurnRecord?
    /// Its turns as chat history (for a model), oldest first.
    var history: [ChatMessage]
}

/// Identifies a stored turn in a response.
struct StoredTurn: Sendable {
    var conversationID: Int64
    var turnID: Int64
}

/// `base`'s keys plus `conversation_id` and `turn_id`.
struct WithStoredTurn<Base: Encodable>: Encodable {
    var base: Base
    var stored: StoredTurn?

    func encode(to encoder: any Encoder) throws {
        try base.encode(to: encoder)
        guard let stored else { return }
        var c = encoder.container(keyedBy: AnswerReport.Key.self)
        try c.encode(stored.conversationID, forKey: AnswerReport.Key(stringValue: "conversation_id"))
        try c.encode(stored.turnID, forKey: AnswerReport.Key(stringValue: "turn_id"))
    }
}

extension WendaoAPI {
    /// Most conversations on one page.
    static let maxConversationPage = 200
    /// Longest feedback note, in characters (Unicode scalars, as JSON Schema counts).
    static let maxFeedbackNote = 2000

    /// Who is asking, as a conversation records it (a key's id and name, never the key).
    func conversationCaller(_ principal: Principal) -> ConversationCaller {
        switch principal {
        case .admin: service.configuration.adminKey == nil ? .local : .admin
        case .key(let k): .key(id: k.id, name: k.name)
        case .user(let u, _): .user(id: u.id, name: u.name)
        }
    }

    /// Conversation `id` if the caller may see it: the admin sees every one; a key sees those it
    /// started in a knowledge base it still covers. Anything else is a 404, as if it did not exist.
    func visibleConversation(_ id: Int64, _ context: WendaoContext) async throws -> ConversationRecord {
        let store = service.library.store
        let found = try await service.blocking { try store.conversation(id: id) }
        guard let c = found, context.principal.covers(c.kbID) else {
            throw APIError.notFound("conversation \(id) does not exist")
        }
        if case .key(let k) = context.principal, c.caller.keyID != k.id {
            throw APIError.notFound("conversation \(id) does not exist")
        }
        // An account sees its own conversations; a knowledge base's administrators (supervisors)
        // every conversation of it.
        if case .user(let u, _) = context.principal, c.caller.userID != u.id, !context.principal.canConfigure(c.kbID) {
            throw APIError.notFound("conversation \(id) does not exist")
        }
        return c
    }

    /// The conversation an ask continues (`id`), which must be one the caller sees and of knowledge
    /// base `record`; nil `id` starts a new one.
    func continuation(_ id: Int64?, record: KnowledgeBaseRecord, _ context: WendaoContext) async throws
        -> ConversationContinuation
    {
        guard let id else { return ConversationContinuation(conversation: nil, previous: nil, history: []) }
        let c = try await visibleConversation(id, context)
        guard c.kbID == record.id else { throw APIError.notFound("conversation \(id) does not exist") }
        let store = service.library.store
        let turns = try await service.blocking { try store.turns(conversation: id) }
        var history: [ChatMessage] = []
        for t in turns.suffix(6) where t.turn.complete {
            history.append(ChatMessage(.user, t.turn.question))
            history.append(ChatMessage(.assistant, t.turn.answer))
        }
        return ConversationContinuation(conversation: c, previous: turns.last, history: history)
    }

    /// Stores a finished answer as a turn (creating the conversation first when it is new).
    func storeTurn(
        question: String, outcome: AnswerOutcome, followUp: FollowUp?, started: ContinuousClock.Instant,
        continuing: ConversationContinuation, record: KnowledgeBaseRecord, caller: ConversationCaller
    ) async throws -> StoredTurn {
        let now = Date().timeIntervalSince1970
        let milliseconds = Int((Self.seconds(since: started) * 1000).rounded())
        var grounded: (model: String?, mode: String, warnings: [String]) = (nil, "extractive", [])
        if case .grounded(let g, _) = outcome { grounded = (g.model, g.mode, g.warnings) }
        let (model, mode, warnings) = grounded
        let citations = String(
            decoding: (try? JSON.encoder.encode(outcome.citations)) ?? Data("[]".utf8), as: UTF8.self)
        let store = service.library.store
        let existing = continuing.conversation
        let kb = record.id
        let found = outcome.found
        let answer = outcome.text
        return try await service.blocking {
            let c =
                try existing
                ?? store.createConversation(
                    kb: kb, title: ConversationRecord.title(from: question), caller: caller, at: now)
            let t = try store.appendTurn(
                NewTurn(
                    conversationID: c.id, question: question, answer: answer, found: found, mode: mode, model: model,
                    citationsJSON: citations, carried: followUp?.topic, warnings: warnings,
                    durationMilliseconds: milliseconds, createdAt: now))
            return StoredTurn(conversationID: c.id, turnID: t.id)
        }
    }

    /// The list filters of a request's query string (`kb`, `from`, `to`, `not_found`, `thumbs_down`,
    /// `limit`, `cursor`), limited to what the caller sees.
    func conversationQuery(_ request: Request, _ context: WendaoContext, paged: Bool) async throws
        -> ConversationQuery
    {
        let q = request.uri.queryParameters
        var query = ConversationQuery()
        if let kb = q["kb"].map(String.init) {
            let name: String
            do { name = try KnowledgeBaseName.canonical(kb) } catch {
                throw APIError.notFound("knowledge base '\(kb.prefix(80))' does not exist")
            }
            query.knowledgeBaseIDs = [try await visibleRecord(name, context).id]
        } else if case .key(let k) = context.principal {
            query.knowledgeBaseIDs = k.knowledgeBaseIDs
        } else if case .user(let u, _) = context.principal, !u.isAdministrator {
            query.knowledgeBaseIDs = u.roles.keys.sorted()
        }
        if case .key(let k) = context.principal { query.callerKeyID = k.id }
        // An account lists its own conversations, or, filtered to a knowledge base it administers,
        // all of that knowledge base's.
        if case .user(let u, _) = context.principal, !u.isAdministrator {
            let supervises = query.knowledgeBaseIDs.map { $0.count == 1 && context.principal.canConfigure($0[0]) } ?? false
            if !supervises { query.callerUserID = u.id }
        }
        query.from = try q["from"].map { try Self.time(String($0), "from", endOfDay: false) }
        query.to = try q["to"].map { try Self.time(String($0), "to", endOfDay: true) }
        query.notFound = try Self.flag(q["not_found"], "not_found")
        query.thumbsDown = try Self.flag(q["thumbs_down"], "thumbs_down")
        if paged {
            if let l = q["limit"] {
                guard let limit = Int(l), (1...Self.maxConversationPage).contains(limit) else {
                    throw APIError.badRequest("limit must be between 1 and \(Self.maxConversationPage)")
                }
                query.limit = limit
            }
            if let cursor = q["cursor"] {
                guard let position = ConversationSummary.position(String(cursor)) else {
                    throw APIError.badRequest("cursor is not one this server returned")
                }
                query.after = position
            }
        }
        return query
    }

    /// A `true`/`false` query parameter (absent: false).
    static func flag(_ value: Substring?, _ name: String) throws -> Bool {
        switch value {
        case nil, "false": false
        case "true": true
        default: throw APIError.badRequest("\(name) must be true or false")
        }
    }

    /// A date (`2026-12-06`) or an RFC 3339 date-time, as seconds since 1970.
    static func time(_ text: String, _ name: String, endOfDay: Bool) throws -> Double {
        guard let t = ConversationSummary.time(text, endOfDay: endOfDay) else {
            throw APIError.badRequest("\(name) must be a date (2026-12-06) or a date-time (2026-12-06T08:00:00Z)")
        }
        return t
    }

    /// Knowledge-base names by id.
    func knowledgeBaseNames() async throws -> [Int64: String] {
        let library = service.library
        let kbs = try await service.blocking { try library.list() }
        return Dictionary(kbs.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
    }

    func addConversationRoutes(_ api: RouterGroup<WendaoContext>) {
        let store = service.library.store
        api.get("conversations") { request, context in
            let query = try await conversationQuery(request, context, paged: true)
            // One more than the page tells whether another page follows.
            var larger = query
            larger.limit = query.limit + 1
            let probe = larger
            let rows = try await service.blocking { try store.conversations(probe) }
            let page = Array(rows.prefix(query.limit))
            let names = try await knowledgeBaseNames()
            struct Page: Encodable {
                var conversations: [ConversationSummary]
                @ExplicitNull var next_cursor: String? = nil
            }
            var next: String?
            if rows.count > query.limit, let last = page.last { next = ConversationSummary.cursor(after: last) }
            return try JSON.response(
                Page(
                    conversations: page.map { ConversationSummary($0, kb: names[$0.kbID] ?? "") }, next_cursor: next))
        }
        api.get("conversations.csv") { request, context in
            try requireAdmin(context)
            let query = try await conversationQuery(request, context, paged: false)
            let names = try await knowledgeBaseNames()
            let csv = try await service.blocking { () -> String in
                var out = ConversationCSV.header
                try store.forEachTurn(query) { c, t in out += ConversationCSV.row(c, t, kb: names[c.kbID] ?? "") }
                return out
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8",
                    .contentDisposition: "attachment; filename=\"wendao-conversations.csv\"",
                ],
                body: .init(byteBuffer: ByteBuffer(string: csv)))
        }
        api.get("conversations/:id") { _, context in
            let id = try context.conversationID()
            let c = try await visibleConversation(id, context)
            let turns = try await service.blocking { try store.turns(conversation: id) }
            let names = try await knowledgeBaseNames()
            struct Full: Encodable {
                var conversation: ConversationSummary
                var turns: [TurnView]
            }
            return try JSON.response(
                Full(conversation: ConversationSummary(c, kb: names[c.kbID] ?? ""), turns: turns.map(TurnView.init)))
        }
        api.delete("conversations/:id") { _, context in
            let id = try context.conversationID()
            _ = try await visibleConversation(id, context)
            do {
                try await service.blocking { try store.deleteConversation(id: id) }
            } catch let e as WendaoError where e.code == .notFound {
                throw APIError.notFound("conversation \(id) does not exist")
            }
            return Response(status: .noContent)
        }
        api.post("conversations/:id/turns/:turn/feedback") { request, context in
            let id = try context.conversationID()
            guard let turnID = context.parameters.get("turn").flatMap({ Int64($0) }) else {
                throw APIError.notFound("turn does not exist")
            }
            _ = try await visibleConversation(id, context)
            let body = try await JSON.decode(FeedbackBody.self, from: request, limit: limits.json)
            let rating: Int
            switch body.rating {
            case "up": rating = 1
            case "down": rating = -1
            default: throw APIError.badRequest("rating must be up or down")
            }
            let note = body.note.flatMap { Self.isBlank($0) ? nil : $0 }
            if let note, note.unicodeScalars.count > Self.maxFeedbackNote {
                throw APIError.badRequest("the note is longer than \(Self.maxFeedbackNote) characters")
            }
            let turn = try await service.blocking { () -> TurnRecord? in
                guard let t = try store.turn(id: turnID), t.turn.conversationID == id else { return nil }
                return try store.setFeedback(turn: turnID, rating: rating, note: note, at: Date().timeIntervalSince1970)
            }
            guard let turn else { throw APIError.notFound("turn \(turnID) of conversation \(id) does not exist") }
            return try JSON.response(TurnView(turn))
        }
    }
}

extension WendaoContext {
    /// The `:id` of a conversation route (anything but a positive integer names no conversation).
    func conversationID() throws -> Int64 {
        guard let raw = parameters.get("id"), let id = Int64(raw), id > 0 else {
            throw APIError.notFound("conversation \(parameters.get("id")?.prefix(40) ?? "") does not exist")
        }
        return id
    }
}
