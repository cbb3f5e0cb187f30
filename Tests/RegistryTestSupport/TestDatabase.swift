import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryStorage
import Testing

/// Real PostgreSQL for integration tests: scripts/test starts a throwaway server and exports its
/// URL. Each test gets its own database, cloned from a migrated template, and drops it afterwards.
public enum TestDatabase {
    public static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    /// The throwaway server's maintenance URL.
    public static func serverURL() throws -> DatabaseURL {
        guard let text = ProcessInfo.processInfo.environment["REGISTRY_TEST_DATABASE_URL"] else {
            Issue.record("REGISTRY_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL")
            throw RegistryError(.configuration, "REGISTRY_TEST_DATABASE_URL is not set")
        }
        return try DatabaseURL(text)
    }

    private actor Template {
        // One task, awaited by every caller: actor methods re-enter at each suspension.
        var task: Task<String, any Error>?
        func ensure() async throws -> String {
            if task == nil { task = Task { try await Self.make() } }
            return try await task!.value
        }
        static func make() async throws -> String {
            // One per test process: every test target links this module once, and on Linux they all
            // run in one process; the pid keeps concurrent runs on one server apart.
            let made = "registry_template_\(getpid())"
            try await TestDatabase.admin { c in
                try await c.query("DROP DATABASE IF EXISTS \(unescaped: made)", logger: TestDatabase.logger)
                try await c.query("CREATE DATABASE \(unescaped: made)", logger: TestDatabase.logger)
            }
            let db = try await Database.open(try TestDatabase.serverURL().with(database: made), logger: TestDatabase.logger)
            try await Migrator.migrateWithReferenceData(db)
            let catalogue = try await db.read { tx in try await tx.measures.catalogue() }
            TestDatabase.catalogue.set(catalogue)
            await db.close()
            return made
        }
    }
    private static let template = Template()

    /// The measure catalogue as the migrations seed it (schema/0012), read from the template, for
    /// fixtures that check a visit's measures outside a transaction. Available once a test
    /// database has been created.
    public static var measureCatalogue: MeasureCatalogue {
        guard let catalogue = catalogue.get() else {
            preconditionFailure("create a test database (TestDatabase.create) before checking measures: the catalogue is read from it")
        }
        return catalogue
    }

    private final class CatalogueBox: @unchecked Sendable {
        private let lock = NSLock()
        private var value: MeasureCatalogue?
        func set(_ catalogue: MeasureCatalogue) { lock.lock(); value = catalogue; lock.unlock() }
        func get() -> MeasureCatalogue? { lock.lock(); defer { lock.unlock() }; return value }
    }
    private static let catalogue = CatalogueBox()

    /// Runs `body` on a maintenance connection.
    public static func admin(_ body: (PostgresConnection) async throws -> Void) async throws {
        let db = try await Database.open(try serverURL(), logger: logger)
        do { try await db.withConnection(body); await db.close() } catch { await db.close(); throw error }
    }

    /// A new database: migrated (cloned from the template) unless `empty`.
    public static func create(empty: Bool = false) async throws -> DatabaseURL {
        let source = empty ? "template0" : try await template.ensure()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try await clone(source, to: String(name))
        return try serverURL().with(database: String(name))
    }

    /// Creates the database `name` as a copy of `source`. The source's last pooled connection can
    /// still be closing on the server when the copy is asked for (SQLSTATE 55006, "being accessed
    /// by other users"), the more so on a loaded machine: waits for it, up to 20 seconds.
    public static func clone(_ source: String, to name: String) async throws {
        for attempt in 1...200 {
            do {
                try await admin { c in
                    try await c.query("CREATE DATABASE \(unescaped: name) TEMPLATE \(unescaped: source)", logger: logger)
                }
                return
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55006" && attempt < 200 {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    public static func drop(_ url: DatabaseURL) async throws {
        try await admin { c in
            try await c.query("DROP DATABASE IF EXISTS \(unescaped: url.database) WITH (FORCE)", logger: logger)
        }
    }

    /// Counts rows of a table in the database at `url` (one the test drives from outside, through the binary).
    public static func count(_ url: DatabaseURL, _ table: String, where condition: String = "true") async throws -> Int {
        let db = try await Database.open(url, logger: logger)
        do {
            let n = try await db.count(table, where: condition)
            await db.close()
            return n
        } catch {
            await db.close()
            throw error
        }
    }

    /// A migrated database of its own for one test, whose "today" is fixed.
    public static func withDatabase(today: LocalDate = LocalDate("2026-11-25")!, _ body: (Database) async throws -> Void) async throws {
        let url = try await create()
        let db = try await Database.open(url, logger: logger, today: { today })
        do {
            try await body(db)
            await db.close()
        } catch {
            await db.close()
            try? await drop(url)
            throw error
        }
        try await drop(url)
    }
}

extension Database {
    /// Runs `body` in one transaction acting for the institution `code` under row-level security,
    /// as an API token of that institution or the command line's --as-institution does.
    public func acting<Result: Sendable>(as code: String, actor: String = "site", _ body: (Transaction) async throws -> Result) async throws -> Result {
        let id = try await read { tx in try await tx.institutions.id(code: code) }
        return try await transaction(actor: actor, actingFor: id, body)
    }

    /// Counts rows of a table, for "nothing was written" checks.
    public func count(_ table: String, where condition: String = "true") async throws -> Int {
        try await plainTransaction { c in
            try await c.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table) WHERE \(condition)"), logger: TestDatabase.logger)
                .decode(Int.self).first(where: { _ in true })!
        }
    }

    /// Row counts of every registry table and the audit trail.
    public func snapshot() async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for t in ["institution", "product", "treatment_plan", "plan_risk_change", "patient", "administration", "follow_up", "audit_log"] {
            out[t] = try await count(t)
        }
        return out
    }

    /// Integers from a query's first column.
    public func ints(_ sql: String) async throws -> [Int] {
        try await plainTransaction { c in
            try await c.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(Int.self).collect()
        }
    }

    /// One text value.
    public func text(_ sql: String) async throws -> String {
        try await plainTransaction { c in
            try await c.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(String.self).first(where: { _ in true })!
        }
    }
}

/// Asserts that `body` throws a RegistryError naming `field` (and, if given, of `code`).
public func expectRefusal(field: String?, code: RegistryError.Code? = nil, _ body: () async throws -> Void,
                          sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        try await body()
        Issue.record("expected a refusal on field \(field ?? "nil"), but it succeeded", sourceLocation: sourceLocation)
    } catch let error as RegistryError {
        #expect(error.field == field, "refusal named field \(error.field ?? "nil"): \(error.message)", sourceLocation: sourceLocation)
        if let code { #expect(error.code == code, "\(error)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("expected a RegistryError, got \(error)", sourceLocation: sourceLocation)
    }
}

extension AsyncSequence {
    /// Every element, in order.
    public func collect() async throws -> [Element] {
        var out: [Element] = []
        for try await element in self { out.append(element) }
        return out
    }
}

extension Transaction {
    /// Runs a statement on the transaction's connection: tests write their own SQL.
    @discardableResult
    public func query(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        try await connection.query(query, logger: logger)
    }
}
