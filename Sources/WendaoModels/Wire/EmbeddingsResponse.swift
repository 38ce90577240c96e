import Foundation
public import WendaoCore

/// The reply to `POST /embeddings`: one vector per input, sorted by input position.
///
/// Vectors may be JSON arrays or, with `encoding_format: "base64"`, base64 strings of little-endian
/// float32. Also accepted: Ollama's `{"embeddings": [[…]]}` and DashScope's native
/// `{"output": {"embeddings": [{"text_index", "embedding"}]}}`.
///
/// ```swift
/// let reply = try JSONDecoder().decode(EmbeddingsResponse.self, from: body)
/// let vectors = reply.data.map(\.embedding)
/// ```
public struct EmbeddingsResponse: Decodable, Sendable, Equatable {
    /// One vector.
    public struct Item: Decodable, Sendable, Equatable {
        /// The position of the input it embeds.
        public var index: Int
        /// The vector.
        public var embedding: [Float]

        /// Creates an item.
        public init(index: Int, embedding: [Float]) {
            self.index = index
            self.embedding = embedding
        }

        /// Decodes `index` (or `text_index`) and `embedding` (array or base64).
        ///
        /// - Throws: `DecodingError` when the vector is missing or malformed.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            index = c.int("index") ?? c.int("text_index") ?? -1
            embedding = try Self.vector(c, "embedding")
        }

        static func vector(_ c: KeyedDecodingContainer<AnyKey>, _ key: String) throws -> [Float] {
            if let floats = try? c.decode([Float].self, forKey: AnyKey(key)) { return floats }
            let base64 = try c.decode(String.self, forKey: AnyKey(key))
            guard let floats = EmbeddingsResponse.floats(base64: base64) else {
                throw DecodingError.dataCorruptedError(
                    forKey: AnyKey(key), in: c, debugDescription: "embedding is neither floats nor base64 float32")
            }
            return floats
        }
    }

    /// The vectors, sorted by ``Item/index``.
    public var data: [Item]
    /// The model that embedded.
    public var model: String?
    /// Token usage, when reported.
    public var usage: TokenUsage?

    /// Creates a response.
    public init(data: [Item], model: String? = nil, usage: TokenUsage? = nil) {
        self.data = data
        self.model = model
        self.usage = usage
    }

    /// Decodes the OpenAI shape (and the Ollama and DashScope native ones).
    ///
    /// - Throws: `DecodingError` when a vector is malformed.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        model = c.string("model")
        usage = c.usage("usage")
        var items: [Item]
        if c.contains("data") {
            items = try c.decode([Item].self, forKey: "data")
        } else if c.contains("embeddings") {
            items = try c.decode([[Float]].self, forKey: "embeddings").enumerated().map {
                Item(index: $0.offset, embedding: $0.element)
            }
        } else if let output = c.object("output"), output.contains("embeddings") {
            items = try output.decode([Item].self, forKey: "embeddings")
        } else {
            items = []
        }
        for i in items.indices where items[i].index < 0 { items[i].index = i }
        data = items.sorted { $0.index < $1.index }
    }

    /// Little-endian float32 values from base64; `nil` when not base64 or not a whole number of floats.
    static func floats(base64: String) -> [Float]? {
        guard let bytes = Data(base64Encoded: base64), bytes.count % 4 == 0 else { return nil }
        return bytes.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { i in
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        }
    }
}

/// The reply to `GET /models` (also Ollama's `/api/tags`, whose `models[].name` becomes the ID).
///
/// ```swift
/// let names = try JSONDecoder().decode(ModelsListResponse.self, from: body).data.map(\.id)
/// ```
public struct ModelsListResponse: Decodable, Sendable, Equatable {
    /// One model.
    public struct Model: Decodable, Sendable, Equatable {
        /// The name to pass as `model`.
        public var id: String
        /// The owner (`owned_by`), when reported.
        public var ownedBy: String?

        /// Creates a model entry.
        public init(id: String, ownedBy: String? = nil) {
            self.id = id
            self.ownedBy = ownedBy
        }

        /// Decodes `id` (or `name`, or `model`) and `owned_by`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            guard let id = c.text("id") ?? c.string("name") ?? c.string("model") else {
                throw DecodingError.keyNotFound(
                    AnyKey("id"), .init(codingPath: c.codingPath, debugDescription: "model entry without id"))
            }
            self.id = id
            ownedBy = c.string("owned_by")
        }
    }

    /// The models; entries without an ID are skipped.
    public var data: [Model]

    /// Creates a list.
    public init(data: [Model]) {
        self.data = data
    }

    /// Decodes `data` (OpenAI) or `models` (Ollama).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        data = c.contains("data") ? c.array("data", of: Model.self) : c.array("models", of: Model.self)
    }
}

/// The reply to `POST /images/generations` and `/images/edits`.
///
/// ```swift
/// let urls = try JSONDecoder().decode(ImagesResponse.self, from: body).data.compactMap(\.url)
/// ```
public struct ImagesResponse: Decodable, Sendable, Equatable {
    /// One image.
    public struct Image: Decodable, Sendable, Equatable {
        /// A (usually short-lived) URL of the image.
        public var url: String?
        /// The image bytes, base64 (`b64_json`).
        public var b64JSON: String?
        /// The prompt as the provider rewrote it (`revised_prompt`).
        public var revisedPrompt: String?

        /// Creates an image entry.
        public init(url: String? = nil, b64JSON: String? = nil, revisedPrompt: String? = nil) {
            self.url = url
            self.b64JSON = b64JSON
            self.revisedPrompt = revisedPrompt
        }

        /// Decodes `url`, `b64_json` and `revised_prompt`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            url = c.string("url")
            b64JSON = c.string("b64_json")
            revisedPrompt = c.string("revised_prompt")
        }
    }

    /// Seconds since 1970 when the images were made.
    public var created: Int?
    /// The images.
    public var data: [Image]
    /// Token usage (image models billed by tokens), when reported.
    public var usage: TokenUsage?

    /// Creates a response.
    public init(created: Int? = nil, data: [Image], usage: TokenUsage? = nil) {
        self.created = created
        self.data = data
        self.usage = usage
    }

    /// Decodes `created`, `data` and `usage`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        created = c.int("created")
        data = c.array("data", of: Image.self)
        usage = c.usage("usage")
    }
}
