import Foundation
import PostgresNIO
import PropertyBased
import RegistryDomain
import RegistryDemo
@testable import RegistryReports
import RegistryStorage
import RegistryTestSupport
import Testing

/// Censoring at the last date known alive (issue #16): the rule for one patient, then the report's
/// cohort SQL against it on generated records.
@Suite("survival time: death from every source, censoring at the last date known alive")
struct SurvivalTimeTests {
    static let asOf = LocalDate("2026-11-25")!
    static let dose = LocalDate("2025-01-10")!

    @Test("each source of last contact and of death, and what does not count")
    func eachSource() {
        func observe(_ evidence: [SurvivalTime.Evidence], asOf: LocalDate = SurvivalTimeTests.asOf) -> SurvivalTime.Observation {
            SurvivalTime.observe(firstDose: Self.dose, [.dose(Self.dose)] + evidence, asOf: asOf)
        }
        let day = { (n: Int) in Self.dose.adding(days: n) }
        #expect(observe([]) == .init(days: 0, died: false), "a dose is a contact")
        #expect(observe([.dose(day(90))]) == .init(days: 90, died: false), "a later dose too")
        #expect(observe([.visit(day(200), .alive)]) == .init(days: 200, died: false))
        #expect(observe([.visit(day(200), .alive), .visit(day(300), .unknown)]) == .init(days: 200, died: false),
                "a visit that does not know the vital status does not extend follow-up")
        #expect(observe([.visit(day(200), .alive), .visit(day(300), .dead)]) == .init(days: 300, died: true),
                "a visit recording death is a death")
        #expect(observe([.adverseEvent(onset: day(37), outcome: .unknown, outcomeOn: nil)]) == .init(days: 37, died: false),
                "an adverse event's onset is a contact")
        #expect(observe([.adverseEvent(onset: day(37), outcome: .recovered, outcomeOn: day(60))]) == .init(days: 60, died: false),
                "so is a known non-fatal outcome's date")
        #expect(observe([.adverseEvent(onset: day(37), outcome: .unknown, outcomeOn: day(60))]) == .init(days: 37, died: false),
                "an unknown outcome's date is not")
        #expect(observe([.adverseEvent(onset: day(37), outcome: .fatal, outcomeOn: day(45))]) == .init(days: 45, died: true),
                "a fatal outcome is a death on its date")
        #expect(observe([.statusChange(.withdrawal, day(111))]) == .init(days: 111, died: false))
        #expect(observe([.statusChange(.lost, day(400)), .statusChange(.found, day(500))]) == .init(days: 500, died: false),
                "being found again is a contact, being lost is not")
        #expect(observe([.statusChange(.transfer, day(150))]) == .init(days: 0, died: false), "a transfer says nothing about the patient")
        #expect(observe([.statusChange(.death, day(271)), .visit(day(250), .dead)]) == .init(days: 250, died: true),
                "the earliest death counts")
        #expect(observe([.visit(day(300), .dead)], asOf: day(299)) == .init(days: 0, died: false), "nothing after the as-of date counts")
    }

    @Test("the report's cohort SQL gives SurvivalTime.observe's days and death for generated patients, voided records left out")
    func cohortAgrees() async throws {
        try await TestDatabase.withDatabase(today: Self.asOf) { db in
            let fixture = try await Fixture.make(db, since2021: true)
            let institution = fixture.institution.id
            await propertyCheck(count: 30, input: Gen.int(in: 0...1_000_000), Gen.int(in: -400...0)) { seed, shift in
                var random = SeededRandom(seed: UInt64(seed))
                let asOf = Self.asOf.adding(days: shift)
                do {
                    var expected: [PatientID: SurvivalTime.Observation] = [:]
                    for i in 0..<6 {
                        let first = LocalDate("2022-01-03")!.adding(days: Int(random.next() % 1_000))
                        let patient = try await db.transaction(actor: "test") { tx in
                            let p = try await tx.patients.enroll(try NewPatient(institutionCode: fixture.institution.code, localID: "S-\(seed)-\(i)", birthYear: 1970,
                                                                                sex: "female", consentOn: "2021-06-10", consentVersion: "2",
                                                                                pseudonymizer: Fixture.key, today: tx.today)).patient
                            _ = try await tx.administrations.administer(patientID: p.id, planID: fixture.plan.id, try fixture.dose(on: first.description, today: tx.today))
                            return p.id
                        }
                        var evidence: [SurvivalTime.Evidence] = [.dose(first)]
                        func day() -> LocalDate { first.adding(days: Int(random.next() % 1_200)) }
                        func voided() -> Bool { random.next() % 5 == 0 }
                        try await db.plainTransaction { tx in
                            for _ in 0..<Int(random.next() % 4) {
                                let on = day(), vital = VitalStatus.allCases[Int(random.next() % 3)], void = voided()
                                try await tx.query("""
                                    INSERT INTO visit (patient_id, institution_id, visit_on, contact_type, vital_status, voided_on, void_reason)
                                    VALUES (\(patient), \(institution), \(on), 'phone', \(vital.rawValue), \(void ? on : nil), \(void ? "entered in error" : nil))
                                    """, logger: TestDatabase.logger)
                                if !void { evidence.append(.visit(on, vital)) }
                            }
                            for _ in 0..<Int(random.next() % 3) {
                                let onset = day(), outcome = AdverseEventOutcome.allCases[Int(random.next() % UInt64(AdverseEventOutcome.allCases.count))]
                                let outcomeOn = random.next() % 3 == 0 ? nil : onset.adding(days: Int(random.next() % 90))
                                let void = voided()
                                try await tx.query("""
                                    INSERT INTO adverse_event (patient_id, institution_id, onset_on, aware_on, term, category, grade, grading_system, grading_version,
                                                               serious, relatedness, outcome, outcome_on, voided_on, void_reason)
                                    VALUES (\(patient), \(institution), \(onset), \(onset), 'Fever', 'other', 1, 'CTCAE', '5.0', false, 'possible',
                                            \(outcome.rawValue), \(outcomeOn), \(void ? onset : nil), \(void ? "entered in error" : nil))
                                    """, logger: TestDatabase.logger)
                                if !void { evidence.append(.adverseEvent(onset: onset, outcome: outcome, outcomeOn: outcomeOn)) }
                            }
                            for _ in 0..<Int(random.next() % 3) {
                                let on = day(), kind = StatusChangeKind.allCases.filter { $0 != .transfer }[Int(random.next() % 4)], void = voided()
                                try await tx.query("""
                                    INSERT INTO patient_status_change (patient_id, institution_id, kind, effective_on, reason, voided_on, void_reason)
                                    VALUES (\(patient), \(institution), \(kind.rawValue), \(on), 'generated', \(void ? on : nil), \(void ? "entered in error" : nil))
                                    """, logger: TestDatabase.logger)
                                if !void { evidence.append(.statusChange(kind, on)) }
                            }
                        }
                        if first <= asOf { expected[patient] = SurvivalTime.observe(firstDose: first, evidence, asOf: asOf) }
                    }
                    let got = try await db.transaction(actor: "test") { tx in
                        try await tx.connection.query(OutcomeData.cohort(asOf: asOf, filters: OutcomeData.Filters()), logger: TestDatabase.logger)
                        var out: [PatientID: (Int, String)] = [:]
                        for try await (id, days, status) in try await tx.connection.query("SELECT patient_id, days, status FROM report_cohort",
                                                                                        logger: TestDatabase.logger).decode((PatientID, Int, String).self) {
                            out[id] = (days, status)
                        }
                        return out
                    }
                    for (patient, observation) in expected {
                        let row = got[patient]
                        #expect(row?.0 == observation.days && (row?.1 == "deceased") == observation.died,
                                "patient \(patient) as of \(asOf): SQL \(String(describing: row)), rule \(observation)")
                    }
                } catch {
                    Issue.record("\(error)")
                }
            }
        }
    }
}
