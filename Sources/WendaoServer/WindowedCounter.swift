import Synchronization

/// Counts attempts per key in a fixed window: sign-ins per user name and per client address (a flood
/// of guesses gets 429 before a password is checked; unknown names are counted like known ones, so
/// the limit tells nothing about which exist), and questions per share link.
final class WindowedCounter: Sendable {
    private let state = Mutex<[String: (count: Int, start: ContinuousClock.Instant)]>([:])
    let limit: Int
    let window: Duration

    init(limit: Int, window: Duration) {
        self.limit = limit
        self.window = window
    }

    /// Counts one attempt for each key; nil when all are within the limit (`limit`, else the
    /// counter's own), else the seconds until the first one frees up.
    func admit(_ keys: [String], limit: Int? = nil) -> Int? {
        let limit = limit ?? self.limit
        let now = ContinuousClock.now
        return state.withLock { table -> Int? in
            if table.count > 50_000 { table = table.filter { now - $0.value.start < window } }
            var wait: Duration?
            for key in keys {
                var entry = table[key] ?? (0, now)
                if now - entry.start >= window { entry = (0, now) }
                if entry.count >= limit {
                    let left = window - (now - entry.start)
                    wait = max(wait ?? .zero, left)
                }
                entry.count += 1
                table[key] = entry
            }
            return wait.map { max(1, Int($0.components.seconds) + 1) }
        }
    }

    /// Forgets the attempts of `key` (a successful sign-in clears its name's count).
    func reset(_ key: String) {
        _ = state.withLock { $0.removeValue(forKey: key) }
    }
}
