public import Logging
public import Synchronization

/// A thread-safe one-way flag.
public final class Flag: Sendable {
    private let state = Mutex(false)
    /// A flag not yet set.
    public init() {}
    public var isSet: Bool { state.withLock { $0 } }
    public func set() { state.withLock { $0 = true } }
}

/// A key that must never appear in logs, errors or output.
public let canaryKey = "sk-canary-7f3a9c2e4b1d8f6a0e5c3b2a1d9f8e7c"

/// Collects every log line (message and metadata) a logger writes.
public final class LogCapture: Sendable {
    public let lines = Mutex<[String]>([])

    /// An empty capture.
    public init() {}

    public var text: String { lines.withLock { $0.joined(separator: "\n") } }

    public func logger() -> Logger {
        var l = Logger(label: "test.models") { _ in CaptureHandler(capture: self) }
        l.logLevel = .trace
        return l
    }

    struct CaptureHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let meta = (event.metadata ?? [:]).merging(metadata) { a, _ in a }
            capture.lines.withLock { $0.append("\(event.level) \(event.message) \(meta)") }
        }
    }
}
