import Foundation
import Synchronization
import Testing
import WendaoCore
import WendaoModels
import WendaoTestSupport

/// The model downloader against a loopback server: whole files, cuts and resumes, servers that ignore
/// ranges, redirects, stalls, wrong hashes, 404s and fallbacks to the next URL.
@Suite struct ModelDownloaderTests {
    /// 300 KB of seeded bytes and their SHA-256.
    static let payload: Data = {
        var rng = SeededGenerator(seed: 16)
        return Data((0..<300_000).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }()
    static let digest: String = {
        var h = SHA256()
        h.update(payload)
        return h.hexDigest()
    }()

    /// A short-fused downloader (no pauses between attempts).
    let downloader = ModelDownloader(
        stallTimeout: .milliseconds(500), connectTimeout: .seconds(5), attempts: 3, retryDelay: .zero,
        progressInterval: .zero)

    /// The whole file, or the part a `Range: bytes=N-` header asks for (206 with Content-Range).
    static func serve(_ request: RecordedRequest, body: Data = payload) -> FakeResponse {
        guard let range = request.header("range"), range.hasPrefix("bytes="),
            let start = Int(range.dropFirst(6).split(separator: "-").first ?? "")
        else {
            return FakeResponse(headers: [("Content-Length", String(body.count))], parts: [.data(body)])
        }
        let rest = body.subdata(in: start..<body.count)
        return FakeResponse(
            status: 206,
            headers: [
                ("Content-Length", String(rest.count)),
                ("Content-Range", "bytes \(start)-\(body.count - 1)/\(body.count)"),
            ], parts: [.data(rest)])
    }

    func target(_ scratch: ScratchDirectory) -> URL { scratch.child("model.gguf") }

    @Test("A small file is fetched, checked and put in place; progress reaches the total")
    func wholeFile() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { request, _ in Self.serve(request) }
        let seen = Mutex<[DownloadProgress]>([])
        try await downloader.download(
            ["http://127.0.0.1:\(server.port)/m.gguf"], to: target(scratch), sha256: Self.digest,
            size: Int64(Self.payload.count)
        ) { p in seen.withLock { $0.append(p) } }
        await server.shutdown()
        #expect(try Data(contentsOf: target(scratch)) == Self.payload)
        #expect(!FileManager.default.fileExists(atPath: ModelDownloader.partFile(for: target(scratch)).path))
        let last = try #require(seen.withLock { $0.last })
        #expect(last.received == Int64(Self.payload.count) && last.total == Int64(Self.payload.count))
        #expect(last.fraction == 1)
        #expect(server.requests.count == 1 && server.requests[0].header("range") == nil)
    }

    @Test("A connection cut mid-file is resumed with Range: bytes=N- and the file is whole")
    func resumedAfterCut() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let half = 120_000
        let server = try await FakeProviderServer.start { request, ordinal in
            if ordinal == 0 {
                // Promises the whole file, sends part of it, hangs up.
                return FakeResponse(
                    headers: [("Content-Length", String(Self.payload.count))],
                    parts: [.data(Self.payload.prefix(half)), .delay(.milliseconds(50)), .close])
            }
            return Self.serve(request)
        }
        try await downloader.download(
            ["http://127.0.0.1:\(server.port)/m.gguf"], to: target(scratch), sha256: Self.digest,
            size: Int64(Self.payload.count))
        await server.shutdown()
        #expect(try Data(contentsOf: target(scratch)) == Self.payload)
        #expect(server.requests.count == 2)
        let range = try #require(server.requests.last?.header("range"))
        let resumedAt = Int(range.dropFirst("bytes=".count).dropLast())
        #expect(range.hasPrefix("bytes=") && range.hasSuffix("-"))
        #expect(resumedAt.map { $0 > 0 && $0 <= half } == true)
    }

    @Test("A part left by an earlier run is resumed, and counted in the progress")
    func resumedAcrossRuns() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try Self.payload.prefix(100_000).write(to: ModelDownloader.partFile(for: target(scratch)))
        let server = try await FakeProviderServer.start { request, _ in Self.serve(request) }
        let first = Mutex<DownloadProgress?>(nil)
        try await downloader.download(
            ["http://127.0.0.1:\(server.port)/m.gguf"], to: target(scratch), sha256: Self.digest,
            size: Int64(Self.payload.count)
        ) { p in first.withLock { $0 = $0 ?? p } }
        await server.shutdown()
        #expect(try Data(contentsOf: target(scratch)) == Self.payload)
        #expect(server.requests.map { $0.header("range") } == ["bytes=100000-"])
        #expect(first.withLock { $0?.resumedFrom } == 100_000)
    }

    @Test("A server that ignores Range and answers 200 gets the file from the start")
    func serverIgnoresRange() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        // A part whose bytes are wrong: were it kept, the hash would fail.
        try Data(repeating: 0xAA, count: 50_000).write(to: ModelDownloader.partFile(for: target(scratch)))
        let server = try await FakeProviderServer.start { _, _ in
            FakeResponse(headers: [("Content-Length", String(Self.payload.count))], parts: [.data(Self.payload)])
        }
        try await downloader.download(
            ["http://127.0.0.1:\(server.port)/m.gguf"], to: target(scratch), sha256: Self.digest,
            size: Int64(Self.payload.count))
        await server.shutdown()
        #expect(try Data(contentsOf: target(scratch)) == Self.payload)
        #expect(server.requests.count == 1 && server.requests[0].header("range") == "bytes=50000-")
    }

    @Test("Redirects are followed (Hugging Face sends files from a CDN), with the Range header")
    func followsRedirects() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try Self.payload.prefix(10_000).write(to: ModelDownloader.partFile(for: target(scratch)))
        let server = try await FakeProviderServer.start { request, _ in
            if request.path.hasPrefix("/resolve/") {
                return FakeResponse(status: 302, headers: [("Location", "/cdn/blob"), ("Content-Length", "0")])
            }
            return Self.serve(request)
        }
        try await downloader.download(
            ["http://127.0.0.1:\(server.port)/resolve/main/m.gguf"], to: target(scratch), sha256: Self.digest,
            size: Int64(Self.payload.count))
        await server.shutdown()
        #expect(try Data(contentsOf: target(scratch)) == Self.payload)
        #expect(server.requests.map(\.path) == ["/resolve/main/m.gguf", "/cdn/blob"])
        #expect(server.requests[1].header("range") == "bytes=10000-")
    }

    @Test("A stalled connection times out and the download resumes where it stopped")
    func stallThenResume() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { request, ordinal in
            if ordinal == 0 {
                return FakeResponse(
                    headers: [("Content-Length", String(Self.payload.count))],
                    parts: [.data(Self.payload.prefix(64_000)), .hang])
            }
            return Self.serve(request)
        }
        let started = ContinuousClock.now
        try await downloader.download(
            ["http://127.0.0.1:\(server.port)/m.gguf"], to: target(scratch), sha256: Self.digest,
            size: Int64(Self.payload.count))
        let took = ContinuousClock.now - started
        await server.shutdown()
        #expect(try Data(contentsOf: target(scratch)) == Self.payload)
        #expect(server.requests.count == 2 && server.requests[1].header("range") != nil)
        #expect(took < .seconds(10))
    }

    @Test("A file with the wrong hash is deleted with a clear error")
    func wrongHash() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { request, _ in Self.serve(request) }
        let wrong = String(repeating: "0", count: 64)
        let error = await #expect(throws: WendaoError.self) {
            try await downloader.download(
                ["http://127.0.0.1:\(server.port)/m.gguf"], to: target(scratch), sha256: wrong,
                size: Int64(Self.payload.count))
        }
        await server.shutdown()
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("SHA-256 \(Self.digest), expected \(wrong)") == true)
        #expect(error?.message.contains("deleted") == true)
        #expect(!FileManager.default.fileExists(atPath: target(scratch).path))
        #expect(!FileManager.default.fileExists(atPath: ModelDownloader.partFile(for: target(scratch)).path))
    }

    @Test("A server offering another size is refused before the body is read")
    func wrongSize() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { request, _ in Self.serve(request) }
        let error = await #expect(throws: WendaoError.self) {
            try await downloader.download(
                ["http://127.0.0.1:\(server.port)/m.gguf"], to: target(scratch), sha256: Self.digest, size: 1234)
        }
        await server.shutdown()
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("expected 1234") == true)
        #expect(server.requests.count == 1)
    }

    @Test("A 404 is a clear not-found error, not retried")
    func notFound() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start(script: [.text("no such file", status: 404)])
        let url = "http://127.0.0.1:\(server.port)/missing.gguf"
        let error = await #expect(throws: WendaoError.self) {
            try await downloader.download([url], to: target(scratch), sha256: Self.digest, size: nil)
        }
        await server.shutdown()
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("\(url) answered 404") == true)
        #expect(server.requests.count == 1)
        #expect(!FileManager.default.fileExists(atPath: target(scratch).path))
    }

    @Test("When the first URL fails the next one is tried; when all fail the error names each")
    func fallsBackToTheNextURL() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { request, _ in
            request.path == "/mirror/m.gguf" ? Self.serve(request) : .text("gone", status: 404)
        }
        let base = "http://127.0.0.1:\(server.port)"
        try await downloader.download(
            ["\(base)/official/m.gguf", "\(base)/mirror/m.gguf"], to: target(scratch), sha256: Self.digest,
            size: Int64(Self.payload.count))
        #expect(try Data(contentsOf: target(scratch)) == Self.payload)
        try FileManager.default.removeItem(at: target(scratch))
        let error = await #expect(throws: WendaoError.self) {
            try await downloader.download(
                ["\(base)/a.gguf", "\(base)/b.gguf"], to: target(scratch), sha256: Self.digest, size: nil)
        }
        await server.shutdown()
        #expect(error?.message.contains("/a.gguf answered 404") == true)
        #expect(error?.message.contains("/b.gguf answered 404") == true)
    }

    @Test("A complete part from an earlier run is checked without a request")
    func completePartNeedsNoRequest() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try Self.payload.write(to: ModelDownloader.partFile(for: target(scratch)))
        let server = try await FakeProviderServer.start { request, _ in Self.serve(request) }
        try await downloader.download(
            ["http://127.0.0.1:\(server.port)/m.gguf"], to: target(scratch), sha256: Self.digest,
            size: Int64(Self.payload.count))
        await server.shutdown()
        #expect(server.requests.isEmpty)
        #expect(try Data(contentsOf: target(scratch)) == Self.payload)
    }

    @Test("A 206 for a range not asked for discards the part and starts over")
    func unexpectedRange() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try Self.payload.prefix(20_000).write(to: ModelDownloader.partFile(for: target(scratch)))
        let server = try await FakeProviderServer.start { request, _ in
            guard request.header("range") != nil else { return Self.serve(request) }
            let n = Self.payload.count
            return FakeResponse(
                status: 206, headers: [("Content-Length", String(n)), ("Content-Range", "bytes 0-\(n - 1)/\(n)")],
                parts: [.data(Self.payload)])
        }
        try await downloader.download(
            ["http://127.0.0.1:\(server.port)/m.gguf"], to: target(scratch), sha256: Self.digest,
            size: Int64(Self.payload.count))
        await server.shutdown()
        #expect(try Data(contentsOf: target(scratch)) == Self.payload)
        #expect(server.requests.map { $0.header("range") } == ["bytes=20000-", nil])
    }
}
