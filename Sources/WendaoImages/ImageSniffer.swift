public import Foundation
public import WendaoCore

/// The image formats Wendao stores and sends: PNG, JPEG and WebP. Anything else is refused.
public enum ImageFormat: String, Sendable, Codable, CaseIterable {
    /// Portable Network Graphics.
    case png
    /// JPEG (JFIF or EXIF).
    case jpeg
    /// WebP (lossy, lossless or extended).
    case webp

    /// The media type (`image/png`).
    public var mimeType: String {
        switch self {
        case .png: "image/png"
        case .jpeg: "image/jpeg"
        case .webp: "image/webp"
        }
    }

    /// The file name extension, without the dot.
    public var fileExtension: String {
        switch self {
        case .png: "png"
        case .jpeg: "jpg"
        case .webp: "webp"
        }
    }
}

/// What the first bytes of an image say: its format, pixel size and EXIF orientation, read from the
/// headers alone (no pixel is ever decoded, so a "PNG bomb" — a small file declaring a huge canvas —
/// costs nothing to inspect).
public struct ImageInfo: Sendable, Equatable, Codable {
    /// The format.
    public var format: ImageFormat
    /// Width in pixels as stored.
    public var width: Int
    /// Height in pixels as stored.
    public var height: Int
    /// The EXIF orientation (1–8; 1 when absent). 5–8 mean the picture is shown turned a quarter.
    public var orientation: Int

    /// Creates an image description.
    public init(format: ImageFormat, width: Int, height: Int, orientation: Int = 1) {
        self.format = format
        self.width = width
        self.height = height
        self.orientation = orientation
    }

    /// Width as displayed (after the EXIF orientation is applied).
    public var displayWidth: Int { orientation >= 5 && orientation <= 8 ? height : width }
    /// Height as displayed (after the EXIF orientation is applied).
    public var displayHeight: Int { orientation >= 5 && orientation <= 8 ? width : height }
}

/// Reads image headers safely: bounded loops, every offset checked, at most the first few hundred
/// kilobytes looked at.
///
/// ```swift
/// let info = try ImageSniffer.inspect(Data(contentsOf: url))
/// print(info.format, info.width, info.height)
/// ```
public enum ImageSniffer {
    /// What the content looks like when it is not an accepted image (for messages).
    public static func describeOther(_ data: Data) -> String {
        let head = data.prefix(512)
        let text = String(decoding: head, as: UTF8.self).lowercased()
        if data.isEmpty { return "an empty file" }
        if head.starts(with: [0x47, 0x49, 0x46, 0x38]) { return "a GIF image" }
        if text.contains("<svg") { return "an SVG drawing" }
        if text.contains("<html") || text.contains("<!doctype html") || text.contains("<head") || text.contains("<body")
        {
            return "an HTML page"
        }
        if head.starts(with: Array("%PDF-".utf8)) { return "a PDF" }
        if head.starts(with: [0x42, 0x4D]) { return "a BMP image" }
        if head.count >= 12, head[head.startIndex + 4..<head.startIndex + 8].elementsEqual(Array("ftyp".utf8)) {
            return "an HEIC/AVIF or MP4 file"
        }
        if text.hasPrefix("{") || text.hasPrefix("[") { return "JSON" }
        return "not a PNG, JPEG or WebP image"
    }

    /// The format of `data` by its magic bytes, or nil.
    public static func format(of data: Data) -> ImageFormat? {
        let b = [UInt8](data.prefix(16))
        if b.count >= 8, b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return .jpeg }
        if b.count >= 12, b[0..<4] == [0x52, 0x49, 0x46, 0x46], b[8..<12] == [0x57, 0x45, 0x42, 0x50] { return .webp }
        return nil
    }

    /// The format, pixel size and orientation of `data`.
    ///
    /// - Throws: ``WendaoError`` `unsupported` when it is not PNG, JPEG or WebP (naming what it is);
    ///   `corrupt` when the headers are damaged or give no size.
    public static func inspect(_ data: Data) throws(WendaoError) -> ImageInfo {
        guard let format = format(of: data) else {
            throw WendaoError(.unsupported, "\(describeOther(data)), not a PNG, JPEG or WebP image")
        }
        let bytes = [UInt8](data.prefix(512 * 1024))
        let size: (Int, Int, Int)?
        switch format {
        case .png: size = png(bytes)
        case .jpeg: size = jpeg(bytes)
        case .webp: size = webp(bytes)
        }
        guard let (w, h, o) = size, w > 0, h > 0 else {
            throw WendaoError(.corrupt, "damaged \(format.rawValue.uppercased()) header: no pixel size can be read")
        }
        return ImageInfo(format: format, width: w, height: h, orientation: o)
    }

    static func be16(_ b: [UInt8], _ i: Int) -> Int? {
        guard i >= 0, i + 2 <= b.count else { return nil }
        return Int(b[i]) << 8 | Int(b[i + 1])
    }

    static func be32(_ b: [UInt8], _ i: Int) -> Int? {
        guard i >= 0, i + 4 <= b.count else { return nil }
        return Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
    }

    static func le16(_ b: [UInt8], _ i: Int) -> Int? {
        guard i >= 0, i + 2 <= b.count else { return nil }
        return Int(b[i]) | Int(b[i + 1]) << 8
    }

    static func le24(_ b: [UInt8], _ i: Int) -> Int? {
        guard i >= 0, i + 3 <= b.count else { return nil }
        return Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16
    }

    static func le32(_ b: [UInt8], _ i: Int) -> Int? {
        guard i >= 0, i + 4 <= b.count else { return nil }
        return Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24
    }

    /// PNG: the IHDR chunk must come first.
    static func png(_ b: [UInt8]) -> (Int, Int, Int)? {
        guard b.count >= 24, b[12..<16] == [0x49, 0x48, 0x44, 0x52], let w = be32(b, 16), let h = be32(b, 20) else {
            return nil
        }
        return (w, h, 1)
    }

    /// JPEG: walk the markers to the first start-of-frame; read the orientation from an EXIF APP1 on
    /// the way.
    static func jpeg(_ b: [UInt8]) -> (Int, Int, Int)? {
        var i = 2
        var orientation = 1
        var steps = 0
        while i + 4 <= b.count, steps < 1000 {
            steps += 1
            guard b[i] == 0xFF else { return nil }
            var marker = b[i + 1]
            while marker == 0xFF, i + 2 < b.count {
                i += 1
                marker = b[i + 1]
            }
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 {
                i += 2
                continue
            }
            guard let length = be16(b, i + 2), length >= 2 else { return nil }
            let segment = i + 4
            if marker == 0xE1, let o = exifOrientation(b, start: segment, end: min(b.count, i + 2 + length)) {
                orientation = o
            }
            if [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF].contains(marker) {
                guard let h = be16(b, segment + 1), let w = be16(b, segment + 3) else { return nil }
                return (w, h, orientation)
            }
            if marker == 0xDA || marker == 0xD9 { return nil }
            i += 2 + length
        }
        return nil
    }

    /// The orientation tag (0x0112) of an EXIF block, if present and in range.
    static func exifOrientation(_ b: [UInt8], start: Int, end: Int) -> Int? {
        guard end - start >= 14, b[start..<start + 6] == [0x45, 0x78, 0x69, 0x66, 0, 0] else { return nil }
        let tiff = start + 6
        let little: Bool
        switch (b[tiff], b[tiff + 1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ i: Int) -> Int? { i + 2 <= end ? (little ? le16(b, i) : be16(b, i)) : nil }
        func u32(_ i: Int) -> Int? { i + 4 <= end ? (little ? le32(b, i) : be32(b, i)) : nil }
        guard let ifd = u32(tiff + 4), ifd < end - tiff, let count = u16(tiff + ifd) else { return nil }
        for k in 0..<min(count, 256) {
            let entry = tiff + ifd + 2 + k * 12
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112, let v = u16(entry + 8), (1...8).contains(v) { return v }
        }
        return nil
    }

    /// WebP: VP8 (lossy), VP8L (lossless) or VP8X (extended) first chunk.
    static func webp(_ b: [UInt8]) -> (Int, Int, Int)? {
        guard b.count >= 30 else { return nil }
        let chunk = String(decoding: b[12..<16], as: UTF8.self)
        switch chunk {
        case "VP8 ":
            guard b[23] == 0x9D, b[24] == 0x01, b[25] == 0x2A, let w = le16(b, 26), let h = le16(b, 28) else {
                return nil
            }
            return (w & 0x3FFF, h & 0x3FFF, 1)
        case "VP8L":
            guard b[20] == 0x2F, let bits = le32(b, 21) else { return nil }
            return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 1)
        case "VP8X":
            guard let w = le24(b, 24), let h = le24(b, 27) else { return nil }
            return (w + 1, h + 1, 1)
        default:
            return nil
        }
    }
}
