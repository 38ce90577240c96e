import Foundation
import Testing
import WendaoCore
import WendaoTestSupport

@Suite("wendao image … against a fake DashScope", .tags(.slow), .timeLimit(.minutes(3)))
struct ImageCLITests {
    func env(_ server: FakeProviderServer, _ data: String) throws -> [String: String] {
        let config = URL(fileURLWithPath: data).appendingPathComponent("config.yaml")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try """
        images:
          prices: { dashscope:wanx2.1-t2i-turbo: 0.14 }
          download: { allow: ["127.0.0.1/32"] }
          poll: { initial: 0.05, max: 0.1 }
        """.write(to: config, atomically: true, encoding: .utf8)
        return [
            "WENDAO_DASHSCOPE_BASE_URL": "http://127.0.0.1:\(server.port)/compatible-mode/v1",
            "DASHSCOPE_API_KEY": canaryKey,
        ]
    }

    @Test("generate --json names stored paths and SHA-256; list, show, tag, export, delete")
    func generateAndGallery() async throws {
        let fixture = try CLIFixture()
        let a = TestImages.png(width: 20, height: 20, seed: 1)
        let b = TestImages.png(width: 20, height: 20, seed: 2)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/a") { return pngResponse(a) }
            if req.path.hasPrefix("/r/b") { return pngResponse(b) }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task(
                "SUCCEEDED",
                #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"},{"url":"http://127.0.0.1:\#(port)/r/b.png"}]"#
            )
        }
        defer { Task { await server.shutdown() } }
        let environment = try env(server, fixture.data)
        let r = try await fixture.runAsync(
            [
                "image", "generate", "白色背景上的真丝连衣裙", "--model", "dashscope:wanx2.1-t2i-turbo", "--size", "1024*1024",
                "--n", "2", "--tag", "夏季", "--json",
            ], environment: environment)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try r.json()
        #expect(json["status"] as? String == "succeeded")
        let files = try #require(json["files"] as? [[String: Any]])
        #expect(files.count == 2)
        #expect(files.first?["sha256"] as? String == TestImages.sha(a))
        let path = try #require(files.first?["path"] as? String)
        #expect(FileManager.default.contents(atPath: path) == a)
        #expect(!r.stdout.contains(canaryKey) && !r.stderr.contains(canaryKey))
        let id = try #require(json["id"] as? Int)

        let list = try await fixture.runAsync(["image", "list", "--query", "连衣裙", "--json"], environment: [:])
        #expect((try list.json()["total"] as? Int) == 1)
        let show = try await fixture.runAsync(["image", "show", "\(id)"], environment: [:])
        #expect(show.stdout.contains("sha256:\(TestImages.sha(b))"))
        let tag = try await fixture.runAsync(["image", "tag", "\(id)", "电商", "--json"], environment: [:])
        #expect((try tag.json()["tags"] as? [String])?.sorted() == ["夏季", "电商"].sorted())
        let out = fixture.scratch.child("export").path
        let export = try await fixture.runAsync(["image", "export", out, "--tag", "电商", "--json"], environment: [:])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/manifest.json"))
        #expect(FileManager.default.contents(atPath: out + "/image-\(id)-2.png") == b)
        let share = try await fixture.runAsync(["image", "share", "\(id)", "--json"], environment: [:])
        #expect((try share.json()["path"] as? String)?.hasPrefix("/i/") == true)
        let revoke = try await fixture.runAsync(["image", "share", "\(id)", "--revoke", "--json"], environment: [:])
        #expect(try revoke.json()["revoked"] as? Int == 1)
        let del = try await fixture.runAsync(["image", "delete", "\(id)"], environment: [:])
        #expect(del.status == 0)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("A restart mid-task resumes polling: the process is killed while RUNNING, `image resume` finishes it")
    func restartResumes() async throws {
        let fixture = try CLIFixture()
        let a = TestImages.png(width: 20, height: 20, seed: 3)
        let done = Switch()
        let polls = Counter()
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(a) }
            _ = polls.next()
            guard done.isOn else { return task("RUNNING") }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task("SUCCEEDED", #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}]"#)
        }
        defer { Task { await server.shutdown() } }
        let environment = try env(server, fixture.data)
        let (p, out, err) = try WendaoCLI.start(
            ["image", "generate", "保温杯", "--json", "--data", fixture.data], scratch: fixture.scratch,
            environment: environment)
        for _ in 0..<600 where polls.current < 2 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(polls.current >= 2)
        kill(p.processIdentifier, SIGKILL)
        _ = await WendaoCLI.finishAsync(p, out, err)
        let mid = try await fixture.runAsync(["image", "list", "--json"], environment: [:])
        let record = try #require((try mid.json()["records"] as? [[String: Any]])?.first)
        #expect(record["status"] as? String == "running")
        #expect(record["task_id"] as? String == "t-1")
        done.set(true)
        let resumed = try await fixture.runAsync(["image", "resume", "--json"], environment: environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let records = try #require(try resumed.json()["records"] as? [[String: Any]])
        #expect(records.first?["status"] as? String == "succeeded")
        #expect((records.first?["files"] as? [[String: Any]])?.first?["sha256"] as? String == TestImages.sha(a))
    }

    @Test("Usage errors exit 2 with a clear message: 100,000-character prompt, bad size, bad model")
    func usage() async throws {
        let fixture = try CLIFixture()
        let server = try await FakeProviderServer.start { _, _ in task("PENDING") }
        defer { Task { await server.shutdown() } }
        let environment = try env(server, fixture.data)
        let long = String(repeating: "a", count: 100_000)
        let r1 = try await fixture.runAsync(["image", "generate", long], environment: environment)
        #expect(r1.status == 2)
        #expect(r1.stderr.contains("100,000 characters"))
        let r2 = try await fixture.runAsync(
            ["image", "generate", "x", "--size", "huge"], environment: environment)
        #expect(r2.status == 2)
        let r3 = try await fixture.runAsync(["image", "generate", "x", "--model", "nocolon"], environment: environment)
        #expect(r3.status == 2 && r3.stderr.contains("provider:model"))
        #expect(server.requests.isEmpty)
    }
}

@Suite("wendao image batch", .tags(.slow), .timeLimit(.minutes(3)))
struct ImageBatchCLITests {
    @Test("A product CSV in, tagged records out; the daily cap stops it at a row; the next run resumes")
    func batchResumes() async throws {
        let fixture = try CLIFixture()
        let a = TestImages.png(width: 20, height: 20, seed: 8)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(a) }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task("SUCCEEDED", #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}]"#)
        }
        defer { Task { await server.shutdown() } }
        try FileManager.default.createDirectory(atPath: fixture.data, withIntermediateDirectories: true)
        let config = URL(fileURLWithPath: fixture.data).appendingPathComponent("config.yaml")
        func writeConfig(cap: Double) throws {
            try """
            images:
              daily_cap: \(cap)
              prices: { dashscope:wanx2.1-t2i-turbo: 0.5 }
              download: { allow: ["127.0.0.1/32"] }
              poll: { initial: 0.05, max: 0.1 }
            """.write(to: config, atomically: true, encoding: .utf8)
        }
        try writeConfig(cap: 1)
        let csv = try fixture.scratch.write(
            "products.csv",
            "\u{FEFF}name,description,scene\n保温杯,\"不锈钢, 500ml\",\n真丝连衣裙,白色,海边度假\n月饼礼盒,双黄莲蓉,中秋节\n")
        let environment = [
            "WENDAO_DASHSCOPE_BASE_URL": "http://127.0.0.1:\(server.port)/compatible-mode/v1",
            "DASHSCOPE_API_KEY": canaryKey,
        ]
        let first = try await fixture.runAsync(
            ["image", "batch", csv.path, "--concurrency", "1", "--json"], environment: environment)
        #expect(first.status == 1)
        let report = try first.json()
        #expect((report["made"] as? [[String: Any]])?.count == 2)
        #expect(report["stopped_at"] as? Int == 3)
        #expect((report["stop_reason"] as? String)?.contains("daily image spending cap") == true)
        let prompts = server.requests.filter { $0.path.hasSuffix("/image-synthesis") }.compactMap {
            ($0.jsonObject()?["input"] as? [String: Any])?["prompt"] as? String
        }
        #expect(prompts.first?.contains("纯白背景") == true)
        #expect(prompts.first?.contains("不锈钢, 500ml") == true)
        #expect(prompts.dropFirst().first?.contains("海边度假") == true)
        try writeConfig(cap: 10)
        let second = try await fixture.runAsync(
            ["image", "batch", csv.path, "--concurrency", "1", "--json"], environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        let again = try second.json()
        #expect(again["skipped"] as? Int == 2)
        #expect((again["made"] as? [[String: Any]])?.map { $0["row"] as? Int } == [3])
        let list = try await fixture.runAsync(["image", "list", "--tag", "batch:products", "--json"], environment: [:])
        #expect(try list.json()["total"] as? Int == 3)
    }
}
