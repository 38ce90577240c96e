import Foundation
import WendaoCore
import WendaoImageCodecs

/// PNG (libpng's simplified API, transparency composited on white), JPEG (libjpeg-turbo, CMYK
/// converted, EXIF orientation applied) and TIFF (libtiff's RGBA reader: 1–16 bits, palette, CMYK,
/// every page) decoding. Debian packages: libpng-dev, libjpeg62-turbo-dev, libtiff-dev — the system
/// libraries every distribution ships and keeps patched, rather than a decoder of our own.
enum ImageCodecs {
    enum Kind { case png, jpeg, tiff }

    static func kind(_ h: [UInt8]) -> Kind? {
        if h.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if h.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if h.starts(with: [0x49, 0x49, 0x2A, 0x00]) || h.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        return nil
    }

    /// What a decode returned: the image and whether the decoder had to guess part of it.
    struct Decoded {
        var image: OCRImage
        var damaged: Bool
    }

    private static func finish(
        _ rc: Int32, _ w: Int32, _ h: Int32, _ rgb: UnsafeMutablePointer<UInt8>?, _ err: [CChar], format: String
    ) throws -> OCRImage {
        let reason = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch rc {
        case 0:
            guard let rgb else { throw WendaoError(.internal, "\(format) decoder returned no pixels") }
            defer { wendao_codecs_free(rgb) }
            let count = Int(w) * Int(h) * 3
            return OCRImage(
                width: Int(w), height: Int(h), pixels: [UInt8](UnsafeBufferPointer(start: rgb, count: count)))
        case 2:
            if w > 0, h > 0 { try OCRImage.checkSize(width: Int(w), height: Int(h)) }
            throw WendaoError(.limitExceeded, "\(format) image is too large (\(reason))")
        case 3: throw WendaoError(.unsupported, "\(format) image: \(reason)")
        default: throw WendaoError(.unreadable, "damaged \(format) image: \(reason)")
        }
    }

    static func decode(_ data: Data, kind: Kind) throws -> OCRImage {
        switch kind {
        case .png, .jpeg: return try decodeDetailed(data, kind: kind).image
        case .tiff:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "wendao-tiff-\(UUID().uuidString).tif")
            defer { try? FileManager.default.removeItem(at: dir) }
            do { try data.write(to: dir) } catch { throw WendaoError(.storage, "cannot write a temporary TIFF") }
            return try decodeTIFF(path: dir.path, page: 0).image
        }
    }

    static func decodeDetailed(_ data: Data, kind: Kind) throws -> Decoded {
        var w: Int32 = 0, h: Int32 = 0
        var rgb: UnsafeMutablePointer<UInt8>?
        var err = [CChar](repeating: 0, count: 200)
        let max = Int64(OCRImage.maxPixels)
        switch kind {
        case .png:
            let rc = data.withUnsafeBytes { p in
                wendao_decode_png(
                    p.baseAddress?.assumingMemoryBound(to: UInt8.self), p.count, max, &w, &h, &rgb, &err, 200)
            }
            return Decoded(image: try finish(rc, w, h, rgb, err, format: "PNG"), damaged: false)
        case .jpeg:
            var warnings: Int32 = 0
            let rc = data.withUnsafeBytes { p in
                wendao_decode_jpeg(
                    p.baseAddress?.assumingMemoryBound(to: UInt8.self), p.count, max, &w, &h, &rgb, &warnings, &err, 200
                )
            }
            var image = try finish(rc, w, h, rgb, err, format: "JPEG")
            image = applyOrientation(image, exifOrientation([UInt8](data.prefix(256 << 10))))
            return Decoded(image: image, damaged: warnings > 0)
        case .tiff:
            throw WendaoError(.internal, "TIFF is decoded from a file")
        }
    }

    /// Page `page` of a TIFF file, and the number of pages.
    static func decodeTIFF(path: String, page: Int) throws -> (image: OCRImage, pages: Int) {
        var w: Int32 = 0, h: Int32 = 0, pages: Int32 = 0
        var rgb: UnsafeMutablePointer<UInt8>?
        var err = [CChar](repeating: 0, count: 200)
        let rc = wendao_decode_tiff(path, Int32(page), Int64(OCRImage.maxPixels), &w, &h, &rgb, &pages, &err, 200)
        return (try finish(rc, w, h, rgb, err, format: "TIFF"), Int(pages))
    }

    /// The EXIF orientation (1–8) of a JPEG, 1 when it has none.
    static func exifOrientation(_ b: [UInt8]) -> Int {
        var pos = 2
        while pos + 4 <= b.count, b[pos] == 0xFF {
            let marker = b[pos + 1]
            let len = Int(b[pos + 2]) << 8 | Int(b[pos + 3])
            if marker == 0xDA || len < 2 { break }
            let start = pos + 4, end = min(b.count, pos + 2 + len)
            if marker == 0xE1, end - start > 14, Array(b[start..<(start + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                let t = start + 6
                let little = b[t] == 0x49
                func u16(_ o: Int) -> Int? {
                    guard o >= t, o + 2 <= end else { return nil }
                    return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
                }
                func u32(_ o: Int) -> Int? {
                    guard let a = u16(o), let c = u16(o + 2) else { return nil }
                    return little ? a | c << 16 : a << 16 | c
                }
                guard let ifd = u32(t + 4), let n = u16(t + ifd) else { return 1 }
                for i in 0..<min(n, 200) {
                    let e = t + ifd + 2 + 12 * i
                    if u16(e) == 0x0112, let v = u16(e + 8), (1...8).contains(v) { return v }
                }
                return 1
            }
            pos = pos + 2 + len
        }
        return 1
    }

    /// The image turned upright for EXIF orientation `o`.
    static func applyOrientation(_ img: OCRImage, _ o: Int) -> OCRImage {
        if o <= 1 || o > 8 { return img }
        let (w, h) = (img.width, img.height)
        let swap = o >= 5
        let ow = swap ? h : w, oh = swap ? w : h
        var out = [UInt8](repeating: 0, count: img.pixels.count)
        for y in 0..<oh {
            for x in 0..<ow {
                // Source pixel for output (x, y).
                let (sx, sy): (Int, Int)
                switch o {
                case 2: (sx, sy) = (w - 1 - x, y)
                case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                case 4: (sx, sy) = (x, h - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, h - 1 - x)
                case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                default: (sx, sy) = (w - 1 - y, x)  // 8
                }
                let s = (sy * w + sx) * 3, d = (y * ow + x) * 3
                out[d] = img.pixels[s]
                out[d + 1] = img.pixels[s + 1]
                out[d + 2] = img.pixels[s + 2]
            }
        }
        return OCRImage(width: ow, height: oh, pixels: out)
    }
}
