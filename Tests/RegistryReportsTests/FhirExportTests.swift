import Foundation
import PostgresNIO
import RegistryDomain
@testable import RegistryReports
import RegistryStorage
import RegistryTestSupport
import Testing

/// An export read back: each type's resources by id.
struct FhirFiles {
    var byType: [String: [[String: Any]]] = [:]
    var result: FhirExportResult

    /// Reads the NDJSON files `result` names in `directory`.
    init(_ directory: URL, _ result: FhirExportResult) throws {
        self.result = result
        for output in result.output {
            let text = try String(contentsOf: directory.appendingPathComponent(output.file), encoding: .utf8)
            byType[output.type] = try text.split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            }
        }
    }

    func all(_ type: String) -> [[String: Any]] { byType[type] ?? [] }
    func one(_ type: String, _ id: String) -> [String: Any]? { all(type).first { $0["id"] as? String == id } }
    var ids: Set<String> { Set(byType.flatMap { type, resources in resources.map { "\(type)/\($0["id"] as! String)" } }) }
    var count: [String: Int] { byType.mapValues(\.count) }

    /// Every `reference` in every resource, with the resource holding it.
    var references: [(from: String, to: String)] {
        var out: [(String, String)] = []
        func walk(_ value: Any, _ from: String) {
            if let object = value as? [String: Any] {
                for (key, inner) in object { if key == "reference", let r = inner as? String { out.append((from, r)) } else { walk(inner, from) } }
            } else if let array = value as? [Any] { for inner in array { walk(inner, from) } }
        }
        for (type, resources) in byType { for r in resources { walk(r, "\(type)/\(r["id"] as! String)") } }
        return out
    }
}

@Suite("FHIR R4 Bulk Data export: resources, references, scoping")
struct FhirExportTests {
    static func export(_ database: Database, types: String? = nil, since: String? = nil, institution: String? = nil,
                       role: FhirExportRole = .admin) async throws -> FhirFiles {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fhir-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let request = try FhirExportRequest(types: types, since: since, institution: institution, purpose: "test: fhir export",
                                            recipient: role == .admin ? "Registry statistics team" : nil, role: role, actor: "cli:analyst", request: "test")
        let result = try await FhirExport.write(database: database, request: request, to: directory, today: SmallRegistry.today)
        return try FhirFiles(directory, result)
    }

    static func ids(_ database: Database, _ sql: String) async throws -> [Int] {
        try await database.plainTransaction { tx in
            var out: [Int] = []
            for try await id in try await tx.connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(Int.self) { out.append(id) }
            return out
        }
    }

    @Test("the hand-checked registry as FHIR: every type, the mapping of each, voided records left out, every reference resolving; recorded with purpose and recipient")
    func resources() async throws {
        try await TestDatabase.withDatabase { database in
            let registry = try await SmallRegistry.make(database)
            let (p1, p2, p3, p4, p5, p6) = (registry.patients[0], registry.patients[1], registry.patients[2], registry.patients[3], registry.patients[4], registry.patients[5])
            // Entered in error: p2's year-1 visit, p2's second adverse event, and p6's second dose (its month-18 visit first).
            let p2Year1 = try await Self.ids(database, "SELECT id FROM visit WHERE patient_id = \(p2) AND visit_on = '2025-06-03'")[0]
            let p2Event = try await Self.ids(database, "SELECT id FROM adverse_event WHERE patient_id = \(p2) AND onset_on = '2025-02-01'")[0]
            let p6Dose = try await Self.ids(database, "SELECT id FROM administration WHERE patient_id = \(p6) AND administered_on = '2025-06-02'")[0]
            let p6Visit = try await Self.ids(database, "SELECT id FROM visit WHERE patient_id = \(p6) AND visit_on = '2026-10-20'")[0]
            _ = try await database.transaction(actor: "site") { tx in try await tx.visits.void(id: VisitID(p2Year1), reason: "wrong patient", confirm: true) }
            _ = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.void(id: AdverseEventID(p2Event), reason: "duplicate", confirm: true) }
            _ = try await database.transaction(actor: "site") { tx in try await tx.visits.void(id: VisitID(p6Visit), reason: "wrong dose", confirm: true) }
            _ = try await database.transaction(actor: "site") { tx in try await tx.administrations.void(id: AdministrationID(p6Dose), reason: "recorded twice", confirm: true) }

            let files = try await Self.export(database)
            // 6 patients on 2 products (one lot each); 7 doses less the voided one; 16 visits less 2
            // voided; their 14 measures less the voided visit's one; 6 events less one.
            #expect(files.count == ["Patient": 6, "ResearchStudy": 2, "ResearchSubject": 6, "Medication": 2, "MedicationAdministration": 6,
                                    "Encounter": 14, "Observation": 13, "AdverseEvent": 5, "CarePlan": 6])
            #expect(files.result.output.map(\.type) == ["Patient", "ResearchStudy", "ResearchSubject", "Medication", "MedicationAdministration",
                                                        "Encounter", "Observation", "AdverseEvent", "CarePlan"], "the export's order")
            #expect(files.result.patients == 6 && files.result.resources == 60)
            for absent in ["Encounter/visit-\(p2Year1)", "Encounter/visit-\(p6Visit)", "AdverseEvent/adverse-event-\(p2Event)",
                           "MedicationAdministration/administration-\(p6Dose)", "CarePlan/careplan-\(p6Dose)"] {
                #expect(!files.ids.contains(absent), "voided: \(absent)")
            }
            let dangling = files.references.filter { !files.ids.contains($0.to) }
            #expect(dangling.isEmpty, "references outside the export: \(dangling.prefix(5))")
            #expect(files.references.count > 60)
            #expect(!files.references.contains { ["MedicationAdministration/administration-\(p6Dose)", "Encounter/visit-\(p2Year1)", "Encounter/visit-\(p6Visit)"].contains($0.to) },
                    "nothing points at a voided record")

            // Patient: the pseudonym, birth year, sex, death from the status changes; nothing else identifying.
            let patient1 = try #require(files.one("Patient", "patient-\(p1)"))
            let identifier = try #require((patient1["identifier"] as? [[String: Any]])?.first)
            #expect(identifier["system"] as? String == FhirSystem.pseudonym && (identifier["value"] as? String)?.count == 64)
            #expect(patient1["birthDate"] as? String == "1951" && patient1["gender"] as? String == "female")
            #expect(patient1["deceasedDateTime"] as? String == "2025-03-01")
            #expect(Set(patient1.keys) == ["resourceType", "id", "identifier", "birthDate", "gender", "deceasedDateTime", "managingOrganization"])
            #expect(files.one("Patient", "patient-\(p2)")?["deceasedBoolean"] as? Bool == false)
            #expect(files.one("Patient", "patient-\(p3)")?["deceasedBoolean"] == nil && files.one("Patient", "patient-\(p3)")?["deceasedDateTime"] == nil,
                    "withdrawn: vital status not known")
            #expect(files.one("Patient", "patient-\(p5)")?["deceasedDateTime"] as? String != nil, "the grade 5 event's death")

            // ResearchSubject: the patient's status on the product's study.
            let subjects = Dictionary(uniqueKeysWithValues: files.all("ResearchSubject").map { (($0["individual"] as! [String: Any])["reference"] as! String, $0) })
            #expect(subjects["Patient/patient-\(p1)"]?["status"] as? String == "off-study")
            #expect(subjects["Patient/patient-\(p2)"]?["status"] as? String == "on-study")
            #expect(subjects["Patient/patient-\(p3)"]?["status"] as? String == "withdrawn")
            #expect(subjects["Patient/patient-\(p4)"]?["status"] as? String == "off-study", "lost to follow-up")
            #expect((subjects["Patient/patient-\(p1)"]?["period"] as? [String: Any])?["start"] as? String == "2024-06-03")

            // Medication with the lot; MedicationAdministration with patient, date, dose and indication.
            let medication = try #require(files.all("Medication").first { ($0["code"] as? [String: Any])?["text"] as? String == "Example AAV vector" })
            #expect((medication["batch"] as? [String: Any])?["lotNumber"] as? String == "LOT-1")
            let dose1 = try #require(files.all("MedicationAdministration").first { ($0["subject"] as? [String: Any])?["reference"] as? String == "Patient/patient-\(p1)" })
            #expect(dose1["effectiveDateTime"] as? String == "2024-06-03" && (dose1["dosage"] as? [String: Any])?["text"] as? String == "1 vial")
            #expect((dose1["medicationReference"] as? [String: Any])?["reference"] as? String == "Medication/\(medication["id"] as! String)")

            // Encounter: the contact type as class (a phone visit is virtual).
            let phone = try #require(files.all("Encounter").first { ($0["subject"] as? [String: Any])?["reference"] as? String == "Patient/patient-\(p5)"
                && ($0["period"] as? [String: Any])?["start"] as? String == "2024-09-09" })
            #expect((phone["class"] as? [String: Any])?["code"] as? String == "VR")

            // Observation: ECOG with its LOINC code, a whole number; pain with its LOINC code too.
            let ecog = try #require(files.all("Observation").first { ($0["subject"] as? [String: Any])?["reference"] as? String == "Patient/patient-\(p1)"
                && $0["effectiveDateTime"] as? String == "2024-09-11" })
            let ecogCoding = try #require(((ecog["code"] as? [String: Any])?["coding"] as? [[String: Any]])?.first)
            #expect(ecogCoding["system"] as? String == "http://loinc.org" && ecogCoding["code"] as? String == "89247-1")
            #expect(ecog["valueInteger"] as? Int == 1)
            #expect((ecog["encounter"] as? [String: Any])?["reference"] as? String != nil)

            // AdverseEvent: grade in the extension, seriousness, causality on the dose, outcome.
            let event1 = try #require(files.all("AdverseEvent").first { ($0["subject"] as? [String: Any])?["reference"] as? String == "Patient/patient-\(p1)" })
            let grade = try #require((event1["extension"] as? [[String: Any]])?.first { $0["url"] as? String == FhirSystem.gradeExtension })
            let parts = Dictionary(uniqueKeysWithValues: (grade["extension"] as! [[String: Any]]).map { ($0["url"] as! String, $0) })
            #expect(parts["grade"]?["valueInteger"] as? Int == 3 && parts["system"]?["valueString"] as? String == "CTCAE" && parts["version"]?["valueString"] as? String == "5.0")
            #expect((event1["extension"] as? [[String: Any]])?.contains { ($0["valueCoding"] as? [String: Any])?["code"] as? String == "hospitalization" } == true)
            #expect(((event1["seriousness"] as? [String: Any])?["coding"] as? [[String: Any]])?.first?["code"] as? String == "serious")
            #expect(event1["date"] as? String == "2024-07-01" && event1["detected"] as? String == "2024-07-02")
            let suspect = try #require((event1["suspectEntity"] as? [[String: Any]])?.first)
            #expect((suspect["instance"] as? [String: Any])?["reference"] as? String == dose1["id"].map { "MedicationAdministration/\($0)" })
            let causality = try #require(((suspect["causality"] as? [[String: Any]])?.first?["assessment"] as? [String: Any])?["coding"] as? [[String: Any]])
            #expect(causality.contains { $0["system"] as? String == FhirSystem.causality && $0["code"] as? String == "Possible" })

            // CarePlan: p5's schedule, month 6 closed as not done (unreachable), day 7 done by a visit.
            let plan5 = try #require(files.all("CarePlan").first { ($0["subject"] as? [String: Any])?["reference"] as? String == "Patient/patient-\(p5)" })
            let activities = try #require(plan5["activity"] as? [[String: Any]])
            #expect(activities.count == 11, "CT-01's 11 time points")
            let month6 = try #require(activities.first { (($0["detail"] as? [String: Any])?["code"] as? [String: Any])?["text"] as? String == "month 6" })
            let detail6 = month6["detail"] as! [String: Any]
            #expect(detail6["status"] as? String == "cancelled" && (detail6["statusReason"] as? [String: Any])?["text"] as? String == "not-done: unreachable")
            #expect(((detail6["scheduledTiming"] as? [String: Any])?["event"] as? [String])?.count == 1)
            let day7 = try #require(activities.first { (($0["detail"] as? [String: Any])?["code"] as? [String: Any])?["text"] as? String == "day 7" })
            #expect((day7["detail"] as? [String: Any])?["status"] as? String == "completed" && (day7["outcomeReference"] as? [[String: Any]])?.count == 1)
            #expect(plan5["status"] as? String == "completed", "p5 died")

            // Recorded: a pull with the purpose and recipient, in the audit trail.
            let recorded = try await database.plainTransaction { tx in
                try await tx.connection.query("""
                    SELECT r.report, r.role, r.purpose, r.recipient, r.content_sha256, l.reason FROM report_pull r
                    JOIN audit_log l ON l.entity = 'report_pull' AND l.entity_id = r.id
                    """, logger: TestDatabase.logger).decode((String, String, String, String?, String, String?).self).collect()
            }
            #expect(recorded.count == 1)
            #expect(recorded.first.map { [$0.0, $0.1, $0.2, $0.3 ?? ""] } == ["fhir", "admin", "test: fhir export", "Registry statistics team"])
            #expect(recorded.first.map { "sha256:\($0.4)" } == files.result.checksum)
            #expect(recorded.first?.5 == "fhir export: test: fhir export (for Registry statistics team)")
        }
    }

    @Test("an institution's export holds only the patients it holds; another's is refused; the pull names the institution")
    func institutionScope() async throws {
        try await TestDatabase.withDatabase { database in
            let registry = try await SmallRegistry.make(database)
            let files = try await Self.export(database, institution: "ARM-002", role: .institution("ARM-002"))
            let arm2 = Set(registry.patients[3...].map { "Patient/patient-\($0)" })
            #expect(Set(files.all("Patient").map { "Patient/\($0["id"] as! String)" }) == arm2)
            #expect(files.references.allSatisfy { !$0.to.hasPrefix("Patient/") || arm2.contains($0.to) }, "no other site's patient referred to")
            #expect(files.references.allSatisfy { files.ids.contains($0.to) })
            #expect(files.count["ResearchStudy"] == 1, "only CT-01, the product its patients received")
            // An administrator's export of one institution is the same resources.
            let byAdmin = try await Self.export(database, institution: "ARM-002")
            #expect(byAdmin.count == files.count)
            // An institution asking for another's patients is refused, naming the field.
            await expectRefusal(field: "institution") {
                _ = try FhirExportRequest(types: nil, since: nil, institution: "ARM-001", purpose: nil, recipient: nil, role: .institution("ARM-002"),
                                          actor: "api:token-1", request: "x")
            }
            let pulls = try await database.plainTransaction { tx in
                try await tx.connection.query("SELECT role, i.code FROM report_pull r LEFT JOIN institution i ON i.id = r.institution_id ORDER BY r.id",
                                              logger: TestDatabase.logger).decode((String, String?).self).collect()
            }
            #expect(pulls.map(\.0) == ["institution", "admin"] && pulls[0].1 == "ARM-002" && pulls[1].1 == nil)
        }
    }

    @Test("_type keeps the types asked for; _since the patients changed after it, with all their resources; refusals name the field")
    func typeAndSince() async throws {
        try await TestDatabase.withDatabase { database in
            let registry = try await SmallRegistry.make(database)
            let only = try await Self.export(database, types: "Observation, Patient")
            #expect(only.result.output.map(\.type) == ["Patient", "Observation"] && only.count["Patient"] == 6)
            // After everything recorded so far: nothing; then a change to p4 brings p4 (and only p4) back.
            let now = try await database.plainTransaction { tx in
                try await tx.connection.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
                                              logger: TestDatabase.logger).decode(String.self).one("now")
            }
            #expect(try await Self.export(database, since: now).result.output.isEmpty)
            let p2 = registry.patients[1]
            _ = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: nil, patientID: p2, try visit("2026-11-20", contact: "phone")) }
            let changed = try await Self.export(database, since: now)
            #expect(changed.all("Patient").map { $0["id"] as? String } == ["patient-\(p2)"])
            #expect(changed.count["Encounter"] == 4, "p2's three visits and the new one: all the patient's resources")
            #expect(changed.references.allSatisfy { changed.ids.contains($0.to) })
            await expectRefusal(field: "type") { _ = try FhirExportRequest.types("Patient,Practitioner") }
            await expectRefusal(field: "since") { _ = try FhirExportRequest.instant("2026-01-01") }
            await expectRefusal(field: "since") { _ = try FhirExportRequest.instant("2026-13-01T00:00:00Z") }
            #expect(throws: Never.self) { _ = try FhirExportRequest.instant("2026-01-01T09:00:00.123+09:00") }
            do {
                _ = try FhirExportRequest(types: "Bogus", since: nil, institution: nil, purpose: nil, recipient: nil, role: .admin, actor: "cli:x", request: "x")
                Issue.record("an administrator's export without purpose or recipient was accepted")
            } catch {
                #expect(Set((error as? RegistryError)?.all.compactMap(\.field) ?? []) == ["type", "purpose", "recipient"], "every field at fault at once")
            }
        }
    }

    @Test("registry export fhir on the command line: the files (0600), manifest.json, the summary; refusals name the option")
    func commandLine() async throws {
        let (cli, home, url) = try await SmallRegistry.commandLine()
        defer { try? FileManager.default.removeItem(at: home) }
        let out = home.appendingPathComponent("fhir")
        let done = try cli.run(["export", "fhir", "--out", out.path, "--purpose", "LTFU study", "--recipient", "KoNECT analysts", "--json"])
        #expect(done.status == 0, "\(done.stderr)")
        let summary = try #require(done.json as? [String: Any])
        #expect(summary["patients"] as? Int == 6 && summary["resources"] as? Int == 66)
        #expect((summary["counts"] as? [String: Int])?["Observation"] as? Int == 14)
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("manifest.json"))) as? [String: Any])
        #expect(manifest["transactionTime"] is String && manifest["request"] is String && manifest["requiresAccessToken"] as? Bool == false)
        #expect((manifest["error"] as? [Any])?.isEmpty == true)
        let output = try #require(manifest["output"] as? [[String: Any]])
        #expect(output.count == 9)
        for entry in output {
            let file = try #require(URL(string: entry["url"] as! String))
            #expect(file.isFileURL)
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == entry["count"] as? Int, "\(entry)")
            #expect(try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int == 0o600)
        }
        #expect(try FileManager.default.attributesOfItem(atPath: out.path)[.posixPermissions] as? Int == 0o700)
        let human = try cli.run(["export", "fhir", "--out", out.path, "--purpose", "LTFU study", "--recipient", "KoNECT analysts", "--type", "Patient"])
        #expect(human.status == 0 && human.stdout.contains("6 resources of 6 patients written to") && human.stdout.contains("(6 Patient)"), "\(human.stdout)")
        #expect(try cli.run(["export", "fhir", "--out", out.path, "--purpose", "x", "--json"]).errorJSON?["field"] as? String == "recipient")
        #expect(try cli.run(["export", "fhir", "--out", out.path, "--purpose", "x", "--recipient", "y", "--type", "Foo", "--json"]).errorJSON?["field"] as? String == "type")
        try await TestDatabase.drop(url)
    }
}
