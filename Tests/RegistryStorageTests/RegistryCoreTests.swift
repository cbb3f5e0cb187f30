import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("Registry core on PostgreSQL")
struct RegistryCoreTests {
    @Test("the main path: institution, product, plan, decision, patient, administration, schedule")
    func mainPath() async throws {
        try await TestDatabase.withDatabase { database in
            let f = try await Fixture.make(database)
            #expect(f.plan.decision == .approved)
            #expect(f.plan.protocolCode == "LTFU-GENE-15Y")
            let (admin, followUps) = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-04-01", today: database.today())) }
            #expect(admin.lot == "LOT-7")
            // Gene therapy: early visits, yearly examinations to year 5, yearly contacts to year 15.
            #expect(followUps.count == FollowUpProtocol.standard(for: .gene).timePoints.count)
            #expect(followUps.last?.label == "year 15")
            #expect(followUps.last?.due == LocalDate("2040-04-01"))
            let day100 = try #require(followUps.first { $0.label == "day 100" })
            #expect(day100.due == LocalDate("2025-07-10"))
            #expect(day100.windowStart == LocalDate("2025-06-25"))
            #expect(day100.windowEnd == LocalDate("2025-07-25"))
            let listed = try await database.read { tx in try await tx.followUps.of(patientID: f.patient.id) }
            #expect(listed.map(\.id) == followUps.map(\.id))
            #expect(listed.allSatisfy { $0.status == .scheduled })
        }
    }

    @Test("the SQL-stored schedule equals the domain's, at month ends and leap days")
    func scheduleAtMonthEndsAndLeapDays() async throws {
        try await TestDatabase.withDatabase { database in
            let f = try await Fixture.make(database, since2021: true)
            let proto = FollowUpProtocol.standard(for: .gene)
            for anchor in ["2024-01-31", "2023-08-31", "2024-02-29", "2025-12-31"] {
                let (_, stored) = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: anchor, today: database.today())) }
                let expected = FollowUpSchedule.plan(protocol: proto, anchor: LocalDate(anchor)!)
                #expect(stored.map(\.due) == expected.map(\.due), "anchor \(anchor)")
                #expect(stored.map(\.windowStart) == expected.map(\.windowStart))
                #expect(stored.map(\.windowEnd) == expected.map(\.windowEnd))
                #expect(stored.map(\.label) == expected.map(\.label))
            }
            // Read back from the database, not from what administer returned.
            let all = try await database.read { tx in try await tx.followUps.of(patientID: f.patient.id) }
            let admins = try await database.read { tx in try await tx.administrations.list(patientID: f.patient.id) }
            func stored(_ label: String, _ anchor: String) -> LocalDate? {
                guard let a = admins.first(where: { $0.administeredOn == LocalDate(anchor) }) else { return nil }
                return all.first { $0.administrationID == a.id && $0.label == label }?.due
            }
            #expect(stored("month 6", "2024-01-31") == LocalDate("2024-07-31"))
            #expect(stored("month 9", "2024-01-31") == LocalDate("2024-10-31"))
            #expect(stored("month 6", "2023-08-31") == LocalDate("2024-02-29"))  // leap February
            #expect(stored("month 18", "2023-08-31") == LocalDate("2025-02-28"))
            #expect(stored("year 1", "2024-02-29") == LocalDate("2025-02-28"))   // no 29 Feb in 2025
            #expect(stored("year 4", "2024-02-29") == LocalDate("2028-02-29"))   // leap again
            #expect(stored("month 6", "2025-12-31") == LocalDate("2026-06-30"))
        }
    }

    @Test("minimally manipulated products are refused and nothing is written")
    func minimallyManipulatedRefused() async throws {
        try await TestDatabase.withDatabase { database in
            let before = try await database.snapshot()
            await expectRefusal(field: "modality", code: .outOfScope) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.products.add(try NewProduct(code: "CB-01", name: "Cord blood", manufacturer: "X", modality: "minimally-manipulated")) }
            }
            // The database refuses it too, should any code path skip the domain check.
            await #expect(throws: (any Error).self) {
                try await database.transaction(actor: "test") { c in
                    try await c.query("INSERT INTO product (code, name, manufacturer, modality, follow_up_class, follow_up_years) VALUES ('CB-01', 'Cord blood', 'X', 'minimally-manipulated', 'cell', 5)", logger: TestDatabase.logger)
                }
            }
            #expect(try await database.snapshot() == before)
        }
    }

    @Test("administrations are refused under unapproved plans, inactive institutions and other institutions' patients")
    func administrationRefusals() async throws {
        try await TestDatabase.withDatabase { database in
            let today = database.today()
            let f = try await Fixture.make(database)
            let other = try await Fixture.make(database, code: "ARM-002")
            let pending = try await database.transaction(actor: "test") { tx in try await tx.plans.add(institutionCode: "ARM-001", productCode: "GT-01", indication: "G20", risk: .high) }
            let rejectedDraft = try await database.transaction(actor: "test") { tx in try await tx.plans.add(institutionCode: "ARM-001", productCode: "GT-01", indication: "M17.0", risk: .medium) }
            let rejected = try await database.transaction(actor: "test") { tx in try await tx.plans.decide(id: rejectedDraft.id, try PlanDecisionRecord(decision: "rejected", on: "2025-03-15", reference: "RC-2025-015", today: today)) }
            let before = try await database.snapshot()

            await expectRefusal(field: "plan", code: .conflict) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: pending.id, try f.dose(on: "2025-04-01", today: today)) }
            }
            await expectRefusal(field: "plan", code: .conflict) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: rejected.id, try f.dose(on: "2025-04-01", today: today)) }
            }
            // A patient of ARM-002 under ARM-001's plan.
            await expectRefusal(field: "patient", code: .conflict) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: other.patient.id, planID: f.plan.id, try f.dose(on: "2025-04-01", today: today)) }
            }
            // Before the plan's approval.
            await expectRefusal(field: "on") {
                _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-03-01", today: today)) }
            }
            await expectRefusal(field: "plan", code: .notFound) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: 9_999, try f.dose(on: "2025-04-01", today: today)) }
            }
            await expectRefusal(field: "patient", code: .notFound) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: 9_999, planID: f.plan.id, try f.dose(on: "2025-04-01", today: today)) }
            }
            #expect(try await database.snapshot() == before)

            // A suspended institution may not treat, even under an approved plan.
            _ = try await database.transaction(actor: "test") { tx in try await tx.institutions.setStatus(code: "ARM-001", status: .suspended, reason: "inspection") }
            let suspended = try await database.snapshot()
            await expectRefusal(field: "plan", code: .conflict) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-04-01", today: today)) }
            }
            await expectRefusal(field: "institution", code: .conflict) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.plans.add(institutionCode: "ARM-001", productCode: "GT-01", indication: "G20", risk: .high) }
            }
            #expect(try await database.snapshot() == suspended)
        }
    }

    @Test("dates in the future or before the Act, bad birth years, malformed codes and unknown references are refused")
    func inputRefusals() async throws {
        try await TestDatabase.withDatabase { database in
            let today = database.today()
            _ = try await Fixture.make(database)
            let before = try await database.snapshot()
            await expectRefusal(field: "designated-on") {
                _ = try await database.transaction(actor: "test") { tx in try await tx.institutions.add(try NewInstitution(code: "ARM-009", name: "X", designationNumber: "D-1", designatedOn: "2026-12-01", today: today)) }
            }
            await expectRefusal(field: "designated-on") {
                _ = try await database.transaction(actor: "test") { tx in try await tx.institutions.add(try NewInstitution(code: "ARM-009", name: "X", designationNumber: "D-1", designatedOn: "2020-08-27", today: today)) }
            }
            await expectRefusal(field: "designated-on") {
                _ = try await database.transaction(actor: "test") { tx in try await tx.institutions.add(try NewInstitution(code: "ARM-009", name: "X", designationNumber: "D-1", designatedOn: "2025-02-30", today: today)) }
            }
            await expectRefusal(field: "code") {
                _ = try await database.transaction(actor: "test") { tx in try await tx.institutions.add(try NewInstitution(code: "arm-1", name: "X", designationNumber: "D-1", designatedOn: "2025-02-21", today: today)) }
            }
            await expectRefusal(field: "code") {
                _ = try await database.transaction(actor: "test") { tx in try await tx.products.add(try NewProduct(code: "gt 01", name: "X", manufacturer: "Y", modality: "gene-therapy")) }
            }
            await expectRefusal(field: "modality") {
                _ = try await database.transaction(actor: "test") { tx in try await tx.products.add(try NewProduct(code: "GT-09", name: "X", manufacturer: "Y", modality: "magic")) }
            }
            await expectRefusal(field: "birth-year") {
                _ = try await database.transaction(actor: "test") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-001", localID: "K-1", birthYear: 1899, sex: "male", consentOn: "2025-03-20",
                                                          consentVersion: "2", pseudonymizer: Fixture.key, today: today)) }
            }
            await expectRefusal(field: "birth-year") {
                _ = try await database.transaction(actor: "test") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-001", localID: "K-1", birthYear: 2027, sex: "male", consentOn: "2025-03-20",
                                                          consentVersion: "2", pseudonymizer: Fixture.key, today: today)) }
            }
            await expectRefusal(field: "consent-on") {
                _ = try await database.transaction(actor: "test") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-001", localID: "K-1", birthYear: 1970, sex: "male", consentOn: "2027-01-01",
                                                          consentVersion: "2", pseudonymizer: Fixture.key, today: today)) }
            }
            await expectRefusal(field: "institution", code: .notFound) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-404", localID: "K-1", birthYear: 1970, sex: "male", consentOn: "2025-03-20",
                                                          consentVersion: "2", pseudonymizer: Fixture.key, today: today)) }
            }
            await expectRefusal(field: "product", code: .notFound) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.plans.add(institutionCode: "ARM-001", productCode: "NOPE-1", indication: "G20", risk: .low) }
            }
            await expectRefusal(field: "indication") { _ = try Rules.icd10("Parkinson") }
            await expectRefusal(field: "on") {
                _ = try NewAdministration(on: "2026-11-26", lot: "L-1", dose: "1 mL", feeNotified: 1, feeCollected: 1, today: today)
            }
            await expectRefusal(field: "on") {
                _ = try NewAdministration(on: "2019-01-01", lot: "L-1", dose: "1 mL", feeNotified: 1, feeCollected: 1, today: today)
            }
            await expectRefusal(field: "fee-collected") {
                _ = try NewAdministration(on: "2025-04-01", lot: "L-1", dose: "1 mL", feeNotified: 1, feeCollected: -5, today: today)
            }
            await expectRefusal(field: "code", code: .conflict) {  // duplicate institution code
                _ = try await database.transaction(actor: "test") { tx in try await tx.institutions.add(try NewInstitution(code: "ARM-001", name: "Again", designationNumber: "D-X", designatedOn: "2025-02-21", today: today)) }
            }
            #expect(try await database.snapshot() == before)
        }
    }

    @Test("the same local key at the same institution finds the same patient; the pseudonym is all that is stored")
    func pseudonymStability() async throws {
        try await TestDatabase.withDatabase { database in
            let today = database.today()
            let f = try await Fixture.make(database)
            _ = try await Fixture.make(database, code: "ARM-002")
            func enroll(_ inst: String, _ key: String, birthYear: Int = 1961) async throws -> (Patient, Bool) {
                let r = try await database.transaction(actor: "test") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: inst, localID: key, birthYear: birthYear, sex: "female", consentOn: "2025-03-20",
                                                              consentVersion: "2", pseudonymizer: Fixture.key, today: today)) }
                return (r.patient, r.created)
            }
            let (again, created) = try await enroll("ARM-001", "MRN-12345")
            #expect(!created)
            #expect(again.id == f.patient.id)
            #expect(again.pseudonym == Fixture.key.pseudonym(institutionCode: "ARM-001", localID: "MRN-12345"))
            // Another institution's identical local key is another person.
            let (elsewhere, _) = try await enroll("ARM-002", "MRN-12345")
            #expect(elsewhere.id != f.patient.id)
            #expect(elsewhere.pseudonym != f.patient.pseudonym)
            // Same key, different birth year: a mistyped key is refused, not merged.
            await expectRefusal(field: "birth-year", code: .conflict) { _ = try await enroll("ARM-001", "MRN-12345", birthYear: 1962) }
            #expect(try await database.count("patient") == 2)
            // No trace of the local key in the patient table or the audit trail.
            let leaks = try await database.count("audit_log", where: "after::text LIKE '%MRN-12345%'")
            #expect(leaks == 0)
        }
    }

    @Test("every change is audited; the trail refuses UPDATE, DELETE and TRUNCATE; registry rows are never deleted")
    func auditTrail() async throws {
        try await TestDatabase.withDatabase { database in
            let f = try await Fixture.make(database)
            _ = try await database.transaction(actor: "ministry:kim") { tx in try await tx.institutions.setStatus(code: "ARM-001", status: .suspended, reason: "inspection found lapses") }
            let rows = try await database.plainTransaction { c in
                try await (c.query("""
                    SELECT actor, action, before ->> 'status', after ->> 'status', reason FROM audit_log
                    WHERE entity = 'institution' AND entity_id = \(f.institution.id) ORDER BY id
                    """, logger: TestDatabase.logger) as PostgresRowSequence).decode((String, String, String?, String?, String?).self).collect()
            }
            #expect(rows.count == 2)
            #expect(rows[0].0 == "test" && rows[0].1 == "insert")
            #expect(rows[1].0 == "ministry:kim" && rows[1].1 == "update" && rows[1].2 == "active" && rows[1].3 == "suspended")
            #expect(rows[1].4 == "inspection found lapses")
            #expect(try await database.count("audit_log", where: "entity = 'patient' AND entity_id = \(f.patient.id)") == 1)

            for sql in ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log", "TRUNCATE audit_log",
                        "DELETE FROM patient", "TRUNCATE follow_up", "DELETE FROM institution WHERE code = 'ARM-001'"] {
                await #expect(throws: (any Error).self, "\(sql) must be refused") {
                    try await database.transaction(actor: "attacker") { c in
                        try await c.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
                    }
                }
            }
            #expect(try await database.count("audit_log", where: "actor = 'someone else'") == 0)
            #expect(try await database.count("patient") == 1)
        }
    }

    @Test("a follow-up stays with the administration whose schedule made it; its other columns still change, audited")
    func followUpAdministrationFixed() async throws {
        try await TestDatabase.withDatabase { database in
            let f = try await Fixture.make(database)
            let (first, followUps) = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-04-01", today: database.today())) }
            let (second, _) = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-05-01", lot: "LOT-8", today: database.today())) }
            let id = followUps[0].id
            for target in [second.id, 999_999] {
                await #expect(throws: (any Error).self, "moving follow-up \(id) to administration \(target) must be refused") {
                    try await database.transaction(actor: "attacker") { c in
                        try await c.query("UPDATE follow_up SET administration_id = \(target) WHERE id = \(id)", logger: TestDatabase.logger)
                    }
                }
            }
            #expect(try await database.count("follow_up", where: "administration_id = \(first.id)") == followUps.count)
            // Naming the column with its own value, and changing other columns, are ordinary updates.
            _ = try await database.transaction(actor: "coordinator") { c in
                try await c.query("UPDATE follow_up SET administration_id = administration_id, status = 'not-done', not_done_reason = 'refused' WHERE id = \(id)",
                                  logger: TestDatabase.logger)
            }
            #expect(try await database.count("follow_up", where: "id = \(id) AND status = 'not-done'") == 1)
            #expect(try await database.count("audit_log", where: "entity = 'follow_up' AND entity_id = \(id) AND action = 'update' AND actor = 'coordinator'") == 1)
        }
    }

    @Test("risk class changes keep their history; decisions follow the committee's order")
    func planHistory() async throws {
        try await TestDatabase.withDatabase { database in
            let today = database.today()
            let f = try await Fixture.make(database)
            _ = try await database.transaction(actor: "committee") { tx in try await tx.plans.changeRisk(id: f.plan.id, to: .medium, on: LocalDate("2026-03-01")!, reason: "two-year safety data") }
            let history = try await database.read { tx in try await tx.plans.riskHistory(planID: f.plan.id) }
            #expect(history.map(\.riskClass) == [.high, .medium])
            #expect(try await database.read { tx in try await tx.plans.plan(id: f.plan.id) }.riskClass == .medium)
            await expectRefusal(field: "decision", code: .conflict) {
                _ = try await database.transaction(actor: "test") { tx in try await tx.plans.decide(id: f.plan.id, try PlanDecisionRecord(decision: "rejected", on: "2025-04-01", reference: "RC-2025-020", today: today)) }
            }
            let withdrawn = try await database.transaction(actor: "test") { tx in try await tx.plans.decide(id: f.plan.id, try PlanDecisionRecord(decision: "withdrawn", on: "2026-05-01", reference: "RC-2026-003", today: today)) }
            #expect(withdrawn.decision == .withdrawn)
        }
    }

    @Test("lot to patients and patient to lots are one query away")
    func traceability() async throws {
        try await TestDatabase.withDatabase { database in
            let today = database.today()
            let f = try await Fixture.make(database)
            let second = try await database.transaction(actor: "test") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-001", localID: "MRN-2", birthYear: 1980, sex: "male", consentOn: "2025-03-20",
                                                               consentVersion: "2", pseudonymizer: Fixture.key, today: today)) }.patient
            _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-04-01", lot: "LOT-7", today: today)) }
            _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-06-01", lot: "LOT-9", today: today)) }
            _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: second.id, planID: f.plan.id, try f.dose(on: "2025-04-02", lot: "LOT-7", today: today)) }
            #expect(Set(try await database.read { tx in try await tx.administrations.list(lot: "LOT-7") }.map(\.patientID)) == [f.patient.id, second.id])
            #expect(try await database.read { tx in try await tx.administrations.list(patientID: f.patient.id) }.map(\.lot) == ["LOT-7", "LOT-9"])
        }
    }
}
