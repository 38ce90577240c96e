import Foundation
import Logging
import ServiceLifecycle
import WendaoCore
import WendaoRAG

/// Deletes conversations older than the retention (``ServerConfiguration/conversationRetentionDays``):
/// once at start, then every hour, like the job runner's sweep of abandoned uploads. Does nothing
/// when conversations are kept until deleted.
struct ConversationRetention: Service {
    let service: KnowledgeService
    let logger: Logger
    /// Time between purges.
    var interval: Duration = .seconds(3600)

    func run() async throws {
        guard let days = service.configuration.conversationRetentionDays, days > 0 else {
            // A service that returns would stop the whole group: wait for the shutdown instead.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await purge(days: days)
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }

    /// Deletes the conversations last continued more than `days` days ago.
    func purge(days: Int) async {
        let store = service.library.store
        let cutoff = Date().timeIntervalSince1970 - Double(days) * 86_400
        do {
            let removed = try await service.blocking { try store.deleteConversations(updatedBefore: cutoff) }
            if removed > 0 {
                logger.notice(
                    "deleted conversations past retention", metadata: ["count": "\(removed)", "days": "\(days)"])
            }
        } catch {
            logger.warning("could not delete old conversations", metadata: ["reason": "\(error)"])
        }
    }
}
