import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An advisory exclusive lock on a file (flock), held by one writer of a knowledge base at a time.
final class FileLock {
    private var fd: Int32 = -1

    /// Acquires the lock, waiting up to `timeout` seconds; returns nil when another process holds it.
    init?(path: String, timeout: Double) {
        let f = open(path, O_RDWR | O_CREAT, 0o644)
        guard f >= 0 else { return nil }
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

    deinit {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
        }
    }
}
