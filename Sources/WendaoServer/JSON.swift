import HTTPTypes
import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat
import WendaoRAG

/// JSON in and out.
enum JSON {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return e
    }()

    /// `value` as a JSON response.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// The request body decoded as `T`, at most `limit` bytes (413 beyond). The body must be
    /// declared `application/json` (415 otherwise): a cross-site page can send `text/plain` or a
    /// form without asking the server first, but not JSON.
    static func decode<T: Decodable>(
        _ type: T.Type, from request: Request, limit: Int, repairingUTF8: Bool = false
    ) async throws -> T {
        guard isJSON(request.headers[.contentType]) else {
            throw APIError(
                status: .unsupportedMediaType, code: "unsupported",
                message: "send the request body as JSON with 'Content-Type: application/json'")
        }
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("the request body is empty; JSON expected") }
        // Repairing: bytes that are not UTF-8 become U+FFFD instead of refusing the whole body.
        var data = Data(buffer: buffer)
        if repairingUTF8 { data = Data(String(decoding: data, as: UTF8.self).utf8) }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError.badRequest("the JSON body lacks '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw APIError.badRequest("'\(path(ctx.codingPath))' has the wrong type")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw APIError.badRequest("'\(path(ctx.codingPath))' must not be null")
        } catch {
            throw APIError.badRequest("the request body is not valid JSON")
        }
    }

    /// Whether a `Content-Type` value is JSON (`application/json`, `application/*+json`, any parameters).
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let media = contentType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard let media else { return false }
        return media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json"))
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// One server-sent event.
    static func event(_ name: String, _ value: some Encodable) -> ByteBuffer {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var b = ByteBuffer()
        b.writeString("event: \(name)\ndata: ")
        b.writeBytes(data)
        b.writeString("\n\n")
        return b
    }
}

/// A small JSON writer for the hottest responses (search results), several times faster than
/// `JSONEncoder` on Linux; the output is the same JSON (keys in sorted order, slashes unescaped).
struct FastJSON {
    private(set) var buffer = ByteBuffer()

    init(capacity: Int = 4096) { buffer.reserveCapacity(capacity) }

    mutating func raw(_ s: StaticString) { buffer.writeStaticString(s) }

    mutating func int(_ v: some BinaryInteger) { buffer.writeString(String(v)) }

    mutating func double(_ v: Double) {
        if v.isFinite { buffer.writeString(v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)") } else {
            buffer.writeStaticString("null")
        }
    }

    /// A JSON string with the escapes JSON requires (quote, backslash, control characters).
    mutating func string(_ s: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var runStart = 0
            for (i, b) in bytes.enumerated() where b < 0x20 || b == 0x22 || b == 0x5C {
                if i > runStart { buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[runStart..<i]))) }
                switch b {
                case 0x22: buffer.writeStaticString("\\\"")
                case 0x5C: buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                case 0x08: buffer.writeStaticString("\\b")
                case 0x0C: buffer.writeStaticString("\\f")
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex[Int(b >> 4)])
                    buffer.writeInteger(hex[Int(b & 0xF)])
                }
                runStart = i + 1
            }
            if runStart < bytes.count { buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[runStart...]))) }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// `{"query": …, "results": [hits]}`, the search response.
    static func searchResponse(query: String, hits: [SearchHit]) -> ByteBuffer {
        var w = FastJSON(capacity: 256 + hits.reduce(0) { $0 + $1.text.utf8.count + $1.document.utf8.count + 160 })
        w.raw("{\"query\":")
        w.string(query)
        w.raw(",\"results\":[")
        for (i, h) in hits.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"chunk_id\":")
            w.int(h.chunkID)
            w.raw(",\"document\":")
            w.string(h.document)
            w.raw(",\"end\":")
            w.int(h.end)
            w.raw(",\"page\":")
            if let p = h.page { w.int(p) } else { w.raw("null") }
            w.raw(",\"rank\":")
            w.int(h.rank)
            w.raw(",\"score\":")
            w.double(h.score)
            w.raw(",\"section\":")
            w.string(h.section)
            w.raw(",\"start\":")
            w.int(h.start)
            w.raw(",\"text\":")
            w.string(h.text)
            w.raw("}")
        }
        w.raw("]}")
        return w.buffer
    }
}
