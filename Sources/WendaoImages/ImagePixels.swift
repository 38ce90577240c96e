public import Foundation
public import WendaoCore
import WendaoImageCodecs
import WendaoOCR

/// Pixel work on pictures the studio rewrites: try-on inputs turned upright by their EXIF orientation,
/// and gallery thumbnails. Decoding is OCR's (libpng and libjpeg-turbo, EXIF orientation applied);
/// encoding and the box-filter reduction are the same C codecs target's (`WendaoImageCodecs`). Every
/// function reads the pixel size from the header (``ImageInfo``) and refuses before decoding when it is
/// over the limit, so a PNG bomb costs nothing.
///
/// ```swift
/// let info = try ImageSniffer.inspect(data)
/// if let upright = try ImagePixels.upright(data, info: info) { send(upright.data) } else { send(data) }
/// let thumb = try ImagePixels.thumbnail(data, info: info)   // JPEG, 256 px on the long side
/// ```
public enum ImagePixels {
    /// The largest picture decoded for a thumbnail or for turning upright (64 megapixels).
    public static let maxDecodedPixels = 64_000_000
    /// The long side of gallery thumbnails, pixels.
    public static let thumbnailSide = 256

    /// An 8-bit RGB picture, row by row, already upright.
    public struct RGB: Sendable, Equatable {
        /// Width in pixels.
        public var width: Int
        /// Height in pixels.
        public var height: Int
        /// `width × height × 3` bytes.
        public var pixels: [UInt8]

        /// Creates a picture; `pixels.count` must be `width × height × 3`.
        public init(width: Int, height: Int, pixels: [UInt8]) {
            precondition(pixels.count == width * height * 3, "pixel count does not match the size")
            self.width = width
            self.height = height
            self.pixels = pixels
        }

        /// The red, green and blue values at (`x`, `y`).
        public func pixel(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
            let i = (y * width + x) * 3
            return (pixels[i], pixels[i + 1], pixels[i + 2])
        }
    }

    /// Throws unless a picture of `info`'s size may be decoded.
    static func checkDecodable(_ info: ImageInfo, purpose: String) throws(WendaoError) {
        guard info.format != .webp else {
            throw WendaoError(
                .unsupported, "a WebP picture is not decoded for \(purpose) (no WebP decoder is built in)")
        }
        let (n, overflow) = info.width.multipliedReportingOverflow(by: info.height)
        guard !overflow, n <= maxDecodedPixels else {
            throw WendaoError(
                .limitExceeded,
                "\(info.width)×\(info.height) pixels is more than the \(maxDecodedPixels / 1_000_000) megapixels "
                    + "decoded for \(purpose); the header was read, no pixel decoded")
        }
    }

    /// Decodes a PNG or JPEG into upright RGB (EXIF orientation applied; transparency on white).
    ///
    /// - Throws: ``WendaoError`` `unsupported` (WebP), `limitExceeded` (over ``maxDecodedPixels``),
    ///   `corrupt` (damaged).
    public static func decode(_ data: Data) throws(WendaoError) -> RGB {
        let info = try ImageSniffer.inspect(data)
        try checkDecodable(info, purpose: "this")
        return try decode(data, info: info)
    }

    static func decode(_ data: Data, info: ImageInfo, refuseDamaged: Bool = false) throws(WendaoError) -> RGB {
        do {
            let (image, damaged) = try OCRImageDecoder.decodePageData(data)
            if damaged, refuseDamaged {
                throw WendaoError(
                    .corrupt, "damaged \(info.format.rawValue.uppercased()) picture (truncated or corrupt data)")
            }
            return RGB(width: image.width, height: image.height, pixels: image.pixels)
        } catch let e as WendaoError {
            throw WendaoError(e.code == .limitExceeded ? .limitExceeded : .corrupt, e.message)
        } catch {
            throw WendaoError(.corrupt, "damaged \(info.format.rawValue.uppercased()) picture")
        }
    }

    /// A JPEG of `image` (no metadata), quality 1–100.
    public static func encodeJPEG(_ image: RGB, quality: Int = 92) throws(WendaoError) -> Data {
        try encode(image) { rgb, out, size, err in
            wendao_encode_jpeg(rgb, Int32(image.width), Int32(image.height), Int32(quality), out, size, err, 200)
        }
    }

    /// A PNG of `image` (no metadata).
    public static func encodePNG(_ image: RGB) throws(WendaoError) -> Data {
        try encode(image) { rgb, out, size, err in
            wendao_encode_png(rgb, Int32(image.width), Int32(image.height), out, size, err, 200)
        }
    }

    private static func encode(
        _ image: RGB,
        _ call: (
            UnsafePointer<UInt8>?, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>,
            UnsafeMutablePointer<CChar>
        ) -> Int32
    ) throws(WendaoError) -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var err = [CChar](repeating: 0, count: 200)
        let rc = image.pixels.withUnsafeBufferPointer { px in
            err.withUnsafeMutableBufferPointer { e in call(px.baseAddress, &out, &size, e.baseAddress!) }
        }
        guard rc == 0, let out else {
            let reason = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw WendaoError(.internal, "cannot encode the picture: \(reason)")
        }
        defer { wendao_codecs_free(out) }
        return Data(bytes: out, count: size)
    }

    /// `image` reduced by area averaging so that its long side is at most `longSide` (a smaller picture
    /// is kept as it is).
    public static func reduced(_ image: RGB, longSide: Int) -> RGB {
        let long = max(image.width, image.height)
        guard long > longSide, longSide > 0 else { return image }
        let scale = Double(longSide) / Double(long)
        let w = min(image.width, max(1, Int((Double(image.width) * scale).rounded())))
        let h = min(image.height, max(1, Int((Double(image.height) * scale).rounded())))
        var out = [UInt8](repeating: 0, count: w * h * 3)
        let rc = image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                wendao_reduce_rgb(
                    src.baseAddress, Int32(image.width), Int32(image.height), dst.baseAddress, Int32(w), Int32(h))
            }
        }
        precondition(rc == 0, "reduction sizes were checked")
        return RGB(width: w, height: h, pixels: out)
    }

    /// A JPEG whose EXIF orientation is 2–8, decoded, turned upright and encoded again (without EXIF,
    /// so nothing turns it a second time); nil for anything else (PNG, WebP, a JPEG without orientation
    /// or with orientation 1), which is sent byte for byte as it is.
    ///
    /// - Throws: ``WendaoError`` when the picture is too large to decode, or damaged (a truncated JPEG is
    ///   refused rather than sent with its missing part filled in).
    public static func upright(_ data: Data, info: ImageInfo, quality: Int = 92) throws(WendaoError) -> (
        data: Data, info: ImageInfo
    )? {
        guard info.format == .jpeg, (2...8).contains(info.orientation) else { return nil }
        try checkDecodable(info, purpose: "turning it upright")
        // A damaged input would go to the provider with grey where the data is missing: refused instead.
        let image = try decode(data, info: info, refuseDamaged: true)
        let out = try encodeJPEG(image, quality: quality)
        return (out, ImageInfo(format: .jpeg, width: image.width, height: image.height, orientation: 1))
    }

    /// A gallery thumbnail: the picture upright, reduced to ``thumbnailSide`` pixels on its long side
    /// (area average), as a quality-80 JPEG.
    ///
    /// - Throws: ``WendaoError`` `unsupported` (WebP), `limitExceeded` (more than ``maxDecodedPixels``
    ///   declared in the header: nothing is decoded), `corrupt`.
    public static func thumbnail(_ data: Data, info: ImageInfo, longSide: Int = thumbnailSide) throws(WendaoError)
        -> Data
    {
        try checkDecodable(info, purpose: "a thumbnail")
        let image = try decode(data, info: info)
        return try encodeJPEG(reduced(image, longSide: longSide), quality: 80)
    }
}
