import HTTPTypes
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import WendaoCore
import WendaoModels
import WendaoRAG

/// Who is calling.
enum Principal: Sendable {
    /// The admin key, or an open local server with no keys at all.
    case admin
    /// An API key.
    case key(APIKeyRecord)

    var isAdmin: Bool {
        if case .admin = self { return true }
        return false
    }

    /// Whether the caller may see knowledge base `id`.
    func covers(_ id: Int64) -> Bool {
        switch self {
        case .admin: true
        case .key(let k): k.knowledgeBaseIDs.contains(id)
        }
    }

    /// Whether the caller may change knowledge base `id`.
    func canWrite(_ id: Int64) -> Bool {
        switch self {
        case .admin: true
        case .key(let k): k.scope == .write && k.knowledgeBaseIDs.contains(id)
        }
    }

    /// A stable label for rate limiting and logs (never the key).
    var label: String {
        switch self {
        case .admin: "admin"
        case .key(let k): "key-\(k.id)"
        }
    }
}

/// The request context: Hummingbird's core storage plus the caller.
struct WendaoContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var principal: Principal = .admin
    /// The connection the request came on (its closing cancels work the client no longer waits for).
    let channel: (any Channel)?

    init(source: Source) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Uploads are streamed and capped by the upload route itself.
    var maxUploadSize: Int { 1 << 20 }
}

/// Resolves the caller from `Authorization: Bearer …` or `X-API-Key`.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = WendaoContext
    let service: KnowledgeService
    let keysPresent: KeysPresentCache
    /// Whether anonymous callers may be admitted while no key exists: decided once, at start, from
    /// the bound address (loopback only) and the absence of an admin key. Never true on an address
    /// other computers reach, whatever happens to the keys later (revoking the last key there
    /// locks the API, it never opens it).
    let openLocal: Bool

    func handle(_ request: Request, context: WendaoContext, next: (Request, WendaoContext) async throws -> Response)
        async throws -> Response
    {
        var context = context
        // Decided without the store when it can be (the admin key, an open local server whose "no
        // keys" answer is fresh, a malformed header); reading keys is store work: on the thread pool.
        if let principal = try authenticateWithoutStore(request) {
            context.principal = principal
        } else {
            context.principal = try await service.blocking { try self.authenticate(request) }
        }
        guard !context.principal.isAdmin else { return try await next(request, context) }
        do {
            return try await next(request, context)
        } catch {
            // A tenant learns what went wrong, not where the server keeps its files.
            throw APIError.redactingPaths(error)
        }
    }

    /// The caller when no store read is needed to know it: nil when it is (an API key to look up,
    /// or whether any key exists to re-check). Throws what ``authenticate(_:)`` would for a header it
    /// cannot accept.
    func authenticateWithoutStore(_ request: Request) throws -> Principal? {
        if openLocal {
            guard let present = keysPresent.cachedValue() else { return nil }
            if !present { return .admin }
        }
        guard let presented = try presentedKey(request) else {
            throw APIError.unauthorized("an API key is required (Authorization: Bearer <key>)")
        }
        if let admin = service.configuration.adminKey, constantTimeEqual(admin.exposedValue, presented) {
            return .admin
        }
        return nil
    }

    /// The key the request presents (`Authorization: Bearer …` or `X-API-Key`), nil when none.
    func presentedKey(_ request: Request) throws -> String? {
        var presented: String?
        if let h = request.headers[.authorization] {
            let parts = h.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw APIError.unauthorized("the Authorization header must be 'Bearer <key>'")
            }
            presented = String(parts[1]).trimmingCharacters(in: .whitespaces)
        } else if let k = request.headers[HTTPField.Name("X-API-Key")!] {
            presented = k.trimmingCharacters(in: .whitespaces)
        }
        guard let presented, !presented.isEmpty else { return nil }
        return presented
    }

    func authenticate(_ request: Request) throws -> Principal {
        // An open local server (loopback, no admin key, no API keys) accepts anyone, whatever key a
        // client sends (the openai client always sends one).
        if openLocal, !keysPresent.value(service.library) {
            return .admin
        }
        guard let presented = try presentedKey(request) else {
            throw APIError.unauthorized("an API key is required (Authorization: Bearer <key>)")
        }
        if let admin = service.configuration.adminKey, constantTimeEqual(admin.exposedValue, presented) {
            return .admin
        }
        guard presented.count <= 256, let record = try service.library.authenticate(presented) else {
            throw APIError.unauthorized("the API key is not valid (unknown, revoked or malformed)")
        }
        return .key(record)
    }

    func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}

/// Whether any API key exists, re-read at most once a second (keys created with the CLI while the
/// server runs close an open server within a second).
final class KeysPresentCache: Sendable {
    private let state = Mutex<(value: Bool, checked: ContinuousClock.Instant?)>((false, nil))

    /// The last answer while it is fresh (read within the last second), else nil.
    func cachedValue() -> Bool? {
        let now = ContinuousClock.now
        return state.withLock { s -> Bool? in
            guard let t = s.checked, now - t < .seconds(1) else { return nil }
            return s.value
        }
    }

    func value(_ library: Library) -> Bool {
        let now = ContinuousClock.now
        if let cached = state.withLock({ s -> Bool? in
            guard let t = s.checked, now - t < .seconds(1) else { return nil }
            return s.value
        }) {
            return cached
        }
        // On a store error, fail closed: keys are assumed to exist.
        let present = (try? !library.apiKeys().filter { $0.revokedAt == nil }.isEmpty) ?? true
        state.withLock { $0 = (present, now) }
        return present
    }
}
