import Foundation
import Logging
import PostgresNIO
import RegistryDomain

extension RegistryStore {
    /// The expedited-report clocks as configured in `registry_setting`.
    public func reportClock() async throws -> ExpeditedReportClock {
        try await database.read { c in try await Self.reportClock(connection: c, logger: logger) }
    }

    static func reportClock(connection c: PostgresConnection, logger: Logger) async throws -> ExpeditedReportClock {
        let settings = try await Self.settings(connection: c, logger: logger)
        return ExpeditedReportClock(fatalOrLifeThreateningDays: Int(settings["ae.report-days.fatal-or-life-threatening"] ?? "") ?? 7,
                                    otherSeriousDays: Int(settings["ae.report-days.other-serious"] ?? "") ?? 15)
    }

    /// Records an adverse event. A serious one gets its expedited-report due date from the
    /// awareness date and the configured clock; a grade 5 event also records the death.
    public func reportAdverseEvent(patientID: Int, _ new: NewAdverseEvent, actingInstitution: String? = nil, actor: String) async throws -> AdverseEvent {
        try await database.transaction(actor: actor) { c in
            let state = try await Self.patientForData(patientID, on: new.onsetOn, actingInstitution: actingInstitution, connection: c, logger: logger)
            guard let first = state.firstAdministration else {
                throw RegistryError.conflict("patient", "patient \(patientID) has no administration yet; the registry follows events after treatment")
            }
            if new.onsetOn < first {
                throw RegistryError.invalid("onset", "\(new.onsetOn) is before the patient's first administration on \(first)")
            }
            let clock = try await Self.reportClock(connection: c, logger: logger)
            let due = clock.dueDate(serious: new.serious, criteria: new.criteria, grade: new.grade, aware: new.awareOn)
            let rows = try await c.query("""
                INSERT INTO adverse_event (patient_id, institution_id, onset_on, aware_on, term, meddra_code, category, grade, grading_system,
                    grading_version, serious, seriousness, relatedness, outcome, outcome_on, report_due_on)
                VALUES (\(patientID), \(state.institutionID), \(new.onsetOn), \(new.awareOn), \(new.term), \(new.meddraCode), \(new.category.rawValue),
                    \(Int16(new.grade)), \(new.grading.system), \(new.grading.version), \(new.serious), \(new.criteria.map(\.rawValue).sorted()),
                    \(new.relatedness.rawValue), \(new.outcome.rawValue), \(new.outcomeOn), \(due))
                RETURNING id
                """, logger: logger)
            let id = try await rows.decode(Int.self).first(where: { _ in true })!
            if let died = new.deathDate, state.patient.status != .deceased {
                _ = try await Self.recordStatusChange(.death, patientID: patientID, on: died, reason: "grade 5 adverse event: \(new.term)",
                                                      adverseEventID: id, connection: c, logger: logger)
            }
            return try await Self.adverseEvent(id: id, connection: c, logger: logger)
        }
    }

    /// Records the expedited report's submission, which stops its clock.
    public func submitReport(adverseEventID id: Int, on date: LocalDate, actingInstitution: String? = nil, actor: String) async throws -> AdverseEvent {
        try await database.transaction(actor: actor) { c in
            let ae = try await Self.adverseEvent(id: id, connection: c, logger: logger, lock: true)
            _ = try await Self.patientForData(ae.patientID, on: nil, actingInstitution: actingInstitution, connection: c, logger: logger)
            guard ae.serious else {
                throw RegistryError.conflict("adverse-event", "adverse event \(id) is not serious; only serious events have an expedited report")
            }
            if let done = ae.reportSubmittedOn {
                throw RegistryError.conflict("adverse-event", "the report of adverse event \(id) was already submitted on \(done)",
                                             hint: "correct it with: registry ae correct \(id) --submitted-on DATE --reason ...")
            }
            guard date >= ae.awareOn else {
                throw RegistryError.invalid("on", "\(date) is before the site became aware on \(ae.awareOn)")
            }
            try await c.query("UPDATE adverse_event SET report_submitted_on = \(date) WHERE id = \(id)", logger: logger)
            return try await Self.adverseEvent(id: id, connection: c, logger: logger)
        }
    }

    /// Corrects an adverse event: the merged values are validated as a new report would be, the
    /// report due date follows, and the earlier values stay in the audit trail.
    public func correctAdverseEvent(id: Int, reason: String, today: LocalDate, actor: String,
                                    _ change: (inout AdverseEventDraft) -> Void) async throws -> AdverseEvent {
        let reason = try Rules.reason(reason)
        return try await database.transaction(actor: actor, reason: reason) { c in
            let ae = try await Self.adverseEvent(id: id, connection: c, logger: logger, lock: true)
            var draft = AdverseEventDraft(ae)
            change(&draft)
            let checked = try draft.validated(today: today)
            let clock = try await Self.reportClock(connection: c, logger: logger)
            let due = clock.dueDate(serious: checked.serious, criteria: checked.criteria, grade: checked.grade, aware: checked.awareOn)
            let submitted = checked.serious ? draft.submittedOn : nil
            if let submitted, submitted < checked.awareOn {
                throw RegistryError.invalid("submitted-on", "\(submitted) is before the site became aware on \(checked.awareOn)")
            }
            try await c.query("""
                UPDATE adverse_event SET onset_on = \(checked.onsetOn), aware_on = \(checked.awareOn), term = \(checked.term), meddra_code = \(checked.meddraCode),
                    category = \(checked.category.rawValue), grade = \(Int16(checked.grade)), grading_system = \(checked.grading.system),
                    grading_version = \(checked.grading.version), serious = \(checked.serious), seriousness = \(checked.criteria.map(\.rawValue).sorted()),
                    relatedness = \(checked.relatedness.rawValue), outcome = \(checked.outcome.rawValue), outcome_on = \(checked.outcomeOn),
                    report_due_on = \(due), report_submitted_on = \(submitted)
                WHERE id = \(id)
                """, logger: logger)
            let patient = try await Self.patient(id: ae.patientID, connection: c, logger: logger, lock: true)
            if let died = checked.deathDate, patient.status != .deceased {
                _ = try await Self.recordStatusChange(.death, patientID: ae.patientID, on: died, reason: "grade 5 adverse event: \(checked.term)",
                                                      adverseEventID: id, connection: c, logger: logger)
            }
            return try await Self.adverseEvent(id: id, connection: c, logger: logger)
        }
    }

    /// A patient's adverse events, by onset.
    public func adverseEvents(patientID: Int) async throws -> [AdverseEvent] {
        try await database.read { c in
            try await Self.adverseEvents(c.query("\(unescaped: Self.adverseEventSelect) WHERE e.patient_id = \(patientID) ORDER BY e.onset_on, e.id", logger: logger))
        }
    }

    static let adverseEventSelect = """
        SELECT e.id, e.patient_id, i.code, e.onset_on, e.aware_on, e.term, e.meddra_code, e.category, e.grade, e.grading_system, e.grading_version,
               e.serious, e.seriousness, e.relatedness, e.outcome, e.outcome_on, e.report_due_on, e.report_submitted_on
        FROM adverse_event e JOIN institution i ON i.id = e.institution_id
        """

    static func adverseEvent(id: Int, connection c: PostgresConnection, logger: Logger, lock: Bool = false) async throws -> AdverseEvent {
        let rows = try await c.query("\(unescaped: adverseEventSelect) WHERE e.id = \(id) \(unescaped: lock ? "FOR UPDATE OF e" : "")", logger: logger)
        guard let ae = try await adverseEvents(rows).first else {
            throw RegistryError.notFound("adverse-event", "no adverse event has id \(id)")
        }
        return ae
    }

    static func adverseEvents(_ rows: PostgresRowSequence) async throws -> [AdverseEvent] {
        var out: [AdverseEvent] = []
        for try await row in rows {
            let full = try row.decode((Int, Int, String, LocalDate, LocalDate, String, String?, String, Int16, String, String, Bool, [String], String, String, LocalDate?, LocalDate?, LocalDate?).self)
            out.append(AdverseEvent(id: full.0, patientID: full.1, institutionCode: full.2, onsetOn: full.3, awareOn: full.4, term: full.5, meddraCode: full.6,
                                    category: AdverseEventCategory(rawValue: full.7)!, grade: Int(full.8), gradingSystem: full.9, gradingVersion: full.10,
                                    serious: full.11, seriousnessCriteria: full.12.compactMap(SeriousnessCriterion.init(rawValue:)),
                                    relatedness: Relatedness(rawValue: full.13)!, outcome: AdverseEventOutcome(rawValue: full.14)!,
                                    outcomeOn: full.15, reportDueOn: full.16, reportSubmittedOn: full.17))
        }
        return out
    }

    // MARK: settings

    /// Every setting by key.
    public func settings() async throws -> [String: String] {
        try await database.read { c in try await Self.settings(connection: c, logger: logger) }
    }

    static func settings(connection c: PostgresConnection, logger: Logger) async throws -> [String: String] {
        var out: [String: String] = [:]
        for try await (k, v) in try await c.query("SELECT key, value FROM registry_setting", logger: logger).decode((String, String).self) { out[k] = v }
        return out
    }

    /// Changes a setting; the known clock settings take whole days from 1 to 90.
    public func setSetting(key: String, value: String, reason: String, actor: String) async throws {
        try await database.transaction(actor: actor, reason: reason) { c in
            let known = try await Self.settings(connection: c, logger: logger)
            guard known[key] != nil else {
                throw RegistryError.invalid("key", "'\(key)' is not a setting; allowed: \(known.keys.sorted().joined(separator: ", "))")
            }
            if key.hasPrefix("ae.report-days.") {
                guard let days = Int(value), (1...90).contains(days) else {
                    throw RegistryError.invalid("value", "'\(value)' is not a number of days; allowed: whole days from 1 to 90")
                }
            }
            if key.hasPrefix("jobs.") {
                var settings = NightlySettings()
                try settings.set(key, value)
            }
            try await c.query("UPDATE registry_setting SET value = \(value) WHERE key = \(key)", logger: logger)
        }
    }
}

/// The editable values of an adverse event, for corrections.
public struct AdverseEventDraft: Sendable {
    public var onsetOn: LocalDate
    public var awareOn: LocalDate
    public var term: String
    public var meddraCode: String?
    public var category: String
    public var grade: Int
    public var grading: String
    public var serious: Bool
    public var criteria: [String]
    public var relatedness: String
    public var outcome: String
    public var outcomeOn: LocalDate?
    public var submittedOn: LocalDate?

    init(_ ae: AdverseEvent) {
        onsetOn = ae.onsetOn; awareOn = ae.awareOn; term = ae.term; meddraCode = ae.meddraCode; category = ae.category.rawValue
        grade = ae.grade; grading = "\(ae.gradingSystem)-\(ae.gradingVersion)"; serious = ae.serious
        criteria = ae.seriousnessCriteria.map(\.rawValue); relatedness = ae.relatedness.rawValue; outcome = ae.outcome.rawValue
        outcomeOn = ae.outcomeOn; submittedOn = ae.reportSubmittedOn
    }

    func validated(today: LocalDate) throws(RegistryError) -> NewAdverseEvent {
        // Criteria implied by the old grade are re-derived from the new one.
        let explicit = criteria.filter { !(($0 == "death" && grade != 5) || ($0 == "life-threatening" && grade < 4)) }
        return try NewAdverseEvent(onset: onsetOn.description, aware: awareOn.description, term: term, meddra: meddraCode, category: category,
                                   grade: grade, grading: grading, serious: serious, criteria: explicit, related: relatedness,
                                   outcome: outcome, outcomeOn: outcomeOn?.description, today: today)
    }
}
