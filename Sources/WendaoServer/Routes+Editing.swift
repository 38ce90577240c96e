import Foundation
import HTTPTypes
import Hummingbird
import WendaoCore
import WendaoRAG

/// The body of `PATCH /api/v1/kbs/{kb}/chunks/{id}`.
struct ChunkPatchBody: Decodable {
    var text: String?
    var enabled: Bool?
}

/// The body of `POST /api/v1/kbs/{kb}/curated`.
struct CuratedBody: Decodable {
    var question: String
    var answer: String
    var note: String?
    var source_turn: String?
}

/// The body of `PATCH /api/v1/kbs/{kb}/curated/{id}`.
struct CuratedPatchBody: Decodable {
    var question: String?
    var answer: String?
    var note: String?
}

extension WendaoContext {
    /// The `id` path parameter as a positive id, or 404 (an id that names nothing).
    func idParameter(_ what: String) throws -> Int64 {
        let raw = try parameters.require("id")
        guard let id = Int64(raw), id > 0 else { throw APIError.notFound("\(what) '\(raw.prefix(80))' does not exist") }
        return id
    }

    /// The document key of the path: an id or a percent-decoded path (looked up in the store only,
    /// never on disk); a segment that cannot be decoded, or holds a control character, is 404.
    func documentKey() throws -> String {
        let raw = try parameters.require("id")
        guard let key = raw.removingPercentEncoding, !key.isEmpty,
            !key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { throw APIError.notFound("document '\(raw.prefix(80))' does not exist") }
        return key
    }
}

extension WendaoAPI {
    /// A query parameter as a non-negative integer within `range`, or `fallback` when absent.
    static func intParameter(_ request: Request, _ name: String, _ range: ClosedRange<Int>, fallback: Int) throws -> Int
    {
        guard let raw = request.uri.queryParameters.get(name) else { return fallback }
        guard let v = Int(raw), range.contains(v) else {
            throw APIError.badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return v
    }

    /// Document pages, chunk edits and curated answers. Reading is open to every caller who covers
    /// the knowledge base; changing is the administrator's (404 for a key, as for any admin route).
    func addEditingRoutes(_ api: RouterGroup<WendaoContext>) {
        api.get("kbs/:kb/documents/:id") { request, context in
            let name = try context.knowledgeBaseName()
            _ = try await visibleRecord(name, context)
            let key = try context.documentKey()
            let offset = try Self.intParameter(request, "offset", 0...Int(Int32.max), fallback: 0)
            let limit = try Self.intParameter(request, "limit", 0...5000, fallback: 1000)
            let detail = try await service.withKnowledgeBase(name) { kb in
                try kb.documentDetail(key, offset: offset, limit: limit)
            }
            return try JSON.response(DocumentDetailSummary(detail))
        }
        api.patch("kbs/:kb/chunks/:id") { request, context in
            let name = try context.knowledgeBaseName()
            // Editors: the administrator, write keys and accounts with the editor role or above.
            _ = try await writableRecord(name, context)
            let id = try context.idParameter("chunk")
            let body = try await JSON.decode(ChunkPatchBody.self, from: request, limit: limits.json)
            guard body.text != nil || body.enabled != nil else {
                throw APIError.badRequest("send 'text' and/or 'enabled'")
            }
            if let text = body.text {
                guard !Self.isBlank(text) else {
                    throw APIError.badRequest(
                        "the chunk text is empty: to remove the chunk, disable or delete it instead")
                }
                guard text.unicodeScalars.count <= ChunkLimits.maxCharacters else {
                    throw APIError(
                        status: .contentTooLarge, code: "limit_exceeded",
                        message: "the chunk text is longer than \(ChunkLimits.maxCharacters) characters")
                }
            }
            defer { service.invalidate(name) }
            let chunk = try await service.withKnowledgeBase(name) { kb -> ChunkRecord in
                var c = try kb.chunk(id)
                if let enabled = body.enabled, enabled != c.enabled {
                    c = try kb.setChunkEnabled(c.id, enabled: enabled)
                }
                if let text = body.text, text.trimmingCharacters(in: .whitespacesAndNewlines) != c.text {
                    c = try kb.editChunk(c.id, text: text)
                }
                return c
            }
            return try JSON.response(ChunkSummary(chunk))
        }
        api.delete("kbs/:kb/chunks/:id") { _, context in
            let name = try context.knowledgeBaseName()
            // Editors: the administrator, write keys and accounts with the editor role or above.
            _ = try await writableRecord(name, context)
            let id = try context.idParameter("chunk")
            defer { service.invalidate(name) }
            try await service.withKnowledgeBase(name) { kb in try kb.deleteChunk(id) }
            return Response(status: .noContent)
        }
        api.get("kbs/:kb/curated") { _, context in
            let name = try context.knowledgeBaseName()
            _ = try await visibleRecord(name, context)
            let entries = try await service.withKnowledgeBase(name) { kb in try kb.curatedAnswers() }
            return try JSON.response(["curated": entries.map(CuratedAnswerSummary.init)])
        }
        api.post("kbs/:kb/curated") { request, context in
            let name = try context.knowledgeBaseName()
            // Editors: the administrator, write keys and accounts with the editor role or above.
            _ = try await writableRecord(name, context)
            let body = try await JSON.decode(CuratedBody.self, from: request, limit: limits.json)
            let entry = try await service.withKnowledgeBase(name) { kb in
                try kb.addCuratedAnswer(
                    question: body.question, answer: body.answer, note: body.note, sourceTurn: body.source_turn)
            }
            return try JSON.response(CuratedAnswerSummary(entry), status: .created)
        }
        api.patch("kbs/:kb/curated/:id") { request, context in
            let name = try context.knowledgeBaseName()
            // Editors: the administrator, write keys and accounts with the editor role or above.
            _ = try await writableRecord(name, context)
            let id = try context.idParameter("curated answer")
            let body = try await JSON.decode(CuratedPatchBody.self, from: request, limit: limits.json)
            let entry = try await service.withKnowledgeBase(name) { kb in
                try kb.updateCuratedAnswer(id: id, question: body.question, answer: body.answer, note: body.note)
            }
            return try JSON.response(CuratedAnswerSummary(entry))
        }
        api.delete("kbs/:kb/curated/:id") { _, context in
            let name = try context.knowledgeBaseName()
            // Editors: the administrator, write keys and accounts with the editor role or above.
            _ = try await writableRecord(name, context)
            let id = try context.idParameter("curated answer")
            try await service.withKnowledgeBase(name) { kb in try kb.deleteCuratedAnswer(id: id) }
            return Response(status: .noContent)
        }
    }
}
