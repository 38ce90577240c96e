import ArgumentParser
import Foundation
import Logging
import WendaoApp
import WendaoCore
import WendaoImages
import WendaoModels
import WendaoRAG

/// `wendao image …`: the image studio (text-to-image, virtual try-on, the gallery).
struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Make pictures and try garments on through image providers; keep every result.",
        discussion: """
            Providers: dashscope:wanx2.1-t2i-turbo (and other wanx/wan text-to-image models), dashscope:aitryon / \
            aitryon-plus (try-on), any OpenAI-compatible images model (openai:gpt-image-1, siliconflow:…, zhipu:cogview-4), \
            sdwebui:CHECKPOINT (or sdwebui:default) and comfyui:WORKFLOW. Results are stored under the data directory \
            by SHA-256 (images/files/) and recorded in the gallery (images/gallery.sqlite). Prices, the daily cap and \
            public_base_url live under images: in config.yaml.
            """,
        subcommands: [
            Generate.self, TryOn.self, Batch.self, List.self, Show.self, Export.self, Resume.self, Cancel.self,
            Tag.self,
            Favourite.self, Share.self, Delete.self,
        ])

    /// The studio of one command (the caller shuts it down).
    static func studio(_ global: GlobalOptions) throws -> (ImageStudio, AppEnvironment) {
        let setup = try ModelSetup(global: global)
        let file = ModelSetup.configurationFile(dataDirectory: setup.dataDirectory, environment: setup.environment)
        let images = try ImageStudioConfiguration.load(from: file)
        for w in images.warnings { Output.err("warning: \(w)") }
        let app = setup.app()
        let studio = try ImageStudio(
            dataDirectory: setup.dataDirectory, configuration: images, models: setup.configuration,
            environment: setup.modelEnvironment, gateway: try app.gateway(), logger: Logger(label: "wendao.images"))
        return (studio, app)
    }

    /// Runs `body` with the studio of one command, and shuts the studio and its environment down
    /// whether `body` returns or throws.
    static func withStudio<T>(_ global: GlobalOptions, _ body: (ImageStudio) async throws -> T) async throws -> T {
        let (studio, app) = try studio(global)
        do {
            let value = try await body(studio)
            await studio.shutdown()
            await app.shutdown()
            return value
        } catch {
            await studio.shutdown()
            await app.shutdown()
            throw error
        }
    }

    /// Gallery only (no provider needed).
    static func gallery(_ global: GlobalOptions) throws -> ImageGallery {
        let environment = ProcessInfo.processInfo.environment
        return try ImageGallery(
            dataDirectory: Library.defaultDirectory(explicit: global.data, environment: environment))
    }

    static func progressPrinter(json: Bool) -> (@Sendable (ImageProgress) -> Void) {
        { p in Output.err("image \(p.recordID): \(p.note)") }
    }

    /// Prints a finished record; exits 1 when it did not succeed.
    static func report(_ r: ImageRecord, json: Bool) throws {
        if json {
            Output.json(r)
        } else {
            printRecord(r)
        }
        if r.status != .succeeded {
            throw ExitCode(1)
        }
    }

    static func printRecord(_ r: ImageRecord, full: Bool = false) {
        var head = "#\(r.id) \(r.status.rawValue) \(r.model)"
        if let c = r.cost { head += String(format: " %.2f %@", c, r.currency) }
        if let s = r.seconds { head += String(format: " %.1f s", s) }
        if r.favourite { head += " ★" }
        Output.line(head)
        Output.line("  prompt: \(r.prompt.count > 200 && !full ? String(r.prompt.prefix(200)) + "…" : r.prompt)")
        if full {
            if let n = r.negativePrompt, !n.isEmpty { Output.line("  negative: \(n)") }
            if let a = r.actualPrompt { Output.line("  actual prompt: \(a)") }
            if let seed = r.seed { Output.line("  seed: \(seed)") }
            if let t = r.taskID { Output.line("  task: \(t)") }
            let params = String(decoding: (try? JSONEncoder().encode(r.parameters)) ?? Data(), as: UTF8.self)
            Output.line("  parameters: \(params)")
            Output.line("  created: \(r.createdAt)\(r.finishedAt.map { ", finished: \($0)" } ?? "")")
        }
        if !r.tags.isEmpty { Output.line("  tags: \(r.tags.joined(separator: ", "))") }
        if let m = r.errorMessage { Output.line("  \(r.errorCode.map { "\($0): " } ?? "")\(m)") }
        for f in r.files {
            Output.line("  [\(f.index + 1)] \(f.path) \(f.width)×\(f.height) \(f.bytes) bytes sha256:\(f.sha256)")
        }
    }

    static func parseExtra(_ items: [String]) throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for item in items {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw WendaoError(.invalidArgument, "--param '\(item)' must be NAME=VALUE (VALUE may be JSON)")
            }
            let key = String(item[..<eq])
            let raw = String(item[item.index(after: eq)...])
            out[key] = JSONValue.parse(Data(raw.utf8)) ?? .string(raw)
        }
        return out
    }

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make pictures from a prompt.",
            discussion: """
                Example: wendao image generate "白色背景上的真丝连衣裙，产品摄影" --model dashscope:wanx2.1-t2i-turbo \
                --size 1024*1024 --n 2. Checked before anything is spent: prompt length, --n, --size, the daily cap.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The prompt (- reads standard input).") var prompt: String
        @Option(name: .long, help: "provider:model (default dashscope:wanx2.1-t2i-turbo).") var model =
            "dashscope:wanx2.1-t2i-turbo"
        @Option(name: .long, help: "WIDTH*HEIGHT (1024*1024; 1024x1024 works too).") var size: String?
        @Option(name: .customLong("n"), help: "How many pictures.") var count = 1
        @Option(name: .long, help: "What to keep out of the picture.") var negative: String?
        @Option(name: .long, help: "A fixed seed.") var seed: Int?
        @Option(name: .long, help: "Sampling steps (sdwebui, comfyui).") var steps: Int?
        @Option(name: .long, help: "Guidance scale (sdwebui).") var cfgScale: Double?
        @Option(name: .long, help: "An initial image (image-to-image).") var image: String?
        @Option(name: .long, help: "A ComfyUI workflow in API format (with comfyui:NAME).") var workflow: String?
        @Option(name: .long, help: "A tag to record (repeatable).") var tag: [String] = []
        @Option(name: .long, help: "A provider parameter NAME=VALUE (JSON value; repeatable).") var param: [String] = []

        func run() async throws {
            var text = prompt
            if prompt == "-" { text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
            var r = GenerateRequest(model: model, prompt: text)
            if let size {
                guard let s = ImageSize(parsing: size) else {
                    throw WendaoError(.invalidArgument, "--size '\(size)' must be WIDTH*HEIGHT, e.g. 1024*1024")
                }
                r.size = s
            }
            r.count = count
            r.negativePrompt = negative
            r.seed = seed
            r.steps = steps
            r.cfgScale = cfgScale
            r.initImage = image.map { URL(fileURLWithPath: $0) }
            r.workflow = workflow.map { URL(fileURLWithPath: $0) }
            r.tags = tag
            r.extra = try ImageCommand.parseExtra(param)
            let record = try await ImageCommand.withStudio(global) {
                try await $0.generate(r, progress: ImageCommand.progressPrinter(json: global.json))
            }
            try ImageCommand.report(record, json: global.json)
        }
    }

    struct TryOn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tryon", abstract: "Dress a person in a top and/or bottom garment (virtual try-on).",
            discussion: """
                Example: wendao image tryon --person p.jpg --top shirt.jpg [--bottom trousers.jpg]. Inputs are local \
                files or http(s) URLs; they are checked before anything is spent (PNG/JPEG/WebP; DashScope: 5 KB–5 MB, \
                sides 150–4096 pixels read from the header). DashScope fetches inputs by URL: local files are offered \
                at signed, expiring URLs under images.public_base_url (served by wendao serve).
                """)
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "The person photo (full body, front).") var person: String
        @Option(name: .long, help: "The top garment (flat lay).") var top: String?
        @Option(name: .long, help: "The bottom garment (flat lay).") var bottom: String?
        @Option(name: .long, help: "provider:model (dashscope:aitryon, dashscope:aitryon-plus).") var model =
            "dashscope:aitryon"
        @Option(name: .long, help: "A ComfyUI workflow in API format (with comfyui:NAME).") var workflow: String?
        @Option(name: .long, help: "A tag to record (repeatable).") var tag: [String] = []
        @Option(name: .long, help: "A provider parameter NAME=VALUE (JSON value; repeatable).") var param: [String] = []

        func run() async throws {
            var r = TryOnRequest(person: person, top: top, bottom: bottom)
            r.model = model
            r.workflow = workflow.map { URL(fileURLWithPath: $0) }
            r.tags = tag
            r.extra = try ImageCommand.parseExtra(param)
            let record = try await ImageCommand.withStudio(global) {
                try await $0.tryOn(r, progress: ImageCommand.progressPrinter(json: global.json))
            }
            try ImageCommand.report(record, json: global.json)
        }
    }

    struct Batch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make pictures for every product of a CSV (name, description, scene); resumable.",
            discussion: """
                Example: wendao image batch products.csv --template auto --n 2 [--writer deepseek:deepseek-chat]. \
                Templates: white (white-background main picture), lifestyle (the row's scene), festival (the row's \
                scene names the festival), auto (white without a scene, else lifestyle). Records are tagged \
                batch:NAME and row:N; running the same command again skips rows already made, so a run stopped by \
                the daily cap (it says at which row) continues the next day. --writer asks a chat model to turn the \
                template's draft into a better prompt.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The products CSV.") var csv: String
        @Option(name: .long, help: "provider:model (default dashscope:wanx2.1-t2i-turbo).") var model =
            "dashscope:wanx2.1-t2i-turbo"
        @Option(name: .long, help: "white, lifestyle, festival or auto.") var template = "auto"
        @Option(name: .long, help: "The batch's name (default: the CSV's file name).") var name: String?
        @Option(name: .long, help: "WIDTH*HEIGHT.") var size: String?
        @Option(name: .customLong("n"), help: "Pictures per product.") var count = 1
        @Option(name: .long, help: "A chat model that rewrites each prompt (provider:model or local:NAME).")
        var writer: String?
        @Option(name: .long, help: "Rows made at once (1–32; the provider's task limit still applies).")
        var concurrency = 4

        func run() async throws {
            guard (1...32).contains(concurrency) else {
                throw WendaoError(.invalidArgument, "--concurrency must be 1 to 32")
            }
            guard let t = SceneTemplate(rawValue: template) else {
                throw WendaoError(.invalidArgument, "--template must be white, lifestyle, festival or auto")
            }
            guard let data = FileManager.default.contents(atPath: csv), let text = String(data: data, encoding: .utf8)
            else { throw WendaoError(.unreadable, "\(csv): cannot read it as UTF-8 text") }
            let rows = try ProductCSV.parse(text)
            var base = GenerateRequest(model: model, prompt: "")
            base.count = count
            if let size {
                guard let s = ImageSize(parsing: size) else {
                    throw WendaoError(.invalidArgument, "--size '\(size)' must be WIDTH*HEIGHT, e.g. 1024*1024")
                }
                base.size = s
            }
            let setup = try ModelSetup(global: global)
            let writerModel = try writer.map { try setup.resolve($0) }
            let (studio, app) = try ImageCommand.studio(global)
            let batchName = name ?? URL(fileURLWithPath: csv).deletingPathExtension().lastPathComponent
            let report: BatchReport
            do {
                var rewrite: (@Sendable (ProductRow, String) async throws -> String)?
                if let writerModel {
                    let chat = try await app.chatModel(for: writerModel)
                    rewrite = { row, draft in
                        let reply = try await chat.complete([
                            ChatMessage(
                                .system,
                                "You write prompts for a text-to-image model making e-commerce pictures. Answer with the "
                                    + "prompt only, in the language of the draft, at most 300 characters."),
                            ChatMessage(
                                .user,
                                "Product: \(row.name)\nDescription: \(row.description)\nScene: \(row.scene)\nDraft: \(draft)"
                            ),
                        ])
                        let text = reply.text.trimmingCharacters(in: .whitespacesAndNewlines)
                        return text.isEmpty ? draft : String(text.prefix(800))
                    }
                }
                report = try await studio.batch(
                    rows, name: batchName, template: t, base: base, writer: rewrite, concurrency: concurrency,
                    progress: { Output.err($0) })
            } catch {
                await studio.shutdown()
                await app.shutdown()
                throw error
            }
            await studio.shutdown()
            await app.shutdown()
            if global.json {
                Output.json(report)
            } else {
                Output.line(
                    "batch \(batchName): \(report.made.count) made, \(report.skipped) already done, \(report.rows) rows"
                )
                for m in report.made {
                    Output.line(
                        "  row \(m.row): #\(m.id) \(m.status.rawValue) \(m.files.map(\.path).joined(separator: " "))")
                }
                if let at = report.stoppedAt { Output.line("stopped at row \(at): \(report.stopReason ?? "")") }
            }
            if report.stoppedAt != nil || report.made.contains(where: { $0.status != .succeeded }) {
                throw ExitCode(1)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the gallery, newest first, or by prompt words (--query).")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Words of the prompt (Chinese or English).") var query: String?
        @Option(name: .long, help: "Only records with this tag.") var tag: String?
        @Flag(name: .long, help: "Only favourites.") var favourites = false
        @Option(name: .long, help: "Only this status (succeeded, failed, partial, running, …).") var status: String?
        @Option(name: .long, help: "Page size.") var limit = 50
        @Option(name: .long, help: "Records to skip.") var offset = 0

        struct Body: Encodable {
            var total: Int
            var records: [ImageRecord]
        }

        func run() throws {
            var q = GalleryQuery(text: query, limit: limit)
            q.tag = tag
            q.favouritesOnly = favourites
            q.offset = offset
            if let status {
                guard let s = ImageTaskStatus(rawValue: status) else {
                    throw WendaoError(.invalidArgument, "unknown status '\(status)'")
                }
                q.status = s
            }
            let (records, total) = try ImageCommand.gallery(global).list(q)
            if global.json { return Output.json(Body(total: total, records: records)) }
            if records.isEmpty { Output.line(query == nil ? "The gallery is empty." : "No image matches.") }
            for r in records { ImageCommand.printRecord(r) }
            if total > records.count { Output.err("\(records.count) of \(total) shown (--offset, --limit)") }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one record: parameters, seed, task, files.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The record id.") var id: Int64

        func run() throws {
            let r = try ImageCommand.gallery(global).record(id)
            if global.json { return Output.json(r) }
            ImageCommand.printRecord(r, full: true)
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy pictures and a manifest (manifest.json) into a folder.",
            discussion: "Example: wendao image export out/ --tag 夏季 (or record ids: wendao image export out/ 3 4).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The folder to write (created if needed).") var folder: String
        @Argument(help: "Record ids (default: those matching the filters).") var ids: [Int64] = []
        @Option(name: .long, help: "Only records with this tag.") var tag: String?
        @Flag(name: .long, help: "Only favourites.") var favourites = false

        struct Item: Encodable {
            var record: Int64
            var file: String
            var sha256: String
            var prompt: String
            var model: String
            var seed: Int?
        }

        struct Body: Encodable {
            var folder: String
            var files: [Item]
        }

        func run() throws {
            let gallery = try ImageCommand.gallery(global)
            var records: [ImageRecord]
            if ids.isEmpty {
                var q = GalleryQuery(limit: 500)
                q.tag = tag
                q.favouritesOnly = favourites
                records = try gallery.list(q).records
            } else {
                records = try ids.map { try gallery.record($0) }
            }
            let out = URL(fileURLWithPath: folder)
            do { try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true) } catch {
                throw WendaoError(.storage, "cannot create \(folder): \(error.localizedDescription)")
            }
            var items: [Item] = []
            for r in records {
                for f in r.files {
                    let name = "image-\(r.id)-\(f.index + 1).\(f.format.fileExtension)"
                    let dest = out.appendingPathComponent(name)
                    try? FileManager.default.removeItem(at: dest)
                    do { try FileManager.default.copyItem(atPath: f.path, toPath: dest.path) } catch {
                        throw WendaoError(.storage, "cannot copy \(f.path): \(error.localizedDescription)")
                    }
                    items.append(
                        Item(
                            record: r.id, file: dest.path, sha256: f.sha256, prompt: r.prompt, model: r.model,
                            seed: r.seed))
                }
            }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let manifest = try enc.encode(records)
            do { try manifest.write(to: out.appendingPathComponent("manifest.json")) } catch {
                throw WendaoError(.storage, "cannot write manifest.json: \(error.localizedDescription)")
            }
            if global.json { return Output.json(Body(folder: out.path, files: items)) }
            Output.line("\(items.count) file(s) from \(records.count) record(s) written to \(out.path) (manifest.json)")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pick up tasks a stopped process left unfinished (or one record, also a timed-out one).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A record id (default: every unfinished task).") var id: Int64?

        struct Body: Encodable { var records: [ImageRecord] }

        func run() async throws {
            let records = try await ImageCommand.withStudio(global) {
                try await $0.resume(id, progress: ImageCommand.progressPrinter(json: global.json))
            }
            if global.json { return Output.json(Body(records: records)) }
            if records.isEmpty { Output.line("No unfinished image tasks.") }
            for r in records { ImageCommand.printRecord(r) }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask the provider to stop a task.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The record id.") var id: Int64

        func run() async throws {
            let r = try await ImageCommand.withStudio(global) { try await $0.cancel(id) }
            if global.json { return Output.json(r) }
            ImageCommand.printRecord(r)
        }
    }

    struct Tag: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or remove tags (tags are searchable).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The record id.") var id: Int64
        @Argument(help: "Tags to add.") var add: [String] = []
        @Option(name: .long, help: "A tag to remove (repeatable).") var remove: [String] = []

        func run() throws {
            let r = try ImageCommand.gallery(global).tag(id, add: add, remove: remove)
            if global.json { return Output.json(r) }
            ImageCommand.printRecord(r)
        }
    }

    struct Favourite: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark a record as a favourite (--off to unmark).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The record id.") var id: Int64
        @Flag(name: .long, help: "Unmark.") var off = false

        func run() throws {
            let r = try ImageCommand.gallery(global).setFavourite(id, !off)
            if global.json { return Output.json(r) }
            ImageCommand.printRecord(r)
        }
    }

    struct Share: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Make an unguessable link to a record's pictures (served by wendao serve at /i/TOKEN), or revoke them.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The record id.") var id: Int64
        @Flag(name: .long, help: "Revoke every link of the record.") var revoke = false

        struct Body: Encodable {
            var id: Int64
            var token: String?
            var path: String?
            var url: String?
            var revoked: Int?
        }

        func run() throws {
            let gallery = try ImageCommand.gallery(global)
            if revoke {
                let n = try gallery.revokeShares(id)
                if global.json { return Output.json(Body(id: id, revoked: n)) }
                return Output.line("Revoked \(n) link(s) of image record \(id).")
            }
            let token = try gallery.share(id)
            let environment = ProcessInfo.processInfo.environment
            let dir = Library.defaultDirectory(explicit: global.data, environment: environment)
            let file = ModelSetup.configurationFile(dataDirectory: dir, environment: environment)
            let base = (try? ImageStudioConfiguration.load(from: file))?.publicBaseURL
            let path = "/i/" + token
            if global.json { return Output.json(Body(id: id, token: token, path: path, url: base.map { $0 + path })) }
            Output.line(base.map { $0 + path } ?? path)
            Output.err("shown once; revoke with: wendao image share \(id) --revoke")
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a record and its files (a file another record holds is kept).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The record id.") var id: Int64

        struct Body: Encodable {
            var deleted: Int64
        }

        func run() throws {
            try ImageCommand.gallery(global).delete(id)
            if global.json { return Output.json(Body(deleted: id)) }
            Output.line("Deleted image record \(id).")
        }
    }
}
