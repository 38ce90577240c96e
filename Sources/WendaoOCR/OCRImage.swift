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

    /// Bilinear resize with pixel centres aligned, bit for bit as OpenCV's `INTER_LINEAR` does it for
    /// 8-bit images (the resize the PP-OCR models were trained and are run with): source positions in
    /// single precision, weights rounded to 11-bit fixed point, each row filtered horizontally into
    /// integers, then the two rows blended with OpenCV's vectorised rounding. A pixel one level off
    /// moves the detector's probability map enough, on a tight table cell, to shift a box's edge by a
    /// pixel and change what the recogniser reads.
    func resized(width ow: Int, height oh: Int) -> OCRImage {
        if ow == width && oh == height { return self }
        let cols = Self.linearTaps(destination: ow, source: width)
        let rows = Self.linearTaps(destination: oh, source: height)
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        let rowLength = ow * 3
        // The two most recent horizontally filtered source rows (values up to 255 × 2048).
        var buffers = [[Int32]](repeating: [Int32](repeating: 0, count: rowLength), count: 2)
        var held = [-1, -1]
        pixels.withUnsafeBufferPointer { src in
            func filtered(_ sy: Int) -> Int {
                if held[0] == sy { return 0 }
                if held[1] == sy { return 1 }
                let slot = held[0] < held[1] ? 0 : 1
                held[slot] = sy
                buffers[slot].withUnsafeMutableBufferPointer { row in
                    let base = sy * width * 3
                    for x in 0..<ow {
                        let a = base + Int(cols.index[x]) * 3
                        let b = base + min(Int(cols.index[x]) + 1, width - 1) * 3
                        let w0 = cols.weight0[x], w1 = cols.weight1[x]
                        for c in 0..<3 {
                            row[x * 3 + c] = Int32(src[a + c]) * w0 + Int32(src[b + c]) * w1
                        }
                    }
                }
                return slot
            }
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    let sy = Int(rows.index[y])
                    let i0 = filtered(min(max(sy, 0), height - 1))
                    let i1 = filtered(min(max(sy + 1, 0), height - 1))
                    let b0 = rows.weight0[y], b1 = rows.weight1[y]
                    buffers[i0].withUnsafeBufferPointer { r0 in
                        buffers[i1].withUnsafeBufferPointer { r1 in
                            let d = y * rowLength
                            for x in 0..<rowLength {
                                let v = (((b0 * (r0[x] >> 4)) >> 16) + ((b1 * (r1[x] >> 4)) >> 16) + 2) >> 2
                                dst[d + x] = UInt8(min(255, max(0, v)))
                            }
                        }
                    }
                }
            }
        }
        return OCRImage(width: ow, height: oh, pixels: out)
    }

    /// OpenCV's linear-resize taps along one axis: for each destination position, the first source
    /// position and the two weights in 11-bit fixed point (each rounded half to even from single
    /// precision). Positions before the first source pixel or at the last one take that pixel alone.
    static func linearTaps(destination: Int, source: Int) -> (index: [Int32], weight0: [Int32], weight1: [Int32]) {
        let scale = 1.0 / (Double(destination) / Double(source))
        var index = [Int32](repeating: 0, count: destination)
        var w0 = index, w1 = index
        for d in 0..<destination {
            var f = Float((Double(d) + 0.5) * scale - 0.5)
            var s = Int(f.rounded(.down))
            f -= Float(s)
            if s < 0 {
                s = 0
                f = 0
            }
            if s >= source - 1 {
                s = source - 1
                f = 0
            }
            index[d] = Int32(s)
            w0[d] = Int32(((1 - f) * 2048).rounded(.toNearestOrEven))
            w1[d] = Int32((f * 2048).rounded(.toNearestOrEven))
        }
        return (index, w0, w1)
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

    /// How a byte becomes the network's input value, `(v / 255 − 0.5) / 0.5`, rounded as RapidOCR's
    /// NumPy code rounds it: the detector's input is scaled in single precision and shifted in double
    /// (``Levels/detector``), the line recogniser's and the classifier's entirely in single precision
    /// (``Levels/line``). The two differ from each other, and from `v / 127.5 − 1`, by a unit in the last
    /// place for some bytes.
    enum Levels {
        static let detector: [Float] = (0..<256).map { v in
            Float((Double(Float(v) * Float(1 / 255.0)) - 0.5) / 0.5)
        }
        static let line: [Float] = (0..<256).map { v in (Float(v) / 255 - 0.5) / 0.5 }
    }

    /// Writes the normalised pixels (`levels`, one value per byte) in BGR plane order (as the PP-OCR
    /// models were trained on OpenCV images) into `dst`, a `3 × planeHeight × planeWidth` area, from
    /// column 0.
    func writeNormalisedBGR(
        into dst: UnsafeMutablePointer<Float>, planeWidth: Int, planeHeight: Int, levels: [Float]
    ) {
        let plane = planeWidth * planeHeight
        levels.withUnsafeBufferPointer { level in
            for y in 0..<min(height, planeHeight) {
                for x in 0..<min(width, planeWidth) {
                    let s = (y * width + x) * 3
                    let d = y * planeWidth + x
                    dst[d] = level[Int(pixels[s + 2])]
                    dst[plane + d] = level[Int(pixels[s + 1])]
                    dst[2 * plane + d] = level[Int(pixels[s])]
                }
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
