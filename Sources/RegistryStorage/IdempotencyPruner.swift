import Logging
import ServiceLifecycle

/// Deletes idempotency records older than `retention`, hourly: a retry comes within minutes, not days.
public struct IdempotencyPruner: Service {
    let database: Database
    let retention: Duration
    let logger: Logger

    public init(database: Database, retention: Duration = .seconds(86_400), logger: Logger) {
        self.database = database; self.retention = retention; self.logger = logger
    }

    public func run() async throws {
        await repeatUntilShutdown(every: .seconds(3600), firstAfter: .seconds(60)) {
            do {
                try await database.plainTransaction { tx in try await tx.idempotentReplies.prune(olderThan: retention) }
            } catch {
                logger.warning("pruning idempotency keys failed", metadata: ["error": "\(DatabaseErrors.summary(error))"])
            }
        }
    }
}
