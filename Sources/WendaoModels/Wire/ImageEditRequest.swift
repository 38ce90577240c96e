public import Foundation

/// The fields of the multipart `POST /images/edits` call.
///
/// ```swift
/// let edit = ImageEditRequest(
///     model: "gpt-image-1", prompt: "把背景换成仓库",
///     image: .init(data: png, filename: "parcel.png", mimeType: "image/png"))
/// let boundary = ImageEditRequest.makeBoundary()
/// let body = edit.multipartBody(boundary: boundary)
/// // Content-Type: ImageEditRequest.contentType(boundary: boundary)
/// ```
public struct ImageEditRequest: Sendable, Equatable {
    /// One uploaded file of a multipart body.
    public struct File: Sendable, Equatable {
        /// The bytes.
        public var data: Data
        /// The file name sent in `Content-Disposition`.
        public var filename: String
        /// The media type, e.g. `image/png`.
        public var mimeType: String

        /// Creates a file part.
        public init(data: Data, filename: String, mimeType: String) {
            self.data = data
            self.filename = filename
            self.mimeType = mimeType
        }
    }

    /// The provider's image model name.
    public var model: String
    /// What to change.
    public var prompt: String
    /// The image to edit (form field `image`).
    public var image: File
    /// A mask whose transparent areas mark where to edit (form field `mask`).
    public var mask: File?
    /// How many images.
    public var n: Int?
    /// `WIDTHxHEIGHT`.
    public var size: String?
    /// `url` or `b64_json` (`response_format`).
    public var responseFormat: String?
    /// Further text fields, sent after the standard ones in name order.
    public var extra: [String: String]

    /// Creates an edit request.
    public init(
        model: String, prompt: String, image: File, mask: File? = nil, n: Int? = nil, size: String? = nil,
        responseFormat: String? = nil, extra: [String: String] = [:]
    ) {
        self.model = model
        self.prompt = prompt
        self.image = image
        self.mask = mask
        self.n = n
        self.size = size
        self.responseFormat = responseFormat
        self.extra = extra
    }

    /// A random boundary that cannot occur in practice inside the parts.
    public static func makeBoundary() -> String {
        "wendao-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// The `Content-Type` header value for a body built with `boundary`.
    public static func contentType(boundary: String) -> String {
        "multipart/form-data; boundary=\(boundary)"
    }

    /// The `multipart/form-data` body (RFC 7578): text fields `model`, `prompt`, `n`, `size`,
    /// `response_format` and `extra`, then the `image` and `mask` files; CRLF line ends; names and
    /// file names quoted, with `"`, CR and LF escaped as `%22`, `%0D`, `%0A` (as browsers do).
    public func multipartBody(boundary: String) -> Data {
        var body = Data()
        func append(_ string: String) { body.append(contentsOf: Array(string.utf8)) }
        func field(_ name: String, _ value: String) {
            append("--\(boundary)\r\n")
            append("Content-Disposition: form-data; name=\"\(Self.escape(name))\"\r\n\r\n")
            append(value)
            append("\r\n")
        }
        func file(_ name: String, _ file: File) {
            append("--\(boundary)\r\n")
            append(
                "Content-Disposition: form-data; name=\"\(Self.escape(name))\"; "
                    + "filename=\"\(Self.escape(file.filename))\"\r\n")
            append("Content-Type: \(Self.headerSafe(file.mimeType))\r\n\r\n")
            body.append(file.data)
            append("\r\n")
        }
        field("model", model)
        field("prompt", prompt)
        if let n { field("n", String(n)) }
        if let size { field("size", size) }
        if let responseFormat { field("response_format", responseFormat) }
        for key in extra.keys.sorted() {
            field(key, extra[key] ?? "")
        }
        file("image", image)
        if let mask { file("mask", mask) }
        append("--\(boundary)--\r\n")
        return body
    }

    /// A name or file name made safe for a quoted `Content-Disposition` parameter.
    static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "%22"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A header value without line breaks.
    static func headerSafe(_ s: String) -> String {
        s.filter { $0 != "\r" && $0 != "\n" && $0 != "\r\n" }
    }
}
