import PostgresNIO
import RegistryDomain
import RegistryStorage

/// Patients: enrolled by institution and local number, as `registry patient enroll` does. The same
/// local number with the same birth year and sex is the same patient (unchanged); with others, the
/// row is refused as enrolment refuses it.
final class PatientRows: RowImporter {
    static let columns = ["line", "pseudonym", "institution_id", "birth_year", "sex", "consent_on", "consent_version"]

    func prepare(_ run: ImportRun) async throws {
        try await run.createStaging("""
            CREATE TEMPORARY TABLE import_patient (line int PRIMARY KEY, pseudonym text NOT NULL, institution_id bigint NOT NULL,
                birth_year smallint NOT NULL, sex text NOT NULL, consent_on date NOT NULL, consent_version text NOT NULL) ON COMMIT DROP
            """)
    }

    func stage(_ rows: [SourceRow], _ run: ImportRun) async throws {
        let existing = try await run.patients(pseudonyms: run.pseudonyms(rows))
        var buffer = CopyBuffer()
        for row in rows {
            var checks = FieldChecks()
            let institution = checks.check { () throws(RegistryError) in try run.institution(row) }
            let year = run.integer("birth_year", field: "birth-year", in: row, into: &checks)
            let new = checks.check { () throws(RegistryError) in
                try NewPatient(institutionCode: institution?.code ?? run.scope ?? run.options.institution ?? "",
                               localID: run.header.value("local_id", in: row.cells) ?? "", birthYear: year ?? run.today.year,
                               sex: run.header.value("sex", in: row.cells) ?? "", consentOn: run.header.value("consent_on", in: row.cells) ?? "",
                               consentVersion: run.header.value("consent_version", in: row.cells) ?? "", pseudonymizer: run.pseudonymizer, today: run.today)
            }
            if let institution, let new {
                if let enrolled = existing[new.pseudonym] {
                    if checks.check({ () throws(RegistryError) in try new.checkSame(asEnrolled: enrolled.forData.patient) }) != nil, checks.passed {
                        run.unchanged += 1
                        continue
                    }
                } else {
                    _ = checks.check { () throws(RegistryError) in try NewPatient.checkEnrolling(at: institution.code, status: institution.status) }
                }
            }
            do { try checks.finish() } catch { run.reject(row, error); continue }
            guard let institution, let new else { continue }
            buffer.add(row.line); buffer.add(new.pseudonym); buffer.add(institution.id); buffer.add(new.birthYear); buffer.add(new.sex.rawValue)
            buffer.add(new.consentOn); buffer.add(new.consentVersion)
            buffer.endRow()
        }
        try await buffer.copy(into: "import_patient", columns: Self.columns, on: run.c, logger: run.logger)
    }

    func finish(_ run: ImportRun) async throws -> Int {
        try await run.rejectRepeats(in: "import_patient", key: "pseudonym", column: "local_id") { first in
            .invalid("local-id", "the same patient as line \(first) (the same institution and local number); give each patient once")
        }
        // A standing patient the caller cannot see (transferred to another institution) holds the
        // pseudonym: those rows are not written, and refused as enrolment refuses them.
        let inserted = try await run.c.query("""
            WITH i AS (
                INSERT INTO patient (pseudonym, enrolled_by, institution_id, birth_year, sex, consent_on, consent_version)
                SELECT pseudonym, institution_id, institution_id, birth_year, sex, consent_on, consent_version FROM import_patient ORDER BY line
                ON CONFLICT (pseudonym) WHERE voided_on IS NULL DO NOTHING RETURNING pseudonym)
            SELECT s.line, i2.code FROM import_patient s JOIN institution i2 ON i2.id = s.institution_id
            WHERE s.pseudonym NOT IN (SELECT pseudonym FROM i)
            """, logger: run.logger).decode((Int, String).self).collect()
        for (line, code) in inserted {
            run.reject(line: line, column: "local_id", value: nil, Patients.transferredAway(code))
        }
        return try await run.c.query("SELECT count(*) FROM import_patient", logger: run.logger).decode(Int.self).one("staged patients") - inserted.count
    }
}
