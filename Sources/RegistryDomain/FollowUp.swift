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
    /// Withdrawn from the schedule: the administration that made it was voided as entered in error.
    /// Never owed, overdue, listed as due or counted as expected again.
    case voided

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
    /// Where it stands beyond its status, as the registry knows it.
    public var state: FollowUpProgress

    public init(id: FollowUpID, administrationID: AdministrationID, patientID: PatientID, institutionCode: String, sequence: Int, label: String,
                due: LocalDate, windowStart: LocalDate, windowEnd: LocalDate, contactType: ContactType, status: FollowUpStatus,
                state: FollowUpProgress = FollowUpProgress()) {
        self.id = id; self.administrationID = administrationID; self.patientID = patientID
        self.institutionCode = institutionCode; self.sequence = sequence; self.label = label; self.due = due
        self.windowStart = windowStart; self.windowEnd = windowEnd; self.contactType = contactType; self.status = status
        self.state = state
    }

    /// What a coordinator reads in a listing: "overdue 120 days (since 2025-07-26, escalation 2)",
    /// "completed 2025-07-10, in window", "not done: unreachable", "missed on 2026-07-26".
    public var stateText: String {
        switch status {
        case .scheduled:
            guard state.daysOverdue > 0 else { return "scheduled" }
            var text = "overdue \(state.daysOverdue) day\(state.daysOverdue == 1 ? "" : "s")"
            var details: [String] = []
            if let since = state.overdueSince { details.append("flagged \(since)") }
            if state.escalationLevel > 0 { details.append("escalation \(state.escalationLevel)") }
            if !details.isEmpty { text += " (" + details.joined(separator: ", ") + ")" }
            return text
        case .completed:
            return "completed" + (state.completedOn.map { " \($0)" } ?? "") + (state.timing.map { ", \($0.rawValue)" } ?? "")
        case .notDone: return "not done" + (state.notDoneReason.map { ": \($0.rawValue)" } ?? "")
        case .notRequired: return "not required"
        case .missed: return "missed" + (state.missedOn.map { " on \($0)" } ?? "")
        case .voided: return "withdrawn: administration \(administrationID) voided"
        }
    }
}

/// A follow-up's progress: when it was completed and how it fell against the window, why it was
/// not done, and the nightly job's overdue flag, escalation and missed date.
public struct FollowUpProgress: Codable, Equatable, Sendable {
    public var completedOn: LocalDate?
    public var timing: VisitTiming?
    public var notDoneReason: NotDoneReason?
    /// The day the nightly job first found it overdue.
    public var overdueSince: LocalDate?
    /// Days since its window closed, on the day it was read (0 unless it is overdue now: `Overdue`).
    public var daysOverdue: Int
    public var escalationLevel: Int
    public var missedOn: LocalDate?

    public init(completedOn: LocalDate? = nil, timing: VisitTiming? = nil, notDoneReason: NotDoneReason? = nil, overdueSince: LocalDate? = nil,
                daysOverdue: Int = 0, escalationLevel: Int = 0, missedOn: LocalDate? = nil) {
        self.completedOn = completedOn; self.timing = timing; self.notDoneReason = notDoneReason; self.overdueSince = overdueSince
        self.daysOverdue = daysOverdue; self.escalationLevel = escalationLevel; self.missedOn = missedOn
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
