import Foundation
import Testing
import WendaoTestSupport

/// Fine-tuning jobs end to end through the CLI against `scripts/fake_openai_server.py`: the tuned model
/// answers `ask` once its job succeeded (the fake refuses a tuned model no job produced), `tune compare`
/// runs base and tuned through the evaluation workbench, and DashScope's native job API behind the same
/// commands.
@Suite(.serialized) struct TuneJobsTests {
    static let canary = "sk-tune-jobs-canary-0123456789"

    /// A fixture with knowledge base `t` and dataset `ds` made by the fake teacher; `run` runs the CLI with
    /// the fake server as OpenAI and DashScope.
    func fixture(_ server: FakeTeacherServer, _ f: CLIFixture) async throws -> (_ args: [String]) async throws
        -> RunResult
    {
        try await TuneCLITests().knowledgeBase(f)
        var env = server.environment
        env["OPENAI_API_KEY"] = Self.canary
        env["DASHSCOPE_API_KEY"] = Self.canary
        env["WENDAO_DASHSCOPE_BASE_URL"] = "http://127.0.0.1:\(server.port)/compatible-mode/v1"
        env["SILICONFLOW_API_KEY"] = Self.canary
        let data = f.data
        let scratch = f.scratch
        let run: (_ args: [String]) async throws -> RunResult = { args in
            let r = try await WendaoCLI.runAsync(args + ["--data", data], scratch: scratch, environment: env)
            #expect(!r.stdout.contains(Self.canary) && !r.stderr.contains(Self.canary), "the key leaked: \(args)")
            return r
        }
        let made = try await run([
            "tune", "dataset", "create", "--kb", "t", "--teacher", "openai:gpt-4o-mini", "--name", "ds",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        return run
    }

    @Test(
        "OpenAI: the tuned model is usable at once by ask, and tune compare runs base and tuned on the test split",
        .timeLimit(.minutes(5)))
    func tunedModelAndCompare() async throws {
        let server = try FakeTeacherServer()
        defer { server.stop() }
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let run = try await fixture(server, f)
        let tunedName = "openai:ft:gpt-4o-mini:wendao:v1"
        // Before any job: the fake provider does not know the tuned model.
        let early = try await run(["ask", "--kb", "t", "--model", tunedName, "冷链运输温度是多少？"])
        #expect(early.status != 0 && early.stderr.contains("does not exist"), "\(early.stderr)")

        let submit = try await run([
            "tune", "submit", "--base", "openai:gpt-4o-mini", "--dataset", "ds", "--suffix", "v1", "--json",
        ])
        #expect(submit.status == 0, "\(submit.stderr)")
        let job = try #require(try submit.json()["id"] as? String)
        let notYet = try await run(["tune", "compare", job])
        #expect(notYet.status != 0 && notYet.stderr.contains("has no tuned model yet"), "\(notYet.stderr)")
        var record: [String: Any] = [:]
        for _ in 0..<4 { record = try await run(["tune", "status", job, "--json"]).json() }
        #expect(record["status"] as? String == "succeeded")
        #expect(record["model"] as? String == tunedName)

        // The recorded name is a model ask takes at once.
        let asked = try await run(["ask", "--kb", "t", "--model", tunedName, "冷链运输温度是多少？"])
        #expect(asked.status == 0, "\(asked.stderr)")
        #expect(asked.stdout.contains("2到8摄氏度"), "\(asked.stdout)")

        // Base and tuned through the evaluation workbench, on the held-out split.
        let compared = try await run(["tune", "compare", job, "--json"])
        #expect(compared.status == 0, "\(compared.stderr)")
        let report = try compared.json()
        let variants = try #require(report["variants"] as? [[String: Any]])
        #expect(variants.compactMap { $0["name"] as? String } == ["base", "tuned"])
        #expect(variants.compactMap { $0["model"] as? String } == ["openai:gpt-4o-mini", tunedName])
        for v in variants {
            #expect(v["errors"] as? Int == 0, "\(v)")
            #expect((v["answered"] as? Int ?? 0) > 0, "\(v)")
            #expect((v["metrics"] as? [String: Double])?["accuracy"] != nil, "\(v)")
        }
        #expect(
            (report["comparisons"] as? [[String: Any]])?.contains {
                $0["a"] as? String == "base" && $0["b"] as? String == "tuned"
            } == true,
            "\(report["comparisons"] ?? "none")")
        let suite = try String(
            contentsOfFile: f.data + "/tune/datasets/ds/compare/\(job)/suite.yaml", encoding: .utf8)
        #expect(suite.contains("export/test-eval.jsonl") && suite.contains(tunedName))
        let unknown = try await run(["tune", "compare", "ftjob-nope"])
        #expect(unknown.status != 0 && unknown.stderr.contains("no fine-tuning job 'ftjob-nope'"))
    }

    @Test(
        "DashScope: upload, create, status to succeeded, logs, a failure with its reason, cancel, a rejected file; SiliconFlow says console",
        .timeLimit(.minutes(5)))
    func dashScope() async throws {
        let server = try FakeTeacherServer()
        defer { server.stop() }
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let run = try await fixture(server, f)
        let submit = try await run([
            "tune", "submit", "--base", "dashscope:qwen-turbo", "--dataset", "ds", "--suffix", "v1", "--epochs", "2",
            "--json",
        ])
        #expect(submit.status == 0, "\(submit.stderr)")
        #expect(submit.stderr.contains("uploaded train.jsonl: ds-file-"), "\(submit.stderr)")
        let created = try submit.json()
        let job = try #require(created["id"] as? String)
        #expect(job.hasPrefix("ft-"))
        #expect(created["status"] as? String == "validating_files")
        #expect(
            FileManager.default.fileExists(atPath: f.data + "/tune/datasets/ds/exports/dashscope/train.jsonl"),
            "DashScope gets its own export format")
        var statuses: [String] = []
        var record: [String: Any] = [:]
        for _ in 0..<4 {
            record = try await run(["tune", "status", job, "--json"]).json()
            statuses.append(record["status"] as? String ?? "")
        }
        #expect(statuses == ["queued", "running", "succeeded", "succeeded"])
        let tuned = try #require(record["model"] as? String)
        #expect(tuned == "dashscope:qwen-turbo-v1-\(job)")
        let text = try await run(["tune", "status", job])
        #expect(text.stdout.contains("deployed"), "\(text.stdout)")
        let events = try await run(["tune", "events", job])
        #expect(
            events.stdout.contains("job running") && events.stdout.contains("Fine-tune succeeded!"), "\(events.stdout)")
        // The tuned model answers through DashScope's OpenAI-compatible chat.
        let asked = try await run(["ask", "--kb", "t", "--model", tuned, "冷链运输温度是多少？"])
        #expect(asked.status == 0, "\(asked.stderr)")

        // A job that fails: status says why.
        let failing = try await run(["tune", "submit", "--base", "dashscope:qwen-fail", "--dataset", "ds", "--json"])
        let failingID = try #require(try failing.json()["id"] as? String)
        var line = ""
        for _ in 0..<4 { line = try await run(["tune", "status", failingID]).stdout }
        #expect(line.contains("failed") && line.contains("the loss did not converge (TrainingFailed)"), "\(line)")
        let errorLog = try await run(["tune", "events", failingID])
        #expect(errorLog.stdout.contains("\terror\t"), "\(errorLog.stdout)")

        // Cancel: the job is asked again after the cancel.
        let third = try await run(["tune", "submit", "--base", "dashscope:qwen-turbo", "--dataset", "ds", "--json"])
        let thirdID = try #require(try third.json()["id"] as? String)
        let cancelled = try await run(["tune", "cancel", thirdID])
        #expect(cancelled.status == 0 && cancelled.stdout.contains("cancelled"), "\(cancelled.stderr)")
        let again = try await run(["tune", "cancel", thirdID])
        #expect(again.status != 0 && again.stderr.contains("cannot be canceled"), "\(again.stderr)")

        // A file DashScope refuses: its message.
        _ = try await run([
            "tune", "dataset", "create", "--kb", "t", "--teacher", "openai:gpt-4o-mini", "--name", "REJECT_FILE",
        ])
        let rejected = try await run(["tune", "submit", "--base", "dashscope:qwen-turbo", "--dataset", "REJECT_FILE"])
        #expect(
            rejected.status != 0 && rejected.stderr.contains("must alternate user and assistant"), "\(rejected.stderr)")

        // SiliconFlow: no job API; the error says what to do.
        let silicon = try await run([
            "tune", "submit", "--base", "siliconflow:Qwen/Qwen2.5-7B-Instruct", "--dataset", "ds",
        ])
        #expect(silicon.status != 0 && silicon.stderr.contains("web console"), "\(silicon.stderr)")
        let jobs = try await run(["tune", "jobs", "--json"])
        #expect(jobs.stdout.contains(job) && jobs.stdout.contains(failingID) && jobs.stdout.contains(thirdID))
    }
}
