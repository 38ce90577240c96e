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

// The model page's API (`/api/v1/llm/models`, `/api/v1/llm/inspect`) with the real SmolLM2-135M
// (pulled by `.ci/run` into ~/.cache/wendao/models, or into WENDAO_MODELS).

private let adminKey = "admin-key-inspect-0123456789"

private func auth(_ key: String) -> HTTPFields { [.authorization: "Bearer \(key)", .contentType: "application/json"] }

private func object(_ r: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:]
}

/// The pulled SmolLM2 file, or a failure naming where it was looked for.
private func smolLM2() throws -> String {
    let env = ProcessInfo.processInfo.environment
    let models =
        env["WENDAO_MODELS"].flatMap { $0.isEmpty ? nil : $0 }
        ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/wendao/models").path
    let path = models + "/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"
    guard FileManager.default.fileExists(atPath: path) else {
        throw WendaoError(.notFound, "SmolLM2-135M is not at \(path): run `wendao models pull smollm2-135m`")
    }
    return path
}

@Suite(.serialized) struct InspectRouteTests {
    @Test(
        "The model page's API: tokens, the rendered prompt and each step's candidates; refused to keys and for provider models"
    )
    func inspect() async throws {
        let scratch = try ScratchDirectory("inspect")
        defer { scratch.remove() }
        // The models folder the real model was pulled into (`…/smollm2-135m/FILE`).
        let models = URL(fileURLWithPath: try smolLM2()).deletingLastPathComponent().deletingLastPathComponent()
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        _ = try lib.create("kb")
        let read = try lib.createAPIKey(knowledgeBases: ["kb"], scope: .read).key
        var c = ServerConfiguration(dataDirectory: data)
        c.host = "127.0.0.1"
        c.port = 0
        c.adminKey = Secret(adminKey)
        c.environment = ["WENDAO_MODELS": models.path, "WENDAO_LLM_THREADS": "2"]
        let srv = try WendaoServer(configuration: c, logger: Logger(label: "test.inspect"))
        try await srv.application().test(.router) { client in
            let list = try await client.execute(uri: "/api/v1/llm/models", method: .get, headers: auth(adminKey))
            #expect(list.status == .ok)
            #expect((object(list)["models"] as? [String] ?? []).contains("local:smollm2-135m"))

            let text = "How do I track my parcel?"
            let r = try await client.execute(
                uri: "/api/v1/llm/inspect", method: .post, headers: auth(adminKey),
                body: ByteBuffer(
                    string: #"{"model":"local:smollm2-135m","text":"\#(text)","steps":6,"top":4,"temperature":0}"#))
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            let report = object(r)
            let tokens = report["text_tokens"] as? [[String: Any]] ?? []
            // Byte-level BPE: the pieces spell the text back.
            #expect(tokens.compactMap { $0["piece"] as? String }.joined() == text)
            #expect(tokens.count > 3 && tokens.count < text.count)
            let prompt = report["prompt"] as? String ?? ""
            #expect(prompt.contains(text) && prompt.contains("<|im_start|>user"))
            #expect((report["prompt_tokens"] as? Int ?? 0) > tokens.count)
            let steps = report["steps"] as? [[String: Any]] ?? []
            #expect(!steps.isEmpty && steps.count <= 6)
            for step in steps {
                let candidates = step["candidates"] as? [[String: Any]] ?? []
                let p = candidates.compactMap { $0["probability"] as? Double }
                #expect(candidates.count == 4)
                #expect(p == p.sorted(by: >) && p.allSatisfy { $0 >= 0 && $0 <= 1 })
                // Greedy: the chosen token is the most likely candidate.
                #expect((step["chosen"] as? [String: Any])?["id"] as? Int == candidates.first?["id"] as? Int)
            }
            #expect((report["kv_cache_mb"] as? Double ?? 0) > 0)

            // Not for API keys; not for a provider's model; bounds checked.
            let byKey = try await client.execute(
                uri: "/api/v1/llm/inspect", method: .post, headers: auth(read),
                body: ByteBuffer(string: #"{"model":"local:smollm2-135m","text":"hi"}"#))
            #expect(byKey.status == .notFound)
            let provider = try await client.execute(
                uri: "/api/v1/llm/inspect", method: .post, headers: auth(adminKey),
                body: ByteBuffer(string: #"{"model":"deepseek:deepseek-chat","text":"hi"}"#))
            #expect(provider.status == .badRequest)
            #expect(String(buffer: provider.body).contains("only a local model"))
            let tooMany = try await client.execute(
                uri: "/api/v1/llm/inspect", method: .post, headers: auth(adminKey),
                body: ByteBuffer(string: #"{"model":"local:smollm2-135m","text":"hi","steps":65}"#))
            #expect(tooMany.status == .badRequest)
            let empty = try await client.execute(
                uri: "/api/v1/llm/inspect", method: .post, headers: auth(adminKey),
                body: ByteBuffer(string: #"{"model":"local:smollm2-135m","text":""}"#))
            #expect(empty.status == .badRequest)
        }
        await srv.shutdown()
    }
}
