/// What an institution decided about a lost-to-follow-up proposal.
public enum ProposalDecision: String, Codable, CaseIterable, Sendable {
    case pending, confirmed, rejected
}

/// The nightly job's proposal that a patient is lost to follow-up. The job never changes a
/// patient's status: the institution confirms (recording the status change) or rejects it.
public struct LostProposal: Codable, Equatable, Sendable {
    public var id: LostProposalID
    public var patientID: PatientID
    public var institutionCode: String
    /// The day the last of the consecutive missed follow-ups was marked missed.
    public var proposedOn: LocalDate
    /// Consecutive missed follow-ups behind the proposal.
    public var missedCount: Int
    public var decision: ProposalDecision
    public var decidedOn: LocalDate?
    public var decidedBy: String?
    public var reason: String?
    /// The status change a confirmation recorded.
    public var statusChangeID: StatusChangeID?

    public init(id: LostProposalID, patientID: PatientID, institutionCode: String, proposedOn: LocalDate, missedCount: Int, decision: ProposalDecision,
                decidedOn: LocalDate?, decidedBy: String?, reason: String?, statusChangeID: StatusChangeID?) {
        self.id = id; self.patientID = patientID; self.institutionCode = institutionCode; self.proposedOn = proposedOn
        self.missedCount = missedCount; self.decision = decision; self.decidedOn = decidedOn; self.decidedBy = decidedBy
        self.reason = reason; self.statusChangeID = statusChangeID
    }
}
