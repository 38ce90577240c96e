
/// A conservative token count without the model's tokenizer.
///
/// Providers use different tokenizers (tiktoken for OpenAI, Qwen's, DeepSeek's, GLM's, …) and the
/// gateway does not ship them, so prompts are budgeted with a per-character heuristic that errs on
/// the high side: a budget computed with it must never overflow the real context window, and an
/// over-estimate only costs a little unused context.
///
/// - each CJK character (Han, kana, Hangul, CJK punctuation, full-width forms) and anything above
///   U+2E80 (emoji included) counts 1 token — Chinese-oriented tokenizers use about 0.6–0.8;
/// - each ASCII digit counts 1 token (Qwen and DeepSeek tokenize digits one by one);
/// - other non-ASCII characters (accented Latin, Cyrillic, Greek, …) count half a token;
/// - other ASCII counts 1 token per 3.5 characters (English averages about 4);
/// - each message adds ``messageOverhead`` tokens for its role and separators, and a
///   conversation adds ``replyPriming`` for the assistant turn the model starts.
///
/// ```swift
/// TokenEstimator.estimate("首重12元")                       // 5
/// TokenEstimator.estimate([ChatMessage(.user, "Hello")])    // 2 + 4 + 3
/// ```
public enum TokenEstimator {
    /// Tokens a message costs beyond its text (role, separators).
    public static let messageOverhead = 4
    /// Tokens of the assistant turn the model is primed with.
    public static let replyPriming = 3

    /// Estimated tokens of `text` (rounded up).
    public static func estimate(_ text: String) -> Int {
        var heavy = 0
        var half = 0
        var ascii = 0
        for u in text.unicodeScalars {
            let v = u.value
            if v >= 0x2E80 || (v >= 0x30 && v <= 0x39) {
                heavy += 1
            } else if v >= 0x80 {
                half += 1
            } else {
                ascii += 1
            }
        }
        // ceil(heavy + half / 2 + ascii / 3.5) in integers: 14 units per token.
        let units = heavy * 14 + half * 7 + ascii * 4
        return (units + 13) / 14
    }

    /// Estimated tokens of a conversation sent to a model, overheads included.
    public static func estimate(_ messages: [ChatMessage]) -> Int {
        messages.reduce(replyPriming) { $0 + estimate($1) }
    }

    /// Estimated tokens of one message, overhead included.
    public static func estimate(_ message: ChatMessage) -> Int {
        estimate(message.content) + messageOverhead
    }
}
