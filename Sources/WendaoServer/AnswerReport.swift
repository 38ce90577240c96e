public import WendaoModels
public import WendaoRAG

/// A model-written answer as `ask --json` and the HTTP API show it: the grounded answer with its
/// `usage` replaced by the usage report (tokens, calls, cost, seconds).
public struct AnswerReport: Encodable, Sendable {
    /// The answer.
    public var answer: GroundedAnswer
    /// Tokens, calls, cost and time.
    public var usage: UsageReport

    /// Pairs an answer with its usage report.
    public init(answer: GroundedAnswer, usage: UsageReport) {
        self.answer = answer
        self.usage = usage
    }

    /// Encodes the answer's keys, `usage` being the report.
    public func encode(to encoder: any Encoder) throws {
        try answer.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(usage, forKey: Key(stringValue: "usage"))
    }

    struct Key: CodingKey {
        var stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}
