public import Foundation
public import WendaoModels

/// What a task makes: pictures from a prompt, or a person wearing garments.
public enum ImageTaskKind: String, Sendable, Codable {
    /// Text to image (optionally from an initial image).
    case generate
    /// Virtual try-on: a person photo plus a top and/or bottom garment.
    case tryon
}

/// A pixel size, written `1024*1024` (DashScope) or `1024x1024` (OpenAI); both are accepted.
public struct ImageSize: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int

    /// Creates a size.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// Parses `1024*1024`, `1024x1024` or `1024×1024`; nil when it is not two positive numbers.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(whereSeparator: { $0 == "*" || $0 == "x" || $0 == "×" })
        guard parts.count == 2, let w = Int(parts[0].trimmingCharacters(in: .whitespaces)),
            let h = Int(parts[1].trimmingCharacters(in: .whitespaces)), w > 0, h > 0, w <= 65_535, h <= 65_535
        else { return nil }
        width = w
        height = h
    }

    /// `1024*1024`.
    public var description: String { "\(width)*\(height)" }
    /// `1024x1024`, the OpenAI spelling.
    public var openAI: String { "\(width)x\(height)" }
}

/// One input picture of a task: a URL the provider can reach, and/or its bytes (for providers that
/// take uploads or base64).
public struct ImageInput: Sendable, Equatable {
    /// `person`, `top`, `bottom` (try-on) or `init` (image-to-image).
    public var role: String
    /// A URL the provider can fetch (a signed URL under `public_base_url`, or the user's own URL).
    public var url: String?
    /// The bytes, when the file is local.
    public var data: Data?
    /// What the header says (local files only).
    public var info: ImageInfo?

    /// Creates an input.
    public init(role: String, url: String? = nil, data: Data? = nil, info: ImageInfo? = nil) {
        self.role = role
        self.url = url
        self.data = data
        self.info = info
    }
}

/// Everything a provider needs to start one task.
public struct ImageJob: Sendable {
    /// Generate or try on.
    public var kind: ImageTaskKind
    /// The model name on the provider's wire (`wanx2.1-t2i-turbo`, `aitryon`).
    public var model: String
    /// The prompt (empty for try-on).
    public var prompt: String
    /// What to keep out of the picture.
    public var negativePrompt: String?
    /// The size asked for.
    public var size: ImageSize?
    /// How many pictures.
    public var count: Int
    /// The seed, when fixed.
    public var seed: Int?
    /// Sampling steps (Stable Diffusion, ComfyUI).
    public var steps: Int?
    /// Guidance scale (Stable Diffusion).
    public var cfgScale: Double?
    /// Input pictures (try-on garments, an initial image).
    public var inputs: [ImageInput]
    /// Provider-specific parameters passed through as given (`prompt_extend`, `restore_face`, …).
    public var extra: [String: JSONValue]

    /// Creates a job.
    public init(
        kind: ImageTaskKind, model: String, prompt: String, negativePrompt: String? = nil, size: ImageSize? = nil,
        count: Int = 1, seed: Int? = nil, steps: Int? = nil, cfgScale: Double? = nil, inputs: [ImageInput] = [],
        extra: [String: JSONValue] = [:]
    ) {
        self.kind = kind
        self.model = model
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.size = size
        self.count = count
        self.seed = seed
        self.steps = steps
        self.cfgScale = cfgScale
        self.inputs = inputs
        self.extra = extra
    }

    /// The input with `role`, if any.
    public func input(_ role: String) -> ImageInput? { inputs.first { $0.role == role } }
}

/// One picture a provider made: a URL to download (through the guarded client) or bytes in hand.
public enum ImageOutput: Sendable, Equatable {
    /// A (usually expiring) URL.
    case url(String)
    /// The bytes (base64 answers, files fetched from the provider itself).
    case data(Data)
}

/// The states of a provider task (DashScope's names; the other providers map onto them).
public enum ImageTaskStatus: String, Sendable, Codable {
    /// Recorded, not yet accepted by the provider.
    case submitting
    /// Queued at the provider.
    case pending
    /// Being made.
    case running
    /// Done; pictures stored.
    case succeeded
    /// Done, but some pictures failed (moderation, download).
    case partial
    /// Failed (the code and message say why).
    case failed
    /// Cancelled.
    case canceled
    /// The provider does not know the task (an expired or wrong id).
    case unknown
    /// Gave up waiting (the task time limit).
    case timedOut = "timed_out"

    /// Whether the task is over.
    public var isFinal: Bool { ![.submitting, .pending, .running].contains(self) }
}

/// What a provider says about a task.
public struct ImageTaskState: Sendable, Equatable {
    /// The state.
    public var status: ImageTaskStatus
    /// The pictures (when finished).
    public var outputs: [ImageOutput]
    /// The provider's error code (`DataInspectionFailed`), for failed tasks or failed pictures.
    public var errorCode: String?
    /// The provider's message.
    public var errorMessage: String?
    /// Pictures the provider reports as failed (moderation), when it says.
    public var failedCount: Int
    /// The seed the provider used, when it says.
    public var seed: Int?
    /// The prompt as the provider rewrote it (DashScope `actual_prompt`).
    public var actualPrompt: String?
    /// Progress 0…1, when the provider reports it.
    public var progress: Double?

    /// Creates a state.
    public init(
        status: ImageTaskStatus, outputs: [ImageOutput] = [], errorCode: String? = nil, errorMessage: String? = nil,
        failedCount: Int = 0, seed: Int? = nil, actualPrompt: String? = nil, progress: Double? = nil
    ) {
        self.status = status
        self.outputs = outputs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.failedCount = failedCount
        self.seed = seed
        self.actualPrompt = actualPrompt
        self.progress = progress
    }
}

/// What submitting gave back: a task to poll, or (synchronous providers) the result itself.
public enum ImageSubmission: Sendable, Equatable {
    /// An asynchronous task id to poll.
    case task(String)
    /// Finished at once.
    case finished(ImageTaskState)
}

/// A provider of image tasks: OpenAI-compatible images, DashScope tasks, Stable Diffusion WebUI,
/// ComfyUI. One more provider is one more conformance.
public protocol ImageProvider: Sendable {
    /// The provider's name in records (`dashscope`).
    var name: String { get }
    /// The most pictures one task may ask for.
    var maxCount: Int { get }
    /// The longest prompt the provider accepts, in characters.
    var maxPromptCharacters: Int { get }
    /// Whether the provider needs inputs as URLs it can reach (true) or takes the bytes (false).
    var needsInputURLs: Bool { get }
    /// Starts a task. A refusal (4xx) means nothing was charged.
    func submit(_ job: ImageJob) async throws -> ImageSubmission
    /// Asks about a task started earlier (also after a restart).
    func poll(taskID: String) async throws -> ImageTaskState
    /// Asks the provider to stop a task (best effort).
    func cancel(taskID: String) async throws
}
