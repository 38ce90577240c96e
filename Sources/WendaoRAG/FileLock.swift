import Foundation
import WendaoCore

#if canImport(Glibc)
    import Glibc
#endif

/// An advisory exclusive lock on a file (flock), held by one writer of a knowledge base at a time.
///
/// Release it explicitly with ``unlock()`` (callers use `defer { lock.unlock() }`), so that the
/// lock provably outlives the work it protects.
final class FileLock {
    private var fd: Int32 = -1

    /// Acquires the lock, waiting up to `timeout` seconds. Returns nil when another process still
    /// holds it at the deadline; throws when the lock file cannot be opened at all.
    init?(path: String, timeout: Double) throws {
        let f = open(path, O_RDWR | O_CREAT, 0o644)
        guard f >= 0 else {
            throw WendaoError(.storage, "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        let deadline = Date().addingTimeInterval(timeout)
        while flock(f, LOCK_EX | LOCK_NB) != 0 {
            if Date() >= deadline {
                close(f)
                return nil
            }
            usleep(50_000)
        }
        fd = f
    }

    /// Releases the lock (idempotent).
    func unlock() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { unlock() }
}
