public import Foundation
public import WendaoCore
import WendaoEval

#if canImport(Glibc)
    import Glibc
#endif

/// What a dataset was made from and how: written when it is created, read on resume (a resume with
/// another knowledge base or teacher is refused).
public struct DatasetManifest: Sendable, Codable, Equatable {
    /// The dataset's name.
    public var name: String
    /// The knowledge base its chunks come from.
    public var kb: String
    /// The teacher model.
    public var teacher: String
    /// The prompt version.
    public var promptVersion: String
    /// The question styles asked for.
    public var styles: [QuestionStyle]
    /// Chunks per document at most.
    public var perDocument: Int
    /// Chunks in all at most (nil: no cap).
    public var limit: Int?
    /// Seed of the chunk order and the splits.
    public var seed: UInt64
    /// The chunks selected (in order): resume works through the same list.
    public var selectedChunks: [Int64]
    /// Documents in the knowledge base when the chunks were selected.
    public var documentCount: Int
    /// When it was created (ISO 8601).
    public var createdAt: String

    /// Creates a manifest.
    public init(
        name: String, kb: String, teacher: String, promptVersion: String, styles: [QuestionStyle], perDocument: Int,
        limit: Int?, seed: UInt64, selectedChunks: [Int64], documentCount: Int, createdAt: String
    ) {
        self.name = name
        self.kb = kb
        self.teacher = teacher
        self.promptVersion = promptVersion
        self.styles = styles
        self.perDocument = perDocument
        self.limit = limit
        self.seed = seed
        self.selectedChunks = selectedChunks
        self.documentCount = documentCount
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case name, kb, teacher, promptVersion = "prompt_version", styles, perDocument = "per_document", limit, seed
        case selectedChunks = "selected_chunks", documentCount = "document_count", createdAt = "created_at"
    }
}

/// A dataset on disk: `<data>/tune/datasets/<name>/` holds
///
/// - `manifest.json` — ``DatasetManifest``;
/// - `raw.jsonl` — one ``ChunkCheckpoint`` a line, appended as chunks finish (the checkpoint of resume);
/// - `examples.jsonl` — every generated example after cleaning, one ``TuneExample`` a line, dropped ones
///   included with their reason (`status`, `drop_reason`, `split`);
/// - `report.json` — the cleaning counts; `stats.json` and `stats.html` — the statistics;
/// - `.lock` — held by the process writing the dataset.
///
/// Teacher responses are cached in `<data>/tune/cache/responses.jsonl` (shared by datasets).
public struct DatasetStore: Sendable {
    /// `<data>/tune`.
    public let root: URL

    /// The studio's folder in `dataDirectory`.
    public init(dataDirectory: URL) { root = dataDirectory.appendingPathComponent("tune") }

    /// `<root>/cache/responses.jsonl`.
    public var responseCache: URL { root.appendingPathComponent("cache/responses.jsonl") }

    /// The folder of dataset `name` (the name is checked).
    public func folder(_ name: String) throws(WendaoError) -> URL {
        try Self.validate(name)
        return root.appendingPathComponent("datasets").appendingPathComponent(name)
    }

    /// Dataset names: 1–64 letters (any script), digits, `-`, `_`, `.`; not starting with `.`.
    public static func validate(_ name: String) throws(WendaoError) {
        let ok =
            !name.isEmpty && name.unicodeScalars.count <= 64 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy {
                $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "."
            }
        guard ok else {
            throw WendaoError(
                .invalidArgument,
                "invalid dataset name '\(name.prefix(80))': use 1–64 letters, digits, '-', '_' or '.' (not first)")
        }
    }

    /// The datasets there are, by name.
    public func names() -> [String] {
        let dir = root.appendingPathComponent("datasets")
        let items = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return items.filter {
            FileManager.default.fileExists(
                atPath: dir.appendingPathComponent($0).appendingPathComponent("manifest.json").path)
        }.sorted()
    }

    /// The manifest of `name`, or `notFound`.
    public func manifest(_ name: String) throws(WendaoError) -> DatasetManifest {
        let file = try folder(name).appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: file) else {
            throw WendaoError(
                .notFound,
                "no dataset '\(name)' (wendao tune dataset list shows them; tune dataset create makes one)")
        }
        do {
            return try JSONDecoder().decode(DatasetManifest.self, from: data)
        } catch {
            throw WendaoError(.storage, "\(file.path): not a dataset manifest (\(error))")
        }
    }

    /// Writes `manifest` (creating the folder).
    public func write(_ manifest: DatasetManifest) throws(WendaoError) {
        let dir = try folder(manifest.name)
        try writeFile(
            dir.appendingPathComponent("manifest.json"),
            (try? TuneJSON.encoder(pretty: true).encode(manifest)) ?? Data())
    }

    /// Writes `data` to `file` atomically, or a storage error naming the file.
    public func writeFile(_ file: URL, _ data: Data) throws(WendaoError) {
        do {
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: file, options: .atomic)
        } catch {
            throw WendaoError(.storage, "cannot write \(file.path): \(error.localizedDescription)")
        }
    }

    /// The checkpoints in `raw.jsonl` (a damaged last line, from a process killed mid-write, is skipped;
    /// a later line for the same chunk wins).
    public func checkpoints(_ name: String) throws(WendaoError) -> [ChunkCheckpoint] {
        let file = try folder(name).appendingPathComponent("raw.jsonl")
        guard let data = try? Data(contentsOf: file) else { return [] }
        let decoder = JSONDecoder()
        var byChunk: [Int64: Int] = [:]
        var out: [ChunkCheckpoint] = []
        for line in data.split(separator: 0x0A) where !line.isEmpty {
            guard let c = try? decoder.decode(ChunkCheckpoint.self, from: Data(line)) else { continue }
            if let i = byChunk[c.chunk] {
                out[i] = c
            } else {
                byChunk[c.chunk] = out.count
                out.append(c)
            }
        }
        return out
    }

    /// Every generated example, in checkpoint order.
    public func rawExamples(_ name: String) throws(WendaoError) -> [TuneExample] {
        try checkpoints(name).flatMap(\.examples)
    }

    /// The cleaned examples (`examples.jsonl`), or `notFound` when the dataset was never cleaned.
    public func examples(_ name: String) throws(WendaoError) -> [TuneExample] {
        let file = try folder(name).appendingPathComponent("examples.jsonl")
        guard let data = try? Data(contentsOf: file) else {
            throw WendaoError(
                .notFound, "dataset '\(name)' has no cleaned examples yet (wendao tune dataset clean \(name))")
        }
        let decoder = JSONDecoder()
        var out: [TuneExample] = []
        for (n, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() where !line.isEmpty
        {
            do {
                out.append(try decoder.decode(TuneExample.self, from: Data(line)))
            } catch {
                throw WendaoError(.storage, "\(file.path) line \(n + 1): not an example (\(error))")
            }
        }
        return out
    }

    /// Writes the cleaned examples.
    public func writeExamples(_ name: String, _ examples: [TuneExample]) throws(WendaoError) {
        var data = Data()
        for e in examples { data.append(TuneJSON.line(e)) }
        try writeFile(try folder(name).appendingPathComponent("examples.jsonl"), data)
    }

    /// Keeps the texts of the selected chunks (`chunks.jsonl`): exports with context and the review show
    /// the chunk an example was written from even after the knowledge base changed.
    public func writeChunks(_ name: String, _ chunks: [SourceChunk]) throws(WendaoError) {
        var data = Data()
        for c in chunks { data.append(TuneJSON.line(c)) }
        try writeFile(try folder(name).appendingPathComponent("chunks.jsonl"), data)
    }

    /// The kept chunk texts by id (partners of comparisons included).
    public func chunks(_ name: String) throws(WendaoError) -> [Int64: SourceChunk] {
        let file = try folder(name).appendingPathComponent("chunks.jsonl")
        guard let data = try? Data(contentsOf: file) else { return [:] }
        var out: [Int64: SourceChunk] = [:]
        let decoder = JSONDecoder()
        for line in data.split(separator: 0x0A) where !line.isEmpty {
            if let c = try? decoder.decode(SourceChunk.self, from: Data(line)) { out[c.id] = c }
        }
        return out
    }

    /// Reads `report.json`.
    public func report(_ name: String) throws(WendaoError) -> CleaningReport? {
        let file = try folder(name).appendingPathComponent("report.json")
        guard let data = try? Data(contentsOf: file) else { return nil }
        return try? JSONDecoder().decode(CleaningReport.self, from: data)
    }

    /// Deletes dataset `name`.
    public func delete(_ name: String) throws(WendaoError) {
        _ = try manifest(name)
        let dir = try folder(name)
        do { try FileManager.default.removeItem(at: dir) } catch {
            throw WendaoError(.storage, "cannot delete \(dir.path): \(error.localizedDescription)")
        }
    }

    /// Takes the dataset's lock (another process writing it is an error that says so).
    public func lock(_ name: String) throws(WendaoError) -> DatasetLock {
        let dir = try folder(name)
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(".lock").path
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw WendaoError(.storage, "cannot open \(path)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(fd)
            throw WendaoError(.alreadyExists, "another process is writing dataset '\(name)' (\(path)); wait for it")
        }
        return DatasetLock(fd: fd)
    }
}

/// The lock of a dataset being written; ``unlock()`` releases it.
public final class DatasetLock: Sendable {
    private let fd: Int32

    init(fd: Int32) { self.fd = fd }

    /// Releases the lock.
    public func unlock() {
        flock(fd, LOCK_UN)
        Glibc.close(fd)
    }
}

/// Appends checkpoints to `raw.jsonl`, one line each, as chunks finish.
final class CheckpointWriter: Sendable {
    private let handle: Locked<FileHandleBox>

    init(file: URL) throws(WendaoError) {
        let fm = FileManager.default
        try? fm.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        var brokenLine = false
        if let data = try? Data(contentsOf: file) { brokenLine = data.last.map { $0 != 0x0A } ?? false }
        if !fm.fileExists(atPath: file.path) { _ = fm.createFile(atPath: file.path, contents: nil) }
        guard let h = try? FileHandle(forWritingTo: file) else {
            throw WendaoError(.storage, "cannot write \(file.path)")
        }
        _ = try? h.seekToEnd()
        if brokenLine { _ = try? h.write(contentsOf: Data([0x0A])) }
        handle = Locked(FileHandleBox(h))
    }

    func append(_ c: ChunkCheckpoint) {
        let line = TuneJSON.line(c)
        handle.withLock { box in
            _ = try? box.handle?.write(contentsOf: line)
            return ()
        }
    }

    func close() {
        handle.withLock { box in
            _ = try? box.handle?.close()
            box.handle = nil
            return ()
        }
    }
}

/// A file handle as a lock's value.
struct FileHandleBox: @unchecked Sendable {
    var handle: FileHandle?
    init(_ h: FileHandle) { handle = h }
}
