public import WendaoCore

/// The shape of a decoder-only transformer, read from a GGUF file's metadata
/// (`ARCH.block_count`, `ARCH.embedding_length`, …).
public struct ModelHyperparameters: Sendable, Equatable {
    /// The architectures the runtime runs.
    public enum Architecture: String, Sendable, CaseIterable {
        /// Llama 2/3, SmolLM2, TinyLlama: rotary embedding on adjacent pairs.
        case llama
        /// Qwen2 / Qwen2.5: q/k/v biases, rotary embedding on the two halves of a head.
        case qwen2
        /// Qwen3: like qwen2 without biases, with RMSNorm on each query and key head.
        case qwen3
    }

    /// How positions are scaled before the rotary embedding.
    public enum RopeScaling: Sendable, Equatable {
        /// None.
        case none
        /// Positions multiplied by `1 / factor`.
        case linear(factor: Float)
    }

    /// The architecture.
    public var architecture: Architecture
    /// Transformer blocks.
    public var layers: Int
    /// Width of the residual stream.
    public var embedding: Int
    /// Width of the feed-forward layer.
    public var feedForward: Int
    /// Query heads.
    public var heads: Int
    /// Key/value heads (grouped-query attention when fewer than `heads`).
    public var kvHeads: Int
    /// Width of one attention head.
    public var headDimension: Int
    /// RMSNorm epsilon.
    public var rmsEpsilon: Float
    /// Rotary base frequency.
    public var ropeTheta: Float
    /// How many dimensions of a head are rotated.
    public var ropeDimensions: Int
    /// Position scaling.
    public var ropeScaling: RopeScaling
    /// The longest context the model was trained for.
    public var contextLength: Int
    /// Tokens in the vocabulary (rows of the embedding).
    public var vocabularySize: Int

    /// Reads the hyperparameters of `file`.
    ///
    /// - Throws: `unsupported` naming the architecture or the rope scaling when the runtime does not
    ///   run it; `corrupt` when a required key is missing or out of range.
    public init(_ file: GGUFFile) throws(WendaoError) {
        let name = file.path
        guard let arch = file.architecture else {
            throw WendaoError(.corrupt, "\(name): no general.architecture in its metadata")
        }
        guard let a = Architecture(rawValue: arch) else {
            let known = Architecture.allCases.map(\.rawValue).joined(separator: ", ")
            throw WendaoError(.unsupported, "\(name): architecture '\(arch)' is not supported (supported: \(known))")
        }
        func int(_ key: String, _ fallback: Int? = nil) throws(WendaoError) -> Int {
            if let v = file.metadata["\(arch).\(key)"] {
                // A per-layer array (some converters write head counts per layer): all must agree.
                if let items = v.array, let first = items.first?.integer,
                    items.allSatisfy({ $0.integer == first })
                {
                    return Int(first)
                }
                if let n = v.integer, n > 0, n < 1 << 31 { return Int(n) }
                throw WendaoError(.corrupt, "\(name): '\(arch).\(key)' is not a usable count")
            }
            if let fallback { return fallback }
            throw WendaoError(.corrupt, "\(name): the metadata has no '\(arch).\(key)'")
        }
        func float(_ key: String, _ fallback: Float) -> Float {
            file.metadata["\(arch).\(key)"]?.number.map(Float.init) ?? fallback
        }
        architecture = a
        layers = try int("block_count")
        embedding = try int("embedding_length")
        feedForward = try int("feed_forward_length")
        heads = try int("attention.head_count")
        kvHeads = try int("attention.head_count_kv", heads)
        headDimension = try int("attention.key_length", embedding / heads)
        let valueLength = try int("attention.value_length", headDimension)
        guard valueLength == headDimension, heads % kvHeads == 0, headDimension % 2 == 0 else {
            throw WendaoError(
                .unsupported,
                "\(name): attention with \(heads) heads, \(kvHeads) key/value heads, key \(headDimension) and value \(valueLength) wide is not supported"
            )
        }
        rmsEpsilon = float("attention.layer_norm_rms_epsilon", 1e-6)
        ropeTheta = float("rope.freq_base", 10_000)
        ropeDimensions = try int("rope.dimension_count", headDimension)
        guard ropeDimensions <= headDimension, ropeDimensions % 2 == 0 else {
            throw WendaoError(.corrupt, "\(name): rope.dimension_count \(ropeDimensions) exceeds the head width")
        }
        contextLength = try int("context_length", 2048)
        switch file.metadata["\(arch).rope.scaling.type"]?.string ?? "none" {
        case "none": ropeScaling = .none
        case "linear":
            let factor = float("rope.scaling.factor", 1)
            ropeScaling = factor > 0 && factor != 1 ? .linear(factor: factor) : .none
        case let other:
            throw WendaoError(.unsupported, "\(name): rope scaling '\(other)' is not supported (none, linear)")
        }
        if let tokens = file.metadata["tokenizer.ggml.tokens"]?.array?.count {
            vocabularySize = try int("vocab_size", tokens)
        } else {
            vocabularySize = try int("vocab_size")
        }
    }

    /// Whether rotary embedding pairs the two halves of a head (NeoX style) rather than neighbours.
    public var rotatesHalves: Bool { architecture != .llama }
}

/// The tensors of one transformer block.
struct LayerWeights: @unchecked Sendable {
    var attentionNorm: UnsafePointer<Float>
    var query: WeightMatrix
    var key: WeightMatrix
    var value: WeightMatrix
    var queryBias: UnsafePointer<Float>?
    var keyBias: UnsafePointer<Float>?
    var valueBias: UnsafePointer<Float>?
    var queryNorm: UnsafePointer<Float>?
    var keyNorm: UnsafePointer<Float>?
    var output: WeightMatrix
    var feedForwardNorm: UnsafePointer<Float>
    var gate: WeightMatrix
    var up: WeightMatrix
    var down: WeightMatrix
}

/// Every tensor the forward pass reads, bound in place to the mapped file with its shape checked.
struct ModelWeights: @unchecked Sendable {
    var tokenEmbedding: WeightMatrix
    var outputNorm: UnsafePointer<Float>
    /// The output head (the token embedding when the model ties them).
    var output: WeightMatrix
    /// Per-dimension rotary frequency divisors (`rope_freqs.weight`, Llama 3.1+), when present.
    var ropeFrequencyFactors: UnsafePointer<Float>?
    var layers: [LayerWeights]

    init(_ file: GGUFFile, _ h: ModelHyperparameters) throws(WendaoError) {
        var byName: [String: GGUFTensor] = [:]
        for t in file.tensors { byName[t.name] = t }
        let path = file.path

        func tensor(_ name: String) throws(WendaoError) -> GGUFTensor {
            guard let t = byName[name] else { throw WendaoError(.corrupt, "\(path): tensor '\(name)' is missing") }
            return t
        }
        func matrix(_ name: String, rows: Int, columns: Int) throws(WendaoError) -> WeightMatrix {
            let t = try tensor(name)
            guard t.shape.count == 2 || (t.shape.count > 2 && t.shape[2...].allSatisfy { $0 == 1 }),
                t.shape[0] == columns, t.shape[1] == rows
            else {
                throw WendaoError(
                    .corrupt, "\(path): tensor '\(name)' has shape \(t.shape), expected [\(columns), \(rows)]")
            }
            guard LLMKernels.supports(t.type) else {
                throw WendaoError(
                    .unsupported, "\(path): tensor '\(name)' is stored as \(t.type.name), which the runtime does not run")
            }
            return WeightMatrix(type: t.type, rows: rows, columns: columns, base: file.data(of: t).baseAddress!)
        }
        func vector(_ name: String, _ count: Int) throws(WendaoError) -> UnsafePointer<Float> {
            let t = try tensor(name)
            guard t.type == .f32, t.elementCount == count else {
                throw WendaoError(
                    .corrupt, "\(path): tensor '\(name)' is \(t.type.name) \(t.shape), expected F32 [\(count)]")
            }
            return file.data(of: t).baseAddress!.assumingMemoryBound(to: Float.self)
        }
        func optionalVector(_ name: String, _ count: Int) throws(WendaoError) -> UnsafePointer<Float>? {
            byName[name] == nil ? nil : try vector(name, count)
        }

        let e = h.embedding
        let q = h.heads * h.headDimension
        let kv = h.kvHeads * h.headDimension
        tokenEmbedding = try matrix("token_embd.weight", rows: h.vocabularySize, columns: e)
        outputNorm = try vector("output_norm.weight", e)
        output =
            byName["output.weight"] == nil
            ? tokenEmbedding : try matrix("output.weight", rows: h.vocabularySize, columns: e)
        ropeFrequencyFactors = try optionalVector("rope_freqs.weight", h.ropeDimensions / 2)
        var layers: [LayerWeights] = []
        for i in 0..<h.layers {
            let p = "blk.\(i)."
            layers.append(
                LayerWeights(
                    attentionNorm: try vector(p + "attn_norm.weight", e),
                    query: try matrix(p + "attn_q.weight", rows: q, columns: e),
                    key: try matrix(p + "attn_k.weight", rows: kv, columns: e),
                    value: try matrix(p + "attn_v.weight", rows: kv, columns: e),
                    queryBias: try optionalVector(p + "attn_q.bias", q),
                    keyBias: try optionalVector(p + "attn_k.bias", kv),
                    valueBias: try optionalVector(p + "attn_v.bias", kv),
                    queryNorm: try optionalVector(p + "attn_q_norm.weight", h.headDimension),
                    keyNorm: try optionalVector(p + "attn_k_norm.weight", h.headDimension),
                    output: try matrix(p + "attn_output.weight", rows: e, columns: q),
                    feedForwardNorm: try vector(p + "ffn_norm.weight", e),
                    gate: try matrix(p + "ffn_gate.weight", rows: h.feedForward, columns: e),
                    up: try matrix(p + "ffn_up.weight", rows: h.feedForward, columns: e),
                    down: try matrix(p + "ffn_down.weight", rows: e, columns: h.feedForward)))
        }
        if h.architecture == .qwen3, layers.contains(where: { $0.queryNorm == nil || $0.keyNorm == nil }) {
            throw WendaoError(.corrupt, "\(path): a qwen3 model without attn_q_norm/attn_k_norm tensors")
        }
        self.layers = layers
    }
}
