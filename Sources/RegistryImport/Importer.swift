import CSV
import Crypto
import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// Imports one CSV file of one kind. Each row is checked by the domain's rules for a single entry
/// of the same record (`NewPatient`, `NewAdministration`, `NewVisit`, `NewAdverseEvent` and the
/// checks storage runs before it writes one), reading what those rules need from the database one
/// query per chunk of rows; valid rows go through COPY into staging tables; the checks across
/// rows (the same record twice in the file) run in SQL over the staging tables; then one statement
/// per target table writes them. Every problem in the file is reported in one pass.
///
/// The whole import is one transaction: all-or-nothing (any rejected row: nothing written), or
/// with `acceptValid` the valid rows written; a dry run is rolled back whatever it found. A
/// committed import is recorded in `import_batch`, its rows in the audit trail as the importer.
public enum Importer {
    /// Rows checked and staged at a time (memory stays flat in the file's size).
    public static let chunkRows = 5_000

    /// A transaction to run the import in: the caller's, with the caller's actor and row-level scope.
    public typealias TransactionRunner = (_ body: (Transaction) async throws -> ImportResult) async throws -> ImportResult

    /// Imports `file` as `options` say, in a transaction opened by `transaction`. `scope` is the
    /// institution the caller acts for (an institution's token or `--as-institution`), nil for an
    /// administrator. `progress` hears the lines read so far, after each chunk.
    public static func run(file: URL, options: ImportOptions, scope: String?, actor: String, pseudonymizer: Pseudonymizer,
                           transaction: TransactionRunner, progress: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> ImportResult {
        let started = ContinuousClock.now
        let sha = try sha256(of: file)
        do {
            return try await transaction { tx in
                try await tx.because("import of \(options.kind.rawValue) from \(options.fileName)")
                // One import at a time: two copies of a file sent at once must not both find their
                // rows new (no table has a unique key on a dose's or an event's natural key).
                try await tx.connection.query("SELECT pg_advisory_xact_lock(hashtext('registry import'))", logger: tx.logger)
                let run = try await ImportRun(tx: tx, options: options, scope: scope, pseudonymizer: pseudonymizer)
                let importer: any RowImporter
                switch options.kind {
                case .patients: importer = PatientRows()
                case .administrations: importer = AdministrationRows()
                case .visits: importer = VisitRows()
                case .adverseEvents: importer = AdverseEventRows()
                case .statusChanges: importer = StatusChangeRows()
                }
                let measureKeys = options.kind == .visits ? run.catalogue.definitions.map(\.key) : []
                let rows = try await read(file: file, kind: options.kind, measureKeys: measureKeys) { header in
                    run.header = header
                    try await importer.prepare(run)
                } chunk: { chunk, lastLine in
                    try await importer.stage(chunk, run)
                    progress(lastLine)
                }
                let written = try await importer.finish(run)
                var result = ImportResult(kind: options.kind, file: options.fileName, sha256: sha, mode: options.mode, dryRun: options.dryRun,
                                          rows: rows, written: written, unchanged: run.unchanged, rejectedRows: run.rejectedLines.count,
                                          committed: false, batch: nil, rejects: run.rejects.sorted { ($0.line, $0.column ?? "") < ($1.line, $1.column ?? "") },
                                          problems: run.problems, seconds: 0)
                result.seconds = (ContinuousClock.now - started).seconds
                if options.dryRun || (options.mode == .allOrNothing && result.rejectedRows > 0) {
                    throw ImportRolledBack(result: result)
                }
                result.batch = try await tx.connection.query("""
                    INSERT INTO import_batch (kind, file_name, file_sha256, mode, institution_id, imported_by, rows, written, unchanged, rejected)
                    VALUES (\(options.kind.rawValue), \(String(options.fileName.prefix(255))), \(sha), \(options.mode.rawValue),
                            \(scope.flatMap { run.institutions[$0]?.id }), \(actor), \(rows), \(written), \(run.unchanged), \(result.rejectedRows))
                    RETURNING id
                    """, logger: tx.logger).decode(Int.self).one("the recorded import")
                result.committed = true
                result.seconds = (ContinuousClock.now - started).seconds
                return result
            }
        } catch let rolledBack as ImportRolledBack {
            return rolledBack.result
        }
    }

    static func isEndOfFile(_ error: any Error) -> Bool {
        if case CSVError.cannotReadFile = error { return true }
        return false
    }

    /// SHA-256 of a file, read in pieces.
    static func sha256(of file: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: file.path) else {
            throw RegistryError.invalid("file", "cannot read \(file.path); check the path and its permissions")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        return Hex.string(hasher.finalize())
    }

    /// Reads the file: the header first (refused as a whole when it does not fit the layout),
    /// then the data rows in chunks with their line numbers. Blank rows (every cell empty, as
    /// spreadsheets leave at the end) are skipped. Returns the data rows read.
    static func read(file: URL, kind: ImportKind, measureKeys: [String], header: (HeaderMap) async throws -> Void,
                     chunk: ([SourceRow], Int) async throws -> Void) async throws -> Int {
        let bytes = try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int ?? 0
        guard bytes > 0, let stream = InputStream(url: file) else {
            throw RegistryError.invalid("file", "the file is empty; it needs a header row and a row per record (templates: registry import template \(kind.rawValue))")
        }
        let reader: CSVReader
        do {
            reader = try CSVReader(stream: stream, hasHeaderRow: false)
        } catch {
            throw RegistryError.invalid("file", "the file is not UTF-8 text (\(error)); save it as CSV UTF-8 (a spreadsheet's \"CSV UTF-8\" format)")
        }
        guard let first = reader.next(), reader.error.map(Self.isEndOfFile) ?? true else {
            throw RegistryError.invalid("file", "the file's first line cannot be read as UTF-8 CSV; save it as CSV UTF-8")
        }
        let map = try HeaderMap(first, kind: kind, measureKeys: measureKeys)
        try await header(map)
        var line = 1, rows = 0
        var pending: [SourceRow] = []
        pending.reserveCapacity(chunkRows)
        while let cells = reader.next() {
            line += 1
            if cells.allSatisfy({ $0.trimmingCharactersInWhitespace().isEmpty }) { continue }
            pending.append(SourceRow(line: line, cells: cells))
            rows += 1
            if pending.count == chunkRows {
                try await chunk(pending, line)
                pending.removeAll(keepingCapacity: true)
            }
        }
        // CSV.swift reports the end of the stream as cannotReadFile; anything else is a real failure.
        if let error = reader.error, !Self.isEndOfFile(error) {
            throw RegistryError.invalid("file", "line \(line + 1) cannot be read as UTF-8 text (\(error)); save the file as CSV UTF-8")
        }
        if !pending.isEmpty { try await chunk(pending, line) }
        return rows
    }
}

/// A data row of the file and its line.
struct SourceRow: Sendable {
    var line: Int
    var cells: [String]
}

/// What one kind of row needs: its staging tables, the checks of a chunk, and the writes at the end.
protocol RowImporter: AnyObject {
    /// Creates the staging tables (temporary, dropped at commit) once the header is known.
    func prepare(_ run: ImportRun) async throws
    /// Checks a chunk of rows and stages the valid ones.
    func stage(_ rows: [SourceRow], _ run: ImportRun) async throws
    /// Rejects the rows that repeat another row of the file, then writes the rest; returns the rows written.
    func finish(_ run: ImportRun) async throws -> Int
}

/// An import under way: its transaction, options, the reference data the rows are checked against,
/// and the problems found so far.
final class ImportRun {
    let tx: Transaction
    let options: ImportOptions
    let scope: String?
    let pseudonymizer: Pseudonymizer
    let today: LocalDate
    var header: HeaderMap!
    /// Institutions by code.
    let institutions: [String: (id: Int, status: InstitutionStatus)]
    let catalogue: MeasureCatalogue
    var rejects: [ImportReject] = []
    var problems = 0
    var rejectedLines = Set<Int>()
    var unchanged = 0

    var c: PostgresConnection { tx.connection }
    var logger: Logger { tx.logger }

    init(tx: Transaction, options: ImportOptions, scope: String?, pseudonymizer: Pseudonymizer) async throws {
        self.tx = tx; self.options = options; self.scope = scope; self.pseudonymizer = pseudonymizer; self.today = tx.today
        var institutions: [String: (Int, InstitutionStatus)] = [:]
        for try await (id, code, status) in try await tx.connection.query("SELECT id, code, status FROM institution", logger: tx.logger)
            .decode((Int, String, String).self) {
            institutions[code] = (id, InstitutionStatus(rawValue: status) ?? .suspended)
        }
        self.institutions = institutions
        self.catalogue = options.kind == .visits ? try await tx.measures.catalogue() : MeasureCatalogue([])
        if let scope, let asked = options.institution, asked != scope {
            throw RegistryError(.forbidden, field: "institution", "this import is made for \(scope); it cannot import \(asked)'s records")
        }
    }

    /// Records every refusal in `error` against `row`, each at its column.
    func reject(_ row: SourceRow, _ error: RegistryError) {
        rejectedLines.insert(row.line)
        // One problem per column: a value refused by two checks (an unknown institution, then the
        // enrolment's own check of the code) is reported by the first.
        var seen = Set<String>()
        for e in error.all {
            guard seen.insert(e.field ?? "").inserted else { continue }
            problems += 1
            guard rejects.count < ImportResult.maxListed else { continue }
            let column = header.column(for: e.field, kind: options.kind)
            let value = column.flatMap { name in header.headers.firstIndex(of: name) }.flatMap { $0 < row.cells.count ? row.cells[$0] : nil }
            rejects.append(ImportReject(line: row.line, column: column, value: value, code: e.code.rawValue, message: e.message, hint: e.hint))
        }
    }

    /// Records a problem found across rows (the same record twice), at `line`.
    func reject(line: Int, column: String, value: String?, _ error: RegistryError) {
        rejectedLines.insert(line)
        problems += 1
        guard rejects.count < ImportResult.maxListed else { return }
        rejects.append(ImportReject(line: line, column: header.index[column].map { header.headers[$0] } ?? column, value: value,
                                    code: error.code.rawValue, message: error.message, hint: error.hint))
    }

    /// The institution of a row: its own column, else the import's; refused when the column names
    /// another institution than the import's, or one the registry does not know.
    func institution(_ row: SourceRow) throws(RegistryError) -> (code: String, id: Int, status: InstitutionStatus) {
        let given = header.value("institution", in: row.cells)
        let fixed = scope ?? options.institution
        guard let code = given ?? fixed else {
            throw .invalid("institution", "no institution: give the column institution, or name the institution the file is for (--institution)")
        }
        if let fixed, code != fixed {
            throw RegistryError(.forbidden, field: "institution", "this import is for \(fixed); a row of \(code) cannot be imported in it")
        }
        _ = try Rules.institutionCode(code)
        guard let found = institutions[code] else { throw Institutions.unknown(code) }
        return (code, found.id, found.status)
    }

    /// A whole number in a column, or a refusal naming the column's field.
    func integer(_ column: String, field: String, in row: SourceRow, into checks: inout FieldChecks) -> Int? {
        guard let text = header.value(column, in: row.cells) else {
            checks.refuse(.invalid(field, "a value is required"))
            return nil
        }
        guard let n = Int(text) else {
            checks.refuse(.invalid(field, "'\(text)' is not a whole number"))
            return nil
        }
        return n
    }

    /// A yes/no cell (empty: no).
    func flag(_ column: String, field: String, in row: SourceRow, into checks: inout FieldChecks) -> Bool {
        guard let text = header.value(column, in: row.cells)?.lowercased() else { return false }
        switch text {
        case "yes", "y", "true", "1", "예", "네": return true
        case "no", "n", "false", "0", "아니오", "아니요": return false
        default:
            checks.refuse(.invalid(field, "'\(text)' is not yes or no"))
            return false
        }
    }

    /// The standing patients with these pseudonyms that the caller may see, with what the
    /// data-entry rules read: one query.
    func patients(pseudonyms: [String?]) async throws -> [String: StandingPatient] {
        var out: [String: StandingPatient] = [:]
        let rows = try await c.query("""
            SELECT p.id, p.pseudonym, i.code, p.birth_year, p.sex, p.consent_on, p.consent_version, p.status, p.institution_id, p.status_on,
                   (SELECT min(a.administered_on) FROM administration a WHERE a.patient_id = p.id AND a.voided_on IS NULL)
            FROM patient p JOIN institution i ON i.id = p.institution_id
            WHERE p.pseudonym = ANY(\(pseudonyms.compactMap { $0 })) AND p.voided_on IS NULL
            """, logger: logger)
        for try await (id, pseudonym, code, birthYear, sex, consentOn, version, status, institutionID, statusOn, firstDose)
            in rows.decode((Int, String, String, Int16, String, LocalDate, String, String, Int, LocalDate?, LocalDate?).self) {
            let patient = Patient(id: PatientID(rawValue: id), pseudonym: pseudonym, institutionCode: code, birthYear: Int(birthYear),
                                  sex: Sex(rawValue: sex) ?? .unknown, consentOn: consentOn, consentVersion: version,
                                  status: PatientStatus(rawValue: status) ?? .active)
            out[pseudonym] = StandingPatient(forData: PatientForData(patient: patient, statusOn: statusOn, firstAdministration: firstDose),
                                             institutionID: institutionID)
        }
        return out
    }

    /// The patient a row names (by institution and local number), or the refusal a single entry
    /// gets. `pseudonym`: the row's, already made by `pseudonyms(_:)`.
    func patient(_ row: SourceRow, institution: String, in found: [String: StandingPatient], pseudonym: String?) throws(RegistryError) -> StandingPatient {
        let key: String
        if let pseudonym { key = pseudonym } else {
            key = try LocalPatientKey(institutionCode: institution, localID: header.value("local_id", in: row.cells) ?? "", pseudonymizer: pseudonymizer).pseudonym
        }
        guard let patient = found[key], patient.forData.patient.institutionCode == institution else { throw Patients.notHeld(institution) }
        return patient
    }

    /// Each row's pseudonym, made once (nil where the institution or the local number is not
    /// valid: that row is refused when it is checked).
    func pseudonyms(_ rows: [SourceRow]) -> [String?] {
        rows.map { row in
            guard let code = header.value("institution", in: row.cells) ?? scope ?? options.institution,
                  let key = try? LocalPatientKey(institutionCode: code, localID: header.value("local_id", in: row.cells) ?? "", pseudonymizer: pseudonymizer)
            else { return nil }
            return key.pseudonym
        }
    }

    /// Ids drawn from a table's sequence, one per staged row, so that the rows a staged row brings
    /// (a dose's follow-ups, a visit's measures) can name it before it is written.
    func ids(for table: String, count: Int) async throws -> [Int] {
        guard count > 0 else { return [] }
        return try await c.query("""
            SELECT nextval(pg_get_serial_sequence(\(table), 'id')) FROM generate_series(1, \(count))
            """, logger: logger).decode(Int.self).collect()
    }

    /// Creates a staging table for this transaction.
    func createStaging(_ sql: String) async throws {
        try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }

    /// Rows of a staging table that repeat an earlier row's key: (line, the earlier line).
    func repeats(in table: String, key: String) async throws -> [(Int, Int)] {
        try await c.query(PostgresQuery(unsafeSQL: """
            SELECT line, first FROM (SELECT line, first_value(line) OVER (PARTITION BY \(key) ORDER BY line) AS first FROM \(table)) d
            WHERE line <> first ORDER BY line
            """), logger: logger).decode((Int, Int).self).collect()
    }

    /// Runs a single entry's own code for one row (the few rows whose effects are per patient: a
    /// status change, a follow-up closed as not done) in a savepoint: a refusal rejects the row and
    /// undoes whatever the row had done, the rest of the import goes on.
    func singleEntry(_ row: Int, _ body: () async throws -> Void) async throws -> RegistryError? {
        try await c.query("SAVEPOINT import_row", logger: logger)
        do {
            try await body()
            try await c.query("RELEASE SAVEPOINT import_row", logger: logger)
            return nil
        } catch {
            try await c.query("ROLLBACK TO SAVEPOINT import_row", logger: logger)
            if let refusal = DatabaseErrors.map(error) as? RegistryError { return refusal }
            throw error
        }
    }

    /// Rejects the staged rows that repeat an earlier row's `key`, each with `refusal(earlier line)`
    /// at `column`, and takes them out before the write, with the rows staged for them in
    /// `dependent` (a table and its column naming the staged row's id).
    func rejectRepeats(in table: String, key: String, column: String, dependent: (table: String, column: String)? = nil,
                       _ refusal: (Int) -> RegistryError) async throws {
        try await rejectRepeats(try await repeats(in: table, key: key), in: table, column: column, dependent: dependent, refusal)
    }

    /// Rejects `found` (a staged line and the earlier line it repeats) and takes them out of `table`
    /// before the write, with the rows staged for them in `dependent`.
    func rejectRepeats(_ found: [(Int, Int)], in table: String, column: String, dependent: (table: String, column: String)? = nil,
                       _ refusal: (Int) -> RegistryError) async throws {
        guard !found.isEmpty else { return }
        for (line, first) in found { reject(line: line, column: column, value: nil, refusal(first)) }
        let lines = found.map(\.0)
        if let dependent {
            try await c.query(PostgresQuery(unsafeSQL: "DELETE FROM \(dependent.table) d USING \(table) s WHERE s.id = d.\(dependent.column) AND s.line = ANY($1)",
                                            binds: { var b = PostgresBindings(); b.append(lines); return b }()), logger: logger)
        }
        try await unstage(table, lines: lines)
    }

    /// Takes rejected lines out of a staging table before the write.
    func unstage(_ table: String, lines: [Int]) async throws {
        guard !lines.isEmpty else { return }
        try await c.query(PostgresQuery(unsafeSQL: "DELETE FROM \(table) WHERE line = ANY($1)", binds: {
            var b = PostgresBindings(); b.append(lines); return b
        }()), logger: logger)
    }
}

/// A standing patient with what the data-entry rules read.
struct StandingPatient: Sendable {
    var forData: PatientForData
    var institutionID: Int
    var id: PatientID { forData.patient.id }
}

extension AsyncSequence {
    func collect() async throws -> [Element] {
        var out: [Element] = []
        for try await e in self { out.append(e) }
        return out
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
