public import Foundation
import WendaoCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs helper programs (pdftotext, pdftoppm, tesseract) without a shell, with bounded time, memory and
/// output. Safe to call from many threads at once.
///
/// ```swift
/// let r = try ExternalTool.run("pdfinfo", arguments: ["/tmp/a.pdf"], limits: LoaderLimits())
/// print(r.status, String(decoding: r.stdout, as: UTF8.self))
/// ```
public enum ExternalTool {
    /// What a finished run produced.
    public struct Result: Sendable {
        /// The exit status (meaningful when ``signal`` is nil).
        public var status: Int32
        /// The signal that ended the program, if one did.
        public var signal: Int32?
        /// Everything the program wrote to standard output (at most the byte cap).
        public var stdout: Data
        /// The start of what the program wrote to standard error (capped), decoded leniently.
        public var stderr: String

        /// True when the program exited with status 0.
        public var succeeded: Bool { signal == nil && status == 0 }

        /// The first non-empty line of standard error, trimmed, or "".
        public var firstErrorLine: String {
            stderr.split(whereSeparator: \.isNewline).lazy
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .first { !$0.isEmpty } ?? ""
        }

        /// True when the failure looks like the memory limit was hit.
        public var looksOutOfMemory: Bool {
            let text = stderr.lowercased()
            return ["out of memory", "bad_alloc", "cannot allocate memory", "failed to map segment",
                    "memory exhausted", "allocation failed", "std::length_error"]
                .contains { text.contains($0) }
        }
    }

    /// The Debian package that provides a tool, for install hints.
    public static func debianPackage(for tool: String) -> String {
        switch tool {
        case "pdfinfo", "pdftotext", "pdftoppm": return "poppler-utils"
        case "tesseract": return "tesseract-ocr"
        case "prlimit": return "util-linux"
        default: return tool
        }
    }

    /// The absolute path of an executable named `name` on `PATH` (plus the usual system folders), or nil.
    public static func locate(_ name: String) -> String? {
        if name.hasPrefix("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        var dirs = path.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
        for extra in ["/usr/local/bin", "/usr/bin", "/bin"] where !dirs.contains(extra) { dirs.append(extra) }
        for dir in dirs {
            let candidate = dir.hasSuffix("/") ? dir + name : dir + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0, st.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    /// Runs a program and waits for it.
    ///
    /// The program runs under `prlimit --as=<toolMemoryBytes> --cpu=<toolSeconds>` when prlimit exists, with
    /// standard input closed, a minimal environment (`PATH`, `LC_ALL=C.UTF-8`, `OMP_THREAD_LIMIT=1`, plus
    /// `TESSDATA_PREFIX` when set) and a wall-clock limit of ``LoaderLimits/toolSeconds`` (terminated, then
    /// killed). Arguments are passed as they are: give file paths as absolute paths so that none starts
    /// with `-`.
    ///
    /// - Parameters:
    ///   - tool: A program name looked up on `PATH`, or an absolute path.
    ///   - arguments: The arguments (no shell is involved).
    ///   - limits: Time and memory limits.
    ///   - maxOutputBytes: Most bytes of standard output kept; a program writing more is killed.
    /// - Returns: The exit status and output; a non-zero status is returned, not thrown.
    /// - Throws: ``WendaoError`` — `unsupported` when the program is not installed (naming the Debian
    ///   package), `limitExceeded` when it ran out of time or wrote too much, `internal` when it cannot start.
    public static func run(
        _ tool: String, arguments: [String], limits: LoaderLimits, maxOutputBytes: Int = 64 << 20
    ) throws -> Result {
        let name = tool.split(separator: "/").last.map(String.init) ?? tool
        guard let path = locate(tool) else {
            throw WendaoError(.unsupported, "\(name) is not installed — install \(debianPackage(for: name))")
        }
        var argv: [String]
        if let prlimit = locate("/usr/bin/prlimit") {
            let cpu = max(1, Int(limits.toolSeconds.rounded(.up)))
            let memory = max(1 << 20, limits.toolMemoryBytes)
            argv = [prlimit, "--as=\(memory)", "--cpu=\(cpu):\(cpu + 1)", "--", path]
        } else {
            argv = [path]
        }
        argv += arguments
        var env = [
            "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C.UTF-8", "LANG=C.UTF-8", "OMP_THREAD_LIMIT=1",
        ]
        if let prefix = ProcessInfo.processInfo.environment["TESSDATA_PREFIX"] {
            env.append("TESSDATA_PREFIX=\(prefix)")
        }
        let raw = try spawnAndCollect(argv: argv, env: env, seconds: max(0.05, limits.toolSeconds),
                                      maxOutputBytes: max(1, maxOutputBytes))
        switch raw.ending {
        case .timedOut:
            throw WendaoError(.limitExceeded, "\(name) was stopped after \(formatSeconds(limits.toolSeconds)) s")
        case .outputTooLarge:
            throw WendaoError(.limitExceeded, "\(name) wrote more than \(maxOutputBytes >> 20) MB of output")
        case .finished:
            break
        }
        var result = Result(status: raw.status, signal: raw.signal, stdout: raw.stdout,
                            stderr: String(decoding: raw.stderr, as: UTF8.self))
        if let sig = raw.signal, sig == SIGXCPU || sig == SIGKILL {
            let cpu = formatSeconds(limits.toolSeconds.rounded(.up))
            throw WendaoError(.limitExceeded, "\(name) was killed by the system (CPU limit \(cpu) s or memory limit)")
        }
        if !result.succeeded, result.looksOutOfMemory {
            let mb = limits.toolMemoryBytes >> 20
            throw WendaoError(.limitExceeded, "\(name) ran out of memory (limit \(mb) MB)")
        }
        if result.stderr.count > 4096 { result.stderr = String(result.stderr.prefix(4096)) }
        return result
    }

    private static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? String(Int(s)) : String(format: "%.1f", s)
    }

    private enum Ending { case finished, timedOut, outputTooLarge }

    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32

    /// `pipe2`, which the Swift Glibc module does not export, looked up once.
    private static let pipe2Function: Pipe2? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "pipe2") else { return nil }
        return unsafeBitCast(symbol, to: Pipe2.self)
    }()

    /// Serialises pipe creation where `pipe2` is missing, so no concurrent spawn inherits a half-made pipe.
    private static let pipeLock = NSLock()

    /// Creates a pipe whose ends are closed on exec (a concurrent spawn must not inherit them, or our reads
    /// would never see end of file).
    private static func makePipe(_ fds: inout [Int32]) -> Bool {
        if let pipe2Function {
            return fds.withUnsafeMutableBufferPointer { pipe2Function($0.baseAddress, Int32(O_CLOEXEC)) } == 0
        }
        pipeLock.lock()
        defer { pipeLock.unlock() }
        guard pipe(&fds) == 0 else { return false }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return true
    }

    private struct RawResult {
        var ending: Ending
        var status: Int32
        var signal: Int32?
        var stdout: Data
        var stderr: Data
    }

    /// Spawns `argv` with `posix_spawn`, reads both pipes with `poll` until they close, and reaps the child.
    private static func spawnAndCollect(
        argv: [String], env: [String], seconds: Double, maxOutputBytes: Int
    ) throws -> RawResult {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard makePipe(&outPipe) else { throw WendaoError(.internal, "cannot create a pipe") }
        guard makePipe(&errPipe) else {
            close(outPipe[0])
            close(outPipe[1])
            throw WendaoError(.internal, "cannot create a pipe")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Own process group, so that a tool's children are stopped with it; default signal handlers.
        posix_spawnattr_setpgroup(&attr, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attr, &noSignals)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw WendaoError(.internal, "cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        let deadline = Date().addingTimeInterval(seconds)
        var out = Data()
        var err = Data()
        let errCap = 16 << 10
        var ending = Ending.finished
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        var open = [true, true]
        let bufferSize = 64 << 10
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        readLoop: while open[0] || open[1] {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 {
                ending = .timedOut
                break
            }
            for k in 0..<2 {
                fds[k].fd = open[k] ? (k == 0 ? outPipe[0] : errPipe[0]) : -1
                fds[k].revents = 0
            }
            let ready = poll(&fds, 2, Int32(min(remaining * 1000 + 1, 1000)))
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for k in 0..<2 where open[k] && fds[k].revents != 0 {
                let n = read(fds[k].fd, buffer, bufferSize)
                if n < 0, errno == EINTR || errno == EAGAIN { continue }
                if n <= 0 {
                    open[k] = false
                    continue
                }
                let bytes = buffer.assumingMemoryBound(to: UInt8.self)
                if k == 0 {
                    if out.count + n > maxOutputBytes {
                        ending = .outputTooLarge
                        break readLoop
                    }
                    out.append(bytes, count: n)
                } else if err.count < errCap {
                    err.append(bytes, count: min(n, errCap - err.count))
                }
            }
        }
        // Reap the child: wait until the deadline, then terminate, then kill.
        var status: Int32 = 0
        var reaped = false
        if ending == .finished {
            while !reaped {
                let w = waitpid(pid, &status, WNOHANG)
                if w == pid || (w < 0 && errno != EINTR) {
                    reaped = w == pid
                    if !reaped { break }
                } else if deadline.timeIntervalSinceNow <= 0 {
                    ending = .timedOut
                    break
                } else {
                    usleep(2_000)
                }
            }
        }
        if !reaped {
            kill(-pid, SIGTERM)
            kill(pid, SIGTERM)
            let grace = Date().addingTimeInterval(1)
            while !reaped {
                let w = waitpid(pid, &status, WNOHANG)
                if w == pid {
                    reaped = true
                } else if w < 0, errno != EINTR {
                    break
                } else if grace.timeIntervalSinceNow <= 0 {
                    kill(-pid, SIGKILL)
                    kill(pid, SIGKILL)
                    while waitpid(pid, &status, 0) < 0, errno == EINTR {}
                    reaped = true
                } else {
                    usleep(5_000)
                }
            }
        }
        let low = status & 0x7F
        let signal: Int32? = low != 0 && low != 0x7F ? low : nil
        let exit = signal == nil ? (status >> 8) & 0xFF : -1
        return RawResult(ending: ending, status: exit, signal: signal, stdout: out, stderr: err)
    }
}
