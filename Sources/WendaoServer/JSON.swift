import HTTPTypes
import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

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

    /// The request body decoded as `T`, at most `limit` bytes (413 beyond).
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("the request body is empty; JSON expected") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
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
