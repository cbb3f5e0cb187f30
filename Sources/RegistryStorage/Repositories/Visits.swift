import PostgresNIO
import RegistryDomain

/// Visits and their measures.
public struct Visits: Repository {
    let tx: Transaction

    /// Logs a visit against a scheduled follow-up (completing it, in the window, early or late)
    /// or, with no follow-up, as an unscheduled visit of a patient.
    public func log(followUpID: FollowUpID?, patientID: PatientID?, _ new: NewVisit) async throws -> Visit {
        var target: LockVisitTarget.Row? = nil
        let patient: LockedPatient
        if let followUpID {
            // The follow-up and its patient, locked in one statement (follow-up first).
            guard let found = try await c.execute(LockVisitTarget(followUpID: followUpID), logger: logger).firstElement() else {
                throw FollowUps.unknown(followUpID)
            }
            if let patientID, patientID != found.patient.patient.id {
                throw RegistryError.invalid("patient", "follow-up \(followUpID) belongs to patient \(found.patient.patient.id), not \(patientID)")
            }
            try found.patient.forData.checkForData(on: new.visitedOn)
            target = found
            patient = found.patient
        } else {
            guard let patientID else {
                throw RegistryError.invalid("followup", "a visit needs its follow-up, or its patient when it is unscheduled")
            }
            patient = try await tx.patients.lockForData(patientID, on: new.visitedOn)
        }
        let pid = patient.patient.id
        try VisitRules.checkVital(new.vitalStatus, recordsDeath: new.recordsDeath, patient: patient.patient)
        try VisitRules.checkDate(new.visitedOn, screening: new.screening, followUpAnchor: target?.anchor, patient: patient.forData)
        var timing: VisitTiming? = nil
        if let f = target, let followUpID {
            timing = try VisitRules.timing(completing: followUpID, status: f.status, completedBy: f.visitID, on: new.visitedOn,
                                           windowStart: f.start, windowEnd: f.end)
        }
        let measures = new.measures.sorted { $0.key < $1.key }
        let inserted = try await c.execute(InsertVisit(patientID: pid, institutionID: patient.institutionID, followUpID: followUpID,
                                                       visitedOn: new.visitedOn, contactType: new.contactType.rawValue,
                                                       vitalStatus: new.vitalStatus.rawValue, timing: timing?.rawValue, note: new.note,
                                                       screening: new.screening, measures: measures), logger: logger)
        let visitID = try await inserted.one("the new visit")
        if new.recordsDeath {
            _ = try await tx.statusChanges.record(.death, patientID: pid, on: new.visitedOn, reason: "recorded dead at visit \(visitID)", locked: patient.patient,
                                                  visitID: visitID)
        }
        return Visit(id: visitID, patientID: pid, followUpID: followUpID, institutionCode: patient.patient.institutionCode, visitedOn: new.visitedOn,
                     contactType: new.contactType, vitalStatus: new.vitalStatus, timing: timing, measures: measures, note: new.note,
                     screening: new.screening, contactDeviation: ContactDeviation.of(planned: target?.contact, actual: new.contactType))
    }

    /// Voids a visit entered in error, with the reason: it is kept, marked, and left out of
    /// schedules and reports from now on. The follow-up it completed is open again (overdue if its
    /// window has closed), owed to the institution that holds the patient now, and a death recorded
    /// with it is voided with it. What that changes is
    /// refused unless `confirm`, and returned.
    public func void(id: VisitID, reason: String, confirm: Bool) async throws -> (Visit, [Consequence]) {
        let reason = try Rules.reason(reason)
        try await tx.because(reason)
        let visit = try await self.visit(id: id)
        let locked = try await tx.patients.lock(visit.patientID)
        try VoidRules.checkStanding(visit.void, record: "visit \(id)")
        return try await tx.patients.confirming(visit.patientID, confirm: confirm, doing: "voiding visit \(id)") {
            try await c.query("UPDATE visit SET voided_on = \(tx.today), void_reason = \(reason) WHERE id = \(id)", logger: logger)
            let consequences = try await voidDeathRecorded(at: id, patientID: visit.patientID, reason: reason)
            if let followUpID = visit.followUpID { try await reopen(followUpID, patientID: visit.patientID) }
            return (try await self.visit(id: id), consequences)
        }
    }

    /// Opens again the follow-up a voided visit completed, as the patient's standing status changes
    /// leave it when it was owed all along (the domain's `FollowUpState.through`): scheduled, or not
    /// required after a death, withdrawal or loss dated before it, and held where a transfer sent it.
    private func reopen(_ followUpID: FollowUpID, patientID: PatientID) async throws {
        let rows = try await c.query("""
            SELECT f.due_on, f.window_end, i.code FROM follow_up f JOIN administration a ON a.id = f.administration_id
            JOIN institution i ON i.id = a.institution_id WHERE f.id = \(followUpID) AND f.status = 'completed'
            """, logger: logger)
        guard let (due, end, dosedAt) = try await rows.decode((LocalDate, LocalDate, String).self).firstElement() else { return }
        let owed = FollowUpState(id: followUpID, dueOn: due, windowEnd: end, status: .scheduled, suspendedBy: nil, institutionCode: dosedAt)
            .through(try await tx.statusChanges.of(patientID: patientID))
        try await c.query("""
            UPDATE follow_up SET status = \(owed.status), suspended_by = \(owed.suspendedBy), completed_on = NULL, timing = NULL,
                   institution_id = (SELECT id FROM institution WHERE code = \(owed.institutionCode))
            WHERE id = \(followUpID)
            """, logger: logger)
    }

    /// Voids the standing death recorded with visit `id`, if there is one, as a consequence of
    /// voiding or correcting the visit.
    private func voidDeathRecorded(at id: VisitID, patientID: PatientID, reason: String) async throws -> [Consequence] {
        guard let death = try await tx.statusChanges.of(patientID: patientID).first(where: { $0.visitID == id && $0.void == nil }) else { return [] }
        _ = try await tx.statusChanges.voidStanding(death.id, patientID: patientID, reason: reason, cause: .visit(id))
        return [Consequence(.statusChangeVoided, "the death on \(death.effectiveOn) recorded with visit \(id) (status change \(death.id)) is voided with it",
                            statusChangeID: death.id)]
    }

    /// Corrects a visit's recorded values. The earlier values stay readable in the audit trail.
    public func correct(id: VisitID, on date: LocalDate?, contact: ContactType?, vital: VitalStatus?, measures: [MeasureValue],
                        note: String?, reason: String, confirm: Bool = false) async throws -> (Visit, [Consequence]) {
        let reason = try Rules.reason(reason)
        try await tx.because(reason)
        let visit = try await self.visit(id: id)
        try VoidRules.checkStanding(visit.void, record: "visit \(id)")
        let facts = try await c.query("""
            SELECT v.patient_id, v.institution_id,
                   coalesce((SELECT a.administered_on FROM follow_up f JOIN administration a ON a.id = f.administration_id WHERE f.id = v.follow_up_id),
                            (SELECT min(administered_on) FROM administration WHERE patient_id = v.patient_id AND voided_on IS NULL)),
                   f.window_start, f.window_end
            FROM visit v LEFT JOIN follow_up f ON f.id = v.follow_up_id WHERE v.id = \(id)
            """, logger: logger)
        let (patientID, institutionID, anchor, start, end) = try await facts.decode((PatientID, Int, LocalDate?, LocalDate?, LocalDate?).self).one("visit \(id)")
        if let date {
            try Rules.eventDate(date, field: "on", today: tx.today)
            if visit.screening {
                let patient = try await tx.patients.patient(id: patientID)
                try VisitRules.checkScreening(date, consentOn: patient.consentOn, firstDose: anchor, patientID: patientID)
            } else {
                try VisitRules.checkAfterDose(date, anchor: anchor, patientID: patientID)
            }
        }
        if let vital, vital != visit.vitalStatus {
            try VisitRules.checkVital(vital, recordsDeath: false, patient: try await tx.patients.patient(id: patientID))
        }
        return try await tx.patients.confirming(patientID, confirm: confirm, doing: "correcting visit \(id)") {
            let newDate = date ?? visit.visitedOn
            var timing: VisitTiming? = nil
            if let start, let end { timing = VisitTiming.of(newDate, windowStart: start, windowEnd: end) }
            try await c.query("""
                UPDATE visit SET visit_on = \(newDate), contact_type = \(contact ?? visit.contactType),
                       vital_status = \(vital ?? visit.vitalStatus), note = \(note ?? visit.note), timing = \(timing)
                WHERE id = \(id)
                """, logger: logger)
            if let followUpID = visit.followUpID {
                try await c.query("""
                    UPDATE follow_up SET completed_on = \(newDate), timing = \(timing)
                    WHERE id = \(followUpID) AND (completed_on, timing) IS DISTINCT FROM (\(newDate), \(timing?.rawValue))
                    """, logger: logger)
            }
            try await writeMeasures(measures, visitID: id, patientID: patientID, institutionID: institutionID)
            var consequences: [Consequence] = []
            if let vital, vital != .dead {
                consequences += try await voidDeathRecorded(at: id, patientID: patientID, reason: reason)
            } else if let date, date != visit.visitedOn,
                      let death = try await tx.statusChanges.of(patientID: patientID).first(where: { $0.visitID == id && $0.void == nil }) {
                try await tx.statusChanges.redateStanding(death.id, patientID: patientID, to: date)
                consequences.append(Consequence(.statusChangeRedated, "the death recorded with visit \(id) (status change \(death.id)) moves from \(death.effectiveOn) to \(date)",
                                                statusChangeID: death.id))
            }
            return (try await self.visit(id: id), consequences)
        }
    }

    /// A patient's visits, oldest first: two queries, however many visits.
    public func of(patientID: PatientID) async throws -> [Visit] {
        try await visits(where: "v.patient_id = \(patientID)")
    }

    /// One visit with its measures.
    public func visit(id: VisitID) async throws -> Visit {
        guard let visit = try await visits(where: "v.id = \(id)").first else {
            throw RegistryError.notFound("visit", "no visit has id \(id)")
        }
        return visit
    }

    /// Writes or corrects measures of a visit, one row per measure key.
    func writeMeasures(_ measures: [MeasureValue], visitID: VisitID, patientID: PatientID, institutionID: Int) async throws {
        guard !measures.isEmpty else { return }
        try await c.query("""
            INSERT INTO visit_measure (visit_id, patient_id, institution_id, key, code_system, code, value, unit)
            SELECT \(visitID), \(patientID), \(institutionID), k, s, c, v::numeric, nullif(u, '')
            FROM unnest(\(measures.map(\.key)), \(measures.map(\.codeSystem)), \(measures.map(\.code)),
                        \(measures.map(\.valueText)), \(measures.map { $0.unit ?? "" })) AS x(k, s, c, v, u)
            ON CONFLICT (visit_id, key) DO UPDATE SET value = EXCLUDED.value, unit = EXCLUDED.unit
            WHERE visit_measure.value IS DISTINCT FROM EXCLUDED.value
            """, logger: logger)
    }

    /// Visits matching a condition on `v`, with their measures. The condition is SQL text, so it
    /// is built here from record ids (integers) only, never from user text.
    private func visits(where condition: String) async throws -> [Visit] {
        var measures: [VisitID: [MeasureValue]] = [:]
        for try await (visitID, key, system, code, value, unit) in try await c.query(PostgresQuery(unsafeSQL: """
            SELECT m.visit_id, m.key, m.code_system, m.code, m.value::float8, m.unit
            FROM visit_measure m JOIN visit v ON v.id = m.visit_id WHERE \(condition) ORDER BY m.visit_id, m.key
            """), logger: logger).decode((VisitID, String, String, String, Double, String?).self) {
            measures[visitID, default: []].append(MeasureValue(key: key, codeSystem: system, code: code, value: value, unit: unit))
        }
        var out: [Visit] = []
        for try await (vid, patient, followUp, inst, on, contact, vital, timing, note, screening, planned, voidedOn, voidReason) in try await c.query(PostgresQuery(unsafeSQL: """
            SELECT v.id, v.patient_id, v.follow_up_id, i.code, v.visit_on, v.contact_type, v.vital_status, v.timing, v.note, v.screening, f.contact_type,
                   v.voided_on, v.void_reason
            FROM visit v JOIN institution i ON i.id = v.institution_id LEFT JOIN follow_up f ON f.id = v.follow_up_id
            WHERE \(condition) ORDER BY v.visit_on, v.id
            """), logger: logger).decode((VisitID, PatientID, FollowUpID?, String, LocalDate, ContactType, VitalStatus, VisitTiming?, String?, Bool, ContactType?,
                                           LocalDate?, String?).self) {
            out.append(Visit(id: vid, patientID: patient, followUpID: followUp, institutionCode: inst, visitedOn: on,
                             contactType: contact, vitalStatus: vital, timing: timing, measures: measures[vid] ?? [], note: note, screening: screening,
                             contactDeviation: ContactDeviation.of(planned: planned, actual: contact), void: VoidMark.stored(voidedOn, voidReason)))
        }
        return out
    }
}
