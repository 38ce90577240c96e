// End-to-end tests of local models through the built `wendao` binary: chat, ask on the sample, kb set,
// WENDAO_MODEL, demo, eval answers and serve. They need SmolLM2-135M pulled into the default models folder
// (`wendao models pull smollm2-135m`, which scripts/test.sh does before `swift test`).
import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import Testing
import WendaoTestSupport

@Suite(.serialized) struct LocalModelEndToEndTests {
    /// The environment of the real models folder (the runs must find the pulled model).
    let env: [String: String] = [:]

    @Test("chat local:smollm2-135m streams a reply, with a usage line at no cost and no key")
    func chat() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let r = try await f.runAsync(
            ["chat", "local:smollm2-135m", "Say hello in one short sentence."], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        #expect(r.stderr.contains("no cost") && !r.stderr.contains("API key"))
        let json = try await f.runAsync(
            ["chat", "local:smollm2-135m", "Say hello.", "--max-tokens", "16", "--json"], environment: env)
        #expect(json.status == 0, "\(json.stderr)")
        let o = try json.json()
        #expect(o["model"] as? String == "local:smollm2-135m")
        let usage = try #require(o["usage"] as? [String: Any])
        #expect((usage["prompt_tokens"] as? Int ?? 0) > 0 && (usage["completion_tokens"] as? Int ?? 0) > 0)
        #expect((usage["completion_tokens"] as? Int ?? 99) <= 16)
        #expect(usage["cost"] as? Double == 0)
    }

    @Test(
        "ask --model local:smollm2-135m on the sample: a cited answer, and a refusal for what the documents do not say")
    func askSample() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let samples = repositoryRoot.appendingPathComponent("Samples/logistics").path
        #expect(
            try await f.runAsync(
                ["ingest", "--kb", "logistics", "--create", samples, "--exclude", "eval*"], environment: env
            )
            .status == 0)
        let r = try await f.runAsync(
            ["ask", "--kb", "logistics", "--model", "local:smollm2-135m", "How do I track my parcel?", "--json"],
            environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try r.json()
        #expect(o["model"] as? String == "local:smollm2-135m")
        let answer = o["answer"] as? String ?? ""
        #expect(!answer.isEmpty)
        // A valid citation: the answer cites at least one source, every marker names a source it was
        // given, and none was refused. Under the answer guard (on for local models) that holds whether
        // the model's sentences were shown or the extractive answer replaced them.
        let sources = try #require(o["sources"] as? [[String: Any]])
        #expect(!sources.isEmpty)
        let citations = try #require(o["citations"] as? [[String: Any]])
        #expect(!citations.isEmpty)
        #expect((o["invalid_citations"] as? [Int] ?? [0]).isEmpty)
        let offered = Set(sources.compactMap { $0["n"] as? Int })
        let markers = answer.matches(of: /\[(\d+)\]/).compactMap { Int($0.1) }
        #expect(!markers.isEmpty && markers.allSatisfy(offered.contains), "\(answer)")
        #expect(["model", "extractive"].contains(o["answered_by"] as? String ?? ""))
        // A question the documents cannot answer is refused, and the small model is not asked to guess.
        let refused = try await f.runAsync(
            ["ask", "--kb", "logistics", "--model", "local:smollm2-135m", "可以用 PayPal 付运费吗？", "--json"],
            environment: env)
        #expect(refused.status == 0, "\(refused.stderr)")
        let no = try refused.json()
        #expect(no["found"] as? Bool == false)
        #expect(no["answered_by"] as? String == "not_found")
        #expect(no["answer"] as? String == "知识库中没有找到答案。")
        #expect(no["model_calls"] as? Int == 0)
    }

    @Test("kb set --model local:NAME and WENDAO_MODEL make ask write with the local model")
    func settingsAndEnvironment() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let src = try f.writeFacts()
        #expect(try await f.run("ingest", "--kb", "facts", "--create", src).status == 0)
        #expect(
            try await f.runAsync(["kb", "set", "facts", "--model", "local:smollm2-135m"], environment: env).status == 0)
        let fromKB = try await f.runAsync(["ask", "--kb", "facts", "首重多少钱？", "--json"], environment: env)
        #expect(fromKB.status == 0, "\(fromKB.stderr)")
        #expect(try fromKB.json()["model"] as? String == "local:smollm2-135m")
        #expect(try await f.runAsync(["kb", "set", "facts", "--model", "none"], environment: env).status == 0)
        var withVariable = env
        withVariable["WENDAO_MODEL"] = "local:smollm2"
        let fromEnv = try await f.runAsync(["ask", "--kb", "facts", "首重多少钱？", "--json"], environment: withVariable)
        #expect(fromEnv.status == 0, "\(fromEnv.stderr)")
        #expect(try fromEnv.json()["model"] as? String == "local:smollm2-135m")
    }

    @Test("demo --model local:smollm2-135m writes the sample answers; eval answers --model scores them")
    func demoAndEval() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let samples = repositoryRoot.appendingPathComponent("Samples/logistics").path
        let demo = try await f.runAsync(
            ["demo", "--model", "local:smollm2-135m", "--samples", samples, "--json"], environment: env)
        #expect(demo.status == 0, "\(demo.stderr)")
        let answers = try #require(try demo.json()["answers"] as? [[String: Any]])
        #expect(answers.count == 8)
        #expect(answers.allSatisfy { $0["model"] as? String == "local:smollm2-135m" })
        #expect(answers.allSatisfy { !($0["answer"] as? String ?? "").isEmpty })
        // Three questions of the sample's evaluation set (all of it takes minutes on a small machine).
        let lines = try String(contentsOfFile: samples + "/eval.jsonl", encoding: .utf8).split(separator: "\n")
        let subset = f.scratch.child("eval3.jsonl")
        try lines.prefix(3).joined(separator: "\n").write(to: subset, atomically: true, encoding: .utf8)
        let eval = try await f.runAsync(
            ["eval", "answers", "--kb", "logistics", "--model", "local:smollm2-135m", "--json", subset.path],
            environment: env)
        #expect(eval.status == 0, "\(eval.stderr)")
        let report = try eval.json()
        #expect(report["model"] as? String == "local:smollm2-135m")
        #expect((report["questions"] as? Int ?? 0) > 0)
        #expect(report["usage"] is [String: Any])
    }

    @Test("wendao serve: /v1/chat/completions with model local:smollm2-135m, whole and streamed; one model shared")
    func serverCompletions() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let key = "admin-key-e2e-0123456789abcdef"
        let port = Int.random(in: 20_000..<40_000)
        let (p, out, err) = try WendaoCLI.start(
            ["serve", "--port", "\(port)", "--data", f.data], scratch: f.scratch,
            environment: env.merging(["WENDAO_ADMIN_KEY": key]) { $1 })
        defer { p.terminate() }
        var ready = false
        for _ in 0..<200 where !ready {
            try await Task.sleep(for: .milliseconds(100))
            var req = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/models")!)
            req.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
            if let (data, _) = try? await URLSession.shared.data(for: req) {
                ready = true
                let ids =
                    ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["data"] as? [[String: Any]]
                #expect(ids?.contains { $0["id"] as? String == "local:smollm2-135m" } == true)
            }
        }
        #expect(ready, "the server did not start")
        func complete(stream: Bool) async throws -> String {
            var req = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/chat/completions")!)
            req.httpMethod = "POST"
            req.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
            req.setValue("application/json", forHTTPHeaderField: "Content-Type")
            req.httpBody = Data(
                #"{"model":"local:smollm2-135m","max_tokens":16,"stream":\#(stream),"messages":[{"role":"user","content":"Hello"}]}"#
                    .utf8)
            let (data, response) = try await URLSession.shared.data(for: req)
            #expect((response as? HTTPURLResponse)?.statusCode == 200, "\(String(decoding: data, as: UTF8.self))")
            return String(decoding: data, as: UTF8.self)
        }
        // Two at once: both answered (queued on the one model), neither refused.
        async let a = complete(stream: false)
        async let b = complete(stream: true)
        let (whole, streamed) = try await (a, b)
        #expect(whole.contains("\"content\""))
        #expect(streamed.contains("data: ") && streamed.contains("[DONE]"))
        p.terminate()
        _ = WendaoCLI.finish(p, out, err)
    }
}
