import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoRAG

struct DocsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docs", abstract: "List or delete the documents of a knowledge base.",
        subcommands: [List.self, Delete.self])

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
