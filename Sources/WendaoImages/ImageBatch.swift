import Foundation
public import WendaoCore

/// One product of a batch CSV.
public struct ProductRow: Sendable, Equatable {
    /// 1-based row number (the header is row 0).
    public var row: Int
    /// The product's name.
    public var name: String
    /// What it is (material, colour, …).
    public var description: String
    /// Where to show it (`书桌`, `海边度假`, `中秋节`); empty for a plain product shot.
    public var scene: String

    /// Creates a row.
    public init(row: Int, name: String, description: String, scene: String) {
        self.row = row
        self.name = name
        self.description = description
        self.scene = scene
    }
}

/// E-commerce scene templates that turn a product row into a prompt.
public enum SceneTemplate: String, Sendable, CaseIterable {
    /// A product shot on a pure white background (main picture).
    case white
    /// The product in a lifestyle scene (the row's `scene`).
    case lifestyle
    /// A festival poster (the row's `scene` names the festival).
    case festival
    /// `white` when the row has no scene, else `lifestyle`.
    case auto

    /// The prompt for `row`.
    public func prompt(for row: ProductRow) -> String {
        let subject = [row.name, row.description].filter { !$0.isEmpty }.joined(separator: "，")
        switch self {
        case .white:
            return "\(subject)，纯白背景，电商主图，商业产品摄影，柔和棚拍光，居中构图，高清细节"
        case .lifestyle:
            let scene = row.scene.isEmpty ? "温馨的家居环境" : row.scene
            return "\(subject)，置于\(scene)中，生活方式场景，自然光，真实质感，浅景深，高清"
        case .festival:
            let festival = row.scene.isEmpty ? "节日" : row.scene
            return "\(festival)主题促销海报，主体：\(subject)，喜庆氛围，中国风装饰，留白排版，高清"
        case .auto:
            return (row.scene.isEmpty ? SceneTemplate.white : .lifestyle).prompt(for: row)
        }
    }
}

/// Reads product CSVs: a header naming `name` (or `名称`/`商品`), `description` (`描述`) and `scene`
/// (`场景`), any order, other columns ignored; RFC 4180 quoting; UTF-8 with or without BOM.
public enum ProductCSV {
    /// The rows of `text`.
    ///
    /// - Throws: ``WendaoError`` `invalidArgument` without a name column, or with more than 10,000 rows.
    public static func parse(_ text: String) throws(WendaoError) -> [ProductRow] {
        var records = records(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
        guard !records.isEmpty else { throw WendaoError(.invalidArgument, "the CSV is empty") }
        let header = records.removeFirst().map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        func column(_ names: [String]) -> Int? { header.firstIndex { names.contains($0) } }
        guard let name = column(["name", "名称", "商品", "商品名称", "product"]) else {
            throw WendaoError(.invalidArgument, "the CSV needs a header with a 'name' column (and description, scene)")
        }
        let description = column(["description", "描述", "商品描述", "卖点"])
        let scene = column(["scene", "场景"])
        guard records.count <= 10_000 else {
            throw WendaoError(.invalidArgument, "the CSV has \(records.count) rows; a batch takes at most 10,000")
        }
        var out: [ProductRow] = []
        for (i, r) in records.enumerated() {
            func field(_ c: Int?) -> String {
                guard let c, c < r.count else { return "" }
                return r[c].trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let n = field(name)
            if n.isEmpty { continue }
            out.append(ProductRow(row: i + 1, name: n, description: field(description), scene: field(scene)))
        }
        return out
    }

    static func records(_ text: String) -> [[String]] {
        var out: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text)
        chars.append("\n")
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" {
                        field.append("\"")
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                quoted = true
            } else if c == "," {
                row.append(field)
                field = ""
            } else if c == "\n" || c == "\r\n" || c == "\r" {
                row.append(field)
                field = ""
                if !(row.count == 1 && row[0].isEmpty) { out.append(row) }
                row = []
            } else {
                field.append(c)
            }
            i += 1
        }
        return out
    }
}

/// What a batch did.
public struct BatchReport: Sendable, Encodable {
    /// The batch's name (its tag is `batch:NAME`).
    public var batch: String
    /// Rows in the CSV.
    public var rows: Int
    /// Rows already done in an earlier run (skipped).
    public var skipped: Int
    /// Records made in this run, by row.
    public var made: [Made]
    /// Why the run stopped early (the daily cap, …), naming the row; nil when it finished.
    public var stoppedAt: Int?
    /// The reason.
    public var stopReason: String?

    /// One record of the run.
    public struct Made: Sendable, Encodable {
        /// CSV row.
        public var row: Int
        /// Gallery record.
        public var id: Int64
        /// Its status.
        public var status: ImageTaskStatus
        /// Stored files.
        public var files: [ImageFile]
    }

    enum CodingKeys: String, CodingKey {
        case batch, rows, skipped, made
        case stoppedAt = "stopped_at"
        case stopReason = "stop_reason"
    }
}

extension ImageStudio {
    /// Makes pictures for every product row: the template's prompt (or `writer`'s, given the template's
    /// as a draft), tagged `batch:NAME` and `row:N`. Rows with a succeeded record of this batch are
    /// skipped, so running the same command again resumes; the daily cap (or any refusal before
    /// spending) stops the run at that row and says so. `concurrency` rows are made at once (the
    /// provider's own task limit is the only other bound); `made` is in row order.
    public func batch(
        _ rows: [ProductRow], name: String, template: SceneTemplate, base: GenerateRequest,
        writer: (@Sendable (ProductRow, String) async throws -> String)? = nil, concurrency: Int = 1,
        progress: (@Sendable (String) -> Void)? = nil
    ) async throws -> BatchReport {
        let tag = "batch:\(name)"
        var q = GalleryQuery(limit: 500)
        q.tag = tag
        q.status = .succeeded
        var done: Set<Int> = []
        while true {
            let page = try gallery.list(q).records
            for r in page {
                for t in r.tags where t.hasPrefix("row:") { if let n = Int(t.dropFirst(4)) { done.insert(n) } }
            }
            if page.count < q.limit { break }
            q.offset += q.limit
        }
        var report = BatchReport(batch: name, rows: rows.count, skipped: 0, made: [])
        let pending = rows.filter { !done.contains($0.row) }
        report.skipped = rows.count - pending.count
        /// One row's outcome: a record, or the refusal that stops the batch.
        enum Outcome: Sendable {
            case made(ProductRow, ImageRecord)
            case stop(ProductRow, String)
        }
        let makeRow: @Sendable (ProductRow) async throws -> Outcome = { row in
            var prompt = template.prompt(for: row)
            if let writer { prompt = try await writer(row, prompt) }
            var r = base
            r.prompt = prompt
            r.tags = base.tags + [tag, "row:\(row.row)"]
            do {
                return .made(row, try await self.generate(r))
            } catch let e as WendaoError where [.limitExceeded, .invalidArgument, .unauthenticated].contains(e.code) {
                return .stop(row, e.message)
            }
        }
        // At most `concurrency` rows in flight; after a refusal no further row starts (rows already
        // in flight finish and are recorded), and the report names the first refused row.
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            var next = 0
            var stopped = false
            func startNext() {
                guard !stopped, next < pending.count else { return }
                let row = pending[next]
                next += 1
                group.addTask { try await makeRow(row) }
            }
            for _ in 0..<max(1, concurrency) { startNext() }
            while let outcome = try await group.next() {
                switch outcome {
                case .made(let row, let record):
                    report.made.append(.init(row: row.row, id: record.id, status: record.status, files: record.files))
                    progress?("row \(row.row) (\(row.name)): #\(record.id) \(record.status.rawValue)")
                case .stop(let row, let message):
                    if report.stoppedAt.map({ row.row < $0 }) ?? true {
                        report.stoppedAt = row.row
                        report.stopReason = message
                    }
                    if !stopped { progress?("stopped at row \(row.row) (\(row.name)): \(message)") }
                    stopped = true
                }
                startNext()
            }
        }
        report.made.sort { $0.row < $1.row }
        return report
    }
}
