import PropertyBased
import RegistryDomain
import Testing

private func day(_ text: String) -> LocalDate { LocalDate(text)! }

private func followUp(_ id: FollowUpID, due: String, windowEnd: String, _ status: FollowUpStatus, suspendedBy: StatusChangeID? = nil, at institution: String = "ARM-001") -> FollowUpState {
    FollowUpState(id: id, dueOn: day(due), windowEnd: day(windowEnd), status: status, suspendedBy: suspendedBy, institutionCode: institution)
}

@Suite("Status change effects")
struct StatusChangeEffectTests {
    @Test("each kind leaves the patient in its status; a transfer keeps it")
    func resultingStatus() {
        #expect(StatusChangeKind.death.resultingPatientStatus == .deceased)
        #expect(StatusChangeKind.withdrawal.resultingPatientStatus == .withdrawn)
        #expect(StatusChangeKind.lost.resultingPatientStatus == .lostToFollowUp)
        #expect(StatusChangeKind.found.resultingPatientStatus == .active)
        #expect(StatusChangeKind.transfer.resultingPatientStatus == nil)
    }

    @Test("each kind has its effect")
    func effects() {
        let on = day("2025-09-01")
        #expect(StatusChangeEffect.of(.death, on: on, lastLoss: 3) == StatusChangeEffect(patientStatus: .deceased, followUps: .suspend(dueAfter: on)))
        #expect(StatusChangeEffect.of(.withdrawal, on: on, lastLoss: nil) == StatusChangeEffect(patientStatus: .withdrawn, followUps: .suspend(dueAfter: on)))
        #expect(StatusChangeEffect.of(.lost, on: on, lastLoss: nil) == StatusChangeEffect(patientStatus: .lostToFollowUp, followUps: .suspend(dueAfter: on)))
        #expect(StatusChangeEffect.of(.found, on: on, lastLoss: 3)
                == StatusChangeEffect(patientStatus: .active, followUps: .restore(suspendedBy: 3, windowEndFrom: on)))
        #expect(StatusChangeEffect.of(.found, on: on, lastLoss: nil)
                == StatusChangeEffect(patientStatus: .active, followUps: .restore(suspendedBy: nil, windowEndFrom: on)))
        #expect(StatusChangeEffect.of(.transfer, on: on, lastLoss: 3) == StatusChangeEffect(patientStatus: nil, followUps: .move))
    }

    @Test("death, withdrawal and loss suspend scheduled follow-ups due after the date, not on it", arguments: [StatusChangeKind.death, .withdrawal, .lost])
    func suspend(kind: StatusChangeKind) {
        let before = [
            followUp(1, due: "2025-08-31", windowEnd: "2025-09-30", .scheduled),
            followUp(2, due: "2025-09-01", windowEnd: "2025-09-30", .scheduled),
            followUp(3, due: "2025-09-02", windowEnd: "2025-10-02", .scheduled),
            followUp(4, due: "2026-03-01", windowEnd: "2026-03-31", .scheduled),
            followUp(5, due: "2026-03-01", windowEnd: "2026-03-31", .notRequired, suspendedBy: 2),
            followUp(6, due: "2026-03-01", windowEnd: "2026-03-31", .completed),
            followUp(7, due: "2026-03-01", windowEnd: "2026-03-31", .notDone),
            followUp(8, due: "2026-03-01", windowEnd: "2026-03-31", .missed),
        ]
        let after = StatusChangeEffect.of(kind, on: day("2025-09-01"), lastLoss: 2).apply(to: before, changeID: 9, receivingInstitution: "ARM-002")
        var expected = before
        for i in [2, 3] {
            expected[i].status = .notRequired
            expected[i].suspendedBy = 9
        }
        #expect(after == expected)
    }

    @Test("found brings back what the last loss suspended while its window is open, through the date itself")
    func restore() {
        let before = [
            followUp(1, due: "2025-08-01", windowEnd: "2025-08-31", .notRequired, suspendedBy: 4),
            followUp(2, due: "2025-08-10", windowEnd: "2025-09-01", .notRequired, suspendedBy: 4),
            followUp(3, due: "2026-03-01", windowEnd: "2026-03-31", .notRequired, suspendedBy: 4),
            followUp(4, due: "2026-03-01", windowEnd: "2026-03-31", .notRequired, suspendedBy: 2),
            followUp(5, due: "2026-03-01", windowEnd: "2026-03-31", .notRequired, suspendedBy: nil),
            followUp(6, due: "2026-03-01", windowEnd: "2026-03-31", .scheduled, suspendedBy: 4),
            followUp(7, due: "2026-03-01", windowEnd: "2026-03-31", .completed),
        ]
        let after = StatusChangeEffect.of(.found, on: day("2025-09-01"), lastLoss: 4).apply(to: before, changeID: 9, receivingInstitution: nil)
        var expected = before
        for i in [1, 2] {
            expected[i].status = .scheduled
            expected[i].suspendedBy = nil
        }
        #expect(after == expected)
    }

    @Test("found with no loss on record brings back nothing, as SQL's = NULL matches nothing")
    func restoreWithoutLoss() {
        let before = [
            followUp(1, due: "2026-03-01", windowEnd: "2026-03-31", .notRequired, suspendedBy: nil),
            followUp(2, due: "2026-03-01", windowEnd: "2026-03-31", .notRequired, suspendedBy: 4),
        ]
        #expect(StatusChangeEffect.of(.found, on: day("2025-09-01"), lastLoss: nil).apply(to: before, changeID: 9, receivingInstitution: nil) == before)
    }

    @Test("a transfer moves every follow-up still owed (scheduled, overdue or not, and missed); done and closed ones stay")
    func move() {
        let before = [
            followUp(1, due: "2025-08-01", windowEnd: "2025-08-31", .scheduled),
            followUp(2, due: "2025-08-10", windowEnd: "2025-09-01", .scheduled),
            followUp(3, due: "2026-03-01", windowEnd: "2026-03-31", .scheduled),
            followUp(4, due: "2026-03-01", windowEnd: "2026-03-31", .notRequired, suspendedBy: 2),
            followUp(5, due: "2026-03-01", windowEnd: "2026-03-31", .completed),
            followUp(6, due: "2026-03-01", windowEnd: "2026-03-31", .notDone),
            followUp(7, due: "2026-03-01", windowEnd: "2026-03-31", .missed),
        ]
        let effect = StatusChangeEffect.of(.transfer, on: day("2025-09-01"), lastLoss: nil)
        let after = effect.apply(to: before, changeID: 9, receivingInstitution: "ARM-002")
        #expect(after.map(\.institutionCode) == ["ARM-002", "ARM-002", "ARM-002", "ARM-001", "ARM-001", "ARM-001", "ARM-002"])
        #expect(after.map(\.status) == before.map(\.status))
        #expect(after.map(\.suspendedBy) == before.map(\.suspendedBy))
        #expect(effect.apply(to: before, changeID: 9, receivingInstitution: nil) == before)
    }

    /// Follow-ups from generated parts: due offset, window length, status, suspending change (0: none), institution.
    static let followUps = zip(Gen.int(in: -90...90), Gen.int(in: 0...60), Gen.int(in: 0...4), Gen.int(in: 0...3), Gen.bool)
        .array(of: 0...25)
    static let base = LocalDate("2025-09-01")!

    static func states(_ parts: [(Int, Int, Int, Int, Bool)]) -> [FollowUpState] {
        parts.enumerated().map { i, p in
            let due = base.adding(days: p.0)
            return FollowUpState(id: FollowUpID(rawValue: i + 1), dueOn: due, windowEnd: due.adding(days: p.1), status: FollowUpStatus.allCases[p.2],
                                 suspendedBy: p.3 == 0 ? nil : StatusChangeID(rawValue: p.3), institutionCode: p.4 ? "ARM-001" : "ARM-003")
        }
    }

    @Test("no effect touches completed or not-done follow-ups, nor missed ones but to move them, nor any id, due date or window")
    func closedFollowUpsStay() async {
        await propertyCheck(count: 500, input: Self.followUps, Gen.int(in: 0...4), Gen.int(in: -100...100), Gen.int(in: 0...4)) { parts, k, offset, loss in
            let before = Self.states(parts)
            let kind = StatusChangeKind.allCases[k]
            let after = StatusChangeEffect.of(kind, on: Self.base.adding(days: offset), lastLoss: loss == 0 ? nil : StatusChangeID(rawValue: loss))
                .apply(to: before, changeID: 5, receivingInstitution: "ARM-002")
            #expect(after.count == before.count)
            for (b, a) in zip(before, after) {
                #expect(a.id == b.id && a.dueOn == b.dueOn && a.windowEnd == b.windowEnd)
                if Self.staysPut(b.status, under: kind) { #expect(a == b) }
                if kind == .transfer { #expect(a.status == b.status && a.suspendedBy == b.suspendedBy) }
                else { #expect(a.institutionCode == b.institutionCode) }
            }
        }
    }

    /// Completed and not-done follow-ups never change; missed ones only move with a transfer.
    static func staysPut(_ status: FollowUpStatus, under kind: StatusChangeKind) -> Bool {
        status == .completed || status == .notDone || (status == .missed && kind != .transfer)
    }

    @Test("suspending then restoring with the same change brings back exactly the suspended follow-ups whose window is still open")
    func suspendThenRestore() async {
        await propertyCheck(count: 500, input: Self.followUps, Gen.int(in: -100...100), Gen.int(in: 0...120)) { parts, lostOffset, gap in
            let before = Self.states(parts)
            let lostOn = Self.base.adding(days: lostOffset), foundOn = lostOn.adding(days: gap)
            let change: StatusChangeID = 7  // generated suspensions are by changes 1 to 3
            let suspended = StatusChangeEffect.of(.lost, on: lostOn, lastLoss: nil).apply(to: before, changeID: change, receivingInstitution: nil)
            let restored = StatusChangeEffect.of(.found, on: foundOn, lastLoss: change).apply(to: suspended, changeID: 8, receivingInstitution: nil)
            for (b, r) in zip(before, restored) {
                let wasSuspended = b.status == .scheduled && b.dueOn > lostOn
                if wasSuspended && b.windowEnd >= foundOn {
                    var back = b
                    back.suspendedBy = nil  // a scheduled follow-up carrying a suspension forgets it
                    #expect(r == back, "follow-up \(b.id) should be back as it was")
                } else if wasSuspended {
                    #expect(r.status == .notRequired && r.suspendedBy == change, "follow-up \(b.id) should stay suspended")
                } else {
                    #expect(r == b, "follow-up \(b.id) was not this change's to touch")
                }
            }
        }
    }
}
