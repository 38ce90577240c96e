public import Foundation
public import Testing
public import WendaoCore

/// A private temporary folder (FileManager.default.temporaryDirectory + UUID), removed when the
/// value is released. Every test makes its own, so tests can run in parallel.
public final class ScratchDirectory: @unchecked Sendable {
    public let url: URL

    public init(_ label: String = "test") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("wendao-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { remove() }

    /// Removes the folder now (tests call this in a `defer`, which also keeps the folder alive until
    /// the end of the test).
    public func remove() { try? FileManager.default.removeItem(at: url) }

    public var path: String { url.path }

    /// A path inside the folder (not created).
    public func child(_ relative: String) -> URL { url.appendingPathComponent(relative) }

    /// Writes bytes to `relative`, creating intermediate folders.
    @discardableResult
    public func write(_ relative: String, _ data: Data) throws -> URL {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
        return file
    }

    /// Writes UTF-8 text to `relative`.
    @discardableResult
    public func write(_ relative: String, _ text: String) throws -> URL { try write(relative, Data(text.utf8)) }

    /// Creates a folder.
    @discardableResult
    public func makeFolder(_ relative: String) throws -> URL {
        let dir = url.appendingPathComponent(relative, isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// The `WendaoError` that `body` throws (nil when it does not throw; an `.internal` error wrapping
/// any other error type, so that the assertion on the code fails visibly).
public func thrownWendaoError(_ body: () throws -> Void) -> WendaoError? {
    do {
        try body()
        return nil
    } catch let e as WendaoError {
        return e
    } catch {
        return WendaoError(.internal, "unexpected non-Wendao error: \(error)")
    }
}

/// SplitMix64: a small deterministic generator for reproducible random test data.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The Unicode-scalar substring `[start, end)` of `text`.
public func scalarSlice(_ text: String, _ start: Int, _ end: Int) -> String {
    let scalars = Array(text.unicodeScalars)
    guard start >= 0, end <= scalars.count, start <= end else { return "<out of range \(start)..<\(end)>" }
    return String(String.UnicodeScalarView(scalars[start..<end]))
}

/// Random text drawn from a fixed pool of Chinese and English fragments (deterministic per seed).
public enum TextPool {
    public static let chineseWords = [
        "快递", "包裹", "运费", "首重", "续重", "保价", "理赔", "签收", "客服", "网点", "时效", "冷链", "大件", "退货",
        "拒收", "改址", "月结", "发票", "清关", "关税", "锂电池", "禁运品", "包装", "破损", "赔偿", "上门取件", "自提点",
        "代收货款", "次日达", "国际", "仓库", "司机", "订单", "重量", "体积", "费用", "标准", "服务", "时间", "地址",
    ]
    public static let englishWords = [
        "parcel", "shipping", "delivery", "tracking", "package", "customs", "claim", "insurance", "weight", "volume",
        "courier", "address", "refund", "express", "service", "freight", "warehouse", "driver", "invoice", "label",
    ]

    /// A random Chinese sentence ending with a Chinese terminator.
    public static func chineseSentence(_ rng: inout SeededGenerator, words: ClosedRange<Int> = 3...12) -> String {
        var s = ""
        let n = Int.random(in: words, using: &rng)
        for i in 0..<n {
            s += chineseWords.randomElement(using: &rng)!
            if i > 0 && i % 4 == 0 && i < n - 1 { s += "，" }
            if Int.random(in: 0..<6, using: &rng) == 0 { s += String(Int.random(in: 1...999, using: &rng)) }
        }
        return s + ["。", "！", "？", "；"].randomElement(using: &rng)!
    }

    /// A random English sentence ending with a full stop.
    public static func englishSentence(_ rng: inout SeededGenerator, words: ClosedRange<Int> = 3...12) -> String {
        var parts: [String] = []
        for _ in 0..<Int.random(in: words, using: &rng) { parts.append(englishWords.randomElement(using: &rng)!) }
        parts[0] = parts[0].prefix(1).uppercased() + parts[0].dropFirst()
        return parts.joined(separator: " ") + "."
    }

    /// A paragraph of mixed sentences.
    public static func paragraph(_ rng: inout SeededGenerator, sentences: ClosedRange<Int>) -> String {
        var out = ""
        for _ in 0..<Int.random(in: sentences, using: &rng) {
            if Bool.random(using: &rng) {
                out += chineseSentence(&rng)
            } else {
                if !out.isEmpty { out += " " }
                out += englishSentence(&rng) + " "
            }
        }
        return out.trimmingCharacters(in: .whitespaces)
    }
}

/// Runs slow synchronous work on a thread of its own, so it does not hold one of the few shared
/// concurrency threads that other tests' servers and clients need meanwhile.
public func offConcurrencyPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// The root of the repository (tests read the sample knowledge base and the docs).
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

extension Tag {
    /// Tests that take seconds (whole-sample ingests, zip bombs, killed processes, multi-second
    /// timeouts); each also carries a time limit.
    @Tag public static var slow: Self
}
