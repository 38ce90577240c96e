import ArgumentParser
import Foundation
import Logging
import WendaoApp
import WendaoCore
import WendaoEmbed
import WendaoModels
import WendaoRAG

struct PromptsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts", abstract: "Show or export the prompt templates used for model-written answers.",
        subcommands: [Show.self, Export.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the templates a knowledge base uses, and the file each comes from.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "The knowledge base whose prompt templates to show or change.") var kb: String

        func run() throws {
            let dir = Library.defaultDirectory(explicit: global.data, environment: ProcessInfo.processInfo.environment)
            let t = try PromptTemplates.load(dataDirectory: dir, kb: kb)
            if global.json {
                var out: [String: [String: String]] = [:]
                for n in PromptTemplates.Name.allCases {
                    out[n.rawValue] = ["text": t[n], "file": t.origins[n]?.path ?? "built-in"]
                }
                Output.json(out)
                return
            }
            for n in PromptTemplates.Name.allCases {
                Output.line("== \(n.rawValue) (\(t.origins[n]?.path ?? "built-in"))")
                Output.line(t[n])
                Output.line("")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Write the built-in templates into <data>/prompts/<kb>/ (or <data>/prompts/ for all) to edit them.",
            discussion: """
                Templates are read from <data>/prompts/<kb>/<name>.txt, then <data>/prompts/<name>.txt, then the \
                built-in text. Placeholders: {{sources}}, {{question}}, {{language}}, {{not_found}}, {{history}}.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Knowledge base whose own templates to write (omit for the shared ones).")
        var kb: String?
        @Flag(name: .long, help: "Replace existing files.") var force = false

        func run() throws {
            let dir = Library.defaultDirectory(explicit: global.data, environment: ProcessInfo.processInfo.environment)
            var target = dir.appendingPathComponent("prompts", isDirectory: true)
            if let kb {
                try Library.validateName(kb)
                target = target.appendingPathComponent(kb, isDirectory: true)
            }
            // The built-in text: exporting restores the defaults even when an override is broken.
            let files: [URL]
            do {
                files = try PromptTemplates.builtIn.write(to: target, overwrite: force)
            } catch {
                let e: WendaoError = error
                throw e.code == .alreadyExists ? WendaoError(e.code, e.message + "; add --force to replace it") : e
            }
            if global.json {
                Output.json(["files": files.map(\.path)])
            } else {
                for f in files { Output.line(f.path) }
            }
        }
    }
}
