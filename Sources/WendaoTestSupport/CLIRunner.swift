public import Foundation
public import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The result of one `wendao` run.
public struct RunResult {
    public var status: Int32
    /// True when the process ended by a signal (a crash), not by exit.
    public var signalled: Bool
    public var stdout: String
    public var stderr: String

    /// stdout parsed as one JSON object.
    public func json(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let obj = try? JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(
            obj as? [String: Any], "stdout is not a JSON object: \(stdout.prefix(500)) — stderr: \(stderr.prefix(500))",
            sourceLocation: sourceLocation)
    }
}

/// Finds and runs the built `wendao` executable.
public enum WendaoCLI {
    public static let binary: URL? = {
        let fm = FileManager.default
        func executable(_ url: URL) -> Bool {
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: url.path, isDirectory: &isDir) && !isDir.boolValue
                && fm.isExecutableFile(atPath: url.path)
        }
        if let env = ProcessInfo.processInfo.environment["WENDAO_BIN"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        let starts = [
            Bundle.main.bundleURL, Bundle.main.executableURL,
            URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL,
        ].compactMap { $0 }
        for start in starts {
            var dir = start
            for _ in 0..<6 {
                let candidate = dir.appendingPathComponent("wendao")
                if executable(candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
                if dir.path == "/" { break }
            }
        }
        return nil
    }()

    public static func requireBinary(sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        try #require(
            binary, "cannot find the wendao executable next to the test bundle; set WENDAO_BIN",
            sourceLocation: sourceLocation)
    }

    /// Starts `wendao args…`; output goes to files in `scratch`.
    public static func start(_ args: [String], scratch: ScratchDirectory, environment: [String: String] = [:]) throws -> (
        Process, URL, URL
    ) {
        let p = Process()
        p.executableURL = try requireBinary()
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "WENDAO_DATA")
        env.removeValue(forKey: "WENDAO_MODEL")
        env.removeValue(forKey: "WENDAO_CONFIG")
        for (k, _) in env where k.hasSuffix("_API_KEY") || k.hasSuffix("_BASE_URL") { env.removeValue(forKey: k) }
        env["WENDAO_LOG_LEVEL"] = "error"
        env.merge(environment) { _, new in new }
        p.environment = env
        let id = UUID().uuidString
        let out = scratch.child("stdout-\(id)")
        let err = scratch.child("stderr-\(id)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return (p, out, err)
    }

    public static func finish(_ p: Process, _ out: URL, _ err: URL) -> RunResult {
        p.waitUntilExit()
        let stdout = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: out)
        try? FileManager.default.removeItem(at: err)
        return RunResult(
            status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal, stdout: stdout,
            stderr: stderr)
    }

    /// Runs `wendao args…` to completion without blocking a concurrency thread (in-process servers
    /// must keep running meanwhile).
    public static func runAsync(_ args: [String], scratch: ScratchDirectory, environment: [String: String]) async throws
        -> RunResult
    {
        let (p, out, err) = try start(args, scratch: scratch, environment: environment)
        return await finishAsync(p, out, err)
    }

    /// ``finish(_:_:_:)`` without blocking a concurrency thread.
    public static func finishAsync(_ p: Process, _ out: URL, _ err: URL) async -> RunResult {
        while p.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        return finish(p, out, err)
    }

}

/// A data directory plus a source folder for CLI runs.
public final class CLIFixture {
    public let scratch: ScratchDirectory
    public let data: String

    public init() throws {
        scratch = try ScratchDirectory("cli")
        data = scratch.child("data").path
    }

    public func run(_ args: String..., sourceLocation: SourceLocation = #_sourceLocation) async throws -> RunResult {
        try await run(args, sourceLocation: sourceLocation)
    }

    /// Runs `wendao args…` to completion; waiting never blocks a concurrency thread (in-process
    /// servers of other tests must keep running meanwhile).
    public func run(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> RunResult {
        let r = try await WendaoCLI.runAsync(args + ["--data", data], scratch: scratch, environment: [:])
        #expect(!r.signalled, "wendao \(args) crashed: \(r.stderr.suffix(1000))", sourceLocation: sourceLocation)
        return r
    }

    /// Runs `wendao args…` with extra environment variables, asynchronously.
    public func runAsync(_ args: [String], environment: [String: String], sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> RunResult
    {
        let r = try await WendaoCLI.runAsync(args + ["--data", data], scratch: scratch, environment: environment)
        #expect(!r.signalled, "wendao \(args) crashed: \(r.stderr.suffix(1000))", sourceLocation: sourceLocation)
        return r
    }

    public func writeFacts() throws -> String {
        try scratch.write(
            "src/kb/pricing.md",
            """
            # 价格说明

            ## 首重与续重

            标准快递首重收费12元，续重每公斤收费3元。

            ## 保价

            保价费按声明价值的1%收取。
            """)
        try scratch.write("src/kb/contact.txt", "客服热线400-820-5566，每天8点到22点有人接听。")
        return scratch.child("src/kb").path
    }
}
