public import Foundation
public import Hummingbird
import Logging
public import NIOCore
import WendaoCore
import WendaoModels
import WendaoRAG

/// Entry points for the `wendao-fuzz` harness (`@_spi(Fuzzing) import WendaoServer`): the multipart
/// reader and the whole router, driven with arbitrary bytes. Not part of the API.
@_spi(Fuzzing)
public enum ServerFuzzing {
    /// Feeds `body` to a multipart reader for `boundary` in pieces whose sizes come from `sizes`,
    /// and again in one piece, and stops the process when the two readings differ (the events may
    /// not depend on how the bytes arrive) or when the events are out of order.
    public static func multipart(boundary: String, body: [UInt8], sizes: [UInt8]) {
        struct Reading: Equatable {
            var parts: [MultipartReader.Event] = []
            var failure: String?
            var complete = false
        }
        func read(_ pieces: [ArraySlice<UInt8>]) -> Reading {
            var reader = MultipartReader(boundary: boundary)
            var out = Reading()
            var inPart = false
            var current: [UInt8] = []
            reading: for piece in pieces {
                let events: [MultipartReader.Event]
                do {
                    events = try reader.feed(piece)
                } catch {
                    out.failure = error.message
                    break reading
                }
                for event in events {
                    switch event {
                    case .part:
                        precondition(!inPart, "a part began inside a part")
                        inPart = true
                        out.parts.append(event)
                    case .data(let bytes):
                        precondition(inPart, "data outside a part")
                        precondition(!bytes.isEmpty, "an empty data event")
                        current += bytes
                    case .partEnd:
                        precondition(inPart, "a part ended that had not begun")
                        inPart = false
                        out.parts.append(.data(current))
                        out.parts.append(.partEnd)
                        current = []
                    }
                }
            }
            out.complete = reader.isComplete
            precondition(!out.complete || !inPart, "complete inside a part")
            return out
        }
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while start < body.count {
            let n = sizes.isEmpty ? body.count : Int(sizes[i % sizes.count]) + 1
            pieces.append(body[start..<min(body.count, start + n)])
            start += n
            i += 1
        }
        let chunked = read(pieces)
        let whole = read([body[...]])
        // A failure may be found earlier or later depending on the pieces (a header block grows past
        // its cap); otherwise the readings agree.
        if chunked.failure == nil && whole.failure == nil {
            precondition(chunked == whole, "the reading depends on how the bytes arrive")
        } else {
            precondition(chunked.failure != nil && whole.failure != nil, "one reading failed, the other did not")
        }
    }

    /// A server over `dataDirectory` whose router answers requests in-process (no job runner, no
    /// sockets): open local mode unless `adminKey` is set.
    public final class Router: Sendable {
        let server: WendaoServer
        let responder: RouterResponder<WendaoContext>
        let logger: Logger

        /// Opens the data directory; `maxUploadBytes` caps uploads.
        public init(dataDirectory: URL, adminKey: String?, maxUploadBytes: Int) throws {
            var c = ServerConfiguration(dataDirectory: dataDirectory)
            c.adminKey = adminKey.map(Secret.init)
            c.maxUploadBytes = maxUploadBytes
            c.requestsPerSecondPerKey = 1e9
            // Every provider (those that need no key too) points at a closed loopback port: a fuzz
            // input never reaches a real service.
            for preset in [
                "OPENAI", "DEEPSEEK", "DASHSCOPE", "QIANFAN", "SPARK", "ZHIPU", "MOONSHOT", "SILICONFLOW",
                "OLLAMA", "VLLM",
            ] {
                c.environment["WENDAO_\(preset)_BASE_URL"] = "http://127.0.0.1:9/v1"
            }
            var logger = Logger(label: "wendao.fuzz")
            logger.logLevel = .critical
            self.logger = logger
            server = try WendaoServer(configuration: c, logger: logger)
            responder = server.api.router().buildResponder()
        }

        /// Answers `request` (on `channel`, any channel: nothing is written to it) and reads the
        /// whole response body; returns the status.
        public func respond(to request: Request, channel: any Channel) async -> Int {
            let context = WendaoContext(source: .init(channel: channel, logger: logger))
            let response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch {
                // Only a request cut short escapes the error middleware.
                return 400
            }
            struct Drain: ResponseBodyWriter {
                func write(_ buffer: ByteBuffer) async throws {}
                func finish(_ trailingHeaders: HTTPFields?) async throws {}
            }
            try? await response.body.write(Drain())
            return Int(response.status.code)
        }
    }
}
