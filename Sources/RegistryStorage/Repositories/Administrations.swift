import PostgresNIO
import RegistryDomain

/// Administrations (doses) and the follow-up schedules they generate.
public struct Administrations: Repository {
    let tx: Transaction

    /// Records a dose and generates its follow-up schedule from the plan's protocol. Refuses plans
    /// not approved, inactive institutions and patients of another institution.
    public func administer(patientID: PatientID, planID: PlanID, _ new: NewAdministration) async throws -> (administration: Administration, followUps: [FollowUp]) {
        let plan = try await tx.plans.plan(id: planID)
        let patient = try await tx.patients.patient(id: patientID, lock: true)
        let institution = try await tx.institutions.idAndStatus(code: plan.institutionCode, lock: true)
        try NewAdministration.checkEligibility(on: new.administeredOn, plan: plan, institutionStatus: institution.status, patient: patient)
        let rows = try await c.query("""
            INSERT INTO administration (patient_id, plan_id, institution_id, administered_on, lot, dose, fee_notified_krw, fee_collected_krw)
            VALUES (\(patientID), \(planID), \(institution.id), \(new.administeredOn), \(new.lot), \(new.dose), \(new.feeNotifiedKRW), \(new.feeCollectedKRW))
            RETURNING id
            """, logger: logger)
        let id = try await rows.decode(AdministrationID.self).one("the new administration")
        let planned = FollowUpSchedule.plan(protocol: try await tx.protocols.load(id: try await protocolID(planID: planID)), anchor: new.administeredOn)
        try await c.query("""
            INSERT INTO follow_up (administration_id, patient_id, institution_id, seq, label, due_on, window_start, window_end, contact_type)
            SELECT \(id), \(patientID), \(institution.id), s, l, d::date, ws::date, we::date, t
            FROM unnest(\(planned.map(\.sequence)), \(planned.map(\.label)), \(planned.map(\.due.description)),
                        \(planned.map(\.windowStart.description)), \(planned.map(\.windowEnd.description)),
                        \(planned.map(\.contactType.rawValue))) AS x(s, l, d, ws, we, t)
            """, logger: logger)
        let administration = Administration(id: id, patientID: patientID, planID: planID, institutionCode: plan.institutionCode,
                                            productCode: plan.productCode, administeredOn: new.administeredOn, lot: new.lot, dose: new.dose,
                                            feeNotifiedKRW: new.feeNotifiedKRW, feeCollectedKRW: new.feeCollectedKRW)
        return (administration, try await tx.followUps.of(administrationID: id))
    }

    /// Administrations of a patient, or of a product lot (traceability both ways), voided ones included (marked).
    public func list(patientID: PatientID? = nil, lot: String? = nil) async throws -> [Administration] {
        try await Self.decode(c.query("""
            \(unescaped: Self.select)
            WHERE (\(patientID)::bigint IS NULL OR a.patient_id = \(patientID)) AND (\(lot)::text IS NULL OR a.lot = \(lot))
            ORDER BY a.administered_on, a.id
            """, logger: logger))
    }

    /// One administration.
    public func administration(id: AdministrationID) async throws -> Administration {
        guard let administration = try await Self.decode(c.query("\(unescaped: Self.select) WHERE a.id = \(id)", logger: logger)).first else {
            throw RegistryError.notFound("administration", "no administration has id \(id)")
        }
        return administration
    }

    /// Voids an administration entered in error (a dose recorded for the wrong patient), with the
    /// reason: kept and marked, and the follow-ups it generated withdrawn from the schedule (status
    /// `voided`: no longer owed, overdue, on worklists, flagged by the nightly job or expected by the
    /// outcome report). The patient's first dose is then their first standing one, or none. Refused
    /// while a standing visit completed one of its follow-ups, or while the patient's records need it
    /// as their first dose (`VoidRules.checkVoid`). The follow-ups withdrawn, and a pending
    /// lost-to-follow-up proposal that counted missed ones among them, are refused unless `confirm`,
    /// and returned. Another institution's administration is not found (row-level security).
    public func void(id: AdministrationID, reason: String, confirm: Bool) async throws -> (Administration, [Consequence]) {
        let reason = try Rules.reason(reason)
        try await tx.because(reason)
        let patientID = try await self.administration(id: id).patientID
        let locked = try await tx.patients.lock(patientID)
        // Read again under the patient's lock, which every dose, visit and void of the patient takes.
        let administration = try await self.administration(id: id)
        let facts = try await c.query("""
            SELECT array(SELECT v.id FROM visit v JOIN follow_up f ON f.id = v.follow_up_id
                         WHERE f.administration_id = \(id) AND v.voided_on IS NULL ORDER BY v.id),
                   (SELECT min(administered_on) FROM administration WHERE patient_id = \(patientID) AND voided_on IS NULL AND id <> \(id))
            """, logger: logger)
        let (completedBy, firstAfter) = try await facts.decode(([Int], LocalDate?).self).one("administration \(id)")
        var dependents: [FirstDoseDependent] = []
        for try await (kind, recordID, on, screening, change) in try await c.query("""
            SELECT 'visit', id, visit_on, screening, NULL FROM visit WHERE patient_id = \(patientID) AND follow_up_id IS NULL AND voided_on IS NULL
            UNION ALL
            SELECT 'adverse-event', id, onset_on, false, NULL FROM adverse_event WHERE patient_id = \(patientID) AND voided_on IS NULL
            UNION ALL
            SELECT 'status-change', id, effective_on, false, kind FROM patient_status_change WHERE patient_id = \(patientID) AND voided_on IS NULL
            ORDER BY 3, 2
            """, logger: logger).decode((String, Int, LocalDate, Bool, StatusChangeKind?).self) {
            switch (kind, change) {
            case ("visit", _): dependents.append(.visit(VisitID(recordID), on: on, screening: screening))
            case ("adverse-event", _): dependents.append(.adverseEvent(AdverseEventID(recordID), onset: on))
            case (_, let change?): dependents.append(.statusChange(StatusChangeID(recordID), change, on: on))
            default: break
            }
        }
        try VoidRules.checkVoid(administration, patient: locked.forData, completedBy: completedBy.map { VisitID(rawValue: $0) }, firstDoseAfter: firstAfter,
                                dependents: dependents)
        return try await tx.patients.confirming(patientID, confirm: confirm, doing: "voiding administration \(id)") {
            try await c.query("UPDATE administration SET voided_on = \(tx.today), void_reason = \(reason) WHERE id = \(id)", logger: logger)
            // As they stood: a missed one keeps its date, a not-done one its reason; no status change suspends it any more.
            let withdrawn = try await c.query("""
                WITH w AS (UPDATE follow_up SET status = 'voided', suspended_by = NULL
                           WHERE administration_id = \(id) AND status <> 'voided' RETURNING id, missed_on)
                SELECT array(SELECT id FROM w ORDER BY id), EXISTS (SELECT 1 FROM w WHERE missed_on IS NOT NULL)
                """, logger: logger)
            let (ids, anyMissed) = try await withdrawn.decode(([Int], Bool).self).one("the withdrawn follow-ups")
            var consequences: [Consequence] = []
            if !ids.isEmpty {
                consequences.append(Consequence(.followUpsWithdrawn, "\(ids.count) follow-up\(ids.count == 1 ? "" : "s") of administration \(id) withdrawn from the schedule",
                                                followUpIDs: ids.map { FollowUpID(rawValue: $0) }))
            }
            if anyMissed {
                consequences += try await tx.lostProposals.withdrawPending(patientID: patientID, because: "it counted missed follow-ups of administration \(id), voided as entered in error")
            }
            return (try await self.administration(id: id), consequences)
        }
    }

    /// Corrects an administration. A new date re-anchors the schedule: follow-ups not yet done
    /// (scheduled or not required) get their new due dates and windows; completed and closed ones
    /// stay attached to their time points as they were. The audit trail records what moved.
    public func correct(id: AdministrationID, on newDate: LocalDate?, lot: String?, dose: String?, feeNotified: Int?, feeCollected: Int?,
                        reason: String) async throws -> (administration: Administration, moved: Int) {
        let reason = try Rules.reason(reason)
        if let newDate { try Rules.eventDate(newDate, field: "on", today: tx.today) }
        let lot = try lot.map { l throws(RegistryError) in try Rules.lot(l) }
        let dose = try dose.map { d throws(RegistryError) in try Rules.name(d, field: "dose", maxLength: 100) }
        if let feeNotified { _ = try Rules.krw(feeNotified, field: "fee-notified") }
        if let feeCollected { _ = try Rules.krw(feeCollected, field: "fee-collected") }
        try await tx.because(reason)
        let rows = try await c.query("""
            SELECT a.administered_on, p.decided_on, p.protocol_id, pt.consent_on
            FROM administration a JOIN treatment_plan p ON p.id = a.plan_id JOIN patient pt ON pt.id = a.patient_id
            WHERE a.id = \(id) FOR UPDATE OF a
            """, logger: logger)
        guard let (oldDate, approvedOn, protocolID, consentOn) = try await rows.decode((LocalDate, LocalDate?, Int, LocalDate).self).firstElement() else {
            throw RegistryError.notFound("administration", "no administration has id \(id)")
        }
        try VoidRules.checkStanding(try await administration(id: id).void, record: "administration \(id)")
        if let newDate {
            if let approvedOn, newDate < approvedOn { throw RegistryError.invalid("on", "\(newDate) is before the plan's approval on \(approvedOn)") }
            if newDate < consentOn { throw RegistryError.invalid("on", "\(newDate) is before the patient's consent on \(consentOn)") }
            let visits = try await c.query("""
                SELECT min(v.visit_on) FROM visit v JOIN follow_up f ON f.id = v.follow_up_id WHERE f.administration_id = \(id) AND v.voided_on IS NULL
                """, logger: logger)
            if let earliest = try await visits.decode(LocalDate?.self).firstElement() ?? nil, newDate > earliest {
                throw RegistryError.invalid("on", "\(newDate) is after visit data recorded on \(earliest) for this administration")
            }
        }
        try await c.query("""
            UPDATE administration SET administered_on = \(newDate ?? oldDate), lot = coalesce(\(lot), lot), dose = coalesce(\(dose), dose),
                fee_notified_krw = coalesce(\(feeNotified), fee_notified_krw), fee_collected_krw = coalesce(\(feeCollected), fee_collected_krw)
            WHERE id = \(id)
            """, logger: logger)
        var moved = 0
        if let newDate, newDate != oldDate {
            let planned = FollowUpSchedule.plan(protocol: try await tx.protocols.load(id: protocolID), anchor: newDate)
            moved = try await c.query("""
                UPDATE follow_up f SET due_on = x.d::date, window_start = x.ws::date, window_end = x.we::date
                FROM unnest(\(planned.map(\.sequence)), \(planned.map(\.due.description)), \(planned.map(\.windowStart.description)),
                            \(planned.map(\.windowEnd.description))) AS x(s, d, ws, we)
                WHERE f.administration_id = \(id) AND f.seq = x.s AND f.status IN ('scheduled', 'not-required')
                RETURNING 1
                """, logger: logger).count()
        }
        return (try await administration(id: id), moved)
    }

    private func protocolID(planID: PlanID) async throws -> Int {
        try await c.query("SELECT protocol_id FROM treatment_plan WHERE id = \(planID)", logger: logger).decode(Int.self).one("the plan's protocol")
    }

    static let select = """
        SELECT a.id, a.patient_id, a.plan_id, i.code, pr.code, a.administered_on, a.lot, a.dose, a.fee_notified_krw, a.fee_collected_krw,
               a.voided_on, a.void_reason
        FROM administration a JOIN institution i ON i.id = a.institution_id
        JOIN treatment_plan p ON p.id = a.plan_id JOIN product pr ON pr.id = p.product_id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [Administration] {
        var out: [Administration] = []
        for try await (id, patient, plan, inst, prod, on, lot, dose, notified, collected, voidedOn, voidReason)
            in rows.decode((AdministrationID, PatientID, PlanID, String, String, LocalDate, String, String, Int, Int, LocalDate?, String?).self) {
            out.append(Administration(id: id, patientID: patient, planID: plan, institutionCode: inst, productCode: prod,
                                      administeredOn: on, lot: lot, dose: dose, feeNotifiedKRW: notified, feeCollectedKRW: collected,
                                      void: VoidMark.stored(voidedOn, voidReason)))
        }
        return out
    }
}
