import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WendaoAuth
import WendaoCore
import WendaoRAG

/// A share link as its knowledge base's administrators see it (never the token, after creation).
struct ShareView: Encodable, Sendable {
    var id: Int64
    var name: String
    var prefix: String
    var allowed_origins: [String]
    var per_minute: Int
    var created_at: Double
    @ExplicitNull var revoked_at: Double?

    init(_ s: ShareRecord) {
        id = s.id
        name = s.name
        prefix = s.prefix
        allowed_origins = s.allowedOrigins
        per_minute = s.perMinute
        created_at = s.createdAt
        revoked_at = s.revokedAt
    }
}

/// A new link: the token (this once), the chat page's path and the widget script's path (the page
/// that creates the link knows the origin people reach the server by).
struct CreatedShare: Encodable, Sendable {
    var token: String
    var url_path: String
    var widget_path: String
    var share: ShareView
}

struct ShareBody: Decodable {
    var name: String?
    var allowed_origins: [String]?
    var per_minute: Int?
}

/// What a visitor of a share link sees of an answer: the text, whether it was found, and the
/// sources by file name and section (no paths, no scores, no chunk ids).
struct PublicAnswer: Encodable, Sendable {
    var answer: String
    var found: Bool
    var citations: [PublicCitation]

    struct PublicCitation: Encodable, Sendable {
        var n: Int
        var document: String
        var section: String
        @ExplicitNull var page: Int?
        var text: String
    }
}

extension WendaoAPI {
    /// The most questions per minute a link may allow.
    static let maxSharePerMinute = 600

    /// `https://host[:port]` with nothing else, lowercased; nil for anything that is not an origin.
    static func origin(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let url = URL(string: t), let scheme = url.scheme, scheme == "https" || scheme == "http",
            let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil,
            url.fragment == nil, url.user == nil,
            host.unicodeScalars.allSatisfy({
                CharacterSet.alphanumerics.contains($0) || ".-[]:".unicodeScalars.contains($0)
            })
        else { return nil }
        return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
    }

    /// Managing a knowledge base's share links: its administrators (write keys, administrator
    /// accounts of it, the admin).
    func addShareAdminRoutes(_ api: RouterGroup<WendaoContext>) {
        let library = service.library
        api.get("kbs/:kb/shares") { _, context in
            let record = try await configurableRecord(try context.knowledgeBaseName(), context)
            let shares = try await service.blocking { try library.store.shares(kb: record.id) }
            return try JSON.response(["shares": shares.map(ShareView.init)])
        }
        api.post("kbs/:kb/shares") { request, context in
            let record = try await configurableRecord(try context.knowledgeBaseName(), context)
            let body = try await JSON.decode(ShareBody.self, from: request, limit: limits.json)
            if let n = body.name {
                guard !n.isEmpty, n.count <= 64,
                    !n.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
                else { throw APIError.badRequest("a share link's name has 1 to 64 characters, no control characters") }
            }
            var origins: [String] = []
            for o in body.allowed_origins ?? [] {
                guard let parsed = Self.origin(o) else {
                    throw APIError.badRequest("'\(o.prefix(100))' is not an origin (scheme://host[:port])")
                }
                if !origins.contains(parsed) { origins.append(parsed) }
            }
            guard origins.count <= 32 else { throw APIError.badRequest("at most 32 allowed origins") }
            let perMinute = body.per_minute ?? 20
            guard (1...Self.maxSharePerMinute).contains(perMinute) else {
                throw APIError.badRequest("per_minute must be between 1 and \(Self.maxSharePerMinute)")
            }
            let token = "wds_" + Passwords.randomToken()
            let allowed = origins
            let share = try await service.blocking {
                try library.store.createShare(
                    kb: record.id, name: body.name, tokenHash: Passwords.tokenHash(token),
                    prefix: String(token.prefix(12)), allowedOrigins: allowed, perMinute: perMinute)
            }
            var response = try JSON.response(
                CreatedShare(
                    token: token, url_path: "/s/\(token)", widget_path: "/ui/widget.js", share: ShareView(share)),
                status: .created)
            response.headers[.cacheControl] = "no-store"
            return response
        }
        api.delete("kbs/:kb/shares/:id") { _, context in
            let record = try await configurableRecord(try context.knowledgeBaseName(), context)
            let id = try context.parameters.require("id", as: Int64.self)
            try await service.blocking {
                try library.store.revokeShare(kb: record.id, id: id, at: Date().timeIntervalSince1970)
            }
            return Response(status: .noContent)
        }
    }

    /// The share link of `token` and its knowledge base, when the link exists and is not revoked;
    /// 404 for anything else (a guess, a revoked link, a deleted knowledge base) — all alike.
    func liveShare(_ token: String) async throws -> (ShareRecord, KnowledgeBaseRecord) {
        let library = service.library
        guard token.hasPrefix("wds_"), token.count <= 80,
            let found = try await service.blocking({ () throws -> (ShareRecord, KnowledgeBaseRecord)? in
                guard let share = try library.store.share(tokenHash: Passwords.tokenHash(token)),
                    share.revokedAt == nil,
                    let kb = try library.list().first(where: { $0.id == share.kbID })
                else { return nil }
                return (share, kb)
            })
        else { throw APIError.notFound("this share link does not exist or was revoked") }
        return found
    }

    /// The public side of share links: the chat page, its question route and the widget script.
    /// No key: the token in the path is the whole credential, and it reaches one knowledge base's
    /// answers, nothing else.
    func addSharePublicRoutes(_ router: Router<WendaoContext>, throttle: WindowedCounter) {
        router.get("s/:token") { _, context in
            let token = try context.parameters.require("token")
            let (share, _) = try await liveShare(token)
            guard let page = UIAssets.files["/ui/share.html"] else { throw APIError.notFound("no such file") }
            // The page may be framed by the link's allowed origins only (the widget's hosts).
            let ancestors = share.allowedOrigins.isEmpty ? "'none'" : share.allowedOrigins.joined(separator: " ")
            let csp = Self.contentSecurityPolicy.replacingOccurrences(
                of: "frame-ancestors 'none'", with: "frame-ancestors \(ancestors)")
            var headers: HTTPFields = [
                .contentType: page.contentType, .cacheControl: "no-store", .contentSecurityPolicy: csp,
                HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("Referrer-Policy")!: "no-referrer",
            ]
            if share.allowedOrigins.isEmpty { headers[HTTPField.Name("X-Frame-Options")!] = "DENY" }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: page.body)))
        }
        let api = router.group("api/v1/shared")
        api.get(":token") { _, context in
            let (share, kb) = try await liveShare(try context.parameters.require("token"))
            return try JSON.response(["knowledge_base": kb.name, "name": share.name])
        }
        api.post(":token/ask") { request, context in
            let (share, kb) = try await liveShare(try context.parameters.require("token"))
            let body = try await JSON.decode(AskBody.self, from: request, limit: 64 << 10)
            try checkQuery(body.question, "question")
            guard body.model == nil else {
                throw APIError.badRequest("a share link answers with its knowledge base's model")
            }
            // The link's own rate over all visitors, and a fair share per visitor address.
            let address = context.channel?.remoteAddress?.ipAddress ?? "unknown"
            if let wait = throttle.admit(["share:\(share.id)"], limit: share.perMinute)
                ?? throttle.admit(["share:\(share.id):\(address)"], limit: max(1, min(share.perMinute, 10)))
            {
                throw APIError(
                    status: .tooManyRequests, code: "rate_limited",
                    message: "this assistant is answering many questions; try again in \(wait) s",
                    headers: [.retryAfter: "\(wait)"])
            }
            let plan = try await planAnswer(kb, model: nil)
            let slot = try limits.rate.enter(.answer, for: .admin)
            defer { slot.release() }
            let history = (body.history ?? []).filter { $0.role != .system }.suffix(8)
            let outcome = try await whileConnected(context) {
                try await answer(body.question, plan: plan, history: Array(history), topK: 8, onEvent: { _ in })
            }
            let view = PublicAnswer(
                answer: outcome.text, found: outcome.found,
                citations: outcome.citations.map {
                    .init(
                        n: $0.n, document: URL(fileURLWithPath: $0.document).lastPathComponent, section: $0.section,
                        page: $0.page, text: $0.text)
                })
            var response = try JSON.response(view)
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }
}
