import PostgresNIO
import RegistryDomain

/// Patients, known by pseudonym only.
public struct Patients: Repository {
    let tx: Transaction

    /// Enrols a patient; the same institution and local key find the same patient again.
    /// Returns the patient and whether this call created it.
    public func enroll(_ new: NewPatient) async throws -> (patient: Patient, created: Bool) {
        let institution = try await tx.institutions.idAndStatus(code: new.institutionCode)
        let inserted = try await c.query("""
            INSERT INTO patient (pseudonym, enrolled_by, institution_id, birth_year, sex, consent_on, consent_version)
            SELECT \(new.pseudonym), \(institution.id), \(institution.id), \(Int16(new.birthYear)), \(new.sex),
                   \(new.consentOn), \(new.consentVersion)
            WHERE \(institution.status) = 'active'
            ON CONFLICT (pseudonym) WHERE voided_on IS NULL DO NOTHING RETURNING id
            """, logger: logger)
        if let id = try await inserted.decode(PatientID.self).firstElement() {
            return (try await patient(id: id), true)
        }
        let existing = try await c.query("SELECT id FROM patient WHERE pseudonym = \(new.pseudonym) AND voided_on IS NULL", logger: logger)
        guard let id = try await existing.decode(PatientID.self).firstElement() else {
            try NewPatient.checkEnrolling(at: new.institutionCode, status: institution.status)
            // Only under row-level security: the patient exists but was transferred away.
            throw Self.transferredAway(new.institutionCode)
        }
        let patient = try await patient(id: id)
        try new.checkSame(asEnrolled: patient)
        return (patient, false)
    }

    /// One patient by registry id (locked for update with `lock`).
    public func patient(id: PatientID, lock: Bool = false) async throws -> Patient {
        let rows = try await c.query("""
            SELECT \(unescaped: PatientRow.columns) FROM patient p JOIN institution i ON i.id = p.institution_id
            WHERE p.id = \(id) \(unescaped: lock ? "FOR UPDATE OF p" : "")
            """, logger: logger)
        guard let row = try await rows.firstElement() else { throw Self.unknown(id) }
        return try PatientRow.decode(row.makeRandomAccess())
    }

    /// The standing patient an institution knows by this local key (its pseudonym). Refused when the
    /// registry holds none there (or none the caller may see), saying so when the patient enrolled
    /// with the key was voided: the key can then be enrolled again.
    public func lookup(_ key: LocalPatientKey) async throws -> Patient {
        // Two lookups, each by its own partial index on the pseudonym (schema/0013).
        for voided in [false, true] {
            let rows = try await c.query("""
                SELECT \(unescaped: PatientRow.columns) FROM patient p JOIN institution i ON i.id = p.institution_id
                WHERE p.pseudonym = \(key.pseudonym) AND i.code = \(key.institutionCode)
                  AND \(unescaped: voided ? "p.voided_on IS NOT NULL" : "p.voided_on IS NULL")
                ORDER BY p.id DESC LIMIT 1
                """, logger: logger)
            guard let row = try await rows.firstElement() else { continue }
            let patient = try PatientRow.decode(row.makeRandomAccess())
            guard let mark = patient.void else { return patient }
            throw RegistryError.notFound("local-id", "patient \(patient.id), enrolled at \(key.institutionCode) with this local key, was voided on \(mark.voidedOn) as enrolled in error (\(mark.reason)); \(key.institutionCode) holds no standing patient with this key",
                                         hint: "the key is free: enrol the patient again if it is theirs", remedy: .enrolPatient(institution: key.institutionCode))
        }
        throw Self.notHeld(key.institutionCode)
    }

    /// The refusal when an institution holds no standing patient with a local key.
    public static func notHeld(_ institutionCode: String) -> RegistryError {
        RegistryError.notFound("local-id", "\(institutionCode) holds no patient with this local key", remedy: .enrolPatient(institution: institutionCode))
    }

    /// The refusal when a local key's patient was transferred away and is no longer held by the institution.
    public static func transferredAway(_ institutionCode: String) -> RegistryError {
        RegistryError.conflict("local-id", "this local key's patient was transferred to another institution and is no longer held by \(institutionCode)")
    }

    /// A patient with their administrations, follow-ups, visits, adverse events and status changes.
    public func record(id: PatientID) async throws -> PatientRecord {
        PatientRecord(patient: try await patient(id: id), administrations: try await tx.administrations.list(patientID: id),
                      followUps: try await tx.followUps.of(patientID: id), visits: try await tx.visits.of(patientID: id),
                      adverseEvents: try await tx.adverseEvents.of(patientID: id), statusChanges: try await tx.statusChanges.of(patientID: id))
    }

    /// Corrects a patient's own details (birth year, sex, consent date or version), with the reason;
    /// the earlier values stay in the audit trail. Allowed whatever the patient's status, by the
    /// institution that holds the patient.
    public func correct(id: PatientID, _ correction: PatientCorrection) async throws -> Patient {
        let locked = try await lock(id)
        try VoidRules.checkStanding(locked.patient.void, record: "patient \(id)")
        try correction.check(firstAdministration: locked.forData.firstAdministration)
        try await tx.because(correction.reason)
        try await c.query("""
            UPDATE patient SET birth_year = coalesce(\(correction.birthYear.map(Int16.init)), birth_year), sex = coalesce(\(correction.sex), sex),
                consent_on = coalesce(\(correction.consentOn), consent_on), consent_version = coalesce(\(correction.consentVersion), consent_version)
            WHERE id = \(id)
            """, logger: logger)
        return try await patient(id: id)
    }

    /// Voids a patient enrolled in error (a duplicate, the wrong site), with the reason: kept and
    /// marked, and left out of every listing, worklist, nightly step and report from now on; the
    /// local key can be enrolled again. Refused while any record of the patient stands (void those
    /// first, each with its own rules and consequences), so nothing derived from the patient remains
    /// but a pending lost-to-follow-up proposal, withdrawn with it: refused unless `confirm`.
    public func void(id: PatientID, reason: String, confirm: Bool) async throws -> (Patient, [Consequence]) {
        let reason = try Rules.reason(reason)
        try await tx.because(reason)
        let locked = try await lock(id)
        let rows = try await c.query("""
            SELECT array(SELECT id FROM administration WHERE patient_id = \(id) AND voided_on IS NULL ORDER BY id),
                   array(SELECT id FROM visit WHERE patient_id = \(id) AND voided_on IS NULL ORDER BY id),
                   array(SELECT id FROM adverse_event WHERE patient_id = \(id) AND voided_on IS NULL ORDER BY id),
                   array(SELECT id FROM patient_status_change WHERE patient_id = \(id) AND voided_on IS NULL ORDER BY id)
            """, logger: logger)
        let (administrations, visits, events, changes) = try await rows.decode(([Int], [Int], [Int], [Int]).self).one("patient \(id)'s records")
        let standing = StandingRecords(administrations: administrations.map { AdministrationID(rawValue: $0) }, visits: visits.map { VisitID(rawValue: $0) },
                                       adverseEvents: events.map { AdverseEventID(rawValue: $0) }, statusChanges: changes.map { StatusChangeID(rawValue: $0) })
        try VoidRules.checkVoid(locked.patient, standing: standing)
        try await c.query("UPDATE patient SET voided_on = \(tx.today), void_reason = \(reason) WHERE id = \(id)", logger: logger)
        let consequences = try await tx.lostProposals.withdrawPending(patientID: id, because: "patient \(id) was voided as enrolled in error")
        try consequences.confirmed(confirm, doing: "voiding patient \(id)")
        return (try await patient(id: id), consequences)
    }

    /// What a void or a correction can change besides its record: the patient's status and holder,
    /// and their follow-ups (the domain's `PatientState`, compared before and after).
    func state(id: PatientID) async throws -> PatientState {
        let p = try await patient(id: id)
        let statusOn = try await c.query("SELECT status_on FROM patient WHERE id = \(id)", logger: logger).decode(LocalDate?.self).one("patient \(id)")
        var followUps: [FollowUpState] = []
        for try await (fid, due, end, status, suspendedBy, code) in try await c.query("""
            SELECT f.id, f.due_on, f.window_end, f.status, f.suspended_by, i.code
            FROM follow_up f JOIN institution i ON i.id = f.institution_id WHERE f.patient_id = \(id) ORDER BY f.id
            """, logger: logger).decode((FollowUpID, LocalDate, LocalDate, FollowUpStatus, StatusChangeID?, String).self) {
            followUps.append(FollowUpState(id: fid, dueOn: due, windowEnd: end, status: status, suspendedBy: suspendedBy, institutionCode: code))
        }
        return PatientState(patientID: id, status: p.status, statusOn: statusOn, institutionCode: p.institutionCode, followUps: followUps)
    }

    /// Runs `change`, a report, correction or void of one of the patient's records, and adds to the
    /// consequences it names itself what it did to the patient's status, holder and follow-ups
    /// (their state read before and after, in this transaction). Refused, listing them, unless
    /// `confirm` when there are any: the caller's transaction then rolls back.
    func confirming<Value>(_ patientID: PatientID, confirm: Bool, doing what: String,
                           _ change: () async throws -> (Value, [Consequence])) async throws -> (Value, [Consequence]) {
        let before = try await state(id: patientID)
        let (value, named) = try await change()
        let consequences = named + Consequence.between(before, try await state(id: patientID))
        try consequences.confirmed(confirm, doing: what)
        return (value, consequences)
    }

    /// Standing patients by id, after `after`, at most `limit`: one institution's (or all), optionally
    /// those whose pseudonym starts with `pseudonymPrefix`.
    public func list(institutionCode: String?, pseudonymPrefix: String? = nil, after: PatientID? = nil, limit: Int) async throws -> [Patient] {
        var out: [Patient] = []
        let rows = try await c.query("""
            SELECT \(unescaped: PatientRow.columns) FROM patient p JOIN institution i ON i.id = p.institution_id
            WHERE p.voided_on IS NULL AND (\(institutionCode)::text IS NULL OR i.code = \(institutionCode))
              AND (\(pseudonymPrefix)::text IS NULL OR p.pseudonym LIKE \(pseudonymPrefix.map { $0 + "%" }))
              AND p.id > \(after ?? 0)
            ORDER BY p.id LIMIT \(limit)
            """, logger: logger)
        for try await row in rows { out.append(try PatientRow.decode(row.makeRandomAccess())) }
        return out
    }

    /// Loads and locks a patient, and refuses data for a withdrawn patient and data dated after a
    /// death (the domain's rule). One query. Under row-level security another site's patient is not found.
    func lockForData(_ patientID: PatientID, on date: LocalDate?) async throws -> LockedPatient {
        let locked = try await lock(patientID)
        try locked.forData.checkForData(on: date)
        return locked
    }

    /// Loads and locks a patient with what the data-entry rules read, checking nothing. One query.
    func lock(_ patientID: PatientID) async throws -> LockedPatient {
        let rows = try await c.query("""
            SELECT \(unescaped: PatientRow.columns), p.institution_id, p.status_on,
                   (SELECT min(administered_on) FROM administration a WHERE a.patient_id = p.id AND a.voided_on IS NULL)
            FROM patient p JOIN institution i ON i.id = p.institution_id WHERE p.id = \(patientID) FOR UPDATE OF p
            """, logger: logger)
        guard let row = try await rows.firstElement() else { throw Self.unknown(patientID) }
        return try Self.locked(row.makeRandomAccess(), from: 0)
    }

    /// A locked patient from `PatientRow.columns` followed by institution id, status date and first standing administration.
    static func locked(_ r: PostgresRandomAccessRow, from start: Int) throws -> LockedPatient {
        let n = PatientRow.count
        return LockedPatient(forData: PatientForData(patient: try PatientRow.decode(r, from: start), statusOn: try r[start + n + 1].decode(LocalDate?.self),
                                                     firstAdministration: try r[start + n + 2].decode(LocalDate?.self)),
                             institutionID: try r[start + n].decode(Int.self))
    }

    /// The refusal for a patient id that names none (or none the caller may see).
    static func unknown(_ id: PatientID) -> RegistryError {
        .notFound("patient", "no patient has id \(id)")
    }
}
