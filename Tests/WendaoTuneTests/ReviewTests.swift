import Foundation
import Testing
import WendaoCore
import WendaoTestSupport
import WendaoTune

@Suite struct ReviewTests {
    @Test("approve, reject and edit are kept as versions; edits are sanitised and masked; a clean re-applies them")
    func review() async throws {
        let s = try ScratchDirectory("review")
        defer { s.remove() }
        let store = DatasetStore(dataDirectory: s.url)
        let chunk = SourceChunk(id: 1, document: "kb/d1.md", section: "价格", ordinal: 0, text: "标准快递首重收费12元，续重每公斤收费3元。")
        try store.write(
            DatasetManifest(
                name: "ds", kb: "kb", teacher: "test:teacher", promptVersion: "v", styles: [.factual], perDocument: 8,
                limit: nil, seed: 1, selectedChunks: [1], documentCount: 1, createdAt: "2026-01-01T00:00:00Z"))
        try store.writeChunks("ds", [chunk])
        let raw = [
            example("a", "首重多少钱？", "标准快递首重收费12元 [1]。"),
            example("b", "续重多少钱？", "续重每公斤收费3元 [1]。"),
            example("c", "续重多少钱呢？", "续重每公斤收费3元 [1]。"),  // a near-duplicate of b: dropped by the checks
        ]
        let line = try raw.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let checkpoint =
            #"{"chunk": 1, "examples": ["# + line.joined(separator: ",")
            + #"], "failures": [], "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}, "calls": 0, "cached_calls": 0}"#
        try store.writeFile(try store.folder("ds").appendingPathComponent("raw.jsonl"), Data((checkpoint + "\n").utf8))
        var options = CleaningOptions()
        options.dedupeThreshold = 0.5
        _ = try await DatasetPipeline.finish(store: store, name: "ds", cleaning: options, ratios: [1, 0, 0])
        #expect(try store.examples("ds").map { $0.status ?? "" } == ["kept", "kept", "dropped"])
        // Reject a, edit b (control characters, a phone number), approve c (a person overrides the checks).
        _ = try DatasetReview.review(
            store, "ds", id: "a", decision: "reject", question: nil, answer: nil, note: "vague")
        let edited = try DatasetReview.review(
            store, "ds", id: "b", decision: "edit", question: "续重\u{0007}多少钱？\u{202E}",
            answer: "续重每公斤3元，详询13812345678 [1]。", note: nil)
        #expect(edited.question == "续重多少钱？" && edited.answer == "续重每公斤3元，详询[PHONE] [1]。")
        #expect(edited.version == 1 && edited.review == "edited")
        let again = try DatasetReview.review(
            store, "ds", id: "b", decision: "approve", question: nil, answer: nil, note: nil)
        #expect(again.version == 2 && again.question == "续重多少钱？")
        let approved = try DatasetReview.review(
            store, "ds", id: "c", decision: "approve", question: nil, answer: nil, note: nil)
        #expect(approved.status == "kept" && approved.split == "train")
        #expect(throws: WendaoError.self) {
            _ = try DatasetReview.review(
                store, "ds", id: "b", decision: "edit", question: " \u{0001} ", answer: nil, note: nil)
        }
        #expect(try DatasetReview.reviews(store, "ds").map(\.version) == [1, 1, 2, 1])
        // A clean re-applies the latest review of each.
        _ = try await DatasetPipeline.finish(store: store, name: "ds", cleaning: options, ratios: [1, 0, 0])
        let after = try store.examples("ds")
        #expect(after.map { $0.status ?? "" } == ["dropped", "kept", "kept"])
        #expect(after[0].dropReason == "rejected by review" && after[1].answer.contains("[PHONE]"))
        // The rejected example is not exported.
        let out = try DatasetExporter.export(
            after, chunks: [1: chunk], options: ExportOptions(format: .sharegpt, name: "ds"), out: s.child("out"))
        #expect(out.files["train.json"] == 2)
    }
}
