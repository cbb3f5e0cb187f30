import Foundation
import PostgresNIO
import PropertyBased
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// A fixture with one dose given on 2025-04-01, so the schedule has closed, open and future windows
/// on the fixed test date 2026-11-25.
struct Treated {
    var f: Fixture
    var administration: Administration
    var followUps: [FollowUp]

    static func make(_ database: Database) async throws -> Treated {
        let f = try await Fixture.make(database)
        let (admin, fus) = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-04-01", today: database.today())) }
        return Treated(f: f, administration: admin, followUps: fus)
    }

    func followUp(_ label: String) -> FollowUp { followUps.first { $0.label == label }! }
    var patientID: PatientID { f.patient.id }
}

@Suite("Follow-up capture")
struct FollowUpCaptureTests {
    @Test("a visit in the window completes the follow-up; outside it, early or late; measures are stored coded")
    func visitsCompleteFollowUps() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            let day100 = t.followUp("day 100")  // due 2025-07-10, window 06-25 – 07-25
            let v = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: day100.id, patientID: nil, try visit("2025-07-10", measures: ["ecog=1", "eq5d-index=0.81"])) }
            #expect(v.timing == .inWindow)
            #expect(v.measures.map(\.key) == ["ecog", "eq5d-index"])
            #expect(v.measures.first { $0.key == "ecog" }?.code == "89247-1")
            let early = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: t.followUp("month 6").id, patientID: nil, try visit("2025-08-20")) }
            #expect(early.timing == .early)
            let late = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: t.followUp("month 9").id, patientID: nil, try visit("2026-02-15", contact: "phone")) }
            #expect(late.timing == .late)
            let after = try await database.read { tx in try await tx.followUps.of(patientID: t.patientID) }
            #expect(after.first { $0.id == day100.id }?.status == .completed)
            #expect(try await database.count("follow_up", where: "id = \(t.followUp("month 9").id) AND timing = 'late' AND completed_on = DATE '2026-02-15'") == 1)
            let unscheduled = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: nil, patientID: t.patientID, try visit("2025-08-02", contact: "phone")) }
            #expect(unscheduled.timing == nil && unscheduled.followUpID == nil)
        }
    }

    @Test("visits before the dose, in the future, with bad measures, twice, or from another institution are refused and write nothing")
    func visitRefusals() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            _ = try await Fixture.make(database, code: "ARM-002")
            let fu = t.followUp("day 28")
            let before = try await database.snapshot()
            await expectRefusal(field: "on") { _ = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: fu.id, patientID: nil, try visit("2025-03-30")) } }
            await expectRefusal(field: "on") { _ = try visit("2026-11-26") }
            await expectRefusal(field: "measure") { _ = try visit("2025-04-29", measures: ["ecog=7"]) }
            await expectRefusal(field: "measure") { _ = try visit("2025-04-29", measures: ["ecog=1.5"]) }
            await expectRefusal(field: "measure") { _ = try visit("2025-04-29", measures: ["hemoglobin=12:mg/dL"]) }
            await expectRefusal(field: "measure") { _ = try visit("2025-04-29", measures: ["blood-type=3"]) }
            await expectRefusal(field: "note") { _ = try visit("2025-04-29", note: "called 010-1234-5678") }
            await expectRefusal(field: "followup", code: .notFound) {
                _ = try await database.acting(as: "ARM-002") { tx in try await tx.visits.log(followUpID: fu.id, patientID: nil, try visit("2025-04-29")) }
            }
            #expect(try await database.snapshot() == before)
            _ = try await database.acting(as: "ARM-001") { tx in try await tx.visits.log(followUpID: fu.id, patientID: nil, try visit("2025-04-29", measures: ["hemoglobin=12.5:g/dL"])) }
            let once = try await database.snapshot()
            await expectRefusal(field: "followup", code: .conflict) {
                _ = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: fu.id, patientID: nil, try visit("2025-04-30")) }
            }
            #expect(try await database.snapshot() == once)
        }
    }

    @Test("a follow-up can be closed as not done with a reason")
    func closeNotDone() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            let closed = try await database.transaction(actor: "site") { tx in try await tx.followUps.closeNotDone(id: t.followUp("day 7").id, reason: .unreachable, note: "three calls") }
            #expect(closed.status == .notDone)
            await expectRefusal(field: "followup", code: .conflict) {
                _ = try await database.transaction(actor: "site") { tx in try await tx.followUps.closeNotDone(id: t.followUp("day 7").id, reason: .refused, note: nil) }
            }
            #expect(try await database.count("audit_log", where: "entity = 'follow_up' AND action = 'update' AND reason = 'unreachable: three calls'") == 1)
        }
    }

    @Test("serious events get 7- or 15-day report clocks from awareness, configurable; submission stops the clock")
    func expeditedClocks() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            let lifeThreatening = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.report(patientID: t.patientID, try event(grade: 4, serious: true)).0 }
            #expect(lifeThreatening.reportDueOn == LocalDate("2025-06-10"))
            #expect(lifeThreatening.gradingSystem == "CTCAE" && lifeThreatening.gradingVersion == "5.0")
            let hospitalised = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.report(patientID: t.patientID, try event(term: "Febrile neutropenia", grade: 3, serious: true, criteria: ["hospitalization"])).0 }
            #expect(hospitalised.reportDueOn == LocalDate("2025-06-18"))
            let mild = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.report(patientID: t.patientID, try event(term: "Anaemia", grade: 1)).0 }
            #expect(mild.reportDueOn == nil && !mild.serious)
            try await database.transaction(actor: "admin") { tx in try await tx.settings.set(key: "ae.report-days.other-serious", value: "10", reason: "test") }
            let after = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.report(patientID: t.patientID, try event(term: "Pneumonia", grade: 3, serious: true, criteria: ["hospitalization"])).0 }
            #expect(after.reportDueOn == LocalDate("2025-06-13"))
            await expectRefusal(field: "value") { try await database.transaction(actor: "admin") { tx in try await tx.settings.set(key: "ae.report-days.other-serious", value: "0", reason: "x") } }
            let submitted = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.submitReport(adverseEventID: lifeThreatening.id, on: LocalDate("2025-06-09")!) }
            #expect(submitted.reportSubmittedOn == LocalDate("2025-06-09"))
            await expectRefusal(field: "adverse-event", code: .conflict) { _ = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.submitReport(adverseEventID: lifeThreatening.id, on: LocalDate("2025-06-10")!) } }
            await expectRefusal(field: "adverse-event", code: .conflict) { _ = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.submitReport(adverseEventID: mild.id, on: LocalDate("2025-06-10")!) } }
            await expectRefusal(field: "on") { _ = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.submitReport(adverseEventID: hospitalised.id, on: LocalDate("2025-06-01")!) } }
        }
    }

    @Test("bad grades, missing grading systems, awareness before onset and events before treatment are refused")
    func adverseEventRefusals() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            let before = try await database.snapshot()
            await expectRefusal(field: "grade") { _ = try event(grade: 6) }
            await expectRefusal(field: "grade") { _ = try event(grade: 0) }
            await expectRefusal(field: "grading") {
                _ = try NewAdverseEvent(onset: "2025-06-01", aware: "2025-06-03", term: "X", meddra: nil, category: "other", grade: 2, grading: "5.0",
                                        serious: false, criteria: [], related: nil, outcome: nil, outcomeOn: nil, today: LocalDate("2026-11-25")!)
            }
            await expectRefusal(field: "grading") {
                _ = try NewAdverseEvent(onset: "2025-06-01", aware: "2025-06-03", term: "X", meddra: nil, category: "other", grade: 2, grading: "",
                                        serious: false, criteria: [], related: nil, outcome: nil, outcomeOn: nil, today: LocalDate("2026-11-25")!)
            }
            await expectRefusal(field: "aware") { _ = try event(onset: "2025-06-05", aware: "2025-06-03") }
            await expectRefusal(field: "category") { _ = try event(category: "cardiac") }
            await expectRefusal(field: "onset") { _ = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.report(patientID: t.patientID, try event(onset: "2025-03-25", aware: "2025-03-26")).0 } }
            #expect(try await database.snapshot() == before)
        }
    }

    @Test("a grade 5 event records the death; follow-ups due after it are no longer required")
    func grade5RecordsDeath() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            let ae = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.report(patientID: t.patientID, try event(onset: "2025-09-01", aware: "2025-09-02", grade: 5, serious: true, category: "new-malignancy", outcomeOn: "2025-09-10"), confirm: true).0 }
            #expect(ae.outcome == .fatal && ae.reportDueOn == LocalDate("2025-09-09"))
            let patient = try await database.read { tx in try await tx.patients.patient(id: t.patientID) }
            #expect(patient.status == .deceased)
            let history = try await database.read { tx in try await tx.statusChanges.of(patientID: t.patientID) }
            #expect(history.map(\.kind) == [.death] && history[0].effectiveOn == LocalDate("2025-09-10"))
            let fus = try await database.read { tx in try await tx.followUps.of(patientID: t.patientID) }
            #expect(fus.filter { $0.due > LocalDate("2025-09-10")! }.allSatisfy { $0.status == .notRequired })
            #expect(fus.filter { $0.due <= LocalDate("2025-09-10")! }.allSatisfy { $0.status == .scheduled })
            await expectRefusal(field: "patient", code: .conflict) {
                _ = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.death, patientID: t.patientID, on: LocalDate("2025-09-11")!, reason: "again") }
            }
            await expectRefusal(field: "on") { _ = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: nil, patientID: t.patientID, try visit("2025-10-01")) } }
        }
    }

    @Test("withdrawal stops future follow-ups and refuses every change but corrections")
    func withdrawal() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            let v = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: t.followUp("day 28").id, patientID: nil, try visit("2025-04-29", measures: ["ecog=1"])) }
            let change = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.withdrawal, patientID: t.patientID, on: LocalDate("2025-12-01")!, reason: "patient request") }
            #expect(change.followUpsAffected == t.followUps.filter { $0.due > LocalDate("2025-12-01")! }.count)
            let before = try await database.snapshot()
            await expectRefusal(field: "patient", code: .conflict) { _ = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: nil, patientID: t.patientID, try visit("2025-11-01")) } }
            await expectRefusal(field: "patient", code: .conflict) { _ = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.report(patientID: t.patientID, try event()).0 } }
            await expectRefusal(field: "patient", code: .conflict) { _ = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.lost, patientID: t.patientID, on: LocalDate("2026-01-01")!, reason: "x") } }
            await expectRefusal(field: "patient", code: .conflict) { _ = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.death, patientID: t.patientID, on: LocalDate("2026-01-01")!, reason: "x") } }
            #expect(try await database.snapshot() == before)
            // Data already collected stays, and can still be corrected with a reason.
            let corrected = try await database.transaction(actor: "site") { tx in try await tx.visits.correct(id: v.id, on: nil, contact: nil, vital: nil, measures: [try TestDatabase.measureCatalogue.parse("ecog=2")], note: nil,
                                                         reason: "transcription error").0 }
            #expect(corrected.measures.first?.value == 2)
            #expect(try await database.count("audit_log", where: "entity = 'visit_measure' AND action = 'update' AND before->>'value' = '1' AND after->>'value' = '2' AND reason = 'transcription error'") == 1)
        }
    }

    @Test("lost to follow-up and found again: follow-ups stop counting, then the open ones resume; never overdue while lost")
    func lostAndFound() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            let lostOn = LocalDate("2025-12-15")!, foundOn = LocalDate("2026-05-01")!
            let lost = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.lost, patientID: t.patientID, on: lostOn, reason: "no contact after 3 letters") }
            let suspended = t.followUps.filter { $0.due > lostOn }
            #expect(lost.followUpsAffected == suspended.count)
            #expect(try await database.read { tx in try await tx.patients.patient(id: t.patientID) }.status == .lostToFollowUp)
            // While lost, nothing is overdue.
            #expect(try await overdue(database, on: LocalDate("2026-04-01")!).isEmpty)
            let found = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.found, patientID: t.patientID, on: foundOn, reason: "returned to clinic") }
            let resumed = suspended.filter { $0.windowEnd >= foundOn }
            #expect(found.followUpsAffected == resumed.count)
            let now = try await database.read { tx in try await tx.followUps.of(patientID: t.patientID) }
            for fu in suspended {
                let status = now.first { $0.id == fu.id }!.status
                #expect(status == (fu.windowEnd >= foundOn ? .scheduled : .notRequired), "\(fu.label)")
            }
            #expect(try await database.read { tx in try await tx.patients.patient(id: t.patientID) }.status == .active)
            #expect(try await database.read { tx in try await tx.statusChanges.of(patientID: t.patientID) }.map(\.kind) == [.lost, .found])
            await expectRefusal(field: "patient", code: .conflict) {
                _ = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.found, patientID: t.patientID, on: foundOn, reason: "again") }
            }
        }
    }

    @Test("a transfer moves every follow-up still owed to an active institution, overdue ones included; inactive targets are refused")
    func transfer() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            _ = try await Fixture.make(database, code: "ARM-002")
            _ = try await Fixture.make(database, code: "ARM-003")
            _ = try await database.transaction(actor: "ministry") { tx in try await tx.institutions.setStatus(code: "ARM-003", status: .revoked, reason: "designation revoked") }
            await expectRefusal(field: "to", code: .conflict) {
                _ = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.transfer, patientID: t.patientID, on: LocalDate("2026-03-01")!, reason: "move", transferTo: "ARM-003") }
            }
            let change = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.transfer, patientID: t.patientID, on: LocalDate("2026-03-01")!, reason: "moved to Busan", transferTo: "ARM-002") }
            // Nothing was logged for this patient: every follow-up is still owed, those whose window
            // closed before the transfer (overdue) as much as those to come.
            #expect(t.followUps.contains { $0.windowEnd < LocalDate("2026-03-01")! })
            #expect(change.followUpsAffected == t.followUps.count && change.toInstitution == "ARM-002")
            let now = try await database.read { tx in try await tx.followUps.of(patientID: t.patientID) }
            #expect(now.allSatisfy { $0.institutionCode == "ARM-002" })
            #expect(try await database.read { tx in try await tx.patients.patient(id: t.patientID) }.institutionCode == "ARM-002")
            await expectRefusal(field: "followup", code: .notFound) {
                _ = try await database.acting(as: "ARM-001") { tx in try await tx.visits.log(followUpID: t.followUp("year 1").id, patientID: nil, try visit("2026-04-01")) }
            }
            _ = try await database.acting(as: "ARM-002") { tx in try await tx.visits.log(followUpID: t.followUp("year 1").id, patientID: nil, try visit("2026-04-01")) }
        }
    }

    @Test("correcting the administration date moves open follow-ups and keeps completed ones; the trail says what moved")
    func anchorCorrection() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            let done = t.followUp("day 7")
            _ = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: done.id, patientID: nil, try visit("2025-04-08", contact: "phone")) }
            await expectRefusal(field: "reason") {
                _ = try await database.transaction(actor: "site") { tx in try await tx.administrations.correct(id: t.administration.id, on: LocalDate("2025-04-03")!, lot: nil, dose: nil,
                                                          feeNotified: nil, feeCollected: nil, reason: "  ") }
            }
            await expectRefusal(field: "cause") {
                _ = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.death, patientID: t.patientID, on: LocalDate("2026-01-05")!, reason: "") }
            }
            let result = try await database.transaction(actor: "site") { tx in try await tx.administrations.correct(id: t.administration.id, on: LocalDate("2025-04-03")!, lot: nil, dose: nil,
                                                               feeNotified: nil, feeCollected: nil, reason: "date from the order, not the infusion") }
            #expect(result.administration.administeredOn == LocalDate("2025-04-03"))
            #expect(result.moved == t.followUps.count - 1)
            let expected = FollowUpSchedule.plan(protocol: .standard(for: .gene), anchor: LocalDate("2025-04-03")!)
            let now = try await database.read { tx in try await tx.followUps.of(patientID: t.patientID) }
            for fu in now where fu.id != done.id {
                #expect(fu.due == expected.first { $0.sequence == fu.sequence }?.due, "\(fu.label)")
            }
            let kept = now.first { $0.id == done.id }!
            #expect(kept.due == done.due && kept.status == .completed)
            #expect(try await database.count("audit_log", where: "entity = 'follow_up' AND action = 'update' AND reason = 'date from the order, not the infusion'") == result.moved)
            #expect(try await database.count("audit_log", where: "entity = 'administration' AND action = 'update' AND before->>'administered_on' = '2025-04-01' AND after->>'administered_on' = '2025-04-03'") == 1)
            // A date after recorded visit data would orphan it: refused.
            await expectRefusal(field: "on") {
                _ = try await database.transaction(actor: "site") { tx in try await tx.administrations.correct(id: t.administration.id, on: LocalDate("2025-04-10")!, lot: nil, dose: nil, feeNotified: nil, feeCollected: nil, reason: "x") }
            }
        }
    }

    @Test("adverse events can be corrected with a reason; the earlier grade stays in the trail")
    func correctAdverseEvent() async throws {
        try await TestDatabase.withDatabase { database in
            let t = try await Treated.make(database)
            let ae = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.report(patientID: t.patientID, try event(grade: 3, serious: true, criteria: ["hospitalization"])).0 }
            let fixed = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.correct(id: ae.id, reason: "regraded after specialist review") { $0.grade = 4 }.0 }
            #expect(fixed.grade == 4 && fixed.reportDueOn == LocalDate("2025-06-10"))
            #expect(try await database.count("audit_log", where: "entity = 'adverse_event' AND action = 'update' AND before->>'grade' = '3' AND after->>'grade' = '4'") == 1)
        }
    }

    func overdue(_ database: Database, on date: LocalDate) async throws -> [Int] {
        try await database.plainTransaction { c in
            try await (c.query("""
                SELECT f.id FROM follow_up f JOIN patient p ON p.id = f.patient_id
                WHERE follow_up_overdue(f.window_end, f.status, p.status, \(date)) ORDER BY f.id
                """, logger: TestDatabase.logger) as PostgresRowSequence).decode(Int.self).collect()
        }
    }
}

@Suite("Overdue, defined once")
struct OverdueTests {
    @Test("the SQL function and the Swift rule agree on generated cases")
    func sqlAgreesWithSwift() async throws {
        let url = try await TestDatabase.create()
        let db = try await Database.open(url, logger: TestDatabase.logger)
        let statuses = FollowUpStatus.allCases, patientStatuses = PatientStatus.allCases
        await propertyCheck(count: 200, input: Gen.int(in: 9_000...9_500), Gen.int(in: 9_000...9_500),
                            Gen.int(in: 0...(statuses.count - 1)), Gen.int(in: 0...(patientStatuses.count - 1))) { end, on, s, p in
            let windowEnd = LocalDate(dayNumber: end), date = LocalDate(dayNumber: on)
            let swift = Overdue.isOverdue(windowEnd: windowEnd, status: statuses[s], patientStatus: patientStatuses[p], on: date)
            let sql = try? await db.plainTransaction { c in
                try await c.query("SELECT follow_up_overdue(\(windowEnd), \(statuses[s].rawValue), \(patientStatuses[p].rawValue), \(date))",
                                  logger: TestDatabase.logger).decode(Bool.self).first(where: { _ in true })!
            }
            #expect(sql == swift, "window end \(windowEnd), \(statuses[s]), patient \(patientStatuses[p]), on \(date)")
        }
        // The edges, explicitly: never on the window's last day, always the day after.
        let end = LocalDate("2025-07-25")!
        for (date, expected) in [(end.adding(days: -1), false), (end, false), (end.adding(days: 1), true)] {
            let sql = try await db.plainTransaction { c in
                try await c.query("SELECT follow_up_overdue(\(end), 'scheduled', 'active', \(date))", logger: TestDatabase.logger).decode(Bool.self).first(where: { _ in true })!
            }
            #expect(sql == expected && Overdue.isOverdue(windowEnd: end, status: .scheduled, patientStatus: .active, on: date) == expected)
        }
        await db.close()
        try await TestDatabase.drop(url)
    }

    @Test("the boundary is Seoul midnight: a window that closed yesterday in Seoul is overdue while it is still yesterday in UTC")
    func seoulMidnight() async throws {
        let url = try await TestDatabase.create()
        let db = try await Database.open(url, logger: TestDatabase.logger)
        // 2025-11-25 15:30 UTC is 2025-11-26 00:30 in Seoul.
        let instant = Date(timeIntervalSince1970: 1_764_084_600)
        let windowEnd = LocalDate("2025-11-25")!
        #expect(Overdue.isOverdue(windowEnd: windowEnd, status: .scheduled, patientStatus: .active, on: LocalDate.seoulDate(at: instant)))
        for zone in ["UTC", "America/Los_Angeles", "Asia/Seoul"] {
            let (sqlToday, overdue) = try await db.plainTransaction { c in
                try await c.query("SET TIME ZONE \(unescaped: "'" + zone + "'")", logger: TestDatabase.logger)
                return try await c.query("""
                    SELECT (\(instant)::timestamptz AT TIME ZONE 'Asia/Seoul')::date,
                           follow_up_overdue(\(windowEnd), 'scheduled', 'active', (\(instant)::timestamptz AT TIME ZONE 'Asia/Seoul')::date)
                    """, logger: TestDatabase.logger).decode((LocalDate, Bool).self).first(where: { _ in true })!
            }
            #expect(sqlToday == LocalDate("2025-11-26"), "session zone \(zone)")
            #expect(overdue, "session zone \(zone)")
        }
        await db.close()
        try await TestDatabase.drop(url)
    }
}
