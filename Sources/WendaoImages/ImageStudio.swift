public import Foundation
public import Logging
import WendaoCore
public import WendaoModels
public import WendaoWeb

/// What a task is doing, for progress lines and live status.
public struct ImageProgress: Sendable {
    /// The gallery record.
    public var recordID: Int64
    /// The state.
    public var status: ImageTaskStatus
    /// A short human-readable note.
    public var note: String
}

/// A text-to-image request.
public struct GenerateRequest: Sendable {
    /// `provider:model` (`dashscope:wanx2.1-t2i-turbo`, `openai:gpt-image-1`, `sdwebui:default`, `comfyui:product`).
    public var model: String
    /// The prompt.
    public var prompt: String
    /// What to keep out.
    public var negativePrompt: String?
    /// Size.
    public var size: ImageSize?
    /// How many pictures.
    public var count = 1
    /// Fixed seed.
    public var seed: Int?
    /// Sampling steps (SD, ComfyUI).
    public var steps: Int?
    /// Guidance scale (SD).
    public var cfgScale: Double?
    /// An initial image (image-to-image: OpenAI edits, SD img2img, ComfyUI `{{image:init}}`).
    public var initImage: URL?
    /// A ComfyUI workflow file (instead of one named in config.yaml).
    public var workflow: URL?
    /// Tags recorded with the result.
    public var tags: [String] = []
    /// Provider parameters passed through.
    public var extra: [String: JSONValue] = [:]
    /// Who asked (an API key's label), for per-key quotas; nil for the operator.
    public var owner: String?

    /// A request for `model` and `prompt`.
    public init(model: String, prompt: String) {
        self.model = model
        self.prompt = prompt
    }
}

/// A virtual try-on request: a person photo plus a top and/or a bottom garment (local files or
/// http(s) URLs).
public struct TryOnRequest: Sendable {
    /// `dashscope:aitryon` or `dashscope:aitryon-plus` (or a ComfyUI workflow with `{{image:person}}`…).
    public var model = "dashscope:aitryon"
    /// The person (full body, front).
    public var person: String
    /// The top garment.
    public var top: String?
    /// The bottom garment.
    public var bottom: String?
    /// A ComfyUI workflow file.
    public var workflow: URL?
    /// Tags recorded with the result.
    public var tags: [String] = []
    /// Provider parameters passed through (`restore_face`, `resolution`).
    public var extra: [String: JSONValue] = [:]
    /// Inputs given as bytes (uploads) by role (`person`, `top`, `bottom`); they take the place of
    /// the paths.
    public var data: [String: Data] = [:]

    /// A request for `person`.
    public init(person: String, top: String? = nil, bottom: String? = nil) {
        self.person = person
        self.top = top
        self.bottom = bottom
    }
}

/// A request checked and ready to run: what is sent to the provider and what is recorded.
struct PreparedTask: Sendable {
    var job: ImageJob
    var provider: any ImageProvider
    var modelID: String
    var parameters: [String: JSONValue]
    var tags: [String]
    var label: String?
    var owner: String?
}

/// A task recorded and left running in the background (``ImageStudio/startGenerate(_:progress:)``).
public struct StartedImageTask: Sendable {
    /// The record as written before anything was sent (status `submitting`).
    public let record: ImageRecord
    /// Ends with the finished record (also when the provider refused: the record says how).
    public let finished: Task<ImageRecord, Never>
}

/// The image studio's task engine: checks a request before any money is spent (prompt, count,
/// size, inputs, the daily cap), records it, submits it, polls with back-off (no thread per task),
/// downloads the results through the guarded web client, stores them by SHA-256 and records cost
/// and timings. Task ids are stored as soon as the provider gives them, so ``resume(_:progress:)``
/// picks up after a restart.
///
/// ```swift
/// let studio = try ImageStudio(dataDirectory: dir, configuration: images, models: models,
///                              environment: env, gateway: gateway, logger: logger)
/// var request = GenerateRequest(model: "dashscope:wanx2.1-t2i-turbo", prompt: "白底连衣裙产品图")
/// request.count = 2
/// let record = try await studio.generate(request)
/// await studio.shutdown()
/// ```
public final class ImageStudio: Sendable {
    /// The gallery.
    public let gallery: ImageGallery
    /// The `images:` settings.
    public let configuration: ImageStudioConfiguration
    /// The data directory.
    public let dataDirectory: URL
    let models: ModelsConfiguration
    let environment: [String: String]
    let gateway: ModelGateway
    let http: ProviderHTTP
    let fetcher: WebFetcher
    let logger: Logger
    let ownsGateway: Bool

    /// Creates the studio over a data directory.
    ///
    /// - Parameters:
    ///   - fetcher: downloads results (default: the guarded web client with the configured cap, time
    ///     limit and allow-list).
    ///   - ownsGateway: whether ``shutdown()`` also shuts the gateway down (false: the caller does).
    public init(
        dataDirectory: URL, configuration: ImageStudioConfiguration, models: ModelsConfiguration,
        environment: [String: String], gateway: ModelGateway, logger: Logger, fetcher: WebFetcher? = nil,
        ownsGateway: Bool = false, gallery: ImageGallery? = nil
    ) throws {
        self.ownsGateway = ownsGateway
        self.dataDirectory = dataDirectory
        self.configuration = configuration
        self.models = models
        self.environment = environment
        self.gateway = gateway
        self.logger = logger
        self.gallery = try gallery ?? ImageGallery(dataDirectory: dataDirectory)
        http = ProviderHTTP(timeout: .seconds(max(30, Int64(configuration.taskTimeout))))
        if let fetcher {
            self.fetcher = fetcher
        } else {
            var limits = WebFetchLimits()
            limits.maxBodyBytes = configuration.downloadMaxBytes
            limits.totalTimeout = .milliseconds(Int64(configuration.downloadTimeout * 1000))
            var f = WebFetcher(
                policy: try WebAddressPolicy(allowList: configuration.downloadAllow), limits: limits,
                userAgent: "wendao/0.1 (image studio)")
            f.accept = "image/png,image/jpeg,image/webp;q=0.9,*/*;q=0.1"
            self.fetcher = f
        }
    }

    /// Closes the providers' connections (and the gateway's, when the studio owns it).
    public func shutdown() async {
        await http.shutdown()
        if ownsGateway { await gateway.shutdown() }
    }

    // MARK: Providers

    /// The provider for `spec` (`provider:model`), with the model's gallery id and wire name.
    func provider(for spec: String, workflow: URL? = nil) throws -> (any ImageProvider, id: String, wire: String) {
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        guard let colon = trimmed.firstIndex(of: ":"), colon != trimmed.startIndex,
            trimmed.index(after: colon) != trimmed.endIndex
        else {
            throw WendaoError(
                .invalidArgument,
                "image model '\(trimmed)' must be written provider:model, e.g. dashscope:wanx2.1-t2i-turbo, "
                    + "dashscope:aitryon, openai:gpt-image-1, siliconflow:Kwai-Kolors/Kolors, sdwebui:default, comfyui:WORKFLOW"
            )
        }
        let provider = trimmed[..<colon].lowercased()
        let model = String(trimmed[trimmed.index(after: colon)...])
        switch provider {
        case "dashscope", "qwen", "bailian":
            let m = try ModelCatalog.resolve("dashscope:" + model, configuration: models, environment: environment)
            try m.requireKey()
            return (
                DashScopeImages(baseURL: DashScopeImages.nativeBase(m.baseURL), key: m.apiKey, http: http),
                "dashscope:\(model)", model
            )
        case "sdwebui", "sd", "a1111":
            let base =
                environment["WENDAO_SDWEBUI_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? configuration.sdwebuiBaseURL
            let url = try ModelCatalog.validateBaseURL(base, provider: "sdwebui", source: "images.sdwebui.base_url")
            return (
                SDWebUIImages(
                    baseURL: url, key: environment["WENDAO_SDWEBUI_API_KEY"].map(Secret.init), http: http,
                    callTimeout: .seconds(Int64(configuration.taskTimeout))),
                "sdwebui:\(model)", model
            )
        case "comfyui", "comfy":
            let base =
                environment["WENDAO_COMFYUI_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? configuration.comfyuiBaseURL
            let url = try ModelCatalog.validateBaseURL(base, provider: "comfyui", source: "images.comfyui.base_url")
            let file: URL
            if let workflow {
                file = workflow
            } else if let p = configuration.comfyuiWorkflows[model] {
                file = p.hasPrefix("/") ? URL(fileURLWithPath: p) : dataDirectory.appendingPathComponent(p)
            } else if model.hasSuffix(".json") {
                file = URL(fileURLWithPath: model)
            } else {
                throw WendaoError(
                    .notFound,
                    "no ComfyUI workflow '\(model)': add it under images.comfyui.workflows in config.yaml, or pass --workflow FILE"
                )
            }
            guard let data = FileManager.default.contents(atPath: file.path) else {
                throw WendaoError(.notFound, "ComfyUI workflow \(file.path) cannot be read")
            }
            guard let wf = JSONValue.parse(data), let nodes = wf.objectValue, !nodes.isEmpty else {
                throw WendaoError(
                    .invalidArgument, "ComfyUI workflow \(file.lastPathComponent) is not a JSON object of nodes")
            }
            // A UI-format export has "nodes" and "links"; the API format is { "3": { "class_type": … } }.
            if nodes["nodes"] != nil, nodes["links"] != nil {
                throw WendaoError(
                    .invalidArgument,
                    "ComfyUI workflow \(file.lastPathComponent) is in UI format; export it with \"Save (API)\" instead")
            }
            return (
                ComfyUIImages(
                    baseURL: url, key: environment["WENDAO_COMFYUI_API_KEY"].map(Secret.init), workflow: wf, http: http),
                "comfyui:\(model)", model
            )
        default:
            let m = try ModelCatalog.resolve(trimmed, configuration: models, environment: environment)
            try m.requireKey()
            return (OpenAIImages(model: m, gateway: gateway), m.id, m.model)
        }
    }

    /// Checks that `model` names a provider this studio can call (a key where one is needed, a
    /// ComfyUI workflow that exists) without calling it; a missing key is `invalidArgument` here (the
    /// request named a model the server is not set up for).
    public func validate(model: String) throws {
        do { _ = try provider(for: model) } catch let e as WendaoError where e.code == .unauthenticated {
            throw WendaoError(.invalidArgument, e.message)
        }
    }

    // MARK: Requests

    /// Makes pictures from a prompt; returns the finished record (status `succeeded`, `partial`,
    /// `failed`, `timed_out`, …).
    ///
    /// - Throws: ``WendaoError`` before anything is spent for a bad request (`invalidArgument`), a
    ///   missing key, or the daily cap (`limitExceeded`); the provider's refusal after recording it.
    public func generate(
        _ r: GenerateRequest, progress: (@Sendable (ImageProgress) -> Void)? = nil
    ) async throws -> ImageRecord {
        try await run(try prepare(r), progress: progress)
    }

    /// Checks and records a text-to-image request like ``generate(_:progress:)``, then leaves it running
    /// in the background (submitted, polled with back-off, stored: the same engine, no thread held while
    /// it waits) and returns at once with the record as written (status `submitting`). Follow it in the
    /// gallery (``ImageGallery/record(_:)``) or await ``StartedImageTask/finished``.
    ///
    /// - Throws: what ``generate(_:progress:)`` throws before anything is sent; the provider's answer is
    ///   recorded, never thrown.
    public func startGenerate(
        _ r: GenerateRequest, progress: (@Sendable (ImageProgress) -> Void)? = nil
    ) throws -> StartedImageTask {
        try start(try prepare(r), progress: progress)
    }

    /// Checks and records a try-on request like ``tryOn(_:progress:)`` (inputs checked, turned upright
    /// and made reachable before it returns), then leaves it running in the background as
    /// ``startGenerate(_:progress:)`` does.
    public func startTryOn(
        _ r: TryOnRequest, progress: (@Sendable (ImageProgress) -> Void)? = nil
    ) async throws -> StartedImageTask {
        try start(try await prepare(r), progress: progress)
    }

    /// A text-to-image request checked and turned into what is sent and what is recorded.
    func prepare(_ r: GenerateRequest) throws -> PreparedTask {
        let (provider, id, wire) = try self.provider(for: r.model, workflow: r.workflow)
        let prompt = r.prompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !prompt.isEmpty else { throw WendaoError(.invalidArgument, "the prompt is empty") }
        guard prompt.count <= provider.maxPromptCharacters else {
            throw WendaoError(
                .invalidArgument,
                "the prompt has \(prompt.count.formatted()) characters; \(provider.name) accepts at most \(provider.maxPromptCharacters.formatted())"
            )
        }
        if let n = r.negativePrompt, n.count > provider.maxPromptCharacters {
            throw WendaoError(
                .invalidArgument,
                "the negative prompt has \(n.count.formatted()) characters; \(provider.name) accepts at most \(provider.maxPromptCharacters.formatted())"
            )
        }
        try checkCount(r.count, provider)
        if let s = r.size { try checkSize(s) }
        if let steps = r.steps, !(1...150).contains(steps) {
            throw WendaoError(.invalidArgument, "--steps must be from 1 to 150")
        }
        var inputs: [ImageInput] = []
        if let initial = r.initImage {
            let (data, info) = try InputChecks.check(file: initial, role: "init", limits: .general)
            inputs.append(ImageInput(role: "init", data: data, info: info))
        }
        var job = ImageJob(
            kind: .generate, model: wire, prompt: prompt, negativePrompt: r.negativePrompt, size: r.size,
            count: r.count,
            seed: r.seed, steps: r.steps, cfgScale: r.cfgScale, inputs: inputs, extra: r.extra)
        job.prompt = prompt
        var params: [String: JSONValue] = ["n": .number(Double(r.count))]
        if let s = r.size { params["size"] = .string(s.description) }
        if let st = r.steps { params["steps"] = .number(Double(st)) }
        if let c = r.cfgScale { params["cfg_scale"] = .number(c) }
        if !r.extra.isEmpty { params["extra"] = .object(r.extra) }
        if let i = inputs.first, let d = i.data { params["inputs"] = ["init": .string(Self.sha(d))] }
        return PreparedTask(
            job: job, provider: provider, modelID: id, parameters: params, tags: r.tags, label: nil, owner: r.owner)
    }

    /// Dresses a person in garments; returns the finished record. A JPEG input with an EXIF orientation
    /// is turned upright before it is sent (other inputs go byte for byte).
    public func tryOn(_ r: TryOnRequest, progress: (@Sendable (ImageProgress) -> Void)? = nil) async throws
        -> ImageRecord
    {
        try await run(try await prepare(r), progress: progress)
    }

    /// A try-on request checked, its inputs made reachable, turned into what is sent and recorded.
    func prepare(_ r: TryOnRequest) async throws -> PreparedTask {
        let (provider, id, wire) = try self.provider(for: r.model, workflow: r.workflow)
        guard r.top != nil || r.bottom != nil || r.data["top"] != nil || r.data["bottom"] != nil else {
            throw WendaoError(.invalidArgument, "try-on needs --top and/or --bottom besides --person")
        }
        let limits: InputLimits = provider.name == "dashscope" ? .dashScopeTryOn : .general
        var inputs: [ImageInput] = []
        var shown: [String: JSONValue] = [:]
        for (role, source) in [("person", Optional(r.person)), ("top", r.top), ("bottom", r.bottom)] {
            let input: ImageInput
            if let bytes = r.data[role] {
                input = try await prepareInput(
                    data: bytes, name: "upload", role: role, limits: limits, provider: provider, model: wire)
            } else if let source, !source.isEmpty {
                input = try await prepareInput(source, role: role, limits: limits, provider: provider, model: wire)
            } else {
                continue
            }
            inputs.append(input)
            shown[role] = .string(input.data.map(Self.sha) ?? Self.withoutQuery(input.url ?? ""))
        }
        let job = ImageJob(kind: .tryon, model: wire, prompt: "", count: 1, inputs: inputs, extra: r.extra)
        var params: [String: JSONValue] = ["n": 1, "inputs": .object(shown)]
        if !r.extra.isEmpty { params["extra"] = .object(r.extra) }
        let label =
            "try-on: "
            + [("person", Optional(r.person)), ("top", r.top), ("bottom", r.bottom)]
            .compactMap { role, s -> String? in
                if r.data[role] != nil { return "\(role) upload" }
                guard let s, !s.isEmpty else { return nil }
                return "\(role) \(URL(fileURLWithPath: s).lastPathComponent)"
            }
            .joined(separator: ", ")
        return PreparedTask(
            job: job, provider: provider, modelID: id, parameters: params, tags: r.tags, label: label, owner: nil)
    }

    /// Checks one input (a local file, or an http(s) URL fetched through the guarded client and
    /// checked the same way) and makes it reachable: a signed URL under `public_base_url` for
    /// providers that fetch inputs themselves.
    func prepareInput(
        _ source: String, role: String, limits: InputLimits, provider: any ImageProvider, model: String
    ) async throws -> ImageInput {
        let needsURL = provider.needsInputURLs
        let lower = source.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            guard let url = URL(string: source) else { throw WendaoError(.invalidArgument, "\(role) URL is not a URL") }
            guard case .fetched(let page) = try await fetcher.fetch(url) else {
                throw WendaoError(.unavailable, "\(role) URL answered 304 without a body")
            }
            let shown = WebFetcherShown.shown(url)
            let info = try InputChecks.check(data: page.body, name: shown, role: role, limits: limits)
            if info.format == .jpeg, (2...8).contains(info.orientation) {
                // Turned upright, the bytes are new: they need a URL of ours (or go as bytes).
                if !needsURL || configuration.publicBaseURL != nil
                    || (configuration.dashScopeTemporaryUploads && provider is DashScopeImages)
                {
                    return try await prepareInput(
                        data: page.body, name: shown, role: role, limits: limits, provider: provider, model: model)
                }
                logger.warning(
                    "input URL has an EXIF orientation but no public_base_url is set to offer it turned upright; sent as is",
                    metadata: ["role": "\(role)", "orientation": "\(info.orientation)"])
            }
            return ImageInput(role: role, url: source, data: needsURL ? nil : page.body, info: info)
        }
        let (data, _) = try InputChecks.check(file: URL(fileURLWithPath: source), role: role, limits: limits)
        return try await prepareInput(
            data: data, name: URL(fileURLWithPath: source).lastPathComponent, role: role, limits: limits,
            provider: provider, model: model)
    }

    /// Checks bytes (a local file's or an upload's) and makes them reachable as
    /// ``prepareInput(_:role:limits:provider:model:)`` does.
    func prepareInput(
        data: Data, name: String, role: String, limits: InputLimits, provider: any ImageProvider, model: String
    ) async throws -> ImageInput {
        let needsURL = provider.needsInputURLs
        var data = data
        var info = try InputChecks.check(data: data, name: name, role: role, limits: limits)
        if let turned = try Self.upright(data, info: info, name: name, role: role, limits: limits) {
            (data, info) = turned
        }
        guard needsURL else { return ImageInput(role: role, data: data, info: info) }
        if configuration.publicBaseURL == nil, configuration.dashScopeTemporaryUploads,
            let dashScope = provider as? DashScopeImages
        {
            let url = try await dashScope.uploadTemporary(data, format: info.format, model: model)
            return ImageInput(role: role, url: url, data: data, info: info)
        }
        guard let base = configuration.publicBaseURL else {
            throw WendaoError(
                .invalidArgument,
                "the provider fetches inputs by URL: set images.public_base_url in config.yaml to where `wendao serve` "
                    + "is reachable from the internet (local files are served there at signed, expiring URLs), "
                    + "or images.dashscope_temporary_uploads: true (DashScope's 48-hour storage, for trials), "
                    + "or give --\(role) as an https:// URL")
        }
        let (sha, _) = try gallery.storeFile(data, info: info)
        let signer = try URLSigner.open(dataDirectory: dataDirectory, baseURL: base)
        let url = signer.url(for: "\(sha).\(info.format.fileExtension)", ttl: configuration.signedURLTTL)
        return ImageInput(role: role, url: url, data: data, info: info)
    }

    /// A JPEG input with EXIF orientation 2–8 decoded, turned upright and encoded again, then checked
    /// against the limits once more (the new file's size in bytes differs); nil when nothing needs turning.
    static func upright(_ data: Data, info: ImageInfo, name: String, role: String, limits: InputLimits) throws
        -> (Data, ImageInfo)?
    {
        let turned: (data: Data, info: ImageInfo)?
        do { turned = try ImagePixels.upright(data, info: info) } catch {
            throw WendaoError(
                .invalidArgument,
                "\(role) image \(name) cannot be turned upright by its EXIF orientation \(info.orientation): \(error.message)"
            )
        }
        guard let turned else { return nil }
        let checked = try InputChecks.check(
            data: turned.data, name: "\(name) (turned upright by its EXIF orientation)", role: role, limits: limits)
        return (turned.data, checked)
    }

    func checkCount(_ n: Int, _ provider: any ImageProvider) throws {
        guard n >= 1 else { throw WendaoError(.invalidArgument, "--n must be at least 1") }
        guard n <= provider.maxCount else {
            throw WendaoError(
                .invalidArgument, "--n \(n): \(provider.name) makes at most \(provider.maxCount) images per task")
        }
    }

    func checkSize(_ s: ImageSize) throws {
        guard (64...4096).contains(s.width), (64...4096).contains(s.height) else {
            throw WendaoError(.invalidArgument, "size \(s): each side must be from 64 to 4096 pixels")
        }
    }

    /// The price of `n` images of `modelID`: configured, else 0 for local servers, else unknown.
    func estimate(_ modelID: String, provider: String, count: Int) -> Double? {
        if let p = configuration.price(of: modelID) { return p * Double(count) }
        if provider == "sdwebui" || provider == "comfyui" { return 0 }
        return nil
    }

    /// Refuses a task that would take today's spending past the cap.
    func checkCap(_ estimate: Double?, now: Date = Date()) throws {
        guard let cap = configuration.dailyCap else { return }
        try Self.checkCap(
            spent: try gallery.spent(day: ImageGallery.day(now)), cost: estimate ?? 0, cap: cap,
            currency: configuration.currency, now: now)
    }

    static func checkCap(spent: Double, cost: Double, cap: Double, currency: String, now: Date = Date()) throws {
        guard spent + cost > cap + 1e-9 else { return }
        throw WendaoError(
            .limitExceeded,
            String(
                format:
                    "daily image spending cap reached: %.2f of %.2f %@ spent on %@ (UTC), this task would add %.2f; "
                    + "raise images.daily_cap in config.yaml or wait until 00:00 UTC",
                spent, cap, currency, ImageGallery.day(now), cost))
    }

    // MARK: Running

    /// Runs a prepared task to its end.
    func run(_ p: PreparedTask, progress: (@Sendable (ImageProgress) -> Void)?) async throws -> ImageRecord {
        let id = try admit(p)
        return try await execute(id, p, progress: progress)
    }

    /// Records a prepared task and runs it in an unstructured task (it outlives the caller's request).
    func start(_ p: PreparedTask, progress: (@Sendable (ImageProgress) -> Void)?) throws -> StartedImageTask {
        let id = try admit(p)
        let recorded = try gallery.record(id)
        let finished = Task { [self] () -> ImageRecord in
            do {
                return try await execute(id, p, progress: progress)
            } catch {
                // The failure is in the record already (a refused submission); this is for the log.
                logger.warning(
                    "image task ended with an error",
                    metadata: ["record": "\(id)", "reason": "\(Self.wendao(error).message)"])
                return (try? gallery.record(id)) ?? recorded
            }
        }
        return StartedImageTask(record: recorded, finished: finished)
    }

    /// Checks the daily cap and the key's quota and writes the record (status `submitting`); returns its id.
    func admit(_ p: PreparedTask) throws -> Int64 {
        let job = p.job
        let provider = p.provider
        let modelID = p.modelID
        let owner = p.owner
        let estimate = estimate(modelID, provider: provider.name, count: job.count)
        try checkCap(estimate)
        let quota = owner == nil ? nil : configuration.keyDailyImages
        let cap = configuration.dailyCap
        let currency = configuration.currency
        let count = job.count
        let admit: @Sendable (Double, Int) throws -> Void = { spent, used in
            if let quota, used + count > quota {
                throw WendaoError(
                    .rateLimited,
                    quota == 0
                        ? "image generation is not enabled for API keys (images.key_daily_images in config.yaml)"
                        : "this key's daily image quota is used: \(used) of \(quota) today (UTC); it renews at 00:00 UTC"
                )
            }
            if let cap { try Self.checkCap(spent: spent, cost: estimate ?? 0, cap: cap, currency: currency) }
        }
        return try gallery.create(
            kind: job.kind, prompt: p.label ?? job.prompt, negativePrompt: job.negativePrompt,
            parameters: p.parameters, seed: job.seed, model: modelID, provider: provider.name, estimatedCost: estimate,
            currency: configuration.currency, tags: p.tags, owner: owner, admit: admit)
    }

    /// Submits a recorded task, follows it and stores its pictures.
    func execute(_ id: Int64, _ p: PreparedTask, progress: (@Sendable (ImageProgress) -> Void)?) async throws
        -> ImageRecord
    {
        let job = p.job
        let provider = p.provider
        let modelID = p.modelID
        progress?(ImageProgress(recordID: id, status: .submitting, note: "submitting to \(provider.name)"))
        let submission: ImageSubmission
        do {
            if let sd = provider as? SDWebUIImages, let progress {
                submission = try await Self.submitWithProgress(sd, job: job, recordID: id, progress: progress)
            } else {
                submission = try await provider.submit(job)
            }
        } catch {
            let e = Self.wendao(error)
            try gallery.finish(
                id, status: .failed, files: [], errorCode: e.code.rawValue, errorMessage: e.message, cost: 0)
            throw WendaoError(e.code, e.message + " (recorded as image \(id))")
        }
        switch submission {
        case .task(let taskID):
            try gallery.markSubmitted(id, taskID: taskID)
            progress?(ImageProgress(recordID: id, status: .pending, note: "task \(taskID) accepted"))
            return try await follow(id, provider: provider, taskID: taskID, requested: job.count, progress: progress)
        case .finished(let state):
            try gallery.markSubmitted(id, taskID: nil)
            return try await complete(
                id, state: state, requested: job.count, modelID: modelID, provider: provider.name,
                progress: progress)
        }
    }

    /// Stable Diffusion answers only when done: while it works, its `/sdapi/v1/progress` is reported
    /// every second.
    static func submitWithProgress(
        _ sd: SDWebUIImages, job: ImageJob, recordID: Int64, progress: @escaping @Sendable (ImageProgress) -> Void
    ) async throws -> ImageSubmission {
        try await withThrowingTaskGroup(of: ImageSubmission?.self) { group in
            group.addTask { try await sd.submit(job) }
            group.addTask {
                var last = -1
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    if Task.isCancelled { break }
                    if let p = try? await sd.progress() {
                        let percent = Int((p * 100).rounded())
                        if percent != last, percent > 0 {
                            last = percent
                            progress(ImageProgress(recordID: recordID, status: .running, note: "sdwebui \(percent)%"))
                        }
                    }
                }
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let submission = next { return submission }
            }
            throw WendaoError(.internal, "sdwebui call ended without an answer")
        }
    }

    /// Polls a task until it ends or the task time limit passes; back-off from `poll.initial` growing
    /// by half up to `poll.max`. Provider hiccups (timeouts, 5xx) are retried until the limit.
    func follow(
        _ id: Int64, provider: any ImageProvider, taskID: String, requested: Int,
        progress: (@Sendable (ImageProgress) -> Void)?
    ) async throws -> ImageRecord {
        let record = try gallery.record(id)
        let submitted = record.submittedAt.flatMap { ISO8601DateFormatter().date(from: $0) } ?? Date()
        let deadline = submitted.addingTimeInterval(configuration.taskTimeout)
        var interval = configuration.pollInitial
        var last = record.status
        while true {
            try Task.checkCancellation()
            // Cancelled meanwhile (`wendao image cancel`, another process): stop following.
            let current = try gallery.record(id)
            if current.status == .canceled { return current }
            let state: ImageTaskState
            do {
                state = try await provider.poll(taskID: taskID)
            } catch let e as WendaoError where [.timeout, .unavailable, .rateLimited].contains(e.code) {
                logger.warning(
                    "image task poll failed; will retry", metadata: ["record": "\(id)", "reason": "\(e.message)"])
                if Date() >= deadline { return try timedOut(id, taskID: taskID) }
                try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                interval = min(configuration.pollMax, interval * 1.5)
                continue
            } catch {
                let e = Self.wendao(error)
                try gallery.finish(
                    id, status: .failed, files: [], errorCode: e.code.rawValue, errorMessage: e.message, cost: 0)
                return try gallery.record(id)
            }
            if state.status.isFinal {
                return try await complete(
                    id, state: state, requested: requested, modelID: record.model, provider: provider.name,
                    progress: progress)
            }
            if state.status != last {
                try gallery.markStatus(id, state.status)
                last = state.status
                progress?(
                    ImageProgress(recordID: id, status: state.status, note: "task \(taskID) \(state.status.rawValue)"))
            }
            if Date() >= deadline { return try timedOut(id, taskID: taskID) }
            try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
            interval = min(configuration.pollMax, interval * 1.5)
        }
    }

    func timedOut(_ id: Int64, taskID: String) throws -> ImageRecord {
        let r = try gallery.record(id)
        try gallery.finish(
            id, status: .timedOut, files: [], errorCode: "timeout",
            errorMessage:
                "gave up waiting after \(Int(configuration.taskTimeout)) s (images.task_timeout); the provider may still "
                + "finish task \(taskID): `wendao image resume \(id)`",
            cost: r.estimatedCost)
        return try gallery.record(id)
    }

    /// Downloads and stores the pictures of a finished task and records the outcome.
    func complete(
        _ id: Int64, state: ImageTaskState, requested: Int, modelID: String, provider: String,
        progress: (@Sendable (ImageProgress) -> Void)?
    ) async throws -> ImageRecord {
        guard state.status == .succeeded else {
            try gallery.finish(
                id, status: state.status, files: [], errorCode: state.errorCode,
                errorMessage: state.errorMessage ?? "the task ended \(state.status.rawValue)", cost: 0)
            progress?(
                ImageProgress(recordID: id, status: state.status, note: state.errorMessage ?? state.status.rawValue))
            return try gallery.record(id)
        }
        var notes: [String] = []
        var outputs = state.outputs
        if outputs.count > requested {
            notes.append("\(provider) returned \(outputs.count) images for \(requested) asked; kept \(requested)")
            outputs = Array(outputs.prefix(requested))
        }
        var files: [ImageFile] = []
        var failures = state.failedCount
        for (index, output) in outputs.enumerated() {
            try Task.checkCancellation()
            progress?(
                ImageProgress(recordID: id, status: .running, note: "storing image \(index + 1) of \(outputs.count)"))
            do {
                let data: Data
                var source: String?
                switch output {
                case .data(let d): data = d
                case .url(let u):
                    guard let url = URL(string: u) else { throw WendaoError(.badResponse, "result URL is not a URL") }
                    source = Self.withoutQuery(u)
                    guard case .fetched(let page) = try await fetcher.fetch(url) else {
                        throw WendaoError(.badResponse, "result URL answered 304")
                    }
                    data = page.body
                }
                let info: ImageInfo
                do { info = try ImageSniffer.inspect(data) } catch {
                    throw WendaoError(.badResponse, "result is \(error.message)")
                }
                let (sha, path) = try gallery.storeFile(data, info: info)
                let thumbnail = gallery.makeThumbnail(data, sha256: sha, info: info)
                if let reason = thumbnail.skipped {
                    logger.info("no thumbnail", metadata: ["record": "\(id)", "reason": "\(reason)"])
                }
                files.append(
                    ImageFile(
                        index: index, sha256: sha, format: info.format, bytes: data.count, width: info.width,
                        height: info.height, path: path.path, sourceURL: source, thumbnailPath: thumbnail.path?.path,
                        thumbnailSkipped: thumbnail.skipped))
            } catch {
                failures += 1
                let e = Self.wendao(error)
                notes.append("image \(index + 1): \(e.message)")
                logger.warning("image result not stored", metadata: ["record": "\(id)", "reason": "\(e.message)"])
            }
        }
        let status: ImageTaskStatus = files.isEmpty ? .failed : (failures > 0 ? .partial : .succeeded)
        var message = notes.joined(separator: "; ")
        if let m = state.errorMessage, failures > 0 {
            message = (state.errorCode.map { "\($0): " } ?? "") + m + (message.isEmpty ? "" : "; " + message)
        }
        let price = configuration.price(of: modelID) ?? (provider == "sdwebui" || provider == "comfyui" ? 0 : nil)
        try gallery.finish(
            id, status: status, files: files,
            errorCode: failures > 0 ? (state.errorCode ?? "download_failed") : nil,
            errorMessage: message.isEmpty ? nil : message, cost: price.map { $0 * Double(files.count) },
            seed: state.seed, actualPrompt: state.actualPrompt)
        progress?(ImageProgress(recordID: id, status: status, note: "\(files.count) image(s) stored"))
        return try gallery.record(id)
    }

    /// Picks up tasks left unfinished by a stopped process (or the record `id`, also a timed-out one):
    /// polls each again and stores its results. Tasks of synchronous providers cannot be resumed and
    /// are marked `unknown`.
    public func resume(_ id: Int64? = nil, progress: (@Sendable (ImageProgress) -> Void)? = nil) async throws
        -> [ImageRecord]
    {
        let records = try id.map { [try gallery.record($0)] } ?? gallery.unfinished()
        var out: [ImageRecord] = []
        for r in records {
            guard !r.status.isFinal || r.status == .timedOut || r.status == .unknown else {
                out.append(r)
                continue
            }
            guard let taskID = r.taskID else {
                try gallery.finish(
                    r.id, status: .unknown, files: [], errorCode: "interrupted",
                    errorMessage: "the process stopped before \(r.provider) gave a task id; nothing to resume", cost: 0)
                out.append(try gallery.record(r.id))
                continue
            }
            let (provider, _, _) = try self.provider(for: r.model)
            if r.status.isFinal { try gallery.markStatus(r.id, .running) }
            let requested = r.parameters["n"]?.intValue ?? 1
            out.append(
                try await follow(r.id, provider: provider, taskID: taskID, requested: requested, progress: progress))
        }
        return out
    }

    /// Asks the provider to stop a task and records it as cancelled.
    public func cancel(_ id: Int64) async throws -> ImageRecord {
        let r = try gallery.record(id)
        guard !r.status.isFinal else {
            throw WendaoError(.invalidArgument, "image \(id) is already \(r.status.rawValue)")
        }
        if let taskID = r.taskID {
            let (provider, _, _) = try self.provider(for: r.model)
            try await provider.cancel(taskID: taskID)
        }
        try gallery.finish(
            id, status: .canceled, files: [], errorCode: nil, errorMessage: "cancelled by the user", cost: 0)
        return try gallery.record(id)
    }

    static func wendao(_ error: any Error) -> WendaoError {
        if let e = error as? WendaoError { return e }
        if error is CancellationError { return WendaoError(.cancelled, "cancelled") }
        return WendaoError(.internal, String(describing: error).prefix(300).description)
    }

    static func sha(_ d: Data) -> String {
        var h = SHA256()
        h.update(d)
        return h.hexDigest()
    }

    static func withoutQuery(_ url: String) -> String {
        guard var c = URLComponents(string: url) else { return url }
        c.query = nil
        c.fragment = nil
        c.user = nil
        c.password = nil
        return c.string ?? url
    }
}

enum WebFetcherShown {
    static func shown(_ url: URL) -> String { ImageStudio.withoutQuery(url.absoluteString) }
}
