import Foundation
import Testing
import WendaoTestSupport

/// `local:` models at the command line, without a working runtime: listing, pulling names, and every
/// place a model is named refusing a model that is not pulled (or a missing file) with the command to
/// run — and never asking for a key.
@Suite struct LocalModelsCLITests {
    /// A models folder of the fixture's own (nothing pulled).
    func models(_ f: CLIFixture) -> [String: String] { ["WENDAO_MODELS": f.scratch.child("models").path] }

    /// Puts a file of SmolLM2's size (zeros: not a model) where `models pull smollm2-135m` would.
    func fakePull(_ f: CLIFixture) throws -> URL {
        let url = f.scratch.child("models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: url.path, contents: nil))
        let h = try FileHandle(forWritingTo: url)
        try h.truncate(atOffset: 98_362_432)
        try h.close()
        return url
    }

    @Test("models list shows the local chat models beside the embedders: pulled or not, size, licence")
    func modelsList() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let r = try await f.runAsync(["models", "list", "--json"], environment: models(f))
        #expect(r.status == 0, "\(r.stderr)")
        let local = try #require(try r.json()["local_models"] as? [[String: Any]])
        let smol = try #require(local.first { $0["name"] as? String == "smollm2-135m" })
        #expect(smol["model"] as? String == "local:smollm2-135m")
        #expect(smol["pulled"] as? Bool == false && smol["path"] == nil)
        #expect(smol["size"] as? Int == 98_362_432 && smol["licence"] as? String == "Apache-2.0")
        #expect((smol["memory"] as? Int ?? 0) > 98_362_432)
        #expect(local.contains { $0["name"] as? String == "qwen2.5-1.5b" })
        let embedders = try #require(try r.json()["local_embedders"] as? [[String: Any]])
        #expect(embedders.contains { $0["name"] as? String == "e5-small" })
        let plain = try await f.runAsync(["models", "list"], environment: models(f))
        #expect(plain.stdout.contains("Local chat models"))
        #expect(plain.stdout.contains("smollm2-135m") && plain.stdout.contains("not pulled"))
        #expect(plain.stdout.contains("local:/abs/path/model.gguf"))
        #expect(plain.stdout.contains("Local embedders"))

        let file = try fakePull(f)
        let pulled = try await f.runAsync(["models", "list", "--json"], environment: models(f))
        let row = try #require(
            (try pulled.json()["local_models"] as? [[String: Any]])?.first { $0["name"] as? String == "smollm2-135m" })
        #expect(row["pulled"] as? Bool == true && row["path"] as? String == file.path)
    }

    @Test("A model not pulled is a clear error naming the pull command, for chat, ask, WENDAO_MODEL and kb set")
    func notPulled() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let pull = "wendao models pull smollm2-135m"
        let chat = try await f.runAsync(["chat", "local:smollm2-135m", "hi", "--json"], environment: models(f))
        #expect(chat.status == 1)
        let e = try #require(try chat.json()["error"] as? [String: Any])
        #expect(e["code"] as? String == "not_found" && (e["message"] as? String)?.contains(pull) == true)

        let src = try f.writeFacts()
        #expect(try await f.run("ingest", "--kb", "facts", "--create", src).status == 0)
        let ask = try await f.runAsync(
            ["ask", "--kb", "facts", "--model", "local:smollm2-135m", "首重多少钱？"], environment: models(f))
        #expect(ask.status == 1 && ask.stderr.contains(pull))
        var env = models(f)
        env["WENDAO_MODEL"] = "local:smollm2"
        let fromEnv = try await f.runAsync(["ask", "--kb", "facts", "首重多少钱？"], environment: env)
        #expect(fromEnv.status == 1 && fromEnv.stderr.contains(pull))
        #expect(fromEnv.stderr.contains("from WENDAO_MODEL"))
        let set = try await f.runAsync(["kb", "set", "facts", "--model", "local:smollm2-135m"], environment: models(f))
        #expect(set.status != 0 && set.stderr.contains(pull))
        let unknown = try await f.runAsync(["kb", "set", "facts", "--model", "local:gpt-9"], environment: models(f))
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown local model 'gpt-9'"))
        let demo = try await f.runAsync(
            ["demo", "--model", "local:smollm2-135m", "--samples", f.scratch.child("src").path], environment: models(f))
        #expect(demo.status == 1 && demo.stderr.contains(pull))
        let eval = try await f.runAsync(
            ["eval", "answers", "--kb", "facts", "--model", "local:smollm2-135m", f.scratch.child("q.jsonl").path],
            environment: models(f))
        #expect(eval.status == 1 && eval.stderr.contains(pull))
        // None of them asked for a key.
        for r in [chat, ask, fromEnv, set, demo, eval] { #expect(!r.stderr.contains("API key"), "\(r.stderr)") }
    }

    @Test("Once pulled, kb set --model local:NAME is accepted and shown; local:/path needs the file")
    func pulledAndPaths() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        _ = try fakePull(f)
        let src = try f.writeFacts()
        #expect(try await f.run("ingest", "--kb", "facts", "--create", src).status == 0)
        let set = try await f.runAsync(
            ["kb", "set", "facts", "--model", "local:smollm2-135m", "--json"], environment: models(f))
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout.contains("local:smollm2-135m"))
        let missing = try await f.runAsync(
            ["ask", "--kb", "facts", "--model", "local:/no/such/model.gguf", "首重多少钱？"], environment: models(f))
        #expect(missing.status == 1 && missing.stderr.contains("no such file"))
        // A local model named as an embedder is turned away with what to do instead.
        let embedder = try await f.runAsync(
            ["kb", "set", "facts", "--embedder", "local:smollm2-135m"], environment: models(f))
        #expect(embedder.status == 2 && embedder.stderr.contains("is a chat model"))
        // The file there is no model: the check before loading says so, naming no key.
        let chat = try await f.runAsync(["chat", "local:smollm2-135m", "hi"], environment: models(f))
        #expect(chat.status == 1 && chat.stderr.contains("not a GGUF file"), "\(chat.stderr)")
    }

    @Test("models pull of an unknown name lists the embedders and the chat models")
    func pullUnknown() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let r = try await f.runAsync(["models", "pull", "gpt-9"], environment: models(f))
        #expect(r.status == 2)
        #expect(r.stderr.contains("e5-small") && r.stderr.contains("smollm2-135m") && r.stderr.contains("qwen2.5-1.5b"))
    }
}
