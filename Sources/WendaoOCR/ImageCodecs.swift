import Foundation
import WendaoCore

/// PNG, JPEG and TIFF decoding (placeholder until the system codecs are wired).
enum ImageCodecs {
    enum Kind { case png, jpeg, tiff }

    static func kind(_ h: [UInt8]) -> Kind? {
        if h.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if h.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if h.starts(with: [0x49, 0x49, 0x2A, 0x00]) || h.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        return nil
    }

    static func decode(_ data: Data, kind: Kind) throws -> OCRImage {
        throw WendaoError(.unsupported, "image codecs not built")
    }
}
