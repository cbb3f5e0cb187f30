import Foundation
import PostgresNIO
import RegistryDemo
import RegistryDomain
@testable import RegistryReports
import RegistryStorage
import RegistryTestSupport
import Testing

/// The hand-checked registry (SmallRegistry) with what an extract must leave out or map specially:
/// a coded measure, a second dose and a visit, an adverse event and a patient that were voided, and
/// a patient enrolled but not yet treated.
struct OmopRegistry {
    var small: SmallRegistry
    var voidedVisit: VisitID
    var voidedDose: AdministrationID
    var voidedEvent: AdverseEventID
    var voidedPatient: PatientID
    var untreated: PatientID

    static func make(_ database: Database) async throws -> OmopRegistry {
        let small = try await SmallRegistry.make(database)
        let p2 = small.patients[1]
        let today = SmallRegistry.today
        // p2: an unscheduled visit with a coded and a numeric measure (standing), another visit voided.
        _ = try await database.transaction(actor: "site") { tx in
            try await tx.visits.log(followUpID: nil, patientID: p2, try visit("2025-07-01", measures: ["disease-response=CR", "hemoglobin=12.5:g/dL"]))
        }
        let wrong = try await database.transaction(actor: "site") { tx in
            try await tx.visits.log(followUpID: nil, patientID: p2, try visit("2025-07-02", measures: ["ecog=4"]))
        }
        _ = try await database.transaction(actor: "site") { tx in try await tx.visits.void(id: wrong.id, reason: "entered for the wrong patient", confirm: true) }
        // p2: a second dose recorded in error and voided.
        let plan = try await database.read { tx in
            try await tx.connection.query("SELECT plan_id FROM administration WHERE patient_id = \(p2)", logger: TestDatabase.logger).decode(Int.self).one("p2's plan")
        }
        let dose = try await database.transaction(actor: "site") { tx in
            try await tx.administrations.administer(patientID: p2, planID: PlanID(plan), try NewAdministration(on: "2025-08-01", lot: "LOT-ERR", dose: "1 vial",
                                                                                                               feeNotified: 1, feeCollected: 1, today: today))
        }.administration
        _ = try await database.transaction(actor: "site") { tx in try await tx.administrations.void(id: dose.id, reason: "recorded twice", confirm: true) }
        // p2: an event whose term needs quoting in CSV and escaping in COPY.
        _ = try await database.transaction(actor: "site") { tx in
            try await tx.adverseEvents.report(patientID: p2, try event(onset: "2025-03-01", aware: "2025-03-02", term: #"Arthralgia, "knee" \ left"#, grade: 1,
                                                                        category: "other"), confirm: true)
        }
        // p2: an adverse event voided.
        let (mistaken, _) = try await database.transaction(actor: "site") { tx in
            try await tx.adverseEvents.report(patientID: p2, try event(onset: "2025-02-15", aware: "2025-02-16", term: "Rash, maculopapular", grade: 1), confirm: true)
        }
        _ = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.void(id: mistaken.id, reason: "another patient's", confirm: true) }
        // A patient enrolled in error and voided, and one enrolled but not yet treated.
        func enroll(_ key: String) async throws -> PatientID {
            try await database.transaction(actor: "site") { tx in
                try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-001", localID: key, birthYear: 1970, sex: "male", consentOn: "2026-01-05",
                                                            consentVersion: "2", pseudonymizer: Fixture.key, today: today))
            }.patient.id
        }
        let voidedPatient = try await enroll("MRN-ERR")
        _ = try await database.transaction(actor: "site") { tx in try await tx.patients.void(id: voidedPatient, reason: "duplicate enrolment", confirm: true) }
        let untreated = try await enroll("MRN-8")
        return OmopRegistry(small: small, voidedVisit: wrong.id, voidedDose: dose.id, voidedEvent: mistaken.id, voidedPatient: voidedPatient, untreated: untreated)
    }
}

/// A CSV file of the extract, read back (RFC 4180) by column name.
struct CDMTable {
    var header: [String]
    var rows: [[String]]

    init(_ directory: URL, _ name: String) throws {
        let text = try String(contentsOf: directory.appendingPathComponent("\(name).csv"), encoding: .utf8)
        var records: [[String]] = [], field = "", record: [String] = [], quoted = false
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" { if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false } } else { field.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { record.append(field); field = "" }
            else if c == "\r\n" || c == "\n" { record.append(field); records.append(record); record = []; field = "" }
            else { field.append(c) }
        }
        header = records.first ?? []
        rows = Array(records.dropFirst())
    }

    subscript(_ row: [String], _ column: String) -> String { row[header.firstIndex(of: column)!] }
    func column(_ name: String) -> [String] { rows.map { self[$0, name] } }
    func rows(where column: String, is value: String) -> [[String]] { rows.filter { self[$0, column] == value } }
}

/// The references between the CDM tables, each counted for rows that point nowhere: the foreign
/// keys the load adds, and those the CDM holds without one (an episode's events, an adverse
/// event's attributes).
func orphans(_ connection: PostgresConnection, schema: String) async throws -> [String: Int] {
    var checks = OmopSchema.foreignKeys.map { ("\($0.table).\($0.column)", "\($0.table) x", "x.\($0.column) IS NOT NULL",
                                                "SELECT 1 FROM \($0.references) r WHERE r.\($0.referencedColumn) = x.\($0.column)") }
    checks.append(("episode_event.event_id", "episode_event x", "x.episode_event_field_concept_id = \(OmopConcept.drugExposureID)",
                   "SELECT 1 FROM drug_exposure r WHERE r.drug_exposure_id = x.event_id"))
    checks.append(("observation.observation_event_id", "observation x", "x.obs_event_field_concept_id = \(OmopConcept.conditionOccurrenceID)",
                   "SELECT 1 FROM condition_occurrence r WHERE r.condition_occurrence_id = x.observation_event_id"))
    checks.append(("episode_event.episode_event_field_concept_id", "episode_event x", "x.episode_event_field_concept_id <> \(OmopConcept.drugExposureID)", "SELECT 1 WHERE false"))
    var found: [String: Int] = [:]
    for (name, from, condition, target) in checks {
        found[name] = try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(schema).\(from) WHERE \(condition) AND NOT EXISTS (\(target.replacingOccurrences(of: "FROM ", with: "FROM \(schema).")))"),
                                                 logger: TestDatabase.logger).decode(Int.self).one(name)
    }
    return found
}

@Suite("The OMOP CDM 5.4 extract")
struct OmopExportTests {
    static func request(institution: String? = nil, purpose: String = "test: OMOP extract") -> OmopExport.Request {
        OmopExport.Request(purpose: purpose, recipient: "Example University research team", institution: institution, actor: "cli:analyst", today: SmallRegistry.today)
    }

    static func folder() -> URL {
        URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("omop-\(UUID().uuidString)")
    }

    @Test("CSV files: every table with the CDM's header, the registry's rows mapped as documented, voided records and untreated patients left out; recorded")
    func csv() async throws {
        try await TestDatabase.withDatabase { database in
            let r = try await OmopRegistry.make(database)
            let dir = Self.folder()
            defer { try? FileManager.default.removeItem(at: dir) }
            let summary = try await OmopExport.writeCSV(database: database, directory: dir.path, request: Self.request())
            #expect(summary.tables.map(\.table) == OmopSchema.tables.map(\.name))
            for table in OmopSchema.tables {
                let file = try CDMTable(dir, table.name)
                #expect(file.header == table.columnNames, "\(table.name)")
                #expect(file.rows.count == summary.rows(table.name), "\(table.name)")
                #expect(file.rows.allSatisfy { $0.count == table.columns.count }, "\(table.name)")
            }
            let ids = r.small.patients.map { String($0.rawValue) }
            let pseudonyms = try await database.read { tx in
                try await tx.connection.query("SELECT id, pseudonym FROM patient ORDER BY id", logger: TestDatabase.logger).decode((Int, String).self).collect()
            }

            // person: the six treated patients; sex as gender concepts; the pseudonym's first 50 characters.
            let person = try CDMTable(dir, "person")
            #expect(person.column("person_id") == ids)
            #expect(person.column("gender_concept_id") == ["8532", "8507", "8532", "8507", "8532", "8507"])
            #expect(person.column("gender_source_value") == ["female", "male", "female", "male", "female", "male"])
            #expect(person.column("year_of_birth") == ["1951", "1952", "1953", "1954", "1955", "1956"])
            #expect(person.column("race_concept_id").allSatisfy { $0 == "0" } && person.column("ethnicity_concept_id").allSatisfy { $0 == "0" })
            #expect(person.column("person_source_value") == pseudonyms.prefix(6).map { String($0.1.prefix(50)) })
            #expect(!person.column("person_id").contains(String(r.voidedPatient.rawValue)) && !person.column("person_id").contains(String(r.untreated.rawValue)))

            // drug_exposure: the seven standing doses (p2's voided one left out), product codes as source values, lots, concept 0.
            let drugs = try CDMTable(dir, "drug_exposure")
            #expect(drugs.rows.count == 7 && !drugs.column("drug_exposure_id").contains(String(r.voidedDose.rawValue)))
            #expect(!drugs.column("lot_number").contains("LOT-ERR") && drugs.column("lot_number").allSatisfy { $0 == "LOT-1" })
            #expect(drugs.column("drug_concept_id").allSatisfy { $0 == "0" } && drugs.column("drug_type_concept_id").allSatisfy { $0 == "32879" })
            #expect(drugs.column("drug_source_value") == ["GT-01", "GT-01", "GT-01", "CT-01", "CT-01", "CT-01", "CT-01"])
            let p6Doses = drugs.rows(where: "person_id", is: ids[5])
            #expect(p6Doses.map { drugs[$0, "drug_exposure_start_date"] } == ["2025-03-03", "2025-06-02"])
            #expect(p6Doses.allSatisfy { drugs[$0, "drug_exposure_end_date"] == drugs[$0, "drug_exposure_start_date"] && drugs[$0, "sig"] == "1 vial" })

            // visit_occurrence: examinations are outpatient visits, telephone contacts telehealth; the voided visit left out.
            let visits = try CDMTable(dir, "visit_occurrence")
            #expect(visits.rows.count == 17 && !visits.column("visit_occurrence_id").contains(String(r.voidedVisit.rawValue)))
            #expect(visits.rows(where: "visit_source_value", is: "phone").map { visits[$0, "visit_concept_id"] } == ["5083", "5083"])
            #expect(visits.rows(where: "visit_source_value", is: "examination").allSatisfy { visits[$0, "visit_concept_id"] == "9202" })

            // measurement: numeric measures with their codes as source values, concept 0; the voided visit's ECOG 4 left out.
            let measurements = try CDMTable(dir, "measurement")
            #expect(measurements.rows.count == 15)
            #expect(measurements.column("measurement_concept_id").allSatisfy { $0 == "0" })
            #expect(Set(measurements.column("measurement_source_value")) == ["89247-1", "72514-3", "718-7"])
            #expect(!measurements.rows(where: "measurement_source_value", is: "89247-1").contains { measurements[$0, "value_as_number"] == "4" })
            let hemoglobin = try #require(measurements.rows(where: "measurement_source_value", is: "718-7").first)
            #expect(measurements[hemoglobin, "value_as_number"] == "12.5" && measurements[hemoglobin, "unit_source_value"] == "g/dL"
                    && measurements[hemoglobin, "unit_concept_id"] == "0" && measurements[hemoglobin, "measurement_date"] == "2025-07-01")
            #expect(visits.column("visit_occurrence_id").contains(measurements[hemoglobin, "visit_occurrence_id"]))

            // observation: the coded measure's answer, and each adverse event's attributes pointing at its condition row.
            let observations = try CDMTable(dir, "observation")
            let response = try #require(observations.rows(where: "observation_source_value", is: "88040-1").first)
            #expect(observations[response, "value_as_string"] == "CR" && observations[response, "value_as_number"] == "1"
                    && observations[response, "observation_concept_id"] == "0" && observations[response, "person_id"] == ids[1])
            let conditions = try CDMTable(dir, "condition_occurrence")
            let p1Event = try #require(conditions.rows.first { conditions[$0, "person_id"] == ids[0] && conditions[$0, "condition_status_source_value"] == "adverse event" })
            let p1Attributes = observations.rows(where: "observation_event_id", is: conditions[p1Event, "condition_occurrence_id"])
            let attributes = Dictionary(uniqueKeysWithValues: p1Attributes.map { (observations[$0, "observation_source_value"], $0) })
            #expect(Set(attributes.keys) == ["ae-grade", "ae-serious", "ae-relatedness", "ae-outcome", "ae-category", "ae-term", "ae-seriousness-criterion"])
            #expect(observations[attributes["ae-grade"]!, "value_as_number"] == "3" && observations[attributes["ae-serious"]!, "value_as_string"] == "yes")
            #expect(observations[attributes["ae-seriousness-criterion"]!, "value_as_string"] == "hospitalization")
            #expect(observations[attributes["ae-category"]!, "value_as_string"] == "hematologic")
            #expect(p1Attributes.allSatisfy { observations[$0, "obs_event_field_concept_id"] == "1147127" && observations[$0, "observation_date"] == "2024-07-01" })
            #expect(!observations.column("value_as_string").contains("Rash, maculopapular"), "the voided event's attributes are left out")

            // condition_occurrence: six standing adverse events (the term as source value, no MedDRA code given) and each
            // person's indication (ICD-10) from the first dose.
            #expect(conditions.rows(where: "condition_status_source_value", is: "adverse event").count == 7)
            #expect(conditions.column("condition_source_value").contains(#"Arthralgia, "knee" \ left"#), "quoted in the file, read back whole")
            #expect(!conditions.column("condition_source_value").contains("Rash, maculopapular"))
            let indications = conditions.rows(where: "condition_status_source_value", is: "treatment indication")
            #expect(indications.count == 6)
            #expect(ids.map { id in indications.first { conditions[$0, "person_id"] == id }.map { conditions[$0, "condition_source_value"] } }
                    == ["G20", "G20", "G20", "M17.0", "M17.0", "M17.0"])
            #expect(indications.first { conditions[$0, "person_id"] == ids[5] }.map { conditions[$0, "condition_start_date"] } == "2025-03-03")
            #expect(conditions.column("condition_concept_id").allSatisfy { $0 == "0" })
            #expect(Set(conditions.column("condition_occurrence_id")).count == conditions.rows.count)
            let p5Fatal = try #require(conditions.rows.first { conditions[$0, "person_id"] == ids[4] && conditions[$0, "condition_status_source_value"] == "adverse event" })
            #expect(conditions[p5Fatal, "condition_end_date"] == "2026-01-15")

            // death: p1 by status change, p5 by the grade 5 event, whose term is the cause.
            let deaths = try CDMTable(dir, "death")
            #expect(deaths.column("person_id") == [ids[0], ids[4]])
            #expect(deaths[deaths.rows[0], "death_date"] == "2025-03-01" && deaths[deaths.rows[0], "cause_source_value"] == "")
            #expect(deaths[deaths.rows[1], "cause_source_value"] == "Neutropenia" && deaths[deaths.rows[1], "death_type_concept_id"] == "32879")

            // observation_period: first record to last contact; p1's ends at the death, p4's at the loss.
            let periods = try CDMTable(dir, "observation_period")
            #expect(periods.column("person_id") == ids && periods.column("period_type_concept_id").allSatisfy { $0 == "32879" })
            let p1Period = periods.rows[0], p4Period = periods.rows[3]
            #expect(periods[p1Period, "observation_period_start_date"] == "2024-06-03" && periods[p1Period, "observation_period_end_date"] == "2025-03-01")
            #expect(periods[p4Period, "observation_period_end_date"] == "2025-12-01")

            // episode: a course per patient and plan (p6's two doses one course), with its doses as episode events.
            let episodes = try CDMTable(dir, "episode")
            #expect(episodes.rows.count == 6 && episodes.column("episode_concept_id").allSatisfy { $0 == "32531" })
            let p6Course = try #require(episodes.rows(where: "person_id", is: ids[5]).first)
            #expect(episodes[p6Course, "episode_start_date"] == "2025-03-03" && episodes[p6Course, "episode_end_date"] == "2025-06-02"
                    && episodes[p6Course, "episode_source_value"] == "CT-01" && episodes[p6Course, "episode_object_concept_id"] == "0")
            let events = try CDMTable(dir, "episode_event")
            #expect(events.rows.count == 7 && events.column("episode_event_field_concept_id").allSatisfy { $0 == "1147094" })
            #expect(events.rows(where: "episode_id", is: episodes[p6Course, "episode_id"]).map { events[$0, "event_id"] } == p6Doses.map { drugs[$0, "drug_exposure_id"] })
            #expect(Set(events.column("event_id")) == Set(drugs.column("drug_exposure_id")))

            // cdm_source: one row naming the registry, CDM 5.4, no vocabulary.
            let source = try CDMTable(dir, "cdm_source")
            #expect(source.rows.count == 1 && source[source.rows[0], "cdm_version"] == "5.4" && source[source.rows[0], "cdm_version_concept_id"] == "756265")
            #expect(source[source.rows[0], "vocabulary_version"] == "none" && source[source.rows[0], "source_release_date"] == "2026-11-25")

            // Patients by pseudonym only; recorded as an administrator's pull with the recipient and checksum.
            let everything = try OmopSchema.tables.map { try String(contentsOf: dir.appendingPathComponent("\($0.name).csv"), encoding: .utf8) }.joined()
            #expect(!everything.contains("MRN-"))
            let recorded = try await database.read { tx in
                try await tx.connection.query("SELECT report, role, recipient, content_sha256, parameters->'rows'->>'person' FROM report_pull", logger: TestDatabase.logger)
                    .decode((String, String, String?, String, String).self).collect()
            }
            #expect(recorded.count == 1 && recorded[0].0 == "omop" && recorded[0].1 == "admin" && recorded[0].2 == "Example University research team"
                    && "sha256:\(recorded[0].3)" == summary.checksum && recorded[0].4 == "6")

            // The same registry gives the same files; one institution's patients only; refusals before anything is written.
            let againDir = Self.folder()
            defer { try? FileManager.default.removeItem(at: againDir) }
            let again = try await OmopExport.writeCSV(database: database, directory: againDir.path, request: Self.request())
            #expect(again.checksum == summary.checksum)
            let arm2 = Self.folder()
            defer { try? FileManager.default.removeItem(at: arm2) }
            let only = try await OmopExport.writeCSV(database: database, directory: arm2.path, request: Self.request(institution: "ARM-002"))
            #expect(try CDMTable(arm2, "person").column("person_id") == Array(ids.suffix(3)) && only.rows("drug_exposure") == 4)
            await expectRefusal(field: "institution") { _ = try await OmopExport.writeCSV(database: database, directory: Self.folder().path, request: Self.request(institution: "ARM-999")) }
            await expectRefusal(field: "purpose") { _ = try await OmopExport.writeCSV(database: database, directory: Self.folder().path, request: Self.request(purpose: "  ")) }
            #expect(try await database.count("report_pull") == 3)
        }
    }

    @Test("loaded into a CDM schema of a second database: keys in place, no orphans, the same rows as the files; refused into tables that hold rows unless replaced")
    func load() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await OmopRegistry.make(database)
            try await withTarget { target, targetURL in
                let summary = try await OmopExport.load(database: database, target: targetURL, schema: "cdm", replace: false, request: Self.request())
                let dir = Self.folder()
                defer { try? FileManager.default.removeItem(at: dir) }
                let files = try await OmopExport.writeCSV(database: database, directory: dir.path, request: Self.request())
                #expect(summary.tables == files.tables)
                try await target.withConnection { c in
                    for table in OmopSchema.tables {
                        let n = try await c.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM cdm.\(table.name)"), logger: TestDatabase.logger).decode(Int.self).one(table.name)
                        #expect(n == summary.rows(table.name), "\(table.name)")
                    }
                    let keys = try await c.query("""
                        SELECT conname FROM pg_constraint WHERE connamespace = 'cdm'::regnamespace AND contype IN ('p', 'f') ORDER BY conname
                        """, logger: TestDatabase.logger).decode(String.self).collect()
                    let expected = OmopSchema.tables.compactMap { $0.primaryKey == nil ? nil : "xpk_\($0.name)" } + OmopSchema.foreignKeys.map(\.name)
                    #expect(keys == expected.sorted())
                    #expect(try await orphans(c, schema: "cdm").filter { $0.value != 0 } == [:])
                    // The CSV's row for p1's death reads the same from the database.
                    let death = try await c.query("SELECT death_date::text, death_type_concept_id FROM cdm.death ORDER BY person_id LIMIT 1", logger: TestDatabase.logger)
                        .decode((String, Int).self).one("p1's death")
                    #expect(death.0 == "2025-03-01" && death.1 == 32879)
                    let term = try await c.query("SELECT observation_source_value FROM cdm.observation WHERE value_as_string LIKE 'Arthralgia%'", logger: TestDatabase.logger)
                        .decode(String.self).one("the quoted term")
                    #expect(term == "ae-term")
                    let value = try await c.query("SELECT value_as_string FROM cdm.observation WHERE value_as_string LIKE 'Arthralgia%'", logger: TestDatabase.logger)
                        .decode(String.self).one("the quoted term")
                    #expect(value == #"Arthralgia, "knee" \ left"#, "escaped for COPY, loaded whole")
                }
                // Tables holding rows are refused, the target unchanged; --replace loads them again.
                await expectRefusal(field: "target-database-url", code: .conflict) {
                    _ = try await OmopExport.load(database: database, target: targetURL, schema: "cdm", replace: false, request: Self.request())
                }
                let replaced = try await OmopExport.load(database: database, target: targetURL, schema: "cdm", replace: true, request: Self.request())
                #expect(replaced.tables == summary.tables && replaced.checksum == summary.checksum)
                #expect(try await target.count("cdm.person") == 6)
                // Another schema of the same database, and never the registry's own database.
                _ = try await OmopExport.load(database: database, target: targetURL, schema: "cdm_arm2", replace: false, request: Self.request(institution: "ARM-002"))
                #expect(try await target.count("cdm_arm2.person") == 3)
                await expectRefusal(field: "target-database-url") {
                    _ = try await OmopExport.load(database: database, target: database.url, schema: "cdm", replace: false, request: Self.request())
                }
                await expectRefusal(field: "schema") {
                    _ = try await OmopExport.load(database: database, target: targetURL, schema: "Robert'); DROP", replace: false, request: Self.request())
                }
                #expect(try await database.count("report_pull", where: "report = 'omop' AND parameters->>'format' = 'postgresql'") == 3)
            }
        }
    }

    @Test("a load whose rows break a key fails naming the key and the row, and leaves nothing behind")
    func orphanFailsTheLoad() async throws {
        try await withTarget { target, targetURL in
            let refusal = await #expect(throws: RegistryError.self) {
                try await target.plainTransaction { tx in
                    try await OmopExport.prepare(tx.connection, schema: "cdm", replace: false, target: targetURL, logger: TestDatabase.logger)
                    try await tx.connection.query("INSERT INTO person (person_id, gender_concept_id, year_of_birth, race_concept_id, ethnicity_concept_id) VALUES (1, 0, 1960, 0, 0)",
                                                  logger: TestDatabase.logger)
                    try await tx.connection.query("""
                        INSERT INTO drug_exposure (drug_exposure_id, person_id, drug_concept_id, drug_exposure_start_date, drug_exposure_end_date, drug_type_concept_id)
                        VALUES (10, 2, 0, DATE '2025-01-01', DATE '2025-01-01', 32879)
                        """, logger: TestDatabase.logger)
                    try await tx.connection.query("INSERT INTO episode_event VALUES (99, 11, \(OmopConcept.drugExposureID))", logger: TestDatabase.logger)
                    // The tests' orphan count finds both, the one a key would catch and the one none does.
                    let found = try await orphans(tx.connection, schema: "cdm").filter { $0.value != 0 }
                    #expect(found == ["drug_exposure.person_id": 1, "episode_event.event_id": 1, "episode_event.episode_id": 1])
                    try await OmopExport.addKeys(tx.connection, logger: TestDatabase.logger)
                }
            }
            #expect(refusal?.message.contains("fpk_drug_exposure_person_id") == true && refusal?.message.contains("(person_id)=(2)") == true, "\(String(describing: refusal))")
            let schemas = try await target.ints("SELECT count(*)::int FROM pg_namespace WHERE nspname = 'cdm'")
            #expect(schemas == [0], "rolled back")
        }
    }

    @Test("a 200-patient demo registry: extracted and loaded with its keys, no orphans, one row per standing record")
    func demo() async throws {
        let asOf = LocalDate("2026-11-25")!
        try await TestDatabase.withDatabase(today: asOf) { database in
            _ = try await DemoRegistry.load(into: database, options: DemoOptions(patients: 200, seed: 3, asOf: asOf, chunkSize: 97)) { _ in }
            let dir = Self.folder()
            defer { try? FileManager.default.removeItem(at: dir) }
            let files = try await OmopExport.writeCSV(database: database, directory: dir.path, request: Self.request())
            // One row per standing record, counted independently of the mapping.
            let expected = try await database.read { tx in
                try await tx.connection.query("""
                    SELECT (SELECT count(*)::int FROM patient p WHERE voided_on IS NULL AND EXISTS (SELECT 1 FROM administration a WHERE a.patient_id = p.id AND a.voided_on IS NULL)),
                           (SELECT count(*)::int FROM administration WHERE voided_on IS NULL),
                           (SELECT count(*)::int FROM visit WHERE voided_on IS NULL),
                           (SELECT count(*)::int FROM visit_measure m JOIN visit v ON v.id = m.visit_id AND v.voided_on IS NULL),
                           (SELECT count(*)::int FROM adverse_event WHERE voided_on IS NULL),
                           (SELECT count(*)::int FROM patient WHERE status = 'deceased' AND voided_on IS NULL)
                    """, logger: TestDatabase.logger).decode((Int, Int, Int, Int, Int, Int).self).one("counts")
            }
            #expect(expected.0 > 150 && files.rows("person") == expected.0 && files.rows("observation_period") == expected.0)
            #expect(files.rows("drug_exposure") == expected.1 && files.rows("episode_event") == expected.1)
            #expect(files.rows("visit_occurrence") == expected.2 && expected.2 > 500)
            let observations = try CDMTable(dir, "observation")
            let codedObservations = observations.column("observation_source_value").filter { !$0.hasPrefix("ae-") }.count
            #expect(files.rows("measurement")! + codedObservations == expected.3)
            #expect(try CDMTable(dir, "condition_occurrence").column("condition_status_source_value").filter { $0 == "adverse event" }.count == expected.4)
            #expect(files.rows("death") == expected.5)
            try await withTarget { target, targetURL in
                let loaded = try await OmopExport.load(database: database, target: targetURL, schema: "cdm", replace: false, request: Self.request())
                #expect(loaded.tables == files.tables)
                try await target.withConnection { c in
                    #expect(try await orphans(c, schema: "cdm").filter { $0.value != 0 } == [:])
                    // Every standing visit of a person falls inside the person's observation period.
                    let outside = try await c.query("""
                        SELECT count(*)::int FROM cdm.visit_occurrence v JOIN cdm.observation_period o ON o.person_id = v.person_id
                        WHERE v.visit_start_date NOT BETWEEN o.observation_period_start_date AND o.observation_period_end_date
                        """, logger: TestDatabase.logger).decode(Int.self).one("visits outside")
                    #expect(outside == 0)
                }
                print("OMOP extract of a 200-patient demo: \(files.rowsText); CSV in \(String(format: "%.2f", files.seconds)) s, load in \(String(format: "%.2f", loaded.seconds)) s")
            }
        }
    }

    @Test("registry export omop on the command line: the files mode 0600, the summary, refusals naming the option")
    func commandLine() async throws {
        let (cli, home, url) = try await SmallRegistry.commandLine()
        defer { try? FileManager.default.removeItem(at: home) }
        let dir = home.appendingPathComponent("omop").path
        let done = try cli.run(["export", "omop", "--purpose", "drug safety study", "--recipient", "KIDS", "--out", dir, "--json"])
        #expect(done.status == 0, "\(done.stderr)")
        let tables = (done.json as? [String: Any])?["tables"] as? [[String: Any]]
        #expect(tables?.map { $0["table"] as? String } == OmopSchema.tables.map(\.name))
        #expect(tables?.first { $0["table"] as? String == "person" }?["rows"] as? Int == 6)
        for table in OmopSchema.tables {
            let mode = try FileManager.default.attributesOfItem(atPath: "\(dir)/\(table.name).csv")[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(table.name)")
        }
        let text = try cli.run(["export", "omop", "--purpose", "again", "--out", dir])
        #expect(text.status == 0 && text.stdout.contains("person 6, observation_period 6,") && text.stdout.contains("drug_exposure 7,"), "\(text.stdout)")
        let missing = try cli.run(["export", "omop", "--out", dir])
        #expect(missing.status != 0 && missing.stderr.contains("--purpose"))
        #expect(try cli.run(["export", "omop", "--purpose", "x", "--institution", "ARM-999", "--out", dir, "--json"]).errorJSON?["field"] as? String == "institution")
        #expect(try cli.run(["export", "omop", "--purpose", "x", "--json"]).errorJSON?["field"] as? String == "out")
        // Into a database: refused the second time while its tables hold rows, with the option that replaces them.
        let targetURL = try await TestDatabase.create(empty: true)
        let load = try cli.run(["export", "omop", "--purpose", "network study", "--target-database-url", targetURL.urlString, "--json"])
        #expect(load.status == 0, "\(load.stderr)")
        let twice = try cli.run(["export", "omop", "--purpose", "network study", "--target-database-url", targetURL.urlString])
        #expect(twice.status == 1 && twice.stderr.contains("already hold rows") && twice.stderr.contains("--replace"), "\(twice.stderr)")
        #expect(try cli.run(["export", "omop", "--purpose", "network study", "--target-database-url", targetURL.urlString, "--replace"]).status == 0)
        #expect(try await TestDatabase.count(targetURL, "cdm.drug_exposure") == 7)
        try await TestDatabase.drop(targetURL)
        try await TestDatabase.drop(url)
    }
}

/// A second, empty database on the test cluster for a CDM schema, opened for `body` and dropped after.
func withTarget(_ body: (Database, DatabaseURL) async throws -> Void) async throws {
    let targetURL = try await TestDatabase.create(empty: true)
    let target = try await Database.open(targetURL, logger: TestDatabase.logger)
    do {
        try await body(target, targetURL)
        await target.close()
    } catch {
        await target.close()
        try? await TestDatabase.drop(targetURL)
        throw error
    }
    try await TestDatabase.drop(targetURL)
}
