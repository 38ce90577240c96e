import ArgumentParser
import Foundation
import WendaoAuth
import WendaoCore
import WendaoRAG

/// `wendao users`: accounts for the web UI, with roles per knowledge base.
struct UsersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Create, list and change web UI accounts and their roles.",
        discussion: """
            An administrator (--admin) may do everything, on every knowledge base. Other accounts have a role \
            per knowledge base: viewer (documents and search), agent (also ask and give feedback), editor (also \
            change documents and curated answers) or administrator (also the knowledge base's settings). \
            Passwords (at least 10 characters) are read from standard input (--password-stdin) or asked for \
            twice on a terminal; they are stored as Argon2id hashes. Creating the first account closes an open \
            local server: every request then needs a key or a signed-in account.
            """,
        subcommands: [Add.self, List.self, Grant.self, Revoke.self, Passwd.self, Delete.self])

    /// The `--json` shape of a user (never the password hash).
    struct UserJSON: Encodable {
        var id: Int64
        var name: String
        var administrator: Bool
        var roles: [String: String]
        var created_at: Double
        var last_login_at: Double?

        init(_ u: UserRecord, names: [Int64: String]) {
            id = u.id
            name = u.name
            administrator = u.isAdministrator
            roles = Dictionary(
                u.roles.compactMap { kb, role in names[kb].map { ($0, role.rawValue) } },
                uniquingKeysWith: { first, _ in first })
            created_at = u.createdAt
            last_login_at = u.lastLoginAt
        }
    }

    static func names(_ lib: Library) throws -> [Int64: String] {
        Dictionary(try lib.list().map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    static func user(_ lib: Library, _ name: String) throws -> UserRecord {
        guard let u = try lib.store.user(named: name) else {
            throw WendaoError(.notFound, "no user named '\(name)' (see `wendao users list`)")
        }
        return u
    }

    static func describe(_ u: UserJSON) -> String {
        let roles =
            u.administrator
            ? "administrator of everything"
            : u.roles.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                .joined(separator: ",")
        return [String(u.id), u.name, roles.isEmpty ? "(no knowledge bases)" : roles].joined(separator: "\t")
    }

    /// Reads a new password: one line of standard input with --password-stdin, else asked twice
    /// on the terminal without echo.
    static func readPassword(fromStdin: Bool) throws -> String {
        if fromStdin {
            guard let line = readLine(strippingNewline: true) else {
                throw WendaoError(.invalidArgument, "--password-stdin: standard input is empty")
            }
            return line
        }
        guard isatty(0) == 1 else {
            throw WendaoError(.invalidArgument, "no terminal to ask for a password on: use --password-stdin")
        }
        let first = try prompt("Password: ")
        let second = try prompt("Repeat the password: ")
        guard first == second else { throw WendaoError(.invalidArgument, "the two passwords differ") }
        return first
    }

    private static func prompt(_ text: String) throws -> String {
        FileHandle.standardError.write(Data(text.utf8))
        var old = termios()
        tcgetattr(0, &old)
        var quiet = old
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(0, TCSAFLUSH, &old)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else {
            throw WendaoError(.invalidArgument, "no password given")
        }
        return line
    }

    static func role(_ text: String) throws -> UserRole {
        guard let r = UserRole(rawValue: text) else {
            throw WendaoError(
                .invalidArgument,
                "'\(text)' is not a role: use " + UserRole.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return r
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The sign-in name: letters, digits, '.', '-', '_' or '@'.") var name: String
        @Flag(help: "A server administrator (every knowledge base, users, keys, settings).") var admin = false
        @Option(help: "A knowledge base the account works on (repeatable; with --role).") var kb: [String] = []
        @Option(help: "The role on each --kb: viewer, agent, editor or administrator.") var role = "agent"
        @Flag(help: "Read the password from one line of standard input.") var passwordStdin = false

        func run() throws {
            let lib = try global.library()
            let role = try UsersCommand.role(role)
            var roles: [Int64: UserRole] = [:]
            for k in kb { roles[try lib.open(k).record.id] = role }
            if !admin, roles.isEmpty {
                throw WendaoError(
                    .invalidArgument, "name the knowledge bases with --kb (or make an administrator with --admin)")
            }
            let password = try UsersCommand.readPassword(fromStdin: passwordStdin)
            let user = try Accounts(store: lib.store).create(
                name: name, password: password, isAdministrator: admin, roles: roles)
            let view = UserJSON(user, names: try UsersCommand.names(lib))
            if global.json { Output.json(view) } else { Output.line("created user \(UsersCommand.describe(view))") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts and their roles.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let lib = try global.library()
            let names = try UsersCommand.names(lib)
            let users = try lib.store.users().map { UserJSON($0, names: names) }
            if global.json {
                Output.json(["users": users])
            } else if users.isEmpty {
                Output.line("no users (create one with `wendao users add NAME --admin`)")
            } else {
                for u in users { Output.line(UsersCommand.describe(u)) }
            }
        }
    }

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give an account a role on knowledge bases.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's name.") var name: String
        @Option(help: "A knowledge base (repeatable).") var kb: [String] = []
        @Option(help: "viewer, agent, editor or administrator.") var role: String

        func run() throws {
            let lib = try global.library()
            let user = try UsersCommand.user(lib, name)
            guard !kb.isEmpty else { throw WendaoError(.invalidArgument, "name the knowledge bases with --kb") }
            let role = try UsersCommand.role(role)
            var roles = user.roles
            for k in kb { roles[try lib.open(k).record.id] = role }
            try lib.store.setRoles(user: user.id, isAdministrator: user.isAdministrator, roles: roles)
            let view = UserJSON(try UsersCommand.user(lib, name), names: try UsersCommand.names(lib))
            if global.json { Output.json(view) } else { Output.line("updated \(UsersCommand.describe(view))") }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take an account's role on knowledge bases away.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's name.") var name: String
        @Option(help: "A knowledge base (repeatable).") var kb: [String] = []

        func run() throws {
            let lib = try global.library()
            let user = try UsersCommand.user(lib, name)
            guard !kb.isEmpty else { throw WendaoError(.invalidArgument, "name the knowledge bases with --kb") }
            var roles = user.roles
            for k in kb { roles[try lib.open(k).record.id] = nil }
            try lib.store.setRoles(user: user.id, isAdministrator: user.isAdministrator, roles: roles)
            let view = UserJSON(try UsersCommand.user(lib, name), names: try UsersCommand.names(lib))
            if global.json { Output.json(view) } else { Output.line("updated \(UsersCommand.describe(view))") }
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an account's password (its sessions end).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's name.") var name: String
        @Flag(help: "Read the password from one line of standard input.") var passwordStdin = false

        func run() throws {
            let lib = try global.library()
            let user = try UsersCommand.user(lib, name)
            try Accounts(store: lib.store).setPassword(
                user: user.id, password: try UsersCommand.readPassword(fromStdin: passwordStdin))
            if global.json {
                Output.json(["updated": user.name])
            } else {
                Output.line("password of '\(user.name)' changed")
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an account (its sessions end).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's name.") var name: String

        func run() throws {
            let lib = try global.library()
            let user = try UsersCommand.user(lib, name)
            try lib.store.deleteUser(id: user.id)
            if global.json { Output.json(["deleted": user.name]) } else { Output.line("deleted user '\(user.name)'") }
        }
    }
}
