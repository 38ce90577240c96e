import Foundation
import Testing
import WendaoApp
import WendaoCore
import WendaoRAG
import WendaoTestSupport

/// A chunk change the store committed but whose index save never happened (a crash in between):
/// the next opening catches the index up by chunk id, so the knowledge base is never half-written.
@Suite struct ChunkEditRecoveryTests {
    @Test func anEditCommittedWithoutItsIndexIsCaughtUpOnOpening() throws {
        let scratch = try ScratchDirectory("edit-recovery")
        defer { scratch.remove() }
        try scratch.write("src/docs/a.md", "# 线路\n\n## 蓝鲸\n\n蓝鲸专线每周二发车。\n\n## 冷链\n\n冷藏件全程保持二到八摄氏度。\n")
        let library = try Library(directory: scratch.child("data"))
        try library.create("kb")
        let kb = try library.open("kb")
        #expect(try kb.ingest([scratch.child("src/docs").path]).added == 1)
        let whale = try #require(try kb.search("蓝鲸专线", topK: 1).first)
        let cold = try #require(try kb.search("冷藏件", topK: 1).first)

        // Straight to the store, as if the process died before the index was saved.
        let store = library.store
        let kbID = kb.record.id
        let edited = try store.editChunk(kb: kbID, id: whale.chunkID, text: "火烈鸟专线每周五发车。")
        _ = try store.setChunkEnabled(kb: kbID, id: cold.chunkID, enabled: false)
        #expect(edited.chunk?.edited == true && edited.previousID == whale.chunkID)

        let reopened = try library.open("kb")
        #expect(reopened.recoveryNote?.contains("removed 2, added 1") == true, "\(reopened.recoveryNote ?? "nil")")
        #expect(try reopened.search("火烈鸟", topK: 3).first?.chunkID == edited.chunk?.id)
        #expect(try reopened.search("蓝鲸专线每周二", topK: 3).allSatisfy { $0.chunkID != whale.chunkID })
        #expect(try reopened.search("冷藏件", topK: 3).allSatisfy { $0.chunkID != cold.chunkID })
        #expect(try reopened.doctor().ok)

        // Enabling it again in the store alone: caught up the same way.
        _ = try store.setChunkEnabled(kb: kbID, id: cold.chunkID, enabled: true)
        #expect(try library.open("kb").search("冷藏件", topK: 1).first?.chunkID == cold.chunkID)

        // A chunk of another knowledge base is not found through this one.
        try library.create("other")
        let otherID = try library.record("other").id
        #expect(
            thrownWendaoError { _ = try store.editChunk(kb: otherID, id: cold.chunkID, text: "x") }?.code == .notFound)
        #expect(thrownWendaoError { _ = try store.deleteChunk(kb: otherID, id: cold.chunkID) }?.code == .notFound)
        #expect(try store.chunks(ids: [cold.chunkID]).first?.text.contains("冷藏件") == true)
    }
}

@Suite struct EditLimitTests {
    @Test func limitsCountUnicodeScalarsAsSent() throws {
        let scratch = try ScratchDirectory("edit-limits")
        defer { scratch.remove() }
        try scratch.write("src/docs/a.md", "# 线路\n\n蓝鲸专线每周二发车。\n")
        let library = try Library(directory: scratch.child("data"))
        try library.create("kb")
        let kb = try library.open("kb")
        _ = try kb.ingest([scratch.child("src/docs").path])
        let id = try #require(try kb.search("蓝鲸", topK: 1).first?.chunkID)
        // 20,000 scalars pass; one more (a space, even) is over; an emoji flag is two scalars.
        let full = String(repeating: "字", count: ChunkLimits.maxCharacters)
        let edited = try kb.editChunk(id, text: full)
        #expect(edited.text == full)
        #expect(thrownWendaoError { _ = try kb.editChunk(edited.id, text: full + " ") }?.code == .limitExceeded)
        let flags = String(repeating: "🇨🇳", count: ChunkLimits.maxCharacters / 2 + 1)
        #expect(thrownWendaoError { _ = try kb.editChunk(edited.id, text: flags) }?.code == .limitExceeded)
        #expect(thrownWendaoError { _ = try kb.editChunk(edited.id, text: " \n\t") }?.code == .invalidArgument)
        let q = String(repeating: "问", count: CuratedLimits.maxQuestionCharacters)
        _ = try kb.addCuratedAnswer(question: q, answer: "a")
        #expect(
            thrownWendaoError { _ = try kb.addCuratedAnswer(question: " " + q + "?", answer: "a") }?.code
                == .invalidArgument)
        #expect(try kb.chunk(edited.id).text == full)
    }
}
