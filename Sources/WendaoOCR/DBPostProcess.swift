import Foundation

/// Box extraction from the DB detector's probability map, after RapidOCR's `DBPostProcess`: threshold,
/// 2×2 dilation, connected regions (for OpenCV's outer contours), minimum-area rectangles, the mean
/// probability inside each, the "unclip" expansion and the final rectangle scaled to the image.
enum DBPostProcess {
    static let minSize = 3.0

    static func boxes(
        prob: [Float], width w: Int, height h: Int, destWidth: Int, destHeight: Int, thresh: Float, boxThresh: Float,
        unclipRatio: Double, maxCandidates: Int
    ) -> [[Point]] {
        // Threshold and dilate with a 2×2 kernel anchored at (1, 1): a pixel is set when it or its left,
        // upper or upper-left neighbour is above the threshold.
        var mask = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                var on = prob[y * w + x] > thresh
                if !on, x > 0, prob[y * w + x - 1] > thresh { on = true }
                if !on, y > 0, prob[(y - 1) * w + x] > thresh { on = true }
                if !on, x > 0, y > 0, prob[(y - 1) * w + x - 1] > thresh { on = true }
                if on { mask[y * w + x] = 1 }
            }
        }
        let regions = components(mask, width: w, height: h, limit: maxCandidates)
        var out: [[Point]] = []
        for pts in regions {
            let (box, sside) = miniBox(pts)
            if sside < minSize { continue }
            let score = scoreFast(prob, width: w, height: h, box: box)
            if boxThresh > score { continue }
            let expanded = unclip(box, ratio: unclipRatio)
            let (box2, sside2) = miniBox(expanded)
            if sside2 < minSize + 2 { continue }
            // Scaled back in single precision, as RapidOCR scales OpenCV's float32 corners.
            func scaled(_ v: Double, _ from: Int, _ to: Int) -> Double {
                Double(min(max((Float(v) / Float(from) * Float(to)).rounded(.toNearestOrEven), 0), Float(to)))
            }
            out.append(box2.map { p in Point(scaled(p.x, w, destWidth), scaled(p.y, h, destHeight)) })
        }
        return out
    }

    /// 8-connected regions of `mask`, each as the leftmost and rightmost pixel of every row it covers
    /// (enough for the convex hull), in the order their first pixel is met scanning bottom-up as OpenCV
    /// lists contours.
    static func components(_ mask: [UInt8], width w: Int, height h: Int, limit: Int) -> [[Point]] {
        var label = [Int32](repeating: 0, count: w * h)
        var regions: [[Point]] = []
        var stack: [Int] = []
        var next: Int32 = 0
        for start in 0..<(w * h) where mask[start] != 0 && label[start] == 0 {
            next += 1
            label[start] = next
            stack.append(start)
            var rows: [Int: (Int, Int)] = [:]
            while let i = stack.popLast() {
                let x = i % w, y = i / w
                if let r = rows[y] { rows[y] = (min(r.0, x), max(r.1, x)) } else { rows[y] = (x, x) }
                for dy in -1...1 {
                    let ny = y + dy
                    if ny < 0 || ny >= h { continue }
                    for dx in -1...1 {
                        let nx = x + dx
                        if nx < 0 || nx >= w || (dx == 0 && dy == 0) { continue }
                        let j = ny * w + nx
                        if mask[j] != 0 && label[j] == 0 {
                            label[j] = next
                            stack.append(j)
                        }
                    }
                }
            }
            var pts: [Point] = []
            for (y, r) in rows {
                pts.append(Point(Double(r.0), Double(y)))
                if r.1 != r.0 { pts.append(Point(Double(r.1), Double(y))) }
            }
            regions.append(pts)
        }
        // OpenCV returns the last-found contours first; keep the same candidates when there are too many.
        regions.reverse()
        return Array(regions.prefix(limit))
    }

    /// The minimum-area rectangle's corners ordered as RapidOCR's `get_mini_boxes` orders them, and its
    /// shorter side.
    static func miniBox(_ pts: [Point]) -> ([Point], Double) {
        let rect = Geometry.minAreaRect(pts)
        let p = rect.corners.sorted { $0.x < $1.x }
        let (i1, i4) = p[1].y > p[0].y ? (0, 1) : (1, 0)
        let (i2, i3) = p[3].y > p[2].y ? (2, 3) : (3, 2)
        return ([p[i1], p[i2], p[i3], p[i4]], min(rect.width, rect.height))
    }

    /// Mean probability inside the box (RapidOCR's `box_score_fast`).
    static func scoreFast(_ prob: [Float], width w: Int, height h: Int, box: [Point]) -> Float {
        let xs = box.map(\.x), ys = box.map(\.y)
        let xmin = min(max(Int(xs.min()!.rounded(.down)), 0), w - 1)
        let xmax = min(max(Int(xs.max()!.rounded(.up)), 0), w - 1)
        let ymin = min(max(Int(ys.min()!.rounded(.down)), 0), h - 1)
        let ymax = min(max(Int(ys.max()!.rounded(.up)), 0), h - 1)
        // The polygon with integer (truncated) corners, as cv2.fillPoly gets it.
        let poly = box.map { Point(Double(Int($0.x - Double(xmin))), Double(Int($0.y - Double(ymin)))) }
        var sum: Double = 0
        var n = 0
        for y in 0...(ymax - ymin) {
            guard let (lo, hi) = span(poly, y: Double(y)) else { continue }
            let a = max(0, Int(lo.rounded())), b = min(xmax - xmin, Int(hi.rounded()))
            if a > b { continue }
            for x in a...b {
                sum += Double(prob[(y + ymin) * w + x + xmin])
                n += 1
            }
        }
        return n == 0 ? 0 : Float(sum / Double(n))
    }

    /// Where the horizontal line at `y` crosses a convex polygon, or nil.
    static func span(_ poly: [Point], y: Double) -> (Double, Double)? {
        var lo = Double.infinity, hi = -Double.infinity
        for i in 0..<poly.count {
            let a = poly[i], b = poly[(i + 1) % poly.count]
            if (a.y <= y && y <= b.y) || (b.y <= y && y <= a.y) {
                if a.y == b.y {
                    lo = min(lo, a.x, b.x)
                    hi = max(hi, a.x, b.x)
                } else {
                    let x = a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x)
                    lo = min(lo, x)
                    hi = max(hi, x)
                }
            }
        }
        return lo <= hi ? (lo, hi) : nil
    }

    /// The box grown by `area × ratio / perimeter` on every side with rounded corners, the way
    /// RapidOCR's `unclip` gets it from pyclipper: the corners truncated to whole pixels, the offset
    /// polygon's vertices (edge points and arc steps, Clipper's round join with an arc tolerance of a
    /// quarter pixel) rounded to whole pixels. Its minimum-area rectangle is the expanded box; computed
    /// exactly, rather than as the rectangle grown by the offset, because the half pixel the rounding
    /// moves an edge is often the pixel that decides where a tight table cell's crop begins.
    static func unclip(_ box: [Point], ratio: Double) -> [Point] {
        var area = 0.0, perimeter = 0.0
        for i in 0..<box.count {
            let a = box[i], b = box[(i + 1) % box.count]
            area += a.x * b.y - b.x * a.y
            perimeter += ((b.x - a.x) * (b.x - a.x) + (b.y - a.y) * (b.y - a.y)).squareRoot()
        }
        area = abs(area) / 2
        guard perimeter > 0 else { return box }
        let offset = roundOffset(box.map { (x: Int64($0.x), y: Int64($0.y)) }, delta: area * ratio / perimeter)
        return offset.isEmpty ? box : offset.map { Point(Double($0.x), Double($0.y)) }
    }

    /// A closed polygon offset outwards by `delta` with round joins, vertices on whole pixels
    /// (Clipper 6.4's `ClipperOffset` with `jtRound`, `etClosedPolygon`, arc tolerance 0.25).
    static func roundOffset(_ path: [(x: Int64, y: Int64)], delta: Double) -> [(x: Int64, y: Int64)] {
        // Consecutive duplicates (and a closing duplicate) removed.
        var poly: [(x: Int64, y: Int64)] = []
        for p in path where poly.last.map({ $0 != p }) ?? true { poly.append(p) }
        while poly.count > 1, poly[0] == poly[poly.count - 1] { poly.removeLast() }
        guard poly.count >= 3 else { return [] }
        // Clipper's orientation test (its signed area, y pointing down); a negative path is reversed.
        var a = 0.0
        var j = poly.count - 1
        for i in poly.indices {
            a += (Double(poly[j].x) + Double(poly[i].x)) * (Double(poly[j].y) - Double(poly[i].y))
            j = i
        }
        if -a * 0.5 < 0 { poly.reverse() }
        if abs(delta) < 0.5 { return poly }
        func round(_ v: Double) -> Int64 { v < 0 ? Int64(v - 0.5) : Int64(v + 0.5) }

        let tolerance = min(0.25, abs(delta) * 0.25)
        var steps = Double.pi / acos(1 - tolerance / abs(delta))
        if steps > abs(delta) * Double.pi { steps = abs(delta) * Double.pi }
        var sinStep = sin(2 * Double.pi / steps)
        let cosStep = cos(2 * Double.pi / steps)
        let stepsPerRadian = steps / (2 * Double.pi)
        if delta < 0 { sinStep = -sinStep }

        let n = poly.count
        let normals: [(x: Double, y: Double)] = (0..<n).map { i in
            let p = poly[i], q = poly[(i + 1) % n]
            if p == q { return (0, 0) }
            var dx = Double(q.x - p.x), dy = Double(q.y - p.y)
            let f = 1 / (dx * dx + dy * dy).squareRoot()
            dx *= f
            dy *= f
            return (dy, -dx)
        }
        var out: [(x: Int64, y: Int64)] = []
        func push(_ j: Int, _ nx: Double, _ ny: Double) {
            out.append((round(Double(poly[j].x) + nx * delta), round(Double(poly[j].y) + ny * delta)))
        }
        var k = n - 1
        for j in 0..<n {
            let nk = normals[k], nj = normals[j]
            var sinA = nk.x * nj.y - nj.x * nk.y
            let cosA = nk.x * nj.x + nk.y * nj.y
            defer { k = j }
            if abs(sinA * delta) < 1 {
                if cosA > 0 {
                    push(j, nk.x, nk.y)
                    continue
                }
            } else if sinA > 1 {
                sinA = 1
            } else if sinA < -1 {
                sinA = -1
            }
            if sinA * delta < 0 {
                push(j, nk.x, nk.y)
                out.append(poly[j])
                push(j, nj.x, nj.y)
            } else {
                let angle = atan2(sinA, cosA)
                let count = max(Int(round(stepsPerRadian * abs(angle))), 1)
                var x = nk.x, y = nk.y
                for _ in 0..<count {
                    push(j, x, y)
                    let x2 = x
                    x = x * cosStep - sinStep * y
                    y = x2 * sinStep + y * cosStep
                }
                push(j, nj.x, nj.y)
            }
        }
        return out
    }

    /// RapidOCR's `order_points_clockwise` and `clip_det_res`, dropping boxes 3 pixels or less across.
    static func orderAndClip(_ box: [Point], width: Int, height: Int) -> [Point]? {
        let xs = box.enumerated().sorted {
            $0.element.x != $1.element.x ? $0.element.x < $1.element.x : $0.offset < $1.offset
        }.map(\.element)
        let left = [xs[0], xs[1]].sorted { $0.y < $1.y }
        let right = [xs[2], xs[3]].sorted { $0.y < $1.y }
        var rect = [left[0], right[0], right[1], left[1]]
        for i in 0..<4 {
            rect[i] = Point(
                Double(Int(min(max(rect[i].x, 0), Double(width - 1)))),
                Double(Int(min(max(rect[i].y, 0), Double(height - 1)))))
        }
        func dist(_ a: Point, _ b: Point) -> Double {
            ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot()
        }
        if Int(dist(rect[0], rect[1])) <= 3 || Int(dist(rect[0], rect[3])) <= 3 { return nil }
        return rect
    }

    /// RapidOCR's `sorted_boxes`: by top-left y then x, with boxes on one line (within 10 px) left to right.
    static func sortedBoxes(_ boxes: [[Point]]) -> [[Point]] {
        var b = boxes.sorted { $0[0].y != $1[0].y ? $0[0].y < $1[0].y : $0[0].x < $1[0].x }
        if b.count < 2 { return b }
        for i in 0..<(b.count - 1) {
            var j = i
            while j >= 0 {
                if abs(b[j + 1][0].y - b[j][0].y) < 10 && b[j + 1][0].x < b[j][0].x {
                    b.swapAt(j, j + 1)
                    j -= 1
                } else {
                    break
                }
            }
        }
        return b
    }
}
