import Foundation
import Hummingbird
import WendaoCore
import WendaoRAG

/// An API key as the API shows it (never the key itself, nor its hash).
struct KeyView: Encodable {
    var id: Int64
    var name: String
    var prefix: String
    var scope: String
    var knowledge_bases: [String]
    var created_at: String
    var revoked_at: String?
    var last_used_at: String?

    init(_ r: APIKeyRecord, names: [Int64: String]) {
        func iso(_ t: Double) -> String { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: t)) }
        id = r.id
        name = r.name
        prefix = r.prefix
        scope = r.scope.rawValue
        knowledge_bases = r.knowledgeBaseIDs.compactMap { names[$0] }.sorted()
        created_at = iso(r.createdAt)
        revoked_at = r.revokedAt.map(iso)
        last_used_at = r.lastUsedAt.map(iso)
    }

    func encode(to encoder: any Encoder) throws {
        enum K: String, CodingKey {
            case id, name, prefix, scope, knowledge_bases, created_at, revoked_at, last_used_at
        }
        var c = encoder.container(keyedBy: K.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(prefix, forKey: .prefix)
        try c.encode(scope, forKey: .scope)
        try c.encode(knowledge_bases, forKey: .knowledge_bases)
        try c.encode(created_at, forKey: .created_at)
        try c.encode(revoked_at, forKey: .revoked_at)
        try c.encode(last_used_at, forKey: .last_used_at)
    }
}

extension WendaoAPI {
    func addKeyRoutes(_ api: RouterGroup<WendaoContext>) {
        // The keys, as `wendao keys list --json` shows them (admin only; other keys get 404).
        api.get("keys") { _, context in
            try requireAdmin(context)
            let library = service.library
            let (kbs, keys) = try await service.blocking { (try library.list(), try library.apiKeys()) }
            let names = Dictionary(kbs.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
            return try JSON.response(["keys": keys.map { KeyView($0, names: names) }])
        }
    }
}
