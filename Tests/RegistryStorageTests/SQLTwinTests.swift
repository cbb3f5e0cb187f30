import Foundation
import PostgresNIO
import PropertyBased
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// Every rule the SQL applies in bulk is defined once in the domain; its SQL twin (schema/0010 and
/// earlier) must give the same answer on generated cases, edges included.
@Suite("SQL twins of the domain's rules")
struct SQLTwinTests {
    /// Evaluates one boolean SQL expression.
    static func sql<T: PostgresDecodable & Sendable>(_ db: Database, _ query: PostgresQuery, as: T.Type = Bool.self) async throws -> T {
        try await db.read { tx in try await tx.connection.query(query, logger: TestDatabase.logger).decode(T.self).one("the expression") }
    }

    @Test("due soon: follow_up_due_soon() and DueSoon.includes agree")
    func dueSoon() async throws {
        try await TestDatabase.withDatabase { db in
            let statuses = FollowUpStatus.allCases, patientStatuses = PatientStatus.allCases
            await propertyCheck(count: 200, input: Gen.int(in: 9_000...9_100), Gen.int(in: 0...60),
                                Gen.int(in: 0...(statuses.count * patientStatuses.count - 1)), Gen.int(in: 9_000...9_100), Gen.int(in: 1...45)) {
                due, after, pair, on, days in
                let dueOn = LocalDate(dayNumber: due), windowEnd = LocalDate(dayNumber: due + after), asOf = LocalDate(dayNumber: on)
                let status = statuses[pair % statuses.count], patientStatus = patientStatuses[pair / statuses.count]
                let swift = DueSoon.includes(status: status, patientStatus: patientStatus, dueOn: dueOn, windowEnd: windowEnd, asOf: asOf, days: days)
                let sql = try? await Self.sql(db, """
                    SELECT follow_up_due_soon(\(windowEnd), \(dueOn), \(status), \(patientStatus), \(asOf), \(Int32(days)))
                    """)
                #expect(sql == swift, "due \(dueOn), window end \(windowEnd), \(status), patient \(patientStatus), as of \(asOf), \(days) days")
            }
            // The edges: the window's last day is still due soon; the horizon's day is not.
            let asOf = LocalDate("2026-11-25")!
            for (dueOn, windowEnd, expected) in [(asOf.adding(days: -10), asOf, true), (asOf.adding(days: -10), asOf.adding(days: -1), false),
                                                 (asOf.adding(days: 29), asOf.adding(days: 40), true), (asOf.adding(days: 30), asOf.adding(days: 40), false)] {
                let sql = try await Self.sql(db, "SELECT follow_up_due_soon(\(windowEnd), \(dueOn), 'scheduled', 'active', \(asOf), 30)")
                #expect(sql == expected)
                #expect(DueSoon.includes(status: .scheduled, patientStatus: .active, dueOn: dueOn, windowEnd: windowEnd, asOf: asOf, days: 30) == expected)
            }
        }
    }

    @Test("late reports: adverse_event_report_late()/_outstanding() and LateReport agree")
    func lateReports() async throws {
        try await TestDatabase.withDatabase { db in
            await propertyCheck(count: 200, input: Gen.bool, Gen.int(in: -1...40), Gen.int(in: -1...40), Gen.int(in: 0...40)) { serious, due, submitted, on in
                let base = 9_000
                let dueOn = due < 0 ? nil : LocalDate(dayNumber: base + due)
                let submittedOn = submitted < 0 ? nil : LocalDate(dayNumber: base + submitted)
                let asOf = LocalDate(dayNumber: base + on)
                let late = LateReport.isLate(serious: serious, dueOn: dueOn, submittedOn: submittedOn, asOf: asOf)
                let outstanding = LateReport.isOutstanding(serious: serious, dueOn: dueOn, submittedOn: submittedOn, asOf: asOf)
                let sql = try? await db.read { tx in
                    try await tx.connection.query("""
                        SELECT adverse_event_report_late(\(serious), \(dueOn), \(submittedOn), \(asOf)),
                               adverse_event_report_outstanding(\(serious), \(dueOn), \(submittedOn), \(asOf))
                        """, logger: TestDatabase.logger).decode((Bool, Bool).self).one("the expressions")
                }
                #expect(sql?.0 == late, "late: serious \(serious), due \(String(describing: dueOn)), submitted \(String(describing: submittedOn)), as of \(asOf)")
                #expect(sql?.1 == outstanding, "outstanding: serious \(serious), due \(String(describing: dueOn)), submitted \(String(describing: submittedOn)), as of \(asOf)")
            }
            // The nightly flag's date is the day after the due date, in SQL as in Swift.
            let due = LocalDate("2026-03-31")!
            let flagged = try await Self.sql(db, "SELECT \(due) + 1", as: LocalDate.self)
            #expect(flagged == LateReport.flaggedOn(dueOn: due))
        }
    }

    @Test("small cells: registry_suppress() and MinimumCell.published agree, and SmallCellSuppression calls the same counts small")
    func minimumCell() async throws {
        try await TestDatabase.withDatabase { db in
            await propertyCheck(count: 200, input: Gen.int(in: 0...40), Gen.int(in: MinimumCell.floor...25)) { count, k in
                let sql = try? await Self.sql(db, "SELECT registry_suppress(\(count), \(Int32(k)))", as: Int?.self)
                #expect(sql == .some(MinimumCell.published(count, k: k)), "count \(count), K \(k)")
                #expect(SmallCellSuppression(minimumCell: k).isSmall(count) == (MinimumCell.published(count, k: k) == nil), "count \(count), K \(k)")
            }
            for (count, shown) in [(0, true), (1, false), (MinimumCell.defaultK - 1, false), (MinimumCell.defaultK, true)] {
                let sql = try await Self.sql(db, "SELECT registry_suppress(\(count), \(Int32(MinimumCell.defaultK)))", as: Int?.self)
                #expect((sql != nil) == shown, "count \(count)")
            }
        }
    }

    @Test("status after a change: patient_status_after() and StatusChangeKind.resultingPatientStatus agree for every kind")
    func statusAfterChange() async throws {
        try await TestDatabase.withDatabase { db in
            for kind in StatusChangeKind.allCases {
                let sql = try await Self.sql(db, "SELECT patient_status_after(\(kind))", as: PatientStatus?.self)
                #expect(sql == kind.resultingPatientStatus, "\(kind)")
            }
        }
    }

    @Test("a status change's SQL does to follow-ups exactly what StatusChangeEffect.apply does")
    func statusChangeEffects() async throws {
        try await TestDatabase.withDatabase(today: LocalDate("2026-11-25")!) { db in
            let first = try await db.transaction(actor: "test") { tx in
                _ = try await tx.institutions.add(try NewInstitution(code: "ARM-001", name: "Seoul", designationNumber: "D-1", designatedOn: "2024-01-10", today: tx.today))
                _ = try await tx.institutions.add(try NewInstitution(code: "ARM-002", name: "Busan", designationNumber: "D-2", designatedOn: "2024-01-10", today: tx.today))
                _ = try await tx.products.add(try NewProduct(code: "GT-01", name: "Vector", manufacturer: "M", modality: "gene-therapy"))
                let plan = try await tx.plans.add(institutionCode: "ARM-001", productCode: "GT-01", indication: "C91.0", risk: .high)
                return try await tx.plans.decide(id: plan.id, try PlanDecisionRecord(decision: "approved", on: "2024-03-01", reference: "RC-1", today: tx.today))
            }
            let key = try Pseudonymizer(secret: Data(repeating: 7, count: 32))
            // Each case: a patient dosed on a generated date, then a loss, found again, a transfer,
            // a withdrawal or a death on another generated date (some refused: nothing to compare then).
            await propertyCheck(count: 25, input: Gen.int(in: 0...600), Gen.int(in: 1...700), Gen.int(in: 0...4), Gen.int(in: 1...400)) {
                doseDay, changeDay, kindIndex, foundDay in
                let dose = LocalDate("2024-04-01")!.adding(days: doseDay)
                let on = dose.adding(days: changeDay)
                guard on <= LocalDate("2026-11-25")! else { return }
                let kind: StatusChangeKind = [.death, .withdrawal, .lost, .found, .transfer][kindIndex]
                do {
                    let patientID = try await db.transaction(actor: "test") { tx in
                        let new = try NewPatient(institutionCode: "ARM-001", localID: "P-\(doseDay)-\(changeDay)-\(kindIndex)-\(foundDay)", birthYear: 1970,
                                                 sex: "female", consentOn: "2024-03-15", consentVersion: "v1", pseudonymizer: key, today: tx.today)
                        let patient = try await tx.patients.enroll(new).patient
                        _ = try await tx.administrations.administer(patientID: patient.id, planID: first.id,
                                                                    try NewAdministration(on: dose.description, lot: "LOT-1", dose: "1e6", feeNotified: 0,
                                                                                          feeCollected: 0, today: tx.today))
                        return patient.id
                    }
                    // A patient found again must first be lost.
                    if kind == .found {
                        _ = try await db.transaction(actor: "test") { tx in
                            try await tx.statusChanges.change(.lost, patientID: patientID, on: on, reason: "no contact")
                        }
                    }
                    let when = kind == .found ? on.adding(days: foundDay) : on
                    guard when <= LocalDate("2026-11-25")! else { return }
                    let before = try await Self.followUpStates(db, patientID: patientID)
                    let lastLoss = try await db.read { tx in try await tx.statusChanges.of(patientID: patientID).last { $0.kind == .lost }?.id }
                    let change = try await db.transaction(actor: "test") { tx in
                        try await tx.statusChanges.change(kind, patientID: patientID, on: when, reason: "generated", transferTo: kind == .transfer ? "ARM-002" : nil)
                    }
                    let after = try await Self.followUpStates(db, patientID: patientID)
                    let expected = StatusChangeEffect.of(kind, on: when, lastLoss: lastLoss)
                        .apply(to: before, changeID: change.id, receivingInstitution: kind == .transfer ? "ARM-002" : nil)
                    #expect(after == expected, "\(kind) on \(when) after a dose on \(dose)")
                    #expect(change.followUpsAffected == zip(before, after).filter { $0 != $1 }.count, "\(kind) on \(when)")
                    let status = try await db.read { tx in try await tx.patients.patient(id: patientID).status }
                    #expect(status == (kind.resultingPatientStatus ?? .active), "\(kind)")
                } catch let error as RegistryError {
                    // A refused change (e.g. before the first dose) writes nothing; it is not a case to compare.
                    #expect([.invalid, .conflict].contains(error.code), "\(error)")
                } catch {
                    Issue.record("\(error)")
                }
            }
        }
    }

    /// A patient's follow-ups as the status-change effect sees them, by id.
    static func followUpStates(_ db: Database, patientID: PatientID) async throws -> [FollowUpState] {
        try await db.read { tx in
            var out: [FollowUpState] = []
            for try await (id, due, end, status, suspendedBy, code) in try await tx.connection.query("""
                SELECT f.id, f.due_on, f.window_end, f.status, f.suspended_by, i.code
                FROM follow_up f JOIN institution i ON i.id = f.institution_id WHERE f.patient_id = \(patientID) ORDER BY f.id
                """, logger: TestDatabase.logger).decode((FollowUpID, LocalDate, LocalDate, FollowUpStatus, StatusChangeID?, String).self) {
                out.append(FollowUpState(id: id, dueOn: due, windowEnd: end, status: status, suspendedBy: suspendedBy, institutionCode: code))
            }
            return out
        }
    }
}
