import ServiceLifecycle
import WendaoApp

/// The composition root's resources as a service of the server's service group: it waits for the
/// graceful shutdown, then (after the HTTP server has finished its in-flight requests) closes the
/// model gateway's connections and stops the thread pool for blocking work.
///
/// ```swift
/// Application(router: router, services: [runner, AppResourcesService(app: app)])
/// ```
struct AppResourcesService: Service {
    let app: AppEnvironment

    func run() async throws {
        // Returns when the group shuts down (or is cancelled).
        try? await gracefulShutdown()
        await app.shutdown()
    }
}
