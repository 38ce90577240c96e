import Foundation
import Logging
import NIOPosix
import Synchronization
import Testing
import WendaoApp
import WendaoCore
import WendaoLLM
import WendaoModels
import WendaoRAG
import WendaoTestSupport

/// `local:` models in the composition root: resolution (pulled or not, paths, no key, no cost), one
/// loaded model per file shared by every request, the memory check before loading, and the
/// grounded-answer pipeline over a local model. The runtime itself is replaced by a scripted double
/// here (its own tests are WendaoLLMTests').
@Suite struct LocalChatModelsTests {
    /// A scripted stand-in for the runtime: answers every call with `reply`.
    struct ScriptedModel: ChatModel {
        var id: String
        var contextWindow = 4096
        var reply: [String]

        func streamChat(_ messages: [ChatMessage], options: ChatOptions) -> AsyncThrowingStream<ChatEvent, any Error> {
            let pieces = reply
            return AsyncThrowingStream { c in
                for p in pieces { c.yield(.text(p)) }
                c.yield(.usage(TokenUsage(promptTokens: 50, completionTokens: 12)))
                c.yield(.finish("stop"))
                c.finish()
            }
        }
    }

    /// Counts loads; fails the first `failures` of them.
    final class Loader: Sendable {
        let loads = Mutex<[ChatModels.LocalModelLoad]>([])
        let failures: Int
        let reply: [String]

        init(failures: Int = 0, reply: [String] = ["ok"]) {
            self.failures = failures
            self.reply = reply
        }

        func load(_ request: ChatModels.LocalModelLoad) throws -> any ChatModel {
            let n = loads.withLock {
                $0.append(request); return $0.count
            }
            // A slow load, so that concurrent first requests overlap.
            Thread.sleep(forTimeInterval: 0.05)
            if n <= failures { throw WendaoError(.corrupt, "damaged model") }
            return ScriptedModel(id: request.id, reply: reply)
        }
    }

    /// A GGUF header the memory check can read (a tiny llama).
    static func tinyGGUF(_ scratch: ScratchDirectory, _ name: String = "tiny.gguf") throws -> URL {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }
        let kv: [(String, UInt32, [UInt8])] = [
            ("general.architecture", 8, str("llama")), ("llama.block_count", 4, le(UInt32(2))),
            ("llama.embedding_length", 4, le(UInt32(64))), ("llama.attention.head_count", 4, le(UInt32(4))),
        ]
        var bytes = Array("GGUF".utf8) + le(UInt32(3)) + le(UInt64(0)) + le(UInt64(kv.count))
        for (k, t, v) in kv { bytes += str(k) + le(t) + v }
        while bytes.count % 32 != 0 { bytes.append(0) }  // the (empty) data section starts aligned
        let url = scratch.child(name)
        try Data(bytes).write(to: url)
        return url
    }

    func models(_ loader: Loader, environment: [String: String] = [:], pool: NIOThreadPool) -> ChatModels {
        ChatModels(
            environment: environment,
            gateway: { ModelGateway(configuration: ModelsConfiguration(), logger: Logger(label: "test")) },
            threadPool: { pool }, load: { try loader.load($0) })
    }

    func startedPool() -> NIOThreadPool {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }

    @Test("local:NAME not pulled names the pull command; a missing path says so; neither needs a key")
    func resolution() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let env = ["WENDAO_MODELS": scratch.path]
        let config = ModelsConfiguration()
        let notPulled = thrownWendaoError {
            _ = try ChatModels.resolve("local:smollm2-135m", configuration: config, environment: env)
        }
        #expect(notPulled?.code == .notFound)
        #expect(notPulled?.message.contains("wendao models pull smollm2-135m") == true)
        let missing = thrownWendaoError {
            _ = try ChatModels.resolve("local:/no/such/model.gguf", configuration: config, environment: env)
        }
        #expect(missing?.code == .notFound && missing?.message.contains("no such file") == true)

        let file = try Self.tinyGGUF(scratch)
        let m = try ChatModels.resolve("local:\(file.path)", configuration: config, environment: [:])
        #expect(m.id == "local:\(file.path)" && m.isLocal && m.provider == "local" && m.model == file.path)
        #expect(!m.requiresKey && m.keyVariables.isEmpty)
        try m.requireKey()  // no key anywhere, no error
        #expect(m.contextWindow == 4096)
        let report = UsageReport(
            model: m, usage: TokenUsage(promptTokens: 10, completionTokens: 5), calls: 1, seconds: 1)
        #expect(report.cost == 0 && report.line.contains("no cost"))

        // A provider's model still resolves as before (and still needs its key).
        let remote = try ChatModels.resolve("deepseek:deepseek-chat", configuration: config, environment: [:])
        #expect(!remote.isLocal && remote.requiresKey)
        #expect(thrownWendaoError { try remote.requireKey() }?.code == .unauthenticated)
    }

    @Test("config.yaml's context_window for a local model reaches the runtime")
    func configuredContext() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let file = try Self.tinyGGUF(scratch)
        var config = ModelsConfiguration()
        var settings = ModelSettings()
        settings.contextWindow = 1024
        config.models["local:\(file.path)"] = settings
        let m = try ChatModels.resolve("local:\(file.path)", configuration: config, environment: [:])
        #expect(m.contextWindow == 1024)
        let pool = startedPool()
        let loader = Loader()
        _ = try await models(loader, pool: pool).chatModel(for: m)
        #expect(loader.loads.withLock { $0.first?.contextLength } == 1024)
        try await pool.shutdownGracefully()
    }

    @Test("The gateway and the provider catalogue refuse local models instead of calling out")
    func gatewayRefusesLocal() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let file = try Self.tinyGGUF(scratch)
        let m = try ChatModels.resolve("local:\(file.path)", configuration: ModelsConfiguration(), environment: [:])
        let gateway = ModelGateway(configuration: ModelsConfiguration(), logger: Logger(label: "test"))
        let error = await #expect(throws: WendaoError.self) {
            _ = try await gateway.chat(m, messages: [ChatMessage(.user, "hi")])
        }
        #expect(error?.code == .invalidArgument && error?.message.contains("runs in this process") == true)
        await gateway.shutdown()
        let direct = thrownWendaoError {
            _ = try ModelCatalog.resolve("local:smollm2-135m", configuration: ModelsConfiguration(), environment: [:])
        }
        #expect(direct?.code == .invalidArgument)
    }

    @Test("One model per file: concurrent first requests load it once; another name for the file shares it")
    func loadedOncePerFile() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let file = try Self.tinyGGUF(scratch)
        let pool = startedPool()
        let loader = Loader()
        let chat = models(loader, pool: pool)
        let m = try ChatModels.resolve("local:\(file.path)", configuration: ModelsConfiguration(), environment: [:])
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await chat.chatModel(for: m).id } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(ids.count == 20 && Set(ids) == ["local:\(file.path)"])
        #expect(loader.loads.withLock { $0.count } == 1)
        // The same file under another name: still one load, and the name it was asked by.
        var renamed = m
        renamed.id = "local:other-name"
        #expect(try await chat.chatModel(for: renamed).id == "local:other-name")
        #expect(loader.loads.withLock { $0.count } == 1)
        #expect(await chat.loadedLocalModels() == ["local:\(file.path)"])
        chat.shutdown()
        #expect(await chat.loadedLocalModels().isEmpty)
        try await pool.shutdownGracefully()
    }

    @Test("A failed load is not kept: the next request loads again")
    func failedLoadIsRetried() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let file = try Self.tinyGGUF(scratch)
        let pool = startedPool()
        let loader = Loader(failures: 1)
        let chat = models(loader, pool: pool)
        let m = try ChatModels.resolve("local:\(file.path)", configuration: ModelsConfiguration(), environment: [:])
        let error = await #expect(throws: WendaoError.self) { _ = try await chat.chatModel(for: m) }
        #expect(error?.message == "damaged model")
        #expect(try await chat.chatModel(for: m).id == m.id)
        #expect(loader.loads.withLock { $0.count } == 2)
        try await pool.shutdownGracefully()
    }

    @Test("The memory check reads the header first: a file that is not GGUF never reaches the runtime")
    func memoryCheckBeforeLoading() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let junk = try scratch.write("junk.gguf", String(repeating: "x", count: 100))
        let pool = startedPool()
        let loader = Loader()
        let m = try ChatModels.resolve("local:\(junk.path)", configuration: ModelsConfiguration(), environment: [:])
        let error = await #expect(throws: WendaoError.self) {
            _ = try await models(loader, pool: pool).chatModel(for: m)
        }
        #expect(error?.code == .unsupported && error?.message.contains("not a GGUF file") == true)
        #expect(loader.loads.withLock { $0.isEmpty })
        // WENDAO_LLM_MEMORY_CHECK=off leaves everything to the runtime.
        _ = try await models(loader, environment: ["WENDAO_LLM_MEMORY_CHECK": "off"], pool: pool).chatModel(for: m)
        #expect(loader.loads.withLock { $0.count } == 1)
        try await pool.shutdownGracefully()
    }

    @Test("A provider's model comes back as the gateway's chat model")
    func remoteThroughGateway() async throws {
        let pool = startedPool()
        let chat = models(Loader(), pool: pool)
        let m = try ChatModels.resolve("deepseek:deepseek-chat", configuration: ModelsConfiguration(), environment: [:])
        let model = try await chat.chatModel(for: m)
        #expect(model is GatewayChatModel && model.id == "deepseek:deepseek-chat")
        try await pool.shutdownGracefully()
    }

    @Test("The grounded-answer pipeline runs unchanged over a local model: cited answer, model id, usage")
    func groundedAnswerOverLocal() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.write("docs/track.md", "# Tracking\n\nTrack a parcel with its waybill number on the website.\n")
        let library = try Library(directory: scratch.child("data"))
        try library.create("kb")
        let kb = try library.open("kb")
        _ = try kb.ingest([scratch.child("docs").path])
        let file = try Self.tinyGGUF(scratch)
        let pool = startedPool()
        let chat = models(Loader(reply: ["Use the waybill number on the website [1]."]), pool: pool)
        let m = try ChatModels.resolve("local:\(file.path)", configuration: ModelsConfiguration(), environment: [:])
        let answerer = GroundedAnswerer(model: try await chat.chatModel(for: m))
        let answer = try await answerer.answer("How do I track my parcel?", in: kb) { _ in }
        #expect(answer.found && answer.model == m.id)
        #expect(answer.citations.map(\.n) == [1] && answer.citations[0].document.hasSuffix("track.md"))
        #expect(answer.usage.promptTokens == 50 && !answer.uncited)
        try await pool.shutdownGracefully()
    }
}
