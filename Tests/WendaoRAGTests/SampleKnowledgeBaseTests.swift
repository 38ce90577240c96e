import Foundation
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
import WendaoEval
import WendaoRAG

/// The repository root: three levels up from this file (Tests/WendaoTests/<file>).

@Suite struct SampleKnowledgeBaseTests {
    @Test(.tags(.slow), .timeLimit(.minutes(3))) func logisticsSampleIngestsAndAnswers() throws {
        let samples = repositoryRoot.appendingPathComponent("Samples/logistics")
        let evalFile = samples.appendingPathComponent("eval.jsonl")
        try #require(FileManager.default.fileExists(atPath: evalFile.path), "no sample at \(samples.path)")
        let scratch = try ScratchDirectory("sample")
        defer { scratch.remove() }
        let library = try Library(directory: scratch.child("data"))
        try library.create("logistics")
        let kb = try library.open("logistics")
        var options = IngestOptions()
        options.exclude = ["eval*"]
        let summary = try kb.ingest([samples.path], options: options)
        let failures = summary.results.filter { $0.outcome == .failed }.map { "\($0.path): \($0.reason ?? "")" }
        #expect(summary.failed == 0, "\(failures)")
        #expect(summary.added >= 30)
        let documents = try kb.documents()
        #expect(documents.count >= 30)
        #expect(!documents.contains { $0.path.hasSuffix("eval.jsonl") })
        #expect(documents.allSatisfy { $0.path.hasPrefix("logistics/") && $0.chunkCount > 0 })
        #expect(try kb.doctor().ok)

        let report = try AnswerEvaluator.run(kb: kb, file: evalFile)
        print(
            String(
                format:
                    "sample eval: %d questions (%d answerable, %d unanswerable): answer_hit %.3f, citation_hit %.3f, cited_document_hit %.3f, false_not_found %.3f, not_found_recall %.3f",
                report.questions, report.answerable, report.unanswerable, report.answerHit, report.citationHit,
                report.citedDocumentHit, report.falseNotFound, report.notFoundRecall))
        for m in report.misses.prefix(15) { print("  miss \(m.id) [\(m.problem)] \(m.question)") }
        #expect(report.questions >= 100)
        #expect(report.unanswerable > 0)
        #expect(report.citationHit >= 0.6, "citation_hit \(report.citationHit)")
        // A regression guard, not a target: 0.667 on the 36 text documents, 0.571 since the PDF/Office
        // documents joined (more shared vocabulary for the lexical not-found gate; dense retrieval is
        // the remedy); 0.43–0.5 since English questions are also searched through their Chinese
        // renderings (two off-topic English questions, "stock ticker", "same-day delivery inside
        // Tokyo", now find Chinese passages that share rendered words).
        #expect(report.notFoundRecall >= 0.4, "not_found_recall \(report.notFoundRecall)")
    }
}
