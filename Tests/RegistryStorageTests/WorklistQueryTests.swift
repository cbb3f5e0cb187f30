import Foundation
import PostgresNIO
import PropertyBased
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// The worklist's reads (FollowUps.worklist, paged, and worklistCounts) go through indexes rather
/// than follow_up_overdue()/follow_up_due_soon(): on generated registries they must select exactly
/// what Overdue.isOverdue and DueSoon.includes select, in the worklist's order, page after page.
@Suite("worklist reads against the domain's rules")
struct WorklistQueryTests {
    static let today = LocalDate("2026-11-25")!

    @Test("worklist pages and counts equal Overdue.isOverdue and DueSoon.includes over every follow-up, whatever the statuses")
    func agreesWithRules() async throws {
        try await TestDatabase.withDatabase(today: Self.today) { db in
            let fixture = try await Fixture.make(db, since2021: true)
            let other = try await Fixture.make(db, code: "ARM-002", since2021: true)
            // Ten patients at ARM-001 and two at ARM-002, dosed from 2021 to last week: years of schedule each.
            var patients: [PatientID] = []
            for i in 0..<12 {
                let f = i < 10 ? fixture : other
                let id = try await db.transaction(actor: "test") { tx in
                    let patient = try await tx.patients.enroll(try NewPatient(institutionCode: f.institution.code, localID: "W-\(i)", birthYear: 1970, sex: "male",
                                                                              consentOn: "2021-06-10", consentVersion: "2", pseudonymizer: Fixture.key, today: tx.today)).patient
                    _ = try await tx.administrations.administer(patientID: patient.id, planID: f.plan.id,
                                                                try f.dose(on: LocalDate("2021-07-01")!.adding(days: i * 165 + (i == 9 ? 3 : 0)).description, today: tx.today))
                    return patient.id
                }
                patients.append(id)
            }
            let total = try await db.ints("SELECT count(*) FROM follow_up").first ?? 0
            #expect(total > 200)
            let statuses: [FollowUpStatus] = [.scheduled, .scheduled, .scheduled, .completed, .notDone, .notRequired, .missed, .voided]
            let patientStatuses: [PatientStatus] = [.active, .active, .active, .deceased, .withdrawn, .lostToFollowUp]
            await propertyCheck(count: 25, input: Gen.int(in: 0...1_000_000), Gen.int(in: -500...500), Gen.int(in: 1...90), Gen.int(in: 1...25)) {
                seed, shift, days, pageSize in
                let asOf = Self.today.adding(days: shift)
                do {
                    // Statuses drawn from the seed, set directly (the reads must be right whatever led to them);
                    // some follow-ups of ARM-001's patients are left at ARM-002, so nothing rests on where the patient is.
                    try await db.plainTransaction { tx in
                        try await tx.query("""
                            UPDATE follow_up SET status = (\(statuses.map(\.rawValue)))[1 + abs(hashint8(id * 7919 + \(seed))) % \(statuses.count)],
                                   institution_id = CASE WHEN abs(hashint8(id + \(seed))) % 23 = 0 THEN \(other.institution.id) ELSE institution_id END
                            """, logger: TestDatabase.logger)
                        try await tx.query("""
                            UPDATE patient SET status = (\(patientStatuses.map(\.rawValue)))[1 + abs(hashint8(id * 31 + \(seed))) % \(patientStatuses.count)]
                            """, logger: TestDatabase.logger)
                    }
                    for code in [fixture.institution.code, other.institution.code] {
                        let expected = try await Self.expected(db, institutionCode: code, asOf: asOf, days: days)
                        let counts = try await db.read { tx in try await tx.followUps.worklistCounts(institutionCode: code, asOf: asOf, days: days) }
                        #expect(counts.overdue == expected.filter { $0.kind == .overdue }.count, "\(code) as of \(asOf), \(days) days, seed \(seed)")
                        #expect(counts.dueSoon == expected.filter { $0.kind == .dueSoon }.count, "\(code) as of \(asOf), \(days) days, seed \(seed)")
                        // Page by page, as the web and the API page it.
                        var got: [WorklistEntry] = [], after: WorklistPosition? = nil
                        while true {
                            let page = try await db.read { tx in
                                try await tx.followUps.worklist(institutionCode: code, asOf: asOf, days: days, after: after, limit: pageSize)
                            }
                            got += page
                            guard page.count == pageSize, let last = page.last else { break }
                            after = last.position
                        }
                        #expect(got == expected, "\(code) as of \(asOf), \(days) days, pages of \(pageSize), seed \(seed)")
                    }
                } catch {
                    Issue.record("\(error)")
                }
            }
            #expect(patients.count == 12)
        }
    }

    /// The worklist by the domain's rules over every follow-up of the institution: overdue by
    /// window end, then due soon by due date (ids breaking ties).
    static func expected(_ db: Database, institutionCode: String, asOf: LocalDate, days: Int) async throws -> [WorklistEntry] {
        try await db.read { tx in
            var overdue: [WorklistEntry] = [], dueSoon: [WorklistEntry] = []
            for try await (id, patient, label, due, start, end, status, level, patientStatus, enrolledBy, at, givenAt) in try await tx.connection.query("""
                SELECT f.id, f.patient_id, f.label, f.due_on, f.window_start, f.window_end, f.status, f.escalation_level, p.status,
                       p.enrolled_by, f.institution_id, a.institution_id
                FROM follow_up f JOIN patient p ON p.id = f.patient_id JOIN administration a ON a.id = f.administration_id
                JOIN institution i ON i.id = f.institution_id WHERE i.code = \(institutionCode)
                """, logger: TestDatabase.logger).decode((FollowUpID, PatientID, String, LocalDate, LocalDate, LocalDate, FollowUpStatus, Int16, PatientStatus,
                                                          Int, Int, Int).self) {
                let transferredIn = enrolledBy != at && givenAt != at
                if Overdue.isOverdue(windowEnd: end, status: status, patientStatus: patientStatus, on: asOf) {
                    overdue.append(WorklistEntry(kind: .overdue, followUpID: id, patientID: patient, label: label, dueOn: due, windowStart: start, windowEnd: end,
                                                 daysOverdue: Overdue.daysOverdue(windowEnd: end, status: status, patientStatus: patientStatus, on: asOf),
                                                 escalationLevel: Int(level), transferredIn: transferredIn))
                } else if DueSoon.includes(status: status, patientStatus: patientStatus, dueOn: due, windowEnd: end, asOf: asOf, days: days) {
                    dueSoon.append(WorklistEntry(kind: .dueSoon, followUpID: id, patientID: patient, label: label, dueOn: due, windowStart: start, windowEnd: end,
                                                 daysOverdue: 0, escalationLevel: Int(level), transferredIn: transferredIn))
                }
            }
            overdue.sort { ($0.windowEnd, $0.followUpID.rawValue) < ($1.windowEnd, $1.followUpID.rawValue) }
            dueSoon.sort { ($0.dueOn, $0.followUpID.rawValue) < ($1.dueOn, $1.followUpID.rawValue) }
            return overdue + dueSoon
        }
    }
}
