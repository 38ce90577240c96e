import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import WendaoCore

// Embeddings, model lists and images: one request, one JSON response each.
extension ModelGateway {
    /// Embeds `inputs` (one vector per input, in order).
    public func embeddings(_ model: ResolvedModel, inputs: [String], dimensions: Int? = nil) async throws
        -> EmbeddingsResponse
    {
        try model.requireRemote()
        try model.requireKey()
        let body = try JSONEncoder().encode(
            EmbeddingsRequest(model: model.model, input: inputs, dimensions: dimensions))
        let data = try await send(model, path: "/embeddings", body: body, contentType: "application/json")
        guard let r = try? JSONDecoder().decode(EmbeddingsResponse.self, from: data) else {
            throw ProviderErrors.badBody(data, model: model, expected: "an embeddings response")
        }
        guard r.data.count == inputs.count else {
            throw WendaoError(
                .badResponse, "\(model.provider) returned \(r.data.count) embeddings for \(inputs.count) inputs")
        }
        return r
    }

    /// The models the provider lists (`GET /models`).
    public func listModels(_ model: ResolvedModel) async throws -> [String] {
        try model.requireRemote()
        try model.requireKey()
        let data = try await send(model, path: "/models", body: nil, contentType: nil)
        guard let r = try? JSONDecoder().decode(ModelsListResponse.self, from: data) else {
            throw ProviderErrors.badBody(data, model: model, expected: "a model list")
        }
        return r.data.map(\.id)
    }

    /// Generates images from a prompt (`POST /images/generations`).
    public func generateImages(_ model: ResolvedModel, request: ImageGenerationRequest) async throws -> ImagesResponse {
        try model.requireRemote()
        try model.requireKey()
        var r = request
        r.model = model.model
        let data = try await send(
            model, path: "/images/generations", body: try JSONEncoder().encode(r), contentType: "application/json")
        guard let out = try? JSONDecoder().decode(ImagesResponse.self, from: data) else {
            throw ProviderErrors.badBody(data, model: model, expected: "an images response")
        }
        return out
    }

    /// Edits an image (`POST /images/edits`, multipart).
    public func editImages(_ model: ResolvedModel, request: ImageEditRequest) async throws -> ImagesResponse {
        try model.requireRemote()
        try model.requireKey()
        var r = request
        r.model = model.model
        let boundary = "wendao-" + UUID().uuidString
        let data = try await send(
            model, path: "/images/edits", body: r.multipartBody(boundary: boundary),
            contentType: "multipart/form-data; boundary=\(boundary)")
        guard let out = try? JSONDecoder().decode(ImagesResponse.self, from: data) else {
            throw ProviderErrors.badBody(data, model: model, expected: "an images response")
        }
        return out
    }
}
