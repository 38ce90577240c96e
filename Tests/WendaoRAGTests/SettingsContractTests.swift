import Foundation
import GRDB
import Testing
import WendaoTestSupport
import WendaoApp
import WendaoCore
@testable import WendaoRAG

/// A checker that records what it was asked and refuses the names it is told to.
private final class RecordingChecker: KnowledgeBaseSettingsChecker {
    var models: [String] = []
    var embedders: [String] = []
    var refuse: Set<String> = []

    func checkAnswerModel(_ spec: String) throws {
        models.append(spec)
        if refuse.contains(spec) { throw WendaoError(.invalidArgument, "unknown provider in '\(spec)'") }
    }

    func checkEmbedder(_ spec: String) throws {
        embedders.append(spec)
        if refuse.contains(spec) { throw WendaoError(.notFound, "embedder '\(spec)' is not pulled") }
    }
}

@Suite("One settings contract")
struct SettingsContractTests {
    typealias Patch = KnowledgeBaseSettings.Patch

    @Test("A patch applies only what it names; 'none' and '' clear the model and the embedder")
    func apply() throws {
        var current = KnowledgeBaseSettings.default
        current.model = "dashscope:qwen-plus"
        current.embedder = "e5-small"
        current.ocrLanguages = ["eng"]
        let s = Patch(k1: 1.5, model: "none", ocrLanguages: [], embedder: "", fusion: .rrf).apply(to: current)
        #expect(s.k1 == 1.5)
        #expect(s.b == current.b && s.chunkSize == current.chunkSize)
        #expect(s.model == nil && s.embedder == nil && s.ocrLanguages == nil)
        #expect(s.fusion == .rrf)
        #expect(Patch().apply(to: current) == current)
    }

    @Test("Validation: ranges, OCR codes, the CJK mode fixed after creation, models asked of the checker")
    func validate() throws {
        let checker = RecordingChecker()
        checker.refuse = ["nosuch:model", "missing-embedder"]
        let d = KnowledgeBaseSettings.default

        #expect(thrownWendaoError { try Patch(chunkSize: 5).validate(d, for: .create, checker: checker) }?.code == .invalidArgument)
        #expect(thrownWendaoError { try Patch(chunkOverlap: 150).validate(d, for: .update, checker: checker) } != nil)
        #expect(thrownWendaoError { try Patch(b: 2).validate(d, for: .update, checker: checker) } != nil)
        #expect(thrownWendaoError { try Patch(ocrLanguages: ["../etc"]).validate(d, for: .update, checker: checker) } != nil)
        #expect(thrownWendaoError { try Patch(model: "no-colon").validate(d, for: .update, checker: checker) } != nil)

        // The CJK mode: any at creation, only the current one afterwards.
        let bigram = try Patch(cjkMode: .bigrams).validate(d, for: .create, checker: checker)
        #expect(bigram.cjkMode == .bigrams)
        let fixed = thrownWendaoError { try Patch(cjkMode: .bigrams).validate(d, for: .update, checker: checker) }
        #expect(fixed?.message.contains("fixed") == true)
        #expect(throws: Never.self) { try Patch(cjkMode: d.cjkMode).validate(d, for: .update, checker: checker) }

        // Models and embedders are asked of the checker; cleared ones are not.
        try Patch(model: "dashscope:qwen-plus", embedder: "e5-small").validate(d, for: .update, checker: checker)
        try Patch(model: "none", embedder: "none").validate(d, for: .update, checker: checker)
        #expect(checker.models == ["dashscope:qwen-plus"])
        #expect(checker.embedders == ["e5-small"])
        #expect(throws: (any Error).self) { try Patch(model: "nosuch:model").validate(d, for: .update, checker: checker) }
        #expect(throws: (any Error).self) {
            try Patch(embedder: "missing-embedder").validate(d, for: .update, checker: checker)
        }
    }

    @Test("Enumerated values parse with one message naming the field and the accepted values")
    func parsing() throws {
        #expect(try RetrievalMode(parsing: "hybrid", field: "retrieval") == .hybrid)
        #expect(try CJKMode(parsing: "unigram+bigram", field: "cjk_mode") == .unigramsAndBigrams)
        let e = thrownWendaoError { _ = try FusionMethod(parsing: "borda", field: "fusion") }
        #expect(e?.code == .invalidArgument)
        #expect(e?.message == "fusion must be one of weighted, rrf (got 'borda')")
        #expect(thrownWendaoError { _ = try RetrievalMode(parsing: "fuzzy", field: "retrieval") }?.message.contains("bm25, dense, hybrid") == true)
    }

    @Test("Stored settings: the JSON stays the same, old rows take defaults, unreadable values are errors")
    func storedForm() throws {
        var s = KnowledgeBaseSettings.default
        s.retrievalMode = .hybrid
        s.fusion = .rrf
        s.cjkMode = .bigrams
        let json = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        #expect(json.contains(#""retrievalMode":"hybrid""#) && json.contains(#""fusion":"rrf""#))
        #expect(json.contains(#""cjkMode":"bigram""#))
        #expect(try JSONDecoder().decode(KnowledgeBaseSettings.self, from: Data(json.utf8)) == s)
        // A row written before these fields existed.
        let old = try JSONDecoder().decode(KnowledgeBaseSettings.self, from: Data(#"{"chunkSize":300}"#.utf8))
        #expect(old.chunkSize == 300 && old.cjkMode == .unigramsAndBigrams && old.retrievalMode == nil)
        // A value that is not understood is not silently replaced by a default.
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(KnowledgeBaseSettings.self, from: Data(#"{"fusion":"borda"}"#.utf8))
        }
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(KnowledgeBaseSettings.self, from: Data(#"{"chunkSize":"big"}"#.utf8))
        }
    }

    @Test("A knowledge base whose stored settings cannot be read is an error naming it, not the defaults")
    func unreadableStoredSettings() throws {
        let scratch = try ScratchDirectory("settings-unreadable")
        defer { scratch.remove() }
        let library = try Library(directory: scratch.child("data"))
        var settings = KnowledgeBaseSettings.default
        settings.chunkSize = 300
        try library.create("kb", settings: settings)
        // Damage the row the way an old or hand-edited database could.
        let db = try DatabaseQueue(path: scratch.child("data/wendao.sqlite").path)
        try db.write { db in
            try db.execute(
                sql: "UPDATE kb SET settings = ? WHERE name = 'kb'",
                arguments: [#"{"chunkSize":300,"retrievalMode":"fuzzy"}"#])
        }
        try db.close()
        let e = thrownWendaoError { _ = try library.record("kb") }
        #expect(e?.code == .storage)
        #expect(e?.message.contains("'kb'") == true)
    }

    @Test("The CLI takes the same contract: enumerated options parsed, a bad value is a usage error in JSON")
    func cli() async throws {
        let f = try CLIFixture()
        defer { f.scratch.remove() }
        #expect(try await f.run("kb", "create", "kb", "--retrieval", "bm25", "--fusion", "rrf", "--json").status == 0)
        let bad = try await f.run("kb", "set", "kb", "--fusion", "borda", "--json")
        #expect(bad.status == 2)
        let body = try #require(
            try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: [String: String]])
        #expect(body["error"]?["code"] == "invalid_argument")
        #expect(body["error"]?["message"]?.contains("borda") == true)
        let cjk = try await f.run("kb", "set", "kb", "--cjk-mode", "bigram", "--json")
        #expect(cjk.status == 2)
        #expect(cjk.stdout.contains("fixed"))
        let shown = try await f.run("kb", "show", "kb", "--json")
        #expect(shown.stdout.contains(#""fusion":"rrf""#))
        #expect(shown.stdout.contains(#""retrieval":"bm25""#))
    }
}
