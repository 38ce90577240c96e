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
        /// Tokens fed to the model, special tokens included, summed over all ``windows``.
        public var tokenCount: Int
        /// Whether part of the text was left out: it did not fit in `maxWindows` windows of the
        /// length limit (with one window: the text was cut to the length limit).
        public var truncated: Bool
        /// How many windows of at most the length limit the text was embedded as (1 unless it is
        /// longer than the limit and more than one window was allowed).
        public var windows: Int = 1
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
    /// The threads async ``embed(_:as:)`` calls run on (bounded, reused).
    let callers: EncoderThreads

    private struct PreparedLayer: Sendable {
        var qkv: LinearWeights
        var attentionOutput: LinearWeights
        var intermediate: LinearWeights
        var output: LinearWeights
        var attentionNormGain: WeightVector, attentionNormBias: WeightVector
        var outputNormGain: WeightVector, outputNormBias: WeightVector
    }

    /// Prepares `model`: packs f32 weights into SGEMM panels and interleaves Q4_0 rows per panel,
    /// all in one block of memory (on Linux backed by transparent huge pages where available).
    /// - Parameters:
    ///   - threads: kernel threads; nil = all cores.
    ///   - callerThreads: most async ``embed(_:as:)`` calls running at once, each on a reused thread
    ///     (see ``EncoderThreads``); nil = `threads`.
    /// - Throws: ``WendaoError`` `.invalidArgument` when shapes disagree with the configuration.
    public init(model: EmbeddingModelFiles, threads: Int? = nil, callerThreads: Int? = nil) throws {
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
        callers = EncoderThreads(limit: callerThreads ?? self.threads)
        // Every projection of every layer, packed into one block of memory.
        func projections(_ l: EncoderLayerWeights) -> [[(WeightMatrix, WeightVector)]] {
            [
                [(l.query, l.queryBias), (l.key, l.keyBias), (l.value, l.valueBias)],
                [(l.attentionOutput, l.attentionOutputBias)], [(l.intermediate, l.intermediateBias)],
                [(l.output, l.outputBias)],
            ]
        }
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
        }
        let memory = PackedMemory(
            bytes: w.layers.reduce(0) { $0 + projections($1).reduce(0) { $0 + LinearWeights.packedBytes($1) } })
        var prepared: [PreparedLayer] = []
        for l in w.layers {
            let p = try projections(l).map { try LinearWeights($0, owner: w.storage, memory: memory) }
            prepared.append(
                PreparedLayer(
                    qkv: p[0], attentionOutput: p[1], intermediate: p[2], output: p[3],
                    attentionNormGain: l.attentionNormGain, attentionNormBias: l.attentionNormBias,
                    outputNormGain: l.outputNormGain, outputNormBias: l.outputNormBias))
        }
        layers = prepared
    }

    /// Lets the caller threads exit.
    deinit { callers.shutdown() }

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

    /// Windows a passage may be embedded as by default (see
    /// ``embedDetailed(_:kind:batchSize:maxLength:maxWindows:)``): 8 windows are 2,032 word pieces
    /// for MiniLM (256-token limit, about 9,000 characters of English) and 4,080 for e5-small.
    public static let defaultPassageWindows = 8

    /// Most windows one text may be embedded as (bounds the time and memory a huge text costs).
    public static let windowLimit = 256

    /// Tokens per forward pass beyond which a batch is split (the longest sequence always fits):
    /// bounds the activations to about 60 MB for a 384-wide model, whatever the input.
    static let tokensPerForward = 4096

    /// Sentence vectors of `texts`, in input order.
    /// - Parameters:
    ///   - batchSize: sequences per forward pass (sorted by length first).
    ///   - maxLength: token limit per window (special tokens included); nil = ``maxTokens``; at
    ///     most ``positionLimit``.
    ///   - maxWindows: how many windows of `maxLength` tokens a longer text may be embedded as;
    ///     nil = ``defaultPassageWindows`` for passages and 1 (plain truncation) for queries. See
    ///     ``embedDetailed(_:kind:batchSize:maxLength:maxWindows:)`` for how windows are combined
    ///     and to learn which texts were cut.
    /// - Throws: ``WendaoError`` `.invalidArgument` for a bad batch size, length limit or window
    ///   count, `.corrupt` if the model produces a non-finite vector.
    public func embed(
        _ texts: [String], kind: Kind, batchSize: Int = 32, maxLength: Int? = nil, maxWindows: Int? = nil
    ) throws -> [[Float]] {
        try embedDetailed(texts, kind: kind, batchSize: batchSize, maxLength: maxLength, maxWindows: maxWindows)
            .map(\.vector)
    }

    /// Like ``embed(_:kind:batchSize:maxLength:maxWindows:)``, with token counts, window counts
    /// and truncation flags.
    ///
    /// **Long texts.** A text whose tokens do not fit the length limit is cut into consecutive,
    /// non-overlapping windows of up to `maxLength − 2` content tokens, each embedded on its own
    /// between the model's start and end tokens (positions restart at 0), and its vector is the
    /// average of the windows' pooled vectors weighted by their content-token counts, normalised
    /// afterwards — the scheme of the E5S1 reference engine (`E5S1-FORMAT.md` §7), so e5-small
    /// vectors of long texts match it; for mean-pooling models it approximates one mean over all
    /// tokens. At most `maxWindows` windows are embedded; the rest of the text is dropped and
    /// reported as ``Embedding/truncated``. Cost grows linearly with the windows used, so a
    /// 100,000-character passage costs what `maxWindows` window-length passages cost, and only
    /// about `64 × (maxWindows × maxLength + 64)` characters of any text are tokenised.
    ///
    /// With `maxWindows` 1 a long text is truncated to its first `maxLength − 2` content tokens,
    /// as sentence-transformers does. An empty or blank text is embedded as the start and end
    /// tokens alone. Vectors do not depend on the batch size or the thread count.
    ///
    /// `shouldStop` is asked between texts while tokenising, before every forward pass and
    /// between layers; once it says yes the work stops with `CancellationError` (a server stops
    /// embedding for a client that has gone).
    public func embedDetailed(
        _ texts: [String], kind: Kind, batchSize: Int = 32, maxLength: Int? = nil, maxWindows: Int? = nil,
        shouldStop: () -> Bool = { false }
    ) throws -> [Embedding] {
        guard batchSize >= 1 else { throw WendaoError(.invalidArgument, "batch size must be at least 1") }
        let limit = min(maxLength ?? maxTokens, positionLimit)
        guard limit >= 2 else { throw WendaoError(.invalidArgument, "maximum length must be at least 2 tokens") }
        let windowCap = maxWindows ?? (kind == .passage ? Self.defaultPassageWindows : 1)
        guard windowCap >= 1, windowCap <= Self.windowLimit else {
            throw WendaoError(.invalidArgument, "maximum windows must be 1…\(Self.windowLimit), not \(windowCap)")
        }
        let p = prefix(kind)
        let size = limit - 2  // content tokens per window
        let budget = size == 0 ? 0 : windowCap * size  // content tokens of one text
        // No token covers more than 48 characters in these vocabularies (long unknown words aside),
        // so this many characters hold more than `budget` tokens with room to spare.
        let characterLimit = 64 * (budget + 64)

        var sequences: [[Int32]] = []
        var contentCounts: [Int] = []
        var firstWindow: [Int] = []
        var windowCounts: [Int] = []
        var truncated: [Bool] = []
        for text in texts {
            if shouldStop() { throw CancellationError() }
            var input = p + text
            var cut = false
            let scalars = input.unicodeScalars
            if let end = scalars.index(scalars.startIndex, offsetBy: characterLimit, limitedBy: scalars.endIndex),
                end < scalars.endIndex
            {
                input = String(scalars[..<end])
                cut = true
            }
            let ids = model.tokenizer.encode(input, maxLength: budget + 3)
            firstWindow.append(sequences.count)
            if ids.count < 2 {
                sequences.append(ids)
                contentCounts.append(ids.count)
            } else {
                let head = ids[0], tail = ids[ids.count - 1]
                var content = ids[1..<(ids.count - 1)]
                if content.count > budget {
                    content = content.prefix(budget)
                    cut = true
                }
                var start = content.startIndex
                repeat {
                    let end = min(content.endIndex, start + max(size, 1))
                    sequences.append([head] + content[start..<end] + [tail])
                    contentCounts.append(end - start)
                    start = end
                } while start < content.endIndex
            }
            windowCounts.append(sequences.count - firstWindow[firstWindow.count - 1])
            truncated.append(cut)
        }

        // Longest first; a batch ends at `batchSize` sequences or `tokensPerForward` tokens.
        let order = sequences.indices.sorted { sequences[$0].count > sequences[$1].count }
        var pooled = [[Float]](repeating: [], count: sequences.count)
        var start = 0
        while start < order.count {
            var end = start + 1
            var batchTokens = sequences[order[start]].count
            while end < order.count, end - start < batchSize,
                batchTokens + sequences[order[end]].count <= Self.tokensPerForward
            {
                batchTokens += sequences[order[end]].count
                end += 1
            }
            let batch = order[start..<end]
            if shouldStop() { throw CancellationError() }
            let out = try forward(batch.map { sequences[$0] }, shouldStop: shouldStop)
            for (i, index) in batch.enumerated() { pooled[index] = out[i] }
            start = end
        }

        var result: [Embedding] = []
        result.reserveCapacity(texts.count)
        for t in texts.indices {
            let first = firstWindow[t], count = windowCounts[t]
            var v = pooled[first]
            if count > 1 {
                // Weighted by content tokens (every window but possibly the last holds `size`).
                let total = Float(contentCounts[first..<(first + count)].reduce(0, +))
                for j in v.indices { v[j] *= Float(contentCounts[first]) }
                for w in (first + 1)..<(first + count) {
                    let weight = Float(contentCounts[w])
                    for j in v.indices { v[j] = v[j].addingProduct(weight, pooled[w][j]) }
                }
                for j in v.indices { v[j] /= total }
            }
            if config.normalize { normalise(&v) }
            guard v.allSatisfy({ $0.isFinite }) else {
                throw WendaoError(.corrupt, "the encoder produced a non-finite vector (damaged weights?)")
            }
            let tokens = sequences[first..<(first + count)].reduce(0) { $0 + $1.count }
            result.append(Embedding(vector: v, tokenCount: tokens, truncated: truncated[t], windows: count))
        }
        return result
    }

    /// Scales `v` to unit length (a zero vector stays zero).
    private func normalise(_ v: inout [Float]) {
        var sq: Float = 0
        for j in v.indices { sq += v[j] * v[j] }
        let inv = 1 / max(sq.squareRoot(), 1e-12)
        for j in v.indices { v[j] *= inv }
    }

    private func prefix(_ kind: Kind) -> String {
        kind == .query ? model.queryPrefix : model.passagePrefix
    }

    // MARK: - Forward pass

    /// Pooled, not yet normalised vectors of already tokenised sequences (each ≤ ``positionLimit``).
    func forward(_ sequences: [[Int32]], shouldStop: () -> Bool = { false }) throws -> [[Float]] {
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
            if shouldStop() { throw CancellationError() }
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

        // Pooling (normalisation happens once windows are combined).
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
                    let q = base + (i &* ld &+ head &* d)
                    // Four chunks of eight keys at a time: independent accumulators keep the
                    // multiply-adds from waiting on each other.
                    var j = 0
                    while j &+ 32 <= padded {
                        var a0 = V(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                        for c in 0..<d {
                            let row = (c &* stride &+ j) &* 4
                            let qc = V(repeating: q[c])
                            a0.addProduct(rawKt.load(fromByteOffset: row, as: V.self), qc)
                            a1.addProduct(rawKt.load(fromByteOffset: row &+ 32, as: V.self), qc)
                            a2.addProduct(rawKt.load(fromByteOffset: row &+ 64, as: V.self), qc)
                            a3.addProduct(rawKt.load(fromByteOffset: row &+ 96, as: V.self), qc)
                        }
                        let dst = UnsafeMutableRawPointer(scores + j)
                        dst.storeBytes(of: a0 * scale, as: V.self)
                        dst.storeBytes(of: a1 * scale, toByteOffset: 32, as: V.self)
                        dst.storeBytes(of: a2 * scale, toByteOffset: 64, as: V.self)
                        dst.storeBytes(of: a3 * scale, toByteOffset: 96, as: V.self)
                        j &+= 32
                    }
                    while j < padded {
                        var a0 = V(repeating: 0)
                        for c in 0..<d {
                            a0.addProduct(rawKt.load(fromByteOffset: (c &* stride &+ j) &* 4, as: V.self), q[c])
                        }
                        UnsafeMutableRawPointer(scores + j).storeBytes(of: a0 * scale, as: V.self)
                        j &+= 8
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
    // 32 output lanes at a time (four independent accumulators), then 8, then single lanes.
    while c &+ 32 <= dim {
        var a0 = V(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        for j in 0..<n {
            let row = (j &* stride &+ c) &* 4
            let wj = V(repeating: weights[j])
            a0.addProduct(rv.loadUnaligned(fromByteOffset: row, as: V.self), wj)
            a1.addProduct(rv.loadUnaligned(fromByteOffset: row &+ 32, as: V.self), wj)
            a2.addProduct(rv.loadUnaligned(fromByteOffset: row &+ 64, as: V.self), wj)
            a3.addProduct(rv.loadUnaligned(fromByteOffset: row &+ 96, as: V.self), wj)
        }
        let dst = UnsafeMutableRawPointer(out + c)
        dst.storeBytes(of: a0, as: V.self)
        dst.storeBytes(of: a1, toByteOffset: 32, as: V.self)
        dst.storeBytes(of: a2, toByteOffset: 64, as: V.self)
        dst.storeBytes(of: a3, toByteOffset: 96, as: V.self)
        c &+= 32
    }
    while c &+ 8 <= dim {
        var acc = V(repeating: 0)
        for j in 0..<n {
            acc.addProduct(rv.loadUnaligned(fromByteOffset: (j &* stride &+ c) &* 4, as: V.self), weights[j])
        }
        UnsafeMutableRawPointer(out + c).storeBytes(of: acc, as: V.self)
        c &+= 8
    }
    while c < dim {
        var s: Float = 0
        for j in 0..<n { s = s.addingProduct(values[j &* stride &+ c], weights[j]) }
        out[c] = s
        c &+= 1
    }
}
