import ArgumentParser
import Foundation
import WendaoCore
import WendaoRAG

struct DocsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docs", abstract: "List or delete the documents of a knowledge base.",
        subcommands: [List.self, Delete.self])

    struct DocJSON: Encodable {
        var id: Int64
        var path: String
        var title: String
        var format: String
        var chunks: Int
        var bytes: Int64
        var sha256: String
        var ingested_at: String

        init(_ d: DocumentRecord) {
            id = d.id
            path = d.path
            title = d.title
            format = d.format
            chunks = d.chunkCount
            bytes = d.byteCount
            sha256 = d.contentHash
            ingested_at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: d.ingestedAt))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List documents.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long) var kb: String

        func run() throws {
            let docs = try global.library().open(kb).documents()
            if global.json {
                Output.json(["documents": docs.map(DocJSON.init)])
            } else {
                for d in docs { Output.line("\(d.id)\t\(d.chunkCount) chunks\t\(d.format)\t\(d.path)") }
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
            let deleted = try global.library().open(kb).deleteDocuments(documents)
            if global.json {
                Output.json(["deleted": deleted.map(DocJSON.init)])
            } else {
                for d in deleted { Output.line("deleted \(d.path) (\(d.chunkCount) chunks)") }
            }
        }
    }
}
