import Foundation
import RegistryDomain
import RegistryImport
import RegistryStorage
import RegistryTestSupport
import Testing

/// Runs an import of `csv` (written to a file as given) as the registry's operator, or as an
/// institution under row-level security when `scope` is given.
func importCSV(_ db: Database, _ kind: ImportKind, _ csv: String, mode: ImportMode = .allOrNothing, dryRun: Bool = false,
               institution: String? = nil, scope: String? = nil, name: String = "file.csv") async throws -> ImportResult {
    let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("import-\(UUID().uuidString).csv")
    try Data(csv.utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let options = ImportOptions(kind: kind, institution: institution, mode: mode, dryRun: dryRun, fileName: name)
    if let scope {
        let id = try await db.read { tx in try await tx.institutions.id(code: scope) }
        return try await Importer.run(file: file, options: options, scope: scope, actor: "site-importer", pseudonymizer: Fixture.key,
                                      transaction: { body in try await db.transaction(actor: "site-importer", actingFor: id, body) })
    }
    return try await Importer.run(file: file, options: options, scope: nil, actor: "importer", pseudonymizer: Fixture.key,
                                  transaction: { body in try await db.transaction(actor: "importer", body) })
}

/// The rejects as `line column: message` lines, for readable expectations.
func lines(_ result: ImportResult) -> [String] {
    result.rejects.map { "\($0.line) \($0.column ?? "-"): \($0.message)" }
}

@Suite("CSV import")
struct ImportTests {
    static let patientsFile = """
        institution,local_id,birth_year,sex,consent_on,consent_version
        ARM-001,MRN-1,1970,male,2025-05-01,2
        ARM-001,MRN-2,19x0,mail,2025-13-01,2
        ARM-001,MRN-12345,1961,female,2025-03-20,2
        ARM-001,MRN-12345,1962,female,2025-03-20,2
        ARM-001,MRN-1,1970,male,2025-05-01,2
        ARM-999,MRN-3,1980,female,2025-05-01,2

        """

    @Test("patients: every bad row named with its line, column, value and the single entry's message; all-or-nothing writes nothing, --accept-valid the valid rows, a re-import nothing")
    func patients() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let refused = try await importCSV(db, .patients, Self.patientsFile)
            #expect(!refused.committed && refused.rows == 6 && refused.written == 1 && refused.unchanged == 1 && refused.rejectedRows == 4)
            let got = lines(refused)
            #expect(got.contains { $0.hasPrefix("3 birth_year: '19x0' is not a whole number") }, "\(got)")
            #expect(got.contains { $0.hasPrefix("3 sex: 'mail' is not allowed") }, "\(got)")
            #expect(got.contains { $0.hasPrefix("3 consent_on:") }, "\(got)")
            #expect(got.contains { $0.hasPrefix("5 birth_year: this local key is already enrolled as patient") && $0.contains("birth year 1961, not 1962") }, "\(got)")
            #expect(got.contains("6 local_id: the same patient as line 2 (the same institution and local number); give each patient once"), "\(got)")
            #expect(got.contains { $0.hasPrefix("7 institution:") && $0.contains("ARM-999") }, "\(got)")
            #expect(refused.rejects.first { $0.line == 3 && $0.column == "sex" }?.value == "mail")
            #expect(try await db.count("patient") == 1)
            #expect(try await db.count("import_batch") == 0)

            let dry = try await importCSV(db, .patients, Self.patientsFile, mode: .acceptValid, dryRun: true)
            #expect(dry.written == 1 && !dry.committed)
            #expect(try await db.count("patient") == 1)

            let accepted = try await importCSV(db, .patients, Self.patientsFile, mode: .acceptValid)
            #expect(accepted.committed && accepted.written == 1 && accepted.rejectedRows == 4 && accepted.batch != nil)
            #expect(try await db.count("patient") == 2)
            #expect(try await db.count("import_batch") == 1)
            // The import is audited as the importer: the batch and the patient it wrote.
            #expect(try await db.count("audit_log", where: "entity = 'import_batch' AND actor = 'importer'") == 1)
            #expect(try await db.count("audit_log", where: "entity = 'patient' AND actor = 'importer'") == 1)

            let again = try await importCSV(db, .patients, Self.patientsFile, mode: .acceptValid)
            #expect(again.written == 0 && again.unchanged == 3)
            #expect(try await db.count("patient") == 2)
        }
    }

    @Test("Korean headers, a byte-order mark and CRLF lines read as the English layout; a header that fits no layout is refused naming every problem")
    func headers() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let korean = "\u{FEFF}환자번호,출생연도,성별,동의일,동의서버전\r\nMRN-7,1980,female,2025-05-02,2\r\nMRN-8,1981,male,2025-05-03,2\r\n"
            let result = try await importCSV(db, .patients, korean, institution: "ARM-001")
            #expect(result.committed && result.written == 2, "\(lines(result))")
            #expect(try await db.count("patient") == 3)
            await #expect {
                _ = try await importCSV(db, .patients, "local_id,birth,sex,sex\nMRN-9,1980,female,female\n", institution: "ARM-001")
            } throws: { error in
                let all = (error as? RegistryError)?.all.map(\.message) ?? []
                return all.contains { $0.contains("'birth' is not a column of a patients file") } && all.contains { $0.contains("repeats sex") }
                    && all.contains { $0.contains("birth_year (출생연도) is missing") } && all.contains { $0.contains("consent_on") }
            }
            let template = ImportLayout.template(.adverseEvents, korean: true)
            #expect(template.hasPrefix("\u{FEFF}기관코드,환자번호,발생일"))
        }
    }

    @Test("an institution imports only its own: a row of another institution is refused, another site's patient is not found")
    func siteScoping() async throws {
        try await TestDatabase.withDatabase { db in
            let f = try await Fixture.make(db)
            _ = try await Fixture.make(db, code: "ARM-002")
            let patients = "institution,local_id,birth_year,sex,consent_on,consent_version\nARM-001,MRN-50,1970,male,2025-05-01,2\nARM-002,MRN-51,1970,male,2025-05-01,2\n"
            let scoped = try await importCSV(db, .patients, patients, mode: .acceptValid, scope: "ARM-001")
            #expect(scoped.written == 1 && scoped.rejectedRows == 1)
            #expect(lines(scoped) == ["3 institution: this import is for ARM-001; a row of ARM-002 cannot be imported in it"])
            // ARM-002's MRN-12345 is not ARM-001's patient: a dose for it in ARM-001's file is not found.
            let doses = """
                local_id,product,administered_on,lot,dose,fee_notified_krw,fee_collected_krw
                MRN-12345,GT-01,2025-04-01,LOT-1,1e6,100,100

                """
            let asOne = try await importCSV(db, .administrations, doses, scope: "ARM-002")
            #expect(asOne.written == 1 && asOne.committed, "\(lines(asOne))")
            let ghost = try await importCSV(db, .administrations, doses.replacingOccurrences(of: "MRN-12345", with: "MRN-51"), scope: "ARM-001")
            #expect(lines(ghost) == ["2 local_id: ARM-001 holds no patient with this local key"])
            #expect(try await db.count("administration", where: "patient_id = \(f.patient.id)") == 0)
        }
    }

    @Test("doses, visits and adverse events: schedules generated, follow-ups completed, every kind of bad row named; re-import writes nothing")
    func capture() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let doses = """
                local_id,product,plan,administered_on,lot,dose,fee_notified_krw,fee_collected_krw
                MRN-12345,GT-01,,2025-04-01,LOT-1,2e6 cells/kg,30000000,30000000
                MRN-12345,GT-01,,2025-03-01,LOT-2,2e6 cells/kg,30000000,30000000
                MRN-404,GT-01,,2025-04-01,LOT-1,2e6 cells/kg,30000000,30000000
                MRN-12345,XX-99,,2025-04-02,LOT-1,2e6 cells/kg,-5,abc
                MRN-12345,,77,2025-04-03,LOT 1!,,1,1
                MRN-12345,GT-01,,2025-04-01,LOT-1,2e6 cells/kg,30000000,30000000

                """
            let dosed = try await importCSV(db, .administrations, doses, mode: .acceptValid, institution: "ARM-001")
            let got = lines(dosed)
            #expect(dosed.written == 1 && dosed.rejectedRows == 5, "\(got)")
            #expect(got.contains { $0.hasPrefix("3 administered_on: 2025-03-01 is before the plan's approval") }, "\(got)")
            #expect(got.contains("4 local_id: ARM-001 holds no patient with this local key"), "\(got)")
            #expect(got.contains("5 product: ARM-001 has no treatment plan for the product XX-99"), "\(got)")
            #expect(got.contains { $0.hasPrefix("5 fee_notified_krw: -5 is out of range") }, "\(got)")
            #expect(got.contains("5 fee_collected_krw: 'abc' is not a whole number"), "\(got)")
            #expect(got.contains("6 plan: no treatment plan has number 77"), "\(got)")
            #expect(got.contains { $0.hasPrefix("6 lot: 'LOT 1!' is not a lot number") }, "\(got)")
            #expect(got.contains { $0.hasPrefix("6 dose:") }, "\(got)")
            #expect(got.contains("7 lot: the same dose as line 2 (the same patient, date and lot); give each dose once"), "\(got)")
            // The schedule is the one a single dose gets.
            let labels = try await db.plainTransaction { tx in
                try await tx.connection.query("SELECT label FROM follow_up ORDER BY seq", logger: TestDatabase.logger).decode(String.self).collect()
            }
            #expect(labels.count >= 5)
            let first = labels[0], second = labels[1]

            let visits = """
                local_id,administered_on,time_point,visit_on,contact_type,vital_status,note,ecog,hemoglobin
                MRN-12345,2025-04-01,\(first),2025-05-01,examination,alive,,1,12.5
                MRN-12345,2025-04-01,\(first),2025-05-02,examination,alive,,1,
                MRN-12345,2025-04-01,Z9,2025-05-01,examination,alive,,,
                MRN-12345,,,2025-04-20,phone,alive,,,
                MRN-12345,2025-04-01,\(second),2025-03-01,walk-in,sleepy,,9,
                MRN-12345,2025-04-01,\(second),2026-12-30,examination,alive,,,
                MRN-12345,2025-04-01,,2025-06-01,examination,alive,,,

                """
            let visited = try await importCSV(db, .visits, visits, mode: .acceptValid, institution: "ARM-001")
            let v = lines(visited)
            #expect(visited.written == 2 && visited.rejectedRows == 5, "\(v)")
            #expect(v.contains { $0.hasPrefix("3 visit_on: line 2 already records this visit") }, "\(v)")
            #expect(v.contains { $0.hasPrefix("4 time_point: patient") && $0.contains("has no time point 'Z9'") }, "\(v)")
            #expect(v.contains { $0.hasPrefix("6 contact_type: 'walk-in'") }, "\(v)")
            #expect(v.contains { $0.hasPrefix("6 vital_status: 'sleepy'") }, "\(v)")
            #expect(v.contains { $0.hasPrefix("6 ecog:") }, "\(v)")
            #expect(v.contains { $0.hasPrefix("7 visit_on:") }, "\(v)")
            #expect(v.contains { $0.hasPrefix("8 time_point: a visit that completes a follow-up names both") }, "\(v)")
            #expect(try await db.count("follow_up", where: "status = 'completed' AND completed_on = '2025-05-01'") == 1)
            #expect(try await db.count("visit_measure") == 2)

            let events = """
                local_id,onset_on,aware_on,term,category,grade,grading,serious,criteria,relatedness,outcome
                MRN-12345,2025-04-10,2025-04-11,Neutropenia,hematologic,3,CTCAE-5.0,no,,possible,recovered
                MRN-12345,2025-04-10,2025-04-11,neutropenia,hematologic,3,CTCAE-5.0,no,,possible,recovered
                MRN-12345,2025-03-10,2025-03-11,Fever,infection,1,CTCAE-5.0,no,,possible,recovered
                MRN-12345,2025-04-12,2025-04-11,Rash,skin,7,CTCAE,maybe,,,
                MRN-12345,2025-04-15,2025-04-15,Sepsis,infection,4,CTCAE-5.0,yes,hospitalization,probable,recovering

                """
            let reported = try await importCSV(db, .adverseEvents, events, mode: .acceptValid, institution: "ARM-001")
            let e = lines(reported)
            #expect(reported.written == 2 && reported.rejectedRows == 3, "\(e)")
            #expect(e.contains { $0.hasPrefix("3 term: line 2 reports an event with the same term and onset") }, "\(e)")
            #expect(e.contains { $0.hasPrefix("4 onset_on:") && $0.contains("before") }, "\(e)")
            for column in ["aware_on", "category", "grade", "grading", "serious"] {
                #expect(e.contains { $0.hasPrefix("5 \(column):") }, "\(column): \(e)")
            }
            #expect(try await db.count("adverse_event", where: "serious AND report_due_on IS NOT NULL") == 1)

            // The same files again: nothing new.
            for (kind, file) in [(ImportKind.administrations, doses), (.visits, visits), (.adverseEvents, events)] {
                let again = try await importCSV(db, kind, file, mode: .acceptValid, institution: "ARM-001")
                #expect(again.written == 0, "\(kind): \(lines(again))")
            }
            let (doseCount, visitCount, eventCount) = (try await db.count("administration"), try await db.count("visit"), try await db.count("adverse_event"))
            #expect(doseCount == 1 && visitCount == 2 && eventCount == 2)
        }
    }

    @Test("status changes: applied with their effect on follow-ups, each bad row named; a transfer is refused; re-import writes nothing")
    func statusChanges() async throws {
        try await TestDatabase.withDatabase { db in
            let f = try await Fixture.make(db)
            _ = try await db.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-04-01", today: db.today())) }
            let changes = """
                local_id,kind,effective_on,reason
                MRN-12345,death,2026-01-05,progressive disease
                MRN-12345,transfer,2026-01-06,moved
                MRN-12345,retired,2026-13-01,
                MRN-999,lost,2026-01-05,no contact

                """
            let result = try await importCSV(db, .statusChanges, changes, mode: .acceptValid, institution: "ARM-001")
            let got = lines(result)
            #expect(result.written == 1 && result.rejectedRows == 3, "\(got)")
            #expect(got.contains { $0.hasPrefix("3 kind: a transfer is not imported") }, "\(got)")
            #expect(got.contains { $0.hasPrefix("4 kind: 'retired' is not a status change") }, "\(got)")
            #expect(got.contains { $0.hasPrefix("4 effective_on:") }, "\(got)")
            #expect(got.contains { $0.hasPrefix("4 reason:") }, "\(got)")
            #expect(got.contains("5 local_id: ARM-001 holds no patient with this local key"), "\(got)")
            // The death's effect, as a single entry has it: the patient deceased, later follow-ups no longer required.
            #expect(try await db.count("patient", where: "status = 'deceased' AND status_on = '2026-01-05'") == 1)
            #expect(try await db.count("follow_up", where: "status = 'not-required' AND due_on > '2026-01-05'") > 0)
            let again = try await importCSV(db, .statusChanges, changes, mode: .acceptValid, institution: "ARM-001")
            #expect(again.written == 0 && again.unchanged == 1)
        }
    }

    @Test("the same file sent twice at once writes its doses once")
    func concurrent() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let doses = "local_id,product,administered_on,lot,dose,fee_notified_krw,fee_collected_krw\nMRN-12345,GT-01,2025-04-01,LOT-1,1e6,1,1\nMRN-12345,GT-01,2025-05-01,LOT-2,1e6,1,1\n"
            async let first = importCSV(db, .administrations, doses, institution: "ARM-001")
            async let second = importCSV(db, .administrations, doses, institution: "ARM-001")
            let (a, b) = try await (first, second)
            #expect(a.written + b.written == 2 && a.unchanged + b.unchanged == 2, "\(a.written)/\(a.unchanged) and \(b.written)/\(b.unchanged)")
            #expect(try await db.count("administration") == 2)
        }
    }

    @Test("a 100,000-row file: imported in one pass, and again with nothing new")
    func large() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            var csv = "local_id,birth_year,sex,consent_on,consent_version\n"
            csv.reserveCapacity(4_000_000)
            for i in 0..<100_000 { csv += "BULK-\(i),\(1940 + i % 60),\(i % 2 == 0 ? "female" : "male"),2025-05-01,2\n" }
            let result = try await importCSV(db, .patients, csv, institution: "ARM-001")
            #expect(result.committed && result.rows == 100_000 && result.written == 100_000 && result.rejectedRows == 0)
            #expect(try await db.count("patient") == 100_001)
            let again = try await importCSV(db, .patients, csv, institution: "ARM-001")
            #expect(again.written == 0 && again.unchanged == 100_000)
        }
    }
}
