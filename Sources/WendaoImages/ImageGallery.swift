public import Foundation
import GRDB
import WendaoCore
public import WendaoModels
import WendaoText

/// One stored picture of a record.
public struct ImageFile: Sendable, Equatable, Codable {
    /// Position in the task's results (0-based).
    public var index: Int
    /// SHA-256 of the bytes, lowercase hex: the file's identity.
    public var sha256: String
    /// PNG, JPEG or WebP.
    public var format: ImageFormat
    /// Size in bytes.
    public var bytes: Int
    /// Pixel width (from the header).
    public var width: Int
    /// Pixel height (from the header).
    public var height: Int
    /// Absolute path of the stored file.
    public var path: String
    /// Where it was downloaded from (query removed: provider URLs carry signatures), if anywhere.
    public var sourceURL: String?
    /// Absolute path of the thumbnail (a JPEG of ``ImagePixels/thumbnailSide`` pixels on the long side
    /// beside the file), once made.
    public var thumbnailPath: String?
    /// Why no thumbnail was made (a WebP, more pixels than are decoded, a damaged file); nil when one was
    /// made or none was tried yet (it is then made when first asked for).
    public var thumbnailSkipped: String?

    /// Creates a file entry.
    public init(
        index: Int, sha256: String, format: ImageFormat, bytes: Int, width: Int, height: Int, path: String,
        sourceURL: String?, thumbnailPath: String? = nil, thumbnailSkipped: String? = nil
    ) {
        self.index = index
        self.sha256 = sha256
        self.format = format
        self.bytes = bytes
        self.width = width
        self.height = height
        self.path = path
        self.sourceURL = sourceURL
        self.thumbnailPath = thumbnailPath
        self.thumbnailSkipped = thumbnailSkipped
    }

    enum CodingKeys: String, CodingKey {
        case index, sha256, format, bytes, width, height, path
        case sourceURL = "source_url"
        case thumbnailPath = "thumbnail_path"
        case thumbnailSkipped = "thumbnail_skipped"
    }
}

/// Everything recorded about one task: what was asked, of whom, what came back, what it cost.
public struct ImageRecord: Sendable, Equatable, Codable {
    /// Gallery id.
    public var id: Int64
    /// Generate or try-on.
    public var kind: ImageTaskKind
    /// The prompt.
    public var prompt: String
    /// The negative prompt.
    public var negativePrompt: String?
    /// Size, count, steps, inputs and provider parameters as sent.
    public var parameters: [String: JSONValue]
    /// The seed (asked for, or reported by the provider).
    public var seed: Int?
    /// `provider:model`.
    public var model: String
    /// The provider.
    public var provider: String
    /// The provider's task id (asynchronous providers).
    public var taskID: String?
    /// The state.
    public var status: ImageTaskStatus
    /// The provider's or Wendao's error code.
    public var errorCode: String?
    /// The error message.
    public var errorMessage: String?
    /// The prompt as the provider rewrote it.
    public var actualPrompt: String?
    /// When recorded (ISO 8601).
    public var createdAt: String
    /// When the provider accepted it.
    public var submittedAt: String?
    /// When it ended.
    public var finishedAt: String?
    /// Seconds from submission to the end.
    public var seconds: Double?
    /// Cost reserved against the daily cap before submitting.
    public var estimatedCost: Double?
    /// Cost of the pictures delivered (0 for failed tasks).
    public var cost: Double?
    /// Currency of the costs.
    public var currency: String
    /// Marked as a favourite.
    public var favourite: Bool
    /// Tags.
    public var tags: [String]
    /// The stored pictures.
    public var files: [ImageFile]

    enum CodingKeys: String, CodingKey {
        case id, kind, prompt, parameters, seed, model, provider, status, currency, favourite, tags, files, seconds,
            cost
        case negativePrompt = "negative_prompt"
        case taskID = "task_id"
        case errorCode = "error_code"
        case errorMessage = "error_message"
        case actualPrompt = "actual_prompt"
        case createdAt = "created_at"
        case submittedAt = "submitted_at"
        case finishedAt = "finished_at"
        case estimatedCost = "estimated_cost"
    }
}

/// A query of the gallery.
public struct GalleryQuery: Sendable {
    /// Words of the prompt (analysed like knowledge-base text: Chinese characters and pairs, English stems).
    public var text: String?
    /// Only records with this tag.
    public var tag: String?
    /// Only favourites.
    public var favouritesOnly = false
    /// Only this status.
    public var status: ImageTaskStatus?
    /// Only this kind.
    public var kind: ImageTaskKind?
    /// Page size.
    public var limit = 50
    /// Records skipped.
    public var offset = 0

    /// Everything, newest first.
    public init(text: String? = nil, limit: Int = 50) {
        self.text = text
        self.limit = limit
    }
}

/// The gallery: `images/gallery.sqlite` (records, files, tags, a term index of prompts) and
/// `images/files/ab/<sha256>.<ext>` in the data directory.
///
/// ```swift
/// let gallery = try ImageGallery(dataDirectory: dir)
/// for r in try gallery.list(GalleryQuery(text: "白底 连衣裙")) { print(r.id, r.prompt) }
/// ```
public final class ImageGallery: Sendable {
    /// `<data>/images`.
    public let directory: URL
    let pool: DatabasePool
    let analyzer = Analyzer()

    /// Opens (creating if needed) the gallery of a data directory.
    public init(dataDirectory: URL) throws {
        directory = dataDirectory.appendingPathComponent("images")
        do {
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent("files"), withIntermediateDirectories: true)
        } catch {
            throw WendaoError(.storage, "cannot create \(directory.path): \(error.localizedDescription)")
        }
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        do {
            pool = try DatabasePool(
                path: directory.appendingPathComponent("gallery.sqlite").path, configuration: config)
            try Self.migrator.migrate(pool)
        } catch let e as DatabaseError {
            throw WendaoError(.storage, "cannot open the image gallery: \(e.message ?? "\(e.resultCode)")")
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("images-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE image_records (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL, prompt TEXT NOT NULL, negative_prompt TEXT, parameters TEXT NOT NULL,
                        seed INTEGER, model TEXT NOT NULL, provider TEXT NOT NULL, task_id TEXT,
                        status TEXT NOT NULL, error_code TEXT, error_message TEXT, actual_prompt TEXT,
                        created_at REAL NOT NULL, submitted_at REAL, finished_at REAL,
                        estimated_cost REAL, cost REAL, currency TEXT NOT NULL, day TEXT NOT NULL,
                        favourite INTEGER NOT NULL DEFAULT 0, term_count INTEGER NOT NULL DEFAULT 0, owner TEXT);
                    CREATE INDEX image_records_status ON image_records(status);
                    CREATE INDEX image_records_owner_day ON image_records(owner, day);
                    CREATE INDEX image_records_day ON image_records(day);
                    CREATE TABLE image_files (
                        record_id INTEGER NOT NULL REFERENCES image_records(id) ON DELETE CASCADE,
                        idx INTEGER NOT NULL, sha256 TEXT NOT NULL, format TEXT NOT NULL, bytes INTEGER NOT NULL,
                        width INTEGER NOT NULL, height INTEGER NOT NULL, source_url TEXT,
                        PRIMARY KEY (record_id, idx));
                    CREATE INDEX image_files_sha ON image_files(sha256);
                    CREATE TABLE image_tags (
                        record_id INTEGER NOT NULL REFERENCES image_records(id) ON DELETE CASCADE,
                        tag TEXT NOT NULL, PRIMARY KEY (record_id, tag));
                    CREATE INDEX image_tags_tag ON image_tags(tag);
                    CREATE TABLE image_terms (
                        term INTEGER NOT NULL,
                        record_id INTEGER NOT NULL REFERENCES image_records(id) ON DELETE CASCADE,
                        tf INTEGER NOT NULL, PRIMARY KEY (term, record_id)) WITHOUT ROWID;
                    CREATE INDEX image_terms_record ON image_terms(record_id);
                    """)
        }
        m.registerMigration("images-v2-shares") { db in
            try db.execute(
                sql: """
                    CREATE TABLE image_shares (
                        token_hash TEXT PRIMARY KEY,
                        record_id INTEGER NOT NULL REFERENCES image_records(id) ON DELETE CASCADE,
                        created_at REAL NOT NULL, revoked_at REAL);
                    CREATE INDEX image_shares_record ON image_shares(record_id);
                    """)
        }
        // thumb: NULL not tried yet, '' made (files/ab/<sha256>.thumb.jpg), else why none was made.
        m.registerMigration("images-v3-thumbnails") { db in
            try db.execute(sql: "ALTER TABLE image_files ADD COLUMN thumb TEXT")
        }
        return m
    }

    func wrap<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as WendaoError { throw e } catch let e as DatabaseError {
            throw WendaoError(.storage, "\(what): \(e.message ?? "\(e.resultCode)")")
        }
    }

    // MARK: Files

    /// Where the file with `sha256` and `format` lives.
    public func path(sha256: String, format: ImageFormat) -> URL {
        directory.appendingPathComponent("files").appendingPathComponent(String(sha256.prefix(2)))
            .appendingPathComponent("\(sha256).\(format.fileExtension)")
    }

    /// Stores `data` (already inspected) by its SHA-256; an existing file with the same hash is kept.
    public func storeFile(_ data: Data, info: ImageInfo) throws -> (sha256: String, path: URL) {
        var h = SHA256()
        h.update(data)
        let sha = h.hexDigest()
        let url = path(sha256: sha, format: info.format)
        let fm = FileManager.default
        if !fm.fileExists(atPath: url.path) {
            do {
                try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(sha).\(UUID().uuidString).tmp")
                try data.write(to: tmp)
                if rename(tmp.path, url.path) != 0 {
                    try? fm.removeItem(at: tmp)
                    if !fm.fileExists(atPath: url.path) {
                        throw WendaoError(.storage, "cannot store \(url.lastPathComponent)")
                    }
                }
            } catch let e as WendaoError { throw e } catch {
                throw WendaoError(.storage, "cannot store image \(sha.prefix(12)): \(error.localizedDescription)")
            }
        }
        return (sha, url)
    }

    /// Where the thumbnail of the file with `sha256` lives (beside it: `<sha256>.thumb.jpg`).
    public func thumbnailPath(sha256: String) -> URL {
        directory.appendingPathComponent("files").appendingPathComponent(String(sha256.prefix(2)))
            .appendingPathComponent("\(sha256).thumb.jpg")
    }

    /// Makes the thumbnail of stored bytes (already inspected) unless it exists; returns its path, or
    /// the reason none can be made (recorded with the file, never a thrown error: a result is kept
    /// even when its thumbnail cannot be made).
    public func makeThumbnail(_ data: Data, sha256: String, info: ImageInfo) -> (path: URL?, skipped: String?) {
        let url = thumbnailPath(sha256: sha256)
        if FileManager.default.fileExists(atPath: url.path) { return (url, nil) }
        let thumb: Data
        do { thumb = try ImagePixels.thumbnail(data, info: info) } catch { return (nil, error.message) }
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(sha256).\(UUID().uuidString).tmp")
        do {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try thumb.write(to: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            return (nil, "the thumbnail cannot be written: \(error.localizedDescription)")
        }
        if rename(tmp.path, url.path) != 0 {
            try? FileManager.default.removeItem(at: tmp)
            if !FileManager.default.fileExists(atPath: url.path) {
                return (nil, "the thumbnail cannot be written to \(url.lastPathComponent)")
            }
        }
        return (url, nil)
    }

    /// The thumbnail of picture `index` of record `id`, made now if it was never tried (records stored
    /// before thumbnails existed) and recorded either way.
    ///
    /// - Throws: ``WendaoError`` `notFound` (no such record or picture), `unsupported` with the recorded
    ///   reason when no thumbnail can be made (a WebP, a picture over ``ImagePixels/maxDecodedPixels``:
    ///   its header is read, nothing decoded).
    public func thumbnail(recordID id: Int64, index: Int) throws -> URL {
        // One row of image_files, not the whole record: the gallery grid asks for 50 of these at once.
        let row = try wrap("cannot read image record \(id)") {
            try pool.read { db in
                try Row.fetchOne(
                    db, sql: "SELECT sha256, format, thumb FROM image_files WHERE record_id = ? AND idx = ?",
                    arguments: [id, index])
            }
        }
        guard let row else { throw WendaoError(.notFound, "image record \(id) has no picture \(index)") }
        let sha: String = row["sha256"]
        let format = ImageFormat(rawValue: row["format"]) ?? .png
        let thumb: String? = row["thumb"]
        let made = thumbnailPath(sha256: sha)
        if thumb == "", FileManager.default.fileExists(atPath: made.path) { return made }
        if let reason = thumb, !reason.isEmpty {
            throw WendaoError(.unsupported, "no thumbnail for picture \(index) of image \(id): \(reason)")
        }
        let file = (sha256: sha, path: path(sha256: sha, format: format).path)
        // Header first: a bomb is refused before its bytes are even read in full.
        let handle = FileHandle(forReadingAtPath: file.path)
        defer { try? handle?.close() }
        guard let handle, let head = try? handle.read(upToCount: 512 * 1024) else {
            throw WendaoError(.notFound, "the file of picture \(index) of image \(id) is missing")
        }
        var outcome: (path: URL?, skipped: String?)
        do {
            let info = try ImageSniffer.inspect(head)
            try ImagePixels.checkDecodable(info, purpose: "a thumbnail")
            // nil at the end of the file: all of it was in the head.
            let rest: Data?
            do { rest = try handle.readToEnd() } catch { throw WendaoError(.unreadable, "the file cannot be read") }
            outcome = makeThumbnail(head + (rest ?? Data()), sha256: file.sha256, info: info)
        } catch let e as WendaoError {
            outcome = (nil, e.message)
        } catch {
            outcome = (nil, "the file cannot be read")
        }
        let mark = outcome.path == nil ? (outcome.skipped ?? "no thumbnail") : ""
        try wrap("cannot record the thumbnail") {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE image_files SET thumb = ? WHERE sha256 = ?", arguments: [mark, file.sha256])
            }
        }
        guard let path = outcome.path else {
            throw WendaoError(.unsupported, "no thumbnail for picture \(index) of image \(id): \(mark)")
        }
        return path
    }

    // MARK: Records

    /// `2026-12-07T11:00:00Z` (what `ISO8601DateFormatter` writes), without making a formatter per call.
    static func iso(_ t: Double?) -> String? {
        guard let t, t.isFinite else { return nil }
        var seconds = time_t(t.rounded(.down))
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return nil }
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    /// The UTC day of a time, `2026-12-07`: the unit of the spending cap.
    public static func day(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        return f.string(from: date)
    }

    /// A new record (status `submitting`), before anything is sent; returns its id.
    public func create(
        kind: ImageTaskKind, prompt: String, negativePrompt: String?, parameters: [String: JSONValue], seed: Int?,
        model: String, provider: String, estimatedCost: Double?, currency: String, tags: [String] = [],
        owner: String? = nil, now: Date = Date(),
        admit: (@Sendable (_ spentToday: Double, _ ownerImagesToday: Int) throws -> Void)? = nil
    ) throws -> Int64 {
        let params = String(decoding: JSONValue.object(parameters).encoded, as: UTF8.self)
        let terms = analyzer.terms(prompt + " " + tags.joined(separator: " "))
        return try wrap("cannot record the image task") {
            try pool.write { db in
                // The cap and the quota are checked in the transaction that records the task, so two
                // tasks started at once cannot both pass the last of the budget.
                if let admit {
                    let day = Self.day(now)
                    let spent =
                        try Double.fetchOne(
                            db,
                            sql:
                                "SELECT COALESCE(SUM(COALESCE(cost, estimated_cost, 0)), 0) FROM image_records WHERE day = ?",
                            arguments: [day]) ?? 0
                    var used = 0
                    if let owner {
                        used =
                            try Int.fetchOne(
                                db,
                                sql: """
                                    SELECT COALESCE(SUM(CAST(json_extract(parameters, '$.n') AS INTEGER)), 0) FROM image_records
                                    WHERE owner = ? AND day = ? AND status NOT IN ('failed', 'canceled')
                                    """, arguments: [owner, day]) ?? 0
                    }
                    try admit(spent, used)
                }
                try db.execute(
                    sql: """
                        INSERT INTO image_records (kind, prompt, negative_prompt, parameters, seed, model, provider,
                            status, created_at, estimated_cost, currency, day, term_count, owner)
                        VALUES (?, ?, ?, ?, ?, ?, ?, 'submitting', ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        kind.rawValue, prompt, negativePrompt, params, seed, model, provider, now.timeIntervalSince1970,
                        estimatedCost, currency, Self.day(now), terms.count, owner,
                    ])
                let id = db.lastInsertedRowID
                try Self.index(db, id: id, terms: terms)
                for tag in Set(tags) {
                    try db.execute(sql: "INSERT INTO image_tags (record_id, tag) VALUES (?, ?)", arguments: [id, tag])
                }
                return id
            }
        }
    }

    static func index(_ db: Database, id: Int64, terms: [UInt64]) throws {
        try db.execute(sql: "DELETE FROM image_terms WHERE record_id = ?", arguments: [id])
        var counts: [UInt64: Int] = [:]
        for t in terms { counts[t, default: 0] += 1 }
        for (t, n) in counts {
            try db.execute(
                sql: "INSERT INTO image_terms (term, record_id, tf) VALUES (?, ?, ?)",
                arguments: [Int64(bitPattern: t), id, n])
        }
        try db.execute(sql: "UPDATE image_records SET term_count = ? WHERE id = ?", arguments: [terms.count, id])
    }

    /// Records the provider's task id (the task is now resumable after a restart).
    public func markSubmitted(_ id: Int64, taskID: String?, now: Date = Date()) throws {
        try wrap("cannot record the task id") {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE image_records SET task_id = ?, status = 'pending', submitted_at = ? WHERE id = ?",
                    arguments: [taskID, now.timeIntervalSince1970, id])
            }
        }
    }

    /// Sets the state of an unfinished task (pending → running).
    public func markStatus(_ id: Int64, _ status: ImageTaskStatus) throws {
        try wrap("cannot update the image task") {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE image_records SET status = ? WHERE id = ?", arguments: [status.rawValue, id])
            }
        }
    }

    /// Ends a task: its state, files, error, cost and the seed or prompt the provider reported.
    public func finish(
        _ id: Int64, status: ImageTaskStatus, files: [ImageFile], errorCode: String?, errorMessage: String?,
        cost: Double?, seed: Int? = nil, actualPrompt: String? = nil, now: Date = Date()
    ) throws {
        try wrap("cannot record the task result") {
            try pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE image_records SET status = ?, error_code = ?, error_message = ?, cost = ?,
                            seed = COALESCE(?, seed), actual_prompt = COALESCE(?, actual_prompt), finished_at = ?
                        WHERE id = ?
                        """,
                    arguments: [
                        status.rawValue, errorCode, errorMessage.map { String($0.prefix(2000)) }, cost, seed,
                        actualPrompt,
                        now.timeIntervalSince1970, id,
                    ])
                try db.execute(sql: "DELETE FROM image_files WHERE record_id = ?", arguments: [id])
                for f in files {
                    try db.execute(
                        sql: """
                            INSERT INTO image_files (record_id, idx, sha256, format, bytes, width, height, source_url,
                                thumb)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            id, f.index, f.sha256, f.format.rawValue, f.bytes, f.width, f.height, f.sourceURL,
                            f.thumbnailPath != nil ? "" : f.thumbnailSkipped,
                        ])
                }
            }
        }
    }

    func record(_ db: Database, _ row: Row) throws -> ImageRecord {
        try records(db, [row])[0]
    }

    /// Records from their rows, with the files and tags of all of them read in two queries (a page of 50
    /// is three queries, not 101).
    func records(_ db: Database, _ rows: [Row]) throws -> [ImageRecord] {
        guard !rows.isEmpty else { return [] }
        let ids = rows.map { $0["id"] as Int64 }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
        var files: [Int64: [ImageFile]] = [:]
        for f in try Row.fetchAll(
            db, sql: "SELECT * FROM image_files WHERE record_id IN (\(marks)) ORDER BY record_id, idx",
            arguments: StatementArguments(ids))
        {
            let format = ImageFormat(rawValue: f["format"]) ?? .png
            let sha: String = f["sha256"]
            let thumb: String? = f["thumb"]
            files[f["record_id"], default: []].append(
                ImageFile(
                    index: f["idx"], sha256: sha, format: format, bytes: f["bytes"], width: f["width"],
                    height: f["height"], path: path(sha256: sha, format: format).path, sourceURL: f["source_url"],
                    thumbnailPath: thumb == "" ? thumbnailPath(sha256: sha).path : nil,
                    thumbnailSkipped: thumb.flatMap { $0.isEmpty ? nil : $0 }))
        }
        var tags: [Int64: [String]] = [:]
        for t in try Row.fetchAll(
            db, sql: "SELECT record_id, tag FROM image_tags WHERE record_id IN (\(marks)) ORDER BY record_id, tag",
            arguments: StatementArguments(ids))
        {
            tags[t["record_id"], default: []].append(t["tag"])
        }
        return rows.map { record($0, files: files[$0["id"]] ?? [], tags: tags[$0["id"]] ?? []) }
    }

    func record(_ row: Row, files: [ImageFile], tags: [String]) -> ImageRecord {
        let id: Int64 = row["id"]
        let params = JSONValue.parse(Data((row["parameters"] as String).utf8))?.objectValue ?? [:]
        let submitted: Double? = row["submitted_at"]
        let finished: Double? = row["finished_at"]
        return ImageRecord(
            id: id, kind: ImageTaskKind(rawValue: row["kind"]) ?? .generate, prompt: row["prompt"],
            negativePrompt: row["negative_prompt"], parameters: params, seed: row["seed"], model: row["model"],
            provider: row["provider"], taskID: row["task_id"],
            status: ImageTaskStatus(rawValue: row["status"]) ?? .unknown, errorCode: row["error_code"],
            errorMessage: row["error_message"], actualPrompt: row["actual_prompt"],
            createdAt: Self.iso(row["created_at"]) ?? "", submittedAt: Self.iso(submitted),
            finishedAt: Self.iso(finished),
            seconds: Self.elapsed(submitted, finished),
            estimatedCost: row["estimated_cost"], cost: row["cost"], currency: row["currency"],
            favourite: (row["favourite"] as Int) != 0, tags: tags, files: files)
    }

    static func elapsed(_ from: Double?, _ to: Double?) -> Double? {
        guard let from, let to else { return nil }
        return ((to - from) * 1000).rounded() / 1000
    }

    /// The record with `id`.
    public func record(_ id: Int64) throws -> ImageRecord {
        try wrap("cannot read image record \(id)") {
            try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM image_records WHERE id = ?", arguments: [id])
                else { throw WendaoError(.notFound, "no image record \(id) (wendao image list shows them)") }
                return try record(db, row)
            }
        }
    }

    /// Records whose task is not over (to resume after a restart).
    public func unfinished() throws -> [ImageRecord] {
        try wrap("cannot list unfinished image tasks") {
            try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT * FROM image_records WHERE status IN ('submitting', 'pending', 'running') ORDER BY id"
                ).map { try record(db, $0) }
            }
        }
    }

    /// Money counted against the cap on `day`: the cost of finished tasks, the estimate of unfinished ones.
    public func spent(day: String) throws -> Double {
        try wrap("cannot sum today's image spending") {
            try pool.read { db in
                try Double.fetchOne(
                    db,
                    sql: "SELECT COALESCE(SUM(COALESCE(cost, estimated_cost, 0)), 0) FROM image_records WHERE day = ?",
                    arguments: [day]) ?? 0
            }
        }
    }

    /// Images asked for by `owner` on `day` (the `n` of every task not failed): the unit of per-key quotas.
    public func imagesRequested(owner: String, day: String) throws -> Int {
        try wrap("cannot count images") {
            try pool.read { db in
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT COALESCE(SUM(CAST(json_extract(parameters, '$.n') AS INTEGER)), 0) FROM image_records
                        WHERE owner = ? AND day = ? AND status NOT IN ('failed', 'canceled')
                        """, arguments: [owner, day]) ?? 0
            }
        }
    }

    /// Records matching `query`: by BM25 score of the prompt words when text is given, else newest first.
    public func list(_ query: GalleryQuery) throws -> (records: [ImageRecord], total: Int) {
        var conditions: [String] = []
        var args: [any DatabaseValueConvertible] = []
        if let tag = query.tag {
            conditions.append("id IN (SELECT record_id FROM image_tags WHERE tag = ?)")
            args.append(tag)
        }
        if query.favouritesOnly { conditions.append("favourite = 1") }
        if let s = query.status {
            conditions.append("status = ?")
            args.append(s.rawValue)
        }
        if let k = query.kind {
            conditions.append("kind = ?")
            args.append(k.rawValue)
        }
        let limit = max(1, min(query.limit, 500))
        let offset = max(0, query.offset)
        let terms = Array(Set(analyzer.terms(query.text ?? "")))
        return try wrap("cannot list the gallery") {
            try pool.read { db in
                let whereSQL = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
                if query.text?.trimmingCharacters(in: .whitespaces).isEmpty ?? true {
                    let total =
                        try Int.fetchOne(
                            db, sql: "SELECT COUNT(*) FROM image_records" + whereSQL,
                            arguments: StatementArguments(args)) ?? 0
                    let rows = try Row.fetchAll(
                        db,
                        sql: "SELECT * FROM image_records\(whereSQL) ORDER BY id DESC LIMIT \(limit) OFFSET \(offset)",
                        arguments: StatementArguments(args))
                    return (try records(db, rows), total)
                }
                guard !terms.isEmpty else { return ([], 0) }
                // BM25 (k1 1.2, b 0.75) over prompt + tag terms.
                let n = Double(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image_records") ?? 0)
                let avg = max(1, try Double.fetchOne(db, sql: "SELECT AVG(term_count) FROM image_records") ?? 1)
                var scores: [Int64: Double] = [:]
                for t in terms {
                    let postings = try Row.fetchAll(
                        db,
                        sql: """
                            SELECT t.record_id, t.tf, r.term_count FROM image_terms t
                            JOIN image_records r ON r.id = t.record_id WHERE t.term = ?
                            """, arguments: [Int64(bitPattern: t)])
                    let df = Double(postings.count)
                    guard df > 0 else { continue }
                    let idf = log(1 + (n - df + 0.5) / (df + 0.5))
                    for p in postings {
                        let tf = Double(p["tf"] as Int)
                        let len = Double(p["term_count"] as Int)
                        let s = idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avg))
                        scores[p["record_id"], default: 0] += s
                    }
                }
                var allowed: Set<Int64>?
                if !conditions.isEmpty {
                    allowed = Set(
                        try Int64.fetchAll(
                            db, sql: "SELECT id FROM image_records" + whereSQL, arguments: StatementArguments(args)))
                }
                let ranked = scores.filter { allowed?.contains($0.key) ?? true }
                    .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key > $1.key }
                let page = ranked.dropFirst(offset).prefix(limit).map(\.key)
                guard !page.isEmpty else { return ([], ranked.count) }
                let marks = Array(repeating: "?", count: page.count).joined(separator: ",")
                let rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM image_records WHERE id IN (\(marks))", arguments: StatementArguments(page))
                let byID = Dictionary(uniqueKeysWithValues: try records(db, rows).map { ($0.id, $0) })
                return (page.compactMap { byID[$0] }, ranked.count)
            }
        }
    }

    /// Adds and removes tags; returns the record.
    public func tag(_ id: Int64, add: [String], remove: [String]) throws -> ImageRecord {
        for t in add where t.isEmpty || t.count > 64 || t.contains(where: { $0.isNewline || $0 == "," }) {
            throw WendaoError(
                .invalidArgument, "tag '\(t.prefix(70))' must be 1–64 characters without commas or line breaks")
        }
        try wrap("cannot tag image record \(id)") {
            try pool.write { db in
                guard
                    let prompt = try String.fetchOne(
                        db, sql: "SELECT prompt FROM image_records WHERE id = ?", arguments: [id])
                else { throw WendaoError(.notFound, "no image record \(id)") }
                for t in add {
                    try db.execute(
                        sql: "INSERT OR IGNORE INTO image_tags (record_id, tag) VALUES (?, ?)", arguments: [id, t])
                }
                for t in remove {
                    try db.execute(sql: "DELETE FROM image_tags WHERE record_id = ? AND tag = ?", arguments: [id, t])
                }
                let tags = try String.fetchAll(
                    db, sql: "SELECT tag FROM image_tags WHERE record_id = ?", arguments: [id])
                try Self.index(db, id: id, terms: analyzer.terms(prompt + " " + tags.joined(separator: " ")))
            }
        }
        return try record(id)
    }

    /// Marks or unmarks a favourite; returns the record.
    public func setFavourite(_ id: Int64, _ on: Bool) throws -> ImageRecord {
        try wrap("cannot update image record \(id)") {
            try pool.write { db in
                try db.execute(sql: "UPDATE image_records SET favourite = ? WHERE id = ?", arguments: [on ? 1 : 0, id])
                guard db.changesCount > 0 else { throw WendaoError(.notFound, "no image record \(id)") }
            }
        }
        return try record(id)
    }

    static func tokenHash(_ token: String) -> String {
        var h = SHA256()
        h.update(Array(token.utf8))
        return h.hexDigest()
    }

    /// A new share link token for record `id` (32 random bytes, URL-safe base64; only its SHA-256 is
    /// kept, so the token is shown once). Anyone with it sees the record's pictures until it is revoked.
    public func share(_ id: Int64, now: Date = Date()) throws -> String {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        try wrap("cannot share image record \(id)") {
            try pool.write { db in
                guard try Int64.fetchOne(db, sql: "SELECT id FROM image_records WHERE id = ?", arguments: [id]) != nil
                else { throw WendaoError(.notFound, "no image record \(id)") }
                try db.execute(
                    sql: "INSERT INTO image_shares (token_hash, record_id, created_at) VALUES (?, ?, ?)",
                    arguments: [Self.tokenHash(token), id, now.timeIntervalSince1970])
            }
        }
        return token
    }

    /// Revokes every share link of record `id`; returns how many were live.
    @discardableResult
    public func revokeShares(_ id: Int64, now: Date = Date()) throws -> Int {
        try wrap("cannot revoke the share links of image record \(id)") {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE image_shares SET revoked_at = ? WHERE record_id = ? AND revoked_at IS NULL",
                    arguments: [now.timeIntervalSince1970, id])
                return db.changesCount
            }
        }
    }

    /// The record a live share token opens, or nil (unknown or revoked).
    public func sharedRecord(token: String) throws -> ImageRecord? {
        guard token.count >= 20, token.count <= 100 else { return nil }
        let id = try wrap("cannot read share links") {
            try pool.read { db in
                try Int64.fetchOne(
                    db, sql: "SELECT record_id FROM image_shares WHERE token_hash = ? AND revoked_at IS NULL",
                    arguments: [Self.tokenHash(token)])
            }
        }
        return try id.map { try record($0) }
    }

    /// Deletes a record, and its files unless another record holds the same picture.
    public func delete(_ id: Int64) throws {
        let r = try record(id)
        try wrap("cannot delete image record \(id)") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM image_records WHERE id = ?", arguments: [id])
            }
        }
        for f in r.files {
            let others = try wrap("cannot check shared files") {
                try pool.read { db in
                    try Int.fetchOne(
                        db, sql: "SELECT COUNT(*) FROM image_files WHERE sha256 = ?", arguments: [f.sha256]) ?? 0
                }
            }
            if others == 0 {
                try? FileManager.default.removeItem(atPath: f.path)
                try? FileManager.default.removeItem(at: thumbnailPath(sha256: f.sha256))
            }
        }
    }
}
