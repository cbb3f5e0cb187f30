import PostgresNIO
import RegistryDomain
import RegistryStorage

/// Status changes (a death, a withdrawal of consent, a loss to follow-up, a lost patient found),
/// each applied by the single entry's own code (`StatusChanges.change`): a change's effect on the
/// patient's follow-ups is per patient, and such rows are few. The natural key is the patient, the
/// kind and the date: a change already recorded is unchanged. A transfer is not imported (it moves
/// the patient to another institution's care: `registry patient transfer`).
final class StatusChangeRows: RowImporter {
    func prepare(_ run: ImportRun) async throws {}

    func stage(_ rows: [SourceRow], _ run: ImportRun) async throws {
        let keys = run.pseudonyms(rows)
        let patients = try await run.patients(pseudonyms: keys)
        var recorded = Set<String>()
        for try await (patientID, kind, on) in try await run.c.query("""
            SELECT patient_id, kind, effective_on FROM patient_status_change
            WHERE patient_id = ANY(\(patients.values.map(\.id.rawValue))) AND voided_on IS NULL
            """, logger: run.logger).decode((Int, String, LocalDate).self) {
            recorded.insert("\(patientID)|\(kind)|\(on)")
        }
        for (index, row) in rows.enumerated() {
            var checks = FieldChecks()
            let institution = checks.check { () throws(RegistryError) in try run.institution(row) }
            let patient = institution.flatMap { i in checks.check { () throws(RegistryError) in try run.patient(row, institution: i.code, in: patients, pseudonym: keys[index]) } }
            let kindText = run.header.value("kind", in: row.cells) ?? ""
            let kind = checks.check { () throws(RegistryError) -> StatusChangeKind in
                if kindText == "transfer" {
                    throw .invalid("kind", "a transfer is not imported; record it with registry patient transfer (it moves the patient to another institution)")
                }
                guard let kind = StatusChangeKind(rawValue: kindText) else {
                    throw .invalid("kind", "'\(kindText)' is not a status change; allowed: death, withdrawal, lost, found")
                }
                return kind
            }
            let on = checks.check { () throws(RegistryError) -> LocalDate in
                let date = try Rules.date(run.header.value("effective_on", in: row.cells) ?? "", field: "on")
                try Rules.eventDate(date, field: "on", today: run.today)
                return date
            }
            let reason = checks.check { () throws(RegistryError) in
                try Rules.reason(run.header.value("reason", in: row.cells), field: kind == .death ? "cause" : "reason")
            }
            do { try checks.finish() } catch { run.reject(row, error); continue }
            guard let patient, let kind, let on, let reason else { continue }
            if !recorded.insert("\(patient.id)|\(kind.rawValue)|\(on)").inserted {
                run.unchanged += 1
                continue
            }
            if let refusal = try await run.singleEntry(row.line, {
                _ = try await run.tx.statusChanges.change(kind, patientID: patient.id, on: on, reason: reason)
            }) {
                run.reject(row, refusal)
            } else {
                applied += 1
            }
        }
    }

    var applied = 0

    func finish(_ run: ImportRun) async throws -> Int { applied }
}
