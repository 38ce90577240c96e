import Foundation

/// Provider-shaped responses.
public enum Shapes {
    /// DashScope compatible mode, streamed with `stream_options.include_usage`.
    public static let dashscopeStream = [
        #"{"choices":[{"delta":{"content":"","role":"assistant"},"index":0,"logprobs":null,"finish_reason":null}],"object":"chat.completion.chunk","usage":null,"created":1732000000,"system_fingerprint":null,"model":"qwen-plus","id":"chatcmpl-3f1c"}"#,
        #"{"choices":[{"finish_reason":null,"delta":{"content":"首重"},"index":0,"logprobs":null}],"object":"chat.completion.chunk","usage":null,"created":1732000000,"system_fingerprint":null,"model":"qwen-plus","id":"chatcmpl-3f1c"}"#,
        #"{"choices":[{"finish_reason":null,"delta":{"content":"12元 [1]"},"index":0,"logprobs":null}],"object":"chat.completion.chunk","usage":null,"created":1732000000,"system_fingerprint":null,"model":"qwen-plus","id":"chatcmpl-3f1c"}"#,
        #"{"choices":[{"finish_reason":"stop","delta":{"content":""},"index":0,"logprobs":null}],"object":"chat.completion.chunk","usage":null,"created":1732000000,"system_fingerprint":null,"model":"qwen-plus","id":"chatcmpl-3f1c"}"#,
        #"{"choices":[],"object":"chat.completion.chunk","usage":{"prompt_tokens":812,"completion_tokens":9,"total_tokens":821,"prompt_tokens_details":{"cached_tokens":512}},"created":1732000000,"system_fingerprint":null,"model":"qwen-plus","id":"chatcmpl-3f1c"}"#,
    ]

    /// DeepSeek-R1 (`deepseek-reasoner`): reasoning first, then the answer.
    public static let deepseekReasonerStream = [
        #"{"id":"8d2c","object":"chat.completion.chunk","created":1732000001,"model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}]}"#,
        #"{"id":"8d2c","object":"chat.completion.chunk","created":1732000001,"model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"用户问首重。"},"logprobs":null,"finish_reason":null}]}"#,
        #"{"id":"8d2c","object":"chat.completion.chunk","created":1732000001,"model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08","choices":[{"index":0,"delta":{"content":"12元。","reasoning_content":null},"logprobs":null,"finish_reason":null}]}"#,
        #"{"id":"8d2c","object":"chat.completion.chunk","created":1732000001,"model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08","choices":[{"index":0,"delta":{"content":"","reasoning_content":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":30,"total_tokens":50,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":25},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":20}}"#,
    ]

    /// DeepSeek, unstreamed.
    public static let deepseekChat = #"""
        {"id":"930c60df","object":"chat.completion","created":1732000002,"model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":9,"total_tokens":20,"prompt_tokens_details":{"cached_tokens":0},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":11},"system_fingerprint":"fp_3a5770e1b4"}
        """#

    public static func chunk(_ text: String, finish: String? = nil) -> String {
        let f = finish.map { "\"\($0)\"" } ?? "null"
        let escaped = text.replacingOccurrences(of: "\"", with: "\\\"")
        return #"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"\#(escaped)"},"finish_reason":\#(f)}]}"#
    }
}
