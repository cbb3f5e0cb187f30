import Logging
import ServiceLifecycle

/// Seals the audit trail every `interval` (API writes add audit rows all day; commands seal as
/// they finish, a server must seal as it goes), and once more on shutdown.
public struct AuditSealer: Service {
    let database: Database
    let interval: Duration
    let logger: Logger

    public init(database: Database, interval: Duration = .seconds(30), logger: Logger) {
        self.database = database; self.interval = interval; self.logger = logger
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval) { await seal(lockTimeout: .seconds(2)) }
        await seal(lockTimeout: .seconds(5))
    }

    func seal(lockTimeout: Duration) async {
        do { _ = try await AuditTrail.seal(database, lockTimeout: lockTimeout) } catch {
            logger.warning("audit seal failed", metadata: ["error": "\(DatabaseErrors.summary(error))"])
        }
    }
}
