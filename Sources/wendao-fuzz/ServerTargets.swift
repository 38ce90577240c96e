import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOEmbedded
@_spi(Fuzzing) import WendaoServer
import WendaoApp
import WendaoCore
import WendaoRAG

/// Fuzz targets for the server: the multipart reader, and the router driven in-process with an
/// arbitrary method, path, headers and body.
enum FuzzServerTargets {
    static let names = ["multipart", "router"]

    static func run(_ name: String, _ data: Data) -> Bool {
        switch name {
        case "multipart": multipart(data)
        case "router": router(data)
        default: return false
        }
        return true
    }

    /// Input: the boundary (first line), piece sizes (second line), then the body.
    static func multipart(_ data: Data) {
        let bytes = [UInt8](data)
        var lines = bytes.split(separator: 0x0A, maxSplits: 2, omittingEmptySubsequences: false)
        while lines.count < 3 { lines.append([]) }
        var boundary = String(decoding: lines[0], as: UTF8.self)
        if boundary.isEmpty || boundary.count > 70 { boundary = "fuzz-boundary" }
        ServerFuzzing.multipart(boundary: boundary, body: Array(lines[2]), sizes: Array(lines[1].prefix(64)))
    }

    /// The router over a data directory with a knowledge base `facts` (one document), made once
    /// per process; uploads are cleared now and then.
    nonisolated(unsafe) static var state: (router: ServerFuzzing.Router, data: URL)?
    nonisolated(unsafe) static var runs = 0
    nonisolated(unsafe) static var scratchRoot: String?

    static func setUp() throws -> (router: ServerFuzzing.Router, data: URL) {
        if let state { return state }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("wendao-fuzz-router-\(getpid())")
        try? FileManager.default.removeItem(at: root)
        let data = root.appendingPathComponent("data")
        let source = root.appendingPathComponent("src/facts")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try Data("# 价格\n\n标准快递首重收费12元，续重每公斤收费3元。\n\n## Hours\n\nThe depot opens at 8 am.\n".utf8)
            .write(to: source.appendingPathComponent("pricing.md"))
        // The data directory goes when the process ends (replays in `swift test` leave nothing).
        scratchRoot = root.path
        atexit { if let root = FuzzServerTargets.scratchRoot { try? FileManager.default.removeItem(atPath: root) } }
        let lib = try Library(directory: data)
        _ = try lib.create("facts")
        _ = try lib.open("facts").ingest([source.path])
        _ = try lib.createAPIKey(name: "fuzz", knowledgeBases: ["facts"], scope: .write)
        let router = try ServerFuzzing.Router(dataDirectory: data, adminKey: nil, maxUploadBytes: 64 << 10)
        state = (router, data)
        return (router, data)
    }

    /// Input lines: method, path, then headers (`Name: value`) up to an empty line; the rest is the
    /// body. Requests are answered one at a time.
    static func router(_ data: Data) {
        guard let (router, dataDirectory) = try? setUp() else { fatalError("cannot set up the router target") }
        runs += 1
        if runs % 500 == 0 {
            // Uploads pile up (no job runner takes them); a deleted `facts` comes back.
            try? FileManager.default.removeItem(at: dataDirectory.appendingPathComponent("uploads"))
            if let lib = try? Library(directory: dataDirectory), (try? lib.record("facts")) == nil {
                _ = try? lib.create("facts")
                _ = try? lib.open("facts").ingest([
                    dataDirectory.deletingLastPathComponent().appendingPathComponent("src/facts").path
                ])
            }
        }
        let bytes = [UInt8](data)
        var lines: [ArraySlice<UInt8>] = []
        var rest = bytes[...]
        while lines.count < 66, let nl = rest.firstIndex(of: 0x0A) {
            let line = rest[rest.startIndex..<nl]
            rest = rest[(nl + 1)...]
            if lines.count >= 2 && line.isEmpty { break }
            lines.append(line)
        }
        func text(_ s: ArraySlice<UInt8>) -> String {
            String(decoding: s.last == 0x0D ? s.dropLast() : s, as: UTF8.self)
        }
        let method = HTTPRequest.Method(lines.first.map(text) ?? "GET") ?? .get
        var path = lines.count > 1 ? text(lines[1]) : "/"
        if !path.hasPrefix("/") { path = "/" + path }
        var headers = HTTPFields()
        for line in lines.dropFirst(2) {
            let t = text(line)
            guard let colon = t.firstIndex(of: ":"), let name = HTTPField.Name(String(t[..<colon])) else { continue }
            let value = t[t.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append(HTTPField(name: name, value: value))
        }
        let body = ByteBuffer(bytes: rest)
        if headers[.contentLength] == nil, !body.readableBytes.isMultiple(of: 7) {
            headers[.contentLength] = String(body.readableBytes)
        }
        let request = Request(
            head: HTTPRequest(
                method: method, scheme: "http", authority: "127.0.0.1", path: path, headerFields: headers),
            body: RequestBody(buffer: body))
        let done = DispatchSemaphore(value: 0)
        Task {
            let channel = NIOAsyncTestingChannel()
            _ = await router.respond(to: request, channel: channel)
            // Closing breaks the channel's reference cycle with its pipeline.
            try? await channel.close()
            done.signal()
        }
        done.wait()
    }
}
