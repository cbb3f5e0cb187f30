import PropertyBased
import RegistryDomain
import Testing

private func day(_ text: String) -> LocalDate { LocalDate(text)! }

@Suite("Worklist rules")
struct WorklistRulesTests {
    let asOf = day("2025-09-01")

    func dueSoon(_ status: FollowUpStatus = .scheduled, _ patient: PatientStatus = .active, due: String, windowEnd: String, days: Int = DueSoon.horizonDays) -> Bool {
        DueSoon.includes(status: status, patientStatus: patient, dueOn: day(due), windowEnd: day(windowEnd), asOf: asOf, days: days)
    }

    @Test("due soon: scheduled, patient active, window still open, due within the horizon (exclusive)")
    func dueSoonBoundaries() {
        #expect(DueSoon.horizonDays == 30)
        #expect(dueSoon(due: "2025-09-30", windowEnd: "2025-10-30"))
        #expect(!dueSoon(due: "2025-10-01", windowEnd: "2025-10-31"))
        #expect(dueSoon(due: "2025-08-01", windowEnd: "2025-09-01"))
        #expect(!dueSoon(due: "2025-08-01", windowEnd: "2025-08-31"))
        #expect(dueSoon(due: "2025-09-06", windowEnd: "2025-09-10", days: 6))
        #expect(!dueSoon(due: "2025-09-07", windowEnd: "2025-09-10", days: 6))
        for status in FollowUpStatus.allCases where status != .scheduled {
            #expect(!dueSoon(status, due: "2025-09-10", windowEnd: "2025-09-20"), "\(status)")
        }
        for patient in PatientStatus.allCases where patient != .active {
            #expect(!dueSoon(.scheduled, patient, due: "2025-09-10", windowEnd: "2025-09-20"), "\(patient)")
        }
    }

    @Test("a report is late once its due date has passed without a submission by that date")
    func late() {
        let due = day("2025-08-31")
        #expect(LateReport.isLate(serious: true, dueOn: due, submittedOn: nil, asOf: asOf))
        #expect(!LateReport.isLate(serious: true, dueOn: asOf, submittedOn: nil, asOf: asOf))
        #expect(!LateReport.isLate(serious: true, dueOn: due, submittedOn: due, asOf: asOf))
        #expect(!LateReport.isLate(serious: true, dueOn: due, submittedOn: day("2025-08-01"), asOf: asOf))
        #expect(LateReport.isLate(serious: true, dueOn: due, submittedOn: asOf, asOf: asOf))
        #expect(!LateReport.isLate(serious: false, dueOn: due, submittedOn: nil, asOf: asOf))
        #expect(!LateReport.isLate(serious: true, dueOn: nil, submittedOn: nil, asOf: asOf))
    }

    @Test("a late report stays on the worklist only until it is submitted")
    func outstanding() {
        let due = day("2025-08-31")
        #expect(LateReport.isOutstanding(serious: true, dueOn: due, submittedOn: nil, asOf: asOf))
        #expect(!LateReport.isOutstanding(serious: true, dueOn: due, submittedOn: asOf, asOf: asOf))
        #expect(!LateReport.isOutstanding(serious: true, dueOn: due, submittedOn: due, asOf: asOf))
        #expect(!LateReport.isOutstanding(serious: true, dueOn: asOf, submittedOn: nil, asOf: asOf))
        #expect(!LateReport.isOutstanding(serious: false, dueOn: due, submittedOn: nil, asOf: asOf))
        #expect(!LateReport.isOutstanding(serious: true, dueOn: nil, submittedOn: nil, asOf: asOf))
        #expect(LateReport.flaggedOn(dueOn: due) == asOf)
        #expect(LateReport.flaggedOn(dueOn: day("2024-02-28")) == day("2024-02-29"))
        #expect(LateReport.flaggedOn(dueOn: day("2024-12-31")) == day("2025-01-01"))
    }
}

@Suite("Minimum cell")
struct MinimumCellTests {
    @Test("K and its limits")
    func constants() {
        #expect(MinimumCell.defaultK == 11)
        #expect(MinimumCell.regulatorFloor == 5)
        #expect(MinimumCell.floor == 2)
        #expect(MinimumCell.maximum == 1000)
    }

    @Test("zero shows, 1 to K − 1 are withheld, K and above show")
    func published() {
        #expect(MinimumCell.published(0, k: 11) == 0)
        #expect(MinimumCell.published(1, k: 11) == nil)
        #expect(MinimumCell.published(10, k: 11) == nil)
        #expect(MinimumCell.published(11, k: 11) == 11)
        #expect(MinimumCell.published(12, k: 11) == 12)
        #expect(MinimumCell.published(1, k: 2) == nil)
        #expect(MinimumCell.published(2, k: 2) == 2)
        #expect(MinimumCell.published(1, k: 1) == 1)
    }

    @Test("the suppression's small cells are exactly the counts MinimumCell withholds")
    func suppressionAgrees() async {
        await propertyCheck(count: 1_000, input: Gen.int(in: 0...2_000), Gen.int(in: 1...1_000)) { count, k in
            let small = count >= 1 && count <= k - 1
            #expect(SmallCellSuppression(minimumCell: k).isSmall(count) == small)
            #expect(MinimumCell.published(count, k: k) == (small ? nil : count))
        }
    }
}

@Suite("Follow-up state in listings")
struct FollowUpStateTextTests {
    static func followUp(_ status: FollowUpStatus, _ state: FollowUpProgress) -> FollowUp {
        FollowUp(id: 1, administrationID: 2, patientID: 3, institutionCode: "ARM-001", sequence: 1, label: "day 100", due: LocalDate("2025-07-10")!,
                 windowStart: LocalDate("2025-06-25")!, windowEnd: LocalDate("2025-07-25")!, contactType: .examination, status: status, state: state)
    }

    @Test("each state reads as one phrase: overdue with days and flags, completed with date and timing, not done with why")
    func phrases() {
        #expect(Self.followUp(.scheduled, FollowUpProgress()).stateText == "scheduled")
        #expect(Self.followUp(.scheduled, FollowUpProgress(daysOverdue: 1)).stateText == "overdue 1 day")
        #expect(Self.followUp(.scheduled, FollowUpProgress(overdueSince: LocalDate("2025-07-26"), daysOverdue: 120, escalationLevel: 1)).stateText
                == "overdue 120 days (flagged 2025-07-26, escalation 1)")
        #expect(Self.followUp(.completed, FollowUpProgress(completedOn: LocalDate("2025-08-02"), timing: .late)).stateText == "completed 2025-08-02, late")
        #expect(Self.followUp(.notDone, FollowUpProgress(notDoneReason: .unreachable)).stateText == "not done: unreachable")
        #expect(Self.followUp(.notRequired, FollowUpProgress()).stateText == "not required")
    }
}
