/// The error every Wendao library throws: a code a program can switch on and a message a person can
/// read. Messages never contain secrets.
///
/// ```swift
/// throw WendaoError(.notFound, "knowledge base 'demo' does not exist")
/// ```
public struct WendaoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Broad classes of failure; the CLI and (later) the server map them to exit codes and statuses.
    public enum Code: String, Sendable, Equatable {
        /// A name, option or value is not acceptable.
        case invalidArgument = "invalid_argument"
        /// The thing asked for does not exist.
        case notFound = "not_found"
        /// The thing to create exists already.
        case alreadyExists = "already_exists"
        /// A file could not be read or understood.
        case unreadable = "unreadable"
        /// The file type is not supported (yet).
        case unsupported = "unsupported"
        /// A size or time limit was reached.
        case limitExceeded = "limit_exceeded"
        /// Stored data is damaged or inconsistent.
        case corrupt = "corrupt"
        /// A storage operation failed.
        case storage = "storage"
        /// The store cannot be reached for now (its database server is down, restarting or not
        /// answering); the same call may succeed later. Servers answer 503.
        case storageUnavailable = "storage_unavailable"
        /// A model provider rejected the credentials.
        case unauthenticated = "unauthenticated"
        /// A model provider asks to slow down (HTTP 429) and retries did not help.
        case rateLimited = "rate_limited"
        /// The prompt does not fit the model's context window.
        case contextTooLong = "context_too_long"
        /// A model provider is down or unreachable.
        case unavailable = "unavailable"
        /// A model provider answered with something that is not the expected protocol.
        case badResponse = "bad_response"
        /// A connect, first-token or total time limit passed.
        case timeout = "timeout"
        /// The operation was cancelled (Ctrl-C, client gone).
        case cancelled = "cancelled"
        /// Anything else.
        case `internal` = "internal"
    }

    /// The failure class.
    public var code: Code
    /// A one-line, human-readable reason.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
