import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import WendaoCore

/// Prometheus metrics kept in memory: request counts and latencies by route, answers, ingest jobs,
/// retrieval and model time. Served as text at `/metrics`.
final class Metrics: Sendable {
    /// Latency buckets in seconds.
    static let buckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    struct Histogram {
        var counts = [Int](repeating: 0, count: Metrics.buckets.count)
        var sum = 0.0
        var count = 0

        mutating func observe(_ v: Double) {
            for (i, b) in Metrics.buckets.enumerated() where v <= b { counts[i] += 1 }
            sum += v
            count += 1
        }
    }

    struct State {
        var requests: [String: Int] = [:]
        var latency: [String: Histogram] = [:]
        var named: [String: Histogram] = [:]
        var counters: [String: Int] = [:]
    }

    private let state = Mutex(State())

    /// Counts a finished request.
    func request(method: String, route: String, status: Int, seconds: Double) {
        state.withLock { s in
            s.requests["method=\"\(method)\",route=\"\(route)\",status=\"\(status)\"", default: 0] += 1
            s.latency["route=\"\(route)\"", default: Histogram()].observe(seconds)
        }
    }

    /// Records a duration of a named activity (`retrieval`, `model`, `ingest_job`).
    func observe(_ name: String, seconds: Double) {
        state.withLock { $0.named[name, default: Histogram()].observe(seconds) }
    }

    /// Adds to a named counter (`ingest_jobs_succeeded`, …).
    func count(_ name: String, _ n: Int = 1) {
        state.withLock { $0.counters[name, default: 0] += n }
    }

    /// The Prometheus text exposition.
    func render() -> String {
        let s = state.withLock { $0 }
        var out = "# HELP wendao_http_requests_total HTTP requests by method, route and status.\n"
        out += "# TYPE wendao_http_requests_total counter\n"
        for (labels, n) in s.requests.sorted(by: { $0.key < $1.key }) {
            out += "wendao_http_requests_total{\(labels)} \(n)\n"
        }
        out += "# HELP wendao_http_request_duration_seconds HTTP request latency by route.\n"
        out += "# TYPE wendao_http_request_duration_seconds histogram\n"
        for (labels, h) in s.latency.sorted(by: { $0.key < $1.key }) {
            out += Self.histogram("wendao_http_request_duration_seconds", labels, h)
        }
        for (name, h) in s.named.sorted(by: { $0.key < $1.key }) {
            out += "# TYPE wendao_\(name)_seconds histogram\n"
            out += Self.histogram("wendao_\(name)_seconds", "", h)
        }
        for (name, n) in s.counters.sorted(by: { $0.key < $1.key }) {
            out += "# TYPE wendao_\(name)_total counter\nwendao_\(name)_total \(n)\n"
        }
        return out
    }

    static func histogram(_ name: String, _ labels: String, _ h: Histogram) -> String {
        let sep = labels.isEmpty ? "" : ","
        var out = ""
        for (i, b) in buckets.enumerated() {
            out += "\(name)_bucket{\(labels)\(sep)le=\"\(b)\"} \(h.counts[i])\n"
        }
        out += "\(name)_bucket{\(labels)\(sep)le=\"+Inf\"} \(h.count)\n"
        out += "\(name)_sum\(labels.isEmpty ? "" : "{\(labels)}") \(h.sum)\n"
        out += "\(name)_count\(labels.isEmpty ? "" : "{\(labels)}") \(h.count)\n"
        return out
    }
}

/// Counts every request by its matched route (never by raw path: names and ids stay out of labels).
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: Metrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        metrics.request(
            method: request.method.rawValue, route: context.endpointPath ?? "unmatched", status: response.status.code,
            seconds: (ContinuousClock.now - started).seconds)
        return response
    }
}
