import Foundation
import Testing
import WendaoAuth
import WendaoCore
import WendaoTestSupport
@testable import WendaoStore

@Suite struct UserStoreTests {
    private func makeStore() throws -> (ScratchDirectory, SQLiteStore) {
        let dir = try ScratchDirectory("users")
        return (dir, try SQLiteStore(path: dir.child("wendao.sqlite").path))
    }

    @Test("Argon2id hashes verify the password and nothing else; every hash is salted")
    func passwords() throws {
        let a = try Passwords.hash("correct horse battery")
        let b = try Passwords.hash("correct horse battery")
        #expect(a.hasPrefix("$argon2id$"))
        #expect(a != b)
        #expect(Passwords.verify("correct horse battery", against: a))
        #expect(Passwords.verify("correct horse battery", against: b))
        #expect(!Passwords.verify("correct horse batterY", against: a))
        #expect(!Passwords.verify("", against: a))
        #expect(!Passwords.verify("correct horse battery", against: "not a hash"))
        #expect(!Passwords.verify("correct horse battery", against: ""))
        #expect(!Passwords.verify("x", against: Passwords.decoy))
        #expect(throws: WendaoError.self) { try Passwords.validate("short") }
        #expect(throws: WendaoError.self) { try Passwords.validate(String(repeating: "长", count: 400)) }
        let tokens = Set((0..<100).map { _ in Passwords.randomToken() })
        #expect(tokens.count == 100 && tokens.allSatisfy { $0.count == 43 })
    }

    @Test("Users: names unique case-insensitively, roles per knowledge base, cascades, sessions that expire")
    func usersAndSessions() throws {
        let (scratch, store) = try makeStore()
        defer { scratch.remove() }
        let kb1 = try store.createKnowledgeBase(name: "客服", settings: .default)
        let kb2 = try store.createKnowledgeBase(name: "ops", settings: .default)
        let accounts = Accounts(store: store, sessionLifetime: 100)
        let ana = try accounts.create(
            name: "Ana", password: "a long pass phrase", roles: [kb1.id: .agent, kb2.id: .editor])
        #expect(ana.role(in: kb1.id) == .agent && ana.role(in: kb2.id) == .editor)
        #expect(try store.user(named: "ANA")?.id == ana.id)
        #expect(throws: WendaoError.self) { _ = try accounts.create(name: "ana", password: "a long pass phrase") }
        #expect(throws: WendaoError.self) { _ = try accounts.create(name: "bad name", password: "a long pass phrase") }
        #expect(throws: WendaoError.self) {
            _ = try accounts.create(name: "ghost", password: "a long pass phrase", roles: [999: .agent])
        }
        #expect(try store.user(named: "ghost") == nil)
        let boss = try accounts.create(name: "老板", password: "another long one", isAdministrator: true)
        #expect(boss.role(in: kb2.id) == .administrator)
        // Deleting a knowledge base removes the roles on it.
        try store.deleteKnowledgeBase(id: kb2.id)
        #expect(try store.user(id: ana.id)?.roles == [kb1.id: .agent])
        // Sessions: by token, expiring, ended by sign-out, a new password, or deleting the user.
        #expect(try accounts.signIn(name: "ana", password: "wrong password") == nil)
        #expect(try accounts.signIn(name: "nobody", password: "a long pass phrase") == nil)
        let s = try #require(try accounts.signIn(name: "ana", password: "a long pass phrase", now: 1000))
        #expect(s.session.tokenHash != s.token && !s.token.isEmpty)
        #expect(try accounts.session(token: s.token, now: 1050)?.user.id == ana.id)
        #expect(try accounts.session(token: s.token, now: 1101) == nil)
        #expect(try store.purgeExpiredSessions(now: 1101) == 1)
        let s2 = try #require(try accounts.signIn(name: "ana", password: "a long pass phrase"))
        try accounts.signOut(token: s2.token)
        #expect(try accounts.session(token: s2.token) == nil)
        let s3 = try #require(try accounts.signIn(name: "ana", password: "a long pass phrase"))
        try accounts.setPassword(user: ana.id, password: "a new long pass phrase")
        #expect(try accounts.session(token: s3.token) == nil)
        #expect(try accounts.signIn(name: "ana", password: "a long pass phrase") == nil)
        let s4 = try #require(try accounts.signIn(name: "ana", password: "a new long pass phrase"))
        try store.deleteUser(id: ana.id)
        #expect(try accounts.session(token: s4.token) == nil)
        #expect(throws: WendaoError.self) { try store.deleteUser(id: ana.id) }
        #expect(try store.users().map(\.name) == ["老板"])
    }
}
