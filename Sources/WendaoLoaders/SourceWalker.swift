import Foundation
public import WendaoCore

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Finds the files to ingest under the paths a user gives: files are taken as they are, folders are
/// walked recursively.
///
/// Hidden files and folders (names starting with `.`) are skipped, as are sockets, FIFOs and
/// devices. Symbolic links are followed (unless `followSymlinks` is false) and loops are reported,
/// never walked forever. Problems with one path (missing, permission denied, loop) are collected as
/// errors and the walk goes on. Results are sorted by identity.
///
/// ```swift
/// let (files, errors) = SourceWalker(include: ["*.{md,csv}"], exclude: ["drafts/**"]).walk(["logistics"])
/// // files[0].identity == "logistics/faq/发票.csv"
/// ```
public struct SourceWalker: Sendable {
    /// Glob patterns a file must match (any of them) to be taken; empty takes every file.
    public var include: [String]
    /// Glob patterns that exclude files (and prune folders); exclusion wins over inclusion.
    public var exclude: [String]
    /// Whether symbolic links to files and folders are followed.
    public var followSymlinks: Bool

    /// Creates a walker. Patterns support `*`, `?`, `**`, `[abc]` and `{md,txt}` and are matched
    /// against the path below the given folder, the file name and the identity.
    public init(include: [String] = [], exclude: [String] = [], followSymlinks: Bool = true) {
        self.include = include
        self.exclude = exclude
        self.followSymlinks = followSymlinks
    }

    /// Walks `paths` and returns the files found (sorted by identity) and the problems met.
    public func walk(_ paths: [String]) -> (files: [SourceFile], errors: [(path: String, error: WendaoError)]) {
        var state = WalkState(
            includes: include.map(Glob.init), excludes: exclude.map(Glob.init), followSymlinks: followSymlinks)
        for path in paths {
            state.walkRoot(path)
        }
        let files = state.files.sorted { $0.identity < $1.identity }
        return (files, state.errors)
    }
}

private struct FileID: Hashable {
    var device: UInt64
    var inode: UInt64
}

private struct FileInfo {
    enum Kind { case file, directory, symlink, other }
    var kind: Kind
    var id: FileID
    var size: Int64
}

/// Ancestor chain of a directory being walked, to tell a loop from a second link to a folder.
private final class DirNode: Sendable {
    let id: FileID
    let parent: DirNode?
    init(id: FileID, parent: DirNode?) {
        self.id = id
        self.parent = parent
    }

    func hasAncestor(_ target: FileID) -> Bool {
        var node: DirNode? = self
        while let n = node {
            if n.id == target { return true }
            node = n.parent
        }
        return false
    }
}

private struct WalkState {
    let includes: [Glob]
    let excludes: [Glob]
    let followSymlinks: Bool
    var files: [SourceFile] = []
    var errors: [(path: String, error: WendaoError)] = []
    var identities: [String: FileID] = [:]

    init(includes: [Glob], excludes: [Glob], followSymlinks: Bool) {
        self.includes = includes
        self.excludes = excludes
        self.followSymlinks = followSymlinks
    }

    mutating func walkRoot(_ path: String) {
        guard !path.isEmpty else {
            errors.append((path, WendaoError(.notFound, "no such file or directory")))
            return
        }
        let info: FileInfo
        switch Self.info(path, follow: true) {
        case .failure(let e):
            if e.code == .notFound, case .success(let l) = Self.info(path, follow: false), l.kind == .symlink {
                errors.append((path, WendaoError(.notFound, "broken symbolic link")))
            } else {
                errors.append((path, e))
            }
            return
        case .success(let i):
            info = i
        }
        switch info.kind {
        case .file:
            let name = Self.lastComponent(path)
            guard accepted(rel: name, name: name, identity: name) else { return }
            addFile(path: path, identity: name, info: info)
        case .directory:
            walkDirectory(path, id: info.id)
        default:
            errors.append((path, WendaoError(.unsupported, "not a regular file or folder")))
        }
    }

    mutating func walkDirectory(_ root: String, id rootID: FileID) {
        let rootName = Self.rootName(ofDirectory: root)
        let base = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        var visited: Set<FileID> = [rootID]
        // Each entry: the folder's path, its path below the root ("" for the root), its ancestors.
        var stack: [(path: String, rel: String, node: DirNode)] = [(base, "", DirNode(id: rootID, parent: nil))]
        while let dir = stack.popLast() {
            let names: [String]
            switch Self.list(dir.path) {
            case .failure(let e):
                errors.append((dir.path, e))
                continue
            case .success(let n):
                names = n
            }
            var subdirs: [(path: String, rel: String, node: DirNode)] = []
            for name in names where !name.hasPrefix(".") {
                let full = dir.path == "/" ? "/" + name : dir.path + "/" + name
                let rel = dir.rel.isEmpty ? name : dir.rel + "/" + name
                var info: FileInfo
                switch Self.info(full, follow: false) {
                case .failure(let e):
                    errors.append((full, e))
                    continue
                case .success(let i):
                    info = i
                }
                if info.kind == .symlink {
                    guard followSymlinks else { continue }
                    switch Self.info(full, follow: true) {
                    case .failure(let e):
                        let error =
                            e.code == .notFound ? WendaoError(.notFound, "broken symbolic link") : e
                        errors.append((full, error))
                        continue
                    case .success(let target):
                        info = target
                    }
                }
                switch info.kind {
                case .directory:
                    if visited.contains(info.id) {
                        if dir.node.hasAncestor(info.id) {
                            errors.append((full, WendaoError(.unreadable, "symlink loop")))
                        }
                        // Otherwise a second link to a folder already walked: skipped.
                        continue
                    }
                    if excluded(rel: rel, name: name, identity: rootName + "/" + rel) { continue }
                    visited.insert(info.id)
                    subdirs.append((full, rel, DirNode(id: info.id, parent: dir.node)))
                case .file:
                    let identity = rootName + "/" + rel
                    guard accepted(rel: rel, name: name, identity: identity) else { continue }
                    if access(full, R_OK) != 0 {
                        errors.append((full, Self.error(errno)))
                        continue
                    }
                    addFile(path: full, identity: identity, info: info)
                default:
                    continue  // sockets, FIFOs, devices
                }
            }
            stack.append(contentsOf: subdirs.reversed())
        }
    }

    mutating func addFile(path: String, identity: String, info: FileInfo) {
        if let existing = identities[identity] {
            if existing != info.id {
                errors.append((path, WendaoError(.alreadyExists, "another file has the same identity '\(identity)'")))
            }
            return
        }
        identities[identity] = info.id
        files.append(SourceFile(url: URL(fileURLWithPath: path), identity: identity, size: info.size))
    }

    func accepted(rel: String, name: String, identity: String) -> Bool {
        if excluded(rel: rel, name: name, identity: identity) { return false }
        if includes.isEmpty { return true }
        return includes.contains { $0.matches(rel) || $0.matches(name) || $0.matches(identity) }
    }

    func excluded(rel: String, name: String, identity: String) -> Bool {
        excludes.contains { $0.matches(rel) || $0.matches(name) || $0.matches(identity) }
    }

    // MARK: POSIX helpers

    static func rootName(ofDirectory root: String) -> String {
        var name = lastComponent(root)
        if name == "." || name == ".." || name == "/" || name.isEmpty {
            name = lastComponent(realPath(root) ?? root)
        }
        if name.isEmpty || name == "/" || name == "." || name == ".." { name = "root" }
        return name
    }

    static func lastComponent(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        if p == "/" { return "/" }
        return p.split(separator: "/").last.map(String.init) ?? String(p)
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func info(_ path: String, follow: Bool) -> Result<FileInfo, WendaoError> {
        var st = stat()
        let rc = follow ? stat(path, &st) : lstat(path, &st)
        guard rc == 0 else { return .failure(error(errno)) }
        let type = st.st_mode & S_IFMT
        let kind: FileInfo.Kind
        if type == S_IFREG {
            kind = .file
        } else if type == S_IFDIR {
            kind = .directory
        } else if type == S_IFLNK {
            kind = .symlink
        } else {
            kind = .other
        }
        let id = FileID(device: UInt64(truncatingIfNeeded: st.st_dev), inode: UInt64(truncatingIfNeeded: st.st_ino))
        return .success(FileInfo(kind: kind, id: id, size: Int64(st.st_size)))
    }

    /// Entry names of a folder, sorted.
    static func list(_ path: String) -> Result<[String], WendaoError> {
        guard let dir = opendir(path) else { return .failure(error(errno)) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return .success(names.sorted())
    }

    static func error(_ code: Int32) -> WendaoError {
        switch code {
        case ENOENT, ENOTDIR: return WendaoError(.notFound, "no such file or directory")
        case EACCES, EPERM: return WendaoError(.unreadable, "permission denied")
        case ELOOP: return WendaoError(.unreadable, "symlink loop")
        case ENAMETOOLONG: return WendaoError(.unreadable, "file name too long")
        default:
            let message = strerror(code).map { String(cString: $0) } ?? "error \(code)"
            return WendaoError(.unreadable, message.lowercased())
        }
    }
}

extension SourceWalker {
    /// The name a folder given to ``walk(_:)`` lends to the identities below it: its name as given;
    /// `.`, `..` and `/` use the resolved folder's name (`root` for the file-system root).
    public static func rootName(ofDirectory root: String) -> String {
        WalkState.rootName(ofDirectory: root)
    }
}
