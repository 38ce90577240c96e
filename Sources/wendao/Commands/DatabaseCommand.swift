import ArgumentParser
import Foundation
import Logging
import WendaoApp
import WendaoCore
import WendaoPostgres
import WendaoRAG

/// `wendao db`: the shared PostgreSQL database of a team deployment.
struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Manage the shared PostgreSQL database (--database or $WENDAO_DATABASE_URL).",
        subcommands: [DatabaseMigrateCommand.self, DatabaseCopyCommand.self])
}

/// `wendao db migrate`: applies pending schema migrations (servers also do it when they start; this
/// runs them ahead of an upgrade).
struct DatabaseMigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations to the PostgreSQL database.",
        discussion: """
            Migrations run once, under an advisory lock, however many servers or commands start at the same moment. \
            A database already migrated by a newer Wendao is refused.
            """)

    @OptionGroup var global: GlobalOptions

    func run() throws {
        guard let url = global.app().databaseURL else {
            throw WendaoError(
                .invalidArgument,
                "name the database with --database postgres://…, WENDAO_DATABASE_URL or database_url in config.yaml")
        }
        let store = try PostgresStore(url: url, logger: Logger(label: "wendao"))
        defer { store.close() }
        let version = try store.storedSchemaVersion()
        if global.json {
            struct Result: Encodable {
                var database: String
                var schema_version: Int
            }
            Output.json(Result(database: store.url.redacted, schema_version: version))
        } else {
            Output.line("\(store.url.redacted): schema version \(version)")
        }
    }
}

/// `wendao db copy --from DIR`: a SQLite data directory's knowledge bases, accounts and keys into the
/// shared database.
struct DatabaseCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a SQLite data directory into the PostgreSQL database.",
        discussion: """
            Copies knowledge bases (settings, documents, chunks, curated answers, conversations), accounts, API keys, \
            share links and sealed provider keys. Nothing in the database is overwritten: a knowledge base it already \
            holds stops the copy before anything is written. Servers rebuild their index files from the database; \
            vectors are embedded again when first needed.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The SQLite data directory to copy from (holds wendao.sqlite).") var from: String
    @Option(name: .customLong("kb"), help: "Copy only this knowledge base (repeatable; default: all).")
    var knowledgeBases: [String] = []

    func run() throws {
        guard let url = global.app().databaseURL else {
            throw WendaoError(
                .invalidArgument,
                "name the database with --database postgres://…, WENDAO_DATABASE_URL or database_url in config.yaml")
        }
        let file = URL(fileURLWithPath: from).appendingPathComponent("wendao.sqlite")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw WendaoError(.notFound, "no wendao.sqlite in \(from)")
        }
        let source = try Library.openSQLiteStore(directory: URL(fileURLWithPath: from))
        let target = try PostgresStore(url: url, logger: Logger(label: "wendao"))
        defer { target.close() }
        let json = global.json
        let summary = try StoreCopy.copy(
            from: source, to: target, knowledgeBases: knowledgeBases.isEmpty ? nil : knowledgeBases
        ) { step in
            if !json { Output.err("copying \(step)") }
        }
        if json {
            Output.json(summary)
        } else {
            Output.line(
                "copied \(summary.knowledgeBases.count) knowledge bases (\(summary.documents) documents, "
                    + "\(summary.chunks) chunks, \(summary.conversations) conversations), \(summary.users) accounts, "
                    + "\(summary.apiKeys) API keys, \(summary.shares) share links into \(target.url.redacted)")
        }
    }
}
