import Foundation

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#endif

/// A read-only memory-mapped file, unmapped when the last reference goes away: the one `mmap`
/// opener of the code base (model weights, BM25 segments, vector index files).
public final class MappedFile: @unchecked Sendable {
    /// Why a file could not be mapped.
    public struct Failure: Error, Sendable {
        /// The step that failed.
        public enum Step: Sendable {
            /// `open(2)`.
            case open
            /// `fstat(2)`.
            case stat
            /// The path is not a regular file (only checked when asked).
            case notRegularFile
            /// `mmap(2)`.
            case map
        }

        /// The step that failed.
        public var step: Step
        /// The system's reason (`strerror(errno)`; empty for ``Step/notRegularFile``).
        public var reason: String
    }

    /// First byte of the mapping (nil for an empty file).
    public let bytes: UnsafeRawPointer?
    /// Length in bytes.
    public let count: Int
    /// Where the file was read from.
    public let path: String

    /// Maps the regular file at `path` read-only.
    /// - Throws: ``WendaoError`` `.unreadable` naming the path and the reason.
    public init(path: String) throws(WendaoError) {
        self.path = path
        do {
            (bytes, count) = try Self.map(path, regularFilesOnly: true)
        } catch {
            let what =
                switch error.step {
                case .open: "cannot open (\(error.reason))"
                case .stat: "cannot stat (\(error.reason))"
                case .notRegularFile: "not a regular file"
                case .map: "cannot map (\(error.reason))"
                }
            throw WendaoError(.unreadable, "\(path): \(what)")
        }
    }

    /// Maps `path` read-only whatever kind of file it is, for readers that report failures in their
    /// own terms.
    /// - Throws: ``Failure`` with the step that failed.
    public init(mapping path: String) throws(Failure) {
        self.path = path
        (bytes, count) = try Self.map(path, regularFilesOnly: false)
    }

    private static func map(_ path: String, regularFilesOnly: Bool) throws(Failure) -> (UnsafeRawPointer?, Int) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure(step: .open, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure(step: .stat, reason: String(cString: strerror(errno))) }
        if regularFilesOnly {
            guard (info.st_mode & S_IFMT) == S_IFREG else { throw Failure(step: .notRegularFile, reason: "") }
        }
        let count = Int(info.st_size)
        if count == 0 { return (nil, 0) }
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw Failure(step: .map, reason: String(cString: strerror(errno)))
        }
        return (UnsafeRawPointer(mapped), count)
    }

    deinit {
        if let bytes { munmap(UnsafeMutableRawPointer(mutating: bytes), count) }
    }
}
