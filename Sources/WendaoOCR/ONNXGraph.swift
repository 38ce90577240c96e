import Foundation
import WendaoCore

/// Runs an ``ONNXModel`` on the CPU: an interpreter for the operators the PP-OCR detection, direction
/// and recognition networks use (convolutions, batch normalisation, activations, pooling, nearest
/// resize, the transformer pieces of SVTR: MatMul, Softmax, ReduceMean, Reshape/Transpose/Slice).
///
/// Values are freed as soon as their last reader has run, so peak memory is a few activations, not the
/// whole graph. An operator outside this set is refused when the model is loaded.
final class ONNXGraph: @unchecked Sendable {
    /// Operators the interpreter implements.
    static let supported: Set<String> = [
        "Conv", "ConvTranspose", "BatchNormalization", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Clip", "Relu",
        "HardSigmoid", "Sigmoid", "HardSwish", "GlobalAveragePool", "AveragePool", "MaxPool", "Resize", "Concat",
        "Shape", "Cast", "Slice", "Reshape", "Transpose", "ReduceMean", "MatMul", "Squeeze", "Unsqueeze",
        "Softmax", "Identity", "Flatten",
    ]

    private struct Step {
        var node: ONNXNode
        var inputs: [Int]  // value slots, -1 for an omitted optional input
        var outputs: [Int]
        var frees: [Int]  // slots whose last reader is this step
    }

    private let steps: [Step]
    private let constantSlots: [Int: Tensor]
    private let slotCount: Int
    private let inputSlot: Int
    private let outputSlot: Int
    /// Weights of ConvTranspose nodes transposed for the GEMM, by step index.
    private let transposedWeights: [Int: [Float]]

    /// Prepares `model`, whose first input is the image batch and first output the result.
    init(_ model: ONNXModel) throws {
        var slots: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let s = slots[name] { return s }
            let s = slots.count
            slots[name] = s
            return s
        }
        guard let input = model.inputs.first, let output = model.outputs.first else {
            throw WendaoError(.corrupt, "the model has no input or output")
        }
        inputSlot = slot(input)
        var constants: [Int: Tensor] = [:]
        for (name, t) in model.constants { constants[slot(name)] = t }
        var steps: [Step] = []
        var known = Set(constants.keys)
        known.insert(inputSlot)
        for node in model.nodes {
            guard Self.supported.contains(node.opType) else {
                throw WendaoError(
                    .corrupt, "unsupported operator \(node.opType) (not a PP-OCR model this version reads)")
            }
            let ins = node.inputs.map { $0.isEmpty ? -1 : slot($0) }
            for i in ins where i >= 0 && !known.contains(i) {
                throw WendaoError(.corrupt, "node \(node.opType) reads a value no earlier node makes")
            }
            let outs = node.outputs.map { slot($0) }
            known.formUnion(outs)
            steps.append(Step(node: node, inputs: ins, outputs: outs, frees: []))
        }
        guard let out = slots[output], known.contains(out) else {
            throw WendaoError(.corrupt, "the model's output is never computed")
        }
        outputSlot = out
        // Last readers.
        var last: [Int: Int] = [:]
        for (i, s) in steps.enumerated() { for v in s.inputs where v >= 0 && constants[v] == nil { last[v] = i } }
        for (v, i) in last where v != outputSlot { steps[i].frees.append(v) }
        var transposed: [Int: [Float]] = [:]
        for (i, s) in steps.enumerated() where s.node.opType == "ConvTranspose" {
            guard s.inputs.count >= 2, let w = constants[s.inputs[1]], w.shape.count == 4 else {
                throw WendaoError(.corrupt, "ConvTranspose without constant 4-D weights")
            }
            let (cin, rest) = (w.shape[0], w.shape[1] * w.shape[2] * w.shape[3])
            var t = [Float](repeating: 0, count: w.count)
            for a in 0..<cin { for b in 0..<rest { t[b * cin + a] = w.data[a * rest + b] } }
            transposed[i] = t
        }
        self.transposedWeights = transposed
        self.steps = steps
        self.constantSlots = constants
        self.slotCount = slots.count
    }

    /// Runs the graph on `input` with `threads` threads and returns the first output.
    func run(_ input: Tensor, threads: Int) throws -> Tensor {
        var values = [Tensor?](repeating: nil, count: slotCount)
        for (s, t) in constantSlots { values[s] = t }
        values[inputSlot] = input
        for (i, step) in steps.enumerated() {
            var ins: [Tensor?] = step.inputs.map { $0 >= 0 ? values[$0] : nil }
            // A value read for the last time, once, is handed over: the operator may then write its
            // result into the value's storage instead of a fresh copy (element-wise operators, batch
            // normalisation, softmax), which saves a copy and the page faults of a new allocation.
            for f in step.frees where step.inputs.lazy.filter({ $0 == f }).count == 1 { values[f] = nil }
            let out = try execute(step.node, &ins, stepIndex: i, threads: threads)
            ins.removeAll()
            for (k, s) in step.outputs.enumerated() where k < out.count { values[s] = out[k] }
            for f in step.frees { values[f] = nil }
        }
        guard let result = values[outputSlot] else { throw WendaoError(.internal, "the model produced no output") }
        return result
    }

    // MARK: - Operators

    private func execute(_ node: ONNXNode, _ ins: inout [Tensor?], stepIndex: Int, threads: Int) throws -> [Tensor] {
        func arg(_ i: Int) throws -> Tensor {
            guard i < ins.count, let t = ins[i] else {
                throw WendaoError(.corrupt, "\(node.opType) is missing input \(i)")
            }
            return t
        }
        /// Input `i`, moved out of `ins`: when the graph no longer holds it either, its storage is
        /// uniquely referenced and an operator writing into it does so in place.
        func take(_ i: Int) throws -> Tensor {
            guard i < ins.count, let t = ins[i] else {
                throw WendaoError(.corrupt, "\(node.opType) is missing input \(i)")
            }
            ins[i] = nil
            return t
        }
        switch node.opType {
        case "Conv": return [try conv(node, try arg(0), try arg(1), ins.count > 2 ? ins[2] : nil, threads: threads)]
        case "ConvTranspose":
            return [
                try convTranspose(
                    node, try arg(0), try arg(1), ins.count > 2 ? ins[2] : nil, step: stepIndex,
                    threads: threads)
            ]
        case "BatchNormalization":
            var x = try take(0)
            try batchNorm(&x, try arg(1), try arg(2), try arg(3), try arg(4), eps: node.float("epsilon", 1e-5))
            return [x]
        case "Add":
            var x = try take(0)
            try Self.combine(&x, try arg(1)) { $0 + $1 }
            return [x]
        case "Sub":
            var x = try take(0)
            try Self.combine(&x, try arg(1)) { $0 - $1 }
            return [x]
        case "Mul":
            var x = try take(0)
            try Self.combine(&x, try arg(1)) { $0 * $1 }
            return [x]
        case "Div":
            var x = try take(0)
            try Self.combine(&x, try arg(1)) { $0 / $1 }
            return [x]
        case "Pow":
            let e = try arg(1)
            var x = try take(0)
            if e.count == 1, e.data[0] == 2 {
                Self.apply(&x, threads: threads, Square())
            } else {
                try Self.combine(&x, e) { Foundation.pow($0, $1) }
            }
            return [x]
        case "Sqrt":
            var x = try take(0)
            Self.apply(&x, threads: threads, SquareRoot())
            return [x]
        case "Relu":
            var x = try take(0)
            Self.apply(&x, threads: threads, Clip(lo: 0, hi: .infinity))
            return [x]
        case "Sigmoid":
            var x = try take(0)
            Self.apply(&x, threads: threads, Logistic())
            return [x]
        case "HardSigmoid":
            let a = node.float("alpha", 0.2), b = node.float("beta", 0.5)
            var x = try take(0)
            Self.apply(&x, threads: threads, HardSigmoid(alpha: a, beta: b))
            return [x]
        case "HardSwish":
            var x = try take(0)
            Self.apply(&x, threads: threads, HardSwish())
            return [x]
        case "Clip":
            var lo = -Float.infinity, hi = Float.infinity
            if ins.count > 1, let t = ins[1], t.count == 1 { lo = t.data[0] }
            if ins.count > 2, let t = ins[2], t.count == 1 { hi = t.data[0] }
            if case .float(let v) = node.attributes["min"] { lo = v }
            if case .float(let v) = node.attributes["max"] { hi = v }
            var x = try take(0)
            Self.apply(&x, threads: threads, Clip(lo: lo, hi: hi))
            return [x]
        case "Identity": return [try arg(0)]
        case "GlobalAveragePool": return [try globalAveragePool(try arg(0))]
        case "AveragePool", "MaxPool": return [try pool(node, try arg(0), max: node.opType == "MaxPool")]
        case "Resize": return [try resize(node, ins)]
        case "Concat": return [try concat(ins.compactMap { $0 }, axis: node.int("axis", 0))]
        case "Shape":
            let x = try arg(0)
            return [Tensor(shape: [x.shape.count], data: x.shape.map(Float.init))]
        case "Cast":
            let to = node.int("to", 1)
            var x = try take(0)
            if to == 6 || to == 7 { Self.apply(&x, threads: threads, Truncate()) }
            return [x]
        case "Slice": return [try slice(ins)]
        case "Reshape": return [try reshape(try take(0), shape: try arg(1).data.map { Int($0) })]
        case "Flatten":
            let x = try arg(0)
            var axis = node.int("axis", 1)
            if axis < 0 { axis += x.shape.count }
            let outer = x.shape.prefix(axis).reduce(1, *)
            return [Tensor(shape: [outer, x.count / max(1, outer)], data: x.data)]
        case "Squeeze", "Unsqueeze":
            let x = try arg(0)
            let axes = node.ints("axes") ?? (ins.count > 1 ? ins[1]?.data.map { Int($0) } : nil) ?? []
            return [try squeeze(x, axes: axes, unsqueeze: node.opType == "Unsqueeze")]
        case "Transpose":
            let x = try arg(0)
            let perm = node.ints("perm") ?? Array((0..<x.shape.count).reversed())
            return [try transpose(x, perm: perm)]
        case "ReduceMean": return [try reduceMeanLast(node, try arg(0))]
        case "MatMul": return [try matmul(try arg(0), try arg(1), threads: threads)]
        case "Softmax":
            var x = try take(0)
            try softmax(node, &x)
            return [x]
        default:
            throw WendaoError(.corrupt, "unsupported operator \(node.opType)")
        }
    }

    /// `f` applied to every element of a copy of `x`.
    @inline(__always)
    static func unary(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        var out = x
        out.data.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = f(p[i]) }
        }
        return out
    }

    /// `f` applied to every element of `x`, in place (no copy when `x`'s storage is not shared), large
    /// activations in slices over the threads. `f` is a type, not a closure, so that each operator's
    /// loop is compiled with its function inlined (a closure captured by the threads' closure would be
    /// called once per element).
    static func apply<F: ElementFunction>(_ x: inout Tensor, threads: Int, _ f: F) {
        x.data.withUnsafeMutableBufferPointer { p in
            let n = p.count
            guard threads > 1, n >= 1 << 17, let base = p.baseAddress else {
                for i in p.indices { p[i] = f(p[i]) }
                return
            }
            let slices = threads * 4
            let start = UnsafeSendableBox(base)
            OCRKernels.parallel(slices, threads: threads) { k in
                let q = start.value
                for i in (n * k / slices)..<(n * (k + 1) / slices) { q[i] = f(q[i]) }
            }
        }
    }

    /// Element-wise binary operation with numpy broadcasting.
    @inline(__always)
    static func binary(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) throws -> Tensor {
        var out = a
        try combine(&out, b, f)
        return out
    }

    /// `a = f(a, b)` element-wise with numpy broadcasting, written into `a`'s storage when the result
    /// has `a`'s shape (an activation plus a bias, times a per-channel scale…).
    @inline(__always)
    static func combine(_ a: inout Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) throws {
        if a.shape == b.shape {
            a.data.withUnsafeMutableBufferPointer { o in
                b.data.withUnsafeBufferPointer { q in for i in o.indices { o[i] = f(o[i], q[i]) } }
            }
            return
        }
        if b.count == 1, a.shape.count >= b.shape.count {
            let s = b.data[0]
            a.data.withUnsafeMutableBufferPointer { p in
                for i in p.indices { p[i] = f(p[i], s) }
            }
            return
        }
        if a.count == 1, b.shape.count >= a.shape.count {
            let s = a.data[0]
            a = unary(b) { f(s, $0) }
            return
        }
        let rank = max(a.shape.count, b.shape.count)
        let sa = [Int](repeating: 1, count: rank - a.shape.count) + a.shape
        let sb = [Int](repeating: 1, count: rank - b.shape.count) + b.shape
        var shape = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            guard sa[i] == sb[i] || sa[i] == 1 || sb[i] == 1 else {
                throw WendaoError(.corrupt, "shapes \(a.shape) and \(b.shape) do not broadcast")
            }
            shape[i] = max(sa[i], sb[i])
        }
        func strides(_ s: [Int]) -> [Int] {
            var st = [Int](repeating: 0, count: rank)
            var acc = 1
            for i in stride(from: rank - 1, through: 0, by: -1) {
                st[i] = s[i] == 1 ? 0 : acc
                acc *= s[i]
            }
            return st
        }
        let ta = strides(sa), tb = strides(sb)
        let inner = shape[rank - 1]
        // The common case (a bias or a per-channel scale broadcast over an activation) writes into `a`.
        let total = shape.reduce(1, *)
        if total == 0 {
            a = Tensor(zeros: shape)
            return
        }
        let rows = total / max(1, inner)
        if sa == shape {
            a.shape = shape
            a.data.withUnsafeMutableBufferPointer { po in
                b.data.withUnsafeBufferPointer { pb in
                    broadcastRows(
                        po.baseAddress!, ta, pb.baseAddress!, tb, into: po.baseAddress!, shape: shape, rows: rows, f)
                }
            }
            return
        }
        var out = Tensor(zeros: shape)
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                out.data.withUnsafeMutableBufferPointer { po in
                    broadcastRows(
                        pa.baseAddress!, ta, pb.baseAddress!, tb, into: po.baseAddress!, shape: shape, rows: rows, f)
                }
            }
        }
        a = out
    }

    /// Writes the `rows` rows of a broadcast result of `shape` from `pa` and `pb` (their strides per
    /// axis, 0 where broadcast). `pa` and `po` may be the same storage: each element is read before it
    /// is replaced, at the same index.
    @inline(__always)
    private static func broadcastRows(
        _ pa: UnsafePointer<Float>, _ ta: [Int], _ pb: UnsafePointer<Float>, _ tb: [Int],
        into po: UnsafeMutablePointer<Float>, shape: [Int], rows: Int, _ f: (Float, Float) -> Float
    ) {
        let rank = shape.count
        let inner = shape[rank - 1]
        let ia = ta[rank - 1], ib = tb[rank - 1]
        var idx = [Int](repeating: 0, count: rank)
        for r in 0..<rows {
            var oa = 0, ob = 0
            for d in 0..<(rank - 1) {
                oa += idx[d] * ta[d]
                ob += idx[d] * tb[d]
            }
            let base = r * inner
            if ia == 1 && ib == 0 {
                let s = pb[ob]
                for j in 0..<inner { po[base + j] = f(pa[oa + j], s) }
            } else if ia == 0 && ib == 1 {
                let s = pa[oa]
                for j in 0..<inner { po[base + j] = f(s, pb[ob + j]) }
            } else {
                for j in 0..<inner { po[base + j] = f(pa[oa + j * ia], pb[ob + j * ib]) }
            }
            advance(&idx, within: shape)
        }
    }

    /// Steps `idx` to the next row of `shape` in row-major order (every axis but the last, which the
    /// callers walk themselves): the second-to-last axis moves first and carries into the ones before.
    @inline(__always)
    private static func advance(_ idx: inout [Int], within shape: [Int]) {
        var d = shape.count - 2
        while d >= 0 {
            idx[d] += 1
            if idx[d] < shape[d] { break }
            idx[d] = 0
            d -= 1
        }
    }

    private func window(_ node: ONNXNode, kernel: [Int]) throws -> OCRKernels.Window {
        let strides = node.ints("strides") ?? [1, 1]
        let pads = node.ints("pads") ?? [0, 0, 0, 0]
        let dil = node.ints("dilations") ?? [1, 1]
        if let auto = node.string("auto_pad"), auto != "NOTSET" {
            throw WendaoError(.corrupt, "\(node.opType) with auto_pad \(auto) is not supported")
        }
        guard kernel.count == 2, strides.count == 2, pads.count == 4, dil.count == 2,
            (kernel + strides + dil).allSatisfy({ $0 >= 1 && $0 < 64 }), pads.allSatisfy({ $0 >= 0 && $0 < 64 })
        else { throw WendaoError(.corrupt, "\(node.opType) has unsupported geometry") }
        return OCRKernels.Window(
            kh: kernel[0], kw: kernel[1], sh: strides[0], sw: strides[1], padTop: pads[0], padLeft: pads[1],
            padBottom: pads[2], padRight: pads[3], dh: dil[0], dw: dil[1])
    }

    private func conv(_ node: ONNXNode, _ x: Tensor, _ w: Tensor, _ b: Tensor?, threads: Int) throws -> Tensor {
        guard x.shape.count == 4, w.shape.count == 4 else { throw WendaoError(.corrupt, "Conv needs 4-D tensors") }
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let group = node.int("group", 1)
        let cout = w.shape[0]
        guard group >= 1, cin % group == 0, cout % group == 0, w.shape[1] == cin / group,
            b == nil || b!.count == cout
        else { throw WendaoError(.corrupt, "Conv weights do not match the input (\(x.shape), \(w.shape))") }
        let g = try window(node, kernel: node.ints("kernel_shape") ?? [w.shape[2], w.shape[3]])
        let (oh, ow) = g.outSize(h, wd)
        guard oh > 0, ow > 0 else { throw WendaoError(.invalidArgument, "image too small for the network") }
        var y = Tensor(zeros: [n, cout, oh, ow])
        x.data.withUnsafeBufferPointer { px in
            w.data.withUnsafeBufferPointer { pw in
                y.data.withUnsafeMutableBufferPointer { py in
                    let bias = b?.data
                    bias.withUnsafeOptionalPointer { pb in
                        for i in 0..<n {
                            OCRKernels.conv2d(
                                x: px.baseAddress! + i * cin * h * wd, cin: cin, h: h, w: wd, weight: pw.baseAddress!,
                                bias: pb, cout: cout, group: group, window: g,
                                y: py.baseAddress! + i * cout * oh * ow, threads: threads)
                        }
                    }
                }
            }
        }
        return y
    }

    private func convTranspose(
        _ node: ONNXNode, _ x: Tensor, _ w: Tensor, _ b: Tensor?, step: Int, threads: Int
    ) throws -> Tensor {
        guard x.shape.count == 4, w.shape.count == 4, node.int("group", 1) == 1, w.shape[0] == x.shape[1],
            let wt = transposedWeights[step]
        else { throw WendaoError(.corrupt, "unsupported ConvTranspose") }
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let cout = w.shape[1], kh = w.shape[2], kw = w.shape[3]
        let s = node.ints("strides") ?? [1, 1]
        let p = node.ints("pads") ?? [0, 0, 0, 0]
        let op = node.ints("output_padding") ?? [0, 0]
        guard s.count == 2, p.count == 4, op.count == 2 else {
            throw WendaoError(.corrupt, "bad ConvTranspose attributes")
        }
        let oh = (h - 1) * s[0] + kh - p[0] - p[2] + op[0]
        let ow = (wd - 1) * s[1] + kw - p[1] - p[3] + op[1]
        var y = Tensor(zeros: [n, cout, oh, ow])
        x.data.withUnsafeBufferPointer { px in
            wt.withUnsafeBufferPointer { pw in
                y.data.withUnsafeMutableBufferPointer { py in
                    let bias = b?.data
                    bias.withUnsafeOptionalPointer { pb in
                        for i in 0..<n {
                            OCRKernels.convTranspose2d(
                                x: px.baseAddress! + i * cin * h * wd, cin: cin, h: h, w: wd, weightT: pw.baseAddress!,
                                bias: pb, cout: cout, kh: kh, kw: kw, sh: s[0], sw: s[1], padTop: p[0],
                                padLeft: p[1], oh: oh, ow: ow, y: py.baseAddress! + i * cout * oh * ow,
                                threads: threads)
                        }
                    }
                }
            }
        }
        return y
    }

    private func batchNorm(
        _ x: inout Tensor, _ scale: Tensor, _ bias: Tensor, _ mean: Tensor, _ variance: Tensor, eps: Float
    ) throws {
        guard x.shape.count >= 2 else { throw WendaoError(.corrupt, "BatchNormalization needs N×C×…") }
        let c = x.shape[1]
        guard scale.count == c, bias.count == c, mean.count == c, variance.count == c else {
            throw WendaoError(.corrupt, "BatchNormalization parameters do not match the channels")
        }
        let inner = x.shape.dropFirst(2).reduce(1, *)
        let batch = x.shape[0]
        x.data.withUnsafeMutableBufferPointer { p in
            for n in 0..<batch {
                for ch in 0..<c {
                    let k = scale.data[ch] / (variance.data[ch] + eps).squareRoot()
                    let off = bias.data[ch] - mean.data[ch] * k
                    let base = (n * c + ch) * inner
                    for i in 0..<inner { p[base + i] = p[base + i] * k + off }
                }
            }
        }
    }

    private func globalAveragePool(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 4 else { throw WendaoError(.corrupt, "GlobalAveragePool needs N×C×H×W") }
        let nc = x.shape[0] * x.shape[1]
        let inner = x.shape[2] * x.shape[3]
        var out = Tensor(zeros: [x.shape[0], x.shape[1], 1, 1])
        x.data.withUnsafeBufferPointer { p in
            for i in 0..<nc {
                var s: Float = 0
                for j in 0..<inner { s += p[i * inner + j] }
                out.data[i] = s / Float(max(1, inner))
            }
        }
        return out
    }

    private func pool(_ node: ONNXNode, _ x: Tensor, max isMax: Bool) throws -> Tensor {
        guard x.shape.count == 4, let k = node.ints("kernel_shape") else {
            throw WendaoError(.corrupt, "\(node.opType) needs N×C×H×W and a kernel")
        }
        if node.int("ceil_mode", 0) != 0 {
            throw WendaoError(.corrupt, "\(node.opType) with ceil_mode is not supported")
        }
        let g = try window(node, kernel: k)
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = g.outSize(h, w)
        guard oh > 0, ow > 0 else { throw WendaoError(.invalidArgument, "image too small for the network") }
        let includePad = node.int("count_include_pad", 0) != 0
        var out = Tensor(zeros: [n, c, oh, ow])
        x.data.withUnsafeBufferPointer { p in
            out.data.withUnsafeMutableBufferPointer { o in
                for plane in 0..<(n * c) {
                    let src = plane * h * w
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            var acc: Float = isMax ? -.infinity : 0
                            var cnt = 0
                            for ky in 0..<g.kh {
                                let iy = oy * g.sh - g.padTop + ky
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<g.kw {
                                    let ix = ox * g.sw - g.padLeft + kx
                                    if ix < 0 || ix >= w { continue }
                                    let v = p[src + iy * w + ix]
                                    if isMax { acc = Swift.max(acc, v) } else { acc += v }
                                    cnt += 1
                                }
                            }
                            let denom = includePad ? g.kh * g.kw : Swift.max(1, cnt)
                            o[(plane * oh + oy) * ow + ox] = isMax ? acc : acc / Float(denom)
                        }
                    }
                }
            }
        }
        return out
    }

    private func resize(_ node: ONNXNode, _ ins: [Tensor?]) throws -> Tensor {
        guard let x = ins.first ?? nil, x.shape.count == 4 else { throw WendaoError(.corrupt, "Resize needs N×C×H×W") }
        guard node.string("mode") ?? "nearest" == "nearest" else {
            throw WendaoError(.corrupt, "Resize mode \(node.string("mode") ?? "") is not supported")
        }
        var oh = 0, ow = 0
        if ins.count > 3, let sizes = ins[3], sizes.count == 4 {
            oh = Int(sizes.data[2])
            ow = Int(sizes.data[3])
        } else if ins.count > 2, let scales = ins[2], scales.count == 4 {
            oh = Int((Float(x.shape[2]) * scales.data[2]).rounded(.down))
            ow = Int((Float(x.shape[3]) * scales.data[3]).rounded(.down))
        } else {
            throw WendaoError(.corrupt, "Resize without scales or sizes")
        }
        guard oh > 0, ow > 0, oh < 1 << 15, ow < 1 << 15 else { throw WendaoError(.corrupt, "bad Resize output size") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let sy = Float(oh) / Float(h), sx = Float(ow) / Float(w)
        let xs = (0..<ow).map { min(w - 1, Int((Float($0) / sx).rounded(.down))) }
        var out = Tensor(zeros: [n, c, oh, ow])
        x.data.withUnsafeBufferPointer { p in
            out.data.withUnsafeMutableBufferPointer { o in
                for plane in 0..<(n * c) {
                    for oy in 0..<oh {
                        let iy = min(h - 1, Int((Float(oy) / sy).rounded(.down)))
                        let src = plane * h * w + iy * w
                        let dst = (plane * oh + oy) * ow
                        for ox in 0..<ow { o[dst + ox] = p[src + xs[ox]] }
                    }
                }
            }
        }
        return out
    }

    private func concat(_ parts: [Tensor], axis a: Int) throws -> Tensor {
        guard let first = parts.first else { throw WendaoError(.corrupt, "Concat of nothing") }
        let rank = first.shape.count
        let axis = a < 0 ? a + rank : a
        guard axis >= 0, axis < rank else { throw WendaoError(.corrupt, "bad Concat axis") }
        var shape = first.shape
        shape[axis] = 0
        for p in parts {
            guard p.shape.count == rank,
                (0..<rank).allSatisfy({ $0 == axis || p.shape[$0] == first.shape[$0] })
            else { throw WendaoError(.corrupt, "Concat shapes differ") }
            shape[axis] += p.shape[axis]
        }
        let outer = first.shape.prefix(axis).reduce(1, *)
        var data: [Float] = []
        data.reserveCapacity(shape.reduce(1, *))
        for o in 0..<outer {
            for p in parts {
                let chunk = p.shape[axis...].reduce(1, *)
                data.append(contentsOf: p.data[(o * chunk)..<((o + 1) * chunk)])
            }
        }
        return Tensor(shape: shape, data: data)
    }

    private func slice(_ ins: [Tensor?]) throws -> Tensor {
        guard ins.count >= 3, let x = ins[0], let starts = ins[1], let ends = ins[2] else {
            throw WendaoError(.corrupt, "Slice needs data, starts and ends")
        }
        let rank = x.shape.count
        let axes = ins.count > 3 && ins[3] != nil ? ins[3]!.data.map { Int($0) } : Array(0..<starts.count)
        let steps =
            ins.count > 4 && ins[4] != nil ? ins[4]!.data.map { Int($0) } : [Int](repeating: 1, count: starts.count)
        var lo = [Int](repeating: 0, count: rank)
        var hi = x.shape
        for (i, a0) in axes.enumerated() {
            let a = a0 < 0 ? a0 + rank : a0
            guard a >= 0, a < rank, i < steps.count, steps[i] == 1 else {
                throw WendaoError(.corrupt, "unsupported Slice")
            }
            let dim = x.shape[a]
            func clampIndex(_ v: Float) -> Int {
                if v >= Float(Int32.max) { return dim }
                if v <= Float(Int32.min) { return 0 }
                var k = Int(v)
                if k < 0 { k += dim }
                return min(max(k, 0), dim)
            }
            lo[a] = clampIndex(starts.data[i])
            hi[a] = max(lo[a], clampIndex(ends.data[i]))
        }
        let shape = (0..<rank).map { hi[$0] - lo[$0] }
        var out = Tensor(zeros: shape)
        if out.count == 0 { return out }
        var srcStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { srcStrides[d] = srcStrides[d + 1] * x.shape[d + 1] }
        var idx = [Int](repeating: 0, count: rank)
        let inner = shape[rank - 1]
        for r in 0..<(out.count / inner) {
            var src = 0
            for d in 0..<rank { src += (idx[d] + lo[d]) * srcStrides[d] }
            for j in 0..<inner { out.data[r * inner + j] = x.data[src + j] }
            Self.advance(&idx, within: shape)
        }
        return out
    }

    private func reshape(_ x: Tensor, shape spec: [Int]) throws -> Tensor {
        var shape = spec
        for i in shape.indices where shape[i] == 0 {
            guard i < x.shape.count else { throw WendaoError(.corrupt, "bad Reshape") }
            shape[i] = x.shape[i]
        }
        if let m = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != m }.map(\.element).reduce(1, *)
            guard known > 0, x.count % known == 0 else { throw WendaoError(.corrupt, "bad Reshape") }
            shape[m] = x.count / known
        }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == x.count else {
            throw WendaoError(.corrupt, "Reshape \(x.shape) to \(spec) changes the size")
        }
        return Tensor(shape: shape, data: x.data)
    }

    private func squeeze(_ x: Tensor, axes: [Int], unsqueeze: Bool) throws -> Tensor {
        var shape = x.shape
        if unsqueeze {
            for a0 in axes.sorted() {
                let a = a0 < 0 ? a0 + shape.count + 1 : a0
                guard a >= 0, a <= shape.count else { throw WendaoError(.corrupt, "bad Unsqueeze axis") }
                shape.insert(1, at: a)
            }
        } else if axes.isEmpty {
            shape = shape.filter { $0 != 1 }
        } else {
            let norm = Set(axes.map { $0 < 0 ? $0 + shape.count : $0 })
            guard norm.allSatisfy({ $0 >= 0 && $0 < shape.count && shape[$0] == 1 }) else {
                throw WendaoError(.corrupt, "bad Squeeze axis")
            }
            shape = shape.enumerated().filter { !norm.contains($0.offset) }.map(\.element)
        }
        return Tensor(shape: shape, data: x.data)
    }

    private func transpose(_ x: Tensor, perm: [Int]) throws -> Tensor {
        let rank = x.shape.count
        guard perm.count == rank, Set(perm) == Set(0..<rank) else { throw WendaoError(.corrupt, "bad Transpose") }
        let shape = perm.map { x.shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * x.shape[d + 1] }
        let st = perm.map { inStrides[$0] }
        var out = Tensor(zeros: shape)
        if out.count == 0 { return out }
        let inner = shape[rank - 1]
        let innerStride = st[rank - 1]
        var idx = [Int](repeating: 0, count: rank)
        x.data.withUnsafeBufferPointer { p in
            out.data.withUnsafeMutableBufferPointer { o in
                for r in 0..<(o.count / inner) {
                    var src = 0
                    for d in 0..<(rank - 1) { src += idx[d] * st[d] }
                    let base = r * inner
                    for j in 0..<inner { o[base + j] = p[src + j * innerStride] }
                    Self.advance(&idx, within: shape)
                }
            }
        }
        return out
    }

    private func reduceMeanLast(_ node: ONNXNode, _ x: Tensor) throws -> Tensor {
        let axes = node.ints("axes") ?? [-1]
        guard axes.count == 1, axes[0] == -1 || axes[0] == x.shape.count - 1 else {
            throw WendaoError(.corrupt, "ReduceMean is supported over the last axis only")
        }
        let inner = x.shape.last ?? 1
        let rows = x.count / max(1, inner)
        var shape = x.shape
        if node.int("keepdims", 1) != 0 { shape[shape.count - 1] = 1 } else { shape.removeLast() }
        var out = Tensor(zeros: shape)
        for r in 0..<rows {
            var s: Float = 0
            for j in 0..<inner { s += x.data[r * inner + j] }
            out.data[r] = s / Float(inner)
        }
        return out
    }

    private func matmul(_ a: Tensor, _ b: Tensor, threads: Int) throws -> Tensor {
        guard a.shape.count >= 2, b.shape.count >= 2 else { throw WendaoError(.corrupt, "MatMul needs matrices") }
        let m = a.shape[a.shape.count - 2], k = a.shape[a.shape.count - 1]
        let k2 = b.shape[b.shape.count - 2], n = b.shape[b.shape.count - 1]
        guard k == k2 else { throw WendaoError(.corrupt, "MatMul shapes \(a.shape) × \(b.shape) differ") }
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let countA = batchA.reduce(1, *), countB = batchB.reduce(1, *)
        if countB == 1 {
            var out = Tensor(zeros: batchA + [m, n])
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    out.data.withUnsafeMutableBufferPointer { po in
                        OCRKernels.gemm(
                            m: countA * m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!,
                            ldb: n, c: po.baseAddress!, ldc: n, threads: threads)
                    }
                }
            }
            return out
        }
        guard batchA == batchB else { throw WendaoError(.corrupt, "MatMul batch shapes differ") }
        var out = Tensor(zeros: batchA + [m, n])
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                out.data.withUnsafeMutableBufferPointer { po in
                    let ba = UnsafeSendableBox(pa.baseAddress!), bb = UnsafeSendableBox(pb.baseAddress!)
                    let bo = UnsafeSendableBox(po.baseAddress!)
                    OCRKernels.parallel(countA, threads: threads) { i in
                        OCRKernels.gemm(
                            m: m, n: n, k: k, a: ba.value + i * m * k, lda: k, b: bb.value + i * k * n,
                            ldb: n, c: bo.value + i * m * n, ldc: n, threads: 1)
                    }
                }
            }
        }
        return out
    }

    private func softmax(_ node: ONNXNode, _ x: inout Tensor) throws {
        let rank = x.shape.count
        var axis = node.int("axis", -1)
        if axis < 0 { axis += rank }
        guard axis >= 0, axis < rank else { throw WendaoError(.corrupt, "bad Softmax axis") }
        // Before opset 13 the input is flattened from `axis`; the PP-OCR graphs use the last axis either way.
        let inner = x.shape[axis...].reduce(1, *)
        x.data.withUnsafeMutableBufferPointer { p in
            for r in 0..<(p.count / max(1, inner)) {
                let base = r * inner
                var mx = -Float.infinity
                for j in 0..<inner { mx = max(mx, p[base + j]) }
                var s: Float = 0
                for j in 0..<inner {
                    let e = Foundation.exp(p[base + j] - mx)
                    p[base + j] = e
                    s += e
                }
                for j in 0..<inner { p[base + j] /= s }
            }
        }
    }
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with a pointer to the array's storage, or nil.
    func withUnsafeOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}

/// A function applied to each element of a tensor (see ``ONNXGraph/apply(_:threads:_:)``).
protocol ElementFunction: Sendable {
    func callAsFunction(_ x: Float) -> Float
}

/// x².
struct Square: ElementFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * x }
}

/// √x.
struct SquareRoot: ElementFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x.squareRoot() }
}

/// x limited to `lo…hi` (ReLU is `0…∞`).
struct Clip: ElementFunction {
    var lo: Float
    var hi: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { min(max(x, lo), hi) }
}

/// 1 / (1 + e⁻ˣ).
struct Logistic: ElementFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
}

/// max(0, min(1, αx + β)).
struct HardSigmoid: ElementFunction {
    var alpha: Float
    var beta: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { min(max(alpha * x + beta, 0), 1) }
}

/// x · max(0, min(1, x/6 + ½)).
struct HardSwish: ElementFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * min(max(x / 6 + 0.5, 0), 1) }
}

/// x rounded toward zero (a cast to an integer type).
struct Truncate: ElementFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x.rounded(.towardZero) }
}
