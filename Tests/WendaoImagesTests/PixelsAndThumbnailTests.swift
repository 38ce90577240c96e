import Foundation
import Testing
import WendaoCore
import WendaoImages
import WendaoTestSupport

/// Pictures with four coloured quadrants (a little noise, so a JPEG of them is more than DashScope's
/// 5 KB minimum), and their layout read back.
enum Quadrants {
    /// Top-left red, top-right green, bottom-left blue, bottom-right white.
    static let colours: [String: (Int, Int, Int)] = [
        "R": (220, 40, 40), "G": (40, 220, 40), "B": (40, 40, 220), "W": (220, 220, 220),
    ]

    static func image(width: Int, height: Int) -> ImagePixels.RGB {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        var seed: UInt32 = 12345
        for y in 0..<height {
            for x in 0..<width {
                let name = y < height / 2 ? (x < width / 2 ? "R" : "G") : (x < width / 2 ? "B" : "W")
                let c = colours[name]!
                let i = (y * width + x) * 3
                for (k, v) in [c.0, c.1, c.2].enumerated() {
                    seed = seed &* 1_103_515_245 &+ 12345
                    let noise = Int((seed >> 16) % 31) - 15
                    px[i + k] = UInt8(max(0, min(255, v + noise)))
                }
            }
        }
        return ImagePixels.RGB(width: width, height: height, pixels: px)
    }

    /// The colour names at the centres of the four quadrants: top-left, top-right, bottom-left, bottom-right.
    static func layout(_ img: ImagePixels.RGB) -> [String] {
        let points = [
            (img.width / 4, img.height / 4), (3 * img.width / 4, img.height / 4), (img.width / 4, 3 * img.height / 4),
            (3 * img.width / 4, 3 * img.height / 4),
        ]
        return points.map { cx, cy in
            var sum = (0, 0, 0)
            var n = 0
            for y in max(0, cy - 4)...min(img.height - 1, cy + 4) {
                for x in max(0, cx - 4)...min(img.width - 1, cx + 4) {
                    let p = img.pixel(x, y)
                    sum = (sum.0 + Int(p.0), sum.1 + Int(p.1), sum.2 + Int(p.2))
                    n += 1
                }
            }
            let mean = (sum.0 / n, sum.1 / n, sum.2 / n)
            return colours.min { a, b in distance(a.value, mean) < distance(b.value, mean) }!.key
        }
    }

    static func distance(_ a: (Int, Int, Int), _ b: (Int, Int, Int)) -> Int {
        abs(a.0 - b.0) + abs(a.1 - b.1) + abs(a.2 - b.2)
    }

    /// `jpeg` with an EXIF block (big-endian TIFF, one IFD entry: Orientation) inserted after SOI.
    static func withOrientation(_ jpeg: Data, _ orientation: Int) -> Data {
        var exif: [UInt8] = Array("Exif".utf8) + [0, 0]
        exif += [0x4D, 0x4D, 0x00, 0x2A, 0, 0, 0, 8]
        exif += [0, 1]
        exif += [0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, UInt8(orientation), 0, 0]
        exif += [0, 0, 0, 0]
        let app1: [UInt8] = [0xFF, 0xE1, UInt8((exif.count + 2) >> 8), UInt8((exif.count + 2) & 0xFF)] + exif
        return jpeg.prefix(2) + Data(app1) + jpeg.dropFirst(2)
    }
}

@Suite("Pictures turned upright by EXIF orientation; gallery thumbnails")
struct PixelsAndThumbnailTests {
    /// The layout each orientation must show once upright (TIFF/EXIF 2.3, tag 0x0112): stored R G / B W.
    static let expected: [Int: [String]] = [
        1: ["R", "G", "B", "W"], 2: ["G", "R", "W", "B"], 3: ["W", "B", "G", "R"], 4: ["B", "W", "R", "G"],
        5: ["R", "B", "G", "W"], 6: ["B", "R", "W", "G"], 7: ["W", "G", "B", "R"], 8: ["G", "W", "R", "B"],
    ]

    @Test("A JPEG with orientation 2–8 comes out upright (size and pixel layout), without EXIF", arguments: 1...8)
    func upright(orientation: Int) throws {
        let stored = Quadrants.image(width: 320, height: 200)
        #expect(Quadrants.layout(stored) == ["R", "G", "B", "W"])
        let jpeg = Quadrants.withOrientation(try ImagePixels.encodeJPEG(stored), orientation)
        let info = try ImageSniffer.inspect(jpeg)
        #expect(info.orientation == orientation)
        guard let turned = try ImagePixels.upright(jpeg, info: info) else {
            #expect(orientation == 1)
            return
        }
        #expect(orientation != 1)
        let out = try ImageSniffer.inspect(turned.data)
        #expect(out.format == .jpeg && out.orientation == 1)
        let swapped = orientation >= 5
        #expect(out.width == (swapped ? 200 : 320) && out.height == (swapped ? 320 : 200))
        #expect(turned.info.width == out.width && turned.info.height == out.height)
        let decoded = try ImagePixels.decode(turned.data)
        #expect(decoded.width == out.width && decoded.height == out.height)
        #expect(Quadrants.layout(decoded) == Self.expected[orientation])
    }

    @Test("PNG, WebP and JPEG without orientation are left alone; a PNG round-trips its pixels")
    func untouched() throws {
        let image = Quadrants.image(width: 64, height: 48)
        let png = try ImagePixels.encodePNG(image)
        #expect(try ImagePixels.upright(png, info: ImageSniffer.inspect(png)) == nil)
        #expect(try ImagePixels.decode(png) == image)
        let jpeg = try ImagePixels.encodeJPEG(image)
        #expect(try ImagePixels.upright(jpeg, info: ImageSniffer.inspect(jpeg)) == nil)
        let webp = ImageInfo(format: .webp, width: 100, height: 100, orientation: 1)
        #expect(try ImagePixels.upright(Data(), info: webp) == nil)
    }

    @Test("A truncated JPEG with an orientation is refused, naming the file, before anything is sent")
    func truncatedUpright() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let whole = Quadrants.withOrientation(try ImagePixels.encodeJPEG(Quadrants.image(width: 320, height: 200)), 8)
        let cut = whole.prefix(whole.count * 2 / 3)
        let info = try ImageSniffer.inspect(cut)
        #expect(info.orientation == 8)
        let error = thrownWendaoError { _ = try ImagePixels.upright(cut, info: info) }
        #expect(error?.code == .corrupt)
        let server = try await FakeProviderServer.start { _, _ in task("PENDING") }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { $0.publicBaseURL = "https://studio.example.com" }
        let person = try scratch.write("sideways.jpg", cut)
        let top = try scratch.write("shirt.png", TestImages.png(width: 200, height: 200, seed: 2))
        await #expect { try await studio.tryOn(TryOnRequest(person: person.path, top: top.path)) } throws: {
            let m = ($0 as? WendaoError)?.message ?? ""
            return m.contains("sideways.jpg") && m.contains("upright") && m.contains("damaged")
        }
        await studio.shutdown()
        #expect(server.requests.isEmpty)
        #expect(try studio.gallery.list(GalleryQuery()).total == 0)
    }

    @Test("Try-on: a person photo with orientation 6 reaches the provider upright; other inputs byte for byte")
    func tryOnUpright() async throws {
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
        let studio = try makeStudio(scratch, server: server) { $0.publicBaseURL = "https://studio.example.com" }
        let personBytes = Quadrants.withOrientation(
            try ImagePixels.encodeJPEG(Quadrants.image(width: 320, height: 200)), 6)
        let topBytes = try ImagePixels.encodeJPEG(Quadrants.image(width: 200, height: 200))
        let bottomBytes = Quadrants.withOrientation(
            try ImagePixels.encodeJPEG(Quadrants.image(width: 180, height: 240)), 1)
        let person = try scratch.write("p.jpg", personBytes)
        let top = try scratch.write("shirt.jpg", topBytes)
        let bottom = try scratch.write("trousers.jpg", bottomBytes)
        let record = try await studio.tryOn(TryOnRequest(person: person.path, top: top.path, bottom: bottom.path))
        await studio.shutdown()
        #expect(record.status == .succeeded)
        let submit = try #require(server.requests.first { $0.path.hasSuffix("/image-synthesis") })
        let input = try #require(submit.jsonObject()?["input"] as? [String: Any])
        func sent(_ key: String) throws -> String {
            let url = try #require(input[key] as? String)
            let path = try #require(URLComponents(string: url)).path
            return String(path.dropFirst(URLSigner.pathPrefix.count).prefix(64))
        }
        // Top (no EXIF) and bottom (orientation 1): the very bytes given.
        #expect(try sent("top_garment_url") == TestImages.sha(topBytes))
        #expect(try sent("bottom_garment_url") == TestImages.sha(bottomBytes))
        // The person: new bytes, stored where the signed URL points, upright.
        let personSHA = try sent("person_image_url")
        #expect(personSHA != TestImages.sha(personBytes))
        let served = try Data(contentsOf: studio.gallery.path(sha256: personSHA, format: .jpeg))
        let info = try ImageSniffer.inspect(served)
        #expect(info.width == 200 && info.height == 320 && info.orientation == 1)
        #expect(Quadrants.layout(try ImagePixels.decode(served)) == ["B", "R", "W", "G"])
    }

    @Test("A result gets a 256 px JPEG thumbnail when stored; a WebP result is kept without one, saying why")
    func thumbnailsAtStore() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let png = try ImagePixels.encodePNG(Quadrants.image(width: 600, height: 400))
        let webp =
            Data("RIFF".utf8) + Data([0, 0, 0, 0]) + Data("WEBPVP8X".utf8) + Data([10, 0, 0, 0, 0, 0, 0, 0])
            + Data([0xFF, 0x03, 0x00, 0xFF, 0x01, 0x00]) + Data(count: 2000)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path == "/r/a.png" { return pngResponse(png) }
            if req.path == "/r/b.webp" {
                return FakeResponse(
                    headers: [("Content-Type", "image/webp"), ("Content-Length", "\(webp.count)")], parts: [.data(webp)]
                )
            }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task(
                "SUCCEEDED",
                #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"},{"url":"http://127.0.0.1:\#(port)/r/b.webp"}]"#
            )
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server)
        var request = GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "白底 保温杯")
        request.count = 2
        let record = try await studio.generate(request)
        await studio.shutdown()
        #expect(record.status == .succeeded && record.files.count == 2)
        let first = try #require(record.files.first)
        let thumbPath = try #require(first.thumbnailPath)
        #expect(thumbPath == studio.gallery.thumbnailPath(sha256: first.sha256).path)
        let thumb = try Data(contentsOf: URL(fileURLWithPath: thumbPath))
        let info = try ImageSniffer.inspect(thumb)
        #expect(info.format == .jpeg && info.width == 256 && info.height == 171)
        #expect(Quadrants.layout(try ImagePixels.decode(thumb)) == ["R", "G", "B", "W"])
        let second = record.files[1]
        #expect(second.format == .webp && second.thumbnailPath == nil)
        #expect(second.thumbnailSkipped?.contains("WebP") == true)
        // Read back from the gallery: the same.
        let again = try studio.gallery.record(record.id)
        #expect(again.files == record.files)
        #expect(throws: WendaoError.self) { try studio.gallery.thumbnail(recordID: record.id, index: 1) }
        // Deleting the record removes the thumbnail with the file.
        try studio.gallery.delete(record.id)
        #expect(!FileManager.default.fileExists(atPath: thumbPath))
    }

    @Test("Older records get thumbnails lazily; a PNG bomb and 200 megapixels are refused from the header, recorded")
    func lazyThumbnails() throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let gallery = try ImageGallery(dataDirectory: scratch.url)
        func stored(_ data: Data) throws -> Int64 {
            let info = try ImageSniffer.inspect(data)
            let (sha, path) = try gallery.storeFile(data, info: info)
            let id = try gallery.create(
                kind: .generate, prompt: "old", negativePrompt: nil, parameters: [:], seed: nil, model: "m",
                provider: "dashscope", estimatedCost: nil, currency: "CNY")
            try gallery.finish(
                id, status: .succeeded,
                files: [
                    ImageFile(
                        index: 0, sha256: sha, format: info.format, bytes: data.count, width: info.width,
                        height: info.height, path: path.path, sourceURL: nil)
                ], errorCode: nil, errorMessage: nil, cost: nil)
            return id
        }
        let old = try stored(try ImagePixels.encodeJPEG(Quadrants.image(width: 300, height: 600)))
        #expect(try gallery.record(old).files[0].thumbnailPath == nil)
        let made = try gallery.thumbnail(recordID: old, index: 0)
        let info = try ImageSniffer.inspect(try Data(contentsOf: made))
        #expect(info.width == 128 && info.height == 256)
        #expect(try gallery.record(old).files[0].thumbnailPath == made.path)
        #expect(try gallery.thumbnail(recordID: old, index: 0) == made)
        #expect(throws: WendaoError.self) { try gallery.thumbnail(recordID: old, index: 5) }

        for (bomb, size) in [
            (TestImages.pngBomb(), "100000×100000"), (TestImages.pngBomb(width: 20_000, height: 10_000), "20000×10000"),
        ] {
            let id = try stored(bomb)
            let error = thrownWendaoError { _ = try gallery.thumbnail(recordID: id, index: 0) }
            #expect(error?.code == .unsupported)
            #expect(error?.message.contains(size) == true, "\(error?.message ?? "")")
            let file = try gallery.record(id).files[0]
            #expect(file.thumbnailPath == nil && file.thumbnailSkipped?.contains("no pixel decoded") == true)
            #expect(!FileManager.default.fileExists(atPath: gallery.thumbnailPath(sha256: file.sha256).path))
            // Asked again: the recorded reason, nothing tried.
            #expect(thrownWendaoError { _ = try gallery.thumbnail(recordID: id, index: 0) }?.message == error?.message)
        }
    }

    @Test("startGenerate returns with the record before the provider finishes; the task goes on in the background")
    func startsInBackground() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let result = TestImages.png(width: 40, height: 60, seed: 3)
        let release = Switch()
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(result) }
            guard release.isOn else { return task("RUNNING") }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task("SUCCEEDED", #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}]"#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { $0.taskTimeout = 60 }
        let started = try studio.startGenerate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x"))
        #expect(started.record.status == .submitting && started.record.files.isEmpty)
        // The provider has not finished: the record is still going, with the task id once submitted.
        var seen = try studio.gallery.record(started.record.id)
        for _ in 0..<500 where seen.taskID == nil {
            try await Task.sleep(for: .milliseconds(10))
            seen = try studio.gallery.record(started.record.id)
        }
        #expect(seen.taskID == "t-1")
        #expect(!seen.status.isFinal)
        release.set(true)
        let finished = await started.finished.value
        #expect(finished.status == .succeeded && finished.files.first?.sha256 == TestImages.sha(result))
        #expect(try studio.gallery.record(started.record.id).status == .succeeded)
        // A bad request is refused at once, before anything is recorded or sent.
        #expect(throws: WendaoError.self) {
            try studio.startGenerate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: " "))
        }
        #expect(try studio.gallery.list(GalleryQuery()).total == 1)
        await studio.shutdown()
    }
}
