public import Foundation
public import WendaoCore

/// Limits an input picture must meet before any money is spent.
public struct InputLimits: Sendable, Equatable {
    /// Smallest file, bytes.
    public var minBytes: Int
    /// Largest file, bytes.
    public var maxBytes: Int
    /// Smallest side, pixels (as displayed).
    public var minSide: Int
    /// Largest side, pixels (as displayed).
    public var maxSide: Int

    /// Creates limits.
    public init(minBytes: Int, maxBytes: Int, minSide: Int, maxSide: Int) {
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.minSide = minSide
        self.maxSide = maxSide
    }

    /// DashScope's OutfitAnyone: 5 KB–5 MB, sides 150–4096 pixels.
    public static let dashScopeTryOn = InputLimits(
        minBytes: 5 * 1024, maxBytes: 5 * 1024 * 1024, minSide: 150, maxSide: 4096)
    /// Other providers' inputs: up to 20 MB, sides 64–4096.
    public static let general = InputLimits(minBytes: 1, maxBytes: 20 * 1024 * 1024, minSide: 64, maxSide: 4096)
}

/// Checks of local input pictures (try-on person and garments, initial images).
public enum InputChecks {
    /// Reads and checks `file` for `role`: type by content (PNG, JPEG, WebP only; an `.jpg` that is HTML
    /// or an SVG is refused), size in bytes, and pixel size from the header with the EXIF orientation
    /// applied — no pixel is decoded, so a small file declaring a huge canvas is refused cheaply.
    ///
    /// - Throws: ``WendaoError`` `invalidArgument` naming the file and the limit.
    public static func check(file: URL, role: String, limits: InputLimits) throws(WendaoError) -> (Data, ImageInfo) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: file.path, isDirectory: &isDir), !isDir.boolValue else {
            throw WendaoError(.notFound, "\(role) image \(file.path): no such file")
        }
        let size = ((try? fm.attributesOfItem(atPath: file.path))?[.size] as? NSNumber)?.intValue ?? 0
        guard size <= limits.maxBytes else {
            throw WendaoError(
                .invalidArgument,
                "\(role) image \(file.lastPathComponent) is \(bytes(size)); the provider accepts at most \(bytes(limits.maxBytes))"
            )
        }
        guard let data = fm.contents(atPath: file.path) else {
            throw WendaoError(.unreadable, "\(role) image \(file.path) cannot be read")
        }
        return (data, try check(data: data, name: file.lastPathComponent, role: role, limits: limits))
    }

    /// Checks bytes already in memory (uploads).
    public static func check(data: Data, name: String, role: String, limits: InputLimits) throws(WendaoError)
        -> ImageInfo
    {
        guard data.count <= limits.maxBytes else {
            throw WendaoError(
                .invalidArgument,
                "\(role) image \(name) is \(bytes(data.count)); the provider accepts at most \(bytes(limits.maxBytes))")
        }
        guard data.count >= limits.minBytes else {
            throw WendaoError(
                .invalidArgument,
                "\(role) image \(name) is \(bytes(data.count)); the provider needs at least \(bytes(limits.minBytes))")
        }
        let info: ImageInfo
        do { info = try ImageSniffer.inspect(data) } catch {
            throw WendaoError(.invalidArgument, "\(role) image \(name) is \(error.message)")
        }
        let w = info.displayWidth
        let h = info.displayHeight
        guard max(w, h) <= limits.maxSide else {
            throw WendaoError(
                .invalidArgument,
                "\(role) image \(name) is \(w)×\(h) pixels; sides may be at most \(limits.maxSide) (the header was read, no pixel decoded)"
            )
        }
        guard min(w, h) >= limits.minSide else {
            throw WendaoError(
                .invalidArgument, "\(role) image \(name) is \(w)×\(h) pixels; sides must be at least \(limits.minSide)")
        }
        return info
    }

    static func bytes(_ n: Int) -> String {
        if n >= 1024 * 1024 { return String(format: "%.1f MB", Double(n) / 1_048_576) }
        if n >= 1024 { return String(format: "%.1f KB", Double(n) / 1024) }
        return "\(n) bytes"
    }
}
