import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import WendaoCore
import WendaoImages
import WendaoModels
@testable import WendaoServer
import WendaoTestSupport

@Suite("Signed image links")
struct SignedImageLinkTests {
    @Test(
        "A signed link serves the stored image without a key; tampered, expired, unsigned and other names are refused")
    func signedLinks() async throws {
        let scratch = try ScratchDirectory("signed")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let gallery = try ImageGallery(dataDirectory: data)
        // A 1×1 PNG header is enough: the route serves bytes, it does not decode them.
        var bytes = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13])
        bytes += Data("IHDR".utf8) + Data([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0, 0, 0, 0])
        let png = bytes
        let (sha, _) = try gallery.storeFile(png, info: ImageInfo(format: .png, width: 1, height: 1))
        let signer = try URLSigner.open(dataDirectory: data, baseURL: "https://studio.example.com")
        let name = "\(sha).png"
        let good = signer.url(for: name, ttl: 60)
        let path = String(good.dropFirst("https://studio.example.com".count))
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = Secret("admin-key-0123456789abcdef")
        let srv = try WendaoServer(configuration: c, logger: Logger(label: "test.signed"))
        try await srv.application().test(.router) { client in
            let ok = try await client.execute(uri: path, method: .get)
            #expect(ok.status == .ok)
            #expect(ok.headers[.contentType] == "image/png")
            #expect(Data(ok.body.readableBytesView) == png)
            let exp = Int(Date().timeIntervalSince1970) - 10
            let expired = "/files/images/\(name)?exp=\(exp)&sig=\(signer.signature(name: name, expires: exp))"
            #expect(try await client.execute(uri: expired, method: .get).status == .forbidden)
            let tampered = path.replacingOccurrences(of: "exp=", with: "exp=9")
            #expect(try await client.execute(uri: tampered, method: .get).status == .forbidden)
            #expect(try await client.execute(uri: "/files/images/\(name)", method: .get).status == .forbidden)
            let otherName = String(repeating: "0", count: 64) + ".png"
            let other =
                "/files/images/\(otherName)?exp=\(exp + 1000)&sig=\(signer.signature(name: otherName, expires: exp + 1000))"
            #expect(try await client.execute(uri: other, method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/files/images/gallery.sqlite", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/files/images/..%2Fsigning.key", method: .get).status == .notFound)
        }
    }
}
