import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import WendaoCore

/// How far a download has come, for a progress display.
public struct DownloadProgress: Sendable, Equatable {
    /// Bytes in the file so far (a resumed part included).
    public var received: Int64
    /// The whole file's size, when known.
    public var total: Int64?
    /// Where this attempt started (0, or the size of the part kept from a broken download).
    public var resumedFrom: Int64
    /// Bytes per second over this attempt.
    public var bytesPerSecond: Double
    /// The URL being read.
    public var url: String

    /// A progress report.
    public init(received: Int64, total: Int64?, resumedFrom: Int64, bytesPerSecond: Double, url: String) {
        self.received = received
        self.total = total
        self.resumedFrom = resumedFrom
        self.bytesPerSecond = bytesPerSecond
        self.url = url
    }

    /// Done, as a fraction (nil when the size is unknown).
    public var fraction: Double? { total.flatMap { $0 > 0 ? Double(received) / Double($0) : nil } }
}

/// Fetches a large file (a model) over HTTP into place, checked: it streams to `FILE.part`, resumes a
/// broken transfer with `Range: bytes=N-` (and starts over when a server ignores the range and answers
/// 200), follows redirects (Hugging Face sends files from a CDN), gives up on a connection that sends
/// nothing for ``stallTimeout``, and renames the part into place only when its SHA-256 (and size) match
/// — a wrong file is deleted and reported.
///
/// ```swift
/// let file = try await ModelDownloader().download(
///     ["https://huggingface.co/Qwen/…/qwen2.5-0.5b-instruct-q4_k_m.gguf"], to: target,
///     sha256: "74a4…", size: 491_400_032) { p in print(p.received) }
/// ```
///
/// A part left by an interrupted run is resumed by the next one (the hash covers the whole file, so a
/// damaged part is caught at the end and the next pull starts afresh).
public struct ModelDownloader: Sendable {
    /// How long a connection may send nothing before it is dropped (and the download resumed).
    public var stallTimeout: Duration
    /// How long connecting may take.
    public var connectTimeout: Duration
    /// Attempts per URL (each resumes where the previous one stopped).
    public var attempts: Int
    /// Pause before another attempt.
    public var retryDelay: Duration
    /// Least time between two progress reports (the last one is always sent).
    public var progressInterval: Duration

    /// A downloader with the given limits.
    public init(
        stallTimeout: Duration = .seconds(60), connectTimeout: Duration = .seconds(30), attempts: Int = 5,
        retryDelay: Duration = .seconds(2), progressInterval: Duration = .milliseconds(250)
    ) {
        self.stallTimeout = stallTimeout
        self.connectTimeout = connectTimeout
        self.attempts = max(1, attempts)
        self.retryDelay = retryDelay
        self.progressInterval = progressInterval
    }

    /// Where the partial file of `destination` is kept: `destination` + `.part`.
    public static func partFile(for destination: URL) -> URL {
        destination.deletingLastPathComponent().appendingPathComponent(destination.lastPathComponent + ".part")
    }

    /// Downloads the first of `urls` that yields a file with `sha256` (and `size`, when given) to
    /// `destination` (its folder must exist); returns `destination`.
    ///
    /// - Throws: `corrupt` when the file's hash or size is wrong (the part is deleted); `notFound` for a
    ///   404; `unavailable` for other HTTP errors and network failures after the retries; `timeout` for
    ///   a stalled connection after the retries; `cancelled` when the task is cancelled (the part is
    ///   kept for the next run); `storage` when the file cannot be written. With several URLs the error
    ///   names what each one did.
    @discardableResult
    public func download(
        _ urls: [String], to destination: URL, sha256: String, size: Int64?,
        progress: @escaping @Sendable (DownloadProgress) -> Void = { _ in }
    ) async throws -> URL {
        guard !urls.isEmpty else {
            throw WendaoError(.invalidArgument, "no URL to download \(destination.lastPathComponent) from")
        }
        var configuration = HTTPClient.Configuration()
        configuration.timeout = HTTPClient.Configuration.Timeout(
            connect: .nanoseconds(Int64(connectTimeout.seconds * 1e9)),
            read: .nanoseconds(Int64(stallTimeout.seconds * 1e9)))
        configuration.redirectConfiguration = .follow(max: 10, allowCycles: false)
        configuration.decompression = .disabled
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        var failures: [(url: String, error: WendaoError)] = []
        do {
            for url in urls {
                do {
                    try await fetch(
                        url, client: client, to: destination, sha256: sha256.lowercased(), size: size,
                        progress: progress)
                    try? await client.shutdown()
                    return destination
                } catch let e as WendaoError where e.code != .cancelled && e.code != .storage {
                    failures.append((url, e))
                }
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
        if failures.count == 1 { throw failures[0].error }
        let code =
            failures.contains { $0.error.code == .corrupt } ? WendaoError.Code.corrupt : failures.last!.error.code
        throw WendaoError(
            code,
            failures.map { f in
                let host = Self.host(f.url)
                return f.error.message.contains(host) ? f.error.message : "\(host): \(f.error.message)"
            }.joined(separator: "; "))
    }

    /// One URL, with resumed attempts.
    func fetch(
        _ url: String, client: HTTPClient, to destination: URL, sha256: String, size: Int64?,
        progress: @escaping @Sendable (DownloadProgress) -> Void
    ) async throws {
        let part = Self.partFile(for: destination)
        var lastError: WendaoError?
        var attempt = 0
        while attempt < attempts {
            attempt += 1
            try Task.checkCancellation()
            let kept = Self.fileSize(part)
            if let size, kept > size { try Self.remove(part) }
            if let size, kept == size {
                // A complete part from an earlier run: check it, no request needed.
                if try Self.digest(of: part) == sha256 { return try Self.putInPlace(part, destination) }
                try Self.remove(part)
            }
            let outcome: Attempt
            do {
                outcome = try await self.attempt(url, client: client, part: part, size: size, progress: progress)
            } catch let e as WendaoError
                where [.cancelled, .storage, .notFound, .corrupt, .unauthenticated].contains(e.code)
            {
                // Retrying cannot help: a missing file, a different file, a full disk, Ctrl-C.
                throw e
            } catch let e as WendaoError {
                lastError = e
                if attempt < attempts { try await Task.sleep(for: retryDelay) }
                continue
            }
            switch outcome {
            case .complete(let digest, let received):
                if let size, received != size {
                    try Self.remove(part)
                    throw WendaoError(.corrupt, "the file has \(received) bytes, expected \(size); deleted")
                }
                guard digest == sha256 else {
                    try Self.remove(part)
                    throw WendaoError(
                        .corrupt,
                        "\(destination.lastPathComponent) has SHA-256 \(digest), expected \(sha256): the download is "
                            + "damaged or the file changed; deleted")
                }
                return try Self.putInPlace(part, destination)
            case .restart:
                attempt -= 1  // the server asked for a fresh start (ignored or refused the range): not a failure
                lastError = nil
            }
        }
        throw lastError ?? WendaoError(.unavailable, "\(url): no complete download after \(attempts) attempts")
    }

    enum Attempt {
        /// The body ended: the whole file's digest and size.
        case complete(digest: String, received: Int64)
        /// Start again from byte 0 (the part was discarded).
        case restart
    }

    /// One request: resumes from the part's size, appends what arrives, hashes the whole file.
    func attempt(
        _ url: String, client: HTTPClient, part: URL, size: Int64?,
        progress: @escaping @Sendable (DownloadProgress) -> Void
    ) async throws -> Attempt {
        let offset = Self.fileSize(part)
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "wendao")
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if offset > 0 { request.headers.add(name: "Range", value: "bytes=\(offset)-") }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: .now() + .hours(24), logger: nil)
        } catch {
            throw Self.networkError(error, url: url)
        }
        var start: Int64 = 0
        var total: Int64?
        switch response.status.code {
        case 206:
            guard let range = response.headers.first(name: "Content-Range").flatMap(Self.contentRange),
                range.start == offset
            else {
                // A range we did not ask for: start over.
                try Self.remove(part)
                return .restart
            }
            start = offset
            total = range.total
        case 200:
            start = 0
            total = response.headers.first(name: "Content-Length").flatMap { Int64($0) }
        case 416:
            // The part is longer than the file (it changed): start over.
            try Self.remove(part)
            guard offset > 0 else { throw WendaoError(.unavailable, "\(url) refused the request (416)") }
            return .restart
        case 404, 410:
            throw WendaoError(.notFound, "\(url) answered \(response.status.code) \(response.status.reasonPhrase)")
        case 401, 403:
            throw WendaoError(
                .unauthenticated,
                "\(url) answered \(response.status.code) \(response.status.reasonPhrase) (the file needs a login)")
        default:
            throw WendaoError(.unavailable, "\(url) answered \(response.status.code) \(response.status.reasonPhrase)")
        }
        if let size, let total, total != size {
            throw WendaoError(.corrupt, "\(url) offers \(total) bytes, expected \(size): not the pinned file")
        }
        let expected = size ?? total
        // The hash of what is kept, then of what arrives.
        var hasher = SHA256()
        if start > 0 {
            try Self.hash(part, into: &hasher)
        } else if FileManager.default.fileExists(atPath: part.path) {
            try Self.remove(part)
        }
        if start == 0 {
            guard FileManager.default.createFile(atPath: part.path, contents: nil) else {
                throw WendaoError(.storage, "cannot create \(part.path)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: part.path) else {
            throw WendaoError(.storage, "cannot write \(part.path)")
        }
        defer { try? handle.close() }
        do { try handle.seekToEnd() } catch {
            throw WendaoError(.storage, "cannot write \(part.path): \(error.localizedDescription)")
        }
        var received = start
        let began = ContinuousClock.now
        var lastReport = began - progressInterval
        func report(force: Bool) {
            let now = ContinuousClock.now
            guard force || now - lastReport >= progressInterval else { return }
            lastReport = now
            let seconds = max((now - began).seconds, 0.001)
            progress(
                DownloadProgress(
                    received: received, total: expected, resumedFrom: start,
                    bytesPerSecond: Double(received - start) / seconds, url: url))
        }
        report(force: true)
        do {
            for try await buffer in response.body {
                let bytes = buffer.readableBytesView
                if let expected, received + Int64(bytes.count) > expected {
                    throw WendaoError(.corrupt, "\(url) sent more than the \(expected) bytes expected")
                }
                do { try handle.write(contentsOf: Data(bytes)) } catch {
                    throw WendaoError(.storage, "cannot write \(part.path): \(error.localizedDescription)")
                }
                hasher.update(bytes)
                received += Int64(bytes.count)
                report(force: false)
            }
        } catch let e as WendaoError {
            report(force: true)
            throw e
        } catch {
            report(force: true)
            throw Self.networkError(error, url: url)
        }
        report(force: true)
        if let expected, received < expected {
            throw WendaoError(.unavailable, "\(url): the connection ended after \(received) of \(expected) bytes")
        }
        return .complete(digest: hasher.hexDigest(), received: received)
    }

    /// `bytes START-END/TOTAL` (TOTAL may be `*`).
    static func contentRange(_ value: String) -> (start: Int64, total: Int64?)? {
        let v = value.trimmingCharacters(in: .whitespaces)
        guard v.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = v.dropFirst(6)
        let halves = spec.split(separator: "/", maxSplits: 1)
        guard halves.count == 2, let dash = halves[0].firstIndex(of: "-"),
            let start = Int64(halves[0][..<dash].trimmingCharacters(in: .whitespaces))
        else { return nil }
        return (start, Int64(halves[1].trimmingCharacters(in: .whitespaces)))
    }

    /// A transport error as a ``WendaoError``: a stall is `timeout`, cancellation `cancelled`, the rest
    /// `unavailable`.
    static func networkError(_ error: any Error, url: String) -> WendaoError {
        if let e = error as? WendaoError { return e }
        if error is CancellationError || Task.isCancelled {
            return WendaoError(.cancelled, "the download from \(host(url)) was cancelled (the part is kept)")
        }
        if let e = error as? HTTPClientError {
            if e == .readTimeout { return WendaoError(.timeout, "\(host(url)) stopped sending (read timeout)") }
            if e == .connectTimeout { return WendaoError(.timeout, "cannot connect to \(host(url)) (timeout)") }
            if e == .cancelled { return WendaoError(.cancelled, "the download from \(host(url)) was cancelled") }
            if e == .remoteConnectionClosed {
                return WendaoError(.unavailable, "\(host(url)) closed the connection")
            }
        }
        return WendaoError(.unavailable, "cannot download from \(host(url)): \(error)")
    }

    /// The host of `url`, for messages.
    static func host(_ url: String) -> String { URLComponents(string: url)?.host ?? url }

    static func fileSize(_ url: URL) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    static func remove(_ url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        do { try FileManager.default.removeItem(at: url) } catch {
            throw WendaoError(.storage, "cannot delete \(url.path): \(error.localizedDescription)")
        }
    }

    static func hash(_ url: URL, into hasher: inout SHA256) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw WendaoError(.storage, "cannot read \(url.path)")
        }
        defer { try? handle.close() }
        while true {
            let chunk: Data?
            do { chunk = try handle.read(upToCount: 4 << 20) } catch {
                throw WendaoError(.storage, "cannot read \(url.path): \(error.localizedDescription)")
            }
            guard let chunk, !chunk.isEmpty else { return }
            hasher.update(chunk)
        }
    }

    /// The SHA-256 of a file, as lowercase hex.
    public static func digest(of url: URL) throws -> String {
        var hasher = SHA256()
        try hash(url, into: &hasher)
        return hasher.hexDigest()
    }

    static func putInPlace(_ part: URL, _ destination: URL) throws {
        let fm = FileManager.default
        do {
            if fm.fileExists(atPath: destination.path) { try fm.removeItem(at: destination) }
            try fm.moveItem(at: part, to: destination)
        } catch {
            throw WendaoError(
                .storage, "cannot move the download into \(destination.path): \(error.localizedDescription)")
        }
    }
}
