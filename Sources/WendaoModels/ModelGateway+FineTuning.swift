public import Foundation
import WendaoCore

// Fine-tuning endpoints of OpenAI-compatible providers (`/files`, `/fine_tuning/jobs`), through the same
// transport as chat: time limits, retries, redacted provider errors.
extension ModelGateway {
    /// Uploads `data` as `filename` for fine-tuning (`POST /files`, multipart, `purpose=fine-tune`); returns
    /// the provider's JSON reply (with the file `id`). A rejected file is an error carrying the provider's
    /// message.
    ///
    /// `path` and `field` default to OpenAI's (`/files`, `file`); DashScope's native API takes `files`.
    public func uploadFile(
        _ model: ResolvedModel, filename: String, data: Data, purpose: String = "fine-tune", path: String = "/files",
        field: String = "file"
    ) async throws -> [String: Any] {
        try model.requireRemote()
        try model.requireKey()
        let boundary = "wendao-" + UUID().uuidString
        var body = Data()
        func add(_ s: String) { body.append(Data(s.utf8)) }
        add("--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n\(purpose)\r\n")
        let safeName = filename.filter { $0 != "\"" && $0 != "\r" && $0 != "\n" }
        add(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(safeName)\"\r\n"
                + "Content-Type: application/jsonl\r\n\r\n")
        body.append(data)
        add("\r\n--\(boundary)--\r\n")
        let reply = try await send(
            model, path: path, body: body, contentType: "multipart/form-data; boundary=\(boundary)")
        return try Self.object(reply, model: model, expected: "a file object")
    }

    /// A JSON request to a fine-tuning endpoint: `POST` with `body` (an empty object for actions such as
    /// cancel), `GET` without; returns the reply object.
    public func fineTuning(_ model: ResolvedModel, path: String, body: [String: Any]?) async throws -> [String: Any] {
        try model.requireRemote()
        try model.requireKey()
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        let reply = try await send(model, path: path, body: data, contentType: data == nil ? nil : "application/json")
        return try Self.object(reply, model: model, expected: "a fine-tuning object")
    }

    static func object(_ data: Data, model: ResolvedModel, expected: String) throws -> [String: Any] {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ProviderErrors.badBody(data, model: model, expected: expected)
        }
        return o
    }
}
