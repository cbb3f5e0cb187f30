import Foundation
import Logging
import PostgresNIO
import RegistryDomain

extension RegistryStore {
    /// Facts about a patient that decide whether new data may be recorded for them.
    struct PatientState {
        var patient: Patient
        var institutionID: Int
        var statusOn: LocalDate?
        var firstAdministration: LocalDate?

        /// Refuses data for a withdrawn patient, data dated after a death, and data from an
        /// institution that does not hold the patient.
        func checkForData(on date: LocalDate?, actingInstitution: String?) throws(RegistryError) {
            if let acting = actingInstitution, acting != patient.institutionCode {
                // Said the same way whether the patient exists elsewhere or not at all.
                throw RegistryError.notFound("patient", "institution \(acting) holds no patient with id \(patient.id)")
            }
            if patient.status == .withdrawn {
                throw RegistryError.conflict("patient", "patient \(patient.id) withdrew consent\(statusOn.map { " on \($0)" } ?? ""); only corrections with a reason are allowed")
            }
            if let date, patient.status == .deceased, let died = statusOn, date > died {
                throw RegistryError.invalid("on", "\(date) is after the patient's death on \(died)")
            }
        }
    }

    /// Loads and locks a patient, and refuses data for a withdrawn patient, data dated after a
    /// death, and data from an institution that does not hold the patient. One query.
    static func patientForData(_ patientID: Int, on date: LocalDate?, actingInstitution: String?, connection c: PostgresConnection, logger: Logger) async throws -> PatientState {
        let rows = try await c.query("""
            SELECT p.id, p.pseudonym, i.code, p.birth_year, p.sex, p.consent_on, p.consent_version, p.status,
                   p.institution_id, p.status_on, (SELECT min(administered_on) FROM administration a WHERE a.patient_id = p.id)
            FROM patient p JOIN institution i ON i.id = p.institution_id WHERE p.id = \(patientID) FOR UPDATE OF p
            """, logger: logger)
        var state: PatientState? = nil
        for try await row in rows {
            let r = row.makeRandomAccess()
            let patient = Patient(id: try r[0].decode(Int.self), pseudonym: try r[1].decode(String.self), institutionCode: try r[2].decode(String.self),
                                  birthYear: Int(try r[3].decode(Int16.self)), sex: Sex(rawValue: try r[4].decode(String.self))!,
                                  consentOn: try r[5].decode(LocalDate.self), consentVersion: try r[6].decode(String.self),
                                  status: PatientStatus(rawValue: try r[7].decode(String.self))!)
            state = PatientState(patient: patient, institutionID: try r[8].decode(Int.self), statusOn: try r[9].decode(LocalDate?.self),
                                 firstAdministration: try r[10].decode(LocalDate?.self))
        }
        guard let state else { throw RegistryError.notFound("patient", "no patient has id \(patientID)") }
        try state.checkForData(on: date, actingInstitution: actingInstitution)
        return state
    }

    /// Logs a visit against a scheduled follow-up (completing it, in the window, early or late)
    /// or, with no follow-up, as an unscheduled visit of a patient.
    public func logVisit(followUpID: Int?, patientID: Int?, _ new: NewVisit, actingInstitution: String? = nil, actor: String) async throws -> Visit {
        try await database.transaction(actor: actor) { c in
            var followUp: LockVisitTarget.Row? = nil
            let state: PatientState
            if let followUpID {
                // The follow-up and its patient, locked in one statement (follow-up first, as before).
                guard let target = try await c.execute(LockVisitTarget(followUpID: followUpID), logger: logger).first(where: { _ in true }) else {
                    throw RegistryError.notFound("followup", "no follow-up has id \(followUpID)", hint: "list them with: registry followups list --patient ID")
                }
                if let patientID, patientID != target.state.patient.id {
                    throw RegistryError.invalid("patient", "follow-up \(followUpID) belongs to patient \(target.state.patient.id), not \(patientID)")
                }
                try target.state.checkForData(on: new.visitedOn, actingInstitution: actingInstitution)
                followUp = target
                state = target.state
            } else {
                guard let patientID else {
                    throw RegistryError.invalid("followup", "give --followup ID for a scheduled visit, or --patient ID with --unscheduled")
                }
                state = try await Self.patientForData(patientID, on: new.visitedOn, actingInstitution: actingInstitution, connection: c, logger: logger)
            }
            let pid = state.patient.id
            let anchor = followUp?.anchor ?? state.firstAdministration
            guard let anchor else {
                throw RegistryError.conflict("patient", "patient \(pid) has no administration yet; visits follow a dose")
            }
            if new.visitedOn < anchor {
                throw RegistryError.invalid("on", "\(new.visitedOn) is before the administration on \(anchor); follow-up visits come after the dose")
            }
            var timing: VisitTiming? = nil
            if let f = followUp, let followUpID {
                switch FollowUpStatus(rawValue: f.status)! {
                case .completed:
                    throw RegistryError.conflict("followup", "follow-up \(followUpID) is already completed by visit \(f.visitID.map(String.init) ?? "?")",
                                                 hint: "correct that visit instead: registry visit correct \(f.visitID.map(String.init) ?? "VISIT") --reason ...")
                case .notRequired:
                    throw RegistryError.conflict("followup", "follow-up \(followUpID) is no longer required (after death, withdrawal or loss to follow-up); log an unscheduled visit instead")
                case .scheduled, .notDone, .missed:
                    timing = VisitTiming.of(new.visitedOn, windowStart: f.start, windowEnd: f.end)
                }
            }
            let measures = new.measures.sorted { $0.key < $1.key }
            let inserted = try await c.execute(InsertVisit(patientID: pid, institutionID: state.institutionID, followUpID: followUpID,
                                                           visitedOn: new.visitedOn, contactType: new.contactType.rawValue,
                                                           vitalStatus: new.vitalStatus.rawValue, timing: timing?.rawValue, note: new.note,
                                                           measures: measures), logger: logger)
            let visitID = try await inserted.first(where: { _ in true })!
            return Visit(id: visitID, patientID: pid, followUpID: followUpID, institutionCode: state.patient.institutionCode, visitedOn: new.visitedOn,
                         contactType: new.contactType, vitalStatus: new.vitalStatus, timing: timing, measures: measures, note: new.note)
        }
    }

    /// Writes or corrects measures of a visit, one row per measure key.
    static func writeMeasures(_ measures: [MeasureValue], visitID: Int, patientID: Int, institutionID: Int, connection c: PostgresConnection, logger: Logger) async throws {
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

    /// Corrects a visit's recorded values. The earlier values stay readable in the audit trail.
    public func correctVisit(id: Int, on date: LocalDate?, contact: ContactType?, vital: VitalStatus?, measures: [MeasureValue],
                             note: String?, reason: String, today: LocalDate, actor: String) async throws -> Visit {
        let reason = try Rules.reason(reason)
        return try await database.transaction(actor: actor, reason: reason) { c in
            let visit = try await Self.visit(id: id, connection: c, logger: logger)
            if let date {
                try Rules.eventDate(date, field: "on", today: today)
                let rows = try await c.query("""
                    SELECT coalesce((SELECT a.administered_on FROM follow_up f JOIN administration a ON a.id = f.administration_id WHERE f.id = v.follow_up_id),
                                    (SELECT min(administered_on) FROM administration WHERE patient_id = v.patient_id))
                    FROM visit v WHERE v.id = \(id)
                    """, logger: logger)
                if let anchor = try await rows.decode(LocalDate?.self).first(where: { _ in true }) ?? nil, date < anchor {
                    throw RegistryError.invalid("on", "\(date) is before the administration on \(anchor)")
                }
            }
            let newDate = date ?? visit.visitedOn
            var timing: VisitTiming? = nil
            if let followUpID = visit.followUpID {
                let window = try await c.query("SELECT window_start, window_end FROM follow_up WHERE id = \(followUpID)", logger: logger)
                let (start, end) = try await window.decode((LocalDate, LocalDate).self).first(where: { _ in true })!
                timing = VisitTiming.of(newDate, windowStart: start, windowEnd: end)
            }
            try await c.query("""
                UPDATE visit SET visit_on = \(newDate), contact_type = \((contact ?? visit.contactType).rawValue),
                       vital_status = \((vital ?? visit.vitalStatus).rawValue), note = \(note ?? visit.note), timing = \(timing?.rawValue)
                WHERE id = \(id)
                """, logger: logger)
            if let followUpID = visit.followUpID {
                try await c.query("""
                    UPDATE follow_up SET completed_on = \(newDate), timing = \(timing?.rawValue)
                    WHERE id = \(followUpID) AND (completed_on, timing) IS DISTINCT FROM (\(newDate), \(timing?.rawValue))
                    """, logger: logger)
            }
            let ids = try await c.query("SELECT patient_id, institution_id FROM visit WHERE id = \(id)", logger: logger)
            let (patientID, institutionID) = try await ids.decode((Int, Int).self).first(where: { _ in true })!
            try await Self.writeMeasures(measures, visitID: id, patientID: patientID, institutionID: institutionID, connection: c, logger: logger)
            return try await Self.visit(id: id, connection: c, logger: logger)
        }
    }

    /// Closes a follow-up as not done, with the reason.
    public func closeFollowUp(id: Int, reason: NotDoneReason, note: String?, actingInstitution: String? = nil, actor: String) async throws -> FollowUp {
        try await database.transaction(actor: actor, reason: note.map { "\(reason.rawValue): \($0)" } ?? reason.rawValue) { c in
            let rows = try await c.query("SELECT patient_id, status FROM follow_up WHERE id = \(id) FOR UPDATE", logger: logger)
            guard let (patientID, status) = try await rows.decode((Int, String).self).first(where: { _ in true }) else {
                throw RegistryError.notFound("followup", "no follow-up has id \(id)")
            }
            _ = try await Self.patientForData(patientID, on: nil, actingInstitution: actingInstitution, connection: c, logger: logger)
            guard status == FollowUpStatus.scheduled.rawValue || status == FollowUpStatus.missed.rawValue else {
                throw RegistryError.conflict("followup", "follow-up \(id) is \(status); only a scheduled or missed follow-up can be closed as not done")
            }
            try await c.query("UPDATE follow_up SET status = 'not-done', not_done_reason = \(reason.rawValue) WHERE id = \(id)", logger: logger)
            return try await Self.followUps(c.query("\(unescaped: Self.followUpSelect) WHERE f.id = \(id)", logger: logger)).first!
        }
    }

    /// A patient's visits, oldest first: two queries, however many visits.
    public func visits(patientID: Int) async throws -> [Visit] {
        try await database.read { c in
            try await Self.visits(where: "v.patient_id = \(patientID)", connection: c, logger: logger)
        }
    }

    static func visit(id: Int, connection c: PostgresConnection, logger: Logger) async throws -> Visit {
        guard let visit = try await visits(where: "v.id = \(id)", connection: c, logger: logger).first else {
            throw RegistryError.notFound("visit", "no visit has id \(id)")
        }
        return visit
    }

    /// Visits matching a condition on `v` (built from bound integers only), with their measures.
    private static func visits(where condition: String, connection c: PostgresConnection, logger: Logger) async throws -> [Visit] {
        var measures: [Int: [MeasureValue]] = [:]
        for try await (visitID, key, system, code, value, unit) in try await c.query(PostgresQuery(unsafeSQL: """
            SELECT m.visit_id, m.key, m.code_system, m.code, m.value::float8, m.unit
            FROM visit_measure m JOIN visit v ON v.id = m.visit_id WHERE \(condition) ORDER BY m.visit_id, m.key
            """), logger: logger).decode((Int, String, String, String, Double, String?).self) {
            measures[visitID, default: []].append(MeasureValue(key: key, codeSystem: system, code: code, value: value, unit: unit))
        }
        var out: [Visit] = []
        for try await (vid, patient, followUp, inst, on, contact, vital, timing, note) in try await c.query(PostgresQuery(unsafeSQL: """
            SELECT v.id, v.patient_id, v.follow_up_id, i.code, v.visit_on, v.contact_type, v.vital_status, v.timing, v.note
            FROM visit v JOIN institution i ON i.id = v.institution_id WHERE \(condition) ORDER BY v.visit_on, v.id
            """), logger: logger).decode((Int, Int, Int?, String, LocalDate, String, String, String?, String?).self) {
            out.append(Visit(id: vid, patientID: patient, followUpID: followUp, institutionCode: inst, visitedOn: on,
                             contactType: ContactType(rawValue: contact)!, vitalStatus: VitalStatus(rawValue: vital)!,
                             timing: timing.flatMap(VisitTiming.init(rawValue:)), measures: measures[vid] ?? [], note: note))
        }
        return out
    }
}
