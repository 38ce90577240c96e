import Foundation
import Testing
import WendaoCore
import WendaoImages
import WendaoTestSupport

@Suite("Try-on inputs, header-only image inspection and signed URLs")
struct TryOnAndInputTests {
    @Test("PNG, JPEG (EXIF orientation) and WebP sizes come from the headers")
    func headers() throws {
        let png = try ImageSniffer.inspect(TestImages.png(width: 300, height: 200))
        #expect(png.format == .png && png.width == 300 && png.height == 200)
        let jpeg = try ImageSniffer.inspect(TestImages.jpegHeader(width: 4000, height: 3000, orientation: 6))
        #expect(jpeg.format == .jpeg && jpeg.width == 4000 && jpeg.height == 3000 && jpeg.orientation == 6)
        #expect(jpeg.displayWidth == 3000 && jpeg.displayHeight == 4000)
        var vp8x = Data("RIFF".utf8) + Data([0, 0, 0, 0]) + Data("WEBPVP8X".utf8) + Data([10, 0, 0, 0, 0, 0, 0, 0])
        vp8x += Data([0xFF, 0x03, 0x00, 0xFF, 0x01, 0x00]) + Data(count: 10)
        let webp = try ImageSniffer.inspect(vp8x)
        #expect(webp.format == .webp && webp.width == 1024 && webp.height == 512)
    }

    @Test(
        "Refused inputs: HTML named .jpg, SVG, GIF, a PNG bomb, 200 megapixels, too small in bytes or pixels",
        arguments: ["html", "svg", "gif", "bomb", "200mp", "tiny-bytes", "tiny-pixels", "truncated"])
    func refused(kind: String) throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let data: Data
        var name = "person.jpg"
        switch kind {
        case "html":
            data = Data(("<!DOCTYPE html><html><body>" + String(repeating: "x", count: 6000) + "</body></html>").utf8)
        case "svg":
            name = "person.svg"
            data = Data(
                ("<svg xmlns=\"http://www.w3.org/2000/svg\">" + String(repeating: " ", count: 6000) + "</svg>").utf8)
        case "gif": data = Data("GIF89a".utf8) + Data(count: 6000)
        case "bomb": data = TestImages.pngBomb()
        case "200mp": data = TestImages.pngBomb(width: 20_000, height: 10_000)
        case "tiny-bytes": data = TestImages.png(width: 10, height: 10)
        case "tiny-pixels": data = TestImages.png(width: 100, height: 100, seed: 3)
        default: data = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + Data(count: 6000)
        }
        let file = try scratch.write(name, data)
        let started = ContinuousClock.now
        let error = thrownWendaoError {
            _ = try InputChecks.check(file: file, role: "person", limits: .dashScopeTryOn)
        }
        #expect(ContinuousClock.now - started < .seconds(1))
        let message = try #require(error).message
        switch kind {
        case "html": #expect(message.contains("HTML page"))
        case "svg": #expect(message.contains("SVG"))
        case "bomb": #expect(message.contains("100000×100000"))
        case "200mp": #expect(message.contains("20000×10000"))
        case "tiny-bytes": #expect(message.contains("at least 5.0 KB"))
        case "tiny-pixels": #expect(message.contains("at least 150"))
        default: break
        }
    }

    @Test("Signed URLs: valid until expiry; a changed name, expiry or signature is refused")
    func signedURLs() throws {
        let signer = URLSigner(baseURL: "https://studio.example.com/", key: Array(repeating: 7, count: 32))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let name = String(repeating: "a", count: 64) + ".png"
        let url = signer.url(for: name, ttl: 60, now: now)
        #expect(url.hasPrefix("https://studio.example.com/files/images/\(name)?exp=1800000060&sig="))
        let c = try #require(URLComponents(string: url))
        let exp = c.queryItems?.first { $0.name == "exp" }?.value
        let sig = c.queryItems?.first { $0.name == "sig" }?.value
        try signer.verify(name: name, expires: exp, signature: sig, now: now)
        // Expired.
        #expect(throws: WendaoError.self) {
            try signer.verify(name: name, expires: exp, signature: sig, now: now.addingTimeInterval(61))
        }
        // Tampered name, expiry, signature; missing parts.
        let other = String(repeating: "b", count: 64) + ".png"
        #expect(throws: WendaoError.self) { try signer.verify(name: other, expires: exp, signature: sig, now: now) }
        #expect(throws: WendaoError.self) {
            try signer.verify(name: name, expires: "1900000000", signature: sig, now: now)
        }
        var flipped = Array(sig!)
        flipped[0] = flipped[0] == "0" ? "1" : "0"
        #expect(throws: WendaoError.self) {
            try signer.verify(name: name, expires: exp, signature: String(flipped), now: now)
        }
        #expect(throws: WendaoError.self) { try signer.verify(name: name, expires: nil, signature: sig, now: now) }
        // Another key does not verify.
        let other2 = URLSigner(baseURL: "https://studio.example.com", key: Array(repeating: 8, count: 32))
        #expect(throws: WendaoError.self) { try other2.verify(name: name, expires: exp, signature: sig, now: now) }
        #expect(URLSigner.isServableName(name))
        #expect(!URLSigner.isServableName("../gallery.sqlite"))
        #expect(!URLSigner.isServableName(String(repeating: "a", count: 64) + ".svg"))
    }

    @Test("HMAC-SHA256 matches RFC 4231 test case 2")
    func hmac() {
        let mac = HMACSHA256.mac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(
            mac.map { String(format: "%02x", $0) }.joined()
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("DashScope try-on: inputs checked, offered at signed URLs, result stored")
    func tryOn() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let result = TestImages.png(width: 40, height: 60, seed: 9)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(result) }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task("SUCCEEDED", #","image_url":"http://127.0.0.1:\#(port)/r/tryon.png""#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { c in
            c.publicBaseURL = "https://studio.example.com"
            c.prices["dashscope:aitryon"] = 0.2
        }
        let person = try scratch.write("p.png", TestImages.png(width: 200, height: 300, seed: 1))
        let top = try scratch.write("shirt.png", TestImages.png(width: 200, height: 200, seed: 2))
        let record = try await studio.tryOn(TryOnRequest(person: person.path, top: top.path))
        #expect(record.status == .succeeded)
        #expect(record.kind == .tryon)
        #expect(record.files.first?.sha256 == TestImages.sha(result))
        let submit = try #require(server.requests.first)
        #expect(submit.path == "/api/v1/services/aigc/image2image/image-synthesis")
        let input = try #require(submit.jsonObject()?["input"] as? [String: Any])
        let personURL = try #require(input["person_image_url"] as? String)
        #expect(personURL.hasPrefix("https://studio.example.com/files/images/"))
        #expect(input["top_garment_url"] != nil && input["bottom_garment_url"] == nil)
        // The URL verifies with the data directory's key and names the stored upload.
        let c = try #require(URLComponents(string: personURL))
        let name = String(c.path.dropFirst(URLSigner.pathPrefix.count))
        let signer = try URLSigner.open(dataDirectory: scratch.url, baseURL: "https://studio.example.com")
        try signer.verify(
            name: name, expires: c.queryItems?.first { $0.name == "exp" }?.value,
            signature: c.queryItems?.first { $0.name == "sig" }?.value)
        #expect(name.hasPrefix(TestImages.sha(try Data(contentsOf: person))))
        await studio.shutdown()
    }

    @Test("Without public_base_url, DashScope's temporary storage: oss:// URLs, the resolve header, no key sent to OSS")
    func temporaryUploads() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let result = TestImages.png(width: 40, height: 60, seed: 4)
        let server = try await FakeProviderServer.start { req, _ in
            let port = req.header("host")?.split(separator: ":").last ?? ""
            if req.path.hasPrefix("/api/v1/uploads?action=getPolicy&model=aitryon-plus") {
                return .json(
                    #"{"request_id":"u1","data":{"policy":"cG9saWN5","signature":"c2ln","upload_dir":"dashscope-instant/abc/2026-12-07","upload_host":"http://127.0.0.1:\#(port)/oss","expire_in_seconds":300,"max_file_size_mb":100,"capacity_limit_mb":999999,"oss_access_key_id":"LTAI-test","x_oss_object_acl":"private","x_oss_forbid_overwrite":"true"}}"#
                )
            }
            if req.path == "/oss" { return .text("", status: 200, contentType: "text/plain") }
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(result) }
            return task("SUCCEEDED", #","image_url":"http://127.0.0.1:\#(port)/r/tryon.png""#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { $0.dashScopeTemporaryUploads = true }
        let person = try scratch.write("p.png", TestImages.png(width: 200, height: 300, seed: 1))
        let bottom = try scratch.write("trousers.png", TestImages.png(width: 200, height: 200, seed: 2))
        var r = TryOnRequest(person: person.path, bottom: bottom.path)
        r.model = "dashscope:aitryon-plus"
        let record = try await studio.tryOn(r)
        await studio.shutdown()
        #expect(record.status == .succeeded)
        let uploads = server.requests.filter { $0.path == "/oss" }
        #expect(uploads.count == 2)
        #expect(uploads.allSatisfy { $0.header("Authorization") == nil })
        #expect(uploads.first?.bodyString.contains("name=\"key\"\r\n\r\ndashscope-instant/abc/2026-12-07/") == true)
        let submit = try #require(server.requests.first { $0.path.hasSuffix("/image-synthesis") })
        #expect(submit.header("X-DashScope-OssResourceResolve") == "enable")
        let input = try #require(submit.jsonObject()?["input"] as? [String: Any])
        #expect((input["person_image_url"] as? String)?.hasPrefix("oss://dashscope-instant/abc/2026-12-07/") == true)
        #expect((input["bottom_garment_url"] as? String)?.hasPrefix("oss://") == true)
        #expect((submit.jsonObject()?["model"] as? String) == "aitryon-plus")
    }

    @Test("Try-on refuses an SVG garment and a missing public_base_url before any request")
    func tryOnRefusals() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { _, _ in task("PENDING") }
        defer { Task { await server.shutdown() } }
        let person = try scratch.write("p.png", TestImages.png(width: 200, height: 300, seed: 1))
        let svg = try scratch.write(
            "shirt.jpg",
            Data(("<svg xmlns='http://www.w3.org/2000/svg'>" + String(repeating: " ", count: 6000) + "</svg>").utf8))
        let top = try scratch.write("top.png", TestImages.png(width: 200, height: 200, seed: 2))
        let withBase = try makeStudio(scratch, server: server) { $0.publicBaseURL = "https://studio.example.com" }
        await #expect { try await withBase.tryOn(TryOnRequest(person: person.path, top: svg.path)) } throws: {
            ($0 as? WendaoError)?.message.contains("SVG") == true
        }
        await withBase.shutdown()
        let noBase = try makeStudio(scratch, server: server)
        await #expect { try await noBase.tryOn(TryOnRequest(person: person.path, top: top.path)) } throws: {
            ($0 as? WendaoError)?.message.contains("public_base_url") == true
        }
        await #expect { try await noBase.tryOn(TryOnRequest(person: person.path)) } throws: {
            ($0 as? WendaoError)?.message.contains("--top") == true
        }
        await noBase.shutdown()
        #expect(server.requests.isEmpty)
    }
}
