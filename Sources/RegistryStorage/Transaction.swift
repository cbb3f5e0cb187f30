import Logging
import PostgresNIO
import RegistryDomain

/// The handle to one open transaction: repositories take it (`tx.patients`, `tx.visits`, ...), so
/// the code that opened it, and only that code, decides what runs together. Obtained from
/// `Database.transaction`, `read`, `plainTransaction` or `rehearsal`; used by one task at a time.
public final class Transaction: @unchecked Sendable {
    /// The connection the transaction runs on, for set-based SQL in storage, jobs and reports.
    public let connection: PostgresConnection
    /// The logger queries use.
    public let logger: Logger
    /// Who the audit trail records for this transaction's changes (nil: not an audited transaction).
    /// A session transaction learns it from the session, after BEGIN.
    public internal(set) var actor: String?
    /// Today's date in Seoul, as the database that opened this transaction sees it.
    public let today: LocalDate
    /// In a scoped transaction opened with `writes`, the version every row it writes is at: the
    /// transaction's id, which PostgreSQL stamps on each row version (xmin) it writes.
    public internal(set) var writtenVersion: String?
    private var reason: String?

    init(connection: PostgresConnection, logger: Logger, actor: String?, reason: String?, today: LocalDate) {
        self.connection = connection
        self.logger = logger
        self.actor = actor
        self.reason = reason
        self.today = today
    }

    /// Records `reason` as the why of the changes that follow, in the audit trail (when it changes).
    public func because(_ reason: String?) async throws {
        guard reason != self.reason else { return }
        try await connection.query("SELECT set_config('registry.reason', \(reason ?? ""), true)", logger: logger)
        self.reason = reason
    }

    /// How a transaction starts.
    enum Begin {
        case readWrite, readOnly, repeatableRead, repeatableReadOnly
    }

    /// BEGIN, `body`, COMMIT on `connection`; ROLLBACK on any error (or always, with `rollBack`).
    /// A failed ROLLBACK or COMMIT is never dropped: either is thrown as a `TransactionError`; a
    /// failed ROLLBACK is also logged and its connection closed (it may still be inside the transaction).
    static func run<Result: Sendable>(on connection: PostgresConnection, begin: Begin, actor: String?, reason: String?,
                                      today: @Sendable () -> LocalDate, logger: Logger, rollBack: Bool = false,
                                      _ body: (Transaction) async throws -> Result) async throws -> Result {
        switch begin {
        case .readWrite: for try await _ in try await connection.execute(BeginReadWrite(), logger: logger) {}
        case .readOnly: for try await _ in try await connection.execute(BeginReadOnly(), logger: logger) {}
        case .repeatableRead: try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ", logger: logger)
        case .repeatableReadOnly: try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
        }
        let tx = Transaction(connection: connection, logger: logger, actor: actor, reason: reason, today: today())
        let value: Result
        do {
            value = try await body(tx)
        } catch {
            try await rollback(connection, after: error, logger: logger)
            throw error
        }
        if rollBack {
            try await rollback(connection, after: nil, logger: logger)
            return value
        }
        do {
            for try await _ in try await connection.execute(Commit(), logger: logger) {}
        } catch {
            // A refused COMMIT (a deferred constraint, a serialization failure) is the transaction's
            // answer; a lost connection is the caller's to report. Either way nothing was kept.
            throw TransactionError(error: error, rollbackError: nil, committing: true)
        }
        return value
    }

    private static func rollback(_ connection: PostgresConnection, after error: (any Error)?, logger: Logger) async throws {
        do {
            for try await _ in try await connection.execute(Rollback(), logger: logger) {}
        } catch let rollbackError {
            logger.error("ROLLBACK failed; closing the connection", metadata: [
                "error": "\(DatabaseErrors.summary(rollbackError))", "after": "\(error.map(DatabaseErrors.summary) ?? "dry run")"])
            do { try await connection.close() } catch {
                logger.error("closing the connection after a failed ROLLBACK failed too", metadata: ["error": "\(DatabaseErrors.summary(error))"])
            }
            throw TransactionError(error: error ?? rollbackError, rollbackError: rollbackError, committing: false)
        }
    }
}

/// A transaction whose COMMIT failed, or whose ROLLBACK failed after `error`: nothing it wrote was
/// kept, and (for a failed ROLLBACK) its connection was closed.
public struct TransactionError: Error, Sendable {
    /// What went wrong first: the body's error, or the COMMIT's.
    public var error: any Error
    /// The ROLLBACK's own failure, when it failed.
    public var rollbackError: (any Error)?
    /// Whether it failed at COMMIT.
    public var committing: Bool
}

/// Isolation of a read or an unattributed transaction.
public enum Isolation: Sendable {
    /// Each statement sees what was committed when it started.
    case readCommitted
    /// Every statement sees the snapshot taken at the first.
    case repeatableRead
}

/// BEGIN, COMMIT and ROLLBACK as named prepared statements: every transaction sends two of them,
/// and a prepared statement skips the parse and describe a plain query pays each time.
protocol TransactionControl: PostgresPreparedStatement where Row == Void {}
extension TransactionControl {
    func makeBindings() throws -> PostgresBindings { PostgresBindings() }
    func decodeRow(_ row: PostgresRow) throws {}
}
struct BeginReadWrite: TransactionControl {
    static let sql = "BEGIN"
    static let name = "registry_begin"
}
struct BeginReadOnly: TransactionControl {
    static let sql = "BEGIN READ ONLY"
    static let name = "registry_begin_read_only"
}
struct Commit: TransactionControl {
    static let sql = "COMMIT"
    static let name = "registry_commit"
}
struct Rollback: TransactionControl {
    static let sql = "ROLLBACK"
    static let name = "registry_rollback"
}
