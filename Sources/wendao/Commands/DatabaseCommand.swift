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
        subcommands: [DatabaseMigrateCommand.self])
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
        guard let url = global.environment[Library.databaseURLVariable], !url.isEmpty else {
            throw WendaoError(.invalidArgument, "name the database with --database postgres://… or WENDAO_DATABASE_URL")
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
