import ArgumentParser
import Foundation
import Logging
import WendaoApp
import WendaoCore
import WendaoEmbed
import WendaoModels
import WendaoRAG

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat", abstract: "Send one prompt to a model and stream the reply.",
        discussion: """
            Example: wendao chat deepseek:deepseek-chat "用一句话介绍你自己". Use - as the prompt to read stdin. A local \
            model runs on this machine: wendao chat local:smollm2-135m "Hello" (after wendao models pull smollm2-135m).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(
        help: "provider:model (dashscope:qwen-plus, ollama:qwen2.5, custom:NAME) or local:NAME, local:/path.gguf.")
    var model: String
    @Argument(help: "The prompt (- reads standard input).") var prompt: String
    @Option(name: .long, help: "A system prompt.") var system: String?
    @Option(name: .long, help: "Sampling temperature.") var temperature: Double?
    @Option(name: .long, help: "Upper bound on generated tokens.") var maxTokens: Int?
    @Flag(name: .long, help: "Also print the model's reasoning (DeepSeek-R1 and the like) to stderr.")
    var showReasoning = false

    struct Body: Encodable {
        var model: String
        var reply: String
        var reasoning: String?
        var finish_reason: String?
        var usage: UsageReport
    }

    func run() async throws {
        let setup = try ModelSetup(global: global)
        let resolved = try setup.resolve(model)
        var text = prompt
        if prompt == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw WendaoError(.invalidArgument, "the prompt is empty")
        }
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(.system, system)) }
        messages.append(ChatMessage(.user, text))
        if let maxTokens, maxTokens <= 0 { throw WendaoError(.invalidArgument, "--max-tokens must be positive") }
        let options = ChatOptions(temperature: temperature, maxTokens: maxTokens)
        let app = setup.app()
        let json = global.json
        let showReasoning = self.showReasoning
        let started = ContinuousClock.now
        do {
            let chat = try await app.chatModel(for: resolved)
            var reply = ""
            var reasoning = ""
            var usage = TokenUsage.zero
            var finish: String?
            for try await e in chat.streamChat(messages, options: options) {
                switch e {
                case .text(let t):
                    reply += t
                    if !json { Output.write(t) }
                case .reasoning(let r):
                    reasoning += r
                    if showReasoning && !json { FileHandle.standardError.write(Data(r.utf8)) }
                case .usage(let u): usage = u
                case .finish(let f): finish = f
                }
            }
            try Task.checkCancellation()
            await app.shutdown()
            let report = UsageReport(
                model: resolved, usage: usage, calls: 1, seconds: (ContinuousClock.now - started).seconds)
            if json {
                Output.json(
                    Body(
                        model: resolved.id, reply: reply, reasoning: reasoning.isEmpty ? nil : reasoning,
                        finish_reason: finish, usage: report))
            } else {
                if !reply.hasSuffix("\n") { Output.write("\n") }
                if reply.isEmpty { Output.err("warning: \(resolved.provider) returned an empty reply") }
                if finish == "length" { Output.err("warning: the reply was cut off at the token limit") }
                Output.err(report.line)
            }
        } catch {
            await app.shutdown()
            throw error
        }
    }
}
