import Foundation
import WendaoCore

/// Runs a BERT-family encoder on CPU: tokenises, batches texts of similar length, runs the
/// forward pass with packed SGEMM / Q4_0 kernels on a configurable number of threads, pools and
/// normalises. Safe to call from several threads at once (each call has its own buffers).
///
/// Texts of one batch are concatenated into one token matrix without padding; attention is
/// restricted to each text's own rows, which is what a padding mask achieves, without computing
/// the padding. A text's vector therefore does not depend on its batch or on the thread count.
///
/// ```swift
/// let encoder = try TextEncoder(model: try BertModelLoader.load(directory: "/models/minilm"))
/// let vectors = try encoder.embed(["Where is my parcel?"], kind: .query)
/// ```
public final class TextEncoder: Sendable {
    /// What a text is, which decides its prefix.
    public enum Kind: Sendable {
        /// A search query (``EmbeddingModelFiles/queryPrefix``).
        case query
        /// A passage to be indexed (``EmbeddingModelFiles/passagePrefix``).
        case passage
    }

    /// One embedded text.
    public struct Embedding: Sendable {
        /// The sentence vector (L2-normalised when the model says so).
        public var vector: [Float]
        /// Tokens fed to the model, special tokens included.
        public var tokenCount: Int
        /// Whether the text was cut to the length limit.
        public var truncated: Bool
    }

    /// The model.
    public let model: EmbeddingModelFiles
    /// Threads used by the kernels.
    public let threads: Int
    /// Embedding dimension.
    public var dimension: Int { model.weights.config.hidden }

    private let layers: [PreparedLayer]
    private let config: EncoderConfig
    private let parallel: Parallel

    private struct PreparedLayer: Sendable {
        var qkv: LinearWeights
        var attentionOutput: LinearWeights
        var intermediate: LinearWeights
        var output: LinearWeights
        var attentionNormGain: WeightVector, attentionNormBias: WeightVector
        var outputNormGain: WeightVector, outputNormBias: WeightVector
    }

    /// Prepares `model` (packs f32 weights into SGEMM panels; Q4_0 stays as it is).
    /// - Parameter threads: kernel threads; nil = all cores.
    /// - Throws: ``WendaoError`` `.invalidArgument` when shapes disagree with the configuration.
    public init(model: EmbeddingModelFiles, threads: Int? = nil) throws {
        let c = model.weights.config
        guard c.hidden > 0, c.heads > 0, c.hidden % c.heads == 0, c.layers == model.weights.layers.count else {
            throw WendaoError(.invalidArgument, "encoder configuration does not match its layers")
        }
        let w = model.weights
        guard w.wordEmbeddings.cols == c.hidden, w.positionEmbeddings.cols == c.hidden,
            w.tokenTypeEmbeddings.cols == c.hidden, w.tokenTypeEmbeddings.rows >= 1,
            w.positionEmbeddings.rows >= c.positionOffset + 2, w.embeddingNormGain.count == c.hidden,
            w.embeddingNormBias.count == c.hidden
        else {
            throw WendaoError(.invalidArgument, "embedding tables do not match hidden size \(c.hidden)")
        }
        if case .q4_0 = w.positionEmbeddings {
            throw WendaoError(.unsupported, "Q4_0 position embeddings are not supported")
        }
        if case .q4_0 = w.tokenTypeEmbeddings {
            throw WendaoError(.unsupported, "Q4_0 token-type embeddings are not supported")
        }
        if case .q4_0(_, _, let cols) = w.wordEmbeddings, cols % 32 != 0 {
            throw WendaoError(.invalidArgument, "Q4_0 word embeddings with \(cols) columns")
        }
        if let threads, threads < 1 || threads > 256 {
            throw WendaoError(.invalidArgument, "thread count \(threads) is out of range 1…256")
        }
        self.model = model
        self.config = c
        self.threads = threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount)
        parallel = Parallel(threads: self.threads)
        var prepared: [PreparedLayer] = []
        for l in w.layers {
            guard l.query.cols == c.hidden, l.query.rows == c.hidden, l.key.rows == c.hidden,
                l.value.rows == c.hidden, l.attentionOutput.rows == c.hidden, l.attentionOutput.cols == c.hidden,
                l.intermediate.rows == c.intermediate, l.intermediate.cols == c.hidden,
                l.output.rows == c.hidden, l.output.cols == c.intermediate,
                l.attentionNormGain.count == c.hidden, l.attentionNormBias.count == c.hidden,
                l.outputNormGain.count == c.hidden, l.outputNormBias.count == c.hidden
            else {
                throw WendaoError(.invalidArgument, "a layer's weights do not match the configuration")
            }
            prepared.append(
                PreparedLayer(
                    qkv: try LinearWeights(
                        [(l.query, l.queryBias), (l.key, l.keyBias), (l.value, l.valueBias)], owner: w.storage),
                    attentionOutput: try LinearWeights([(l.attentionOutput, l.attentionOutputBias)], owner: w.storage),
                    intermediate: try LinearWeights([(l.intermediate, l.intermediateBias)], owner: w.storage),
                    output: try LinearWeights([(l.output, l.outputBias)], owner: w.storage),
                    attentionNormGain: l.attentionNormGain, attentionNormBias: l.attentionNormBias,
                    outputNormGain: l.outputNormGain, outputNormBias: l.outputNormBias))
        }
        layers = prepared
    }

    /// Default length limit in tokens, special tokens included: the model's
    /// ``EmbeddingModelFiles/maxTokens`` (e.g. sentence-transformers' `max_seq_length`).
    public var maxTokens: Int {
        min(model.maxTokens, positionLimit)
    }

    /// Hard length limit: the rows of the position table. An explicit `maxLength` may go up to it.
    public var positionLimit: Int {
        config.maxPositions - config.positionOffset
    }

    /// Number of tokens `text` would produce untruncated (prefix and special tokens included),
    /// so callers can split chunks that are too long.
    public func tokenCount(_ text: String, kind: Kind = .passage) -> Int {
        model.tokenizer.encode(prefix(kind) + text, maxLength: Int.max / 2).count
    }

    /// Sentence vectors of `texts`, in input order.
    /// - Parameters:
    ///   - batchSize: texts per forward pass (texts are sorted by length first).
    ///   - maxLength: token limit (special tokens included); nil = ``maxTokens``; at most
    ///     ``positionLimit``. Longer texts are truncated; use
    ///     ``embedDetailed(_:kind:batchSize:maxLength:)`` to learn which.
    /// - Throws: ``WendaoError`` `.invalidArgument` for a bad batch size or length limit,
    ///   `.corrupt` if the model produces a non-finite vector.
    public func embed(_ texts: [String], kind: Kind, batchSize: Int = 32, maxLength: Int? = nil) throws -> [[Float]] {
        try embedDetailed(texts, kind: kind, batchSize: batchSize, maxLength: maxLength).map(\.vector)
    }

    /// Like ``embed(_:kind:batchSize:maxLength:)``, with token counts and truncation flags.
    public func embedDetailed(
        _ texts: [String], kind: Kind, batchSize: Int = 32, maxLength: Int? = nil
    ) throws -> [Embedding] {
        guard batchSize >= 1 else { throw WendaoError(.invalidArgument, "batch size must be at least 1") }
        let limit = min(maxLength ?? maxTokens, positionLimit)
        guard limit >= 2 else { throw WendaoError(.invalidArgument, "maximum length must be at least 2 tokens") }
        let p = prefix(kind)
        var tokens: [[Int32]] = []
        var truncated: [Bool] = []
        tokens.reserveCapacity(texts.count)
        for text in texts {
            var ids = model.tokenizer.encode(p + text, maxLength: limit + 1)
            var cut = false
            if ids.count > limit, let last = ids.last {
                ids = Array(ids.prefix(limit - 1)) + [last]
                cut = true
            }
            tokens.append(ids)
            truncated.append(cut)
        }
        let order = tokens.indices.sorted { tokens[$0].count > tokens[$1].count }
        var vectors = [[Float]](repeating: [], count: texts.count)
        var start = 0
        while start < order.count {
            let batch = Array(order[start..<min(order.count, start + batchSize)])
            let out = try forward(batch.map { tokens[$0] })
            for (i, index) in batch.enumerated() { vectors[index] = out[i] }
            start += batchSize
        }
        return texts.indices.map {
            Embedding(vector: vectors[$0], tokenCount: tokens[$0].count, truncated: truncated[$0])
        }
    }

    private func prefix(_ kind: Kind) -> String {
        kind == .query ? model.queryPrefix : model.passagePrefix
    }

    // MARK: - Forward pass

    /// Pooled vectors of already tokenised sequences (each ≤ ``maxTokens``).
    func forward(_ sequences: [[Int32]]) throws -> [[Float]] {
        let c = config
        let h = c.hidden
        let w = model.weights
        let vocab = w.wordEmbeddings.rows
        var starts: [Int] = []
        var m = 0
        for s in sequences {
            guard !s.isEmpty, s.count <= positionLimit else {
                throw WendaoError(.invalidArgument, "token sequence of length \(s.count) (limit \(positionLimit))")
            }
            for id in s where id < 0 || Int(id) >= vocab {
                throw WendaoError(.invalidArgument, "token id \(id) outside the vocabulary of \(vocab)")
            }
            starts.append(m)
            m += s.count
        }
        if sequences.isEmpty { return [] }
        let parallel = self.parallel
        let x = AlignedFloats(m * h), tmp = AlignedFloats(m * h), ctx = AlignedFloats(m * h)
        let qkv = AlignedFloats(m * 3 * h), ffn = AlignedFloats(m * c.intermediate)

        // Embeddings: word row + position row + token-type row 0, then LayerNorm.
        let xs = SendablePointer(x.pointer)
        let flat = sequences.flatMap { $0 }
        let positions = sequences.flatMap { seq in seq.indices.map { $0 + c.positionOffset } }
        parallel.forEachChunk(m) { rows, _ in
            for r in rows {
                let dst = xs.pointer + r * h
                Self.gatherRow(w.wordEmbeddings, Int(flat[r]), into: dst)
                Self.addRow(w.positionEmbeddings, positions[r], into: dst)
                Self.addRow(w.tokenTypeEmbeddings, 0, into: dst)
                layerNorm(
                    dst, count: h, gain: w.embeddingNormGain.pointer, bias: w.embeddingNormBias.pointer,
                    epsilon: c.layerNormEpsilon)
            }
        }

        for layer in layers {
            linear(
                x.pointer, rows: m, lda: h, weights: layer.qkv, epilogue: .none, out: qkv.pointer, ldc: 3 * h,
                parallel: parallel)
            attention(qkv: qkv.pointer, ctx: ctx.pointer, sequences: sequences, starts: starts, parallel: parallel)
            linear(
                ctx.pointer, rows: m, lda: h, weights: layer.attentionOutput, epilogue: .none, out: tmp.pointer,
                ldc: h, parallel: parallel)
            addAndNormalise(
                tmp.pointer, into: x.pointer, rows: m, gain: layer.attentionNormGain, bias: layer.attentionNormBias,
                parallel: parallel)
            linear(
                x.pointer, rows: m, lda: h, weights: layer.intermediate, epilogue: .gelu, out: ffn.pointer,
                ldc: c.intermediate, parallel: parallel)
            linear(
                ffn.pointer, rows: m, lda: c.intermediate, weights: layer.output, epilogue: .none, out: tmp.pointer,
                ldc: h, parallel: parallel)
            addAndNormalise(
                tmp.pointer, into: x.pointer, rows: m, gain: layer.outputNormGain, bias: layer.outputNormBias,
                parallel: parallel)
        }

        // Pooling and normalisation.
        var out: [[Float]] = []
        out.reserveCapacity(sequences.count)
        for (s, seq) in sequences.enumerated() {
            var v = [Float](repeating: 0, count: h)
            let base = x.pointer + starts[s] * h
            switch c.pooling {
            case .cls:
                for j in 0..<h { v[j] = base[j] }
            case .mean:
                for r in 0..<seq.count {
                    let row = base + r * h
                    for j in 0..<h { v[j] += row[j] }
                }
                let inv = 1 / Float(seq.count)
                for j in 0..<h { v[j] *= inv }
            }
            if c.normalize {
                var sq: Float = 0
                for j in 0..<h { sq += v[j] * v[j] }
                let inv = 1 / max(sq.squareRoot(), 1e-12)
                for j in 0..<h { v[j] *= inv }
            }
            guard v.allSatisfy({ $0.isFinite }) else {
                throw WendaoError(.corrupt, "the encoder produced a non-finite vector (damaged weights?)")
            }
            out.append(v)
        }
        return out
    }

    /// `x = LayerNorm(x + delta)` row by row.
    private func addAndNormalise(
        _ delta: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>, rows m: Int, gain: WeightVector,
        bias: WeightVector, parallel: Parallel
    ) {
        let h = config.hidden
        let eps = config.layerNormEpsilon
        let ds = SendablePointer(delta), xs = SendablePointer(x)
        parallel.forEachChunk(m) { rows, _ in
            for r in rows {
                let xr = xs.pointer + r * h, dr = ds.pointer + r * h
                for j in 0..<h { xr[j] += dr[j] }
                layerNorm(xr, count: h, gain: gain.pointer, bias: bias.pointer, epsilon: eps)
            }
        }
    }

    /// Scaled dot-product attention of every (sequence, head) pair, each sequence seeing only
    /// its own rows. `qkv` rows hold Q, K, V side by side; `ctx` receives the heads' outputs.
    ///
    /// Per pair the head's keys are first copied transposed (head dimension × tokens), so each
    /// query's scores against all keys are whole-vector multiply-adds; the weighted sum of values
    /// is vectorised along the head dimension.
    private func attention(
        qkv: UnsafeMutablePointer<Float>, ctx: UnsafeMutablePointer<Float>, sequences: [[Int32]], starts: [Int],
        parallel: Parallel
    ) {
        let h = config.hidden, heads = config.heads
        let d = h / heads
        let ld = 3 * h
        let scale = 1 / Float(d).squareRoot()
        let qs = SendablePointer(qkv), cs = SendablePointer(ctx)
        let lengths = sequences.map(\.count)
        let longest = lengths.max() ?? 0
        let stride = (longest + 7) / 8 * 8
        // Per participant: the transposed keys (d × stride) and one row of scores (stride).
        let perThread = d * stride + stride
        let scratch = AlignedFloats(parallel.threads * perThread)
        // Work items: (sequence, head); sequences are sorted longest first.
        parallel.forEachChunk(sequences.count * heads, grain: 2) { items, participant in
            typealias V = SIMD8<Float>
            let kt = scratch.pointer + participant * perThread
            let scores = kt + d * stride
            for item in items {
                let s = item / heads, head = item % heads
                let n = lengths[s]
                let padded = (n + 7) / 8 * 8
                let base = qs.pointer + starts[s] * ld
                for j in 0..<n {
                    let key = base + j * ld + h + head * d
                    for c in 0..<d { kt[c * stride + j] = key[c] }
                }
                for c in 0..<d {
                    for j in n..<padded { kt[c * stride + j] = 0 }
                }
                let rawKt = UnsafeRawPointer(kt)
                for i in 0..<n {
                    let q = base + i * ld + head * d
                    var j = 0
                    while j < padded {
                        var acc = V(repeating: 0)
                        for c in 0..<d {
                            acc.addProduct(rawKt.load(fromByteOffset: (c * stride + j) * 4, as: V.self), q[c])
                        }
                        UnsafeMutableRawPointer(scores + j).storeBytes(of: acc * scale, as: V.self)
                        j += 8
                    }
                    softmax(scores, count: n)
                    let out = cs.pointer + (starts[s] + i) * h + head * d
                    weightedSum(scores, values: base + 2 * h + head * d, stride: ld, count: n, dim: d, out: out)
                }
            }
        }
    }

    /// Writes word-embedding row `row` (dequantised if Q4_0) to `dst`.
    private static func gatherRow(_ m: WeightMatrix, _ row: Int, into dst: UnsafeMutablePointer<Float>) {
        switch m {
        case .f32(let p, _, let cols):
            dst.update(from: p + row * cols, count: cols)
        case .q4_0(let p, _, let cols):
            let blocks = cols / 32
            let src = p + row * blocks * 18
            for b in 0..<blocks {
                let block = src + b * 18
                let scale = loadHalf(block)
                for e in 0..<16 {
                    let byte = block.load(fromByteOffset: 2 + e, as: UInt8.self)
                    dst[b * 32 + e] = scale * Float(Int32(byte & 0x0F) - 8)
                    dst[b * 32 + e + 16] = scale * Float(Int32(byte >> 4) - 8)
                }
            }
        }
    }

    /// Adds row `row` of an f32 table to `dst`.
    private static func addRow(_ m: WeightMatrix, _ row: Int, into dst: UnsafeMutablePointer<Float>) {
        guard case .f32(let p, _, let cols) = m else { return }
        let src = p + row * cols
        for j in 0..<cols { dst[j] += src[j] }
    }
}

/// `out[0..<dim] = Σ_j weights[j] · values[j·stride ..< j·stride + dim]`.
@inline(__always)
func weightedSum(
    _ weights: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int, count n: Int, dim: Int,
    out: UnsafeMutablePointer<Float>
) {
    typealias V = SIMD8<Float>
    var c = 0
    let rv = UnsafeRawPointer(values)
    while c + 8 <= dim {
        var acc = V(repeating: 0)
        for j in 0..<n {
            acc.addProduct(rv.loadUnaligned(fromByteOffset: (j * stride + c) * 4, as: V.self), weights[j])
        }
        UnsafeMutableRawPointer(out + c).storeBytes(of: acc, as: V.self)
        c += 8
    }
    while c < dim {
        var s: Float = 0
        for j in 0..<n { s += values[j * stride + c] * weights[j] }
        out[c] = s
        c += 1
    }
}
