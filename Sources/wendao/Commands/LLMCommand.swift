import ArgumentParser
import Foundation
import WendaoCore
import WendaoLLM

/// `wendao llm`: local language models (GGUF files).
struct LLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm", abstract: "Look inside local language models (GGUF files).",
        subcommands: [GGUFInfo.self, Inspect.self])

    struct GGUFInfo: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gguf",
            abstract: "Show a GGUF file's metadata and tensor table (every offset and size checked first).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The .gguf file.") var file: String
        @Flag(help: "List every tensor, not only the count per type.") var tensors = false

        struct Body: Encodable {
            var file: String
            var version: UInt32
            var architecture: String?
            var metadata: [String: String]
            var tensor_count: Int
            var tensor_types: [String: Int]
            var tensor_bytes: Int
            var tensors: [Tensor]?

            struct Tensor: Encodable {
                var name: String
                var type: String
                var shape: [Int]
                var bytes: Int
            }
        }

        /// A metadata value in one line: arrays by their length and first items.
        static func describe(_ v: GGUFValue) -> String {
            switch v {
            case .unsigned(let u): String(u)
            case .signed(let s): String(s)
            case .float(let f): String(f)
            case .bool(let b): String(b)
            case .string(let s): s.count > 200 ? String(s.prefix(200)) + "…" : s
            case .array(let a):
                "[\(a.count) items"
                    + (a.isEmpty
                        ? "]" : ": " + a.prefix(5).map(describe).joined(separator: ", ") + (a.count > 5 ? ", …]" : "]"))
            }
        }

        func run() throws {
            let f = try GGUFFile(path: file)
            var types: [String: Int] = [:]
            for t in f.tensors { types[t.type.name, default: 0] += 1 }
            let body = Body(
                file: file, version: f.version, architecture: f.architecture,
                metadata: Dictionary(uniqueKeysWithValues: f.metadataKeys.map { ($0, Self.describe(f.metadata[$0]!)) }),
                tensor_count: f.tensors.count, tensor_types: types,
                tensor_bytes: f.tensors.reduce(0) { $0 + $1.byteCount },
                tensors: tensors
                    ? f.tensors.map { .init(name: $0.name, type: $0.type.name, shape: $0.shape, bytes: $0.byteCount) }
                    : nil)
            if global.json {
                Output.json(body)
                return
            }
            Output.line("\(Terminal.field(file)): GGUF v\(f.version), \(f.architecture ?? "unknown architecture")")
            for key in f.metadataKeys {
                Output.line("  \(Terminal.field(key)) = \(Terminal.field(Self.describe(f.metadata[key]!)))")
            }
            let summary = types.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            Output.line("  \(f.tensors.count) tensors (\(summary)), \(body.tensor_bytes) bytes of weights")
            if tensors {
                for t in f.tensors {
                    Output.line("    \(Terminal.field(t.name))  \(t.type.name)  \(t.shape)  \(t.byteCount) bytes")
                }
            }
        }
    }
}
