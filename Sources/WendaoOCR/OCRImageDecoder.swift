public import Foundation
import WendaoCore

/// Decodes images for OCR into ``OCRImage``: binary PNM (what `pdftoppm` writes) here, PNG, JPEG and
/// TIFF through the system's libpng, libjpeg-turbo and libtiff (see `ImageCodecs`), with EXIF
/// orientation applied. The size in the header is checked against ``OCRImage/maxPixels`` before any
/// pixel memory is allocated.
public enum OCRImageDecoder {
    /// Decodes the image file at `url` (PNM, PNG, JPEG or TIFF, recognised by its first bytes).
    ///
    /// - Throws: ``WendaoError`` `unsupported` (another format), `unreadable` (damaged or truncated),
    ///   `limitExceeded` (more pixels than the limit).
    public static func decode(fileAt url: URL) throws -> OCRImage {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw WendaoError(.unreadable, "cannot read \(url.lastPathComponent)")
        }
        return try decode(data)
    }

    /// One page of an image file (PNM, PNG and JPEG have one; a TIFF may have several), the number of
    /// pages, and whether the decoder had to fill in a damaged or truncated part.
    public static func decodePage(fileAt url: URL, page: Int) throws -> (image: OCRImage, pages: Int, damaged: Bool) {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw WendaoError(.unreadable, "cannot read \(url.lastPathComponent)")
        }
        let head = [UInt8](data.prefix(8))
        switch ImageCodecs.kind(head) {
        case .tiff:
            let r = try ImageCodecs.decodeTIFF(path: url.path, page: page)
            return (r.image, r.pages, false)
        case .some(let kind):
            try checkDeclaredSize(data)
            let r = try ImageCodecs.decodeDetailed(data, kind: kind)
            return (r.image, 1, r.damaged)
        case nil:
            return (try decode(data), 1, false)
        }
    }

    /// Decodes image bytes (PNG, JPEG or PNM) and says whether the decoder filled in a damaged part.
    public static func decodePageData(_ data: Data) throws -> (image: OCRImage, damaged: Bool) {
        if let kind = ImageCodecs.kind([UInt8](data.prefix(8))), kind != .tiff {
            try checkDeclaredSize(data)
            let r = try ImageCodecs.decodeDetailed(data, kind: kind)
            return (r.image, r.damaged)
        }
        return (try decode(data), false)
    }

    /// Decodes image bytes.
    public static func decode(_ data: Data) throws -> OCRImage {
        let head = [UInt8](data.prefix(8))
        try checkDeclaredSize(data)
        if head.count >= 2, head[0] == 0x50, head[1] == 0x35 || head[1] == 0x36 { return try decodePNM(data) }
        if let codec = ImageCodecs.kind(head) { return try ImageCodecs.decode(data, kind: codec) }
        throw WendaoError(.unsupported, "unsupported image type (PNG, JPEG, TIFF and PNM can be read)")
    }

    /// Refuses a PNG whose header (IHDR) declares more pixels than allowed, before any decoder runs:
    /// a file of a few bytes may claim 30000×30000.
    static func checkDeclaredSize(_ data: Data) throws {
        let b = [UInt8](data.prefix(24))
        guard b.count == 24, ImageCodecs.kind(b) == .png, Array(b[12..<16]) == Array("IHDR".utf8) else { return }
        let w = Int(b[16]) << 24 | Int(b[17]) << 16 | Int(b[18]) << 8 | Int(b[19])
        let h = Int(b[20]) << 24 | Int(b[21]) << 16 | Int(b[22]) << 8 | Int(b[23])
        try OCRImage.checkSize(width: w, height: h)
    }

    /// Binary PGM (`P5`) or PPM (`P6`), 8 bits.
    static func decodePNM(_ data: Data) throws -> OCRImage {
        let bytes = [UInt8](data)
        var pos = 2
        func token() throws -> Int {
            while pos < bytes.count {
                if bytes[pos] == 0x23 {  // comment
                    while pos < bytes.count, bytes[pos] != 0x0A { pos += 1 }
                } else if bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 {
                    pos += 1
                } else {
                    break
                }
            }
            var v = 0
            var digits = 0
            while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39, digits < 9 {
                v = v * 10 + Int(bytes[pos] - 0x30)
                pos += 1
                digits += 1
            }
            guard digits > 0 else { throw WendaoError(.unreadable, "damaged PNM header") }
            return v
        }
        let grey = bytes[1] == 0x35
        let w = try token(), h = try token(), maxval = try token()
        pos += 1
        guard maxval == 255 else { throw WendaoError(.unsupported, "only 8-bit PNM images are read") }
        try OCRImage.checkSize(width: w, height: h)
        let channels = grey ? 1 : 3
        guard bytes.count - pos >= w * h * channels else { throw WendaoError(.unreadable, "truncated PNM image") }
        var px = [UInt8](repeating: 0, count: w * h * 3)
        if grey {
            for i in 0..<(w * h) {
                let v = bytes[pos + i]
                px[3 * i] = v
                px[3 * i + 1] = v
                px[3 * i + 2] = v
            }
        } else {
            px.replaceSubrange(0..<(w * h * 3), with: bytes[pos..<(pos + w * h * 3)])
        }
        return OCRImage(width: w, height: h, pixels: px)
    }
}
