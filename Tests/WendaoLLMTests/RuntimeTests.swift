import Foundation
import Synchronization
import Testing
import WendaoCore
import WendaoTestSupport
@testable import WendaoLLM

/// The committed tiny models (scripts/make-tiny-gguf.py), found through this file's real location.
enum TinyModels {
    static let folder = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/llm")
    static var qwen2: String { folder.appendingPathComponent("tiny-qwen2.gguf").path }
    static var llamaSPM: String { folder.appendingPathComponent("tiny-llama-spm.gguf").path }
}

/// The generation loop, the cache and the chat-model contract, on the tiny qwen2 model (random
/// weights: what it says is noise, but every path of the runtime runs).
@Suite struct RuntimeTests {
    func model(context: Int? = nil, threads: Int = 2) throws -> LanguageModel {
        try LanguageModel(path: TinyModels.qwen2, contextLength: context, threads: threads)
    }

    func logits(_ m: LanguageModel, _ tokens: [Int32]) throws -> [Float] {
        let p = try m.evaluate(tokens)
        return Array(UnsafeBufferPointer(start: p, count: m.hyperparameters.vocabularySize))
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test("The metadata gives the shape: qwen2 rotates halves, the cache is sized for the context asked")
    func hyperparameters() throws {
        let m = try model(context: 256)
        let h = m.hyperparameters
        #expect(h.architecture == .qwen2)
        #expect(h.rotatesHalves)
        #expect(h.heads % h.kvHeads == 0)
        #expect(m.contextLength == 256)
        #expect(m.cacheBytes == 2 * h.layers * 256 * h.kvHeads * h.headDimension * 2)
        // A context longer than the model's is cut to the model's.
        #expect(try model(context: 1 << 20).contextLength == h.contextLength)
    }

    @Test("Batched prefill gives the logits of one-token-at-a-time decoding")
    func batchedEqualsStepwise() throws {
        let m = try model()
        let prompt = m.tokenizer.encode("The knowledge base answers questions about the documents", addBOS: false)
        #expect(prompt.count > 4)
        let batched = try logits(m, prompt)
        m.resetCache()
        _ = try m.evaluate([prompt[0]])
        var last: UnsafeMutablePointer<Float>?
        for t in prompt.dropFirst() { last = try m.step(t) }
        let stepwise = Array(UnsafeBufferPointer(start: last!, count: m.hyperparameters.vocabularySize))
        let scale = batched.map(abs).max() ?? 1
        #expect(Self.maxDifference(batched, stepwise) <= 1e-3 * scale)
    }

    @Test("The cached prefix is reused: a second prompt sharing it gives the logits of a fresh run")
    func prefixReuse() throws {
        let m = try model()
        let a = m.tokenizer.encode("hello world, hello", addBOS: false)
        let b = m.tokenizer.encode("hello world, goodbye", addBOS: false)
        _ = try m.evaluate(a)
        let reused = try logits(m, b)
        m.resetCache()
        let fresh = try logits(m, b)
        #expect(reused == fresh)
    }

    @Test("One thread and two give the same logits")
    func threadsAgree() throws {
        let prompt: [Int32] = [5, 17, 42, 99, 7, 3]
        let one = try logits(try model(threads: 1), prompt)
        let two = try logits(try model(threads: 2), prompt)
        #expect(one == two)
    }

    @Test("The portable and the AVX2 kernels give nearly the same logits")
    func kernelsAgree() throws {
        guard LLMKernels.fast else { return }  // the portable kernels are the only ones on this CPU
        let m = try model()
        let prompt: [Int32] = [5, 17, 42, 99, 7, 3]
        let fast = try logits(m, prompt)
        let h = m.hyperparameters
        // The same forward pass with the portable kernels, through the transformer directly.
        let t = try Transformer(file: m.file, contextLength: 64, threads: 1, portable: true)
        try t.forward(prompt, position: 0)
        let portable = Array(UnsafeBufferPointer(start: t.logits.p, count: h.vocabularySize))
        let scale = fast.map(abs).max() ?? 1
        #expect(Self.maxDifference(fast, portable) <= 1e-3 * scale)
    }

    @Test("max tokens 0 generates nothing; a huge max tokens stops at the end of the context")
    func maxTokensBounds() throws {
        let m = try model(context: 48)
        let prompt = m.tokenizer.encode("hello", addBOS: false)
        let none = try m.generate(prompt, limits: GenerationLimits(maxTokens: 0)) { _ in true }
        #expect(none.tokens.isEmpty && none.text.isEmpty && none.finishReason == "length")
        // Greedy on random weights may hit an end token early; ignore none, count what was generated.
        let all = try m.generate(prompt, limits: GenerationLimits(maxTokens: 1_000_000_000)) { _ in true }
        #expect(all.tokens.count <= 48 - prompt.count)
        if all.finishReason == "length" { #expect(all.tokens.count == 48 - prompt.count) }
    }

    @Test("A prompt longer than the context is refused with the counts")
    func promptTooLong() throws {
        let m = try model(context: 32)
        let prompt = [Int32](repeating: 5, count: 40)
        do {
            _ = try m.generate(prompt) { _ in true }
            Issue.record("no error")
        } catch {
            #expect(error.code == .contextTooLong)
            #expect(error.message.contains("40") && error.message.contains("32"))
        }
    }

    @Test("Token ids outside the vocabulary are refused, not read out of bounds")
    func badTokens() throws {
        let m = try model()
        #expect(throws: WendaoError.self) { try m.evaluate([Int32(m.hyperparameters.vocabularySize)]) }
        #expect(throws: WendaoError.self) { try m.evaluate([-1]) }
        // The cache is usable afterwards.
        _ = try m.evaluate([1, 2, 3])
    }

    @Test("A seed reproduces a sampled generation; stepping callbacks see every piece")
    func seededSampling() throws {
        let m = try model()
        let prompt = m.tokenizer.encode("hello world", addBOS: false)
        let options = SamplingOptions(temperature: 1.0, topK: 0, topP: 1, minP: 0, seed: 11)
        var pieces = ""
        let a = try m.generate(prompt, sampling: options, limits: GenerationLimits(maxTokens: 12)) {
            pieces += $0.text
            return true
        }
        let b = try m.generate(prompt, sampling: options, limits: GenerationLimits(maxTokens: 12)) { _ in true }
        #expect(a.tokens == b.tokens)
        #expect(pieces == a.text)
    }

    @Test("Cancellation between tokens stops generation with 'cancelled'")
    func cancellation() throws {
        let m = try model()
        let flag = CancelFlag()
        var steps = 0
        do {
            _ = try m.generate(
                [1, 2, 3], sampling: SamplingOptions(temperature: 1, seed: 1),
                limits: GenerationLimits(maxTokens: 100, isCancelled: { flag.isSet })
            ) { _ in
                steps += 1
                if steps == 3 { flag.set() }
                return true
            }
            Issue.record("no error")
        } catch {
            #expect(error.code == .cancelled)
            #expect(steps == 3)
        }
    }

    @Test("An unknown architecture is refused by name")
    func unknownArchitecture() throws {
        let scratch = try ScratchDirectory()
        var w = GGUFWriter()
        w.add("general.architecture", string: "mamba")
        let path = scratch.child("m.gguf").path
        try Data(w.bytes()).write(to: URL(fileURLWithPath: path))
        do {
            _ = try LanguageModel(path: path)
            Issue.record("no error")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("mamba"))
        }
    }

    @Test("A tensor type the kernels do not run is refused by name")
    func unsupportedTensorType() throws {
        let scratch = try ScratchDirectory()
        var w = GGUFWriter()
        w.add("general.architecture", string: "llama")
        w.add("llama.block_count", u32: 1)
        w.add("llama.embedding_length", u32: 256)
        w.add("llama.feed_forward_length", u32: 256)
        w.add("llama.attention.head_count", u32: 4)
        w.add("llama.vocab_size", u32: 4)
        // Q2_K (type 10): 84 bytes per 256 values.
        w.tensors.append(("token_embd.weight", [256, 4], 10, Array(repeating: 0, count: 4 * 84)))
        w.tensors.append(("output_norm.weight", [256], 0, Array(repeating: 0, count: 1024)))
        let path = scratch.child("m.gguf").path
        try Data(w.bytes()).write(to: URL(fileURLWithPath: path))
        do {
            _ = try Transformer(file: try GGUFFile(path: path), contextLength: 16, threads: 1)
            Issue.record("no error")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("Q2_K") && error.message.contains("token_embd.weight"))
        }
    }

    @Test("A missing tensor is named")
    func missingTensor() throws {
        let scratch = try ScratchDirectory()
        let original = try Data(contentsOf: URL(fileURLWithPath: TinyModels.qwen2))
        // Rename one tensor in place (same length): the model then lacks blk.1.ffn_up.weight.
        let needle = Data("blk.1.ffn_up.weight".utf8)
        let range = try #require(original.range(of: needle))
        var damaged = original
        damaged.replaceSubrange(range, with: Data("blk.1.ffn_uq.weight".utf8))
        let path = scratch.child("m.gguf").path
        try damaged.write(to: URL(fileURLWithPath: path))
        do {
            _ = try LanguageModel(path: path)
            Issue.record("no error")
        } catch {
            #expect(error.code == .corrupt)
            #expect(error.message.contains("blk.1.ffn_up.weight"))
        }
    }
}

/// ``LocalChatModel``: the chat contract, the queue, a replaced file.
@Suite struct LocalChatModelTests {
    @Test("Streams text, then usage and the finish reason")
    func streams() async throws {
        let m = try LocalChatModel(id: "local:tiny", path: TinyModels.qwen2, contextLength: 128, threads: 1)
        var text = ""
        var usage: TokenUsage?
        var finish: String?
        for try await e in m.streamChat([ChatMessage(.user, "hello")], options: ChatOptions(temperature: 0, maxTokens: 8))
        {
            switch e {
            case .text(let t): text += t
            case .usage(let u): usage = u
            case .finish(let f): finish = f
            case .reasoning: break
            }
        }
        let u = try #require(usage)
        #expect(u.promptTokens > 0 && u.completionTokens <= 8)
        #expect(!u.estimated)
        #expect(finish == "stop" || finish == "length")
        #expect(m.contextWindow == 128)
        _ = text
    }

    @Test("Two requests at once both finish, one after the other")
    func queued() async throws {
        let m = try LocalChatModel(id: "local:tiny", path: TinyModels.qwen2, contextLength: 128, threads: 1)
        async let a = m.complete([ChatMessage(.user, "hello")], options: ChatOptions(temperature: 0, maxTokens: 16))
        async let b = m.complete([ChatMessage(.user, "hello")], options: ChatOptions(temperature: 0, maxTokens: 16))
        let (ra, rb) = try await (a, b)
        // Greedy on the same prompt: the same answer, whatever order they ran in.
        #expect(ra.text == rb.text)
        #expect(ra.usage == rb.usage)
    }

    @Test("Beyond the queue limit work is refused at once; queued work runs in order")
    func queueLimit() throws {
        let worker = SerialWorker(name: "test")
        let gate = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let order = OrderLog()
        #expect(worker.submit(limit: 1) {
            gate.wait()
            order.add(1)
        })
        #expect(worker.submit(limit: 1) {
            order.add(2)
            done.signal()
        })
        // One running, one waiting: a third is refused.
        #expect(!worker.submit(limit: 1) { order.add(3) })
        gate.signal()
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(order.values == [1, 2])
    }

    @Test("A model file replaced on disk is loaded again for the next request")
    func replacedFile() async throws {
        let scratch = try ScratchDirectory()
        let path = scratch.child("model.gguf").path
        try FileManager.default.copyItem(atPath: TinyModels.qwen2, toPath: path)
        let m = try LocalChatModel(id: "local:\(path)", path: path, contextLength: 64, threads: 1)
        _ = try await m.complete([ChatMessage(.user, "hello")], options: ChatOptions(temperature: 0, maxTokens: 2))
        let before = ObjectIdentifier(m.model)
        // Replace it (a new file renamed over the old one, as a download does).
        let fresh = scratch.child("new.gguf").path
        try FileManager.default.copyItem(atPath: TinyModels.qwen2, toPath: fresh)
        _ = rename(fresh, path)
        _ = try await m.complete([ChatMessage(.user, "hello")], options: ChatOptions(temperature: 0, maxTokens: 2))
        #expect(ObjectIdentifier(m.model) != before)
        // Deleted: a clear error, not a crash.
        try FileManager.default.removeItem(atPath: path)
        do {
            _ = try await m.complete([ChatMessage(.user, "hello")], options: ChatOptions(maxTokens: 2))
            Issue.record("no error")
        } catch let e as WendaoError {
            #expect(e.code == .unavailable)
        }
    }
}

/// Values appended from several threads.
final class OrderLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int] = []
    func add(_ v: Int) { lock.withLock { items.append(v) } }
    var values: [Int] { lock.withLock { items } }
}

/// ``Parallel``'s worker pool hands each thread one contiguous part of the range first and lets it
/// take what is left of the others' parts: every index must still be covered exactly once, with
/// participants in range, whatever the count, the grain and the number of threads.
@Suite struct ParallelCoverageTests {
    @Test(arguments: [2, 3])
    func everyIndexOnce(threads: Int) {
        let parallel = Parallel(threads: threads)
        for count in [1, 2, 3, 7, 64, 1000, 4099] {
            for grain in [1, 5, 32, Int.max] {
                let hits = UnsafeMutablePointer<Int32>.allocate(capacity: count)
                hits.initialize(repeating: 0, count: count)
                defer { hits.deallocate() }
                let shared = SharedPointer(hits)
                let bad = ParticipantFlag()
                for _ in 0..<20 {
                    parallel.forEachChunk(count, grain: grain) { range, participant in
                        if participant < 0 || participant >= threads { bad.set.withLock { $0 = true } }
                        // Chunks are disjoint: each index is written by one thread only.
                        for i in range { shared.p[i] += 1 }
                    }
                }
                #expect(!bad.set.withLock { $0 })
                #expect((0..<count).allSatisfy { hits[$0] == 20 }, "count \(count), grain \(grain)")
            }
        }
    }
}

/// Set by any chunk that got a participant number out of range.
private final class ParticipantFlag: Sendable {
    let set = Mutex(false)
}
