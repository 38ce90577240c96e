import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG
import WendaoServer
import WendaoTestSupport

/// The server's async edge under load: blocking work runs on the thread pool and remote embedding
/// is awaited, so a knowledge base whose embedder is stuck never starves the rest of the server.
@Suite("Async edge")
struct AsyncEdgeTests {
    /// A fake provider that embeds by topic (see ``RemoteEmbedderTests``) and, once `gate` is
    /// closed, holds every request until it opens again.
    final class Gate: Sendable {
        private let open = Atomic<Bool>(true)
        /// Requests held (or that were held) since the gate closed.
        let held = Atomic<Int>(0)

        func close() { open.store(false, ordering: .sequentiallyConsistent) }
        func release() { open.store(true, ordering: .sequentiallyConsistent) }

        func pass() async {
            guard !open.load(ordering: .sequentiallyConsistent) else { return }
            held.add(1, ordering: .sequentiallyConsistent)
            while !open.load(ordering: .sequentiallyConsistent) {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    @Test(
        "Searches of a knowledge base whose remote embedder is stuck stay pending while health checks and BM25 searches of another knowledge base answer",
        .timeLimit(.minutes(2)))
    func slowRemoteEmbedderStarvesNothing() async throws {
        let gate = Gate()
        let provider = try await FakeProviderServer.start { request, _ in
            await gate.pass()
            return RemoteEmbedderTests.reply(RemoteEmbedderTests.inputs(request).map(RemoteEmbedderTests.topicVector))
        }
        let scratch = try ScratchDirectory("async-edge")
        defer { scratch.remove() }
        for (name, text) in RemoteEmbedderTests.documents { try scratch.write("docs/\(name)", text) }
        try scratch.write("plain/hours.md", "# Opening hours\n\nThe depot opens at 8 am and closes at 10 pm.\n")
        let models = try RemoteEmbedderTests.labConfiguration(provider, batch: 8)
        let data = scratch.child("data")
        let environment = ["LAB_KEY": canaryKey]
        // The composition root, as `wendao serve` makes it; ingest runs off the concurrency pool.
        let app = AppEnvironment(
            dataDirectory: data, environment: environment, models: models, logger: Logger(label: "test.edge"))
        let docs = scratch.child("docs").path
        let plain = scratch.child("plain").path
        try await offConcurrencyPool {
            let library = try app.library()
            var settings = KnowledgeBaseSettings.default
            settings.embedder = "lab:embed-1"
            try library.create("slow", settings: settings)
            _ = try library.open("slow").ingest([docs])
            try library.create("fast")
            _ = try library.open("fast").ingest([plain])
        }
        var configuration = ServerConfiguration(dataDirectory: data)
        configuration.port = 0
        configuration.models = models
        configuration.environment = environment
        let server = try WendaoServer(configuration: configuration, app: app, logger: Logger(label: "test.edge"))

        // From now on the provider holds every embedding request.
        gate.close()
        let slowCount = 12
        let slow = Gate()  // `held` counts the searches of "slow" that finished
        let json: HTTPFields = [.contentType: "application/json"]
        try await server.application().test(.router) { testClient in
            let client = testClient
            try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<slowCount {
                    group.addTask {
                        let r = try await client.execute(
                            uri: "/api/v1/kbs/slow/search", method: .post, headers: json,
                            body: ByteBuffer(string: #"{"query":"power bank flight","mode":"dense","top_k":1}"#))
                        slow.held.add(1, ordering: .sequentiallyConsistent)
                        #expect(r.status == .ok, "\(String(buffer: r.body))")
                        return Self.documents(r)
                    }
                }
                // Wait until the provider holds queries (the HTTP client sends up to 8 at once; the
                // rest wait in its queue): the searches are truly in flight.
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(60)
                while gate.held.load(ordering: .sequentiallyConsistent) < 8, clock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let held = gate.held.load(ordering: .sequentiallyConsistent)
                #expect(held >= 8)

                // Meanwhile the rest of the server answers: health checks and BM25 searches of the
                // other knowledge base, several at once.
                try await withThrowingTaskGroup(of: Void.self) { others in
                    for i in 0..<20 {
                        others.addTask {
                            let health = try await client.execute(uri: "/healthz", method: .get)
                            #expect(health.status == .ok)
                            let r = try await client.execute(
                                uri: "/api/v1/kbs/fast/search", method: .post, headers: json,
                                body: ByteBuffer(string: #"{"query":"depot opens \#(i)","top_k":3}"#))
                            #expect(r.status == .ok, "\(String(buffer: r.body))")
                            #expect(Self.documents(r).first?.hasSuffix("hours.md") == true, "\(Self.documents(r))")
                        }
                    }
                    try await others.waitForAll()
                }
                let list = try await client.execute(uri: "/api/v1/kbs", method: .get)
                #expect(list.status == .ok)
                // All of that happened while every search of the stuck knowledge base was pending.
                let finishedMeanwhile = slow.held.load(ordering: .sequentiallyConsistent)
                #expect(finishedMeanwhile == 0)

                gate.release()
                var found: [[String]] = []
                for try await hits in group { found.append(hits) }
                #expect(found.count == slowCount)
                #expect(found.allSatisfy { $0 == ["docs/battery.md"] }, "\(found)")
            }
        }
        await server.shutdown()
        await provider.shutdown()
    }

    /// The `document` of each result of a search response.
    static func documents(_ r: TestResponse) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any],
            let results = object["results"] as? [[String: Any]]
        else { return [] }
        return results.compactMap { $0["document"] as? String }
    }
}
