/// When a follow-up is overdue: the registry's one definition, applied to one record here and in
/// bulk by the SQL function `follow_up_overdue` (schema/0003), which tests check against this.
public enum Overdue {
    /// A follow-up is overdue on a local (Asia/Seoul) date when its window closed before that date,
    /// it has no data and is not closed (still `scheduled`), and the patient is active. Never on the
    /// due date itself, never while the window is open, never for a patient no longer followed.
    public static func isOverdue(windowEnd: LocalDate, status: FollowUpStatus, patientStatus: PatientStatus, on date: LocalDate) -> Bool {
        windowEnd < date && status == .scheduled && patientStatus == .active
    }

    /// Days overdue on a date (0 when not overdue): counted from the day after the window closed.
    public static func daysOverdue(windowEnd: LocalDate, status: FollowUpStatus, patientStatus: PatientStatus, on date: LocalDate) -> Int {
        isOverdue(windowEnd: windowEnd, status: status, patientStatus: patientStatus, on: date) ? windowEnd.days(until: date) : 0
    }
}

/// Where a visit fell against its follow-up's window.
public enum VisitTiming: String, Codable, CaseIterable, Sendable {
    case inWindow = "in-window", early, late

    /// The timing of a visit date against a window.
    public static func of(_ date: LocalDate, windowStart: LocalDate, windowEnd: LocalDate) -> VisitTiming {
        date < windowStart ? .early : date > windowEnd ? .late : .inWindow
    }
}
