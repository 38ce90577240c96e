// Fuzz harness for the parsers that read untrusted files and pages, and for the server's request
// handling (multipart bodies, the router).
//
// Normal builds get a replayer: `wendao-fuzz TARGET FILE…` runs one target over saved inputs
// (crash reproduction). Built for libFuzzer (scripts/fuzz.sh) with `-DWENDAO_LIBFUZZER
// -sanitize=fuzzer,address`, the target named by WENDAO_FUZZ_TARGET is driven by libFuzzer.
import Foundation
import WendaoCore
import WendaoLoaders
import WendaoWeb

/// Limits small enough that a fuzz input cannot make one run slow.
let fuzzLimits: LoaderLimits = {
    var l = LoaderLimits()
    l.maxStructuredBytes = 1 << 20
    l.maxBinaryBytes = 1 << 20
    l.maxInflatedBytes = 8 << 20
    l.maxArchiveEntries = 256
    l.maxSheetRows = 2_000
    l.ocrEnabled = false
    return l
}()

/// Runs the parser `name` over one input; parse errors are expected, crashes are the finding.
func runTarget(_ name: String, _ data: Data) -> Bool {
    func load(_ ext: String) { _ = try? DocumentLoader.load(data: data, identity: "f", fileName: "f.\(ext)", limits: fuzzLimits) }
    switch name {
    case "text": load("txt")
    case "markdown": load("md")
    case "html": load("html")
    case "csv": load("csv")
    case "json": load("json")
    case "jsonl": load("jsonl")
    case "svg": load("svg")
    case "sniff": load("bin")
    case "docx": _ = try? OfficeLoader.docx(data, limits: fuzzLimits)
    case "xlsx": _ = try? OfficeLoader.xlsx(data, limits: fuzzLimits)
    case "pptx": _ = try? OfficeLoader.pptx(data, limits: fuzzLimits)
    case "epub": _ = try? OfficeLoader.epub(data, limits: fuzzLimits)
    default:
        if !FuzzWebTargets.run(name, data) && !FuzzServerTargets.run(name, data) { return false }
    }
    return true
}

/// Every target name, for `--list` and scripts/fuzz.sh.
let targetNames = [
    "text", "markdown", "html", "csv", "json", "jsonl", "svg", "sniff", "docx", "xlsx", "pptx", "epub",
] + FuzzWebTargets.names + FuzzServerTargets.names

#if WENDAO_LIBFUZZER
    nonisolated(unsafe) var activeTarget = ProcessInfo.processInfo.environment["WENDAO_FUZZ_TARGET"] ?? "markdown"

    @_cdecl("LLVMFuzzerTestOneInput")
    func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
        _ = runTarget(activeTarget, Data(bytes: bytes, count: count))
        return 0
    }

    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
    ) -> Int32

    guard targetNames.contains(activeTarget) else {
        FileHandle.standardError.write(Data("unknown WENDAO_FUZZ_TARGET \(activeTarget)\n".utf8))
        exit(2)
    }
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
#else
    let args = Array(CommandLine.arguments.dropFirst())
    if args.first == "--list" || args.isEmpty {
        print(targetNames.joined(separator: "\n"))
        exit(args.isEmpty ? 2 : 0)
    }
    let target = args[0]
    guard targetNames.contains(target) else {
        FileHandle.standardError.write(Data("unknown target \(target); --list shows them\n".utf8))
        exit(2)
    }
    for path in args.dropFirst() {
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
            exit(1)
        }
        _ = runTarget(target, data)
        print("ok \(path)")
    }
#endif
