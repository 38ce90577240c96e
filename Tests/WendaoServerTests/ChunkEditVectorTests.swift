import Foundation
import Synchronization
import Testing
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG
import WendaoTestSupport

/// Chunk edits with dense retrieval: the vectors follow an edit at once, and an embedder that fails
/// leaves the knowledge base as it was (store, BM25 and vectors).
@Suite("Chunk edits and vectors")
struct ChunkEditVectorTests {
    @Test("An edited chunk is found by its new meaning; a failing embedder changes nothing")
    func vectorsFollowEdits() async throws {
        let failing = Mutex(false)
        let server = try await FakeProviderServer.start { request, _ in
            if failing.withLock({ $0 }) { return .json(#"{"error":{"message":"quota exhausted"}}"#, status: 400) }
            return RemoteEmbedderTests.reply(RemoteEmbedderTests.inputs(request).map(RemoteEmbedderTests.topicVector))
        }
        let scratch = try ScratchDirectory("edit-vectors")
        defer { scratch.remove() }
        let configuration = try RemoteEmbedderTests.labConfiguration(server, batch: 8)
        let gateway = ModelGateway(configuration: configuration, logger: LogCapture().logger())
        try RemoteEmbedderTests.makeLibrary(scratch)
        let docs = scratch.child("docs").path
        try await offConcurrencyPool {
            let kb = try RemoteEmbedderTests.open(scratch, configuration, gateway: gateway)
            #expect(try kb.ingest([docs]).failed == 0)
            #expect(try kb.search("cold", topK: 1, mode: .dense).first?.document == "docs/cold.md")
            let hours = try #require(try kb.search("depot opens", topK: 1, mode: .bm25).first)
            #expect(hours.document == "docs/hours.md")

            // The opening-hours chunk now speaks of cold parcels: dense search finds it by that meaning.
            let edited = try kb.editChunk(hours.chunkID, text: "Cold parcels are kept in the depot's cold room.")
            #expect(edited.id != hours.chunkID && edited.edited)
            let cold = try kb.search("cold", topK: 2, mode: .dense).map(\.document)
            #expect(Set(cold) == ["docs/cold.md", "docs/hours.md"], "\(cold)")
            #expect(try kb.search("anything", topK: 10, mode: .dense).allSatisfy { $0.chunkID != hours.chunkID })

            // Disabled: in neither index.
            let returns = try #require(try kb.search("returns free", topK: 1, mode: .bm25).first)
            _ = try kb.setChunkEnabled(returns.chunkID, enabled: false)
            #expect(try kb.search("returns", topK: 10, mode: .dense).allSatisfy { $0.chunkID != returns.chunkID })
            #expect(try kb.search("returns free", topK: 10, mode: .bm25).allSatisfy { $0.chunkID != returns.chunkID })

            // The embedder fails: the edit is refused and nothing changed.
            failing.withLock { $0 = true }
            let generation = kb.record.generation
            let error = thrownWendaoError { _ = try kb.editChunk(edited.id, text: "Insurance costs two percent.") }
            #expect(error != nil)
            failing.withLock { $0 = false }
            #expect(try kb.chunk(edited.id).text == "Cold parcels are kept in the depot's cold room.")
            #expect(try kb.search("insurance two percent", topK: 5, mode: .bm25).allSatisfy { $0.chunkID != edited.id })
            #expect(try kb.search("cold room", topK: 1, mode: .bm25).first?.chunkID == edited.id)
            #expect(try kb.search("cold", topK: 2, mode: .dense).contains { $0.chunkID == edited.id })
            #expect(kb.record.generation == generation)
            #expect(try kb.doctor().ok)
        }
        // A fresh process sees the same: the saved vector file holds the edit.
        try await offConcurrencyPool {
            let kb = try RemoteEmbedderTests.open(scratch, configuration, gateway: gateway)
            #expect(try kb.search("cold", topK: 2, mode: .dense).map(\.document).contains("docs/hours.md"))
        }
        await gateway.shutdown()
        await server.shutdown()
    }
}
