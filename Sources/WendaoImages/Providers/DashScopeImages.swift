import Foundation
import NIOHTTP1
import WendaoCore
import WendaoModels

/// DashScope's asynchronous image tasks (Alibaba Cloud Model Studio): Wanx/Wan text-to-image
/// (`POST /services/aigc/text2image/image-synthesis` with `X-DashScope-Async: enable`) and
/// OutfitAnyone virtual try-on (`aitryon`, `aitryon-plus`: `POST /services/aigc/image2image/image-synthesis`),
/// both polled at `GET /tasks/{task_id}` through PENDING → RUNNING → SUCCEEDED / FAILED / CANCELED /
/// UNKNOWN. Results are URLs that expire after 24 hours (the engine downloads them at once).
struct DashScopeImages: ImageProvider {
    let name = "dashscope"
    /// Native API base, e.g. `https://dashscope.aliyuncs.com/api/v1`.
    let baseURL: String
    let key: Secret?
    let http: ProviderHTTP
    var maxCount: Int { 4 }
    var maxPromptCharacters: Int { 800 }
    var needsInputURLs: Bool { true }

    /// The native base URL for a compatible-mode one (`…/compatible-mode/v1` → `…/api/v1`).
    static func nativeBase(_ compatible: String) -> String {
        var u = compatible
        while u.hasSuffix("/") { u.removeLast() }
        if u.hasSuffix("/compatible-mode/v1") { return String(u.dropLast("/compatible-mode/v1".count)) + "/api/v1" }
        if u.hasSuffix("/api/v1") { return u }
        return u + "/api/v1"
    }

    static func isTryOn(_ model: String) -> Bool { model.lowercased().hasPrefix("aitryon") }

    func submit(_ job: ImageJob) async throws -> ImageSubmission {
        var input: [String: JSONValue] = [:]
        var parameters: [String: JSONValue] = [:]
        let path: String
        if job.kind == .tryon || Self.isTryOn(job.model) {
            path = "/services/aigc/image2image/image-synthesis"
            guard let person = job.input("person")?.url else {
                throw WendaoError(.invalidArgument, "try-on needs a person image")
            }
            input["person_image_url"] = .string(person)
            if let top = job.input("top")?.url { input["top_garment_url"] = .string(top) }
            if let bottom = job.input("bottom")?.url { input["bottom_garment_url"] = .string(bottom) }
            guard input["top_garment_url"] != nil || input["bottom_garment_url"] != nil else {
                throw WendaoError(.invalidArgument, "try-on needs a top and/or a bottom garment")
            }
            parameters["resolution"] = -1
            parameters["restore_face"] = true
        } else {
            path = "/services/aigc/text2image/image-synthesis"
            input["prompt"] = .string(job.prompt)
            if let n = job.negativePrompt, !n.isEmpty { input["negative_prompt"] = .string(n) }
            if let size = job.size { parameters["size"] = .string(size.description) }
            parameters["n"] = .number(Double(job.count))
            if let seed = job.seed { parameters["seed"] = .number(Double(seed)) }
        }
        for (k, v) in job.extra { parameters[k] = v }
        let body: JSONValue = [
            "model": .string(job.model), "input": .object(input), "parameters": .object(parameters),
        ]
        var headers = [("X-DashScope-Async", "enable")]
        if job.inputs.contains(where: { $0.url?.hasPrefix("oss://") == true }) {
            headers.append(("X-DashScope-OssResourceResolve", "enable"))
        }
        let reply = try await http.call(
            .POST, baseURL + path, provider: name, key: key, headers: headers, body: body.encoded)
        guard reply.ok else {
            throw ProviderHTTP.failure(reply, provider: name, key: key, action: "start the task")
        }
        guard let v = JSONValue.parse(reply.body), let id = v["output"]?["task_id"]?.stringValue, !id.isEmpty else {
            throw WendaoError(.badResponse, "\(name) accepted the task but sent no task_id")
        }
        return .task(id)
    }

    func poll(taskID: String) async throws -> ImageTaskState {
        let reply = try await http.call(.GET, baseURL + "/tasks/" + Self.escape(taskID), provider: name, key: key)
        guard reply.ok else {
            throw ProviderHTTP.failure(reply, provider: name, key: key, action: "report task \(taskID)")
        }
        guard let v = JSONValue.parse(reply.body), let output = v["output"] else {
            throw WendaoError(.badResponse, "\(name) answered the task query without an output object")
        }
        return Self.state(output)
    }

    /// Reads `output` of a task query.
    static func state(_ output: JSONValue) -> ImageTaskState {
        let raw = output["task_status"]?.stringValue?.uppercased() ?? "UNKNOWN"
        let status: ImageTaskStatus =
            switch raw {
            case "PENDING": .pending
            case "RUNNING", "SUSPENDED": .running
            case "SUCCEEDED": .succeeded
            case "FAILED": .failed
            case "CANCELED", "CANCELLED": .canceled
            default: .unknown
            }
        var state = ImageTaskState(
            status: status, errorCode: output["code"]?.stringValue, errorMessage: output["message"]?.stringValue)
        if status == .succeeded {
            for r in output["results"]?.arrayValue ?? [] {
                if let url = r["url"]?.stringValue, !url.isEmpty {
                    state.outputs.append(.url(url))
                    if state.actualPrompt == nil { state.actualPrompt = r["actual_prompt"]?.stringValue }
                } else {
                    state.failedCount += 1
                    if state.errorCode == nil { state.errorCode = r["code"]?.stringValue }
                    if state.errorMessage == nil { state.errorMessage = r["message"]?.stringValue }
                }
            }
            if let url = output["image_url"]?.stringValue, !url.isEmpty { state.outputs.append(.url(url)) }
            if let failed = output["task_metrics"]?["FAILED"]?.intValue {
                state.failedCount = max(state.failedCount, failed)
            }
        }
        return state
    }

    func cancel(taskID: String) async throws {
        let reply = try await http.call(
            .POST, baseURL + "/tasks/" + Self.escape(taskID) + "/cancel", provider: name, key: key, body: Data())
        guard reply.ok else {
            throw ProviderHTTP.failure(
                reply, provider: name, key: key, action: "cancel task \(taskID) (only PENDING tasks can be cancelled)")
        }
    }

    /// Puts a local file in DashScope's free temporary storage (`GET /uploads?action=getPolicy`, then a
    /// form POST to the OSS host it names) and returns its `oss://` URL, valid 48 hours for `model` and
    /// this account only. DashScope calls it a development aid, not for production; `public_base_url`
    /// is the production path.
    func uploadTemporary(_ data: Data, format: ImageFormat, model: String) async throws -> String {
        let policyURL =
            baseURL + "/uploads?action=getPolicy&model="
            + (model.addingPercentEncoding(
                withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? model)
        let reply = try await http.call(.GET, policyURL, provider: name, key: key)
        guard reply.ok else {
            throw ProviderHTTP.failure(reply, provider: name, key: key, action: "give an upload policy")
        }
        guard let d = JSONValue.parse(reply.body)?["data"], let host = d["upload_host"]?.stringValue,
            let dir = d["upload_dir"]?.stringValue, let policy = d["policy"]?.stringValue,
            let signature = d["signature"]?.stringValue, let accessKey = d["oss_access_key_id"]?.stringValue,
            host.lowercased().hasPrefix("http")
        else {
            throw WendaoError(.badResponse, "\(name) answered the upload-policy request without a usable policy")
        }
        if let maxMB = d["max_file_size_mb"]?.doubleValue, Double(data.count) > maxMB * 1_048_576 {
            throw WendaoError(.invalidArgument, "the file is larger than the \(maxMB) MB \(name) accepts for \(model)")
        }
        var h = SHA256()
        h.update(data)
        let objectKey = "\(dir)/\(h.hexDigest()).\(format.fileExtension)"
        let boundary = "wendao-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        var body = Data()
        func field(_ n: String, _ v: String) {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(n)\"\r\n\r\n\(v)\r\n".utf8))
        }
        field("OSSAccessKeyId", accessKey)
        field("Signature", signature)
        field("policy", policy)
        if let acl = d["x_oss_object_acl"]?.stringValue { field("x-oss-object-acl", acl) }
        if let fo = d["x_oss_forbid_overwrite"]?.stringValue { field("x-oss-forbid-overwrite", fo) }
        field("key", objectKey)
        field("success_action_status", "200")
        body.append(
            Data(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.\(format.fileExtension)\"\r\nContent-Type: \(format.mimeType)\r\n\r\n"
                    .utf8))
        body.append(data)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        // The OSS host is not DashScope: the key is not sent there.
        let upload = try await http.call(
            .POST, host, provider: "\(name) temporary storage", key: nil, body: body,
            contentType: "multipart/form-data; boundary=\(boundary)")
        guard upload.ok else {
            throw ProviderHTTP.failure(
                upload, provider: "\(name) temporary storage", key: nil, action: "store the file")
        }
        return "oss://" + objectKey
    }

    static func escape(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? id
    }
}
