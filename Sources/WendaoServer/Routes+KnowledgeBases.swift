import Foundation
import Hummingbird
import WendaoApp
import WendaoCore
import WendaoLoaders
import WendaoRAG

/// The body of `POST /api/v1/kbs` and `PATCH /api/v1/kbs/{kb}`: a name and a settings change, in
/// the API's snake_case names. Enumerated values are checked here with the settings contract's
/// messages; everything else by ``KnowledgeBaseSettings/Patch/validate(_:for:checker:)``.
struct KBSettingsBody: Decodable {
    var name: String?
    var chunk_size: Int?
    var chunk_overlap: Int?
    var k1: Double?
    var b: Double?
    var cjk_mode: String?
    var ocr_languages: [String]?
    var ocr_engine: String?
    var embedder: String?
    var retrieval: String?
    var fusion: String?
    var model: String?

    /// The settings change this body asks for.
    func patch() throws -> KnowledgeBaseSettings.Patch {
        KnowledgeBaseSettings.Patch(
            chunkSize: chunk_size, chunkOverlap: chunk_overlap, k1: k1, b: b,
            cjkMode: try cjk_mode.map { try CJKMode(parsing: $0, field: "cjk_mode") }, model: model,
            ocrLanguages: ocr_languages, embedder: embedder,
            retrievalMode: try retrieval.map { try RetrievalMode(parsing: $0, field: "retrieval") },
            fusion: try fusion.map { try FusionMethod(parsing: $0, field: "fusion") },
            ocrEngine: try ocr_engine.map { try OCREngineChoice(parsing: $0, field: "ocr_engine") })
    }
}

/// The settings contract's model questions, answered by the server's gateway configuration: an
/// answer model must be one this server can resolve, an embedder must open (a local model pulled;
/// a provider's model known and its key set, else 400 naming the variable).
struct ServerSettingsChecker: KnowledgeBaseSettingsChecker {
    let service: KnowledgeService

    func checkAnswerModel(_ spec: String) throws {
        do { _ = try service.model(requested: spec, kbModel: nil, requireKey: false) } catch let e as WendaoError
            where e.code == .notFound && ChatModels.isLocal(spec)
        {
            // A local model not pulled (or no such file) is a bad setting, not a missing resource.
            throw APIError.badRequest(e.message)
        }
    }

    func checkEmbedder(_ spec: String) throws {
        do { _ = try service.embedders.open(spec) } catch let e as WendaoError where e.code == .unauthenticated {
            throw APIError.badRequest(e.message)
        }
    }
}

extension WendaoContext {
    /// The knowledge-base name of the path (`/api/v1/kbs/{kb}/…`): percent-decoded (browsers send
    /// `客服知识库` as `%E5%AE%A2…`) and in canonical form (``KnowledgeBaseName``). A segment that
    /// cannot name a knowledge base (bad percent-encoding, `%2F`, `%00`, `..`) is 404 like any
    /// name that does not exist.
    func knowledgeBaseName() throws -> String {
        let raw = try parameters.require("kb")
        guard let decoded = raw.removingPercentEncoding, let name = try? KnowledgeBaseName.canonical(decoded) else {
            throw APIError.notFound("knowledge base '\(raw.prefix(80))' does not exist")
        }
        return name
    }
}

extension WendaoAPI {
    /// The record of `name` if the caller covers it; otherwise 404 as if it did not exist.
    func visibleRecord(_ name: String, _ context: WendaoContext) async throws -> KnowledgeBaseRecord {
        let record: KnowledgeBaseRecord
        do { record = try await service.currentRecord(name) } catch let e as WendaoError where e.code == .notFound {
            throw APIError.forbiddenAsNotFound("knowledge base", name)
        } catch let e as WendaoError where e.code == .invalidArgument {
            throw APIError.forbiddenAsNotFound("knowledge base", name)
        }
        guard context.principal.covers(record.id) else { throw APIError.forbiddenAsNotFound("knowledge base", name) }
        return record
    }

    /// Like ``visibleRecord(_:_:)``, and the caller may change it (a read-only key gets 404 for
    /// writes too: it must not learn more by trying).
    func writableRecord(_ name: String, _ context: WendaoContext) async throws -> KnowledgeBaseRecord {
        try await permittedRecord(name, context, context.principal.canWrite, refusal: "this caller may not change it")
    }

    /// Like ``visibleRecord(_:_:)``, and the caller may ask it (a viewer account gets 404: it sees
    /// the knowledge base's documents, not its answers).
    func askableRecord(_ name: String, _ context: WendaoContext) async throws -> KnowledgeBaseRecord {
        try await permittedRecord(name, context, context.principal.canAsk, refusal: "this caller may not ask it")
    }

    /// Like ``visibleRecord(_:_:)``, and the caller may change its settings (write keys; the
    /// knowledge base's administrators).
    func configurableRecord(_ name: String, _ context: WendaoContext) async throws -> KnowledgeBaseRecord {
        try await permittedRecord(
            name, context, context.principal.canConfigure, refusal: "this caller may not change its settings")
    }

    /// ``visibleRecord(_:_:)`` when `allowed` holds for it, else 404 (never 403: a caller must not
    /// learn more by trying).
    private func permittedRecord(
        _ name: String, _ context: WendaoContext, _ allowed: (Int64) -> Bool, refusal: String
    ) async throws -> KnowledgeBaseRecord {
        let record = try await visibleRecord(name, context)
        guard allowed(record.id) else {
            throw APIError(
                status: .notFound, code: "not_found", message: "knowledge base '\(name)' does not exist or \(refusal)")
        }
        return record
    }

    /// Refuses a request's own choice of answer model from a caller who is not the administrator:
    /// a tenant key answers with its knowledge base's model (or extractively), and cannot spend the
    /// server's provider keys on a model of its choosing.
    func checkRequestedModel(_ requested: String?, record: KnowledgeBaseRecord, _ context: WendaoContext) throws {
        guard let requested, !context.principal.isAdmin, requested != record.settings.model else { return }
        throw APIError(
            status: .forbidden, code: "admin_only",
            message: "this key answers with the knowledge base's own model; only an administrator may choose another")
    }

    func requireAdmin(_ context: WendaoContext) throws {
        guard context.principal.isAdmin else {
            throw APIError(status: .notFound, code: "not_found", message: "no such route for this key")
        }
    }

    func addKnowledgeBaseRoutes(_ api: RouterGroup<WendaoContext>) {
        let library = service.library
        api.get("kbs") { _, context in
            let principal = context.principal
            let all = try await service.blocking {
                try library.list().filter { principal.covers($0.id) }.map { try library.summary($0) }
            }
            return try JSON.response(["knowledge_bases": all])
        }
        api.post("kbs") { request, context in
            try requireAdmin(context)
            let body = try await JSON.decode(KBSettingsBody.self, from: request, limit: limits.json)
            let patch = try body.patch()
            guard let name = body.name else { throw APIError.badRequest("the JSON body lacks 'name'") }
            // Checking an embedder opens its model files: on the thread pool.
            let checker = ServerSettingsChecker(service: service)
            let summary = try await service.blocking {
                let settings = try patch.validate(.default, for: .create, checker: checker)
                return try library.summary(try library.create(name, settings: settings))
            }
            return try JSON.response(summary, status: .created)
        }
        api.get("kbs/:kb") { _, context in
            let record = try await visibleRecord(try context.knowledgeBaseName(), context)
            return try JSON.response(try await service.blocking { try library.summary(record) })
        }
        api.patch("kbs/:kb") { request, context in
            let name = try context.knowledgeBaseName()
            _ = try await configurableRecord(name, context)
            let body = try await JSON.decode(KBSettingsBody.self, from: request, limit: limits.json)
            let patch = try body.patch()
            // The embedder (a local model path, a provider's model) and the answer model (spends the
            // server's provider keys) are the administrator's decisions, never a tenant key's.
            if !context.principal.isAdmin, patch.choosesModels {
                throw APIError(
                    status: .forbidden, code: "admin_only",
                    message: "only an administrator may choose a knowledge base's embedder or answer model")
            }
            guard body.name == nil || body.name == name else {
                throw APIError.badRequest("knowledge bases cannot be renamed")
            }
            let checker = ServerSettingsChecker(service: service)
            try await service.withKnowledgeBase(name) { kb in
                try kb.updateSettings(try patch.validate(kb.record.settings, for: .update, checker: checker))
            }
            service.invalidate(name)
            return try JSON.response(try await service.blocking { try library.summary(name) })
        }
        api.delete("kbs/:kb") { _, context in
            try requireAdmin(context)
            let name = try context.knowledgeBaseName()
            _ = try await visibleRecord(name, context)
            service.invalidate(name)
            try await service.blocking { try library.delete(name) }
            service.invalidate(name)
            return Response(status: .noContent)
        }
        api.get("kbs/:kb/documents") { _, context in
            let record = try await visibleRecord(try context.knowledgeBaseName(), context)
            let docs = try await service.blocking { try library.store.documents(kb: record.id) }
            return try JSON.response(["documents": docs.map(DocumentSummary.init)])
        }
        api.delete("kbs/:kb/documents/:id") { _, context in
            let name = try context.knowledgeBaseName()
            let record = try await writableRecord(name, context)
            let id = try context.parameters.require("id", as: Int64.self)
            try await service.withKnowledgeBase(name) { kb in
                guard try library.store.documents(kb: record.id).contains(where: { $0.id == id }) else {
                    throw APIError.notFound("document \(id) does not exist in '\(name)'")
                }
                _ = try kb.deleteDocuments([String(id)])
            }
            service.invalidate(name)
            return Response(status: .noContent)
        }
        api.get("kbs/:kb/chunks/:id") { _, context in
            let name = try context.knowledgeBaseName()
            let record = try await visibleRecord(name, context)
            let id = try context.parameters.require("id", as: Int64.self)
            let chunk = try await service.blocking { () throws -> ChunkRecord? in
                guard let chunk = try library.store.chunks(ids: [id]).first,
                    try library.store.documents(kb: record.id).contains(where: { $0.id == chunk.documentID })
                else { return nil }
                return chunk
            }
            guard let chunk else { throw APIError.notFound("chunk \(id) does not exist in '\(name)'") }
            return try JSON.response(ChunkView(chunk))
        }
    }
}

/// A chunk as the citation panel shows it.
struct ChunkView: Encodable {
    var chunk_id: Int64
    var document: String
    var document_id: Int64
    var title: String
    var section: String
    var page: Int?
    var text: String
    var start: Int
    var end: Int

    init(_ c: ChunkRecord) {
        chunk_id = c.id
        document = c.documentPath
        document_id = c.documentID
        title = c.documentTitle
        section = c.section
        page = c.page
        text = c.text
        start = c.start
        end = c.end
    }

    func encode(to encoder: any Encoder) throws {
        enum K: String, CodingKey { case chunk_id, document, document_id, title, section, page, text, start, end }
        var c = encoder.container(keyedBy: K.self)
        try c.encode(chunk_id, forKey: .chunk_id)
        try c.encode(document, forKey: .document)
        try c.encode(document_id, forKey: .document_id)
        try c.encode(title, forKey: .title)
        try c.encode(section, forKey: .section)
        try c.encode(page, forKey: .page)
        try c.encode(text, forKey: .text)
        try c.encode(start, forKey: .start)
        try c.encode(end, forKey: .end)
    }
}
