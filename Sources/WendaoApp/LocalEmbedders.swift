import Foundation
import WendaoCore
public import WendaoEmbed

/// Loads local text-embedding models by name (no cache: ``EmbedderRegistry`` keeps what it loads).
///
/// Names: a pulled model (`e5-small`, `minilm`; see `wendao models pull`), `path:/dir` (a Hugging
/// Face BERT-family directory) or `path:/file.bin` (an E5S1 file). Knowledge bases open their
/// embedder through ``EmbedderRegistry``, which also knows providers' models (`provider:model`).
///
/// ```swift
/// let encoder = try LocalEmbedders.load("e5-small", environment: ProcessInfo.processInfo.environment)
/// ```
public enum LocalEmbedders {
    /// Loads the encoder for `spec`, with `WENDAO_EMBED_THREADS` (else all cores) kernel threads
    /// and as many reused threads for async calls.
    public static func load(_ spec: String, environment: [String: String]) throws -> TextEncoder {
        try CPUFeatures.requireEncoderSupport()
        let model: EmbeddingModelFiles
        if spec.hasPrefix("path:") {
            let path = String(spec.dropFirst(5))
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                throw WendaoError(.notFound, "embedder \(spec): no such file or directory")
            }
            model =
                isDir.boolValue
                ? try BertModelLoader.load(directory: path) : try E5S1Loader.load(path: path)
        } else if let known = EmbedderCatalog.known(spec) {
            guard let dir = EmbedderCatalog.installed(known, environment: environment) else {
                throw WendaoError(
                    .notFound, "embedder \(known.name) is not pulled yet: run `wendao models pull \(known.name)`")
            }
            switch known.name {
            case "e5-small": model = try E5S1Loader.load(path: dir.appendingPathComponent("e5-small-q4.bin").path)
            default: model = try BertModelLoader.load(directory: dir.path, id: "minilm-l6-v2")
            }
        } else {
            let names = EmbedderCatalog.known.map(\.name).joined(separator: ", ")
            throw WendaoError(
                .invalidArgument,
                "unknown embedder '\(spec)': use \(names), path:/model or provider:model "
                    + "(e.g. dashscope:text-embedding-v3)")
        }
        let threads = environment["WENDAO_EMBED_THREADS"].flatMap(Int.init)
        return try TextEncoder(
            model: model, threads: threads, callerThreads: EncoderThreads.defaultLimit(environment: environment))
    }
}
