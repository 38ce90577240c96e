import Foundation
import NIOHTTP1
import WendaoCore
import WendaoModels

/// ComfyUI: a workflow in API format (exported with "Save (API)") whose string values may hold
/// placeholders, filled per task:
///
/// | placeholder | becomes |
/// |---|---|
/// | `{{prompt}}`, `{{negative_prompt}}` | the text (also inside a longer string) |
/// | `{{seed}}`, `{{width}}`, `{{height}}`, `{{batch_size}}`, `{{steps}}` | a number (the whole value) |
/// | `{{image:person}}`, `{{image:top}}`, `{{image:bottom}}`, `{{image:init}}` | the name `POST /upload/image` gave the input |
///
/// Queued with `POST /prompt`, followed at `GET /history/{prompt_id}` (empty while queued or
/// running), pictures fetched from `GET /view` of the same server.
struct ComfyUIImages: ImageProvider {
    let name = "comfyui"
    let baseURL: String
    let key: Secret?
    let workflow: JSONValue
    let http: ProviderHTTP
    var maxCount: Int { 16 }
    var maxPromptCharacters: Int { 20_000 }
    var needsInputURLs: Bool { false }

    func submit(_ job: ImageJob) async throws -> ImageSubmission {
        var uploaded: [String: String] = [:]
        for input in job.inputs {
            guard let data = input.data else { continue }
            uploaded[input.role] = try await upload(data, role: input.role, format: input.info?.format ?? .png)
        }
        let seed = job.seed ?? Int.random(in: 0..<(1 << 31))
        var numbers: [String: Int] = ["seed": seed, "batch_size": job.count]
        if let s = job.size {
            numbers["width"] = s.width
            numbers["height"] = s.height
        }
        if let steps = job.steps { numbers["steps"] = steps }
        let texts = ["prompt": job.prompt, "negative_prompt": job.negativePrompt ?? ""]
        let filled = Self.fill(workflow, texts: texts, numbers: numbers, images: uploaded)
        let body: JSONValue = ["prompt": filled, "client_id": .string("wendao-" + UUID().uuidString.lowercased())]
        let reply = try await http.call(.POST, baseURL + "/prompt", provider: name, key: key, body: body.encoded)
        guard reply.ok else { throw Self.validationError(reply) }
        guard let v = JSONValue.parse(reply.body), let id = v["prompt_id"]?.stringValue, !id.isEmpty else {
            throw WendaoError(.badResponse, "comfyui queued the workflow but sent no prompt_id")
        }
        if let errors = v["node_errors"]?.objectValue, !errors.isEmpty {
            throw WendaoError(.invalidArgument, "comfyui found errors in the workflow: \(Self.nodeErrors(errors))")
        }
        return .task(id)
    }

    /// A refused workflow (HTTP 400: `error` and `node_errors`) as one message naming the nodes.
    static func validationError(_ reply: ProviderHTTP.Reply) -> WendaoError {
        guard let v = JSONValue.parse(reply.body) else {
            return ProviderHTTP.failure(reply, provider: "comfyui", key: nil, action: "queue the workflow")
        }
        var message = "comfyui refused the workflow (HTTP \(reply.status))"
        if let e = v["error"] {
            let text = e["message"]?.stringValue ?? e.stringValue ?? ""
            if !text.isEmpty { message += ": " + text }
            if let d = e["details"]?.stringValue, !d.isEmpty { message += " (\(d.prefix(200)))" }
        }
        if let errors = v["node_errors"]?.objectValue, !errors.isEmpty { message += "; " + nodeErrors(errors) }
        return WendaoError(.invalidArgument, message)
    }

    static func nodeErrors(_ errors: [String: JSONValue]) -> String {
        errors.keys.sorted().prefix(10).map { node in
            let e = errors[node]!
            let kind = e["class_type"]?.stringValue ?? "node"
            var reasons: [String] = []
            for item in e["errors"]?.arrayValue ?? [] {
                guard let message = item["message"]?.stringValue else { continue }
                let details = item["details"]?.stringValue ?? ""
                reasons.append(details.isEmpty ? message : "\(message) (\(details))")
            }
            return "node \(node) (\(kind)): \(reasons.isEmpty ? "invalid" : reasons.joined(separator: "; "))"
        }.joined(separator: "; ")
    }

    /// The workflow with placeholders replaced.
    static func fill(_ v: JSONValue, texts: [String: String], numbers: [String: Int], images: [String: String])
        -> JSONValue
    {
        switch v {
        case .string(let s):
            guard s.contains("{{") else { return v }
            let trimmed = s.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("{{"), trimmed.hasSuffix("}}") {
                let name = String(trimmed.dropFirst(2).dropLast(2)).trimmingCharacters(in: .whitespaces)
                if let n = numbers[name] { return .number(Double(n)) }
                if name.hasPrefix("image:"), let file = images[String(name.dropFirst(6))] { return .string(file) }
            }
            var out = s
            for (k, t) in texts { out = out.replacingOccurrences(of: "{{\(k)}}", with: t) }
            return .string(out)
        case .array(let a): return .array(a.map { fill($0, texts: texts, numbers: numbers, images: images) })
        case .object(let o): return .object(o.mapValues { fill($0, texts: texts, numbers: numbers, images: images) })
        default: return v
        }
    }

    /// The placeholders a workflow uses (for checks before queueing).
    static func placeholders(in v: JSONValue) -> Set<String> {
        switch v {
        case .string(let s):
            var out: Set<String> = []
            var rest = Substring(s)
            while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
                out.insert(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
                rest = rest[close.upperBound...]
            }
            return out
        case .array(let a): return a.reduce(into: []) { $0.formUnion(placeholders(in: $1)) }
        case .object(let o): return o.values.reduce(into: []) { $0.formUnion(placeholders(in: $1)) }
        default: return []
        }
    }

    func upload(_ data: Data, role: String, format: ImageFormat) async throws -> String {
        let boundary = "wendao-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        var body = Data()
        func text(_ s: String) { body.append(Data(s.utf8)) }
        let filename = "wendao-\(role)-\(UUID().uuidString.prefix(8).lowercased()).\(format.fileExtension)"
        text("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"\(filename)\"\r\n")
        text("Content-Type: \(format.mimeType)\r\n\r\n")
        body.append(data)
        text(
            "\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"overwrite\"\r\n\r\ntrue\r\n--\(boundary)--\r\n"
        )
        let reply = try await http.call(
            .POST, baseURL + "/upload/image", provider: name, key: key, body: body,
            contentType: "multipart/form-data; boundary=\(boundary)")
        guard reply.ok else {
            throw ProviderHTTP.failure(reply, provider: name, key: key, action: "take the \(role) image upload")
        }
        guard let v = JSONValue.parse(reply.body), let stored = v["name"]?.stringValue else {
            throw WendaoError(.badResponse, "comfyui took the upload but named no file")
        }
        let sub = v["subfolder"]?.stringValue ?? ""
        return sub.isEmpty ? stored : sub + "/" + stored
    }

    func poll(taskID: String) async throws -> ImageTaskState {
        let reply = try await http.call(
            .GET, baseURL + "/history/" + DashScopeImages.escape(taskID), provider: name, key: key)
        guard reply.ok else {
            throw ProviderHTTP.failure(reply, provider: name, key: key, action: "report prompt \(taskID)")
        }
        guard let v = JSONValue.parse(reply.body), let all = v.objectValue else {
            throw WendaoError(.badResponse, "comfyui answered /history with something other than a JSON object")
        }
        guard let entry = all[taskID] else {
            // Not in the history: still queued or running — or unknown to a restarted server.
            return try await queued(taskID)
                ? ImageTaskState(status: .running)
                : ImageTaskState(
                    status: .unknown,
                    errorMessage: "comfyui does not know prompt \(taskID) (restarted, or its history was cleared)")
        }
        let statusText = entry["status"]?["status_str"]?.stringValue
        if statusText == "error" {
            let messages = (entry["status"]?["messages"]?.arrayValue ?? []).compactMap { m -> String? in
                guard let pair = m.arrayValue, pair.count == 2, pair[0].stringValue == "execution_error" else {
                    return nil
                }
                return pair[1]["exception_message"]?.stringValue
            }
            return ImageTaskState(
                status: .failed, errorCode: "execution_error",
                errorMessage: messages.first.map { String($0.prefix(300)) } ?? "the workflow failed")
        }
        if entry["status"]?["completed"]?.boolValue == false { return ImageTaskState(status: .running) }
        var refs: [(String, String, String)] = []
        let outputs = entry["outputs"]?.objectValue ?? [:]
        for node in outputs.keys.sorted(by: { (Int($0) ?? .max, $0) < (Int($1) ?? .max, $1) }) {
            for image in outputs[node]?["images"]?.arrayValue ?? [] {
                guard let file = image["filename"]?.stringValue else { continue }
                let type = image["type"]?.stringValue ?? "output"
                guard type == "output" else { continue }  // previews and temp files are not results
                refs.append((file, image["subfolder"]?.stringValue ?? "", type))
            }
        }
        var state = ImageTaskState(status: .succeeded)
        for (file, sub, type) in refs.prefix(64) {
            var c = URLComponents(string: baseURL + "/view")!
            c.queryItems = [
                .init(name: "filename", value: file), .init(name: "subfolder", value: sub),
                .init(name: "type", value: type),
            ]
            let r = try await http.call(.GET, c.string!, provider: name, key: key)
            guard r.ok else {
                state.failedCount += 1
                state.errorMessage = "comfyui /view answered HTTP \(r.status) for \(file)"
                continue
            }
            state.outputs.append(.data(r.body))
        }
        if state.outputs.isEmpty {
            state.status = .failed
            state.errorMessage =
                state.errorMessage ?? "the workflow finished without saving an image (add a SaveImage node)"
        }
        return state
    }

    /// Whether the prompt is still in the queue (`GET /queue`).
    func queued(_ id: String) async throws -> Bool {
        let reply = try await http.call(.GET, baseURL + "/queue", provider: name, key: key)
        guard reply.ok, let v = JSONValue.parse(reply.body) else { return false }
        for key in ["queue_running", "queue_pending"] {
            for item in v[key]?.arrayValue ?? [] where item.arrayValue?.count ?? 0 > 1 {
                if item.arrayValue?[1].stringValue == id { return true }
            }
        }
        return false
    }

    func cancel(taskID: String) async throws {
        let body: JSONValue = ["delete": [.string(taskID)]]
        _ = try await http.call(.POST, baseURL + "/queue", provider: name, key: key, body: body.encoded)
        _ = try await http.call(.POST, baseURL + "/interrupt", provider: name, key: key, body: Data())
    }
}
