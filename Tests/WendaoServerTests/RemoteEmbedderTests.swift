import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import WendaoApp
import WendaoCore
import WendaoIndex
import WendaoModels
import WendaoRAG
@testable import WendaoServer
import WendaoTestSupport

/// Remote embedders (`provider:model` through the gateway) against a fake OpenAI-compatible
/// provider whose vectors encode a topic, so that retrieval results are checkable: dense search must
/// return the chunk whose fake vector matches the query's.
@Suite("Remote embedders")
struct RemoteEmbedderTests {
    /// A topic vector for `text`: the provider "understands" that a power bank is a battery.
    static func topicVector(_ text: String) -> [Float] {
        let t = text.lowercased()
        if t.contains("battery") || t.contains("power bank") { return [1, 0.1, 0, 0] }
        if t.contains("insurance") { return [0, 1, 0.1, 0] }
        if t.contains("cold") { return [0, 0, 1, 0.1] }
        return [0.1, 0, 0, 1]
    }

    /// The inputs of an embeddings request.
    static func inputs(_ r: RecordedRequest) -> [String] {
        r.jsonObject()?["input"] as? [String] ?? []
    }

    /// An OpenAI-shaped embeddings reply; `vectors` are JSON arrays or, as strings, base64 float32.
    static func reply(_ vectors: [Any]) -> FakeResponse {
        let items = vectors.enumerated().map { i, v -> String in
            let embedding: String
            if let s = v as? String {
                embedding = "\"\(s)\""
            } else {
                embedding = "[" + (v as? [Float] ?? []).map { String($0) }.joined(separator: ",") + "]"
            }
            return #"{"object":"embedding","index":\#(i),"embedding":\#(embedding)}"#
        }
        return .json(
            #"{"object":"list","data":[\#(items.joined(separator: ","))],"model":"embed-1","usage":{"prompt_tokens":7,"total_tokens":7}}"#
        )
    }

    /// A provider that embeds by topic.
    static func topicProvider() async throws -> FakeProviderServer {
        try await FakeProviderServer.start { request, _ in reply(inputs(request).map(topicVector)) }
    }

    /// `lab:embed-1`: a provider defined in config.yaml, pointed at `server`, key in `LAB_KEY`.
    static func labConfiguration(_ server: FakeProviderServer, batch: Int = 2, concurrency: Int = 1) throws
        -> ModelsConfiguration
    {
        var c = try ModelsConfiguration.parse(
            """
            providers:
              lab:
                base_url: \(server.baseURL)
                api_key_env: LAB_KEY
                embedding_batch_size: \(batch)
                embedding_concurrency: \(concurrency)
            """, source: "test.yaml")
        c.retry.baseDelay = 0.01
        c.retry.maxDelay = 0.05
        c.timeouts.connect = 2
        return c
    }

    static let documents: [(String, String)] = [
        ("battery.md", "# Lithium\n\nA lithium battery may only travel by road; air freight refuses it.\n"),
        ("insurance.md", "# Declared value\n\nInsurance costs one percent of the declared value.\n"),
        ("cold.md", "# Cold chain\n\nCold parcels stay between two and eight degrees.\n"),
        ("hours.md", "# Opening hours\n\nThe depot opens at 8 am.\n"),
        ("returns.md", "# Returns\n\nReturns are free within seven days.\n"),
    ]

    /// A data directory with knowledge base `kb` using `lab:embed-1`, documents written to `docs/`.
    static func makeLibrary(_ scratch: ScratchDirectory) throws {
        for (name, text) in documents { try scratch.write("docs/\(name)", text) }
        var settings = KnowledgeBaseSettings.default
        settings.embedder = "lab:embed-1"
        try Library(directory: scratch.child("data")).create("kb", settings: settings)
    }

    /// The data directory opened with `lab:embed-1` reachable through `gateway`.
    static func open(_ scratch: ScratchDirectory, _ configuration: ModelsConfiguration, gateway: ModelGateway)
        throws -> KnowledgeBase
    {
        let registry = EmbedderRegistry(
            configuration: configuration, environment: ["LAB_KEY": canaryKey], gateway: gateway)
        return try Library(directory: scratch.child("data"), embedders: registry).open("kb")
    }

    @Test("A knowledge base with a remote embedder ingests, batches per the limit, and finds by meaning")
    func ingestAndSearch() async throws {
        let server = try await Self.topicProvider()
        let scratch = try ScratchDirectory("remote-embed")
        let logs = LogCapture()
        let configuration = try Self.labConfiguration(server, batch: 2)
        let gateway = ModelGateway(configuration: configuration, logger: logs.logger())
        defer { scratch.remove() }
        try Self.makeLibrary(scratch)
        let docs = scratch.child("docs").path
        let (chunks, hits) = try await offConcurrencyPool { () throws -> (Int, [String]) in
            let kb = try Self.open(scratch, configuration, gateway: gateway)
            let summary = try kb.ingest([docs])
            #expect(summary.failed == 0)
            #expect(kb.defaultRetrievalMode == .hybrid)
            // No word of the question is in any document: only the vectors can find it.
            let question = "power bank flight"
            let dense = try kb.search(question, topK: 1, mode: .dense).map(\.document)
            let hybrid = try kb.search(question, topK: 1, mode: .hybrid).map(\.document)
            let cold = try kb.search("cold", topK: 1, mode: .dense).map(\.document)
            return (kb.chunkCount, dense + hybrid + cold)
        }
        #expect(chunks == 5)
        #expect(hits == ["docs/battery.md", "docs/battery.md", "docs/cold.md"])

        let requests = server.requests
        #expect(requests.allSatisfy { $0.path == "/v1/embeddings" })
        #expect(requests.allSatisfy { $0.header("authorization") == "Bearer \(canaryKey)" })
        #expect(requests.allSatisfy { Self.inputs($0).count <= 2 }, "\(requests.map { Self.inputs($0).count })")
        // One short text learns the dimension, then 5 passages in requests of ≤ 2, then 3 queries.
        let sizes = requests.map { Self.inputs($0).count }
        #expect(sizes == [1, 2, 2, 1, 1, 1, 1], "\(sizes)")
        // Raw text: no e5-style prefixes for a remote model.
        let sent = requests.flatMap(Self.inputs)
        #expect(sent.contains("power bank flight"))
        #expect(!sent.contains { $0.hasPrefix("query: ") || $0.hasPrefix("passage: ") })
        #expect(requests.first?.jsonObject()?["model"] as? String == "embed-1")

        // The vector file is stamped with the embedder id and the learned dimension.
        let stamp = try VectorIndex.stamp(path: scratch.child("data/indexes/kb-1.vec").path)
        #expect(stamp.embedder == "lab:embed-1" && stamp.dimension == 4)

        // A fresh process (new registry, same file): the dimension comes from the stamp, no probe.
        let before = server.requests.count
        let again = try await offConcurrencyPool { () throws -> String? in
            let kb = try Self.open(scratch, configuration, gateway: gateway)
            return try kb.search("insurance", topK: 1, mode: .dense).first?.document
        }
        #expect(again == "docs/insurance.md")
        #expect(server.requests.count == before + 1)
        #expect(!logs.text.contains(canaryKey))
        await gateway.shutdown()
        await server.shutdown()
    }

    enum BadReply: String, CaseIterable {
        case wrongDimension, wrongCount, nan, empty, zero
    }

    @Test("A bad response is a clear error naming the embedder, and no vector is stored", arguments: BadReply.allCases)
    func badResponses(_ bad: BadReply) async throws {
        let server = try await FakeProviderServer.start { request, ordinal in
            let n = Self.inputs(request).count
            guard ordinal > 0 else { return Self.reply([[Float]](repeating: [1, 0, 0, 0], count: n)) }
            switch bad {
            case .wrongDimension: return Self.reply([[Float]](repeating: [1, 0, 0], count: n))
            case .wrongCount: return Self.reply([[Float]](repeating: [1, 0, 0, 0], count: max(0, n - 1)))
            case .nan:
                // JSON has no NaN: base64 float32, as `encoding_format: base64` replies carry.
                var bytes = Data()
                for f in [Float(1), .nan, 0, 0] {
                    withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                }
                return Self.reply([Any](repeating: bytes.base64EncodedString(), count: n))
            case .empty: return Self.reply([[Float]](repeating: [], count: n))
            case .zero: return Self.reply([[Float]](repeating: [0, 0, 0, 0], count: n))
            }
        }
        let scratch = try ScratchDirectory("remote-embed-bad")
        defer { scratch.remove() }
        let configuration = try Self.labConfiguration(server, batch: 2)
        let logs = LogCapture()
        let gateway = ModelGateway(configuration: configuration, logger: logs.logger())
        try Self.makeLibrary(scratch)
        let docs = scratch.child("docs").path
        let vec = scratch.child("data/indexes/kb-1.vec").path
        let (error, stored, dense) = try await offConcurrencyPool { () throws -> (WendaoError?, Int, Int) in
            let kb = try Self.open(scratch, configuration, gateway: gateway)
            let error = thrownWendaoError { _ = try kb.ingest([docs]) }
            // The documents are stored (BM25 works); their vectors are not.
            let stored = try kb.search("lithium battery", topK: 5, mode: .bm25).count
            let dense = (try? kb.search("battery", topK: 5, mode: .dense).count) ?? -1
            return (error, stored, dense)
        }
        let e = try #require(error)
        #expect(e.code == .badResponse, "\(e)")
        #expect(e.message.contains("lab:embed-1"), "\(e.message)")
        #expect(!e.message.contains(canaryKey))
        let expected: String =
            switch bad {
            case .wrongDimension: "3-dimensional vector"
            case .wrongCount: "1 embeddings for 2 inputs"
            case .nan: "NaN"
            case .empty: "empty vector"
            case .zero: "all-zero vector"
            }
        #expect(e.message.contains(expected), "\(e.message)")
        #expect(stored > 0)
        #expect(!FileManager.default.fileExists(atPath: vec))
        #expect(dense == 0, "no vector was stored, so dense search finds nothing")
        #expect(!logs.text.contains(canaryKey))
        await gateway.shutdown()
        await server.shutdown()
    }

    @Test("A 500 is retried; DashScope's preset sends at most 10 inputs per request; order is kept")
    func retriesAndProviderBatchLimit() async throws {
        let server = try await FakeProviderServer.start { request, ordinal in
            if ordinal == 0 { return .json(#"{"error":{"message":"internal error"}}"#, status: 500) }
            // Vector of "tN": [N, 1], so positions can be checked after normalisation.
            let vectors = Self.inputs(request).map { (t: String) -> [Float] in [Float(String(t.dropFirst())) ?? -1, 1] }
            return Self.reply(vectors)
        }
        var configuration = ModelsConfiguration()
        configuration.retry.baseDelay = 0.01
        configuration.retry.maxDelay = 0.05
        let environment = ["WENDAO_DASHSCOPE_BASE_URL": server.baseURL, "WENDAO_DASHSCOPE_API_KEY": canaryKey]
        let gateway = ModelGateway(configuration: configuration, logger: LogCapture().logger())
        let registry = EmbedderRegistry(configuration: configuration, environment: environment, gateway: gateway)
        let embedder = try registry.open("qwen:text-embedding-v3")  // an alias of dashscope
        #expect(embedder.id == "dashscope:text-embedding-v3")
        #expect(embedder.knownDimension == nil)
        let texts = (0..<25).map { "t\($0)" }
        let result = try await embedder.embed(texts, as: .passage)
        #expect(embedder.knownDimension == 2)
        #expect(result.vectors.count == 25)
        for (i, v) in result.vectors.enumerated() {
            #expect(abs(v[0] / v[1] - Float(i)) < 0.001, "vector \(i) is \(v)")
            #expect(abs(v[0] * v[0] + v[1] * v[1] - 1) < 0.001, "normalised")
        }
        let sizes = server.requests.map { Self.inputs($0).count }
        #expect(sizes.count == 4, "one 500, then three requests: \(sizes)")
        #expect(sizes.dropFirst().sorted() == [5, 10, 10])
        // The query path blocks on the bridge, here from a thread of the concurrency pool.
        let q = try embedder.embedBlocking(["t3"], as: .query).vectors[0]
        #expect(abs(q[0] / q[1] - 3) < 0.001)
        await gateway.shutdown()
        await server.shutdown()
    }

    @Test("The key never appears in errors; a missing key names the variable to set")
    func keys() async throws {
        let server = try await FakeProviderServer.start { _, _ in
            .json(
                #"{"error":{"message":"Incorrect API key provided: \#(canaryKey)","type":"invalid_request_error","code":"invalid_api_key"}}"#,
                status: 401)
        }
        let configuration = try Self.labConfiguration(server)
        let logs = LogCapture()
        let gateway = ModelGateway(configuration: configuration, logger: logs.logger())
        let registry = EmbedderRegistry(
            configuration: configuration, environment: ["LAB_KEY": canaryKey], gateway: gateway)
        let embedder = try registry.open("lab:embed-1")
        var caught: WendaoError?
        do { _ = try await embedder.embed(["hello"], as: .query) } catch let e as WendaoError { caught = e }
        let e = try #require(caught)
        #expect(e.code == .unauthenticated, "\(e)")
        #expect(e.message.contains("lab:embed-1"))
        #expect(!e.message.contains(canaryKey), "\(e.message)")
        #expect(!logs.text.contains(canaryKey))
        #expect(server.requests.count == 1, "401 is not retried")

        // No key: a clear error at `kb create/set --embedder` time, before any call.
        let bare = EmbedderRegistry(configuration: ModelsConfiguration(), environment: [:], gateway: gateway)
        for (spec, variable) in [
            ("dashscope:text-embedding-v3", "DASHSCOPE_API_KEY"), ("openai:text-embedding-3-small", "OPENAI_API_KEY"),
        ] {
            let missing = thrownWendaoError { _ = try bare.open(spec) }
            #expect(missing?.code == .unauthenticated)
            #expect(missing?.message.contains(variable) == true, "\(String(describing: missing))")
        }
        #expect(throws: Never.self) { _ = try bare.open("ollama:bge-m3") }  // a local server needs no key
        let unknown = thrownWendaoError { _ = try bare.open("nowhere:model") }
        #expect(unknown?.message.contains("unknown provider 'nowhere'") == true)
        #expect(EmbedderRegistry.isRemote("dashscope:text-embedding-v3"))
        #expect(!EmbedderRegistry.isRemote("e5-small") && !EmbedderRegistry.isRemote("path:/models/x"))
        await gateway.shutdown()
        await server.shutdown()
    }

    @Test("Embedding settings: preset limits and prefixes, overridden by config.yaml")
    func settings() throws {
        let c = try ModelsConfiguration.parse(
            """
            providers:
              qwen: { embedding_concurrency: 3 }
            models:
              dashscope:text-embedding-v3:
                embedding_dimensions: 768
                embedding_max_characters: 2000
                embedding_query_prefix: "Q: "
            custom:
              mine: { provider: ollama, model: bge-m3, embedding_batch_size: 7 }
            """, source: "test.yaml")
        #expect(c.warnings.isEmpty, "\(c.warnings)")
        let env = ["DASHSCOPE_API_KEY": canaryKey]
        let v3 = try ModelCatalog.resolve("dashscope:text-embedding-v3", configuration: c, environment: env)
        let s = ModelCatalog.embeddingSettings(for: v3, configuration: c)
        #expect(s.batchSize == 10 && s.concurrency == 3 && s.dimensions == 768 && s.maxCharacters == 2000)
        #expect(s.queryPrefix == "Q: " && s.passagePrefix == "")
        let v4 = ModelCatalog.embeddingSettings(
            for: try ModelCatalog.resolve("dashscope:text-embedding-v4", configuration: c, environment: env),
            configuration: c)
        #expect(v4.dimensions == nil && v4.maxCharacters == EmbeddingSettings.defaultMaxCharacters)
        let nomic = ModelCatalog.embeddingSettings(
            for: try ModelCatalog.resolve("ollama:nomic-embed-text", configuration: c, environment: [:]),
            configuration: c)
        #expect(nomic.queryPrefix == "search_query: " && nomic.passagePrefix == "search_document: ")
        #expect(nomic.concurrency == 2 && nomic.batchSize == 32)
        let mine = ModelCatalog.embeddingSettings(
            for: try ModelCatalog.resolve("custom:mine", configuration: c, environment: [:]), configuration: c)
        #expect(mine.batchSize == 7 && mine.queryPrefix == "")
        #expect(throws: WendaoError.self) {
            _ = try ModelsConfiguration.parse("models:\n  lab:m:\n    embedding_batch_size: 0\n", source: "t")
        }
    }

    @Test("The blocking bridge finishes even when every pool thread is blocked on it", .timeLimit(.minutes(1)))
    func bridgeDoesNotNeedThePool() async throws {
        let n = max(2, ProcessInfo.processInfo.activeProcessorCount) * 4
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<n {
                group.addTask {
                    // Blocks a pool thread; the work (a sleep and a child task) must run elsewhere.
                    try BlockingBridge.run {
                        try await withThrowingTaskGroup(of: Int.self) { inner in
                            inner.addTask {
                                try await Task.sleep(for: .milliseconds(20))
                                return i
                            }
                            return try await inner.next() ?? -1
                        }
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(total == n * (n - 1) / 2)
    }

    @Test("The server: /v1/embeddings with kb:NAME and dense search use the knowledge base's remote embedder")
    func server() async throws {
        let provider = try await Self.topicProvider()
        let scratch = try ScratchDirectory("remote-embed-server")
        defer { scratch.remove() }
        let configuration = try Self.labConfiguration(provider, batch: 3)
        let setupGateway = ModelGateway(configuration: configuration, logger: LogCapture().logger())
        try Self.makeLibrary(scratch)
        let docs = scratch.child("docs").path
        _ = try await offConcurrencyPool {
            try Self.open(scratch, configuration, gateway: setupGateway).ingest([docs]).failed
        }
        await setupGateway.shutdown()

        var c = ServerConfiguration(dataDirectory: scratch.child("data"))
        c.port = 0
        c.models = configuration
        c.environment = ["LAB_KEY": canaryKey]
        let server = try WendaoServer(configuration: c, logger: Logger(label: "test.server"))
        try await server.application().test(.router) { client in
            let r = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"model":"kb:kb","input":["cold parcels","a power bank"]}"#))
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            let object = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]
            let data = object?["data"] as? [[String: Any]] ?? []
            let first = (data.first?["embedding"] as? [Double]) ?? []
            #expect(data.count == 2 && first.count == 4 && first[2] > 0.9, "\(data)")
            #expect(data.allSatisfy { $0["truncated"] == nil })
            #expect(!String(buffer: r.body).contains(canaryKey))

            // A text longer than the embedder takes is embedded from its beginning and reported as cut.
            // 7,800 characters: within the server's 8,192 per text, past the provider's 6,000.
            let long = String(repeating: "cold parcels ", count: 600)
            let cut = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"model":"kb:kb","input":["short","\#(long)"]}"#))
            #expect(cut.status == .ok, "\(String(buffer: cut.body))")
            let cutData =
                (try JSONSerialization.jsonObject(with: Data(cut.body.readableBytesView)) as? [String: Any])?["data"]
                as? [[String: Any]] ?? []
            #expect(cutData.count == 2)
            #expect(cutData.first?["truncated"] == nil)
            #expect(cutData.last?["truncated"] as? Bool == true, "\(cutData.last?.keys.sorted() ?? [])")

            let search = try await client.execute(
                uri: "/api/v1/kbs/kb/search", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"query":"power bank flight","mode":"dense","top_k":1}"#))
            #expect(search.status == .ok, "\(String(buffer: search.body))")
            #expect(String(buffer: search.body).contains("docs/battery.md"))

            // A provider model by name is not proxied (it would spend the server's key).
            let direct = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"model":"lab:embed-1","input":["x"]}"#))
            #expect(direct.status == .notFound)
        }
        await server.shutdown()
        await provider.shutdown()
    }
}
