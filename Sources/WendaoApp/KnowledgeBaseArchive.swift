public import Foundation
public import WendaoCore

/// One knowledge base as a tar archive (`wendao kb export NAME > kb.tar`, `wendao kb import kb.tar`):
/// the way to move it between a SQLite data directory and a PostgreSQL database, either way, and
/// the backup of a single knowledge base of a SQLite install.
///
/// The archive holds `wendao-kb/manifest.json` (format, name, counts, the Wendao that wrote it) and
/// `wendao-kb/wendao.sqlite`: a SQLite store holding that knowledge base alone — its settings,
/// documents with their texts, chunks (disabled and edited flags kept), curated answers and
/// conversations — copied through the store contract (``StoreCopy``). It carries no accounts, API
/// key hashes, share links or provider keys, and no vectors or index files: every server builds
/// its indexes again, and vectors are embedded again when first needed.
///
/// Import never overwrites: a knowledge base of the same name stops it before anything is written,
/// and an import that fails part-way removes what it wrote.
public enum KnowledgeBaseArchive {
    /// The archive's format version (`manifest.json` `format`).
    public static let format = 1
    static let folder = "wendao-kb"

    /// What `manifest.json` says.
    public struct Manifest: Codable, Sendable, Equatable {
        /// The archive format (``KnowledgeBaseArchive/format``).
        public var format: Int
        /// The knowledge base's name.
        public var name: String
        /// Documents.
        public var documents: Int
        /// Chunks.
        public var chunks: Int
        /// Conversations.
        public var conversations: Int
        /// Curated answers.
        public var curatedAnswers: Int
        /// When it was written (ISO 8601).
        public var exportedAt: String

        enum CodingKeys: String, CodingKey {
            case format, name, documents, chunks, conversations
            case curatedAnswers = "curated_answers"
            case exportedAt = "exported_at"
        }
    }

    /// Writes knowledge base `name` of `store` as a tar archive to `output`; returns its manifest.
    ///
    /// - Throws: `notFound` when `store` has no such knowledge base; `.storage` when a temporary
    ///   file cannot be written.
    public static func export(
        _ name: String, from store: any KnowledgeStore, to output: FileHandle,
        openSQLite: (URL) throws -> any KnowledgeStore
    ) throws -> Manifest {
        let work = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: work) }
        let summary: StoreCopy.Summary
        do {
            // The store is released at the end of this scope (its pool closes and checkpoints the WAL).
            let target = try openSQLite(work)
            summary = try StoreCopy.copy(from: store, to: target, knowledgeBases: [name], accounts: false)
        }
        let manifest = Manifest(
            format: format, name: summary.knowledgeBases.first ?? name, documents: summary.documents,
            chunks: summary.chunks, conversations: summary.conversations, curatedAnswers: summary.curatedAnswers,
            exportedAt: ISO8601DateFormatter().string(from: Date()))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let writer = TarWriter(output)
        try writer.add(name: "\(folder)/manifest.json", data: try encoder.encode(manifest))
        for file in ["wendao.sqlite", "wendao.sqlite-wal"] {
            let url = work.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            try writer.add(name: "\(folder)/\(file)", file: url)
        }
        try writer.finish()
        return manifest
    }

    /// Reads an archive from `input` (a file, or standard input) and copies its knowledge base into
    /// `store`; returns the manifest.
    ///
    /// - Throws: `.unreadable` naming what is wrong when `input` is not a Wendao knowledge-base
    ///   archive (or one from a newer Wendao); `alreadyExists` when `store` has a knowledge base of
    ///   that name (nothing written).
    public static func `import`(
        from input: FileHandle, into store: any KnowledgeStore, openSQLite: (URL) throws -> any KnowledgeStore
    ) throws -> Manifest {
        let work = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: work) }
        var manifestData: Data?
        try TarReader.read(input) { name, size, body in
            switch name {
            case "\(folder)/manifest.json":
                guard size <= 1 << 20 else { throw WendaoError(.unreadable, "the archive's manifest is too large") }
                var data = Data()
                try body { data.append($0) }
                manifestData = data
            case "\(folder)/wendao.sqlite", "\(folder)/wendao.sqlite-wal":
                let url = work.appendingPathComponent(String(name.dropFirst(folder.count + 1)))
                guard FileManager.default.createFile(atPath: url.path, contents: nil),
                    let out = try? FileHandle(forWritingTo: url)
                else { throw WendaoError(.storage, "cannot write a temporary file in \(work.path)") }
                defer { try? out.close() }
                try body { try out.write(contentsOf: $0) }
            default:
                try body { _ in }  // anything else is skipped
            }
        }
        guard let manifestData else {
            throw WendaoError(.unreadable, "not a Wendao knowledge-base archive (no \(folder)/manifest.json)")
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: manifestData)
        } catch {
            throw WendaoError(.unreadable, "the archive's manifest cannot be read: \(error)")
        }
        guard manifest.format <= format else {
            throw WendaoError(
                .unreadable, "the archive is format \(manifest.format), written by a newer Wendao; upgrade to import it"
            )
        }
        guard FileManager.default.fileExists(atPath: work.appendingPathComponent("wendao.sqlite").path) else {
            throw WendaoError(.unreadable, "not a Wendao knowledge-base archive (no \(folder)/wendao.sqlite)")
        }
        let source = try openSQLite(work)
        guard try source.knowledgeBase(named: manifest.name) != nil else {
            throw WendaoError(.unreadable, "the archive does not hold knowledge base '\(manifest.name)'")
        }
        do {
            _ = try StoreCopy.copy(from: source, to: store, knowledgeBases: [manifest.name], accounts: false)
        } catch let e as WendaoError where e.code == .alreadyExists {
            throw e
        } catch {
            // Part-way: remove what was written, so that the import can simply be run again.
            if let partial = try? store.knowledgeBase(named: manifest.name) {
                try? store.deleteKnowledgeBase(id: partial.id)
            }
            throw error
        }
        return manifest
    }

    private static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "wendao-kb-archive-\(UUID().uuidString)", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw WendaoError(.storage, "cannot create a temporary folder \(url.path): \(error.localizedDescription)")
        }
        return url
    }
}

/// Writes a POSIX ustar archive of regular files, streaming.
struct TarWriter {
    let output: FileHandle

    init(_ output: FileHandle) { self.output = output }

    func add(name: String, data: Data) throws {
        try write(header(name: name, size: data.count))
        try write(data)
        try pad(data.count)
    }

    func add(name: String, file: URL) throws {
        let size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.intValue ?? 0
        guard let input = try? FileHandle(forReadingFrom: file) else {
            throw WendaoError(.storage, "cannot read \(file.path)")
        }
        defer { try? input.close() }
        try write(header(name: name, size: size))
        var written = 0
        while written < size {
            guard let piece = try input.read(upToCount: min(1 << 20, size - written)), !piece.isEmpty else {
                throw WendaoError(.storage, "\(file.path) changed while it was archived")
            }
            try write(piece)
            written += piece.count
        }
        try pad(size)
    }

    /// The two zero blocks that end an archive.
    func finish() throws { try write(Data(count: 1024)) }

    private func pad(_ size: Int) throws {
        let rest = size % 512
        if rest != 0 { try write(Data(count: 512 - rest)) }
    }

    private func write(_ data: Data) throws {
        do {
            try output.write(contentsOf: data)
        } catch {
            throw WendaoError(.storage, "cannot write the archive: \(error.localizedDescription)")
        }
    }

    private func header(name: String, size: Int) throws -> Data {
        let nameBytes = Array(name.utf8)
        guard nameBytes.count <= 100 else { throw WendaoError(.internal, "tar entry name too long: \(name)") }
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at offset: Int) { for (i, b) in bytes.enumerated() { h[offset + i] = b } }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            Array(String(value, radix: 8).leftPadded(to: width - 1).utf8) + [0]
        }
        put(nameBytes, at: 0)
        put(octal(0o644, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(size, width: 12), at: 124)
        put(octal(Int(Date().timeIntervalSince1970), width: 12), at: 136)
        put(Array("        ".utf8), at: 148)
        h[156] = UInt8(ascii: "0")
        put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257)
        let sum = h.reduce(0) { $0 + Int($1) }
        put(Array(String(sum, radix: 8).leftPadded(to: 6).utf8) + [0, UInt8(ascii: " ")], at: 148)
        return Data(h)
    }
}

/// Reads a ustar (or GNU/pax) archive entry by entry, streaming; pax and GNU extension headers are
/// skipped as entries of their own.
enum TarReader {
    /// Calls `entry(name, size, body)` for each regular file; `body` hands the file's bytes in
    /// pieces to its argument and must be called once.
    static func read(
        _ input: FileHandle,
        entry: (String, Int, ((Data) throws -> Void) throws -> Void) throws -> Void
    ) throws {
        func exactly(_ n: Int) throws -> Data {
            var data = Data()
            while data.count < n {
                guard let piece = try input.read(upToCount: n - data.count), !piece.isEmpty else {
                    throw WendaoError(.unreadable, "the archive ends early (truncated)")
                }
                data.append(piece)
            }
            return data
        }
        var sawHeader = false
        while true {
            guard let first = try input.read(upToCount: 512), !first.isEmpty else {
                guard sawHeader else { throw WendaoError(.unreadable, "the archive is empty") }
                return
            }
            var block = first
            if block.count < 512 { block.append(try exactly(512 - block.count)) }
            if block.allSatisfy({ $0 == 0 }) { return }
            let h = [UInt8](block)
            let stored = h[148..<156]
            let sum = h[0..<148].reduce(0) { $0 + Int($1) } + 8 * 32 + h[156..<512].reduce(0) { $0 + Int($1) }
            guard let expected = octalValue(stored), expected == sum else {
                throw WendaoError(.unreadable, "not a tar archive (a header's checksum does not match)")
            }
            sawHeader = true
            let name = String(decoding: h[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            guard let size = octalValue(h[124..<136]), size >= 0 else {
                throw WendaoError(.unreadable, "a tar header's size cannot be read")
            }
            let type = h[156]
            var consumed = 0
            let body: ((Data) throws -> Void) throws -> Void = { sink in
                while consumed < size {
                    let piece = try exactly(min(1 << 20, size - consumed))
                    consumed += piece.count
                    try sink(piece)
                }
            }
            if type == UInt8(ascii: "0") || type == 0 {
                try entry(name, size, body)
            }
            try body { _ in }  // whatever the entry did not read
            let rest = size % 512
            if rest != 0 { _ = try exactly(512 - rest) }
        }
    }

    private static func octalValue(_ bytes: ArraySlice<UInt8>) -> Int? {
        let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? 0 : Int(text, radix: 8)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
