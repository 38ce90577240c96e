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
    @ExplicitNull var revoked_at: String? = nil
    @ExplicitNull var last_used_at: String? = nil

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
