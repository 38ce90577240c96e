import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoRAG

struct DocsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docs", abstract: "List, show or delete the documents of a knowledge base.",
        subcommands: [List.self, Show.self, Delete.self])

    typealias DocJSON = DocumentSummary

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List documents.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long) var kb: String

        func run() throws {
            let docs = try global.library().open(kb).documents()
            if global.json {
                Output.json(["documents": docs.map(DocJSON.init)])
            } else {
                for d in docs { Output.line("\(d.id)\t\(d.chunkCount) chunks\t\(d.format)\t\(Terminal.field(d.path))") }
                if docs.isEmpty { Output.line("no documents — add some with `wendao ingest --kb \(kb) PATH`") }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a document's extracted text, or its chunks (section, page, text).",
            discussion: """
                --json prints {"document", "text", "text_source", "chunks": [{"id", "ordinal", "section", "page", \
                "text", "enabled", "edited", "start", "end"}], "chunk_total"}; "chunks" is empty without --chunks.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "The knowledge base.") var kb: String
        @Flag(name: .long, help: "List the chunks instead of the text.") var chunks = false
        @Argument(help: "The document's path (as `docs list` shows it) or id.") var document: String

        func run() throws {
            let detail = try global.library().open(kb).documentDetail(document, limit: chunks ? Int.max : 0)
            if global.json {
                Output.json(DocumentDetailSummary(detail, withChunks: chunks))
                return
            }
            let d = detail.document
            Output.line("\(Terminal.field(d.path)) · \(Terminal.field(d.title)) · \(d.format) · \(d.chunkCount) chunks")
            guard chunks else {
                if detail.textSource == "chunks" {
                    Output.line("(text put together from the chunks: the extracted text was not kept)")
                }
                Output.line("")
                Output.line(Terminal.text(detail.text))
                return
            }
            for c in detail.chunks {
                var head = "#\(c.id)"
                if !c.section.isEmpty { head += " · \(Terminal.field(c.section))" }
                if let p = c.page { head += " · p. \(p)" }
                if c.edited { head += " · edited" }
                if !c.enabled { head += " · disabled" }
                Output.line("")
                Output.line(head)
                Output.line(Terminal.text(c.text))
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete documents by id or path.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long) var kb: String
        @Argument(help: "Document ids or paths.") var documents: [String]

        func run() throws {
            let app = global.app()
            defer { app.close() }
            let deleted = try app.library().open(kb).deleteDocuments(documents)
            if global.json {
                Output.json(["deleted": deleted.map(DocJSON.init)])
            } else {
                for d in deleted { Output.line("deleted \(Terminal.field(d.path)) (\(d.chunkCount) chunks)") }
            }
        }
    }
}
