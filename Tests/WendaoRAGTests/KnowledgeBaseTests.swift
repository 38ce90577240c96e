import Foundation
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
import WendaoIndex
import WendaoLoaders
@testable import WendaoRAG
import WendaoStore
import WendaoText

/// A data directory in a private temporary folder.
private final class LibraryFixture {
    let scratch: ScratchDirectory
    let library: Library

    init() throws {
        scratch = try ScratchDirectory("kb")
        library = try Library(directory: scratch.child("data"))
    }

    /// A second, independent `Library` on the same data directory (as another process would open it).
    func remove() { scratch.remove() }

    func reopen() throws -> Library { try Library(directory: scratch.child("data")) }

    /// Creates and opens a knowledge base.
    func knowledgeBase(_ name: String = "kb", settings: KnowledgeBaseSettings = .default) throws -> KnowledgeBase {
        try library.create(name, settings: settings)
        return try library.open(name)
    }
}

private let gb18030 = String.Encoding(rawValue: 0x80000632)

private func utf16LEWithBOM(_ s: String) -> Data {
    var bytes: [UInt8] = [0xFF, 0xFE]
    for unit in s.utf16 {
        bytes.append(UInt8(unit & 0xFF))
        bytes.append(UInt8(unit >> 8))
    }
    return Data(bytes)
}

private func expectHealthy(_ kb: KnowledgeBase, _ step: String, sourceLocation: SourceLocation = #_sourceLocation)
    throws
{
    let report = try kb.doctor()
    #expect(report.ok, "doctor after \(step): \(report.problems)", sourceLocation: sourceLocation)
    #expect(report.problems.isEmpty, sourceLocation: sourceLocation)
    #expect(report.storeChunks == report.indexChunks, sourceLocation: sourceLocation)
}

/// Documents whose chunks come back for `query`.
private func documentsFound(_ kb: KnowledgeBase, _ query: String, topK: Int = 10) throws -> [String] {
    try kb.search(query, topK: topK).map(\.document)
}

/// The answer split into its sentences and citation numbers (`sentence [n]`).
private func answerParts(_ answer: String) -> [(text: String, n: Int)] {
    var out: [(String, Int)] = []
    var rest = Substring(answer)
    while let open = rest.range(of: " ["), let close = rest[open.upperBound...].firstIndex(of: "]"),
        let n = Int(rest[open.upperBound..<close])
    {
        out.append((rest[..<open.lowerBound].trimmingCharacters(in: .whitespaces), n))
        rest = rest[rest.index(after: close)...]
    }
    return out
}

@Suite struct KnowledgeBaseNameTests {
    @Test(arguments: [
        "../x", "a'b", "a b", "", "a/b", ".hidden", "-x", "a..b", "a\"b", "a\nb", "a;b", "a\\b",
        String(repeating: "k", count: 65),
    ])
    func rejected(_ name: String) throws {
        #expect(thrownWendaoError { try Library.validateName(name) }?.code == .invalidArgument)
    }

    @Test(arguments: ["logistics", "物流-1", "kb_1.v2", "A", "2026", "知识库", String(repeating: "k", count: 64)])
    func accepted(_ name: String) throws {
        #expect(thrownWendaoError { try Library.validateName(name) } == nil)
    }

    @Test func libraryEnforcesNamesAndUniqueness() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        #expect(thrownWendaoError { try f.library.create("../x") }?.code == .invalidArgument)
        #expect(thrownWendaoError { try f.library.create("a b") }?.code == .invalidArgument)
        #expect(thrownWendaoError { _ = try f.library.open("../x") }?.code == .invalidArgument)
        #expect(try f.library.list().isEmpty)
        try f.library.create("物流-1")
        #expect(thrownWendaoError { try f.library.create("物流-1") }?.code == .alreadyExists)
        #expect(thrownWendaoError { _ = try f.library.open("missing") }?.code == .notFound)
        var bad = KnowledgeBaseSettings.default
        bad.chunkSize = 10
        #expect(thrownWendaoError { try f.library.create("small", settings: bad) }?.code == .invalidArgument)
        bad = .default
        bad.chunkOverlap = 150
        #expect(thrownWendaoError { try f.library.create("overlap", settings: bad) }?.code == .invalidArgument)
        #expect(try f.library.list().map(\.name) == ["物流-1"])
        try f.library.delete("物流-1")
        #expect(try f.library.list().isEmpty)
        #expect(thrownWendaoError { _ = try f.library.open("物流-1") }?.code == .notFound)
    }
}

@Suite struct KnowledgeBaseIngestTests {
    @Test func mixedFolderLifecycle() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        let kb = try f.knowledgeBase()
        let src = try f.scratch.makeFolder("src/docs")
        let docs = src.path
        let weirdName = "it's a \"quoted\" 文件 name.md"
        try f.scratch.write(
            "src/docs/guide.md",
            """
            # 运费说明

            ## 首重

            首重1公斤收费12元，续重每公斤3元。旧版条款编号 OLDTERM-01 仍然有效。

            ## 时效

            同城快递次日送达。
            """)
        try f.scratch.write("src/docs/faq.csv", "question,answer\n怎么开发票？,在订单页申请电子发票。\n保价费怎么收？,保价费为声明价值的百分之一。\n")
        let gbk = try #require("冷藏包裹每公斤加收8元，冷链运费另计。".data(using: gb18030))
        #expect(Array(gbk.prefix(2)) == [0xC0, 0xE4])  // really GBK bytes, not UTF-8
        try f.scratch.write("src/docs/gbk.txt", gbk)
        try f.scratch.write("src/docs/utf16.txt", utf16LEWithBOM("易碎品需要木架包装，木架费用20元。"))
        try f.scratch.write("src/docs/empty.txt", Data())
        var rng = SeededGenerator(seed: 1)
        try f.scratch.write(
            "src/docs/garbage.txt", Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        try f.scratch.write(
            "src/docs/manual.pdf", Data("%PDF-1.4\n%\u{E2}\u{E3}\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".utf8))
        try f.scratch.write("src/docs/\(weirdName)", "# 特殊\n\n鸵鸟蛋专线每周三发车。\n")

        // 1. First ingest.
        let first = try kb.ingest([docs])
        #expect(first.files == 8)
        #expect(first.added == 5)
        #expect(first.failed == 3)
        #expect(first.updated == 0 && first.unchanged == 0 && first.pruned == 0)
        #expect(first.chunks > 0)
        let failures = first.results.filter { $0.outcome == .failed }
        #expect(Set(failures.map(\.path)) == ["docs/empty.txt", "docs/garbage.txt", "docs/manual.pdf"])
        for r in failures {
            let reason = r.reason ?? ""
            #expect(!reason.isEmpty && !reason.contains("\n") && reason.count < 300, "\(r.path): \(reason)")
        }
        #expect(first.results.prefix(3).allSatisfy { $0.outcome == .failed })  // failures first
        #expect(try kb.documents().count == 5)
        #expect(try documentsFound(kb, "冷藏包裹加收").first == "docs/gbk.txt")
        #expect(try kb.search("冷藏包裹").first?.text.contains("冷藏包裹每公斤加收8元") == true)
        #expect(try documentsFound(kb, "木架包装").first == "docs/utf16.txt")
        #expect(try kb.search("木架包装").first?.text.contains("易碎品需要木架包装") == true)
        #expect(try documentsFound(kb, "鸵鸟蛋专线").first == "docs/\(weirdName)")
        #expect(try documentsFound(kb, "电子发票").first == "docs/faq.csv")
        #expect(try documentsFound(kb, "OLDTERM-01").first == "docs/guide.md")
        try expectHealthy(kb, "first ingest")
        let generation = kb.record.generation

        // 2. Nothing changed.
        let second = try kb.ingest([docs])
        #expect(second.unchanged == 5)
        #expect(second.failed == 3)
        #expect(second.added == 0 && second.updated == 0 && second.chunks == 0)
        #expect(kb.record.generation == generation)
        try expectHealthy(kb, "re-ingest")

        // 3. One file changes.
        try f.scratch.write(
            "src/docs/guide.md",
            """
            # 运费说明

            ## 首重

            首重1公斤收费15元，续重每公斤3元。新版条款编号 NEWTERM-02 从今天起生效。

            ## 时效

            同城快递次日送达。
            """)
        let third = try kb.ingest([docs])
        #expect(third.updated == 1)
        #expect(third.unchanged == 4)
        #expect(third.added == 0)
        #expect(third.failed == 3)
        #expect(try kb.search("OLDTERM-01").allSatisfy { !$0.text.contains("OLDTERM") })
        #expect(try kb.search("首重收费").allSatisfy { !$0.text.contains("12元") })
        let updated = try kb.search("NEWTERM-02")
        #expect(updated.first?.document == "docs/guide.md")
        #expect(updated.first?.text.contains("NEWTERM-02") == true)
        try expectHealthy(kb, "update")

        // 4. A file disappears; prune removes it.
        try FileManager.default.removeItem(at: src.appendingPathComponent("faq.csv"))
        var prune = IngestOptions()
        prune.prune = true
        let fourth = try kb.ingest([docs], options: prune)
        #expect(fourth.pruned == 1)
        #expect(fourth.results.contains { $0.path == "docs/faq.csv" && $0.outcome == .pruned })
        #expect(try !kb.documents().contains { $0.path == "docs/faq.csv" })
        #expect(try kb.documents().count == 4)
        #expect(try !documentsFound(kb, "电子发票 保价费").contains("docs/faq.csv"))
        try expectHealthy(kb, "prune")

        // 5. Delete a document by path, another by id.
        let deleted = try kb.deleteDocuments(["docs/utf16.txt"])
        #expect(deleted.map(\.path) == ["docs/utf16.txt"])
        #expect(try !documentsFound(kb, "木架包装").contains("docs/utf16.txt"))
        let gbkID = try #require(try kb.documents().first { $0.path == "docs/gbk.txt" }?.id)
        #expect(try kb.deleteDocuments([String(gbkID)]).map(\.path) == ["docs/gbk.txt"])
        #expect(try !documentsFound(kb, "冷藏包裹").contains("docs/gbk.txt"))
        #expect(thrownWendaoError { _ = try kb.deleteDocuments(["docs/nope.md"]) }?.code == .notFound)
        #expect(try kb.documents().map(\.path).sorted() == ["docs/guide.md", "docs/\(weirdName)"].sorted())
        try expectHealthy(kb, "delete")

        // 6. Reindex gives the same results.
        let queries = ["首重收费", "鸵鸟蛋专线", "同城快递次日送达", "NEWTERM-02", "运费说明"]
        let before = try queries.map { try kb.search($0) }
        let storeChunks = try kb.doctor().storeChunks
        #expect(try kb.rebuildIndex() == storeChunks)
        let after = try queries.map { try kb.search($0) }
        for (a, b) in zip(before, after) {
            #expect(a.map(\.chunkID) == b.map(\.chunkID))
            for (x, y) in zip(a, b) { #expect(abs(x.score - y.score) <= 1e-4 * max(x.score, 1)) }
        }
        try expectHealthy(kb, "reindex")

        // 7. Another library on the same directory sees the same.
        let other = try f.reopen().open("kb")
        #expect(other.recoveryNote == nil)
        let reopened = try queries.map { try other.search($0) }
        #expect(reopened.map { $0.map(\.chunkID) } == after.map { $0.map(\.chunkID) })
        try expectHealthy(other, "reopen")
    }

    /// `IngestOptions.prune` promises to remove only documents whose source is really gone, "not
    /// merely excluded by a pattern".
    @Test func pruneKeepsDocumentsThatAreOnlyExcluded() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        let kb = try f.knowledgeBase()
        try f.scratch.write("src/docs/a.md", "# A\n\n甲文件的内容。\n")
        try f.scratch.write("src/docs/b.csv", "question,answer\n乙问题？,乙答案。\n")
        let docs = f.scratch.child("src/docs").path
        #expect(try kb.ingest([docs]).added == 2)
        var options = IngestOptions()
        options.prune = true
        options.exclude = ["*.csv"]
        let summary = try kb.ingest([docs], options: options)
        #expect(summary.pruned == 0)
        #expect(try kb.documents().map(\.path) == ["docs/a.md", "docs/b.csv"])
        try expectHealthy(kb, "prune with exclude")
    }

    @Test func includeAndExcludePatterns() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        let kb = try f.knowledgeBase()
        try f.scratch.write("src/docs/a.md", "甲。")
        try f.scratch.write("src/docs/sub/b.txt", "乙。")
        try f.scratch.write("src/docs/eval.jsonl", "{\"question\": \"q\", \"answers\": []}\n")
        var options = IngestOptions()
        options.exclude = ["eval*"]
        let s = try kb.ingest([f.scratch.child("src/docs").path], options: options)
        #expect(s.added == 2)
        #expect(try kb.documents().map(\.path) == ["docs/a.md", "docs/sub/b.txt"])
        let kb2 = try f.knowledgeBase("kb2")
        options = IngestOptions()
        options.include = ["*.txt"]
        #expect(try kb2.ingest([f.scratch.child("src/docs").path], options: options).added == 1)
        #expect(try kb2.documents().map(\.path) == ["docs/sub/b.txt"])
    }

    @Test func urlsAreRejectedByNameAndTheRestGoesOn() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        let kb = try f.knowledgeBase()
        try f.scratch.write("src/docs/a.md", "运费首重十二元。")
        let s = try kb.ingest(["https://example.com/page", f.scratch.child("src/docs").path])
        #expect(s.files == 2)
        #expect(s.added == 1)
        #expect(s.failed == 1)
        let failure = s.results.first { $0.outcome == .failed }
        #expect(failure?.path == "https://example.com/page")
        #expect(failure?.reason?.contains("fetched by web ingest") == true)
        #expect(try kb.search("运费").first?.document == "docs/a.md")
    }

    @Test func forceReingestsUnchangedFiles() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        let kb = try f.knowledgeBase()
        try f.scratch.write("src/docs/a.md", "# 标题\n\n强制重新导入的内容。")
        let docs = f.scratch.child("src/docs").path
        _ = try kb.ingest([docs])
        let oldIDs = try kb.search("强制重新导入").map(\.chunkID)
        var options = IngestOptions()
        options.force = true
        let s = try kb.ingest([docs], options: options)
        // The bytes are the same: reported unchanged (issue 15), though the chunks were made again.
        #expect(s.unchanged == 1 && s.updated == 0)
        #expect(s.chunks > 0)
        let newIDs = try kb.search("强制重新导入").map(\.chunkID)
        #expect(!newIDs.isEmpty && Set(newIDs).isDisjoint(with: oldIDs))
        try expectHealthy(kb, "force")
    }

    /// `updateSettings` promises that BM25 changes apply at once: the open knowledge base must score
    /// like one opened afresh with the new settings.
    @Test func bm25SettingsApplyAtOnce() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        let kb = try f.knowledgeBase()
        var rng = SeededGenerator(seed: 8)
        for i in 0..<40 { try f.scratch.write("src/docs/d\(i).txt", TextPool.paragraph(&rng, sentences: 1...12)) }
        _ = try kb.ingest([f.scratch.child("src/docs").path])
        let queries = ["快递运费 包裹", "parcel delivery tracking", "保价 理赔 赔偿", "冷链 仓库 司机"]
        for q in queries { _ = try kb.search(q) }
        var settings = kb.record.settings
        settings.k1 = 2.0
        settings.b = 0.3
        try kb.updateSettings(settings)
        let fresh = try f.reopen().open("kb")
        #expect(fresh.record.settings == settings)
        for q in queries {
            let a = try kb.search(q)
            let b = try fresh.search(q)
            #expect(a.count == b.count)
            for (x, y) in zip(a, b) {
                #expect(abs(x.score - y.score) <= 1e-4 * max(abs(y.score), 1), "\(q): \(x.score) vs \(y.score)")
            }
        }
    }

    @Test func deletingAKnowledgeBaseRemovesItsIndex() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        let kb = try f.knowledgeBase("gone")
        try f.scratch.write("src/docs/a.md", "要删除的知识库。")
        _ = try kb.ingest([f.scratch.child("src/docs").path])
        let indexFile = f.library.indexURL(kb: kb.record.id)
        #expect(FileManager.default.fileExists(atPath: indexFile.path))
        try f.library.delete("gone")
        #expect(!FileManager.default.fileExists(atPath: indexFile.path))
        #expect(thrownWendaoError { _ = try f.library.open("gone") }?.code == .notFound)
        // Recreated under the same name: empty.
        let again = try f.knowledgeBase("gone")
        #expect(try again.documents().isEmpty)
        #expect(try again.search("知识库").isEmpty)
    }
}

@Suite struct KnowledgeBaseAskTests {
    /// A small knowledge base with known facts.
    private func factsKnowledgeBase() throws -> (LibraryFixture, KnowledgeBase) {
        let f = try LibraryFixture()
        let kb = try f.knowledgeBase()
        try f.scratch.write(
            "src/kb/pricing.md",
            """
            # 价格说明

            ## 首重与续重

            标准快递首重收费12元，续重每公斤收费3元。偏远地区另加15元。

            ## 保价

            保价费按声明价值的1%收取，最低1元。

            ## 时效

            同城快递一般次日送达，省内两天送达。
            """)
        try f.scratch.write("src/kb/contact.txt", "客服热线400-820-5566，每天8点到22点有人接听。\n\n投诉请发邮件到客服邮箱。")
        try f.scratch.write(
            "src/kb/en.md",
            """
            # Shipping guide

            The insurance fee is 1% of the declared value. Parcels are delivered within two days in the same province.

            You can track your parcel on the website with the waybill number.
            """)
        try f.scratch.write("src/kb/faq.csv", "question,answer\n怎么开发票？,在订单页面申请电子发票，三个工作日内发到邮箱。\n")
        let s = try kb.ingest([f.scratch.child("src/kb").path])
        #expect(s.failed == 0 && s.added == 4)
        return (f, kb)
    }

    private func expectWellFormed(_ a: Answer, _ kb: KnowledgeBase, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        #expect(a.mode == "extractive", sourceLocation: sourceLocation)
        #expect(a.citations.map(\.n) == Array(1...max(1, a.citations.count)), sourceLocation: sourceLocation)
        let parts = answerParts(a.answer)
        #expect(!parts.isEmpty, "answer without [n] markers: \(a.answer)", sourceLocation: sourceLocation)
        for p in parts {
            let c = a.citations.first { $0.n == p.n }
            #expect(c != nil, "[\(p.n)] has no citation", sourceLocation: sourceLocation)
            #expect(
                c.map { $0.text.contains(p.text) } ?? false, "sentence \(p.text) is not in citation \(p.n)",
                sourceLocation: sourceLocation)
        }
        let stored = try kb.store.chunks(ids: a.citations.map(\.chunkID))
        #expect(stored.map(\.text) == a.citations.map(\.text), sourceLocation: sourceLocation)
        #expect(stored.map(\.documentPath) == a.citations.map(\.document), sourceLocation: sourceLocation)
    }

    @Test(arguments: [
        ("首重收费多少钱？", "12元"),
        ("保价费怎么收？", "1%"),
        ("客服热线电话是多少？", "400-820-5566"),
        ("怎么开发票？", "电子发票"),
        ("How much is the insurance fee?", "1%"),
        ("同城快递多久送达？", "次日"),
    ])
    func answerableQuestions(_ question: String, _ expected: String) throws {
        let (f, kb) = try factsKnowledgeBase()
        defer { f.remove() }
        let a = try kb.ask(question)
        #expect(a.found, "\(question) → \(a.answer) (coverage \(a.coverage))")
        #expect(a.question == question)
        #expect(!a.citations.isEmpty)
        #expect(a.answer.contains("[1]"))
        #expect(
            a.citations.contains { $0.text.contains(expected) },
            "no citation contains \(expected): \(a.citations.map(\.text))")
        #expect(a.answer.contains(expected), "answer lacks \(expected): \(a.answer)")
        #expect(a.coverage >= 0.45 && a.coverage <= 1.0001)
        try expectWellFormed(a, kb)
    }

    @Test(arguments: [
        "火星上的天气怎么样", "what is the stock price of Tesla", "你们公司的股票代码是多少？", "How do I bake sourdough bread?",
    ])
    func unrelatedQuestionsAreNotFound(_ question: String) throws {
        let (f, kb) = try factsKnowledgeBase()
        defer { f.remove() }
        let a = try kb.ask(question)
        #expect(!a.found, "\(question) → \(a.answer)")
        #expect(a.citations.isEmpty)
        #expect(!a.answer.contains("[1]"))
    }

    @Test(arguments: ["", "   ", "\n\t", "？？！。", "...!!!", "the of and"])
    func emptyQueriesAreInvalid(_ query: String) throws {
        let (f, kb) = try factsKnowledgeBase()
        defer { f.remove() }
        #expect(thrownWendaoError { _ = try kb.search(query) }?.code == .invalidArgument)
        #expect(thrownWendaoError { _ = try kb.ask(query) }?.code == .invalidArgument)
    }

    @Test(.tags(.slow), .timeLimit(.minutes(3))) func oneMegabyteQueryDoesNotCrash() throws {
        let (f, kb) = try factsKnowledgeBase()
        defer { f.remove() }
        var rng = SeededGenerator(seed: 2)
        var big = ""
        while big.utf8.count < 1 << 20 { big += TextPool.paragraph(&rng, sentences: 20...40) + " 首重收费 " }
        let clock = ContinuousClock()
        let started = clock.now
        let hits = try kb.search(big)
        #expect(hits.count <= 10)
        let a = try kb.ask(big)
        #expect(a.found == !a.citations.isEmpty)
        let spent = clock.now - started
        // Not a speed test: it catches quadratic work (minutes), not a loaded 2-core CI machine
        // (7 s alone in a debug build, 37 s once while every other suite ran).
        #expect(spent < .seconds(120), "a 1 MB query took \(spent)")
        // Many repetitions of one word.
        _ = try kb.search(String(repeating: "运费 ", count: 300_000))
    }

    @Test func searchHitsAreConsistent() throws {
        let (f, kb) = try factsKnowledgeBase()
        defer { f.remove() }
        let hits = try kb.search("快递 收费 parcel", topK: 5)
        #expect(!hits.isEmpty && hits.count <= 5)
        #expect(hits.map(\.rank) == Array(1...hits.count))
        #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        let stored = try kb.store.chunks(ids: hits.map(\.chunkID))
        #expect(stored.map(\.text) == hits.map(\.text))
        #expect(hits.allSatisfy { $0.end - $0.start == $0.text.unicodeScalars.count })
        // A Traditional-script query finds the Simplified text.
        #expect(try kb.search("標準快遞首重收費").first?.text.contains("标准快递首重收费") == true)
        // Packing respects the budget.
        let packed = try kb.search("快递 收费 客服 parcel", topK: 20, budgetChars: 60)
        #expect(packed.reduce(0) { $0 + ($1.end - $1.start) } <= 60)
    }
}

@Suite struct KnowledgeBaseRecoveryTests {
    @Test func interruptedIngestIsRepairedOnOpen() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        let kb = try f.knowledgeBase()
        try f.scratch.write("src/docs/a.md", "# 甲\n\n普通的快递说明文字。")
        _ = try kb.ingest([f.scratch.child("src/docs").path])
        try expectHealthy(kb, "ingest")

        // A second writer stores a document but "crashes" before saving the index.
        let writer = try f.reopen().open("kb")
        let doc = LoadedDocument(
            path: "crash/new.md", title: "新文档", format: .markdown,
            blocks: [
                Block(kind: .heading(level: 1), text: "新文档", sectionPath: ["新文档"]),
                Block(kind: .paragraph, text: "独角兽快递专线只在满月时发车。", sectionPath: ["新文档"]),
            ])
        #expect(try writer.add(doc, contentHash: "abc") > 0)

        let fresh = try f.reopen().open("kb")
        let report = try fresh.doctor()
        #expect(report.ok, "\(report.problems)")
        #expect(report.repaired != nil)
        #expect(report.storeChunks == report.indexChunks)
        #expect(try fresh.search("独角兽快递专线").first?.document == "crash/new.md")
        // The repair was saved: the next open has nothing to repair.
        let next = try f.reopen().open("kb")
        #expect(next.recoveryNote == nil)
        #expect(try next.doctor().ok)
        #expect(try next.search("独角兽快递专线").first?.document == "crash/new.md")
    }

    @Test func chunksDeletedBehindTheIndexAreDropped() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        let kb = try f.knowledgeBase()
        try f.scratch.write("src/docs/a.md", "甲文档：凤凰快递专线。")
        try f.scratch.write("src/docs/b.md", "乙文档：麒麟快递专线。")
        _ = try kb.ingest([f.scratch.child("src/docs").path])
        let b = try #require(try kb.documents().first { $0.path == "docs/b.md" })
        // Deleted in the store only, as if the process died before saving the index.
        _ = try f.library.store.deleteDocument(kb: kb.record.id, id: b.id)
        let fresh = try f.reopen().open("kb")
        let report = try fresh.doctor()
        #expect(report.ok, "\(report.problems)")
        #expect(report.repaired != nil)
        #expect(try fresh.search("麒麟快递专线").allSatisfy { $0.document != "docs/b.md" })
        #expect(try fresh.search("凤凰快递专线").first?.document == "docs/a.md")
    }

    @Test func unreadableIndexIsRebuiltFromTheStore() throws {
        let f = try LibraryFixture()
        defer { f.remove() }
        let kb = try f.knowledgeBase()
        try f.scratch.write("src/docs/a.md", "白泽快递专线全国通达。")
        _ = try kb.ingest([f.scratch.child("src/docs").path])
        let indexFile = f.library.indexURL(kb: kb.record.id)
        try Data("garbage that is not an index".utf8).write(to: indexFile)
        let fresh = try f.reopen().open("kb")
        #expect(fresh.recoveryNote != nil)
        let report = try fresh.doctor()
        #expect(report.ok, "\(report.problems)")
        #expect(try fresh.search("白泽快递专线").first?.document == "docs/a.md")
        #expect(try BM25Index(path: indexFile.path).count == fresh.chunkCount)
    }
}
