import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test("migrate applies every file once, in order, recording its checksum")
    func appliesOnce() async throws {
        let url = try await TestDatabase.create(empty: true)
        let db = try await Database.open(url, logger: TestDatabase.logger)
        let bundled = try Migration.bundled()
        #expect(bundled.first?.name == "0001_core.sql")
        #expect(bundled.map(\.version) == bundled.map(\.version).sorted())
        let first = try await Migrator.migrate(db)
        #expect(first.map(\.name) == bundled.map(\.name))
        let second = try await Migrator.migrate(db)
        #expect(second.isEmpty)
        let recorded = try await db.plainTransaction { c in
            try await (c.query("SELECT name, checksum FROM schema_migrations ORDER BY version", logger: TestDatabase.logger) as PostgresRowSequence).decode((String, String).self).collect()
        }
        #expect(recorded.map(\.0) == bundled.map(\.name))
        #expect(recorded.map(\.1) == bundled.map(\.checksum))
        await db.close()
        try await TestDatabase.drop(url)
    }

    @Test("a landed migration whose file changed is refused, and nothing else is applied")
    func changedChecksumRefused() async throws {
        let url = try await TestDatabase.create(empty: true)
        let db = try await Database.open(url, logger: TestDatabase.logger)
        let bundled = try Migration.bundled()
        try await Migrator.migrate(db, migrations: bundled)
        var edited = bundled
        edited[0].sql += "\n-- an edit after landing\n"
        edited.append(Migration(version: 9_999, name: "9999_later.sql", sql: "CREATE TABLE later (id int);"))
        await expectRefusal(field: "schema", code: .configuration) {
            try await Migrator.migrate(db, migrations: edited)
        }
        let laterExists = try await db.plainTransaction { c in
            try await c.query("SELECT to_regclass('later') IS NOT NULL", logger: TestDatabase.logger).decode(Bool.self).first(where: { _ in true })!
        }
        #expect(!laterExists)
        await db.close()
        try await TestDatabase.drop(url)
    }

    @Test("a failing migration rolls back whole")
    func failingMigrationRollsBack() async throws {
        let url = try await TestDatabase.create(empty: true)
        let db = try await Database.open(url, logger: TestDatabase.logger)
        let broken = Migration(version: 1, name: "0001_broken.sql", sql: "CREATE TABLE half (id int); SELECT no_such_function();")
        await expectRefusal(field: "schema") { try await Migrator.migrate(db, migrations: [broken]) }
        let exists = try await db.plainTransaction { c in
            try await c.query("SELECT to_regclass('half') IS NOT NULL", logger: TestDatabase.logger).decode(Bool.self).first(where: { _ in true })!
        }
        #expect(!exists)
        await db.close()
        try await TestDatabase.drop(url)
    }

    @Test("two migrate runs at once serialise instead of failing")
    func concurrentRunsSerialise() async throws {
        let url = try await TestDatabase.create(empty: true)
        let a = try await Database.open(url, logger: TestDatabase.logger)
        let b = try await Database.open(url, logger: TestDatabase.logger)
        async let ra = Migrator.migrate(a)
        async let rb = Migrator.migrate(b)
        let (applied1, applied2) = try await (ra, rb)
        let total = try Migration.bundled().count
        #expect(applied1.count + applied2.count == total)
        #expect(applied1.isEmpty || applied2.isEmpty)
        await a.close(); await b.close()
        try await TestDatabase.drop(url)
    }

    @Test("SQL scripts split on semicolons outside quotes, comments and dollar-quoted bodies")
    func scriptSplitting() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (t text DEFAULT 'x;y');
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
            /* block; comment */ SELECT "odd;name" FROM a;
            DO $body$ BEGIN PERFORM 1; END $body$;
            SELECT $1::int
            """
        let statements = SQLScript.statements(script)
        #expect(statements.count == 5)
        #expect(statements[1].hasSuffix("END $$"))
        #expect(statements[3].hasPrefix("DO $body$"))
        #expect(statements[4] == "SELECT $1::int")
    }
}

@Suite("Reaching the database")
struct ConnectionTests {
    @Test("a closed port gives one clear unavailable error at once")
    func refusedConnection() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        await expectRefusal(field: "database-url", code: .unavailable) {
            _ = try await Database.open(DatabaseURL(host: "127.0.0.1", port: try closedPort(), user: "x", password: nil, database: "x"), logger: TestDatabase.logger)
        }
        #expect(clock.now - start < .seconds(10))
    }

    @Test("a server that accepts but never answers is given up on at the deadline")
    func silentServer() async throws {
        // A listening socket that never speaks PostgreSQL: the connection hangs until our deadline.
        let (fd, port) = boundLoopbackSocket()
        defer { close(fd) }
        listen(fd, 4)
        let clock = ContinuousClock()
        let start = clock.now
        await expectRefusal(field: "database-url", code: .unavailable) {
            _ = try await Database.open(DatabaseURL(host: "127.0.0.1", port: port, user: "x", password: nil, database: "x"),
                                        logger: TestDatabase.logger, deadline: .seconds(2))
        }
        let elapsed = clock.now - start
        #expect(elapsed >= .seconds(2) && elapsed < .seconds(6))
    }
}
