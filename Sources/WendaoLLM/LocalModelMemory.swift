import Foundation
public import WendaoCore

/// The memory a local model needs, and the check made before loading one: the file (mapped and, while
/// generating, read in full), the key/value cache for the context asked for, and a fixed allowance
/// for activations, the vocabulary and the process — compared with what Linux says is available
/// (`MemAvailable` in `/proc/meminfo`), so a model that cannot fit is refused with a clear message
/// before anything is allocated.
///
/// ```swift
/// let estimate = try LocalModelMemory.estimate(path: gguf, contextLength: 4096)
/// try LocalModelMemory.check(estimate, model: "local:qwen2.5-1.5b")   // throws limitExceeded when short
/// ```
public enum LocalModelMemory {
    /// The context the runtime prepares when none is asked for (capped at the model's own).
    public static let defaultContextLength = 4096
    /// Bytes per cached key or value element: the runtime keeps its cache in half precision, as
    /// llama.cpp does by default.
    public static let keyValueBytesPerElement = 2
    /// Scratch buffers, logits over the vocabulary, tokenizer tables and the rest of the process.
    public static let allowanceBytes: Int64 = 64 << 20

    /// A model's memory needs at one context length.
    public struct Estimate: Sendable, Equatable {
        /// The GGUF file's size.
        public var fileBytes: Int64
        /// The context the cache is sized for.
        public var contextLength: Int
        /// The key/value cache.
        public var keyValueCacheBytes: Int64

        /// An estimate.
        public init(fileBytes: Int64, contextLength: Int, keyValueCacheBytes: Int64) {
            self.fileBytes = fileBytes
            self.contextLength = contextLength
            self.keyValueCacheBytes = keyValueCacheBytes
        }

        /// File + cache + ``LocalModelMemory/allowanceBytes``.
        public var totalBytes: Int64 { fileBytes + keyValueCacheBytes + allowanceBytes }
    }

    /// Keys and values of every layer for `contextLength` tokens.
    public static func keyValueCacheBytes(shape: KnownChatModel.CacheShape, contextLength: Int) -> Int64 {
        2 * Int64(shape.layers) * Int64(contextLength) * Int64(shape.keyValueHeads) * Int64(shape.headDimension)
            * Int64(keyValueBytesPerElement)
    }

    /// The estimate for the GGUF file at `path`, from its header: `{arch}.block_count`,
    /// `{arch}.attention.head_count_kv` (default: `head_count`), `{arch}.attention.key_length` (default:
    /// `embedding_length / head_count`) and `{arch}.context_length` (which caps `contextLength`, default
    /// 4,096).
    ///
    /// - Throws: what reading the GGUF header throws; `unsupported` when the header lacks the sizes.
    public static func estimate(path: String, contextLength: Int? = nil) throws(WendaoError) -> Estimate {
        let file = try GGUFFile(path: path)
        let arch = file.architecture ?? "llama"
        func int(_ key: String) -> Int? {
            file.metadata["\(arch).\(key)"]?.integer.flatMap { $0 > 0 && $0 < 1 << 40 ? Int($0) : nil }
        }
        guard let layers = int("block_count"), let heads = int("attention.head_count") else {
            throw WendaoError(
                .unsupported, "\(path): the header gives no \(arch).block_count or \(arch).attention.head_count")
        }
        let kvHeads = int("attention.head_count_kv") ?? heads
        guard let headDimension = int("attention.key_length") ?? int("embedding_length").map({ $0 / heads }),
            headDimension > 0
        else {
            throw WendaoError(.unsupported, "\(path): the header gives no \(arch).embedding_length")
        }
        var context = contextLength ?? defaultContextLength
        if let trained = int("context_length") { context = min(context, trained) }
        let shape = KnownChatModel.CacheShape(layers: layers, keyValueHeads: kvHeads, headDimension: headDimension)
        let (cache, overflow) = keyValueCacheBytes(shape: shape, contextLength: 1).multipliedReportingOverflow(
            by: Int64(context))
        return Estimate(
            fileBytes: Int64(file.fileSize), contextLength: context, keyValueCacheBytes: overflow ? .max / 2 : cache)
    }

    /// `MemAvailable` of a `/proc/meminfo` text, in bytes.
    public static func available(meminfo: String) -> Int64? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kib = Int64(fields[1]) else { return nil }
            let unit = fields.count >= 3 ? fields[2].lowercased() : "kb"
            return unit == "kb" ? kib * 1024 : kib
        }
        return nil
    }

    /// This machine's available memory (Linux), or nil where `/proc/meminfo` cannot be read.
    public static func availableOnThisMachine() -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        return available(meminfo: text)
    }

    /// Refuses `estimate` when it exceeds `available` (default: this machine's `MemAvailable`; nothing is
    /// checked when that is unknown).
    ///
    /// - Throws: `limitExceeded`, naming the model, what it needs and what is free, and what to do.
    public static func check(
        _ estimate: Estimate, model: String, available: Int64? = availableOnThisMachine()
    ) throws(WendaoError) {
        guard let available, estimate.totalBytes > available else { return }
        throw WendaoError(
            .limitExceeded,
            "\(model) needs about \(megabytes(estimate.totalBytes)) of memory (file \(megabytes(estimate.fileBytes)), "
                + "key/value cache for \(estimate.contextLength) tokens \(megabytes(estimate.keyValueCacheBytes))) "
                + "but \(megabytes(available)) is available: close other programs, use a smaller model, or a "
                + "shorter context")
    }

    /// `1,234 MB`.
    public static func megabytes(_ bytes: Int64) -> String {
        let mb = (Double(bytes) / 1_000_000).rounded()
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.usesGroupingSeparator = true
        formatter.groupingSeparator = ","
        formatter.groupingSize = 3
        return (formatter.string(from: NSNumber(value: mb)) ?? String(Int64(mb))) + " MB"
    }
}
