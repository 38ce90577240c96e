import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG
import WendaoServer
import WendaoTestSupport

// `local:` models in the server, without a working runtime: listed by /v1/models once pulled (for
// administrators), refused with the pull command when not pulled — as a setting (400) and as a model to
// answer with (404) — and never asked for a key.

private let adminKey = "admin-key-local-0123456789"

private func auth(_ key: String) -> HTTPFields { [.authorization: "Bearer \(key)", .contentType: "application/json"] }

private func object(_ r: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:]
}

@Suite struct LocalModelServerTests {
    /// A server over `scratch/data` whose models folder is `scratch/models`, with knowledge base "kb".
    func server(_ scratch: ScratchDirectory) throws -> (WendaoServer, read: String) {
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        _ = try lib.create("kb")
        _ = try lib.open("kb").ingest([
            try scratch.write("src/track.md", "# Tracking\n\nUse the waybill number.\n").path
        ])
        let read = try lib.createAPIKey(knowledgeBases: ["kb"], scope: .read).key
        var c = ServerConfiguration(dataDirectory: data)
        c.host = "127.0.0.1"
        c.port = 0
        c.adminKey = Secret(adminKey)
        c.environment = ["WENDAO_MODELS": scratch.child("models").path]
        return (try WendaoServer(configuration: c, logger: Logger(label: "test.local")), read)
    }

    /// Puts a file of SmolLM2's size (zeros) where a pull would.
    func fakePull(_ scratch: ScratchDirectory) throws {
        let url = scratch.child("models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: url.path, contents: nil))
        let h = try FileHandle(forWritingTo: url)
        try h.truncate(atOffset: 98_362_432)
        try h.close()
    }

    @Test("/v1/models lists pulled local models to administrators only")
    func modelsList() async throws {
        let scratch = try ScratchDirectory("local-server")
        defer { scratch.remove() }
        let (srv, read) = try server(scratch)
        try await srv.application().test(.router) { client in
            func ids(_ key: String) async throws -> [String] {
                let r = try await client.execute(uri: "/v1/models", method: .get, headers: auth(key))
                return (object(r)["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            }
            #expect(try await ids(adminKey) == ["kb:kb"])
            try fakePull(scratch)
            #expect(try await ids(adminKey) == ["kb:kb", "local:smollm2-135m"])
            #expect(try await ids(read) == ["kb:kb"])
        }
        await srv.shutdown()
    }

    @Test("A local model not pulled: a 400 as a setting, a 404 as a model to answer with, naming the pull command")
    func notPulled() async throws {
        let scratch = try ScratchDirectory("local-server")
        defer { scratch.remove() }
        let (srv, _) = try server(scratch)
        let pull = "wendao models pull smollm2-135m"
        try await srv.application().test(.router) { client in
            let patch = try await client.execute(
                uri: "/api/v1/kbs/kb", method: .patch, headers: auth(adminKey),
                body: ByteBuffer(string: #"{"model":"local:smollm2-135m"}"#))
            #expect(patch.status == .badRequest)
            #expect(String(buffer: patch.body).contains(pull))
            let ask = try await client.execute(
                uri: "/api/v1/kbs/kb/ask", method: .post, headers: auth(adminKey),
                body: ByteBuffer(string: #"{"question":"How do I track my parcel?","model":"local:smollm2-135m"}"#))
            #expect(ask.status == .notFound)
            #expect(String(buffer: ask.body).contains(pull))
            let chat = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: auth(adminKey),
                body: ByteBuffer(
                    string: #"{"model":"local:smollm2-135m","messages":[{"role":"user","content":"hi"}]}"#))
            #expect(chat.status == .notFound)
            #expect(String(buffer: chat.body).contains(pull))
            #expect(!String(buffer: chat.body).contains("API key"))
            // Pulled, the setting is accepted.
            try fakePull(scratch)
            let again = try await client.execute(
                uri: "/api/v1/kbs/kb", method: .patch, headers: auth(adminKey),
                body: ByteBuffer(string: #"{"model":"local:smollm2-135m"}"#))
            #expect(again.status == .ok, "\(String(buffer: again.body))")
        }
        await srv.shutdown()
    }

    @Test("A pulled local model that cannot load fails before the stream starts, with the reason")
    func loadFailsBeforeStreaming() async throws {
        let scratch = try ScratchDirectory("local-server")
        defer { scratch.remove() }
        let (srv, _) = try server(scratch)
        try fakePull(scratch)  // zeros: not a GGUF file
        try await srv.application().test(.router) { client in
            for stream in [false, true] {
                let ask = try await client.execute(
                    uri: "/api/v1/kbs/kb/ask", method: .post, headers: auth(adminKey),
                    body: ByteBuffer(
                        string:
                            #"{"question":"How do I track my parcel?","model":"local:smollm2-135m","stream":\#(stream)}"#
                    ))
                #expect(ask.status == .internalServerError)
                #expect(String(buffer: ask.body).contains("local:smollm2-135m cannot be loaded"))
                #expect(String(buffer: ask.body).contains("not a GGUF file"))
            }
            let chat = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: auth(adminKey),
                body: ByteBuffer(
                    string: #"{"model":"local:smollm2-135m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
                ))
            #expect(chat.status == .internalServerError)
        }
        await srv.shutdown()
    }
}
