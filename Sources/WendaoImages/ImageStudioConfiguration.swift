public import Foundation
public import WendaoCore
import Yams

/// The `images:` section of `config.yaml`: prices, the daily spending cap, where local uploads are
/// served for providers, download limits, task time limits, and the Stable Diffusion / ComfyUI
/// servers.
///
/// ```yaml
/// images:
///   currency: CNY
///   daily_cap: 20                      # per UTC day; tasks that would pass it are refused
///   prices:                            # per image
///     dashscope:wanx2.1-t2i-turbo: 0.14
///     dashscope:aitryon: 0.20
///   public_base_url: https://studio.example.com   # where providers fetch signed uploads
///   signed_url_ttl: 3600
///   key_daily_images: 20               # per API key per UTC day on /v1/images/generations (0: off)
///   download: { max_bytes: 20971520, timeout: 60, allow: [] }
///   task_timeout: 600
///   poll: { initial: 1, max: 10 }
///   sdwebui: { base_url: http://127.0.0.1:7860 }
///   comfyui:
///     base_url: http://127.0.0.1:8188
///     workflows: { product: workflows/product.json }
/// ```
public struct ImageStudioConfiguration: Sendable, Equatable {
    /// The model `wendao serve`'s image routes use when a request names none (`default_model`).
    public var defaultModel = "dashscope:wanx2.1-t2i-turbo"
    /// Prices per image by `provider:model`.
    public var prices: [String: Double] = [:]
    /// Currency of prices and the cap.
    public var currency = "CNY"
    /// Most money spent per UTC day (nil: no cap).
    public var dailyCap: Double?
    /// Base URL under which `wendao serve` is reachable by providers (signed upload URLs).
    public var publicBaseURL: String?
    /// Without `public_base_url`: put DashScope try-on inputs in DashScope's own temporary storage
    /// (`oss://` URLs, 48 hours; DashScope calls it a development aid) — `dashscope_temporary_uploads`.
    public var dashScopeTemporaryUploads = false
    /// Images each API key may ask for per UTC day through `/v1/images/generations` (0: keys may not).
    public var keyDailyImages = 0
    /// Lifetime of signed URLs, seconds.
    public var signedURLTTL: Double = 3600
    /// Largest result file downloaded.
    public var downloadMaxBytes = 20 << 20
    /// Time limit of one download, seconds.
    public var downloadTimeout: Double = 60
    /// Hosts and CIDRs result downloads may reach although private (off by default).
    public var downloadAllow: [String] = []
    /// Longest a task is waited for, seconds.
    public var taskTimeout: Double = 600
    /// First poll interval, seconds (it grows by half each poll).
    public var pollInitial: Double = 1
    /// Longest poll interval, seconds.
    public var pollMax: Double = 10
    /// Stable Diffusion WebUI base URL.
    public var sdwebuiBaseURL = "http://127.0.0.1:7860"
    /// ComfyUI base URL.
    public var comfyuiBaseURL = "http://127.0.0.1:8188"
    /// ComfyUI workflows by name (paths; relative ones are under the data directory).
    public var comfyuiWorkflows: [String: String] = [:]
    /// Unknown keys, one line each.
    public var warnings: [String] = []

    /// Defaults.
    public init() {}

    /// The `images:` section of `url` (defaults when the file or the section is missing).
    public static func load(from url: URL) throws(WendaoError) -> ImageStudioConfiguration {
        guard FileManager.default.fileExists(atPath: url.path) else { return ImageStudioConfiguration() }
        guard let data = try? Data(contentsOf: url), let text = String(data: data, encoding: .utf8) else {
            throw WendaoError(.unreadable, "\(url.path): cannot read the configuration file")
        }
        return try parse(text, source: url.path)
    }

    /// Parses the `images:` section of a YAML document.
    public static func parse(_ text: String, source: String) throws(WendaoError) -> ImageStudioConfiguration {
        var c = ImageStudioConfiguration()
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch {
            throw WendaoError(.invalidArgument, "\(source): not valid YAML")
        }
        guard let top = root as? [AnyHashable: Any], let section = top["images"] else { return c }
        if section is NSNull { return c }
        func fail(_ path: String, _ what: String) -> WendaoError {
            WendaoError(.invalidArgument, "\(source): images.\(path) \(what)")
        }
        func map(_ v: Any, _ path: String) throws(WendaoError) -> [(String, Any)] {
            guard let d = v as? [AnyHashable: Any] else { throw fail(path, "must be a mapping") }
            return d.map { ("\($0.key)", $0.value) }.sorted { $0.0 < $1.0 }
        }
        func number(_ v: Any, _ path: String, min: Double = 0) throws(WendaoError) -> Double {
            let d: Double? = (v as? Int).map(Double.init) ?? (v as? Double) ?? (v as? String).flatMap(Double.init)
            guard let d, d.isFinite, d >= min else { throw fail(path, "must be a number ≥ \(min)") }
            return d
        }
        func string(_ v: Any, _ path: String) throws(WendaoError) -> String {
            guard let s = v as? String, !s.isEmpty else { throw fail(path, "must be a non-empty string") }
            return s
        }
        func url(_ v: Any, _ path: String) throws(WendaoError) -> String {
            var s = try string(v, path).trimmingCharacters(in: .whitespaces)
            while s.hasSuffix("/") { s.removeLast() }
            guard let u = URLComponents(string: s), ["http", "https"].contains(u.scheme?.lowercased() ?? ""),
                u.host?.isEmpty == false
            else { throw fail(path, "must be an http:// or https:// URL") }
            return s
        }
        for (k, v) in try map(section, "") {
            switch k {
            case "currency": c.currency = try string(v, k)
            case "default_model": c.defaultModel = try string(v, k)
            case "daily_cap": c.dailyCap = try number(v, k)
            case "prices":
                for (m, p) in try map(v, k) { c.prices[m.lowercased()] = try number(p, "prices.\(m)") }
            case "public_base_url": c.publicBaseURL = try url(v, k)
            case "signed_url_ttl": c.signedURLTTL = try number(v, k, min: 1)
            case "key_daily_images": c.keyDailyImages = Int(try number(v, k))
            case "dashscope_temporary_uploads":
                guard let b = v as? Bool else { throw fail(k, "must be true or false") }
                c.dashScopeTemporaryUploads = b
            case "task_timeout": c.taskTimeout = try number(v, k, min: 1)
            case "download":
                for (dk, dv) in try map(v, k) {
                    switch dk {
                    case "max_bytes": c.downloadMaxBytes = Int(try number(dv, "download.max_bytes", min: 1024))
                    case "timeout": c.downloadTimeout = try number(dv, "download.timeout", min: 1)
                    case "allow":
                        guard let list = dv as? [Any] else { throw fail("download.allow", "must be a list") }
                        c.downloadAllow = try list.map { x throws(WendaoError) in try string(x, "download.allow") }
                    default: c.warnings.append("\(source): unknown key 'images.download.\(dk)' ignored")
                    }
                }
            case "poll":
                for (pk, pv) in try map(v, k) {
                    switch pk {
                    case "initial": c.pollInitial = try number(pv, "poll.initial", min: 0.01)
                    case "max": c.pollMax = try number(pv, "poll.max", min: 0.01)
                    default: c.warnings.append("\(source): unknown key 'images.poll.\(pk)' ignored")
                    }
                }
            case "sdwebui":
                for (sk, sv) in try map(v, k) {
                    if sk == "base_url" {
                        c.sdwebuiBaseURL = try url(sv, "sdwebui.base_url")
                    } else {
                        c.warnings.append("\(source): unknown key 'images.sdwebui.\(sk)' ignored")
                    }
                }
            case "comfyui":
                for (ck, cv) in try map(v, k) {
                    switch ck {
                    case "base_url": c.comfyuiBaseURL = try url(cv, "comfyui.base_url")
                    case "workflows":
                        for (n, p) in try map(cv, "comfyui.workflows") {
                            c.comfyuiWorkflows[n] = try string(p, "comfyui.workflows.\(n)")
                        }
                    default: c.warnings.append("\(source): unknown key 'images.comfyui.\(ck)' ignored")
                    }
                }
            default: c.warnings.append("\(source): unknown key 'images.\(k)' ignored")
            }
        }
        return c
    }

    /// The price of one image of `model` (`provider:model`), when configured.
    public func price(of model: String) -> Double? { prices[model.lowercased()] }
}
