public import Foundation
import WendaoCore
public import WendaoModels

/// A fine-tuning job as a provider reports it, in Wendao's words: the status is one of
/// `validating_files`, `queued`, `running`, `succeeded`, `failed`, `cancelled` whatever the provider
/// calls it.
public struct FineTuneJobState: Sendable, Equatable {
    /// The provider's job id.
    public var id: String
    /// The status, normalised.
    public var status: String
    /// The tuned model's name at the provider (without the `provider:` prefix), once it succeeded.
    public var model: String?
    /// Why the job failed, in the provider's words.
    public var error: String?

    /// Creates a state.
    public init(id: String, status: String, model: String? = nil, error: String? = nil) {
        self.id = id
        self.status = status
        self.model = model
        self.error = error
    }
}

/// One line of a job's event log.
public struct FineTuneEvent: Sendable, Equatable, Encodable {
    /// When (seconds since 1970; 0 when the provider gives no time).
    public var createdAt: Int
    /// `info`, `warning` or `error` (`info` when the provider gives none).
    public var level: String
    /// The text.
    public var message: String

    /// Creates an event.
    public init(createdAt: Int, level: String, message: String) {
        self.createdAt = createdAt
        self.level = level
        self.message = message
    }

    enum CodingKeys: String, CodingKey { case createdAt = "created_at", level, message }
}

/// What a job is asked to do.
public struct FineTuneRequest: Sendable {
    /// The base model at the provider (without `provider:`).
    public var base: String
    /// The uploaded training file.
    public var trainingFile: String
    /// The uploaded validation file.
    public var validationFile: String?
    /// A suffix for the tuned model's name.
    public var suffix: String?
    /// Training epochs (nil: the provider's default).
    public var epochs: Int?

    /// Creates a request.
    public init(base: String, trainingFile: String, validationFile: String?, suffix: String?, epochs: Int?) {
        self.base = base
        self.trainingFile = trainingFile
        self.validationFile = validationFile
        self.suffix = suffix
        self.epochs = epochs
    }
}

/// A provider's fine-tuning API: upload a file, create a job, follow it, cancel it. Every call goes
/// through the model gateway (time limits, retries, provider errors with their message, never the key).
///
/// ```swift
/// let api = try FineTuneProviders.api(for: model, gateway: gateway)   // OpenAI-compatible or DashScope
/// let file = try await api.upload(filename: "ds-train.jsonl", data: train)
/// let job = try await api.create(FineTuneRequest(base: model.model, trainingFile: file, …))
/// ```
public protocol FineTuneAPI: Sendable {
    /// The export format the provider trains on.
    var exportFormat: ExportFormat { get }
    /// Uploads a training or validation file; returns its id. A rejected file is an error with the
    /// provider's message.
    func upload(filename: String, data: Data) async throws -> String
    /// Creates a job.
    func create(_ request: FineTuneRequest) async throws -> FineTuneJobState
    /// The job as it is now.
    func status(_ id: String) async throws -> FineTuneJobState
    /// The job's events, oldest first.
    func events(_ id: String) async throws -> [FineTuneEvent]
    /// Cancels the job; returns it as it is after that.
    func cancel(_ id: String) async throws -> FineTuneJobState
}

/// The fine-tuning APIs Wendao speaks.
public enum FineTuneProviders {
    /// Providers whose fine-tuning is done in their console only (no job API): the reason, for the error.
    public static let consoleOnly: [String: String] = [
        "siliconflow":
            "SiliconFlow's fine-tuning is done in its web console (its API has no fine-tuning job endpoints): "
            + "export with `wendao tune dataset export NAME --format openai`, upload train.jsonl there, and use the "
            + "tuned model as siliconflow:ft:LoRA/… once it is ready"
    ]

    /// The API for `model`'s provider: DashScope's native fine-tuning API for `dashscope`, the OpenAI one
    /// (`/files`, `/fine_tuning/jobs`) for every other provider; a provider known to have none is an error
    /// saying what to do instead.
    public static func api(for model: ResolvedModel, gateway: ModelGateway) throws -> any FineTuneAPI {
        try model.requireRemote()
        if let reason = consoleOnly[model.provider] { throw WendaoError(.unsupported, reason) }
        if model.provider == "dashscope" { return DashScopeFineTuning(model: model, gateway: gateway) }
        return OpenAIFineTuning(model: model, gateway: gateway)
    }
}

/// OpenAI's fine-tuning API (`POST /files`, `/fine_tuning/jobs`, `…/{id}`, `…/events`, `…/cancel`), also
/// served by OpenAI-compatible providers.
public struct OpenAIFineTuning: FineTuneAPI {
    let model: ResolvedModel
    let gateway: ModelGateway

    /// The API of `model`'s provider.
    public init(model: ResolvedModel, gateway: ModelGateway) {
        self.model = model
        self.gateway = gateway
    }

    /// OpenAI's chat JSONL.
    public var exportFormat: ExportFormat { .openai }

    /// `POST /files` (`file`, `purpose=fine-tune`).
    public func upload(filename: String, data: Data) async throws -> String {
        let reply = try await gateway.uploadFile(model, filename: filename, data: data)
        guard let id = reply["id"] as? String, !id.isEmpty else {
            throw WendaoError(.badResponse, "\(model.provider): the upload of \(filename) returned no file id")
        }
        return id
    }

    /// `POST /fine_tuning/jobs`.
    public func create(_ request: FineTuneRequest) async throws -> FineTuneJobState {
        var body: [String: Any] = ["model": request.base, "training_file": request.trainingFile]
        if let v = request.validationFile { body["validation_file"] = v }
        if let s = request.suffix { body["suffix"] = s }
        if let e = request.epochs { body["hyperparameters"] = ["n_epochs": e] }
        return try state(try await gateway.fineTuning(model, path: "/fine_tuning/jobs", body: body))
    }

    /// `GET /fine_tuning/jobs/{id}`.
    public func status(_ id: String) async throws -> FineTuneJobState {
        try state(try await gateway.fineTuning(model, path: "/fine_tuning/jobs/\(Self.escaped(id))", body: nil))
    }

    /// `GET /fine_tuning/jobs/{id}/events` (newest first there; oldest first here).
    public func events(_ id: String) async throws -> [FineTuneEvent] {
        let reply = try await gateway.fineTuning(
            model, path: "/fine_tuning/jobs/\(Self.escaped(id))/events", body: nil)
        let list = (reply["data"] as? [[String: Any]]) ?? []
        return list.reversed().map {
            FineTuneEvent(
                createdAt: ($0["created_at"] as? Int) ?? 0, level: ($0["level"] as? String) ?? "info",
                message: ($0["message"] as? String) ?? "")
        }.sorted { $0.createdAt < $1.createdAt }
    }

    /// `POST /fine_tuning/jobs/{id}/cancel`.
    public func cancel(_ id: String) async throws -> FineTuneJobState {
        try state(try await gateway.fineTuning(model, path: "/fine_tuning/jobs/\(Self.escaped(id))/cancel", body: [:]))
    }

    /// The state in a job object (`id`, `status`, `fine_tuned_model`, `error.message`).
    func state(_ o: [String: Any]) throws -> FineTuneJobState {
        guard let id = o["id"] as? String, !id.isEmpty else {
            throw WendaoError(.badResponse, "\(model.provider): the fine-tuning job has no id")
        }
        var s = FineTuneJobState(id: id, status: (o["status"] as? String) ?? "queued")
        if let m = o["fine_tuned_model"] as? String, !m.isEmpty { s.model = m }
        if let e = o["error"] as? [String: Any], let message = e["message"] as? String, !message.isEmpty {
            s.error = message + ((e["code"] as? String).map { " (\($0))" } ?? "")
        } else if let e = o["error"] as? String, !e.isEmpty {
            s.error = e
        }
        return s
    }

    /// A job id as one path segment.
    static func escaped(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? id
    }
}

/// DashScope's (Alibaba Cloud Model Studio, 百炼) native fine-tuning API, beside its OpenAI-compatible chat:
/// `POST /api/v1/files` (multipart `files`, `purpose=fine-tune`; the reply lists `uploaded_files` and
/// `failed_uploads`), `POST /api/v1/fine-tunes` (`model`, `training_file_ids`, `validation_file_ids`,
/// `hyper_parameters`, `training_type: sft`, `finetuned_output_suffix`), `GET /api/v1/fine-tunes/{id}`
/// (`output.status` PENDING, QUEUING, RUNNING, CANCELING, SUCCEEDED, FAILED, CANCELED; `output.finetuned_output`),
/// `POST …/{id}/cancel` and `GET …/{id}/logs` (`output.logs`, lines of text). The native API lives at the
/// same host as the chat's `…/compatible-mode/v1`, under `/api/v1`.
public struct DashScopeFineTuning: FineTuneAPI {
    let model: ResolvedModel
    let gateway: ModelGateway

    /// The API of `model` (a `dashscope:` model; its base URL's host serves the native API).
    public init(model: ResolvedModel, gateway: ModelGateway) {
        var native = model
        native.baseURL = Self.nativeBase(model.baseURL)
        self.model = native
        self.gateway = gateway
    }

    /// `https://dashscope.aliyuncs.com/compatible-mode/v1` → `https://dashscope.aliyuncs.com/api/v1` (any
    /// base URL: its scheme, host and port with `/api/v1`).
    public static func nativeBase(_ baseURL: String) -> String {
        guard let url = URL(string: baseURL), let scheme = url.scheme, let host = url.host else {
            return "https://dashscope.aliyuncs.com/api/v1"
        }
        return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "") + "/api/v1"
    }

    /// DashScope's chat JSONL.
    public var exportFormat: ExportFormat { .dashscope }

    /// `POST /api/v1/files`: one file; a file listed in `failed_uploads` is an error with its message.
    public func upload(filename: String, data: Data) async throws -> String {
        let reply = try await gateway.uploadFile(model, filename: filename, data: data, field: "files")
        let d = reply["data"] as? [String: Any] ?? [:]
        if let failed = (d["failed_uploads"] as? [[String: Any]])?.first {
            let message = (failed["message"] as? String) ?? "rejected"
            let code = (failed["code"] as? String).map { " (\($0))" } ?? ""
            throw WendaoError(.invalidArgument, "dashscope refused \(filename): \(message)\(code)")
        }
        guard let id = (d["uploaded_files"] as? [[String: Any]])?.first?["file_id"] as? String, !id.isEmpty else {
            throw WendaoError(.badResponse, "dashscope: the upload of \(filename) returned no file_id")
        }
        return id
    }

    /// `POST /api/v1/fine-tunes` (supervised fine-tuning).
    public func create(_ request: FineTuneRequest) async throws -> FineTuneJobState {
        var body: [String: Any] = [
            "model": request.base, "training_file_ids": [request.trainingFile], "training_type": "sft",
        ]
        if let v = request.validationFile { body["validation_file_ids"] = [v] }
        if let s = request.suffix { body["finetuned_output_suffix"] = s }
        if let e = request.epochs { body["hyper_parameters"] = ["n_epochs": e] }
        return try state(try await gateway.fineTuning(model, path: "/fine-tunes", body: body))
    }

    /// `GET /api/v1/fine-tunes/{id}`.
    public func status(_ id: String) async throws -> FineTuneJobState {
        try state(try await gateway.fineTuning(model, path: "/fine-tunes/\(OpenAIFineTuning.escaped(id))", body: nil))
    }

    /// `GET /api/v1/fine-tunes/{id}/logs` (the first 1,000 lines; DashScope's lines carry no level, and a
    /// time only inside the text).
    public func events(_ id: String) async throws -> [FineTuneEvent] {
        let reply = try await gateway.fineTuning(
            model, path: "/fine-tunes/\(OpenAIFineTuning.escaped(id))/logs?offset=0&line=1000", body: nil)
        let logs = ((reply["output"] as? [String: Any])?["logs"] as? [String]) ?? []
        return logs.map {
            let text = $0.trimmingCharacters(in: .whitespaces)
            let level = text.contains(" - ERROR - ") ? "error" : text.contains(" - WARNING - ") ? "warning" : "info"
            return FineTuneEvent(createdAt: 0, level: level, message: text)
        }
    }

    /// `POST /api/v1/fine-tunes/{id}/cancel`, then the job as it is (the cancel reply holds no job).
    public func cancel(_ id: String) async throws -> FineTuneJobState {
        _ = try await gateway.fineTuning(model, path: "/fine-tunes/\(OpenAIFineTuning.escaped(id))/cancel", body: [:])
        return try await status(id)
    }

    /// The state in a reply's `output` (`job_id`, `status`, `finetuned_output`, `message`/`code` of a failure).
    func state(_ reply: [String: Any]) throws -> FineTuneJobState {
        let o = reply["output"] as? [String: Any] ?? [:]
        guard let id = o["job_id"] as? String, !id.isEmpty else {
            throw WendaoError(.badResponse, "dashscope: the fine-tuning reply has no output.job_id")
        }
        let raw = ((o["status"] as? String) ?? "PENDING").uppercased()
        let status =
            switch raw {
            case "PENDING": "validating_files"
            case "QUEUING": "queued"
            case "RUNNING", "CANCELING": "running"
            case "SUCCEEDED": "succeeded"
            case "FAILED": "failed"
            case "CANCELED", "CANCELLED": "cancelled"
            default: raw.lowercased()
            }
        var s = FineTuneJobState(id: id, status: status)
        if status == "succeeded", let m = o["finetuned_output"] as? String, !m.isEmpty { s.model = m }
        if status == "failed" {
            let message = (o["message"] as? String) ?? (o["error"] as? String) ?? "the job failed (no reason given)"
            s.error = message + ((o["code"] as? String).map { $0.isEmpty ? "" : " (\($0))" } ?? "")
        }
        return s
    }
}
