// API CONTRACT shared by the encoder runtime (forward pass, kernels), the model loaders
// (safetensors/BERT, E5S1) and the tokenizers. Implementations live in other files; keep these
// names and shapes.

/// The architecture of a BERT-family encoder.
public struct EncoderConfig: Sendable, Equatable {
    /// Hidden size (also the embedding dimension).
    public var hidden: Int
    /// Transformer layers.
    public var layers: Int
    /// Attention heads (head size = hidden / heads).
    public var heads: Int
    /// Feed-forward size.
    public var intermediate: Int
    /// Rows of the position-embedding table.
    public var maxPositions: Int
    /// LayerNorm epsilon.
    public var layerNormEpsilon: Float
    /// Position-embedding row of the first token (0 for BERT; tables stored from HF row 2 for
    /// XLM-R already start at 0).
    public var positionOffset: Int
    /// How token vectors become one sentence vector.
    public var pooling: Pooling
    /// Whether the sentence vector is L2-normalised.
    public var normalize: Bool

    /// Pooling of token vectors.
    public enum Pooling: String, Sendable {
        /// Mean over non-padding tokens.
        case mean
        /// The first token's vector.
        case cls
    }

    /// Creates a configuration.
    public init(
        hidden: Int, layers: Int, heads: Int, intermediate: Int, maxPositions: Int, layerNormEpsilon: Float,
        positionOffset: Int = 0, pooling: Pooling = .mean, normalize: Bool = true
    ) {
        self.hidden = hidden
        self.layers = layers
        self.heads = heads
        self.intermediate = intermediate
        self.maxPositions = maxPositions
        self.layerNormEpsilon = layerNormEpsilon
        self.positionOffset = positionOffset
        self.pooling = pooling
        self.normalize = normalize
    }
}

/// A weight matrix of shape [rows, cols] (rows = output features, cols = input features), applied
/// as `y = x · Wᵀ`. The memory belongs to the ``EncoderWeights/storage`` that holds it.
public enum WeightMatrix: @unchecked Sendable {
    /// Row-major float32.
    case f32(UnsafePointer<Float>, rows: Int, cols: Int)
    /// Q4_0: each row is cols/32 blocks of 18 bytes (f16 scale `d`, then 16 bytes: element j of the
    /// block is the low nibble of byte j, element j+16 the high nibble; value = d × (nibble − 8)).
    case q4_0(UnsafeRawPointer, rows: Int, cols: Int)

    /// Output features.
    public var rows: Int {
        switch self {
        case .f32(_, let r, _), .q4_0(_, let r, _): r
        }
    }

    /// Input features.
    public var cols: Int {
        switch self {
        case .f32(_, _, let c), .q4_0(_, _, let c): c
        }
    }
}

/// A float32 vector owned by ``EncoderWeights/storage``.
public struct WeightVector: @unchecked Sendable {
    /// First element.
    public var pointer: UnsafePointer<Float>
    /// Number of elements.
    public var count: Int
    /// Creates a vector view.
    public init(_ pointer: UnsafePointer<Float>, count: Int) {
        self.pointer = pointer
        self.count = count
    }
}

/// One transformer layer (post-LayerNorm, as in BERT).
public struct EncoderLayerWeights: Sendable {
    /// Attention projections and their biases.
    public var query: WeightMatrix, queryBias: WeightVector
    /// Key projection.
    public var key: WeightMatrix, keyBias: WeightVector
    /// Value projection.
    public var value: WeightMatrix, valueBias: WeightVector
    /// Attention output projection.
    public var attentionOutput: WeightMatrix, attentionOutputBias: WeightVector
    /// LayerNorm after attention (+ residual).
    public var attentionNormGain: WeightVector, attentionNormBias: WeightVector
    /// Feed-forward up-projection (GELU after it).
    public var intermediate: WeightMatrix, intermediateBias: WeightVector
    /// Feed-forward down-projection.
    public var output: WeightMatrix, outputBias: WeightVector
    /// LayerNorm after the feed-forward (+ residual).
    public var outputNormGain: WeightVector, outputNormBias: WeightVector

    /// Creates a layer.
    public init(
        query: WeightMatrix, queryBias: WeightVector, key: WeightMatrix, keyBias: WeightVector, value: WeightMatrix,
        valueBias: WeightVector, attentionOutput: WeightMatrix, attentionOutputBias: WeightVector,
        attentionNormGain: WeightVector, attentionNormBias: WeightVector, intermediate: WeightMatrix,
        intermediateBias: WeightVector, output: WeightMatrix, outputBias: WeightVector, outputNormGain: WeightVector,
        outputNormBias: WeightVector
    ) {
        self.query = query
        self.queryBias = queryBias
        self.key = key
        self.keyBias = keyBias
        self.value = value
        self.valueBias = valueBias
        self.attentionOutput = attentionOutput
        self.attentionOutputBias = attentionOutputBias
        self.attentionNormGain = attentionNormGain
        self.attentionNormBias = attentionNormBias
        self.intermediate = intermediate
        self.intermediateBias = intermediateBias
        self.output = output
        self.outputBias = outputBias
        self.outputNormGain = outputNormGain
        self.outputNormBias = outputNormBias
    }
}

/// All weights of an encoder, viewing memory that ``storage`` keeps alive (a memory-mapped file).
public struct EncoderWeights: Sendable {
    /// Architecture.
    public var config: EncoderConfig
    /// Word embeddings, [vocabulary, hidden] (f32 or Q4_0 rows).
    public var wordEmbeddings: WeightMatrix
    /// Position embeddings, [maxPositions, hidden].
    public var positionEmbeddings: WeightMatrix
    /// Token-type embeddings (row 0 is added to every token).
    public var tokenTypeEmbeddings: WeightMatrix
    /// Embedding LayerNorm.
    public var embeddingNormGain: WeightVector, embeddingNormBias: WeightVector
    /// The layers, in order.
    public var layers: [EncoderLayerWeights]
    /// Owner of the memory the views point into.
    public var storage: any Sendable

    /// Creates the weights.
    public init(
        config: EncoderConfig, wordEmbeddings: WeightMatrix, positionEmbeddings: WeightMatrix,
        tokenTypeEmbeddings: WeightMatrix, embeddingNormGain: WeightVector, embeddingNormBias: WeightVector,
        layers: [EncoderLayerWeights], storage: any Sendable
    ) {
        self.config = config
        self.wordEmbeddings = wordEmbeddings
        self.positionEmbeddings = positionEmbeddings
        self.tokenTypeEmbeddings = tokenTypeEmbeddings
        self.embeddingNormGain = embeddingNormGain
        self.embeddingNormBias = embeddingNormBias
        self.layers = layers
        self.storage = storage
    }
}

/// Turns text into token ids, special tokens included (`[CLS] … [SEP]` or `<s> … </s>`).
public protocol EncoderTokenizer: Sendable {
    /// Token ids of `text`, at most `maxLength` including the special tokens (truncated).
    func encode(_ text: String, maxLength: Int) -> [Int32]
    /// The padding id.
    var padID: Int32 { get }
}

/// A loaded text-embedding model: weights, tokenizer and how texts are prefixed.
public struct EmbeddingModelFiles: Sendable {
    /// A stable identifier stamped on stored vectors (e.g. `minilm-l6-v2`, `e5-small-q4`).
    public var id: String
    /// The weights.
    public var weights: EncoderWeights
    /// The tokenizer.
    public var tokenizer: any EncoderTokenizer
    /// Prefix added to queries by the runtime (`"query: "` for E5; empty for MiniLM).
    public var queryPrefix: String
    /// Prefix added to passages (`"passage: "` for E5).
    public var passagePrefix: String
    /// Longest input in tokens, special tokens included.
    public var maxTokens: Int

    /// Creates a model description.
    public init(
        id: String, weights: EncoderWeights, tokenizer: any EncoderTokenizer, queryPrefix: String = "",
        passagePrefix: String = "", maxTokens: Int
    ) {
        self.id = id
        self.weights = weights
        self.tokenizer = tokenizer
        self.queryPrefix = queryPrefix
        self.passagePrefix = passagePrefix
        self.maxTokens = maxTokens
    }
}
