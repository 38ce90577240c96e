import Foundation
import Testing
import WendaoTestSupport
import WendaoModels

/// The README's and docs' claims about `config.yaml` stay in step with the code: every YAML example
/// they show is read without an unknown-key warning, and every `section.key` they name in backticks
/// is a key the reader knows.
@Suite("config.yaml in the docs")
struct ConfigDocsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func documents() throws -> [(String, String)] {
        var out: [(String, String)] = []
        for name in ["README.md", "SECURITY.md", "docs/http-api.md"] {
            let url = root.appendingPathComponent(name)
            out.append((name, try String(contentsOf: url, encoding: .utf8)))
        }
        return out
    }

    @Test("Every YAML example in the README and docs reads without warnings")
    func examplesParse() throws {
        var examples = 0
        for (name, text) in try Self.documents() {
            for block in text.components(separatedBy: "```yaml\n").dropFirst() {
                let yaml = block.components(separatedBy: "```").first ?? ""
                let c = try ModelsConfiguration.parse(yaml, source: name)
                #expect(c.warnings.isEmpty, "\(name): \(c.warnings)")
                examples += 1
            }
        }
        #expect(examples >= 3)
    }

    @Test("Every `section.key` the docs name for config.yaml is a key the reader knows")
    func namedKeysAreKnown() throws {
        let sections: Set<String> = ["server", "web", "timeouts", "retries", "conversations"]
        var named = 0
        for (name, text) in try Self.documents() {
            for piece in text.components(separatedBy: "`").enumerated() where piece.offset % 2 == 1 {
                let parts = piece.element.split(separator: ".")
                guard parts.count == 2, sections.contains(String(parts[0])),
                    parts[1].allSatisfy({ $0.isLowercase || $0 == "_" })
                else { continue }
                let yaml = "\(parts[0]):\n  \(parts[1]): \(Self.sample(String(parts[1])))\n"
                let c = try ModelsConfiguration.parse(yaml, source: name)
                #expect(c.warnings.isEmpty, "\(name) names `\(piece.element)`: \(c.warnings)")
                named += 1
            }
        }
        #expect(named >= 3)
    }

    /// A value of the right kind for a key, by its name.
    static func sample(_ key: String) -> String {
        if key.hasPrefix("allow") { return "[\"example.org\"]" }
        if key.hasSuffix("_env") { return "SOME_VARIABLE" }
        return "10"
    }
}
