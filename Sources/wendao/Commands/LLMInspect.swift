import ArgumentParser
import Foundation
import WendaoCore
import WendaoLLM

extension LLMCommand {
    /// `wendao llm inspect MODEL "text"`: tokens, the rendered prompt, and each generated step.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Show how a local model reads and writes: tokens, chat template, next-token candidates.",
            discussion: """
                Tokenizes TEXT (ids and pieces), renders it as a user message with the model's chat \
                template, then generates --steps tokens and shows, for each, the most likely candidates \
                with their probabilities and the token the sampler chose; plus the key/value cache's size \
                and the time per token. MODEL is local:NAME, a pulled model's name, or a .gguf path.
                """)
        @Argument(help: "local:NAME, a pulled model's name, or a .gguf file.") var model: String
        @Argument(help: "The text (sent as one user message).") var text: String
        @Option(help: "Tokens to generate.") var steps = 16
        @Option(help: "Candidates shown per step.") var top = 5
        @Option(help: "Sampling temperature (0: always the most likely).") var temperature = 0.0
        @Option(help: "Random seed of the sampler.") var seed: UInt64 = 1
        @Option(help: "Context length (positions in the cache).") var context = 2048
        @Option(help: "Kernel threads (default: all cores).") var threads: Int?
        @Flag(help: "Render TEXT as it is, without the chat template.") var raw = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            guard steps >= 0, steps <= 4096, top >= 1, top <= 100 else {
                throw WendaoError(.invalidArgument, "--steps must be 0…4096 and --top 1…100")
            }
            let path = try LocalModelLocator.path(model)
            let m = try LanguageModel(path: path, contextLength: context, threads: threads)
            let report = try LLMInspection.run(
                m, text: text, chat: !raw, steps: steps, top: top,
                sampling: SamplingOptions(temperature: temperature, topK: 40, topP: 0.95, minP: 0.05, seed: seed))
            if global.json {
                Output.json(report)
                return
            }
            Output.line("\(Terminal.field(report.model)) (\(report.architecture), \(report.parameters))")
            Output.line("Text tokens (\(report.text_tokens.count)):")
            Output.line(
                "  " + report.text_tokens.map { "\($0.id)·\(Terminal.field(Self.visible($0.piece)))" }.joined(separator: "  "))
            Output.line("Prompt (\(report.prompt_tokens) tokens):")
            for line in report.prompt.split(separator: "\n", omittingEmptySubsequences: false) {
                Output.line("  │ " + Terminal.field(String(line)))
            }
            Output.line("Generation (\(report.sampler)):")
            for (i, s) in report.steps.enumerated() {
                let cands = s.candidates.map {
                    String(format: "%@ %.1f%%", Terminal.field(Self.visible($0.piece)), $0.probability * 100)
                }.joined(separator: " · ")
                Output.line(
                    String(format: "  %2d → %@   [%@]  %.1f ms", i + 1, Terminal.field(Self.visible(s.chosen.piece)), cands, s.ms))
            }
            Output.line("Answer: \(Terminal.field(report.answer))")
            Output.line(
                String(
                    format: "KV cache: %.1f MB for %d positions · prompt %.0f ms · %.1f ms per token",
                    report.kv_cache_mb, report.context, report.prompt_ms, report.ms_per_token))
        }

        /// Whitespace and control characters made visible.
        static func visible(_ s: String) -> String {
            s.replacingOccurrences(of: "\n", with: "↵").replacingOccurrences(of: "\t", with: "⇥")
                .replacingOccurrences(of: " ", with: "␣")
        }
    }
}

/// The GGUF file a command-line model argument names: `local:NAME`, a catalogue name, `local:/path`
/// or a plain path to a `.gguf` file.
enum LocalModelLocator {
    static func path(_ argument: String) throws(WendaoError) -> String {
        let spec = argument.trimmingCharacters(in: .whitespaces)
        if LocalModelCatalog.isLocal(spec) { return try LocalModelCatalog.reference(spec).path }
        if LocalModelCatalog.known(spec) != nil { return try LocalModelCatalog.reference("local:" + spec).path }
        let path = URL(fileURLWithPath: spec).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw WendaoError(
                .notFound, "\(argument): no such model file (give local:NAME, a pulled model's name, or a .gguf path)")
        }
        return path
    }
}
