import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import RegistryDomain

/// The registry's connection pool, with a deadline on reaching the server and audited transactions.
public final class Database: Sendable {
    /// The PostgresNIO pool.
    public let client: PostgresClient
    /// Where it points (password hidden when printed).
    public let url: DatabaseURL
    /// The logger queries use.
    public let logger: Logger
    private let runTask: Task<Void, Never>

    private init(client: PostgresClient, url: DatabaseURL, logger: Logger) {
        self.client = client
        self.url = url
        self.logger = logger
        self.runTask = Task { await client.run() }
    }

    /// Opens a pool after checking, within `deadline`, that the server answers. PostgresNIO's pool
    /// retries for about a minute on its own; a command-line user deserves one clear line sooner.
    public static func open(_ url: DatabaseURL, logger: Logger = Logger(label: "registry.db"),
                            deadline: Duration = .seconds(10)) async throws -> Database {
        try await reachable(url, logger: logger, deadline: deadline)
        return Database(client: PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger), url: url, logger: logger)
    }

    /// Connects once (no retries) and closes, or throws an `unavailable` error within the deadline.
    public static func reachable(_ url: DatabaseURL, logger: Logger, deadline: Duration) async throws {
        let outcome: Result<Void, any Error> = await withTaskGroup(of: Result<Void, any Error>?.self) { group in
            group.addTask {
                do {
                    let connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration, id: 0, logger: logger)
                    try await connection.close()
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: deadline)
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first ?? .failure(RegistryError(.unavailable, field: "database-url",
                "PostgreSQL at \(url) did not answer within \(deadline.components.seconds) seconds",
                hint: "check that the server is running and the URL is right, or omit --database-url to use the embedded database"))
        }
        if case .failure(let error) = outcome {
            if let registryError = error as? RegistryError { throw registryError }
            throw RegistryError(.unavailable, field: "database-url",
                "cannot connect to PostgreSQL at \(url): \(DatabaseErrors.summary(error))",
                hint: "check that the server is running and the URL is right, or omit --database-url to use the embedded database")
        }
    }

    /// Stops the pool.
    public func close() async {
        runTask.cancel()
        _ = await runTask.value
    }

    /// Runs `body` in one transaction whose changes the audit trail attributes to `actor`, with
    /// `reason` when given. Any error rolls everything back and is rethrown as it was, with
    /// PostgreSQL's refusals turned into registry errors.
    public func transaction<Result: Sendable>(actor: String, reason: String? = nil,
                                              _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: logger)
                do {
                    try await connection.query("SELECT set_config('registry.actor', \(actor), true), set_config('registry.reason', \(reason ?? ""), true)", logger: logger)
                    let value = try await body(connection)
                    try await connection.query("COMMIT", logger: logger)
                    return value
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    /// Runs read-only work on a pooled connection.
    public func read<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withConnection { try await body($0) }
        } catch {
            throw DatabaseErrors.map(error)
        }
    }
}
