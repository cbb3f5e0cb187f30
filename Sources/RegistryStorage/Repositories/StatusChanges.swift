import PostgresNIO
import RegistryDomain

/// Patients' dated status changes, and their effect on follow-ups.
public struct StatusChanges: Repository {
    let tx: Transaction

    /// Records a death, consent withdrawal, loss to follow-up, a lost patient found again, or a
    /// transfer to another active institution, and applies its effect (the domain's
    /// `StatusChangeEffect`) to the patient and their follow-ups.
    public func change(_ kind: StatusChangeKind, patientID: PatientID, on date: LocalDate, reason: String, transferTo: String? = nil,
                       actingInstitution: String? = nil) async throws -> StatusChange {
        let reason = try Rules.reason(reason, field: kind == .death ? "cause" : "reason")
        try Rules.eventDate(date, field: "on", today: tx.today)
        try await tx.because(reason)
        let patient = try await tx.patients.patient(id: patientID, lock: true)
        if let acting = actingInstitution, acting != patient.institutionCode {
            throw RegistryError.notFound("patient", "institution \(acting) holds no patient with id \(patientID)")
        }
        return try await record(kind, patientID: patientID, on: date, reason: reason, transferTo: transferTo, locked: patient)
    }

    /// The status change itself, inside the caller's transaction (also used by grade 5 events and
    /// confirmed lost-to-follow-up proposals).
    /// `locked`: the patient, when the caller has already read and locked them in this transaction.
    func record(_ kind: StatusChangeKind, patientID: PatientID, on date: LocalDate, reason: String, transferTo: String? = nil, locked: Patient? = nil,
                adverseEventID: AdverseEventID? = nil) async throws -> StatusChange {
        let patient: Patient
        if let locked { patient = locked } else { patient = try await tx.patients.patient(id: patientID, lock: true) }
        let facts = try await c.query("""
            SELECT p.institution_id, p.status_on, (SELECT min(administered_on) FROM administration WHERE patient_id = p.id),
                   (SELECT max(id) FROM patient_status_change WHERE patient_id = p.id AND kind = 'lost'),
                   (SELECT max(visit_on) FROM visit WHERE patient_id = p.id AND vital_status = 'alive')
            FROM patient p WHERE p.id = \(patientID)
            """, logger: logger)
        let (institutionID, statusOn, first, lastLoss, lastSeenAlive)
            = try await facts.decode((Int, LocalDate?, LocalDate?, StatusChangeID?, LocalDate?).self).one("patient \(patientID)")
        try StatusRules.check(kind, patient: patient, on: date, statusOn: statusOn, firstAdministration: first, lastSeenAlive: lastSeenAlive)
        var toInstitutionID: Int? = nil
        if kind == .transfer {
            guard let code = transferTo else { throw RegistryError.invalid("to", "a transfer needs the receiving institution") }
            let receiving = try await tx.institutions.idAndStatus(code: code, field: "to")
            guard receiving.status == .active else {
                throw RegistryError.conflict("to", "institution \(code) is \(receiving.status.rawValue); patients can only be transferred to an active institution")
            }
            guard receiving.id != institutionID else { throw RegistryError.conflict("to", "patient \(patientID) is already held by \(code)") }
            toInstitutionID = receiving.id
        }
        let changeID = try await c.query("""
            INSERT INTO patient_status_change (patient_id, institution_id, kind, effective_on, reason, from_institution_id, to_institution_id, adverse_event_id)
            VALUES (\(patientID), \(institutionID), \(kind), \(date), \(reason),
                    \(kind == .transfer ? institutionID : nil), \(toInstitutionID), \(adverseEventID))
            RETURNING id
            """, logger: logger).decode(StatusChangeID.self).one("the new status change")
        let effect = StatusChangeEffect.of(kind, on: date, lastLoss: lastLoss)
        if let status = effect.patientStatus {
            try await c.query("UPDATE patient SET status = \(status), status_on = \(date) WHERE id = \(patientID)", logger: logger)
        }
        let affected: Int
        switch effect.followUps {
        case .suspend(let dueAfter):
            affected = try await c.query("""
                UPDATE follow_up SET status = 'not-required', suspended_by = \(changeID)
                WHERE patient_id = \(patientID) AND status = 'scheduled' AND due_on > \(dueAfter)
                RETURNING 1
                """, logger: logger).count()
        case .restore(let suspendedBy, let windowEndFrom):
            affected = try await c.query("""
                UPDATE follow_up SET status = 'scheduled', suspended_by = NULL
                WHERE patient_id = \(patientID) AND status = 'not-required' AND suspended_by = \(suspendedBy) AND window_end >= \(windowEndFrom)
                RETURNING 1
                """, logger: logger).count()
        case .move:
            affected = try await c.query("""
                UPDATE follow_up SET institution_id = \(toInstitutionID)
                WHERE patient_id = \(patientID) AND status IN ('scheduled', 'missed')
                RETURNING 1
                """, logger: logger).count()
        }
        let change = try await self.change(id: changeID, patientID: patientID)
        if kind == .transfer {
            // The follow-ups and the record moved first, the patient last: under row-level security
            // (API requests) an institution sees a patient's rows only while it holds the patient.
            // Checks that this transaction recorded the transfer (schema/0006).
            try await c.query("SELECT registry_transfer_patient(\(patientID), \(toInstitutionID))", logger: logger)
        }
        return change.with(affected: affected)
    }

    /// A patient's status history, oldest first.
    public func of(patientID: PatientID) async throws -> [StatusChange] {
        var out: [StatusChange] = []
        for try await (id, kind, on, reason, from, to, affected) in try await c.query("""
            SELECT s.id, s.kind, s.effective_on, s.reason, fi.code, ti.code,
                   (SELECT count(*) FROM follow_up f WHERE f.suspended_by = s.id)
            FROM patient_status_change s
            LEFT JOIN institution fi ON fi.id = s.from_institution_id LEFT JOIN institution ti ON ti.id = s.to_institution_id
            WHERE s.patient_id = \(patientID) ORDER BY s.id
            """, logger: logger).decode((StatusChangeID, StatusChangeKind, LocalDate, String, String?, String?, Int).self) {
            out.append(StatusChange(id: id, patientID: patientID, kind: kind, effectiveOn: on, reason: reason,
                                    fromInstitution: from, toInstitution: to, followUpsAffected: affected))
        }
        return out
    }

    private func change(id: StatusChangeID, patientID: PatientID) async throws -> StatusChange {
        guard let change = try await of(patientID: patientID).first(where: { $0.id == id }) else {
            throw RegistryError.notFound("status-change", "no status change has id \(id)")
        }
        return change
    }
}

extension StatusChange {
    func with(affected: Int) -> StatusChange {
        var copy = self
        copy.followUpsAffected = affected
        return copy
    }
}
