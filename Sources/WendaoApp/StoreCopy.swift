import Foundation
public import WendaoCore
import WendaoRAG

/// Copies what one store holds into another (`wendao db copy`: a SQLite data directory into the
/// shared PostgreSQL database), through the store contract only.
///
/// Knowledge bases are copied with their settings, documents (texts, chunks with their disabled and
/// edited flags), curated answers and conversations (turns and feedback); then the accounts with
/// their roles, API keys (by hash: a key keeps working), share links and sealed provider keys. Ids
/// are new in the target (chunk ids come from its sequence), so every server builds its index files
/// afresh; vectors are embedded again by the first server that needs them.
///
/// Nothing is overwritten: a knowledge base whose name the target already holds stops the copy
/// before anything is written; accounts, keys and links the target already has are left alone.
public enum StoreCopy {
    /// What was copied.
    public struct Summary: Sendable, Equatable, Codable {
        /// Knowledge bases, by name.
        public var knowledgeBases: [String] = []
        /// Documents.
        public var documents = 0
        /// Chunks.
        public var chunks = 0
        /// Conversations.
        public var conversations = 0
        /// Accounts.
        public var users = 0
        /// API keys.
        public var apiKeys = 0
        /// Share links.
        public var shares = 0
        /// Curated answers.
        public var curatedAnswers = 0

        /// An empty summary.
        public init() {}
    }

    /// Copies the knowledge bases `names` (all when nil) and the accounts, keys and links of
    /// `source` into `target`.
    ///
    /// - Throws: ``WendaoError/Code/alreadyExists`` when `target` holds a knowledge base of the same
    ///   name (nothing is written then); `notFound` for a name `source` does not hold.
    ///
    /// With `accounts` false only the knowledge bases are copied (``KnowledgeBaseArchive``: an
    /// archive carries no accounts, key hashes, share links or provider keys).
    public static func copy(
        from source: any KnowledgeStore, to target: any KnowledgeStore, knowledgeBases names: [String]? = nil,
        accounts: Bool = true, progress: (String) -> Void = { _ in }
    ) throws -> Summary {
        var all = try source.knowledgeBases()
        if let names {
            let wanted = Set(names.map { $0.precomposedStringWithCanonicalMapping })
            if let missing = wanted.first(where: { w in !all.contains { $0.name == w } }) {
                throw WendaoError(.notFound, "knowledge base '\(missing)' is not in the source")
            }
            all = all.filter { wanted.contains($0.name) }
        }
        for kb in all where try target.knowledgeBase(named: kb.name) != nil {
            throw WendaoError(
                .alreadyExists, "the target already has a knowledge base named '\(kb.name)'; nothing was copied")
        }
        var summary = Summary()
        var kbMap: [Int64: Int64] = [:]
        for kb in all {
            progress("knowledge base \(kb.name)")
            let copied = try target.createKnowledgeBase(name: kb.name, settings: kb.settings)
            kbMap[kb.id] = copied.id
            summary.knowledgeBases.append(kb.name)
            for doc in try source.documents(kb: kb.id) {
                var chunks: [ChunkRecord] = []
                while true {
                    let page = try source.chunks(document: doc.id, offset: chunks.count, limit: 1000)
                    chunks += page
                    if page.count < 1000 { break }
                }
                let header = NewDocument(
                    path: doc.path, title: doc.title, format: doc.format, contentHash: doc.contentHash,
                    byteCount: doc.byteCount, source: doc.source, etag: doc.etag, lastModified: doc.lastModified,
                    text: try source.documentText(document: doc.id))
                let change = try target.replaceDocument(kb: copied.id, header) { insert in
                    for c in chunks {
                        _ = try insert(
                            ChunkDraft(
                                text: c.text,
                                sectionPath: c.section.isEmpty ? [] : c.section.components(separatedBy: " › "),
                                page: c.page, start: c.start, end: c.end))
                    }
                }
                for (c, id) in zip(chunks, change.addedChunkIDs) {
                    var current = id
                    // An editor's text: stored again under a new id, marked edited, as on the source.
                    if c.edited, let edited = try target.editChunk(kb: copied.id, id: id, text: c.text).chunk {
                        current = edited.id
                    }
                    if !c.enabled { _ = try target.setChunkEnabled(kb: copied.id, id: current, enabled: false) }
                }
                summary.documents += 1
                summary.chunks += chunks.count
            }
            for entry in try source.curatedAnswers(kb: kb.id) {
                _ = try target.createCuratedAnswer(
                    kb: copied.id, question: entry.question, key: CuratedMatcher.normalized(entry.question),
                    answer: entry.answer, note: entry.note, sourceTurn: entry.sourceTurn)
                summary.curatedAnswers += 1
            }
            var query = ConversationQuery()
            query.knowledgeBaseIDs = [kb.id]
            query.limit = 500
            while true {
                let page = try source.conversations(query)
                for c in page {
                    let made = try target.createConversation(
                        kb: copied.id, title: c.title, caller: c.caller, at: c.createdAt)
                    for t in try source.turns(conversation: c.id) {
                        var turn = t.turn
                        turn.conversationID = made.id
                        let stored = try target.appendTurn(turn)
                        if let rating = t.rating {
                            _ = try target.setFeedback(
                                turn: stored.id, rating: rating, note: t.note, at: t.feedbackAt ?? t.turn.createdAt)
                        }
                    }
                    summary.conversations += 1
                }
                guard page.count == query.limit, let last = page.last else { break }
                query.after = (last.updatedAt, last.id)
            }
        }
        guard accounts else { return summary }
        progress("accounts and keys")
        for user in try source.users() where try target.user(named: user.name) == nil {
            let roles = Dictionary(uniqueKeysWithValues: user.roles.compactMap { k, r in kbMap[k].map { ($0, r) } })
            let made = try target.createUser(
                name: user.name, passwordHash: user.passwordHash, isAdministrator: user.isAdministrator, roles: roles)
            if let at = user.lastLoginAt { try target.markLogin(user: made.id, at: at) }
            summary.users += 1
        }
        for key in try source.apiKeys() where try target.apiKey(hash: key.hash) == nil {
            let kbs = key.knowledgeBaseIDs.compactMap { kbMap[$0] }
            // A key of knowledge bases none of which was copied has nothing to open here.
            guard !kbs.isEmpty || key.knowledgeBaseIDs.isEmpty else { continue }
            let made = try target.createAPIKey(
                name: key.name, prefix: key.prefix, hash: key.hash, scope: key.scope, knowledgeBaseIDs: kbs)
            if let used = key.lastUsedAt { try target.markAPIKeyUsed(id: made.id, at: used) }
            if let revoked = key.revokedAt { _ = try target.revokeAPIKey(id: made.id, at: revoked) }
            summary.apiKeys += 1
        }
        for (old, new) in kbMap.sorted(by: { $0.key < $1.key }) {
            for share in try source.shares(kb: old) where try target.share(tokenHash: share.tokenHash) == nil {
                let made = try target.createShare(
                    kb: new, name: share.name, tokenHash: share.tokenHash, prefix: share.prefix,
                    allowedOrigins: share.allowedOrigins, perMinute: share.perMinute)
                if let revoked = share.revokedAt { try target.revokeShare(kb: new, id: made.id, at: revoked) }
                summary.shares += 1
            }
        }
        let existing = try target.providerKeys()
        for (provider, key) in try source.providerKeys() where existing[provider] == nil {
            try target.setProviderKey(provider: provider, sealed: key.sealed, at: key.updatedAt)
        }
        return summary
    }
}
