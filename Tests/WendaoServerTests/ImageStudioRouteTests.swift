import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import WendaoApp
import Synchronization
import WendaoCore
import WendaoImages
import WendaoModels
import WendaoRAG
@testable import WendaoServer
import WendaoTestSupport

/// A valid 2×2 RGB PNG (stored deflate block).
private let tinyPNG = Data(
    base64Encoded:
        "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg=="
)!

private func object(_ r: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:]
}

@Suite("Image studio routes")
struct ImageStudioRouteTests {
    @Test("Generate, list, read a file, tag, delete; /v1/images/generations with per-key daily quotas")
    func routes() async throws {
        let scratch = try ScratchDirectory("imgroutes")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        _ = try lib.create("kb")
        let tenant = try lib.createAPIKey(knowledgeBases: ["kb"], scope: .read).0
        let server = try await FakeProviderServer.start { req, _ in
            let port = req.header("host")?.split(separator: ":").last ?? ""
            if req.path.hasSuffix("/image-synthesis") {
                return .json(#"{"output":{"task_id":"t-9","task_status":"PENDING"}}"#)
            }
            if req.path.hasPrefix("/r/") {
                return FakeResponse(
                    headers: [("Content-Type", "image/png"), ("Content-Length", "\(tinyPNG.count)")],
                    parts: [.data(tinyPNG)])
            }
            return .json(
                #"{"output":{"task_id":"t-9","task_status":"SUCCEEDED","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}]}}"#
            )
        }
        defer { Task { await server.shutdown() } }
        try """
        images:
          key_daily_images: 1
          download: { allow: ["127.0.0.1/32"] }
          poll: { initial: 0.02, max: 0.05 }
        """.write(to: data.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = Secret("admin-key-0123456789abcdef")
        c.environment = [
            "WENDAO_DASHSCOPE_BASE_URL": "http://127.0.0.1:\(server.port)/compatible-mode/v1",
            "DASHSCOPE_API_KEY": "sk-test-0123456789abcdef0123456789",
        ]
        let admin: HTTPFields = [.authorization: "Bearer admin-key-0123456789abcdef", .contentType: "application/json"]
        let key: HTTPFields = [.authorization: "Bearer \(tenant)", .contentType: "application/json"]
        let srv = try WendaoServer(configuration: c, logger: Logger(label: "test.images"))
        try await srv.application().test(.router) { client in
            let made = try await client.execute(
                uri: "/api/v1/images?wait=true", method: .post, headers: admin,
                body: ByteBuffer(string: #"{"prompt":"白底 保温杯","size":"1024*1024","tags":["电商"]}"#))
            #expect(made.status == .created)
            let record = object(made)
            #expect(record["status"] as? String == "succeeded")
            let id = try #require(record["id"] as? Int)
            let list = try await client.execute(
                uri: "/api/v1/images?query=%E4%BF%9D%E6%B8%A9%E6%9D%AF", method: .get, headers: admin)
            #expect(object(list)["total"] as? Int == 1)
            let file = try await client.execute(uri: "/api/v1/images/\(id)/files/0", method: .get, headers: admin)
            #expect(file.status == .ok && Data(file.body.readableBytesView) == tinyPNG)
            // Its thumbnail (made when it was stored): a JPEG of the 2×2 picture.
            let thumb = try await client.execute(
                uri: "/api/v1/images/\(id)/files/0/thumbnail", method: .get, headers: admin)
            #expect(thumb.status == .ok && thumb.headers[.contentType] == "image/jpeg")
            let thumbInfo = try ImageSniffer.inspect(Data(thumb.body.readableBytesView))
            #expect(thumbInfo.format == .jpeg && thumbInfo.width == 2 && thumbInfo.height == 2)
            #expect(
                try await client.execute(uri: "/api/v1/images/\(id)/files/7/thumbnail", method: .get, headers: admin)
                    .status == .notFound)
            let patched = try await client.execute(
                uri: "/api/v1/images/\(id)", method: .patch, headers: admin,
                body: ByteBuffer(string: #"{"add_tags":["夏季"],"favourite":true}"#))
            #expect(object(patched)["favourite"] as? Bool == true)
            // A share link: public, unguessable, revocable.
            let shared = try await client.execute(uri: "/api/v1/images/\(id)/share", method: .post, headers: admin)
            #expect(shared.status == .created)
            let link = try #require(object(shared)["path"] as? String)
            let open = try await client.execute(uri: link, method: .get)
            #expect(open.status == .ok && Data(open.body.readableBytesView) == tinyPNG)
            #expect(
                try await client.execute(uri: "/i/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", method: .get).status
                    == .notFound)
            #expect(
                try await client.execute(uri: "/api/v1/images/\(id)/share", method: .delete, headers: admin).status
                    == .noContent)
            #expect(try await client.execute(uri: link, method: .get).status == .notFound)
            // A tenant key does not see the studio…
            #expect(try await client.execute(uri: "/api/v1/images", method: .get, headers: key).status == .notFound)
            // …but may generate within its daily quota (1 image), in OpenAI's shape.
            let body = ByteBuffer(string: #"{"prompt":"a red parcel","model":"dashscope:wanx2.1-t2i-turbo"}"#)
            let first = try await client.execute(uri: "/v1/images/generations", method: .post, headers: key, body: body)
            #expect(first.status == .ok)
            let b64 = ((object(first)["data"] as? [[String: Any]])?.first?["b64_json"] as? String)
            #expect(b64.flatMap { Data(base64Encoded: $0) } == tinyPNG)
            let second = try await client.execute(
                uri: "/v1/images/generations", method: .post, headers: key, body: body)
            #expect(second.status == .tooManyRequests)
            #expect(String(buffer: second.body).contains("quota"))
            // A model without a key is a 400 before anything is sent.
            let noKey = try await client.execute(
                uri: "/api/v1/images", method: .post, headers: admin,
                body: ByteBuffer(string: #"{"prompt":"x","model":"openai:gpt-image-1"}"#))
            #expect(noKey.status == .badRequest)
            // Try-on inputs are checked before anything is sent: a person is required, data: URLs only,
            // an HTML page is not a picture.
            let html =
                "data:image/jpeg;base64," + Data(String(repeating: "<html>", count: 2000).utf8).base64EncodedString()
            for body in [
                #"{"top":"data:image/png;base64,AAAA"}"#, #"{"person":"@@@","top":"@@@"}"#,
                #"{"person":"\#(html)","top":"\#(html)"}"#,
            ] {
                let r = try await client.execute(
                    uri: "/api/v1/tryon", method: .post, headers: admin, body: ByteBuffer(string: body))
                #expect(r.status == .badRequest, "\(String(buffer: r.body))")
            }
            #expect(
                try await client.execute(uri: "/api/v1/images/\(id)", method: .delete, headers: admin).status
                    == .noContent)
            #expect(
                try await client.execute(uri: "/api/v1/images/\(id)", method: .get, headers: admin).status == .notFound)
        }
    }

    @Test("POST /api/v1/images and /api/v1/tryon answer 202 at once; the task finishes in the background")
    func asynchronous() async throws {
        let scratch = try ScratchDirectory("imgasync")
        defer { scratch.remove() }
        let data = scratch.child("data")
        _ = try Library(directory: data)
        let release = Mutex(false)
        let server = try await FakeProviderServer.start { req, _ in
            let port = req.header("host")?.split(separator: ":").last ?? ""
            if req.path.hasSuffix("/image-synthesis") {
                return .json(#"{"output":{"task_id":"t-1","task_status":"PENDING"}}"#)
            }
            if req.path.hasPrefix("/r/") {
                return FakeResponse(
                    headers: [("Content-Type", "image/png"), ("Content-Length", "\(tinyPNG.count)")],
                    parts: [.data(tinyPNG)])
            }
            guard release.withLock({ $0 }) else {
                return .json(#"{"output":{"task_id":"t-1","task_status":"RUNNING"}}"#)
            }
            return .json(
                #"{"output":{"task_id":"t-1","task_status":"SUCCEEDED","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}],"image_url":"http://127.0.0.1:\#(port)/r/a.png"}}"#
            )
        }
        defer { Task { await server.shutdown() } }
        try """
        images:
          download: { allow: ["127.0.0.1/32"] }
          poll: { initial: 0.02, max: 0.05 }
          task_timeout: 120
          public_base_url: https://studio.example.com
        """.write(to: data.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = Secret("admin-key-0123456789abcdef")
        c.environment = [
            "WENDAO_DASHSCOPE_BASE_URL": "http://127.0.0.1:\(server.port)/compatible-mode/v1",
            "DASHSCOPE_API_KEY": "sk-test-0123456789abcdef0123456789",
        ]
        let admin: HTTPFields = [.authorization: "Bearer admin-key-0123456789abcdef", .contentType: "application/json"]
        let srv = try WendaoServer(configuration: c, logger: Logger(label: "test.images"))
        try await srv.application().test(.router) { client in
            func record(_ id: Int) async throws -> [String: Any] {
                object(try await client.execute(uri: "/api/v1/images/\(id)", method: .get, headers: admin))
            }
            func finished(_ id: Int) async throws -> [String: Any] {
                for _ in 0..<1000 {
                    let r = try await record(id)
                    if let s = r["status"] as? String, !["submitting", "pending", "running"].contains(s) { return r }
                    try await Task.sleep(for: .milliseconds(20))
                }
                return try await record(id)
            }
            let made = try await client.execute(
                uri: "/api/v1/images", method: .post, headers: admin, body: ByteBuffer(string: #"{"prompt":"白底 保温杯"}"#))
            #expect(made.status == .accepted)
            let accepted = object(made)
            #expect(accepted["status"] as? String == "submitting")
            let id = try #require(accepted["id"] as? Int)
            #expect(made.headers[.location] == "/api/v1/images/\(id)")
            // The provider is still working: the record says so (with the task id once it is known).
            var seen = try await record(id)
            for _ in 0..<500 where seen["task_id"] == nil {
                try await Task.sleep(for: .milliseconds(10))
                seen = try await record(id)
            }
            #expect(seen["task_id"] as? String == "t-1")
            #expect(["pending", "running"].contains(seen["status"] as? String ?? ""))
            // Try-on, also 202: inputs are checked first (a bad one is still a 400 at once).
            let person = "data:image/png;base64," + (try ImagePixels.encodePNG(noise(200, 300))).base64EncodedString()
            let top = "data:image/png;base64," + (try ImagePixels.encodePNG(noise(200, 200))).base64EncodedString()
            let tryon = try await client.execute(
                uri: "/api/v1/tryon", method: .post, headers: admin,
                body: ByteBuffer(string: #"{"person":"\#(person)","top":"\#(top)"}"#))
            #expect(tryon.status == .accepted, "\(String(buffer: tryon.body))")
            let tryonID = try #require(object(tryon)["id"] as? Int)
            release.withLock { $0 = true }
            #expect(try await finished(id)["status"] as? String == "succeeded")
            let done = try await finished(tryonID)
            #expect(done["status"] as? String == "succeeded" && done["kind"] as? String == "tryon")
            // wait must be true or false.
            let bad = try await client.execute(
                uri: "/api/v1/images?wait=maybe", method: .post, headers: admin,
                body: ByteBuffer(string: #"{"prompt":"x"}"#))
            #expect(bad.status == .badRequest)
        }
    }

    @Test("A task a stopped server was following is followed again when the server starts")
    func resumedAtStart() async throws {
        let scratch = try ScratchDirectory("imgresume")
        defer { scratch.remove() }
        let data = scratch.child("data")
        _ = try Library(directory: data)
        let server = try await FakeProviderServer.start { req, _ in
            let port = req.header("host")?.split(separator: ":").last ?? ""
            if req.path.hasPrefix("/r/") {
                return FakeResponse(
                    headers: [("Content-Type", "image/png"), ("Content-Length", "\(tinyPNG.count)")],
                    parts: [.data(tinyPNG)])
            }
            return .json(
                #"{"output":{"task_id":"t-7","task_status":"SUCCEEDED","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}]}}"#
            )
        }
        defer { Task { await server.shutdown() } }
        try """
        images:
          download: { allow: ["127.0.0.1/32"] }
          poll: { initial: 0.02, max: 0.05 }
        """.write(to: data.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        // What a server killed while polling leaves behind: submitted (a task id), still running.
        let gallery = try ImageGallery(dataDirectory: data)
        let id = try gallery.create(
            kind: .generate, prompt: "白底 保温杯", negativePrompt: nil, parameters: ["n": .number(1)], seed: nil,
            model: "dashscope:wanx2.1-t2i-turbo", provider: "dashscope", estimatedCost: nil, currency: "CNY")
        try gallery.markSubmitted(id, taskID: "t-7")
        try gallery.markStatus(id, .running)
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = Secret("admin-key-0123456789abcdef")
        c.environment = [
            "WENDAO_DASHSCOPE_BASE_URL": "http://127.0.0.1:\(server.port)/compatible-mode/v1",
            "DASHSCOPE_API_KEY": "sk-test-0123456789abcdef0123456789",
        ]
        let admin: HTTPFields = [.authorization: "Bearer admin-key-0123456789abcdef"]
        let srv = try WendaoServer(configuration: c, logger: Logger(label: "test.images.resume"))
        try await srv.application().test(.router) { client in
            var status = ""
            for _ in 0..<500 {
                let r = object(try await client.execute(uri: "/api/v1/images/\(id)", method: .get, headers: admin))
                status = r["status"] as? String ?? ""
                if status == "succeeded" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            // No request asked for it: the server picked the task up as it started, and stored the picture.
            #expect(status == "succeeded")
            #expect(try gallery.record(id).files.count == 1)
        }
    }
}

/// An RGB picture of noise (large enough in bytes for DashScope's 5 KB minimum as a PNG).
private func noise(_ width: Int, _ height: Int) -> ImagePixels.RGB {
    var seed: UInt32 = 7
    let px = (0..<(width * height * 3)).map { _ -> UInt8 in
        seed = seed &* 1_103_515_245 &+ 12345
        return UInt8(truncatingIfNeeded: seed >> 16)
    }
    return ImagePixels.RGB(width: width, height: height, pixels: px)
}
