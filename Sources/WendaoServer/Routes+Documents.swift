import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WendaoCore
import WendaoRAG

/// A job as the API shows it.
struct JobView: Encodable {
    var id: Int64
    var kb: String
    var state: String
    var created_at: String
    @ExplicitNull var started_at: String? = nil
    @ExplicitNull var finished_at: String? = nil
    var files_total: Int
    var files_done: Int
    var chunks: Int
    var results: [Result]
    @ExplicitNull var error: String? = nil

    struct Result: Encodable {
        var path: String
        var outcome: String
        var chunks: Int
        @ExplicitNull var reason: String? = nil
    }

    /// - Parameter redactPaths: name files by their last path component only (for tenant keys).
    init(_ j: JobRecord, kb: String, redactPaths: Bool = false) {
        func iso(_ t: Double?) -> String? {
            t.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0)) }
        }
        id = j.id
        self.kb = kb
        state = j.state.rawValue
        created_at = iso(j.createdAt) ?? ""
        started_at = iso(j.startedAt)
        finished_at = iso(j.finishedAt)
        files_total = j.filesTotal
        files_done = j.filesDone
        chunks = j.chunks
        let shown: (String?) -> String? = { s in redactPaths ? s.map(APIError.redactPaths) : s }
        results = j.results.map { Result(path: $0.path, outcome: $0.outcome, chunks: $0.chunks, reason: shown($0.reason)) }
        error = shown(j.error)
    }
}

extension WendaoAPI {
    /// Where uploaded files of a knowledge base are kept (they are the source for re-ingest).
    func uploadsFolder(_ kbID: Int64) -> URL {
        service.configuration.dataDirectory.appendingPathComponent("uploads/kb-\(kbID)", isDirectory: true)
    }

    /// Checks an uploaded file name: a plain name, no path, no control characters.
    static func checkFileName(_ name: String) throws -> String {
        let n = name.trimmingCharacters(in: .whitespaces)
        guard !n.isEmpty, n != ".", n != ".." else { throw APIError.badRequest("an uploaded file has no usable name") }
        guard !n.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw APIError.badRequest("the file name '\(n.unicodeScalars.map { $0.value < 0x20 ? "?" : String($0) }.joined())' contains control characters")
        }
        guard !n.contains("/"), !n.contains("\\") else {
            throw APIError.badRequest("the file name '\(n)' contains a path; send the file name only")
        }
        guard n.utf8.count <= 255, !n.hasPrefix(".") else {
            throw APIError.badRequest("the file name '\(n)' is too long or hidden")
        }
        return n
    }

    /// Runs a write of an upload; a failure (a full disk, an I/O error) is a 507 or 500 `storage`
    /// error naming the cause, logged by the error middleware.
    static func storing<T>(_ write: () throws -> T) throws -> T {
        do { return try write() } catch let e as APIError { throw e } catch {
            let ns = error as NSError
            let posix =
                ns.domain == NSPOSIXErrorDomain
                ? Int32(ns.code) : (ns.userInfo[NSUnderlyingErrorKey] as? NSError).map { Int32($0.code) }
            let full =
                posix == ENOSPC || posix == EDQUOT || (error as? CocoaError)?.code == .fileWriteOutOfSpace
            let cause = posix.map { String(cString: strerror($0)) } ?? ns.localizedDescription
            throw APIError(
                status: full ? .init(code: 507, reasonPhrase: "Insufficient Storage") : .internalServerError,
                code: "storage", message: "cannot store the upload: \(cause)")
        }
    }

    func addDocumentRoutes(_ api: RouterGroup<WendaoContext>, runner: JobRunner) {
        api.post("kbs/:kb/documents") { request, context in
            let name = try context.knowledgeBaseName()
            let record = try await writableRecord(name, context)
            let limit = service.configuration.maxUploadBytes
            guard let boundary = request.headers[.contentType].flatMap(MultipartReader.boundary(contentType:)) else {
                throw APIError(
                    status: .unsupportedMediaType, code: "unsupported",
                    message: "upload files as multipart/form-data with 'file' parts")
            }
            if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                throw APIError(
                    status: .contentTooLarge, code: "limit_exceeded",
                    message: "the upload is \(length) bytes; the limit is \(limit)")
            }
            let slot = try limits.rate.enter(.ingest, for: context.principal)
            defer { slot.release() }
            let folder = uploadsFolder(record.id)
            let incoming = folder.appendingPathComponent(".incoming-\(UUID().uuidString)", isDirectory: true)
            let fm = FileManager.default
            try fm.createDirectory(at: incoming, withIntermediateDirectories: true)
            defer { try? fm.removeItem(at: incoming) }
            var reader = MultipartReader(boundary: boundary)
            var names: [String] = []
            var current: FileHandle?
            var total = 0
            do {
                for try await buffer in request.body {
                    total += buffer.readableBytes
                    guard total <= limit else {
                        throw APIError(
                            status: .contentTooLarge, code: "limit_exceeded", message: "the upload is over \(limit) bytes")
                    }
                    for event in try reader.feed(buffer.readableBytesView) {
                        switch event {
                        case .part(let field, let filename):
                            guard field == "file", let filename else { continue }
                            let n = try Self.checkFileName(filename)
                            guard !names.contains(n) else { throw APIError.badRequest("the file '\(n)' was sent twice") }
                            names.append(n)
                            let url = incoming.appendingPathComponent(n)
                            guard fm.createFile(atPath: url.path, contents: nil) else {
                                throw APIError(status: .internalServerError, code: "storage", message: "cannot store the upload")
                            }
                            current = try Self.storing { try service.configuration.openUploadFile(url) }
                        case .data(let bytes):
                            try Self.storing { try current?.write(contentsOf: bytes) }
                        case .partEnd:
                            try Self.storing { try current?.close() }
                            current = nil
                        }
                    }
                }
            } catch let f as MultipartReader.Failure {
                try? current?.close()
                throw APIError.badRequest("malformed multipart body: \(f.message)")
            } catch {
                try? current?.close()
                throw error
            }
            guard reader.isComplete else { throw APIError.badRequest("the multipart body ended before its closing boundary") }
            guard !names.isEmpty else { throw APIError.badRequest("no 'file' parts in the upload") }
            // Keep the files (the source for re-ingest), then queue the job.
            var paths: [String] = []
            for n in names {
                let target = folder.appendingPathComponent(n)
                if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }
                try fm.moveItem(at: incoming.appendingPathComponent(n), to: target)
                paths.append(target.path)
            }
            let library = service.library
            var jobPayload = JobPayload(files: paths, owned: paths)
            if let uploads = library.store as? any UploadStore {
                // A shared store keeps the originals, so that any server can run (or take over) the job
                // and re-ingest the documents later.
                let kbID = record.id
                let stored = names
                let storedPaths = paths
                try await service.blocking {
                    for (n, path) in zip(stored, storedPaths) {
                        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                        try uploads.storeUpload(kb: kbID, name: n, bytes: Array(bytes))
                    }
                }
                jobPayload.stored = names
            }
            let payload = String(decoding: try JSONEncoder().encode(jobPayload), as: UTF8.self)
            let files = paths.count
            let job = try await service.blocking { try library.createJob(kb: name, payload: payload, filesTotal: files) }
            slot.hand(to: job.id)
            runner.notify()
            return try JSON.response(JobView(job, kb: name), status: .accepted)
        }
        // Rebuilds the indexes from the stored chunks, as a job (after a change of BM25 or
        // retrieval settings, or of the embedder).
        api.post("kbs/:kb/reindex") { _, context in
            let name = try context.knowledgeBaseName()
            _ = try await configurableRecord(name, context)
            let library = service.library
            let body = String(decoding: try JSONEncoder().encode(JobPayload(files: [], reindex: true)), as: UTF8.self)
            let slot = try limits.rate.enter(.ingest, for: context.principal)
            let job = try await service.blocking { try library.createJob(kb: name, payload: body, filesTotal: 1) }
            slot.hand(to: job.id)
            runner.notify()
            return try JSON.response(JobView(job, kb: name), status: .accepted)
        }
        api.post("kbs/:kb/documents/:id/reingest") { _, context in
            let name = try context.knowledgeBaseName()
            let record = try await writableRecord(name, context)
            let id = try context.parameters.require("id", as: Int64.self)
            let library = service.library
            let documents = try await service.blocking { try library.store.documents(kb: record.id) }
            guard let doc = documents.first(where: { $0.id == id }) else {
                throw APIError.notFound("document \(id) does not exist in '\(name)'")
            }
            let uploaded = uploadsFolder(record.id).appendingPathComponent(doc.path)
            let fm = FileManager.default
            let payload: JobPayload
            let kbID = record.id
            var keptInStore = false
            if !doc.path.contains("/") {
                let path = doc.path
                keptInStore = try await service.blocking {
                    guard let uploads = library.store as? any UploadStore else { return false }
                    return try uploads.upload(kb: kbID, name: path) != nil
                }
            }
            if keptInStore {
                // The original is in the shared store: whichever server runs the job reads it there.
                payload = JobPayload(files: [], force: true, stored: [doc.path])
            } else if !doc.path.contains("/"), fm.fileExists(atPath: uploaded.path) {
                payload = JobPayload(files: [uploaded.path], force: true)
            } else if let source = doc.source, source.hasPrefix("/"), fm.fileExists(atPath: source) {
                // Ingested from the CLI: read again from where it came from, under the same identity.
                payload = JobPayload(files: [source], force: true, identities: [source: doc.path])
            } else {
                // Where a file lies on the server is the administrator's business, not a tenant's.
                let shown: (String) -> String = { context.principal.isAdmin ? $0 : URL(fileURLWithPath: $0).lastPathComponent }
                let why =
                    doc.source.map { $0.hasPrefix("/") ? "its source file \(shown($0)) no longer exists" : "it came from \($0)" }
                    ?? "its source location was not recorded"
                throw APIError(
                    status: .conflict, code: "conflict",
                    message: "'\(doc.path)' cannot be re-read by the server: \(why); ingest it again with `wendao ingest`")
            }
            let body = String(decoding: try JSONEncoder().encode(payload), as: UTF8.self)
            let slot = try limits.rate.enter(.ingest, for: context.principal)
            let job = try await service.blocking { try library.createJob(kb: name, payload: body, filesTotal: 1) }
            slot.hand(to: job.id)
            runner.notify()
            return try JSON.response(JobView(job, kb: name), status: .accepted)
        }
        api.get("kbs/:kb/jobs") { _, context in
            let name = try context.knowledgeBaseName()
            _ = try await visibleRecord(name, context)
            let redact = !context.principal.isAdmin
            let library = service.library
            let jobs = try await service.blocking { try library.jobs(kb: name, limit: 100) }
            return try JSON.response(["jobs": jobs.map { JobView($0, kb: name, redactPaths: redact) }])
        }
        api.get("jobs/:id") { _, context in
            let id = try context.parameters.require("id", as: Int64.self)
            let library = service.library
            let found = try await service.blocking { () throws -> (JobRecord, KnowledgeBaseRecord)? in
                guard let job = try library.job(id: id),
                    let record = try library.list().first(where: { $0.id == job.kbID })
                else { return nil }
                return (job, record)
            }
            guard let (job, record) = found, context.principal.covers(record.id) else {
                throw APIError.notFound("job \(id) does not exist")
            }
            return try JSON.response(JobView(job, kb: record.name, redactPaths: !context.principal.isAdmin))
        }
    }
}
