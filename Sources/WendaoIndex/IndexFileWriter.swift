import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How index files (BM25 segments, vector files) are written: atomically, and in streamed sections.
enum IndexFileWriter {
    /// Writes `path` atomically: a temporary file of `size` bytes beside it is filled by `body`
    /// (given its descriptor), synced and renamed over `path`; on any failure it is removed and
    /// `path` is left as it was. A write error from `body` names the temporary file.
    static func write(path: String, size: Int, _ body: (_ fd: Int32) throws -> Void) throws {
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw SegmentError.unreadable(tmp, String(cString: strerror(errno))) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(tmp) }
        }
        guard ftruncate(fd, off_t(size)) == 0 else {
            throw SegmentError.unreadable(tmp, "cannot size the file: \(String(cString: strerror(errno)))")
        }
        do {
            try body(fd)
        } catch SegmentError.unreadable(_, let why) {
            throw SegmentError.unreadable(tmp, why)
        }
        guard fsync(fd) == 0 else { throw SegmentError.unreadable(tmp, "fsync failed") }
        guard rename(tmp, path) == 0 else { throw SegmentError.unreadable(path, "rename failed") }
        ok = true
    }

    /// Writes all of `bytes` at `offset` (retrying short writes).
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            guard let base = bytes.baseAddress else { return }
            let n = pwrite(fd, base + done, bytes.count - done, off_t(offset + done))
            if n <= 0 { throw SegmentError.unreadable("", "write failed: \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    /// A sequential writer into a file from an offset, through a buffer of `capacity` bytes.
    struct Stream {
        let fd: Int32
        let capacity: Int
        var offset: Int
        var buffer: [UInt8] = []

        init(fd: Int32, offset: Int, capacity: Int) {
            self.fd = fd
            self.offset = offset
            self.capacity = capacity
            buffer.reserveCapacity(capacity)
        }

        /// Writes what is buffered and continues at `to`.
        mutating func seek(_ to: Int) throws {
            try flush()
            offset = to
        }

        mutating func append(_ bytes: UnsafeRawBufferPointer) throws {
            buffer.append(contentsOf: bytes)
            if buffer.count >= capacity { try flush() }
        }

        mutating func append<T: BitwiseCopyable>(_ value: T) throws {
            try withUnsafeBytes(of: value) { try append($0) }
        }

        mutating func flush() throws {
            try buffer.withUnsafeBytes { try IndexFileWriter.pwriteAll(fd, $0, at: offset) }
            offset += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }
    }
}
