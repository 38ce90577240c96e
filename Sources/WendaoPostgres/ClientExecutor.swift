import WendaoCore

/// The dedicated thread that runs the connection pools' background work (`PostgresClient.run()`
/// and its child tasks), outside Swift's concurrency pool.
///
/// Store calls are synchronous: callers (request handlers on a thread pool, tests, CLI commands)
/// block while the work runs through ``BlockingBridge``. If the pool's own loop ran on the
/// concurrency pool, callers blocking every pool thread (two on a two-core server) would leave no
/// thread to hand out connections, and every call would wait forever.
@available(macOS 15.0, iOS 18.0, *)
enum ClientExecutor {
    /// The executor of this process, made on first use.
    static let shared = ThreadExecutor(name: "wendao.postgres")
}
