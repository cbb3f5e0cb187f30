import Crypto
import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistrySchema

/// One numbered SQL file from `schema/`.
public struct Migration: Sendable, Equatable {
    /// The number the file starts with.
    public var version: Int
    /// The file name.
    public var name: String
    /// The SQL text.
    public var sql: String
    /// SHA-256 of the text, hex; a landed file whose checksum changes is refused.
    public var checksum: String { Hex.string(SHA256.hash(data: Data(sql.utf8))) }

    public init(version: Int, name: String, sql: String) {
        self.version = version; self.name = name; self.sql = sql
    }

    /// The migrations shipped with this build (`schema/NNNN_name.sql`), in order.
    public static func bundled() throws -> [Migration] {
        let missing = SchemaFiles.missingFromBuild()
        guard missing.isEmpty else {
            throw RegistryError(.configuration, field: "schema", "this build lacks \(missing.joined(separator: ", ")) from schema/",
                                hint: "SwiftPM lists schema/*.sql when it evaluates Package.swift and caches that by content: rebuild with `swift build --manifest-cache none` (as scripts/test and scripts/demo do)")
        }
        let urls = SchemaFiles.migrationURLs()
        guard !urls.isEmpty else {
            throw RegistryError(.configuration, "the schema files are missing from this build")
        }
        return try urls.map { url in
            let file = url.lastPathComponent
            guard let version = Int(file.prefix(while: \.isNumber)) else {
                throw RegistryError(.configuration, "schema file \(file) does not start with its number, e.g. 0001_core.sql")
            }
            return Migration(version: version, name: file, sql: try String(contentsOf: url, encoding: .utf8))
        }
    }
}

/// Applies migrations in order, each in one transaction, recorded with its checksum.
public enum Migrator {
    // Any constant will do; it only has to be the same for every process.
    static let lockKey: Int64 = 0x5245_4749_5354_5259  // "REGISTRY"
    /// Who the audit trail records for changes a migration makes.
    public static let actor = "registry migrate"

    /// Applies the pending migrations, then writes the reference data the domain defines
    /// (standard protocols) where missing; returns the migrations applied.
    /// What every command and the server do before anything else.
    @discardableResult
    public static func migrateWithReferenceData(_ database: Database) async throws -> [Migration] {
        let applied = try await migrate(database)
        try await database.transaction(actor: actor) { tx in try await tx.protocols.ensureReferenceData() }
        return applied
    }

    /// Applies the pending migrations and returns them. Concurrent runs wait for each other on an
    /// advisory lock rather than failing; an applied file whose checksum has changed is refused.
    @discardableResult
    public static func migrate(_ database: Database, migrations: [Migration]? = nil) async throws -> [Migration] {
        let all = try migrations ?? Migration.bundled()
        let logger = database.logger
        return try await database.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
            let applied: [Migration]
            do {
                applied = try await apply(all, on: connection, today: database.today, logger: logger)
            } catch {
                // The lock is the session's: released here, or with the connection if this fails too.
                do { try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger) } catch let unlockError {
                    logger.error("releasing the migration lock failed; closing the connection", metadata: ["error": "\(DatabaseErrors.summary(unlockError))"])
                    try await connection.close()
                }
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            return applied
        }
    }

    private static func apply(_ all: [Migration], on connection: PostgresConnection, today: @Sendable () -> LocalDate,
                              logger: Logger) async throws -> [Migration] {
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """, logger: logger)
        var landed: [Int: (name: String, checksum: String)] = [:]
        for try await (version, name, checksum) in try await connection.query(
            "SELECT version, name, checksum FROM schema_migrations", logger: logger).decode((Int32, String, String).self) {
            landed[Int(version)] = (name, checksum)
        }
        for migration in all {
            if let done = landed[migration.version], done.checksum != migration.checksum {
                throw RegistryError(.configuration, field: "schema",
                    "migration \(done.name) was changed after it was applied (checksum \(done.checksum.prefix(12))… in the database, \(migration.checksum.prefix(12))… in this build); landed migrations are never edited",
                    hint: "restore the original file and put the change in a new numbered file in schema/")
            }
        }
        var appliedNow: [Migration] = []
        for migration in all where landed[migration.version] == nil {
            do {
                try await Transaction.run(on: connection, begin: .readWrite, actor: Self.actor, reason: nil, today: today, logger: logger) { _ in
                    try await connection.query("SELECT set_config('registry.actor', \(Self.actor), true)", logger: logger)
                    for statement in SQLScript.statements(migration.sql) {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))", logger: logger)
                }
            } catch {
                throw RegistryError(.configuration, field: "schema", "migration \(migration.name) failed and was rolled back: \(DatabaseErrors.summary(error))")
            }
            appliedNow.append(migration)
        }
        return appliedNow
    }
}
