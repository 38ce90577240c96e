import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFoundationCompat
import Synchronization
import WendaoCore
import WendaoTune

/// One dataset as `GET /api/v1/tune/datasets` lists it.
struct TuneDatasetView: Encodable {
    var name: String
    var kb: String
    var teacher: String
    var created_at: String
    /// Examples in `examples.jsonl` (nil: not cleaned yet).
    var examples: Int?
    var kept: Int?
    var dropped: Int?
    /// Examples with a review (approved, rejected or edited).
    var reviewed: Int?
    /// Kept examples per split.
    var splits: [String: Int]?
    /// Examples per style.
    var styles: [String: Int]?
}

/// `GET /api/v1/tune/datasets/{name}/examples`'s answer: one page of the examples the filters keep.
struct TuneExamplePage: Encodable {
    var dataset: String
    /// Examples the filters keep (all pages).
    var total: Int
    var offset: Int
    var limit: Int
    var examples: [TuneExample]
}

/// `GET /api/v1/tune/datasets/{name}/examples/{id}`'s answer: the example, its source chunk(s) and its
/// review history, oldest first.
struct TuneExampleDetail: Encodable {
    var dataset: String
    var example: TuneExample
    var chunks: [SourceChunk]
    var reviews: [ExampleReview]
}

/// `POST /api/v1/tune/datasets/{name}/examples/{id}/review`'s body.
struct TuneReviewBody: Decodable {
    /// `approve`, `reject` or `edit`.
    var decision: String
    var question: String?
    var answer: String?
    var note: String?
}

/// Serialises reviews made through this server (the dataset's file lock keeps out other processes, such
/// as `wendao tune dataset review`; it is per open file, so two requests of one process would refuse each
/// other without this).
final class TuneReviewGate: Sendable {
    private let mutex = Mutex(())

    func run<T>(_ body: () throws -> T) rethrows -> T {
        try mutex.withLock { _ in try body() }
    }
}

extension WendaoAPI {
    /// The fine-tuning data studio's review over REST: datasets of `<data>/tune/datasets`, their examples
    /// (filtered, paged), one example with its source chunk and review history, and a review (approve,
    /// reject, edit) recorded as a new version in `reviews.jsonl` through ``DatasetReview`` — the code path
    /// of `wendao tune dataset review`. A dataset is made from a knowledge base: the caller must be allowed
    /// to change it (its editors and administrators, write keys, the server's administrator); to others a
    /// dataset does not exist.
    func addTuneRoutes(_ api: RouterGroup<WendaoContext>) {
        let service = self.service
        let store = DatasetStore(dataDirectory: service.configuration.dataDirectory)
        let gate = TuneReviewGate()

        /// Blocking file work on the thread pool; a storage failure's message names files without their
        /// server paths.
        @Sendable func onDisk<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
            do {
                return try await service.blocking(body)
            } catch let e as WendaoError where [.storage, .corrupt, .internal].contains(e.code) {
                throw APIError.redactingPaths(e)
            }
        }

        /// Whether the caller may see and review datasets of knowledge base `kb`.
        @Sendable func mayReview(_ kb: String, _ context: WendaoContext) async -> Bool {
            guard let record = try? await service.currentRecord(kb) else { return context.principal.isAdmin }
            return context.principal.canWrite(record.id)
        }

        /// The dataset named in the path (checked, percent-decoded) and its manifest, or 400/404.
        @Sendable func dataset(_ context: WendaoContext) async throws -> DatasetManifest {
            let raw = try context.parameters.require("name")
            guard let name = raw.removingPercentEncoding else {
                throw APIError.badRequest("the dataset name '\(raw.prefix(80))' is not valid percent-encoding")
            }
            try DatasetStore.validate(name)
            let manifest: DatasetManifest
            do {
                manifest = try await onDisk { try store.manifest(name) }
            } catch let e as WendaoError where e.code == .notFound {
                throw APIError.notFound("dataset '\(name)' does not exist")
            }
            guard await mayReview(manifest.kb, context) else {
                throw APIError.notFound("dataset '\(name)' does not exist")
            }
            return manifest
        }

        /// The examples of `name`; a dataset never cleaned has none yet (409 says so).
        @Sendable func examples(_ name: String) async throws -> [TuneExample] {
            do {
                return try await onDisk { try store.examples(name) }
            } catch let e as WendaoError where e.code == .notFound {
                throw APIError(
                    status: .conflict, code: "conflict",
                    message: "dataset '\(name)' has no cleaned examples yet (wendao tune dataset clean \(name))")
            }
        }

        @Sendable func exampleID(_ context: WendaoContext) throws -> String {
            let raw = try context.parameters.require("id")
            return raw.removingPercentEncoding ?? raw
        }

        api.get("tune/datasets") { _, context in
            let names = try await service.blocking { store.names() }
            var out: [TuneDatasetView] = []
            for name in names {
                guard let m = try? await service.blocking({ try store.manifest(name) }),
                    await mayReview(m.kb, context)
                else { continue }
                var view = TuneDatasetView(name: m.name, kb: m.kb, teacher: m.teacher, created_at: m.createdAt)
                if let list = try? await service.blocking({ try store.examples(name) }) {
                    view.examples = list.count
                    view.kept = list.count { $0.status == "kept" }
                    view.dropped = list.count { $0.status == "dropped" }
                    view.reviewed = list.count { $0.review != nil }
                    view.splits = Dictionary(grouping: list.compactMap(\.split), by: { $0 }).mapValues(\.count)
                    view.styles = Dictionary(grouping: list.map(\.style.rawValue), by: { $0 }).mapValues(\.count)
                }
                out.append(view)
            }
            return try JSON.response(["datasets": out])
        }

        api.get("tune/datasets/:name/examples") { request, context in
            let m = try await dataset(context)
            let q = request.uri.queryParameters
            let filter = try TuneExampleFilter(
                split: q.get("split"), style: q.get("style"), status: q.get("status"), review: q.get("review"),
                text: q.get("q"))
            let offset = try Self.integer(q.get("offset"), name: "offset", default: 0, range: 0...10_000_000)
            let limit = try Self.integer(q.get("limit"), name: "limit", default: 50, range: 1...500)
            let matching = try await examples(m.name).filter(filter.keeps)
            let page = Array(matching.dropFirst(offset).prefix(limit))
            return try JSON.response(
                TuneExamplePage(dataset: m.name, total: matching.count, offset: offset, limit: limit, examples: page))
        }

        api.get("tune/datasets/:name/examples/:id") { _, context in
            let m = try await dataset(context)
            let id = try exampleID(context)
            guard let e = try await examples(m.name).first(where: { $0.id == id }) else {
                throw APIError.notFound("no example '\(id.prefix(80))' in dataset '\(m.name)'")
            }
            let (chunks, reviews) = try await onDisk {
                (try store.chunks(m.name), try DatasetReview.reviews(store, m.name).filter { $0.example == id })
            }
            return try JSON.response(
                TuneExampleDetail(
                    dataset: m.name, example: e, chunks: e.chunks.compactMap { chunks[$0] }, reviews: reviews))
        }

        api.post("tune/datasets/:name/examples/:id/review") { request, context in
            let m = try await dataset(context)
            let id = try exampleID(context)
            let body = try await Self.lenientJSON(TuneReviewBody.self, from: request, limit: 256 * 1024)
            guard ["approve", "reject", "edit"].contains(body.decision) else {
                throw APIError.badRequest("unknown decision '\(body.decision.prefix(40))': approve, reject or edit")
            }
            let example = try await onDisk {
                try gate.run {
                    let lock = try store.lock(m.name)
                    defer { lock.unlock() }
                    return try DatasetReview.review(
                        store, m.name, id: id, decision: body.decision,
                        question: body.decision == "edit" ? body.question : nil,
                        answer: body.decision == "edit" ? body.answer : nil, note: body.note)
                }
            }
            let review = try await onDisk {
                try DatasetReview.reviews(store, m.name).last { $0.example == id && $0.version == example.version }
            }
            struct Reply: Encodable {
                var example: TuneExample
                var review: ExampleReview?
            }
            return try JSON.response(Reply(example: example, review: review))
        }
    }

    /// A query parameter as an integer in `range` (`fallback` when absent), or 400 naming it (an empty value
    /// too).
    static func integer(_ raw: String?, name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let raw else { return fallback }
        guard let n = Int(raw), range.contains(n) else {
            throw APIError.badRequest(
                "'\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// The request body decoded as `T` like ``JSON/decode(_:from:limit:)``, except that bytes which are
    /// not UTF-8 become U+FFFD first (a review's sanitising then removes them) instead of refusing the
    /// whole edit.
    static func lenientJSON<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        try await JSON.decode(type, from: request, limit: limit, repairingUTF8: true)
    }
}

/// The filters of the examples list: each given one must match (`status` is `kept` or `dropped`; `review`
/// is `approved`, `rejected`, `edited` or `none`; `q` is a case-insensitive substring of the question or
/// the answer, empty for any). A filter given with an empty or unknown value is refused.
struct TuneExampleFilter: Sendable {
    var split: String?
    var style: QuestionStyle?
    var status: String?
    var review: String?
    var text: String?

    init(split: String?, style: String?, status: String?, review: String?, text: String?) throws {
        if let s = split {
            guard ["train", "validation", "test", "none"].contains(s) else {
                throw APIError.badRequest("unknown split '\(s.prefix(40))': train, validation, test or none")
            }
            self.split = s
        }
        if let s = style {
            guard let parsed = QuestionStyle(rawValue: s) else {
                throw APIError.badRequest(
                    "unknown style '\(s.prefix(40))': \(QuestionStyle.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            self.style = parsed
        }
        if let s = status {
            guard ["kept", "dropped"].contains(s) else {
                throw APIError.badRequest("unknown status '\(s.prefix(40))': kept or dropped")
            }
            self.status = s
        }
        if let s = review {
            guard ["approved", "rejected", "edited", "none"].contains(s) else {
                throw APIError.badRequest("unknown review '\(s.prefix(40))': approved, rejected, edited or none")
            }
            self.review = s
        }
        self.text = text.flatMap { $0.isEmpty ? nil : $0.lowercased() }
    }

    func keeps(_ e: TuneExample) -> Bool {
        if let split, (e.split ?? "none") != split { return false }
        if let style, e.style != style { return false }
        if let status, e.status != status { return false }
        if let review, (e.review ?? "none") != review { return false }
        if let text, !e.question.lowercased().contains(text), !e.answer.lowercased().contains(text) { return false }
        return true
    }
}
