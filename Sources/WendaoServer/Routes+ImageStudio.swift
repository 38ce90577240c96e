import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import WendaoCore
import WendaoImages
import WendaoModels

/// `POST /api/v1/images` and `POST /v1/images/generations`.
struct ImageGenerationBody: Decodable {
    var model: String?
    var prompt: String
    var negative_prompt: String?
    var size: String?
    var n: Int?
    var seed: Int?
    var steps: Int?
    var cfg_scale: Double?
    var tags: [String]?
    var response_format: String?
}

/// `POST /api/v1/tryon`: the pictures as `data:` URLs (what a browser's FileReader gives).
struct TryOnBody: Decodable {
    var model: String?
    var person: String?
    var top: String?
    var bottom: String?
    var tags: [String]?
}

/// `PATCH /api/v1/images/{id}`.
struct ImagePatchBody: Decodable {
    var add_tags: [String]?
    var remove_tags: [String]?
    var favourite: Bool?
}

/// The gallery and the `images:` settings of the server's data directory, opened on first use.
final class ImageStudioParts: Sendable {
    let dataDirectory: URL
    let configFile: URL
    private let opened = Mutex<(ImageGallery, ImageStudioConfiguration)?>(nil)

    init(configuration: ServerConfiguration) {
        dataDirectory = configuration.dataDirectory
        configFile =
            configuration.environment["WENDAO_CONFIG"].map { URL(fileURLWithPath: $0) }
            ?? configuration.dataDirectory.appendingPathComponent("config.yaml")
    }

    func parts() throws -> (ImageGallery, ImageStudioConfiguration) {
        try opened.withLock { o in
            if let o { return o }
            let made = (
                try ImageGallery(dataDirectory: dataDirectory), try ImageStudioConfiguration.load(from: configFile)
            )
            o = made
            return made
        }
    }
}

extension WendaoAPI {
    /// Tasks a stopped server was following (submitted to a provider, not finished) are followed again
    /// in the background as the server starts, as `wendao image resume` does: their results are
    /// stored, a task the provider no longer knows is recorded as such. Nothing is opened when the data
    /// directory has no gallery yet.
    func resumeImageTasks(_ parts: ImageStudioParts) {
        let galleryFile = parts.dataDirectory.appendingPathComponent("images/gallery.sqlite")
        guard FileManager.default.fileExists(atPath: galleryFile.path) else { return }
        let logger = service.logger
        Task {
            do {
                let (gallery, _) = try parts.parts()
                guard try !gallery.unfinished().isEmpty else { return }
                let records = try await imageStudio(parts).resume()
                logger.notice("image tasks resumed", metadata: ["records": "\(records.count)"])
            } catch {
                let reason = (error as? WendaoError)?.message ?? "\(error)"
                logger.warning("image tasks could not be resumed", metadata: ["reason": "\(reason)"])
            }
        }
    }

    func imageStudio(_ parts: ImageStudioParts) throws -> ImageStudio {
        let (gallery, images) = try parts.parts()
        return try ImageStudio(
            dataDirectory: service.configuration.dataDirectory, configuration: images,
            models: service.configuration.models, environment: try service.modelEnvironment(), gateway: service.gateway,
            logger: service.logger, gallery: gallery)
    }

    /// The bytes of a `data:…;base64,…` URL (or of bare base64).
    static func dataURL(_ value: String) -> Data? {
        var b64 = Substring(value)
        if value.hasPrefix("data:") {
            guard let comma = value.firstIndex(of: ","), value[..<comma].hasSuffix(";base64") else { return nil }
            b64 = value[value.index(after: comma)...]
        }
        guard let d = Data(base64Encoded: String(b64), options: .ignoreUnknownCharacters), !d.isEmpty else {
            return nil
        }
        return d
    }

    /// `?wait=true|false` of the generate and try-on routes (absent: false).
    static func waitParameter(_ request: Request) throws -> Bool {
        guard let wait = request.uri.queryParameters.get("wait") else { return false }
        guard wait == "true" || wait == "false" else { throw APIError.badRequest("wait must be true or false") }
        return wait == "true"
    }

    /// 202 Accepted with the record as written and where to follow it.
    static func accepted(_ record: ImageRecord) throws -> Response {
        var response = try JSON.response(record, status: .accepted)
        response.headers[.location] = "/api/v1/images/\(record.id)"
        return response
    }

    static func imageRequest(_ body: ImageGenerationBody, defaultModel: String) throws -> GenerateRequest {
        var r = GenerateRequest(model: body.model ?? defaultModel, prompt: body.prompt)
        if let size = body.size {
            guard let s = ImageSize(parsing: size) else {
                throw APIError.badRequest("size '\(size.prefix(40))' must be WIDTH*HEIGHT or WIDTHxHEIGHT")
            }
            r.size = s
        }
        r.count = body.n ?? 1
        r.negativePrompt = body.negative_prompt
        r.seed = body.seed
        r.steps = body.steps
        r.cfgScale = body.cfg_scale
        r.tags = body.tags ?? []
        return r
    }

    /// The image studio for administrators (admin key, administrator accounts): generate, list and
    /// search the gallery, read a record and its files, tag, favourite, delete.
    func addImageRoutes(_ api: RouterGroup<WendaoContext>, v1: RouterGroup<WendaoContext>) {
        let parts = ImageStudioParts(configuration: service.configuration)
        resumeImageTasks(parts)
        @Sendable func requireAdmin(_ context: WendaoContext) throws {
            guard context.principal.isAdmin else { throw APIError.notFound("no such route for this key") }
        }
        @Sendable func id(_ context: WendaoContext) throws -> Int64 {
            guard let id = Int64(try context.parameters.require("id")), id > 0 else {
                throw APIError.notFound("no such image record")
            }
            return id
        }
        api.get("images") { request, context in
            try requireAdmin(context)
            let q = request.uri.queryParameters
            if let text = q.get("query"), text.count > 4096 {
                throw APIError.badRequest("query must be at most 4096 characters")
            }
            var query = GalleryQuery(text: q.get("query"), limit: 50)
            if let l = q.get("limit") {
                guard let n = Int(l), (1...500).contains(n) else { throw APIError.badRequest("limit must be 1–500") }
                query.limit = n
            }
            if let o = q.get("offset") {
                guard let n = Int(o), (0...1_000_000).contains(n) else {
                    throw APIError.badRequest("offset must be from 0 to 1000000")
                }
                query.offset = n
            }
            query.tag = q.get("tag")
            if let f = q.get("favourites") {
                guard f == "true" || f == "false" else { throw APIError.badRequest("favourites must be true or false") }
                query.favouritesOnly = f == "true"
            }
            if let s = q.get("status") {
                guard let status = ImageTaskStatus(rawValue: s) else { throw APIError.badRequest("unknown status") }
                query.status = status
            }
            let (gallery, _) = try parts.parts()
            let q2 = query
            let (records, total) = try await service.blocking { try gallery.list(q2) }
            struct Page: Encodable {
                var total: Int
                var records: [ImageRecord]
            }
            return try JSON.response(Page(total: total, records: records))
        }
        // Both answer 202 with the record as written the moment the request is checked and recorded; the
        // task engine goes on submitting and polling, and GET /api/v1/images/{id} shows where it is.
        // `?wait=true` answers 201 with the finished record instead.
        api.post("images") { request, context in
            try requireAdmin(context)
            let wait = try Self.waitParameter(request)
            let body = try await JSON.decode(ImageGenerationBody.self, from: request, limit: 1 << 20)
            let studio = try imageStudio(parts)
            let r = try Self.imageRequest(body, defaultModel: studio.configuration.defaultModel)
            try studio.validate(model: r.model)
            if wait { return try JSON.response(try await studio.generate(r), status: .created) }
            return try Self.accepted(try studio.startGenerate(r).record)
        }
        api.post("tryon") { request, context in
            try requireAdmin(context)
            let wait = try Self.waitParameter(request)
            let body = try await JSON.decode(TryOnBody.self, from: request, limit: 24 << 20)
            let studio = try imageStudio(parts)
            var r = TryOnRequest(person: "")
            r.model = body.model ?? "dashscope:aitryon"
            for (role, value) in [("person", body.person), ("top", body.top), ("bottom", body.bottom)] {
                guard let value else { continue }
                guard let data = Self.dataURL(value) else {
                    throw APIError.badRequest("\(role) must be a data: URL with base64 image bytes")
                }
                r.data[role] = data
            }
            guard r.data["person"] != nil else { throw APIError.badRequest("person is required") }
            r.tags = body.tags ?? []
            try studio.validate(model: r.model)
            if wait { return try JSON.response(try await studio.tryOn(r), status: .created) }
            return try Self.accepted(try await studio.startTryOn(r).record)
        }
        api.get("images/:id") { _, context in
            try requireAdmin(context)
            let id = try id(context)
            let (gallery, _) = try parts.parts()
            return try JSON.response(try await service.blocking { try gallery.record(id) })
        }
        api.patch("images/:id") { request, context in
            try requireAdmin(context)
            let id = try id(context)
            let body = try await JSON.decode(ImagePatchBody.self, from: request, limit: 64 << 10)
            let (gallery, _) = try parts.parts()
            let record = try await service.blocking {
                var r = try gallery.record(id)
                if body.add_tags != nil || body.remove_tags != nil {
                    r = try gallery.tag(id, add: body.add_tags ?? [], remove: body.remove_tags ?? [])
                }
                if let f = body.favourite { r = try gallery.setFavourite(id, f) }
                return r
            }
            return try JSON.response(record)
        }
        api.delete("images/:id") { _, context in
            try requireAdmin(context)
            let id = try id(context)
            let (gallery, _) = try parts.parts()
            try await service.blocking { try gallery.delete(id) }
            return Response(status: .noContent)
        }
        api.get("images/:id/files/:index") { _, context in
            try requireAdmin(context)
            let id = try id(context)
            guard let index = Int(try context.parameters.require("index")) else {
                throw APIError.notFound("no such file")
            }
            let (gallery, _) = try parts.parts()
            let record = try await service.blocking { try gallery.record(id) }
            guard let file = record.files.first(where: { $0.index == index }),
                let data = FileManager.default.contents(atPath: file.path)
            else { throw APIError.notFound("no such file") }
            return Response(
                status: .ok,
                headers: [
                    .contentType: file.format.mimeType, .cacheControl: "private, max-age=86400",
                    HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        api.get("images/:id/files/:index/thumbnail") { _, context in
            try requireAdmin(context)
            let id = try id(context)
            guard let index = Int(try context.parameters.require("index")) else {
                throw APIError.notFound("no such file")
            }
            let (gallery, _) = try parts.parts()
            let data = try await service.blocking { () throws -> Data in
                let url: URL
                do { url = try gallery.thumbnail(recordID: id, index: index) } catch let e as WendaoError
                    where e.code == .unsupported
                {
                    throw APIError(status: .notFound, code: "no_thumbnail", message: e.message)
                }
                guard let data = FileManager.default.contents(atPath: url.path) else {
                    throw APIError.notFound("no such thumbnail")
                }
                return data
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "image/jpeg", .cacheControl: "private, max-age=86400",
                    HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        api.post("images/:id/share") { _, context in
            try requireAdmin(context)
            let id = try id(context)
            let (gallery, _) = try parts.parts()
            let token = try await service.blocking { try gallery.share(id) }
            return try JSON.response(["token": token, "path": "/i/" + token], status: .created)
        }
        api.delete("images/:id/share") { _, context in
            try requireAdmin(context)
            let id = try id(context)
            let (gallery, _) = try parts.parts()
            _ = try await service.blocking {
                _ = try gallery.record(id)
                return try gallery.revokeShares(id)
            }
            return Response(status: .noContent)
        }
        v1.post("images/generations") { request, context in
            try await openAIImageGeneration(request, context: context, parts: parts)
        }
    }

    /// Public share links of records: `GET /i/{token}` (the first picture; `?index=N` another). 404 for
    /// an unknown or revoked token — the same answer, so a guess learns nothing.
    func addImageShareRoutes(_ router: Router<WendaoContext>) {
        let parts = ImageStudioParts(configuration: service.configuration)
        router.get("i/:token") { request, context in
            let token = try context.parameters.require("token")
            let (gallery, _) = try parts.parts()
            guard let record = try await service.blocking({ try gallery.sharedRecord(token: token) }) else {
                throw APIError.notFound("this link does not exist or was revoked")
            }
            let index = request.uri.queryParameters.get("index").flatMap { Int($0) } ?? 0
            guard let file = record.files.first(where: { $0.index == index }),
                let data = FileManager.default.contents(atPath: file.path)
            else { throw APIError.notFound("no such picture") }
            return Response(
                status: .ok,
                headers: [
                    .contentType: file.format.mimeType, .cacheControl: "private, no-store",
                    HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                    HTTPField.Name("Referrer-Policy")!: "no-referrer",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    /// The OpenAI-compatible `POST /v1/images/generations`: the admin without a quota; API keys and
    /// accounts within `images.key_daily_images` images per UTC day (0, the default: refused).
    func openAIImageGeneration(_ request: Request, context: WendaoContext, parts: ImageStudioParts) async throws
        -> Response
    {
        let body = try await JSON.decode(ImageGenerationBody.self, from: request, limit: 1 << 20)
        let format = body.response_format ?? "b64_json"
        guard format == "b64_json" || format == "url" else {
            throw APIError.badRequest("response_format must be b64_json or url")
        }
        let studio = try imageStudio(parts)
        if format == "url", studio.configuration.publicBaseURL == nil {
            throw APIError.badRequest("response_format url needs images.public_base_url in config.yaml; use b64_json")
        }
        var r = try Self.imageRequest(body, defaultModel: studio.configuration.defaultModel)
        r.tags = []
        if !context.principal.isAdmin { r.owner = context.principal.label }
        try studio.validate(model: r.model)
        let record: ImageRecord
        do {
            record = try await studio.generate(r)
        } catch let e as WendaoError where e.code == .rateLimited && r.owner != nil {
            throw APIError(
                status: .tooManyRequests, code: "rate_limited", message: e.message, headers: [.retryAfter: "3600"])
        }
        guard !record.files.isEmpty else {
            throw APIError(
                status: .badGateway, code: "bad_response",
                message: "the provider made no image: \(record.errorMessage ?? record.status.rawValue)")
        }
        struct Item: Encodable {
            var b64_json: String?
            var url: String?
            var revised_prompt: String?
        }
        struct Out: Encodable {
            var created: Int
            var data: [Item]
        }
        var items: [Item] = []
        let signer =
            format == "url"
            ? try URLSigner.open(
                dataDirectory: service.configuration.dataDirectory, baseURL: studio.configuration.publicBaseURL!)
            : nil
        for f in record.files {
            if let signer {
                let name = "\(f.sha256).\(f.format.fileExtension)"
                items.append(
                    Item(
                        url: signer.url(for: name, ttl: studio.configuration.signedURLTTL),
                        revised_prompt: record.actualPrompt))
            } else {
                guard let data = FileManager.default.contents(atPath: f.path) else { continue }
                items.append(Item(b64_json: data.base64EncodedString(), revised_prompt: record.actualPrompt))
            }
        }
        return try JSON.response(Out(created: Int(Date().timeIntervalSince1970), data: items))
    }
}
