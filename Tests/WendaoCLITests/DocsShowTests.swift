import Foundation
import Testing
import WendaoTestSupport

@Suite struct DocsShowTests {
    @Test func docsShowPrintsTextAndChunks() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let src = try f.writeFacts()
        #expect(try await f.run("kb", "create", "cli").status == 0)
        let first = try await f.run("ingest", "--kb", "cli", src, "--json")
        #expect(try first.json()["added"] as? Int == 2)
        // The same files again: unchanged, with and without --force.
        #expect(try await f.run("ingest", "--kb", "cli", src, "--json").json()["unchanged"] as? Int == 2)
        let forced = try await f.run("ingest", "--kb", "cli", src, "--force", "--json").json()
        #expect(forced["unchanged"] as? Int == 2)
        #expect(forced["updated"] as? Int == 0)

        let show = try await f.run("docs", "show", "--kb", "cli", "kb/pricing.md", "--chunks", "--json")
        #expect(show.status == 0, "\(show.stderr)")
        let body = try show.json()
        #expect(Set(body.keys) == ["document", "text", "text_source", "chunks", "chunk_total"])
        #expect((body["text"] as? String)?.contains("标准快递首重收费12元") == true)
        #expect(body["text_source"] as? String == "stored")
        let chunks = try #require(body["chunks"] as? [[String: Any]])
        #expect(chunks.count == 2)
        #expect(body["chunk_total"] as? Int == 2)
        for c in chunks {
            #expect(Set(c.keys) == ["id", "ordinal", "section", "page", "text", "enabled", "edited", "start", "end"])
            #expect(c["page"] is NSNull)
        }
        #expect(chunks.first?["section"] as? String == "价格说明 › 首重与续重")
        #expect(chunks.first?["text"] as? String == "标准快递首重收费12元，续重每公斤收费3元。")

        // Without --chunks: the text, and an empty list.
        let text = try await f.run("docs", "show", "--kb", "cli", "kb/pricing.md", "--json").json()
        #expect((text["chunks"] as? [Any])?.isEmpty == true)
        let plain = try await f.run("docs", "show", "--kb", "cli", "kb/pricing.md", "--chunks")
        #expect(plain.stdout.contains("价格说明 › 首重与续重"))
        #expect(plain.stdout.contains("标准快递首重收费12元"))
        let missing = try await f.run("docs", "show", "--kb", "cli", "../etc/passwd", "--json")
        #expect(missing.status == 1)
        #expect(missing.stdout.contains("not_found") || missing.stderr.contains("not_found"))
    }

    @Test func curatedCommands() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        let src = try f.writeFacts()
        #expect(try await f.run("kb", "create", "cli").status == 0)
        #expect(try await f.run("ingest", "--kb", "cli", src).status == 0)
        let added = try await f.run(
            "curated", "add", "--kb", "cli", "--question", "首重多少钱？", "--answer", "首重现价10元。", "--json")
        #expect(added.status == 0, "\(added.stderr)")
        let id = try #require(try added.json()["id"] as? Int)
        let ask = try await f.run("ask", "--kb", "cli", "首重多少钱", "--json").json()
        #expect(ask["answer"] as? String == "首重现价10元。")
        #expect((ask["citations"] as? [[String: Any]])?.first?["kind"] as? String == "curated")
        let plain = try await f.run("ask", "--kb", "cli", "首重多少钱？")
        #expect(plain.stdout.contains("curated answer: 首重多少钱？"))
        let dup = try await f.run("curated", "add", "--kb", "cli", "--question", "首重 多少钱", "--answer", "x", "--json")
        #expect(dup.status == 1)
        let list = try await f.run("curated", "list", "--kb", "cli", "--json").json()
        #expect((list["curated"] as? [[String: Any]])?.map { $0["id"] as? Int } == [id])
        #expect(try await f.run("curated", "rm", "--kb", "cli", "\(id)").status == 0)
        let after = try await f.run("ask", "--kb", "cli", "首重多少钱", "--json").json()
        #expect(after["mode"] as? String == "extractive")
    }
}
