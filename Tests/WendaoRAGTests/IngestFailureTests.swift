import Foundation
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
import WendaoRAG

/// A write failure (a full disk) during an ingest must leave the knowledge base searchable at its
/// last good state — never needing `doctor` before it answers again (issue 12).
@Suite("Ingest write failures")
struct IngestFailureTests {
    private static let first = "# 保价\n\n保价费按声明价值的1%收取，最低1元。\n"
    private static let second = "# 冷链\n\n冷藏件的温度保持在2到8摄氏度之间。\n"

    @Test("The index file cannot be written: the ingest fails, the knowledge base still answers")
    func indexWriteFails() throws {
        let scratch = try ScratchDirectory("ingest-failure")
        defer { scratch.remove() }
        try scratch.write("a/insurance.md", Self.first)
        try scratch.write("b/cold.md", Self.second)
        let data = scratch.child("data")
        let kb = try Library(directory: data).create("k")
        _ = try Library(directory: data).open("k").ingest([scratch.child("a").path])
        // The temporary file the index is written to cannot be created (a directory is in the way),
        // as when the disk is full.
        let index = data.appendingPathComponent("indexes/kb-\(kb.id).bm25")
        let blocker = URL(fileURLWithPath: index.path + ".tmp-\(getpid())")
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: true)
        #expect(throws: WendaoError.self) {
            _ = try Library(directory: data).open("k").ingest([scratch.child("b").path])
        }
        // Still searchable while the index cannot be written, with everything the store committed.
        let reopened = try Library(directory: data).open("k")
        #expect(try reopened.search("保价费", topK: 3).first?.document == "a/insurance.md")
        #expect(try reopened.search("冷藏件温度", topK: 3).first?.document == "b/cold.md")
        #expect(try reopened.ask("保价费怎么收？").found)
        // Once the index can be written again, the next opening saves it and doctor finds it sound.
        try FileManager.default.removeItem(at: blocker)
        _ = try Library(directory: data).open("k")
        let report = try Library(directory: data).open("k").doctor()
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    @Test("`wendao ingest` on a full disk (file size limit): search and ask keep working")
    func cliOnFullDisk() async throws {
        let cli = try CLIFixture()
        defer { cli.scratch.remove() }
        let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Samples/logistics")
        let faq = samples.appendingPathComponent("faq").path
        #expect(try await cli.run("ingest", "--kb", "k", "--create", faq).status == 0)
        // Every write past 200 KB fails (EFBIG, as ENOSPC would): the store takes what fits, the
        // index file (larger) cannot be written.
        func limited(_ args: String...) async throws -> RunResult {
            let binary = try WendaoCLI.requireBinary().path
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments =
                ["-c", "trap '' XFSZ; ulimit -f 200; exec \"$0\" \"$@\"", binary] + args + ["--data", cli.data]
            let out = try cli.scratch.write("limited.out", "")
            let err = try cli.scratch.write("limited.err", "")
            p.standardOutput = try FileHandle(forWritingTo: out)
            p.standardError = try FileHandle(forWritingTo: err)
            try p.run()
            return await WendaoCLI.finishAsync(p, out, err)
        }
        let more = ["policies", "services", "pricing"].map { samples.appendingPathComponent($0).path }
        let ingest = try await limited("ingest", "--kb", "k", more[0], more[1], more[2])
        #expect(ingest.status == 1)
        #expect(ingest.stderr.contains("cannot write index file"), "\(ingest.stderr.suffix(500))")
        // Which of the new files the store took before the disk filled depends on the order the
        // parallel ingest wrote them; whatever it took is searchable (the index catches up from the
        // store), and so is what was there before.
        let listed = try await limited("docs", "list", "--kb", "k", "--json")
        #expect(listed.status == 0, "\(listed.stderr.suffix(500))")
        let documents = try #require(try listed.json()["documents"] as? [[String: Any]])
        let stored = documents.compactMap { $0["path"] as? String }.filter { !$0.hasPrefix("faq/") }
        let search = try await limited("search", "--kb", "k", "运费", "--json")
        #expect(search.status == 0, "\(search.stderr.suffix(500))")
        #expect(search.stdout.contains("faq/"))
        if let path = stored.first, let title = documents.first(where: { $0["path"] as? String == path })?["title"] as? String {
            let found = try await limited("search", "--kb", "k", title, "--top-k", "20", "--json")
            #expect(found.status == 0, "\(found.stderr.suffix(500))")
            #expect(found.stdout.contains(path), "a document the store took is not searchable: \(path)")
        }
        let ask = try await limited("ask", "--kb", "k", "客服热线是多少？")
        #expect(ask.status == 0, "\(ask.stderr.suffix(500))")
        // With room again, doctor finds store and index in agreement.
        let doctor = try await cli.run("doctor", "--kb", "k")
        #expect(doctor.status == 0, "\(doctor.stdout) \(doctor.stderr)")
    }
}
