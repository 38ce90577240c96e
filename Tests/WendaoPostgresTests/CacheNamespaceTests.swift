import Testing
import WendaoCore
import WendaoPostgres

/// A server keeps a database's index files in a folder named after the database, so that they never
/// meet the data directory's own SQLite knowledge bases, or another database's, under the same id.
struct CacheNamespaceTests {
    @Test("One folder per database, whoever connects and however; safe as a file name")
    func namespace() throws {
        let a = try DatabaseURL("postgres://alice:pw1@db.internal:5432/wendao?sslmode=disable")
        let b = try DatabaseURL("postgres://bob:other@DB.internal:5432/wendao?pool_size=3")
        #expect(a.cacheNamespace == b.cacheNamespace)
        #expect(!a.cacheNamespace.contains("pw1") && !a.cacheNamespace.contains("alice"))
        let otherDatabase = try DatabaseURL("postgres://alice:pw1@db.internal:5432/wendao2")
        let otherPort = try DatabaseURL("postgres://alice:pw1@db.internal:5433/wendao")
        #expect(Set([a, otherDatabase, otherPort].map(\.cacheNamespace)).count == 3)
        let odd = try DatabaseURL("postgres://u:p@[::1]:5432/a%2Fb")
        #expect(odd.cacheNamespace.hasPrefix("pg-"))
        #expect(!odd.cacheNamespace.contains("/") && !odd.cacheNamespace.contains(":"))
        // Names the replacement makes alike stay apart.
        let slash = try DatabaseURL("postgres://u:p@h:5432/a%2Fb")
        let underscore = try DatabaseURL("postgres://u:p@h:5432/a_b")
        #expect(slash.cacheNamespace != underscore.cacheNamespace)
    }

    @Test("sslrootcert names a private CA's file (percent-encoded in the URL); empty is an error")
    func rootCertificate() throws {
        let u = try DatabaseURL("postgres://u:p@h:5432/d?sslmode=verify-full&sslrootcert=%2Fetc%2Fwendao%2Fca.pem")
        #expect(u.rootCertificatePath == "/etc/wendao/ca.pem" && u.tls == .verifyFull)
        #expect(try DatabaseURL("postgres://u:p@h/d").rootCertificatePath == nil)
        #expect(throws: WendaoError.self) { try DatabaseURL("postgres://u:p@h/d?sslrootcert=") }
    }
}
