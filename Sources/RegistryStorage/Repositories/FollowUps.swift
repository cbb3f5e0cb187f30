import PostgresNIO
import RegistryDomain

/// Follow-ups: schedules, worklists, closures.
public struct FollowUps: Repository {
    let tx: Transaction

    /// One follow-up.
    public func followUp(id: FollowUpID) async throws -> FollowUp {
        guard let f = try await Self.decode(today: tx.today, c.query("\(unescaped: Self.select) WHERE f.id = \(id)", logger: logger)).first else {
            throw Self.unknown(id)
        }
        return f
    }

    /// A patient's follow-ups, in due order.
    public func of(patientID: PatientID) async throws -> [FollowUp] {
        _ = try await tx.patients.patient(id: patientID)
        return try await Self.decode(today: tx.today, c.query("\(unescaped: Self.select) WHERE f.patient_id = \(patientID) ORDER BY f.due_on, f.id", logger: logger))
    }

    /// An administration's schedule, in time-point order.
    func of(administrationID: AdministrationID) async throws -> [FollowUp] {
        try await Self.decode(today: tx.today, c.query("\(unescaped: Self.select) WHERE f.administration_id = \(administrationID) ORDER BY f.seq", logger: logger))
    }

    /// An institution's follow-ups due before a date, in due order, at most `limit`, after the
    /// follow-up `after` (its due date and id) when paging. Those withdrawn with a voided dose only
    /// when asked for by status.
    public func of(institutionCode: String, dueBefore: LocalDate, status: FollowUpStatus? = nil,
                   after: (due: LocalDate, id: Int)? = nil, limit: Int = 1000) async throws -> [FollowUp] {
        let institutionID = try await tx.institutions.id(code: institutionCode)
        return try await Self.decode(today: tx.today, c.query("""
            \(unescaped: Self.select) WHERE f.institution_id = \(institutionID) AND f.due_on < \(dueBefore)
            AND (f.status = \(status) OR (\(status)::text IS NULL AND f.status <> 'voided'))
            AND (f.due_on, f.id) > (\(after?.due ?? LocalDate(dayNumber: -100_000)), \(after?.id ?? 0))
            ORDER BY f.due_on, f.id LIMIT \(limit)
            """, logger: logger))
    }

    /// An institution's worklist on `asOf`: overdue follow-ups (`follow_up_overdue()`, the domain's
    /// `Overdue`) oldest window first, then those due soon (`follow_up_due_soon()`, the domain's
    /// `DueSoon`, over `days` days) by due date; the selection the nightly digest makes. At most
    /// `limit` entries after `after`.
    public func worklist(institutionCode: String, asOf: LocalDate, days: Int, after: WorklistPosition? = nil, limit: Int) async throws -> [WorklistEntry] {
        let institutionID = try await tx.institutions.id(code: institutionCode)
        let position = after ?? WorklistPosition(section: -1, on: asOf, id: 0)
        var out: [WorklistEntry] = []
        // The due-soon branch's bound on due_on follows from its window bound (a window ends at most
        // the widest window_after past its due date) and lets the (institution_id, due_on) index serve.
        let rows = try await c.query("""
            SELECT section, id, patient_id, label, due_on, window_start, window_end, escalation_level, transferred_in FROM (
                SELECT 0 AS section, f.window_end AS sort_on, f.id, f.patient_id, f.label, f.due_on, f.window_start, f.window_end, f.escalation_level,
                       \(unescaped: Self.transferredIn) AS transferred_in
                FROM follow_up f JOIN patient p ON p.id = f.patient_id
                WHERE f.institution_id = \(institutionID) AND f.status = 'scheduled'
                  AND follow_up_overdue(f.window_end, f.status, p.status, \(asOf))
                UNION ALL
                SELECT 1, f.due_on, f.id, f.patient_id, f.label, f.due_on, f.window_start, f.window_end, f.escalation_level, \(unescaped: Self.transferredIn)
                FROM follow_up f JOIN patient p ON p.id = f.patient_id
                WHERE f.institution_id = \(institutionID) AND f.status = 'scheduled'
                  AND follow_up_due_soon(f.window_end, f.due_on, f.status, p.status, \(asOf), \(Int32(days)))
                  AND f.due_on >= \(asOf) - (SELECT coalesce(max(window_after), 0) FROM protocol_time_point)
            ) w
            WHERE (section, sort_on, id) > (\(Int32(position.section)), \(position.on), \(position.id))
            ORDER BY section, sort_on, id LIMIT \(limit)
            """, logger: logger)
        for try await (section, id, patient, label, due, start, end, level, transferredIn)
            in rows.decode((Int32, FollowUpID, PatientID, String, LocalDate, LocalDate, LocalDate, Int16, Bool).self) {
            let overdue = section == 0
            out.append(WorklistEntry(kind: overdue ? .overdue : .dueSoon, followUpID: id, patientID: patient, label: label, dueOn: due,
                                     windowStart: start, windowEnd: end,
                                     daysOverdue: overdue ? Overdue.daysOverdue(windowEnd: end, status: .scheduled, patientStatus: .active, on: asOf) : 0,
                                     escalationLevel: Int(level), transferredIn: transferredIn))
        }
        return out
    }

    /// How many follow-ups an institution's worklist on `asOf` holds: overdue, and due within `days`
    /// (the same selection as `worklist`, counted).
    public func worklistCounts(institutionCode: String, asOf: LocalDate, days: Int) async throws -> (overdue: Int, dueSoon: Int) {
        let institutionID = try await tx.institutions.id(code: institutionCode)
        let rows = try await c.query("""
            SELECT count(*) FILTER (WHERE follow_up_overdue(f.window_end, f.status, p.status, \(asOf))),
                   count(*) FILTER (WHERE follow_up_due_soon(f.window_end, f.due_on, f.status, p.status, \(asOf), \(Int32(days)))
                                      AND f.due_on >= \(asOf) - (SELECT coalesce(max(window_after), 0) FROM protocol_time_point))
            FROM follow_up f JOIN patient p ON p.id = f.patient_id
            WHERE f.institution_id = \(institutionID) AND f.status = 'scheduled'
            """, logger: logger)
        for try await (overdue, dueSoon) in rows.decode((Int, Int).self) { return (overdue, dueSoon) }
        return (0, 0)
    }

    /// Closes a follow-up as not done, with the reason.
    public func closeNotDone(id: FollowUpID, reason: NotDoneReason, note: String?) async throws -> FollowUp {
        try await tx.because(note.map { "\(reason.rawValue): \($0)" } ?? reason.rawValue)
        let rows = try await c.query("SELECT patient_id, status FROM follow_up WHERE id = \(id) FOR UPDATE", logger: logger)
        guard let (patientID, status) = try await rows.decode((PatientID, FollowUpStatus).self).firstElement() else {
            throw Self.unknown(id)
        }
        _ = try await tx.patients.lockForData(patientID, on: nil)
        guard status == .scheduled || status == .missed else {
            throw RegistryError.conflict("followup", "follow-up \(id) is \(status.rawValue); only a scheduled or missed follow-up can be closed as not done")
        }
        try await c.query("UPDATE follow_up SET status = 'not-done', not_done_reason = \(reason) WHERE id = \(id)", logger: logger)
        return try await followUp(id: id)
    }

    /// Whether follow-up `f` of patient `p` came with the patient in a transfer: its dose was given at
    /// another institution than the one that now holds it. Administrations are recorded only at the
    /// institution that holds the patient, so a patient still at the enrolling institution has none
    /// from elsewhere and the administration is read only for patients who moved.
    public static let transferredIn = """
        CASE WHEN p.enrolled_by = f.institution_id THEN false
             ELSE coalesce((SELECT a.institution_id <> f.institution_id FROM administration a WHERE a.id = f.administration_id), false) END
        """

    static let select = """
        SELECT f.id, f.administration_id, f.patient_id, i.code, f.seq, f.label, f.due_on, f.window_start, f.window_end, f.contact_type, f.status,
               f.completed_on, f.timing, f.not_done_reason, f.overdue_since, f.escalation_level, f.missed_on, p.status
        FROM follow_up f JOIN institution i ON i.id = f.institution_id JOIN patient p ON p.id = f.patient_id
        """

    /// Follow-ups from rows of `select`; days overdue as of `today`.
    static func decode(today: LocalDate, _ rows: PostgresRowSequence) async throws -> [FollowUp] {
        var out: [FollowUp] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            let status = try r[10].decode(FollowUpStatus.self), end = try r[8].decode(LocalDate.self)
            let patientStatus = try r[17].decode(PatientStatus.self)
            let state = FollowUpProgress(completedOn: try r[11].decode(LocalDate?.self), timing: try r[12].decode(VisitTiming?.self),
                                         notDoneReason: try r[13].decode(NotDoneReason?.self), overdueSince: try r[14].decode(LocalDate?.self),
                                         daysOverdue: Overdue.daysOverdue(windowEnd: end, status: status, patientStatus: patientStatus, on: today),
                                         escalationLevel: Int(try r[15].decode(Int16.self)), missedOn: try r[16].decode(LocalDate?.self))
            out.append(FollowUp(id: try r[0].decode(FollowUpID.self), administrationID: try r[1].decode(AdministrationID.self),
                                patientID: try r[2].decode(PatientID.self), institutionCode: try r[3].decode(String.self),
                                sequence: Int(try r[4].decode(Int16.self)), label: try r[5].decode(String.self), due: try r[6].decode(LocalDate.self),
                                windowStart: try r[7].decode(LocalDate.self), windowEnd: end, contactType: try r[9].decode(ContactType.self),
                                status: status, state: state))
        }
        return out
    }

    /// The refusal for a follow-up id that names none.
    static func unknown(_ id: FollowUpID) -> RegistryError {
        .notFound("followup", "no follow-up has id \(id)", remedy: .list(.followUps))
    }
}
