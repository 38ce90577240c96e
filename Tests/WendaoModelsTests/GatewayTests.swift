import Foundation
import Logging
import Synchronization
import Testing
import WendaoCore
import WendaoModels
import WendaoTestSupport

/// Test configuration: quick retries, short limits.
func fastConfiguration(firstToken: Double = 30, total: Double = 60, retries: Int = 2) -> ModelsConfiguration {
    var c = ModelsConfiguration()
    c.retry.baseDelay = 0.01
    c.retry.maxDelay = 0.05
    c.retry.maxRetries = retries
    c.timeouts.firstToken = firstToken
    c.timeouts.total = total
    c.timeouts.connect = 2
    return c
}

/// A preset pointed at the fake server, with the canary key.
func fakeModel(
    _ server: FakeProviderServer, _ spec: String = "dashscope:qwen-plus", configuration: ModelsConfiguration = ModelsConfiguration()
) throws -> ResolvedModel {
    let provider = String(spec.split(separator: ":")[0]).uppercased()
    return try ModelCatalog.resolve(
        spec, configuration: configuration,
        environment: ["WENDAO_\(provider)_BASE_URL": server.baseURL, "WENDAO_\(provider)_API_KEY": canaryKey])
}

func collectStream(_ s: AsyncThrowingStream<ChatEvent, any Error>) async throws -> (String, String, TokenUsage?, String?)
{
    var text = ""
    var reasoning = ""
    var usage: TokenUsage?
    var finish: String?
    for try await e in s {
        switch e {
        case .text(let t): text += t
        case .reasoning(let r): reasoning += r
        case .usage(let u): usage = u
        case .finish(let f): finish = f
        }
    }
    return (text, reasoning, usage, finish)
}

/// The error a stream ends with, and the text it delivered first.
func streamFailure(_ s: AsyncThrowingStream<ChatEvent, any Error>) async -> (String, WendaoError?) {
    var text = ""
    do {
        for try await e in s { if case .text(let t) = e { text += t } }
        return (text, nil)
    } catch let e as WendaoError {
        return (text, e)
    } catch {
        return (text, WendaoError(.internal, "unexpected \(type(of: error)): \(error)"))
    }
}

@Suite("Model gateway against a fake provider")
struct GatewayTests {
    let messages = [ChatMessage(.system, "Answer briefly."), ChatMessage(.user, "首重多少钱？")]

    @Test("DashScope stream: text, usage from the final empty-choices chunk, request headers and body")
    func dashscopeStream() async throws {
        let server = try await FakeProviderServer.start(script: [.sse(Shapes.dashscopeStream)])
        let logs = LogCapture()
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: logs.logger())
        let model = try fakeModel(server)
        let (text, reasoning, usage, finish) = try await collectStream(
            gateway.streamChat(model, messages: messages, options: ChatOptions(temperature: 0.2, maxTokens: 256)))
        await gateway.shutdown()
        await server.shutdown()
        #expect(text == "首重12元 [1]")
        #expect(reasoning.isEmpty)
        #expect(finish == "stop")
        #expect(usage == TokenUsage(promptTokens: 812, completionTokens: 9, cachedPromptTokens: 512))
        let reqs = server.requests
        try #require(reqs.count == 1)
        let r = reqs[0]
        #expect(r.method == "POST")
        #expect(r.path == "/v1/chat/completions")
        #expect(r.header("authorization") == "Bearer \(canaryKey)")
        #expect(r.header("content-type") == "application/json")
        #expect(r.header("accept") == "text/event-stream")
        let body = try #require(r.jsonObject())
        #expect(body["model"] as? String == "qwen-plus")
        #expect(body["stream"] as? Bool == true)
        #expect((body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        #expect(body["max_tokens"] as? Int == 256)
        let sent = try #require(body["messages"] as? [[String: Any]])
        #expect(sent.map { $0["role"] as? String } == ["system", "user"])
        #expect(sent.last?["content"] as? String == "首重多少钱？")
        #expect(!logs.text.contains(canaryKey))
    }

    @Test("DeepSeek reasoner stream: reasoning kept apart from the answer, cache and reasoning tokens")
    func deepseekReasoner() async throws {
        let server = try await FakeProviderServer.start(script: [.sse(Shapes.deepseekReasonerStream)])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let model = try fakeModel(server, "deepseek:deepseek-reasoner")
        let (text, reasoning, usage, _) = try await collectStream(gateway.streamChat(model, messages: messages))
        await gateway.shutdown()
        await server.shutdown()
        #expect(text == "12元。")
        #expect(reasoning == "用户问首重。")
        #expect(usage?.reasoningTokens == 25)
        #expect(usage?.totalTokens == 50)
    }

    @Test("A provider that reports no usage gets a marked estimate")
    func estimatedUsage() async throws {
        let server = try await FakeProviderServer.start(script: [.sse([Shapes.chunk("首重十二元", finish: "stop")])])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let (_, _, usage, _) = try await collectStream(
            gateway.streamChat(try fakeModel(server, "spark:generalv3.5"), messages: messages))
        await gateway.shutdown()
        await server.shutdown()
        let u = try #require(usage)
        #expect(u.estimated)
        #expect(u.completionTokens == 5)
        #expect(u.promptTokens >= TokenEstimator.estimate("首重多少钱？Answer briefly."))
        // Spark takes no stream_options.
        #expect(server.requests.first?.jsonObject()?["stream_options"] == nil)
        let line = UsageReport(model: try fakeModel(server, "spark:generalv3.5"), usage: u, calls: 1, seconds: 1).line
        #expect(line.contains("estimated"))
    }

    @Test("Unstreamed chat in DeepSeek's shape")
    func unstreamed() async throws {
        let server = try await FakeProviderServer.start(script: [.json(Shapes.deepseekChat)])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let r = try await gateway.chat(try fakeModel(server, "deepseek:deepseek-chat"), messages: messages)
        await gateway.shutdown()
        await server.shutdown()
        #expect(r.text == "Hello! How can I help you today?")
        #expect(r.usage?.promptTokens == 11)
        let body = try #require(server.requests.first?.jsonObject())
        #expect(body["stream"] == nil)
        #expect(body["stream_options"] == nil)
    }

    @Test("429 with Retry-After: waits as asked, then succeeds")
    func retryAfter() async throws {
        let server = try await FakeProviderServer.start(script: [
            .json(
                #"{"error":{"message":"Requests rate limit exceeded, please try again later.","type":"limit_requests","code":"limit_requests"}}"#,
                status: 429, headers: [("Retry-After", "1")]),
            .sse([Shapes.chunk("ok", finish: "stop")]),
        ])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let (text, _, _, _) = try await collectStream(gateway.streamChat(try fakeModel(server), messages: messages))
        await gateway.shutdown()
        await server.shutdown()
        #expect(text == "ok")
        let reqs = server.requests
        try #require(reqs.count == 2)
        let gap = reqs[1].receivedAt - reqs[0].receivedAt
        #expect(gap >= .milliseconds(950), "retried after \(gap), Retry-After said 1 s")
        #expect(reqs[0].body == reqs[1].body)
    }

    @Test("Retry-After longer than the cap fails at once with a rate-limit message")
    func retryAfterTooLong() async throws {
        let server = try await FakeProviderServer.start(script: [
            .json(#"{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}"#, status: 429,
                headers: [("Retry-After", "3600")])
        ])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let (_, error) = await streamFailure(gateway.streamChat(try fakeModel(server), messages: messages))
        await gateway.shutdown()
        await server.shutdown()
        #expect(error?.code == .rateLimited)
        #expect(error?.message.contains("retry after 3600 s") == true)
        #expect(error?.message.contains("dashscope") == true)
        #expect(server.requests.count == 1)
    }

    @Test("500 then success is retried; three 500s give a provider-down error")
    func serverErrors() async throws {
        let server = try await FakeProviderServer.start(script: [
            .json(#"{"error":{"message":"Internal server error","type":"server_error"}}"#, status: 500),
            .json(Shapes.deepseekChat),
        ])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let r = try await gateway.chat(try fakeModel(server, "deepseek:deepseek-chat"), messages: messages)
        #expect(r.text.hasPrefix("Hello"))
        #expect(server.requests.count == 2)
        await server.shutdown()

        let down = try await FakeProviderServer.start(script: [
            .text("<html><body>502 Bad Gateway</body></html>", status: 502)
        ])
        do {
            _ = try await gateway.chat(try fakeModel(down, "deepseek:deepseek-chat"), messages: messages)
            Issue.record("expected an error")
        } catch let e as WendaoError {
            #expect(e.code == .unavailable)
            #expect(e.message.contains("deepseek is down or overloaded (HTTP 502)"))
        }
        #expect(down.requests.count == 3)
        await gateway.shutdown()
        await down.shutdown()
    }

    @Test("A slow first byte hits the first-token limit")
    func slowFirstByte() async throws {
        var slow = FakeResponse.sse([Shapes.chunk("late", finish: "stop")])
        slow.delayBeforeHead = .seconds(20)
        let server = try await FakeProviderServer.start(script: [slow])
        let gateway = ModelGateway(configuration: fastConfiguration(firstToken: 0.3, retries: 0), logger: Logger(label: "t"))
        let started = ContinuousClock.now
        let (_, error) = await streamFailure(gateway.streamChat(try fakeModel(server), messages: messages))
        let elapsed = ContinuousClock.now - started
        await gateway.shutdown()
        await server.shutdown()
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("first-token") == true)
        #expect(elapsed < .seconds(30))
    }

    @Test("A stream that breaks after tokens is not retried; one that breaks before any is")
    func brokenStreams() async throws {
        var broken = FakeResponse.sse([Shapes.chunk("首重"), Shapes.chunk("12")], done: false)
        // Let the client read both pieces before the connection drops.
        broken.parts.append(.delay(.milliseconds(300)))
        broken.parts.append(.close)
        let server = try await FakeProviderServer.start(script: [broken, .sse([Shapes.chunk("never", finish: "stop")])])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let (text, error) = await streamFailure(gateway.streamChat(try fakeModel(server), messages: messages))
        #expect(text == "首重12")
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("broke off part-way") == true)
        #expect(server.requests.count == 1, "no retry once tokens reached the caller")
        await server.shutdown()

        let early = try await FakeProviderServer.start(script: [
            .disconnect(), .sse([Shapes.chunk("ok", finish: "stop")]),
        ])
        let (t2, _, _, _) = try await collectStream(gateway.streamChat(try fakeModel(early), messages: messages))
        #expect(t2 == "ok")
        #expect(early.requests.count == 2)
        await early.shutdown()
        await gateway.shutdown()
    }

    @Test("Events split across reads, comments and keep-alives, CRLF line ends")
    func splitEvents() async throws {
        let whole =
            ": keep-alive\r\n\r\ndata: \(Shapes.chunk("你好"))\r\n\r\n: ping\n\ndata: \(Shapes.chunk("，世界", finish: "stop"))\n\ndata: [DONE]\n\n"
        let bytes = Array(whole.utf8)
        var pieces: [String] = []
        var i = 0
        var step = 1
        while i < bytes.count {
            let j = min(bytes.count, i + step)
            // Cut anywhere, even inside a character: the fake sends raw bytes.
            pieces.append(String(decoding: bytes[i..<j], as: UTF8.self))
            i = j
            step = step % 7 + 3
        }
        // Send raw byte slices (a multi-byte character may straddle two reads).
        var response = FakeResponse(headers: [("Content-Type", "text/event-stream")])
        i = 0
        step = 1
        while i < bytes.count {
            let j = min(bytes.count, i + step)
            response.parts.append(.data(Data(bytes[i..<j])))
            response.parts.append(.delay(.milliseconds(1)))
            i = j
            step = step % 7 + 3
        }
        let server = try await FakeProviderServer.start(script: [response])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let (text, _, _, finish) = try await collectStream(gateway.streamChat(try fakeModel(server), messages: messages))
        await gateway.shutdown()
        await server.shutdown()
        #expect(text == "你好，世界")
        #expect(finish == "stop")
        #expect(pieces.count > 10)
    }

    @Test("Malformed SSE and an error object mid-stream give clear errors")
    func malformedAndMidStreamError() async throws {
        let server = try await FakeProviderServer.start(script: [
            .chunks(["data: {\"choices\": [{\"delta\": {\"content\": \"hi\"\n\n", "data: [DONE]\n\n"]),
            .sse([
                Shapes.chunk("首重"),
                #"{"error":{"message":"Output data may contain inappropriate content.","type":"data_inspection_failed","code":"data_inspection_failed"}}"#,
            ]),
        ])
        let gateway = ModelGateway(configuration: fastConfiguration(retries: 0), logger: Logger(label: "t"))
        let (_, e1) = await streamFailure(gateway.streamChat(try fakeModel(server), messages: messages))
        #expect(e1?.code == .badResponse)
        #expect(e1?.message.contains("not a chat completion chunk") == true)
        let (text, e2) = await streamFailure(gateway.streamChat(try fakeModel(server), messages: messages))
        #expect(text == "首重")
        #expect(e2?.message.contains("inappropriate content") == true)
        #expect(e2?.message.contains("middle of the answer") == true)
        await gateway.shutdown()
        await server.shutdown()
    }

    @Test("HTML instead of JSON, empty completion")
    func htmlAndEmpty() async throws {
        let server = try await FakeProviderServer.start(script: [
            .text("<!DOCTYPE html><html><head><title>Login</title></head><body>portal</body></html>", status: 200),
            .json(#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":0,"total_tokens":5}}"#),
        ])
        let gateway = ModelGateway(configuration: fastConfiguration(retries: 0), logger: Logger(label: "t"))
        let m = try fakeModel(server, "openai:gpt-4o-mini")
        do {
            _ = try await gateway.chat(m, messages: messages)
            Issue.record("expected an error")
        } catch let e as WendaoError {
            #expect(e.code == .badResponse)
            #expect(e.message.contains("HTML page instead of JSON"))
            #expect(e.message.contains(server.baseURL))
        }
        let empty = try await gateway.chat(m, messages: messages)
        #expect(empty.text.isEmpty)
        await gateway.shutdown()
        await server.shutdown()
    }

    @Test(
        "Error statuses map to clear messages without the key",
        arguments: [
            (401, #"{"error":{"message":"Incorrect API key provided: \#(canaryKey). You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","code":"invalid_api_key"}}"#, WendaoError.Code.unauthenticated, "rejected the API key"),
            (401, #"{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"7e6b"}"#, .unauthenticated, "WENDAO_OPENAI_API_KEY"),
            (404, #"{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","code":"model_not_found"}}"#, .notFound, "does not know the model 'gpt-4o-mini'"),
            (400, #"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#, .contextTooLong, "too long"),
            (400, #"{"error":{"message":"Range of input length should be [1, 129024]","type":"invalid_request_error","code":"invalid_parameter_error"}}"#, .contextTooLong, "too long"),
            (429, #"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","code":"insufficient_quota"}}"#, .rateLimited, "quota"),
        ])
    func statusMapping(status: Int, body: String, code: WendaoError.Code, phrase: String) async throws {
        let server = try await FakeProviderServer.start(script: [.json(body, status: status)])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let m = try fakeModel(server, "openai:gpt-4o-mini")
        do {
            _ = try await gateway.chat(m, messages: messages)
            Issue.record("expected an error")
        } catch let e as WendaoError {
            #expect(e.code == code)
            #expect(e.message.contains(phrase), "\(e.message)")
            #expect(e.message.contains("openai"))
            #expect(!e.message.contains(canaryKey))
            #expect(!e.message.contains("canary"))
        }
        #expect(server.requests.count == 1, "\(status) is not retried")
        await gateway.shutdown()
        await server.shutdown()
    }

    @Test("Cancelling the consumer stops a hanging request promptly")
    func cancellation() async throws {
        var hanging = FakeResponse.sse([Shapes.chunk("半")], done: false)
        hanging.parts.append(.hang)
        let server = try await FakeProviderServer.start(script: [hanging])
        let gateway = ModelGateway(configuration: fastConfiguration(firstToken: 30, total: 60), logger: Logger(label: "t"))
        let m = try fakeModel(server)
        let started = ContinuousClock.now
        let gotText = Flag()
        let task = Task {
            var text = ""
            var error: WendaoError?
            do {
                for try await e in gateway.streamChat(m, messages: messages) {
                    if case .text(let t) = e {
                        text += t
                        gotText.set()
                    }
                }
            } catch let e as WendaoError {
                error = e
            } catch {}
            // A cancelled consumer's loop ends early; it sees the cancellation on its task.
            return (text, error, Task.isCancelled)
        }
        // Cancel once the first piece arrived (the request then hangs forever).
        // (Generous: on the 2-core CI machine other suites embed and index at the same time.)
        while !gotText.isSet && ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let cancelledAt = ContinuousClock.now
        task.cancel()
        let (text, error, cancelled) = await task.value
        #expect(ContinuousClock.now - cancelledAt < .seconds(10))
        #expect(text == "半")
        #expect(error == nil || error?.code == .cancelled)
        #expect(cancelled)
        await gateway.shutdown()
        await server.shutdown()
    }

    @Test("Embeddings, model list and image generation in the OpenAI shapes")
    func otherEndpoints() async throws {
        let server = try await FakeProviderServer.start { req, _ in
            switch req.path {
            case "/v1/embeddings":
                return .json(
                    #"{"object":"list","data":[{"object":"embedding","index":1,"embedding":[0.5,0.25]},{"object":"embedding","index":0,"embedding":[1,0]}],"model":"text-embedding-v3","usage":{"prompt_tokens":4,"total_tokens":4}}"#
                )
            case "/v1/models":
                return .json(#"{"object":"list","data":[{"id":"qwen-plus","object":"model","owned_by":"system"},{"id":"qwen-max","object":"model"}]}"#)
            case "/v1/images/generations":
                return .json(#"{"created":1732000000,"data":[{"url":"https://example.com/a.png","revised_prompt":"a cat"}]}"#)
            default:
                return .json(#"{"error":{"message":"no route"}}"#, status: 404)
            }
        }
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let m = try fakeModel(server, "dashscope:text-embedding-v3")
        let e = try await gateway.embeddings(m, inputs: ["a", "b"])
        #expect(e.data.map(\.embedding) == [[1, 0], [0.5, 0.25]])
        #expect(try await gateway.listModels(m).sorted() == ["qwen-max", "qwen-plus"])
        let img = try await gateway.generateImages(m, request: ImageGenerationRequest(model: "", prompt: "a cat"))
        #expect(img.data.first?.url == "https://example.com/a.png")
        #expect(server.requests.map(\.method) == ["POST", "GET", "POST"])
        #expect(server.requests[2].jsonObject()?["model"] as? String == "text-embedding-v3")
        await gateway.shutdown()
        await server.shutdown()
    }
}

@Suite("Model gateway: hostile providers")
struct HostileProviderTests {
    let messages = [ChatMessage(.user, "首重多少钱？")]

    @Test("An absurd Retry-After, overflowing or negative usage: clear results, no crash")
    func absurdNumbers() async throws {
        let server = try await FakeProviderServer.start(script: [
            .json(#"{"error":{"message":"slow down"}}"#, status: 429, headers: [("Retry-After", "99999999999999999999")]),
            .sse([
                Shapes.chunk("ok", finish: "stop"),
                #"{"choices":[],"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":9223372036854775807}}"#,
            ]),
            .sse([Shapes.chunk("ok", finish: "stop"), #"{"choices":[],"usage":{"prompt_tokens":-5,"completion_tokens":-7}}"#]),
        ])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let m = try fakeModel(server)
        let (_, e) = await streamFailure(gateway.streamChat(m, messages: messages))
        #expect(e?.code == .rateLimited)
        #expect(e?.message.contains("retry after 86400 s") == true, "\(e?.message ?? "")")
        let (_, _, huge, _) = try await collectStream(gateway.streamChat(m, messages: messages))
        #expect((huge?.totalTokens ?? 0) > 0)
        #expect(UsageReport(model: m, usage: huge ?? .zero, calls: 1, seconds: 1).line.contains("tokens:"))
        let (_, _, negative, _) = try await collectStream(gateway.streamChat(m, messages: messages))
        #expect(negative?.promptTokens == 0 && negative?.completionTokens == 0)
        await gateway.shutdown()
        await server.shutdown()
    }

    @Test("An error object with status 200, an `event: error`, JSON without a content type, a redirect")
    func disguisedErrors() async throws {
        let server = try await FakeProviderServer.start(script: [
            .json(#"{"error":{"message":"Model is overloaded","type":"server_error"}}"#),
            .chunks(["event: error\ndata: {\"message\":\"overloaded, try later\"}\n\n"]),
            FakeResponse(parts: [.data(Data(Shapes.deepseekChat.utf8))]),
            .json("", status: 307, headers: [("Location", "https://elsewhere.example/v1/chat/completions")]),
        ])
        let gateway = ModelGateway(configuration: fastConfiguration(retries: 0), logger: Logger(label: "t"))
        let m = try fakeModel(server, "deepseek:deepseek-chat")
        do {
            _ = try await gateway.chat(m, messages: messages)
            Issue.record("a 200 error body was taken for an answer")
        } catch let e as WendaoError {
            #expect(e.code == .unavailable)
            #expect(e.message.contains("Model is overloaded"))
        }
        let (_, e2) = await streamFailure(gateway.streamChat(m, messages: messages))
        #expect(e2?.message.contains("overloaded, try later") == true, "\(e2?.message ?? "none")")
        let (text, _, _, _) = try await collectStream(gateway.streamChat(m, messages: messages))
        #expect(text == "Hello! How can I help you today?")
        let (_, e4) = await streamFailure(gateway.streamChat(m, messages: messages))
        #expect(e4?.message.contains("redirected the request (HTTP 307)") == true, "\(e4?.message ?? "none")")
        await gateway.shutdown()
        await server.shutdown()
    }
}

@Suite("Model gateway: connections and multipart")
struct GatewayConnectionTests {
    @Test("Nothing listening: retried, then a provider-down error naming the address")
    func refused() async throws {
        // Find a free port, then close it so that connecting is refused.
        let probe = try await FakeProviderServer.start(script: [.json("{}")])
        let url = probe.baseURL
        await probe.shutdown()
        let m = try ModelCatalog.resolve(
            "vllm:m", configuration: ModelsConfiguration(), environment: ["VLLM_BASE_URL": url])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        do {
            _ = try await gateway.chat(m, messages: [ChatMessage(.user, "hi")])
            Issue.record("expected an error")
        } catch let e as WendaoError {
            #expect(e.code == .unavailable)
            #expect(e.message.contains("cannot reach vllm at \(url)"), "\(e.message)")
        }
        await gateway.shutdown()
    }

    @Test("Image edits go out as multipart/form-data with the image file")
    func imageEdit() async throws {
        let server = try await FakeProviderServer.start(script: [
            .json(#"{"created":1,"data":[{"b64_json":"aGk="}]}"#)
        ])
        let gateway = ModelGateway(configuration: fastConfiguration(), logger: Logger(label: "t"))
        let m = try fakeModel(server, "openai:gpt-image-1")
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 1, 2])
        let r = try await gateway.editImages(
            m,
            request: ImageEditRequest(
                model: "", prompt: "穿上这件外套",
                image: ImageEditRequest.File(data: png, filename: "person.png", mimeType: "image/png")))
        #expect(r.data.first?.b64JSON == "aGk=")
        let req = try #require(server.requests.first)
        #expect(req.path == "/v1/images/edits")
        let ct = try #require(req.header("content-type"))
        #expect(ct.hasPrefix("multipart/form-data; boundary="))
        let boundary = String(ct.split(separator: "=", maxSplits: 1)[1])
        let body = req.body
        #expect(body.range(of: Data("--\(boundary)\r\n".utf8)) != nil)
        #expect(body.range(of: Data("name=\"model\"\r\n\r\ngpt-image-1\r\n".utf8)) != nil)
        #expect(body.range(of: Data("穿上这件外套".utf8)) != nil)
        #expect(body.range(of: png) != nil)
        #expect(body.range(of: Data("--\(boundary)--".utf8)) != nil)
        await gateway.shutdown()
        await server.shutdown()
    }
}

@Suite("Model configuration and presets")
struct ModelConfigurationTests {
    @Test("config.yaml: providers, custom models, prices, limits; unknown keys warned")
    func parse() throws {
        let c = try ModelsConfiguration.parse(
            """
            default_model: deepseek:deepseek-chat
            providers:
              lab:
                base_url: http://10.0.0.5:8000/v1/
                api_key_env: LAB_KEY
              dashscope:
                api_key_env: MY_DS_KEY
            custom:
              support-bot:
                provider: lab
                model: qwen2.5-72b-instruct
                context_window: 32768
                extra: { enable_thinking: false }
            models:
              deepseek:deepseek-chat:
                price: { input: 2, output: 8, cached_input: 0.5, currency: CNY }
            timeouts: { connect: 5, first_token: 30, total: 120 }
            retries: { max_retries: 4 }
            colour: blue
            """, source: "config.yaml")
        #expect(c.defaultModel == "deepseek:deepseek-chat")
        #expect(c.timeouts.firstToken == 30)
        #expect(c.retry.maxRetries == 4)
        #expect(c.warnings == ["config.yaml: unknown key 'colour' ignored"])
        let env = ["LAB_KEY": "k-lab", "MY_DS_KEY": "k-ds", "DASHSCOPE_API_KEY": "k-default"]
        let bot = try ModelCatalog.resolve("custom:support-bot", configuration: c, environment: env)
        #expect(bot.model == "qwen2.5-72b-instruct")
        #expect(bot.baseURL == "http://10.0.0.5:8000/v1")
        #expect(bot.apiKey == Secret("k-lab"))
        #expect(bot.contextWindow == 32768)
        #expect(bot.extra["enable_thinking"] == .bool(false))
        let ds = try ModelCatalog.resolve("dashscope:qwen-plus", configuration: c, environment: env)
        #expect(ds.apiKey == Secret("k-ds"))
        #expect(ds.keySource == "MY_DS_KEY")
        let deepseek = try ModelCatalog.resolve("deepseek:deepseek-chat", configuration: c, environment: [:])
        let cost = deepseek.price?.cost(of: TokenUsage(promptTokens: 1_000_000, completionTokens: 500_000, cachedPromptTokens: 200_000))
        #expect(cost.map { abs($0 - (0.8 * 2 + 0.2 * 0.5 + 0.5 * 8)) < 1e-9 } == true)
        let lab = try ModelCatalog.resolve("lab:any-model", configuration: c, environment: env)
        #expect(lab.id == "lab:any-model")
    }

    @Test("Bad YAML and bad values name the file and the key")
    func badValues() {
        for (text, phrase) in [
            ("providers: [a, b]", "providers must be a mapping"),
            ("timeouts: { total: -1 }", "timeouts.total must be greater than 0"),
            ("retries: { max_retries: 1.5 }", "retries.max_retries must be a whole number"),
            ("custom:\n  x: { model: m }", "custom.x needs a 'provider' or a 'base_url'"),
            ("default_model: [", "not valid YAML"),
            ("timeouts: { connect: 1e300 }", "timeouts.connect must be at most 86400"),
            ("timeouts: { total: 1e300, first_token: 5 }", "timeouts.total must be at most 86400"),
        ] {
            #expect(throws: WendaoError.self) { try ModelsConfiguration.parse(text, source: "cfg.yaml") }
            do { _ = try ModelsConfiguration.parse(text, source: "cfg.yaml") } catch {
                #expect(error.message.contains(phrase), "\(error.message)")
                #expect(error.message.hasPrefix("cfg.yaml"))
            }
        }
    }

    @Test("Unknown provider, missing key, bad base URL, no provider prefix")
    func resolutionErrors() throws {
        let c = ModelsConfiguration()
        #expect(throws: WendaoError.self) { try ModelCatalog.resolve("acme:m", configuration: c, environment: [:]) }
        do { _ = try ModelCatalog.resolve("acme:m", configuration: c, environment: [:]) } catch {
            #expect(error.message.contains("unknown provider 'acme'"))
            #expect(error.message.contains("dashscope"))
        }
        do { _ = try ModelCatalog.resolve("qwen-plus", configuration: c, environment: [:]) } catch {
            #expect(error.message.contains("provider:model"))
        }
        let m = try ModelCatalog.resolve("dashscope:qwen-plus", configuration: c, environment: [:])
        do {
            try m.requireKey()
            Issue.record("expected a missing-key error")
        } catch {
            #expect(error.code == .unauthenticated)
            #expect(error.message.contains("WENDAO_DASHSCOPE_API_KEY or DASHSCOPE_API_KEY"))
        }
        for bad in ["ftp://example.com/v1", "localhost:8000", "file:///etc/passwd", "http://"] {
            do {
                _ = try ModelCatalog.resolve("openai:gpt-4o", configuration: c, environment: ["OPENAI_BASE_URL": bad])
                Issue.record("\(bad) accepted")
            } catch {
                #expect(error.message.contains("OPENAI_BASE_URL"), "\(error.message)")
            }
        }
        // A preset pointed at a local server needs no key.
        let local = try ModelCatalog.resolve(
            "openai:llama", configuration: c, environment: ["OPENAI_BASE_URL": "http://127.0.0.1:9/v1/chat/completions"])
        #expect(local.baseURL == "http://127.0.0.1:9/v1")
        try local.requireKey()
        let ollama = try ModelCatalog.resolve("ollama:qwen2.5", configuration: c, environment: ["OLLAMA_HOST": "0.0.0.0"])
        #expect(ollama.baseURL == "http://127.0.0.1:11434/v1")
    }

    @Test("The README's provider table names every preset with its exact base URL and key variables")
    func readmeTable() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        for p in ProviderPreset.builtIn {
            let row = try #require(
                text.split(separator: "\n").first { $0.hasPrefix("| `\(p.name)`") }, "no README row for \(p.name)")
            #expect(row.contains("`\(p.baseURL)`"), "\(p.name): \(row)")
            for v in p.keyVariables where p.requiresKey || v.hasSuffix("_API_KEY") {
                #expect(row.contains("`\(v)`"), "\(p.name) row lacks \(v)")
            }
            for a in p.aliases { #expect(row.contains("`\(a)`"), "\(p.name) row lacks alias \(a)") }
        }
    }

    @Test("A preset moved to a public host still needs its key; one moved to a private host does not")
    func movedPresets() throws {
        var c = ModelsConfiguration()
        var s = ProviderSettings()
        s.baseURL = "https://proxy.example.com/v1"
        c.providers["deepseek"] = s
        let moved = try ModelCatalog.resolve("deepseek:deepseek-chat", configuration: c, environment: [:])
        #expect(throws: WendaoError.self) { try moved.requireKey() }
        for local in ["http://127.0.0.1:8000/v1", "http://10.1.2.3/v1", "http://gpu-box:8000/v1", "http://[::1]:8000/v1"] {
            let m = try ModelCatalog.resolve(
                "openai:m", configuration: ModelsConfiguration(), environment: ["OPENAI_BASE_URL": local])
            #expect(throws: Never.self) { try m.requireKey() }
        }
        var bot = CustomModel(model: "m")
        bot.provider = "vllm"
        bot.apiKeyEnv = "BOT_KEY"
        c.custom["bot"] = bot
        let custom = try ModelCatalog.resolve("custom:bot", configuration: c, environment: [:])
        do {
            try custom.requireKey()
            Issue.record("a custom model with an unset api_key_env ran without a key")
        } catch {
            #expect(error.message.contains("BOT_KEY"))
        }
    }

    @Test("Every preset resolves with its documented key variable; aliases work")
    func presets() throws {
        for p in ProviderPreset.builtIn {
            let model = p.exampleModels.first ?? "m"
            let var0 = p.keyVariables.first ?? p.wendaoKeyVariable
            let m = try ModelCatalog.resolve("\(p.name):\(model)", configuration: ModelsConfiguration(), environment: [var0: "k"])
            #expect(m.apiKey == Secret("k"))
            #expect(m.baseURL.hasPrefix("http"))
            #expect(m.contextWindow >= 4096)
        }
        #expect(try ModelCatalog.resolve("glm:glm-4-flash", configuration: ModelsConfiguration(), environment: [:]).provider == "zhipu")
        #expect(ProviderPreset.named("qianfan")!.contextWindow(of: "ernie-4.0-turbo-128k") == 131_072)
    }

    @Test("Secrets never print; provider messages are redacted")
    func secrets() {
        let s = Secret(canaryKey)
        #expect("\(s)" == "•••")
        #expect(!String(reflecting: s).contains("canary"))
        #expect(!s.redact("bad key \(canaryKey) given").contains(canaryKey))
        #expect(Secret.redactKeyShapes("Incorrect API key provided: sk-proj-abc1********wxyz.") == "Incorrect API key provided: [redacted]")
        #expect(Secret.redactKeyShapes("see https://platform.openai.com/account/api-keys") == "see https://platform.openai.com/account/api-keys")
    }
}
