import Foundation
import PostgresNIO
import RegistryDomain

// Visit logging is the registry's busiest write (institutions' systems post every visit), so its
// two statements are named prepared statements: PostgreSQL plans them once per connection instead
// of on every visit (planning was about 40% of their database time).

/// A follow-up and its patient, both locked, with the facts that decide whether a visit may be
/// logged: the follow-up's window and status, its administration's date, the patient, the
/// patient's holder, status date and first standing dose.
struct LockVisitTarget: PostgresPreparedStatement {
    static let name = "registry_lock_visit_target"
    static let sql = """
        SELECT f.window_start, f.window_end, f.status, (SELECT v.id FROM visit v WHERE v.follow_up_id = f.id AND v.voided_on IS NULL), a.administered_on,
               f.contact_type,
               \(PatientRow.columns), p.institution_id, p.status_on,
               (SELECT min(x.administered_on) FROM administration x WHERE x.patient_id = p.id AND x.voided_on IS NULL)
        FROM follow_up f JOIN administration a ON a.id = f.administration_id JOIN patient p ON p.id = f.patient_id
        JOIN institution i ON i.id = p.institution_id
        WHERE f.id = $1 FOR UPDATE OF f, p
        """
    struct Row {
        var start: LocalDate, end: LocalDate, status: FollowUpStatus, visitID: VisitID?, anchor: LocalDate
        /// The contact the time point plans.
        var contact: ContactType
        var patient: LockedPatient
    }
    var followUpID: FollowUpID

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(followUpID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let r = row.makeRandomAccess()
        return Row(start: try r[0].decode(LocalDate.self), end: try r[1].decode(LocalDate.self), status: try r[2].decode(FollowUpStatus.self),
                   visitID: try r[3].decode(VisitID?.self), anchor: try r[4].decode(LocalDate.self), contact: try r[5].decode(ContactType.self),
                   patient: try Patients.locked(r, from: 6))
    }
}

/// The visit, its measures and (for a scheduled visit) the follow-up it completes, in one statement.
struct InsertVisit: PostgresPreparedStatement {
    static let name = "registry_insert_visit"
    static let sql = """
        WITH v AS (
            INSERT INTO visit (patient_id, institution_id, follow_up_id, visit_on, contact_type, vital_status, timing, note, screening)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $14) RETURNING id),
        m AS (
            INSERT INTO visit_measure (visit_id, patient_id, institution_id, key, code_system, code, value, unit)
            SELECT v.id, $1, $2, k, s, c, val::numeric, nullif(u, '')
            FROM v, unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[]) AS x(k, s, c, val, u)),
        f AS (
            UPDATE follow_up SET status = 'completed', completed_on = $4, timing = $7, not_done_reason = NULL, not_done_on = NULL
            WHERE id = $3)
        SELECT id FROM v
        """
    typealias Row = VisitID
    var patientID: PatientID, institutionID: Int, followUpID: FollowUpID?, visitedOn: LocalDate
    var contactType: String, vitalStatus: String, timing: String?, note: String?, screening: Bool
    var measures: [MeasureValue]

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 14)
        b.append(patientID); b.append(institutionID); b.append(followUpID); b.append(visitedOn)
        b.append(contactType); b.append(vitalStatus); b.append(timing); b.append(note)
        b.append(measures.map(\.key)); b.append(measures.map(\.codeSystem)); b.append(measures.map(\.code))
        b.append(measures.map(\.valueText)); b.append(measures.map { $0.unit ?? "" })
        b.append(screening)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> VisitID { try row.decode(VisitID.self) }
}
