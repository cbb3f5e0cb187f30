/// One line of an institution's worklist: a follow-up that is overdue, or open now or due in the next days.
public struct WorklistEntry: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case overdue, dueSoon = "due-soon" }
    public var kind: Kind
    public var followUpID: FollowUpID
    public var patientID: PatientID
    public var label: String
    public var dueOn: LocalDate
    public var windowStart: LocalDate
    public var windowEnd: LocalDate
    /// Days since the window closed (overdue only, else 0).
    public var daysOverdue: Int
    /// The nightly job's escalation level (0 until it has escalated).
    public var escalationLevel: Int
    /// The patient was transferred in: the dose was given at another institution, which owed this follow-up before.
    public var transferredIn: Bool

    /// Makes an entry.
    public init(kind: Kind, followUpID: FollowUpID, patientID: PatientID, label: String, dueOn: LocalDate, windowStart: LocalDate, windowEnd: LocalDate,
                daysOverdue: Int, escalationLevel: Int, transferredIn: Bool = false) {
        self.kind = kind; self.followUpID = followUpID; self.patientID = patientID; self.label = label; self.dueOn = dueOn
        self.windowStart = windowStart; self.windowEnd = windowEnd; self.daysOverdue = daysOverdue; self.escalationLevel = escalationLevel
        self.transferredIn = transferredIn
    }

    /// Where the list continues after this entry: overdue first by window end, then due soon by due date.
    public var position: WorklistPosition {
        WorklistPosition(section: kind == .overdue ? 0 : 1, on: kind == .overdue ? windowEnd : dueOn, id: followUpID)
    }
}

/// A place in a worklist, for paging.
public struct WorklistPosition: Equatable, Sendable {
    public var section: Int
    public var on: LocalDate
    public var id: FollowUpID
    public init(section: Int, on: LocalDate, id: FollowUpID) { self.section = section; self.on = on; self.id = id }
}
