import Foundation
import Testing
import WendaoTestSupport
import WendaoCore
import WendaoModels

// Tests of the OpenAI wire format: the SSE parser, request encoding, tolerant response decoding
// against hand-written fixtures shaped like the providers' documented replies, and error payloads.

// MARK: - Fixtures

/// Stream fixtures: the `data:` payloads of real-looking provider streams, in order.
private enum StreamFixture {
    /// DashScope compatible mode (qwen-plus) with `stream_options.include_usage`: a final chunk with
    /// `"choices": []` and top-level usage; `null`s everywhere.
    static let dashScope = [
        wire(
            #"""
            {"id":"chatcmpl-e30f5ae7-3063-93c4-90fe-beb5f900bd57","choices":[{"delta":{"content":"",
            "function_call":null,"refusal":null,"role":"assistant","tool_calls":null},"finish_reason":null,
            "index":0,"logprobs":null}],"created":1735113344,"model":"qwen-plus","object":"chat.completion.chunk",
            "service_tier":null,"system_fingerprint":null,"usage":null}
            """#),
        wire(
            #"""
            {"id":"chatcmpl-e30f5ae7-3063-93c4-90fe-beb5f900bd57","choices":[{"delta":{"content":"首重",
            "function_call":null,"refusal":null,"role":null,"tool_calls":null},"finish_reason":null,
            "index":0,"logprobs":null}],"created":1735113344,"model":"qwen-plus","object":"chat.completion.chunk",
            "service_tier":null,"system_fingerprint":null,"usage":null}
            """#),
        wire(
            #"""
            {"id":"chatcmpl-e30f5ae7-3063-93c4-90fe-beb5f900bd57","choices":[{"delta":{"content":"1公斤12元，续重每公斤2元。",
            "function_call":null,"refusal":null,"role":null,"tool_calls":null},"finish_reason":null,
            "index":0,"logprobs":null}],"created":1735113344,"model":"qwen-plus","object":"chat.completion.chunk",
            "service_tier":null,"system_fingerprint":null,"usage":null}
            """#),
        wire(
            #"""
            {"id":"chatcmpl-e30f5ae7-3063-93c4-90fe-beb5f900bd57","choices":[{"delta":{"content":"",
            "function_call":null,"refusal":null,"role":null,"tool_calls":null},"finish_reason":"stop",
            "index":0,"logprobs":null}],"created":1735113344,"model":"qwen-plus","object":"chat.completion.chunk",
            "service_tier":null,"system_fingerprint":null,"usage":null}
            """#),
        wire(
            #"""
            {"id":"chatcmpl-e30f5ae7-3063-93c4-90fe-beb5f900bd57","choices":[],"created":1735113344,
            "model":"qwen-plus","object":"chat.completion.chunk","service_tier":null,"system_fingerprint":null,
            "usage":{"completion_tokens":17,"prompt_tokens":22,"total_tokens":39,"completion_tokens_details":null,
            "prompt_tokens_details":{"audio_tokens":null,"cached_tokens":0}}}
            """#),
        "[DONE]",
    ]

    /// deepseek-reasoner: `reasoning_content` deltas, then `content`, usage on the last chunk with
    /// DeepSeek's cache fields and `completion_tokens_details.reasoning_tokens`.
    static let deepSeekReasoner = [
        wire(
            #"""
            {"id":"1f633d8bfc032625086f14113c411638","object":"chat.completion.chunk","created":1738051246,
            "model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[
            {"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,
            "finish_reason":null}]}
            """#),
        wire(
            #"""
            {"id":"1f633d8bfc032625086f14113c411638","object":"chat.completion.chunk","created":1738051246,
            "model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[
            {"index":0,"delta":{"content":null,"reasoning_content":"嗯，用户问"},"logprobs":null,"finish_reason":null}]}
            """#),
        wire(
            #"""
            {"id":"1f633d8bfc032625086f14113c411638","object":"chat.completion.chunk","created":1738051246,
            "model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[
            {"index":0,"delta":{"content":null,"reasoning_content":"9.11和9.8哪个大。"},"logprobs":null,
            "finish_reason":null}]}
            """#),
        wire(
            #"""
            {"id":"1f633d8bfc032625086f14113c411638","object":"chat.completion.chunk","created":1738051246,
            "model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[
            {"index":0,"delta":{"content":"9.8 更大","reasoning_content":null},"logprobs":null,"finish_reason":null}]}
            """#),
        wire(
            #"""
            {"id":"1f633d8bfc032625086f14113c411638","object":"chat.completion.chunk","created":1738051246,
            "model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[
            {"index":0,"delta":{"content":"。","reasoning_content":null},"logprobs":null,"finish_reason":null}]}
            """#),
        wire(
            #"""
            {"id":"1f633d8bfc032625086f14113c411638","object":"chat.completion.chunk","created":1738051246,
            "model":"deepseek-reasoner","system_fingerprint":"fp_7e73fd9a08_prod0225","choices":[
            {"index":0,"delta":{"content":"","reasoning_content":null},"logprobs":null,"finish_reason":"stop"}],
            "usage":{"prompt_tokens":17,"completion_tokens":312,"total_tokens":329,"completion_tokens_details":{
            "reasoning_tokens":280},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":17}}
            """#),
        "[DONE]",
    ]

    /// Moonshot (Kimi): the last chunk carries `usage` inside the choice.
    static let moonshot = [
        wire(
            #"""
            {"id":"cmpl-1305b94c570f447fbde3180560736287","object":"chat.completion.chunk","created":1698999575,
            "model":"moonshot-v1-8k","choices":[{"index":0,"delta":{"role":"assistant","content":""},
            "finish_reason":null}]}
            """#),
        wire(
            #"""
            {"id":"cmpl-1305b94c570f447fbde3180560736287","object":"chat.completion.chunk","created":1698999575,
            "model":"moonshot-v1-8k","choices":[{"index":0,"delta":{"content":"你好"},"finish_reason":null}]}
            """#),
        wire(
            #"""
            {"id":"cmpl-1305b94c570f447fbde3180560736287","object":"chat.completion.chunk","created":1698999575,
            "model":"moonshot-v1-8k","choices":[{"index":0,"delta":{"content":"，我是 Kimi。"},"finish_reason":null}]}
            """#),
        wire(
            #"""
            {"id":"cmpl-1305b94c570f447fbde3180560736287","object":"chat.completion.chunk","created":1698999575,
            "model":"moonshot-v1-8k","choices":[{"index":0,"delta":{},"finish_reason":"stop","usage":{
            "prompt_tokens":19,"completion_tokens":13,"total_tokens":32}}]}
            """#),
        "[DONE]",
    ]

    /// Zhipu GLM: no `object`, usage on the last chunk, which also carries content.
    static let zhipu = [
        wire(
            #"""
            {"id":"8313807536837492492","created":1706092316,"model":"glm-4","choices":[{"index":0,
            "delta":{"role":"assistant","content":"快递"}}]}
            """#),
        wire(
            #"""
            {"id":"8313807536837492492","created":1706092316,"model":"glm-4","choices":[{"index":0,
            "delta":{"role":"assistant","content":"一般3天送达"}}]}
            """#),
        wire(
            #"""
            {"id":"8313807536837492492","created":1706092316,"model":"glm-4","choices":[{"index":0,
            "finish_reason":"stop","delta":{"role":"assistant","content":"。"}}],"usage":{"prompt_tokens":60,
            "completion_tokens":100,"total_tokens":160}}
            """#),
        "[DONE]",
    ]

    /// Qianfan v2 (ERNIE): `flag` on every choice, usage on the last chunk.
    static let qianfan = [
        wire(
            #"""
            {"id":"as-bcmt5ct4id","object":"chat.completion.chunk","created":1709716601,"model":"ernie-3.5-8k",
            "choices":[{"index":0,"delta":{"content":"您好，","role":"assistant"},"flag":0}]}
            """#),
        wire(
            #"""
            {"id":"as-bcmt5ct4id","object":"chat.completion.chunk","created":1709716601,"model":"ernie-3.5-8k",
            "choices":[{"index":0,"delta":{"content":"请问有什么可以帮您？"},"flag":0}]}
            """#),
        wire(
            #"""
            {"id":"as-bcmt5ct4id","object":"chat.completion.chunk","created":1709716602,"model":"ernie-3.5-8k",
            "choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop","flag":0}],"usage":{
            "prompt_tokens":2,"completion_tokens":15,"total_tokens":17}}
            """#),
        "[DONE]",
    ]

    /// Ollama's `/v1` endpoint: `fp_ollama`, a final usage chunk with `"choices": []`.
    static let ollama = [
        wire(
            #"""
            {"id":"chatcmpl-411","object":"chat.completion.chunk","created":1722277712,"model":"qwen2.5:7b",
            "system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant",
            "content":"运费"},"finish_reason":null}]}
            """#),
        wire(
            #"""
            {"id":"chatcmpl-411","object":"chat.completion.chunk","created":1722277712,"model":"qwen2.5:7b",
            "system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant",
            "content":"按重量计算。"},"finish_reason":null}]}
            """#),
        wire(
            #"""
            {"id":"chatcmpl-411","object":"chat.completion.chunk","created":1722277713,"model":"qwen2.5:7b",
            "system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant",
            "content":""},"finish_reason":"stop"}]}
            """#),
        wire(
            #"""
            {"id":"chatcmpl-411","object":"chat.completion.chunk","created":1722277713,"model":"qwen2.5:7b",
            "system_fingerprint":"fp_ollama","choices":[],"usage":{"prompt_tokens":26,"completion_tokens":9,
            "total_tokens":35}}
            """#),
        "[DONE]",
    ]

    /// The payloads as an event stream: `data: …` lines, events separated by a blank line, with
    /// `lineEnd` as the line terminator and keep-alive comments interleaved.
    static func stream(_ payloads: [String], lineEnd: String = "\n", keepAlives: Bool = true) -> String {
        var out = ""
        for (i, p) in payloads.enumerated() {
            if keepAlives && i % 2 == 1 { out += ": keep-alive" + lineEnd + lineEnd }
            out += "data: " + p + lineEnd + lineEnd
        }
        return out
    }
}

/// A JSON text written over several source lines, joined back into the one line it is on the wire.
private func wire(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).joined()
}

/// Feeds `chunks` to a fresh parser, then finishes it.
private func parseSSE(_ chunks: [[UInt8]], maxEventBytes: Int = 8 << 20) throws -> [SSEEvent] {
    var parser = SSEParser(maxEventBytes: maxEventBytes)
    var events: [SSEEvent] = []
    for chunk in chunks { events += try parser.feed(chunk) }
    events += try parser.finish()
    return events
}

private func parseSSE(_ text: String) throws -> [SSEEvent] { try parseSSE([Array(text.utf8)]) }

/// What a whole stream amounts to.
private struct StreamOutcome: Equatable {
    var text = ""
    var reasoning = ""
    var finish: [String] = []
    var usage: [TokenUsage] = []
    var events: [ChatEvent] = []
}

/// Runs an event stream through the SSE parser and the chunk decoder, the way the client does.
private func runStream(_ stream: String) throws -> StreamOutcome {
    var out = StreamOutcome()
    for event in try parseSSE(stream) {
        if event.data == "[DONE]" { break }
        #expect(ProviderErrorPayload.parseStreamError(event.data) == nil, "chunk taken for an error: \(event.data)")
        let chunk = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(event.data.utf8))
        for e in chunk.events {
            out.events.append(e)
            switch e {
            case .text(let t): out.text += t
            case .reasoning(let r): out.reasoning += r
            case .finish(let f): out.finish.append(f)
            case .usage(let u): out.usage.append(u)
            }
        }
    }
    return out
}

private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(json.utf8))
}

/// The request encoded and parsed back as a JSON object.
private func encodedObject(_ value: some Encodable) throws -> [String: JSONValue] {
    let data = try JSONEncoder().encode(value)
    return try #require(JSONValue.parse(data)?.objectValue)
}

// MARK: - SSE parser

@Suite("Wire: SSE parser")
struct WireSSEParserTests {
    static let streams: [String] = [
        StreamFixture.stream(StreamFixture.deepSeekReasoner),
        StreamFixture.stream(StreamFixture.dashScope, lineEnd: "\r\n"),
        StreamFixture.stream(StreamFixture.moonshot, lineEnd: "\r"),
        "\u{FEFF}event: message\r\nid: 7\ndata: 第一行\rdata: 第二行\r\n\r\n: 注释\ndata:无空格\n\nretry: 1000\ndata: 末尾",
    ]

    @Test("split at every byte boundary gives the same events", arguments: streams.indices)
    func everyBoundary(_ which: Int) throws {
        let bytes = Array(Self.streams[which].utf8)
        let whole = try parseSSE([bytes])
        #expect(whole.count >= 3)
        for i in 0...bytes.count {
            let split = try parseSSE([Array(bytes[..<i]), Array(bytes[i...])])
            #expect(split == whole, "split at byte \(i)")
            if split != whole { break }
        }
    }

    @Test("one byte at a time gives the same events", arguments: streams.indices)
    func oneByteAtATime(_ which: Int) throws {
        let bytes = Array(Self.streams[which].utf8)
        #expect(try parseSSE(bytes.map { [$0] }) == parseSSE([bytes]))
    }

    @Test("random splits into many pieces give the same events")
    func randomSplits() throws {
        var rng = SeededGenerator(seed: 0x5EED)
        for stream in Self.streams {
            let bytes = Array(stream.utf8)
            let whole = try parseSSE([bytes])
            for _ in 0..<50 {
                var chunks: [[UInt8]] = []
                var i = 0
                while i < bytes.count {
                    let n = Int.random(in: 0...7, using: &rng)
                    chunks.append(Array(bytes[i..<min(bytes.count, i + n)]))
                    i += n
                }
                #expect(try parseSSE(chunks) == whole)
            }
        }
    }

    @Test("the mixed fixture parses to the expected events")
    func mixedFixture() throws {
        let events = try parseSSE(Self.streams[3])
        #expect(
            events == [
                SSEEvent(event: "message", data: "第一行\n第二行", id: "7"),
                SSEEvent(data: "无空格", id: "7"),
                SSEEvent(data: "末尾", id: "7"),
            ])
    }

    @Test("LF, CRLF and CR line ends, mixed in one event")
    func lineEnds() throws {
        #expect(try parseSSE("data: a\r\ndata: b\rdata: c\n\r\n") == [SSEEvent(data: "a\nb\nc")])
        #expect(try parseSSE("data: a\n\ndata: b\r\rdata: c\r\n\r\n").map(\.data) == ["a", "b", "c"])
    }

    @Test("a CR ending one chunk and an LF starting the next are one line end")
    func crlfAcrossChunks() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: a\r".utf8)).isEmpty)
        #expect(try parser.feed(Array("\ndata: b\r".utf8)).isEmpty)
        #expect(try parser.feed(Array("\n\r".utf8)) == [SSEEvent(data: "a\nb")])
        #expect(try parser.feed(Array("\ndata: c\r".utf8)).isEmpty)
        #expect(try parser.feed(Array("\r".utf8)) == [SSEEvent(data: "c")])
        #expect(try parser.finish().isEmpty)
    }

    @Test("comments and keep-alives are ignored")
    func comments() throws {
        #expect(try parseSSE(": keep-alive\n\n:\n\n: ping\r\n\r\n").isEmpty)
        #expect(try parseSSE(": keep-alive\ndata: x\n: another\ndata: y\n\n") == [SSEEvent(data: "x\ny")])
    }

    @Test("one optional space after the colon is removed")
    func valueSpace() throws {
        #expect(try parseSSE("data:x\n\ndata: x\n\ndata:  x\n\ndata: \n\n").map(\.data) == ["x", "x", " x", ""])
    }

    @Test("multi-line data joins with newlines, including empty lines")
    func multiLineData() throws {
        let text = "data: {\ndata:   \"a\": 1\ndata\ndata: }\n\n"
        #expect(try parseSSE(text) == [SSEEvent(data: "{\n  \"a\": 1\n\n}")])
    }

    @Test("a byte-order mark at the start is skipped, also when split")
    func byteOrderMark() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("data: x\n\n".utf8)
        #expect(try parseSSE([bytes]) == [SSEEvent(data: "x")])
        #expect(try parseSSE([[0xEF], [0xBB], [0xBF, 0x64], Array("ata: x\n\n".utf8)]) == [SSEEvent(data: "x")])
        // Only at the very start: a second one makes the field name unknown.
        #expect(try parseSSE([bytes + [0xEF, 0xBB, 0xBF] + Array("data: y\n\n".utf8)]) == [SSEEvent(data: "x")])
    }

    @Test("event type and id; the id persists until reset")
    func eventAndID() throws {
        let events = try parseSSE(
            "event: delta\nid: 42\ndata: {}\n\ndata: next\n\nid\nevent:\ndata: none\n\nid: a\u{0}b\ndata: nul\n\n")
        #expect(
            events == [
                SSEEvent(event: "delta", data: "{}", id: "42"),
                SSEEvent(event: nil, data: "next", id: "42"),
                SSEEvent(event: nil, data: "none", id: nil),
                SSEEvent(event: nil, data: "nul", id: nil),
            ])
    }

    @Test("an event without data lines is not dispatched; unknown fields and retry are ignored")
    func noData() throws {
        #expect(try parseSSE("event: ping\n\nid: 1\n\nretry: 3000\n\nfoo: bar\n\n").isEmpty)
        #expect(try parseSSE("event: ping\nfoo: bar\ndata: x\n\n") == [SSEEvent(event: "ping", data: "x")])
    }

    @Test("finish flushes a last event without a blank line")
    func finishFlushes() throws {
        #expect(try parseSSE("data: tail") == [SSEEvent(data: "tail")])
        #expect(try parseSSE("data: a\n") == [SSEEvent(data: "a")])
        #expect(try parseSSE("data: a\r") == [SSEEvent(data: "a")])
        #expect(try parseSSE("").isEmpty)
        #expect(try parseSSE(": only a comment").isEmpty)
        var parser = SSEParser()
        _ = try parser.feed(Array("data: one".utf8))
        #expect(try parser.finish() == [SSEEvent(data: "one")])
        #expect(try parser.feed(Array("data: two\n\n".utf8)) == [SSEEvent(data: "two")])
    }

    @Test("an oversized event throws bad_response, and so does every later call")
    func oversized() throws {
        var parser = SSEParser(maxEventBytes: 64)
        #expect(try parser.feed(Array("data: small\n\n".utf8)) == [SSEEvent(data: "small")])
        let long = Array(("data: " + String(repeating: "x", count: 100)).utf8)
        #expect(throws: WendaoError.self) { try parser.feed(long) }
        do {
            _ = try parser.feed(Array("data: y\n\n".utf8))
            Issue.record("a failed parser accepted more input")
        } catch {
            #expect(error.code == .badResponse)
        }
        // Many small lines add up too.
        var lines = SSEParser(maxEventBytes: 64)
        let many = Array(String(repeating: "data: 0123456789\n", count: 10).utf8)
        do {
            _ = try lines.feed(many)
            Issue.record("an event of 170 bytes passed a 64-byte limit")
        } catch {
            #expect(error.code == .badResponse)
        }
        // A line without a line end cannot grow without bound either.
        var endless = SSEParser(maxEventBytes: 1024)
        #expect(throws: WendaoError.self) {
            for _ in 0..<100 { _ = try endless.feed(Array(repeating: UInt8(ascii: "a"), count: 100)) }
        }
        // Events under the limit, however many, are fine.
        var ok = SSEParser(maxEventBytes: 64)
        #expect(try ok.feed(many.flatMap { $0 == 0x0A ? [0x0A, 0x0A] : [$0] }).count == 10)
    }

    @Test("Chinese text split in the middle of a character decodes intact")
    func splitCharacters() throws {
        let text = "data: 你好，世界！运费怎么算？🚚\n\n"
        let bytes = Array(text.utf8)
        for i in 0...bytes.count {
            for j in i...bytes.count {
                let events = try parseSSE([Array(bytes[..<i]), Array(bytes[i..<j]), Array(bytes[j...])])
                #expect(events == [SSEEvent(data: "你好，世界！运费怎么算？🚚")], "split at \(i), \(j)")
            }
        }
    }

    @Test("invalid UTF-8 becomes replacement characters, not a crash")
    func invalidUTF8() throws {
        let bytes: [UInt8] = Array("data: a".utf8) + [0xFF, 0xE4, 0xBD] + Array("b\n\n".utf8)
        let events = try parseSSE([bytes])
        #expect(events.count == 1)
        #expect(events.first?.data.hasPrefix("a") == true)
        #expect(events.first?.data.hasSuffix("b") == true)
        #expect(events.first?.data.contains("\u{FFFD}") == true)
    }

    @Test("Data and non-contiguous sequences are accepted")
    func sequenceKinds() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Data("data: a\n".utf8)).isEmpty)
        #expect(try parser.feed("\ndata: b\n\n".utf8.lazy.map { $0 }) == [SSEEvent(data: "a"), SSEEvent(data: "b")])
    }
}

// MARK: - Requests

@Suite("Wire: request encoding")
struct WireRequestTests {
    @Test("chat request: snake_case, nil omitted, stream_options when asked, extra merged")
    func chatStreaming() throws {
        let request = ChatCompletionRequest(
            model: "qwen-plus",
            messages: [ChatMessage(.system, "你是物流客服。"), ChatMessage(.user, "首重多少钱？")],
            options: ChatOptions(temperature: 0.2, topP: 0.8, maxTokens: 512, stop: ["\n\n"]),
            stream: true, includeUsage: true, extra: ["enable_thinking": false, "top_k": 20])
        let o = try encodedObject(request)
        #expect(
            o == [
                "model": "qwen-plus",
                "messages": [
                    ["role": "system", "content": "你是物流客服。"], ["role": "user", "content": "首重多少钱？"],
                ],
                "stream": true,
                "stream_options": ["include_usage": true],
                "temperature": 0.2,
                "top_p": 0.8,
                "max_tokens": 512,
                "stop": ["\n\n"],
                "enable_thinking": false,
                "top_k": 20,
            ])
        let text = try #require(String(data: JSONEncoder().encode(request), encoding: .utf8))
        #expect(text.contains(#""top_k":20"#), "integers are written without a fraction: \(text)")
    }

    @Test("chat request without options or stream has only model and messages")
    func chatMinimal() throws {
        let request = ChatCompletionRequest(
            model: "deepseek-chat", messages: [ChatMessage(.user, "hi")], options: ChatOptions(), stream: false,
            includeUsage: true)
        #expect(request.stream == nil && request.streamOptions == nil)
        #expect(
            try encodedObject(request) == ["model": "deepseek-chat", "messages": [["role": "user", "content": "hi"]]])
        let noUsage = ChatCompletionRequest(
            model: "m", messages: [], options: ChatOptions(), stream: true, includeUsage: false)
        #expect(try encodedObject(noUsage) == ["model": "m", "messages": [], "stream": true])
    }

    @Test("extra wins over a standard field of the same name")
    func extraOverrides() throws {
        let request = ChatCompletionRequest(
            model: "m", messages: [], options: ChatOptions(maxTokens: 10), stream: false, includeUsage: false,
            extra: ["max_tokens": 20, "response_format": ["type": "json_object"]])
        let o = try encodedObject(request)
        #expect(o["max_tokens"] == 20)
        #expect(o["response_format"] == ["type": "json_object"])
    }

    @Test("embeddings and image generation requests")
    func otherRequests() throws {
        #expect(
            try encodedObject(EmbeddingsRequest(model: "text-embedding-v3", input: ["运费", "时效"])) == [
                "model": "text-embedding-v3", "input": ["运费", "时效"],
            ])
        #expect(
            try encodedObject(
                EmbeddingsRequest(
                    model: "text-embedding-3-small", input: ["a"], dimensions: 256, encodingFormat: "base64",
                    extra: ["user": "u1"]))
                == [
                    "model": "text-embedding-3-small", "input": ["a"], "dimensions": 256, "encoding_format": "base64",
                    "user": "u1",
                ])
        #expect(
            try encodedObject(
                ImageGenerationRequest(
                    model: "dall-e-3", prompt: "一只橘猫", n: 1, size: "1024x1024", quality: "hd",
                    responseFormat: "b64_json", extra: ["style": "natural"]))
                == [
                    "model": "dall-e-3", "prompt": "一只橘猫", "n": 1, "size": "1024x1024", "quality": "hd",
                    "response_format": "b64_json", "style": "natural",
                ])
        #expect(
            try encodedObject(ImageGenerationRequest(model: "cogview-4", prompt: "p")) == [
                "model": "cogview-4", "prompt": "p",
            ])
    }

    @Test("JSONValue round-trips and reads")
    func jsonValue() throws {
        let value: JSONValue = ["a": [1, 2.5, "x", true, nil], "b": ["c": "d"], "e": -3]
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
        #expect(value["b"]?["c"]?.stringValue == "d")
        #expect(value["e"]?.intValue == -3)
        #expect(value["a"]?.arrayValue?.count == 5)
        #expect(value["missing"] == nil)
        #expect(JSONValue.parse(Data("<html>".utf8)) == nil)
    }

    @Test("multipart body for an image edit is well-formed")
    func multipart() throws {
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0xFF])
        let request = ImageEditRequest(
            model: "gpt-image-1", prompt: "把背景换成仓库",
            image: .init(data: png, filename: "包裹 \"1\"\r\n.png", mimeType: "image/png"),
            mask: .init(data: Data([1, 2, 3]), filename: "mask.png", mimeType: "image/png"), n: 2, size: "1024x1024",
            responseFormat: "b64_json")
        let boundary = "XyZ-boundary"
        let body = request.multipartBody(boundary: boundary)
        #expect(ImageEditRequest.contentType(boundary: boundary) == "multipart/form-data; boundary=XyZ-boundary")

        func part(_ headers: String, _ content: Data) -> Data {
            Data("--\(boundary)\r\n\(headers)\r\n\r\n".utf8) + content + Data("\r\n".utf8)
        }
        var expected = Data()
        for (name, value) in [
            ("model", "gpt-image-1"), ("prompt", "把背景换成仓库"), ("n", "2"), ("size", "1024x1024"),
            ("response_format", "b64_json"),
        ] {
            expected += part("Content-Disposition: form-data; name=\"\(name)\"", Data(value.utf8))
        }
        expected += part(
            "Content-Disposition: form-data; name=\"image\"; filename=\"包裹 %221%22%0D%0A.png\"\r\n"
                + "Content-Type: image/png",
            png)
        expected += part(
            "Content-Disposition: form-data; name=\"mask\"; filename=\"mask.png\"\r\nContent-Type: image/png",
            Data([1, 2, 3]))
        expected += Data("--\(boundary)--\r\n".utf8)
        #expect(body == expected)

        let minimal = ImageEditRequest(
            model: "m", prompt: "p", image: .init(data: Data(), filename: "a.png", mimeType: "image/png"))
        let text = String(decoding: minimal.multipartBody(boundary: "b"), as: UTF8.self)
        #expect(!text.contains("mask") && !text.contains("name=\"n\""))
        #expect(text.hasSuffix("\r\n--b--\r\n"))
        let random = ImageEditRequest.makeBoundary()
        #expect(random.count >= 20 && random != ImageEditRequest.makeBoundary())
    }
}

// MARK: - Responses

@Suite("Wire: response decoding")
struct WireResponseTests {
    @Test("DashScope compatible mode, non-stream")
    func dashScopeResponse() throws {
        let json = wire(
            #"""
            {"choices":[{"message":{"role":"assistant","content":"首重1公斤12元，续重每公斤2元。"},"finish_reason":"stop",
            "index":0,"logprobs":null}],"object":"chat.completion","usage":{"prompt_tokens":22,
            "completion_tokens":17,"total_tokens":39,"prompt_tokens_details":{"cached_tokens":0}},
            "created":1735120033,"system_fingerprint":null,"model":"qwen-plus","id":"chatcmpl-6ada9ed2-7f33-9de2-8bb0-78
            bd4035025a"}
            """#)
        let r = try decode(ChatCompletionResponse.self, json)
        #expect(r.id == "chatcmpl-6ada9ed2-7f33-9de2-8bb0-78bd4035025a")
        #expect(r.model == "qwen-plus")
        #expect(r.text == "首重1公斤12元，续重每公斤2元。")
        #expect(r.reasoning == nil)
        #expect(r.choices.first?.finishReason == "stop")
        #expect(r.choices.first?.message.role == "assistant")
        #expect(r.usage == TokenUsage(promptTokens: 22, completionTokens: 17, cachedPromptTokens: 0))
        #expect(r.extra["created"] == 1_735_120_033)
        #expect(r.extra["object"] == "chat.completion")
        #expect(r.extra["system_fingerprint"] == nil, "nulls are not kept")
    }

    @Test("DashScope compatible mode, stream with a final usage chunk")
    func dashScopeStream() throws {
        let out = try runStream(StreamFixture.stream(StreamFixture.dashScope))
        #expect(out.text == "首重1公斤12元，续重每公斤2元。")
        #expect(out.reasoning.isEmpty)
        #expect(out.finish == ["stop"])
        #expect(out.usage == [TokenUsage(promptTokens: 22, completionTokens: 17, cachedPromptTokens: 0)])
        #expect(out.events.last == .usage(TokenUsage(promptTokens: 22, completionTokens: 17, cachedPromptTokens: 0)))
        let last = try decode(ChatCompletionChunk.self, StreamFixture.dashScope[4])
        #expect(last.choices.isEmpty)
        #expect(last.id == "chatcmpl-e30f5ae7-3063-93c4-90fe-beb5f900bd57")
    }

    @Test("DeepSeek, non-stream, with cache hits")
    func deepSeekResponse() throws {
        let json = wire(
            #"""
            {"id":"930c60df-bf64-41c9-a88e-3ec75f81e00e","object":"chat.completion","created":1705651092,
            "model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"您好！请问需要查询哪个快递单号？"},
            "logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":80,"completion_tokens":12,
            "total_tokens":92,"prompt_tokens_details":{"cached_tokens":64},"prompt_cache_hit_tokens":64,
            "prompt_cache_miss_tokens":16},"system_fingerprint":"fp_8802369eaa_prod0425fp8"}
            """#)
        let r = try decode(ChatCompletionResponse.self, json)
        #expect(r.text == "您好！请问需要查询哪个快递单号？")
        #expect(r.usage == TokenUsage(promptTokens: 80, completionTokens: 12, cachedPromptTokens: 64))
        #expect(r.usage?.totalTokens == 92)
    }

    @Test("deepseek-reasoner non-stream keeps reasoning apart")
    func deepSeekReasonerResponse() throws {
        let json = wire(
            #"""
            {"id":"a4d5e1b2","object":"chat.completion","created":1738051246,"model":"deepseek-reasoner",
            "choices":[{"index":0,"message":{"role":"assistant","content":"9.8 更大。","reasoning_content":"比较小数部分：0.8 > 0.
            11。"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":17,"completion_tokens":40,
            "total_tokens":57,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{
            "reasoning_tokens":30},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":17}}
            """#)
        let r = try decode(ChatCompletionResponse.self, json)
        #expect(r.text == "9.8 更大。")
        #expect(r.reasoning == "比较小数部分：0.8 > 0.11。")
        #expect(r.usage?.reasoningTokens == 30)
    }

    @Test("deepseek-reasoner stream: reasoning deltas, then content, then usage")
    func deepSeekReasonerStream() throws {
        let usage = TokenUsage(promptTokens: 17, completionTokens: 312, cachedPromptTokens: 0, reasoningTokens: 280)
        let out = try runStream(StreamFixture.stream(StreamFixture.deepSeekReasoner))
        #expect(out.reasoning == "嗯，用户问9.11和9.8哪个大。")
        #expect(out.text == "9.8 更大。")
        #expect(
            out.events == [
                .reasoning("嗯，用户问"), .reasoning("9.11和9.8哪个大。"), .text("9.8 更大"), .text("。"), .finish("stop"),
                .usage(usage),
            ])
    }

    @Test("Moonshot stream: usage inside the final choice")
    func moonshotStream() throws {
        let out = try runStream(StreamFixture.stream(StreamFixture.moonshot))
        #expect(out.text == "你好，我是 Kimi。")
        #expect(out.finish == ["stop"])
        #expect(out.usage == [TokenUsage(promptTokens: 19, completionTokens: 13)])
        let last = try decode(ChatCompletionChunk.self, StreamFixture.moonshot[3])
        #expect(last.usage == nil)
        #expect(last.choices.first?.usage == TokenUsage(promptTokens: 19, completionTokens: 13))
        #expect(last.choices.first?.delta == ChatCompletionChunk.Delta())
    }

    @Test("Zhipu GLM stream: usage on the last chunk with content")
    func zhipuStream() throws {
        let out = try runStream(StreamFixture.stream(StreamFixture.zhipu))
        #expect(out.text == "快递一般3天送达。")
        let last = try decode(ChatCompletionChunk.self, StreamFixture.zhipu[2])
        #expect(
            last.events == [.text("。"), .finish("stop"), .usage(TokenUsage(promptTokens: 60, completionTokens: 100))])
    }

    @Test("Qianfan v2, non-stream and stream")
    func qianfan() throws {
        let json = wire(
            #"""
            {"id":"as-bcmt5ct4id","object":"chat.completion","created":1709716601,"model":"ernie-3.5-8k",
            "choices":[{"index":0,"message":{"role":"assistant","content":"您好，请问有什么可以帮您？"},"finish_reason":"stop",
            "flag":0}],"usage":{"prompt_tokens":2,"completion_tokens":15,"total_tokens":17}}
            """#)
        let r = try decode(ChatCompletionResponse.self, json)
        #expect(r.text == "您好，请问有什么可以帮您？")
        #expect(r.usage == TokenUsage(promptTokens: 2, completionTokens: 15))
        let out = try runStream(StreamFixture.stream(StreamFixture.qianfan))
        #expect(out.text == r.text)
        #expect(out.usage == [TokenUsage(promptTokens: 2, completionTokens: 15)])
        #expect(out.finish == ["stop"])
    }

    @Test("Ollama /v1 stream")
    func ollamaStream() throws {
        let out = try runStream(StreamFixture.stream(StreamFixture.ollama, lineEnd: "\r\n", keepAlives: false))
        #expect(out.text == "运费按重量计算。")
        #expect(out.finish == ["stop"])
        #expect(out.usage == [TokenUsage(promptTokens: 26, completionTokens: 9)])
        // Thinking models on recent Ollama send `reasoning`.
        let thinking = try decode(
            ChatCompletionChunk.self,
            wire(
                #"""
                {"id":"chatcmpl-7","object":"chat.completion.chunk","created":1754000000,"model":"qwen3:8b",
                "system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant",
                "content":"","reasoning":"先想一想"},"finish_reason":null}]}
                """#)
        )
        #expect(thinking.events == [.reasoning("先想一想")])
    }

    @Test("content as an array of parts is joined")
    func contentParts() throws {
        let json = wire(
            #"""
            {"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":[
            {"type":"text","text":"第一段，"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}},
            {"type":"text","text":"第二段。"}]},"finish_reason":"stop"}]}
            """#)
        #expect(try decode(ChatCompletionResponse.self, json).text == "第一段，第二段。")
        let chunk = try decode(
            ChatCompletionChunk.self, #"{"choices":[{"index":0,"delta":{"content":[{"type":"text","text":"片段"}]}}]}"#)
        #expect(chunk.events == [.text("片段")])
    }

    @Test("null content with finish_reason length")
    func nullContent() throws {
        let json = wire(
            #"""
            {"id":"chatcmpl-9","object":"chat.completion","created":1735000000,"model":"deepseek-reasoner",
            "choices":[{"index":0,"message":{"role":"assistant","content":null,"reasoning_content":"推理太长被截断"},
            "logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":10,"completion_tokens":4096,
            "total_tokens":4106}}
            """#)
        let r = try decode(ChatCompletionResponse.self, json)
        #expect(r.text == "")
        #expect(r.choices.first?.message.content == nil)
        #expect(r.choices.first?.finishReason == "length")
        #expect(r.reasoning == "推理太长被截断")
    }

    @Test("odd and missing members never fail the decode")
    func tolerance() throws {
        let empty = try decode(ChatCompletionResponse.self, "{}")
        #expect(empty.choices.isEmpty && empty.text == "" && empty.usage == nil && empty.id == nil)
        let odd = try decode(
            ChatCompletionResponse.self,
            wire(
                #"""
                {"id":12345,"model":null,"choices":[null,"x",{"index":"1","message":null,"finish_reason":7},
                {"message":{"content":"ok"}}],"usage":"n/a"}
                """#)
        )
        #expect(odd.id == "12345")
        let bigID = try decode(ChatCompletionChunk.self, #"{"id":8313807536837492492,"choices":[]}"#)
        #expect(bigID.id == "8313807536837492492")
        #expect(odd.choices.count == 2)
        #expect(odd.choices[0].index == 1 && odd.choices[0].message == .init() && odd.choices[0].finishReason == nil)
        #expect(odd.choices[1].message.content == "ok")
        #expect(odd.usage == nil)
        let chunk = try decode(ChatCompletionChunk.self, #"{"choices":null,"usage":null}"#)
        #expect(chunk.choices.isEmpty && chunk.events.isEmpty)
        #expect(throws: (any Error).self) { try decode(ChatCompletionChunk.self, "[1,2]") }
    }

    @Test("a chunk maps to events in order: reasoning, text, finish, usage")
    func chunkEventOrder() throws {
        let chunk = try decode(
            ChatCompletionChunk.self,
            wire(
                #"""
                {"choices":[{"index":0,"delta":{"content":"答","reasoning_content":"想"},"finish_reason":"stop"}],
                "usage":{"prompt_tokens":1,"completion_tokens":2}}
                """#)
        )
        #expect(
            chunk.events == [
                .reasoning("想"), .text("答"), .finish("stop"), .usage(TokenUsage(promptTokens: 1, completionTokens: 2)),
            ])
        let empty = try decode(
            ChatCompletionChunk.self,
            wire(
                #"""
                {"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning_content":""},
                "finish_reason":""}]}
                """#)
        )
        #expect(empty.events.isEmpty)
    }

    struct UsageCase: Sendable, CustomTestStringConvertible {
        var json: String
        var expected: TokenUsage?
        var testDescription: String { json }
    }

    static let usageCases: [UsageCase] = [
        UsageCase(
            json: wire(
                #"""
                {"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}
                """#), expected: .init(promptTokens: 5, completionTokens: 7)),
        UsageCase(
            json: wire(
                #"""
                {"prompt_tokens":"5","completion_tokens":"7","total_tokens":"12"}
                """#), expected: .init(promptTokens: 5, completionTokens: 7)),
        UsageCase(
            json: wire(
                #"""
                {"prompt_tokens":5.0,"completion_tokens":7}
                """#), expected: .init(promptTokens: 5, completionTokens: 7)),
        UsageCase(
            json: wire(
                #"""
                {"input_tokens":50,"output_tokens":70,"total_tokens":120,"input_tokens_details":{
                "cached_tokens":10,"text_tokens":40},"output_tokens_details":{"reasoning_tokens":30}}
                """#),
            expected: .init(promptTokens: 50, completionTokens: 70, cachedPromptTokens: 10, reasoningTokens: 30)),
        UsageCase(
            json: #"{"prompt_tokens":9,"total_tokens":9}"#, expected: .init(promptTokens: 9, completionTokens: 0)),
        UsageCase(
            json: #"{"prompt_tokens":9,"total_tokens":20}"#, expected: .init(promptTokens: 9, completionTokens: 11)),
        UsageCase(json: #"{"total_tokens":20}"#, expected: .init(promptTokens: 20, completionTokens: 0)),
        UsageCase(
            json: wire(
                #"""
                {"prompt_tokens":100,"completion_tokens":null,"total_tokens":130,"prompt_tokens_details":null,
                "completion_tokens_details":{"reasoning_tokens":null}}
                """#),
            expected: .init(promptTokens: 100, completionTokens: 30)),
        UsageCase(
            json: wire(
                #"""
                {"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"prompt_cache_hit_tokens":96,
                "prompt_cache_miss_tokens":4}
                """#),
            expected: .init(promptTokens: 100, completionTokens: 5, cachedPromptTokens: 96)),
        UsageCase(
            json: #"{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"cached_tokens":80}"#,
            expected: .init(promptTokens: 100, completionTokens: 5, cachedPromptTokens: 80)),
        UsageCase(json: "{}", expected: nil),
        UsageCase(json: "null", expected: nil),
        UsageCase(json: #"{"prompt_tokens":null,"completion_tokens":"abc"}"#, expected: nil),
    ]

    @Test("usage in every shape the providers send", arguments: usageCases)
    func usage(_ c: UsageCase) throws {
        let r = try decode(ChatCompletionResponse.self, #"{"choices":[],"usage":\#(c.json)}"#)
        #expect(r.usage == c.expected)
    }

    @Test("embeddings: floats sorted by index, base64 float32, Ollama and DashScope native shapes")
    func embeddings() throws {
        let floats = try decode(
            EmbeddingsResponse.self,
            wire(
                #"""
                {"object":"list","data":[{"object":"embedding","index":1,"embedding":[0.5,-1.25]},
                {"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292]}],"model":"text-embedding-v3",
                "usage":{"prompt_tokens":8,"total_tokens":8},"id":"f2b8e2f1-3f5c-9c1e-a1f3-0a9e0c1d3b52"}
                """#)
        )
        #expect(floats.data.map(\.index) == [0, 1])
        #expect(floats.data[0].embedding == [0.0023064255, -0.009327292])
        #expect(floats.data[1].embedding == [0.5, -1.25])
        #expect(floats.model == "text-embedding-v3")
        #expect(floats.usage == TokenUsage(promptTokens: 8, completionTokens: 0))

        let values: [Float] = [1.0, -2.5, 0.125, .pi]
        var bytes = Data()
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        let b64 = try decode(
            EmbeddingsResponse.self,
            wire(
                #"""
                {"object":"list","data":[{"object":"embedding","index":0,"embedding":"\#(bytes.base64EncodedString())"}]
                ,"model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}}
                """#)
        )
        #expect(b64.data.first?.embedding == values)

        let ollama = try decode(
            EmbeddingsResponse.self,
            #"{"model":"bge-m3","embeddings":[[0.1,0.2],[0.3,0.4]],"total_duration":14143917,"prompt_eval_count":8}"#)
        #expect(ollama.data.map(\.index) == [0, 1] && ollama.data[1].embedding == [0.3, 0.4])

        let dashScope = try decode(
            EmbeddingsResponse.self,
            wire(
                #"""
                {"output":{"embeddings":[{"text_index":1,"embedding":[2.0]},{"text_index":0,"embedding":[
                1.0]}]},"usage":{"total_tokens":6},"request_id":"b6c5f1e6-0d3a-9b5e-8a1c-2e3f4a5b6c7d"}
                """#)
        )
        #expect(dashScope.data.map(\.embedding) == [[1.0], [2.0]])
        #expect(dashScope.usage == TokenUsage(promptTokens: 6, completionTokens: 0))

        #expect(throws: (any Error).self) {
            try decode(EmbeddingsResponse.self, #"{"data":[{"index":0,"embedding":"not base64!"}]}"#)
        }
        #expect(throws: (any Error).self) {
            try decode(EmbeddingsResponse.self, #"{"data":[{"index":0,"embedding":"AAAA"}]}"#)
        }
    }

    @Test("model lists: OpenAI and Ollama tags")
    func models() throws {
        let openAI = try decode(
            ModelsListResponse.self,
            wire(
                #"""
                {"object":"list","data":[{"id":"deepseek-chat","object":"model","owned_by":"deepseek"},
                {"id":"deepseek-reasoner","object":"model","owned_by":"deepseek"}]}
                """#)
        )
        #expect(
            openAI.data == [
                .init(id: "deepseek-chat", ownedBy: "deepseek"), .init(id: "deepseek-reasoner", ownedBy: "deepseek"),
            ])
        let tags = try decode(
            ModelsListResponse.self,
            wire(
                #"""
                {"models":[{"name":"qwen2.5:7b","model":"qwen2.5:7b","modified_at":"2024-10-01T10:00:00.000+08:00",
                "size":4683087332,"digest":"845dbda0ea48","details":{"format":"gguf","family":"qwen2",
                "parameter_size":"7.6B","quantization_level":"Q4_K_M"}},{"name":"bge-m3:latest",
                "size":1157672605}]}
                """#)
        )
        #expect(tags.data.map(\.id) == ["qwen2.5:7b", "bge-m3:latest"])
        #expect(
            try decode(
                ModelsListResponse.self,
                wire(
                    #"""
                    {"data":[{"object":"model"},{"id":"ok"}]}
                    """#)
            ).data.map(\.id) == ["ok"])
    }

    @Test("images: URLs, base64 and revised prompts")
    func images() throws {
        let r = try decode(
            ImagesResponse.self,
            wire(
                #"""
                {"created":1713833628,"data":[{"revised_prompt":"一只橘猫在快递站的纸箱上打盹，暖色灯光","url":"https://dalleprodsec.blob.c
                ore.windows.net/private/images/abc.png"},{"b64_json":"iVBORw0KGgo="}]}
                """#)
        )
        #expect(r.created == 1_713_833_628)
        #expect(r.data.count == 2)
        #expect(r.data[0].url == "https://dalleprodsec.blob.core.windows.net/private/images/abc.png")
        #expect(r.data[0].revisedPrompt == "一只橘猫在快递站的纸箱上打盹，暖色灯光")
        #expect(r.data[1].b64JSON == "iVBORw0KGgo=" && r.data[1].url == nil)
        #expect(r.usage == nil)
    }
}

// MARK: - Errors

@Suite("Wire: provider error payloads")
struct WireErrorPayloadTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var body: String
        var expected: ProviderErrorPayload
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "OpenAI",
            body: wire(
                #"""
                {"error":{"message":"Incorrect API key provided: sk-abc***xyz. You can find your API key at https://plat
                form.openai.com/account/api-keys.","type":"invalid_request_error","param":null,
                "code":"invalid_api_key"}}
                """#),
            expected: .init(
                message: "Incorrect API key provided: sk-abc***xyz. You can find your API key at "
                    + "https://platform.openai.com/account/api-keys.",
                type: "invalid_request_error", code: "invalid_api_key")),
        Case(
            name: "DeepSeek",
            body: wire(
                #"""
                {"error":{"message":"Authentication Fails, Your api key: ****abcd is invalid","type":"authentication_err
                or","param":null,"code":"invalid_request_error"}}
                """#),
            expected: .init(
                message: "Authentication Fails, Your api key: ****abcd is invalid", type: "authentication_error",
                code: "invalid_request_error")),
        Case(
            name: "Moonshot",
            body: wire(
                #"""
                {"error":{"message":"Invalid request: Your request exceeded model token limit: 8192",
                "type":"invalid_request_error"}}
                """#),
            expected: .init(
                message: "Invalid request: Your request exceeded model token limit: 8192", type: "invalid_request_error"
            )),
        Case(
            name: "OpenAI with param and numeric code",
            body: wire(
                #"""
                {"error":{"message":"max_tokens is too large","type":"invalid_request_error","param":"max_tokens",
                "code":400}}
                """#),
            expected: .init(
                message: "max_tokens is too large", type: "invalid_request_error", code: "400", param: "max_tokens")),
        Case(
            name: "DashScope native",
            body: wire(
                #"""
                {"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"fb53c4ec-1c12-4fc4-a580-cdb7
                c3261fc1"}
                """#),
            expected: .init(
                message: "Invalid API-key provided.", code: "InvalidApiKey",
                requestID: "fb53c4ec-1c12-4fc4-a580-cdb7c3261fc1")),
        Case(
            name: "DashScope compatible mode",
            body: wire(
                #"""
                {"error":{"code":"invalid_api_key","param":null,"message":"Incorrect API key provided. ",
                "type":"invalid_request_error"},"request_id":"0d4c9ef6-2bd8-9c4d-a8f8-3e9c0a1b2c3d"}
                """#),
            expected: .init(
                message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key",
                requestID: "0d4c9ef6-2bd8-9c4d-a8f8-3e9c0a1b2c3d")),
        Case(
            name: "Qianfan v1",
            body: #"{"error_code":110,"error_msg":"Access token invalid or no longer valid"}"#,
            expected: .init(message: "Access token invalid or no longer valid", code: "110")),
        Case(
            name: "Qianfan v2",
            body: wire(
                #"""
                {"error":{"code":"invalid_iam_token","message":"IAM Certification failed","type":"invalid_request_error"
                },"id":"as-ee8kcyc2hj"}
                """#),
            expected: .init(
                message: "IAM Certification failed", type: "invalid_request_error", code: "invalid_iam_token")),
        Case(
            name: "Spark flat",
            body: #"{"code":10013,"message":"input content audit failed","sid":"cha000b0001@dx18c1bd0f8a6a4b2882"}"#,
            expected: .init(
                message: "input content audit failed", code: "10013", requestID: "cha000b0001@dx18c1bd0f8a6a4b2882")),
        Case(
            name: "Spark header",
            body: wire(
                #"""
                {"header":{"code":11200,"message":"licc failed","sid":"cht000cb087@dx18b6ab25e4b3a4b530",
                "status":2}}
                """#),
            expected: .init(message: "licc failed", code: "11200", requestID: "cht000cb087@dx18b6ab25e4b3a4b530")),
        Case(
            name: "Ollama",
            body: #"{"error":"model 'llama9' not found, try pulling it first"}"#,
            expected: .init(message: "model 'llama9' not found, try pulling it first")),
        Case(
            name: "FastAPI string detail",
            body: #"{"detail":"Not Found"}"#,
            expected: .init(message: "Not Found")),
        Case(
            name: "FastAPI validation detail",
            body: wire(
                #"""
                {"detail":[{"type":"missing","loc":["body","messages"],"msg":"Field required","input":{
                "model":"x"}},{"loc":["body","temperature"],"msg":"Input should be less than or equal to 2"}]}
                """#),
            expected: .init(
                message: "body.messages: Field required; body.temperature: Input should be less than or equal to 2")),
        Case(
            name: "vLLM",
            body: wire(
                #"""
                {"object":"error","message":"The model `gpt-4` does not exist.","type":"NotFoundError",
                "param":null,"code":404}
                """#),
            expected: .init(message: "The model `gpt-4` does not exist.", type: "NotFoundError", code: "404")),
        Case(
            name: "error with only a code",
            body: #"{"error":{"code":"rate_limit_exceeded"}}"#,
            expected: .init(message: "rate_limit_exceeded", code: "rate_limit_exceeded")),
        Case(
            name: "gateway message",
            body: #"{"message":"Unauthorized"}"#,
            expected: .init(message: "Unauthorized")),
        Case(
            name: "array-wrapped",
            body: #"[{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}]"#,
            expected: .init(message: "Resource has been exhausted", code: "429")),
    ]

    @Test("every error shape", arguments: cases)
    func shapes(_ c: Case) {
        #expect(ProviderErrorPayload.parse(Data(c.body.utf8)) == c.expected)
    }

    @Test("non-JSON and non-error bodies give nil")
    func notErrors() {
        for body in [
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                + "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
            "", "upstream connect error or disconnect/reset before headers", "{}", "[]", #"{"error":null}"#,
            #"{"code":0,"message":"Success","sid":"cha000"}"#, #"{"header":{"code":0,"message":"Success"}}"#,
        ] {
            #expect(ProviderErrorPayload.parse(Data(body.utf8)) == nil, "\(body)")
        }
    }

    @Test("errors in the middle of a stream are detected; ordinary chunks are not")
    func streamErrors() {
        #expect(
            ProviderErrorPayload.parseStreamError(
                wire(
                    #"""
                    {"error":{"message":"Output data may contain inappropriate content.","type":"data_inspection_failed"
                    ,"param":null,"code":"data_inspection_failed"},"id":"chatcmpl-1","request_id":"r-1"}
                    """#)
            )
                == .init(
                    message: "Output data may contain inappropriate content.", type: "data_inspection_failed",
                    code: "data_inspection_failed", requestID: "r-1"))
        #expect(
            ProviderErrorPayload.parseStreamError(
                wire(
                    #"""
                    {"code":"DataInspectionFailed","message":"Output data may contain inappropriate content.",
                    "request_id":"r-2"}
                    """#))?
                .code == "DataInspectionFailed")
        #expect(
            ProviderErrorPayload.parseStreamError(
                wire(
                    #"""
                    {"object":"error","message":"overloaded","type":"ServiceUnavailableError","code":503}
                    """#))?
                .message == "overloaded")
        #expect(
            ProviderErrorPayload.parseStreamError(
                wire(
                    #"""
                    {"error_code":336003,"error_msg":"the max length of current question is 11200"}
                    """#))?.code == "336003")
        for payload in StreamFixture.dashScope + StreamFixture.deepSeekReasoner + StreamFixture.moonshot
            + StreamFixture.zhipu + StreamFixture.qianfan + StreamFixture.ollama
        {
            #expect(ProviderErrorPayload.parseStreamError(payload) == nil, "\(payload)")
        }
        #expect(ProviderErrorPayload.parseStreamError(#"{"error":{"message":"x"},"choices":[]}"#) == nil)
        #expect(ProviderErrorPayload.parseStreamError(#"{"message":"just a message"}"#) == nil)
        #expect(ProviderErrorPayload.parseStreamError("not json") == nil)
        #expect(
            ProviderErrorPayload.parseStreamError(#"{"error":{"message":"boom"},"choices":null}"#)?.message == "boom")
        #expect(ProviderErrorPayload.parseStreamError("[DONE]") == nil)
    }
}
