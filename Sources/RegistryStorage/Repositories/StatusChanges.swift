import PostgresNIO
import RegistryDomain

/// Patients' dated status changes, and their effect on follow-ups.
public struct StatusChanges: Repository {
    let tx: Transaction

    /// Records a death, consent withdrawal, loss to follow-up, a lost patient found again, or a
    /// transfer to another active institution, and applies its effect (the domain's
    /// `StatusChangeEffect`) to the patient and their follow-ups.
    public func change(_ kind: StatusChangeKind, patientID: PatientID, on date: LocalDate, reason: String, transferTo: String? = nil) async throws -> StatusChange {
        let reason = try Rules.reason(reason, field: kind == .death ? "cause" : "reason")
        try Rules.eventDate(date, field: "on", today: tx.today)
        try await tx.because(reason)
        let patient = try await tx.patients.patient(id: patientID, lock: true)
        return try await record(kind, patientID: patientID, on: date, reason: reason, transferTo: transferTo, locked: patient)
    }

    /// The status change itself, inside the caller's transaction (also used by grade 5 events and
    /// confirmed lost-to-follow-up proposals).
    /// `locked`: the patient, when the caller has already read and locked them in this transaction.
    public func record(_ kind: StatusChangeKind, patientID: PatientID, on date: LocalDate, reason: String, transferTo: String? = nil, locked: Patient? = nil,
                adverseEventID: AdverseEventID? = nil, visitID: VisitID? = nil) async throws -> StatusChange {
        let patient: Patient
        if let locked { patient = locked } else { patient = try await tx.patients.patient(id: patientID, lock: true) }
        let facts = try await c.query("""
            SELECT p.institution_id, p.status_on, (SELECT min(administered_on) FROM administration WHERE patient_id = p.id AND voided_on IS NULL),
                   (SELECT max(id) FROM patient_status_change WHERE patient_id = p.id AND kind = 'lost' AND voided_on IS NULL),
                   (SELECT max(visit_on) FROM visit WHERE patient_id = p.id AND vital_status = 'alive' AND voided_on IS NULL),
                   \(unescaped: Self.lastRecorded)
            FROM patient p WHERE p.id = \(patientID)
            """, logger: logger)
        let (institutionID, statusOn, first, lastLoss, lastSeenAlive, lastRecorded, lastDose)
            = try await facts.decode((Int, LocalDate?, LocalDate?, StatusChangeID?, LocalDate?, LocalDate?, LocalDate?).self).one("patient \(patientID)")
        try StatusRules.check(kind, patient: patient, on: date, statusOn: statusOn, firstAdministration: first, lastSeenAlive: lastSeenAlive,
                              lastRecorded: lastRecorded, lastDose: lastDose)
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
            INSERT INTO patient_status_change (patient_id, institution_id, kind, effective_on, reason, from_institution_id, to_institution_id,
                                               adverse_event_id, visit_id)
            VALUES (\(patientID), \(institutionID), \(kind), \(date), \(reason),
                    \(kind == .transfer ? institutionID : nil), \(toInstitutionID), \(adverseEventID), \(visitID))
            RETURNING id
            """, logger: logger).decode(StatusChangeID.self).one("the new status change")
        let effect = StatusChangeEffect.of(kind, on: date, lastLoss: lastLoss)
        let affected = try await apply(effect, patientID: patientID, changeID: changeID, statusOn: date, toInstitutionID: toInstitutionID)
        let change = try await self.change(id: changeID, patientID: patientID)
        if kind == .transfer {
            // The follow-ups and the record moved first, the patient last: under row-level security
            // (API requests) an institution sees a patient's rows only while it holds the patient.
            // Checks that this transaction recorded the transfer (schema/0006).
            try await c.query("SELECT registry_transfer_patient(\(patientID), \(toInstitutionID))", logger: logger)
        }
        return change.with(affected: affected)
    }

    /// The latest standing data recorded about patient `p` (a visit's date, an adverse event's onset), a column for the queries above.
    static let lastRecorded = """
        greatest((SELECT max(visit_on) FROM visit WHERE patient_id = p.id AND voided_on IS NULL),
                 (SELECT max(onset_on) FROM adverse_event WHERE patient_id = p.id AND voided_on IS NULL)),
        (SELECT max(administered_on) FROM administration WHERE patient_id = p.id AND voided_on IS NULL)
        """

    /// Applies a status change's effect (the domain's `StatusChangeEffect`, or its undoing) to the
    /// patient and their follow-ups; returns how many follow-ups it changed. `statusOn`: the
    /// patient's status date when the effect sets the status; `toInstitutionID`: where a move goes.
    func apply(_ effect: StatusChangeEffect, patientID: PatientID, changeID: StatusChangeID, statusOn: LocalDate?, toInstitutionID: Int?) async throws -> Int {
        if let status = effect.patientStatus {
            try await c.query("UPDATE patient SET status = \(status), status_on = \(statusOn) WHERE id = \(patientID)", logger: logger)
        }
        switch effect.followUps {
        case .suspend(let dueAfter):
            return try await c.query("""
                UPDATE follow_up SET status = 'not-required', suspended_by = \(changeID)
                WHERE patient_id = \(patientID) AND status = 'scheduled' AND due_on > \(dueAfter)
                RETURNING 1
                """, logger: logger).count()
        case .restore(let suspendedBy, let windowEndFrom):
            return try await c.query("""
                UPDATE follow_up SET status = 'scheduled', suspended_by = NULL
                WHERE patient_id = \(patientID) AND status = 'not-required' AND suspended_by = \(suspendedBy) AND window_end >= \(windowEndFrom)
                RETURNING 1
                """, logger: logger).count()
        case .move:
            guard let toInstitutionID else { return 0 }
            return try await c.query("""
                UPDATE follow_up SET institution_id = \(toInstitutionID)
                WHERE patient_id = \(patientID) AND status IN ('scheduled', 'missed')
                RETURNING 1
                """, logger: logger).count()
        }
    }

    /// Voids a status change entered in error, with the reason: the patient's latest standing
    /// change only, and not a death that stands on a grade 5 event or a visit recording it (correct
    /// or void those instead). What the change did is taken back (`StatusChangeUndo`); what that
    /// changes is refused unless `confirm`, and returned.
    public func void(id: StatusChangeID, reason: String, confirm: Bool) async throws -> (StatusChange, [Consequence]) {
        let reason = try Rules.reason(reason)
        try await tx.because(reason)
        let patientID = try await patientOf(id)
        let locked = try await tx.patients.lock(patientID)
        let before = try await tx.patients.state(id: patientID)
        let change = try await voidStanding(id, patientID: patientID, reason: reason, cause: nil)
        let consequences: [Consequence]
        if change.kind == .transfer, let from = change.fromInstitution {
            // The acting (receiving) institution may no longer see the patient: said from what was done.
            consequences = [Consequence(.patientReturned, "patient \(patientID) and \(change.followUpsAffected) follow-up\(change.followUpsAffected == 1 ? "" : "s") still owed go back to \(from), which held the patient before; \(change.toInstitution ?? "the receiving institution") no longer sees them")]
        } else {
            consequences = Consequence.between(before, try await tx.patients.state(id: patientID))
        }
        try consequences.confirmed(confirm, doing: "voiding status change \(id)")
        return (change, consequences)
    }

    /// What caused a status change being voided along with its cause: the change is then not
    /// refused for standing on it.
    enum Cause {
        case adverseEvent(AdverseEventID), visit(VisitID)
        var adverseEvent: AdverseEventID? { if case .adverseEvent(let id) = self { id } else { nil } }
        var visit: VisitID? { if case .visit(let id) = self { id } else { nil } }
    }

    /// Voids a standing status change and takes back its effect, in the caller's transaction (the
    /// patient locked). `cause`: the record voided or corrected that the change follows.
    func voidStanding(_ id: StatusChangeID, patientID: PatientID, reason: String, cause: Cause?) async throws -> StatusChange {
        let history = try await of(patientID: patientID)
        guard let change = history.first(where: { $0.id == id }) else { throw Self.unknown(id) }
        let standing = history.filter { $0.void == nil }
        let later = standing.filter { $0.id > id }
        // A death stands while a grade 5 event (death related to the event) or a visit recording it does:
        // the one it was recorded from, or any other.
        var causingEvent: AdverseEventID? = nil
        var deadAt: VisitID? = nil
        if change.kind == .death {
            causingEvent = try await c.query("""
                SELECT min(id) FROM adverse_event WHERE patient_id = \(patientID) AND grade = 5 AND voided_on IS NULL
                   AND id IS DISTINCT FROM \(cause?.adverseEvent)
                """, logger: logger).decode(AdverseEventID?.self).one("grade 5 events")
            let skip = cause?.visit
            deadAt = try await c.query("""
                SELECT min(id) FROM visit WHERE patient_id = \(patientID) AND vital_status = 'dead' AND voided_on IS NULL AND id IS DISTINCT FROM \(skip)
                """, logger: logger).decode(VisitID?.self).one("visits recording death")
        }
        var recordedAtReceiver = false
        if change.kind == .transfer {
            recordedAtReceiver = try await c.query("""
                SELECT EXISTS (SELECT 1 FROM visit WHERE patient_id = \(patientID) AND institution_id = s.to_institution_id AND voided_on IS NULL)
                    OR EXISTS (SELECT 1 FROM adverse_event WHERE patient_id = \(patientID) AND institution_id = s.to_institution_id AND voided_on IS NULL)
                    OR EXISTS (SELECT 1 FROM administration WHERE patient_id = \(patientID) AND institution_id = s.to_institution_id AND voided_on IS NULL)
                FROM patient_status_change s WHERE s.id = \(id)
                """, logger: logger).decode(Bool.self).one("records since the transfer")
        }
        let previous = standing.last { $0.id < id && $0.kind != .transfer }
        var seenSinceLoss: LocalDate? = nil
        if change.kind == .found, let loss = previous {
            // Seen at a visit, or given a dose (only an active patient is dosed).
            seenSinceLoss = try await c.query("""
                SELECT greatest((SELECT max(visit_on) FROM visit WHERE patient_id = \(patientID) AND vital_status = 'alive' AND voided_on IS NULL AND visit_on > \(loss.effectiveOn)),
                                (SELECT max(administered_on) FROM administration WHERE patient_id = \(patientID) AND voided_on IS NULL AND administered_on > \(loss.effectiveOn)))
                """, logger: logger).decode(LocalDate?.self).one("visits and doses since the loss")
        }
        try VoidRules.checkVoid(change, later: later, causingEvent: causingEvent, deadAt: deadAt, recordedAtReceiver: recordedAtReceiver,
                                seenSinceLoss: seenSinceLoss)
        let undo = StatusChangeUndo.of(change, previous: previous)
        try await c.query("""
            UPDATE patient_status_change SET voided_on = \(tx.today), void_reason = \(reason) WHERE id = \(id)
            """, logger: logger)
        var back: Int? = nil
        if let code = undo.returnTo { back = try await tx.institutions.idAndStatus(code: code, field: "from").id }
        var voided = change
        voided.void = VoidMark(voidedOn: tx.today, reason: reason)
        voided.followUpsAffected = try await apply(undo.effect, patientID: patientID, changeID: undo.suspendingChange, statusOn: undo.statusOn,
                                                   toInstitutionID: back)
        if let back {
            // What is still owed went back first, the patient last (schema/0011). Under row-level
            // security the acting institution no longer sees the patient from here on.
            try await c.query("SELECT registry_return_patient(\(patientID), \(back))", logger: logger)
        }
        return voided
    }

    /// Corrects a status change entered with a wrong date or wording, with the reason. The wording
    /// (`details`: the cause of death or the reason as recorded) of any standing change; the date of
    /// the patient's latest standing change only, checked as a new change would be, and what it did
    /// to follow-ups redone from the new date. A death from a grade 5 event or a visit takes its date
    /// from that record: correct the record. What the correction changes besides the change itself is
    /// refused unless `confirm`, and returned.
    public func correct(id: StatusChangeID, _ correction: StatusChangeCorrection, confirm: Bool) async throws -> (StatusChange, [Consequence]) {
        let (date, details, reason) = (correction.on, correction.details, correction.reason)
        try await tx.because(reason)
        let patientID = try await patientOf(id)
        let locked = try await tx.patients.lock(patientID)
        guard let change = try await of(patientID: patientID).first(where: { $0.id == id }) else { throw Self.unknown(id) }
        try VoidRules.checkStanding(change.void, record: "status change \(id)")
        let newDate = date.flatMap { $0 == change.effectiveOn ? nil : $0 }
        guard newDate != nil || (details != nil && details != change.reason) else {
            throw RegistryError.invalid("on", "nothing to correct: give a different date (on) or wording (details) than status change \(id) has")
        }
        if newDate != nil, let ae = change.adverseEventID {
            throw RegistryError.conflict("on", "this death takes its date from grade 5 adverse event \(ae); correct that event's outcome date and the death follows",
                                         remedy: .correctAdverseEvent(id: ae))
        }
        if newDate != nil, let visit = change.visitID {
            throw RegistryError.conflict("on", "this death takes its date from visit \(visit); correct that visit's date and the death follows",
                                         remedy: .correctVisit(id: visit))
        }
        return try await tx.patients.confirming(patientID, confirm: confirm, doing: "correcting status change \(id)") {
            if let details { try await c.query("UPDATE patient_status_change SET reason = \(details) WHERE id = \(id)", logger: logger) }
            if let newDate { try await redateStanding(id, patientID: patientID, to: newDate) }
            return (try await self.change(id: id, patientID: patientID), [])
        }
    }

    /// Moves the patient's latest standing status change to another date, in the caller's
    /// transaction (the patient locked): its effect is taken back, the change checked on the new
    /// date as a new one would be, and its effect applied again from there.
    func redateStanding(_ id: StatusChangeID, patientID: PatientID, to date: LocalDate) async throws {
        let history = try await of(patientID: patientID)
        guard let change = history.first(where: { $0.id == id }) else { throw Self.unknown(id) }
        let standing = history.filter { $0.void == nil }
        if let next = standing.first(where: { $0.id > id }) {
            throw RegistryError.conflict("on", "\(next.kind.rawValue) on \(next.effectiveOn) (status change \(next.id)) was recorded after this \(change.kind.rawValue); its date cannot move past it",
                                         remedy: .voidStatusChange(id: next.id))
        }
        let previous = standing.last { $0.id < id && $0.kind != .transfer }
        if change.kind == .found, date > change.effectiveOn, let loss = previous,
           let seen = try await c.query("""
               SELECT greatest((SELECT max(visit_on) FROM visit WHERE patient_id = \(patientID) AND vital_status = 'alive' AND voided_on IS NULL
                                   AND visit_on > \(loss.effectiveOn) AND visit_on < \(date)),
                               (SELECT max(administered_on) FROM administration WHERE patient_id = \(patientID) AND voided_on IS NULL
                                   AND administered_on > \(loss.effectiveOn) AND administered_on < \(date)))
               """, logger: logger).decode(LocalDate?.self).one("visits and doses since the loss") {
            // The patient would be lost until after a visit that saw them or a dose (given only to an active patient):
            // the same contradiction a void of the found would make.
            throw RegistryError.invalid("on", "patient \(patientID) was seen at a visit or given a dose on \(seen), after the loss on \(loss.effectiveOn); the found cannot be dated after it",
                                        hint: "correct or void that visit or dose first if it was recorded wrongly")
        }
        if change.kind != .transfer {
            let undo = StatusChangeUndo.of(change, previous: previous)
            _ = try await apply(undo.effect, patientID: patientID, changeID: undo.suspendingChange, statusOn: undo.statusOn, toInstitutionID: nil)
        }
        let patient = try await tx.patients.patient(id: patientID, lock: true)
        let facts = try await c.query("""
            SELECT (SELECT min(administered_on) FROM administration WHERE patient_id = p.id AND voided_on IS NULL),
                   (SELECT max(visit_on) FROM visit WHERE patient_id = p.id AND vital_status = 'alive' AND voided_on IS NULL),
                   \(unescaped: Self.lastRecorded)
            FROM patient p WHERE p.id = \(patientID)
            """, logger: logger)
        let (first, lastSeenAlive, lastRecorded, lastDose) = try await facts.decode((LocalDate?, LocalDate?, LocalDate?, LocalDate?).self).one("patient \(patientID)")
        // Checked against the patient as the undoing left them, as a new change would be.
        try StatusRules.check(change.kind, patient: patient, on: date, statusOn: previous?.effectiveOn, firstAdministration: first, lastSeenAlive: lastSeenAlive,
                              lastRecorded: lastRecorded, lastDose: lastDose)
        try await c.query("UPDATE patient_status_change SET effective_on = \(date) WHERE id = \(id)", logger: logger)
        if change.kind != .transfer {
            let lastLoss = standing.last { $0.id < id && $0.kind == .lost }?.id
            _ = try await apply(StatusChangeEffect.of(change.kind, on: date, lastLoss: lastLoss), patientID: patientID, changeID: id, statusOn: date,
                                toInstitutionID: nil)
        }
    }

    /// The patient a status change belongs to (one the caller may see).
    private func patientOf(_ id: StatusChangeID) async throws -> PatientID {
        guard let patientID = try await c.query("SELECT patient_id FROM patient_status_change WHERE id = \(id)", logger: logger)
            .decode(PatientID.self).firstElement() else { throw Self.unknown(id) }
        return patientID
    }

    static func unknown(_ id: StatusChangeID) -> RegistryError {
        .notFound("status-change", "no status change has id \(id)")
    }

    /// A patient's status history, oldest first, voided changes included (marked).
    public func of(patientID: PatientID) async throws -> [StatusChange] {
        var out: [StatusChange] = []
        for try await (id, kind, on, reason, from, to, affected, ae, visit, voidedOn, voidReason) in try await c.query("""
            SELECT s.id, s.kind, s.effective_on, s.reason, fi.code, ti.code,
                   (SELECT count(*) FROM follow_up f WHERE f.suspended_by = s.id), s.adverse_event_id, s.visit_id, s.voided_on, s.void_reason
            FROM patient_status_change s
            LEFT JOIN institution fi ON fi.id = s.from_institution_id LEFT JOIN institution ti ON ti.id = s.to_institution_id
            WHERE s.patient_id = \(patientID) ORDER BY s.id
            """, logger: logger).decode((StatusChangeID, StatusChangeKind, LocalDate, String, String?, String?, Int, AdverseEventID?, VisitID?, LocalDate?, String?).self) {
            out.append(StatusChange(id: id, patientID: patientID, kind: kind, effectiveOn: on, reason: reason,
                                    fromInstitution: from, toInstitution: to, followUpsAffected: affected, adverseEventID: ae, visitID: visit,
                                    void: VoidMark.stored(voidedOn, voidReason)))
        }
        return out
    }

    /// One status change (one the caller may see).
    public func change(id: StatusChangeID) async throws -> StatusChange {
        try await change(id: id, patientID: try await patientOf(id))
    }

    private func change(id: StatusChangeID, patientID: PatientID) async throws -> StatusChange {
        guard let change = try await of(patientID: patientID).first(where: { $0.id == id }) else { throw Self.unknown(id) }
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

extension VoidMark {
    /// The mark from its stored columns (both set, or neither).
    static func stored(_ voidedOn: LocalDate?, _ reason: String?) -> VoidMark? {
        guard let voidedOn, let reason else { return nil }
        return VoidMark(voidedOn: voidedOn, reason: reason)
    }
}
