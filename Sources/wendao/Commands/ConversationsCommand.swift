import ArgumentParser
import Foundation
import WendaoCore
import WendaoRAG

struct ConversationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversations",
        abstract: "List, show, delete and export the conversations kept by the HTTP server.",
        discussion: """
            Every question asked through `wendao serve` and its answer is kept as a turn of a conversation \
            (who asked — the admin, an open local server or a key, by name, never the key — the sources, the \
            model, the time taken and the asker's feedback). This command reads them from the data directory \
            as the administrator: every knowledge base, every caller.
            """,
        subcommands: [List.self, Show.self, Delete.self, Export.self])

    /// Filters shared by `list` and `export`.
    struct Filters: ParsableArguments {
        @Option(name: .customLong("kb"), help: "Only this knowledge base.") var kb: String?
        @Option(help: "Only conversations with a turn asked on or after this date (2026-12-06) or time.")
        var from: String?
        @Option(help: "Only conversations with a turn asked on or before this date, or before this time.")
        var to: String?
        @Flag(help: "Only turns answered \"not found\".") var notFound = false
        @Flag(help: "Only turns rated thumbs down.") var thumbsDown = false

        func query(_ lib: Library) throws -> ConversationQuery {
            var q = ConversationQuery()
            if let kb { q.knowledgeBaseIDs = [try lib.record(kb).id] }
            q.from = try from.map { try Self.time($0, "--from", endOfDay: false) }
            q.to = try to.map { try Self.time($0, "--to", endOfDay: true) }
            q.notFound = notFound
            q.thumbsDown = thumbsDown
            return q
        }

        static func time(_ text: String, _ option: String, endOfDay: Bool) throws -> Double {
            guard let t = ConversationSummary.time(text, endOfDay: endOfDay) else {
                throw WendaoError(
                    .invalidArgument, "\(option) must be a date (2026-12-06) or a time (2026-12-06T08:00:00Z)")
            }
            return t
        }
    }

    /// Knowledge-base names by id.
    static func names(_ lib: Library) throws -> [Int64: String] {
        Dictionary(try lib.list().map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    static func conversation(_ lib: Library, _ id: Int64) throws -> ConversationRecord {
        guard let c = try lib.store.conversation(id: id) else {
            throw WendaoError(.notFound, "conversation \(id) does not exist")
        }
        return c
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List conversations, most recent first.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var filters: Filters
        @Option(help: "Conversations per page (1…200).") var limit = 50
        @Option(help: "Continue after this cursor (printed after a full page).") var cursor: String?

        struct Page: Encodable {
            var conversations: [ConversationSummary]
            @ExplicitNull var next_cursor: String? = nil
        }

        func run() throws {
            guard (1...200).contains(limit) else { throw WendaoError(.invalidArgument, "--limit must be 1…200") }
            let lib = try global.library()
            var q = try filters.query(lib)
            q.limit = limit + 1
            if let cursor {
                guard let position = ConversationSummary.position(cursor) else {
                    throw WendaoError(.invalidArgument, "--cursor is not one this command printed")
                }
                q.after = position
            }
            let rows = try lib.store.conversations(q)
            let page = Array(rows.prefix(limit))
            let kbNames = try ConversationsCommand.names(lib)
            let next = rows.count > limit ? page.last.map(ConversationSummary.cursor(after:)) : nil
            let views = page.map { ConversationSummary($0, kb: kbNames[$0.kbID] ?? "") }
            if global.json {
                Output.json(Page(conversations: views, next_cursor: next))
                return
            }
            guard !views.isEmpty else {
                Output.line("no conversations")
                return
            }
            Output.line(
                ["ID", "KNOWLEDGE BASE", "UPDATED", "TURNS", "NOT FOUND", "THUMBS DOWN", "CALLER", "TITLE"]
                    .joined(separator: "\t"))
            for v in views {
                Output.line(
                    [
                        String(v.id), Terminal.field(v.kb), v.updated_at, String(v.turns), String(v.not_found),
                        String(v.thumbs_down), Terminal.field(v.caller.name), Terminal.field(v.title),
                    ].joined(separator: "\t"))
            }
            if let next { Output.line("more: --cursor \(next)") }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a conversation with its turns.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The conversation's id.") var id: Int64

        struct Full: Encodable {
            var conversation: ConversationSummary
            var turns: [TurnView]
        }

        func run() throws {
            let lib = try global.library()
            let c = try ConversationsCommand.conversation(lib, id)
            let summary = ConversationSummary(c, kb: try ConversationsCommand.names(lib)[c.kbID] ?? "")
            let turns = try lib.store.turns(conversation: id).map(TurnView.init)
            if global.json {
                Output.json(Full(conversation: summary, turns: turns))
                return
            }
            Output.line(
                "conversation \(summary.id) · \(Terminal.field(summary.kb)) · \(Terminal.field(summary.caller.name)) · "
                    + summary.created_at)
            for t in turns {
                Output.line("")
                Output.line("Q: \(Terminal.text(t.question))")
                Output.line("A: \(Terminal.text(t.answer))")
                var facts = ["\(t.mode)", "\(t.duration_ms) ms", t.found ? "found" : "not found"]
                if let m = t.model { facts.append(Terminal.field(m)) }
                if let carried = t.carried { facts.append("carried: \(Terminal.field(carried))") }
                Output.line("   " + facts.joined(separator: " · "))
                for c in t.citations {
                    Output.line("   [\(c.n)] \(Terminal.field(c.document)) › \(Terminal.field(c.section))")
                }
                if let f = t.feedback {
                    Output.line("   feedback: \(f.rating)" + (f.note.map { " — \(Terminal.text($0))" } ?? ""))
                }
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a conversation with its turns.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The conversation's id.") var id: Int64

        func run() throws {
            let lib = try global.library()
            try lib.store.deleteConversation(id: id)
            if global.json {
                Output.json(["deleted": id])
            } else {
                Output.line("deleted conversation \(id)")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export turns as CSV (one row per turn; formula-like cells prefixed with ').")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var filters: Filters
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

        func run() throws {
            let lib = try global.library()
            let q = try filters.query(lib)
            let kbNames = try ConversationsCommand.names(lib)
            var csv = ConversationCSV.header
            var rows = 0
            try lib.store.forEachTurn(q) { c, t in
                csv += ConversationCSV.row(c, t, kb: kbNames[c.kbID] ?? "")
                rows += 1
            }
            if let output {
                do {
                    try Data(csv.utf8).write(to: URL(fileURLWithPath: output))
                } catch {
                    throw WendaoError(.storage, "cannot write \(output): \(error.localizedDescription)")
                }
                struct Exported: Encodable {
                    var file: String
                    var rows: Int
                }
                if global.json {
                    Output.json(Exported(file: output, rows: rows))
                } else {
                    Output.line("exported \(rows) turns to \(Terminal.field(output))")
                }
            } else {
                Output.stdout(Data(csv.utf8))
            }
        }
    }
}
