import Foundation
import Hummingbird
import WendaoCore
import WendaoRAG

extension WendaoAPI {
    func addKeyRoutes(_ api: RouterGroup<WendaoContext>) {
        // The keys, as `wendao keys list --json` shows them (admin only; other keys get 404).
        let library = service.library
        api.get("keys") { _, context in
            try requireAdmin(context)
            let (kbs, keys) = try await service.blocking { (try library.list(), try library.apiKeys()) }
            let names = Dictionary(kbs.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
            // The API lists a key's knowledge bases by name, sorted.
            let views = keys.map { k -> APIKeySummary in
                var v = APIKeySummary(k, names: names)
                v.knowledge_bases.sort()
                return v
            }
            return try JSON.response(["keys": views])
        }
        // A new key (admin only): shown in this answer once, stored hashed.
        api.post("keys") { request, context in
            try requireAdmin(context)
            let body = try await JSON.decode(KeyBody.self, from: request, limit: limits.json)
            let scope: APIKeyScope
            switch body.scope ?? "read" {
            case "read": scope = .read
            case "write": scope = .write
            default: throw APIError.badRequest("scope must be read or write")
            }
            let created = try await service.blocking { () throws -> CreatedKey in
                let (key, record) = try library.createAPIKey(
                    name: body.name, knowledgeBases: body.knowledge_bases, scope: scope)
                let names = Dictionary(try library.list().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
                var summary = APIKeySummary(record, names: names)
                summary.knowledge_bases.sort()
                return CreatedKey(key: key, record: summary)
            }
            var response = try JSON.response(created, status: .created)
            response.headers[.cacheControl] = "no-store"
            return response
        }
        // Revoking a key by id (admin only).
        api.delete("keys/:id") { _, context in
            try requireAdmin(context)
            let id = try context.parameters.require("id", as: Int64.self)
            guard id > 0 else { throw APIError.notFound("no API key with id \(id)") }
            _ = try await service.blocking { try library.revokeAPIKey(String(id)) }
            return Response(status: .noContent)
        }
    }
}

struct KeyBody: Decodable {
    var name: String?
    var knowledge_bases: [String]
    var scope: String?
}

/// A key just created: the key itself (this once) beside its summary.
struct CreatedKey: Encodable, Sendable {
    var key: String
    var record: APIKeySummary

    enum CodingKeys: String, CodingKey { case key }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(key, forKey: .key)
        try record.encode(to: encoder)
    }
}
