import ArgumentParser
import Foundation
import WendaoCore
import WendaoRAG

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Create, list and revoke API keys for the HTTP server.",
        discussion: """
            A key covers the knowledge bases named when it is created, by id: a knowledge base deleted and \
            created again under the same name is not covered. `read` keys may list, search, ask and chat; \
            `write` keys may also upload, delete and re-ingest documents and change settings.

            Keys are stored hashed: `create` shows a key once and it cannot be shown again.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    /// The `--json` shape of a key (never the key itself or its hash).
    typealias KeyJSON = APIKeySummary

    /// `keys create --json`: the key (shown this once) plus the record.
    struct CreatedJSON: Encodable {
        var key: String
        var record: KeyJSON

        enum CodingKeys: String, CodingKey { case key }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(key, forKey: .key)
            try record.encode(to: encoder)
        }
    }

    /// Knowledge-base names by id.
    static func names(_ lib: Library) throws -> [Int64: String] {
        Dictionary(try lib.list().map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    static func describe(_ k: KeyJSON) -> String {
        let kbs = k.knowledge_bases.isEmpty ? "(none)" : k.knowledge_bases.joined(separator: ",")
        return [
            String(k.id), k.name, k.prefix, k.scope, kbs, k.created_at, k.last_used_at ?? "never",
            k.revoked_at.map { "revoked \($0)" } ?? "active",
        ].joined(separator: "\t")
    }

    enum Scope: String, EnumerableFlag {
        case read, write

        static func help(for value: Self) -> ArgumentHelp? {
            switch value {
            case .read: "Read-only key: list, search, ask, chat."
            case .write: "Read-write key: also upload, delete and re-ingest documents, change settings."
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key (printed once: it is stored hashed and cannot be shown again).")
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("kb"), help: "A knowledge base the key covers (repeat for several).")
        var knowledgeBases: [String] = []
        @Flag var scope: Scope = .read
        @Option(help: "A label for the key (default key-N).") var name: String?

        func run() throws {
            let lib = try global.library()
            let (key, record) = try lib.createAPIKey(
                name: name, knowledgeBases: knowledgeBases, scope: APIKeyScope(rawValue: scope.rawValue) ?? .read)
            let info = KeyJSON(record, names: try names(lib))
            let warning = "Copy the key now: it is stored hashed and cannot be shown again."
            if global.json {
                Output.json(CreatedJSON(key: key, record: info))
                Output.err(warning)
            } else {
                Output.line(key)
                Output.line(
                    "created API key \(info.id) '\(info.name)' (\(info.scope)) for: "
                        + info.knowledge_bases.joined(separator: ", "))
                Output.line(warning)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List API keys (never the keys themselves).")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let lib = try global.library()
            let kbNames = try names(lib)
            let all = try lib.apiKeys().map { KeyJSON($0, names: kbNames) }
            if global.json {
                Output.json(["keys": all])
            } else if all.isEmpty {
                Output.line("no API keys yet — create one with `wendao keys create --kb NAME`")
            } else {
                Output.line(
                    ["ID", "NAME", "PREFIX", "SCOPE", "KNOWLEDGE BASES", "CREATED", "LAST USED", "STATUS"].joined(
                        separator: "\t"))
                for k in all { Output.line(describe(k)) }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key by id or prefix.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The key's id or prefix (wdk_…), as `wendao keys list` shows.") var key: String

        func run() throws {
            let lib = try global.library()
            let record = try lib.revokeAPIKey(key)
            let info = KeyJSON(record, names: try names(lib))
            if global.json {
                Output.json(info)
            } else {
                Output.line("revoked API key \(info.id) '\(info.name)' (\(info.prefix)…)")
            }
        }
    }
}
