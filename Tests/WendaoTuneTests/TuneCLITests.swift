import Foundation
import Testing
import WendaoTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `scripts/fake_openai_server.py` (the deterministic fake teacher) on a free port.
final class FakeTeacherServer {
    let process = Process()
    let port: Int

    init(delayMs: Int = 0) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/fake_openai_server.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "0"]
        var env = ProcessInfo.processInfo.environment
        env["FAKE_DELAY_MS"] = String(delayMs)
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        var line = Data()
        while true {
            let byte = pipe.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0A]) { break }
            line.append(byte)
        }
        port = Int(String(decoding: line, as: UTF8.self)) ?? 0
    }

    var environment: [String: String] { ["OPENAI_BASE_URL": "http://127.0.0.1:\(port)/v1"] }

    func stop() {
        // SIGKILL: a test runner may start children with SIGTERM ignored.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// The studio end to end through the CLI, with the fake teacher.
@Suite(.serialized) struct TuneCLITests {
    func knowledgeBase(_ f: CLIFixture) async throws {
        let docs = try f.scratch.makeFolder("docs")
        _ = docs
        try f.scratch.write(
            "docs/pricing.md",
            "# 价格说明\n\n## 首重与续重\n\n标准快递首重1公斤收费12元，续重每公斤收费3元。偏远地区每票另加5元。\n\n## 保价\n\n保价费率为声明价值的0.5%，最低收费1元。易碎品费率为1%，最低收费1元。\n"
        )
        try f.scratch.write(
            "docs/coldchain.md",
            "# 冷链服务\n\n冷链运输全程温度保持在2到8摄氏度之间，超温会自动报警并通知客户。\n\n## 办理流程\n\n办理步骤：1. 在线下单选择冷链；2. 预约上门取件；3. 验货后封箱。\n"
        )
        try f.scratch.write(
            "docs/contact.md",
            "# 联系我们\n\n投诉请联系值班经理，手机13812345678，每天8点到22点有人接听。客服热线400-820-5566，邮箱service@xunda.example.com。\n"
        )
        try f.scratch.write(
            "docs/claims.md",
            "# 理赔\n\n未保价的包裹丢失，按实际损失赔付，最高不超过运费的5倍。保价包裹按声明价值赔付。理赔需在签收后7天内提出。\n"
        )
        try f.scratch.write(
            "docs/english.md",
            "# International shipping\n\nInternational parcels to Japan take 3 to 5 working days. Customs duties are paid by the receiver.\n"
        )
        try f.scratch.write("docs/broken.md", "# 故障段落\n\nTEACHER_MALFORMED 这一段让老师返回不是 JSON 的内容，用来检验错误处理。\n")
        let r = try await f.run("ingest", "--kb", "t", "--create", f.scratch.child("docs").path)
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test(
        "create (plan, generation, cleaning, splits, stats), show, list, export; a knowledge base without chunks",
        .timeLimit(.minutes(5)))
    func endToEnd() async throws {
        let server = try FakeTeacherServer()
        defer { server.stop() }
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        try await knowledgeBase(f)
        let env = server.environment
        func run(_ args: [String]) async throws -> RunResult {
            try await WendaoCLI.runAsync(args + ["--data", f.data], scratch: f.scratch, environment: env)
        }
        // No chunks: a clear error before any call.
        _ = try await f.run("kb", "create", "empty")
        let empty = try await run([
            "tune", "dataset", "create", "--kb", "empty", "--teacher", "openai:gpt-4o-mini", "--name", "x",
        ])
        #expect(empty.status == 2 && empty.stderr.contains("has no chunks"), "\(empty.stderr)")
        let badName = try await run([
            "tune", "dataset", "create", "--kb", "t", "--teacher", "openai:gpt-4o-mini", "--name", "../x",
        ])
        #expect(badName.status == 2 && badName.stderr.contains("invalid dataset name"))
        // The plan.
        let plan = try await run(
            [
                "tune", "dataset", "create", "--kb", "t", "--teacher", "openai:gpt-4o-mini", "--name", "ds",
                "--dry-run", "--json",
            ])
        let p = try plan.json()
        #expect((p["chunks"] as? Int ?? 0) >= 6 && (p["calls"] as? Int ?? 0) > 0)
        // The dataset.
        let made = try await run([
            "tune", "dataset", "create", "--kb", "t", "--teacher", "openai:gpt-4o-mini", "--name", "ds", "--json",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let body = try made.json()
        let stats = try #require(body["stats"] as? [String: Any])
        let generation = try #require(body["generation"] as? [String: Any])
        #expect((stats["kept"] as? Int ?? 0) >= 10)
        #expect(stats["documents_in_two_splits"] as? Int == 0)
        #expect((generation["failures"] as? [String: Int])?["malformed JSON from the teacher"] == 1)
        let cleaning = try #require(stats["cleaning"] as? [String: Any])
        #expect((cleaning["masked"] as? [String: Int])?["phone"] ?? 0 >= 1, "\(cleaning)")
        let folder = try #require(body["folder"] as? String)
        for file in [
            "manifest.json", "chunks.jsonl", "raw.jsonl", "examples.jsonl", "report.json", "stats.json", "stats.html",
        ] {
            #expect(FileManager.default.fileExists(atPath: folder + "/" + file), "\(file)")
        }
        // Again without --resume: refused; with it: nothing to do, no call.
        let again = try await run([
            "tune", "dataset", "create", "--kb", "t", "--teacher", "openai:gpt-4o-mini", "--name", "ds",
        ])
        #expect(again.status == 1 && again.stderr.contains("--resume"))
        let resumed = try await run(
            ["tune", "dataset", "create", "--kb", "t", "--teacher", "openai:gpt-4o-mini", "--name", "ds", "--resume"])
        #expect(resumed.status == 0 && resumed.stderr.contains("teacher calls: 0 made"), "\(resumed.stderr)")
        // Show, list, clean with other settings.
        let show = try await run(["tune", "dataset", "show", "ds"])
        #expect(show.status == 0 && show.stdout.contains("examples kept"))
        let list = try await run(["tune", "dataset", "list", "--json"])
        #expect(list.stdout.contains("\"ds\""))
        let evalSet = try f.scratch.write("eval.jsonl", "{\"question\": \"「标准快递首重1公斤收费12元」具体是怎么规定的？\"}\n")
        let clean = try await run(["tune", "dataset", "clean", "ds", "--eval-set", evalSet.path, "--json"])
        let c = try clean.json()
        #expect(
            ((c["cleaning"] as? [String: Any])?["dropped"] as? [String: Int])?["contaminated"] ?? 0 >= 1,
            "\(clean.stdout)")
        // Exports, read back.
        for format in ["openai", "llamafactory", "alpaca", "sharegpt", "swift", "dashscope", "csv"] {
            let out = f.scratch.child("export-\(format)").path
            let e = try await run(["tune", "dataset", "export", "ds", "--format", format, "--out", out])
            #expect(e.status == 0 && e.stderr.contains("checked:"), "\(format): \(e.stderr)")
        }
        let bad = try await run(["tune", "dataset", "export", "ds", "--format", "xlsx", "--out", "/tmp/x"])
        #expect(bad.status == 2 && bad.stderr.contains("unknown format"))
        // Fine-tuning jobs against the fake API: queued → running → succeeded, a failing one, a cancelled one.
        let submit = try await run([
            "tune", "submit", "--base", "openai:gpt-4o-mini", "--dataset", "ds", "--suffix", "v1", "--json",
        ])
        #expect(submit.status == 0, "\(submit.stderr)")
        let job = try #require(try submit.json()["id"] as? String)
        var status = ""
        for _ in 0..<4 { status = try await run(["tune", "status", job]).stdout }
        #expect(
            status.contains("succeeded") && status.contains("tuned model: openai:ft:gpt-4o-mini:wendao:v1"), "\(status)"
        )
        let events = try await run(["tune", "events", job])
        #expect(events.stdout.contains("Job running") && events.stdout.contains("successfully completed"))
        let failing = try await run(["tune", "submit", "--base", "openai:fail-model", "--dataset", "ds", "--json"])
        let failingID = try #require(try failing.json()["id"] as? String)
        for _ in 0..<4 { status = try await run(["tune", "status", failingID]).stdout }
        #expect(status.contains("failed") && status.contains("loss became NaN"), "\(status)")
        let third = try await run(["tune", "submit", "--base", "openai:gpt-4o-mini", "--dataset", "ds", "--json"])
        let thirdID = try #require(try third.json()["id"] as? String)
        #expect(try await run(["tune", "cancel", thirdID]).stdout.contains("cancelled"))
        let jobs = try await run(["tune", "jobs", "--json"])
        #expect(jobs.stdout.contains(job) && jobs.stdout.contains(failingID))
        // A file the provider rejects: its message surfaced.
        _ = try await run([
            "tune", "dataset", "create", "--kb", "t", "--teacher", "openai:gpt-4o-mini", "--name", "REJECT_FILE",
        ])
        let rejected = try await run(["tune", "submit", "--base", "openai:gpt-4o-mini", "--dataset", "REJECT_FILE"])
        #expect(rejected.status == 1 && rejected.stderr.contains("no 'messages' key"), "\(rejected.stderr)")
        #expect(try await run(["tune", "dataset", "delete", "ds"]).status == 0)
    }

    @Test("Ctrl-C during generation, then --resume: finished, and no call paid twice", .timeLimit(.minutes(5)))
    func interruptAndResume() async throws {
        let server = try FakeTeacherServer(delayMs: 150)
        defer { server.stop() }
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        try await knowledgeBase(f)
        let args = [
            "tune", "dataset", "create", "--kb", "t", "--teacher", "openai:gpt-4o-mini", "--name", "ds",
            "--concurrency", "1",
            "--data", f.data,
        ]
        let (p, out, err) = try WendaoCLI.start(args, scratch: f.scratch, environment: server.environment)
        let raw = f.data + "/tune/datasets/ds/raw.jsonl"
        for _ in 0..<600 {
            let lines = (try? String(contentsOfFile: raw, encoding: .utf8))?.split(separator: "\n").count ?? 0
            if lines >= 1 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(p.processIdentifier, SIGINT)
        let first = await WendaoCLI.finishAsync(p, out, err)
        #expect(first.status == 130, "\(first.stderr)")
        #expect(first.stderr.contains("--resume"))
        let second = try await WendaoCLI.runAsync(
            args + ["--resume"], scratch: f.scratch, environment: server.environment)
        #expect(second.status == 0, "\(second.stderr)")
        // Every response in the cache is there once: no call was made twice.
        let cache = try String(contentsOfFile: f.data + "/tune/cache/responses.jsonl", encoding: .utf8)
        let keys = cache.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["key"] as? String
        }
        #expect(!keys.isEmpty && Set(keys).count == keys.count)
        let chunks = try String(contentsOfFile: raw, encoding: .utf8).split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["chunk"] as? Int
        }
        #expect(Set(chunks).count == chunks.count)
    }
}
