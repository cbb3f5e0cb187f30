import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// One line of an institution's worklist: a follow-up that is overdue, or open now or due in the next days.
public struct WorklistEntry: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case overdue, dueSoon = "due-soon" }
    public var kind: Kind
    public var followUpID: Int
    public var patientID: Int
    public var label: String
    public var dueOn: LocalDate
    public var windowStart: LocalDate
    public var windowEnd: LocalDate
    /// Days since the window closed (overdue only, else 0).
    public var daysOverdue: Int
    /// The nightly job's escalation level (0 until it has escalated).
    public var escalationLevel: Int

    /// Where the list continues after this entry: overdue first by window end, then due soon by due date.
    public var position: WorklistPosition {
        WorklistPosition(section: kind == .overdue ? 0 : 1, on: kind == .overdue ? windowEnd : dueOn, id: followUpID)
    }
}

/// A place in a worklist, for paging.
public struct WorklistPosition: Equatable, Sendable {
    public var section: Int
    public var on: LocalDate
    public var id: Int
    public init(section: Int, on: LocalDate, id: Int) { self.section = section; self.on = on; self.id = id }
}

/// Which stored row version a record is at (its ETag), for corrections that must not overwrite a
/// change they have not seen.
public enum VersionedRecord: String, Sendable {
    case visit, adverseEvent = "adverse_event", administration
}

extension RegistryStore {
    /// Patients by id, after `after`, at most `limit`: one institution's (or all), optionally those
    /// whose pseudonym starts with `pseudonymPrefix`.
    public func patients(institutionCode: String?, pseudonymPrefix: String? = nil, after: Int? = nil, limit: Int) async throws -> [Patient] {
        try await database.read { c in
            var out: [Patient] = []
            let rows = try await c.query("""
                \(unescaped: Self.patientSelect)
                WHERE (\(institutionCode)::text IS NULL OR i.code = \(institutionCode))
                  AND (\(pseudonymPrefix)::text IS NULL OR p.pseudonym LIKE \(pseudonymPrefix.map { $0 + "%" }))
                  AND p.id > \(after ?? 0)
                ORDER BY p.id LIMIT \(limit)
                """, logger: logger)
            for try await (id, pseudonym, inst, birthYear, sex, consentOn, version, status)
                in rows.decode((Int, String, String, Int16, String, LocalDate, String, String).self) {
                out.append(Patient(id: id, pseudonym: pseudonym, institutionCode: inst, birthYear: Int(birthYear), sex: Sex(rawValue: sex)!,
                                   consentOn: consentOn, consentVersion: version, status: PatientStatus(rawValue: status)!))
            }
            return out
        }
    }

    /// An institution's worklist on `asOf`: overdue follow-ups (under `follow_up_overdue()`, the
    /// one definition) oldest window first, then those open now or due in the next `days` days
    /// (window not closed, due before day `days`) by due date; the same selection as the nightly
    /// digest. At most `limit` entries after `after`.
    public func worklist(institutionCode: String, asOf: LocalDate, days: Int, after: WorklistPosition? = nil, limit: Int) async throws -> [WorklistEntry] {
        try await database.read { c in
            let inst = try await c.query("SELECT id FROM institution WHERE code = \(institutionCode)", logger: logger)
            guard let institutionID = try await inst.decode(Int.self).first(where: { _ in true }) else {
                throw Self.unknownInstitution(institutionCode)
            }
            let position = after ?? WorklistPosition(section: -1, on: asOf, id: 0)
            var out: [WorklistEntry] = []
            let rows = try await c.query("""
                SELECT section, id, patient_id, label, due_on, window_start, window_end, escalation_level FROM (
                    SELECT 0 AS section, f.window_end AS sort_on, f.id, f.patient_id, f.label, f.due_on, f.window_start, f.window_end, f.escalation_level
                    FROM follow_up f JOIN patient p ON p.id = f.patient_id
                    WHERE f.institution_id = \(institutionID) AND f.status = 'scheduled'
                      AND follow_up_overdue(f.window_end, f.status, p.status, \(asOf))
                    UNION ALL
                    SELECT 1, f.due_on, f.id, f.patient_id, f.label, f.due_on, f.window_start, f.window_end, f.escalation_level
                    FROM follow_up f JOIN patient p ON p.id = f.patient_id AND p.status = 'active'
                    WHERE f.institution_id = \(institutionID) AND f.window_end >= \(asOf) AND f.due_on < \(asOf) + \(days)::int
                      AND f.due_on >= \(asOf) - (SELECT coalesce(max(window_after), 0) FROM protocol_time_point)
                      AND f.status = 'scheduled'
                ) w
                WHERE (section, sort_on, id) > (\(position.section), \(position.on), \(position.id))
                ORDER BY section, sort_on, id LIMIT \(limit)
                """, logger: logger)
            for try await (section, id, patient, label, due, start, end, level)
                in rows.decode((Int32, Int, Int, String, LocalDate, LocalDate, LocalDate, Int16).self) {
                let overdue = section == 0
                out.append(WorklistEntry(kind: overdue ? .overdue : .dueSoon, followUpID: id, patientID: patient, label: label, dueOn: due,
                                         windowStart: start, windowEnd: end,
                                         daysOverdue: overdue ? Overdue.daysOverdue(windowEnd: end, status: .scheduled, patientStatus: .active, on: asOf) : 0,
                                         escalationLevel: Int(level)))
            }
            return out
        }
    }

    /// Plans by id after `after`, at most `limit`, optionally one institution's.
    public func plans(institutionCode: String?, after: Int?, limit: Int) async throws -> [TreatmentPlan] {
        try await database.read { c in
            try await Self.plans(c.query("""
                \(unescaped: Self.planSelect) WHERE (\(institutionCode)::text IS NULL OR i.code = \(institutionCode)) AND p.id > \(after ?? 0)
                ORDER BY p.id LIMIT \(limit)
                """, logger: logger))
        }
    }

    /// One follow-up.
    public func followUp(id: Int) async throws -> FollowUp {
        try await database.read { c in
            guard let f = try await Self.followUps(c.query("\(unescaped: Self.followUpSelect) WHERE f.id = \(id)", logger: logger)).first else {
                throw RegistryError.notFound("followup", "no follow-up has id \(id)")
            }
            return f
        }
    }

    /// One visit with its measures.
    public func visit(id: Int) async throws -> Visit {
        try await database.read { c in try await Self.visit(id: id, connection: c, logger: logger) }
    }

    /// One adverse event.
    public func adverseEvent(id: Int) async throws -> AdverseEvent {
        try await database.read { c in try await Self.adverseEvent(id: id, connection: c, logger: logger) }
    }

    /// One administration.
    public func administration(id: Int) async throws -> Administration {
        try await database.read { c in try await Self.administrations(id: id, connection: c, logger: logger) }
    }

    /// The stored version of a record (its row's transaction id, which every update changes), or
    /// nil when there is no such record. With `lock`, the row stays locked until the transaction
    /// ends, so a version compared now is still the version when the correction writes.
    public func version(of record: VersionedRecord, id: Int, lock: Bool = false) async throws -> String? {
        try await database.read { c in
            let rows = try await c.query("""
                SELECT xmin::text FROM \(unescaped: record.rawValue) WHERE id = \(id) \(unescaped: lock ? "FOR UPDATE" : "")
                """, logger: logger)
            return try await rows.decode(String.self).first(where: { _ in true })
        }
    }
}
