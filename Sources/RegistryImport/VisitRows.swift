import PostgresNIO
import RegistryDomain
import RegistryStorage

/// Visits with their measures, as `registry visit log` records them: a visit names the follow-up it
/// completes by the dose's date and the time point's label (both empty: an unscheduled visit), and
/// each measure of the catalogue is a column of its own. The natural key is the follow-up and the
/// date (an unscheduled visit: the patient and the date): a visit already recorded is unchanged.
final class VisitRows: RowImporter {
    static let columns = ["line", "id", "patient_id", "institution_id", "follow_up_id", "visit_on", "contact_type", "vital_status", "timing", "note", "screening"]
    static let measureColumns = ["visit_id", "patient_id", "institution_id", "key", "code_system", "code", "value", "unit"]

    /// A follow-up as the visit rules read it.
    struct Target {
        var id: FollowUpID, start: LocalDate, end: LocalDate, status: FollowUpStatus, completedBy: VisitID?, completedOn: LocalDate?
    }


    func prepare(_ run: ImportRun) async throws {
        try await run.createStaging("""
            CREATE TEMPORARY TABLE import_visit (line int PRIMARY KEY, id bigint NOT NULL, patient_id bigint NOT NULL, institution_id bigint NOT NULL,
                follow_up_id bigint, visit_on date NOT NULL, contact_type text NOT NULL, vital_status text NOT NULL, timing text, note text,
                screening boolean NOT NULL) ON COMMIT DROP
            """)
        try await run.createStaging("""
            CREATE TEMPORARY TABLE import_not_done (line int PRIMARY KEY, follow_up_id bigint NOT NULL, reason text NOT NULL) ON COMMIT DROP
            """)
        try await run.createStaging("""
            CREATE TEMPORARY TABLE import_visit_measure (visit_id bigint NOT NULL, patient_id bigint NOT NULL, institution_id bigint NOT NULL,
                key text NOT NULL, code_system text NOT NULL, code text NOT NULL, value numeric NOT NULL, unit text) ON COMMIT DROP
            """)
    }

    func stage(_ rows: [SourceRow], _ run: ImportRun) async throws {
        let keys = run.pseudonyms(rows)
        let patients = try await run.patients(pseudonyms: keys)
        // The patients' follow-ups by patient, dose date and label; their unscheduled visits by date.
        // The follow-ups the rows name (patient, dose date, time point), in one query; the time
        // points of a dose only when a row names one it does not have, for the refusal.
        var wanted: (patients: [Int], dates: [String], labels: [String]) = ([], [], [])
        var unscheduledPatients: [Int] = []
        for (index, row) in rows.enumerated() {
            guard let key = keys[index], let patient = patients[key] else { continue }
            if let dosed = run.header.value("administered_on", in: row.cells), let label = run.header.value("time_point", in: row.cells),
               let date = LocalDate(dosed) {
                wanted.patients.append(patient.id.rawValue); wanted.dates.append(date.description); wanted.labels.append(label)
            } else {
                unscheduledPatients.append(patient.id.rawValue)
            }
        }
        var targets: [String: Target] = [:]
        for try await (id, patientID, dosedOn, label, start, end, status, visitID, visitOn) in try await run.c.query("""
            SELECT f.id, f.patient_id, a.administered_on, f.label, f.window_start, f.window_end, f.status, v.id, v.visit_on
            FROM unnest(\(wanted.patients)::bigint[], \(wanted.dates)::date[], \(wanted.labels)::text[]) AS w(patient_id, dosed_on, label)
            JOIN follow_up f ON f.patient_id = w.patient_id AND f.label = w.label
            JOIN administration a ON a.id = f.administration_id AND a.voided_on IS NULL AND a.administered_on = w.dosed_on
            LEFT JOIN visit v ON v.follow_up_id = f.id AND v.voided_on IS NULL
            """, logger: run.logger).decode((Int, Int, LocalDate, String, LocalDate, LocalDate, FollowUpStatus, Int?, LocalDate?).self) {
            targets["\(patientID)|\(dosedOn)|\(label)"] = Target(id: FollowUpID(rawValue: id), start: start, end: end, status: status,
                                                                  completedBy: visitID.map { VisitID(rawValue: $0) }, completedOn: visitOn)
        }
        var labels: [String: [String]] = [:]
        let missed = zip(zip(wanted.patients, wanted.dates), wanted.labels).filter { targets["\($0.0.0)|\($0.0.1)|\($0.1)"] == nil }.map(\.0)
        if !missed.isEmpty {
            for try await (patientID, dosedOn, label) in try await run.c.query("""
                SELECT f.patient_id, a.administered_on, f.label
                FROM follow_up f JOIN administration a ON a.id = f.administration_id AND a.voided_on IS NULL
                WHERE (f.patient_id, a.administered_on) IN (SELECT * FROM unnest(\(missed.map(\.0))::bigint[], \(missed.map(\.1))::date[]))
                ORDER BY f.patient_id, a.administered_on, f.seq
                """, logger: run.logger).decode((Int, LocalDate, String).self) {
                labels["\(patientID)|\(dosedOn)", default: []].append(label)
            }
        }
        var unscheduled = Set<String>()
        for try await (patientID, on) in try await run.c.query("""
            SELECT patient_id, visit_on FROM visit WHERE patient_id = ANY(\(unscheduledPatients)) AND follow_up_id IS NULL AND voided_on IS NULL
            """, logger: run.logger).decode((Int, LocalDate).self) {
            unscheduled.insert("\(patientID)|\(on)")
        }
        let ids = try await run.ids(for: "visit", count: rows.count)
        var buffer = CopyBuffer(), measures = CopyBuffer(), notDone = CopyBuffer()
        for (index, (row, id)) in zip(rows, ids).enumerated() {
            var checks = FieldChecks()
            let institution = checks.check { () throws(RegistryError) in try run.institution(row) }
            let patient = institution.flatMap { i in checks.check { () throws(RegistryError) in try run.patient(row, institution: i.code, in: patients, pseudonym: keys[index]) } }
            // The follow-up it completes: the dose's date and the time point, both or neither.
            let dosedText = run.header.value("administered_on", in: row.cells), label = run.header.value("time_point", in: row.cells)
            var dosedOn: LocalDate? = nil
            if (dosedText == nil) != (label == nil) {
                checks.refuse(.invalid(dosedText == nil ? "administered-on" : "time-point",
                                       "a visit that completes a follow-up names both the dose's date (administered_on) and the time point (time_point); an unscheduled visit names neither"))
            } else if let dosedText {
                dosedOn = checks.check { () throws(RegistryError) in try Rules.date(dosedText, field: "administered-on") }
            }
            var target: Target? = nil
            if let patient, let dosedOn, let label {
                target = targets["\(patient.id)|\(dosedOn)|\(label)"]
                if target == nil {
                    if let known = labels["\(patient.id)|\(dosedOn)"]?.joined(separator: ", ") {
                        checks.refuse(.notFound("time-point", "patient \(patient.id)'s dose on \(dosedOn) has no time point '\(label)'; its time points: \(known)"))
                    } else {
                        checks.refuse(.notFound("administered-on", "patient \(patient.id) has no standing dose on \(dosedOn)"))
                    }
                }
            }
            // A follow-up not done: the reason instead of a visit.
            if let reason = run.header.value("not_done_reason", in: row.cells) {
                let closure = checks.check { () throws(RegistryError) in try NotDoneClosure(reason: reason, note: run.header.value("note", in: row.cells)) }
                if run.header.value("visit_on", in: row.cells) != nil {
                    checks.refuse(.invalid("on", "a follow-up not done has no visit date; give either the visit or the reason it was not done"))
                }
                if dosedText == nil && label == nil {
                    checks.refuse(.invalid("time-point", "a follow-up not done names the dose's date (administered_on) and the time point (time_point)"))
                }
                if let t = target, t.status == .notDone, checks.passed { run.unchanged += 1; continue }
                if let t = target, let patient {
                    _ = checks.check { () throws(RegistryError) in
                        try patient.forData.checkForData(on: nil)
                        try NotDoneClosure.checkCloses(t.id, status: t.status)
                    }
                }
                do { try checks.finish() } catch { run.reject(row, error); continue }
                if let closure, let t = target {
                    notDone.add(row.line); notDone.add(t.id.rawValue); notDone.add(closure.reason.rawValue)
                    notDone.endRow()
                }
                continue
            }
            let given = run.header.measures.compactMap { m in run.header.value(m.key, in: row.cells, at: m.index).map { (m.key, "\(m.key)=\($0)") } }
            let screening = run.flag("screening", field: "screening", in: row, into: &checks)
            let new = checks.check { () throws(RegistryError) in
                try NewVisit(on: run.header.value("visit_on", in: row.cells) ?? "", contact: run.header.value("contact_type", in: row.cells) ?? "",
                             vital: run.header.value("vital_status", in: row.cells) ?? "", measures: given.map(\.1), catalogue: run.catalogue,
                             note: run.header.value("note", in: row.cells), screening: screening, today: run.today, measureField: { given[$0].0 })
            }
            var timing: VisitTiming? = nil
            if let patient, let new, checks.passed {
                if let t = target, t.completedOn == new.visitedOn {
                    run.unchanged += 1
                    continue
                }
                if target == nil, dosedOn == nil, unscheduled.contains("\(patient.id)|\(new.visitedOn)") {
                    run.unchanged += 1
                    continue
                }
                _ = checks.check { () throws(RegistryError) in
                    try patient.forData.checkForData(on: new.visitedOn)
                    try VisitRules.checkVital(new.vitalStatus, recordsDeath: false, patient: patient.forData.patient)
                    try VisitRules.checkDate(new.visitedOn, screening: new.screening, followUpAnchor: dosedOn, patient: patient.forData)
                    if let t = target {
                        timing = try VisitRules.timing(completing: t.id, status: t.status, completedBy: t.completedBy, on: new.visitedOn,
                                                       windowStart: t.start, windowEnd: t.end)
                    }
                }
            }
            do { try checks.finish() } catch { run.reject(row, error); continue }
            guard let patient, let new, let institution = patient.institutionID as Int? else { continue }
            buffer.add(row.line); buffer.add(id); buffer.add(patient.id.rawValue); buffer.add(institution)
            if let t = target { buffer.add(t.id.rawValue) } else { buffer.addNull() }
            buffer.add(new.visitedOn); buffer.add(new.contactType.rawValue); buffer.add(new.vitalStatus.rawValue)
            if let timing { buffer.add(timing.rawValue) } else { buffer.addNull() }
            if let note = new.note { buffer.add(note) } else { buffer.addNull() }
            buffer.add(new.screening ? "t" : "f")
            buffer.endRow()
            for m in new.measures {
                measures.add(id); measures.add(patient.id.rawValue); measures.add(institution); measures.add(m.key); measures.add(m.codeSystem)
                measures.add(m.code); measures.add(m.valueText)
                if let unit = m.unit { measures.add(unit) } else { measures.addNull() }
                measures.endRow()
            }
        }
        try await buffer.copy(into: "import_visit", columns: Self.columns, on: run.c, logger: run.logger)
        try await measures.copy(into: "import_visit_measure", columns: Self.measureColumns, on: run.c, logger: run.logger)
        try await notDone.copy(into: "import_not_done", columns: ["line", "follow_up_id", "reason"], on: run.c, logger: run.logger)
    }

    func finish(_ run: ImportRun) async throws -> Int {
        // One visit completes a follow-up; an unscheduled visit once per patient and day.
        try await run.rejectRepeats(in: "import_visit", key: "coalesce(follow_up_id, -patient_id), CASE WHEN follow_up_id IS NULL THEN visit_on END",
                                    column: "visit_on", dependent: ("import_visit_measure", "visit_id")) { first in
            .conflict("followup", "line \(first) already records this visit (the same follow-up, or the same patient and day for an unscheduled visit); give each visit once")
        }
        let written = try await run.c.query("""
            WITH v AS (
                INSERT INTO visit (id, patient_id, institution_id, follow_up_id, visit_on, contact_type, vital_status, timing, note, screening)
                SELECT id, patient_id, institution_id, follow_up_id, visit_on, contact_type, vital_status, timing, note, screening
                FROM import_visit RETURNING id)
            SELECT count(*) FROM v
            """, logger: run.logger).decode(Int.self).one("the visits written")
        try await run.c.query("""
            INSERT INTO visit_measure (visit_id, patient_id, institution_id, key, code_system, code, value, unit)
            SELECT m.visit_id, m.patient_id, m.institution_id, m.key, m.code_system, m.code, m.value, m.unit
            FROM import_visit_measure m
            """, logger: run.logger)
        try await run.c.query("""
            UPDATE follow_up f SET status = 'completed', completed_on = v.visit_on, timing = v.timing, not_done_reason = NULL, not_done_on = NULL
            FROM import_visit v WHERE f.id = v.follow_up_id
            """, logger: run.logger)
        // Follow-ups not done: not one the file also gives a visit for, nor twice.
        let clashes = try await run.c.query("""
            SELECT n.line, v.line FROM import_not_done n JOIN import_visit v ON v.follow_up_id = n.follow_up_id
            UNION ALL
            SELECT line, first FROM (SELECT line, first_value(line) OVER (PARTITION BY follow_up_id ORDER BY line) AS first FROM import_not_done) d
            WHERE line <> first
            """, logger: run.logger).decode((Int, Int).self).collect()
        try await run.rejectRepeats(clashes, in: "import_not_done", column: "not_done_reason") { other in
            .conflict("reason", "line \(other) also records this follow-up; give its visit or the reason it was not done, once")
        }
        let closed = try await run.c.query("""
            WITH f AS (
                UPDATE follow_up f SET status = 'not-done', not_done_reason = n.reason, not_done_on = \(run.today)
                FROM import_not_done n WHERE f.id = n.follow_up_id AND f.status IN ('scheduled', 'missed') RETURNING f.id)
            SELECT count(*) FROM f
            """, logger: run.logger).decode(Int.self).one("the follow-ups closed")
        return written + closed
    }
}

extension HeaderMap {
    /// The trimmed value at a column index (nil when empty or absent).
    func value(_ key: String, in row: [String], at index: Int) -> String? {
        guard index < row.count else { return nil }
        let v = row[index].trimmingCharactersInWhitespace()
        return v.isEmpty ? nil : v
    }
}
