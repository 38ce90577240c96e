import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WendaoCore
import WendaoImages

extension WendaoAPI {
    /// Signed, expiring file links for image providers (try-on inputs): `GET /files/images/{sha256}.{ext}
    /// ?exp=…&sig=…`. No key is asked for — the signature is the permission — and nothing but stored
    /// images (a 64-hex name and an image extension) is ever served.
    func addSignedImageRoutes(_ router: Router<WendaoContext>) {
        let directory = service.configuration.dataDirectory
        router.get("files/images/:name") { request, context in
            let name = try context.parameters.require("name")
            guard URLSigner.isServableName(name) else { throw APIError.notFound("no such file") }
            let signer = try URLSigner.open(dataDirectory: directory, baseURL: "")
            let q = request.uri.queryParameters
            do {
                try signer.verify(name: name, expires: q.get("exp"), signature: q.get("sig"))
            } catch {
                throw APIError(
                    status: .forbidden, code: "forbidden",
                    message: (error as? WendaoError)?.message ?? "this file link is not valid")
            }
            let parts = name.split(separator: ".")
            let format: ImageFormat = parts[1] == "png" ? .png : parts[1] == "jpg" ? .jpeg : .webp
            let file = directory.appendingPathComponent("images/files").appendingPathComponent(String(name.prefix(2)))
                .appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: file.path) else {
                throw APIError.notFound("no such file")
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: format.mimeType, .cacheControl: "private, max-age=300",
                    HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }
}
