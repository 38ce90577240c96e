import Foundation
import Testing
import WendaoCore
import WendaoImages
import WendaoModels
import WendaoTestSupport

func pngResponse(_ data: Data) -> FakeResponse {
    FakeResponse(headers: [("Content-Type", "image/png"), ("Content-Length", "\(data.count)")], parts: [.data(data)])
}

func task(_ status: String, _ extra: String = "") -> FakeResponse {
    .json(#"{"request_id":"r1","output":{"task_id":"t-1","task_status":"\#(status)"\#(extra)}}"#)
}

@Suite("DashScope image tasks against a fake provider")
struct DashScopeTaskTests {
    @Test("PENDING → RUNNING → SUCCEEDED: results downloaded, stored by SHA-256, cost recorded")
    func succeeds() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let a = TestImages.png(width: 64, height: 48, seed: 1)
        let b = TestImages.png(width: 64, height: 48, seed: 2)
        let polls = Counter()
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/api/v1/tasks/") {
                switch polls.next() {
                case 0: return task("PENDING")
                case 1: return task("RUNNING")
                default:
                    return task(
                        "SUCCEEDED",
                        #","results":[{"url":"http://127.0.0.1:PORT/r/a.png?Expires=1&Signature=x","actual_prompt":"a dress"},{"url":"http://127.0.0.1:PORT/r/b.png"}],"task_metrics":{"TOTAL":2,"SUCCEEDED":2,"FAILED":0}"#
                            .replacingOccurrences(
                                of: "PORT", with: "\(req.header("host")?.split(separator: ":").last ?? "")"))
                }
            }
            if req.path.hasPrefix("/r/a.png") { return pngResponse(a) }
            if req.path.hasPrefix("/r/b.png") { return pngResponse(b) }
            return .text("no", status: 404)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { c in
            c.prices["dashscope:wanx2.1-t2i-turbo"] = 0.14
        }
        var r = GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "白色背景上的真丝连衣裙")
        r.count = 2
        r.size = ImageSize(parsing: "1024*1024")
        r.seed = 42
        let record = try await studio.generate(r)
        await studio.shutdown()
        #expect(record.status == .succeeded)
        #expect(record.files.count == 2)
        #expect(record.files.map(\.sha256) == [TestImages.sha(a), TestImages.sha(b)])
        #expect(record.files.allSatisfy { FileManager.default.contents(atPath: $0.path) != nil })
        #expect(record.files[0].path.hasPrefix(scratch.url.appendingPathComponent("images/files").path))
        #expect(record.files[0].sourceURL?.contains("Signature") == false)
        #expect(record.taskID == "t-1")
        #expect(abs((record.cost ?? 0) - 0.28) < 1e-9)
        #expect(record.actualPrompt == "a dress")
        #expect(record.seed == 42)
        let submit = try #require(server.requests.first)
        #expect(submit.header("X-DashScope-Async") == "enable")
        #expect(submit.header("Authorization") == "Bearer " + canaryKey)
        #expect(submit.path == "/api/v1/services/aigc/text2image/image-synthesis")
        let body = try #require(submit.jsonObject())
        #expect(body["model"] as? String == "wanx2.1-t2i-turbo")
        let params = try #require(body["parameters"] as? [String: Any])
        #expect(params["size"] as? String == "1024*1024")
        #expect(params["n"] as? Int == 2)
        #expect(params["seed"] as? Int == 42)
    }

    @Test("FAILED with DataInspectionFailed is recorded with the provider's code and costs nothing")
    func moderationFailure() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            return task(
                "FAILED", #","code":"DataInspectionFailed","message":"Input data may contain inappropriate content.""#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { $0.prices["dashscope:wanx2.1-t2i-turbo"] = 0.14 }
        let record = try await studio.generate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x"))
        await studio.shutdown()
        #expect(record.status == .failed)
        #expect(record.errorCode == "DataInspectionFailed")
        #expect(record.errorMessage?.contains("inappropriate") == true)
        #expect(record.cost == 0)
        #expect(try studio.gallery.spent(day: ImageGallery.day(Date())) == 0)
    }

    @Test("One of two results blocked by moderation: partial, the other stored and billed")
    func partialModeration() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let a = TestImages.png(width: 32, height: 32)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(a) }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task(
                "SUCCEEDED",
                #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"},{"code":"DataInspectionFailed","message":"Output data may contain inappropriate content."}]"#
            )
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { $0.prices["dashscope:wanx2.1-t2i-turbo"] = 0.1 }
        var r = GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x")
        r.count = 2
        let record = try await studio.generate(r)
        await studio.shutdown()
        #expect(record.status == .partial)
        #expect(record.files.count == 1)
        #expect(record.errorCode == "DataInspectionFailed")
        #expect(abs((record.cost ?? 0) - 0.1) < 1e-9)
    }

    @Test("UNKNOWN (an expired or wrong task id) ends the task as unknown")
    func unknownTask() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { req, _ in
            req.path.hasSuffix("/image-synthesis") ? task("PENDING") : task("UNKNOWN")
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server)
        let record = try await studio.generate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x"))
        await studio.shutdown()
        #expect(record.status == .unknown)
    }

    @Test(
        "Result URLs that answer 404, HTML, a slow stream, or redirect to a private address store nothing",
        arguments: ["404", "html", "slow", "redirect"])
    func badResults(kind: String) async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/api/v1/tasks/") {
                let port = req.header("host")?.split(separator: ":").last ?? ""
                return task("SUCCEEDED", #","results":[{"url":"http://127.0.0.1:\#(port)/r/x.jpg"}]"#)
            }
            switch kind {
            case "404": return .text("<html>gone</html>", status: 404)
            case "html": return .text("<!doctype html><html><body>login</body></html>", status: 200)
            case "slow":
                return FakeResponse(
                    headers: [("Content-Type", "image/png")],
                    parts: [.data(Data([0x89, 0x50])), .delay(.seconds(5)), .data(Data([0x4E]))])
            default:
                return FakeResponse(status: 302, headers: [("Location", "http://169.254.169.254/latest/meta-data")])
            }
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { $0.downloadTimeout = kind == "slow" ? 1 : 10 }
        let record = try await studio.generate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x"))
        await studio.shutdown()
        #expect(record.status == .failed)
        #expect(record.files.isEmpty)
        let message = record.errorMessage ?? ""
        switch kind {
        case "404": #expect(message.contains("404"))
        case "html": #expect(message.contains("HTML"))
        case "slow": #expect(message.contains("longer than"))
        default:
            #expect(
                message.contains("169.254.169.254") || message.lowercased().contains("refused")
                    || message.contains("metadata"))
        }
        #expect(!message.contains(canaryKey))
    }

    @Test("A provider returning 10,000 images for 1 asked: one kept, no flood of downloads")
    func floodOfResults() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let a = TestImages.png(width: 16, height: 16)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(a) }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            let results = (0..<10_000).map { #"{"url":"http://127.0.0.1:\#(port)/r/\#($0).png"}"# }.joined(
                separator: ",")
            return task("SUCCEEDED", #","results":[\#(results)]"#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server)
        let record = try await studio.generate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x"))
        await studio.shutdown()
        #expect(record.status == .succeeded)
        #expect(record.files.count == 1)
        #expect(server.requests.filter { $0.path.hasPrefix("/r/") }.count == 1)
        #expect(record.errorMessage?.contains("10000 images") == true)
    }

    @Test("A task that never finishes times out, keeps its estimate against the cap, and can be resumed")
    func neverFinishes() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let done = Switch()
        let a = TestImages.png(width: 16, height: 16)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(a) }
            guard done.isOn else { return task("RUNNING") }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task("SUCCEEDED", #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}]"#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { c in
            c.taskTimeout = 0.5
            c.prices["dashscope:wanx2.1-t2i-turbo"] = 0.2
        }
        let record = try await studio.generate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x"))
        #expect(record.status == .timedOut)
        #expect(record.errorMessage?.contains("wendao image resume \(record.id)") == true)
        #expect(abs(try studio.gallery.spent(day: ImageGallery.day(Date())) - 0.2) < 1e-9)
        done.set(true)
        let studio2 = try makeStudio(scratch, server: server) { $0.taskTimeout = 30 }
        let resumed = try await studio2.resume(record.id)
        await studio.shutdown()
        await studio2.shutdown()
        #expect(resumed.first?.status == .succeeded)
        #expect(resumed.first?.files.count == 1)
    }

    @Test("Refused before any request: 100,000-character prompt, --n 5, bad size, the daily cap")
    func refusedBeforeSpending() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { _, _ in task("PENDING") }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { c in
            c.prices["dashscope:wanx2.1-t2i-turbo"] = 0.14
            c.dailyCap = 0.2
        }
        let long = String(repeating: "字", count: 100_000)
        await #expect {
            try await studio.generate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: long))
        } throws: { ($0 as? WendaoError)?.message.contains("100,000 characters") == true }
        var many = GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x")
        many.count = 5
        await #expect { try await studio.generate(many) } throws: { ($0 as? WendaoError)?.code == .invalidArgument }
        var huge = GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x")
        huge.size = ImageSize(width: 20_000, height: 10_000)
        await #expect { try await studio.generate(huge) } throws: { ($0 as? WendaoError)?.code == .invalidArgument }
        var two = GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x")
        two.count = 2
        await #expect { try await studio.generate(two) } throws: { error in
            let e = error as? WendaoError
            return e?.code == .limitExceeded && e?.message.contains("daily image spending cap") == true
        }
        #expect(server.requests.isEmpty)
        await studio.shutdown()
    }

    @Test("Cap reached part-way through a batch: the next task is refused and says where")
    func capDuringBatch() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let a = TestImages.png(width: 16, height: 16)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(a) }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task("SUCCEEDED", #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}]"#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { c in
            c.prices["dashscope:wanx2.1-t2i-turbo"] = 0.4
            c.dailyCap = 1
        }
        var made = 0
        var refusal: WendaoError?
        for i in 0..<5 {
            do {
                _ = try await studio.generate(
                    GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "product \(i)"))
                made += 1
            } catch let e as WendaoError {
                refusal = e
                break
            }
        }
        await studio.shutdown()
        #expect(made == 2)
        #expect(refusal?.message.contains("0.80 of 1.00 CNY") == true)
    }

    @Test("A batch keeps `concurrency` rows in flight: tasks finish only once four were submitted")
    func batchRunsRowsConcurrently() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let a = TestImages.png(width: 16, height: 16)
        let submitted = Counter()
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") {
                _ = submitted.next()
                return task("PENDING")
            }
            if req.path.hasPrefix("/r/") { return pngResponse(a) }
            // A provider that finishes nothing until four tasks are queued: a batch making one row
            // at a time would wait here until its task's time limit.
            guard submitted.current >= 4 else { return task("RUNNING") }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task("SUCCEEDED", #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}]"#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { c in c.taskTimeout = 20 }
        let rows = (1...8).map { ProductRow(row: $0, name: "product \($0)", description: "", scene: "") }
        let report = try await studio.batch(
            rows, name: "conc", template: .white,
            base: GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: ""), concurrency: 4)
        await studio.shutdown()
        #expect(report.stoppedAt == nil)
        #expect(report.made.map(\.row) == Array(1...8))
        #expect(report.made.allSatisfy { $0.status == .succeeded })
        #expect(submitted.current == 8)
    }

    @Test("Tasks started at once cannot together pass the cap: the check is in the recording transaction")
    func capUnderConcurrency() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let a = TestImages.png(width: 16, height: 16)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(a) }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task("SUCCEEDED", #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}]"#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { c in
            c.prices["dashscope:wanx2.1-t2i-turbo"] = 0.5
            c.dailyCap = 1
        }
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<6 {
                group.addTask {
                    (try? await studio.generate(
                        GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "concurrent \(i)"))) != nil
                }
            }
            var made = 0
            for await ok in group where ok { made += 1 }
            return made
        }
        await studio.shutdown()
        #expect(outcomes == 2)
        #expect(abs(try studio.gallery.spent(day: ImageGallery.day(Date())) - 1) < 1e-9)
    }

    @Test("100 tasks in flight at once are polled without a thread each", .tags(.slow))
    func hundredTasks() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let a = TestImages.png(width: 16, height: 16)
        let polls = Counter()
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasPrefix("/r/") { return pngResponse(a) }
            // Every third poll finishes its task; the others are still running.
            guard polls.next() % 3 == 2 else { return task("RUNNING") }
            let port = req.header("host")?.split(separator: ":").last ?? ""
            return task("SUCCEEDED", #","results":[{"url":"http://127.0.0.1:\#(port)/r/a.png"}]"#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { $0.taskTimeout = 60 }
        let started = ContinuousClock.now
        let made = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<100 {
                group.addTask {
                    (try? await studio.generate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "p \(i)")))?
                        .status == .succeeded
                }
            }
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
        let took = ContinuousClock.now - started
        await studio.shutdown()
        print("100 concurrent tasks: \(made) succeeded in \(took), \(polls.current) polls")
        #expect(made == 100)
        #expect(took < .seconds(60))
    }

    @Test("Cancel: the provider is asked to stop, the record ends canceled at no cost, the follower stops")
    func cancel() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasSuffix("/image-synthesis") { return task("PENDING") }
            if req.path.hasSuffix("/cancel") { return .json(#"{"request_id":"c1"}"#) }
            return task("PENDING")
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { $0.prices["dashscope:wanx2.1-t2i-turbo"] = 0.2 }
        let running = Task {
            try await studio.generate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x"))
        }
        var id: Int64?
        for _ in 0..<200 {
            if let r = try studio.gallery.unfinished().first, r.taskID != nil {
                id = r.id
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let recordID = try #require(id)
        let canceled = try await studio.cancel(recordID)
        #expect(canceled.status == .canceled && canceled.cost == 0)
        let followed = try await running.value
        #expect(followed.status == .canceled)
        #expect(server.requests.contains { $0.method == "POST" && $0.path == "/api/v1/tasks/t-1/cancel" })
        await studio.shutdown()
    }

    @Test("Keys never appear in errors: a 401 from the provider")
    func unauthorised() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let server = try await FakeProviderServer.start { _, _ in
            .json(
                #"{"code":"InvalidApiKey","message":"Invalid API-key provided: \#(canaryKey)","request_id":"x"}"#,
                status: 401)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server)
        do {
            _ = try await studio.generate(GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "x"))
            Issue.record("expected a failure")
        } catch let e as WendaoError {
            #expect(e.code == .unauthenticated)
            #expect(e.message.contains("InvalidApiKey"))
            #expect(!e.message.contains(canaryKey))
        }
        let records = try studio.gallery.list(GalleryQuery()).records
        #expect(records.first?.status == .failed)
        #expect(records.first?.errorMessage?.contains(canaryKey) == false)
        await studio.shutdown()
    }
}
