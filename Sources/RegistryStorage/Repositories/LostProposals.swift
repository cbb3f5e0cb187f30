import Foundation
import PostgresNIO
import RegistryDomain

/// Lost-to-follow-up proposals of the nightly job, decided by the institution.
public struct LostProposals: Repository {
    let tx: Transaction

    /// Lost-to-follow-up proposals, oldest first: all, or one institution's, optionally by decision;
    /// after the proposal `after` (its date and id) when paging.
    public func list(institutionCode: String? = nil, decision: ProposalDecision? = nil,
                     after: (on: LocalDate, id: Int)? = nil, limit: Int = 1_000) async throws -> [LostProposal] {
        try await Self.decode(c.query("""
            SELECT \(unescaped: Self.columns) FROM lost_proposal lp JOIN institution i ON i.id = lp.institution_id
            WHERE (\(institutionCode)::text IS NULL OR i.code = \(institutionCode))
              AND (\(decision)::text IS NULL OR lp.decision = \(decision))
              AND (lp.proposed_on, lp.id) > (\(after?.on ?? LocalDate(dayNumber: -100_000)), \(after?.id ?? 0))
            ORDER BY lp.proposed_on, lp.id LIMIT \(limit)
            """, logger: logger))
    }

    /// How many proposals await a decision (an institution's, or all).
    public func pendingCount(institutionCode: String? = nil) async throws -> Int {
        try await c.query("""
            SELECT count(*) FROM lost_proposal lp JOIN institution i ON i.id = lp.institution_id
            WHERE lp.decision = 'pending' AND (\(institutionCode)::text IS NULL OR i.code = \(institutionCode))
            """, logger: logger).decode(Int.self).one("a count")
    }

    /// One proposal.
    public func proposal(id: LostProposalID) async throws -> LostProposal {
        try await proposal(id: id, lock: false)
    }

    /// Confirms a pending proposal: records the patient's loss to follow-up on `date` through the
    /// same status-change code as a loss recorded by hand (open follow-ups due later stop), and the
    /// decision, in one transaction. Refused when the proposal is decided or the patient is no
    /// longer active.
    public func confirm(id: LostProposalID, on date: LocalDate, reason: String) async throws -> LostProposal {
        try Rules.eventDate(date, field: "on", today: tx.today)
        try await tx.because(reason)
        let proposal = try await pending(id: id)
        let change = try await tx.statusChanges.record(.lost, patientID: proposal.patientID, on: date, reason: reason)
        try await c.query("""
            UPDATE lost_proposal SET decision = 'confirmed', decided_on = \(date), decided_by = \(tx.actor), reason = \(reason),
                   status_change_id = \(change.id)
            WHERE id = \(id)
            """, logger: logger)
        return try await self.proposal(id: id)
    }

    /// Rejects a pending proposal (the institution is still in contact); the patient is unchanged.
    /// The job proposes again only after a further follow-up is missed.
    public func reject(id: LostProposalID, reason: String) async throws -> LostProposal {
        try await tx.because(reason)
        _ = try await pending(id: id)
        try await c.query("""
            UPDATE lost_proposal SET decision = 'rejected', decided_on = \(tx.today), decided_by = \(tx.actor), reason = \(reason) WHERE id = \(id)
            """, logger: logger)
        return try await proposal(id: id)
    }

    /// Withdraws the patient's pending proposal, if there is one, because what it was based on was
    /// voided (`why`): decided as rejected, in the caller's transaction. The job proposes again after
    /// a further follow-up is missed. Returns the consequence to show the user.
    func withdrawPending(patientID: PatientID, because why: String) async throws -> [Consequence] {
        let rows = try await c.query("""
            UPDATE lost_proposal SET decision = 'rejected', decided_on = \(tx.today), decided_by = \(tx.actor), reason = \("withdrawn: " + why)
            WHERE patient_id = \(patientID) AND decision = 'pending' RETURNING id
            """, logger: logger)
        var out: [Consequence] = []
        for try await id in rows.decode(LostProposalID.self) {
            out.append(Consequence(.lostProposalWithdrawn, "the pending lost-to-follow-up proposal \(id) for patient \(patientID) is withdrawn: \(why)", lostProposalID: id))
        }
        return out
    }

    private func pending(id: LostProposalID) async throws -> LostProposal {
        let proposal = try await proposal(id: id, lock: true)
        guard proposal.decision == .pending else {
            throw RegistryError.conflict("proposal", "proposal \(id) was already \(proposal.decision.rawValue) on \(proposal.decidedOn?.description ?? "?"); only a pending proposal can be decided")
        }
        return proposal
    }

    private func proposal(id: LostProposalID, lock: Bool) async throws -> LostProposal {
        let rows = try await c.query("""
            SELECT \(unescaped: Self.columns) FROM lost_proposal lp JOIN institution i ON i.id = lp.institution_id
            WHERE lp.id = \(id) \(unescaped: lock ? "FOR UPDATE OF lp" : "")
            """, logger: logger)
        guard let proposal = try await Self.decode(rows).first else {
            throw RegistryError.notFound("proposal", "no lost-to-follow-up proposal has id \(id)", remedy: .list(.lostProposals))
        }
        return proposal
    }

    static let columns = "lp.id, lp.patient_id, i.code, lp.proposed_on, lp.missed_count, lp.decision, lp.decided_on, lp.decided_by, lp.reason, lp.status_change_id"

    static func decode(_ rows: PostgresRowSequence) async throws -> [LostProposal] {
        var out: [LostProposal] = []
        for try await (id, patient, inst, proposedOn, missed, decision, decidedOn, decidedBy, reason, change)
            in rows.decode((LostProposalID, PatientID, String, LocalDate, Int32, ProposalDecision, LocalDate?, String?, String?, StatusChangeID?).self) {
            out.append(LostProposal(id: id, patientID: patient, institutionCode: inst, proposedOn: proposedOn, missedCount: Int(missed),
                                    decision: decision, decidedOn: decidedOn, decidedBy: decidedBy,
                                    reason: reason, statusChangeID: change))
        }
        return out
    }
}
