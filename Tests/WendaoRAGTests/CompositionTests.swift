import Foundation
import NIOPosix
import Synchronization
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
import WendaoEmbed
import WendaoRAG
import WendaoStore

/// The library takes its store and its embedders from whoever builds it: tests (and a future
/// PostgreSQL store) inject their own.
@Suite("Composition root")
struct CompositionTests {
    /// A fake embedder whose vectors encode a topic.
    struct TopicEmbedder: TextEmbedder {
        var id: String { "fake-topics" }
        var knownDimension: Int? { 3 }

        static func vector(_ text: String) -> [Float] {
            let t = text.lowercased()
            if t.contains("battery") || t.contains("power bank") { return [1, 0.05, 0] }
            if t.contains("cold") || t.contains("fridge") { return [0, 1, 0.05] }
            return [0.05, 0, 1]
        }

        func embed(_ texts: [String], as kind: EmbeddingKind) async throws -> EmbeddingResult {
            try embedBlocking(texts, as: kind)
        }

        func embedBlocking(_ texts: [String], as kind: EmbeddingKind) throws -> EmbeddingResult {
            EmbeddingResult(
                vectors: texts.map(Self.vector), tokenCount: texts.count,
                truncated: [Bool](repeating: false, count: texts.count))
        }
    }

    /// Knows one embedder, `fake`, and records what was asked for.
    final class FakeProvider: EmbedderProvider {
        let asked = Mutex<[String]>([])

        func open(_ spec: String) throws -> any TextEmbedder {
            asked.withLock { $0.append(spec) }
            guard spec == "fake" else { throw WendaoError(.invalidArgument, "unknown embedder '\(spec)'") }
            return TopicEmbedder()
        }
    }

    @Test("A library over an explicitly made store and a fake embedder provider ingests and searches by meaning")
    func injectedStoreAndEmbedders() throws {
        let scratch = try ScratchDirectory("composition")
        defer { scratch.remove() }
        try scratch.write("docs/battery.md", "# Lithium\n\nA lithium battery may only travel by road.\n")
        try scratch.write("docs/cold.md", "# Cold chain\n\nChilled parcels stay between two and eight degrees.\n")
        try scratch.write("docs/hours.md", "# Hours\n\nThe depot opens at 8 am.\n")
        let store = try SQLiteStore(path: scratch.child("elsewhere.sqlite").path)
        let provider = FakeProvider()
        let library = try Library(directory: scratch.child("data"), store: store, embedders: provider)
        var settings = KnowledgeBaseSettings.default
        settings.embedder = "fake"
        try library.create("kb", settings: settings)
        let kb = try library.open("kb")
        let summary = try kb.ingest([scratch.child("docs").path])
        #expect(summary.failed == 0)
        // No word of the query is in any document: only the injected embedder can find it.
        let hits = try kb.search("power bank", topK: 1, mode: .dense)
        #expect(hits.map(\.document) == ["docs/battery.md"])
        // A vector made by the caller (the server awaits it off the thread pool) gives the same result.
        let plan = try #require(kb.denseQuery("fridge", mode: .dense))
        #expect(plan.embedder.id == "fake-topics")
        let vector = try plan.embedder.embedBlocking([plan.text], as: .query).vectors[0]
        #expect(try kb.search("fridge", topK: 1, mode: .dense, queryVector: vector).map(\.document) == ["docs/cold.md"])
        #expect(kb.denseQuery("fridge", mode: .bm25) == nil)
        #expect(provider.asked.withLock { $0 }.allSatisfy { $0 == "fake" })
        // The store given is the one used: the data directory holds no SQLite file of its own.
        #expect(!FileManager.default.fileExists(atPath: scratch.child("data/wendao.sqlite").path))
        #expect(try store.knowledgeBases().map(\.name) == ["kb"])
    }

    @Test("The composition root opens nothing until asked, and shuts down idempotently")
    func environmentIsLazy() async throws {
        let scratch = try ScratchDirectory("composition-root")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let app = AppEnvironment(dataDirectory: data, environment: [:], models: { throw WendaoError(.corrupt, "bad") })
        // A broken configuration fails only what needs a provider.
        #expect(thrownWendaoError { _ = try app.gateway() }?.code == .corrupt)
        #expect(!FileManager.default.fileExists(atPath: data.path))
        let library = try app.library()
        #expect(try app.library() === library)
        #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("wendao.sqlite").path))
        let pool = app.startedThreadPool()
        #expect(try await pool.runIfActive { 6 * 7 } == 42)
        await app.shutdown()
        await app.shutdown()
    }

    @Test("Encoder threads: bounded, reused, every call runs")
    func encoderThreads() async throws {
        let threads = EncoderThreads(limit: 2)
        let probe = Probe()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<24 {
                group.addTask {
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        threads.submit {
                            let now = probe.running.add(1, ordering: .sequentiallyConsistent).newValue
                            _ = probe.most.max(now, ordering: .sequentiallyConsistent)
                            probe.names.withLock { _ = $0.insert(Thread.current.name ?? "?") }
                            usleep(2000)
                            probe.running.subtract(1, ordering: .sequentiallyConsistent)
                            done.resume()
                        }
                    }
                }
            }
        }
        let concurrent = probe.most.load(ordering: .sequentiallyConsistent)
        let threadCount = probe.names.withLock { $0.count }
        #expect(concurrent <= 2)
        #expect(threadCount <= 2)
        threads.shutdown()
        // After shutdown work still runs (on the caller's thread).
        threads.submit { probe.running.store(-1, ordering: .sequentiallyConsistent) }
        let didRun = probe.running.load(ordering: .sequentiallyConsistent) == -1
        #expect(didRun)
    }

    /// What the encoder-thread test observes.
    final class Probe: Sendable {
        let running = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        let names = Mutex<Set<String>>([])
    }
}
