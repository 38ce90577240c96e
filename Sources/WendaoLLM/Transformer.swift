import Foundation
import WendaoCore
internal import WendaoLLMKernels

/// A pointer that may cross into the kernel threads: the forward pass hands each thread disjoint
/// rows of the buffers it writes.
struct SharedPointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
    static func allocate(_ count: Int) -> SharedPointer<T> {
        SharedPointer(UnsafeMutablePointer<T>.allocate(capacity: max(1, count)))
    }
}

/// A decoder-only transformer (llama, qwen2, qwen3) over a mapped GGUF file, with its key/value
/// cache and scratch buffers: prompt tokens go through in batches, generated ones one at a time.
///
/// Not thread-safe: one caller at a time (``LocalChatModel`` queues requests); the work of each
/// call is spread over ``Parallel``'s threads.
final class Transformer: @unchecked Sendable {
    let file: GGUFFile
    let h: ModelHyperparameters
    let weights: ModelWeights
    /// Positions the cache holds.
    let contextLength: Int
    /// Most tokens processed in one batch.
    let batchCapacity: Int
    let parallel: Parallel
    /// Whether the AVX2 kernels run (``LLMKernels/fast`` unless the portable ones were asked for).
    let fast: Bool

    private let qDim: Int
    private let kvDim: Int
    /// `layers × contextLength × kvDim` halves each.
    private let keys: SharedPointer<UInt16>
    private let values: SharedPointer<UInt16>
    // Scratch, sized for `batchCapacity` tokens.
    private let x: SharedPointer<Float>
    private let xn: SharedPointer<Float>
    private let q: SharedPointer<Float>
    private let k: SharedPointer<Float>
    private let v: SharedPointer<Float>
    private let attended: SharedPointer<Float>
    private let gate: SharedPointer<Float>
    private let up: SharedPointer<Float>
    /// One row of attention scores per thread.
    private let scores: SharedPointer<Float>
    /// The last position's logits.
    let logits: SharedPointer<Float>
    /// Rotary angles of the current batch: `batchCapacity × ropeDimensions/2` cosines, then sines.
    private let cosines: SharedPointer<Float>
    private let sines: SharedPointer<Float>
    private let inverseFrequencies: [Double]
    private var packs: [PackKey: PackedActivations] = [:]

    private struct PackKey: Hashable {
        var format: ActivationFormat
        var columns: Int
    }

    /// Bytes of the key/value cache.
    var cacheBytes: Int { Self.cacheBytes(h, contextLength: contextLength) }

    /// Bytes of the key/value cache of a model of shape `h` for `contextLength` positions.
    static func cacheBytes(_ h: ModelHyperparameters, contextLength: Int) -> Int {
        2 * h.layers * contextLength * h.kvHeads * h.headDimension * LocalModelMemory.keyValueBytesPerElement
    }

    init(file: GGUFFile, contextLength: Int, threads: Int, batchCapacity: Int = 64, portable: Bool = false)
        throws(WendaoError)
    {
        fast = LLMKernels.fast && !portable
        let h = try ModelHyperparameters(file)
        self.file = file
        self.h = h
        weights = try ModelWeights(file, h)
        self.contextLength = contextLength
        self.batchCapacity = batchCapacity
        parallel = Parallel(threads: threads)
        qDim = h.heads * h.headDimension
        kvDim = h.kvHeads * h.headDimension
        let cacheCount = h.layers * contextLength * kvDim
        keys = .allocate(cacheCount)
        values = .allocate(cacheCount)
        x = .allocate(batchCapacity * h.embedding)
        xn = .allocate(batchCapacity * max(h.embedding, qDim, h.feedForward))
        q = .allocate(batchCapacity * qDim)
        k = .allocate(batchCapacity * kvDim)
        v = .allocate(batchCapacity * kvDim)
        attended = .allocate(batchCapacity * qDim)
        gate = .allocate(batchCapacity * h.feedForward)
        up = .allocate(batchCapacity * h.feedForward)
        scores = .allocate(max(1, threads) * contextLength)
        logits = .allocate(h.vocabularySize)
        let half = h.ropeDimensions / 2
        cosines = .allocate(batchCapacity * half)
        sines = .allocate(batchCapacity * half)
        var inv: [Double] = []
        for i in 0..<half {
            var f = pow(Double(h.ropeTheta), -2.0 * Double(i) / Double(h.ropeDimensions))
            if case .linear(let factor) = h.ropeScaling { f /= Double(factor) }
            if let factors = weights.ropeFrequencyFactors { f /= Double(factors[i]) }
            inv.append(f)
        }
        inverseFrequencies = inv
    }

    deinit {
        for p in [x, xn, q, k, v, attended, gate, up, scores, logits, cosines, sines] { p.p.deallocate() }
        keys.p.deallocate()
        values.p.deallocate()
    }

    /// Runs `tokens` at positions `position…`, filling the cache; when `logitsOfLast` is set,
    /// ``logits`` holds the next-token logits after the last of them.
    func forward(_ tokens: [Int32], position: Int, logitsOfLast: Bool = true) throws(WendaoError) {
        guard position >= 0, position + tokens.count <= contextLength else {
            throw WendaoError(
                .contextTooLong,
                "\(position + tokens.count) tokens do not fit the model's context of \(contextLength)")
        }
        for t in tokens where t < 0 || Int(t) >= h.vocabularySize {
            throw WendaoError(.invalidArgument, "token id \(t) is outside the vocabulary of \(h.vocabularySize)")
        }
        var start = 0
        while start < tokens.count {
            let n = min(batchCapacity, tokens.count - start)
            let last = start + n == tokens.count
            batch(Array(tokens[start..<start + n]), position: position + start, logits: last && logitsOfLast)
            start += n
        }
    }

    // MARK: - One batch

    private func batch(_ tokens: [Int32], position: Int, logits wantLogits: Bool) {
        let n = tokens.count
        let e = h.embedding
        for (t, id) in tokens.enumerated() {
            LLMKernels.dequantize(weights.tokenEmbedding, row: Int(id), into: x.p + t * e)
        }
        let half = h.ropeDimensions / 2
        for t in 0..<n {
            let p = Double(position + t)
            for i in 0..<half {
                let angle = p * inverseFrequencies[i]
                cosines.p[t * half + i] = Float(cos(angle))
                sines.p[t * half + i] = Float(sin(angle))
            }
        }
        for (index, layer) in weights.layers.enumerated() {
            // Attention.
            rmsNorm(x.p, layer.attentionNorm, into: xn.p, count: n, width: e)
            multiply([(layer.query, q), (layer.key, k), (layer.value, v)], input: xn.p, count: n)
            addBias(layer.queryBias, q.p, n, qDim)
            addBias(layer.keyBias, k.p, n, kvDim)
            addBias(layer.valueBias, v.p, n, kvDim)
            if let qn = layer.queryNorm, let kn = layer.keyNorm {
                rmsNorm(q.p, qn, into: q.p, count: n * h.heads, width: h.headDimension)
                rmsNorm(k.p, kn, into: k.p, count: n * h.kvHeads, width: h.headDimension)
            }
            rotate(q.p, heads: h.heads, count: n)
            rotate(k.p, heads: h.kvHeads, count: n)
            store(layer: index, position: position, count: n)
            attend(layer: index, position: position, count: n)
            multiply([(layer.output, xn)], input: attended.p, count: n)
            for i in 0..<(n * e) { x.p[i] += xn.p[i] }
            // Feed-forward (SwiGLU).
            rmsNorm(x.p, layer.feedForwardNorm, into: xn.p, count: n, width: e)
            multiply([(layer.gate, gate), (layer.up, up)], input: xn.p, count: n)
            let f = h.feedForward
            for i in 0..<(n * f) {
                let g = gate.p[i]
                gate.p[i] = g / (1 + exp(-g)) * up.p[i]
            }
            multiply([(layer.down, xn)], input: gate.p, count: n)
            for i in 0..<(n * e) { x.p[i] += xn.p[i] }
        }
        guard wantLogits else { return }
        let lastRow = x.p + (n - 1) * e
        rmsNorm(lastRow, weights.outputNorm, into: xn.p, count: 1, width: e)
        multiply([(weights.output, logits)], input: xn.p, count: 1)
    }

    // MARK: - Pieces

    private func rmsNorm(
        _ input: UnsafeMutablePointer<Float>, _ weight: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
        count: Int, width: Int
    ) {
        for r in 0..<count {
            let row = input + r * width
            var sum: Double = 0
            for i in 0..<width { sum += Double(row[i] * row[i]) }
            let scale = 1 / (Float(sum / Double(width)) + h.rmsEpsilon).squareRoot()
            let o = out + r * width
            for i in 0..<width { o[i] = row[i] * scale * weight[i] }
        }
    }

    private func addBias(_ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ width: Int) {
        guard let bias else { return }
        for t in 0..<n {
            let row = y + t * width
            for i in 0..<width { row[i] += bias[i] }
        }
    }

    /// The rotary embedding, in place, on `heads` heads of each of `count` tokens.
    private func rotate(_ y: UnsafeMutablePointer<Float>, heads: Int, count: Int) {
        let half = h.ropeDimensions / 2
        let d = h.headDimension
        let halves = h.rotatesHalves
        for t in 0..<count {
            let c = cosines.p + t * half
            let s = sines.p + t * half
            for head in 0..<heads {
                let v = y + (t * heads + head) * d
                for i in 0..<half {
                    let (a, b) = halves ? (i, i + half) : (2 * i, 2 * i + 1)
                    let x0 = v[a]
                    let x1 = v[b]
                    v[a] = x0 * c[i] - x1 * s[i]
                    v[b] = x0 * s[i] + x1 * c[i]
                }
            }
        }
    }

    private func store(layer: Int, position: Int, count: Int) {
        let base = layer * contextLength * kvDim + position * kvDim
        let n = count * kvDim
        for i in 0..<n {
            keys.p[base + i] = Half.bits(k.p[i])
            values.p[base + i] = Half.bits(v.p[i])
        }
    }

    /// Causal grouped-query attention of the batch's queries over the cache, into `attended`.
    private func attend(layer: Int, position: Int, count: Int) {
        let heads = h.heads
        let d = h.headDimension
        let group = h.heads / h.kvHeads
        let kvDim = kvDim
        let qDim = qDim
        let context = contextLength
        let layerBase = layer * contextLength * kvDim
        let scale = 1 / Float(d).squareRoot()
        let (q, keys, values, attended, scores) = (q, keys, values, attended, scores)
        let fast = fast
        parallel.forEachChunk(count * heads, grain: 1) { range, participant in
            let row = scores.p + participant * context
            for item in range {
                let t = item / heads
                let head = item % heads
                let kvHead = head / group
                let query = q.p + t * qDim + head * d
                let key = keys.p + layerBase + kvHead * d
                let value = values.p + layerBase + kvHead * d
                let out = attended.p + t * qDim + head * d
                let span = position + t + 1
                #if arch(x86_64)
                    if fast && d % 8 == 0 {
                        HaswellAttention.attend(
                            query: query, keys: key, values: value, stride: kvDim, span: span, width: d,
                            scale: scale, scores: row, out: out)
                        continue
                    }
                #endif
                PortableAttention.attend(
                    query: query, keys: key, values: value, stride: kvDim, span: span, width: d, scale: scale,
                    scores: row, out: out)
            }
        }
    }

    /// y_m = W_m · input for every (W_m, y_m) pair, in one parallel region over their rows.
    private func multiply(
        _ pairs: [(WeightMatrix, SharedPointer<Float>)], input: UnsafeMutablePointer<Float>, count: Int
    ) {
        let columns = pairs[0].0.columns
        var jobs: [PreparedMultiply] = []
        var packedNow: [PackKey: PackedActivations] = [:]
        for (w, y) in pairs {
            let key = PackKey(format: ActivationFormat.for(w.type), columns: columns)
            let packed: PackedActivations
            if let p = packedNow[key] {
                packed = p
            } else {
                if let p = packs[key] {
                    packed = p
                } else {
                    packed = PackedActivations(format: key.format, columns: columns, capacity: batchCapacity)
                    packs[key] = packed
                }
                packed.pack(input, count: count, stride: columns, fast: fast)
                packedNow[key] = packed
            }
            // `packs` keeps the activations alive while the threads read them.
            jobs.append(PreparedMultiply(w, packed, into: y.p, outStride: w.rows, fast: fast))
        }
        // Rows of all matrices in one index space, in chunks that never straddle two matrices.
        let grain = count > 1 ? 16 : 32
        var chunks: [Chunk] = []
        for (i, job) in jobs.enumerated() {
            var r = 0
            while r < job.rows {
                chunks.append(Chunk(job: i, start: r, end: min(job.rows, r + grain)))
                r += grain
            }
        }
        // Plain pointers inside the parallel region: no reference counting per chunk.
        jobs.withUnsafeBufferPointer { jobBuffer in
            chunks.withUnsafeBufferPointer { chunkBuffer in
                let work = ChunkList(jobs: jobBuffer.baseAddress!, chunks: chunkBuffer.baseAddress!)
                parallel.forEachChunk(chunkBuffer.count, grain: 1) { range, _ in
                    for c in range {
                        let chunk = work.chunks[c]
                        work.jobs[chunk.job].run(rows: chunk.start..<chunk.end)
                    }
                }
            }
        }
    }

    private struct Chunk {
        var job: Int
        var start: Int
        var end: Int
    }

    private struct ChunkList: @unchecked Sendable {
        var jobs: UnsafePointer<PreparedMultiply>
        var chunks: UnsafePointer<Chunk>
    }
}

/// Attention over the half-precision cache in portable code (the reference for
/// `HaswellAttention`): one query head against `span` positions.
enum PortableAttention {
    static func attend(
        query: UnsafePointer<Float>, keys: UnsafePointer<UInt16>, values: UnsafePointer<UInt16>, stride: Int,
        span: Int, width: Int, scale: Float, scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        var maxScore = -Float.infinity
        for j in 0..<span {
            let k = keys + j * stride
            var s: Float = 0
            for i in 0..<width { s += query[i] * Half.float(k[i]) }
            s *= scale
            scores[j] = s
            maxScore = max(maxScore, s)
        }
        var total: Float = 0
        for j in 0..<span {
            let e = exp(scores[j] - maxScore)
            scores[j] = e
            total += e
        }
        let inverse = 1 / total
        out.initialize(repeating: 0, count: width)
        for j in 0..<span {
            let v = values + j * stride
            // The weights meet the half-precision values in half precision, as in ggml.
            let w = Half.rounded(scores[j] * inverse)
            for i in 0..<width { out[i] += w * Half.float(v[i]) }
        }
    }
}
