import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import WendaoApp
import WendaoAuth
import WendaoCore
import WendaoModels
import WendaoRAG
@testable import WendaoServer
import WendaoTestSupport

// Provider keys entered by the administrator: sealed at rest, used for answers, never sent back.

private let adminKey = "admin-key-0123456789abcdef"
private let admin: HTTPFields = [.authorization: "Bearer \(adminKey)", .contentType: "application/json"]

@Suite("Provider keys entered in the web UI")
struct ProviderKeyTests {
    @Test("A stored key is sealed in the store, used to call the provider, never answered back, and removable")
    func storedKeys() async throws {
        let scratch = try ScratchDirectory("provider-keys")
        defer { scratch.remove() }
        let data = scratch.child("data")
        let lib = try Library(directory: data)
        let docs = scratch.child("docs")
        try FileManager.default.createDirectory(at: docs, withIntermediateDirectories: true)
        try "# 运费\n\n首重 12 元。\n".write(to: docs.appendingPathComponent("fee.md"), atomically: true, encoding: .utf8)
        _ = try lib.create("kb")
        _ = try lib.open("kb").ingest([docs.path])
        let fake = try await FakeProviderServer.start { _, _ in .sse([Shapes.chunk("首重 12 元 [1]", finish: "stop")]) }
        let secret = "sk-stored-in-the-ui-0123456789"
        var c = ServerConfiguration(dataDirectory: data)
        c.port = 0
        c.adminKey = Secret(adminKey)
        c.environment = ["WENDAO_DEEPSEEK_BASE_URL": fake.baseURL]
        let srv = try WendaoServer(configuration: c, logger: Logger(label: "test.provider-keys"))
        try await srv.application().test(.router) { client in
            let ask = ByteBuffer(string: #"{"question":"首重多少钱？","model":"deepseek:deepseek-chat"}"#)
            // No key anywhere (a loopback base URL needs none): the provider is called without one.
            _ = try await client.execute(uri: "/api/v1/kbs/kb/ask", method: .post, headers: admin, body: ask)
            let withoutKey = fake.requests.count
            #expect(withoutKey > 0 && !fake.requests.contains { ($0.header("Authorization") ?? "").contains(secret) })
            let missing = try await client.execute(uri: "/api/v1/providers", method: .get, headers: admin)
            #expect(String(buffer: missing.body).contains(#""name":"deepseek""#))
            // Bad input: a key with spaces, an unknown provider.
            let spaced = try await client.execute(
                uri: "/api/v1/providers/deepseek/key", method: .put, headers: admin,
                body: ByteBuffer(string: #"{"key":"sk with spaces"}"#))
            #expect(spaced.status == .badRequest)
            let unknown = try await client.execute(
                uri: "/api/v1/providers/nope/key", method: .put, headers: admin,
                body: ByteBuffer(string: #"{"key":"sk-x"}"#))
            #expect(unknown.status == .notFound)
            let put = try await client.execute(
                uri: "/api/v1/providers/deepseek/key", method: .put, headers: admin,
                body: ByteBuffer(string: #"{"key":"\#(secret)"}"#))
            #expect(put.status == .noContent)
            #expect(!String(buffer: put.body).contains(secret))
            let listed = try await client.execute(uri: "/api/v1/providers", method: .get, headers: admin)
            let text = String(buffer: listed.body)
            #expect(!text.contains(secret))
            let providers =
                (try JSONSerialization.jsonObject(with: Data(listed.body.readableBytesView)) as? [String: Any])?[
                    "providers"] as? [[String: Any]] ?? []
            #expect(providers.first { $0["name"] as? String == "deepseek" }?["key_status"] as? String == "stored")
            // Answers now reach the provider with the stored key.
            let after = try await client.execute(uri: "/api/v1/kbs/kb/ask", method: .post, headers: admin, body: ask)
            #expect(after.status == .ok, "\(String(buffer: after.body))")
            #expect(!String(buffer: after.body).contains(secret))
            #expect(fake.requests.dropFirst(withoutKey).contains { $0.header("Authorization") == "Bearer \(secret)" })
            // A tenant cannot list or set provider keys.
            let (tenantKey, _) = try lib.createAPIKey(knowledgeBases: ["kb"], scope: .write)
            let tenant: HTTPFields = [.authorization: "Bearer \(tenantKey)", .contentType: "application/json"]
            #expect(
                try await client.execute(uri: "/api/v1/providers", method: .get, headers: tenant).status == .notFound)
            // Removed: the model is gone again.
            let removed = try await client.execute(
                uri: "/api/v1/providers/deepseek/key", method: .delete, headers: admin)
            #expect(removed.status == .noContent)
            let seen = fake.requests.count
            _ = try await client.execute(uri: "/api/v1/kbs/kb/ask", method: .post, headers: admin, body: ask)
            #expect(fake.requests.count > seen)
            #expect(!fake.requests.dropFirst(seen).contains { ($0.header("Authorization") ?? "").contains(secret) })
        }
        await srv.shutdown()
        await fake.shutdown()
        // Sealed at rest: the key's bytes are nowhere in the data directory; the secret key file is 0600.
        try await Task.sleep(for: .milliseconds(10))
        let files = FileManager.default.enumerator(atPath: data.path)?.allObjects as? [String] ?? []
        for f in files {
            let bytes = (try? Data(contentsOf: data.appendingPathComponent(f))) ?? Data()
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(f)")
        }
        let attributes = try FileManager.default.attributesOfItem(
            atPath: data.appendingPathComponent("secret.key").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("Sealed secrets open only with their key; altered bytes and loose key files are refused")
    func secretBox() throws {
        let scratch = try ScratchDirectory("secret-box")
        defer { scratch.remove() }
        let box = try SecretBox.open(dataDirectory: scratch.url, environment: [:])
        let sealed = try box.seal("sk-abc")
        #expect(try box.open(sealed) == "sk-abc")
        #expect(try box.seal("sk-abc") != sealed)
        var altered = sealed
        altered[altered.count - 1] ^= 1
        #expect(throws: WendaoError.self) { try box.open(altered) }
        let other = try SecretBox.open(
            dataDirectory: scratch.url, environment: ["WENDAO_SECRET_KEY": "another secret key text"])
        #expect(throws: WendaoError.self) { try other.open(sealed) }
        #expect(throws: WendaoError.self) {
            try SecretBox.open(dataDirectory: scratch.url, environment: ["WENDAO_SECRET_KEY": "short"])
        }
        chmod(scratch.url.appendingPathComponent("secret.key").path, 0o644)
        #expect(throws: WendaoError.self) { try SecretBox.open(dataDirectory: scratch.url, environment: [:]) }
    }
}
