import Foundation
import Testing
import WendaoCore
@testable import WendaoRAG
@testable import WendaoServer

// The JSON of the types whose absent optionals are written as explicit nulls (``ExplicitNull``),
// byte for byte with sorted keys (as the CLI and the server write JSON; Foundation on Linux keeps
// no key order otherwise), as it was when each type had a hand-written `encode(to:)`.

@Suite struct ExplicitNullTests {
    private func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private static let chunk = ChunkRecord(
        id: 7, documentID: 3, documentPath: "a/运费.md", documentTitle: "运费", ordinal: 2, section: "首重",
        page: nil, text: "首重12元", start: 4, end: 9)

    @Test func searchHit() throws {
        let hit = SearchHit(rank: 1, score: 2.5, chunk: Self.chunk)
        let searchHitNullOut = try json(hit)
        #expect(searchHitNullOut == Golden.searchHitNull)
        var paged = hit
        paged.page = 3
        let searchHitPageOut = try json(paged)
        #expect(searchHitPageOut == Golden.searchHitPage)
        let back = try JSONDecoder().decode(SearchHit.self, from: Data(searchHitNullOut.utf8))
        #expect(back.page == nil && back.chunkID == 7)
    }

    @Test func citationAndGroundedAnswer() throws {
        let citation = Citation(n: 1, document: "a/运费.md", section: "首重", page: nil, chunkID: 7, text: "首重12元")
        let citationNullOut = try json(citation)
        #expect(citationNullOut == Golden.citationNull)
        var paged = citation
        paged.page = 2
        let citationPageOut = try json(paged)
        #expect(citationPageOut == Golden.citationPage)
        // A missing key decodes as nil, as for a plain optional.
        let missing = try JSONDecoder().decode(
            Citation.self, from: Data(#"{"n":1,"document":"d","section":"s","chunk_id":7,"text":"t"}"#.utf8))
        #expect(missing.page == nil)
        let answer = try JSONDecoder().decode(GroundedAnswer.self, from: Data(Golden.answerInput.utf8))
        #expect(answer.translatedQuery == nil && answer.finishReason == nil)
        let answerNullOut = try json(answer)
        #expect(answerNullOut == Golden.answerNull)
        let fullInput = Golden.answerInput
            .replacingOccurrences(of: #""finish_reason":null"#, with: #""finish_reason":"stop""#)
            .replacingOccurrences(of: #""question":"#, with: #""translated_query":"freight","question":"#)
        let full = try JSONDecoder().decode(GroundedAnswer.self, from: Data(fullInput.utf8))
        #expect(full.translatedQuery == "freight" && full.finishReason == "stop")
        let answerFullOut = try json(full)
        #expect(answerFullOut == Golden.answerFull)
    }

    @Test func knowledgeBaseSummary() throws {
        let record = KnowledgeBaseRecord(
            id: 4, name: "物流", settings: .default, createdAt: 1_700_000_000, generation: 1)
        let summaryOut = try json(KnowledgeBaseSummary(record, documents: 2, chunks: 9))
        #expect(summaryOut == Golden.summary)
    }

    @Test func serverViews() throws {
        let job = JobRecord(
            id: 5, kbID: 4, state: .succeeded, createdAt: 1_700_000_000, filesTotal: 2, filesDone: 2, chunks: 3,
            results: [
                JobFileResult(path: "a.md", outcome: "added", chunks: 3),
                JobFileResult(path: "b.pdf", outcome: "failed", chunks: 0, reason: "damaged"),
            ], payload: "{}")
        let jobOut = try json(JobView(job, kb: "物流"))
        #expect(jobOut == Golden.job)
        let key = APIKeyRecord(
            id: 2, name: "ci", prefix: "wd_abc", hash: "00", scope: .read, knowledgeBaseIDs: [4],
            createdAt: 1_700_000_000, lastUsedAt: 1_700_000_100)
        let keyOut = try json(APIKeySummary(key, names: [4: "物流"]))
        #expect(keyOut == Golden.key)
    }
}

private enum Golden {
    /// Input without `translated_query` (a missing optional) and with `finish_reason: null`.
    static let answerInput = #"""
        {"question":"那重量呢？","query":"续重怎么收费","answer":"续重每公斤3元[1]。","mode":"llm",\#
        "model":"dashscope:qwen-plus","found":true,"language":"zh","coverage":0.8,\#
        "citations":[{"n":1,"document":"a.md","section":"s","page":null,"chunk_id":7,"text":"t"}],\#
        "sources":[{"n":1,"document":"a.md","section":"s","page":3,"chunk_id":7,"text":"t"}],\#
        "invalid_citations":[],"uncited":false,"truncated_context":false,"removed_images":0,"warnings":[],\#
        "usage":{"prompt_tokens":900,"completion_tokens":20,"total_tokens":920},"finish_reason":null,\#
        "model_calls":1}
        """#
    static let searchHitNull = #"{"chunk_id":7,"document":"a/运费.md","end":9,"page":null,"rank":1,"score":2.5,"section":"首重","start":4,"text":"首重12元"}"#
    static let searchHitPage = #"{"chunk_id":7,"document":"a/运费.md","end":9,"page":3,"rank":1,"score":2.5,"section":"首重","start":4,"text":"首重12元"}"#
    static let citationNull = #"{"chunk_id":7,"document":"a/运费.md","n":1,"page":null,"section":"首重","text":"首重12元"}"#
    static let citationPage = #"{"chunk_id":7,"document":"a/运费.md","n":1,"page":2,"section":"首重","text":"首重12元"}"#
    static let answerNull = #"{"answer":"续重每公斤3元[1]。","answer_guard":null,"answered_by":"model","citations":[{"chunk_id":7,"document":"a.md","n":1,"page":null,"section":"s","text":"t"}],"coverage":0.8,"finish_reason":null,"found":true,"invalid_citations":[],"language":"zh","mode":"llm","model":"dashscope:qwen-plus","model_calls":1,"query":"续重怎么收费","question":"那重量呢？","removed_images":0,"sources":[{"chunk_id":7,"document":"a.md","n":1,"page":3,"section":"s","text":"t"}],"translated_query":null,"truncated_context":false,"uncited":false,"usage":{"completion_tokens":20,"prompt_tokens":900,"total_tokens":920},"warning_details":[],"warnings":[]}"#
    static let answerFull = #"{"answer":"续重每公斤3元[1]。","answer_guard":null,"answered_by":"model","citations":[{"chunk_id":7,"document":"a.md","n":1,"page":null,"section":"s","text":"t"}],"coverage":0.8,"finish_reason":"stop","found":true,"invalid_citations":[],"language":"zh","mode":"llm","model":"dashscope:qwen-plus","model_calls":1,"query":"续重怎么收费","question":"那重量呢？","removed_images":0,"sources":[{"chunk_id":7,"document":"a.md","n":1,"page":3,"section":"s","text":"t"}],"translated_query":"freight","truncated_context":false,"uncited":false,"usage":{"completion_tokens":20,"prompt_tokens":900,"total_tokens":920},"warning_details":[],"warnings":[]}"#
    static let summary = #"{"b":0.75,"chunk_overlap":40,"chunk_size":200,"chunks":9,"cjk_mode":"unigram+bigram","created_at":"2023-11-14T22:13:20Z","documents":2,"embedder":null,"fusion":"weighted","id":4,"k1":1.2,"model":null,"name":"物流","ocr_engine":"auto","ocr_languages":["chi_sim","eng"],"retrieval":"bm25"}"#
    static let job = #"{"chunks":3,"created_at":"2023-11-14T22:13:20Z","error":null,"files_done":2,"files_total":2,"finished_at":null,"id":5,"kb":"物流","results":[{"chunks":3,"outcome":"added","path":"a.md","reason":null},{"chunks":0,"outcome":"failed","path":"b.pdf","reason":"damaged"}],"started_at":null,"state":"succeeded"}"#
    static let key = #"{"created_at":"2023-11-14T22:13:20Z","id":2,"knowledge_bases":["物流"],"last_used_at":"2023-11-14T22:15:00Z","name":"ci","prefix":"wd_abc","revoked_at":null,"scope":"read"}"#
}
