import Foundation
public import WendaoCore

/// Tokens, cost and time of one command's model calls, for the one-line summary after `ask` and
/// `chat` and the `usage` object of their `--json` output.
///
/// ```swift
/// let report = UsageReport(model: resolved, usage: usage, calls: 1, seconds: 2.4)
/// print(report.line)   // tokens: 812 prompt + 96 completion = 908 · cost ¥0.0024 · 1 call · 2.4 s
/// ```
public struct UsageReport: Sendable, Equatable, Encodable {
    /// `provider:model`.
    public var model: String
    /// Summed usage.
    public var usage: TokenUsage
    /// Model calls made.
    public var calls: Int
    /// Cost at the configured price (0 for a local model without one), nil when the model has none.
    public var cost: Double?
    /// Currency of ``cost``.
    public var currency: String?
    /// Wall time in seconds.
    public var seconds: Double

    /// A report; the cost comes from the model's configured price.
    public init(model: ResolvedModel, usage: TokenUsage, calls: Int, seconds: Double) {
        self.model = model.id
        self.usage = usage
        self.calls = calls
        // A local model costs nothing (unless config.yaml gives it a price).
        self.cost = model.price?.cost(of: usage) ?? (model.isLocal ? 0 : nil)
        self.currency = model.price?.currency
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case model, promptTokens = "prompt_tokens", completionTokens = "completion_tokens"
        case totalTokens = "total_tokens", cachedPromptTokens = "cached_prompt_tokens"
        case reasoningTokens = "reasoning_tokens", estimated, calls, cost, currency, seconds
    }

    /// Encodes a flat object; `cost` and `currency` are null when no price is configured;
    /// `estimated` is true when a provider reported no usage and the counts are estimates.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(usage.promptTokens, forKey: .promptTokens)
        try c.encode(usage.completionTokens, forKey: .completionTokens)
        try c.encode(usage.totalTokens, forKey: .totalTokens)
        try c.encodeIfPresent(usage.cachedPromptTokens, forKey: .cachedPromptTokens)
        try c.encodeIfPresent(usage.reasoningTokens, forKey: .reasoningTokens)
        try c.encode(usage.estimated, forKey: .estimated)
        try c.encode(calls, forKey: .calls)
        try c.encode(cost, forKey: .cost)
        try c.encode(currency, forKey: .currency)
        try c.encode((seconds * 1000).rounded() / 1000, forKey: .seconds)
    }

    /// `tokens: 812 prompt (512 cached) + 96 completion = 908 · cost ¥0.0024 · 1 call · 2.4 s`.
    public var line: String {
        let approx = usage.estimated ? "~" : ""
        var s = "tokens: \(approx)\(usage.promptTokens) prompt"
        if let c = usage.cachedPromptTokens, c > 0 { s += " (\(c) cached)" }
        s += " + \(approx)\(usage.completionTokens) completion"
        if let r = usage.reasoningTokens, r > 0 { s += " (\(r) reasoning)" }
        s += " = \(approx)\(usage.totalTokens)"
        if usage.estimated { s += " (estimated: the provider reported none)" }
        if let cost, let currency {
            s += " · cost " + Self.money(cost, currency)
        } else if cost == 0 {
            s += " · no cost (run on this machine)"
        } else {
            s += " · cost unknown (set models.\"\(model)\".price in config.yaml)"
        }
        s += " · \(calls) call\(calls == 1 ? "" : "s") · " + String(format: "%.1f s", seconds)
        return s
    }

    static func money(_ amount: Double, _ currency: String) -> String {
        let symbol = ["CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€"][currency.uppercased()]
        let digits = amount >= 1 ? 2 : amount >= 0.01 ? 4 : 6
        let n = String(format: "%.\(digits)f", amount)
        return symbol.map { $0 + n } ?? "\(n) \(currency)"
    }
}
