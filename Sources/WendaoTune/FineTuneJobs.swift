public import Foundation
public import WendaoCore

/// A fine-tuning job submitted to a provider, as Wendao remembers it (`<data>/tune/jobs.json`).
public struct FineTuneJob: Sendable, Codable, Equatable {
    /// The provider's job id.
    public var id: String
    /// The provider preset (`openai`, `dashscope`, `siliconflow`, …).
    public var provider: String
    /// The base model (`provider:model`).
    public var base: String
    /// The dataset trained on.
    public var dataset: String
    /// The uploaded training file's id.
    public var trainingFile: String
    /// The uploaded validation file's id.
    public var validationFile: String?
    /// The provider's status (`validating_files`, `queued`, `running`, `succeeded`, `failed`, `cancelled`).
    public var status: String
    /// The tuned model, usable as a model name (`openai:ft:gpt-4o-mini:…`), once the job succeeded.
    public var model: String?
    /// Why the job failed, in the provider's words.
    public var error: String?
    /// When it was submitted (ISO 8601).
    public var createdAt: String
    /// When Wendao last asked (ISO 8601).
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case id, provider, base, dataset, trainingFile = "training_file", validationFile = "validation_file", status
        case model, error, createdAt = "created_at", updatedAt = "updated_at"
    }

    /// Creates a record.
    public init(
        id: String, provider: String, base: String, dataset: String, trainingFile: String, validationFile: String?
    ) {
        self.id = id
        self.provider = provider
        self.base = base
        self.dataset = dataset
        self.trainingFile = trainingFile
        self.validationFile = validationFile
        status = "created"
        createdAt = TuneJSON.now()
        updatedAt = createdAt
    }

    /// Updates the record from the provider's report: status, the tuned model (as `provider:model`, the
    /// name `ask`, `chat` and `eval run` take) and the reason of a failure.
    public mutating func update(from state: FineTuneJobState) {
        status = state.status
        if let m = state.model, !m.isEmpty { model = provider + ":" + m }
        if let e = state.error, !e.isEmpty { error = e }
        updatedAt = TuneJSON.now()
    }

    /// True once the job can change no more.
    public var finished: Bool { ["succeeded", "failed", "cancelled"].contains(status) }
}

/// The jobs Wendao submitted, kept in `<data>/tune/jobs.json`.
public struct FineTuneJobStore: Sendable {
    /// The file.
    public let file: URL

    /// The jobs file of `store`.
    public init(_ store: DatasetStore) { file = store.root.appendingPathComponent("jobs.json") }

    /// Every job, oldest first.
    public func all() -> [FineTuneJob] {
        guard let data = try? Data(contentsOf: file) else { return [] }
        return (try? JSONDecoder().decode([FineTuneJob].self, from: data)) ?? []
    }

    /// The job with `id`, or `notFound`.
    public func job(_ id: String) throws(WendaoError) -> FineTuneJob {
        guard let j = all().first(where: { $0.id == id }) else {
            throw WendaoError(.notFound, "no fine-tuning job '\(id.prefix(80))' (wendao tune jobs lists them)")
        }
        return j
    }

    /// Adds or replaces `job`.
    public func save(_ job: FineTuneJob) throws(WendaoError) {
        var jobs = all()
        if let i = jobs.firstIndex(where: { $0.id == job.id }) { jobs[i] = job } else { jobs.append(job) }
        let data = (try? TuneJSON.encoder(pretty: true).encode(jobs)) ?? Data()
        do {
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: file, options: .atomic)
        } catch {
            throw WendaoError(.storage, "cannot write \(file.path): \(error.localizedDescription)")
        }
    }
}
