import Foundation
import Hummingbird
import Logging
import RegistryJobs
import RegistryStorage
import ServiceLifecycle

/// The HTTP server around the API, and the services `registry serve` runs beside it.
public enum APIServer {
    /// The Hummingbird application serving `api` on `host:port` (port 0: any free port, reported
    /// to `onServerRunning`).
    public static func application(api: RegistryAPI, host: String, port: Int, logger: Logger,
                                   onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol & Service {
        Application(router: api.buildRouter(),
                    configuration: .init(address: .hostname(host, port: port), serverName: "registry"),
                    onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
                    logger: logger)
    }
}

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
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { break }
                await seal(lockTimeout: .seconds(2))
            }
        }
        await seal(lockTimeout: .seconds(5))
    }

    func seal(lockTimeout: Duration) async {
        do { _ = try await AuditTrail.seal(database, lockTimeout: lockTimeout) } catch {
            logger.warning("audit seal failed", metadata: ["error": "\(DatabaseErrors.summary(error))"])
        }
    }
}

/// Deletes idempotency records older than `retention`, hourly: a retry comes within minutes, not days.
public struct IdempotencyPruner: Service {
    let database: Database
    let retention: Duration
    let logger: Logger

    public init(database: Database, retention: Duration = .seconds(86_400), logger: Logger) {
        self.database = database; self.retention = retention; self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: .seconds(60)) } catch { break }
                do {
                    let seconds = Int(retention.components.seconds)
                    _ = try await database.read { c in
                        try await c.query("DELETE FROM api_idempotency WHERE created_at < now() - make_interval(secs => \(seconds))", logger: logger)
                    }
                } catch {
                    logger.warning("pruning idempotency keys failed", metadata: ["error": "\(DatabaseErrors.summary(error))"])
                }
                do { try await Task.sleep(for: .seconds(3540)) } catch { break }
            }
        }
    }
}

/// The nightly worker as a service: stops between steps on shutdown, like `registry worker`.
public struct NightlyWorkerService: Service {
    let worker: NightlyWorker
    public init(worker: NightlyWorker) { self.worker = worker }
    public func run() async throws {
        await cancelWhenGracefulShutdown { await worker.run() }
    }
}
