import Foundation
import GRDB
public import WendaoCore

/// The embedded store: one SQLite database (WAL, foreign keys on, one writer) holding every
/// knowledge base of a data directory.
///
/// ```swift
/// let store = try SQLiteStore(path: "/data/wendao.sqlite")
/// let kb = try store.createKnowledgeBase(name: "logistics", settings: .default)
/// ```
public final class SQLiteStore: KnowledgeStore, Sendable {
    /// The connections; used by the aggregate extensions (SQLiteStore+*.swift).
    let pool: DatabasePool
    /// False only for a test database built up to a migration before `v3` (no source columns).
    let hasSourceColumns: Bool
    /// False only for a test database built up to a migration before `v5-documents` (no document
    /// texts, chunk flags or curated answers).
    let hasDocumentTexts: Bool
    /// Where the database file is.
    public let path: String

    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    public convenience init(path: String) throws {
        try self.init(path: path, migratingUpTo: nil)
    }

    /// Opens the database at `path`, migrating up to the migration named `target` (all when nil);
    /// tests use it to build databases of an older schema version.
    init(path: String, migratingUpTo target: String?) throws {
        self.path = path
        hasSourceColumns = target == nil || !["v1", "v2"].contains(target!)
        hasDocumentTexts = target == nil || target == "v5-documents"
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            if let target {
                try Self.migrator.migrate(pool, upTo: target)
            } else {
                try Self.migrator.migrate(pool)
            }
        } catch let e as DatabaseError {
            throw WendaoError(.storage, "cannot open database \(path): \(e.message ?? "\(e.resultCode)")")
        }
    }

    /// Runs `body`, turning a database error into a ``WendaoError`` `.storage` that starts with `what`.
    func wrap<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as WendaoError {
            throw e
        } catch let e as DatabaseError {
            throw WendaoError(.storage, "\(what): \(e.message ?? "\(e.resultCode)")")
        }
    }
}
