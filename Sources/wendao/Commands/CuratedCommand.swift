import ArgumentParser
import Foundation
import WendaoApp
import WendaoCore
import WendaoRAG

/// `wendao curated`: the curated answers (an editor's questions and answers) of a knowledge base.
struct CuratedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curated",
        abstract: "Curated answers: questions answered with an editor's text, cited as \"curated answer\".",
        discussion: """
            A curated answer answers its question, and close paraphrases of it, before retrieval: `ask` and the \
            server return its text with found = true and one citation of kind "curated" (also when a model \
            answers: the curated text is returned as it is, without calling the model).
            """,
        subcommands: [Add.self, List.self, Edit.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a curated answer.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "The knowledge base.") var kb: String
        @Option(name: .long, help: "The question (at most 2,000 characters; new to this knowledge base).")
        var question: String
        @Option(name: .long, help: "The answer (at most 20,000 characters).") var answer: String
        @Option(name: .long, help: "A note for other editors (why, where from).") var note: String?

        func run() throws {
            let app = global.app()
            defer { app.close() }
            let e = try app.library().open(kb).addCuratedAnswer(question: question, answer: answer, note: note)
            if global.json {
                Output.json(CuratedAnswerSummary(e))
            } else {
                Output.line("added curated answer \(e.id): \(Terminal.field(e.question))")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List curated answers.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "The knowledge base.") var kb: String

        func run() throws {
            let entries = try global.library().open(kb).curatedAnswers()
            if global.json {
                Output.json(["curated": entries.map(CuratedAnswerSummary.init)])
                return
            }
            for e in entries {
                Output.line("\(e.id)\t\(Terminal.field(e.question))\t\(Terminal.field(String(e.answer.prefix(80))))")
            }
            if entries.isEmpty {
                Output.line("no curated answers — add one with `wendao curated add --kb \(kb) --question Q --answer A`")
            }
        }
    }

    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a curated answer.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "The knowledge base.") var kb: String
        @Argument(help: "The curated answer's id.") var id: Int64
        @Option(name: .long, help: "A new question.") var question: String?
        @Option(name: .long, help: "A new answer.") var answer: String?
        @Option(name: .long, help: "A new note (empty: remove it).") var note: String?

        func run() throws {
            let app = global.app()
            defer { app.close() }
            let e = try app.library().open(kb).updateCuratedAnswer(
                id: id, question: question, answer: answer, note: note)
            if global.json {
                Output.json(CuratedAnswerSummary(e))
            } else {
                Output.line("changed curated answer \(e.id): \(Terminal.field(e.question))")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete curated answers by id.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "The knowledge base.") var kb: String
        @Argument(help: "Curated answer ids.") var ids: [Int64]

        func run() throws {
            let app = global.app()
            defer { app.close() }
            let base = try app.library().open(kb)
            for id in ids { try base.deleteCuratedAnswer(id: id) }
            if global.json {
                Output.json(["deleted": ids])
            } else {
                for id in ids { Output.line("deleted curated answer \(id)") }
            }
        }
    }
}
