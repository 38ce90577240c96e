import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
public import WendaoCore

// Chat calls, whole and streamed, with retries before the first delivered piece.
extension ModelGateway {
    /// The request body of a chat call.
    func chatBody(_ model: ResolvedModel, _ messages: [ChatMessage], _ options: ChatOptions, stream: Bool) throws -> Data {
        var o = options
        if let t = o.temperature ?? model.temperature {
            o.temperature = min(max(t, model.temperatureRange.lowerBound), model.temperatureRange.upperBound)
        }
        let req = ChatCompletionRequest(
            model: model.model, messages: messages, options: o, stream: stream, includeUsage: model.streamUsage,
            extra: model.extra)
        return try JSONEncoder().encode(req)
    }

    /// One unstreamed chat completion.
    public func chat(
        _ model: ResolvedModel, messages: [ChatMessage], options: ChatOptions = ChatOptions()
    ) async throws -> ChatCompletionResponse {
        try model.requireRemote()
        try model.requireKey()
        let body = try chatBody(model, messages, options, stream: false)
        let data = try await send(model, path: "/chat/completions", body: body, contentType: "application/json")
        if let p = ProviderErrorPayload.parseStreamError(String(decoding: data.prefix(1 << 20), as: UTF8.self)) {
            // An error object with a 200 status (some gateways do this).
            throw publicError(midStreamError(p, model: model, midAnswer: false), model: model)
        }
        guard var r = try? JSONDecoder().decode(ChatCompletionResponse.self, from: data) else {
            throw ProviderErrors.badBody(data, model: model, expected: "a chat completion")
        }
        if r.usage == nil { r.usage = .estimate(prompt: messages, completion: (r.reasoning ?? "") + r.text) }
        return r
    }

    /// A streamed chat completion: text and reasoning pieces as they arrive, then usage and the
    /// finish reason. Retries (connection errors, 408, 429, 5xx) happen only before the first piece
    /// reaches the caller. Cancelling the consuming task cancels the request.
    public func streamChat(
        _ model: ResolvedModel, messages: [ChatMessage], options: ChatOptions = ChatOptions()
    ) -> AsyncThrowingStream<ChatEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try model.requireRemote()
                    try model.requireKey()
                    let body = try self.chatBody(model, messages, options, stream: true)
                    try await self.runStream(model, body: body, messages: messages, continuation: continuation)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: self.publicError(error, model: model))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Consumes one streamed call, with retries before the first delivered piece.
    func runStream(
        _ model: ResolvedModel, body: Data, messages: [ChatMessage],
        continuation: AsyncThrowingStream<ChatEvent, any Error>.Continuation
    ) async throws {
        let started = ContinuousClock.now
        let deadline = started + .seconds(timeouts.total)
        var attempt = 0
        while true {
            attempt += 1
            let delivered = Flag()
            do {
                try await withWatchdog(delivered: delivered, deadline: deadline, model: model) {
                    try await self.streamAttempt(
                        model, body: body, messages: messages, delivered: delivered, continuation: continuation)
                }
                return
            } catch {
                if Task.isCancelled { throw WendaoError(.cancelled, "the request to \(model.provider) was cancelled") }
                let failure = classify(error, model: model)
                guard !delivered.isSet, failure.retryable, attempt <= retry.maxRetries else { throw failure.error }
                try await pause(before: attempt, failure: failure, deadline: deadline, model: model)
            }
        }
    }

    /// One streamed attempt: sends, checks the head, parses server-sent events.
    func streamAttempt(
        _ model: ResolvedModel, body: Data, messages: [ChatMessage], delivered: Flag,
        continuation: AsyncThrowingStream<ChatEvent, any Error>.Continuation
    ) async throws {
        let request = makeRequest(model, path: "/chat/completions", body: body, contentType: "application/json", stream: true)
        logger.debug("model call", metadata: ["provider": "\(model.provider)", "model": "\(model.model)", "stream": "true"])
        let response = try await client.execute(request, deadline: .now() + .hours(24), logger: nil)
        guard (200..<300).contains(Int(response.status.code)) else {
            let errorBody = try await collect(response.body, limit: 1 << 20)
            throw StatusFailure(
                status: Int(response.status.code), body: errorBody,
                retryAfter: ProviderErrors.retryAfterSeconds(response.headers.first(name: "retry-after")))
        }
        let contentType = response.headers.first(name: "content-type")?.lowercased() ?? ""
        var body = response.body.makeAsyncIterator()
        var first = try await body.next()
        // Without a content type, sniff: a JSON object rather than events.
        let looksJSON =
            contentType.isEmpty
            && first.map { b in b.readableBytesView.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) } == 0x7B }
                == true
        if (!contentType.contains("event-stream") && !contentType.isEmpty) || looksJSON {
            // Some servers ignore `stream: true` and answer with one JSON completion: accept it.
            var data = Data(first.map { Array($0.readableBytesView) } ?? [])
            while let more = try await body.next() {
                if data.count + more.readableBytes > maxBodyBytes {
                    throw WendaoError(.limitExceeded, "the response is larger than \(maxBodyBytes >> 20) MiB")
                }
                data.append(contentsOf: more.readableBytesView)
            }
            if let p = ProviderErrorPayload.parseStreamError(String(decoding: data.prefix(1 << 20), as: UTF8.self)) {
                throw midStreamError(p, model: model, midAnswer: false)
            }
            guard let whole = try? JSONDecoder().decode(ChatCompletionResponse.self, from: data),
                !ProviderErrors.looksLikeHTML(data)
            else {
                if let p = ProviderErrorPayload.parse(data) {
                    throw midStreamError(p, model: model, midAnswer: false)
                }
                throw ProviderErrors.badBody(data, model: model, expected: "an event stream")
            }
            if let r = whole.reasoning, !r.isEmpty { continuation.yield(.reasoning(r)) }
            if !whole.text.isEmpty {
                delivered.set()
                continuation.yield(.text(whole.text))
            }
            if let f = whole.choices.first?.finishReason { continuation.yield(.finish(f)) }
            continuation.yield(
                .usage(whole.usage ?? .estimate(prompt: messages, completion: (whole.reasoning ?? "") + whole.text)))
            return
        }
        var parser = SSEParser()
        var sawDone = false
        var sawFinish = false
        var malformed = 0
        var lastUsage: TokenUsage?
        var streamed = ""
        func handle(_ events: [SSEEvent]) throws {
            for ev in events {
                let payload = ev.data.trimmingCharacters(in: .whitespaces)
                if ev.event?.lowercased() == "error" {
                    // `event: error` carries an error whatever its data looks like.
                    let p =
                        ProviderErrorPayload.parse(Data(payload.utf8))
                        ?? ProviderErrorPayload(
                            message: payload.isEmpty ? "(no details)" : String(payload.prefix(300)), type: nil,
                            code: nil, param: nil)
                    throw midStreamError(p, model: model, midAnswer: delivered.isSet)
                }
                if payload == "[DONE]" {
                    sawDone = true
                    return
                }
                if payload.isEmpty { continue }
                if let p = ProviderErrorPayload.parseStreamError(payload) {
                    throw midStreamError(p, model: model, midAnswer: delivered.isSet)
                }
                guard let chunk = try? JSONDecoder().decode(ChatCompletionChunk.self, from: Data(payload.utf8)) else {
                    malformed += 1
                    logger.debug("malformed stream event", metadata: ["provider": "\(model.provider)"])
                    if malformed >= 3 || !delivered.isSet {
                        throw WendaoError(
                            .badResponse, "\(model.provider) sent a stream event that is not a chat completion chunk")
                    }
                    continue
                }
                for e in chunk.events {
                    switch e {
                    case .text(let t), .reasoning(let t):
                        delivered.set()
                        streamed += t
                    case .finish: sawFinish = true
                    case .usage(let u):
                        // Some providers repeat running totals on several chunks: keep the last.
                        lastUsage = u
                        continue
                    }
                    continuation.yield(e)
                }
            }
        }
        do {
            if let buffer = first {
                first = nil
                try handle(try parser.feed(buffer.readableBytesView))
            }
            while !sawDone, let buffer = try await body.next() {
                try handle(try parser.feed(buffer.readableBytesView))
            }
            if !sawDone { try handle(try parser.finish()) }
        } catch let e as WendaoError {
            throw e
        } catch {
            if Task.isCancelled { throw error }
            throw StreamBroke(afterTokens: delivered.isSet, underlying: "\(error)")
        }
        if !sawDone && !sawFinish {
            throw StreamBroke(afterTokens: delivered.isSet, underlying: "the stream ended without [DONE]")
        }
        continuation.yield(.usage(lastUsage ?? .estimate(prompt: messages, completion: streamed)))
    }

    func midStreamError(_ p: ProviderErrorPayload, model: ResolvedModel, midAnswer: Bool) -> WendaoError {
        let lower = (p.message + " " + (p.code ?? "")).lowercased()
        let said = ProviderErrors.summary(p, model: model)
        if ProviderErrors.isContextTooLong(lower) {
            return WendaoError(.contextTooLong, "the prompt is too long for \(model.id): \(said)")
        }
        if lower.contains("rate") && lower.contains("limit") || lower.contains("throttl") {
            return WendaoError(.rateLimited, "\(model.provider) is rate limiting this key: \(said)")
        }
        if lower.contains("overload") || lower.contains("unavailable") || lower.contains("busy") {
            return WendaoError(
                .unavailable, "\(model.provider) is overloaded\(midAnswer ? " (the answer broke off)" : ""): \(said)")
        }
        return WendaoError(
            .badResponse,
            midAnswer
                ? "\(model.provider) reported an error in the middle of the answer: \(said)"
                : "\(model.provider) reported an error: \(said)")
    }
}
