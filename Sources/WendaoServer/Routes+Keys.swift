import Foundation
import Hummingbird
import WendaoCore
import WendaoRAG

extension WendaoAPI {
    func addKeyRoutes(_ api: RouterGroup<WendaoContext>) {
        // The keys, as `wendao keys list --json` shows them (admin only; other keys get 404).
        api.get("keys") { _, context in
            try requireAdmin(context)
            let library = service.library
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
    }
}
