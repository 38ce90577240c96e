import Foundation
import WendaoCore

/// An 8-bit image with 3 interleaved channels in RGB order (grey images are stored with three equal
/// channels).
public struct OCRImage: Sendable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// `width × height × 3` bytes, row by row.
    public var pixels: [UInt8]

    /// Largest number of pixels an image may have (about 16 000 × 16 000); checked before allocating.
    public static let maxPixels = 256_000_000

    /// Creates an image; `pixels.count` must be `width × height × 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "pixel count does not match the size")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Throws unless `width × height` is a size an image may have.
    public static func checkSize(width: Int, height: Int) throws {
        guard width > 0, height > 0 else { throw WendaoError(.unreadable, "image has no pixels (\(width)×\(height))") }
        let (n, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, n <= maxPixels else {
            throw WendaoError(
                .limitExceeded,
                "image is \(width)×\(height) pixels, more than the \(maxPixels / 1_000_000) megapixel limit")
        }
    }

    /// Bilinear resize with pixel centres aligned (OpenCV's `INTER_LINEAR`).
    func resized(width ow: Int, height oh: Int) -> OCRImage {
        if ow == width && oh == height { return self }
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        let sx = Double(width) / Double(ow), sy = Double(height) / Double(oh)
        var x0s = [Int](repeating: 0, count: ow), x1s = x0s
        var fxs = [Float](repeating: 0, count: ow)
        for x in 0..<ow {
            var fx = (Double(x) + 0.5) * sx - 0.5
            if fx < 0 { fx = 0 }
            var x0 = Int(fx)
            var f = Float(fx - Double(x0))
            if x0 >= width - 1 {
                x0 = width - 1
                f = 0
            }
            x0s[x] = x0
            x1s[x] = min(x0 + 1, width - 1)
            fxs[x] = f
        }
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    var fy = (Double(y) + 0.5) * sy - 0.5
                    if fy < 0 { fy = 0 }
                    var y0 = Int(fy)
                    var wy = Float(fy - Double(y0))
                    if y0 >= height - 1 {
                        y0 = height - 1
                        wy = 0
                    }
                    let y1 = min(y0 + 1, height - 1)
                    let r0 = y0 * width * 3, r1 = y1 * width * 3
                    for x in 0..<ow {
                        let a = x0s[x] * 3, b = x1s[x] * 3, wx = fxs[x]
                        for c in 0..<3 {
                            let top = Float(src[r0 + a + c]) * (1 - wx) + Float(src[r0 + b + c]) * wx
                            let bottom = Float(src[r1 + a + c]) * (1 - wx) + Float(src[r1 + b + c]) * wx
                            let v = top * (1 - wy) + bottom * wy
                            dst[(y * ow + x) * 3 + c] = UInt8(min(255, max(0, v.rounded())))
                        }
                    }
                }
            }
        }
        return OCRImage(width: ow, height: oh, pixels: out)
    }

    /// The image with `top` and `bottom` rows of black added.
    func padded(top: Int, bottom: Int) -> OCRImage {
        var out = [UInt8](repeating: 0, count: width * (height + top + bottom) * 3)
        out.replaceSubrange((top * width * 3)..<((top + height) * width * 3), with: pixels)
        return OCRImage(width: width, height: height + top + bottom, pixels: out)
    }

    /// Rotated 90° counter-clockwise (numpy's `rot90`).
    func rotatedCounterClockwise() -> OCRImage {
        var out = [UInt8](repeating: 0, count: pixels.count)
        let ow = height, oh = width
        for y in 0..<oh {
            for x in 0..<ow {
                // out(y, x) = in(x, width - 1 - y)
                let s = (x * width + (width - 1 - y)) * 3
                let d = (y * ow + x) * 3
                out[d] = pixels[s]
                out[d + 1] = pixels[s + 1]
                out[d + 2] = pixels[s + 2]
            }
        }
        return OCRImage(width: ow, height: oh, pixels: out)
    }

    /// Rotated 180°.
    func rotated180() -> OCRImage {
        var out = [UInt8](repeating: 0, count: pixels.count)
        let n = width * height
        for i in 0..<n {
            let s = i * 3, d = (n - 1 - i) * 3
            out[d] = pixels[s]
            out[d + 1] = pixels[s + 1]
            out[d + 2] = pixels[s + 2]
        }
        return OCRImage(width: width, height: height, pixels: out)
    }

    /// Writes the normalised pixels `(v / 255 − 0.5) / 0.5` in BGR plane order (as the PP-OCR models
    /// were trained on OpenCV images) into `dst`, a `3 × planeHeight × planeWidth` area, from column 0.
    func writeNormalisedBGR(into dst: UnsafeMutablePointer<Float>, planeWidth: Int, planeHeight: Int) {
        let plane = planeWidth * planeHeight
        for y in 0..<min(height, planeHeight) {
            for x in 0..<min(width, planeWidth) {
                let s = (y * width + x) * 3
                let d = y * planeWidth + x
                dst[d] = Float(pixels[s + 2]) / 127.5 - 1
                dst[plane + d] = Float(pixels[s + 1]) / 127.5 - 1
                dst[2 * plane + d] = Float(pixels[s]) / 127.5 - 1
            }
        }
    }

    /// The quadrilateral `quad` (top-left, top-right, bottom-right, bottom-left) cut out and straightened
    /// to `ow × oh` with a perspective transform, bicubic sampling and replicated borders.
    func warp(quad: [Point], width ow: Int, height oh: Int) -> OCRImage {
        let dst = [Point(0, 0), Point(Double(ow), 0), Point(Double(ow), Double(oh)), Point(0, Double(oh))]
        // Map from output to input: the transform taking dst → quad.
        let m = Geometry.perspective(from: dst, to: quad)
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        func cubic(_ t: Double) -> (Double, Double, Double, Double) {
            let a = -0.75
            let w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
            let w1 = ((a + 2) * t - (a + 3)) * t * t + 1
            let w2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
            return (w0, w1, w2, 1 - w0 - w1 - w2)
        }
        pixels.withUnsafeBufferPointer { src in
            for y in 0..<oh {
                for x in 0..<ow {
                    let X = Double(x), Y = Double(y)
                    let d = m[6] * X + m[7] * Y + m[8]
                    let u = d == 0 ? 0 : (m[0] * X + m[1] * Y + m[2]) / d
                    let v = d == 0 ? 0 : (m[3] * X + m[4] * Y + m[5]) / d
                    let ix = Int(u.rounded(.down)), iy = Int(v.rounded(.down))
                    let (wx0, wx1, wx2, wx3) = cubic(u - Double(ix))
                    let (wy0, wy1, wy2, wy3) = cubic(v - Double(iy))
                    let wxs = [wx0, wx1, wx2, wx3], wys = [wy0, wy1, wy2, wy3]
                    for c in 0..<3 {
                        var acc = 0.0
                        for j in 0..<4 {
                            let sy = min(max(iy - 1 + j, 0), height - 1)
                            var row = 0.0
                            for i in 0..<4 {
                                let sx = min(max(ix - 1 + i, 0), width - 1)
                                row += wxs[i] * Double(src[(sy * width + sx) * 3 + c])
                            }
                            acc += wys[j] * row
                        }
                        out[(y * ow + x) * 3 + c] = UInt8(min(255, max(0, acc.rounded())))
                    }
                }
            }
        }
        return OCRImage(width: ow, height: oh, pixels: out)
    }
}

/// A point in image coordinates.
public struct Point: Sendable, Equatable {
    /// Horizontal position.
    public var x: Double
    /// Vertical position.
    public var y: Double
    /// Creates a point.
    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }
}

/// Plane geometry of the detector's post-processing.
enum Geometry {
    /// The 3×3 perspective transform (row-major) mapping the four points `src` onto `dst`.
    static func perspective(from src: [Point], to dst: [Point]) -> [Double] {
        // Solve the 8×8 system of OpenCV's getPerspectiveTransform.
        var a = [[Double]](repeating: [Double](repeating: 0, count: 9), count: 8)
        for i in 0..<4 {
            let (x, y, u, v) = (src[i].x, src[i].y, dst[i].x, dst[i].y)
            a[i] = [x, y, 1, 0, 0, 0, -x * u, -y * u, u]
            a[i + 4] = [0, 0, 0, x, y, 1, -x * v, -y * v, v]
        }
        for col in 0..<8 {
            var pivot = col
            for r in col..<8 where abs(a[r][col]) > abs(a[pivot][col]) { pivot = r }
            a.swapAt(col, pivot)
            let p = a[col][col]
            if abs(p) < 1e-12 { return [1, 0, 0, 0, 1, 0, 0, 0, 1] }
            for k in col..<9 { a[col][k] /= p }
            for r in 0..<8 where r != col {
                let f = a[r][col]
                if f != 0 { for k in col..<9 { a[r][k] -= f * a[col][k] } }
            }
        }
        return (0..<8).map { a[$0][8] } + [1]
    }

    /// Convex hull (Andrew's monotone chain), counter-clockwise in image coordinates.
    static func convexHull(_ pts: [Point]) -> [Point] {
        let p = pts.sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
        if p.count < 3 { return p }
        func cross(_ o: Point, _ a: Point, _ b: Point) -> Double {
            (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
        }
        var lower: [Point] = []
        for q in p {
            while lower.count >= 2 && cross(lower[lower.count - 2], lower[lower.count - 1], q) <= 0 {
                lower.removeLast()
            }
            lower.append(q)
        }
        var upper: [Point] = []
        for q in p.reversed() {
            while upper.count >= 2 && cross(upper[upper.count - 2], upper[upper.count - 1], q) <= 0 {
                upper.removeLast()
            }
            upper.append(q)
        }
        return Array(lower.dropLast() + upper.dropLast())
    }

    /// A rotated rectangle: centre, side lengths and the unit vector of its first side.
    struct RotatedRect {
        var center: Point
        var width: Double
        var height: Double
        var ux: Double
        var uy: Double

        var corners: [Point] {
            let hw = width / 2, hh = height / 2
            let vx = -uy, vy = ux
            return [
                Point(center.x - ux * hw - vx * hh, center.y - uy * hw - vy * hh),
                Point(center.x + ux * hw - vx * hh, center.y + uy * hw - vy * hh),
                Point(center.x + ux * hw + vx * hh, center.y + uy * hw + vy * hh),
                Point(center.x - ux * hw + vx * hh, center.y - uy * hw + vy * hh),
            ]
        }
    }

    /// The minimum-area rectangle enclosing `points` (rotating calipers over the hull's edges).
    static func minAreaRect(_ points: [Point]) -> RotatedRect {
        let hull = convexHull(points)
        if hull.count == 1 { return RotatedRect(center: hull[0], width: 0, height: 0, ux: 1, uy: 0) }
        var best = RotatedRect(center: hull[0], width: 0, height: 0, ux: 1, uy: 0)
        var bestArea = Double.infinity
        for i in 0..<hull.count {
            let a = hull[i], b = hull[(i + 1) % hull.count]
            let len = ((b.x - a.x) * (b.x - a.x) + (b.y - a.y) * (b.y - a.y)).squareRoot()
            if len == 0 { continue }
            let ux = (b.x - a.x) / len, uy = (b.y - a.y) / len
            var minU = Double.infinity, maxU = -Double.infinity, minV = Double.infinity, maxV = -Double.infinity
            for p in hull {
                let u = p.x * ux + p.y * uy
                let v = -p.x * uy + p.y * ux
                minU = min(minU, u)
                maxU = max(maxU, u)
                minV = min(minV, v)
                maxV = max(maxV, v)
            }
            let area = (maxU - minU) * (maxV - minV)
            if area < bestArea - 1e-9 {
                bestArea = area
                let cu = (minU + maxU) / 2, cv = (minV + maxV) / 2
                best = RotatedRect(
                    center: Point(cu * ux - cv * uy, cu * uy + cv * ux), width: maxU - minU, height: maxV - minV,
                    ux: ux, uy: uy)
            }
        }
        return best
    }
}
