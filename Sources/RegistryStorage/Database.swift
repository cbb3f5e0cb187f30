import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import PostgresNIO
import RegistryDomain
import ServiceLifecycle

/// The registry's connection pool, with a deadline on reaching the server and audited transactions.
public final class Database: Service, Sendable {
    /// The PostgresNIO pools: one, or (for a server, see `open`) one per event loop.
    public let clients: [PostgresClient]
    /// The event loop each of `clients` runs its connections on (empty for a single pool).
    private let loops: [any EventLoop]
    /// Where it points (password hidden when printed).
    public let url: DatabaseURL
    /// The logger queries use.
    public let logger: Logger
    /// The most connections the pools open, all together.
    public let maxConnections: Int
    /// Today's date in Seoul, as every transaction on this database sees it; injectable so tests,
    /// the demo and replays can fix it.
    public let today: @Sendable () -> LocalDate
    private let runTask: Task<Void, Never>?
    private let connectionsInUse = Meter(label: "registry_db_connections_in_use")
    private let connectionWait = Metrics.Timer(label: "registry_db_connection_wait", preferredDisplayUnit: .seconds)

    private init(clients: [PostgresClient], loops: [any EventLoop], url: DatabaseURL, logger: Logger, maxConnections: Int, runsPool: Bool,
                 today: @escaping @Sendable () -> LocalDate) {
        self.today = today
        self.clients = clients
        self.loops = loops
        self.url = url
        self.logger = logger
        self.maxConnections = maxConnections
        self.runTask = runsPool ? Task {
            await withDiscardingTaskGroup { group in
                for client in clients { group.addTask { await client.run() } }
            }
        } : nil
        Gauge(label: "registry_db_connections_max").record(maxConnections)
    }

    /// Opens a pool after checking, within `deadline`, that the server answers. PostgresNIO's pool
    /// retries for about a minute on its own; a command-line user deserves one clear line sooner.
    /// With `runsPool` false the caller runs `clients` itself, e.g. in a ServiceGroup. The pool
    /// keeps `minConnections` open even when idle (a server's: no connection set-up and
    /// authentication in the way of the first requests after a quiet spell).
    ///
    /// With `perLoop` (a server whose tasks run on that group's event loops), the connections are
    /// split into one pool per event loop, each pool's connections living on its loop, and a task
    /// takes a connection from the pool of the loop it runs on: a request is read, queried and
    /// answered on one thread. (One pool would open all its connections on the loop it runs on,
    /// and every request's database round trips would hop to that thread and back.) Every pool
    /// keeps at least two connections, so work that holds one connection while it asks for another
    /// (the nightly digest's two reads at once) is never left waiting on itself: with fewer than
    /// two per loop, fewer loops get pools.
    public static func open(_ url: DatabaseURL, logger: Logger = Logger(label: "registry.db"),
                            deadline: Duration = .seconds(10), maxConnections: Int = 8, minConnections: Int = 0,
                            runsPool: Bool = true, perLoop group: (any EventLoopGroup)? = nil,
                            today: @escaping @Sendable () -> LocalDate = { LocalDate.todayInSeoul() }) async throws -> Database {
        try await reachable(url, logger: logger, deadline: deadline)
        let minConnections = min(minConnections, maxConnections)
        func client(max: Int, min: Int, on loops: (any EventLoopGroup)?) -> PostgresClient {
            var configuration = url.clientConfiguration
            configuration.options.maximumConnections = max
            configuration.options.minimumConnections = min
            guard let loops else { return PostgresClient(configuration: configuration, backgroundLogger: logger) }
            return PostgresClient(configuration: configuration, eventLoopGroup: loops, backgroundLogger: logger)
        }
        let loops = group.map { Array($0.makeIterator()).prefix(maxConnections / 2) } ?? []
        guard loops.count > 1 else {
            return Database(clients: [client(max: maxConnections, min: minConnections, on: loops.first)], loops: [],
                            url: url, logger: logger, maxConnections: maxConnections, runsPool: runsPool, today: today)
        }
        // maxConnections split as evenly as it goes (at least two each), and likewise the minimum.
        let share = { (total: Int, i: Int) in total / loops.count + (i < total % loops.count ? 1 : 0) }
        let clients = loops.indices.map { i in client(max: share(maxConnections, i), min: share(minConnections, i), on: loops[i]) }
        return Database(clients: clients, loops: Array(loops), url: url, logger: logger, maxConnections: maxConnections, runsPool: runsPool, today: today)
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
                remedy: .checkDatabase))
        }
        if case .failure(let error) = outcome {
            if let registryError = error as? RegistryError { throw registryError }
            throw RegistryError(.unavailable, field: "database-url",
                "cannot connect to PostgreSQL at \(url): \(DatabaseErrors.summary(error))",
                remedy: .checkDatabase)
        }
    }

    /// Runs the pools until cancelled: a `Service` for a ServiceGroup, when opened with `runsPool` false.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for client in clients { group.addTask { await client.run() } }
        }
    }

    /// Stops the pool (when it runs it).
    public func close() async {
        runTask?.cancel()
        _ = await runTask?.value
    }

    /// Runs `body` in one transaction whose changes the audit trail attributes to `actor`, with
    /// `reason` when given. Any error rolls everything back and is rethrown as it was, with
    /// PostgreSQL's refusals turned into registry errors.
    public func transaction<Result: Sendable>(actor: String, reason: String? = nil,
                                              _ body: (Transaction) async throws -> Result) async throws -> Result {
        try await pooled { connection in
            try await Transaction.run(on: connection, begin: .readWrite, actor: actor, reason: reason, today: today, logger: logger) { tx in
                try await tx.connection.query("""
                    SELECT set_config('registry.actor', \(actor), true), set_config('registry.reason', \(reason ?? ""), true)
                    """, logger: logger)
                return try await body(tx)
            }
        }
    }

    /// Runs `body` in one transaction under row-level security: as the role `registry_api`, acting
    /// for `scope`'s institution (none: no patient rows at all), attributed to `actor`. Every
    /// repository used with the handle sees only what the scope allows. Throws `unauthenticated` if
    /// the scope's token was revoked, checked in the statement that sets the scope, so a token
    /// revoked a moment ago is refused from then on.
    ///
    /// With `writes`, the transaction takes its transaction id at once, and the handle's
    /// `writtenVersion` is the version (ETag) of every row it inserts or updates, without a query per row.
    public func transaction<Result: Sendable>(actor: String, scope: AccessScope, writes: Bool = false,
                                              _ body: (Transaction) async throws -> Result) async throws -> Result {
        try await pooled { connection in
            try await Transaction.run(on: connection, begin: .readWrite, actor: actor, reason: nil, today: today, logger: logger) { tx in
                var granted = false
                for try await row in try await connection.execute(EnterScope(actor: actor, scope: scope, writes: writes), logger: logger) {
                    granted = true
                    tx.writtenVersion = row
                }
                guard granted else { throw RegistryError(.unauthenticated, field: "authorization", "this token was revoked") }
                return try await body(tx)
            }
        }
    }

    /// Runs `body` in one transaction under the same row-level security as an API request acting
    /// for `institutionID`, without a token: the command line's acting site
    /// (`--as-institution`). Reads and writes see only the patients the institution holds;
    /// another site's patient is not found, exactly as over HTTP. With `readOnly`, nothing can be written.
    public func transaction<Result: Sendable>(actor: String, actingFor institutionID: Int, readOnly: Bool = false,
                                              _ body: (Transaction) async throws -> Result) async throws -> Result {
        try await pooled { connection in
            try await Transaction.run(on: connection, begin: readOnly ? .readOnly : .readWrite, actor: readOnly ? nil : actor,
                                      reason: nil, today: today, logger: logger) { tx in
                try await tx.connection.query("""
                    SELECT set_config('registry.actor', \(actor), true), set_config('registry.reason', '', true),
                           set_config('registry.institution', \(String(institutionID)), true), set_config('registry.token', '', true),
                           set_config('role', 'registry_api', true)
                    """, logger: logger)
                return try await body(tx)
            }
        }
    }

    /// Runs `body` in one transaction of the signed-in person whose cookie holds `secret`, under
    /// row-level security as their role allows: a coordinator acting for their institution, a
    /// regulator or admin seeing no patient rows; attributed to `user:USERNAME`. The session is
    /// checked, and kept alive, in the statement that sets all this (`EnterSession`), so a session
    /// revoked, run out or whose account was disabled a moment ago is refused from then on:
    /// `unauthenticated`, and a session that ran out is recorded as `expired`, once.
    ///
    /// With `writes`, as for a token's transaction, `writtenVersion` is the version of every row written.
    public func transaction<Result: Sendable>(session secret: String, writes: Bool = false,
                                              _ body: (Transaction, WebSession) async throws -> Result) async throws -> Result {
        do {
            return try await pooled { connection in
                try await Transaction.run(on: connection, begin: .readWrite, actor: nil, reason: nil, today: today, logger: logger) { tx in
                    var entered: WebSession?
                    for try await (session, version) in try await connection.execute(EnterSession(secret: secret, writes: writes), logger: logger) {
                        entered = session
                        tx.writtenVersion = version
                    }
                    guard let session = entered else { throw NoSession() }
                    tx.actor = session.user.actor
                    return try await body(tx, session)
                }
            }
        } catch is NoSession {
            // Its own transaction: the refused one is rolled back.
            try await transaction(actor: "registry:sessions") { tx in try await tx.webSessions.expire(secret: secret) }
            throw RegistryError(.unauthenticated, field: "session", "this session has ended or is not known; sign in again")
        }
    }

    /// The session a session transaction was asked for is not valid now.
    private struct NoSession: Error {}

    /// The session whose cookie holds `secret` if it is valid now, without keeping it alive or
    /// recording anything: for the sign-in page, which only asks whether someone is signed in.
    public func session(secret: String) async throws -> WebSession? {
        try await read { tx in
            let rows = try await tx.connection.query(PostgresQuery(unsafeSQL: """
                SELECT \(WebSession.columns) FROM web_session s JOIN (\(Users.tables)) ON u.id = s.user_id
                WHERE s.secret_hash = $1 AND \(WebSession.validNow)
                """, binds: { var b = PostgresBindings(); b.append(ByteBuffer(bytes: WebSessions.hash(secret))); return b }()), logger: logger)
            return try await rows.firstElement().map { try WebSession.decode($0.makeRandomAccess()) }
        }
    }

    /// Runs `body` in one read-only transaction: at READ COMMITTED each statement sees what was
    /// committed when it started; at REPEATABLE READ every statement sees one snapshot.
    public func read<Result: Sendable>(isolation: Isolation = .readCommitted,
                                       _ body: (Transaction) async throws -> Result) async throws -> Result {
        try await pooled { connection in
            try await Transaction.run(on: connection, begin: isolation == .readCommitted ? .readOnly : .repeatableReadOnly,
                                      actor: nil, reason: nil, today: today, logger: logger, body)
        }
    }

    /// Runs `body` in one transaction with no audit attribution: for operational tables the audit
    /// trail does not cover, for reads that need transaction-local settings (`SET LOCAL`), and DDL.
    public func plainTransaction<Result: Sendable>(isolation: Isolation = .readCommitted,
                                                   _ body: (Transaction) async throws -> Result) async throws -> Result {
        try await pooled { connection in
            try await Transaction.run(on: connection, begin: isolation == .readCommitted ? .readWrite : .repeatableRead,
                                      actor: nil, reason: nil, today: today, logger: logger, body)
        }
    }

    /// Runs `body` in a transaction attributed to `actor` that is always rolled back: a dry run
    /// that sees its own changes and keeps none.
    public func rehearsal<Result: Sendable>(actor: String, _ body: (Transaction) async throws -> Result) async throws -> Result {
        try await pooled { connection in
            try await Transaction.run(on: connection, begin: .readWrite, actor: actor, reason: nil, today: today, logger: logger,
                                      rollBack: true) { tx in
                try await tx.connection.query("SELECT set_config('registry.actor', \(actor), true)", logger: logger)
                return try await body(tx)
            }
        }
    }

    /// Runs `body` on a pooled connection outside any transaction: for the few statements that
    /// cannot run inside one (session advisory locks, CREATE DATABASE, test set-up).
    public func withConnection<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await pooled(body)
    }

    /// Answers whether the server takes a query now (the readiness check), within `deadline`.
    public func ping(deadline: Duration = .seconds(2)) async throws {
        try await Self.reachable(url, logger: logger, deadline: deadline)
        try await read { tx in _ = try await tx.connection.query("SELECT 1", logger: logger).collect() }
    }

    private func pooled<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let asked = ContinuousClock.now
        do {
            return try await client().withConnection { connection in
                let waited = (ContinuousClock.now - asked).components
                connectionWait.recordNanoseconds(waited.seconds * 1_000_000_000 + waited.attoseconds / 1_000_000_000)
                connectionsInUse.increment()
                defer { connectionsInUse.decrement() }
                return try await body(connection)
            }
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    /// The pool of the event loop the current task runs on; from elsewhere, any pool.
    private func client() -> PostgresClient {
        guard clients.count > 1 else { return clients[0] }
        for (i, loop) in loops.enumerated() where loop.inEventLoop { return clients[i] }
        return clients.randomElement()!
    }
}

/// Who a scoped transaction acts for: an API token, and the institution it acts for (nil for
/// regulator and admin tokens, which see no patient rows).
public struct AccessScope: Sendable, Hashable {
    public var tokenID: Int
    public var institutionID: Int?

    public init(tokenID: Int, institutionID: Int?) {
        self.tokenID = tokenID
        self.institutionID = institutionID
    }
}

/// The statement that opens a scoped transaction (prepared: it runs on every API request): it
/// re-checks the token, points the audit trail at the actor, and switches to `registry_api` acting
/// for the institution. One row (with the transaction id when asked for) if the token is valid.
/// JIT compilation is off in these transactions: a request's statements are short, and compiling
/// one costs more (tens of milliseconds) than running it.
struct EnterScope: PostgresPreparedStatement {
    static let name = "registry_enter_scope"
    static let sql = """
        SELECT set_config('registry.actor', $1, true), set_config('registry.reason', '', true),
               set_config('registry.institution', $2, true), set_config('registry.token', $3, true),
               set_config('role', 'registry_api', true), CASE WHEN $4 THEN pg_current_xact_id()::xid::text END,
               set_config('jit', 'off', true)
        FROM api_token WHERE id = $5 AND revoked_at IS NULL
        """
    typealias Row = String?
    var actor: String
    var scope: AccessScope
    var writes: Bool

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 5)
        b.append(actor); b.append(scope.institutionID.map(String.init) ?? ""); b.append(String(scope.tokenID)); b.append(writes); b.append(scope.tokenID)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> String? { try row.makeRandomAccess()[5].decode(String?.self) }
}
