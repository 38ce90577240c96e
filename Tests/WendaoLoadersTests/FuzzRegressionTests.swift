import Foundation
import Testing
import WendaoTestSupport

/// Replays every input the fuzzers saved (Tests/Fixtures/fuzz/TARGET/*) through the built
/// `wendao-fuzz` replayer, plus a few hostile inputs for every target: each must be handled (parse
/// error or success), never a crash.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz")

    static func replayer() throws -> URL {
        let wendao = try WendaoCLI.requireBinary()
        let url = wendao.deletingLastPathComponent().appendingPathComponent("wendao-fuzz")
        try #require(FileManager.default.isExecutableFile(atPath: url.path), "wendao-fuzz is not built next to wendao")
        return url
    }

    static func replay(_ target: String, _ files: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = try replayer()
        p.arguments = [target] + files
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test("Saved fuzz findings no longer crash")
    func savedFindings() throws {
        let fm = FileManager.default
        let targets = (try? fm.contentsOfDirectory(atPath: Self.fixtures.path)) ?? []
        for target in targets.sorted() {
            let dir = Self.fixtures.appendingPathComponent(target)
            let files = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }
                .map { dir.appendingPathComponent($0).path }
            guard !files.isEmpty else { continue }
            let (status, output) = try Self.replay(target, files)
            #expect(status == 0, "\(target): \(output.suffix(2000))")
        }
    }

    @Test("Every target survives empty, random, truncated-archive and deeply nested inputs")
    func hostileInputsForEveryTarget() throws {
        let scratch = try ScratchDirectory("fuzz")
        defer { scratch.remove() }
        var generator = SystemRandomNumberGenerator()
        var inputs: [String: Data] = [
            "empty": Data(),
            "random": Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }),
            "zip-head": Data([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0xFF, count: 60)),
            "pdf-head": Data("%PDF-1.7\n1 0 obj << /Length 999999 >> stream\n".utf8),
            "nested": Data((String(repeating: "<div><![CDATA[", count: 5000) + "&amp;&#x110000;&#0;").utf8),
            "entities": Data(
                "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY b \"bbbbbbbb\"><!ENTITY c \"&b;&b;&b;&b;\">]><a>&c;</a>".utf8),
        ]
        inputs["long-line"] = Data(String(repeating: "字,\"", count: 50_000).utf8)
        var files: [String] = []
        for (name, data) in inputs {
            let url = scratch.child(name)
            try data.write(to: url)
            files.append(url.path)
        }
        let (listStatus, list) = try Self.replay("--list", [])
        #expect(listStatus == 0)
        let targets = list.split(separator: "\n").map(String.init)
        #expect(targets.contains("docx") && targets.contains("markdown"))
        for target in targets {
            let (status, output) = try Self.replay(target, files)
            #expect(status == 0, "\(target): \(output.suffix(2000))")
        }
    }
}
