import Crypto
import Foundation
import NIOCore
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// The registry as an OMOP CDM 5.4 extract, for researchers' OHDSI tools: CSV files, one per
/// table, or rows loaded into a CDM schema of another PostgreSQL database. The mapping is
/// `OmopMapping` (docs/omop.md); the tables are `OmopSchema`. Rows stream from one snapshot of
/// the registry to the files or the target's `COPY FROM STDIN` as they are read, so memory does
/// not grow with the registry. Every extract is recorded in `report_pull` (report `omop`, role
/// admin, with its purpose, recipient and the SHA-256 of what was written).
public enum OmopExport {
    /// Who asks for the extract, why, for whom, and which patients.
    public struct Request: Sendable {
        public var purpose: String
        public var recipient: String?
        /// Only the patients this institution holds (code); nil: every patient.
        public var institution: String?
        public var actor: String
        public var today: LocalDate

        public init(purpose: String, recipient: String? = nil, institution: String? = nil, actor: String, today: LocalDate) {
            self.purpose = purpose; self.recipient = recipient; self.institution = institution; self.actor = actor; self.today = today
        }

        /// The request with its fields checked and its institution found, before anything is written.
        func checked(_ database: Database) async throws -> Request {
            var r = self
            r.purpose = try Rules.name(purpose, field: "purpose", maxLength: 500)
            r.recipient = try recipient.map { text throws(RegistryError) in try Rules.name(text, field: "recipient", maxLength: 200) }
            r.institution = try institution.map { code throws(RegistryError) in try Rules.institutionCode(code) }
            if let code = r.institution {
                let found = try await database.read { tx in
                    try await tx.connection.query("SELECT count(*) FROM institution WHERE code = \(code)", logger: database.logger).decode(Int.self).firstElement()
                }
                guard (found ?? 0) > 0 else { throw RegistryError.notFound("institution", "no institution has code \(code)", remedy: .list(.institutions)) }
            }
            return r
        }
    }

    /// What an extract wrote.
    public struct Summary: Sendable, Encodable {
        /// The `report_pull` row recording it.
        public var pull: Int
        /// Rows per CDM table, in load order.
        public var tables: [TableRows]
        /// Where it went: the folder, or the database and schema (password hidden).
        public var target: String
        public var checksum: String
        public var seconds: Double

        public struct TableRows: Sendable, Encodable, Equatable {
            public var table: String
            public var rows: Int
        }

        /// Rows of one table.
        public func rows(_ table: String) -> Int? { tables.first { $0.table == table }?.rows }

        /// `person 200, observation_period 200, ...`
        public var rowsText: String { tables.map { "\($0.table) \($0.rows.formatted())" }.joined(separator: ", ") }
    }

    /// Where an extract is in its work, for a progress line.
    public struct Progress: Sendable {
        public var table: String
        public var rows: Int
        public var done: Bool
    }

    /// Writes one CSV file per table into `directory` (created, mode 0700, if absent; each file
    /// created or replaced with mode 0600): RFC 4180, UTF-8, a header of the CDM's column names,
    /// dates as YYYY-MM-DD, empty fields for NULL. Records the pull after the files are written.
    public static func writeCSV(database: Database, directory: String, request: Request,
                                progress: @escaping @Sendable (Progress) -> Void = { _ in }) async throws -> Summary {
        let request = try await request.checked(database)
        let start = ContinuousClock.now
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw RegistryError.invalid("out", "\(directory) is a file; the extract writes a folder of CSV files, one per table")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RegistryError.invalid("out", "cannot create the folder \(directory)")
        }
        var hasher = SHA256()
        var counts: [Summary.TableRows] = []
        try await read(database, request, format: .csv) { table, rows in
            let path = (directory as NSString).appendingPathComponent("\(table.name).csv")
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
                  let handle = FileHandle(forWritingAtPath: path) else {
                throw RegistryError.invalid("out", "cannot write to \(path)")
            }
            defer { try? handle.close() }
            var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
            buffer.writeString(table.columnNames.joined(separator: ",") + "\r\n")
            var n = 0
            for try await row in rows {
                if let line = row.first?.bytes { buffer.writeImmutableBuffer(line) }
                buffer.writeStaticString("\r\n")
                n += 1
                if n % 100_000 == 0 { progress(Progress(table: table.name, rows: n, done: false)) }
                if buffer.readableBytes >= 1 << 20 {
                    buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                    try handle.write(contentsOf: buffer.readableBytesView)
                    buffer.clear()
                }
            }
            buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            try handle.write(contentsOf: buffer.readableBytesView)
            try handle.synchronize()
            counts.append(.init(table: table.name, rows: n))
            progress(Progress(table: table.name, rows: n, done: true))
        }
        let checksum = Hex.string(hasher.finalize())
        let pull = try await record(database, request, checksum: checksum, parameters: ["format": "csv"], counts: counts)
        return Summary(pull: pull, tables: counts, target: directory, checksum: "sha256:\(checksum)",
                       seconds: (ContinuousClock.now - start) / .seconds(1))
    }

    /// Loads the extract into the CDM schema `schema` of the database at `target`, in one
    /// transaction there: creates the schema and the tables that are absent (from `OmopSchema`),
    /// refuses tables that already hold rows unless `replace` (then drops and recreates them),
    /// copies every table with `COPY FROM STDIN`, and only then adds the primary and foreign keys,
    /// so an orphan fails the load and is named. The pull is recorded before the target commits.
    public static func load(database: Database, target: DatabaseURL, schema: String, replace: Bool, request: Request,
                            progress: @escaping @Sendable (Progress) -> Void = { _ in }) async throws -> Summary {
        let request = try await request.checked(database)
        let schema = try checkedSchema(schema)
        let start = ContinuousClock.now
        let cdm = try await Database.open(target, logger: database.logger, maxConnections: 2)
        do {
            let summary = try await cdm.plainTransaction { ttx in
                let t = ttx.connection
                let logger = database.logger
                if try await t.query("SELECT to_regclass('public.report_pull') IS NOT NULL AND to_regclass('public.audit_log') IS NOT NULL",
                                     logger: logger).decode(Bool.self).one("the target's tables") {
                    throw RegistryError.conflict("target-database-url", "\(target) holds a registry; the CDM is loaded into a database of its own",
                                                 hint: "create an empty database for the CDM, e.g. createdb cdm")
                }
                try await prepare(t, schema: schema, replace: replace, target: target, logger: logger)
                var hasher = SHA256()
                var counts: [Summary.TableRows] = []
                try await read(database, request, format: .copy) { table, rows in
                    var n = 0
                    try await t.copyFrom(table: table.name, columns: table.columnNames, logger: logger) { writer in
                        var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
                        for try await row in rows {
                            if let line = row.first?.bytes { buffer.writeImmutableBuffer(line) }
                            buffer.writeInteger(UInt8(ascii: "\n"))
                            n += 1
                            if n % 100_000 == 0 { progress(Progress(table: table.name, rows: n, done: false)) }
                            if buffer.readableBytes >= 1 << 20 {
                                let chunk = buffer
                                buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
                                chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                                try await writer.write(chunk)
                            }
                        }
                        let chunk = buffer
                        chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                        if chunk.readableBytes > 0 { try await writer.write(chunk) }
                    }
                    counts.append(.init(table: table.name, rows: n))
                    progress(Progress(table: table.name, rows: n, done: true))
                }
                try await addKeys(t, logger: logger)
                let checksum = Hex.string(hasher.finalize())
                let destination = "\(target.description) schema \(schema)"
                let pull = try await record(database, request, checksum: checksum,
                                            parameters: ["format": "postgresql", "target": destination, "replace": replace ? "yes" : "no"], counts: counts)
                return Summary(pull: pull, tables: counts, target: destination, checksum: "sha256:\(checksum)",
                               seconds: (ContinuousClock.now - start) / .seconds(1))
            }
            await cdm.close()
            return summary
        } catch {
            await cdm.close()
            throw error
        }
    }

    /// The hint of the refusal of tables that hold rows; a front end words it as its own option.
    public static let replaceHint = "replace them, or load into another schema"

    /// A schema name the loader may create: an unquoted PostgreSQL identifier in lower case.
    static func checkedSchema(_ name: String) throws(RegistryError) -> String {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) || first == "_", name.count <= 63,
              name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }),
              !["public", "pg_catalog", "information_schema"].contains(name) else {
            throw .invalid("schema", "'\(name)' is not a schema the extract may load into; expected lower-case letters, digits and underscores "
                                      + "(up to 63, starting with a letter), not public")
        }
        return name
    }

    /// The schema and its empty tables: created where absent; tables holding rows refused, or
    /// with `replace` dropped and made anew.
    static func prepare(_ t: PostgresConnection, schema: String, replace: Bool, target: DatabaseURL, logger: Logger) async throws {
        try await t.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: schema)", logger: logger)
        try await t.query("SET LOCAL search_path TO \(unescaped: schema)", logger: logger)
        let names = OmopSchema.tables.map(\.name)
        var existing: [String] = []
        for try await name in try await t.query("""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(schema) AND c.relname = ANY(\(names)) AND c.relkind IN ('r', 'p')
            """, logger: logger).decode(String.self) { existing.append(name) }
        var held: [(String, Int)] = []
        for name in names where existing.contains(name) {
            let n = try await t.query("SELECT count(*)::int FROM \(unescaped: name)", logger: logger).decode(Int.self).one("rows of \(name)")
            if n > 0 { held.append((name, n)) }
        }
        if !held.isEmpty && !replace {
            throw RegistryError.conflict("target-database-url",
                                         "the CDM tables in schema \(schema) of \(target) already hold rows (\(held.map { "\($0.0) \($0.1)" }.joined(separator: ", "))); the extract loads only into empty tables",
                                         hint: replaceHint)
        }
        let kept: Set<String>
        if replace && !existing.isEmpty {
            // No CASCADE: a table of the user's own that refers to these stops the load, by name.
            try await t.query("DROP TABLE \(unescaped: names.filter(existing.contains).joined(separator: ", "))", logger: logger)
            kept = []
        } else {
            kept = Set(existing)
        }
        for table in OmopSchema.tables where !kept.contains(table.name) {
            try await t.query(PostgresQuery(unsafeSQL: table.createStatement), logger: logger)
        }
    }

    /// The primary keys, then the foreign keys, each unless a constraint of that name is already
    /// on its table; a violation (a duplicate id, an orphan) fails the load naming the key and the row.
    static func addKeys(_ t: PostgresConnection, logger: Logger) async throws {
        var present: Set<String> = []
        for try await name in try await t.query("""
            SELECT conname FROM pg_constraint WHERE connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
            """, logger: logger).decode(String.self) { present.insert(name) }
        let statements = OmopSchema.tables.compactMap(OmopSchema.primaryKeyStatement)
            + OmopSchema.foreignKeys.map { ($0.name, OmopSchema.foreignKeyStatement($0)) }
        for (name, sql) in statements where !present.contains(name) {
            do {
                try await t.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            } catch let error as PSQLError {
                let detail = error.serverInfo?[.detail] ?? error.serverInfo?[.message] ?? "\(error)"
                throw RegistryError.conflict("target-database-url", "the CDM load was rolled back: key \(name) does not hold (\(detail))",
                                             hint: "nothing was loaded; report this as a fault of the extract")
            }
        }
    }

    /// How the server formats each row into one line: CSV (RFC 4180: a field quoted only when it
    /// holds a comma, a quote or a line break, its quotes doubled; NULL empty) or COPY's text format
    /// (backslash, tab, newline and carriage return escaped; NULL `\N`). Formatting in SQL keeps the
    /// client's work per row to one copy of bytes, near a bare `COPY (SELECT ...) TO STDOUT`.
    enum LineFormat {
        case csv, copy

        /// The SQL expression of a row's line over the subquery's columns `c0`, `c1`, ...: text columns
        /// quoted or escaped; numbers and dates, which need neither, only their NULLs replaced (the
        /// test on every value was half of the server's time).
        func line(of columns: [OmopSchema.Column]) -> String {
            let fields = columns.enumerated().map { i, column in
                let textual = column.type == "text" || column.type.hasPrefix("varchar")
                return switch (self, textual) {
                case (.csv, false): "coalesce(c\(i), '')"
                case (.csv, true): "CASE WHEN c\(i) IS NULL THEN '' WHEN c\(i) ~ E'[\",\\r\\n]' THEN '\"' || replace(c\(i), '\"', '\"\"') || '\"' ELSE c\(i) END"
                case (.copy, false): "coalesce(c\(i), '\\N')"
                case (.copy, true): "coalesce(replace(replace(replace(replace(c\(i), '\\', '\\\\'), E'\\t', '\\t'), E'\\n', '\\n'), E'\\r', '\\r'), '\\N')"
                }
            }
            return fields.joined(separator: self == .csv ? " || ',' || " : " || E'\\t' || ")
        }
    }

    /// Reads every table from one snapshot of the registry, calling `body` with the table and its
    /// rows as they stream, each one cell: the row formatted as one line (without its line end).
    static func read(_ database: Database, _ request: Request, format: LineFormat,
                     _ body: (OmopSchema.Table, PostgresRowSequence) async throws -> Void) async throws {
        let logger = database.logger
        // Read-write only for the temporary table of the patients extracted; nothing else is written.
        try await database.plainTransaction(isolation: .repeatableRead) { tx in
            let c = tx.connection
            try await c.query("SET LOCAL datestyle TO 'ISO, YMD'", logger: logger)
            try await c.query("CREATE TEMPORARY TABLE omop_person (person_id bigint PRIMARY KEY) ON COMMIT DROP", logger: logger)
            try await c.query(OmopMapping.personFilter(request.institution), logger: logger)
            try await c.query("ANALYZE omop_person", logger: logger)
            for table in OmopSchema.tables {
                let query = OmopMapping.queries[table.name].map { PostgresQuery(unsafeSQL: $0) }
                    ?? OmopMapping.cdmSource(today: request.today, institution: request.institution)
                let columns = table.columns.indices.map { "c\($0)" }.joined(separator: ", ")
                // A projection of the ordered subquery keeps its order.
                let lines = PostgresQuery(unsafeSQL: "SELECT \(format.line(of: table.columns)) FROM (\(query.sql)) t(\(columns))", binds: query.binds)
                try await body(table, try await c.query(lines, logger: logger))
            }
        }
    }

    /// Records the extract in `report_pull`, audited, with the rows it held.
    static func record(_ database: Database, _ request: Request, checksum: String, parameters: [String: String],
                       counts: [Summary.TableRows]) async throws -> Int {
        var object: [String: Any] = parameters
        object["institution"] = request.institution ?? NSNull()
        object["rows"] = Dictionary(uniqueKeysWithValues: counts.map { ($0.table, $0.rows) })
        let json = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        return try await database.transaction(actor: request.actor, reason: "OMOP CDM extract: \(request.purpose)") { tx in
            try await tx.connection.query("""
                INSERT INTO report_pull (report, pulled_by, role, purpose, recipient, parameters, as_of, min_cell, suppression, registry_version, content_sha256)
                VALUES ('omop', \(request.actor), 'admin', \(request.purpose), \(request.recipient), \(json)::jsonb, \(request.today), 1, false,
                        \(RegistryVersion.software), \(checksum))
                RETURNING id
                """, logger: database.logger).decode(Int.self).one("the recorded extract")
        }
    }
}
