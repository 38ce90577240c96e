public import Foundation
public import WendaoCore
public import WendaoRAG
import Yams

/// An evaluation suite: a test set, a knowledge base and the variants to compare on it, read from a
/// YAML file (see `Samples/logistics/eval-suite.yaml` and the README's "Prompt and evaluation
/// workbench").
///
/// ```yaml
/// name: logistics
/// kb: logistics
/// tests: eval-customer.jsonl          # JSONL, CSV or XLSX, relative to this file
/// limit: 20                           # the first 20 questions (optional)
/// defaults:                           # applied to every variant unless it says otherwise
///   retrieval: { mode: bm25, top_k: 8, max_context_tokens: 2000 }
///   temperature: 0.2
///   max_tokens: 512
/// matrix:                             # every prompt with every model
///   prompts: { concise: .eval-prompts/concise.txt, strict: .eval-prompts/strict.txt }
///   models: [openai:gpt-4o-mini]
/// variants:                           # and/or a list
///   - { name: extractive, model: extractive }
/// judge: { model: openai:gpt-4o-mini }
/// ```
///
/// Errors name the file with the line and column of the offending node.
public struct EvalSuite: Sendable {
    /// The suite's name (`name`, else the file name without extension).
    public var name: String
    /// The suite file.
    public var file: URL
    /// The knowledge base answered from.
    public var knowledgeBase: String
    /// The test set file.
    public var testSet: URL
    /// Only the first this many questions.
    public var limit: Int?
    /// Only questions with one of these tags (empty: all).
    public var tags: [String]
    /// The variants, in order: the `variants:` list, then the matrix (the first is the reference of
    /// comparisons).
    public var variants: [EvalVariant]
    /// The judge, when the suite names one.
    public var judge: JudgeSettings?
    /// Calls in flight at once per provider.
    public var concurrency: Int
    /// Seed of the bootstrap.
    public var seed: UInt64

    /// Settings of the model-as-judge.
    public struct JudgeSettings: Sendable, Equatable {
        /// The judging model (`provider:model` or `local:NAME`).
        public var model: String
        /// Two variant names compared head to head (positions swapped), if any.
        public var pairwise: [String]
    }

    /// The model name of the embedded extractive answerer.
    public static let extractiveModel = "extractive"

    /// Reads and checks the suite at `file`: the YAML, the test set's presence, the prompt templates
    /// (read, hashed, placeholders checked). Models are checked by the caller (they need the
    /// environment).
    public static func load(_ file: URL) throws -> EvalSuite {
        guard let data = try? Data(contentsOf: file) else {
            throw WendaoError(.unreadable, "cannot read the suite \(file.path) (no such file?)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WendaoError(.unreadable, "\(file.path): not UTF-8 text")
        }
        return try parse(text, file: file)
    }

    /// Parses suite text; `file` names it in messages and anchors relative paths.
    public static func parse(_ text: String, file: URL) throws -> EvalSuite {
        let source = file.path
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw WendaoError(.invalidArgument, "\(source): not valid YAML (\(yamlProblem(error)))")
        }
        guard let root else { throw WendaoError(.invalidArgument, "\(source): the suite is empty") }
        let r = SuiteReader(source: source, directory: file.deletingLastPathComponent())
        let top = try r.mapping(root, "top level")
        try r.onlyKeys(
            top,
            ["name", "kb", "tests", "limit", "tags", "defaults", "matrix", "variants", "judge", "concurrency", "seed"],
            "top level")
        guard let kbNode = top["kb"] else {
            throw r.fail(root, "top level", "needs kb: the knowledge base to answer from")
        }
        let kb = try r.string(kbNode, "kb")
        guard let testsNode = top["tests"] else {
            throw r.fail(root, "top level", "needs tests: the test set file (JSONL, CSV or XLSX)")
        }
        let tests = r.path(try r.string(testsNode, "tests"))
        guard FileManager.default.isReadableFile(atPath: tests.path) else {
            throw r.fail(testsNode, "tests", "names \(tests.path), which cannot be read")
        }
        var defaults = EvalVariant(name: "", model: extractiveModel)
        if let d = top["defaults"] { defaults = try r.variantSettings(d, "defaults", base: defaults, allowName: false) }
        var variants: [EvalVariant] = []
        if let list = top["variants"] {
            guard case .sequence(let seq) = list else { throw r.fail(list, "variants", "must be a list") }
            for (i, node) in seq.enumerated() {
                var v = try r.variantSettings(node, "variants[\(i)]", base: defaults, allowName: true)
                if v.name.isEmpty {
                    let model = v.model
                    v.name = v.prompt.map { "\($0.name)@\(model)" } ?? model
                }
                variants.append(v)
            }
        }
        if let m = top["matrix"] {
            let matrix = try r.mapping(m, "matrix")
            try r.onlyKeys(matrix, ["prompts", "models"], "matrix")
            var prompts: [(String, PromptFile?)] = [("default", nil)]
            if let p = matrix["prompts"] { prompts = try r.prompts(p, "matrix.prompts").map { ($0.0, Optional($0.1)) } }
            guard let modelsNode = matrix["models"] else { throw r.fail(m, "matrix", "needs models: a list of models") }
            let models = try r.strings(modelsNode, "matrix.models")
            for model in models {
                for (pname, prompt) in prompts {
                    var v = defaults
                    v.model = model
                    if prompt != nil { v.prompt = prompt }
                    v.name = prompts.count == 1 && prompt == nil ? model : "\(pname)@\(model)"
                    variants.append(v)
                }
            }
        }
        guard !variants.isEmpty else {
            throw r.fail(root, "top level", "names no variants (add a matrix: or a variants: list)")
        }
        var names = Set<String>()
        for v in variants where !names.insert(v.name).inserted {
            throw WendaoError(.invalidArgument, "\(source): two variants are named '\(v.name)' (give them names)")
        }
        var judge: JudgeSettings?
        if let j = top["judge"] {
            let map = try r.mapping(j, "judge")
            try r.onlyKeys(map, ["model", "pairwise"], "judge")
            guard let model = map["model"] else { throw r.fail(j, "judge", "needs model: the judging model") }
            let pairwise = try map["pairwise"].map { try r.strings($0, "judge.pairwise") } ?? []
            if !pairwise.isEmpty {
                guard pairwise.count == 2 else {
                    throw r.fail(j, "judge.pairwise", "must name two variants")
                }
                for p in pairwise where !names.contains(p) {
                    throw r.fail(
                        j, "judge.pairwise",
                        "names '\(p)', which is not a variant (\(names.sorted().joined(separator: ", ")))")
                }
            }
            judge = JudgeSettings(model: try r.string(model, "judge.model"), pairwise: pairwise)
        }
        let limit = try top["limit"].map { try r.int($0, "limit", min: 1) }
        let tags = try top["tags"].map { try r.strings($0, "tags") } ?? []
        let concurrency = try top["concurrency"].map { try r.int($0, "concurrency", min: 1) } ?? 4
        let seed = try top["seed"].map { UInt64(try r.int($0, "seed", min: 0)) } ?? 17
        let name = try top["name"].map { try r.string($0, "name") } ?? file.deletingPathExtension().lastPathComponent
        return EvalSuite(
            name: name, file: file, knowledgeBase: kb, testSet: tests, limit: limit, tags: tags, variants: variants,
            judge: judge, concurrency: concurrency, seed: seed)
    }

    /// The cases of the test set, filtered by ``tags`` and cut at ``limit``.
    public func cases() throws -> [EvalCase] {
        var all = try TestSetReader.read(testSet)
        if !tags.isEmpty { all = all.filter { !Set($0.tags).isDisjoint(with: tags) } }
        if let limit { all = Array(all.prefix(limit)) }
        return all
    }

    /// `file: line L, column C` of a YAML error, with the problem.
    static func yamlProblem(_ error: any Error) -> String {
        if let e = error as? YamlError {
            switch e {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                .composer(_, let problem, let mark, _):
                return "line \(mark.line), column \(mark.column): \(problem)"
            case .duplicatedKeysInMapping(let duplicates, _):
                return "duplicated keys: \(duplicates.joined(separator: ", "))"
            default: break
            }
        }
        let s = "\(error)".split(separator: "\n").first.map(String.init) ?? "syntax error"
        return s.count > 200 ? String(s.prefix(200)) + "…" : s
    }
}

/// A prompt template file of a variant: the answer call's system message (`{{not_found}}` required,
/// `{{language}}` allowed), versioned by the hash of its text.
public struct PromptFile: Sendable, Codable, Equatable {
    /// The name (the matrix key, else the file name without extension).
    public var name: String
    /// The path as the suite writes it.
    public var path: String
    /// The text.
    public var text: String
    /// The first 12 hex digits of the SHA-256 of the text: the template's version.
    public var version: String

    enum CodingKeys: String, CodingKey { case name, path, version }

    /// Creates a prompt file record.
    public init(name: String, path: String, text: String) {
        self.name = name
        self.path = path
        self.text = text
        var h = SHA256()
        h.update(Array(text.utf8))
        version = String(h.hexDigest().prefix(12))
    }

    /// Decodes the name, path and version (the text is not stored in reports).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        path = try c.decode(String.self, forKey: .path)
        version = try c.decode(String.self, forKey: .version)
        text = ""
    }
}

/// Retrieval settings of a variant.
public struct RetrievalSettings: Sendable, Codable, Equatable, Hashable {
    /// bm25, dense or hybrid (nil: the knowledge base's mode).
    public var mode: RetrievalMode?
    /// Passages retrieved.
    public var topK = 8
    /// A cap on the tokens of sources in the prompt.
    public var maxContextTokens: Int?

    enum CodingKeys: String, CodingKey { case mode, topK = "top_k", maxContextTokens = "max_context_tokens" }

    /// The defaults (the knowledge base's mode, 8 passages, no cap).
    public init() {}
}

/// One way of answering the test set: a model (or the extractive answerer), a prompt, retrieval
/// settings and sampling.
public struct EvalVariant: Sendable, Codable, Equatable {
    /// The name shown in reports (unique in the suite).
    public var name: String
    /// `provider:model`, `local:NAME`, or `extractive`.
    public var model: String
    /// The answer call's system prompt (nil: the built-in or the knowledge base's own template).
    public var prompt: PromptFile?
    /// Retrieval.
    public var retrieval = RetrievalSettings()
    /// Sampling temperature.
    public var temperature = 0.2
    /// Answer token limit.
    public var maxTokens = 1024
    /// The answer guard (auto: small models).
    public var answerGuard = AnswerGuardMode.auto

    enum CodingKeys: String, CodingKey {
        case name, model, prompt, retrieval, temperature, maxTokens = "max_tokens", answerGuard = "answer_guard"
    }

    /// Creates a variant with default settings.
    public init(name: String, model: String) {
        self.name = name
        self.model = model
    }

    /// Whether the embedded extractive answerer answers (no model call).
    public var isExtractive: Bool { model == EvalSuite.extractiveModel }

    /// What makes its answers what they are (not its name): the model, the prompt's version, retrieval,
    /// sampling and the guard. A result recorded under another fingerprint is not reused by `--resume`.
    public var fingerprint: String {
        var h = SHA256()
        let parts: [String] = [
            model, prompt?.version ?? "-", retrieval.mode?.rawValue ?? "-", String(retrieval.topK),
            retrieval.maxContextTokens.map(String.init) ?? "-",
            isExtractive ? "-" : String(temperature), isExtractive ? "-" : String(maxTokens),
            isExtractive ? "-" : answerGuard.rawValue,
        ]
        h.update(Array(parts.joined(separator: "\u{1F}").utf8))
        return String(h.hexDigest().prefix(16))
    }
}

/// Walks the composed YAML with errors that give the line and column.
struct SuiteReader {
    var source: String
    var directory: URL

    func fail(_ node: Node, _ path: String, _ what: String) -> WendaoError {
        let at = node.mark.map { " (line \($0.line), column \($0.column))" } ?? ""
        return WendaoError(.invalidArgument, "\(source)\(at): \(path) \(what)")
    }

    func mapping(_ node: Node, _ path: String) throws -> [String: Node] {
        guard case .mapping(let m) = node else { throw fail(node, path, "must be a mapping (key: value lines)") }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard let key = k.string else { throw fail(k, path, "has a key that is not text") }
            out[key] = v
        }
        return out
    }

    /// Fails on the first key of `map` not in `allowed`, naming the allowed ones.
    func onlyKeys(_ map: [String: Node], _ allowed: [String], _ path: String) throws {
        for (k, v) in map.sorted(by: { $0.key < $1.key }) where !allowed.contains(k) {
            throw fail(v, path, "has an unknown key '\(k)' (known: \(allowed.joined(separator: ", ")))")
        }
    }

    func string(_ node: Node, _ path: String) throws -> String {
        guard case .scalar(let s) = node, !s.string.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw fail(node, path, "must be a non-empty string")
        }
        return s.string.trimmingCharacters(in: .whitespaces)
    }

    func strings(_ node: Node, _ path: String) throws -> [String] {
        if case .scalar = node { return [try string(node, path)] }
        guard case .sequence(let seq) = node else { throw fail(node, path, "must be a list") }
        return try seq.enumerated().map { try string($0.element, "\(path)[\($0.offset)]") }
    }

    func int(_ node: Node, _ path: String, min: Int) throws -> Int {
        guard case .scalar = node, let v = node.int, v >= min else {
            throw fail(node, path, "must be a whole number of at least \(min)")
        }
        return v
    }

    func double(_ node: Node, _ path: String, range: ClosedRange<Double>) throws -> Double {
        guard case .scalar = node, let v = node.float, range.contains(v) else {
            throw fail(node, path, "must be a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return v
    }

    func path(_ relative: String) -> URL {
        relative.hasPrefix("/") ? URL(fileURLWithPath: relative) : directory.appendingPathComponent(relative)
    }

    /// Prompts as a mapping `name: file` or a list of files (named by their file name).
    func prompts(_ node: Node, _ path: String) throws -> [(String, PromptFile)] {
        if case .mapping = node {
            return try mapping(node, path).sorted { $0.key < $1.key }.map { name, v in
                (name, try prompt(v, "\(path).\(name)", name: name))
            }
        }
        return try strings(node, path).enumerated().map { i, file in
            let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            return (name, try prompt(node, "\(path)[\(i)]", name: name, file: file))
        }
    }

    /// Reads and checks the prompt file `node` names (or `file`).
    func prompt(_ node: Node, _ path: String, name: String, file: String? = nil) throws -> PromptFile {
        let relative = try file ?? string(node, path)
        let url = self.path(relative)
        guard let data = try? Data(contentsOf: url) else {
            throw fail(node, path, "names the prompt file \(url.path), which cannot be read")
        }
        guard data.count <= PromptTemplates.maxFileBytes else {
            throw fail(node, path, "names \(url.path), larger than \(PromptTemplates.maxFileBytes / 1024) KiB")
        }
        guard var text = String(data: data, encoding: .utf8) else {
            throw fail(node, path, "names \(url.path), which is not UTF-8 text")
        }
        text = text.replacingOccurrences(of: "\r\n", with: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        do throws(WendaoError) {
            try PromptTemplates.validate(text, named: .answerSystem, file: url.path)
        } catch {
            throw fail(node, path, "names a prompt template that cannot be used: \(error.message)")
        }
        return PromptFile(name: name, path: relative, text: text)
    }

    /// A variant (or the defaults) over `base`.
    func variantSettings(_ node: Node, _ path: String, base: EvalVariant, allowName: Bool) throws -> EvalVariant {
        let map = try mapping(node, path)
        var keys = ["model", "prompt", "retrieval", "temperature", "max_tokens", "answer_guard"]
        if allowName { keys.append("name") }
        try onlyKeys(map, keys, path)
        var v = base
        if let n = map["name"] { v.name = try string(n, "\(path).name") }
        if let m = map["model"] { v.model = try string(m, "\(path).model") }
        if let p = map["prompt"] {
            let file = try string(p, "\(path).prompt")
            v.prompt = try prompt(
                p, "\(path).prompt", name: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent)
        }
        if let t = map["temperature"] { v.temperature = try double(t, "\(path).temperature", range: 0...2) }
        if let t = map["max_tokens"] { v.maxTokens = try int(t, "\(path).max_tokens", min: 1) }
        if let g = map["answer_guard"] {
            let s = try string(g, "\(path).answer_guard")
            // YAML reads a bare `off` or `on` as a boolean; its text is what was written.
            guard let mode = AnswerGuardMode(rawValue: s.lowercased()) else {
                throw fail(g, "\(path).answer_guard", "must be auto, on or off")
            }
            v.answerGuard = mode
        }
        if let r = map["retrieval"] {
            let rm = try mapping(r, "\(path).retrieval")
            try onlyKeys(rm, ["mode", "top_k", "max_context_tokens"], "\(path).retrieval")
            if let m = rm["mode"] {
                let s = try string(m, "\(path).retrieval.mode")
                guard let mode = RetrievalMode(rawValue: s.lowercased()) else {
                    throw fail(m, "\(path).retrieval.mode", "must be bm25, dense or hybrid")
                }
                v.retrieval.mode = mode
            }
            if let k = rm["top_k"] { v.retrieval.topK = try int(k, "\(path).retrieval.top_k", min: 1) }
            if let c = rm["max_context_tokens"] {
                v.retrieval.maxContextTokens = try int(c, "\(path).retrieval.max_context_tokens", min: 1)
            }
        }
        if v.model.isEmpty { throw fail(node, path, "needs a model") }
        return v
    }
}
