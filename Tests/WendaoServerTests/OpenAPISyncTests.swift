import Foundation
import Hummingbird
import Logging
import Testing
import WendaoTestSupport
import Yams
import WendaoApp
@testable import WendaoServer

@Suite("OpenAPI document")
struct OpenAPISyncTests {
    /// The (method, path) pairs the server routes, in OpenAPI spelling (`{name}` parameters; the UI
    /// asset files as `/ui/{file}`).
    static func routed() throws -> Set<String> {
        let scratch = try ScratchDirectory("openapi")
        defer { scratch.remove() }
        let server = try WendaoServer(
            configuration: ServerConfiguration(dataDirectory: scratch.child("data")), logger: Logger(label: "t"))
        var out = Set<String>()
        for r in server.api.router().routes {
            var path = r.path.description
            if !path.hasPrefix("/") { path = "/" + path }
            path = path.split(separator: "/", omittingEmptySubsequences: false).map { part -> String in
                part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
            }.joined(separator: "/")
            if path.hasPrefix("/ui/") { path = "/ui/{file}" }
            if path.count > 1, path.hasSuffix("/") { path.removeLast() }
            out.insert("\(r.method.rawValue) \(path)")
        }
        return out
    }

    /// The (method, path) pairs the served OpenAPI document describes.
    static func documented() throws -> Set<String> {
        let file = try #require(UIAssets.files["/openapi.yaml"])
        let doc = try #require(try Yams.load(yaml: String(decoding: file.body, as: UTF8.self)) as? [String: Any])
        #expect((doc["openapi"] as? String)?.hasPrefix("3.1") == true)
        let paths = try #require(doc["paths"] as? [String: Any])
        var out = Set<String>()
        for (path, item) in paths {
            for key in (item as? [String: Any] ?? [:]).keys
            where ["get", "post", "put", "patch", "delete", "head"].contains(key) {
                out.insert("\(key.uppercased()) \(path)")
            }
        }
        return out
    }

    @Test("Every route is documented, and every documented route exists")
    func inStep() throws {
        let routed = try Self.routed()
        let documented = try Self.documented()
        #expect(routed.subtracting(documented).isEmpty, "routes missing from openapi.yaml: \(routed.subtracting(documented).sorted())")
        #expect(documented.subtracting(routed).isEmpty, "documented but not routed: \(documented.subtracting(routed).sorted())")
    }
}
