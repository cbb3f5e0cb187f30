import PostgresNIO
import RegistryDomain
import RegistryStorage

/// Adverse events, as `registry event report` records them, with the expedited-report due date of
/// the registry's clock. The natural key is the patient, the term (case aside) and the onset: an
/// event already recorded is unchanged unless the row says it is a distinct one. A grade 5 event of
/// a patient not yet recorded dead records the death too, as a single report does once confirmed
/// (a file is the confirmation).
final class AdverseEventRows: RowImporter {
    static let columns = ["line", "id", "patient_id", "institution_id", "onset_on", "aware_on", "term", "meddra_code", "category", "grade",
                          "grading_system", "grading_version", "serious", "seriousness", "relatedness", "outcome", "outcome_on", "report_due_on", "report_submitted_on", "distinct_event"]
    var clock = ExpeditedReportClock()

    func prepare(_ run: ImportRun) async throws {
        try await run.createStaging("""
            CREATE TEMPORARY TABLE import_adverse_event (line int PRIMARY KEY, id bigint NOT NULL, patient_id bigint NOT NULL, institution_id bigint NOT NULL,
                onset_on date NOT NULL, aware_on date NOT NULL, term text NOT NULL, meddra_code text, category text NOT NULL, grade smallint NOT NULL,
                grading_system text NOT NULL, grading_version text NOT NULL, serious boolean NOT NULL, seriousness text[] NOT NULL,
                relatedness text NOT NULL, outcome text NOT NULL, outcome_on date, report_due_on date, report_submitted_on date,
                distinct_event boolean NOT NULL) ON COMMIT DROP
            """)
        clock = try await run.tx.settings.reportClock()
    }

    func stage(_ rows: [SourceRow], _ run: ImportRun) async throws {
        let keys = run.pseudonyms(rows)
        let patients = try await run.patients(pseudonyms: keys)
        var recorded = Set<String>()
        for try await (patientID, onset, term) in try await run.c.query("""
            SELECT patient_id, onset_on, lower(term) FROM adverse_event WHERE patient_id = ANY(\(patients.values.map(\.id.rawValue))) AND voided_on IS NULL
            """, logger: run.logger).decode((Int, LocalDate, String).self) {
            recorded.insert("\(patientID)|\(onset)|\(term)")
        }
        let ids = try await run.ids(for: "adverse_event", count: rows.count)
        var buffer = CopyBuffer()
        for (index, (row, id)) in zip(rows, ids).enumerated() {
            var checks = FieldChecks()
            let institution = checks.check { () throws(RegistryError) in try run.institution(row) }
            let patient = institution.flatMap { i in checks.check { () throws(RegistryError) in try run.patient(row, institution: i.code, in: patients, pseudonym: keys[index]) } }
            let grade = run.integer("grade", field: "grade", in: row, into: &checks)
            let serious = run.flag("serious", field: "serious", in: row, into: &checks)
            let distinct = run.flag("distinct", field: "distinct", in: row, into: &checks)
            let criteria = (run.header.value("criteria", in: row.cells) ?? "").split(separator: ";").map { String($0).trimmingCharactersInWhitespace() }.filter { !$0.isEmpty }
            var new = checks.check { () throws(RegistryError) in
                try NewAdverseEvent(onset: run.header.value("onset_on", in: row.cells) ?? "", aware: run.header.value("aware_on", in: row.cells) ?? "",
                                    term: run.header.value("term", in: row.cells) ?? "", meddra: run.header.value("meddra_code", in: row.cells),
                                    category: run.header.value("category", in: row.cells) ?? "", grade: grade ?? 1,
                                    grading: run.header.value("grading", in: row.cells) ?? "", serious: serious, criteria: criteria,
                                    related: run.header.value("relatedness", in: row.cells), outcome: run.header.value("outcome", in: row.cells),
                                    outcomeOn: run.header.value("outcome_on", in: row.cells), today: run.today)
            }
            new?.markedDistinct = distinct
            let submitted = run.header.value("report_submitted_on", in: row.cells).flatMap { text in
                checks.check { () throws(RegistryError) -> LocalDate in
                    let date = try Rules.date(text, field: "report-submitted-on")
                    try Rules.eventDate(date, field: "report-submitted-on", today: run.today)
                    return date
                }
            }
            if let submitted, let event = new {
                _ = checks.check { () throws(RegistryError) in
                    try AdverseEventRules.checkSubmission(on: submitted, serious: event.serious, awareOn: event.awareOn, event: "this event")
                }
            }
            if let patient, let event = new, checks.passed {
                if !distinct, recorded.contains("\(patient.id)|\(event.onsetOn)|\(event.term.lowercased())") {
                    run.unchanged += 1
                    continue
                }
                _ = checks.check { () throws(RegistryError) in
                    try patient.forData.checkForData(on: event.onsetOn)
                    try patient.forData.checkEventAfterTreatment(onset: event.onsetOn)
                }
            }
            do { try checks.finish() } catch { run.reject(row, error); continue }
            guard let patient, let event = new else { continue }
            buffer.add(row.line); buffer.add(id); buffer.add(patient.id.rawValue); buffer.add(patient.institutionID)
            buffer.add(event.onsetOn); buffer.add(event.awareOn); buffer.add(event.term)
            if let code = event.meddraCode { buffer.add(code) } else { buffer.addNull() }
            buffer.add(event.category.rawValue); buffer.add(event.grade); buffer.add(event.grading.system); buffer.add(event.grading.version)
            buffer.add(event.serious ? "t" : "f"); buffer.add("{" + event.criteria.map { $0.rawValue }.sorted().joined(separator: ",") + "}")
            buffer.add(event.relatedness.rawValue); buffer.add(event.outcome.rawValue); buffer.add(event.outcomeOn)
            buffer.add(clock.dueDate(serious: event.serious, criteria: event.criteria, grade: event.grade, aware: event.awareOn))
            buffer.add(submitted)
            buffer.add(distinct ? "t" : "f")
            buffer.endRow()
        }
        try await buffer.copy(into: "import_adverse_event", columns: Self.columns, on: run.c, logger: run.logger)
    }

    func finish(_ run: ImportRun) async throws -> Int {
        // The same term and onset twice for a patient is one event entered twice, unless marked distinct.
        let repeats = try await run.c.query("""
            SELECT line, first FROM (SELECT line, distinct_event, first_value(line) OVER (PARTITION BY patient_id, onset_on, lower(term) ORDER BY line) AS first
                                     FROM import_adverse_event) d
            WHERE line <> first AND NOT distinct_event ORDER BY line
            """, logger: run.logger).decode((Int, Int).self).collect()
        try await run.rejectRepeats(repeats, in: "import_adverse_event", column: "term") { first in
            .conflict("term", "line \(first) reports an event with the same term and onset for this patient; give it once, or mark this one distinct (column distinct: yes)")
        }
        let written = try await run.c.query("""
            WITH e AS (
                INSERT INTO adverse_event (id, patient_id, institution_id, onset_on, aware_on, term, meddra_code, category, grade, grading_system,
                    grading_version, serious, seriousness, relatedness, outcome, outcome_on, report_due_on, report_submitted_on)
                SELECT id, patient_id, institution_id, onset_on, aware_on, term, meddra_code, category, grade, grading_system,
                    grading_version, serious, seriousness, relatedness, outcome, outcome_on, report_due_on, report_submitted_on
                FROM import_adverse_event RETURNING id)
            SELECT count(*) FROM e
            """, logger: run.logger).decode(Int.self).one("the events written")
        // Grade 5 events of patients not yet recorded dead: the death, as a single report records it.
        let deaths = try await run.c.query("""
            SELECT DISTINCT ON (e.patient_id) e.id, e.patient_id, coalesce(e.outcome_on, e.onset_on), e.term
            FROM import_adverse_event e JOIN patient p ON p.id = e.patient_id
            WHERE e.grade = 5 AND p.status <> 'deceased' ORDER BY e.patient_id, coalesce(e.outcome_on, e.onset_on), e.line
            """, logger: run.logger).decode((Int, Int, LocalDate, String).self).collect()
        for (eventID, patientID, died, term) in deaths {
            _ = try await run.tx.statusChanges.record(.death, patientID: PatientID(rawValue: patientID), on: died, reason: "grade 5 adverse event: \(term)",
                                                      adverseEventID: AdverseEventID(rawValue: eventID))
        }
        return written
    }
}
