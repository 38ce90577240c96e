import Foundation
import Testing
import WendaoCore
import WendaoImages
import WendaoModels
import WendaoTestSupport

@Suite("Gallery: records, search with the knowledge-base analyzer, tags, favourites, delete")
struct GalleryTests {
    func add(_ g: ImageGallery, _ prompt: String, data: Data, tags: [String] = []) throws -> Int64 {
        let id = try g.create(
            kind: .generate, prompt: prompt, negativePrompt: nil, parameters: ["n": 1], seed: 7,
            model: "sdwebui:default",
            provider: "sdwebui", estimatedCost: 0, currency: "CNY", tags: tags)
        let info = try ImageSniffer.inspect(data)
        let (sha, path) = try g.storeFile(data, info: info)
        try g.markSubmitted(id, taskID: nil)
        try g.finish(
            id, status: .succeeded,
            files: [
                ImageFile(
                    index: 0, sha256: sha, format: .png, bytes: data.count, width: info.width, height: info.height,
                    path: path.path, sourceURL: nil)
            ], errorCode: nil, errorMessage: nil, cost: 0)
        return id
    }

    @Test(
        "Search by Chinese and English prompt words, traditional characters, tags; favourites; shared files survive delete"
    )
    func gallery() throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let g = try ImageGallery(dataDirectory: scratch.url)
        let shared = TestImages.png(width: 8, height: 8, seed: 1)
        let dress = try add(g, "白色背景上的真丝连衣裙，电商主图", data: shared, tags: ["夏季"])
        let cup = try add(g, "保温杯 lifestyle photo on a wooden desk", data: TestImages.png(width: 8, height: 8, seed: 2))
        let poster = try add(g, "中秋节海报，月饼礼盒", data: shared)
        #expect(try g.list(GalleryQuery(text: "连衣裙")).records.map(\.id) == [dress])
        #expect(try g.list(GalleryQuery(text: "連衣裙")).records.map(\.id) == [dress])
        #expect(try g.list(GalleryQuery(text: "desks")).records.map(\.id) == [cup])
        #expect(try g.list(GalleryQuery(text: "夏季")).records.map(\.id) == [dress])
        #expect(try g.list(GalleryQuery(text: "火车")).records.isEmpty)
        var byTag = GalleryQuery()
        byTag.tag = "夏季"
        #expect(try g.list(byTag).records.map(\.id) == [dress])
        #expect(try g.list(GalleryQuery()).records.map(\.id) == [poster, cup, dress])
        _ = try g.setFavourite(cup, true)
        var favs = GalleryQuery()
        favs.favouritesOnly = true
        #expect(try g.list(favs).records.map(\.id) == [cup])
        let tagged = try g.tag(poster, add: ["节日"], remove: [])
        #expect(tagged.tags == ["节日"])
        #expect(try g.list(GalleryQuery(text: "节日")).records.map(\.id) == [poster])
        // The dress and the poster share one file: deleting the dress keeps it.
        let path = try g.record(dress).files[0].path
        try g.delete(dress)
        #expect(FileManager.default.fileExists(atPath: path))
        try g.delete(poster)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(throws: WendaoError.self) { try g.record(dress) }
    }

    @Test("A gallery of 10,000 records: a page of 50 and a prompt search stay fast", .tags(.slow))
    func listSpeed() throws {
        let scratch = try ScratchDirectory("img")
        defer { scratch.remove() }
        let g = try ImageGallery(dataDirectory: scratch.url)
        let words = ["连衣裙", "保温杯", "月饼", "parcel", "white background", "海边", "lifestyle", "poster"]
        for i in 0..<10_000 {
            _ = try g.create(
                kind: .generate, prompt: "产品 \(i) \(words[i % words.count]) \(words[(i / 8) % words.count])",
                negativePrompt: nil, parameters: ["n": 1], seed: nil, model: "m:x", provider: "m", estimatedCost: 0,
                currency: "CNY", tags: i % 10 == 0 ? ["夏季"] : [])
        }
        var best = Duration.seconds(10)
        var bestSearch = Duration.seconds(10)
        for _ in 0..<3 {
            let started = ContinuousClock.now
            let page = try g.list(GalleryQuery(limit: 50))
            best = min(best, ContinuousClock.now - started)
            #expect(page.records.count == 50 && page.total == 10_000)
            let s = ContinuousClock.now
            let searched = try g.list(GalleryQuery(text: "保温杯 海边", limit: 50))
            bestSearch = min(bestSearch, ContinuousClock.now - s)
            #expect(searched.records.count == 50)
        }
        print("gallery of 10,000: page of 50 in \(best), search page in \(bestSearch)")
        #expect(best < .milliseconds(250))
        #expect(bestSearch < .seconds(2))
    }

    @Test("config.yaml images: section: prices, cap, URLs; bad values named")
    func configuration() throws {
        let c = try ImageStudioConfiguration.parse(
            """
            default_model: dashscope:qwen-plus
            images:
              currency: CNY
              daily_cap: 20
              prices: { dashscope:wanx2.1-t2i-turbo: 0.14, dashscope:aitryon: 0.2 }
              public_base_url: https://studio.example.com/
              download: { max_bytes: 1048576, timeout: 30, allow: ["10.0.0.0/8"] }
              poll: { initial: 2, max: 8 }
              comfyui: { base_url: http://127.0.0.1:8188, workflows: { product: wf/product.json } }
              surprise: 1
            """, source: "config.yaml")
        #expect(c.dailyCap == 20)
        #expect(c.price(of: "dashscope:wanx2.1-t2i-turbo") == 0.14)
        #expect(c.publicBaseURL == "https://studio.example.com")
        #expect(c.downloadMaxBytes == 1_048_576 && c.downloadAllow == ["10.0.0.0/8"])
        #expect(c.comfyuiWorkflows["product"] == "wf/product.json")
        #expect(c.warnings.count == 1)
        #expect(throws: WendaoError.self) {
            _ = try ImageStudioConfiguration.parse("images: { public_base_url: ftp://x }", source: "c")
        }
        #expect(throws: WendaoError.self) {
            _ = try ImageStudioConfiguration.parse("images: { daily_cap: -1 }", source: "c")
        }
        // The models configuration does not warn about the images section.
        let models = try ModelsConfiguration.parse("images: { daily_cap: 1 }", source: "c")
        #expect(models.warnings.isEmpty)
    }
}
