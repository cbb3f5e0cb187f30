import Foundation
import Logging
import PostgresNIO
import RegistryDomain

extension RegistryStore {
    /// Lost-to-follow-up proposals, oldest first: all, or one institution's, optionally by decision;
    /// after the proposal `after` (its date and id) when paging.
    public func lostProposals(institutionCode: String? = nil, decision: ProposalDecision? = nil,
                              after: (on: LocalDate, id: Int)? = nil, limit: Int = 1_000) async throws -> [LostProposal] {
        try await database.read { c in
            try await Self.lostProposals(c.query("""
                SELECT \(unescaped: Self.proposalColumns) FROM lost_proposal lp JOIN institution i ON i.id = lp.institution_id
                WHERE (\(institutionCode)::text IS NULL OR i.code = \(institutionCode))
                  AND (\(decision?.rawValue)::text IS NULL OR lp.decision = \(decision?.rawValue))
                  AND (lp.proposed_on, lp.id) > (\(after?.on ?? LocalDate(dayNumber: -100_000)), \(after?.id ?? 0))
                ORDER BY lp.proposed_on, lp.id LIMIT \(limit)
                """, logger: logger))
        }
    }

    /// One proposal.
    public func lostProposal(id: Int) async throws -> LostProposal {
        try await database.read { c in try await Self.lostProposal(id: id, connection: c, logger: logger, lock: false) }
    }

    /// Confirms a pending proposal: records the patient's loss to follow-up on `date` through the
    /// same status-change code as `registry patient lost` (open follow-ups due later stop), and the
    /// decision, in one transaction. Refused when the proposal is decided or the patient is no
    /// longer active, or when `actingInstitution` does not hold the patient.
    public func confirmLostProposal(id: Int, on date: LocalDate, reason: String, actingInstitution: String? = nil, actor: String) async throws -> LostProposal {
        try Rules.eventDate(date, field: "on", today: today())
        return try await database.transaction(actor: actor, reason: reason) { c in
            let proposal = try await Self.pendingProposal(id: id, actingInstitution: actingInstitution, connection: c, logger: logger)
            let change = try await Self.recordStatusChange(.lost, patientID: proposal.patientID, on: date, reason: reason, connection: c, logger: logger)
            try await c.query("""
                UPDATE lost_proposal SET decision = 'confirmed', decided_on = \(date), decided_by = \(actor), reason = \(reason),
                       status_change_id = \(change.id)
                WHERE id = \(id)
                """, logger: logger)
            return try await Self.lostProposal(id: id, connection: c, logger: logger, lock: false)
        }
    }

    /// Rejects a pending proposal (the institution is still in contact); the patient is unchanged.
    /// The job proposes again only after a further follow-up is missed.
    public func rejectLostProposal(id: Int, reason: String, actingInstitution: String? = nil, actor: String) async throws -> LostProposal {
        let date = today()
        return try await database.transaction(actor: actor, reason: reason) { c in
            _ = try await Self.pendingProposal(id: id, actingInstitution: actingInstitution, connection: c, logger: logger)
            try await c.query("""
                UPDATE lost_proposal SET decision = 'rejected', decided_on = \(date), decided_by = \(actor), reason = \(reason) WHERE id = \(id)
                """, logger: logger)
            return try await Self.lostProposal(id: id, connection: c, logger: logger, lock: false)
        }
    }

    static func pendingProposal(id: Int, actingInstitution: String?, connection c: PostgresConnection, logger: Logger) async throws -> LostProposal {
        let proposal = try await lostProposal(id: id, connection: c, logger: logger, lock: true)
        if let acting = actingInstitution, acting != proposal.institutionCode {
            throw RegistryError.notFound("proposal", "institution \(acting) has no lost-to-follow-up proposal with id \(id)")
        }
        guard proposal.decision == .pending else {
            throw RegistryError.conflict("proposal", "proposal \(id) was already \(proposal.decision.rawValue) on \(proposal.decidedOn?.description ?? "?"); only a pending proposal can be decided")
        }
        return proposal
    }

    static func lostProposal(id: Int, connection c: PostgresConnection, logger: Logger, lock: Bool) async throws -> LostProposal {
        let rows = try await c.query("""
            SELECT \(unescaped: proposalColumns) FROM lost_proposal lp JOIN institution i ON i.id = lp.institution_id
            WHERE lp.id = \(id) \(unescaped: lock ? "FOR UPDATE OF lp" : "")
            """, logger: logger)
        guard let proposal = try await lostProposals(rows).first else {
            throw RegistryError.notFound("proposal", "no lost-to-follow-up proposal has id \(id)", hint: "list them with: registry jobs proposal list")
        }
        return proposal
    }

    static let proposalColumns = "lp.id, lp.patient_id, i.code, lp.proposed_on, lp.missed_count, lp.decision, lp.decided_on, lp.decided_by, lp.reason, lp.status_change_id"

    static func lostProposals(_ rows: PostgresRowSequence) async throws -> [LostProposal] {
        var out: [LostProposal] = []
        for try await (id, patient, inst, proposedOn, missed, decision, decidedOn, decidedBy, reason, change)
            in rows.decode((Int, Int, String, LocalDate, Int32, String, LocalDate?, String?, String?, Int?).self) {
            out.append(LostProposal(id: id, patientID: patient, institutionCode: inst, proposedOn: proposedOn, missedCount: Int(missed),
                                    decision: ProposalDecision(rawValue: decision)!, decidedOn: decidedOn, decidedBy: decidedBy,
                                    reason: reason, statusChangeID: change))
        }
        return out
    }
}
