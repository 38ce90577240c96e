import Foundation
import HTTPTypes
import Hummingbird
import Testing
import WendaoCore
@testable import WendaoServer

/// The database being away is the server's temporary trouble, not a bug: 503 with `Retry-After`
/// (a balancer or client may retry), code `storage_unavailable` and the store's reason; other
/// storage failures stay 500. (scripts/two_server_test.py checks the same against a PostgreSQL that
/// is stopped under two running servers.)
struct StorageUnavailableTests {
    @Test("storage_unavailable answers 503 with Retry-After and the reason; storage stays 500")
    func mapping() throws {
        let message = "cannot list documents (postgres://wendao@db.internal:5432/wendao): the server cannot be reached"
        let response = APIError.response(for: WendaoError(.storageUnavailable, message))
        #expect(response.status == .serviceUnavailable)
        #expect(response.headers[.retryAfter] == "2")
        let error = APIError(wendao: WendaoError(.storageUnavailable, message))
        #expect(error.code == "storage_unavailable")
        #expect(error.message == message)
        let body = try JSONSerialization.jsonObject(with: error.body) as? [String: [String: String]]
        #expect(body?["error"]?["code"] == "storage_unavailable")
        #expect(body?["error"]?["message"]?.contains("db.internal:5432") == true)

        #expect(APIError.response(for: WendaoError(.storage, "a failed statement")).status == .internalServerError)
        #expect(APIError.response(for: WendaoError(.corrupt, "damaged")).status == .internalServerError)
    }
}
