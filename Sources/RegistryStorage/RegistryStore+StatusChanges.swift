import Foundation
import Logging
import PostgresNIO
import RegistryDomain

extension RegistryStore {
    /// Records a death, consent withdrawal, loss to follow-up, a lost patient found again, or a
    /// transfer to another active institution, and applies it to the patient's follow-ups:
    /// - death, withdrawal, lost: open follow-ups due after the date become not required;
    /// - found: the follow-ups the loss suspended whose windows are still open are scheduled again;
    /// - transfer: open follow-ups whose windows have not closed move to the new institution.
    public func changeStatus(_ kind: StatusChangeKind, patientID: Int, on date: LocalDate, reason: String, transferTo: String? = nil,
                             actingInstitution: String? = nil, actor: String) async throws -> StatusChange {
        let reason = try Rules.reason(reason, field: kind == .death ? "cause" : "reason")
        try Rules.eventDate(date, field: "on", today: today())
        return try await database.transaction(actor: actor, reason: reason) { c in
            let patient = try await Self.patient(id: patientID, connection: c, logger: logger, lock: true)
            if let acting = actingInstitution, acting != patient.institutionCode {
                throw RegistryError.notFound("patient", "institution \(acting) holds no patient with id \(patientID)")
            }
            return try await Self.recordStatusChange(kind, patientID: patientID, on: date, reason: reason, transferTo: transferTo,
                                                     connection: c, logger: logger)
        }
    }

    /// The status change itself, inside a caller's transaction (also used by grade 5 events).
    static func recordStatusChange(_ kind: StatusChangeKind, patientID: Int, on date: LocalDate, reason: String, transferTo: String? = nil,
                                   adverseEventID: Int? = nil, connection c: PostgresConnection, logger: Logger) async throws -> StatusChange {
        let patient = try await Self.patient(id: patientID, connection: c, logger: logger, lock: true)
        let facts = try await c.query("""
            SELECT p.institution_id, p.status_on, (SELECT min(administered_on) FROM administration WHERE patient_id = p.id)
            FROM patient p WHERE p.id = \(patientID)
            """, logger: logger)
        let (institutionID, statusOn, first) = try await facts.decode((Int, LocalDate?, LocalDate?).self).first(where: { _ in true })!
        try StatusRules.check(kind, patient: patient, on: date, statusOn: statusOn)
        if date < patient.consentOn {
            throw RegistryError.invalid("on", "\(date) is before the patient's consent on \(patient.consentOn)")
        }
        if kind != .death, kind != .withdrawal, let first, date < first {
            throw RegistryError.invalid("on", "\(date) is before the patient's first administration on \(first)")
        }
        var toInstitutionID: Int? = nil
        if kind == .transfer {
            guard let code = transferTo else { throw RegistryError.invalid("to", "a transfer needs the receiving institution: --to CODE") }
            let rows = try await c.query("SELECT id, status FROM institution WHERE code = \(code)", logger: logger)
            guard let (id, status) = try await rows.decode((Int, String).self).first(where: { _ in true }) else {
                throw Self.unknownInstitution(code, field: "to")
            }
            guard status == InstitutionStatus.active.rawValue else {
                throw RegistryError.conflict("to", "institution \(code) is \(status); patients can only be transferred to an active institution")
            }
            guard id != institutionID else { throw RegistryError.conflict("to", "patient \(patientID) is already held by \(code)") }
            toInstitutionID = id
        }
        let inserted = try await c.query("""
            INSERT INTO patient_status_change (patient_id, institution_id, kind, effective_on, reason, from_institution_id, to_institution_id, adverse_event_id)
            VALUES (\(patientID), \(institutionID), \(kind.rawValue), \(date), \(reason),
                    \(kind == .transfer ? institutionID : nil), \(toInstitutionID), \(adverseEventID))
            RETURNING id
            """, logger: logger)
        let changeID = try await inserted.decode(Int.self).first(where: { _ in true })!
        var affected = 0
        switch kind {
        case .death, .withdrawal, .lost:
            let newStatus: PatientStatus = kind == .death ? .deceased : kind == .withdrawal ? .withdrawn : .lostToFollowUp
            try await c.query("UPDATE patient SET status = \(newStatus.rawValue), status_on = \(date) WHERE id = \(patientID)", logger: logger)
            affected = try await Self.updatedCount(c.query("""
                UPDATE follow_up SET status = 'not-required', suspended_by = \(changeID)
                WHERE patient_id = \(patientID) AND status = 'scheduled' AND due_on > \(date)
                RETURNING 1
                """, logger: logger))
        case .found:
            let lost = try await c.query("""
                SELECT id FROM patient_status_change WHERE patient_id = \(patientID) AND kind = 'lost' ORDER BY id DESC LIMIT 1
                """, logger: logger)
            let lostID = try await lost.decode(Int.self).first(where: { _ in true })
            try await c.query("UPDATE patient SET status = 'active', status_on = \(date) WHERE id = \(patientID)", logger: logger)
            affected = try await Self.updatedCount(c.query("""
                UPDATE follow_up SET status = 'scheduled', suspended_by = NULL
                WHERE patient_id = \(patientID) AND status = 'not-required' AND suspended_by = \(lostID) AND window_end >= \(date)
                RETURNING 1
                """, logger: logger))
        case .transfer:
            // Follow-ups and the record first, the patient last: under row-level security (API
            // requests) an institution sees a patient's rows only while it holds the patient.
            affected = try await Self.updatedCount(c.query("""
                UPDATE follow_up SET institution_id = \(toInstitutionID)
                WHERE patient_id = \(patientID) AND status = 'scheduled' AND window_end >= \(date)
                RETURNING 1
                """, logger: logger))
            let change = try await Self.statusChange(id: changeID, patientID: patientID, connection: c, logger: logger)
            // Checks that this transaction recorded the transfer (schema/0006).
            try await c.query("SELECT registry_transfer_patient(\(patientID), \(toInstitutionID))", logger: logger)
            return change.with(affected: affected)
        }
        return try await Self.statusChange(id: changeID, patientID: patientID, connection: c, logger: logger).with(affected: affected)
    }

    static func statusChange(id: Int, patientID: Int, connection c: PostgresConnection, logger: Logger) async throws -> StatusChange {
        guard let change = try await statusChanges(patientID: patientID, connection: c, logger: logger).first(where: { $0.id == id }) else {
            throw RegistryError.notFound("status-change", "no status change has id \(id)")
        }
        return change
    }

    static func updatedCount(_ rows: PostgresRowSequence) async throws -> Int {
        var n = 0
        for try await _ in rows { n += 1 }
        return n
    }

    /// A patient's status history, oldest first.
    public func statusChanges(patientID: Int) async throws -> [StatusChange] {
        try await database.read { c in try await Self.statusChanges(patientID: patientID, connection: c, logger: logger) }
    }

    static func statusChanges(patientID: Int, connection c: PostgresConnection, logger: Logger) async throws -> [StatusChange] {
        var out: [StatusChange] = []
        for try await (id, kind, on, reason, from, to, affected) in try await c.query("""
            SELECT s.id, s.kind, s.effective_on, s.reason, fi.code, ti.code,
                   (SELECT count(*) FROM follow_up f WHERE f.suspended_by = s.id)
            FROM patient_status_change s
            LEFT JOIN institution fi ON fi.id = s.from_institution_id LEFT JOIN institution ti ON ti.id = s.to_institution_id
            WHERE s.patient_id = \(patientID) ORDER BY s.id
            """, logger: logger).decode((Int, String, LocalDate, String, String?, String?, Int).self) {
            out.append(StatusChange(id: id, patientID: patientID, kind: StatusChangeKind(rawValue: kind)!, effectiveOn: on, reason: reason,
                                    fromInstitution: from, toInstitution: to, followUpsAffected: affected))
        }
        return out
    }

    // MARK: anchor correction

    /// Corrects an administration. A new date re-anchors the schedule: follow-ups not yet done
    /// (scheduled or not required) get their new due dates and windows; completed and closed ones
    /// stay attached to their time points as they were. The audit trail records what moved.
    public func correctAdministration(id: Int, on newDate: LocalDate?, lot: String?, dose: String?, feeNotified: Int?, feeCollected: Int?,
                                      reason: String, actor: String) async throws -> (administration: Administration, moved: Int) {
        let reason = try Rules.reason(reason)
        let today = today()
        if let newDate { try Rules.eventDate(newDate, field: "on", today: today) }
        return try await database.transaction(actor: actor, reason: reason) { c in
            let rows = try await c.query("""
                SELECT a.patient_id, a.plan_id, a.administered_on, p.decided_on, p.protocol_id, pt.consent_on
                FROM administration a JOIN treatment_plan p ON p.id = a.plan_id JOIN patient pt ON pt.id = a.patient_id
                WHERE a.id = \(id) FOR UPDATE OF a
                """, logger: logger)
            guard let (_, _, oldDate, approvedOn, protocolID, consentOn)
                    = try await rows.decode((Int, Int, LocalDate, LocalDate?, Int, LocalDate).self).first(where: { _ in true }) else {
                throw RegistryError.notFound("administration", "no administration has id \(id)")
            }
            if let newDate {
                if let approvedOn, newDate < approvedOn { throw RegistryError.invalid("on", "\(newDate) is before the plan's approval on \(approvedOn)") }
                if newDate < consentOn { throw RegistryError.invalid("on", "\(newDate) is before the patient's consent on \(consentOn)") }
                let visits = try await c.query("""
                    SELECT min(v.visit_on) FROM visit v JOIN follow_up f ON f.id = v.follow_up_id WHERE f.administration_id = \(id)
                    """, logger: logger)
                if let earliest = try await visits.decode(LocalDate?.self).first(where: { _ in true }) ?? nil, newDate > earliest {
                    throw RegistryError.invalid("on", "\(newDate) is after visit data recorded on \(earliest) for this administration")
                }
            }
            let lot = try lot.map { l throws(RegistryError) in try Rules.lot(l) }
            let dose = try dose.map { d throws(RegistryError) in try Rules.name(d, field: "dose", maxLength: 100) }
            if let feeNotified { _ = try Rules.krw(feeNotified, field: "fee-notified") }
            if let feeCollected { _ = try Rules.krw(feeCollected, field: "fee-collected") }
            try await c.query("""
                UPDATE administration SET administered_on = \(newDate ?? oldDate), lot = coalesce(\(lot), lot), dose = coalesce(\(dose), dose),
                    fee_notified_krw = coalesce(\(feeNotified), fee_notified_krw), fee_collected_krw = coalesce(\(feeCollected), fee_collected_krw)
                WHERE id = \(id)
                """, logger: logger)
            var moved = 0
            if let newDate, newDate != oldDate {
                let planned = FollowUpSchedule.plan(protocol: try await Self.loadProtocol(id: protocolID, connection: c, logger: logger), anchor: newDate)
                moved = try await Self.updatedCount(c.query("""
                    UPDATE follow_up f SET due_on = x.d::date, window_start = x.ws::date, window_end = x.we::date
                    FROM unnest(\(planned.map(\.sequence)), \(planned.map(\.due.description)), \(planned.map(\.windowStart.description)),
                                \(planned.map(\.windowEnd.description))) AS x(s, d, ws, we)
                    WHERE f.administration_id = \(id) AND f.seq = x.s AND f.status IN ('scheduled', 'not-required')
                    RETURNING 1
                    """, logger: logger))
            }
            let admin = try await Self.administrations(id: id, connection: c, logger: logger)
            return (admin, moved)
        }
    }

    static func administrations(id: Int, connection c: PostgresConnection, logger: Logger) async throws -> Administration {
        let rows = try await c.query("""
            SELECT a.id, a.patient_id, a.plan_id, i.code, pr.code, a.administered_on, a.lot, a.dose, a.fee_notified_krw, a.fee_collected_krw
            FROM administration a JOIN institution i ON i.id = a.institution_id
            JOIN treatment_plan p ON p.id = a.plan_id JOIN product pr ON pr.id = p.product_id WHERE a.id = \(id)
            """, logger: logger)
        for try await (id, patient, plan, inst, prod, on, lot, dose, notified, collected)
            in rows.decode((Int, Int, Int, String, String, LocalDate, String, String, Int, Int).self) {
            return Administration(id: id, patientID: patient, planID: plan, institutionCode: inst, productCode: prod,
                                  administeredOn: on, lot: lot, dose: dose, feeNotifiedKRW: notified, feeCollectedKRW: collected)
        }
        throw RegistryError.notFound("administration", "no administration has id \(id)")
    }
}

extension StatusChange {
    func with(affected: Int) -> StatusChange {
        var copy = self
        copy.followUpsAffected = affected
        return copy
    }
}
