import Foundation
import Logging
import Synchronization
import WendaoCore
import WendaoImages
import WendaoModels
import WendaoTestSupport

/// Real image bytes made at test time.
enum TestImages {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let t = Array(type.utf8)
        return be32(UInt32(data.count)) + t + data + be32(crc32(t + data))
    }

    /// A valid RGB PNG of `width`×`height` (zlib with stored blocks, so any PNG reader decodes it).
    static func png(width: Int, height: Int, seed: UInt8 = 0) -> Data {
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (1 + width * 3))
        for y in 0..<height {
            raw.append(0)
            for x in 0..<width {
                raw += [UInt8(truncatingIfNeeded: x &+ Int(seed)), UInt8(truncatingIfNeeded: y), seed]
            }
        }
        var z: [UInt8] = [0x78, 0x01]
        var i = 0
        while i < raw.count || raw.isEmpty {
            let n = min(65_535, raw.count - i)
            let final: UInt8 = i + n >= raw.count ? 1 : 0
            z += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            z += raw[i..<i + n]
            i += n
            if raw.isEmpty { break }
        }
        var a: UInt32 = 1
        var b: UInt32 = 0
        for x in raw {
            a = (a + UInt32(x)) % 65_521
            b = (b + a) % 65_521
        }
        z += be32(b << 16 | a)
        let ihdr = be32(UInt32(width)) + be32(UInt32(height)) + [8, 2, 0, 0, 0]
        let sig: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        return Data(sig + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", []))
    }

    /// A small PNG whose header declares a huge canvas (a "PNG bomb"): decoding it would need
    /// gigabytes; reading the header costs nothing.
    static func pngBomb(width: Int = 100_000, height: Int = 100_000) -> Data {
        let ihdr = be32(UInt32(width)) + be32(UInt32(height)) + [8, 2, 0, 0, 0]
        let sig: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        // Highly compressible zeros would inflate to the full canvas; a few kilobytes of padding keep
        // the file over DashScope's 5 KB minimum.
        let idat = [UInt8](repeating: 0, count: 8 * 1024)
        return Data(sig + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", []))
    }

    /// A JPEG header with an EXIF orientation and a start-of-frame (enough for the sniffer).
    static func jpegHeader(width: Int, height: Int, orientation: Int) -> Data {
        var exif: [UInt8] = Array("Exif".utf8) + [0, 0]
        exif += [0x4D, 0x4D, 0x00, 0x2A, 0, 0, 0, 8]  // big-endian TIFF, IFD at 8
        exif += [0, 1]  // one entry
        exif += [0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, UInt8(orientation), 0, 0]
        exif += [0, 0, 0, 0]
        var out: [UInt8] = [0xFF, 0xD8]
        out += [0xFF, 0xE1] + [UInt8((exif.count + 2) >> 8), UInt8((exif.count + 2) & 0xFF)] + exif
        let sof: [UInt8] = [
            8, UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF), 3,
            1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1,
        ]
        out += [0xFF, 0xC0, 0, UInt8(sof.count + 2)] + sof
        out += [0xFF, 0xD9]
        return Data(out)
    }

    static func sha(_ d: Data) -> String {
        var h = SHA256()
        h.update(d)
        return h.hexDigest()
    }
}

/// A canary key that must never appear in output.
let canaryKey = "sk-canary-0123456789abcdef0123456789"

/// A studio over a scratch data directory, pointed at a fake server for every provider.
func makeStudio(
    _ scratch: ScratchDirectory, server: FakeProviderServer,
    configure: (inout ImageStudioConfiguration) -> Void = { _ in }
) throws -> ImageStudio {
    var c = ImageStudioConfiguration()
    c.downloadAllow = ["127.0.0.1/32"]
    c.pollInitial = 0.02
    c.pollMax = 0.05
    c.taskTimeout = 10
    c.downloadTimeout = 5
    c.sdwebuiBaseURL = "http://127.0.0.1:\(server.port)"
    c.comfyuiBaseURL = "http://127.0.0.1:\(server.port)"
    configure(&c)
    let env = [
        "WENDAO_DASHSCOPE_BASE_URL": "http://127.0.0.1:\(server.port)/compatible-mode/v1",
        "DASHSCOPE_API_KEY": canaryKey,
        "WENDAO_OPENAI_BASE_URL": "http://127.0.0.1:\(server.port)/v1", "OPENAI_API_KEY": canaryKey,
    ]
    var models = ModelsConfiguration()
    models.retry.maxRetries = 0
    return try ImageStudio(
        dataDirectory: scratch.url, configuration: c, models: models, environment: env,
        gateway: ModelGateway(configuration: models, logger: Logger(label: "test")), logger: Logger(label: "test"),
        ownsGateway: true)
}

/// A counter shared with a fake server's handler.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock { v in
            defer { v += 1 }; return v
        }
    }
    var current: Int { value.withLock { $0 } }
}

/// A switch shared with a fake server's handler.
final class Switch: Sendable {
    private let value = Mutex(false)
    func set(_ on: Bool) { value.withLock { $0 = on } }
    var isOn: Bool { value.withLock { $0 } }
}
