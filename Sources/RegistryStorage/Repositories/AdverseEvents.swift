import PostgresNIO
import RegistryDomain

/// Adverse events and their expedited reports.
public struct AdverseEvents: Repository {
    let tx: Transaction

    /// Records an adverse event. A serious one gets its expedited-report due date from the
    /// awareness date and the configured clock; a grade 5 event also records the death.
    /// Recording the death is a consequence the user confirms (`confirm`); without it the report is
    /// refused, listing what it would change, and nothing is written.
    public func report(patientID: PatientID, _ new: NewAdverseEvent, confirm: Bool = false) async throws -> (AdverseEvent, [Consequence]) {
        let patient = try await tx.patients.lockForData(patientID, on: new.onsetOn)
        try patient.forData.checkEventAfterTreatment(onset: new.onsetOn)
        let same = try await c.query("""
            SELECT min(id) FROM adverse_event WHERE patient_id = \(patientID) AND onset_on = \(new.onsetOn) AND lower(term) = lower(\(new.term))
              AND voided_on IS NULL
            """, logger: logger).decode(AdverseEventID?.self).one("the same event")
        try new.checkNotDuplicate(of: same, patientID: patientID)
        let clock = try await tx.settings.reportClock()
        let due = clock.dueDate(serious: new.serious, criteria: new.criteria, grade: new.grade, aware: new.awareOn)
        let rows = try await c.query("""
            INSERT INTO adverse_event (patient_id, institution_id, onset_on, aware_on, term, meddra_code, category, grade, grading_system,
                grading_version, serious, seriousness, relatedness, outcome, outcome_on, report_due_on)
            VALUES (\(patientID), \(patient.institutionID), \(new.onsetOn), \(new.awareOn), \(new.term), \(new.meddraCode), \(new.category),
                \(Int16(new.grade)), \(new.grading.system), \(new.grading.version), \(new.serious), \(new.criteria.map(\.rawValue).sorted()),
                \(new.relatedness), \(new.outcome), \(new.outcomeOn), \(due))
            RETURNING id
            """, logger: logger)
        let id = try await rows.decode(AdverseEventID.self).one("the new adverse event")
        var consequences: [Consequence] = []
        if let died = new.deathDate, patient.patient.status != .deceased {
            let before = try await tx.patients.state(id: patientID)
            let death = try await tx.statusChanges.record(.death, patientID: patientID, on: died, reason: "grade 5 adverse event: \(new.term)", adverseEventID: id)
            consequences = [Self.deathRecorded(death, event: id)] + Consequence.between(before, try await tx.patients.state(id: patientID))
        }
        try consequences.confirmed(confirm, doing: "reporting this grade 5 event")
        return (try await adverseEvent(id: id), consequences)
    }

    static func deathRecorded(_ death: StatusChange, event id: AdverseEventID) -> Consequence {
        Consequence(.statusChangeRecorded, "the patient's death on \(death.effectiveOn) is recorded from grade 5 adverse event \(id) (status change \(death.id))",
                    statusChangeID: death.id)
    }

    /// Voids an adverse event entered in error (a duplicate, the wrong patient), with the reason:
    /// kept and marked, its report clock stopped, left out of worklists and reports from now on. A
    /// death recorded from it (grade 5) is voided with it, and the follow-ups the death made not
    /// required are owed again. What that changes is refused unless `confirm`, and returned.
    public func void(id: AdverseEventID, reason: String, confirm: Bool) async throws -> (AdverseEvent, [Consequence]) {
        let reason = try Rules.reason(reason)
        try await tx.because(reason)
        let ae = try await adverseEvent(id: id, lock: true)
        let locked = try await tx.patients.lock(ae.patientID)
        try VoidRules.checkStanding(ae.void, record: "adverse event \(id)")
        return try await tx.patients.confirming(ae.patientID, confirm: confirm, doing: "voiding adverse event \(id)") {
            try await c.query("UPDATE adverse_event SET voided_on = \(tx.today), void_reason = \(reason) WHERE id = \(id)", logger: logger)
            let consequences = try await voidDeath(from: id, patientID: ae.patientID, reason: reason)
            return (try await adverseEvent(id: id), consequences)
        }
    }

    /// Voids the standing death recorded from event `id`, if there is one; while another grade 5 event
    /// of the patient stands, the death stays, recorded from that one and on its date.
    private func voidDeath(from id: AdverseEventID, patientID: PatientID, reason: String) async throws -> [Consequence] {
        guard let death = try await tx.statusChanges.of(patientID: patientID).first(where: { $0.adverseEventID == id && $0.void == nil }) else { return [] }
        if let other = try await of(patientID: patientID).first(where: { $0.id != id && $0.void == nil && $0.grade == 5 }) {
            try await c.query("UPDATE patient_status_change SET adverse_event_id = \(other.id) WHERE id = \(death.id)", logger: logger)
            let died = other.outcomeOn ?? other.onsetOn
            if died != death.effectiveOn { try await tx.statusChanges.redateStanding(death.id, patientID: patientID, to: died) }
            return [Consequence(.statusChangeRedated, "the death (status change \(death.id)) stays, recorded from grade 5 adverse event \(other.id) on \(died)",
                                statusChangeID: death.id)]
        }
        _ = try await tx.statusChanges.voidStanding(death.id, patientID: patientID, reason: reason, cause: .adverseEvent(id))
        return [Consequence(.statusChangeVoided, "the death on \(death.effectiveOn) recorded from adverse event \(id) (status change \(death.id)) is voided with it",
                            statusChangeID: death.id)]
    }

    /// Records the expedited report's submission, which stops its clock.
    public func submitReport(adverseEventID id: AdverseEventID, on date: LocalDate) async throws -> AdverseEvent {
        let ae = try await adverseEvent(id: id, lock: true)
        _ = try await tx.patients.lockForData(ae.patientID, on: nil)
        try VoidRules.checkStanding(ae.void, record: "adverse event \(id)")
        if ae.serious, let done = ae.reportSubmittedOn {
            throw RegistryError.conflict("adverse-event", "the report of adverse event \(id) was already submitted on \(done)",
                                         remedy: .correctReportSubmission(adverseEventID: id))
        }
        try AdverseEventRules.checkSubmission(on: date, serious: ae.serious, awareOn: ae.awareOn, event: "adverse event \(id)")
        try await c.query("UPDATE adverse_event SET report_submitted_on = \(date) WHERE id = \(id)", logger: logger)
        return try await adverseEvent(id: id)
    }

    /// Corrects an adverse event: the merged values are validated as a new report would be, the
    /// report due date follows, and the earlier values stay in the audit trail.
    /// A death recorded from the event follows it: voided when the event is corrected below grade 5,
    /// re-dated when its date changes, recorded when it becomes grade 5; what that changes is
    /// refused unless `confirm`, and returned.
    /// Corrects an adverse event with a checked correction: every field it gives, for its reason.
    public func correct(id: AdverseEventID, _ correction: AdverseEventCorrection, confirm: Bool = false) async throws -> (AdverseEvent, [Consequence]) {
        try await correct(id: id, reason: correction.reason, confirm: confirm) { $0.apply(correction) }
    }

    public func correct(id: AdverseEventID, reason: String, confirm: Bool = false, _ change: (inout AdverseEventDraft) -> Void) async throws -> (AdverseEvent, [Consequence]) {
        let reason = try Rules.reason(reason)
        try await tx.because(reason)
        let ae = try await adverseEvent(id: id, lock: true)
        try VoidRules.checkStanding(ae.void, record: "adverse event \(id)")
        var draft = AdverseEventDraft(ae)
        change(&draft)
        let checked = try draft.validated(today: tx.today)
        if checked.grade == 5, ae.grade != 5,
           let (later, kind, on) = try await c.query("""
               SELECT s.id, s.kind, s.effective_on FROM patient_status_change s JOIN adverse_event e ON e.patient_id = s.patient_id
               WHERE e.id = \(id) AND s.voided_on IS NULL AND s.recorded_in > e.recorded_in ORDER BY s.id LIMIT 1
               """, logger: logger).decode((StatusChangeID, StatusChangeKind, LocalDate).self).firstElement() {
            throw RegistryError.conflict("grade", "\(kind.rawValue) on \(on) (status change \(later)) was recorded after adverse event \(id); a death from the event, raised to grade 5, would come before it",
                                         hint: "void the later status change first, or report the fatal event anew", remedy: .voidStatusChange(id: later))
        }
        let clock = try await tx.settings.reportClock()
        let due = clock.dueDate(serious: checked.serious, criteria: checked.criteria, grade: checked.grade, aware: checked.awareOn)
        let submitted = checked.serious ? draft.submittedOn : nil
        if let submitted, submitted < checked.awareOn {
            throw RegistryError.invalid("submitted-on", "\(submitted) is before the site became aware on \(checked.awareOn)")
        }
        return try await tx.patients.confirming(ae.patientID, confirm: confirm, doing: "correcting adverse event \(id)") {
            try await c.query("""
                UPDATE adverse_event SET onset_on = \(checked.onsetOn), aware_on = \(checked.awareOn), term = \(checked.term), meddra_code = \(checked.meddraCode),
                    category = \(checked.category), grade = \(Int16(checked.grade)), grading_system = \(checked.grading.system),
                    grading_version = \(checked.grading.version), serious = \(checked.serious), seriousness = \(checked.criteria.map(\.rawValue).sorted()),
                    relatedness = \(checked.relatedness), outcome = \(checked.outcome), outcome_on = \(checked.outcomeOn),
                    report_due_on = \(due), report_submitted_on = \(submitted)
                WHERE id = \(id)
                """, logger: logger)
            let patient = try await tx.patients.patient(id: ae.patientID, lock: true)
            let death = try await tx.statusChanges.of(patientID: ae.patientID).first { $0.adverseEventID == id && $0.void == nil }
            var consequences: [Consequence] = []
            switch (checked.deathDate, death) {
            case (nil, .some):
                consequences += try await voidDeath(from: id, patientID: ae.patientID, reason: reason)
            case (let died?, let death?) where died != death.effectiveOn:
                try await tx.statusChanges.redateStanding(death.id, patientID: ae.patientID, to: died)
                consequences.append(Consequence(.statusChangeRedated, "the death recorded from adverse event \(id) (status change \(death.id)) moves from \(death.effectiveOn) to \(died)",
                                                statusChangeID: death.id))
            case (let died?, nil) where patient.status != .deceased:
                let recorded = try await tx.statusChanges.record(.death, patientID: ae.patientID, on: died, reason: "grade 5 adverse event: \(checked.term)", adverseEventID: id)
                consequences.append(Self.deathRecorded(recorded, event: id))
            default:
                break
            }
            return (try await adverseEvent(id: id), consequences)
        }
    }

    /// A patient's adverse events, by onset.
    public func of(patientID: PatientID) async throws -> [AdverseEvent] {
        try await Self.decode(c.query("\(unescaped: Self.select) WHERE e.patient_id = \(patientID) ORDER BY e.onset_on, e.id", logger: logger))
    }

    /// One adverse event (locked for update with `lock`).
    public func adverseEvent(id: AdverseEventID, lock: Bool = false) async throws -> AdverseEvent {
        let rows = try await c.query("\(unescaped: Self.select) WHERE e.id = \(id) \(unescaped: lock ? "FOR UPDATE OF e" : "")", logger: logger)
        guard let ae = try await Self.decode(rows).first else {
            throw RegistryError.notFound("adverse-event", "no adverse event has id \(id)")
        }
        return ae
    }

    static let select = """
        SELECT e.id, e.patient_id, i.code, e.onset_on, e.aware_on, e.term, e.meddra_code, e.category, e.grade, e.grading_system, e.grading_version,
               e.serious, e.seriousness, e.relatedness, e.outcome, e.outcome_on, e.report_due_on, e.report_submitted_on, e.voided_on, e.void_reason
        FROM adverse_event e JOIN institution i ON i.id = e.institution_id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [AdverseEvent] {
        var out: [AdverseEvent] = []
        for try await row in rows {
            let full = try row.decode((AdverseEventID, PatientID, String, LocalDate, LocalDate, String, String?, AdverseEventCategory, Int16, String, String, Bool, [String],
                                       Relatedness, AdverseEventOutcome, LocalDate?, LocalDate?, LocalDate?, LocalDate?, String?).self)
            let criteria = try full.12.map { try SeriousnessCriterion.stored($0, column: "adverse_event.seriousness") }
            out.append(AdverseEvent(id: full.0, patientID: full.1, institutionCode: full.2, onsetOn: full.3, awareOn: full.4, term: full.5, meddraCode: full.6,
                                    category: full.7, grade: Int(full.8), gradingSystem: full.9, gradingVersion: full.10,
                                    serious: full.11, seriousnessCriteria: criteria, relatedness: full.13, outcome: full.14,
                                    outcomeOn: full.15, reportDueOn: full.16, reportSubmittedOn: full.17, void: VoidMark.stored(full.18, full.19)))
        }
        return out
    }
}

/// The registry's settings (`registry_setting`).
public struct Settings: Repository {
    let tx: Transaction

    /// Every setting by key.
    public func all() async throws -> [String: String] {
        var out: [String: String] = [:]
        for try await (k, v) in try await c.query("SELECT key, value FROM registry_setting", logger: logger).decode((String, String).self) { out[k] = v }
        return out
    }

    /// The expedited-report clocks as configured.
    public func reportClock() async throws -> ExpeditedReportClock {
        let settings = try await all()
        return ExpeditedReportClock(fatalOrLifeThreateningDays: Int(settings["ae.report-days.fatal-or-life-threatening"] ?? "") ?? 7,
                                    otherSeriousDays: Int(settings["ae.report-days.other-serious"] ?? "") ?? 15)
    }

    /// Changes a setting; the known clock settings take whole days from 1 to 90.
    public func set(key: String, value: String, reason: String) async throws {
        try await tx.because(reason)
        let known = try await all()
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
        if key == "report.cell-key-max" { _ = try CellKeyPerturbation.parse(value, field: "value") }
        if key == "report.cell-key-seed" && Int64(value) == nil {
            throw RegistryError.invalid("value", "'\(value)' is not a whole number; the seed of the record keys is a whole number, kept secret (changing it changes every published count)")
        }
        try await c.query("UPDATE registry_setting SET value = \(value) WHERE key = \(key)", logger: logger)
    }
}
