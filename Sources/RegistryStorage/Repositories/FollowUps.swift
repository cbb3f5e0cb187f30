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
        // Two reads, each through schema/0015's index of open follow-ups (institution, window end)
        // and stopped at the page's size, the patients who are not active left out through their
        // own index (Overdue.isOverdue and DueSoon.includes, property-tested against them in
        // WorklistQueryTests): the overdue follow-ups in the index's order, then, if the page has
        // room, those due soon, sorted by due date. A window ends at most the widest window_after
        // past its due date, which bounds the due-soon range of window ends.
        if position.section <= 0 {
            let (on, id) = position.section == 0 ? (position.on, position.id.rawValue) : (LocalDate(year: 1, month: 1, day: 1)!, 0)
            let rows = try await c.query("""
                SELECT f.id, f.patient_id, f.label, f.due_on, f.window_start, f.window_end, f.escalation_level, \(unescaped: Self.transferredIn)
                FROM (SELECT f.id FROM follow_up f
                      WHERE f.institution_id = \(institutionID) AND f.status = 'scheduled' AND f.window_end < \(asOf)
                        AND (f.window_end, f.id) > (\(on), \(id)) AND \(unescaped: Self.patientActive)
                      ORDER BY f.window_end, f.id LIMIT \(limit)) k
                JOIN follow_up f ON f.id = k.id JOIN patient p ON p.id = f.patient_id
                ORDER BY f.window_end, f.id
                """, logger: logger)
            try await Self.appendEntries(rows, kind: .overdue, asOf: asOf, to: &out)
        }
        if out.count < limit {
            let (on, id) = position.section == 1 ? (position.on, position.id.rawValue) : (LocalDate(year: 1, month: 1, day: 1)!, 0)
            let rows = try await c.query("""
                SELECT f.id, f.patient_id, f.label, f.due_on, f.window_start, f.window_end, f.escalation_level, \(unescaped: Self.transferredIn)
                FROM (SELECT f.id FROM follow_up f
                      WHERE f.institution_id = \(institutionID) AND \(unescaped: Self.dueSoonRange(asOf: asOf, days: days))
                        AND (f.due_on, f.id) > (\(on), \(id)) AND \(unescaped: Self.patientActive)
                      ORDER BY f.due_on, f.id LIMIT \(limit - out.count)) k
                JOIN follow_up f ON f.id = k.id JOIN patient p ON p.id = f.patient_id
                ORDER BY f.due_on, f.id
                """, logger: logger)
            try await Self.appendEntries(rows, kind: .dueSoon, asOf: asOf, to: &out)
        }
        return out
    }

    /// Worklist entries of one `kind` from rows of `worklist`'s reads.
    private static func appendEntries(_ rows: PostgresRowSequence, kind: WorklistEntry.Kind, asOf: LocalDate, to out: inout [WorklistEntry]) async throws {
        for try await (id, patient, label, due, start, end, level, transferredIn)
            in rows.decode((FollowUpID, PatientID, String, LocalDate, LocalDate, LocalDate, Int16, Bool).self) {
            out.append(WorklistEntry(kind: kind, followUpID: id, patientID: patient, label: label, dueOn: due,
                                     windowStart: start, windowEnd: end,
                                     daysOverdue: kind == .overdue ? Overdue.daysOverdue(windowEnd: end, status: .scheduled, patientStatus: .active, on: asOf) : 0,
                                     escalationLevel: Int(level), transferredIn: transferredIn))
        }
    }

    /// How many follow-ups an institution's worklist on `asOf` holds: overdue, and due within `days`
    /// (the same selection as `worklist`, counted), from indexes alone: the open follow-ups
    /// (schema/0015's index carries each one's patient and due date) less those of patients who
    /// are not active. A 21,700-patient institution's 23,606 overdue and 8,879 due-soon
    /// follow-ups count in 13 ms; a 4,483-patient one's, under row-level security, in 6 ms.
    public func worklistCounts(institutionCode: String, asOf: LocalDate, days: Int) async throws -> (overdue: Int, dueSoon: Int) {
        let institutionID = try await tx.institutions.id(code: institutionCode)
        let rows = try await c.query("""
            SELECT (SELECT count(*) FROM follow_up f
                    WHERE f.institution_id = \(institutionID) AND f.status = 'scheduled' AND f.window_end < \(asOf) AND \(unescaped: Self.patientActive)),
                   (SELECT count(*) FROM follow_up f
                    WHERE f.institution_id = \(institutionID) AND \(unescaped: Self.dueSoonRange(asOf: asOf, days: days)) AND \(unescaped: Self.patientActive))
            """, logger: logger)
        for try await (overdue, dueSoon) in rows.decode((Int, Int).self) { return (overdue, dueSoon) }
        return (0, 0)
    }

    /// Follow-up `f`'s patient is active, read from the index of those who are not (schema/0015):
    /// every follow-up has one patient, so no row of `patient` is read (under row-level security
    /// too: the index leads with the institution the policy names).
    static let patientActive = "NOT EXISTS (SELECT 1 FROM patient p WHERE p.id = f.patient_id AND p.status <> 'active')"

    /// Follow-up `f` is open, its window not closed on `asOf` and due before `asOf + days`
    /// (DueSoon.includes but for the patient's status), as a range of schema/0015's index: a
    /// window ends at most the widest window_after past its due date.
    static func dueSoonRange(asOf: LocalDate, days: Int) -> String {
        let end = asOf.adding(days: days)
        return """
            f.status = 'scheduled' AND f.window_end >= DATE '\(asOf)' AND f.due_on < DATE '\(end)'
            AND f.window_end < DATE '\(end)' + (SELECT coalesce(max(window_after), 0) FROM protocol_time_point)
            """
    }

    /// Closes a follow-up as not done, with the reason.
    public func closeNotDone(id: FollowUpID, reason: NotDoneReason, note: String?) async throws -> FollowUp {
        try await tx.because(note.map { "\(reason.rawValue): \($0)" } ?? reason.rawValue)
        let rows = try await c.query("SELECT patient_id, status FROM follow_up WHERE id = \(id) FOR UPDATE", logger: logger)
        guard let (patientID, status) = try await rows.decode((PatientID, FollowUpStatus).self).firstElement() else {
            throw Self.unknown(id)
        }
        _ = try await tx.patients.lockForData(patientID, on: nil)
        try NotDoneClosure.checkCloses(id, status: status)
        try await c.query("UPDATE follow_up SET status = 'not-done', not_done_reason = \(reason), not_done_on = \(tx.today) WHERE id = \(id)", logger: logger)
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
