/// Where a scheduled follow-up stands.
public enum FollowUpStatus: String, Codable, CaseIterable, Sendable {
    /// Expected, no data yet.
    case scheduled
    /// Data received.
    case completed
    /// Closed by the site without data (refused, unreachable, ...).
    case notDone = "not-done"
    /// No longer expected (after death, withdrawal or while lost to follow-up).
    case notRequired = "not-required"
    /// Overdue for longer than the registry's limit; the nightly job closes it as missed.
    case missed

    /// Still owed by the site that holds the patient: scheduled (overdue or not) or missed, which a
    /// late visit can still complete or the site close as not done.
    public var isOwed: Bool { self == .scheduled || self == .missed }
}

/// One scheduled time point of one administration.
public struct FollowUp: Codable, Equatable, Sendable {
    public var id: FollowUpID
    public var administrationID: AdministrationID
    public var patientID: PatientID
    public var institutionCode: String
    public var sequence: Int
    public var label: String
    public var due: LocalDate
    public var windowStart: LocalDate
    public var windowEnd: LocalDate
    public var contactType: ContactType
    public var status: FollowUpStatus

    public init(id: FollowUpID, administrationID: AdministrationID, patientID: PatientID, institutionCode: String, sequence: Int, label: String,
                due: LocalDate, windowStart: LocalDate, windowEnd: LocalDate, contactType: ContactType, status: FollowUpStatus) {
        self.id = id; self.administrationID = administrationID; self.patientID = patientID
        self.institutionCode = institutionCode; self.sequence = sequence; self.label = label; self.due = due
        self.windowStart = windowStart; self.windowEnd = windowEnd; self.contactType = contactType; self.status = status
    }
}

/// A follow-up to be written, before it has an id.
public struct PlannedFollowUp: Hashable, Sendable {
    public var sequence: Int
    public var label: String
    public var due: LocalDate
    public var windowStart: LocalDate
    public var windowEnd: LocalDate
    public var contactType: ContactType
}

/// Generates follow-up schedules. The one place that turns a protocol and an anchor date into due
/// dates and windows; storage writes what it returns.
public enum FollowUpSchedule {
    /// Every time point of a protocol anchored on an administration date (Seoul calendar).
    public static func plan(protocol p: FollowUpProtocol, anchor: LocalDate) -> [PlannedFollowUp] {
        p.timePoints.enumerated().map { index, tp in
            let due = tp.offset.due(from: anchor)
            return PlannedFollowUp(sequence: index + 1, label: tp.label, due: due,
                                   windowStart: due.adding(days: -tp.windowBefore),
                                   windowEnd: due.adding(days: tp.windowAfter),
                                   contactType: tp.contactType)
        }
    }
}
