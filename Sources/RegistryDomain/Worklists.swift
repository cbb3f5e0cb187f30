/// "Due soon": a follow-up on a worklist's second list.
public enum DueSoon {
    /// The nightly digest's horizon, in days.
    public static let horizonDays = 30

    /// Scheduled, patient active, window not yet closed on `asOf`, due before `asOf + days`.
    public static func includes(status: FollowUpStatus, patientStatus: PatientStatus, dueOn: LocalDate, windowEnd: LocalDate,
                                asOf: LocalDate, days: Int) -> Bool {
        status == .scheduled && patientStatus == .active && windowEnd >= asOf && dueOn < asOf.adding(days: days)
    }
}

/// When a serious adverse event's expedited report is late.
public enum LateReport {
    /// The nightly flag: serious, due before `asOf`, and not submitted by its due date (not submitted, or submitted after it).
    public static func isLate(serious: Bool, dueOn: LocalDate?, submittedOn: LocalDate?, asOf: LocalDate) -> Bool {
        guard serious, let dueOn, dueOn < asOf else { return false }
        guard let submittedOn else { return true }
        return submittedOn > dueOn
    }

    /// On a worklist: late and still not submitted.
    public static func isOutstanding(serious: Bool, dueOn: LocalDate?, submittedOn: LocalDate?, asOf: LocalDate) -> Bool {
        submittedOn == nil && isLate(serious: serious, dueOn: dueOn, submittedOn: submittedOn, asOf: asOf)
    }

    /// The day a late report is flagged on: the day after its due date.
    public static func flaggedOn(dueOn: LocalDate) -> LocalDate { dueOn.adding(days: 1) }
}
