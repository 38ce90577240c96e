import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoModels
import WendaoRAG

struct KBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kb", abstract: "Create, list, show, configure and delete knowledge bases.",
        subcommands: [Create.self, List.self, Show.self, Set.self, Delete.self, Export.self, Import.self])

    typealias KBJSON = KnowledgeBaseSummary

    struct SettingsOptions: ParsableArguments {
        @Option(help: "Chunk size in units: a Chinese character or a digit counts 1, any other character 0.4.")
        var chunkSize: Int?
        @Option(help: "Chunk overlap in the same units (whole sentences).") var chunkOverlap: Int?
        @Option(help: "BM25 k1.") var k1: Double?
        @Option(help: "BM25 b.") var b: Double?
        @Option(help: "CJK terms: unigram+bigram (default), bigram or unigram; fixed at creation.")
        var cjkMode: CJKMode?
        @Option(
            help:
                "Model that writes answers: provider:model (e.g. dashscope:qwen-plus) or local:NAME; 'none' for extractive."
        )
        var model: String?
        @Option(
            name: .customLong("ocr-lang"),
            help: "Tesseract languages for scanned pages and images, joined by '+' (default chi_sim+eng).")
        var ocrLanguages: String?
        @Option(
            help:
                "OCR engine for scanned pages and images: auto (default: PP-OCR, Tesseract for mostly-Latin pages), ppocr or tesseract."
        )
        var ocrEngine: OCREngineChoice?
        @Option(
            help:
                "Embedding model for dense/hybrid retrieval: e5-small, minilm, path:/dir, provider:model (e.g. dashscope:text-embedding-v3, ollama:bge-m3), or none."
        )
        var embedder: String?
        @Option(help: "Retrieval mode: bm25, dense or hybrid (default: hybrid with an embedder).")
        var retrieval: RetrievalMode?
        @Option(help: "How hybrid retrieval fuses BM25 and dense: weighted (default) or rrf (reciprocal rank).")
        var fusion: FusionMethod?

        /// The options as a settings change (the one contract the REST API and the web UI use too).
        var patch: KnowledgeBaseSettings.Patch {
            KnowledgeBaseSettings.Patch(
                chunkSize: chunkSize, chunkOverlap: chunkOverlap, k1: k1, b: b, cjkMode: cjkMode, model: model,
                ocrLanguages: ocrLanguages.map {
                    $0.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
                },
                embedder: embedder, retrievalMode: retrieval, fusion: fusion, ocrEngine: ocrEngine)
        }
    }

    /// Answers the settings contract's questions about models from this process's configuration:
    /// an answer model must resolve in the catalogue, an embedder must open.
    struct SettingsChecker: KnowledgeBaseSettingsChecker {
        let global: GlobalOptions

        func checkAnswerModel(_ spec: String) throws {
            let setup = try ModelSetup(global: global)
            // A local model must be pulled (or its file exist); a provider's must resolve (its key may
            // come later).
            _ = try ChatModels.resolve(
                spec, configuration: setup.configuration,
                environment: ChatModels.isLocal(spec) ? setup.environment : setup.modelEnvironment)
        }

        func checkEmbedder(_ spec: String) throws { _ = try global.embedders().open(spec) }
    }

    /// Describes a knowledge base from the store alone (listing never opens or repairs an index).
    static func describe(_ lib: Library, _ name: String) throws -> KBJSON { try lib.summary(name) }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a knowledge base.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Name: letters, digits, '-', '_' or '.'.") var name: String
        @OptionGroup var settings: SettingsOptions

        func run() throws {
            let validated = try settings.patch.validate(
                .default, for: .create, checker: SettingsChecker(global: global))
            let lib = try global.library()
            try lib.create(name, settings: validated)
            if global.json {
                Output.json(try describe(lib, name))
            } else {
                Output.line("created knowledge base '\(name)'")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List knowledge bases.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let lib = try global.library()
            let all = try lib.list().map { try describe(lib, $0.name) }
            if global.json {
                Output.json(["knowledge_bases": all])
            } else if all.isEmpty {
                Output.line("no knowledge bases yet — create one with `wendao kb create NAME`")
            } else {
                for k in all { Output.line("\(k.name)\t\(k.documents) documents\t\(k.chunks) chunks") }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a knowledge base and its settings.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The knowledge base's name.") var name: String

        func run() throws {
            let k = try describe(try global.library(), name)
            if global.json {
                Output.json(k)
            } else {
                Output.line(
                    """
                    \(k.name)
                      documents:     \(k.documents)
                      chunks:        \(k.chunks)
                      chunk size:    \(k.chunk_size) (overlap \(k.chunk_overlap))
                      BM25:          k1 \(k.k1), b \(k.b)
                      model:         \(k.model ?? "none (extractive answers)")
                      OCR languages: \(k.ocr_languages.joined(separator: "+"))
                      OCR engine:    \(k.ocr_engine)
                      embedder:      \(k.embedder ?? "none (BM25 only)")
                      retrieval:     \(k.retrieval)\(k.retrieval == "hybrid" ? " (\(k.fusion) fusion)" : "")
                      created:       \(k.created_at)
                    """)
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change settings (chunking applies to files ingested afterwards; use ingest --force to re-chunk)."
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The knowledge base's name.") var name: String
        @OptionGroup var settings: SettingsOptions

        func run() throws {
            let lib = try global.library()
            let kb = try lib.open(name)
            let patch = settings.patch
            try kb.updateSettings(
                try patch.validate(kb.record.settings, for: .update, checker: SettingsChecker(global: global)))
            if global.json { Output.json(try describe(lib, name)) } else { Output.line("updated '\(name)'") }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a knowledge base with all its documents.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The knowledge base's name.") var name: String

        func run() throws {
            try global.library().delete(name)
            if global.json { Output.json(["deleted": name]) } else { Output.line("deleted knowledge base '\(name)'") }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a knowledge base as a tar archive (to standard output, or --output FILE).",
            discussion: """
                The archive holds the knowledge base's settings, documents and their texts, chunks, curated answers and \
                conversations — no accounts, keys, share links, vectors or index files. `wendao kb import` reads it into \
                a SQLite data directory or a PostgreSQL database (--database), either way.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The knowledge base's name.") var name: String
        @Option(name: .shortAndLong, help: "Write the archive to this file instead of standard output.")
        var output: String?

        func run() throws {
            let lib = try global.library()
            if output == nil && isatty(1) != 0 {
                throw WendaoError(
                    .invalidArgument,
                    "the archive is binary: redirect it (wendao kb export \(name) > kb.tar) or use --output")
            }
            let handle: FileHandle
            var partial: String?
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil),
                    let h = FileHandle(forWritingAtPath: output)
                else { throw WendaoError(.storage, "cannot write \(output)") }
                handle = h
                partial = output
            } else {
                handle = FileHandle.standardOutput
            }
            do {
                let manifest = try KnowledgeBaseArchive.export(name, from: lib.store, to: handle) {
                    try Library.openSQLiteStore(directory: $0)
                }
                if partial != nil { try? handle.close() }
                let line =
                    "exported '\(manifest.name)': \(manifest.documents) documents, \(manifest.chunks) chunks, "
                    + "\(manifest.conversations) conversations, \(manifest.curatedAnswers) curated answers"
                if global.json && output != nil {
                    Output.json(manifest)
                } else {
                    Output.err(line)
                }
            } catch {
                // No half-written archive left behind under the name asked for.
                if let partial {
                    try? handle.close()
                    try? FileManager.default.removeItem(atPath: partial)
                }
                throw error
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a knowledge base from a `wendao kb export` archive (a file, or - for standard input).",
            discussion: """
                Into this data directory's SQLite store, or the PostgreSQL database of --database. A knowledge base of \
                the same name stops the import before anything is written; an import that fails part-way removes what \
                it wrote.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The archive (- reads standard input).") var archive: String

        func run() throws {
            let lib = try global.library()
            let handle: FileHandle
            if archive == "-" {
                handle = FileHandle.standardInput
            } else {
                guard let h = FileHandle(forReadingAtPath: archive) else {
                    throw WendaoError(.notFound, "cannot open \(archive)")
                }
                handle = h
            }
            defer { if archive != "-" { try? handle.close() } }
            let manifest: KnowledgeBaseArchive.Manifest
            do {
                manifest = try KnowledgeBaseArchive.import(from: handle, into: lib.store) {
                    try Library.openSQLiteStore(directory: $0)
                }
            } catch let e as WendaoError where e.code == .unreadable && archive != "-" {
                throw WendaoError(.unreadable, "\(archive): \(e.message)")
            }
            if global.json {
                Output.json(manifest)
            } else {
                Output.line(
                    "imported '\(manifest.name)': \(manifest.documents) documents, \(manifest.chunks) chunks, "
                        + "\(manifest.conversations) conversations, \(manifest.curatedAnswers) curated answers")
            }
        }
    }
}
