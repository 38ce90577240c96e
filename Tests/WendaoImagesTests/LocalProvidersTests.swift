import Foundation
import Synchronization
import Testing
import WendaoCore
import WendaoImages
import WendaoTestSupport

@Suite("Stable Diffusion WebUI, ComfyUI and OpenAI-compatible images against fake servers")
struct LocalProvidersTests {
    @Test("SD WebUI txt2img: base64 images stored, the seed read from info")
    func sdValid() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let a = TestImages.png(width: 32, height: 32, seed: 5)
        let b = TestImages.png(width: 32, height: 32, seed: 6)
        let server = try await FakeProviderServer.start { _, _ in
            let info = #"{\"seed\": 1234, \"all_seeds\": [1234, 1235]}"#
            return .json(
                #"{"images":["\#(a.base64EncodedString())","data:image/png;base64,\#(b.base64EncodedString())"],"parameters":{},"info":"\#(info)"}"#
            )
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server)
        var r = GenerateRequest(model: "sdwebui:sd_xl_base_1.0", prompt: "a red parcel, studio light")
        r.count = 2
        r.size = ImageSize(width: 512, height: 768)
        r.steps = 20
        r.cfgScale = 7
        let record = try await studio.generate(r)
        await studio.shutdown()
        #expect(record.status == .succeeded)
        #expect(record.files.map(\.sha256) == [TestImages.sha(a), TestImages.sha(b)])
        #expect(record.seed == 1234)
        #expect(record.cost == 0)
        let body = try #require(server.requests.first?.jsonObject())
        #expect(server.requests.first?.path == "/sdapi/v1/txt2img")
        #expect(body["width"] as? Int == 512 && body["height"] as? Int == 768 && body["batch_size"] as? Int == 2)
        #expect((body["override_settings"] as? [String: Any])?["sd_model_checkpoint"] as? String == "sd_xl_base_1.0")
    }

    @Test("SD WebUI: progress from /sdapi/v1/progress is reported while txt2img works")
    func sdProgress() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let a = TestImages.png(width: 16, height: 16, seed: 5)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path.hasPrefix("/sdapi/v1/progress") { return .json(#"{"progress":0.42,"eta_relative":3}"#) }
            var r = FakeResponse.json(#"{"images":["\#(a.base64EncodedString())"],"info":"{}"}"#)
            r.delayBeforeHead = .milliseconds(2500)
            return r
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server)
        let notes = Notes()
        let record = try await studio.generate(GenerateRequest(model: "sdwebui:default", prompt: "x")) {
            notes.add($0.note)
        }
        await studio.shutdown()
        #expect(record.status == .succeeded)
        #expect(notes.all.contains("sdwebui 42%"))
    }

    @Test("SD WebUI: corrupt base64 and base64 of something that is not an image fail clearly")
    func sdCorrupt() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let notImage = Data("<html>oops</html>".utf8).base64EncodedString()
        let server = try await FakeProviderServer.start { _, ordinal in
            ordinal == 0
                ? .json(#"{"images":["@@@not base64@@@"],"info":"{}"}"#) : .json(#"{"images":["\#(notImage)"]}"#)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server)
        let first = try await studio.generate(GenerateRequest(model: "sdwebui:default", prompt: "x"))
        #expect(first.status == .failed)
        #expect(first.errorMessage?.contains("not valid base64") == true)
        let second = try await studio.generate(GenerateRequest(model: "sdwebui:default", prompt: "x"))
        #expect(second.status == .failed)
        #expect(second.errorMessage?.contains("HTML") == true)
        await studio.shutdown()
    }

    static let workflow = """
        {
          "3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "steps": "{{steps}}", "model": ["4", 0],
                "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
          "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
          "5": {"class_type": "EmptyLatentImage", "inputs": {"width": "{{width}}", "height": "{{height}}", "batch_size": "{{batch_size}}"}},
          "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "masterpiece, {{prompt}}", "clip": ["4", 1]}},
          "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{negative_prompt}}", "clip": ["4", 1]}},
          "8": {"class_type": "LoadImage", "inputs": {"image": "{{image:init}}"}},
          "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "wendao", "images": ["3", 0]}}
        }
        """

    @Test("ComfyUI: placeholders filled, upload, prompt queued, history polled until done, /view fetched")
    func comfy() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let out = TestImages.png(width: 24, height: 24, seed: 7)
        let polls = Counter()
        let server = try await FakeProviderServer.start { req, _ in
            switch true {
            case req.path == "/upload/image": return .json(#"{"name":"wendao-init.png","subfolder":"","type":"input"}"#)
            case req.path == "/prompt": return .json(#"{"prompt_id":"p-42","number":1,"node_errors":{}}"#)
            case req.path == "/queue": return .json(#"{"queue_running":[[0,"p-42",{},{},[]]],"queue_pending":[]}"#)
            case req.path.hasPrefix("/history/"):
                if polls.next() < 2 { return .json("{}") }
                return .json(
                    #"{"p-42":{"prompt":[],"outputs":{"9":{"images":[{"filename":"wendao_00001_.png","subfolder":"","type":"output"}]},"12":{"images":[{"filename":"preview.png","subfolder":"","type":"temp"}]}},"status":{"status_str":"success","completed":true,"messages":[]}}}"#
                )
            case req.path.hasPrefix("/view"): return pngResponse(out)
            default: return .text("no", status: 404)
            }
        }
        defer { Task { await server.shutdown() } }
        let wf = try scratch.write("wf.json", Self.workflow)
        let initial = try scratch.write("init.png", TestImages.png(width: 80, height: 80))
        let studio = try makeStudio(scratch, server: server) { $0.comfyuiWorkflows["product"] = wf.path }
        var r = GenerateRequest(model: "comfyui:product", prompt: "白底 保温杯")
        r.size = ImageSize(width: 512, height: 512)
        r.seed = 99
        r.steps = 12
        r.negativePrompt = "blurry"
        r.initImage = initial
        let record = try await studio.generate(r)
        await studio.shutdown()
        #expect(record.status == .succeeded)
        #expect(record.files.count == 1)
        #expect(record.files.first?.sha256 == TestImages.sha(out))
        #expect(record.taskID == "p-42")
        let queued = try #require(
            server.requests.first { $0.path == "/prompt" }?.jsonObject()?["prompt"] as? [String: Any])
        let ks = (queued["3"] as? [String: Any])?["inputs"] as? [String: Any]
        #expect(ks?["seed"] as? Int == 99 && ks?["steps"] as? Int == 12)
        let text = ((queued["6"] as? [String: Any])?["inputs"] as? [String: Any])?["text"] as? String
        #expect(text == "masterpiece, 白底 保温杯")
        let image = ((queued["8"] as? [String: Any])?["inputs"] as? [String: Any])?["image"] as? String
        #expect(image == "wendao-init.png")
        #expect(server.requests.filter { $0.path.hasPrefix("/view") }.count == 1)  // the temp preview is skipped
    }

    @Test("ComfyUI: a refused workflow (node_errors) and a failed execution give clear messages")
    func comfyErrors() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let refuse = Switch()
        refuse.set(true)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path == "/prompt" {
                if refuse.isOn {
                    return .json(
                        #"{"error":{"type":"prompt_outputs_failed_validation","message":"Prompt outputs failed validation","details":"","extra_info":{}},"node_errors":{"4":{"errors":[{"type":"value_not_in_list","message":"Value not in list","details":"ckpt_name: 'sd15.safetensors' not in []","extra_info":{}}],"dependent_outputs":["9"],"class_type":"CheckpointLoaderSimple"}}}"#,
                        status: 400)
                }
                return .json(#"{"prompt_id":"p-1","number":1,"node_errors":{}}"#)
            }
            return .json(
                #"{"p-1":{"outputs":{},"status":{"status_str":"error","completed":false,"messages":[["execution_start",{}],["execution_error",{"node_id":"3","exception_message":"CUDA out of memory"}]]}}}"#
            )
        }
        defer { Task { await server.shutdown() } }
        let wf = try scratch.write("wf.json", Self.workflow.replacingOccurrences(of: "{{image:init}}", with: "x.png"))
        let studio = try makeStudio(scratch, server: server)
        var r = GenerateRequest(model: "comfyui:wf", prompt: "x")
        r.workflow = wf
        await #expect { try await studio.generate(r) } throws: { error in
            let m = (error as? WendaoError)?.message ?? ""
            return m.contains("node 4 (CheckpointLoaderSimple)") && m.contains("Value not in list")
        }
        refuse.set(false)
        let failed = try await studio.generate(r)
        #expect(failed.status == .failed)
        #expect(failed.errorMessage == "CUDA out of memory")
        // A UI-format export is refused before anything is sent.
        let ui = try scratch.write("ui.json", #"{"nodes":[],"links":[],"version":0.4}"#)
        r.workflow = ui
        await #expect { try await studio.generate(r) } throws: {
            ($0 as? WendaoError)?.message.contains("Save (API)") == true
        }
        await studio.shutdown()
    }

    @Test("OpenAI-compatible /images/generations with b64_json and url answers")
    func openAI() async throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let a = TestImages.png(width: 16, height: 16, seed: 1)
        let b = TestImages.png(width: 16, height: 16, seed: 2)
        let server = try await FakeProviderServer.start { req, _ in
            if req.path == "/v1/images/generations" {
                let port = req.header("host")?.split(separator: ":").last ?? ""
                return .json(
                    #"{"created":1,"data":[{"b64_json":"\#(a.base64EncodedString())","revised_prompt":"a parcel"},{"url":"http://127.0.0.1:\#(port)/img/b.png"}]}"#
                )
            }
            if req.path.hasPrefix("/img/") { return pngResponse(b) }
            return .text("no", status: 404)
        }
        defer { Task { await server.shutdown() } }
        let studio = try makeStudio(scratch, server: server) { $0.prices["openai:gpt-image-1"] = 0.3 }
        var r = GenerateRequest(model: "openai:gpt-image-1", prompt: "a parcel")
        r.count = 2
        r.size = ImageSize(width: 1024, height: 1024)
        let record = try await studio.generate(r)
        await studio.shutdown()
        #expect(record.status == .succeeded)
        #expect(record.files.map(\.sha256) == [TestImages.sha(a), TestImages.sha(b)])
        #expect(record.actualPrompt == "a parcel")
        #expect(abs((record.cost ?? 0) - 0.6) < 1e-9)
        let body = try #require(server.requests.first?.jsonObject())
        #expect(body["size"] as? String == "1024x1024")
    }
}

/// Progress notes collected from a task.
final class Notes: Sendable {
    private let list = Mutex<[String]>([])
    func add(_ s: String) { list.withLock { $0.append(s) } }
    var all: [String] { list.withLock { $0 } }
}
