public import Foundation
import WendaoCore

/// Loads a Hugging Face BERT sentence-embedding directory (`config.json`, `model.safetensors`,
/// `vocab.txt` or `tokenizer.json`, optional sentence-transformers files) into
/// ``EmbeddingModelFiles`` with `.f32` matrices viewing the memory-mapped weights.
public enum BertModelLoader {
    /// Loads the model in `directory`.
    /// - Parameters:
    ///   - id: identifier stamped on vectors; defaults to the directory name.
    ///   - queryPrefix: prefix the runtime adds to queries (empty for MiniLM).
    ///   - passagePrefix: prefix the runtime adds to passages.
    /// - Throws: ``WendaoError`` `.unreadable` for missing or damaged files, `.unsupported` for
    ///   architectures this runtime does not implement.
    public static func load(
        directory: String, id: String? = nil, queryPrefix: String = "", passagePrefix: String = ""
    ) throws -> EmbeddingModelFiles {
        let dir = URL(fileURLWithPath: directory)
        let config = try readJSON(dir.appendingPathComponent("config.json"), required: true) ?? [:]
        guard let hidden = int(config["hidden_size"]), let layers = int(config["num_hidden_layers"]),
            let heads = int(config["num_attention_heads"]), let intermediate = int(config["intermediate_size"]),
            let maxPositions = int(config["max_position_embeddings"])
        else {
            throw WendaoError(.unreadable, "\(directory)/config.json lacks the BERT sizes (hidden_size, …)")
        }
        guard hidden > 0, layers > 0, heads > 0, hidden % heads == 0, intermediate > 0, maxPositions > 2,
            hidden <= 8192, layers <= 128, intermediate <= 65536, maxPositions <= 65536
        else {
            throw WendaoError(.unreadable, "\(directory)/config.json has implausible sizes")
        }
        if let act = config["hidden_act"] as? String, act != "gelu" {
            throw WendaoError(.unsupported, "\(directory): hidden_act '\(act)' is not supported (only erf GELU)")
        }
        if let pos = config["position_embedding_type"] as? String, pos != "absolute" {
            throw WendaoError(.unsupported, "\(directory): position_embedding_type '\(pos)' is not supported")
        }
        let eps = Float((config["layer_norm_eps"] as? NSNumber)?.doubleValue ?? 1e-12)

        // Pooling and normalisation from the sentence-transformers files.
        var pooling = EncoderConfig.Pooling.mean
        var normalize = true
        if let pool = try readJSON(dir.appendingPathComponent("1_Pooling/config.json"), required: false) {
            if (pool["pooling_mode_cls_token"] as? Bool) == true {
                pooling = .cls
            } else if (pool["pooling_mode_mean_tokens"] as? Bool) == false {
                throw WendaoError(.unsupported, "\(directory): only mean or CLS pooling is supported")
            }
        }
        let modulesURL = dir.appendingPathComponent("modules.json")
        if FileManager.default.fileExists(atPath: modulesURL.path) {
            let data = try Data(contentsOf: modulesURL)
            guard let modules = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
                throw WendaoError(.unreadable, "\(directory)/modules.json is not a JSON array")
            }
            normalize = modules.contains { ($0["type"] as? String)?.hasSuffix(".Normalize") == true }
        }
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("2_Normalize").path) {
            normalize = true
        }
        var maxTokens = min(maxPositions, 512)
        if let st = try readJSON(dir.appendingPathComponent("sentence_bert_config.json"), required: false),
            let n = int(st["max_seq_length"]), n > 2
        {
            maxTokens = min(n, maxPositions)
        }

        let tokenizer = try loadTokenizer(dir)
        let file = try SafetensorsFile(path: dir.appendingPathComponent("model.safetensors").path)
        let prefix = file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func vector(_ name: String, _ n: Int) throws -> WeightVector {
            WeightVector(try file.floats(prefix + name, shape: [n]), count: n)
        }
        func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> WeightMatrix {
            .f32(try file.floats(prefix + name, shape: [rows, cols]), rows: rows, cols: cols)
        }
        guard let wordShape = file.tensors[prefix + "embeddings.word_embeddings.weight"]?.shape, wordShape.count == 2
        else {
            throw WendaoError(
                .unreadable, "\(directory)/model.safetensors: missing tensor 'embeddings.word_embeddings.weight'")
        }
        let vocabSize = wordShape[0]
        guard vocabSize >= tokenizer.vocabularySize else {
            throw WendaoError(
                .unreadable, "\(directory): vocabulary has \(tokenizer.vocabularySize) tokens, embeddings \(vocabSize)")
        }
        let typeRows = file.tensors[prefix + "embeddings.token_type_embeddings.weight"]?.shape.first ?? 2
        var layerWeights: [EncoderLayerWeights] = []
        for i in 0..<layers {
            let p = "encoder.layer.\(i)."
            layerWeights.append(
                EncoderLayerWeights(
                    query: try matrix(p + "attention.self.query.weight", hidden, hidden),
                    queryBias: try vector(p + "attention.self.query.bias", hidden),
                    key: try matrix(p + "attention.self.key.weight", hidden, hidden),
                    keyBias: try vector(p + "attention.self.key.bias", hidden),
                    value: try matrix(p + "attention.self.value.weight", hidden, hidden),
                    valueBias: try vector(p + "attention.self.value.bias", hidden),
                    attentionOutput: try matrix(p + "attention.output.dense.weight", hidden, hidden),
                    attentionOutputBias: try vector(p + "attention.output.dense.bias", hidden),
                    attentionNormGain: try vector(p + "attention.output.LayerNorm.weight", hidden),
                    attentionNormBias: try vector(p + "attention.output.LayerNorm.bias", hidden),
                    intermediate: try matrix(p + "intermediate.dense.weight", intermediate, hidden),
                    intermediateBias: try vector(p + "intermediate.dense.bias", intermediate),
                    output: try matrix(p + "output.dense.weight", hidden, intermediate),
                    outputBias: try vector(p + "output.dense.bias", hidden),
                    outputNormGain: try vector(p + "output.LayerNorm.weight", hidden),
                    outputNormBias: try vector(p + "output.LayerNorm.bias", hidden)))
        }
        let cfg = EncoderConfig(
            hidden: hidden, layers: layers, heads: heads, intermediate: intermediate, maxPositions: maxPositions,
            layerNormEpsilon: eps, positionOffset: 0, pooling: pooling, normalize: normalize)
        let weights = EncoderWeights(
            config: cfg,
            wordEmbeddings: try matrix("embeddings.word_embeddings.weight", vocabSize, hidden),
            positionEmbeddings: try matrix("embeddings.position_embeddings.weight", maxPositions, hidden),
            tokenTypeEmbeddings: try matrix("embeddings.token_type_embeddings.weight", typeRows, hidden),
            embeddingNormGain: try vector("embeddings.LayerNorm.weight", hidden),
            embeddingNormBias: try vector("embeddings.LayerNorm.bias", hidden),
            layers: layerWeights, storage: file)
        return EmbeddingModelFiles(
            id: id ?? dir.lastPathComponent, weights: weights, tokenizer: tokenizer, queryPrefix: queryPrefix,
            passagePrefix: passagePrefix, maxTokens: maxTokens)
    }

    /// The WordPiece tokenizer of a model directory: `vocab.txt` if present, else the vocabulary
    /// inside `tokenizer.json`; lower-casing from `tokenizer.json`'s normaliser or
    /// `tokenizer_config.json` (`do_lower_case`, default true).
    public static func loadTokenizer(_ dir: URL) throws -> WordPieceTokenizer {
        var lowercase = true
        var stripAccents: Bool?
        let tokenizerJSON = try readJSON(dir.appendingPathComponent("tokenizer.json"), required: false)
        if let tc = try readJSON(dir.appendingPathComponent("tokenizer_config.json"), required: false) {
            if let l = tc["do_lower_case"] as? Bool { lowercase = l }
            if let s = tc["strip_accents"] as? Bool { stripAccents = s }
        }
        if let norm = tokenizerJSON?["normalizer"] as? [String: Any], norm["type"] as? String == "BertNormalizer" {
            if let l = norm["lowercase"] as? Bool { lowercase = l }
            if let s = norm["strip_accents"] as? Bool { stripAccents = s }
        }
        let vocabPath = dir.appendingPathComponent("vocab.txt").path
        if FileManager.default.fileExists(atPath: vocabPath) {
            return try WordPieceTokenizer.load(vocabFile: vocabPath, lowercase: lowercase, stripAccents: stripAccents)
        }
        guard let model = tokenizerJSON?["model"] as? [String: Any], let vocab = model["vocab"] as? [String: Any] else {
            throw WendaoError(.unreadable, "\(dir.path): no vocab.txt and no WordPiece vocabulary in tokenizer.json")
        }
        guard (model["type"] as? String) == "WordPiece" else {
            throw WendaoError(.unsupported, "\(dir.path)/tokenizer.json is not a WordPiece tokenizer")
        }
        var pairs: [(String, Int32)] = []
        for (token, value) in vocab {
            guard let id = int(value), id >= 0, id < Int(Int32.max) else {
                throw WendaoError(.unreadable, "\(dir.path)/tokenizer.json: bad id for token '\(token)'")
            }
            pairs.append((token, Int32(id)))
        }
        pairs.sort { $0.1 < $1.1 }
        let maxChars = int(model["max_input_chars_per_word"]) ?? 100
        return try WordPieceTokenizer(
            ids: pairs, lowercase: lowercase, stripAccents: stripAccents, maxCharactersPerWord: maxChars)
    }

    private static func readJSON(_ url: URL, required: Bool) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: url.path) else {
            if required { throw WendaoError(.unreadable, "\(url.path): missing") }
            return nil
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw WendaoError(.unreadable, "\(url.path): cannot read")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw WendaoError(.unreadable, "\(url.path): not a JSON object")
        }
        return object
    }

    private static func int(_ value: Any?) -> Int? {
        guard let n = value as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d.rounded() == d, abs(d) < 1e15 else { return nil }
        return n.intValue
    }
}
